"""What the reports read: async queries that return plain frozen rows, and pure summaries.

Only what a report may print leaves here: :class:`CaseRow` has no description, and events
(with the names of the people who acted) are not read at all.

Years are calendar years in the organisation's time zone: a case closed at 23:30 on
31 December in Asia/Shanghai (15:30 UTC) counts for that year, one closed at 00:30 on 1 January
for the next.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from bot.core.i18n import N_, DubanError
from bot.core.org import Org, OrgDepartment, Region
from bot.core.policy.catalog import Catalog
from bot.core.policy.recipients import Recipients, report_recipients
from bot.core.routing import ACTIVE_STATUSES
from bot.core.workflow import (
    CASE_CLAUSES,
    CLOSED_STATES,
    LATE_STATES,
    WORKFLOWS,
    YELLOW_STATES,
    State,
)
from bot.services.status import EMISSION_CLAUSES, SERIOUS_STATES
from models import counters, queries
from models.tables import Assignment, Case
from scheduler import rules

# The order of clause （十九）: 钢铁、煤炭、水泥、电解铝、平板玻璃, then everything else.
# Coal gets its own row: the guiding opinion names it among the key industries.
INDUSTRY_ORDER: tuple[str, ...] = (
    "steel", "coal", "cement", "electrolytic_aluminium", "flat_glass", "other",
)
# The departments that write the 31 December letter (clause （十九）) when the catalog does
# not say (``rules.duty_owners`` reads them from its tags) …
LETTER_DEPARTMENTS: tuple[str, ...] = rules.LETTER_DEPARTMENTS
# … and the ones they write to, at the same level.
LETTER_RECIPIENTS: tuple[str, ...] = rules.LETTER_RECIPIENTS
MIN_YEAR, MAX_YEAR = 2000, 2100


@dataclass(frozen=True)
class CaseRow:
    """The printable facts of one case."""

    ref: str
    region: str
    enterprise: str
    industry: str
    clause: str
    state: str
    capacity: Decimal | None
    exited_capacity: Decimal | None
    unit: str | None
    equipment: str | None
    registered_on: date
    deadline: date | None
    closed_on: date | None  # the local date the case closed
    due_on: date | None = None  # the day its current step is due (rules.due_on)

    @property
    def reported_capacity(self) -> Decimal | None:
        """The capacity confirmed at exit, else the registered capacity."""
        return self.exited_capacity if self.exited_capacity is not None else self.capacity

    @property
    def industry_group(self) -> str:
        return self.industry if self.industry in INDUSTRY_ORDER else "other"


@dataclass(frozen=True)
class Quantity:
    amount: Decimal
    unit: str  # "" when the case gave no unit


@dataclass(frozen=True)
class IndustryLine:
    industry: str
    enterprises: int
    capacity: tuple[Quantity, ...]  # one per unit; units are never added together


@dataclass(frozen=True)
class Summary:
    lines: tuple[IndustryLine, ...]  # every industry of INDUSTRY_ORDER, in that order
    enterprises: int
    capacity: tuple[Quantity, ...]

    @property
    def empty(self) -> bool:
        return self.enterprises == 0


# -- pure helpers ------------------------------------------------------------------------------


def check_year(year: int) -> int:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise DubanError(N_("The year must be between {first} and {last}; got {year}."),
                         first=MIN_YEAR, last=MAX_YEAR, year=year)
    return year


def year_bounds(year: int, tz: tzinfo) -> tuple[datetime, datetime]:
    """The instants where ``year`` starts and ends in ``tz`` (end exclusive)."""
    check_year(year)
    return datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz)


def org_tz(org: Org) -> ZoneInfo:
    return ZoneInfo(org.prefecture.timezone)


def add_quantities(rows: Iterable[CaseRow]) -> tuple[Quantity, ...]:
    """Capacity summed per unit, units in order of first appearance."""
    sums: dict[str, Decimal] = {}
    for row in rows:
        amount = row.reported_capacity
        if amount is not None:
            unit = (row.unit or "").strip()
            sums[unit] = sums.get(unit, Decimal(0)) + amount
    return tuple(Quantity(amount, unit) for unit, amount in sums.items())


def summarize(rows: Sequence[CaseRow]) -> Summary:
    """Enterprises and capacity per industry (every industry listed, zero or not) and overall."""
    by_industry: dict[str, list[CaseRow]] = defaultdict(list)
    for row in rows:
        by_industry[row.industry_group].append(row)
    lines = tuple(
        IndustryLine(industry, len(by_industry[industry]),
                     add_quantities(by_industry[industry]))
        for industry in INDUSTRY_ORDER
    )
    return Summary(lines, len(rows), add_quantities(rows))


def by_industry(rows: Sequence[CaseRow]) -> list[tuple[str, list[CaseRow]]]:
    """The rows grouped by industry, in INDUSTRY_ORDER, leaving out empty industries."""
    groups: dict[str, list[CaseRow]] = defaultdict(list)
    for row in rows:
        groups[row.industry_group].append(row)
    return [(industry, groups[industry]) for industry in INDUSTRY_ORDER if groups[industry]]


def is_overdue(row: CaseRow, today: date) -> bool:
    """Whether the case is overdue (the one definition: ``scheduler.rules.is_overdue``)."""
    return rules.is_overdue(row.state, row.due_on, today)


def red_card_clauses() -> list[str]:
    """Clauses whose exit means "closed after failing" (red card)."""
    return [clause for clause, workflow in WORKFLOWS.items() if workflow.failing_exit]


# -- queries ------------------------------------------------------------------------------------

def _row(case: Case, tz: tzinfo) -> CaseRow:
    return CaseRow(
        ref=case.ref, region=case.region_name, enterprise=case.enterprise,
        industry=case.industry, clause=case.clause, state=case.state,
        capacity=_decimal(case.capacity), exited_capacity=_decimal(case.exited_capacity),
        unit=case.unit, equipment=case.equipment, registered_on=case.registered_on,
        deadline=case.deadline, due_on=case.due_on,
        closed_on=case.closed_at.astimezone(tz).date() if case.closed_at is not None else None,
    )


def _decimal(value: object) -> Decimal | None:
    if value is None:
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


async def _rows(session: AsyncSession, statement: SelectOfScalar[Case],
                tz: tzinfo) -> list[CaseRow]:
    return [_row(case, tz) for case in (await session.exec(statement)).all()]


def _department_filter(statement: SelectOfScalar[Case],
                       department: str) -> SelectOfScalar[Case]:
    """Cases where ``department`` has a required, active (not handed back) assignment."""
    return statement.where(col(Case.id).in_(
        select(col(Assignment.case_id)).where(
            col(Assignment.department_key) == department,
            col(Assignment.required).is_(True),
            col(Assignment.status).in_([s.value for s in ACTIVE_STATUSES]),
        )
    ))


async def exited_cases(session: AsyncSession, *, year: int, tz: tzinfo,
                       region: str | None = None, department: str | None = None,
                       clauses: Sequence[str] | None = None) -> list[CaseRow]:
    """Cases that exited in ``year`` (local), by region, industry, enterprise."""
    start, end = year_bounds(year, tz)
    statement = select(Case).where(
        col(Case.state) == State.EXITED.value,
        col(Case.closed_at) >= start, col(Case.closed_at) < end,
    )
    if region is not None:
        statement = statement.where(col(Case.region_name) == region)
    if department is not None:
        statement = _department_filter(statement, department)
    if clauses is not None:
        statement = statement.where(col(Case.clause).in_(list(clauses)))
    statement = statement.order_by(col(Case.region_name), col(Case.industry),
                                   col(Case.closed_at), col(Case.ref))
    return await _rows(session, statement, tz)


async def open_cases(session: AsyncSession, *, tz: tzinfo, region: str | None = None,
                     states: Sequence[str] | None = None,
                     clauses: Sequence[str] | None = None) -> list[CaseRow]:
    """Cases not closed (or in ``states``; under ``clauses``), by deadline (none last), then
    reference."""
    wanted = list(states) if states is not None else [
        s.value for s in State if s not in CLOSED_STATES
    ]
    statement = select(Case).where(col(Case.state).in_(wanted))
    if clauses is not None:
        statement = statement.where(col(Case.clause).in_(list(clauses)))
    if region is not None:
        statement = statement.where(col(Case.region_name) == region)
    statement = statement.order_by(col(Case.deadline).is_(None), col(Case.deadline),
                                   col(Case.ref))
    return await _rows(session, statement, tz)


# -- what the documents and lists need, one transaction each ---------------------------------------


@dataclass(frozen=True)
class RegionData:
    exited: tuple[CaseRow, ...]
    open: tuple[CaseRow, ...]


async def region_data(sessions: async_sessionmaker[AsyncSession], *, org: Org, region: str,
                      year: int) -> RegionData:
    tz = org_tz(org)
    async with sessions() as session:
        exited = await exited_cases(session, year=year, tz=tz, region=region)
        still_open = await open_cases(session, tz=tz, region=region)
    return RegionData(tuple(exited), tuple(still_open))


async def year_exits(sessions: async_sessionmaker[AsyncSession], *, org: Org, year: int,
                     department: str | None = None,
                     clauses: Sequence[str] | None = None) -> tuple[CaseRow, ...]:
    async with sessions() as session:
        return tuple(await exited_cases(session, year=year, tz=org_tz(org),
                                        department=department, clauses=clauses))


async def yellow_cases(sessions: async_sessionmaker[AsyncSession], *,
                       org: Org) -> tuple[CaseRow, ...]:
    async with sessions() as session:
        return tuple(await open_cases(session, tz=org_tz(org),
                                      states=[s.value for s in YELLOW_STATES]))


async def all_open_cases(sessions: async_sessionmaker[AsyncSession], *, org: Org,
                         region: str | None = None) -> tuple[CaseRow, ...]:
    async with sessions() as session:
        return tuple(await open_cases(session, tz=org_tz(org), region=region))


# -- what each report reads ------------------------------------------------------------


@dataclass(frozen=True)
class CountyReport:
    """Everything the county report says, read from the database."""

    region: Region
    year: int
    commission: str
    today: date
    exited: tuple[CaseRow, ...]
    open: tuple[CaseRow, ...]

    @property
    def summary(self) -> Summary:
        return summarize(self.exited)


async def load_county_report(sessions: async_sessionmaker[AsyncSession], org: Org,
                             county: str, *, year: int, today: date) -> CountyReport:
    """The report for ``county`` (matched forgivingly: 玛纳斯 = 玛纳斯县) and ``year``."""
    region = org.resolve_region(county)
    data = await region_data(sessions, org=org, region=region.name, year=check_year(year))
    return CountyReport(region=region, year=year, commission=org.prefecture.commission,
                        today=today, exited=data.exited, open=data.open)


@dataclass(frozen=True)
class Letter:
    department: OrgDepartment
    recipients: tuple[str, ...]
    year: int
    today: date
    exited: tuple[CaseRow, ...]


@dataclass(frozen=True)
class AnnualSummary:
    prefecture: str
    commission: str
    regions: tuple[Region, ...]
    year: int
    today: date
    exited: tuple[CaseRow, ...]
    open: tuple[CaseRow, ...]
    #: whom it goes to (主送) and who gets a copy (抄报), as the policy text names them
    recipients: Recipients = field(default_factory=Recipients)


def letter_department(org: Org, query: str, catalog: Catalog | None = None) -> OrgDepartment:
    """The department ``query`` names, if it is one of those that write the letter (as the
    catalog's tags name them, :func:`scheduler.rules.duty_owners`)."""
    department = org.resolve_department(query)
    senders = rules.duty_owners(catalog).letter_senders
    if department.key not in senders:
        names = "、".join(_department_name(org, key) for key in senders)
        raise DubanError(N_("{department} does not write the year-end letter; only {names} "
                            "do."), department=department.name, names=names)
    return department


def _department_name(org: Org, key: str) -> str:
    found = org.department(key)
    return found.name if found else org.alias_table().name(key)


async def load_letter(sessions: async_sessionmaker[AsyncSession], org: Org, department: str,
                      *, year: int, today: date, catalog: Catalog | None = None) -> Letter:
    sender = letter_department(org, department, catalog)
    exited = await year_exits(sessions, org=org, year=check_year(year), department=sender.key)
    recipients = rules.duty_owners(catalog).letter_recipients
    return Letter(department=sender,
                  recipients=tuple(_department_name(org, k) for k in recipients),
                  year=year, today=today, exited=exited)


async def load_summary(sessions: async_sessionmaker[AsyncSession], org: Org, *, year: int,
                       today: date, catalog: Catalog | None = None) -> AnnualSummary:
    exited = await year_exits(sessions, org=org, year=check_year(year))
    return AnnualSummary(prefecture=org.prefecture.name, commission=org.prefecture.commission,
                         regions=org.regions, year=year, today=today, exited=exited,
                         open=await all_open_cases(sessions, org=org),
                         recipients=report_recipients(catalog))


def overdue_by_region(rows: Sequence[CaseRow], today: date,
                      order: Sequence[str] = ()) -> list[tuple[str, int]]:
    """Overdue counts per region (only regions with some), in ``order``, others by name."""
    counts: dict[str, int] = {}
    for row in rows:
        if is_overdue(row, today):
            counts[row.region] = counts.get(row.region, 0) + 1
    rank = {name: i for i, name in enumerate(order)}
    return sorted(counts.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0]))


