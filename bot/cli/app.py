"""What every ``duban`` command shares: settings, the reader's language, the database, services.

Command modules (:mod:`bot.cli.main`, :mod:`bot.cli.policy`, :mod:`bot.cli.reports` …) take an
:class:`App` with ``@pass_app`` and run their database work through :meth:`App.run`, which
hands them the services built by :func:`bot.app.build_deps`, the same builder the bot uses.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import click

from bot.app import build_deps
from bot.cli.failures import check_database_url
from bot.core.clock import Clock, SystemClock
from bot.core.i18n import Translator, get_translator
from bot.core.policy.catalog import Catalog, load_catalog, load_default_catalog
from bot.services.deps import Deps
from bot.settings import Settings
from models.db import create_engine, upgrade

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

    def run(self, work: Callable[[Deps], Awaitable[T]], clock: Clock | None = None) -> T:
        """Run ``work`` with the services (built as the bot builds them) on a migrated
        database, disposing of the engine afterwards."""

        url = self.database or self.settings.database_url
        check_database_url(url)  # a malformed or unsupported URL is refused before opening

        async def main() -> T:
            engine = create_engine(url)
            try:
                await upgrade(engine)
                return await work(build_deps(self.settings, engine, clock or self.clock,
                                             self.catalog))
            finally:
                await engine.dispose()

        return asyncio.run(main())

    def say(self, message: str, /, **params: Any) -> None:
        click.echo(self.tr.gettext(message, **params))


pass_app = click.make_pass_decorator(App)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader sees the old file or the new one, never half
    of it (a temporary file beside it, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
