"""The sweep reads only what is due (``cases.next_due``) and finds what reading everything finds.

Two checks of :func:`scheduler.rules.next_check` against :func:`scheduler.rules.due_items`,
which stays the specification:

* pure: a random case swept every working day for half a year, the keys recorded as a sweep
  records them: on no day before the day ``next_check`` named does the case have an item;
* through the services, on SQLite and PostgreSQL: random workflow histories played on two
  databases in step; one sweeps as in production (the cases whose next due day has come, and
  the overdue ones), the other reads every open case before each sweep (its stored days are
  thrown away first, as after a change of the ladder). Every sweep must record, hold and
  defer exactly the same items on both.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert
from sqlalchemy import select as sa_select

from bot.core.casefile import CaseInput
from bot.core.clock import ManualClock
from bot.core.org import EscalationSettings, load_demo_org
from bot.core.policy.catalog import load_default_catalog
from bot.core.workflow import CASE_CLAUSES, CLOSED_STATES, State
from bot.services.calendar import RULES_KEY, CalendarService, SweepReport
from bot.services.cases import CaseService
from bot.services.org import OrgService
from models import queries
from models.db import create_engine, session_factory
from models.tables import Case, ChatBinding, Setting
from scheduler import rules
from scheduler.rules import CaseSnapshot, DeptStatus
from scheduler.workdays import WorkCalendar
from tests.conftest import COORDINATOR, template_copies
from tests.test_supervision_property import Move, moves, play_move

WORKDAYS = WorkCalendar()
CATALOG = load_default_catalog()
START = date(2026, 3, 2)
NO_LAGGARDS = EscalationSettings(laggard_overdue_cases=0, laggard_working_days=0)


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 2, tzinfo=UTC)  # 10:00 in Shanghai


# --- pure ------------------------------------------------------------------------------

OPEN_STATES = [s.value for s in State if s not in CLOSED_STATES]
SKIPPABLE = [*sorted(rules.STEP_NAMES), "T-7", "T-0"]

days_from_start = st.integers(-40, 120).map(lambda n: START + timedelta(days=n))
departments = st.builds(
    DeptStatus, st.sampled_from(["industry", "environment", "energy"]), st.booleans(),
    st.booleans(), st.one_of(st.none(), days_from_start))
snapshots = st.builds(
    CaseSnapshot,
    ref=st.just("C-1"), region=st.just("玛纳斯县"), clause=st.sampled_from(CASE_CLAUSES),
    state=st.sampled_from(OPEN_STATES), deadline=st.one_of(st.none(), days_from_start),
    deadline_kind=st.sampled_from(rules.DEADLINE_KINDS), routed_on=days_from_start,
    required=st.lists(departments, max_size=3, unique_by=lambda d: d.department).map(tuple),
    paused=st.just(False), skipped_steps=st.frozensets(
        st.sampled_from(SKIPPABLE), max_size=2), failing_exit=st.booleans())


@settings(max_examples=int(os.environ.get("DUBAN_PROPERTY_EXAMPLES", "150")), deadline=None)
@given(snapshots, st.integers(0, 60))
def test_no_item_falls_before_the_next_check(case: CaseSnapshot, offset: int) -> None:
    day = WORKDAYS.add_working_days(START, offset)
    sent: set[str] = set()
    quiet_until: date | None = day  # the first sweep reads the case (a new case is due now)
    for _ in range(130):
        items = rules.due_items([case], [], [], sent, at(day), WORKDAYS, NO_LAGGARDS)
        if items:
            assert quiet_until is not None and day >= quiet_until, (
                f"{[i.key for i in items]} on {day}, but the case was not to be read "
                f"before {quiet_until}")
        sent |= {key for item in items for key in item.done_keys}
        quiet_until = rules.next_check(case, day, WORKDAYS, NO_LAGGARDS)
        day = WORKDAYS.add_working_days(day, 1)


def test_a_closed_or_paused_case_is_never_read_again() -> None:
    case = CaseSnapshot(ref="C-1", region="玛纳斯县", clause="四", state="rectifying",
                        deadline=START, deadline_kind="rectification", routed_on=START,
                        required=(DeptStatus("industry", accepted=True),))
    assert rules.next_check(case, START, WORKDAYS, NO_LAGGARDS) is not None
    assert rules.next_check(replace(case, paused=True), START, WORKDAYS, NO_LAGGARDS) is None
    assert rules.next_check(replace(case, state="exited"), START, WORKDAYS,
                            NO_LAGGARDS) is None


# --- through the services, two databases in step ----------------------------------------

class World:
    """One database with its services; ``full`` throws its stored days away before each
    sweep, so that sweep reads every open case."""

    def __init__(self, url: str, clock: ManualClock, *, full: bool) -> None:
        self.engine = create_engine(url)
        self.sessions = session_factory(self.engine)
        self.org = OrgService(self.sessions)
        self.cases = CaseService(self.sessions, CATALOG, clock, WORKDAYS, self.org.current)
        self.calendar = CalendarService(self.sessions, clock, CATALOG, WORKDAYS, self.cases,
                                        self.org.current)
        self.full = full

    async def start(self, clauses: list[str]) -> list[str]:
        await self.org.load(load_demo_org())
        now = at(START)
        async with self.engine.begin() as connection:  # some parties have a chat, some not
            await connection.execute(insert(ChatBinding), [
                {"chat_id": -101, "kind": "department", "department_key": "industry",
                 "region_name": None, "active": True, "bound_at": now, "updated_at": now},
                {"chat_id": -102, "kind": "region", "department_key": None,
                 "region_name": "玛纳斯县", "active": True, "bound_at": now, "updated_at": now}])
        refs = [f"P-{i:02d}" for i in range(len(clauses))]
        await self.cases.import_cases([
            CaseInput(ref=ref, region="玛纳斯县", enterprise=f"{ref}企业", industry="cement",
                      clauses=(clause,), capacity=Decimal(10), unit="万吨/年", equipment=None,
                      registered_on=START, description="", row=i + 2)
            for i, (ref, clause) in enumerate(zip(refs, clauses, strict=True))], COORDINATOR)
        return refs

    async def sweep(self) -> SweepReport:
        if self.full:
            async with self.engine.begin() as connection:
                await connection.execute(delete(Setting).where(Setting.key == RULES_KEY))
        return await self.calendar.sweep()

    async def move(self, ref: str, move: Move, day: date) -> None:
        await play_move(self.cases, ref, move, day)


def _keys(report: SweepReport) -> tuple[set[str], set[str]]:
    return {i.key for i in report.items}, {i.key for i in report.held}


async def _in_step(clauses: list[str], history: list[Move], paused: set[int], urls: list[str],
                   tail: int) -> None:
    clock = ManualClock(at(START))
    stored, full = World(urls[0], clock, full=False), World(urls[1], clock, full=True)
    try:
        refs = [*await stored.start(clauses)]
        assert refs == await full.start(clauses)
        day = START

        async def both_sweep() -> None:
            ours, theirs = await stored.sweep(), await full.sweep()
            assert _keys(ours) == _keys(theirs), f"the sweeps of {day} differ"
            assert sorted(ours.marked_overdue) == sorted(theirs.marked_overdue)

        for move in history:
            day = WORKDAYS.add_working_days(day, move.wait)
            clock.set(at(day))
            await both_sweep()
            for world in (stored, full):
                await world.move(refs[move.case % len(refs)], move, day)
            if move.future % 7 == 0 and refs:  # now and then a coordinator pauses a case
                ref = refs[move.case % len(refs)]
                for world in (stored, full):
                    await world.calendar.set_paused(ref, move.future % 2 == 0, "协调",
                                                    COORDINATOR)
        for index in paused:
            if index < len(refs):
                for world in (stored, full):
                    await world.calendar.skip(refs[index], "reminder", "协调", COORDINATOR)
        for _ in range(tail):
            day = WORKDAYS.add_working_days(day, 1)
            clock.set(at(day))
            await both_sweep()
    finally:
        await stored.engine.dispose()
        await full.engine.dispose()


histories = st.tuples(
    st.lists(st.sampled_from(CASE_CLAUSES), min_size=1, max_size=5),
    st.lists(moves, min_size=0, max_size=12),
    st.sets(st.integers(0, 4), max_size=2),
)
EXAMPLES = int(os.environ.get("DUBAN_PROPERTY_EXAMPLES", "4"))
TAIL = 30  # working days of sweeps after the history


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(histories)
def test_stored_days_sweep_as_reading_everything_sqlite(
        sqlite_template: Path, history: tuple[list[str], list[Move], set[int]]) -> None:
    with template_copies(["stored", "full"], sqlite=sqlite_template) as urls:
        asyncio.run(_in_step(*history, urls, TAIL))


@settings(max_examples=max(2, EXAMPLES // 2), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(histories)
def test_stored_days_sweep_as_reading_everything_postgres(
        postgres_template: str, history: tuple[list[str], list[Move], set[int]]) -> None:
    with template_copies(["nd_a", "nd_b"], postgres=postgres_template) as urls:
        asyncio.run(_in_step(*history, urls, TAIL // 2))


async def _only_rows_as_read(url: str) -> None:
    world = World(url, ManualClock(at(START)), full=False)
    try:
        await world.start(["四", "四", "四"])
        table = Case.__table__  # type: ignore[attr-defined]
        read = sa_select(table.c.id, table.c.version, table.c.chain_seq, table.c.next_due
                         ).order_by(table.c.id)
        async with world.engine.connect() as connection:
            before = (await connection.execute(read)).all()
        later = date(2026, 12, 10)
        async with world.sessions() as session:
            await queries.set_next_due(session, [
                (before[0].id, before[0].version, before[0].chain_seq, later),
                (before[1].id, before[1].version - 1, before[1].chain_seq, later),  # changed
                (before[2].id, before[2].version, before[2].chain_seq, None)])
            await session.commit()
        async with world.engine.connect() as connection:
            after = (await connection.execute(read)).all()
        assert [row.next_due for row in after] == [later, before[1].next_due, None]
        assert before[1].next_due is not None
    finally:
        await world.engine.dispose()


def test_a_next_due_day_is_written_only_where_the_case_is_as_read_sqlite(
        sqlite_template: Path) -> None:
    """A case changed since the sweep read it keeps the day its change set (the change's
    reset must win); the others get theirs, a day or none."""
    with template_copies(["as_read"], sqlite=sqlite_template) as urls:
        asyncio.run(_only_rows_as_read(urls[0]))


def test_a_next_due_day_is_written_only_where_the_case_is_as_read_postgres(
        postgres_template: str) -> None:
    with template_copies(["nd_as_read"], postgres=postgres_template) as urls:
        asyncio.run(_only_rows_as_read(urls[0]))
