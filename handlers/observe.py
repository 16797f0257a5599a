"""Counting updates for ``/metrics``: one callback before every other handler, one after.

``received`` runs first (group -2, before the guard that drops redeliveries), ``handled``
last (group 101, after the guard marks the update handled); the latency of a button press
is the time between the two. An update the guard drops is not counted: it was handled before.
"""

from __future__ import annotations

from telegram import MessageEntity, Update

from bot.services.metrics import BUTTON, COMMAND, MESSAGE, OTHER
from handlers.context import DubanContext

RECEIVED_GROUP = -2
HANDLED_GROUP = 101


def kind_of(update: Update) -> str:
    if update.callback_query is not None:
        return BUTTON
    message = update.message
    if message is None:
        return OTHER
    entities = message.entities or ()
    if any(e.type == MessageEntity.BOT_COMMAND and e.offset == 0 for e in entities):
        return COMMAND
    return MESSAGE


async def received(update: Update, context: DubanContext) -> None:
    context.deps.metrics.update_received(update.update_id)


async def handled(update: Update, context: DubanContext) -> None:
    context.deps.metrics.update_handled(update.update_id, kind_of(update))
