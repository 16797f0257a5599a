"""One error handler: a person reads a clear sentence, the log gets the details."""

from __future__ import annotations

import logging

from telegram import Update

from bot.core.i18n import DubanError
from bot.render import texts
from bot.services.chats import AlreadyHandled
from handlers.common import say
from handlers.context import DubanContext

log = logging.getLogger(__name__)


async def on_error(update: object, context: DubanContext) -> None:
    error = context.error
    if isinstance(error, AlreadyHandled):  # another process handled it first: nothing to say
        log.info("update %s was handled elsewhere", error.args[0] if error.args else "?")
        return
    if not isinstance(update, Update) or update.effective_chat is None:
        log.error("error outside an update", exc_info=error)
        return
    tr = await context.translator(update, personal=update.callback_query is not None)
    message = (await context.explain(error, tr) if isinstance(error, DubanError)
               else tr.gettext(texts.FAILED))
    if not isinstance(error, DubanError):
        log.error("update %s failed", update.update_id, exc_info=error)
    if update.callback_query is not None:
        try:
            await update.callback_query.answer(message, show_alert=True)
            return
        except Exception:  # the query may be too old to answer; say it in the chat instead
            log.debug("could not answer callback query", exc_info=True)
    try:
        await say(update, context, message)
    except Exception:
        log.exception("could not report the error to chat %s", update.effective_chat.id)
