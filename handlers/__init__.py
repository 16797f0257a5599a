"""Telegram handlers, registered in one place.

Handlers stay thin: parse the update, call one service, render the texts, send.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from handlers import (
    callbacks,
    commands,
    errors,
    guard,
    membership,
    messages,
    observe,
    tasks,
)
from handlers.context import DubanApplication

COMMAND_HANDLERS = {
    "start": commands.start,
    "help": commands.help_command,
    "bind": commands.bind,
    "unbind": commands.unbind,
    "invite": commands.invite,
    "join": commands.join,
    "whoami": commands.whoami,
    "lang": commands.lang,
    "newcase": commands.newcase,
    "cancel": commands.cancel,
    "status": commands.status,
    "board": commands.board,
    "ledger": commands.ledger,
    "case": commands.case,
    "overdue": commands.overdue,
    "mine": commands.mine,
    "lists": commands.lists,
    "pause": commands.pause,
    "resume": commands.resume,
    "skip": commands.skip,
    "summons": commands.summons,
    "reschedule": commands.reschedule,
    "outcome": commands.outcome,
    "report": commands.report,
    "duties": commands.duties,
    "policy": commands.policy,
    "inspection": commands.inspection,
    "inspections": commands.inspections,
    "tasks": tasks.tasks_command,
    "task": tasks.task_command,
}


def register(application: DubanApplication) -> None:
    application.add_handler(TypeHandler(Update, observe.received), group=observe.RECEIVED_GROUP)
    application.add_handler(TypeHandler(Update, guard.skip_seen), group=-1)
    for name, callback in COMMAND_HANDLERS.items():
        application.add_handler(CommandHandler(name, callback))
    application.add_handler(CallbackQueryHandler(callbacks.on_button))
    application.add_handler(ChatMemberHandler(
        membership.on_my_membership, ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_handler(MessageHandler(
        (filters.TEXT & ~filters.COMMAND) | filters.PHOTO | filters.Document.ALL,
        messages.on_message))
    application.add_handler(MessageHandler(filters.COMMAND, messages.on_unknown_command))
    application.add_handler(TypeHandler(Update, guard.mark_seen), group=100)
    application.add_handler(TypeHandler(Update, observe.handled), group=observe.HANDLED_GROUP)
    application.add_error_handler(errors.on_error)
