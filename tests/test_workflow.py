"""The clause workflows as data: structure checks, step tables and a property test."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.i18n import DubanError
from bot.core.workflow import (
    CLOSED_STATES,
    WORKFLOWS,
    Actor,
    CaseFacts,
    Measure,
    State,
    StepInput,
    decide,
    workflow_for,
)

TODAY = date(2026, 6, 1)
REQ = frozenset({"industry", "development_reform"})


def facts(clause: str = "四", state: State = State.ROUTED, **kw) -> CaseFacts:
    base = dict(clause=clause, state=state, deadline=date(2026, 9, 1), required_departments=REQ)
    base.update(kw)
    return CaseFacts(**base)


def dept_step(step: str, department: str = "industry", **kw) -> StepInput:
    return StepInput(step=step, actor=Actor.DEPARTMENT, department=department, **kw)


# -- structure ---------------------------------------------------------------------------------


@pytest.mark.parametrize("clause", list(WORKFLOWS))
def test_every_state_reachable_and_closed_state_reachable(clause: str) -> None:
    workflow = workflow_for(clause)
    reachable = {State.ROUTED}
    changed = True
    while changed:
        changed = False
        for step in workflow.steps:
            if step.sources & reachable and step.target and step.target not in reachable:
                reachable.add(step.target)
                changed = True
    assert reachable == set(workflow.states())
    assert reachable & CLOSED_STATES, "every workflow must be able to close a case"


@pytest.mark.parametrize("clause", list(WORKFLOWS))
def test_closed_states_are_terminal(clause: str) -> None:
    for step in workflow_for(clause).steps:
        assert not step.sources & CLOSED_STATES, step.name


@pytest.mark.parametrize("clause", list(WORKFLOWS))
def test_step_names_unique_and_measures_have_steps(clause: str) -> None:
    workflow = workflow_for(clause)
    names = [s.name for s in workflow.steps]
    assert len(names) == len(set(names))
    for measure in workflow.measures:
        assert f"measure:{measure.value}" in names


def test_clause_without_workflow_is_refused() -> None:
    with pytest.raises(DubanError):
        workflow_for("十二")


@pytest.mark.parametrize(
    ("registered", "deadline"),
    [
        (date(2026, 1, 15), date(2026, 7, 15)),
        (date(2026, 8, 31), date(2027, 2, 28)),
        (date(2027, 8, 31), date(2028, 2, 29)),
        (date(2026, 3, 31), date(2026, 9, 30)),
    ],
)
def test_energy_deadline_is_six_months_month_end_aware(registered: date, deadline: date) -> None:
    assert workflow_for("四").initial_deadline(registered) == deadline


def test_environment_and_safety_have_no_initial_deadline() -> None:
    assert workflow_for("五").initial_deadline(TODAY) is None
    assert workflow_for("七").initial_deadline(TODAY) is None


# -- joint acceptance ----------------------------------------------------------------------------


def test_accept_waits_for_every_required_department() -> None:
    first = decide(facts(), dept_step("accept", "industry"), TODAY)
    assert not first.completes
    assert first.to_state is State.ROUTED
    assert first.waiting_for == {"development_reform"}
    second = decide(
        facts(confirmed=frozenset({("accept", "industry")})),
        dept_step("accept", "development_reform"), TODAY,
    )
    assert second.completes and second.to_state is State.ACCEPTED


def test_same_department_cannot_confirm_twice() -> None:
    with pytest.raises(DubanError, match="already confirmed"):
        decide(facts(confirmed=frozenset({("accept", "industry")})),
               dept_step("accept", "industry"), TODAY)


def test_department_not_required_is_refused() -> None:
    with pytest.raises(DubanError, match="not required"):
        decide(facts(), dept_step("accept", "environment"), TODAY)


# -- illegal transitions and needs ---------------------------------------------------------------

REFUSALS = [
    ("step from wrong state", facts(state=State.ROUTED), dept_step("confirm_rectified",
     evidence=("photo:1",), on=TODAY), "not possible"),
    ("unknown step", facts(), dept_step("teleport"), "Unknown step"),
    ("coordinator step by department", facts(state=State.EXTENSION_REQUESTED,
     pending_extension_months=2), dept_step("approve_extension"), "Only a coordinator"),
    ("no evidence", facts(state=State.ACCEPTED), dept_step("order_rectification"),
     "needs evidence"),
    ("future completion date", facts(state=State.RECTIFYING), dept_step(
        "confirm_rectified", evidence=("doc:1",), on=date(2026, 6, 2)), "in the future"),
    ("extension of four months", facts(state=State.RECTIFYING), dept_step(
        "request_extension", reason="设备改造", months=4), "1 to 3 months"),
    ("extension of zero months", facts(state=State.RECTIFYING), dept_step(
        "request_extension", reason="设备改造", months=0), "1 to 3 months"),
    ("second extension", facts(state=State.RECTIFYING, step_counts={"request_extension": 1}),
     dept_step("request_extension", reason="再延", months=1), "only 1 time"),
    ("empty reason", facts(state=State.RECTIFYING), dept_step(
        "request_extension", reason="  ", months=2), "note or a reason"),
    ("over-long note", facts(state=State.RECTIFYING), dept_step(
        "report_failed", evidence=("doc:1",), note="长" * 1001), "too long"),
    ("overdue before deadline", facts(state=State.RECTIFYING),
     StepInput(step="mark_overdue", actor=Actor.SYSTEM), "has not passed"),
    ("exit before measures", facts(state=State.SHUTDOWN_ORDERED), dept_step(
        "confirm_exit", capacity=10.0, note="ok"), "one way of exit"),
    ("exit with half of the equipment way", facts(state=State.SHUTDOWN_ORDERED,
     measures_done=frozenset({Measure.POWER_WATER_CUT, Measure.LINE_SEALED})), dept_step(
        "confirm_exit", capacity=10.0, note="ok"), "power units removed"),
    ("energy has no dismantling list", facts(state=State.SHUTDOWN_ORDERED), dept_step(
        "measure:equipment_dismantled", evidence=("photo:1",), on=TODAY), "Unknown step"),
    ("serious closure only from acceptance", facts(clause="五", state=State.RECTIFYING),
     dept_step("request_closure_serious", evidence=("doc:1",), note="情节严重"),
     "not possible"),
    ("negative capacity", facts(state=State.SHUTDOWN_ORDERED,
     measures_done=frozenset(workflow_for("四").measures)), dept_step(
        "confirm_exit", capacity=-1.0, note="ok"), "not plausible"),
    ("absurd capacity", facts(state=State.SHUTDOWN_ORDERED,
     measures_done=frozenset(workflow_for("四").measures)), dept_step(
        "confirm_exit", capacity=1e9, note="ok"), "not plausible"),
    ("measure twice", facts(state=State.SHUTDOWN_ORDERED,
     measures_done=frozenset({Measure.LINE_SEALED})), dept_step(
        "measure:line_sealed", evidence=("photo:1",), on=TODAY), "already confirmed"),
    ("set date in the past", facts(clause="五", state=State.ACCEPTED), dept_step(
        "order_restriction", evidence=("doc:1",), on=date(2026, 5, 1)), "after today"),
]


@pytest.mark.parametrize(("name", "case", "action", "message"), REFUSALS,
                         ids=[r[0] for r in REFUSALS])
def test_refusals(name: str, case: CaseFacts, action: StepInput, message: str) -> None:
    with pytest.raises(DubanError, match=message):
        decide(case, action, TODAY)


# -- deadlines ---------------------------------------------------------------------------------


def test_approved_extension_moves_deadline_by_requested_months() -> None:
    outcome = decide(
        facts(state=State.EXTENSION_REQUESTED, deadline=date(2026, 8, 31),
              pending_extension_months=3),
        StepInput(step="approve_extension", actor=Actor.COORDINATOR), TODAY,
    )
    assert outcome.to_state is State.RECTIFYING
    assert outcome.deadline == date(2026, 11, 30)


def test_denied_extension_keeps_deadline() -> None:
    outcome = decide(
        facts(state=State.EXTENSION_REQUESTED, pending_extension_months=2),
        StepInput(step="deny_extension", actor=Actor.COORDINATOR, reason="理由不足"), TODAY,
    )
    assert outcome.deadline == date(2026, 9, 1)


def test_overdue_after_deadline_and_shutdown_clears_deadline() -> None:
    late = date(2026, 9, 2)
    overdue = decide(facts(state=State.RECTIFYING),
                     StepInput(step="mark_overdue", actor=Actor.SYSTEM), late)
    assert overdue.to_state is State.OVERDUE
    shutdown = decide(facts(state=State.OVERDUE),
                      dept_step("order_shutdown", evidence=("doc:9",)), late)
    assert shutdown.to_state is State.SHUTDOWN_ORDERED and shutdown.deadline is None


def test_technology_sealing_needs_every_measure_then_sets_dismantling_date() -> None:
    base = facts(clause="八", state=State.ACCEPTED)
    with pytest.raises(DubanError, match="every exit measure"):
        decide(base, dept_step("set_dismantling_date", on=date(2026, 12, 1)), TODAY)
    sealed = decide(
        facts(clause="八", state=State.ACCEPTED,
              measures_done=frozenset(workflow_for("八").measures)),
        dept_step("set_dismantling_date", on=date(2026, 12, 1)), TODAY,
    )
    assert sealed.to_state is State.SEALED and sealed.deadline == date(2026, 12, 1)


def test_measure_step_keeps_state() -> None:
    outcome = decide(facts(state=State.SHUTDOWN_ORDERED),
                     dept_step("measure:power_water_cut", evidence=("p",), on=TODAY), TODAY)
    assert outcome.completes and outcome.to_state is State.SHUTDOWN_ORDERED


# -- property: random action sequences never reach an illegal state ------------------------------

ALL_STEPS = sorted({s.name for w in WORKFLOWS.values() for s in w.steps})


@st.composite
def actions(draw: st.DrawFn) -> StepInput:
    actor = draw(st.sampled_from(list(Actor)))
    return StepInput(
        step=draw(st.sampled_from(ALL_STEPS)),
        actor=actor,
        department=draw(st.sampled_from(["industry", "development_reform", "environment"]))
        if actor is Actor.DEPARTMENT else None,
        evidence=draw(st.sampled_from([(), ("photo:1",)])),
        on=draw(st.sampled_from([None, date(2026, 1, 1), date(2027, 1, 1)])),
        capacity=draw(st.sampled_from([None, 5.0, -3.0])),
        note=draw(st.sampled_from([None, "", "说明"])),
        reason=draw(st.sampled_from([None, "原因"])),
        months=draw(st.sampled_from([None, 1, 3, 5])),
    )


@settings(max_examples=300, deadline=None)
@given(clause=st.sampled_from(list(WORKFLOWS)), steps=st.lists(actions(), max_size=25),
       day_offsets=st.lists(st.integers(0, 400), min_size=25, max_size=25))
def test_no_sequence_reaches_an_illegal_state(clause: str, steps: list[StepInput],
                                              day_offsets: list[int]) -> None:
    workflow = workflow_for(clause)
    allowed = workflow.states()
    state, deadline = State.ROUTED, workflow.initial_deadline(date(2026, 1, 1))
    confirmed: set[tuple[str, str]] = set()
    measures: set[Measure] = set()
    counts: dict[str, int] = {}
    history: list[tuple[State, State]] = []
    day = date(2026, 1, 1)
    for action, offset in zip(steps, day_offsets, strict=False):
        day = date.fromordinal(date(2026, 1, 1).toordinal() + offset)
        current = CaseFacts(clause=clause, state=state, deadline=deadline,
                            required_departments=REQ, confirmed=frozenset(confirmed),
                            measures_done=frozenset(measures), step_counts=dict(counts),
                            pending_extension_months=2)
        try:
            outcome = decide(current, action, day)
        except DubanError:
            continue
        counts[action.step] = counts.get(action.step, 0) + 1
        if outcome.step.measure is not None:
            measures.add(outcome.step.measure)
        if not outcome.completes:
            assert action.department is not None
            confirmed.add((action.step, action.department))
            continue
        if outcome.to_state != state:
            confirmed.clear()
        history.append((state, outcome.to_state))
        assert state not in CLOSED_STATES, "a closed case never moves"
        step = workflow.step(action.step)
        assert state in step.sources
        state, deadline = outcome.to_state, outcome.deadline
        assert state in allowed
        if state in CLOSED_STATES:
            assert deadline is None, "a closed case has no deadline left to nudge about"
    assert counts.get("request_extension", 0) <= 1


# -- the closing steps as the text writes them (issue 12, item 5) --------------------------------

WAY_1 = frozenset({Measure.ENTERPRISE_CLOSED})
WAY_2 = frozenset({Measure.POWER_WATER_CUT, Measure.POWER_UNITS_REMOVED, Measure.LINE_SEALED})


@pytest.mark.parametrize("clause", ["四", "九"])
@pytest.mark.parametrize("done", [WAY_1, WAY_2], ids=["whole enterprise", "equipment"])
def test_either_way_of_exit_completes_it(clause: str, done: frozenset[Measure]) -> None:
    """（九） "关停…整个企业，或采取断电、断水…": one way is enough; （四） exits the same way."""
    outcome = decide(facts(clause=clause, state=State.SHUTDOWN_ORDERED, measures_done=done,
                           confirmed=frozenset({("confirm_exit", "development_reform")})),
                     dept_step("confirm_exit", capacity=10.0, note="已关停"), TODAY)
    assert outcome.completes and outcome.to_state is State.EXITED


def test_energy_exit_is_the_shutdown_of_clause_nine_not_the_dismantling_list() -> None:
    energy, exit_, technology = workflow_for("四"), workflow_for("九"), workflow_for("八")
    assert energy.exit_ways() == exit_.exit_ways()
    assert set(energy.measures) == set(exit_.measures)
    assert not {Measure.EQUIPMENT_DISMANTLED, Measure.PUBLIC_COMMITMENT,
                Measure.WEBSITE_ANNOUNCEMENT} & set(energy.measures)
    assert Measure.PUBLIC_COMMITMENT in technology.measures  # （八） keeps its own list
    assert energy.exit_progress({Measure.POWER_WATER_CUT}) == (1, 3)
    assert energy.exit_progress(WAY_1) == (1, 1)


def test_serious_environment_case_goes_to_closure_from_acceptance() -> None:
    serious = decide(facts(clause="五", state=State.ACCEPTED, deadline=None),
                     dept_step("request_closure_serious", evidence=("doc:1",), note="情节严重"),
                     TODAY)
    assert serious.to_state is State.CLOSURE_REQUESTED and serious.deadline is None
    ordinary = decide(facts(clause="五", state=State.ACCEPTED, deadline=None),
                      dept_step("order_restriction", evidence=("doc:1",),
                                on=date(2026, 8, 1)), TODAY)
    assert ordinary.to_state is State.RECTIFYING  # the ordinary path is kept


def test_extension_cap_comes_from_the_facts() -> None:
    """The catalog's cap (CaseFacts.extension_max_months) replaces the workflow's 3."""
    with pytest.raises(DubanError, match="1 to 2 months"):
        decide(facts(state=State.RECTIFYING, extension_max_months=2),
               dept_step("request_extension", reason="改造", months=3), TODAY)
    outcome = decide(facts(state=State.RECTIFYING, extension_max_months=4),
                     dept_step("request_extension", reason="改造", months=4), TODAY)
    assert outcome.to_state is State.EXTENSION_REQUESTED
