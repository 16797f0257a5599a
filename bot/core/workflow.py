"""Case workflows: one state machine per clause type, written as data.

A workflow is a set of named steps. Each step moves a case from one of its ``sources`` to its
``target`` state, is taken by a given actor (a department liaison, a coordinator or the system),
and says what it needs (evidence, a date, a capacity figure, a note, a reason). Steps marked
``joint`` move the case only when every required department has taken them; until then each
department's confirmation is recorded and the case stays where it is.

The machines follow the clauses of the guiding opinion (工信部联产业〔2017〕30号):

* （四） energy: rectify within 6 months, at most one extension of at most 3 months, else the
  shutdown and exit of （九） (not the dismantling list of （八））.
* （五） environment: restricted production or stop and rectify; serious cases (情节严重) closed
  with the approval of the government that has the power, straight from acceptance too.
* （六） quality: stop and rectify; not rectified within 6 months, closed with approval.
* （七） safety: stopped at once; still unsafe, closed and licences revoked.
* （八） technology: dismantle at once, or cut, seal, announce and dismantle by a set date.
* （九） exit: close the whole enterprise, **or** cut power and water, remove power units and
  seal the main equipment: either way completes the exit (:data:`SHUTDOWN_WAYS`).

The periods the text sets (6 months, at most 3 months) are the workflows' fallbacks: the
loaded catalog's parsed deadlines decide them (:func:`clause_terms`).

Review before closing (办结复核): when the organisation asks for it (``[review]`` in the org
file), the departments' confirmation of a closing step does not close the case: it waits in
``review`` for a coordinator, who closes it (办结) or sends it back (退回重办) with a reason to the
state it was confirmed in, where every department must confirm again.

Everything here is pure: it takes the case's facts and ``today`` and answers; the services
write the results and the events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Protocol

from bot.core.dates import add_months
from bot.core.i18n import N_, DubanError
from bot.core.policy.catalog import Catalog, Deadline, PolicyError


class State(StrEnum):
    ROUTED = "routed"
    ACCEPTED = "accepted"
    RECTIFYING = "rectifying"
    EXTENSION_REQUESTED = "extension_requested"
    RECTIFIED = "rectified"
    OVERDUE = "overdue"
    CLOSURE_REQUESTED = "closure_requested"
    SHUTDOWN_ORDERED = "shutdown_ordered"
    SEALED = "sealed"
    EXITED = "exited"
    REVIEW = "review"  # the closing step is confirmed; a coordinator reviews it (办结复核)


class Actor(StrEnum):
    DEPARTMENT = "department"
    COORDINATOR = "coordinator"
    SYSTEM = "system"


class Review(StrEnum):
    """A coordinator's decision on a case waiting for review."""

    CLOSE = "close"  # 办结: the case closes as the confirmed step would have closed it
    SEND_BACK = "send_back"  # 退回重办: back to the state before, to be confirmed again


class Need(StrEnum):
    """What a step asks for before it is recorded."""

    EVIDENCE = "evidence"  # a photo or a document
    DATE = "date"  # a date (not in the future for completions; in the future for set dates)
    FUTURE_DATE = "future_date"
    CAPACITY = "capacity"
    NOTE = "note"
    REASON = "reason"
    MONTHS = "months"  # 1 to 3, for extension requests


class Measure(StrEnum):
    """Exit measures a department confirms one by one (（八）（九）)."""

    PRODUCTION_STOPPED = "production_stopped"
    POWER_WATER_CUT = "power_water_cut"
    POWER_UNITS_REMOVED = "power_units_removed"
    LINE_SEALED = "line_sealed"
    EQUIPMENT_DISMANTLED = "equipment_dismantled"
    PUBLIC_COMMITMENT = "public_commitment"
    WEBSITE_ANNOUNCEMENT = "website_announcement"
    LICENCES_REVOKED = "licences_revoked"
    ENTERPRISE_CLOSED = "enterprise_closed"


