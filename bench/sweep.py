"""The calendar's sweep: 10k cases due among 10k / 100k / 1M stored.

``python bench/sweep.py [--stored 10000 100000 1000000] [--due 10000] [--late 0]
[--database URL]``

Cases are written straight into the tables (bulk inserts: this measures the sweep, not the
import). The due cases are rectifying energy cases whose deadline is seven days after the
sweep, so each of their two departments gets its T-7 nudge; the others' deadlines are a year
away. ``--late N``: of the due cases, the first N have a deadline that passed the day before
(a batch imported on one day, all due on one day): the sweep marks them overdue (a workflow
step each: the case row, its event, its card's refresh) and their departments get the
overdue reminder. Reported: the sweep that records and queues everything, and a preview of
the same instant (read only).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.core.clock import ManualClock
from bot.core.org import EscalationSettings, Org, load_demo_org
from bot.core.policy.catalog import load_default_catalog
from bot.services.calendar import RULES_KEY, CalendarService
from bot.services.cases import CaseService
from bot.services.org import OrgService
from models import chain, counters
from models.db import create_engine, session_factory, transaction, upgrade
from models.tables import Assignment, Case, ChatBinding, Event, Setting
from scheduler.rules import CaseSnapshot, DeptStatus, next_check
from scheduler.workdays import SHANGHAI, WorkCalendar

SWEEP_AT = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Asia/Shanghai
BATCH = 20_000


async def seed(url: str, stored: int, due: int, late: int = 0) -> None:
    engine = create_engine(url)
    await upgrade(engine)
    await OrgService(session_factory(engine)).load(load_demo_org())
    regions = [r.name for r in load_demo_org().regions]
    await bind_chats(engine, load_demo_org())
    created = SWEEP_AT - timedelta(days=200)
    near = (SWEEP_AT + timedelta(days=7)).date()
    past = (SWEEP_AT - timedelta(days=1)).date()
    far = date(2027, 11, 30)
    # PostgreSQL: the counters' triggers (a row each, on the same few counter rows) made 1M
    # cases take about half an hour; the bulk rows go in without them (a superuser's
    # session) and the counters are rebuilt once at the end.
    untriggered = url.startswith("postgresql") and await _superuser(engine)
    # The calendar as a day earlier's sweep left it: each case's next due day stored, the
    # rules it was computed with recorded (else the first sweep reads every case once).
    checks = {deadline: next_day(deadline, created.date()) for deadline in (near, past, far)}

    def deadline_of(i: int) -> date:
        return past if i <= late else near if i <= due else far

    for start in range(0, stored, BATCH):
        ids = range(start + 1, min(stored, start + BATCH) + 1)
        cases = [{"id": i, "ref": f"S{i:08d}", "region_name": regions[i % len(regions)],
                  "enterprise": f"企业{i}", "industry": "cement", "clause": "四",
                  "clauses": ["四"], "capacity": None, "unit": None, "equipment": None,
                  "registered_on": created.date(), "description": "", "state": "rectifying",
                  "deadline": deadline_of(i), "due_on": deadline_of(i),
                  "next_due": checks[deadline_of(i)], "pending_extension_months": None,
                  "exited_capacity": None, "closed_at": None, "created_at": created,
                  "updated_at": created, "version": 1, "paused": False, "skipped_steps": []}
                 for i in ids]
        assignments = [{"case_id": i, "target": d, "department_key": d, "as_written": d,
                        "role": "responsible", "required": True, "status": "accepted",
                        "clause": "四", "tag_raw": "工业和信息化、发展改革主管部门负责",
                        "reason": None, "created_at": created}
                       for i in ids for d in ("industry", "development_reform")]
        events = [{"case_id": i, "seq": 1, "at": created, "kind": "created",
                   "from_state": None, "to_state": "routed", "actor_id": None,
                   "actor_name": "bench", "actor_role": "system", "department_key": None,
                   "chat_id": None, "payload": {}} for i in ids]
        for event in events:  # each case's first event, linked into its (new) chain
            event["prev_hash"] = None
            event["hash"] = chain.event_hash(chain.stored_values(event), None)
        heads = {int(e["case_id"]): str(e["hash"]) for e in events}
        for case in cases:
            case["chain_seq"], case["chain_hash"] = 1, heads[int(case["id"])]
        async with engine.begin() as connection:
            if untriggered:
                await connection.execute(text("SET LOCAL session_replication_role = replica"))
            await connection.execute(insert(Case), cases)
            await connection.execute(insert(Assignment), assignments)
            await connection.execute(insert(Event), events)
        if (start + BATCH) % 100_000 == 0 and stored >= 200_000:
            print(f"  {start + len(ids):,} of {stored:,} cases written", file=sys.stderr,
                  flush=True)
    sessions = session_factory(engine)
    if untriggered:  # the counters, as `duban db recount` rebuilds them
        async with transaction(sessions) as session:
            await counters.recount(session, counters.fixed_offset(SHANGHAI) or 0,
                                   SWEEP_AT.astimezone(SHANGHAI).date())
    clock = ManualClock(SWEEP_AT)
    catalog = load_default_catalog()
    calendar = CalendarService(sessions, clock, catalog, WorkCalendar(),
                               CaseService(sessions, catalog, clock), OrgService(sessions).current)
    async with engine.begin() as connection:
        await connection.execute(insert(Setting), [{
            "key": RULES_KEY,
            "value": calendar.rules_fingerprint(await OrgService(sessions).current())}])
        await connection.execute(text("ANALYZE"))
    await engine.dispose()


async def _superuser(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        return bool((await connection.execute(text(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))).scalar())


def next_day(deadline: date, routed: date) -> date | None:
    """The day the sweep before the measured one stored for a seeded case."""
    snapshot = CaseSnapshot(
        ref="", region="", clause="四", state="rectifying", deadline=deadline,
        deadline_kind="rectification", routed_on=routed,
        required=tuple(DeptStatus(d, accepted=True) for d in ("industry",
                                                                "development_reform")))
    return next_check(snapshot, (SWEEP_AT - timedelta(days=1)).date(), WorkCalendar(),
                      EscalationSettings())


async def bind_chats(engine: AsyncEngine, org: Org) -> None:
    """A bound group chat for every department and county: reminders for a party without
    one wait for it (and would not be counted)."""
    now = SWEEP_AT - timedelta(days=200)
    rows = ([{"chat_id": -1000 - n, "kind": "department", "department_key": d.key,
              "region_name": None} for n, d in enumerate(org.departments)]
            + [{"chat_id": -2000 - n, "kind": "region", "department_key": None,
                "region_name": r.name} for n, r in enumerate(org.regions)]
            + [{"chat_id": -3000, "kind": "coordination", "department_key": None,
                "region_name": None}])
    async with engine.begin() as connection:
        await connection.execute(insert(ChatBinding), [
            {**row, "title": None, "active": True, "bound_by": None, "bound_at": now,
             "updated_at": now} for row in rows])


async def measure(url: str) -> tuple[float, float, float, int, int, float]:
    engine = create_engine(url)
    sessions = session_factory(engine)
    clock = ManualClock(SWEEP_AT)
    catalog = load_default_catalog()
    cases = CaseService(sessions, catalog, clock)
    calendar = CalendarService(sessions, clock, catalog, WorkCalendar(), cases,
                               OrgService(sessions).current)
    start = time.perf_counter()
    preview = await calendar.preview(SWEEP_AT)
    preview_seconds = time.perf_counter() - start
    stalls: list[float] = []
    ticking = asyncio.create_task(_ticker(stalls))
    start, cpu = time.perf_counter(), time.process_time()
    report = await calendar.sweep()
    sweep_seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    ticking.cancel()
    await engine.dispose()
    assert len(report.items) == len([i for i in preview if i.send_after <= SWEEP_AT])
    return (sweep_seconds, cpu, preview_seconds, len(report.items), len(report.marked_overdue),
            max(stalls, default=0.0))


async def _ticker(stalls: list[float]) -> None:
    """What a press waits for the event loop during the sweep: the longest gap between
    turns of a coroutine that asks to run every millisecond."""
    last = time.perf_counter()
    while True:
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        stalls.append(now - last)
        last = now


async def postgres_database(server: str, name: str, create: bool) -> str:
    """A fresh database ``name`` on the PostgreSQL ``server`` (dropped first), or only
    dropped (``create`` False); its URL."""
    admin = make_url(server).set(drivername="postgresql+asyncpg")
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        if create:
            await connection.execute(text(f"CREATE DATABASE {name}"))
    await engine.dispose()
    return admin.set(database=name).render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stored", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--late", type=int, default=0,
                        help="of the due cases, how many passed their deadline yesterday")
    parser.add_argument("--database", default=None,
                        help="a PostgreSQL server's URL (default: SQLite); each size gets a "
                             "database of its own there, dropped after")
    args = parser.parse_args()
    print("| stored cases | due cases | marked overdue | items queued | sweep (record + queue) "
          "| its CPU time (all threads) | preview | longest event-loop stall in the sweep |")
    print("|---|---|---|---|---|---|---|---|")
    for stored in args.stored:
        with tempfile.TemporaryDirectory() as folder:
            url = (asyncio.run(postgres_database(args.database, "duban_bench_sweep", True))
                   if args.database else f"sqlite+aiosqlite:///{Path(folder) / 'sweep.db'}")
            began = time.perf_counter()
            due = min(args.due, stored)
            asyncio.run(seed(url, stored, due, min(args.late, due)))
            print(f"(seeded {stored:,} in {time.perf_counter() - began:.0f} s)", file=sys.stderr)
            sweep_s, cpu_s, preview_s, items, marked, stall = asyncio.run(measure(url))
            if args.database:
                asyncio.run(postgres_database(args.database, "duban_bench_sweep", False))
        print(f"| {stored:,} | {due:,} | {marked:,} | {items:,} | {sweep_s:.2f} s | "
              f"{cpu_s:.2f} s | {preview_s:.2f} s | {stall * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
