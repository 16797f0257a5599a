"""The counters behind /status stay equal to a full count, on both back-ends.

Seeded random histories write through every path that changes cases and assignments: the
import (bulk Core inserts), workflow steps (accept, orders, extensions, exits with capacity,
by departments and coordinators), the system's overdue step as the sweep takes it, the sweep's
Core update of due days, hand-backs, re-routing and group resolution, at times of day on both
sides of local midnight. After each stretch the counters must equal a full count of the
tables, and /status, the ranking and the chart's figures read from them must equal what
counting the cases themselves (in Python's time zone arithmetic) gives. ``duban db recount``
then changes nothing, and repairs counters spoilt on purpose.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import text, update
from sqlmodel import col

from bot.core.casefile import CaseInput
from bot.core.clock import ManualClock
from bot.core.i18n import DubanError
from bot.core.workflow import Actor, Need, State, StepInput, workflow_for
from bot.services.access import SYSTEM
from bot.services.cases import Who
from bot.services.reports import (
    clause_tallies,
    counted_summary,
    exited_cases,
    status_figures,
    summarize,
)
from bot.services.status import StatusService
from models import counters
from models.db import transaction
from models.tables import Case
from tests.conftest import COORDINATOR, Services
from tests.test_status_late import assert_kept_counts_are_a_full_count, assert_overdue_read_right

TZ = ZoneInfo("Asia/Shanghai")
REGIONS = ("玛纳斯县", "呼图壁县", "昌吉市", "奇台县")
CLAUSES = ("四", "五", "六", "七", "八", "九")
INDUSTRIES = ("cement", "steel", "coal", "chemical")
UNITS = ("万吨/年", "万千瓦", None)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 2, 2, tzinfo=UTC))


def _case(rng: random.Random, ref: str, registered: date) -> CaseInput:
    capacity = rng.choice([None, Decimal(rng.randint(1, 90)), Decimal("12.5")])
    return CaseInput(ref=ref, region=rng.choice(REGIONS), enterprise=f"{ref}企业",
                     industry=rng.choice(INDUSTRIES), clauses=(rng.choice(CLAUSES),),
                     capacity=capacity, unit=rng.choice(UNITS), equipment=None,
                     registered_on=registered, description="", row=2)


def _input(step_name: str, clause: str, department: str | None, today: date,
           rng: random.Random) -> StepInput:
    step = workflow_for(clause).step(step_name)
    needs = set(step.needs)
    return StepInput(
        step=step_name, actor=step.actor,
        department=department if step.actor is Actor.DEPARTMENT else None,
        evidence=("photo:u1:f1:",) if Need.EVIDENCE in needs else (),
        on=(today + timedelta(days=rng.randint(3, 60)) if Need.FUTURE_DATE in needs
            else today if Need.DATE in needs else None),
        capacity=rng.choice([1.0, 7.25, 30.0]) if Need.CAPACITY in needs else None,
        note="记录" if Need.NOTE in needs else None,
        reason="理由" if Need.REASON in needs else None,
        months=1 if Need.MONTHS in needs else None,
    )


async def _assert_counted(services: Services, today: date) -> None:
    """Counters == a full count; what /status reads from them == counting the cases."""
    sessions = services.cases.sessions
    status = StatusService(sessions, TZ)
    async with sessions() as session:
        assert await counters.usable(session, TZ)
        kept = await counters.status_rows(session)
        assert kept == [r for r in await counters.full_status(session) if r.n or r.capacity]
        parts = await counters.department_rows(session)
        assert parts == [r for r in await counters.full_departments(session) if r.n]
        for region in (None, *REGIONS):
            where = [col(Case.region_name) == region] if region else []
            fast = await status._counted_status(session, today, region)
            slow = await status._status_from_cases(session, today, region, where)
            assert fast == slow, region
        for kind in ("region", "department"):
            assert (await status._standings(session, kind, today, counted=True)
                    == await status._standings(session, kind, today, counted=False))
        for region in (None, *REGIONS):
            exits = await exited_cases(session, year=today.year, tz=TZ, region=region)
            rows = await counters.status_rows(session, region)
            assert _summary(counted_summary(rows, today.year)) == _summary(summarize(exits))
    org = await services.org.current()
    for region in REGIONS:
        figures = await status_figures(sessions, org, today=today, region=region)
        async with sessions() as session:
            assert figures.by_clause == await clause_tallies(session, today=today,
                                                             region=region)
    # Overdue: the late counts (rolled to today by the readers above) == a full count, and
    # what /status, the ranking and the chart read from them == counting the cases.
    await assert_kept_counts_are_a_full_count(sessions)
    await assert_overdue_read_right(sessions, services.org, today, REGIONS)


def _summary(summary: object) -> tuple[object, ...]:
    """A summary with its units as sets (their order follows reading order, see
    :func:`counted_summary`)."""
    lines = tuple((line.industry, line.enterprises, frozenset(line.capacity))
                  for line in summary.lines)  # type: ignore[attr-defined]
    return (lines, summary.enterprises,  # type: ignore[attr-defined]
            frozenset(summary.capacity))  # type: ignore[attr-defined]


async def _random_history(services: Services, seed: int) -> date:
    rng = random.Random(seed)
    cases, clock = services.cases, services.clock
    day = date(2026, 3, 2)
    refs = [f"R{seed}-{i:02d}" for i in range(10)]
    await cases.import_cases([_case(rng, ref, day) for ref in refs[:7]], COORDINATOR)
    for move in range(90):
        day += timedelta(days=rng.randint(0, 9))
        # 10:00, 23:30 or 00:30 local: closings on both sides of local (and UTC) midnight
        hour, minute = rng.choice([(2, 0), (15, 30), (16, 30)])
        instant = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
        if instant < clock.now():  # the clock does not go back
            day += timedelta(days=1)
            instant += timedelta(days=1)
        clock.set(instant)
        today = clock.now().astimezone(TZ).date()
        if move == 30:  # a second import in the middle of the history
            await cases.import_cases([_case(rng, ref, today) for ref in refs[7:]],
                                     COORDINATOR)
        view = await cases.get(rng.choice(refs[:7] if move < 30 else refs))
        ref, state = view.case.ref, State(view.case.state)
        departments = sorted(view.required_departments) or ["industry"]
        department = rng.choice(departments)
        liaison = Who(role="liaison", name="联络员", telegram_id=29999, department=department)
        kind = rng.random()
        try:
            if kind < 0.06:
                await cases.hand_back(ref, department, "不属于本部门职责", liaison)
            elif kind < 0.12:
                await cases.reroute(ref, [rng.choice(["industry", "development_reform",
                                                      "environment", "energy"])],
                                    COORDINATOR, reason="改派")
            elif kind < 0.16 and view.unresolved_groups:
                await cases.reroute_to(view.case.id or 0, "industry", COORDINATOR)
            elif kind < 0.24:  # the sweep: due days by a Core UPDATE, then the overdue step
                async with transaction(cases.sessions) as session:
                    await session.exec(update(Case).where(col(Case.ref) == ref).values(
                        due_on=today - timedelta(days=rng.randint(1, 5))))
                await cases.take_step(ref, StepInput("mark_overdue", Actor.SYSTEM), SYSTEM)
            else:
                allowed = [s for s in workflow_for(view.case.clause).steps
                           if state in s.sources and s.actor is not Actor.SYSTEM]
                if allowed:  # joint steps: every department takes it, one by one
                    step = rng.choice(allowed)
                    for part in (departments if step.actor is Actor.DEPARTMENT
                                 else [department]):
                        who = COORDINATOR if step.actor is Actor.COORDINATOR else Who(
                            role="liaison", name="联络员", telegram_id=29999, department=part)
                        await cases.take_step(ref, _input(step.name, view.case.clause,
                                                          part, today, rng), who)
        except DubanError:
            pass  # a step the facts do not allow (yet): nothing changes
        if move % 10 == 9:
            await _assert_counted(services, today)
    return clock.now().astimezone(TZ).date()


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_histories_keep_the_counters_equal_to_a_full_count(
        services: Services, seed: int) -> None:
    today = await _random_history(services, seed)
    await _assert_counted(services, today)
    async with services.cases.sessions() as session:
        closed = sum(r.n for r in await counters.status_rows(session)
                     if r.state in (State.RECTIFIED, State.EXITED))
    assert closed > 0  # the histories do close cases (the on-time flag is exercised)
    status = StatusService(services.cases.sessions, TZ)
    assert (await status.recount()).changed == 0


async def test_recount_repairs_spoilt_counters(services: Services) -> None:
    await _random_history(services, 4)
    sessions = services.cases.sessions
    await StatusService(sessions, TZ).status(services.clock.now().astimezone(TZ).date())
    async with transaction(sessions) as session:  # spoil one row of each, drop another
        await session.exec(text(  # type: ignore[call-overload]
            "UPDATE status_counts SET n = n + 5 WHERE region_name = "
            "(SELECT min(region_name) FROM status_counts)"))
        await session.exec(text(  # type: ignore[call-overload]
            "DELETE FROM department_counts WHERE department_key = 'industry'"))
        await session.exec(text(  # type: ignore[call-overload]
            "INSERT INTO late_counts (shard, region_name, clause, n) "
            "VALUES (0, '玛纳斯县', '四', 3) "
            "ON CONFLICT (shard, region_name, clause) DO UPDATE SET n = late_counts.n + 3"))
    async with sessions() as session:
        assert await counters.status_rows(session) != await counters.full_status(session)
    report = await StatusService(sessions, TZ).recount()
    assert report.status_changed >= 1 and report.department_changed >= 1
    assert report.late_changed == 1
    await assert_kept_counts_are_a_full_count(sessions)
    async with sessions() as session:
        assert await counters.status_rows(session) == [
            r for r in await counters.full_status(session) if r.n or r.capacity]
        assert await counters.department_rows(session) == await counters.full_departments(
            session)
    assert (await StatusService(sessions, TZ).recount()).changed == 0


async def test_postgres_writers_add_their_own_shards_and_readers_fold_them(
        services: Services) -> None:
    sessions = services.cases.sessions
    async with sessions() as session:
        if session.bind is None or session.bind.dialect.name != "postgresql":
            pytest.skip("shards are PostgreSQL's")
    rng = random.Random(5)
    await services.cases.import_cases([_case(rng, f"F-{i}", date(2026, 3, 2))
                                       for i in range(6)], COORDINATOR)
    shards = "SELECT count(DISTINCT shard) FROM status_counts WHERE shard <> 0"
    async with sessions() as session:
        assert (await session.exec(text(shards))).one()[0] >= 1  # type: ignore[call-overload]
    before = await StatusService(sessions, TZ).status(date(2026, 3, 2))
    async with sessions() as session:
        assert (await session.exec(text(shards))).one()[0] == 0  # type: ignore[call-overload]
    assert before.open == 6
    await _assert_counted(services, date(2026, 3, 2))


async def test_a_zone_without_one_offset_counts_from_the_cases(services: Services) -> None:
    """Counters take local dates at a fixed offset; New York's changes, so /status counts
    the cases (the same figures, slower)."""
    rng = random.Random(6)
    await services.cases.import_cases([_case(rng, f"Z-{i}", date(2026, 3, 2))
                                       for i in range(4)], COORDINATOR)
    new_york = ZoneInfo("America/New_York")
    assert counters.fixed_offset(new_york) is None and counters.fixed_offset(TZ) == 480
    async with services.cases.sessions() as session:
        assert not await counters.usable(session, new_york)
    status = await StatusService(services.cases.sessions, new_york).status(date(2026, 3, 2))
    assert status.open == 4


def test_recount_command_says_what_changed(tmp_path: object) -> None:
    from pathlib import Path

    from bot.cli.main import main

    database = f"sqlite+aiosqlite:///{Path(str(tmp_path)) / 'duban.db'}"
    runner = CliRunner()
    result = runner.invoke(main, ["--database", database, "db", "recount"])
    assert result.exit_code == 0, result.output
    assert "没有计数行发生变化" in result.output  # in the default language: no counter row changed
