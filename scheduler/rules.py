"""What is due, and when: the pure rules behind the scheduler's sweep.

The sweep job (APScheduler) reads plain snapshots from the database and calls
:func:`due_items` with ``now``; it sends what comes back and records every key the items
discharge (:attr:`DueItem.done_keys`). Nothing here reads the clock, the database or Telegram.

The moment of evaluation
========================

Messages go out only on working days within office hours (:mod:`scheduler.workdays`). A sweep
therefore answers for the **first moment it may send**: ``send_after =
next_send_time(now)``, and "today" is that moment's local date. A sweep inside office hours
answers for ``now``; a sweep on Saturday answers for Monday 09:00 (or the Sunday that is a
make-up working day). Every item of one sweep carries that ``send_after``. The caller sends
the items whose ``send_after`` has come and treats the others as a preview: it does not queue
them, because a later sweep recomputes them from the then-current state (a confirmation in
between removes them). So nothing is ever due outside office hours on a non-working day.

Keys (exactly once)
===================

Every nudge and escalation step has a key ``{kind}:{subject}:{id}:{party}:{date}:{step}``:

* ``kind``: the preview kind (``nudge``, ``overdue``, ``reminder``, ``notice``, ``summons``,
  ``obligation_nudge``, ``unaccepted``, ``credit_flag``);
* ``subject`` and ``id``: ``case`` and the case reference, or ``obligation`` and
  ``{kind}/{year}`` (``county_report/2026``);
* ``party``: whose work it is (a department key or a region name; ``enterprise`` for the
  credit flag);
* ``date``: the deadline in ISO form (for ``unaccepted``: the day the case was routed to the
  department);
* ``step``: ``T-30`` … ``T-0`` for nudges, else ``overdue``, ``reminder``, ``reminder_cc``,
  ``notice``, ``summons``, ``unaccepted_reminder``, ``unaccepted_alert``, ``credit_flag``.

Examples: ``nudge:case:CZ-001:environment:2026-03-31:T-7``,
``reminder:obligation:county_report/2026:玛纳斯县:2026-11-30:reminder_cc``.

A key is due once. :func:`due_items` leaves out every key in ``sent_keys``; the caller puts
into ``sent_keys`` every key it sent **and** every key an item superseded or covered
(``done_keys``), so a superseded nudge is never sent later.

Nudges before a deadline
========================

For each deadline (a case's rectification, extension end, dismantling or exit date, or a
yearly obligation's due date) and each party that has not confirmed, there is one nudge point
per entry of ``EscalationSettings.nudge_days_before`` (T-30, T-14, T-7, T-3, T-1, T-0):

* point T-n falls on ``deadline - n`` days, moved back to the **previous working day** when
  that is not one. A deadline on a holiday gets its last nudge (T-0) on the working day
  before. Points that land on the same day (T-3, T-1 and T-0 before a long holiday) are one
  nudge: the latest point (the smallest n) is sent, the others are superseded.
* A point before the case was routed to the department (``DeptStatus.routed_on``, else
  ``CaseSnapshot.routed_on``; ``ObligationSnapshot.opened_on`` for obligations) does not
  exist; the routing message told the department the deadline. A point moved back before that
  day is kept on that day.
* Nudges are sent only up to the deadline day; once the deadline has passed, the overdue
  ladder speaks instead.
* A party that has confirmed gets nothing more for that deadline, whenever it confirmed (a
  confirmation between two sweeps removes the items the next sweep would have returned).

Catch-up after downtime
=======================

The nudges and the two reminders of one deadline and party form a **chain** (T-30 … T-0,
``overdue``, ``reminder``). Of the chain's steps that are due and not skipped, only the latest
is sent; the earlier ones not yet sent are listed in its ``supersedes``. So a bot that was down
from T-14 to T-3 sends one T-3 nudge, and a bot that was down over the deadline sends the
overdue reminder (or the second reminder) and never the missed nudges. ``notice``, ``summons``,
``reminder_cc``, the acceptance steps and the credit flag are records, not chatter: each is
computed from the real dates and is due once as soon as its date has passed, however late the
sweep; after a long downtime a notice and a summons can fall due in the same sweep.

The escalation ladder
=====================

From a deadline D that passed without the party's confirmation (numbers from
:class:`~bot.core.org.EscalationSettings`; "wd" are working days counted after D, so a deadline on
a holiday does not eat into the grace):

============================  ==============================  ============================
step                          falls due                       goes to
============================  ==============================  ============================
``overdue``                   D + 1 + reminder_after_days     the party's chat
``reminder``                  D + 3 wd                        the party's chat
``reminder_cc`` (its copy)    D + 3 wd                        the coordinators
``notice`` (通报)              D + 7 wd                        the party (the laggard)
``summons`` (约谈)             D + 15 wd, or with a second     the party (the laggard)
                              notice within 60 days
============================  ==============================  ============================

The party is the department for case work and for the departments' yearly duties (work plan,
letter, annual report), and the county or park (region) for the 30 November county report.

*Second notice.* When a notice falls due for a party that already had a notice issued within
``second_notice_window_days`` (``notices``: the caller's record of issued notices, including
today's), the summons for the same deadline falls due at once, with ``reason
"second_notice"``; its key is the summons key of that deadline, so the later D + 15 wd summons
is not sent again. Notices due in the same sweep for the same party are **one** notice (one
通报, one number, all the cases in ``case_refs``): they do not count as each other's second
notice. Summonses due in the same sweep for the same party are likewise one. A merged item's
``key`` is its first case's key, the other cases' keys are in ``covers``. Obligation notices
are not merged with case notices (an obligation item names one obligation).

*Late arrivals.* A party that got the work after its deadline passed (an imported overdue
case, a department added late) is not escalated retroactively: its ladder counts as if the
deadline had been the day before it got the work, so the overdue reminder comes at once and
the notice seven working days later. The keys still name the real deadline.

*Acceptance.* A case routed to a department that has not accepted it: ``unaccepted_reminder``
to the department after ``unaccepted_reminder_working_days`` (2) working days,
``unaccepted_alert`` to the coordinators after ``unaccepted_alert_working_days`` (5), counted
from the day it was routed to that department. These run beside the deadline nudges.

*Credit (（十七）).* When an exit deadline passes (``deadline_kind`` ``exit`` or
``dismantling``, or any deadline of a case marked ``failing_exit``: the enterprise must leave by
it) and the case is not closed, a ``credit_flag`` goes to the coordinators once, on D + 1.

Coordinator controls and case changes
=====================================

* A **closed** case (``CLOSED_STATES``) has nothing due.
* A case **in review** (its closing step confirmed, 办结复核) is the coordinators' work: nothing
  goes to its departments and it makes no county a laggard; when the review's wait
  (``decision_working_days``) ends, ``unreviewed`` reminds the coordinators, and again
  every ``follow_up_every_working_days`` until they close it or send it back. Sent back, the
  case has its deadline again and the ladder goes on from it.
* A **paused** case has nothing due. Resuming does not restart the clock: steps whose dates
  passed during the pause are due at once (one catch-up nudge or reminder per chain; notices
  and summonses as they fell due). A coordinator who wants a new clock extends the deadline
  or skips the steps.
* A **skipped** step (``skipped_steps``: a step name above, or ``T-7`` for one nudge point) is
  never sent and does not hold the ladder up; the next step comes on its own date. Skipping
  ``reminder`` also skips its copy to the coordinators.
* An **extension** (or any new deadline) gives new keys, because the deadline is part of every
  key; the old deadline's nudges and steps are no longer computed, so they are never sent.
  Steps of the old deadline already sent stay sent.
* A pending extension request does not stop the clock: the coordinators decide it, or pause.

Yearly duties
=============

:func:`obligations_for_year` expands the yearly calendar into one :class:`ObligationSnapshot`
per party and year: the work plan (31 March: 工信、能源、煤炭 lead, 发改、环保、质监、安监 with
them), the counties' and parks' own work plan approved by their government (the cover
letter's 一、二1; it gives no date, so 31 March with the work plan), the county report
(30 November: every county and park), the departments' letter (31 December: 发改、环保、质监、
安监, to 工信、能源、煤炭) and the annual report (31 January of the next year: 工信、能源、煤炭).
Dates come from the catalog's ``annual`` / ``annual_next_year`` rules, the departments from
its tags (:func:`duty_owners`; the ones above where it has none). They get the same nudges
(kind ``obligation_nudge``) and the same ladder as case deadlines, but for the work plan,
which is **one joint duty**: its leads are escalated as for any duty, its participants
(``role`` ``cooperate``) get the nudges and the two overdue reminders but no notice, summons
or follow-up, and once every lead has confirmed, nothing more is due for anyone
(:func:`joint_duties`).

Examples from 2026
==================

* Deadline Tue 24 February, the first day after the Spring Festival (15–23 February): T-7,
  T-3 and T-1 fall in the holiday and move back to Saturday 14 February, a make-up working
  day; one nudge (T-1) goes out that Saturday.
* Deadline Sat 3 October (National Day, 1–7 October): T-3, T-1 and T-0 move back to Wed
  30 September; the overdue reminder goes out Thu 8 October, the second reminder on Sat
  10 October (a make-up working day), three working days after the deadline.
* Deadline Sat 10 October (a make-up working day): T-0 goes out on that Saturday.
* A sweep on Friday at 18:00 answers for the next working morning; over National Day, for
  Thursday 8 October at 09:00.
* A year chinesecalendar does not cover counts only weekends as days off;
  :meth:`~scheduler.workdays.WorkCalendar.uncovered_years` with :func:`years_in_view` tells
  the sweep which years to warn the coordinators about.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Container, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, tzinfo
from typing import NamedTuple, Protocol

from bot.core.dates import add_months, month_end
from bot.core.i18n import N_
from bot.core.org import EscalationSettings
from bot.core.policy.catalog import Catalog, Clause, Paragraph, TagAssignment
from bot.core.tasks import is_task_kind, owners_of, source_key
from bot.core.workflow import CLOSED_STATES, LATE_STATES, State
from scheduler.workdays import SHANGHAI, WorkCalendar, next_send_time

__all__ = [
    "COORDINATORS",
    "DEFAULT_ANNUAL_RULES",
    "KIND_LABELS",
    "OBLIGATION_LABELS",
    "PREVIEW_KINDS",
    "AnnualRule",
    "CaseSnapshot",
    "DeptStatus",
    "DueItem",
    "DutyOwners",
    "NoticeHistory",
    "ObligationSnapshot",
    "Recipient",
    "annual_rules",
    "due_items",
    "duty_owners",
    "format_notice_number",
    "group_by_recipient",
    "is_step_name",
    "joint_duties",
    "nudge_step",
    "obligations_for_year",
    "parse_notice_number",
    "years_in_view",
]

# --- names --------------------------------------------------------------------------------

KIND_NUDGE = "nudge"
KIND_OVERDUE = "overdue"
KIND_REMINDER = "reminder"
KIND_NOTICE = "notice"
KIND_SUMMONS = "summons"
KIND_OBLIGATION_NUDGE = "obligation_nudge"
KIND_UNACCEPTED = "unaccepted"
KIND_CREDIT_FLAG = "credit_flag"
PREVIEW_KINDS = (
    KIND_NUDGE, KIND_OVERDUE, KIND_REMINDER, KIND_NOTICE, KIND_SUMMONS,
    KIND_OBLIGATION_NUDGE, KIND_UNACCEPTED, KIND_CREDIT_FLAG,
)
KIND_LABELS: Mapping[str, str] = {
    KIND_NUDGE: N_("deadline reminder"),
    KIND_OVERDUE: N_("overdue reminder"),
    KIND_REMINDER: N_("second overdue reminder"),
    KIND_NOTICE: N_("notice (通报)"),
    KIND_SUMMONS: N_("interview summons (约谈)"),
    KIND_OBLIGATION_NUDGE: N_("yearly duty reminder"),
    KIND_UNACCEPTED: N_("case not accepted"),
    KIND_CREDIT_FLAG: N_("credit measures (clause (17))"),
}

STEP_OVERDUE = "overdue"
STEP_REMINDER = "reminder"
STEP_REMINDER_CC = "reminder_cc"
STEP_NOTICE = "notice"
STEP_SUMMONS = "summons"
STEP_UNACCEPTED_REMINDER = "unaccepted_reminder"
STEP_UNACCEPTED_ALERT = "unaccepted_alert"
STEP_CREDIT_FLAG = "credit_flag"
STEP_FOLLOW_UP = "follow_up"  # after the summons: every N working days until done
STEP_UNACCEPTED_FOLLOW_UP = "unaccepted_follow_up"  # after the alert, until accepted
STEP_RENOTICE = "renotice"  # after the summons: in the 通报 again every month until done
STEP_LAGGARD = "laggard"  # a county or park named in the 通报 for its overdue cases
STEP_UNROUTED = "unrouted"  # coordinators: no department has the case yet
STEP_UNREVIEWED = "unreviewed"  # coordinators: a confirmed closing waits for their review
STEP_NAMES = frozenset({
    STEP_OVERDUE, STEP_REMINDER, STEP_REMINDER_CC, STEP_NOTICE, STEP_SUMMONS,
    STEP_UNACCEPTED_REMINDER, STEP_UNACCEPTED_ALERT, STEP_CREDIT_FLAG, STEP_FOLLOW_UP,
    STEP_UNACCEPTED_FOLLOW_UP, STEP_RENOTICE, STEP_UNROUTED, STEP_UNREVIEWED,
})
#: How many follow-ups a sweep looks back through (about ten years at one a fortnight).
MAX_FOLLOW_UPS = 260
_NUDGE_STEP = re.compile(r"T-(\d{1,4})")

REASON_SECOND_NOTICE = "second_notice"

DEPARTMENT = "department"
REGION = "region"
COORDINATORS = "coordinators"

DEADLINE_KINDS = ("rectification", "extension", "dismantling", "exit",
                  "immediate", "action", "approval", "shutdown", "review")
EXIT_DEADLINE_KINDS = frozenset({"exit", "dismantling", "shutdown"})
#: The clauses whose first measure is "立即" (stop at once, dismantle at once) when the
#: catalog does not say (:func:`immediate_clauses` reads it from the catalog).
IMMEDIATE_CLAUSES = frozenset({"七", "八"})

WORK_PLAN = "work_plan"
REGION_WORK_PLAN = "region_work_plan"
COUNTY_REPORT = "county_report"
DEPARTMENT_LETTER = "department_letter"
ANNUAL_REPORT = "annual_report"
OBLIGATION_KINDS = (WORK_PLAN, REGION_WORK_PLAN, COUNTY_REPORT, DEPARTMENT_LETTER, ANNUAL_REPORT)
#: The duties a county or park owes (the others are the departments').
REGION_KINDS = frozenset({REGION_WORK_PLAN, COUNTY_REPORT})
OBLIGATION_LABELS: Mapping[str, str] = {
    WORK_PLAN: N_("the year's work plan"),
    REGION_WORK_PLAN: N_("the county's work plan approved by its government"),
    COUNTY_REPORT: N_("the county's yearly report on exits and closures"),
    DEPARTMENT_LETTER: N_("the year-end letter on enterprises closed by law"),
    ANNUAL_REPORT: N_("last year's exit report"),
}

# Who owes the departments' yearly duties when the catalog does not say (the guiding
# opinion's clause （十九）); :func:`duty_owners` reads them from the catalog's tags.
WORK_PLAN_LEADS = ("industry", "energy", "coal")
WORK_PLAN_PARTNERS = ("development_reform", "environment", "quality", "safety")
LETTER_DEPARTMENTS = WORK_PLAN_PARTNERS
LETTER_RECIPIENTS = WORK_PLAN_LEADS
ANNUAL_REPORT_DEPARTMENTS = WORK_PLAN_LEADS
ROLE_LEAD, ROLE_COOPERATE, ROLE_RESPONSIBLE = "lead", "cooperate", "responsible"


def nudge_step(days_before: int) -> str:
    """The step name of the nudge ``days_before`` days before a deadline: ``"T-7"``."""
    return f"T-{days_before}"


def is_step_name(name: str) -> bool:
    """Whether ``name`` is a step a coordinator can skip (an escalation step or ``T-n``)."""
    return name in STEP_NAMES or _NUDGE_STEP.fullmatch(name) is not None


# --- the date each open case is due by ------------------------------------------------------

WAIT_IMMEDIATE = "immediate"
WAIT_ACTION = "action"
WAIT_APPROVAL = "approval"
WAIT_SHUTDOWN = "shutdown"
#: A confirmed closing waits for the coordinators' review (办结复核): their work, not the
#: departments'; the case's own deadline is kept for a send-back but does not count meanwhile.
WAIT_REVIEW = "review"
WAIT_KINDS = frozenset({WAIT_IMMEDIATE, WAIT_ACTION, WAIT_APPROVAL, WAIT_SHUTDOWN, WAIT_REVIEW})


def wait_kind(clause: str, state: str, deadline: date | None,
              immediate: Set[str] = IMMEDIATE_CLAUSES) -> str | None:
    """The wait an open case is in when it has no deadline of its own, else ``None``.

    * ``immediate``: accepted under a "立即" clause (（七） stop at once, （八） dismantle at
      once): the stop or the dismantling is to be confirmed within a few working days;
    * ``approval``: the closure was submitted for the government's approval (（五）（六）);
    * ``shutdown``: the shutdown and exit were ordered (（四）–（七）);
    * ``review``: the closing step is confirmed and waits for the coordinators' review,
      whatever the case's deadline;
    * ``action``: any other state without a date (order a restriction, set a date).

    A case still being routed is chased by the acceptance steps instead; a closed case, or a
    case with a deadline, waits for nothing else.
    """
    if state == State.REVIEW:
        return WAIT_REVIEW
    if deadline is not None or state in CLOSED_STATES or state == State.ROUTED:
        return None
    if state == State.CLOSURE_REQUESTED:
        return WAIT_APPROVAL
    if state == State.SHUTDOWN_ORDERED:
        return WAIT_SHUTDOWN
    if state == State.ACCEPTED and clause in immediate:
        return WAIT_IMMEDIATE
    return WAIT_ACTION


def wait_working_days(kind: str, settings: EscalationSettings) -> int:
    return {
        WAIT_IMMEDIATE: settings.immediate_working_days,
        WAIT_APPROVAL: settings.approval_working_days,
        WAIT_SHUTDOWN: settings.shutdown_working_days,
    }.get(kind, settings.decision_working_days)


def due_on(clause: str, state: str, deadline: date | None, since: date,
           calendar: WorkCalendar, settings: EscalationSettings,
           immediate: Set[str] = IMMEDIATE_CLAUSES) -> date | None:
    """The day the case's current step is due: its deadline, or the end of its wait counted
    in working days from ``since`` (the day it entered its state). ``None`` only for a case
    being routed without a deadline (the acceptance steps chase it) and for a closed case.
    A case in review is due when the review's wait ends, whatever its deadline."""
    if deadline is not None and state != State.REVIEW:
        return deadline
    kind = wait_kind(clause, state, deadline, immediate)
    if kind is None:
        return None
    return calendar.add_working_days(since, max(1, wait_working_days(kind, settings)))


