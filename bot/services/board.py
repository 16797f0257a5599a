"""The 红黄绿灯 board (``/board``, ``duban board``): every county or park and every department
with a light, worst first.

* red: something of theirs is overdue (the one definition of overdue, as ``/status`` counts);
* yellow: nothing overdue, but something falls due within :data:`DUE_SOON_DAYS` days, or runs
  on an approved extension;
* green: everything on time.

The figures the ranking has (overdue, open, closed, on-time rate) come from
:meth:`StatusService.ranking` (the counters); what depends on today besides overdue (due soon)
is an indexed read of the open cases by due day; an extension is read per open case from its
events; the notices (通报, signed) and summonses (约谈, confirmed) of the year are grouped by
their party.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import IntEnum
from typing import Any

from sqlalchemy import and_, exists, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.routing import ACTIVE_STATUSES
from bot.services.status import OPEN, Standing, StatusService
from models.tables import Assignment, Case, Event, Notice, NoticeEntry, Summons

#: "Close to the deadline": due today or within this many days.
DUE_SOON_DAYS = 7
#: The workflow step whose event marks a case as running on an approved extension.
EXTENSION_STEP = "approve_extension"


class Light(IntEnum):
    """A board light; the larger, the worse (the board sorts by it first)."""

    GREEN = 0
    YELLOW = 1
    RED = 2


@dataclass(frozen=True)
class BoardRow:
    """One county, park or department on the board: its standing and what makes it yellow,
    and how often it was named this year."""

    standing: Standing
    due_soon: int = 0
    extended: int = 0
    notices: int = 0
    summonses: int = 0

    @property
    def light(self) -> Light:
        if self.standing.overdue:
            return Light.RED
        if self.due_soon or self.extended:
            return Light.YELLOW
        return Light.GREEN

    def sort_key(self) -> tuple[int, tuple[int, int, float, str]]:
        """Worst light first, then as the ranking sorts (most overdue, lowest on-time rate)."""
        return (-self.light, self.standing.sort_key())


@dataclass(frozen=True)
class Board:
    """The board as of ``today``: counties and parks, and departments, worst first."""

    today: date
    regions: tuple[BoardRow, ...]
    departments: tuple[BoardRow, ...]


def light_of(standing: Standing, *, due_soon: int, extended: int) -> Light:
    """The light of one party (pure; :attr:`BoardRow.light`)."""
    return BoardRow(standing, due_soon=due_soon, extended=extended).light


@dataclass
class BoardService:
    status: StatusService

    async def board(self, today: date) -> Board:
        """The board of the prefecture on ``today`` (the year of its notices and summonses)."""
        regions, departments = await self.status.ranking(today)
        async with self.status.sessions() as session:
            rows = {kind: await self._rows(session, kind, standings, today)
                    for kind, standings in (("region", regions), ("department", departments))}
        return Board(today, rows["region"], rows["department"])

    async def _rows(self, session: AsyncSession, kind: str, standings: list[Standing],
                    today: date) -> tuple[BoardRow, ...]:
        soon = await self._count_open(session, kind, and_(
            col(Case.due_on) >= today, col(Case.due_on) <= today + timedelta(DUE_SOON_DAYS)))
        extended = await self._count_open(session, kind, exists().where(
            col(Event.case_id) == col(Case.id), col(Event.kind) == EXTENSION_STEP))
        notices = await self._notices(session, kind, today.year)
        summonses = await self._summonses(session, kind, today.year)
        rows = [BoardRow(s, due_soon=soon.get(s.name, 0), extended=extended.get(s.name, 0),
                         notices=notices.get(s.name, 0), summonses=summonses.get(s.name, 0))
                for s in standings]
        return tuple(sorted(rows, key=BoardRow.sort_key))

    @staticmethod
    async def _count_open(session: AsyncSession, kind: str, condition: Any) -> dict[str, int]:
        """Open cases meeting ``condition`` per region, or per department (a case once per
        department it is required to act on and has not handed back, as the ranking counts)."""
        where = [col(Case.state).in_(OPEN), condition]
        rows: Any
        if kind == "region":
            rows = await session.exec(select(col(Case.region_name), func.count())
                                      .where(*where).group_by(col(Case.region_name)))
        else:
            rows = await session.exec(
                select(col(Assignment.department_key), func.count(func.distinct(col(Case.id))))
                .join(Case, col(Case.id) == col(Assignment.case_id))
                .where(*where, col(Assignment.required).is_(True),
                       col(Assignment.status).in_([s.value for s in ACTIVE_STATUSES]),
                       col(Assignment.department_key).is_not(None))
                .group_by(col(Assignment.department_key)))
        return {name: n for name, n in rows.all()}

    @staticmethod
    async def _notices(session: AsyncSession, kind: str, year: int) -> dict[str, int]:
        """Signed notices of ``year`` naming each party (a notice once per party)."""
        rows = await session.exec(
            select(col(NoticeEntry.party), func.count(func.distinct(col(Notice.id))))
            .join(Notice, col(Notice.id) == col(NoticeEntry.notice_id))
            .where(col(Notice.status) == "signed", col(Notice.year) == year,
                   col(NoticeEntry.party_kind) == kind)
            .group_by(col(NoticeEntry.party)))
        return {party: n for party, n in rows.all()}

    @staticmethod
    async def _summonses(session: AsyncSession, kind: str, year: int) -> dict[str, int]:
        """Confirmed summonses of ``year`` (a proposed one has not reached its party)."""
        rows = await session.exec(
            select(col(Summons.party), func.count())
            .where(col(Summons.status) == "confirmed", col(Summons.year) == year,
                   col(Summons.party_kind) == kind)
            .group_by(col(Summons.party)))
        return {party: n for party, n in rows.all()}
