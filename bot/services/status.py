"""Where things stand: the numbers behind ``/status``, ``/overdue``, ``/mine`` and the lists.

``/status`` and the ranking read the counters (``models.counters``, kept by triggers in every
writer's transaction), so their cost follows the number of counter keys, not of cases; overdue
too: the late counts are kept as of a stored day, and a reader adds the cases that came due
since (rolling the day forward first). The other aggregations run in the database (GROUP BY on
indexed columns).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.routing import ACTIVE_STATUSES, AssignmentStatus
from bot.core.workflow import CLOSED_STATES, LATE_STATES, WORKFLOWS, YELLOW_STATES, State
from models import counters, queries
from models.db import transaction
from models.tables import Assignment, Case

OPEN = [s.value for s in State if s not in CLOSED_STATES]
LATE = [s.value for s in LATE_STATES]  # open and not waiting for review: can be overdue
CLOSED = [s.value for s in CLOSED_STATES]
YELLOW = [s.value for s in YELLOW_STATES]
RED_CLAUSES = [clause for clause, w in WORKFLOWS.items() if w.failing_exit]
#: 环保's lists of （二十一）: the cases under （五） (the emission standards), and the serious
#: ones among them (the closure asked for, ordered or carried out).
EMISSION_CLAUSES = ("五",)
SERIOUS_STATES = (State.CLOSURE_REQUESTED.value, State.SHUTDOWN_ORDERED.value,
                  State.SEALED.value)


@dataclass
class Status:
    region: str | None
    open_by_clause: dict[str, int] = field(default_factory=dict)
    overdue_by_clause: dict[str, int] = field(default_factory=dict)
    closed_by_clause: dict[str, int] = field(default_factory=dict)
    open_by_industry: dict[str, int] = field(default_factory=dict)
    # (industry, unit) -> capacity exited this year
    exited_capacity: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    unaccepted: dict[str, int] = field(default_factory=dict)  # department -> cases
    yellow: int = 0
    red: int = 0

    @property
    def open(self) -> int:
        return sum(self.open_by_clause.values())

    @property
    def overdue(self) -> int:
        return sum(self.overdue_by_clause.values())

    @property
    def closed(self) -> int:
        return sum(self.closed_by_clause.values())


@dataclass(frozen=True)
class Standing:
    """How one county or park (``kind="region"``) or one department (``kind="department"``)
    is doing, for the ranking of clause （二十）: who moves slowly is named."""

    name: str  # the region's name, or the department's key
    kind: str  # "region" | "department"
    overdue: int
    open: int
    closed: int
    closed_on_time: int

    @property
    def on_time_rate(self) -> float | None:
        """Of the work whose due day has come (closed, or open and overdue), the share done
        by it; ``None`` when nothing has come due."""
        due = self.closed + self.overdue
        return self.closed_on_time / due if due else None

    def sort_key(self) -> tuple[int, int, float, str]:
        """Worst first: most overdue, then lowest on-time rate (none last), then by name."""
        rate = self.on_time_rate
        return (-self.overdue, rate is None, rate if rate is not None else 0.0, self.name)


@dataclass
class StatusService:
    sessions: async_sessionmaker[AsyncSession]
    tz: tzinfo

    async def status(self, today: date, region: str | None = None) -> Status:
        """The figures of one county or park, or of the prefecture, from the counters
        (``models.counters``: their cost follows the number of keys, not of cases); overdue
        from the late counts, at ``today``."""
        await counters.fold(self.sessions)
        await counters.roll(self.sessions, today)
        async with self.sessions() as session:
            where = [col(Case.region_name) == region] if region else []
            if await counters.usable(session, self.tz):
                result = await self._counted_status(session, today, region)
            else:  # a zone whose local dates the counters cannot take: count the cases
                result = await self._status_from_cases(session, today, region, where)
            overdue: dict[str, int] = defaultdict(int)
            for row in await counters.late_rows(session, today, region or None):
                overdue[row.clause] += row.n
            result.overdue_by_clause = dict(sorted(overdue.items()))
        return result

    async def _counted_status(self, session: AsyncSession, today: date,
                              region: str | None) -> Status:
        result = Status(region)
        by_industry: dict[str, int] = defaultdict(int)
        exited: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for row in await counters.status_rows(session, region):
            self._count_state(result, row.clause, row.state, row.n)
            if row.state in OPEN:
                by_industry[row.industry] += row.n
            if row.state == State.EXITED.value and row.closed_year == today.year:
                exited[(row.industry, row.unit)] += row.capacity
        result.open_by_industry = {k: v for k, v in sorted(by_industry.items()) if v}
        result.exited_capacity = dict(sorted(exited.items()))
        unaccepted: dict[str, int] = defaultdict(int)
        for part in await counters.department_rows(session, region):
            if part.status == AssignmentStatus.PENDING.value and part.state in OPEN:
                unaccepted[part.department_key] += part.n
        result.unaccepted = {k: v for k, v in sorted(unaccepted.items()) if v}
        return result

    @staticmethod
    def _count_state(result: Status, clause: str, state: str, count: int) -> None:
        bucket = result.closed_by_clause if state not in OPEN else result.open_by_clause
        bucket[clause] = bucket.get(clause, 0) + count
        if state in YELLOW:
            result.yellow += count
        if state == State.EXITED and clause in RED_CLAUSES:
            result.red += count

    async def _status_from_cases(self, session: AsyncSession, today: date,
                                 region: str | None, where: list) -> Status:
        result = Status(region)
        rows = await session.exec(
            select(col(Case.clause), col(Case.state), func.count())
            .where(*where).group_by(col(Case.clause), col(Case.state)))
        for clause, state, count in rows.all():
            self._count_state(result, clause, state, count)
        industries = await session.exec(
            select(col(Case.industry), func.count())
            .where(*where, col(Case.state).in_(OPEN)).group_by(col(Case.industry)))
        result.open_by_industry = {industry: count for industry, count in industries.all()}
        result.exited_capacity = await self._exited(session, today.year, where)
        unaccepted = await session.exec(
            select(col(Assignment.department_key), func.count(func.distinct(Case.id)))
            .join(Case, and_(col(Case.id) == col(Assignment.case_id)))
            .where(*where, col(Assignment.status) == AssignmentStatus.PENDING.value,
                   col(Assignment.required).is_(True), col(Case.state).in_(OPEN))
            .group_by(col(Assignment.department_key)))
        result.unaccepted = {dept: count for dept, count in unaccepted.all() if dept}
        return result

    async def ranking(self, today: date) -> tuple[list[Standing], list[Standing]]:
        """Counties and parks, and departments, worst first (see :meth:`Standing.sort_key`).

        A department's cases are those it is required to act on and has not handed back
        (a required assignment in an active status); a case counts once per department.
        """
        await counters.fold(self.sessions)
        await counters.roll(self.sessions, today)
        async with self.sessions() as session:
            counted = await counters.usable(session, self.tz)
            regions = await self._standings(session, "region", today, counted)
            departments = await self._standings(session, "department", today, counted)
        return regions, departments

    async def _standings(self, session: AsyncSession, kind: str, today: date,
                         counted: bool = False) -> list[Standing]:
        if kind == "region":
            key: Any = col(Case.region_name)
            count: Any = func.count(col(Case.id))
        else:
            key = col(Assignment.department_key)
            count = func.count(func.distinct(col(Case.id)))

        def select_(*columns: Any) -> Any:
            statement = select(*columns).select_from(Case)
            if kind == "department":
                statement = statement.join(
                    Assignment, col(Assignment.case_id) == col(Case.id)).where(
                    col(Assignment.required).is_(True),
                    col(Assignment.status).in_([s.value for s in ACTIVE_STATUSES]),
                    col(Assignment.department_key).is_not(None))
            return statement

        async def counted_where(condition: Any) -> dict[str, int]:
            rows = await session.exec(select_(key, count).where(condition).group_by(key))
            return {name: n for name, n in rows.all()}

        if counted:
            opened, closed, on_time = await self._counted_standings(session, kind)
        else:
            opened, closed, on_time = await self._standings_from_cases(
                session, select_, key, counted_where)
        overdue = await self._overdue_standings(session, kind, today)
        standings = [Standing(name=name, kind=kind, overdue=overdue.get(name, 0),
                              open=opened.get(name, 0), closed=closed.get(name, 0),
                              closed_on_time=on_time.get(name, 0))
                     for name in set(opened) | set(closed) if name is not None]
        return sorted(standings, key=Standing.sort_key)

    async def _overdue_standings(self, session: AsyncSession, kind: str,
                                 today: date) -> dict[str, int]:
        """Overdue cases per region or department (a case once per department: its one
        required part in an active status), from the late counts."""
        overdue: dict[str, int] = defaultdict(int)
        if kind == "region":
            for row in await counters.late_rows(session, today):
                overdue[row.region_name] += row.n
        else:
            active = {s.value for s in ACTIVE_STATUSES}
            for part in await counters.department_late_rows(session, today):
                if part.status in active:
                    overdue[part.department_key] += part.n
        return {name: n for name, n in overdue.items() if n}

    async def _counted_standings(self, session: AsyncSession, kind: str
                                 ) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        """(open, closed, closed on time) per region or department, from the counters."""
        opened: dict[str, int] = defaultdict(int)
        closed: dict[str, int] = defaultdict(int)
        on_time: dict[str, int] = defaultdict(int)
        rows: list[tuple[str, str, int, int]]
        if kind == "region":
            rows = [(r.region_name, r.state, r.on_time, r.n)
                    for r in await counters.status_rows(session)]
        else:
            active = {s.value for s in ACTIVE_STATUSES}
            rows = [(r.department_key, r.state, r.on_time, r.n)
                    for r in await counters.department_rows(session) if r.status in active]
        for name, state, in_time, n in rows:
            if state in OPEN:
                opened[name] += n
            elif state in CLOSED:
                closed[name] += n
                if in_time:
                    on_time[name] += n
        return ({k: v for k, v in opened.items() if v}, {k: v for k, v in closed.items() if v},
                dict(on_time))

    async def _standings_from_cases(self, session: AsyncSession, select_: Any, key: Any,
                                    counted_where: Any
                                    ) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        opened = await counted_where(col(Case.state).in_(OPEN))
        closed = await counted_where(col(Case.state).in_(CLOSED))
        on_time: dict[str, int] = defaultdict(int)
        rows = await session.exec(  # distinct: a case once per department
            select_(key, col(Case.id), col(Case.due_on), col(Case.closed_at))
            .where(col(Case.state).in_(CLOSED)).distinct())
        for name, _case_id, due_on, closed_at in rows.all():
            if self._on_time(due_on, closed_at):
                on_time[name] += 1
        return opened, closed, dict(on_time)

    def _on_time(self, due_on: date | None, closed_at: datetime | None) -> bool:
        """Closed by its due day (in local time); a case with no due day is on time."""
        if due_on is None or closed_at is None:  # no due day, or no closing time kept
            return True
        return closed_at.astimezone(self.tz).date() <= due_on

    async def _exited(self, session: AsyncSession, year: int,
                      where: list) -> dict[tuple[str, str], Decimal]:
        start = datetime.combine(date(year, 1, 1), time(), self.tz)
        end = datetime.combine(date(year + 1, 1, 1), time(), self.tz)
        capacity = func.coalesce(col(Case.exited_capacity), col(Case.capacity), 0)
        rows = await session.exec(
            select(col(Case.industry), col(Case.unit), func.sum(capacity))
            .where(*where, col(Case.state) == State.EXITED.value,
                   col(Case.closed_at) >= start, col(Case.closed_at) < end)
            .group_by(col(Case.industry), col(Case.unit)))
        totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for industry, unit, total in rows.all():
            totals[(industry, unit or "")] += Decimal(str(total or 0))
        return dict(totals)

    async def recount(self, today: date | None = None) -> counters.Recount:
        """Rebuild the counters from the cases and assignments in one transaction, at this
        zone's offset (``duban db recount``), the late counts then taken at ``today`` if
        given; how many counter rows were wrong."""
        offset = counters.fixed_offset(self.tz)
        async with transaction(self.sessions) as session:
            return await counters.recount(
                session, offset if offset is not None else counters.offset_now(self.tz),
                today)

    async def overdue(self, today: date, region: str | None = None,
                      department: str | None = None, limit: int = 50) -> list[Case]:
        async with self.sessions() as session:
            statement = select(Case).where(queries.overdue_condition(LATE, today))
            if region:
                statement = statement.where(col(Case.region_name) == region)
            if department:
                statement = statement.where(col(Case.id).in_(
                    select(col(Assignment.case_id)).where(
                        col(Assignment.department_key) == department,
                        col(Assignment.required).is_(True))))
            rows = await session.exec(statement.order_by(col(Case.deadline)).limit(limit))
            return list(rows.all())

    async def open_for(self, *, department: str | None = None, region: str | None = None,
                       limit: int = 50) -> list[tuple[Case, str | None]]:
        """Open cases of a department (with its assignment status) or of a county."""
        async with self.sessions() as session:
            if department:
                rows = await session.exec(
                    select(Case, col(Assignment.status))
                    .join(Assignment, col(Assignment.case_id) == col(Case.id))
                    .where(col(Assignment.department_key) == department,
                           col(Assignment.required).is_(True), col(Case.state).in_(OPEN))
                    .order_by(col(Case.deadline), col(Case.ref)).limit(limit))
                return [(case, status) for case, status in rows.all()]
            cases = await session.exec(
                select(Case).where(col(Case.region_name) == region, col(Case.state).in_(OPEN))
                .order_by(col(Case.deadline), col(Case.ref)).limit(limit))
            return [(case, None) for case in cases.all()]

    async def listed(self, which: str, limit: int = 100) -> list[Case]:
        """Yellow card (ordered to rectify by a deadline), red card (closed after failing), or
        环保's: emitting over the standards (open), and the serious cases (closure asked for,
        ordered, or carried out)."""
        async with self.sessions() as session:
            emission = col(Case.clause).in_(EMISSION_CLAUSES)
            if which == "yellow":
                statement = select(Case).where(
                    col(Case.state).in_(YELLOW))
            elif which == "emitters":
                statement = select(Case).where(emission, col(Case.state).in_(OPEN))
            elif which == "serious":
                statement = select(Case).where(emission, col(Case.state).in_(
                    [*SERIOUS_STATES, State.EXITED.value]))
            else:
                statement = select(Case).where(col(Case.state) == State.EXITED.value,
                                               col(Case.clause).in_(RED_CLAUSES))
            rows = await session.exec(statement.order_by(col(Case.region_name),
                                                         col(Case.ref)).limit(limit))
            return list(rows.all())