MEASURE_LABELS: Mapping[Measure, str] = {
    Measure.PRODUCTION_STOPPED: N_("production stopped"),
    Measure.POWER_WATER_CUT: N_("power and water cut"),
    Measure.POWER_UNITS_REMOVED: N_("power units removed"),
    Measure.LINE_SEALED: N_("production line sealed"),
    Measure.EQUIPMENT_DISMANTLED: N_("main equipment dismantled"),
    Measure.PUBLIC_COMMITMENT: N_("public commitment not to restart"),
    Measure.WEBSITE_ANNOUNCEMENT: N_("announcement on the government website"),
    Measure.LICENCES_REVOKED: N_("licences revoked"),
    Measure.ENTERPRISE_CLOSED: N_("enterprise closed or banned"),
}

STATE_LABELS: Mapping[State, str] = {
    State.ROUTED: N_("routed, awaiting acceptance"),
    State.ACCEPTED: N_("accepted"),
    State.RECTIFYING: N_("rectifying"),
    State.EXTENSION_REQUESTED: N_("extension requested"),
    State.RECTIFIED: N_("rectified and verified"),
    State.OVERDUE: N_("overdue"),
    State.CLOSURE_REQUESTED: N_("closure submitted for government approval"),
    State.SHUTDOWN_ORDERED: N_("shutdown ordered"),
    State.SEALED: N_("sealed, awaiting dismantling"),
    State.EXITED: N_("exited"),
    State.REVIEW: N_("confirmed, awaiting the coordinators' review"),
}

CLOSED_STATES = frozenset({State.RECTIFIED, State.EXITED})
#: The states in which a case can be overdue: open, and waiting for the departments or the
#: county. A closing waiting for the coordinators' review (办结复核) is not late on their part:
#: its wait is the coordinators', chased by the ``unreviewed`` reminder.
LATE_STATES = frozenset(s for s in State if s not in CLOSED_STATES and s is not State.REVIEW)
# Yellow card: ordered to rectify by a deadline.
YELLOW_STATES = frozenset({State.RECTIFYING, State.EXTENSION_REQUESTED})


@dataclass(frozen=True)
class Step:
    name: str
    label: str
    sources: frozenset[State]
    target: State | None  # None: the case stays in its state (a measure, a date set)
    actor: Actor = Actor.DEPARTMENT
    needs: tuple[Need, ...] = ()
    joint: bool = False
    measure: Measure | None = None  # a measure step keeps the state and ticks one measure
    requires_all_measures: bool = False
    max_times: int | None = None
    # Deadline effects
    sets_deadline_from_date: bool = False  # the step's date becomes the deadline
    extends_deadline: bool = False  # approved extension: deadline += requested months
    clears_deadline: bool = False
    requires_overdue: bool = False  # only once the deadline has passed
    #: A coordinator's review decision: its target is the reviewed step's (see ``decide``).
    review: Review | None = None


@dataclass(frozen=True)
class Workflow:
    clause: str
    title: str
    initial_deadline_months: int | None
    steps: tuple[Step, ...]
    measures: tuple[Measure, ...] = ()
    extension_max_months: int | None = None
    failing_exit: bool = True  # an exit here means "closed after failing" (red card)
    #: Alternative ways of exit (（九）'s "…整个企业，或采取…"): the exit needs every measure of
    #: one way. Empty: one way, every measure of ``measures``.
    ways: tuple[tuple[Measure, ...], ...] = ()

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise DubanError(N_("Unknown step {step} for clause {clause}."), step=name,
                         clause=self.clause)

    def states(self, review: bool = False) -> frozenset[State]:
        """The states a case can be in; ``review`` when the organisation reviews closings
        (the review state is reached by the closing steps' confirmation, not by a target)."""
        found: set[State] = {State.ROUTED}
        for step in self.steps:
            if step.review is None or review:
                found |= step.sources
            if step.target is not None:
                found.add(step.target)
        return frozenset(found)

    def initial_deadline(self, registered_on: date) -> date | None:
        if self.initial_deadline_months is None:
            return None
        return add_months(registered_on, self.initial_deadline_months)

    def exit_ways(self) -> tuple[tuple[Measure, ...], ...]:
        """The ways the exit measures can be completed: each a set of measures that all
        must be confirmed."""
        return self.ways or ((self.measures,) if self.measures else ())

    def way_done(self, done: Iterable[Measure]) -> bool:
        """Whether the confirmed measures ``done`` complete one way of exit."""
        found = set(done)
        return any(all(m in found for m in way) for way in self.exit_ways())

    def exit_progress(self, done: Iterable[Measure]) -> tuple[int, int]:
        """(confirmed, needed) of the way of exit furthest along: for a card's line."""
        found = set(done)
        ways = self.exit_ways()
        if not ways:
            return 0, 0
        way = max(ways, key=lambda w: sum(1 for m in w if m in found) / len(w))
        return sum(1 for m in way if m in found), len(way)


