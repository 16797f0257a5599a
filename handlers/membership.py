"""The bot added to or removed from a group."""

from __future__ import annotations

from telegram import ChatMember, Update

from bot.render import texts
from handlers.common import say
from handlers.context import DubanContext

_PRESENT = (ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER)


async def on_my_membership(update: Update, context: DubanContext) -> None:
    change = update.my_chat_member
    if change is None:
        return
    was = change.old_chat_member.status in _PRESENT
    now = change.new_chat_member.status in _PRESENT
    if now and not was:
        tr = await context.translator(update)
        await say(update, context, tr.gettext(texts.GREETING))
    elif was and not now:
        removed = await context.deps.chats.bot_removed(change.chat.id)
        if removed is not None:
            context.deps.wakeup.set()
