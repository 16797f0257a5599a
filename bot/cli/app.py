"""What every ``duban`` command shares: settings, the reader's language, the database, services.

Command modules (``bot/cli.py``, ``bot/policy/cli.py``, reports …) take an :class:`App` with
``@pass_app`` and run their database work through :meth:`App.run`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.clock import Clock, SystemClock
from bot.core.i18n import Translator, get_translator
from bot.core.policy.catalog import Catalog, load_catalog, load_default_catalog
from bot.services.calendar import CalendarService
from bot.services.cases import CaseService
from bot.services.org import OrgService
from bot.settings import Settings
from models.db import create_engine, session_factory, upgrade
from scheduler.workdays import WorkCalendar, load_overrides

T = TypeVar("T")


@dataclass
class App:
    """What a command needs: settings, the reader's language, the database and services."""

    settings: Settings
    database: str | None = None

    @cached_property
    def tr(self) -> Translator:
        return get_translator(self.settings.locale)

    @cached_property
    def clock(self) -> SystemClock:
        return SystemClock(self.settings.tz)

    @cached_property
    def catalog(self) -> Catalog:
        if self.settings.catalog:
            return load_catalog(self.settings.catalog)
        return load_default_catalog()

    def run(self, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
        """Run ``work`` on a migrated database, disposing of the engine afterwards."""

        async def main() -> T:
            engine = create_engine(self.database or self.settings.database_url)
            try:
                await upgrade(engine)
                return await work(engine)
            finally:
                await engine.dispose()

        return asyncio.run(main())

    def cases(self, engine: AsyncEngine) -> CaseService:
        return CaseService(session_factory(engine), self.catalog, self.clock)

    def org(self, engine: AsyncEngine) -> OrgService:
        return OrgService(session_factory(engine))

    def calendar(self, engine: AsyncEngine, clock: Clock | None = None) -> CalendarService:
        sessions = session_factory(engine)
        clock = clock or self.clock
        overrides = load_overrides(self.settings.holidays) if self.settings.holidays else ()
        org = OrgService(sessions)
        return CalendarService(sessions, clock, self.catalog, WorkCalendar(overrides),
                               CaseService(sessions, self.catalog, clock), org.current)

    def say(self, message: str, /, **params: Any) -> None:
        click.echo(self.tr.gettext(message, **params))


pass_app = click.make_pass_decorator(App)
