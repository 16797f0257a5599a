"""Answers that survive a crash: the answer to a change commits with the change
(``bot.services.answers``).

``result, reply = await with_answer(update, context, work, render)`` awaits the service call
``work`` and queues the :class:`Reply` that ``render`` makes of its result in one unit of work;
the handler then sends ``reply`` as it always did and calls :func:`answered`. A process that
dies in between leaves the answer in the outbox, and the delivery task sends it
(:func:`payload_reply`) once the claim has expired.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from telegram import Update
from telegram.error import BadRequest, NetworkError

from bot.render.cards import Button, Reply
from handlers.context import DubanContext
from handlers.sending import send

log = logging.getLogger(__name__)

T = TypeVar("T")


def reply_payload(reply: Reply, reply_to: int | None) -> dict[str, Any]:
    """A text reply as an outbox payload (an answer is a message: never a file)."""
    if reply.photo is not None or reply.document is not None:
        raise ValueError("an answer kept in the outbox is text, not a file")
    return {"text": reply.text, "ask": reply.ask, "reply_to": reply_to,
            "buttons": [[[button.label, button.data] for button in row]
                        for row in reply.buttons]}


def payload_reply(payload: dict[str, Any]) -> Reply:
    return Reply(str(payload["text"]), tuple(
        tuple(Button(str(label), str(data)) for label, data in row)
        for row in payload.get("buttons", [])), ask=bool(payload.get("ask")))


async def with_answer(update: Update, context: DubanContext, work: Awaitable[T],
                      render: Callable[[T], Awaitable[Reply | None]], *,
                      sends_cards: bool = False) -> tuple[T, Reply | None]:
    """Await ``work`` and keep the answer ``render`` makes of its result with its change;
    the answer replies to the update's message (the one pressed, for a button).
    ``sends_cards``: the handler edits the cards the change refreshes itself
    (``handlers.delivery.edit_held_cards``) before :func:`answered`."""
    chat, message = update.effective_chat, update.effective_message
    assert chat is not None
    made: list[Reply | None] = [None]

    async def payload(result: T) -> dict[str, Any] | None:
        made[0] = reply = await render(result)
        return None if reply is None else reply_payload(
            reply, message.message_id if message is not None else None)

    result = await context.deps.answers.run(work, payload, chat.id, sends_cards=sends_cards)
    return result, made[0]


async def answered(update: Update, context: DubanContext) -> None:
    """The answer to ``update`` was sent: the outbox need not send it again."""
    await context.deps.answers.sent(update.update_id)


async def send_answer(update: Update, context: DubanContext, reply: Reply) -> None:
    """Send the answer kept by :func:`with_answer` and mark it sent; if Telegram cannot be
    reached, the delivery task sends it later (it is kept)."""
    chat, message = update.effective_chat, update.effective_message
    assert chat is not None
    try:
        await send(context.bot, chat.id, reply,
                   reply_to=message.message_id if message is not None else None)
    except BadRequest:  # refused: it would be refused later too
        raise
    except NetworkError as error:  # the change is made; the answer waits in the outbox
        log.warning("could not answer update %s now (%s); the outbox will", update.update_id,
                    error)
        return
    await answered(update, context)