def immediate_clauses(catalog: Catalog | None) -> frozenset[str]:
    """The case clauses whose text orders the first measure "立即" (from the catalog's
    parsed deadlines; :data:`IMMEDIATE_CLAUSES` when the catalog says nothing)."""
    if catalog is None:
        return IMMEDIATE_CLAUSES
    found = frozenset(
        clause.ref for clause in catalog.clauses
        if any(d.kind == "immediate" for p in clause.paragraphs for d in p.deadlines))
    return found or IMMEDIATE_CLAUSES


def is_overdue(state: str, due: date | None, today: date) -> bool:
    """The one definition of overdue: an open case whose due day (:func:`due_on`) has
    passed, unless it waits for the coordinators' review (``LATE_STATES``). Paused cases
    count (they are late; only the chasing stops)."""
    return state in LATE_STATES and due is not None and due < today


# --- inputs -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeptStatus:
    """One required department of a case: has it accepted the case, confirmed the step?

    ``confirmed`` is about the current deadline's step (rectified, exit confirmed, equipment
    dismantled). ``routed_on`` is the day the case reached this department when that was
    later than the case's own ``routed_on`` (a department added afterwards).
    """

    department: str
    accepted: bool = False
    confirmed: bool = False
    routed_on: date | None = None


@dataclass(frozen=True, slots=True)
class CaseSnapshot:
    """What the rules need to know about one case."""

    ref: str
    region: str
    clause: str
    state: str  # a bot.core.workflow.State value
    deadline: date | None
    deadline_kind: str  # rectification | extension | dismantling | exit
    routed_on: date
    required: tuple[DeptStatus, ...] = ()
    paused: bool = False
    skipped_steps: frozenset[str] = frozenset()
    failing_exit: bool = False

    def __post_init__(self) -> None:
        if self.deadline_kind not in DEADLINE_KINDS:
            raise ValueError(f"unknown deadline kind {self.deadline_kind!r}")

    @property
    def closed(self) -> bool:
        return self.state in CLOSED_STATES