def _s(*states: State) -> frozenset[State]:
    return frozenset(states)


def _accept() -> Step:
    return Step("accept", N_("Accept"), _s(State.ROUTED), State.ACCEPTED, joint=True)


def _measure_steps(measures: Iterable[Measure], sources: frozenset[State],
                   labels: Mapping[Measure, str] = MEASURE_LABELS) -> tuple[Step, ...]:
    return tuple(
        Step(f"measure:{m.value}", labels[m], sources, None,
             needs=(Need.EVIDENCE, Need.DATE), measure=m)
        for m in measures
    )


def _exit_steps(measures: tuple[Measure, ...]) -> tuple[Step, ...]:
    sources = _s(State.SHUTDOWN_ORDERED)
    return (*_measure_steps(measures, sources),
            Step("confirm_exit", N_("Confirm exit"), sources, State.EXITED,
                 needs=(Need.CAPACITY, Need.NOTE), joint=True, requires_all_measures=True))


#: （九） 产能退出: "依法关停、停业、关闭、取缔整个企业，或采取断电、断水，拆除动力装置，
#: 封存主体设备等措施". Way 1 is the closure of the whole enterprise; way 2 the equipment
#: measures, all of them.
SHUTDOWN_WAYS: tuple[tuple[Measure, ...], ...] = (
    (Measure.ENTERPRISE_CLOSED,),
    (Measure.POWER_WATER_CUT, Measure.POWER_UNITS_REMOVED, Measure.LINE_SEALED),
)
_SHUTDOWN_MEASURES = tuple(m for way in SHUTDOWN_WAYS for m in way)
#: The buttons of the two ways, worded for a liaison reading them on a phone.
SHUTDOWN_WAY_LABELS: Mapping[Measure, str] = {
    Measure.ENTERPRISE_CLOSED: N_("Way 1: whole enterprise closed down"),
    Measure.POWER_WATER_CUT: N_("Way 2: power and water cut"),
    Measure.POWER_UNITS_REMOVED: N_("Way 2: power units removed"),
    Measure.LINE_SEALED: N_("Way 2: main equipment sealed"),
}
#: The card's line that says the ways are alternatives.
SHUTDOWN_WAYS_HINT = N_("Exit in one of two ways: 1) close down the whole enterprise, or "
                        "2) cut power and water, remove the power units and seal the main "
                        "equipment (all three). Then press “Confirm exit”.")


def _shutdown_exit_steps(sources: frozenset[State]) -> tuple[Step, ...]:
    """（九）'s shutdown and exit, also the exit of （四）: one way of :data:`SHUTDOWN_WAYS`
    confirmed measure by measure (by any required department), then the joint exit."""
    return (*_measure_steps(_SHUTDOWN_MEASURES, sources, SHUTDOWN_WAY_LABELS),
            Step("confirm_exit", N_("Confirm exit"), sources, State.EXITED,
                 needs=(Need.CAPACITY, Need.NOTE), joint=True, requires_all_measures=True,
                 clears_deadline=True))


def _review_steps() -> tuple[Step, Step]:
    """办结 and 退回重办 of a case waiting for review; in every workflow, as its closing steps
    may all be reviewed."""
    sources = _s(State.REVIEW)
    return (Step("close_reviewed", N_("Close the case"), sources, None,
                 actor=Actor.COORDINATOR, clears_deadline=True, review=Review.CLOSE),
            Step("send_back", N_("Send back for rework"), sources, None,
                 actor=Actor.COORDINATOR, needs=(Need.REASON,), review=Review.SEND_BACK))


