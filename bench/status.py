"""/status at scale: one county, the prefecture with its ranking, and the chart's figures.

``python bench/status.py [--stored 100000 1000000] [--runs 7] [--backend sqlite postgres]``

The cases are seeded with ``bench/sweep.py``'s bulk ``seed`` (nine regions, two required
departments each), then spread by bulk UPDATEs (through the counters' triggers, as any writer)
over six clauses, five industries, a unit and a capacity, and states: half rectified, a tenth
exited, the rest open in six states; 2 % of the cases are overdue, a tenth of the closed ones
closed late, a tenth of the routed ones wait for an acceptance. PostgreSQL runs when
``DUBAN_TEST_POSTGRES_URL`` names a server (a scratch database ``duban_bench_status`` is
created and dropped). Reported: medians of ``--runs`` runs after one warm-up, from the
counters, and (``--old``) as counting the cases did before them. ``--keep DIR`` keeps the
SQLite databases in ``DIR`` (``status-<stored>.db``) and measures an existing one again after
migrating it, without seeding (before/after a change on the same data).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text
from sqlmodel import col

from bench.sweep import postgres_database, seed
from bot.core.org import load_demo_org
from bot.services.reports import (
    _overdue_counts,
    clause_tallies,
    exited_cases,
    status_figures,
    summarize,
)
from bot.services.status import StatusService
from models import counters
from models.db import create_engine, session_factory, upgrade
from models.tables import Case

TODAY = date(2026, 12, 1)
TZ = ZoneInfo("Asia/Shanghai")
COUNTY = "玛纳斯县"
CHUNK = 100_000
CLAUSES = ("四", "五", "六", "七", "八", "九")
INDUSTRIES = ("cement", "steel", "coal", "flat_glass", "electrolytic_aluminium")
OPEN_STATES = ("routed", "accepted", "rectifying", "extension_requested", "shutdown_ordered",
               "sealed")


def _spread(first: int, last: int, dialect: str) -> list[str]:
    """UPDATEs that give the seeded cases ``first``..``last`` their variety."""
    def case(expression: str, values: tuple[str, ...]) -> str:
        whens = " ".join(f"WHEN {i} THEN '{v}'" for i, v in enumerate(values))
        return f"CASE {expression} {whens} END"

    at = ("datetime('2026-01-05 02:00:00', '+' || (id % 300) || ' days')"
          if dialect == "sqlite" else
          "timestamptz '2026-01-05 02:00:00+00' + make_interval(days => id % 300)")
    due_closed = ("date('2026-01-05', '+' || (id % 300 + CASE WHEN id % 10 = 0 THEN -3 ELSE 5 "
                  "END) || ' days')" if dialect == "sqlite" else
                  "date '2026-01-05' + (id % 300 + CASE WHEN id % 10 = 0 THEN -3 ELSE 5 END)")
    overdue = "date('2026-11-20')" if dialect == "sqlite" else "date '2026-11-20'"
    later = "date('2027-06-30')" if dialect == "sqlite" else "date '2027-06-30'"
    where = f"id BETWEEN {first} AND {last}"
    opened = case("(id / 20) % 6", OPEN_STATES)
    return [
        f"UPDATE cases SET clause = {case('id % 6', CLAUSES)}, "
        f"industry = {case('(id / 6) % 5', INDUSTRIES)}, unit = '万吨/年', "
        f"capacity = id % 50 + 1, "
        f"state = CASE WHEN id % 20 < 10 THEN 'rectified' WHEN id % 20 < 12 THEN 'exited' "
        f"ELSE {opened} END, "
        f"closed_at = CASE WHEN id % 20 < 12 THEN {at} END, "
        f"due_on = CASE WHEN id % 20 < 12 THEN {due_closed} "
        f"WHEN id % 50 = 13 OR id % 50 = 37 THEN {overdue} ELSE {later} END "
        f"WHERE {where}",
        f"UPDATE assignments SET status = 'pending' WHERE case_id BETWEEN {first} AND {last} "
        f"AND case_id IN (SELECT id FROM cases WHERE state = 'routed' AND id % 200 < 20)",
    ]


async def prepare(url: str, stored: int) -> None:
    began = time.perf_counter()
    await seed(url, stored, 0)
    print(f"  seeded {stored:,} cases in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    engine = create_engine(url)
    began = time.perf_counter()
    for first in range(1, stored + 1, CHUNK):
        async with engine.begin() as connection:
            for statement in _spread(first, min(stored, first + CHUNK - 1),
                                     engine.dialect.name):
                await connection.execute(text(statement))
        print(f"  spread {min(stored, first + CHUNK - 1):,} cases", file=sys.stderr)
    async with engine.begin() as connection:
        await connection.execute(text("ANALYZE"))
    print(f"  spread in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    await engine.dispose()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()


async def _median(work: Callable[[], Awaitable[object]], runs: int) -> float:
    await work()  # warm-up
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        await work()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


async def measure(url: str, runs: int, old: bool) -> dict[str, float]:
    engine = create_engine(url)
    sessions = session_factory(engine)
    status = StatusService(sessions, TZ)
    org = load_demo_org()
    regions = [r.name for r in org.regions]
    results: dict[str, float] = {}

    async def county() -> None:
        await status.status(TODAY, COUNTY)
        await status_figures(sessions, org, today=TODAY, region=COUNTY)

    async def prefecture() -> None:
        await status.status(TODAY)
        await status.ranking(TODAY)
        await status_figures(sessions, org, today=TODAY)

    async def ranking() -> None:
        await status.ranking(TODAY)

    results["county"] = await _median(county, runs)
    results["prefecture"] = await _median(prefecture, runs)
    results["ranking"] = await _median(ranking, runs)
    async with sessions() as session:
        results["overdue"] = float(sum(n for _, n in await _overdue_counts(
            session, today=TODAY, region=None, order=regions)))
        results["keys"] = float(len(await counters.status_rows(session))
                                + len(await counters.department_rows(session)))
    if old:
        async def county_old() -> None:
            async with sessions() as session:
                where = [col(Case.region_name) == COUNTY]
                await status._status_from_cases(session, TODAY, COUNTY, where)
                summarize(await exited_cases(session, year=TODAY.year, tz=TZ, region=COUNTY))
                await _overdue_counts(session, today=TODAY, region=COUNTY, order=regions)
                await clause_tallies(session, today=TODAY, region=COUNTY)

        async def prefecture_old() -> None:
            async with sessions() as session:
                await status._status_from_cases(session, TODAY, None, [])
                for kind in ("region", "department"):
                    await status._standings(session, kind, TODAY, counted=False)
                summarize(await exited_cases(session, year=TODAY.year, tz=TZ))
                await _overdue_counts(session, today=TODAY, region=None, order=regions)

        results["county_old"] = await _median(county_old, max(1, runs // 3))
        results["prefecture_old"] = await _median(prefecture_old, max(1, runs // 3))
    await engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stored", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--backend", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--old", action="store_true",
                        help="also measure counting the cases (as before the counters)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the SQLite databases here; measure existing ones again")
    args = parser.parse_args()
    server = os.environ.get("DUBAN_TEST_POSTGRES_URL")
    backends = [b for b in args.backend if b == "sqlite" or server]
    print("| back-end | stored cases | overdue | counter rows | /status one county "
          "(+ chart data) | prefecture (/status + ranking + chart data) | ranking alone |"
          + (" county, counting cases | prefecture, counting cases |" if args.old else ""))
    print("|---|---|---|---|---|---|---|" + ("---|---|" if args.old else ""))
    for backend in backends:
        for stored in args.stored:
            print(f"{backend}, {stored:,} cases:", file=sys.stderr)
            with tempfile.TemporaryDirectory() as folder:
                kept = (args.keep / f"status-{stored}.db"
                        if args.keep is not None and backend == "sqlite" else None)
                if backend == "sqlite":
                    url = f"sqlite+aiosqlite:///{kept or Path(folder) / 'status.db'}"
                else:
                    assert server is not None
                    url = asyncio.run(postgres_database(server, "duban_bench_status", True))
                if kept is not None and kept.exists():
                    asyncio.run(_migrate(url))
                else:
                    asyncio.run(prepare(url, stored))
                got = asyncio.run(measure(url, args.runs, args.old))
                if backend == "postgres":
                    assert server is not None
                    asyncio.run(postgres_database(server, "duban_bench_status", False))
            row = (f"| {backend} | {stored:,} | {int(got['overdue']):,} | {int(got['keys']):,} "
                   f"| {got['county']:.1f} ms | {got['prefecture']:.1f} ms "
                   f"| {got['ranking']:.1f} ms |")
            if args.old:
                row += f" {got['county_old']:.0f} ms | {got['prefecture_old']:.0f} ms |"
            print(row, flush=True)


if __name__ == "__main__":
    main()