@dataclass(frozen=True)
class ClauseTally:
    """The cases of one clause (（四）…（九）) in a county or park: open and not overdue, open
    and overdue (``scheduler.rules.is_overdue``), and closed (rectified or exited, in any
    year), as the ``/status`` text counts them."""

    clause: str
    on_time: int = 0
    overdue: int = 0
    closed: int = 0

    @property
    def total(self) -> int:
        return self.on_time + self.overdue + self.closed


@dataclass(frozen=True)
class StatusFigures:
    """What the ``/status`` chart shows: this year's exits, overdue cases per county, and for
    one county or park its cases by clause and state."""

    summary: Summary
    overdue: tuple[tuple[str, int], ...]
    # One per clause of CASE_CLAUSES, in that order (zeros included); empty for the
    # prefecture's figures.
    by_clause: tuple[ClauseTally, ...] = ()


_OPEN_STATES = [s.value for s in State if s not in CLOSED_STATES]
_LATE_STATES = [s.value for s in LATE_STATES]


async def _overdue_counts(session: AsyncSession, *, today: date, region: str | None,
                          order: Sequence[str],
                          late: Sequence[counters.LateRow] | None = None
                          ) -> list[tuple[str, int]]:
    """Overdue cases per region (only regions with some), from the late counts (or the
    ``late`` rows already read), in ``order`` and then by name (as :func:`overdue_by_region`
    orders them)."""
    if late is None:
        late = await counters.late_rows(session, today, region)
    counts: dict[str, int] = defaultdict(int)
    for row in late:
        counts[row.region_name] += row.n
    rank = {name: i for i, name in enumerate(order)}
    return sorted(((name, n) for name, n in counts.items() if n),
                  key=lambda item: (rank.get(item[0], len(rank)), item[0]))


