"""Plain messages: answers to a dialog (text, photo, document), and spreadsheet imports."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from bot.core.casefile import read_case_bytes
from bot.core.clock import local_today
from bot.core.i18n import DubanError
from bot.render import texts
from bot.services.dialogs import Answer, Evidence, Fetch
from bot.services.evidence import FetchFailed
from handlers.callbacks import answer_outcome
from handlers.common import identify, say
from handlers.context import DubanContext

log = logging.getLogger(__name__)


def _answer(update: Update, context: DubanContext) -> Answer:
    message = update.effective_message
    assert message is not None
    if message.photo:
        photo = message.photo[-1]
        return Answer(evidence=Evidence("photo", photo.file_id, photo.file_unique_id,
                                        None, "image/jpeg", photo.file_size),
                      fetch=_fetcher(context, photo.file_id))
    if message.document:
        document = message.document
        return Answer(evidence=Evidence("document", document.file_id, document.file_unique_id,
                                        document.file_name, document.mime_type,
                                        document.file_size),
                      fetch=_fetcher(context, document.file_id))
    return Answer(text=message.text or message.caption)


def _fetcher(context: DubanContext, file_id: str) -> Fetch:
    """Download a file the person sent (getFile, then the file's path), when the dialog
    asks for it; a Telegram or network error (a file over the Bot API's 20 MB, a file id
    Telegram no longer knows) becomes :class:`FetchFailed`."""

    async def fetch() -> bytes:
        try:
            found = await context.bot.get_file(file_id)
            return bytes(await found.download_as_bytearray())
        # RuntimeError: getFile gave no path; OSError: a local Bot API server's file.
        except (TelegramError, RuntimeError, OSError) as error:
            log.warning("could not fetch file %s: %s", file_id, error)
            raise FetchFailed(str(error)) from error

    return fetch


async def on_message(update: Update, context: DubanContext) -> None:
    chat, user, message = update.effective_chat, update.effective_user, update.effective_message
    if chat is None or user is None or message is None:
        return
    identity = await identify(update, context)
    outcome = await answer_outcome(update, context, context.deps.dialogs.answer(
        chat.id, user.id, _answer(update, context), identity.who(chat.id), update.update_id))
    if outcome is not None:
        return
    replied = message.reply_to_message
    if (chat.type == "private" and identity.coordinator and message.document is not None
            and replied is None):
        # Whatever its name: its bytes tell a case file (CSV, XLSX) from anything else.
        await _import(update, context)
        return
    if replied is not None and replied.from_user is not None and replied.from_user.is_bot:
        case_id = await context.deps.deliveries.card_at(chat.id, replied.message_id)
        if case_id is not None and (message.text or message.caption):
            await answer_outcome(update, context, context.deps.dialogs.start_note(
                chat.id, identity.who(chat.id), case_id, message.text or message.caption or "",
                update.update_id))
            return
    if chat.type == "private" or replied is not None:
        # Nothing was asked: say what the bot understands rather than stay silent.
        tr = await context.translator(update)
        await say(update, context, tr.gettext(texts.NOT_UNDERSTOOD))


async def on_unknown_command(update: Update, context: DubanContext) -> None:
    """A command the bot does not have: a short pointer to /help."""
    message = update.effective_message
    if message is None or not message.text:
        return
    command = message.text.split()[0].split("@")[0]
    tr = await context.translator(update)
    await say(update, context, tr.gettext(texts.UNKNOWN_COMMAND, command=command))


async def _import(update: Update, context: DubanContext) -> None:
    """A coordinator sent a file privately: the same import as the command line, if its
    bytes are a case file (else a refusal naming what is expected; nothing is imported)."""
    tr = await context.translator(update)
    message = update.effective_message
    assert message is not None and message.document is not None
    document = message.document
    limit = context.deps.max_upload_bytes
    if (document.file_size or 0) > limit:
        raise DubanError(texts.FILE_TOO_LARGE, limit=limit // (1024 * 1024))
    content = bytes(await (await document.get_file()).download_as_bytearray())
    org = await context.deps.org()
    result = read_case_bytes(content, document.file_name or "cases.csv", org,
                             today=local_today(context.deps.clock), max_bytes=limit)
    if result.errors:
        await say(update, context, texts.row_errors(result.errors, tr, limit=30) + "\n" +
                  tr.gettext(texts.IMPORT_REFUSED))
        return
    identity = await identify(update, context)
    assert update.effective_chat is not None
    report = await context.deps.cases.import_cases(result.valid,
                                                   identity.who(update.effective_chat.id))
    context.deps.wakeup.set()
    await say(update, context, texts.import_report(report, tr))
