"""Tasks (督办任务): the document's tagged duties, and the measures that follow a case.

A **task** is work one or more departments owe that is not an enterprise case: a tagged
paragraph of the document outside the case clauses （四）–（九） (任务分解: "加大节能监察力度
…（工业和信息化、发展改革主管部门负责）"), or a measure a case's event opens (（十四） worker
resettlement once an enterprise is closed, see :mod:`bot.core.measures`). Its owners come from
the tag: the departments written as 牵头 (lead) own it, or the 负责 (responsible) ones when no
one leads; 配合/参与 are its participants. One joint duty is one task, escalated as one: the
leads are chased up to a notice and a summons, the participants are reminded only.

A task reports progress (进展反馈) on a :class:`Schedule`: every few months (at the ends of
the calendar's quarters for every 3 months), by a date each year, or once by a date. Each
period of a live task is a yearly-duty row of the calendar for each owner (kind
``task-<id>-<period>``, see :func:`task_kind`), so the nudges, the ladder, the notices and
the summonses of the yearly duties chase tasks too.

This module is pure: what the catalog proposes, schedules and their dates, and the titles the
renderers name a task's duty by (:data:`TITLES`, filled by the task service).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field
from datetime import date, timedelta

from bot.core.dates import add_months, month_end, parse_date
from bot.core.i18n import N_, DubanError
from bot.core.policy.catalog import (
    Catalog,
    Clause,
    MeasureRule,
    Paragraph,
    PolicyError,
    TagAssignment,
)

#: The clauses of enterprise cases (their work is a case's workflow, not a task).
CASE_CLAUSE_PATHS = frozenset({"四", "五", "六", "七", "八", "九"})
#: A period's first due date is at least this far after the task went live.
FIRST_PERIOD_GAP = timedelta(days=14)
MAX_TITLE = 60
#: The paragraph's first phrase in a title is cut at this many characters.
MAX_PHRASE = 20


class TaskStatus:
    PROPOSED = "proposed"  # read from the document, waiting for the coordinators' review
    LIVE = "live"  # accepted: routed, reported on, chased
    REVIEW = "review"  # the lead's final report waits for the coordinators (办结复核)
    DONE = "done"
    DROPPED = "dropped"  # not supervised (dropped in review, or merged into another task)


OPEN_STATUSES = frozenset({TaskStatus.LIVE, TaskStatus.REVIEW})
STATUS_LABELS: Mapping[str, str] = {
    TaskStatus.PROPOSED: N_("to review"),
    TaskStatus.LIVE: N_("in progress"),
    TaskStatus.REVIEW: N_("final report to review"),
    TaskStatus.DONE: N_("completed"),
    TaskStatus.DROPPED: N_("not supervised"),
}

ROLE_LEAD = "lead"
ROLE_PARTICIPANT = "cooperate"


# -- schedules --------------------------------------------------------------------------------


class ScheduleError(DubanError):
    pass


SCHEDULE_USAGE = N_("A schedule is every N months (每季度, 每月, 每6个月), a date each year "
                    "(每年3月31日前) or one date (2027-03-31).")
_EVERY = re.compile(r"(?:每|every\s*)?(\d{1,2})\s*(?:个月|months?)")
_WORDS_EVERY = {"每月": 1, "monthly": 1, "每季度": 3, "每季": 3, "quarterly": 3, "每半年": 6,
                "half-yearly": 6, "每年": 12, "yearly": 12}
_YEARLY = re.compile(r"(?:每年|yearly\s*)(\d{1,2})\s*(?:月|-|/)\s*(\d{1,2})\s*日?\s*(?:前|之前)?")
_YEARLY_END = re.compile(r"(?:每年|yearly\s*)(\d{1,2})\s*月(?:底|末)\s*(?:前|之前)?")


@dataclass(frozen=True)
class Schedule:
    """When a task reports: ``every`` N months (period ends at month ends whose month is a
    multiple of N: quarters end in March, June, September, December), ``yearly`` on
    ``month``/``day``, or ``once`` on ``on``."""

    kind: str  # every | yearly | once
    months: int = 0
    month: int = 0
    day: int = 0
    on: date | None = None

    def __post_init__(self) -> None:
        if self.kind == "every" and self.months not in (1, 2, 3, 4, 6, 12):
            raise ScheduleError(N_("Reports can be asked every 1, 2, 3, 4, 6 or 12 months."))
        if self.kind == "yearly" and not (1 <= self.month <= 12
                                          and 1 <= self.day <= month_end(2025, self.month)):
            raise ScheduleError(SCHEDULE_USAGE)
        if self.kind == "once" and self.on is None:
            raise ScheduleError(SCHEDULE_USAGE)
        if self.kind not in ("every", "yearly", "once"):
            raise ValueError(f"unknown schedule kind {self.kind!r}")

    @property
    def recurring(self) -> bool:
        return self.kind != "once"

    def dump(self) -> str:
        """The stored form (never shown): ``every:3``, ``yearly:03-31``, ``once:2027-03-31``."""
        if self.kind == "every":
            return f"every:{self.months}"
        if self.kind == "yearly":
            return f"yearly:{self.month:02d}-{self.day:02d}"
        assert self.on is not None
        return f"once:{self.on.isoformat()}"

    @classmethod
    def load(cls, stored: str) -> Schedule:
        kind, _, value = stored.partition(":")
        if kind == "every":
            return cls("every", months=int(value))
        if kind == "yearly":
            month, day = value.split("-")
            return cls("yearly", month=int(month), day=int(day))
        return cls("once", on=date.fromisoformat(value))

    def _next_end(self, after: date) -> date:
        """The first period end on or after ``after``."""
        if self.kind == "once":
            assert self.on is not None
            return self.on
        if self.kind == "yearly":
            year = after.year
            while True:
                end = date(year, self.month, min(self.day, month_end(year, self.month)))
                if end >= after:
                    return end
                year += 1
        month_index = after.year * 12 + after.month - 1
        while True:
            year, month = divmod(month_index, 12)
            month += 1
            if month % self.months == 0:
                end = date(year, month, month_end(year, month))
                if end >= after:
                    return end
            month_index += 1

    def due(self, start: date, period: int) -> date:
        """The due date of report ``period`` (from 1) of a task live since ``start``."""
        if period < 1:
            raise ValueError(period)
        if self.kind == "once":
            return self._next_end(start)
        end = self._next_end(start + FIRST_PERIOD_GAP)
        for _ in range(period - 1):
            end = self._next_end(end + timedelta(days=1))
        return end

    def period_on(self, start: date, today: date) -> int:
        """The period whose report is due next on ``today`` (the last one of a ``once``)."""
        if self.kind == "once":
            return 1
        period = 1
        while self.due(start, period) < today:
            period += 1
        return period


def parse_schedule(text: str, today: date) -> Schedule:
    """A coordinator's schedule: ``每季度``, ``3个月``, ``每年3月31日前``, ``2027-03-31``."""
    raw = re.sub(r"\s+", " ", text.strip()).lower()
    if not raw:
        raise ScheduleError(SCHEDULE_USAGE)
    if raw in _WORDS_EVERY:
        return Schedule("every", months=_WORDS_EVERY[raw])
    if match := _EVERY.fullmatch(raw):
        return Schedule("every", months=int(match.group(1)))
    if match := _YEARLY_END.fullmatch(raw):
        month = int(match.group(1))
        if not 1 <= month <= 12:
            raise ScheduleError(SCHEDULE_USAGE)
        return Schedule("yearly", month=month, day=month_end(2025, month))
    if match := _YEARLY.fullmatch(raw):
        return Schedule("yearly", month=int(match.group(1)), day=int(match.group(2)))
    try:
        on = parse_date(raw)
    except DubanError:
        raise ScheduleError(SCHEDULE_USAGE) from None
    if on < today:
        raise ScheduleError(N_("The date {date} has already passed."), date=on.isoformat())
    return Schedule("once", on=on)


