"""Engines, sessions and migrations, for SQLite (default) and PostgreSQL.

**One unit of work.** :func:`transaction` is re-entrant within a task: a service called inside
another service's transaction joins it (and so do its reads through the session factory, which
then see the writes not yet committed), so a dialog's last answer, its effect and the dialog's
end commit together or not at all. Only the outermost transaction commits.

**The update in hand.** While a Telegram update is handled (:func:`handling_update`), the first
transaction that commits also records the update as handled and removes it from the inbox, in
that same commit: the effect and "this update is done" cannot be separated by a crash, and a
second process handling the same update fails that commit (:class:`AlreadyHandled`) instead of
applying the effect twice.
"""

from __future__ import annotations

import asyncio
import os
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import bindparam, delete, event, insert
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError, SAWarning
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from models import onehop

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///duban.db"
ALEMBIC_DIR = Path(__file__).resolve().parent.parent / "alembic"

# Capacities are NUMERIC; SQLite keeps them as REAL and SQLAlchemy converts back to Decimal,
# which is exact at the four decimals we store.
warnings.filterwarnings("ignore", message=r"Dialect sqlite\+aiosqlite does \*not\* support Decimal",
                        category=SAWarning)


def normalize_url(url: str | None) -> str:
    """Accept plain ``sqlite:///``/``postgresql://`` URLs and pick the async drivers."""
    if not url:
        return DEFAULT_DATABASE_URL
    parsed = make_url(url)
    driver = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg",
              "postgres": "postgresql+asyncpg"}.get(parsed.drivername)
    if driver is not None:
        parsed = parsed.set(drivername=driver)
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str | None = None) -> AsyncEngine:
    url = normalize_url(url)
    if url.startswith("sqlite+aiosqlite"):
        # one thread hand-off per statement, not four (models.onehop)
        engine = create_async_engine(url, module=onehop.dbapi())
    else:
        engine = create_async_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class AlreadyHandled(Exception):
    """The update in hand was recorded as handled by someone else first (another process took
    it over); this transaction was rolled back and nothing it did stays."""


@dataclass
class UpdateInHand:
    """The Telegram update a task is handling, until a commit records it as handled."""

    update_id: int
    at: datetime
    task: asyncio.Task[object] | None
    recorded: bool = False
    #: units of work committed while handling it (the rule: at most one writes)
    commits: int = 0
    #: Whether the handler sends the cards its step refreshes itself (a button's press): the
    #: step then queues their outbox row already claimed (:meth:`hold`).
    sends_cards: bool = False
    #: What the unit of work in progress queued claimed for the handler to send, and what
    #: committed units of work did (moved there at the commit, dropped at a rollback).
    staged: list[Any] = field(default_factory=list)
    held: list[Any] = field(default_factory=list)

    def hold(self, item: Any) -> None:
        """``item`` (an outbox row queued claimed) is for the handler to send, once the unit
        of work it was queued in has committed."""
        self.staged.append(item)


@dataclass
class _Ambient:
    session: AsyncSession
    task: asyncio.Task[object] | None


#: a development check (``DUBAN_UNIT_OF_WORK_LOG=FILE``): a second commit while handling one
#: update (where a crash between the two would lose the second) is written to FILE with the
#: code that made it
UNIT_OF_WORK_LOG = os.environ.get("DUBAN_UNIT_OF_WORK_LOG")

_AMBIENT: ContextVar[_Ambient | None] = ContextVar("duban_unit_of_work", default=None)
_UPDATE: ContextVar[UpdateInHand | None] = ContextVar("duban_update_in_hand", default=None)


def _current_task() -> asyncio.Task[object] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


def _joined() -> AsyncSession | None:
    ambient = _AMBIENT.get()
    if ambient is not None and ambient.task is _current_task():
        return ambient.session
    return None


def in_transaction() -> bool:
    """Whether this task is inside a unit of work (a retry loop then cannot start over)."""
    return _joined() is not None


def handling_update(update_id: int, at: datetime) -> UpdateInHand:
    """From now on in this task, the first commit also records ``update_id`` as handled."""
    hand = UpdateInHand(update_id, at, _current_task())
    _UPDATE.set(hand)
    return hand


def update_in_hand() -> UpdateInHand | None:
    hand = _UPDATE.get()
    if hand is not None and hand.task is _current_task():
        return hand
    return None


def done_with_update() -> None:
    _UPDATE.set(None)


class _JoinedSession:
    """The session of the unit of work this task is in, lent without closing it."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def __aenter__(self) -> AsyncSession:
        return self.session

    async def __aexit__(self, *exc: object) -> None:
        return None


class Sessions(async_sessionmaker[AsyncSession]):
    """The session factory: inside a unit of work, the unit of work's own session."""

    def __call__(self, **local_kw: Any) -> AsyncSession:
        joined = _joined()
        if joined is not None:
            return _JoinedSession(joined)  # type: ignore[return-value]
        return super().__call__(**local_kw)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return Sessions(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: everything in it is committed together or not at all. Inside another
    unit of work of the same task it joins that one (which commits)."""
    joined = _joined()
    if joined is not None:
        yield joined
        return
    hand = update_in_hand()
    records = hand is not None and not hand.recorded
    try:
        async with factory() as session, session.begin():
            token = _AMBIENT.set(_Ambient(session, _current_task()))
            try:
                yield session
                if records:
                    assert hand is not None
                    await _record_update(session, hand)
            finally:
                _AMBIENT.reset(token)
    except BaseException:
        if hand is not None:  # rolled back: nothing it queued exists
            hand.staged.clear()
        raise
    if hand is not None:
        hand.held += hand.staged
        hand.staged.clear()
        hand.commits += 1
        if records:
            hand.recorded = True
        elif UNIT_OF_WORK_LOG:
            _log_second_commit(hand)


def _log_second_commit(hand: UpdateInHand) -> None:
    import traceback

    root = str(ALEMBIC_DIR.parent)
    frames = [f"{Path(f.filename).relative_to(root)}:{f.lineno} {f.name}"
              for f in traceback.extract_stack()
              if f.filename.startswith(root) and "/.venv/" not in f.filename][-8:]
    line = " < ".join(reversed(frames))
    with open(UNIT_OF_WORK_LOG or "", "a", encoding="utf-8") as out:
        out.write(f"update {hand.update_id}: commit {hand.commits}: {line}\n")


async def _record_update(session: AsyncSession, hand: UpdateInHand) -> None:
    """Record the update in hand as handled, in the unit of work about to commit."""
    from models.tables import InboxUpdate, ProcessedUpdate

    await session.flush()  # the work's own conflicts are the work's, not "already handled"
    global _RECORD
    if _RECORD is None:  # built once, at the first update handled
        _RECORD = (insert(ProcessedUpdate),
                   delete(InboxUpdate).where(InboxUpdate.update_id == bindparam("update_id"))  # type: ignore[arg-type]
                   .execution_options(synchronize_session=False))
    try:
        await session.exec(_RECORD[0], params={"update_id": hand.update_id,
                                               "processed_at": hand.at})
    except IntegrityError:
        raise AlreadyHandled(hand.update_id) from None
    await session.exec(_RECORD[1], params={"update_id": hand.update_id})


_RECORD: tuple[Any, Any] | None = None


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database to ``revision`` with the Alembic migrations."""

    def run(connection: Connection) -> None:
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def current_revision(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(read)