@dataclass(frozen=True, slots=True)
class ObligationSnapshot:
    """One party's yearly duty for one year, and whether it has been confirmed.

    ``year`` is the year the duty is about; the annual report on ``year`` is due in January
    of ``year + 1``. ``role`` is ``lead`` or ``cooperate`` for the work plan, else
    ``responsible``. ``opened_on``, when given, is the first day nudges may refer to.
    """

    kind: str
    year: int
    due: date
    party: str
    party_kind: str  # department | region
    confirmed: bool = False
    role: str = "responsible"
    opened_on: date | None = None

    def __post_init__(self) -> None:
        if self.kind not in OBLIGATION_KINDS and not is_task_kind(self.kind):
            raise ValueError(f"unknown obligation kind {self.kind!r}")
        if self.party_kind not in (DEPARTMENT, REGION):
            raise ValueError(f"unknown party kind {self.party_kind!r}")

    @property
    def id(self) -> str:
        """``"county_report/2026"``: the obligation as :attr:`DueItem.obligation` names it."""
        return f"{self.kind}/{self.year}"


@dataclass(frozen=True, slots=True)
class NoticeHistory:
    """A notice (通报) issued to ``party`` on ``issued_on``."""

    party: str
    issued_on: date


# --- output -------------------------------------------------------------------------------


class Recipient(NamedTuple):
    """A chat to send to: ``("department", "industry")``, ``("region", "玛纳斯县")`` or
    ``("coordinators", "coordinators")``."""

    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class DueItem:
    """One message (or record) due at the sweep's moment.

    ``due_at`` is the day the step fell due; ``deadline`` the deadline it is about (for
    ``unaccepted``: the day the case was routed to the department); ``party`` / ``party_kind``
    whose work is late, also on a coordinator item (``enterprise`` for the credit flag).
    ``reason`` is ``"second_notice"`` on a summons brought forward by a second notice.
    ``supersedes`` lists earlier keys of the same chain that this item replaces;
    ``covers`` lists the keys of other cases merged into this notice or summons. Record
    :attr:`done_keys` once the item is sent.
    """

    key: str
    kind: str
    recipient_kind: str
    recipient: str
    case_refs: tuple[str, ...]
    obligation: str | None
    due_at: date
    step: str
    send_after: datetime
    supersedes: tuple[str, ...] = ()
    party: str = ""
    party_kind: str = ""
    deadline: date | None = None
    covers: tuple[str, ...] = ()
    reason: str = ""
    wait: str = ""  # the wait the deadline ends (WAIT_*), "" for a deadline of the text

    @property
    def done_keys(self) -> tuple[str, ...]:
        """Every key this item discharges: its own, the merged ones and the superseded."""
        return (self.key, *self.covers, *self.supersedes)

    @property
    def recipient_id(self) -> Recipient:
        return Recipient(self.recipient_kind, self.recipient)


# --- helpers -------------------------------------------------------------------------------


def _key(kind: str, subject: str, subject_id: str, party: str, on: date, step: str) -> str:
    return f"{kind}:{subject}:{subject_id}:{party}:{on.isoformat()}:{step}"


@dataclass(frozen=True, slots=True)
class _Step:
    """A step of a chain before it is turned into a DueItem."""

    key: str
    kind: str
    step: str
    on: date
    recipient: Recipient
    nudge: bool = False


@dataclass(frozen=True, slots=True)
class _Subject:
    """A deadline of one party: a case's department or a yearly obligation."""

    subject: str  # case | obligation
    subject_id: str
    party: str
    party_kind: str
    deadline: date
    start: date | None
    nudge_kind: str
    case_refs: tuple[str, ...] = ()
    obligation: str | None = None
    skipped: frozenset[str] = frozenset()
    wait: str = ""
    #: False for a participant of a joint duty: reminded, never named in a notice or summons
    formal: bool = True

    def key(self, kind: str, step: str, on: date | None = None) -> str:
        return _key(kind, self.subject, self.subject_id, self.party,
                    self.deadline if on is None else on, step)