DEFAULT_SCHEDULE = Schedule("every", months=3)


def schedule_of(paragraph: Paragraph) -> Schedule:
    """What the paragraph's deadlines say: a yearly date (每年…前), a date (2020年底前), else a
    report every quarter (定期 and duties without a date). Periods of years (5年内继续按原用途
    使用土地) are grace periods, not report dates."""
    for deadline in paragraph.deadlines:
        if deadline.kind == "annual" and deadline.month and deadline.day:
            return Schedule("yearly", month=deadline.month, day=deadline.day)
        if deadline.kind == "absolute" and deadline.year and deadline.month and deadline.day:
            return Schedule("once", on=date(deadline.year, deadline.month, deadline.day))
    for deadline in paragraph.deadlines:
        if deadline.kind == "within" and deadline.months and not deadline.years:
            return Schedule("every", months=min(deadline.months, 12)
                            if deadline.months in (1, 2, 3, 4, 6, 12) else 3)
    return DEFAULT_SCHEDULE


# -- tasks read from the document ----------------------------------------------------------------


@dataclass(frozen=True)
class TaskSpec:
    """A task as the document proposes it."""

    source: str  # where it comes from: ``doc1:三/十六:p2`` (never shown)
    clause: str  # the clause it belongs to, ``十六``
    doc: int
    paragraph: int
    title: str
    text: str
    lead: tuple[str, ...]
    participants: tuple[str, ...]
    #: bodies of the tag that are no department of the organisation (相关部门, 行业协会, or a
    #: department the organisation does not have), as written
    unowned: tuple[str, ...]
    schedule: Schedule
    #: the paragraph is also a measure a case's event opens (see bot.core.measures)
    linked: bool = False


