"""SQLite through aiosqlite with one thread hand-off per statement (issue 13).

aiosqlite runs each call on its connection's thread; SQLAlchemy's adapter makes four calls
for one statement (open a cursor, execute, fetch the rows, close it), each a round trip between
the event loop and that thread. On a quiet machine a round trip costs more than the statement
itself, so a press (26 statements) spent most of its time waiting on hand-offs.

This cursor runs the four steps as one function on the connection's thread: the same SQL, the
same transactions and commits, one hand-off. Server-side cursors (streamed reads) keep
SQLAlchemy's own path. :func:`dbapi` is passed to ``create_async_engine(module=…)``; it falls
back to SQLAlchemy's adapter when aiosqlite lacks the hook used here.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)

Outcome = tuple[Any, list[Any], int, int | None]


def _execute(connection: sqlite3.Connection, operation: str, parameters: Any) -> Outcome:
    """On aiosqlite's thread: what SQLAlchemy's adapter does in four hand-offs."""
    cursor = connection.cursor()
    try:
        if parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        if cursor.description:
            return cursor.description, cursor.fetchall(), -1, -1
        return None, [], cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _executemany(connection: sqlite3.Connection, operation: str,
                 parameters: Sequence[Any]) -> Outcome:
    cursor = connection.cursor()
    try:
        cursor.executemany(operation, parameters)
        return None, [], cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def _run(self, fn: Any, operation: Any, parameters: Any) -> None:
        try:
            connection = self._connection
            description, rows, rowcount, lastrowid = self.await_(
                connection._execute(fn, connection._conn, operation, parameters))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self.description = description
        self._rows = deque(rows)
        self.rowcount, self.lastrowid = rowcount, lastrowid

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        self._run(_execute, operation, parameters)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        self._run(_executemany, operation, seq_of_parameters)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    def cursor(self, server_side: bool = False) -> AsyncAdapt_aiosqlite_cursor:
        if server_side:
            return super().cursor(server_side=True)
        return OneHopCursor(self)


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        connection = super().connect(*arg, **kw)
        if type(connection) is not AsyncAdapt_aiosqlite_connection:  # async_fallback: as is
            return connection
        return OneHopConnection(self, connection._connection)


def dbapi() -> AsyncAdapt_aiosqlite_dbapi | None:
    """The DB-API module for ``create_async_engine(module=…)``; None (SQLAlchemy's own) when
    the installed aiosqlite has no ``Connection._execute``."""
    if not callable(getattr(aiosqlite.Connection, "_execute", None)):
        return None
    return OneHopDBAPI(aiosqlite, sqlite3)
