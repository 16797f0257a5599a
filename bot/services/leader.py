"""One leader among the bot processes on a database: it alone runs the calendar and polls.

Several ``duban run`` processes may share one database (webhook workers behind one URL, or a
standby). Every process handles the updates it stores and delivers the outbox (claims keep each
row to one sender); only the leader sweeps the calendar and, in long-polling mode, calls
``getUpdates`` (Telegram allows one poller per token).

* **PostgreSQL**: a session-level advisory lock held on a connection of its own; it is released
  when that connection ends, so a leader that dies hands over within the standby's next try.
* **SQLite**: an exclusive ``flock`` on ``<database>.leader`` beside the database file, released
  by the operating system when the process dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

#: the advisory lock's key: any fixed 64-bit number that nothing else on the server uses
LOCK_KEY = 0x6475_6261_6E00  # "duban"


class Leadership:
    """Try to become the leader, check that it still is, let go."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._connection: AsyncConnection | None = None
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._connection is not None or self._file is not None

    async def try_acquire(self) -> bool:
        if self.held:
            return await self.still_held()
        if self.engine.dialect.name == "postgresql":
            return await self._try_advisory()
        return self._try_file()

    async def still_held(self) -> bool:
        """False once the lock is lost (its connection broke); the caller then steps down."""
        if self._file is not None:
            return True
        if self._connection is None:
            return False
        try:
            await self._connection.execute(text("SELECT 1"))
            return True
        except Exception as error:
            log.warning("leadership lost: %s", error)
            await self._drop_connection()
            return False

    async def release(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                                               {"key": LOCK_KEY})
            await self._drop_connection()
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    async def _try_advisory(self) -> bool:
        try:
            connection = await self.engine.connect()
        except Exception as error:
            log.warning("cannot try for leadership: %s", error)
            return False
        try:
            got = (await connection.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                            {"key": LOCK_KEY})).scalar()
            await connection.commit()
        except Exception as error:
            log.warning("cannot try for leadership: %s", error)
            await connection.close()
            return False
        if not got:
            await connection.close()
            return False
        self._connection = connection
        return True

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.invalidate()
            with contextlib.suppress(Exception):
                await connection.close()

    def _try_file(self) -> bool:
        path = lock_path(self.engine.url.render_as_string(hide_password=False))
        if path is None:
            self._file = open("/dev/null")  # an in-memory database has one process
            return True
        handle = path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True


def lock_path(database_url: str) -> Path | None:
    """``<database>.leader`` beside a SQLite file; None for an in-memory database."""
    database = make_url(database_url).database
    if not database or database == ":memory:":
        return None
    return Path(database).with_name(Path(database).name + ".leader")
