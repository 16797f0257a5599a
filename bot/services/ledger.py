"""The ledger (台账) of a year: every case and yearly duty with its parts, dates, state,
evidence and the notices and summonses it appears in; and the year's notices and summonses.

A case belongs to year Y's ledger if it was open at some time in Y: registered by 31 December
and not closed before 1 January (carried-over cases stay on the new year's ledger until they
close). Cases are read in chunks of plain rows by their id (keyset pages), never all at once
as ORM objects; with each chunk its assignments and its events' evidence. The year's notices
and summonses are few (a handful a month) and are read whole.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from decimal import Decimal
from typing import Any

from sqlalchemy import or_
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.i18n import N_, DubanError
from bot.services.inspections import InspectionView, year_views
from bot.services.tasks import TaskView, year_tasks
from models.tables import Assignment, Case, Event, Notice, NoticeEntry, Obligation, Summons
from scheduler.rules import is_overdue

#: Cases per chunk: their assignments and events are read with one query each.
CHUNK = 500
FIRST_YEAR, LAST_YEAR = 2000, 2100


def check_ledger_year(year: int) -> int:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise DubanError(N_("The year must be between {first} and {last}; got {year}."),
                         first=FIRST_YEAR, last=LAST_YEAR, year=year)
    return year


@dataclass(frozen=True)
class LedgerPart:
    """A department's part in a case (``department`` None: a group not yet resolved)."""

    department: str | None
    as_written: str
    role: str
    status: str


@dataclass(frozen=True)
class Summoned:
    """A summons as people number it (约谈〔year〕number号)."""

    year: int | None
    number: int | None


@dataclass(frozen=True)
class LedgerCase:
    ref: str
    region: str
    enterprise: str
    industry: str
    clause: str
    capacity: Decimal | None
    unit: str | None
    registered_on: date
    deadline: date | None
    due_on: date | None
    closed_on: date | None  # local date
    state: str
    overdue: bool
    parts: tuple[LedgerPart, ...]
    evidence: tuple[str, ...]  # stored evidence references, oldest first
    notices: tuple[str, ...]  # codes of the signed notices naming it
    summonses: tuple[Summoned, ...]


@dataclass(frozen=True)
class LedgerDuty:
    kind: str
    party: str
    party_kind: str
    role: str
    opened_on: date
    due: date
    confirmed_on: date | None
    evidence: tuple[str, ...]
    notices: tuple[str, ...]
    summonses: tuple[Summoned, ...]


@dataclass(frozen=True)
class LedgerNotice:
    code: str
    issued_on: date | None
    signed_by: str | None
    parties: tuple[tuple[str, str], ...]  # (party kind, party)
    case_refs: tuple[str, ...]


@dataclass(frozen=True)
class LedgerSummons:
    summoned: Summoned
    party: str
    party_kind: str
    leader: str | None
    meets_at: datetime
    place: str
    status: str  # proposed | confirmed
    rsvp: str | None  # accept | decline
    held: bool  # an outcome is recorded
    notice: str | None  # the code of the notice it follows
    case_refs: tuple[str, ...]


@dataclass(frozen=True)
class Ledger:
    """The year's ledger: the small sheets whole, the cases as a source of chunks."""

    year: int
    today: date
    duties: tuple[LedgerDuty, ...]
    notices: tuple[LedgerNotice, ...]
    summonses: tuple[LedgerSummons, ...]
    #: The cases of the year, in chunks (read when called; once per file written).
    cases: Callable[[], AsyncIterator[list[LedgerCase]]]
    #: The year's inspections with the problems they found (``bot.services.inspections``).
    inspections: tuple[InspectionView, ...] = ()
    #: The tasks supervised in the year, with their reports (``bot.services.tasks``).
    tasks: tuple[TaskView, ...] = ()


@dataclass(frozen=True)
class _Named:
    """Which notices and summonses name each case and each duty (``kind:party``)."""

    notices: dict[str, list[str]]
    summonses: dict[str, list[Summoned]]


