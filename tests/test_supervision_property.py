"""No open case goes silent: random workflow histories, then thirty working days of sweeps.

Hypothesis draws cases under every clause and a history of steps (any step the workflow
allows, taken by one of the case's departments or a coordinator, with what it needs), the
clock moving one to fifteen working days between them and the calendar sweeping as it goes.
Then the calendar sweeps every working morning for thirty working days; every case that is
neither closed nor paused must be named by some item (a nudge, a reminder, a follow-up, a
notice, a summons, an acceptance reminder). A case whose due day is further away than that
must have its first nudge in the thirty working days before its due day instead.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.casefile import CaseInput
from bot.core.clock import ManualClock
from bot.core.i18n import DubanError
from bot.core.org import load_demo_org
from bot.core.policy.catalog import load_default_catalog
from bot.core.workflow import (
    CASE_CLAUSES,
    CLOSED_STATES,
    Actor,
    Need,
    State,
    StepInput,
    workflow_for,
)
from bot.services.calendar import CalendarService
from bot.services.cases import CaseService, Who
from bot.services.org import OrgService
from models.db import create_engine, session_factory
from scheduler.workdays import WorkCalendar
from tests.conftest import COORDINATOR, template_copies

CATALOG = load_default_catalog()
WORKDAYS = WorkCalendar()
HORIZON = 30  # working days


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 2, tzinfo=UTC)  # 10:00 in Shanghai


@dataclass(frozen=True)
class Move:
    wait: int  # working days before the move
    case: int  # which case (modulo)
    choice: int  # which allowed step (modulo; beyond the list: do nothing)
    who: int  # which department takes it (modulo)
    future: int  # days ahead for a date in the future


moves = st.builds(Move, st.integers(1, 15), st.integers(0, 5), st.integers(0, 12),
                  st.integers(0, 5), st.integers(3, 90))
histories = st.tuples(
    st.lists(st.sampled_from(CASE_CLAUSES), min_size=1, max_size=4),
    st.lists(moves, min_size=0, max_size=10),
    st.sets(st.integers(0, 3), max_size=1),  # which cases a coordinator pauses
)


def _input(step_name: str, clause: str, department: str | None, today: date,
           move: Move) -> StepInput:
    step = workflow_for(clause).step(step_name)
    needs = set(step.needs)
    return StepInput(
        step=step_name,
        actor=step.actor,
        department=department if step.actor is Actor.DEPARTMENT else None,
        evidence=("photo:u1:f1:",) if Need.EVIDENCE in needs else (),
        on=(today + timedelta(days=move.future) if Need.FUTURE_DATE in needs
            else today if Need.DATE in needs else None),
        capacity=1.0 if Need.CAPACITY in needs else None,
        note="记录" if Need.NOTE in needs else None,
        reason="理由" if Need.REASON in needs else None,
        months=1 if Need.MONTHS in needs else None,
    )


async def play_move(cases: CaseService, ref: str, move: Move, day: date) -> None:
    """Take the step ``move`` picks among those the case's state allows (by one of its
    departments or a coordinator); a step the facts do not allow yet changes nothing."""
    view = await cases.get(ref)
    state = State(view.case.state)
    allowed = [s for s in workflow_for(view.case.clause).steps
               if state in s.sources and s.actor is not Actor.SYSTEM]
    if move.choice >= len(allowed):
        return
    step = allowed[move.choice]
    departments = sorted(view.required_departments) or ["industry"]
    department = departments[move.who % len(departments)]
    who = (COORDINATOR if step.actor is Actor.COORDINATOR else
           Who(role="liaison", name="联络员", telegram_id=29999, department=department))
    try:
        await cases.take_step(ref, _input(step.name, view.case.clause, department, day, move),
                              who)
    except DubanError:
        pass  # a step the facts do not allow yet (all measures first, …): no change


async def _history(clauses: list[str], history: list[Move], paused: set[int],
                   url: str) -> None:
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        clock = ManualClock(at(date(2026, 3, 2)))
        org_service = OrgService(sessions)
        await org_service.load(load_demo_org())
        cases = CaseService(sessions, CATALOG, clock, WORKDAYS, org_service.current)
        calendar = CalendarService(sessions, clock, CATALOG, WORKDAYS, cases,
                                   org_service.current)
        refs = [f"P-{i:02d}" for i in range(len(clauses))]
        await cases.import_cases([
            CaseInput(ref=ref, region="玛纳斯县", enterprise=f"{ref}企业", industry="cement",
                      clauses=(clause,), capacity=Decimal(10), unit="万吨/年", equipment=None,
                      registered_on=date(2026, 3, 2), description="", row=i + 2)
            for i, (ref, clause) in enumerate(zip(refs, clauses, strict=True))], COORDINATOR)
        day = date(2026, 3, 2)
        for move in history:
            day = WORKDAYS.add_working_days(day, move.wait)
            clock.set(at(day))
            await calendar.sweep()
            await play_move(cases, refs[move.case % len(refs)], move, day)
        for index in paused:
            if index < len(refs):
                await calendar.set_paused(refs[index], True, "协调", COORDINATOR)

        named: set[str] = set()
        start = day
        for _ in range(HORIZON):
            day = WORKDAYS.add_working_days(day, 1)
            clock.set(at(day))
            report = await calendar.sweep()
            # held: due to a party without a bound chat, waiting for it (no chat is bound here)
            named |= {ref for item in report.items + report.held for ref in item.case_refs}
        end = day

        for ref in refs:
            case = (await cases.get(ref)).case
            if State(case.state) in CLOSED_STATES or case.paused or ref in named:
                continue
            assert case.due_on is not None, f"{ref} in {case.state} has no due day"
            first_nudge = case.due_on - timedelta(days=max(
                (await org_service.current()).escalation.nudge_days_before))
            assert first_nudge > end, (
                f"{ref} ({case.clause}, {case.state}, due {case.due_on}) was not chased "
                f"between {start} and {end}")
            # Further away: its first nudge comes within the horizon before its due day.
            preview = await calendar.preview(at(WORKDAYS.next_working_day(first_nudge)))
            assert ref in {r for item in preview for r in item.case_refs}, (
                f"{ref} due {case.due_on} gets no first nudge")
    finally:
        await engine.dispose()


#: Small in CI; ``DUBAN_PROPERTY_EXAMPLES=300`` for a full run on demand.
EXAMPLES = int(os.environ.get("DUBAN_PROPERTY_EXAMPLES", "15"))


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(histories)
def test_no_open_case_goes_silent(sqlite_template: Path,
                                  history: tuple[list[str], list[Move], set[int]]) -> None:
    clauses, moves_made, paused = history
    with template_copies(["silent"], sqlite=sqlite_template) as (url,):
        asyncio.run(_history(clauses, moves_made, paused, url))