def _overdue_step() -> Step:
    return Step("mark_overdue", N_("Mark overdue"), _s(State.RECTIFYING), State.OVERDUE,
                actor=Actor.SYSTEM, requires_overdue=True)


def _rectified_step() -> Step:
    return Step("confirm_rectified", N_("Confirm rectified and verified"), _s(State.RECTIFYING),
                State.RECTIFIED, needs=(Need.EVIDENCE, Need.DATE), joint=True,
                clears_deadline=True)


ENERGY = Workflow(
    clause="四", title=N_("Energy consumption"), initial_deadline_months=6,
    extension_max_months=3, measures=_SHUTDOWN_MEASURES, ways=SHUTDOWN_WAYS,
    steps=(
        _accept(),
        Step("order_rectification", N_("Order rectification"), _s(State.ACCEPTED),
             State.RECTIFYING, needs=(Need.EVIDENCE,)),
        Step("request_extension", N_("Request an extension"), _s(State.RECTIFYING),
             State.EXTENSION_REQUESTED, needs=(Need.REASON, Need.MONTHS), max_times=1),
        Step("approve_extension", N_("Approve the extension"), _s(State.EXTENSION_REQUESTED),
             State.RECTIFYING, actor=Actor.COORDINATOR, extends_deadline=True),
        Step("deny_extension", N_("Deny the extension"), _s(State.EXTENSION_REQUESTED),
             State.RECTIFYING, actor=Actor.COORDINATOR, needs=(Need.REASON,)),
        _rectified_step(),
        _overdue_step(),
        Step("report_failed", N_("Report still failing after rectification"),
             _s(State.RECTIFYING), State.SHUTDOWN_ORDERED, needs=(Need.EVIDENCE, Need.NOTE),
             clears_deadline=True),
        Step("order_shutdown", N_("Order shutdown and exit"), _s(State.OVERDUE),
             State.SHUTDOWN_ORDERED, needs=(Need.EVIDENCE,), clears_deadline=True),
        # 依法关停退出: the shutdown and exit of （九）, not （八）'s dismantling list.
        *_shutdown_exit_steps(_s(State.SHUTDOWN_ORDERED)),
        *_review_steps(),
    ),
)

_CLOSURE_MEASURES = (Measure.PRODUCTION_STOPPED, Measure.POWER_WATER_CUT, Measure.LINE_SEALED,
                     Measure.PUBLIC_COMMITMENT)


def _closure_steps() -> tuple[Step, ...]:
    """Closure with the approval of the government that has the power （五）（六）."""
    return (
        Step("request_closure", N_("Submit closure for government approval"),
             _s(State.RECTIFYING, State.OVERDUE), State.CLOSURE_REQUESTED,
             needs=(Need.EVIDENCE, Need.NOTE), clears_deadline=True),
        Step("confirm_closure_approved", N_("Government approved the closure"),
             _s(State.CLOSURE_REQUESTED), State.SHUTDOWN_ORDERED, needs=(Need.EVIDENCE,)),
        *_exit_steps(_CLOSURE_MEASURES),
    )


ENVIRONMENT = Workflow(
    clause="五", title=N_("Environmental protection"), initial_deadline_months=None,
    measures=_CLOSURE_MEASURES,
    steps=(
        _accept(),
        Step("order_restriction", N_("Order restricted production or stop and rectify"),
             _s(State.ACCEPTED), State.RECTIFYING, needs=(Need.EVIDENCE, Need.FUTURE_DATE),
             sets_deadline_from_date=True),
        # 情节严重的，报经有批准权的人民政府批准，责令停业、关闭: no restriction first.
        Step("request_closure_serious", N_("Serious case: submit closure for government "
                                           "approval"),
             _s(State.ACCEPTED), State.CLOSURE_REQUESTED, needs=(Need.EVIDENCE, Need.NOTE),
             clears_deadline=True),
        _rectified_step(),
        _overdue_step(),
        *_closure_steps(),
        *_review_steps(),
    ),
)

