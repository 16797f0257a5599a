"""SQLite's one hand-off per statement (``models.onehop``): what SQLAlchemy's cursor gives,
rows, counts, ids, errors and streamed reads, in one trip to aiosqlite's thread."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiosqlite.core
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from models import onehop
from models.db import create_engine


@pytest.fixture
async def hops_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'hops.db'}")
    async with engine.begin() as connection:
        await connection.execute(text(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)"))
    yield engine
    await engine.dispose()


@contextmanager
def hand_offs() -> Iterator[list[Any]]:
    """Every call aiosqlite hands to its connection's thread."""
    calls: list[Any] = []
    original = aiosqlite.core.Connection._execute

    async def counted(connection: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(fn)
        return await original(connection, fn, *args, **kwargs)

    aiosqlite.core.Connection._execute = counted  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        aiosqlite.core.Connection._execute = original  # type: ignore[method-assign]


async def test_the_engine_uses_it(hops_engine: AsyncEngine) -> None:
    assert isinstance(hops_engine.dialect.dbapi, onehop.OneHopDBAPI)
    async with hops_engine.connect() as connection:
        raw = await connection.get_raw_connection()
        assert isinstance(raw.dbapi_connection, onehop.OneHopConnection)


async def test_a_statement_is_one_hand_off(hops_engine: AsyncEngine) -> None:
    async with hops_engine.begin() as connection:
        with hand_offs() as calls:
            inserted = await connection.execute(
                text("INSERT INTO items (name) VALUES (:name)"), {"name": "甲"})
            rows = (await connection.execute(text("SELECT id, name FROM items"))).all()
        assert len(calls) == 2
        assert inserted.rowcount == 1 and inserted.lastrowid == rows[0][0]
        assert [name for _, name in rows] == ["甲"]


async def test_many_rows_counts_and_returning(hops_engine: AsyncEngine) -> None:
    async with hops_engine.begin() as connection:
        many = await connection.execute(text("INSERT INTO items (name) VALUES (:name)"),
                                        [{"name": n} for n in ("a", "b", "c")])
        assert many.rowcount == 3
        changed = await connection.execute(
            text("UPDATE items SET name = name || '!' WHERE name IN ('a', 'b') "
                 "RETURNING name"))
        assert sorted(changed.scalars()) == ["a!", "b!"]
        none = await connection.execute(text("UPDATE items SET name = 'x' WHERE id < 0"))
        assert none.rowcount == 0
        result = await connection.execute(text("SELECT name FROM items ORDER BY id"))
        assert list(result.keys()) == ["name"]
        assert result.scalars().all() == ["a!", "b!", "c"]


async def test_errors_are_the_drivers(hops_engine: AsyncEngine) -> None:
    async with hops_engine.connect() as connection:
        await connection.execute(text("INSERT INTO items (name) VALUES ('same')"))
        with pytest.raises(IntegrityError):
            await connection.execute(text("INSERT INTO items (name) VALUES ('same')"))
        await connection.rollback()
        with pytest.raises(OperationalError):
            await connection.execute(text("SELECT nothing FROM nowhere"))


async def test_streamed_reads_keep_their_own_cursor(hops_engine: AsyncEngine) -> None:
    async with hops_engine.begin() as connection:
        await connection.execute(text("INSERT INTO items (name) VALUES (:name)"),
                                 [{"name": f"n{i}"} for i in range(25)])
        stream = await connection.stream(text("SELECT name FROM items ORDER BY id"))
        names = [row[0] async for row in stream]
        assert names == [f"n{i}" for i in range(25)]
