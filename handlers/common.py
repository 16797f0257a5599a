"""Small pieces every handler uses: who is speaking, answering, translating errors."""

from __future__ import annotations

from telegram import Update
from telegram.error import BadRequest

from bot.core.i18n import DubanError, Translator
from bot.render.cards import Reply
from bot.services.access import Reader
from bot.services.chats import Identity
from handlers.context import DubanContext
from handlers.sending import send


def display_name(update: Update) -> str:
    user = update.effective_user
    if user is None:
        return "?"
    return user.full_name or user.username or str(user.id)


async def identify(update: Update, context: DubanContext) -> Identity:
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    return await context.deps.chats.identify(chat.id, user.id, display_name(update))


async def reader(update: Update, context: DubanContext) -> Reader:
    """Who is reading, and in which bound chat: what they may read follows from both."""
    chat = update.effective_chat
    assert chat is not None
    return (await identify(update, context)).reader(chat.id)


async def say(update: Update, context: DubanContext, reply: Reply | str) -> None:
    """Answer in the chat the update came from, threaded under the message."""
    chat = update.effective_chat
    if chat is None:
        return
    message = update.effective_message
    await send(context.bot, chat.id, reply if isinstance(reply, Reply) else Reply(reply),
               reply_to=message.message_id if message else None)


async def answer_query(update: Update, text: str | None = None, *, alert: bool = False) -> None:
    """Answer a button press. A press answered late (handled after a restart or while the
    database was away, when Telegram no longer takes an answer) gets its words in the chat."""
    query = update.callback_query
    assert query is not None
    try:
        await query.answer(text, show_alert=alert)
    except BadRequest:
        chat, message = update.effective_chat, query.message
        if text and chat is not None:
            await send(query.get_bot(), chat.id, Reply(text),
                       reply_to=message.message_id if message else None)


async def say_error(update: Update, context: DubanContext, error: DubanError,
                    tr: Translator) -> None:
    await say(update, context, await context.explain(error, tr))