QUALITY = Workflow(
    clause="六", title=N_("Product quality"), initial_deadline_months=6,
    measures=_CLOSURE_MEASURES,
    steps=(
        _accept(),
        Step("order_stop_rectify", N_("Order stop and rectify"), _s(State.ACCEPTED),
             State.RECTIFYING, needs=(Need.EVIDENCE,)),
        _rectified_step(),
        _overdue_step(),
        *_closure_steps(),
        *_review_steps(),
    ),
)

_SAFETY_MEASURES = (Measure.PRODUCTION_STOPPED, Measure.LICENCES_REVOKED,
                    Measure.POWER_WATER_CUT)

SAFETY = Workflow(
    clause="七", title=N_("Work safety"), initial_deadline_months=None,
    measures=_SAFETY_MEASURES,
    steps=(
        _accept(),
        Step("order_stop", N_("Order immediate stop for rectification"), _s(State.ACCEPTED),
             State.RECTIFYING, needs=(Need.EVIDENCE, Need.DATE)),
        Step("set_rectification_date", N_("Set a rectification deadline"), _s(State.RECTIFYING),
             None, needs=(Need.FUTURE_DATE,), sets_deadline_from_date=True),
        _rectified_step(),
        _overdue_step(),
        Step("report_failed", N_("Still unsafe after rectification: close"),
             _s(State.RECTIFYING, State.OVERDUE), State.SHUTDOWN_ORDERED,
             needs=(Need.EVIDENCE, Need.NOTE), clears_deadline=True),
        *_exit_steps(_SAFETY_MEASURES),
        *_review_steps(),
    ),
)

_SEAL_MEASURES = (Measure.POWER_WATER_CUT, Measure.POWER_UNITS_REMOVED, Measure.LINE_SEALED,
                  Measure.PUBLIC_COMMITMENT, Measure.WEBSITE_ANNOUNCEMENT)

TECHNOLOGY = Workflow(
    clause="八", title=N_("Technology and equipment"), initial_deadline_months=None,
    measures=_SEAL_MEASURES, failing_exit=False,
    steps=(
        _accept(),
        Step("confirm_dismantled", N_("Confirm main equipment dismantled"),
             _s(State.ACCEPTED, State.SEALED, State.OVERDUE), State.EXITED,
             needs=(Need.EVIDENCE, Need.DATE, Need.CAPACITY), joint=True, clears_deadline=True),
        *_measure_steps(_SEAL_MEASURES, _s(State.ACCEPTED)),
        Step("set_dismantling_date", N_("Seal and set the dismantling date"),
             _s(State.ACCEPTED), State.SEALED, needs=(Need.FUTURE_DATE,),
             sets_deadline_from_date=True, requires_all_measures=True),
        Step("mark_overdue", N_("Mark overdue"), _s(State.SEALED), State.OVERDUE,
             actor=Actor.SYSTEM, requires_overdue=True),
        *_review_steps(),
    ),
)

EXIT = Workflow(
    clause="九", title=N_("Capacity exit"), initial_deadline_months=None,
    measures=_SHUTDOWN_MEASURES, ways=SHUTDOWN_WAYS, failing_exit=False,
    steps=(
        _accept(),
        Step("order_shutdown", N_("Order shutdown and exit"), _s(State.ACCEPTED),
             State.SHUTDOWN_ORDERED, needs=(Need.EVIDENCE, Need.FUTURE_DATE),
             sets_deadline_from_date=True),
        Step("mark_overdue", N_("Mark overdue"), _s(State.SHUTDOWN_ORDERED),
             State.OVERDUE, actor=Actor.SYSTEM, requires_overdue=True),
        *_shutdown_exit_steps(_s(State.SHUTDOWN_ORDERED, State.OVERDUE)),
        *_review_steps(),
    ),
)

WORKFLOWS: Mapping[str, Workflow] = {
    w.clause: w for w in (ENERGY, ENVIRONMENT, QUALITY, SAFETY, TECHNOLOGY, EXIT)
}
CASE_CLAUSES = tuple(WORKFLOWS)


