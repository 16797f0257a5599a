"""The typed context every handler receives: the services and the reader's language."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from bot.core.i18n import DubanError, Translator, get_translator
from bot.services.deps import Deps


class DubanApplication(Application):
    """A PTB Application that carries the services."""

    deps: Deps


class DubanContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any],
                                   dict[Any, Any]]):
    """``context.deps`` gives the services; ``await context.translator(update)`` the words."""

    @property
    def deps(self) -> Deps:
        application: DubanApplication = self.application  # type: ignore[assignment]
        return application.deps

    async def translator(self, update: Update, personal: bool = False) -> Translator:
        """The chat's language, or with ``personal`` the user's own (for alerts)."""
        chat = update.effective_chat
        user = update.effective_user
        if chat is None:
            return get_translator(None)
        locale = await self.deps.chats.locale_for(
            chat.id, user.id if (personal or chat.type == "private") and user else None)
        return get_translator(locale)

    async def explain(self, error: DubanError, tr: Translator) -> str:
        """The error in the reader's words: departments by the organisation's names."""
        try:
            aliases = (await self.deps.org()).alias_table()
        except DubanError:  # no organisation loaded yet: the built-in names
            aliases = None
        return error.render(tr, aliases)


def context_types() -> ContextTypes[DubanContext, dict[Any, Any], dict[Any, Any],
                                    dict[Any, Any]]:
    return ContextTypes(context=DubanContext)
