"""Overdue counted: the late counts, the day they are taken at, and the readers' roll.

Hypothesis plays random workflow histories across days (the calendar sweeping each morning:
due days filled, cases marked overdue), reading /status, the ranking and the chart's figures
on some days and not others (so a roll covers one day or several), and now and then for a day
before the stored one (a preview, or a clock set back in a test). Every reading must give the
overdue figures of a full count of the cases at its day, and the kept late counts must equal
a full count at the stored day, on SQLite and PostgreSQL. Then: ``duban db recount`` repairs
spoilt late counts, and on PostgreSQL a roll and a writer serialize on the advisory lock.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.casefile import CaseInput
from bot.core.clock import ManualClock
from bot.core.org import load_demo_org
from bot.core.policy.catalog import load_default_catalog
from bot.core.routing import ACTIVE_STATUSES
from bot.core.workflow import CASE_CLAUSES, LATE_STATES
from bot.services.calendar import CalendarService
from bot.services.cases import CaseService
from bot.services.org import OrgService
from bot.services.reports import status_figures
from bot.services.status import StatusService
from models import counters
from models.db import create_engine, session_factory, transaction
from models.tables import Assignment, Case
from scheduler import rules
from scheduler.workdays import WorkCalendar
from tests.conftest import (
    COORDINATOR,
    Services,
    template_copies,
)
from tests.test_supervision_property import Move, moves, play_move

ZONE = ZoneInfo("Asia/Shanghai")
CATALOG = load_default_catalog()
WORKDAYS = WorkCalendar()
START = date(2026, 3, 2)
REGIONS = ("玛纳斯县", "呼图壁县", "昌吉市")
ACTIVE = {s.value for s in ACTIVE_STATUSES}


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 2, tzinfo=UTC)  # 10:00 in Shanghai


def test_the_triggers_late_states_are_the_workflows() -> None:
    """The triggers hold a copy of ``LATE_STATES`` (``models`` cannot import the core)."""
    assert set(counters.LATE_STATES) == {s.value for s in LATE_STATES}


@dataclass(frozen=True)
class Expected:
    """Overdue at one day, counted from every case in Python (``rules.is_overdue``)."""

    by_region_clause: Counter[tuple[str, str]]
    by_department: Counter[str]

    def by_clause(self, region: str | None) -> dict[str, int]:
        out: Counter[str] = Counter()
        for (name, clause), n in self.by_region_clause.items():
            if region is None or name == region:
                out[clause] += n
        return dict(+out)

    def by_region(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for (name, _clause), n in self.by_region_clause.items():
            out[name] += n
        return dict(+out)


async def expected(sessions: async_sessionmaker[AsyncSession], day: date) -> Expected:
    async with sessions() as session:
        cases = (await session.exec(select(Case))).all()
        parts = (await session.exec(select(Assignment))).all()
    late = {c.id: c for c in cases if rules.is_overdue(c.state, c.due_on, day)}
    departments: dict[str, set[int]] = {}
    for part in parts:
        if (part.case_id in late and part.required and part.department_key
                and part.status in ACTIVE):
            departments.setdefault(part.department_key, set()).add(part.case_id)
    return Expected(Counter((c.region_name, c.clause) for c in late.values()),
                    Counter({d: len(ids) for d, ids in departments.items()}))


async def assert_kept_counts_are_a_full_count(sessions: async_sessionmaker[AsyncSession]
                                              ) -> None:
    async with sessions() as session:
        assert await counters.kept_late(session) == await counters.full_late(session)
        assert (await counters.kept_department_late(session)
                == await counters.full_department_late(session))


async def assert_overdue_read_right(sessions: async_sessionmaker[AsyncSession],
                                    org_service: OrgService, day: date,
                                    regions: tuple[str, ...] = REGIONS) -> None:
    """/status (prefecture and each county), the ranking and the chart's figures at ``day``
    give the overdue figures of a full count."""
    want = await expected(sessions, day)
    status = StatusService(sessions, ZONE)
    for region in (None, *regions):
        got = await status.status(day, region)
        assert got.overdue_by_clause == want.by_clause(region), (day, region)
    by_region, by_department = await status.ranking(day)
    assert {s.name: s.overdue for s in by_region if s.overdue} == want.by_region(), day
    assert ({s.name: s.overdue for s in by_department if s.overdue}
            == dict(+want.by_department)), day
    org = await org_service.current()
    figures = await status_figures(sessions, org, today=day)
    assert dict(figures.overdue) == want.by_region(), day
    for region in regions:
        figures = await status_figures(sessions, org, today=day, region=region)
        assert {t.clause: t.overdue for t in figures.by_clause if t.overdue} == \
            want.by_clause(region), (day, region)


@dataclass(frozen=True)
class Day:
    move: Move
    read: bool  # /status is read this day (else the next roll covers more days)
    back: int  # also read this many days back (0: not), a day before the stored one
    due: int | None  # the moved case's due day set this many days back (as the sweep's
    # Core UPDATE writes it; negative: ahead, so it comes due in a later roll)


days = st.builds(Day, moves, st.booleans(), st.sampled_from([0, 0, 1, 3, 20]),
                 st.sampled_from([None, None, -3, 0, 1, 4]))
histories = st.tuples(
    st.lists(st.tuples(st.sampled_from(CASE_CLAUSES), st.sampled_from(REGIONS)),
             min_size=1, max_size=5),
    st.lists(days, min_size=1, max_size=10),
)


async def _history(cases_made: list[tuple[str, str]], history: list[Day], url: str) -> None:
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        clock = ManualClock(at(START))
        org_service = OrgService(sessions)
        await org_service.load(load_demo_org())
        cases = CaseService(sessions, CATALOG, clock, WORKDAYS, org_service.current)
        calendar = CalendarService(sessions, clock, CATALOG, WORKDAYS, cases,
                                   org_service.current)
        refs = [f"L-{i:02d}" for i in range(len(cases_made))]
        await cases.import_cases([
            CaseInput(ref=ref, region=region, enterprise=f"{ref}企业", industry="cement",
                      clauses=(clause,), capacity=Decimal(10), unit="万吨/年", equipment=None,
                      registered_on=START, description="", row=i + 2)
            for i, (ref, (clause, region)) in enumerate(zip(refs, cases_made, strict=True))],
            COORDINATOR)
        day = START
        for step in history:
            # calendar days: some mornings fall on a weekend, some rolls cover several days
            day += timedelta(days=step.move.wait)
            clock.set(at(day))
            await calendar.sweep()
            ref = refs[step.move.case % len(refs)]
            await play_move(cases, ref, step.move, day)
            if step.due is not None:
                async with transaction(sessions) as session:
                    await session.exec(update(Case).where(col(Case.ref) == ref).values(
                        due_on=day - timedelta(days=step.due)))
            if step.read:
                await assert_overdue_read_right(sessions, org_service, day)
                async with sessions() as session:
                    assert await counters.stored_as_of(session) == day  # rolled to today
            async with sessions() as session:
                stored = await counters.stored_as_of(session)
            if step.back and stored > counters.NEVER:
                await assert_overdue_read_right(sessions, org_service,
                                                stored - timedelta(days=step.back))
                async with sessions() as session:  # an earlier day never rolls back
                    assert await counters.stored_as_of(session) == stored
            await assert_kept_counts_are_a_full_count(sessions)
        assert (await StatusService(sessions, ZONE).recount()).changed == 0
    finally:
        await engine.dispose()


EXAMPLES = int(os.environ.get("DUBAN_PROPERTY_EXAMPLES", "6"))


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(histories)
def test_overdue_figures_equal_a_full_count_every_day_sqlite(
        sqlite_template: Path, history: tuple[list[tuple[str, str]], list[Day]]) -> None:
    with template_copies(["late"], sqlite=sqlite_template) as (url,):
        asyncio.run(_history(*history, url))


@settings(max_examples=max(2, EXAMPLES // 2), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(histories)
def test_overdue_figures_equal_a_full_count_every_day_postgres(
        postgres_template: str, history: tuple[list[tuple[str, str]], list[Day]]) -> None:
    with template_copies(["late"], postgres=postgres_template) as (url,):
        asyncio.run(_history(*history, url))


# -- deterministic cases, both back-ends (the ``services`` fixture) ------------------------------


async def _import(services: Services, count: int) -> list[str]:
    refs = [f"D-{i}" for i in range(count)]
    await services.cases.import_cases([
        CaseInput(ref=ref, region=REGIONS[i % len(REGIONS)], enterprise=f"{ref}企业",
                  industry="cement", clauses=("四",), capacity=Decimal(5), unit="万吨/年",
                  equipment=None, registered_on=START, description="", row=i + 2)
        for i, ref in enumerate(refs)], COORDINATOR)
    return refs


async def _due(services: Services, ref: str, due: date) -> None:
    async with transaction(services.cases.sessions) as session:
        await session.exec(update(Case).where(col(Case.ref) == ref).values(due_on=due))


async def test_a_day_before_the_stored_one_reads_the_overdue_cases(services: Services) -> None:
    sessions = services.cases.sessions
    refs = await _import(services, 4)
    for i, ref in enumerate(refs):  # due 1, 11, 21 and 31 March
        await _due(services, ref, date(2026, 3, 1) + timedelta(days=10 * i))
    status = StatusService(sessions, ZONE)
    assert (await status.status(date(2026, 4, 1))).overdue == 4
    async with sessions() as session:
        assert await counters.stored_as_of(session) == date(2026, 4, 1)
        assert sum(r.n for r in await counters.kept_late(session)) == 4
    assert (await status.status(date(2026, 3, 15))).overdue == 2  # 1 and 11 March
    assert (await status.status(date(2026, 3, 1))).overdue == 0
    async with sessions() as session:
        assert await counters.stored_as_of(session) == date(2026, 4, 1)
    await assert_kept_counts_are_a_full_count(sessions)


async def test_recount_repairs_spoilt_late_counts(services: Services) -> None:
    sessions = services.cases.sessions
    refs = await _import(services, 3)
    for ref in refs:
        await _due(services, ref, date(2026, 3, 10))
    status = StatusService(sessions, ZONE)
    assert (await status.status(date(2026, 3, 20))).overdue == 3
    async with transaction(sessions) as session:
        await session.exec(text(  # type: ignore[call-overload]
            "UPDATE late_counts SET n = n + 7"))
        await session.exec(text(  # type: ignore[call-overload]
            "DELETE FROM department_late_counts"))
    assert (await status.status(date(2026, 3, 20))).overdue == 3 + 7 * len(REGIONS)
    report = await status.recount()
    assert report.late_changed >= len(REGIONS) + 1 and report.changed >= report.late_changed
    await assert_kept_counts_are_a_full_count(sessions)
    assert (await status.status(date(2026, 3, 20))).overdue == 3
    assert (await status.recount()).changed == 0


async def test_recount_takes_the_late_counts_to_today(services: Services) -> None:
    """A reader whose clock was set ahead left the stored day in the future (later readers
    then read the overdue cases, right but slow): ``duban db recount`` takes it back to
    today, and reports no wrong row for it."""
    sessions = services.cases.sessions
    refs = await _import(services, 2)
    await _due(services, refs[0], date(2026, 3, 10))
    await _due(services, refs[1], date(2026, 5, 10))
    status = StatusService(sessions, ZONE)
    assert (await status.status(date(2026, 6, 1))).overdue == 2
    assert (await status.status(date(2026, 3, 20))).overdue == 1
    assert (await status.recount(date(2026, 3, 20))).changed == 0
    async with sessions() as session:
        assert await counters.stored_as_of(session) == date(2026, 3, 20)
        assert sum(r.n for r in await counters.kept_late(session)) == 1
    await assert_kept_counts_are_a_full_count(sessions)
    assert (await status.status(date(2026, 3, 20))).overdue == 1


async def test_postgres_a_roll_and_a_writer_serialize(services: Services) -> None:
    """A roll waits for the writers whose triggers read the old day (and gives up after a
    moment); a writer whose trigger comes while a roll is in hand waits for it and reads the
    new day, so the counts stay a full count either way."""
    sessions = services.cases.sessions
    async with sessions() as session:
        if session.bind is None or session.bind.dialect.name != "postgresql":
            pytest.skip("the advisory lock is PostgreSQL's")
    refs = await _import(services, 3)
    await _due(services, refs[0], date(2026, 3, 10))
    assert await counters.roll(sessions, date(2026, 3, 11))

    # A writer holds the shared lock (its trigger moved a late count): the roll gives up.
    async with sessions() as writer, writer.begin():
        await writer.exec(update(Case).where(col(Case.ref) == refs[1])
                          .values(due_on=date(2026, 3, 12)))
        assert not await counters.roll(sessions, date(2026, 3, 20))
        want = await expected(sessions, date(2026, 3, 20))  # (the committed cases)
        async with sessions() as session:  # readers are right meanwhile
            got = await counters.late_rows(session, date(2026, 3, 20))
        assert {(r.region_name, r.clause): r.n for r in got} == dict(want.by_region_clause)
    assert await counters.roll(sessions, date(2026, 3, 20))
    await assert_kept_counts_are_a_full_count(sessions)

    # A roll in hand (lock taken, cases due read, not committed): a writer making a case due
    # in the rolled range waits for it, then counts it late at the new day.
    async with sessions() as roll, roll.begin():  # (a connection of its own)
        await roll.exec(text(  # type: ignore[call-overload]
            f"SELECT pg_advisory_xact_lock({counters.LATE_LOCK})"))
        for statement in counters._roll_statements("postgresql"):
            await roll.exec(text(statement), params={  # type: ignore[call-overload]
                "today": date(2026, 3, 31), "value": '"2026-03-31"'})

        async def write() -> None:
            await _due(services, refs[2], date(2026, 3, 25))

        writing = asyncio.create_task(write())
        async with sessions() as session:  # until the writer waits on the lock
            for _ in range(10_000):
                waiting = (await session.exec(text(  # type: ignore[call-overload]
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND NOT granted"))).one()[0]
                await session.rollback()
                if waiting:
                    break
            assert waiting, "the writer did not wait for the roll"
        assert not writing.done()
    await writing
    async with sessions() as session:
        assert await counters.stored_as_of(session) == date(2026, 3, 31)
        kept = await counters.kept_late(session)
    assert {(r.region_name, r.clause): r.n for r in kept} == dict(
        (await expected(sessions, date(2026, 3, 31))).by_region_clause)
    await assert_kept_counts_are_a_full_count(sessions)
    await StatusService(sessions, ZONE).status(date(2026, 3, 31))  # folds the shards
    async with sessions() as session:
        for table in ("late_counts", "department_late_counts"):
            assert (await session.exec(text(  # type: ignore[call-overload]
                f"SELECT count(*) FROM {table} WHERE shard <> 0"))).one()[0] == 0
    await assert_kept_counts_are_a_full_count(sessions)