@dataclass
class _Sweep:
    """The fixed context of one sweep."""

    today: date
    send_after: datetime
    calendar: WorkCalendar
    settings: EscalationSettings
    sent: Container[str]
    notices: Sequence[NoticeHistory]
    items: list[DueItem] = field(default_factory=list)
    #: the dates of a deadline's chain, per (deadline, start): thousands of cases share one
    _plans: dict[tuple[date, date | None], _Plan] = field(default_factory=dict)
    #: a chain's due steps, per (plan, deadline, skipped steps, nudge kind): see chain()
    _chains: dict[tuple[int, date, frozenset[str], str],
                  tuple[tuple[tuple[str, str, date], ...], int | None]] = field(
        default_factory=dict)

    def plan(self, deadline: date, start: date | None) -> _Plan:
        """The days the steps of a deadline's chain fall on (see :func:`_deadline_items`)."""
        found = self._plans.get((deadline, start))
        if found is None:
            found = self._plans[(deadline, start)] = _plan(deadline, start, self)
        return found

    def chain(self, plan: _Plan, deadline: date, skipped: frozenset[str], nudge_kind: str
              ) -> tuple[tuple[tuple[str, str, date], ...], int | None]:
        """The steps of a deadline's chain due by today and not skipped, as (kind, step,
        day), earliest first, and which of them is the latest still live (a nudge is not,
        once the deadline has passed); ``None``: none is."""
        memo = (id(plan), deadline, skipped, nudge_kind)
        found = self._chains.get(memo)
        if found is None:
            chain = [*((step, on, True) for step, on in plan.nudges),
                     (STEP_OVERDUE, plan.overdue, False), (STEP_REMINDER, plan.reminder, False)]
            past_deadline = self.today > deadline
            kinds = {STEP_OVERDUE: KIND_OVERDUE, STEP_REMINDER: KIND_REMINDER}
            due = [(kinds.get(step, nudge_kind), step, on, nudge) for step, on, nudge in chain
                   if on <= self.today and step not in skipped]
            live = [i for i, (*_rest, nudge) in enumerate(due)
                    if not (nudge and past_deadline)]
            found = self._chains[memo] = (tuple((kind, step, on) for kind, step, on, _n in due),
                                          live[-1] if live else None)
        return found

    def emit(self, subject: _Subject, step: _Step, *, supersedes: tuple[str, ...] = (),
             reason: str = "") -> None:
        self.items.append(DueItem(
            key=step.key, kind=step.kind, recipient_kind=step.recipient.kind,
            recipient=step.recipient.name, case_refs=subject.case_refs,
            obligation=subject.obligation, due_at=step.on, step=step.step,
            send_after=self.send_after, supersedes=supersedes, party=subject.party,
            party_kind=subject.party_kind, deadline=subject.deadline, reason=reason,
            wait=subject.wait,
        ))

    def open(self, step: _Step, skipped: frozenset[str]) -> bool:
        """Due by today, not sent, not skipped."""
        return step.on <= self.today and step.key not in self.sent and step.step not in skipped


@dataclass(frozen=True, slots=True)
class _Plan:
    """The days of one deadline's chain for a party that got the work on ``start``."""

    nudges: tuple[tuple[str, date], ...]  # (step, day), earliest first
    overdue: date
    reminder: date
    notice: date
    summons: date
    follow_up: date | None  # the latest follow-up after the summons due by today
    renotice: date | None  # the latest monthly renotice due by today


def _plan(deadline: date, start: date | None, sweep: _Sweep) -> _Plan:
    base = deadline
    if start is not None and start > base:
        # The party got the work after its deadline (an imported overdue case, a department
        # added late): no retroactive escalation; its ladder counts from that day.
        base = start - timedelta(days=1)
    overdue, reminder, notice, summons = _ladder_dates(base, sweep)
    return _Plan(_nudge_days(deadline, start, sweep), overdue, reminder, notice, summons,
                 _latest_every(summons, sweep), _latest_renotice(summons, sweep))


def _nudge_days(deadline: date, start: date | None, sweep: _Sweep) -> tuple[tuple[str, date], ...]:
    calendar = sweep.calendar
    points: list[tuple[str, date]] = []
    days = sorted({n for n in sweep.settings.nudge_days_before if n >= 0}, reverse=True)
    for n in days:
        raw = deadline - timedelta(days=n)
        if start is not None and raw < start:
            continue  # before the party had the work: the point does not exist
        on = calendar.previous_working_day(raw)
        if start is not None and on < start:
            on = start
        points.append((nudge_step(n), on))
    return tuple(points)


def _ladder_dates(deadline: date, sweep: _Sweep) -> tuple[date, date, date, date]:
    """The days the overdue reminder, the second reminder, the notice and the summons fall
    due; never earlier than the step before."""
    settings, calendar = sweep.settings, sweep.calendar
    overdue = deadline + timedelta(days=1 + settings.reminder_after_days)
    reminder = max(overdue, calendar.add_working_days(
        deadline, settings.second_reminder_after_working_days))
    notice = max(reminder, calendar.add_working_days(
        deadline, settings.notice_after_working_days))
    summons = max(notice, calendar.add_working_days(
        deadline, settings.summons_after_working_days))
    return overdue, reminder, notice, summons


def _deadline_items(subject: _Subject, sweep: _Sweep) -> None:
    """Nudges, reminders, notice and summons for one party's unconfirmed deadline (a step's
    key is made only once its day has come: most of a chain lies ahead)."""
    party = Recipient(subject.party_kind, subject.party)
    coordinators = Recipient(COORDINATORS, COORDINATORS)
    plan = sweep.plan(subject.deadline, subject.start)
    today, skipped = sweep.today, subject.skipped
    due, latest_at = sweep.chain(plan, subject.deadline, skipped, subject.nudge_kind)
    if latest_at is not None:
        # a key is kind:subject:id:party:deadline:step (see _Subject.key)
        middle = (f":{subject.subject}:{subject.subject_id}:{subject.party}:"
                  f"{subject.deadline.isoformat()}:")
        kind, step, on = due[latest_at]
        key = f"{kind}{middle}{step}"
        if key not in sweep.sent:
            earlier = tuple(k for k in (f"{kind}{middle}{step}"
                                        for kind, step, _on in due[:latest_at])
                            if k not in sweep.sent)
            sweep.emit(subject, _Step(key, kind, step, on, party), supersedes=earlier)

    if plan.reminder <= today and STEP_REMINDER not in skipped:
        copy = _Step(subject.key(KIND_REMINDER, STEP_REMINDER_CC), KIND_REMINDER,
                     STEP_REMINDER_CC, plan.reminder, coordinators)
        if sweep.open(copy, skipped):
            sweep.emit(subject, copy)
    if not subject.formal:
        return

    notice_now = False
    if plan.notice <= today:
        notice = _Step(subject.key(KIND_NOTICE, STEP_NOTICE), KIND_NOTICE, STEP_NOTICE,
                       plan.notice, party)
        notice_now = sweep.open(notice, skipped)
        if notice_now:
            sweep.emit(subject, notice)
    if plan.summons <= today or notice_now:
        summons = _Step(subject.key(KIND_SUMMONS, STEP_SUMMONS), KIND_SUMMONS, STEP_SUMMONS,
                        plan.summons, party)
        if sweep.open(summons, skipped):
            sweep.emit(subject, summons)
        elif (notice_now and summons.key not in sweep.sent and STEP_SUMMONS not in skipped
              and _had_recent_notice(subject.party, sweep)):
            sweep.emit(subject, replace(summons, on=today), reason=REASON_SECOND_NOTICE)
    _follow_up(subject, plan.follow_up, party, sweep)
    _renotice(subject, plan.renotice, party, sweep)


def _latest_renotice(summons_on: date, sweep: _Sweep) -> date | None:
    """The latest monthly renotice day after the summons, up to today."""
    latest: date | None = None
    for months in range(1, MAX_FOLLOW_UPS):
        on = sweep.calendar.next_working_day(add_months(summons_on, months))
        if on > sweep.today:
            break
        latest = on
    return latest


def _renotice(subject: _Subject, latest: date | None, party: Recipient, sweep: _Sweep) -> None:
    """After the summons the work is still not done: every month, the party is in the
    round's 通报 again (the latest month due; skipping ``notice`` or ``renotice`` stops it)."""
    if {STEP_RENOTICE, STEP_NOTICE} & subject.skipped or latest is None:
        return
    step = _Step(subject.key(KIND_NOTICE, STEP_RENOTICE, on=latest), KIND_NOTICE,
                 STEP_RENOTICE, latest, party)
    if step.key not in sweep.sent:
        sweep.emit(subject, step)