def workflow_for(clause: str) -> Workflow:
    try:
        return WORKFLOWS[clause]
    except KeyError:
        raise DubanError(
            N_("Clause {clause} does not create work on a case; use one of {clauses}."),
            clause=clause, clauses="、".join(CASE_CLAUSES),
        ) from None


# ---------------------------------------------------------------------------------------------
# The periods of the text, from the catalog


@dataclass(frozen=True)
class Terms:
    """The periods a clause's text sets for its workflow: the rectification period (a case's
    first deadline, from its registration) and the cap of the one extension."""

    rectification_months: int | None = None
    rectification_days: int | None = None
    extension_max_months: int | None = None

    def initial_deadline(self, registered_on: date) -> date | None:
        if self.rectification_months is not None:
            return add_months(registered_on, self.rectification_months)
        if self.rectification_days is not None:
            return registered_on + timedelta(days=self.rectification_days)
        return None


def terms_from(workflow: Workflow, deadlines: Iterable[Deadline]) -> Terms:
    """The workflow's periods as the clause's parsed deadlines state them: the first
    ``within`` in months or days is the rectification period, the first ``extension_max`` in
    months the extension cap. Only periods the workflow has are read (（四）（六） rectify in a
    period, （四） alone has an extension); what the text does not state keeps the workflow's
    own number (6 months, 3 months)."""
    found = tuple(deadlines)
    months, days = workflow.initial_deadline_months, None
    if months is not None:
        within = next((d for d in found if d.kind == "within"
                       and (d.months or d.days) and not d.years), None)
        if within is not None:
            months, days = (within.months, None) if within.months else (None, within.days)
    cap = workflow.extension_max_months
    if cap is not None:
        cap = next((d.months for d in found if d.kind == "extension_max" and d.months), cap)
    return Terms(rectification_months=months, rectification_days=days,
                 extension_max_months=cap)


def clause_terms(catalog: Catalog | None, clause: str) -> Terms:
    """The periods of case clause ``clause`` read from the loaded catalog (a reviewed
    catalog changes them without code); the workflow's own numbers when the catalog has no
    such clause or says nothing."""
    workflow = workflow_for(clause)
    deadlines: tuple[Deadline, ...] = ()
    if catalog is not None:
        try:
            found = catalog.find_clause(clause)
        except PolicyError:
            found = None
        if found is not None:
            deadlines = tuple(d for p in found.paragraphs for d in p.deadlines)
    return terms_from(workflow, deadlines)


# ---------------------------------------------------------------------------------------------
# Deciding a step


@dataclass(frozen=True)
class CaseFacts:
    """What the workflow needs to know about a case to decide a step."""

    clause: str
    state: State
    deadline: date | None
    required_departments: frozenset[str]
    # Confirmations of joint steps taken in the current state, by department.
    confirmed: frozenset[tuple[str, str]] = frozenset()  # (step name, department)
    measures_done: frozenset[Measure] = frozenset()
    step_counts: Mapping[str, int] = field(default_factory=dict)
    pending_extension_months: int | None = None
    #: The extension cap the catalog's text sets (:func:`clause_terms`); ``None``: the
    #: workflow's own.
    extension_max_months: int | None = None
    #: The organisation reviews closings: a closing confirmation waits in ``review``.
    review_before_closing: bool = False
    #: In ``review``: the confirmed closing step and the state it was confirmed in.
    under_review: tuple[str, State] | None = None


@dataclass(frozen=True)
class StepInput:
    step: str
    actor: Actor
    department: str | None = None  # the acting department, for department steps
    evidence: tuple[str, ...] = ()
    on: date | None = None
    capacity: float | None = None
    note: str | None = None
    reason: str | None = None
    months: int | None = None


@dataclass(frozen=True)
class Outcome:
    """The result of a step: the new state (maybe unchanged), deadline and what to record."""

    step: Step
    from_state: State
    to_state: State
    deadline: date | None
    completes: bool  # False when a joint step still waits for other departments
    waiting_for: frozenset[str] = frozenset()