async def clause_tallies(session: AsyncSession, *, today: date,
                         region: str) -> tuple[ClauseTally, ...]:
    """The cases of ``region`` per clause and state, counted in the database (GROUP BY), every
    clause of CASE_CLAUSES listed (then any other clause found, by name)."""
    where = col(Case.region_name) == region
    by_state = await session.exec(
        select(col(Case.clause), col(Case.state), func.count()).where(where)
        .group_by(col(Case.clause), col(Case.state)))
    open_counts: dict[str, int] = defaultdict(int)
    closed_counts: dict[str, int] = defaultdict(int)
    for clause, state, count in by_state.all():
        bucket = open_counts if state in _OPEN_STATES else closed_counts
        bucket[clause] += count
    late = await session.exec(
        select(col(Case.clause), func.count())
        .where(where, queries.overdue_condition(_LATE_STATES, today))
        .group_by(col(Case.clause)))
    overdue_counts = dict(late.all())
    found = set(open_counts) | set(closed_counts)
    clauses = [*CASE_CLAUSES, *sorted(found - set(CASE_CLAUSES))]
    return tuple(
        ClauseTally(clause, on_time=open_counts[clause] - overdue_counts.get(clause, 0),
                    overdue=overdue_counts.get(clause, 0), closed=closed_counts[clause])
        for clause in clauses)


