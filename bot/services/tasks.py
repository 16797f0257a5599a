"""Tasks (督办任务): the document's duties and the measures that follow cases, supervised.

The life of a task (``bot.core.tasks``):

* **proposed**: :meth:`TaskService.propose` reads every tagged paragraph of the catalog outside
  the case clauses (任务分解); a coordinator reviews the list once (``/tasks review``): accept,
  drop, merge into another, set the owners or the schedule;
* **live**: accepted. Its owners' chats are told; each report period is a yearly-duty row per
  owner (``Obligation``, kind ``task-<id>-<period>``), which the calendar nudges and escalates
  like the yearly duties (the participants are reminded, the leads escalated: one joint duty,
  escalated as one). An owner reports progress (进展反馈: text, optional evidence) with the
  duty's button, for its period;
* **review**: a lead's final report waits for the coordinators (办结 or 退回重办), when the
  organisation reviews closings (``[review] before_closing``);
* **done** or **dropped**: nothing is chased any more; its unreported rows are removed.

A measure that follows a case (（十四） resettlement when the enterprise has exited, …) is a task
opened live by :func:`open_measures` in the transaction of the case's event, for the departments
its clause's tag names, due once; the catalog's ``measures`` say which event opens which.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.clock import Clock, local_today
from bot.core.i18n import N_, DubanError
from bot.core.org import Org
from bot.core.policy.catalog import Catalog
from bot.core.policy.review import parse_assignments
from bot.core.tasks import (
    OPEN_STATUSES,
    ROLE_LEAD,
    ROLE_PARTICIPANT,
    STATUS_LABELS,
    TITLES,
    Schedule,
    TaskSpec,
    TaskStatus,
    measure_spec,
    measures_of,
    owners_of,
    parse_task_kind,
    task_kind,
    tasks_from_catalog,
)
from bot.services.access import Who, require_coordinator, require_department
from bot.services.outbox import Kind, enqueue
from models.db import transaction
from models.tables import Assignment, Case, Obligation, Summons, Task, TaskReport
from scheduler import rules

log = logging.getLogger(__name__)

MAX_REPORT = 2000
UNKNOWN_TASK = N_("There is no task {number}; /tasks lists them.")
NOT_PROPOSED = N_("Task {number} is already reviewed.")


@dataclass(frozen=True)
class TaskView:
    """A task with its reports and its report rows (the current period's duties)."""

    task: Task
    reports: tuple[TaskReport, ...] = ()
    duties: tuple[Obligation, ...] = ()
    case_ref: str | None = None

    @property
    def number(self) -> int:
        return self.task.number

    @property
    def schedule(self) -> Schedule:
        return Schedule.load(self.task.schedule)

    def open_duty(self, department: str) -> Obligation | None:
        """The department's unreported row of the latest period, if any."""
        rows = [d for d in self.duties if d.party == department and d.confirmed_at is None]
        return max(rows, key=lambda d: d.due) if rows else None

    @property
    def next_due(self) -> date | None:
        rows = [d.due for d in self.duties if d.confirmed_at is None]
        return min(rows) if rows else None


@dataclass(frozen=True)
class Proposed:
    """What :meth:`TaskService.propose` did."""

    new: int
    known: int


@dataclass
class TaskService:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    catalog: Catalog
    org: Callable[[], Awaitable[Org]]

    # -- reading ------------------------------------------------------------------------------

    async def load_titles(self) -> None:
        """Fill :data:`bot.core.tasks.TITLES` (how the calendar's texts name a task's duty):
        the tasks with report rows (a closed measure of a case no longer needs its name)."""
        async with self.sessions() as session:
            rows = (await session.exec(select(Task.id, Task.number, Task.title).where(
                col(Task.status).in_(list(OPEN_STATUSES)) | col(Task.case_id).is_(None)))).all()
        for task_id, number, title in rows:
            TITLES.set(task_id or 0, number, title)

    async def closed_counts(self) -> tuple[int, int]:
        """(done, dropped): how many tasks were completed and how many not supervised."""
        async with self.sessions() as session:
            rows = dict((await session.exec(select(Task.status, func.count()).where(
                col(Task.status).in_([TaskStatus.DONE, TaskStatus.DROPPED]))
                .group_by(col(Task.status)))).all())
        return int(rows.get(TaskStatus.DONE, 0)), int(rows.get(TaskStatus.DROPPED, 0))

    async def find(self, *, statuses: Iterable[str] | None = None,
                   department: str | None = None, case_id: int | None = None
                   ) -> list[TaskView]:
        """Tasks by number; those of ``statuses``, owned by ``department``, of a case."""
        async with self.sessions() as session:
            statement = select(Task).order_by(col(Task.number))
            if statuses is not None:
                statement = statement.where(col(Task.status).in_(list(statuses)))
            if case_id is not None:
                statement = statement.where(col(Task.case_id) == case_id)
            tasks = list((await session.exec(statement)).all())
            if department is not None:
                tasks = [t for t in tasks if department in t.lead or department in t.participants]
            return await _views(session, tasks)

    async def get(self, number: int) -> TaskView:
        async with self.sessions() as session:
            task = await _by_number(session, number)
            return (await _views(session, [task]))[0]

    async def by_id(self, task_id: int) -> TaskView:
        async with self.sessions() as session:
            task = await session.get(Task, task_id)
            if task is None:
                raise DubanError(N_("This task is unknown."))
            return (await _views(session, [task]))[0]

    async def report_by_id(self, report_id: int) -> TaskReport:
        async with self.sessions() as session:
            report = await session.get(TaskReport, report_id)
        if report is None:
            raise DubanError(N_("This report is unknown."))
        return report

    async def duty_task(self, obligation_id: int) -> TaskView | None:
        """The task whose report row ``obligation_id`` is, None for a yearly duty's row."""
        async with self.sessions() as session:
            obligation = await session.get(Obligation, obligation_id)
            if obligation is None:
                return None
            parsed = parse_task_kind(obligation.kind)
            if parsed is None:
                return None
            task = await session.get(Task, parsed[0])
            return (await _views(session, [task]))[0] if task else None

    # -- the document's tasks ---------------------------------------------------------------

    async def propose(self, catalog: Catalog | None = None) -> Proposed:
        """Propose every tagged duty of ``catalog`` (the loaded one) that is not a task yet;
        reviewed tasks are left as the coordinators decided. Idempotent."""
        catalog = catalog or self.catalog
        org = await self.org()
        specs = tasks_from_catalog(
            catalog, [d.key for d in org.departments], yearly=rules.duty_sources(catalog),
            linked={m.clause for m in measures_of(catalog)})
        now = self.clock.now()
        new = 0
        async with transaction(self.sessions) as session:
            known = {t.source: t for t in (await session.exec(select(Task).where(
                col(Task.case_id).is_(None)))).all()}  # the document's, not the measures
            number = await _last_number(session)
            for spec in specs:
                task = known.get(spec.source)
                if task is not None:
                    if task.status == TaskStatus.PROPOSED:  # not reviewed: as the text says now
                        _refresh(task, spec, now)
                        session.add(task)
                    continue
                number += 1
                session.add(_task(spec, number, TaskStatus.PROPOSED, now))
                new += 1
        await self.load_titles()
        return Proposed(new, len(specs) - new)

    # -- the coordinators' review -----------------------------------------------------------

    async def accept(self, number: int, who: Who) -> TaskView:
        """Accept a proposed task: it goes live, its owners' chats are told."""
        require_coordinator(who)
        async with transaction(self.sessions) as session:
            task = await _proposed(session, number)
            await self._go_live(session, task)
        return await self.get(number)

    async def accept_all(self, who: Who) -> tuple[int, list[int]]:
        """Accept every proposed task that has a lead; (accepted, numbers left without one)."""
        require_coordinator(who)
        accepted, ownerless = 0, []
        async with transaction(self.sessions) as session:
            for task in (await session.exec(select(Task).where(
                    col(Task.status) == TaskStatus.PROPOSED).order_by(col(Task.number)))).all():
                if not task.lead:
                    ownerless.append(task.number)
                    continue
                await self._go_live(session, task)
                accepted += 1
        return accepted, ownerless

    async def drop(self, number: int, who: Who) -> TaskView:
        """Not supervised: a proposed task dropped in review, or a live one stopped."""
        require_coordinator(who)
        async with transaction(self.sessions) as session:
            task = await _by_number(session, number)
            if task.status in (TaskStatus.DONE, TaskStatus.DROPPED):
                raise DubanError(N_("Task {number} is already closed."), number=number)
            await self._close(session, task, TaskStatus.DROPPED)
        return await self.get(number)

    async def merge(self, number: int, into: int, who: Who) -> TaskView:
        """Merge proposed task ``number`` into ``into`` (proposed or live): one duty, its
        owners together (leads with leads), the first dropped."""
        require_coordinator(who)
        if number == into:
            raise DubanError(N_("A task cannot be merged into itself."))
        async with transaction(self.sessions) as session:
            task = await _proposed(session, number)
            target = await _by_number(session, into)
            if target.status not in (TaskStatus.PROPOSED, TaskStatus.LIVE):
                raise DubanError(N_("Task {number} is closed; merge into an open one."),
                                 number=into)
            lead = list(dict.fromkeys([*target.lead, *task.lead]))
            target.participants = [k for k in dict.fromkeys(
                [*target.participants, *task.participants]) if k not in lead]
            target.lead = lead
            target.unowned = list(dict.fromkeys([*target.unowned, *task.unowned]))
            target.updated_at = self.clock.now()
            session.add(target)
            task.merged_into = target.id
            await self._close(session, task, TaskStatus.DROPPED)
            if target.status == TaskStatus.LIVE:
                await self._open_rows(session, target, local_today(self.clock))
        return await self.get(into)

    async def set_schedule(self, number: int, schedule: Schedule, who: Who) -> TaskView:
        """When the task reports; a live task's unreported rows move to the new dates."""
        require_coordinator(who)
        async with transaction(self.sessions) as session:
            task = await _by_number(session, number)
            _require_open(task)
            task.schedule = schedule.dump()
            task.updated_at = self.clock.now()
            session.add(task)
            if task.status == TaskStatus.LIVE:
                await _remove_unreported(session, task)
                await self._open_rows(session, task, local_today(self.clock))
        return await self.get(number)

    async def set_owners(self, number: int, written: str, who: Who) -> TaskView:
        """The owners as a reviewer writes them: ``牵头：州工信局；配合：州财政局``."""
        require_coordinator(who)
        org = await self.org()
        assignments = parse_assignments(written, org.alias_table())  # PolicyError: words
        lead, participants, unowned = owners_of(assignments, {d.key for d in org.departments})
        if not lead:
            raise DubanError(N_("Name at least one department of the organisation as 牵头 or "
                                "负责 (not {names})."), names="、".join(unowned) or written)
        async with transaction(self.sessions) as session:
            task = await _by_number(session, number)
            _require_open(task)
            task.lead, task.participants, task.unowned = (list(lead), list(participants),
                                                          list(unowned))
            task.updated_at = self.clock.now()
            session.add(task)
            if task.status == TaskStatus.LIVE:
                await _remove_unreported(session, task)
                await self._open_rows(session, task, local_today(self.clock), tell=True)
        return await self.get(number)

    # -- reports ------------------------------------------------------------------------------

    async def report(self, obligation_id: int, text: str, evidence: Sequence[str],
                     final: bool, done_on: date | None, who: Who) -> TaskReport:
        """A department reports progress on its row of a task's period (进展反馈); a lead's
        ``final`` report closes the task, after the coordinators' review where the
        organisation reviews closings."""
        text = text.strip()
        if not text or len(text) > MAX_REPORT:
            raise DubanError(N_("A report is 1 to {limit} characters."), limit=MAX_REPORT)
        now = self.clock.now()
        org = await self.org()
        async with transaction(self.sessions) as session:
            obligation = await session.get(Obligation, obligation_id)
            parsed = parse_task_kind(obligation.kind) if obligation else None
            task = await session.get(Task, parsed[0]) if parsed else None
            if obligation is None or parsed is None or task is None:
                raise DubanError(N_("This task is unknown."))
            require_department(who, obligation.party)
            if task.status != TaskStatus.LIVE:
                raise DubanError(N_("Task {number} is not open for reports ({status})."),
                                 number=task.number, status=_status_words(task.status),
                                 translate=("status",))
            if obligation.confirmed_at is not None:
                raise DubanError(N_("Your department has already reported for this period; "
                                    "the next report is asked for by its date."))
            final = final and obligation.party in task.lead
            report = TaskReport(
                task_id=task.id or 0, period=parsed[1], department_key=obligation.party,
                text=text, evidence=list(evidence), final=final, done_on=done_on if final else None,
                reported_by=who.telegram_id, reported_by_name=who.name, reported_at=now)
            session.add(report)
            obligation.confirmed_at, obligation.confirmed_by = now, who.telegram_id
            obligation.evidence = list(evidence)
            session.add(obligation)
            await cancel_moot_summonses(session, f"{obligation.kind}/{obligation.year}",
                                        obligation.party, now)
            await session.flush()
            await enqueue(session, key=f"task-report:{report.id}", kind=Kind.TASK,
                          recipient_kind="coordinators", recipient="*", now=now,
                          payload={"task_id": task.id, "event": "report",
                                   "report_id": report.id})
            if final:
                task.done_on = done_on or local_today(self.clock)
                if org.review.before_closing:  # 办结复核, as for cases
                    task.status = TaskStatus.REVIEW
                    task.updated_at = now
                    session.add(task)
                else:
                    await self._close(session, task, TaskStatus.DONE)
        return report

    async def decide(self, number: int, close: bool, note: str | None, who: Who) -> TaskView:
        """The coordinators' decision on a final report: 办结 (done) or 退回重办 (live again,
        the leads report again, told why)."""
        require_coordinator(who)
        now = self.clock.now()
        async with transaction(self.sessions) as session:
            task = await _by_number(session, number)
            if task.status != TaskStatus.REVIEW:
                raise DubanError(N_("Task {number} has no final report to review."),
                                 number=number)
            task.note = note
            if close:
                await self._close(session, task, TaskStatus.DONE)
            else:
                if not note:
                    raise DubanError(N_("Give the reason for sending it back."))
                task.status, task.updated_at, task.done_on = TaskStatus.LIVE, now, None
                session.add(task)
                # The leads' rows of the last period are open again: to report again.
                rows = await _rows(session, task)
                latest = max((parse_task_kind(r.kind) or (0, 0))[1] for r in rows) if rows else 0
                for row in rows:
                    parsed = parse_task_kind(row.kind)
                    if row.party in task.lead and parsed and parsed[1] == latest:
                        row.confirmed_at, row.confirmed_by = None, None
                        session.add(row)
            for key in (task.lead if not close else [*task.lead, *task.participants]):
                await enqueue(session, key=f"task-decided:{task.id}:{key}:{now.isoformat()}",
                              kind=Kind.TASK, recipient_kind="department", recipient=key,
                              now=now, payload={"task_id": task.id, "event": "decided",
                                                "close": close, "note": note or ""})
        return await self.get(number)

    # -- the calendar -------------------------------------------------------------------------

    async def open_periods(self, today: date) -> int:
        """Before a sweep: the report rows of every live task's current period (a recurring
        task's next period opens once the last one's date has passed). How many were made."""
        made = 0
        async with transaction(self.sessions) as session:
            for task in (await session.exec(select(Task).where(
                    col(Task.status) == TaskStatus.LIVE))).all():
                made += await self._open_rows(session, task, today)
        return made

    # -- inside a transaction -----------------------------------------------------------------

    async def _go_live(self, session: AsyncSession, task: Task) -> None:
        if not task.lead:
            raise DubanError(N_("Task {number} has no lead department yet: name it with "
                                "/tasks owners {number} 牵头：…"), number=task.number)
        today = local_today(self.clock)
        task.status, task.live_on, task.updated_at = TaskStatus.LIVE, today, self.clock.now()
        session.add(task)
        await session.flush()
        await self._open_rows(session, task, today, tell=True)

    async def _open_rows(self, session: AsyncSession, task: Task, today: date,
                         tell: bool = False) -> int:
        """The rows of the period due next on ``today`` for every owner that has none."""
        return await open_rows(session, task, today, self.clock.now(), tell=tell)

    async def _close(self, session: AsyncSession, task: Task, status: str) -> None:
        await close_task(session, task, status, self.clock.now())


# -- module functions (they run inside another service's transaction too) ----------------------


async def open_rows(session: AsyncSession, task: Task, today: date, now: datetime, *,
                    tell: bool = False, quiet: frozenset[str | None] = frozenset()) -> int:
    """Create the report rows of ``task``'s period due next (per owner: leads ``lead``,
    participants ``cooperate``); ``tell``: the owners' chats are told the task is theirs,
    except those in ``quiet`` (a case's own departments, who have its card)."""
    schedule = Schedule.load(task.schedule)
    start = task.live_on or today
    period = schedule.period_on(start, today)
    due = schedule.due(start, period)
    kind = task_kind(task.id or 0, period)
    existing = set((await session.exec(select(Obligation.party).where(
        col(Obligation.kind) == kind))).all())
    made = 0
    for role, keys in ((ROLE_LEAD, task.lead), (ROLE_PARTICIPANT, task.participants)):
        for key in keys:
            if key in existing:
                continue
            session.add(Obligation(kind=kind, year=due.year, party=key,
                                   party_kind="department", role=role, due=due,
                                   opened_on=min(today, due)))
            made += 1
    if made:
        await session.flush()
    if tell and made:
        for key in [k for k in (*task.lead, *task.participants) if k not in quiet]:
            await enqueue(session, key=f"task-live:{task.id}:{key}:{period}", kind=Kind.TASK,
                          recipient_kind="department", recipient=key, now=now,
                          payload={"task_id": task.id, "event": "live", "department": key})
    TITLES.set(task.id or 0, task.number, task.title)
    return made


async def close_task(session: AsyncSession, task: Task, status: str, now: datetime) -> None:
    """Done or dropped: its unreported rows go (nothing is chased any more)."""
    task.status, task.updated_at = status, now
    if status == TaskStatus.DONE:
        task.closed_at = now
    session.add(task)
    await _remove_unreported(session, task)


async def cancel_moot_summonses(session: AsyncSession, subject: str, party: str,
                                now: datetime) -> None:
    """Summonses about a duty ``party`` has now fulfilled that have not taken place: they no
    longer have a reason."""
    for summons in (await session.exec(select(Summons).where(
            col(Summons.obligation) == subject, col(Summons.party) == party,
            col(Summons.outcome).is_(None), col(Summons.meets_at) > now))).all():
        summons.outcome = {"cancelled": True, "reason": "duty_submitted", "at": now.isoformat()}
        summons.updated_at = now
        session.add(summons)


async def open_measures(session: AsyncSession, catalog: Catalog, org: Org, case: Case,
                        event: str, today: date, now: datetime) -> list[Task]:
    """The measures ``event`` of ``case`` opens (the catalog's ``measures``), live at once for
    the departments their clause names, in the caller's transaction; a measure already open
    for the case is not opened twice."""
    rules = [r for r in measures_of(catalog) if r.on == event and r.applies_to(case.clause)]
    if not rules:
        return []
    departments = [d.key for d in org.departments]
    known = set((await session.exec(select(Task.source).where(
        col(Task.case_id) == case.id))).all())
    number = await _last_number(session)
    # The case's own departments have its card (/case lists its measures); the others are
    # told of the measure.
    on_case = frozenset((await session.exec(select(Assignment.department_key).where(
        col(Assignment.case_id) == case.id))).all()) - {None}
    opened: list[Task] = []
    for rule in rules:
        spec = measure_spec(catalog, rule, departments, case.ref, today)
        if spec is None or spec.source in known or not spec.lead:
            if spec is not None and not spec.lead:
                log.warning("measure %s of %s has no department in the organisation",
                            rule.clause, case.ref)
            continue
        known.add(spec.source)
        number += 1
        task = _task(spec, number, TaskStatus.LIVE, now, case_id=case.id)
        task.live_on = today
        session.add(task)
        await session.flush()
        await open_rows(session, task, today, now, tell=True, quiet=on_case)
        opened.append(task)
    return opened


def _refresh(task: Task, spec: TaskSpec, now: datetime) -> None:
    """A proposed task as the document and the organisation give it now (both may have been
    loaded again since it was proposed)."""
    values = {"title": spec.title, "text": spec.text, "lead": list(spec.lead),
              "participants": list(spec.participants), "unowned": list(spec.unowned),
              "schedule": spec.schedule.dump(), "linked": spec.linked}
    if any(getattr(task, name) != value for name, value in values.items()):
        for name, value in values.items():
            setattr(task, name, value)
        task.updated_at = now


def _task(spec: TaskSpec, number: int, status: str, now: datetime,
          case_id: int | None = None) -> Task:
    return Task(number=number, source=spec.source, clause=spec.clause, title=spec.title,
                text=spec.text, status=status, case_id=case_id, lead=list(spec.lead),
                participants=list(spec.participants), unowned=list(spec.unowned),
                schedule=spec.schedule.dump(), linked=spec.linked, created_at=now,
                updated_at=now)


async def _last_number(session: AsyncSession) -> int:
    return int((await session.exec(select(func.coalesce(func.max(Task.number), 0)))).one())


async def _by_number(session: AsyncSession, number: int) -> Task:
    task = (await session.exec(select(Task).where(col(Task.number) == number))).first()
    if task is None:
        raise DubanError(UNKNOWN_TASK, number=number)
    return task


async def _proposed(session: AsyncSession, number: int) -> Task:
    task = await _by_number(session, number)
    if task.status != TaskStatus.PROPOSED:
        raise DubanError(NOT_PROPOSED, number=number)
    return task


def _require_open(task: Task) -> None:
    if task.status not in (TaskStatus.PROPOSED, *OPEN_STATUSES):
        raise DubanError(N_("Task {number} is already closed."), number=task.number)


def _status_words(status: str) -> str:
    return STATUS_LABELS.get(status, status)


async def _rows(session: AsyncSession, task: Task) -> list[Obligation]:
    prefix = f"task-{task.id}-"
    return list((await session.exec(select(Obligation).where(
        col(Obligation.kind).startswith(prefix)))).all())


async def _remove_unreported(session: AsyncSession, task: Task) -> None:
    prefix = f"task-{task.id}-"
    await session.exec(delete(Obligation).where(
        col(Obligation.kind).startswith(prefix), col(Obligation.confirmed_at).is_(None)))


async def year_tasks(session: AsyncSession, year: int) -> list[TaskView]:
    """The tasks supervised during ``year`` (live by its end, not closed before it), with
    their reports: the ledger's sheet."""
    tasks = [t for t in (await session.exec(select(Task).where(
        col(Task.status).not_in([TaskStatus.PROPOSED, TaskStatus.DROPPED]))
        .order_by(col(Task.number)))).all()
        if t.live_on is not None and t.live_on.year <= year
        and (t.closed_at is None or t.closed_at.year >= year)]
    return await _views(session, tasks)


async def _views(session: AsyncSession, tasks: Sequence[Task]) -> list[TaskView]:
    if not tasks:
        return []
    ids = [t.id for t in tasks if t.id is not None]
    reports = (await session.exec(select(TaskReport).where(
        col(TaskReport.task_id).in_(ids)).order_by(col(TaskReport.reported_at),
                                                   col(TaskReport.id)))).all()
    by_task: dict[int, list[TaskReport]] = {}
    for report in reports:
        by_task.setdefault(report.task_id, []).append(report)
    duties: dict[int, list[Obligation]] = {}
    rows = (await session.exec(select(Obligation).where(
        col(Obligation.kind).startswith("task-")))).all() if len(ids) > 20 else [
        row for task in tasks for row in await _rows(session, task)]
    for row in rows:
        parsed = parse_task_kind(row.kind)
        if parsed:
            duties.setdefault(parsed[0], []).append(row)
    case_ids = [t.case_id for t in tasks if t.case_id is not None]
    refs: dict[int, str] = {}
    if case_ids:
        refs = {i or 0: r for i, r in (await session.exec(
            select(Case.id, Case.ref).where(col(Case.id).in_(case_ids)))).all()}
    return [TaskView(t, tuple(by_task.get(t.id or 0, ())), tuple(duties.get(t.id or 0, ())),
                     refs.get(t.case_id) if t.case_id else None) for t in tasks]