MAX_NOTE = 1000
MAX_CAPACITY = 10_000_000


class StepEvent(Protocol):
    """The columns of a case's event that the confirmations are read from."""

    @property
    def kind(self) -> str: ...
    @property
    def from_state(self) -> str | None: ...
    @property
    def to_state(self) -> str | None: ...
    @property
    def department_key(self) -> str | None: ...


def confirmations(events: Iterable[StepEvent]) -> frozenset[tuple[str, str]]:
    """(step, department) taken since the case entered its current state: joint steps count
    within one state only."""
    found: set[tuple[str, str]] = set()
    for event in events:
        fold_confirmation(found, event)
    return frozenset(found)


def fold_confirmation(found: set[tuple[str, str]], event: StepEvent) -> None:
    """The next event's part in :func:`confirmations` (for a reader that folds events as it
    reads them): a change of state clears them, a department's step adds one."""
    if event.to_state is not None and event.to_state != event.from_state:
        found.clear()
    elif event.department_key:
        found.add((event.kind, event.department_key))


def closes(step: Step) -> bool:
    """Whether the departments' confirmation of ``step`` closes the case (the step a review
    stands before)."""
    return step.actor is Actor.DEPARTMENT and step.target in CLOSED_STATES


def under_review(events: Iterable[StepEvent]) -> tuple[str, State] | None:
    """The closing step a case in review waits on, and the state it was confirmed in: read
    from the event that moved the case into review."""
    found: tuple[str, State] | None = None
    for event in events:
        if event.to_state == State.REVIEW and event.from_state not in (None, State.REVIEW):
            found = (event.kind, State(event.from_state))
    return found


def check_state(step: Step, state: State) -> None:
    """The step can be taken in ``state``, or a clear error."""
    if state not in step.sources:
        raise DubanError(
            N_("Step “{step}” is not possible while the case is {state}."),
            step=step.label, state=STATE_LABELS[state], translate=("step", "state"),
        )


def times_left(step: Step, taken: int) -> bool:
    """Whether a step limited per case (the one extension) may be taken again."""
    return step.max_times is None or taken < step.max_times


def check_times(step: Step, taken: int) -> None:
    """The step has not been taken as often as it may be, or a clear error."""
    if not times_left(step, taken):
        raise DubanError(N_("Step “{step}” may be taken only {n} time(s) per case."),
                         step=step.label, n=step.max_times, translate=("step",))


def decide(facts: CaseFacts, action: StepInput, today: date) -> Outcome:
    """Check ``action`` against the workflow and return its outcome, or raise DubanError."""
    workflow = workflow_for(facts.clause)
    step = workflow.step(action.step)
    check_state(step, facts.state)
    _check_actor(step, action, facts)
    _check_needs(step, action, today, facts.extension_max_months
                 or workflow.extension_max_months or 3)
    check_times(step, facts.step_counts.get(step.name, 0))
    if step.requires_overdue and (facts.deadline is None or today <= facts.deadline):
        raise DubanError(N_("The deadline has not passed yet."))
    if step.measure is not None and step.measure in facts.measures_done:
        raise DubanError(N_("This measure is already confirmed."))
    if step.requires_all_measures and not workflow.way_done(facts.measures_done):
        if workflow.ways:
            missing = [m for m in workflow.ways[-1] if m not in facts.measures_done]
            raise DubanError(N_("Confirm one way of exit first: the whole enterprise closed "
                                "down, or all of the equipment measures (missing: {missing})."),
                             missing=tuple(MEASURE_LABELS[m] for m in missing),
                             translate=("missing",))
        missing = [m for m in workflow.measures if m not in facts.measures_done]
        raise DubanError(N_("Confirm every exit measure first; missing: {missing}."),
                         missing=tuple(MEASURE_LABELS[m] for m in missing),
                         translate=("missing",))

    deadline = _new_deadline(step, action, facts)
    if step.joint:
        assert action.department is not None
        if (step.name, action.department) in facts.confirmed:
            raise DubanError(N_("Your department has already confirmed this step."))
        done = {d for s, d in facts.confirmed if s == step.name} | {action.department}
        waiting = facts.required_departments - done
        if waiting:
            return Outcome(step, facts.state, facts.state, facts.deadline, completes=False,
                           waiting_for=frozenset(waiting))
    if step.review is not None:
        return _review_outcome(workflow, step, facts, deadline)
    target = facts.state if step.target is None else step.target
    if facts.review_before_closing and closes(step):
        # The deadline stays: sent back, the case is chased from it again.
        return Outcome(step, facts.state, State.REVIEW, facts.deadline, completes=True)
    return Outcome(step, facts.state, target, deadline, completes=True)