async def status_figures(sessions: async_sessionmaker[AsyncSession], org: Org, *, today: date,
                         region: str | None = None) -> StatusFigures:
    """The figures for the prefecture, or for one county or park (its canonical name).

    This year's exits and the clause tallies come from the counters (``models.counters``),
    overdue cases from the late counts; with a zone the counters cannot take, exits are read
    as rows and the tallies counted from the cases."""
    tz = org_tz(org)
    await counters.fold(sessions)
    await counters.roll(sessions, today)
    async with sessions() as session:
        late = await counters.late_rows(session, today, region)
        overdue = await _overdue_counts(session, today=today, region=region,
                                        order=[r.name for r in org.regions], late=late)
        if await counters.usable(session, tz):
            rows = await counters.status_rows(session, region)
            overdue_by_clause: dict[str, int] = defaultdict(int)
            for row in late:
                overdue_by_clause[row.clause] += row.n
            return StatusFigures(
                counted_summary(rows, today.year), tuple(overdue),
                _tallies(rows, overdue_by_clause) if region is not None else ())
        exits = await exited_cases(session, year=today.year, tz=tz, region=region)
        by_clause = (await clause_tallies(session, today=today, region=region)
                     if region is not None else ())
    return StatusFigures(summarize(exits), tuple(overdue), by_clause)


