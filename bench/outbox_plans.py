"""The dispatcher's claim query on a skewed outbox: its plan after ANALYZE, and its time.

``python bench/outbox_plans.py [--sent 1000000] [--unsent 300] [--database URL]``

Writes ``--sent`` rows already sent and ``--unsent`` rows waiting into a fresh database (SQLite
file, or a new database on the PostgreSQL server at ``--database``), runs ANALYZE, and prints
EXPLAIN (QUERY PLAN on SQLite, ANALYZE on PostgreSQL) of ``OutboxStore.due``'s statement with
and without the partial index ``ix_outbox_unsent``, and the median time of the query.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.trials.world import fresh_database
from bot.services.outbox import due_statement
from models.db import create_engine, normalize_url, upgrade
from models.tables import Outbox

NOW = datetime(2026, 12, 1, 2, tzinfo=UTC)
BATCH = 20_000


async def seed(engine: AsyncEngine, sent: int, unsent: int) -> None:
    await upgrade(engine)
    began = time.perf_counter()
    old = NOW - timedelta(days=60)
    for start in range(0, sent + unsent, BATCH):
        rows = []
        for i in range(start, min(sent + unsent, start + BATCH)):
            waiting = i >= sent
            at = NOW - timedelta(seconds=5) if waiting else old + timedelta(seconds=i % 86400)
            rows.append({"key": f"refresh:{i}:1", "kind": "refresh", "recipient_kind": "case",
                         "recipient": str(i), "payload": {"case_id": i}, "created_at": at,
                         "not_before": at, "claimed_at": None, "attempts": 0, "error": None,
                         "sent_at": None if waiting else at})
        async with engine.begin() as connection:
            await connection.execute(insert(Outbox), rows)
        if start % 200_000 == 0:
            print(f"  {start + len(rows):,} rows …", file=sys.stderr, flush=True)
    async with engine.begin() as connection:
        await connection.execute(text("ANALYZE"))
    print(f"  seeded in {time.perf_counter() - began:.0f} s", file=sys.stderr, flush=True)


async def explain(engine: AsyncEngine) -> tuple[list[str], float]:
    statement = due_statement(NOW, 100)
    compiled = statement.compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN ANALYZE "
    async with engine.connect() as connection:
        plan = [" ".join(str(v) for v in row[-1:])
                for row in (await connection.execute(text(prefix + str(compiled)))).all()]
        times = []
        for _ in range(20):
            began = time.perf_counter()
            rows = (await connection.execute(statement)).all()
            times.append(time.perf_counter() - began)
    assert rows, "the unsent rows are found"
    return plan, statistics.median(times)


async def measure(url: str, sent: int, unsent: int) -> None:
    engine = create_engine(url)
    await seed(engine, sent, unsent)
    print(f"\n{engine.dialect.name}: {sent:,} sent, {unsent:,} unsent, after ANALYZE\n")
    with_index = await explain(engine)
    async with engine.begin() as connection:
        await connection.execute(text("DROP INDEX ix_outbox_unsent"))
        await connection.execute(text("ANALYZE"))
    without = await explain(engine)
    for name, (plan, seconds) in (("with ix_outbox_unsent", with_index),
                                  ("without (only ix_outbox_pending)", without)):
        print(f"**{name}**: median {seconds * 1000:.2f} ms\n")
        print("```\n" + "\n".join(plan) + "\n```\n")
    await engine.dispose()


async def run(admin_url: str | None, sent: int, unsent: int) -> None:
    if admin_url:
        async with fresh_database(admin_url) as url:
            await measure(normalize_url(url), sent, unsent)
        return
    with tempfile.TemporaryDirectory() as folder:
        await measure(f"sqlite+aiosqlite:///{Path(folder) / 'outbox.db'}", sent, unsent)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sent", type=int, default=1_000_000)
    parser.add_argument("--unsent", type=int, default=300)
    parser.add_argument("--database", default=None, help="a PostgreSQL server's URL")
    args = parser.parse_args()
    asyncio.run(run(args.database, args.sent, args.unsent))


if __name__ == "__main__":
    main()