def source_key(clause: Clause, paragraph: int) -> str:
    return f"doc{clause.doc}:{'/'.join(clause.path)}:p{paragraph}"


def title_of(clause: Clause, paragraph: Paragraph) -> str:
    """The clause's heading and the paragraph's first phrase: ``严格执法监管：加大节能监察力度``."""
    text = re.sub(r"（[^（）]*）$", "", paragraph.text.strip()).strip()
    first = re.split(r"[，。；：]", text, maxsplit=1)[0].strip()
    if len(first) > MAX_PHRASE:
        first = first[:MAX_PHRASE - 1].rstrip("、，；：") + "…"
    if clause.title and first and first != clause.title:
        title = f"{clause.title}：{first}"
    else:
        title = clause.title or first
    return title if len(title) <= MAX_TITLE else title[:MAX_TITLE - 1] + "…"


def owners(paragraph: Paragraph, departments: Set[str]
           ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(lead, participants, unowned) of a paragraph's tags (see :func:`owners_of`)."""
    return owners_of((a for tag in paragraph.tags for a in tag.assignments), departments)


def owners_of(assignments: Iterable[TagAssignment], departments: Set[str] | None
              ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(lead, participants, unowned) of assignments: 牵头 lead; else 负责 lead; 配合, 参与 and
    负责 beside a 牵头 participate; groups and bodies the organisation does not have are
    named (unowned), 指导 is neither. ``departments`` None: every department is known."""
    leads: list[str] = []
    responsible: list[str] = []
    cooperating: list[str] = []
    unowned: list[str] = []
    for assignment in assignments:
        key = assignment.department
        if key is None or (departments is not None and key not in departments):
            if assignment.role != "guide":
                unowned.append(assignment.as_written)
            continue
        if assignment.role == "lead":
            leads.append(key)
        elif assignment.role in ("responsible", "by_duty"):
            responsible.append(key)
        elif assignment.role == "cooperate":
            cooperating.append(key)
    lead = leads or responsible
    rest = (responsible if leads else []) + cooperating
    lead_t = tuple(dict.fromkeys(lead))
    participants = tuple(k for k in dict.fromkeys(rest) if k not in lead_t)
    return lead_t, participants, tuple(dict.fromkeys(unowned))


def tasks_from_catalog(catalog: Catalog, departments: Iterable[str], *,
                       yearly: Set[str] = frozenset(), linked: Set[str] = frozenset()
                       ) -> list[TaskSpec]:
    """Every tagged paragraph of ``catalog`` outside the case clauses, as a proposed task.

    ``yearly``: source keys of paragraphs the yearly calendar already supervises (the work
    plan, the reports, the letters: ``scheduler.rules.duty_sources``), left out. ``linked``: the
    clauses whose paragraphs are also opened per case (marked, for the reviewer).
    """
    known = set(departments)
    specs: list[TaskSpec] = []
    for clause in catalog.clauses:
        if not clause.path or (clause.path[-1] in CASE_CLAUSE_PATHS
                                and clause.doc == catalog.main):
            continue
        for index, paragraph in enumerate(clause.paragraphs):
            if not paragraph.tags:
                continue
            source = source_key(clause, index)
            if source in yearly:
                continue
            lead, participants, unowned = owners(paragraph, known)
            specs.append(TaskSpec(
                source=source, clause=clause.path[-1], doc=clause.doc, paragraph=index,
                title=title_of(clause, paragraph), text=paragraph.text, lead=lead,
                participants=participants, unowned=unowned, schedule=schedule_of(paragraph),
                linked=clause.path[-1] in linked))
    return specs


# -- measures that follow a case -------------------------------------------------------------

#: The guiding opinion's measures that follow a case, when the catalog does not list its own:
#: （十二） differential prices for failing capacity under （四） energy and （八） technology;
#: （十三） no new credit and （十七） the credit platform for an enterprise that did not exit on
#: time or still fails after rectifying; （十四） worker resettlement and （十五） the land once
#: it has exited.
DEFAULT_MEASURES = (
    MeasureRule("accepted", "十二", ("四", "八")),
    MeasureRule("exit_missed", "十三"), MeasureRule("failing", "十三"),
    MeasureRule("exit_missed", "十七", months=1), MeasureRule("failing", "十七", months=1),
    MeasureRule("exited", "十四"), MeasureRule("exited", "十五", months=6),
)


def measures_of(catalog: Catalog) -> tuple[MeasureRule, ...]:
    """The catalog's measures, the guiding opinion's defaults when it lists none; a measure
    whose clause the catalog does not have is left out (a document of the family without it).
    Worked out once per catalog (a catalog is frozen): every acceptance asks."""
    known = _MEASURES.get(id(catalog))
    if known is not None and known[0] is catalog:
        return known[1]
    rules = DEFAULT_MEASURES if catalog.measures is None else catalog.measures
    found = tuple(rule for rule in rules if measure_paragraph(catalog, rule.clause) is not None)
    if len(_MEASURES) > 16:
        _MEASURES.clear()
    _MEASURES[id(catalog)] = (catalog, found)
    return found


#: :func:`measures_of` by catalog (the catalog is kept with its answer, so its id is its own)
_MEASURES: dict[int, tuple[Catalog, tuple[MeasureRule, ...]]] = {}


def measure_paragraph(catalog: Catalog, clause: str) -> tuple[Clause, int] | None:
    """The first tagged paragraph of ``clause`` in the main document."""
    try:
        found = catalog.find_clause(clause)
    except PolicyError:
        return None
    for index, paragraph in enumerate(found.paragraphs):
        if paragraph.tags:
            return found, index
    return None


def measure_spec(catalog: Catalog, rule: MeasureRule, departments: Iterable[str],
                 case_ref: str, today: date) -> TaskSpec | None:
    """The task ``rule`` opens for case ``case_ref`` on ``today``: the clause's paragraph and
    owners, due once ``rule.months`` later."""
    found = measure_paragraph(catalog, rule.clause)
    if found is None:
        return None
    clause, index = found
    paragraph = clause.paragraphs[index]
    lead, participants, unowned = owners(paragraph, set(departments))
    return TaskSpec(
        source=f"measure:{rule.clause}:{case_ref}", clause=rule.clause, doc=clause.doc,
        paragraph=index, title=title_of(clause, paragraph), text=paragraph.text, lead=lead,
        participants=participants, unowned=unowned,
        schedule=Schedule("once", on=add_months(today, rule.months)), linked=True)


# -- a task's duty rows and titles ---------------------------------------------------------------

_KIND = re.compile(r"task-(\d{1,12})-(\d{1,6})")


def task_kind(task_id: int, period: int) -> str:
    """The yearly-duty kind of period ``period`` of task ``task_id`` (never shown)."""
    return f"task-{task_id}-{period}"


def parse_task_kind(kind: str) -> tuple[int, int] | None:
    """``(task_id, period)`` of a task duty's kind, None for the calendar's own duties."""
    match = _KIND.fullmatch(kind)
    return (int(match.group(1)), int(match.group(2))) if match else None


def is_task_kind(kind: str) -> bool:
    return _KIND.fullmatch(kind) is not None


@dataclass
class TaskTitles:
    """What each task is called (``督办任务5：严格执法监管：加大节能监察力度``), by task id: the
    renderers name a task's duty rows with it. Filled by the task service when it starts, on
    every change and before every sweep."""

    by_id: dict[int, tuple[int, str]] = field(default_factory=dict)  # id -> (number, title)

    def set(self, task_id: int, number: int, title: str) -> None:
        self.by_id[task_id] = (number, title)

    def get(self, kind: str) -> tuple[int, str] | None:
        """``(number, title)`` of a task duty's kind; None when ``kind`` is not a task's or
        the task is not known here."""
        parsed = parse_task_kind(kind)
        return None if parsed is None else self.by_id.get(parsed[0])


#: The titles of this process (see :class:`TaskTitles`).
TITLES = TaskTitles()

