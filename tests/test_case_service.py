"""Case services on a real database (SQLite and PostgreSQL): routing, workflow, events."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.casefile import CaseInput
from bot.core.i18n import DubanError
from bot.core.workflow import Actor, State, StepInput
from bot.services.cases import Who
from models.db import transaction
from tests.conftest import COORDINATOR, Services

INDUSTRY = Who(role="liaison", name="工信联络员", telegram_id=20001, department="industry")
REFORM = Who(role="liaison", name="发改联络员", telegram_id=20003,
             department="development_reform")
ENVIRONMENT = Who(role="liaison", name="环保联络员", telegram_id=20002, department="environment")


def case_input(ref: str = "MNS-001", clause: str = "四", region: str = "玛纳斯县",
               registered: date = date(2026, 3, 10)) -> CaseInput:
    return CaseInput(
        ref=ref, region=region, enterprise="玛纳斯县宏达水泥有限公司", industry="cement",
        clauses=(clause,), capacity=Decimal("60"), unit="万吨/年", equipment="Φ3.2×13m 回转窑",
        registered_on=registered, description="熟料综合能耗超过限额标准", row=2,
    )


def step(name: str, department: str | None = None, **kw) -> StepInput:
    actor = Actor.DEPARTMENT if department else Actor.COORDINATOR
    return StepInput(step=name, actor=actor, department=department, **kw)


async def test_import_routes_energy_case_to_both_departments(services: Services) -> None:
    report = await services.cases.import_cases([case_input()], COORDINATOR)
    assert report.created == ("MNS-001",)
    view = await services.cases.get("MNS-001")
    assert view.case.state == State.ROUTED
    assert view.case.deadline == date(2026, 9, 10)
    assert view.required_departments == {"industry", "development_reform"}
    assert {a.tag_raw for a in view.assignments} == {"工业和信息化、发展改革主管部门负责"}
    assert [e.kind for e in view.events] == ["created"]
    assert view.events[0].actor_name == "王玮中"


async def test_import_again_changes_nothing(services: Services) -> None:
    await services.cases.import_cases([case_input()], COORDINATOR)
    services.clock.advance(timedelta(days=1))
    again = await services.cases.import_cases([case_input(), case_input("MNS-002")],
                                              COORDINATOR)
    assert again.created == ("MNS-002",)
    assert again.unchanged == ("MNS-001",)
    cases = await services.cases.find()
    assert [c.ref for c in cases] == ["MNS-001", "MNS-002"]
    assert len((await services.cases.get("MNS-001")).events) == 1


async def test_a_step_takes_the_view_its_caller_read_in_the_same_unit_of_work(
        services: Services, engine: AsyncEngine) -> None:
    """A button's press reads the case, then steps: inside one unit of work the step uses
    that view instead of reading the case's events again; outside one it reads its own."""
    cases = services.cases
    await cases.import_cases([case_input(), case_input("MNS-002")], COORDINATOR)
    reads: list[str] = []

    def on_execute(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().startswith("SELECT events.id"):
            reads.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    try:
        async with transaction(cases.sessions):
            view = await cases.get("MNS-001")
            first = await cases.take_step("MNS-001", step("accept", "industry"), INDUSTRY,
                                          read=view)
        assert len(reads) == 1
        other = await cases.get("MNS-002")
        reads.clear()
        second = await cases.take_step("MNS-001", step("accept", "development_reform"),
                                       REFORM, read=other)  # not in a unit of work: ignored
        assert len(reads) == 1
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", on_execute)
    assert [e.kind for e in first.view.events] == ["created", "accept"]
    assert second.view.case.ref == "MNS-001" and second.view.case.state == State.ACCEPTED
    assert [e.seq for e in (await cases.get("MNS-001")).events] == [1, 2, 3]
    assert len((await cases.get("MNS-002")).events) == 1


async def test_only_coordinators_import(services: Services) -> None:
    with pytest.raises(DubanError, match="Only coordinators"):
        await services.cases.import_cases([case_input()], INDUSTRY)
    assert await services.cases.find() == []


async def test_energy_case_full_rectification_with_extension(services: Services) -> None:
    cases = services.cases
    await cases.import_cases([case_input()], COORDINATOR)
    first = await cases.take_step("MNS-001", step("accept", "industry"), INDUSTRY)
    assert not first.outcome.completes and first.view.case.state == State.ROUTED
    second = await cases.take_step("MNS-001", step("accept", "development_reform"), REFORM)
    assert second.view.case.state == State.ACCEPTED
    await cases.take_step("MNS-001", step("order_rectification", "industry",
                                          evidence=("doc:order-1",)), INDUSTRY)
    await cases.take_step("MNS-001", step("request_extension", "industry", reason="改造设备",
                                          months=3), INDUSTRY)
    with pytest.raises(DubanError, match="Only coordinators"):
        await cases.take_step("MNS-001", step("approve_extension"), INDUSTRY)
    approved = await cases.take_step("MNS-001", step("approve_extension"), COORDINATOR)
    assert approved.view.case.deadline == date(2026, 12, 10)
    assert approved.view.case.state == State.RECTIFYING
    with pytest.raises(DubanError, match="only 1 time"):
        await cases.take_step("MNS-001", step("request_extension", "industry", reason="再延",
                                              months=1), INDUSTRY)
    services.clock.advance(timedelta(days=60))
    done = dict(evidence=("photo:verify",), on=date(2026, 7, 30))
    await cases.take_step("MNS-001", step("confirm_rectified", "industry", **done), INDUSTRY)
    closed = await cases.take_step("MNS-001", step("confirm_rectified", "development_reform",
                                                   **done), REFORM)
    case = closed.view.case
    assert case.state == State.RECTIFIED and case.deadline is None
    assert case.closed_at == services.clock.now()
    kinds = [e.kind for e in closed.view.events]
    assert kinds == ["created", "accept", "accept", "order_rectification", "request_extension",
                     "approve_extension", "confirm_rectified", "confirm_rectified"]
    assert [e.seq for e in closed.view.events] == list(range(1, 9))
    assert closed.view.events[3].payload["evidence"] == ["doc:order-1"]


async def test_overdue_shutdown_and_exit(services: Services) -> None:
    cases = services.cases
    await cases.import_cases([case_input()], COORDINATOR)
    for who in (INDUSTRY, REFORM):
        await cases.take_step("MNS-001", step("accept", who.department), who)
    await cases.take_step("MNS-001", step("order_rectification", "industry",
                                          evidence=("doc:1",)), INDUSTRY)
    with pytest.raises(DubanError, match="has not passed"):
        await cases.take_step("MNS-001", StepInput("mark_overdue", Actor.SYSTEM),
                              Who(role="system"))
    services.clock.advance(timedelta(days=120))  # past 2026-09-10
    overdue = await cases.take_step("MNS-001", StepInput("mark_overdue", Actor.SYSTEM),
                                    Who(role="system"))
    assert overdue.view.case.state == State.OVERDUE
    await cases.take_step("MNS-001", step("order_shutdown", "industry", evidence=("doc:2",)),
                          INDUSTRY)
    today = date(2026, 9, 29)
    # 依法关停退出 is （九）'s shutdown: here its second way, the equipment measures.
    for measure in ("power_water_cut", "power_units_removed", "line_sealed"):
        await cases.take_step("MNS-001", step(f"measure:{measure}", "industry",
                                              evidence=(f"photo:{measure}",), on=today),
                              INDUSTRY)
    for who in (INDUSTRY, REFORM):
        result = await cases.take_step("MNS-001", step("confirm_exit", who.department,
                                                       capacity=60.0, note="已封存"), who)
    assert result.view.case.state == State.EXITED
    assert result.view.case.exited_capacity == Decimal("60")


async def test_refused_step_writes_nothing(services: Services) -> None:
    await services.cases.import_cases([case_input()], COORDINATOR)
    before = await services.cases.get("MNS-001")
    for who, action in [
        (ENVIRONMENT, step("accept", "environment")),  # not this department's case
        (ENVIRONMENT, step("accept", "industry")),  # acting for another department
        (INDUSTRY, step("confirm_rectified", "industry", evidence=("p",), on=date(2026, 5, 1))),
    ]:
        with pytest.raises(DubanError):
            await services.cases.take_step("MNS-001", action, who)
    after = await services.cases.get("MNS-001")
    assert len(after.events) == len(before.events)
    assert after.case.version == before.case.version


async def test_unknown_case_is_a_clear_error(services: Services) -> None:
    with pytest.raises(DubanError, match="No case with reference NOPE"):
        await services.cases.get("NOPE")


async def test_hand_back_then_reroute(services: Services) -> None:
    cases = services.cases
    await cases.import_cases([case_input()], COORDINATOR)
    await cases.take_step("MNS-001", step("accept", "industry"), INDUSTRY)
    with pytest.raises(DubanError, match="Say why"):
        await cases.hand_back("MNS-001", "development_reform", " ", REFORM)
    view = await cases.hand_back("MNS-001", "development_reform", "不属于发改职责", REFORM)
    # Only industry is left and it has accepted: the case moves on.
    assert view.case.state == State.ACCEPTED
    assert view.needs_coordinator
    assert [a.reason for a in view.returned] == ["不属于发改职责"]
    with pytest.raises(DubanError, match="Only coordinators"):
        await cases.reroute("MNS-001", ["quality"], INDUSTRY)
    view = await cases.reroute("MNS-001", ["quality"], COORDINATOR, reason="质量问题")
    assert view.required_departments == {"industry", "quality"}
    assert [e.kind for e in view.events][-3:] == ["handed_back", "accept", "rerouted"]


async def test_exit_case_waits_for_group_resolution(services: Services) -> None:
    cases = services.cases
    await cases.import_cases([case_input("ZD-009", clause="九", region="准东经济技术开发区")],
                             COORDINATOR)
    view = await cases.get("ZD-009")
    assert view.required_departments == set()
    assert [a.as_written for a in view.unresolved_groups] == ["相关部门"]
    assert view.needs_coordinator
    assert [v.case.ref for v in await cases.coordinator_queue()] == ["ZD-009"]
    with pytest.raises(DubanError, match="no unresolved group"):
        await cases.reroute("ZD-009", ["industry"], COORDINATOR, group="各参与部门")
    view = await cases.reroute("ZD-009", ["industry", "environment"], COORDINATOR,
                               group="相关部门")
    assert view.required_departments == {"industry", "environment"}
    assert not view.needs_coordinator
    assert await cases.coordinator_queue() == []


async def test_technology_case_leads_and_group(services: Services) -> None:
    """A cement line under （八）: the five leads are routed, 工信 and 发改 must confirm."""
    await services.cases.import_cases([case_input("CJ-008", clause="八", region="昌吉市")],
                                      COORDINATOR)
    view = await services.cases.get("CJ-008")
    assert view.required_departments == {"industry", "development_reform"}
    assert {a.role for a in view.assignments if a.department_key} == {"lead"}
    informed = {a.department_key for a in view.assignments if a.department_key
                and not a.required}
    assert informed == {"energy", "coal", "quality"}
    assert [a.as_written for a in view.unresolved_groups] == ["相关部门"]


async def test_events_are_immutable_in_the_database(services: Services, engine) -> None:
    await services.cases.import_cases([case_input()], COORDINATOR)
    for statement in ("UPDATE events SET kind = 'forged'", "DELETE FROM events"):
        with pytest.raises((DBAPIError, IntegrityError)):
            async with engine.begin() as connection:
                await connection.execute(text(statement))
    assert [e.kind for e in (await services.cases.get("MNS-001")).events] == ["created"]


async def test_concurrent_confirmations_lose_nothing(services: Services) -> None:
    cases = services.cases
    await cases.import_cases([case_input()], COORDINATOR)
    results = await asyncio.gather(
        cases.take_step("MNS-001", step("accept", "industry"), INDUSTRY),
        cases.take_step("MNS-001", step("accept", "development_reform"), REFORM),
        return_exceptions=True,
    )
    view = await cases.get("MNS-001")
    accepted = [e for e in view.events if e.kind == "accept"]
    succeeded = [r for r in results if not isinstance(r, BaseException)]
    assert len(accepted) == len(succeeded)
    for failure in results:
        if isinstance(failure, BaseException):
            assert isinstance(failure, DubanError)
    if len(succeeded) == 2:
        assert view.case.state == State.ACCEPTED
    assert sorted(e.seq for e in view.events) == list(range(1, len(view.events) + 1))


# -- property: random actions through the service never lose an event ----------------------------


@pytest.mark.parametrize("seed", range(6))
async def test_random_actions_record_exactly_the_successful_ones(services: Services,
                                                                 seed: int) -> None:
    """Mostly plausible steps (taken from the workflow for the current state), some noise;
    every success writes one event, every refusal writes nothing."""
    import random

    from bot.core.workflow import workflow_for

    rng = random.Random(seed)
    clause = ["四", "五", "六", "七", "八", "九"][seed % 6]
    workflow = workflow_for(clause)
    await services.cases.import_cases([case_input("R-1", clause=clause)], COORDINATOR)
    view = await services.cases.get("R-1")
    if view.unresolved_groups:
        await services.cases.reroute("R-1", ["environment"], COORDINATOR,
                                     group=view.unresolved_groups[0].as_written)
    succeeded = 0
    for _ in range(60):
        services.clock.advance(timedelta(days=rng.randint(0, 25)))
        before = await services.cases.get("R-1")
        plausible = [s for s in workflow.steps if State(before.case.state) in s.sources]
        chosen = rng.choice(plausible) if plausible and rng.random() < 0.85 else None
        name = chosen.name if chosen else rng.choice(["teleport", "accept", "confirm_exit"])
        coordinator_step = chosen is not None and chosen.actor.value != "department"
        department = None if coordinator_step else rng.choice(
            sorted(before.required_departments) or ["environment"])
        who = COORDINATOR if department is None else Who(role="liaison", name="联络员",
                                                         department=department)
        today = services.clock.now().date()
        action = step(name, department, evidence=rng.choice([(), ("photo:1",), ("doc:2",)]),
                      on=rng.choice([None, today, today + timedelta(days=30)]),
                      capacity=rng.choice([None, 12.5]), note=rng.choice([None, "说明"]),
                      reason=rng.choice([None, "原因"]), months=rng.choice([None, 2, 5]))
        try:
            await services.cases.take_step("R-1", action, who)
        except DubanError:
            after = await services.cases.get("R-1")
            assert len(after.events) == len(before.events), "a refused step wrote an event"
            assert after.case.state == before.case.state
            assert after.case.version == before.case.version
            continue
        succeeded += 1
    view = await services.cases.get("R-1")
    base = 2 if any(e.kind == "group_resolved" for e in view.events) else 1
    assert succeeded >= 3, "the walk should get somewhere"
    assert len(view.events) == succeeded + base
    assert [e.seq for e in view.events] == list(range(1, succeeded + base + 1))
    states = [e.to_state for e in view.events if e.to_state]
    assert view.case.state == states[-1]
