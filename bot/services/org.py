"""Organisation service: store a validated org file in the database and read it back.

The database is the truth at run time; the org file seeds and updates it. Loading is one
transaction: departments, regions, people and settings change together or not at all.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import time
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.departments import DEFAULT_ALIASES
from bot.core.i18n import N_, DubanError
from bot.core.org import (
    EscalationSettings,
    Org,
    OrgDepartment,
    Person,
    Prefecture,
    Region,
    RequiredRule,
    ReviewSettings,
    RoutingSettings,
)
from models import queries
from models.db import transaction
from models.tables import Department, Setting
from models.tables import Person as PersonRow
from models.tables import Region as RegionRow


@dataclass(frozen=True)
class OrgLoadReport:
    departments: int
    regions: int
    people: int


def _escalation_to_json(settings: EscalationSettings) -> dict[str, Any]:
    data = asdict(settings)
    data["nudge_days_before"] = list(settings.nudge_days_before)
    data["office_hours"] = [t.strftime("%H:%M") for t in settings.office_hours]
    return data


def _escalation_from_json(data: dict[str, Any] | None) -> EscalationSettings:
    if not data:
        return EscalationSettings()
    values = dict(data)
    values["nudge_days_before"] = tuple(values.get("nudge_days_before", ()))
    start, end = values.get("office_hours", ("09:00", "17:30"))
    values["office_hours"] = (time.fromisoformat(start), time.fromisoformat(end))
    return EscalationSettings(**values)


def _routing_from_json(data: object) -> RoutingSettings:
    """The stored ``[routing]`` rules; an organisation loaded before they existed has the
    defaults."""
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        return RoutingSettings()
    return RoutingSettings(tuple(
        RequiredRule(r["clause"], r["industry"], tuple(r["departments"])) for r in data["rules"]))


@dataclass
class OrgService:
    sessions: async_sessionmaker[AsyncSession]
    # The organisation changes only through ``load`` (which forgets this copy) or by restarting
    # after `duban org load` in another process.
    _cached: Org | None = field(default=None, repr=False)

    async def cached(self) -> Org:
        """The organisation, read from the database once and then kept."""
        if self._cached is None:
            self._cached = await self.current()
        return self._cached

    async def load(self, org: Org) -> OrgLoadReport:
        """Store ``org``: departments and regions by key and name, people by Telegram id.

        Loading again updates what changed; people who joined in chat are kept.
        """
        async with transaction(self.sessions) as session:
            for department in org.departments:
                info = DEFAULT_ALIASES.departments.get(department.key)
                await session.merge(Department(
                    key=department.key, name=department.name,
                    name_en=info.name_en if info else None,
                    aliases=list(department.aliases), leader=department.leader,
                ))
            for region in org.regions:
                await session.merge(RegionRow(name=region.name, kind=region.kind,
                                              aliases=list(region.aliases), leader=region.leader))
            await session.flush()
            existing = {p.telegram_id: p for p in await queries.people(session)}
            for person in org.people:
                row = existing.get(person.telegram_id) or PersonRow(
                    telegram_id=person.telegram_id, name=person.name, role=person.role)
                row.name, row.role = person.name, person.role
                row.department_key, row.region_name = person.department, person.region
                session.add(row)
            await session.merge(Setting(key="prefecture", value=asdict(org.prefecture)))
            await session.merge(Setting(key="escalation",
                                        value=_escalation_to_json(org.escalation)))
            await session.merge(Setting(key="review", value=asdict(org.review)))
            await session.merge(Setting(key="routing", value=asdict(org.routing)))
        self._cached = None
        return OrgLoadReport(len(org.departments), len(org.regions), len(org.people))

    async def current(self) -> Org:
        """The stored organisation, or a clear error when none has been loaded."""
        async with self.sessions() as session:
            prefecture = await queries.setting(session, key="prefecture")
            if not isinstance(prefecture, dict):
                raise DubanError(N_("No organisation is loaded yet; run `duban org load FILE` "
                                    "(or `duban demo`) first."))
            escalation = await queries.setting(session, key="escalation")
            review = await queries.setting(session, key="review")
            routing = await queries.setting(session, key="routing")
            return Org(
                prefecture=Prefecture(**prefecture),
                regions=tuple(Region(r.name, r.kind, tuple(r.aliases), r.leader)
                              for r in await queries.regions(session)),
                departments=tuple(OrgDepartment(d.key, d.name, tuple(d.aliases), d.leader)
                                  for d in await queries.departments(session)),
                people=tuple(Person(p.name, p.telegram_id, p.role, p.department_key,
                                    p.region_name)
                             for p in await queries.people(session)),
                escalation=_escalation_from_json(
                    escalation if isinstance(escalation, dict) else None),
                review=ReviewSettings(**review) if isinstance(review, dict) else ReviewSettings(),
                routing=_routing_from_json(routing),
            )
