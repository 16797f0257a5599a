"""Updates already handled (a redelivery after a restart) change nothing; the first commit of
an update's handling records it as handled in that same commit (``models.db``)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from handlers.context import DubanContext


async def skip_seen(update: Update, context: DubanContext) -> None:
    if not await context.deps.chats.begin_update(update.update_id):
        raise ApplicationHandlerStop


async def mark_seen(update: Update, context: DubanContext) -> None:
    await context.deps.chats.mark_seen(update.update_id)