def _laggard_items(cases: Sequence[CaseSnapshot], sweep: _Sweep) -> None:
    """Clause （二十）: a county or park whose cases lag is named in the 通报 (once a month
    while it lags), and summoned when it was named in a notice within the second-notice
    window. It lags with ``laggard_overdue_cases`` overdue cases, or with one case overdue
    by ``laggard_working_days`` working days (a threshold of 0 is off)."""
    settings = sweep.settings
    late: dict[str, list[tuple[CaseSnapshot, int]]] = defaultdict(list)
    for case in cases:
        if case.closed or case.paused or case.deadline is None or case.deadline >= sweep.today:
            continue
        if case.state == State.REVIEW:  # the county's part is done; the review is not its
            continue
        if case.required and all(s.confirmed for s in case.required):
            continue
        late[case.region].append(
            (case, sweep.calendar.working_days_between(case.deadline, sweep.today)))
    month = sweep.today.replace(day=1)
    for region, found in sorted(late.items()):
        by_count = 0 < settings.laggard_overdue_cases <= len(found)
        by_days = 0 < settings.laggard_working_days <= max(days for _, days in found)
        if not (by_count or by_days):
            continue
        subject = _Subject(
            subject="region", subject_id=region, party=region, party_kind=REGION,
            deadline=min(c.deadline for c, _ in found if c.deadline is not None), start=None,
            nudge_kind=KIND_NUDGE, case_refs=tuple(sorted(c.ref for c, _ in found)))
        notice = _Step(laggard_notice_key(region, sweep.today), KIND_NOTICE,
                       STEP_LAGGARD, sweep.today, Recipient(REGION, region))
        if notice.key in sweep.sent:
            continue
        sweep.emit(subject, notice)
        summons = _Step(subject.key(KIND_SUMMONS, STEP_LAGGARD, on=month), KIND_SUMMONS,
                        STEP_LAGGARD, sweep.today, Recipient(REGION, region))
        if summons.key not in sweep.sent and _had_recent_notice(region, sweep):
            sweep.emit(subject, summons, reason=REASON_SECOND_NOTICE)


def laggard_notice_key(region: str, today: date) -> str:
    """The key of the month's 通报 naming ``region`` for its lagging cases: once it is sent,
    nothing more is due for the region's laggards that month."""
    return _key(KIND_NOTICE, "region", region, region, today.replace(day=1), STEP_LAGGARD)


def _follow_up(subject: _Subject, latest: date | None, party: Recipient, sweep: _Sweep, *,
               kind: str = KIND_REMINDER, name: str = STEP_FOLLOW_UP) -> None:
    """After the summons (or the acceptance alert) the work is still not done: remind the
    party every N working days (``latest``: the latest one due, :func:`_latest_every`; one
    missed while the bot was down is not sent late as well)."""
    if name in subject.skipped or latest is None:
        return
    step = _Step(subject.key(kind, name, on=latest), kind, name, latest, party)
    if step.key not in sweep.sent:
        sweep.emit(subject, step)


def _latest_every(start: date, sweep: _Sweep, *, inclusive: bool = False) -> date | None:
    """The latest day, up to today, of the series every N working days after ``start``
    (``start`` itself in the series when ``inclusive``)."""
    every = max(1, sweep.settings.follow_up_every_working_days)
    latest: date | None = start if inclusive and start <= sweep.today else None
    current = start
    for _ in range(MAX_FOLLOW_UPS):
        current = sweep.calendar.add_working_days(current, every)
        if current > sweep.today:
            break
        latest = current
    return latest


def _had_recent_notice(party: str, sweep: _Sweep) -> bool:
    window = timedelta(days=sweep.settings.second_notice_window_days)
    return any(
        n.party == party and sweep.today - window <= n.issued_on <= sweep.today
        for n in sweep.notices
    )


def _case_items(case: CaseSnapshot, sweep: _Sweep) -> None:
    if case.closed or case.paused:
        return
    if case.state == State.REVIEW:
        _unreviewed_items(case, sweep)  # the coordinators' work: nothing to the departments
        return
    skipped = frozenset(case.skipped_steps)
    refs = (case.ref,)  # one tuple for the case's items
    coordinators = Recipient(COORDINATORS, COORDINATORS)
    if not case.required:
        _unrouted_items(case, sweep)
    for status in case.required:
        start = status.routed_on or case.routed_on
        if not status.accepted:
            _unaccepted_items(case, status.department, start, sweep)
        if case.deadline is not None and not status.confirmed:
            _deadline_items(_Subject(
                subject="case", subject_id=case.ref, party=status.department,
                party_kind=DEPARTMENT, deadline=case.deadline, start=start,
                nudge_kind=KIND_NUDGE, case_refs=refs, skipped=skipped,
                wait=case.deadline_kind if case.deadline_kind in WAIT_KINDS else "",
            ), sweep)
    if case.deadline is None or sweep.today <= case.deadline:
        return
    if case.required and all(s.confirmed for s in case.required):
        return
    if case.deadline_kind in EXIT_DEADLINE_KINDS or case.failing_exit:
        subject = _Subject(
            subject="case", subject_id=case.ref, party="enterprise", party_kind="enterprise",
            deadline=case.deadline, start=None, nudge_kind=KIND_NUDGE,
            case_refs=refs, skipped=skipped,
        )
        flag = _Step(subject.key(KIND_CREDIT_FLAG, STEP_CREDIT_FLAG), KIND_CREDIT_FLAG,
                     STEP_CREDIT_FLAG, case.deadline + timedelta(days=1), coordinators)
        if sweep.open(flag, skipped):
            sweep.emit(subject, flag)


def _unrouted_items(case: CaseSnapshot, sweep: _Sweep) -> None:
    """No department has the case yet (its tag names a group, "相关部门", for the coordinators
    to resolve): remind the coordinators after the acceptance reminder's working days, and
    again every N working days until they name the departments."""
    first = sweep.calendar.add_working_days(case.routed_on,
                                            sweep.settings.unaccepted_reminder_working_days)
    _coordinators_series(case, STEP_UNROUTED, first, case.routed_on, sweep)


def _unreviewed_items(case: CaseSnapshot, sweep: _Sweep) -> None:
    """A confirmed closing waits for the coordinators' review: remind them on the day the
    review's wait ends (``deadline``, the case's due day), and again every N working days
    until they close the case or send it back."""
    if case.deadline is not None:
        _coordinators_series(case, STEP_UNREVIEWED, case.deadline, case.deadline, sweep)


def _coordinators_series(case: CaseSnapshot, name: str, first: date, since: date,
                         sweep: _Sweep) -> None:
    """The coordinators' own reminder ``name`` about a case: on ``first`` and every N working
    days after it (the latest one due), keyed by ``since``, until the work is done."""
    if name in case.skipped_steps or first > sweep.today:
        return
    latest = _latest_every(first, sweep, inclusive=True)
    assert latest is not None
    subject = _Subject(
        subject="case", subject_id=case.ref, party=COORDINATORS, party_kind=COORDINATORS,
        deadline=since, start=since, nudge_kind=KIND_NUDGE,
        case_refs=(case.ref,), skipped=frozenset(case.skipped_steps))
    step = _Step(subject.key(KIND_UNACCEPTED, name, on=latest), KIND_UNACCEPTED,
                 name, latest, Recipient(COORDINATORS, COORDINATORS))
    if step.key not in sweep.sent:
        sweep.emit(subject, step)


def _unaccepted_items(case: CaseSnapshot, department: str, start: date, sweep: _Sweep) -> None:
    subject = _Subject(
        subject="case", subject_id=case.ref, party=department, party_kind=DEPARTMENT,
        deadline=start, start=start, nudge_kind=KIND_NUDGE, case_refs=(case.ref,),
        skipped=frozenset(case.skipped_steps),
    )
    settings = sweep.settings
    steps = (
        (STEP_UNACCEPTED_REMINDER, settings.unaccepted_reminder_working_days,
         Recipient(DEPARTMENT, department)),
        (STEP_UNACCEPTED_ALERT, settings.unaccepted_alert_working_days,
         Recipient(COORDINATORS, COORDINATORS)),
    )
    for name, working_days, recipient in steps:
        step = _Step(subject.key(KIND_UNACCEPTED, name), KIND_UNACCEPTED, name,
                     sweep.calendar.add_working_days(start, working_days), recipient)
        if sweep.open(step, subject.skipped):
            # ``deadline`` of an unaccepted item is the routing day its clock counts from.
            sweep.emit(subject, step)
    alert_on = sweep.calendar.add_working_days(start, settings.unaccepted_alert_working_days)
    _follow_up(subject, _latest_every(alert_on, sweep), Recipient(DEPARTMENT, department),
               sweep, kind=KIND_UNACCEPTED, name=STEP_UNACCEPTED_FOLLOW_UP)


