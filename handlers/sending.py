"""Turning :class:`bot.render.cards.Reply` values into Bot API calls."""

from __future__ import annotations

from telegram import (
    Bot,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
)
from telegram.error import BadRequest

from bot.render.cards import Reply

MAX_TEXT = 4096


def markup(reply: Reply) -> InlineKeyboardMarkup | ForceReply | None:
    if reply.buttons:
        return InlineKeyboardMarkup([[InlineKeyboardButton(b.label, callback_data=b.data)
                                      for b in row] for row in reply.buttons])
    if reply.ask:
        return ForceReply(selective=True)
    return None


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


async def send(bot: Bot, chat_id: int, reply: Reply,
               reply_to: int | None = None) -> Message:
    """Send ``reply`` to a chat (as a reply to ``reply_to`` when given)."""
    if reply.photo is not None:
        return await bot.send_photo(chat_id, InputFile(reply.photo, filename="chart.png"),
                                    caption=_clip(reply.text)[:1024],
                                    reply_to_message_id=reply_to)
    if reply.document is not None:
        name, content = reply.document
        return await bot.send_document(chat_id, InputFile(content, filename=name),
                                       caption=_clip(reply.text)[:1024],
                                       reply_to_message_id=reply_to)
    return await bot.send_message(chat_id, _clip(reply.text), reply_markup=markup(reply),
                                  reply_to_message_id=reply_to,
                                  allow_sending_without_reply=True)


async def edit(bot: Bot, chat_id: int, message_id: int, reply: Reply) -> None:
    """Edit a card in place; an unchanged card is not an error."""
    keyboard = markup(reply)
    try:
        await bot.edit_message_text(_clip(reply.text), chat_id=chat_id, message_id=message_id,
                                    reply_markup=keyboard
                                    if isinstance(keyboard, InlineKeyboardMarkup) else None)
    except BadRequest as error:
        if "not modified" not in str(error).lower():
            raise
