"""Inspections (clause 三 of the cover letter): joint inspections of a county or park and the
commission's own, with the problems they found.

* A county's or park's liaison records its **joint inspection** (联合检查) in its chat: the
  day, the departments that took part, the enterprises checked and each problem found. A
  problem is either **fed back** to the commission (问题反馈: one message to the coordinators,
  exactly once) or **opened as a case** (立案, through ``CaseService.create_case``).
* Coordinators **schedule** a commission inspection (督促检查): the counties and parks to be
  inspected are told in their chats. Once held, it is recorded the same way; a problem fed back
  is then the commission's finding, sent to the county's or park's chat. A scheduled one whose
  day has passed without a record is listed for the coordinators (:meth:`overdue`).

The recording dialog is ``bot.services.dialogs`` (flow ``inspection``); it opens the cases and
calls :meth:`InspectionService.record` in its own transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.clock import Clock, local_today
from bot.core.i18n import N_, DubanError
from bot.core.inspections import (
    CASE,
    COMMISSION,
    FED_BACK,
    JOINT,
    PLAN_NO_PLACE,
    PLAN_NOT_BEFORE_TODAY,
    PLANNED,
    RECORDED,
)
from bot.core.org import Org
from bot.services.access import (
    Reader,
    Who,
    reader_of,
    require_coordinator,
    require_party,
    require_region_reader,
    status_place,
)
from bot.services.outbox import Kind, enqueue
from models.db import transaction
from models.tables import Inspection, InspectionProblem

#: To the coordinators: a problem a county's joint inspection fed back (问题反馈).
PROBLEM_FED_BACK = N_("Problem fed back by {region} from its joint inspection of {date}:\n"
                      "Enterprise: {enterprise}\nProblem: {problem}")
#: To the county or park: a finding of the commission's inspection.
COMMISSION_FINDING = N_("Finding of the commission's inspection of {region} on {date}:\n"
                        "Enterprise: {enterprise}\nProblem: {problem}\n"
                        "Please rectify it and report to the commission.")
#: To each county or park to be inspected.
INSPECTION_SCHEDULED = N_("The commission will inspect the work in {region} (督促检查) on "
                          "{date}, together with: {departments}. Please have the progress of "
                          "the work and its records ready.")
NO_SUCH_INSPECTION = N_("This inspection is no longer waiting to be recorded.")


@dataclass(frozen=True)
class ProblemInput:
    """A problem found, as recorded: ``case_ref`` names the case it was opened as."""

    region: str
    enterprise: str
    text: str
    disposition: str  # fed_back | case
    case_ref: str | None = None
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class InspectionInput:
    kind: str  # joint | commission
    regions: tuple[str, ...]
    held_on: date
    departments: tuple[str, ...]
    enterprises: tuple[str, ...]
    enterprise_count: int | None
    problems: tuple[ProblemInput, ...]
    #: the scheduled commission inspection this records, if any
    inspection_id: int | None = None


@dataclass(frozen=True)
class InspectionView:
    inspection: Inspection
    problems: tuple[InspectionProblem, ...]


@dataclass(frozen=True)
class Overview:
    """What ``/inspections`` shows: the year's inspections (of ``region``, or all), and for
    those who read everything the scheduled ones whose day passed without a record."""

    year: int
    region: str | None
    views: tuple[InspectionView, ...]
    overdue: tuple[Inspection, ...] = ()


@dataclass
class InspectionService:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    org: Callable[[], Awaitable[Org]]

    async def plan(self, day: date, regions: Sequence[str], departments: Sequence[str],
                   who: Who) -> Inspection:
        """Schedule a commission inspection and tell each county or park to be inspected."""
        require_coordinator(who)
        if not regions:
            raise DubanError(PLAN_NO_PLACE)
        if day < local_today(self.clock):
            raise DubanError(PLAN_NOT_BEFORE_TODAY)
        org = await self.org()
        names = "、".join(_department_name(org, key) for key in departments) \
            or org.prefecture.commission
        now = self.clock.now()
        async with transaction(self.sessions) as session:
            inspection = Inspection(
                kind=COMMISSION, status=PLANNED, regions=list(regions), scheduled_on=day,
                departments=list(departments), enterprises=[], planned_by=who.telegram_id,
                planned_by_name=who.name, chat_id=who.chat_id, created_at=now, updated_at=now)
            session.add(inspection)
            await session.flush()
            for region in regions:
                await enqueue(session, key=f"inspection-planned:{inspection.id}:{region}",
                              kind=Kind.TEXT, recipient_kind="region", recipient=region,
                              now=now, payload={
                                  "message": INSPECTION_SCHEDULED,
                                  "params": {"region": region, "departments": names},
                                  "dates": {"date": day.isoformat()}})
        return inspection

    async def planned(self) -> list[Inspection]:
        """The commission inspections scheduled and not yet recorded, earliest first."""
        async with self.sessions() as session:
            rows = await session.exec(select(Inspection).where(
                col(Inspection.kind) == COMMISSION, col(Inspection.status) == PLANNED)
                .order_by(col(Inspection.scheduled_on), col(Inspection.id)))
            return list(rows.all())

    async def overdue(self, today: date) -> list[Inspection]:
        """Scheduled commission inspections whose day has passed without a record."""
        return [i for i in await self.planned()
                if i.scheduled_on is not None and i.scheduled_on < today]

    async def record(self, item: InspectionInput, who: Who) -> Inspection:
        """Record a held inspection and its problems (the cases already opened); queue each
        problem fed back, once. Joins the caller's transaction."""
        if item.kind == JOINT:
            require_party(who, region=item.regions[0])
        else:
            require_coordinator(who)
        now = self.clock.now()
        async with transaction(self.sessions) as session:
            inspection: Inspection | None
            if item.inspection_id is not None:
                inspection = await session.get(Inspection, item.inspection_id)
                if inspection is None or inspection.status != PLANNED:
                    raise DubanError(NO_SUCH_INSPECTION)
            else:
                inspection = Inspection(kind=item.kind, status=RECORDED, regions=[],
                                        departments=[], enterprises=[], created_at=now,
                                        updated_at=now)
            inspection.kind, inspection.status = item.kind, RECORDED
            inspection.regions = list(item.regions)
            inspection.held_on = item.held_on
            inspection.departments = list(item.departments)
            inspection.enterprises = list(item.enterprises)
            inspection.enterprise_count = item.enterprise_count
            inspection.recorded_by, inspection.recorded_by_name = who.telegram_id, who.name
            inspection.chat_id = who.chat_id
            inspection.updated_at = now
            session.add(inspection)
            await session.flush()
            for seq, problem in enumerate(item.problems, start=1):
                row = InspectionProblem(
                    inspection_id=inspection.id or 0, seq=seq, enterprise=problem.enterprise,
                    text=problem.text, disposition=problem.disposition,
                    case_ref=problem.case_ref if problem.disposition == CASE else None,
                    evidence=list(problem.evidence), created_at=now)
                session.add(row)
                await session.flush()
                if problem.disposition != FED_BACK:
                    continue
                joint = item.kind == JOINT
                await enqueue(
                    session, key=f"inspection-problem:{row.id}", kind=Kind.TEXT,
                    recipient_kind="coordinators" if joint else "region",
                    recipient="*" if joint else problem.region, now=now,
                    payload={"message": PROBLEM_FED_BACK if joint else COMMISSION_FINDING,
                             "params": {"region": problem.region,
                                        "enterprise": problem.enterprise,
                                        "problem": problem.text},
                             "dates": {"date": item.held_on.isoformat()}})
        return inspection

    async def overview(self, reader: Reader | Who, *, year: int, region: str | None,
                       commission: str) -> Overview:
        """``/inspections [PLACE] [YEAR]``: a county's or park's to those who read its
        figures; without a place, everything to coordinators, the reader's own county
        otherwise (as ``/status``)."""
        if region is not None:
            require_region_reader(reader, region, commission=commission)
        else:
            region = status_place(reader, commission=commission)
        views = await self.listing(year=year, region=region)
        overdue: list[Inspection] = []
        if reader_of(reader).everything:
            overdue = [i for i in await self.overdue(local_today(self.clock))
                       if region is None or region in i.regions]
        return Overview(year, region, tuple(views), tuple(overdue))

    async def listing(self, *, year: int, region: str | None = None) -> list[InspectionView]:
        """The inspections held or scheduled in ``year`` (of ``region``), by day."""
        async with self.sessions() as session:
            return await year_views(session, year=year, region=region)


async def year_views(session: AsyncSession, *, year: int,
                     region: str | None = None) -> list[InspectionView]:
    """The inspections held or scheduled in ``year`` (of ``region``) with their problems, by
    day (also the ledger's sheet, ``bot.services.ledger``)."""
    found = [i for i in (await session.exec(select(Inspection))).all()
             if _day(i).year == year and (region is None or region in i.regions)]
    found.sort(key=lambda i: (_day(i), i.id or 0))
    ids = [i.id for i in found]
    problems: dict[int, list[InspectionProblem]] = {}
    if ids:
        rows = await session.exec(select(InspectionProblem).where(
            col(InspectionProblem.inspection_id).in_(ids)).order_by(col(InspectionProblem.seq)))
        for row in rows.all():
            problems.setdefault(row.inspection_id, []).append(row)
    return [InspectionView(i, tuple(problems.get(i.id or 0, ()))) for i in found]


def _day(inspection: Inspection) -> date:
    """The day it was held, or is scheduled for (every inspection has one or the other)."""
    return inspection.held_on or inspection.scheduled_on or date.min


def _department_name(org: Org, key: str) -> str:
    found = org.department(key)
    return found.name if found is not None else key