def _obligation_items(obligation: ObligationSnapshot, sweep: _Sweep,
                      joint: Mapping[str, bool] | None = None) -> None:
    """One party's duty. A participant of a joint duty (``role`` ``cooperate`` beside a
    lead: the work plan of （十九）, whose leads answer for it) is reminded, never escalated,
    and has nothing more due once the joint duty is submitted (``joint``: see
    :func:`joint_duties`)."""
    if obligation.confirmed:
        return
    done = (joint or {}).get(obligation.id)
    partner = obligation.role == ROLE_COOPERATE and done is not None
    if partner and done:
        return
    _deadline_items(_Subject(
        subject="obligation", subject_id=obligation.id, party=obligation.party,
        party_kind=obligation.party_kind, deadline=obligation.due, start=obligation.opened_on,
        nudge_kind=KIND_OBLIGATION_NUDGE, obligation=obligation.id, formal=not partner,
    ), sweep)


def joint_duties(obligations: Iterable[ObligationSnapshot]) -> dict[str, bool]:
    """The joint duties (by :attr:`ObligationSnapshot.id`: those with a lead), and whether
    each is submitted: every lead has confirmed it (the one work plan is in). A duty without
    a lead is not joint: each party answers for its own."""
    leads: dict[str, list[bool]] = defaultdict(list)
    for obligation in obligations:
        if obligation.role == ROLE_LEAD:
            leads[obligation.id].append(obligation.confirmed)
    return {duty: all(confirmed) for duty, confirmed in leads.items()}


def _merge_formal(items: list[DueItem]) -> list[DueItem]:
    """One notice and one summons per party and sweep for case work (see the module doc)."""
    groups: dict[tuple[str, str, str], list[DueItem]] = defaultdict(list)
    rest: list[DueItem] = []
    for item in items:
        if item.kind in (KIND_NOTICE, KIND_SUMMONS) and item.obligation is None:
            groups[(item.kind, item.recipient_kind, item.recipient)].append(item)
        else:
            rest.append(item)
    for group in groups.values():
        group.sort(key=lambda i: i.key)
        first = group[0]
        rest.append(replace(
            first,
            case_refs=tuple(sorted({ref for i in group for ref in i.case_refs})),
            due_at=min(i.due_at for i in group),
            deadline=min((i.deadline for i in group if i.deadline is not None), default=None),
            covers=tuple(i.key for i in group[1:]),
            supersedes=tuple(k for i in group for k in i.supersedes),
            reason=REASON_SECOND_NOTICE if any(i.reason for i in group) else "",
        ))
    return rest


_KIND_ORDER = {kind: i for i, kind in enumerate(PREVIEW_KINDS)}
_RECIPIENT_ORDER = {COORDINATORS: 0, DEPARTMENT: 1, REGION: 2}


def _sort_key(item: DueItem) -> tuple[int, str, int, date, str]:
    return (_RECIPIENT_ORDER.get(item.recipient_kind, 9), item.recipient,
            _KIND_ORDER.get(item.kind, 99), item.due_at, item.key)


# --- the sweep ---------------------------------------------------------------------------


#: Stands for a case's reference in the items of a shape (a reference never holds it).
_REF = "\x00ref\x00"
#: How many histories of sent keys one shape remembers before its cases are worked out
#: one at a time.
_SHAPE_VARIANTS = 4


class _Asked:
    """The sent keys as the items of a shape are worked out: ``_REF`` in a key stands for
    ``ref``; every question and its answer is kept, in order."""

    __slots__ = ("answers", "ref", "sent")

    def __init__(self, sent: Container[str], ref: str) -> None:
        self.sent, self.ref = sent, ref
        self.answers: list[tuple[str, bool]] = []

    def __contains__(self, key: object) -> bool:
        assert isinstance(key, str)
        answer = key.replace(_REF, self.ref) in self.sent
        self.answers.append((key, answer))
        return answer


class _Shapes:
    """A case's items worked out once per shape: cases alike in everything but their
    reference (thousands of an import: one clause, deadline, departments and routing day).

    :func:`_case_items` reads a case's reference only to write it into keys and
    ``case_refs``, and the sent keys only by asking whether a key is among them. So the
    items of a shape are worked out for ``_REF``, with every question about the sent keys
    and its answer written down; a case of that shape whose sent keys give the same answers
    to the same questions has the same items with its own reference in place of ``_REF``
    (the rules are deterministic: the same answers lead down the same path). Any other case
    is worked out and remembered, up to ``_SHAPE_VARIANTS`` histories per shape.
    """

    def __init__(self) -> None:
        self._known: dict[tuple[object, ...], list[
            tuple[tuple[tuple[str, bool], ...], tuple[DueItem, ...]]]] = {}

    def case_items(self, case: CaseSnapshot, sweep: _Sweep) -> None:
        if case.closed or case.paused:
            return
        ref, sent = case.ref, sweep.sent
        shape = (case.region, case.clause, case.state, case.deadline, case.deadline_kind,
                 case.routed_on, case.required, case.skipped_steps, case.failing_exit)
        variants = self._known.setdefault(shape, [])
        refs = (ref,)  # one tuple for the case's items, as _case_items gives them
        for answers, items in variants:
            if all((key.replace(_REF, ref) in sent) is answer for key, answer in answers):
                sweep.items.extend(_with_ref(item, ref, refs) for item in items)
                return
        if len(variants) >= _SHAPE_VARIANTS:
            _case_items(case, sweep)
            return
        asked = _Asked(sent, ref)
        own = _Sweep(today=sweep.today, send_after=sweep.send_after,
                     calendar=sweep.calendar, settings=sweep.settings, sent=asked,
                     notices=sweep.notices, _plans=sweep._plans, _chains=sweep._chains)
        _case_items(replace(case, ref=_REF), own)
        variants.append((tuple(asked.answers), tuple(own.items)))
        sweep.items.extend(_with_ref(item, ref, refs) for item in own.items)


_OWN_REF = (_REF,)


def _with_ref(item: DueItem, ref: str, refs: tuple[str, ...]) -> DueItem:
    """``item`` of a shape (see :class:`_Shapes`) for the case ``ref``; ``refs``: ``(ref,)``,
    shared by the case's items."""
    return DueItem(
        key=item.key.replace(_REF, ref), kind=item.kind, recipient_kind=item.recipient_kind,
        recipient=item.recipient,
        case_refs=refs if item.case_refs == _OWN_REF else tuple(
            r.replace(_REF, ref) for r in item.case_refs),
        obligation=item.obligation, due_at=item.due_at, step=item.step,
        send_after=item.send_after,
        supersedes=tuple(k.replace(_REF, ref) for k in item.supersedes),
        party=item.party, party_kind=item.party_kind, deadline=item.deadline,
        covers=tuple(k.replace(_REF, ref) for k in item.covers), reason=item.reason,
        wait=item.wait)


def due_items(
    cases: Iterable[CaseSnapshot],
    obligations: Iterable[ObligationSnapshot],
    notices: Iterable[NoticeHistory],
    sent_keys: Set[str],
    now: datetime,
    calendar: WorkCalendar,
    settings: EscalationSettings,
    tz: tzinfo = SHANGHAI,
) -> list[DueItem]:
    """Everything due at the first moment the bot may send at or after ``now``.

    ``sent_keys`` holds every key already sent, superseded or covered. The items are sorted
    by recipient (coordinators, departments, regions), kind and date; all carry the same
    ``send_after``. See the module docstring for the rules.
    """
    send_after = next_send_time(now, calendar, settings.office_hours, tz)
    sweep = _Sweep(
        today=send_after.astimezone(tz).date(), send_after=send_after, calendar=calendar,
        settings=settings, sent=sent_keys, notices=tuple(notices),
    )
    cases = list(cases)
    shapes = _Shapes()
    for case in cases:
        shapes.case_items(case, sweep)
    _laggard_items(cases, sweep)
    obligations = list(obligations)
    joint = joint_duties(obligations)
    for obligation in obligations:
        _obligation_items(obligation, sweep, joint)
    return sorted(_merge_formal(sweep.items), key=_sort_key)