@dataclass
class LedgerService:
    sessions: async_sessionmaker[AsyncSession]
    tz: tzinfo

    async def ledger(self, year: int, today: date, chunk: int = CHUNK) -> Ledger:
        check_ledger_year(year)
        async with self.sessions() as session:
            notices = await self._notices(session, year)
            summonses = await self._summonses(session, year)
            named = self._named(notices, summonses)
            duties = await self._duties(session, year, named)
            inspections = tuple(await year_views(session, year=year))
            tasks = tuple(await year_tasks(session, year))
        return Ledger(year=year, today=today, duties=duties, inspections=inspections,
                      tasks=tasks,
                      notices=tuple(notice for notice, _ in notices),
                      summonses=tuple(summons for summons, _ in summonses),
                      cases=lambda: self._case_chunks(year, today, named, chunk))

    def _bounds(self, year: int) -> tuple[date, datetime]:
        """The year's last day, and its first moment in local time."""
        return date(year, 12, 31), datetime.combine(date(year, 1, 1), time(), self.tz)

    async def _case_chunks(self, year: int, today: date, named: _Named,
                           chunk: int) -> AsyncIterator[list[LedgerCase]]:
        last_day, start = self._bounds(year)
        after = 0
        async with self.sessions() as session:
            while True:
                rows = (await session.exec(  # type: ignore[call-overload]
                    sa_select(col(Case.id), col(Case.ref), col(Case.region_name),
                           col(Case.enterprise), col(Case.industry), col(Case.clause),
                           col(Case.capacity), col(Case.unit), col(Case.registered_on),
                           col(Case.deadline), col(Case.due_on), col(Case.closed_at),
                           col(Case.state))
                    .where(col(Case.id) > after, col(Case.registered_on) <= last_day,
                           or_(col(Case.closed_at).is_(None), col(Case.closed_at) >= start))
                    .order_by(col(Case.id)).limit(chunk))).all()
                if not rows:
                    return
                after = rows[-1][0]
                ids = [row[0] for row in rows]
                parts = await self._parts(session, ids)
                evidence = await self._evidence(session, ids)
                yield [self._case(row, today, parts[row[0]], evidence[row[0]], named)
                       for row in rows]
                if len(rows) < chunk:
                    return

    def _case(self, row: Any, today: date, parts: list[LedgerPart], evidence: list[str],
              named: _Named) -> LedgerCase:
        (_id, ref, region, enterprise, industry, clause, capacity, unit, registered_on,
         deadline, due_on, closed_at, state) = row
        return LedgerCase(
            ref=ref, region=region, enterprise=enterprise, industry=industry, clause=clause,
            capacity=capacity, unit=unit, registered_on=registered_on, deadline=deadline,
            due_on=due_on,
            closed_on=closed_at.astimezone(self.tz).date() if closed_at else None,
            state=state, overdue=is_overdue(state, due_on, today), parts=tuple(parts),
            evidence=tuple(evidence), notices=tuple(named.notices.get(f"case:{ref}", ())),
            summonses=tuple(named.summonses.get(f"case:{ref}", ())))

    @staticmethod
    async def _parts(session: AsyncSession, ids: Sequence[int]) -> dict[int, list[LedgerPart]]:
        rows = await session.exec(  # type: ignore[call-overload]
            sa_select(col(Assignment.case_id), col(Assignment.department_key),
                   col(Assignment.as_written), col(Assignment.role), col(Assignment.status))
            .where(col(Assignment.case_id).in_(ids)).order_by(col(Assignment.id)))
        found: dict[int, list[LedgerPart]] = defaultdict(list)
        for case_id, department, as_written, role, status in rows.all():
            found[case_id].append(LedgerPart(department, as_written, role, status))
        return found

    @staticmethod
    async def _evidence(session: AsyncSession, ids: Sequence[int]) -> dict[int, list[str]]:
        """Every evidence reference in the cases' events, oldest first (as ``/case`` numbers
        them, ``bot.services.evidence.case_evidence``)."""
        rows = await session.exec(
            select(col(Event.case_id), col(Event.payload))
            .where(col(Event.case_id).in_(ids)).order_by(col(Event.case_id), col(Event.seq)))
        found: dict[int, list[str]] = defaultdict(list)
        for case_id, payload in rows.all():
            refs = (payload or {}).get("evidence")
            if isinstance(refs, list | tuple):
                found[case_id].extend(str(ref) for ref in refs)
        return found

    @staticmethod
    async def _notices(session: AsyncSession,
                       year: int) -> list[tuple[LedgerNotice, list[NoticeEntry]]]:
        notices = (await session.exec(
            select(Notice).where(col(Notice.status) == "signed", col(Notice.year) == year)
            .order_by(col(Notice.number)))).all()
        entries: dict[int, list[NoticeEntry]] = defaultdict(list)
        if notices:
            for entry in (await session.exec(
                    select(NoticeEntry)
                    .where(col(NoticeEntry.notice_id).in_([n.id for n in notices]))
                    .order_by(col(NoticeEntry.id)))).all():
                entries[entry.notice_id].append(entry)
        found = []
        for notice in notices:
            mine = entries[notice.id or 0]
            refs = dict.fromkeys(ref for entry in mine for ref in entry.case_refs)
            found.append((LedgerNotice(
                code=notice.code or "", issued_on=notice.issued_on,
                signed_by=notice.signed_by_name,
                parties=tuple(dict.fromkeys((e.party_kind, e.party) for e in mine)),
                case_refs=tuple(refs)), mine))
        return found

    @staticmethod
    async def _summonses(session: AsyncSession,
                         year: int) -> list[tuple[LedgerSummons, Summons]]:
        rows = (await session.exec(
            select(Summons, col(Notice.code))
            .join(Notice, col(Notice.id) == col(Summons.notice_id), isouter=True)
            .where(col(Summons.year) == year).order_by(col(Summons.number)))).all()
        return [(LedgerSummons(
            summoned=Summoned(summons.year, summons.number), party=summons.party,
            party_kind=summons.party_kind, leader=summons.leader, meets_at=summons.meets_at,
            place=summons.place, status=summons.status, rsvp=summons.rsvp,
            held=summons.outcome is not None, notice=code,
            case_refs=tuple(summons.case_refs)), summons) for summons, code in rows]

    @staticmethod
    def _named(notices: Sequence[tuple[LedgerNotice, list[NoticeEntry]]],
               summonses: Sequence[tuple[LedgerSummons, Summons]]) -> _Named:
        named_notices: dict[str, list[str]] = defaultdict(list)
        for notice, entries in notices:
            keys = {f"case:{ref}" for entry in entries for ref in entry.case_refs}
            keys |= {f"duty:{entry.obligation}:{entry.party}" for entry in entries
                     if entry.obligation}
            for key in keys:
                named_notices[key].append(notice.code)
        named_summonses: dict[str, list[Summoned]] = defaultdict(list)
        for summons, row in summonses:
            keys = {f"case:{ref}" for ref in row.case_refs}
            if row.obligation:
                keys.add(f"duty:{row.obligation}:{row.party}")
            for key in keys:
                named_summonses[key].append(summons.summoned)
        return _Named(dict(named_notices), dict(named_summonses))

    async def _duties(self, session: AsyncSession, year: int,
                      named: _Named) -> tuple[LedgerDuty, ...]:
        rows = (await session.exec(
            select(Obligation).where(col(Obligation.year) == year,
                                     ~col(Obligation.kind).startswith("task-"))
            .order_by(col(Obligation.due), col(Obligation.kind), col(Obligation.party)))).all()
        return tuple(LedgerDuty(
            kind=o.kind, party=o.party, party_kind=o.party_kind, role=o.role,
            opened_on=o.opened_on, due=o.due,
            confirmed_on=o.confirmed_at.astimezone(self.tz).date() if o.confirmed_at else None,
            evidence=tuple(str(ref) for ref in o.evidence),
            notices=tuple(named.notices.get(f"duty:{o.kind}:{o.party}", ())),
            summonses=tuple(named.summonses.get(f"duty:{o.kind}:{o.party}", ())))
            for o in rows)
