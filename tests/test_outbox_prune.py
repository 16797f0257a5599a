"""Old sent outbox rows are pruned; unsent rows and the keys that guard a "once" are kept; the
dispatcher's query reads the unsent rows through the partial index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from bot.services.outbox import KEEP_SENT, Kind, OutboxStore, due_statement, enqueue
from models.db import session_factory, transaction
from models.tables import Outbox

NOW = datetime(2026, 12, 1, 2, tzinfo=UTC)


async def _queue(store: OutboxStore, key: str, kind: str, at: datetime,
                 sent: bool = True) -> None:
    async with transaction(store.sessions) as session:
        await enqueue(session, key=key, kind=kind, recipient_kind="chat", recipient="-1",
                      now=at)
        if sent:
            await session.exec(update(Outbox).where(col(Outbox.key) == key).values(sent_at=at))


async def _keys(store: OutboxStore) -> set[str]:
    async with store.sessions() as session:
        return set((await session.exec(select(col(Outbox.key)))).all())


async def test_pruning_drops_only_old_sent_rows_of_kinds_whose_keys_never_recur(
        engine: AsyncEngine) -> None:
    store = OutboxStore(session_factory(engine))
    old = NOW - KEEP_SENT - timedelta(hours=1)
    recent = NOW - KEEP_SENT + timedelta(hours=1)
    for i in range(7):  # more than one batch
        await _queue(store, f"refresh:1:{i}", Kind.REFRESH, old)
    await _queue(store, "answer:5", Kind.ANSWER, old)
    await _queue(store, "digest:department:x:2026", Kind.DIGEST, old)
    await _queue(store, "refresh:2:1", Kind.REFRESH, recent)  # not old enough
    await _queue(store, "refresh:3:1", Kind.REFRESH, old, sent=False)  # never sent
    await _queue(store, "card:1:department:environment", Kind.CARD, old)  # once per chat
    await _queue(store, "nochat:1:environment", Kind.NO_CHAT, old)  # once per case

    assert await store.prune(NOW, batch=3) == 9

    assert await _keys(store) == {"refresh:2:1", "refresh:3:1",
                                  "card:1:department:environment", "nochat:1:environment"}
    assert await store.prune(NOW, batch=3) == 0
    # a pruned key could be queued again, so only keys that never recur are pruned: the card's
    # key still refuses a second card
    async with transaction(store.sessions) as session:
        assert not await enqueue(session, key="card:1:department:environment", kind=Kind.CARD,
                                 recipient_kind="chat", recipient="-1", now=NOW)


async def test_the_dispatchers_query_uses_the_partial_index_for_unsent_rows(
        engine: AsyncEngine) -> None:
    store = OutboxStore(session_factory(engine))
    for i in range(30):
        await _queue(store, f"refresh:{i}:1", Kind.REFRESH, NOW - timedelta(days=1))
    await _queue(store, "refresh:99:1", Kind.REFRESH, NOW - timedelta(minutes=1), sent=False)
    compiled = due_statement(NOW, 100).compile(engine.sync_engine,
                                               compile_kwargs={"literal_binds": True})
    async with engine.begin() as connection:
        await connection.execute(text("ANALYZE"))
        if engine.dialect.name == "sqlite":
            plan = " ".join(str(row[-1]) for row in (await connection.execute(
                text(f"EXPLAIN QUERY PLAN {compiled}"))).all())
        else:  # a table this small is scanned unless scans are priced out
            await connection.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(row[0] for row in (await connection.execute(
                text(f"EXPLAIN {compiled}"))).all())
    assert "ix_outbox_unsent" in plan, plan
    due = await store.due(NOW)
    assert [row.key for row in due] == ["refresh:99:1"]