def next_check(case: CaseSnapshot, after: date, calendar: WorkCalendar,
               settings: EscalationSettings) -> date | None:
    """The first day after ``after`` on which a step of ``case`` falls: before then a sweep
    has nothing new to say about it unless the case changes. ``None`` when nothing can fall
    due any more (closed, paused: changing that is a change to the case).

    A lower bound, not a promise: the step may turn out to be sent, skipped, superseded or
    not live (a nudge after its deadline). Every item :func:`due_items` makes for the case on
    a day ``d`` has a step falling on a day in ``(after, d]``, provided every item due on
    ``after`` was recorded then (the caller keeps a case with held items due) and the case
    did not change (the caller resets the day on every change). The laggards of clause
    （二十） are about a county, not a case: the caller passes every overdue case to
    :func:`due_items` as well. Tested against :func:`due_items` on random histories.
    """
    if case.closed or case.paused:
        return None
    sweep = _Sweep(today=after, send_after=datetime.max, calendar=calendar,
                   settings=settings, sent=frozenset(), notices=())
    days: list[date] = []
    if case.state == State.REVIEW:
        if case.deadline is None:
            return None
        days = [case.deadline, *_series_after(case.deadline, after, sweep)]
        return min((d for d in days if d > after), default=None)
    if not case.required:
        first = calendar.add_working_days(case.routed_on, settings.unaccepted_reminder_working_days)
        days += [first, *_series_after(first, after, sweep)]
    for status in case.required:
        start = status.routed_on or case.routed_on
        if not status.accepted:
            alert_on = calendar.add_working_days(start, settings.unaccepted_alert_working_days)
            days += [calendar.add_working_days(start, settings.unaccepted_reminder_working_days),
                     alert_on, *_series_after(alert_on, after, sweep)]
        if case.deadline is not None and not status.confirmed:
            subject = _Subject(subject="case", subject_id=case.ref, party=status.department,
                               party_kind=DEPARTMENT, deadline=case.deadline, start=start,
                               nudge_kind=KIND_NUDGE)
            days += _deadline_days(subject, after, sweep)
    if case.deadline is not None and (case.deadline_kind in EXIT_DEADLINE_KINDS
                                      or case.failing_exit):
        days.append(case.deadline + timedelta(days=1))
    return min((d for d in days if d > after), default=None)


def _deadline_days(subject: _Subject, after: date, sweep: _Sweep) -> list[date]:
    """The days the steps of :func:`_deadline_items` fall on, the next of each monthly or
    every-N-working-days series after ``after`` included."""
    plan = sweep.plan(subject.deadline, subject.start)
    ladder = (plan.overdue, plan.reminder, plan.notice, plan.summons)
    summons_on = plan.summons
    nudges = [on for _step, on in plan.nudges]
    renotice = next((day for months in range(1, MAX_FOLLOW_UPS)
                     if (day := sweep.calendar.next_working_day(add_months(summons_on, months)))
                     > after), None)
    return [*nudges, *ladder, *_series_after(summons_on, after, sweep),
            *([renotice] if renotice else [])]


def _series_after(start: date, after: date, sweep: _Sweep) -> list[date]:
    """The first day after ``after`` of the series every N working days after ``start``
    (as :func:`_latest_every` walks it)."""
    every = max(1, sweep.settings.follow_up_every_working_days)
    current = start
    for _ in range(MAX_FOLLOW_UPS):
        current = sweep.calendar.add_working_days(current, every)
        if current > after:
            return [current]
    return []


def group_by_recipient(items: Iterable[DueItem]) -> dict[Recipient, list[DueItem]]:
    """The items per chat, for one digest message each; order within a chat is kept."""
    grouped: dict[Recipient, list[DueItem]] = {}
    for item in items:
        grouped.setdefault(item.recipient_id, []).append(item)
    return grouped


def years_in_view(
    cases: Iterable[CaseSnapshot],
    obligations: Iterable[ObligationSnapshot],
    now: datetime,
    tz: tzinfo = SHANGHAI,
) -> tuple[int, ...]:
    """The years whose working days the open work depends on, for the coverage warning.

    This year, and the year of every open deadline with the next year too (the overdue
    ladder of a December deadline runs into January).
    """
    years = {now.astimezone(tz).year}
    for case in cases:
        if case.deadline is not None and not case.closed:
            years |= {case.deadline.year, case.deadline.year + 1}
    for obligation in obligations:
        if not obligation.confirmed:
            years |= {obligation.due.year, obligation.due.year + 1}
    return tuple(sorted(years))


# --- notice numbers -------------------------------------------------------------------------

_NOTICE_NUMBER = re.compile(r"(?P<prefix>.+?)〔(?P<year>\d{4})〕(?P<n>\d+)号")


def format_notice_number(prefix: str, year: int, n: int) -> str:
    """``昌州经信督〔2026〕3号``: the number of the ``n``-th notice of ``year``."""
    if not prefix.strip():
        raise ValueError("a notice number needs a prefix")
    if not 1000 <= year <= 9999:
        raise ValueError(f"not a four-digit year: {year}")
    if n < 1:
        raise ValueError(f"notice numbers start at 1, not {n}")
    return f"{prefix.strip()}〔{year}〕{n}号"


def parse_notice_number(text: str) -> tuple[str, int, int]:
    """The inverse of :func:`format_notice_number`: ``(prefix, year, n)``."""
    match = _NOTICE_NUMBER.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a notice number: {text!r}")
    return match.group("prefix"), int(match.group("year")), int(match.group("n"))


# --- the yearly calendar ------------------------------------------------------------------


@dataclass(frozen=True)
class AnnualRule:
    """A yearly duty's date: ``month``/``day`` of the year, or of the next (``next_year``)."""

    kind: str
    month: int
    day: int
    next_year: bool = False

    def due(self, year: int) -> date:
        """The due date of the duty about ``year`` (clamped to the month's last day)."""
        target = year + 1 if self.next_year else year
        return date(target, self.month, min(self.day, month_end(target, self.month)))


DEFAULT_ANNUAL_RULES = (
    AnnualRule(WORK_PLAN, 3, 31),
    AnnualRule(COUNTY_REPORT, 11, 30),
    AnnualRule(DEPARTMENT_LETTER, 12, 31),
    AnnualRule(ANNUAL_REPORT, 1, 31, next_year=True),
    AnnualRule(REGION_WORK_PLAN, 3, 31),
)
_MONTH_KINDS = {3: WORK_PLAN, 11: COUNTY_REPORT, 12: DEPARTMENT_LETTER}


def _is_region_plan(text: str) -> bool:
    """The cover letter's 一、二1: each county and park drafts a work plan (工作方案) and has
    it approved by its government (报请当地人民政府同意)."""
    return "工作方案" in text and ("县" in text or "园区" in text)


def _classify(kind: str, month: int, text: str) -> str | None:
    if kind == "annual_next_year":
        return ANNUAL_REPORT
    if _is_region_plan(text):
        return REGION_WORK_PLAN
    if "工作方案" in text:
        return WORK_PLAN
    if "函告" in text:
        return DEPARTMENT_LETTER
    if ("县" in text and "园区" in text) or "我委" in text:
        return COUNTY_REPORT
    return _MONTH_KINDS.get(month)


def annual_rules(catalog: Catalog) -> tuple[AnnualRule, ...]:
    """The yearly duties' dates as the catalog states them, the defaults for the rest.

    A yearly deadline (``annual`` or ``annual_next_year``) is matched to a duty by its
    paragraph (工作方案: the work plan; 函告: the departments' letter; 县…园区 or 我委: the
    county report; 次年: the annual report), else by its month (3, 11, 12). The first match of
    each duty wins.

    The counties' and parks' own work plan (the cover letter's 一、二1: 工作方案 with 县 or
    园区) takes its paragraph's date when it gives one; the seed's gives none, so it is due
    with the departments' work plan of （十九） (每年3月底前): the county plan implements the
    year's plan, and both are drafted for the same season.
    """
    found: dict[str, AnnualRule] = {}
    for clause in catalog.clauses:
        for paragraph in clause.paragraphs:
            for deadline in paragraph.deadlines:
                if deadline.kind not in ("annual", "annual_next_year"):
                    continue
                if deadline.month is None or deadline.day is None:
                    continue
                kind = _classify(deadline.kind, deadline.month, paragraph.text)
                if kind is None or kind in found:
                    continue
                found[kind] = AnnualRule(kind, deadline.month, deadline.day,
                                         next_year=deadline.kind == "annual_next_year")
    return _with_region_plan({rule.kind: found.get(rule.kind, rule)
                              for rule in DEFAULT_ANNUAL_RULES}, found)