def _review_outcome(workflow: Workflow, step: Step, facts: CaseFacts,
                    deadline: date | None) -> Outcome:
    """办结 closes the case as the reviewed step would have; 退回重办 returns it to the state
    that step was confirmed in, with its deadline (the ladder goes on from it)."""
    if facts.under_review is None:
        raise DubanError(N_("This case is not waiting for review."))
    reviewed, before = facts.under_review
    if step.review is Review.CLOSE:
        target = workflow.step(reviewed).target
        assert target is not None
        return Outcome(step, facts.state, target, deadline, completes=True)
    return Outcome(step, facts.state, before, facts.deadline, completes=True)


def _check_actor(step: Step, action: StepInput, facts: CaseFacts) -> None:
    if step.actor is Actor.SYSTEM and action.actor is not Actor.SYSTEM:
        if action.actor is not Actor.COORDINATOR:
            raise DubanError(N_("Only the system or a coordinator can take this step."))
        return
    if step.actor is Actor.COORDINATOR and action.actor is not Actor.COORDINATOR:
        raise DubanError(N_("Only a coordinator can take this step."))
    if step.actor is Actor.DEPARTMENT:
        if action.department is None:
            raise DubanError(N_("Name the department that takes this step."))
        if action.department not in facts.required_departments:
            raise DubanError(
                N_("Department {department} is not required to act on this case."),
                department=action.department, departments=("department",),
            )


def _check_needs(step: Step, action: StepInput, today: date, limit: int) -> None:
    for need in step.needs:
        if need is Need.EVIDENCE and not action.evidence:
            raise DubanError(N_("This step needs evidence: a photo or a document."))
        if need is Need.DATE:
            if action.on is None:
                raise DubanError(N_("This step needs a date."))
            if action.on > today:
                raise DubanError(N_("The date {date} is in the future; give the date it happened."),
                                 date=action.on.isoformat())
        if need is Need.FUTURE_DATE:
            if action.on is None:
                raise DubanError(N_("This step needs a date."))
            if action.on <= today:
                raise DubanError(N_("The date {date} must be after today."),
                                 date=action.on.isoformat())
        if need is Need.CAPACITY:
            if action.capacity is None:
                raise DubanError(N_("This step needs the capacity figure."))
            if not 0 <= action.capacity < MAX_CAPACITY:
                raise DubanError(N_("The capacity {capacity} is not plausible."),
                                 capacity=action.capacity)
        if need in (Need.NOTE, Need.REASON):
            text = action.reason if need is Need.REASON else action.note
            if not text or not text.strip():
                raise DubanError(N_("This step needs a note or a reason."))
        if need is Need.MONTHS:
            if action.months is None or not 1 <= action.months <= limit:
                raise DubanError(N_("An extension is 1 to {limit} months."), limit=limit)
    for text in (action.note, action.reason):
        if text is not None and len(text) > MAX_NOTE:
            raise DubanError(N_("The text is too long: at most {limit} characters."),
                             limit=MAX_NOTE)


def _new_deadline(step: Step, action: StepInput, facts: CaseFacts) -> date | None:
    if step.clears_deadline:
        return None
    if step.sets_deadline_from_date:
        return action.on
    if step.extends_deadline:
        if facts.deadline is None or not facts.pending_extension_months:
            raise DubanError(N_("There is no pending extension to approve."))
        return add_months(facts.deadline, facts.pending_extension_months)
    return facts.deadline