def counted_summary(rows: Iterable[counters.StatusRow], year: int) -> Summary:
    """:func:`summarize` of ``year``'s exits, from the counters: units in the order they first
    appear by region and industry (then by name), as the rows :func:`exited_cases` reads."""
    exits = sorted((r for r in rows if r.state == State.EXITED.value and r.closed_year == year),
                   key=lambda r: (r.region_name, r.industry, r.unit))
    enterprises: dict[str, int] = defaultdict(int)
    amounts: dict[str, dict[str, Decimal]] = defaultdict(dict)
    overall: dict[str, Decimal] = {}
    for row in exits:
        industry = row.industry if row.industry in INDUSTRY_ORDER else "other"
        enterprises[industry] += row.n
        if row.capacity_n:
            unit = row.unit.strip()
            amounts[industry][unit] = amounts[industry].get(unit, Decimal(0)) + row.capacity
            overall[unit] = overall.get(unit, Decimal(0)) + row.capacity
    lines = tuple(IndustryLine(industry, enterprises[industry],
                               tuple(Quantity(a, u) for u, a in amounts[industry].items()))
                  for industry in INDUSTRY_ORDER)
    return Summary(lines, sum(enterprises.values()),
                   tuple(Quantity(a, u) for u, a in overall.items()))


def _tallies(rows: Iterable[counters.StatusRow],
             overdue: dict[str, int]) -> tuple[ClauseTally, ...]:
    """:func:`clause_tallies` from the counters of one region."""
    open_counts: dict[str, int] = defaultdict(int)
    closed_counts: dict[str, int] = defaultdict(int)
    for row in rows:
        bucket = open_counts if row.state in _OPEN_STATES else closed_counts
        bucket[row.clause] += row.n
    found = {c for c, n in open_counts.items() if n} | {c for c, n in closed_counts.items() if n}
    clauses = [*CASE_CLAUSES, *sorted(found - set(CASE_CLAUSES))]
    return tuple(
        ClauseTally(clause, on_time=open_counts[clause] - overdue.get(clause, 0),
                    overdue=overdue.get(clause, 0), closed=closed_counts[clause])
        for clause in clauses)


class ListKind(StrEnum):
    YELLOW = "yellow"
    RED = "red"
    EXIT = "exit"
    EMITTERS = "emitters"  # 环保: enterprises over the emission standards (（二十一）)
    SERIOUS = "serious"  # 环保: of those, the serious cases (closure asked, ordered or done)


async def list_rows(sessions: async_sessionmaker[AsyncSession], org: Org, kind: ListKind, *,
                    year: int) -> tuple[CaseRow, ...]:
    """The cases a public list shows: open yellow-card cases, the year's (red-card) exits,
    or 环保's two: the open cases under the emission standards, and the serious ones (their
    closure asked for or ordered, or carried out in the year)."""
    check_year(year)
    if kind is ListKind.YELLOW:
        return await yellow_cases(sessions, org=org)
    if kind is ListKind.RED:
        return await year_exits(sessions, org=org, year=year, clauses=red_card_clauses())
    if kind is ListKind.EMITTERS:
        async with sessions() as session:
            return tuple(await open_cases(session, tz=org_tz(org), clauses=EMISSION_CLAUSES))
    if kind is ListKind.SERIOUS:
        async with sessions() as session:
            pending = await open_cases(session, tz=org_tz(org), states=SERIOUS_STATES,
                                       clauses=EMISSION_CLAUSES)
        closed = await year_exits(sessions, org=org, year=year, clauses=EMISSION_CLAUSES)
        return (*pending, *closed)
    return await year_exits(sessions, org=org, year=year)


@dataclass
class ReportService:
    """The report queries for the chat commands (the command line calls the functions)."""

    sessions: async_sessionmaker[AsyncSession]

    async def status_figures(self, org: Org, *, today: date,
                             region: str | None = None) -> StatusFigures:
        return await status_figures(self.sessions, org, today=today, region=region)

    async def county_report(self, org: Org, county: str, *, year: int,
                            today: date) -> CountyReport:
        return await load_county_report(self.sessions, org, county, year=year, today=today)