def _with_region_plan(rules: Mapping[str, AnnualRule],
                      given: Mapping[str, AnnualRule]) -> tuple[AnnualRule, ...]:
    """The rules in :data:`DEFAULT_ANNUAL_RULES` order; the county work plan on the work
    plan's date unless ``given`` has a date of its own for it."""
    result = dict(rules)
    if REGION_WORK_PLAN not in given:
        result[REGION_WORK_PLAN] = replace(result[WORK_PLAN], kind=REGION_WORK_PLAN)
    return tuple(result[rule.kind] for rule in DEFAULT_ANNUAL_RULES)


# --- who owes the yearly duties -----------------------------------------------------------


@dataclass(frozen=True)
class DutyOwners:
    """Who owes the departments' yearly duties, as department keys (in the tag's order).

    ``work_plan_leads`` answer for the one joint work plan, ``work_plan_partners`` draft it
    with them; ``letter_senders`` write the 31 December letter (函告) to
    ``letter_recipients``; ``annual_report`` writes the report due in January."""

    work_plan_leads: tuple[str, ...] = WORK_PLAN_LEADS
    work_plan_partners: tuple[str, ...] = WORK_PLAN_PARTNERS
    letter_senders: tuple[str, ...] = LETTER_DEPARTMENTS
    letter_recipients: tuple[str, ...] = LETTER_RECIPIENTS
    annual_report: tuple[str, ...] = ANNUAL_REPORT_DEPARTMENTS


def _split_tag(assignments: Sequence[TagAssignment]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(those who answer, those with them): the 牵头 departments and the others; without a
    牵头, the 负责 ones and the 配合 ones. Groups (no department) are left out."""
    leads, others, _ = owners_of(assignments, None)  # the tasks' reading of a tag
    return leads, others


def _duty_paragraphs(catalog: Catalog) -> dict[str, tuple[Clause, Paragraph]]:
    """The paragraph that sets each yearly duty (matched as :func:`annual_rules` matches its
    date), with its clause."""
    found: dict[str, tuple[Clause, Paragraph]] = {}
    for clause in catalog.clauses:
        for paragraph in clause.paragraphs:
            for deadline in paragraph.deadlines:
                if deadline.kind not in ("annual", "annual_next_year"):
                    continue
                kind = _classify(deadline.kind, deadline.month or 0, paragraph.text)
                if kind is not None:
                    found.setdefault(kind, (clause, paragraph))
    return found


def duty_sources(catalog: Catalog) -> frozenset[str]:
    """The paragraphs (``bot.core.tasks.source_key``) whose yearly date is one of the
    calendar's yearly duties (matched as :func:`annual_rules` matches it): they are not also
    proposed as tasks. A yearly date the calendar has no duty for (每年6月底前完成专项统计) is
    a task's."""
    found: set[str] = set()
    for clause in catalog.clauses:
        for index, paragraph in enumerate(clause.paragraphs):
            if any(_classify(d.kind, d.month or 0, paragraph.text) is not None
                   for d in paragraph.deadlines if d.kind in ("annual", "annual_next_year")):
                found.add(source_key(clause, index))
    return frozenset(found)


def _tag_of(clause: Clause, paragraph: Paragraph) -> tuple[TagAssignment, ...]:
    """The tag that applies to a paragraph: its own, else its clause's (（十九） closes with
    one tag for its three paragraphs)."""
    return paragraph.assignments() or clause.assignments()


def duty_owners(catalog: Catalog | None) -> DutyOwners:
    """Who owes the work plan, the letter and the annual report, from the catalog's tags.

    Each duty's paragraph (the one whose yearly date is the duty's, :func:`annual_rules`) is
    read with the tag that applies to it: its own, else its clause's.

    * work plan: the tag's 牵头 departments lead, the others (负责, 配合, 按职责分工落实)
      draft it with them;
    * annual report: the 牵头 departments (without a 牵头: the 负责 ones);
    * the letter: under a tag with a 牵头 (the clause's, as in （十九）), the others write to
      the 牵头 departments; under a tag of its own without one, its 负责 departments write
      to the work plan's leads.

    A duty whose paragraph or tag the catalog lacks keeps the owners of the guiding opinion
    (:class:`DutyOwners`' defaults)."""
    owners = DutyOwners()
    if catalog is None:
        return owners
    paragraphs = _duty_paragraphs(catalog)
    if WORK_PLAN in paragraphs:
        leads, others = _split_tag(_tag_of(*paragraphs[WORK_PLAN]))
        if leads:
            owners = replace(owners, work_plan_leads=leads, work_plan_partners=others,
                             letter_recipients=leads)
    if ANNUAL_REPORT in paragraphs:
        leads, _ = _split_tag(_tag_of(*paragraphs[ANNUAL_REPORT]))
        if leads:
            owners = replace(owners, annual_report=leads)
    if DEPARTMENT_LETTER in paragraphs:
        clause, paragraph = paragraphs[DEPARTMENT_LETTER]
        own = paragraph.assignments()
        leads, others = _split_tag(own or clause.assignments())
        if any(a.role == "lead" for a in own or clause.assignments()) and others:
            owners = replace(owners, letter_senders=others, letter_recipients=leads)
        elif leads:
            owners = replace(owners, letter_senders=leads)
    return owners


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class _Keyed(Protocol):
    @property
    def key(self) -> str: ...


def obligations_for_year(
    year: int,
    catalog_rules: Catalog | Iterable[AnnualRule] | None,
    regions: Iterable[str | _Named],
    departments: Iterable[str | _Keyed],
    owners: DutyOwners | None = None,
) -> list[ObligationSnapshot]:
    """The yearly duties about ``year``, one per party, not yet confirmed.

    * work plan (31 March): one joint plan; 工信、能源、煤炭 lead (``role`` ``lead``),
      发改、环保、质监、安监 with them (``cooperate``);
    * county work plan (31 March, the cover letter's 一、二1): every county and park, with
      its government's approval;
    * county report (30 November): every county and park (``regions``);
    * department letter (31 December): 发改、环保、质监、安监;
    * annual report on ``year`` (31 January of ``year + 1``): 工信、能源、煤炭.

    The departments are those the catalog's tags name (:func:`duty_owners`; ``owners``
    given, or read from ``catalog_rules`` when it is a catalog), the ones above where it
    names none. Only the departments in ``departments`` (keys, or objects with ``.key``
    such as ``OrgDepartment``) get duties. Dates come from ``catalog_rules`` (a catalog, or
    rules), the defaults above where it says nothing. A sweep in early ``Y`` wants the
    duties of ``Y - 1`` too (the annual report on ``Y - 1`` is due in January of ``Y``).
    """
    rules: tuple[AnnualRule, ...]
    if catalog_rules is None:
        rules = _with_region_plan({r.kind: r for r in DEFAULT_ANNUAL_RULES}, {})
    elif isinstance(catalog_rules, Catalog):
        rules = annual_rules(catalog_rules)
        owners = owners or duty_owners(catalog_rules)
    else:
        given = {rule.kind: rule for rule in catalog_rules}
        rules = _with_region_plan({rule.kind: given.get(rule.kind, rule)
                                   for rule in DEFAULT_ANNUAL_RULES}, given)
    owners = owners or DutyOwners()
    by_kind = {rule.kind: rule for rule in rules}
    dept_keys = {d if isinstance(d, str) else d.key for d in departments}
    region_names = list(dict.fromkeys(r if isinstance(r, str) else r.name for r in regions))

    result: list[ObligationSnapshot] = []

    def add(kind: str, party: str, party_kind: str, role: str = "responsible") -> None:
        result.append(ObligationSnapshot(kind=kind, year=year, due=by_kind[kind].due(year),
                                         party=party, party_kind=party_kind, role=role))

    for key in owners.work_plan_leads:
        if key in dept_keys:
            add(WORK_PLAN, key, DEPARTMENT, ROLE_LEAD)
    for key in owners.work_plan_partners:
        if key in dept_keys:
            add(WORK_PLAN, key, DEPARTMENT, ROLE_COOPERATE)
    for name in region_names:
        add(REGION_WORK_PLAN, name, REGION)
        add(COUNTY_REPORT, name, REGION)
    for key in owners.letter_senders:
        if key in dept_keys:
            add(DEPARTMENT_LETTER, key, DEPARTMENT)
    for key in owners.annual_report:
        if key in dept_keys:
            add(ANNUAL_REPORT, key, DEPARTMENT)
    result.sort(key=lambda o: (o.due, OBLIGATION_KINDS.index(o.kind)))
    return result
