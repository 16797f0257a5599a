"""The sandbox's demo world: people and chats in the emulator, the demo org and cases in the
database, bound chats, and cases advanced to different stages with plausible dates.

Everything is seeded before the bot starts, so nothing races it: the bot posts the seeded
cases' cards through its outbox when it comes up, as it would after a restart in production.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.core.casefile import CaseInput, read_case_file
from bot.core.clock import DEFAULT_TIMEZONE, ManualClock
from bot.core.i18n import N_, DubanError
from bot.core.org import Org, load_demo_org
from bot.core.policy.catalog import Catalog, load_default_catalog
from bot.core.workflow import Actor, StepInput
from bot.data import DATA_DIR
from bot.devtools.emulator.client import EmulatorClient
from bot.services.cases import CaseService, Who
from bot.services.chats import BindTarget, ChatKind, ChatService
from bot.services.org import OrgService
from bot.services.outbox import Kind, OutboxStore, Pending
from models.db import create_engine, session_factory, upgrade

TZ = ZoneInfo(DEFAULT_TIMEZONE)
#: Where the sandbox's simulated time starts: a Tuesday morning, some deadlines near, some past.
SANDBOX_START = datetime(2026, 12, 1, 9, 0, tzinfo=TZ)
DEMO_CASES = DATA_DIR / "demo_cases.csv"
DEMO_ORG = DATA_DIR / "demo_org.toml"
BOT_ID = 700_000_001
BOT_USERNAME = "duban_sandbox_bot"
BOT_NAME = "督办"
OUTSIDER_ID = 90_001
OUTSIDER_NAME = "路人甲"
SEED_VERSION = 1
#: Department chats: every department with a liaison, and those the demo cases need.
DEPARTMENT_CHATS = ("industry", "environment", "development_reform", "quality", "safety",
                    "energy", "coal")
#: County and park chats.
REGION_CHATS = ("玛纳斯县", "昌吉市", "准东经济技术开发区")


# --------------------------------------------------------------------------- people and chats


@dataclass(frozen=True)
class Persona:
    """Someone the page lets a person act as."""

    id: int
    name: str
    role: str  # coordinator | liaison | outsider
    department: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class ChatSpec:
    """A group chat to create and bind (``kind`` coordination, department or region)."""

    key: str
    title: str
    kind: ChatKind
    members: tuple[int, ...]
    admins: tuple[int, ...] = ()
    department: str | None = None
    region: str | None = None

    def target(self) -> BindTarget:
        return BindTarget(self.kind, department=self.department, region=self.region)


@dataclass
class SandboxMeta:
    """What a sandbox folder remembers about its world (``sandbox.json``)."""

    token: str
    start: str
    personas: list[dict[str, Any]]
    chats: list[dict[str, Any]]
    version: int = SEED_VERSION
    seeded: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def new(cls, start: datetime) -> SandboxMeta:
        token = f"{BOT_ID}:{secrets.token_urlsafe(27)}"
        return cls(token=token, start=start.isoformat(), personas=[], chats=[])

    def save(self, path: Path) -> None:
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=1),
                             encoding="utf-8")
        temporary.replace(path)

    @classmethod
    def load(cls, path: Path) -> SandboxMeta | None:
        """The folder's metadata, or None when it is missing, unreadable or half-seeded."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            meta = cls(**data)
        except (OSError, ValueError, TypeError):
            return None
        return meta if meta.seeded and meta.version == SEED_VERSION else None

    def chat_id(self, key: str) -> int:
        for chat in self.chats:
            if chat["key"] == key:
                return int(chat["id"])
        raise KeyError(key)


def personas(org: Org) -> list[Persona]:
    """The org's people (coordinators, department liaisons, county liaisons) and an outsider."""
    order = {"coordinator": 0, "liaison": 1}
    people = sorted(org.people, key=lambda p: (order.get(p.role, 2), p.region is not None,
                                               p.telegram_id))
    found = [Persona(p.telegram_id, p.name, p.role, p.department, p.region) for p in people]
    return [*found, Persona(OUTSIDER_ID, OUTSIDER_NAME, "outsider")]


def chat_specs(org: Org, people: Sequence[Persona]) -> list[ChatSpec]:
    """The coordination group, the department groups, the county and park groups."""
    coordinators = tuple(p.id for p in people if p.role == "coordinator")
    liaisons = tuple(p.id for p in people if p.role == "liaison")
    specs = [ChatSpec("coordination", f"{org.prefecture.name}淘汰落后产能协调组",
                      ChatKind.COORDINATION, coordinators + liaisons, coordinators)]
    for key in DEPARTMENT_CHATS:
        department = org.department(key)
        if department is None:
            continue
        own = tuple(p.id for p in people if p.department == key and p.role == "liaison")
        specs.append(ChatSpec(f"department:{key}", f"{department.name}督办群",
                              ChatKind.DEPARTMENT, coordinators + own + (OUTSIDER_ID,),
                              coordinators, department=key))
    for name in REGION_CHATS:
        if org.region(name) is None:
            continue
        own = tuple(p.id for p in people if p.region == name)
        specs.append(ChatSpec(f"region:{name}", f"{name}督办群", ChatKind.REGION,
                              coordinators + own + (OUTSIDER_ID,), coordinators, region=name))
    return specs


async def seed_world(client: EmulatorClient, people: Sequence[Persona],
                     specs: Sequence[ChatSpec]) -> list[dict[str, Any]]:
    """Create the people, their private chats (started) and the groups the bot is in."""
    for person in people:
        await client.create_user(person.name, id=person.id, language_code="zh")
        await client.private_chat(person.id, started=True)
    chats: list[dict[str, Any]] = []
    for spec in specs:
        chat = await client.create_group(spec.title, list(spec.members),
                                         admins=list(spec.admins), chat_type="supergroup",
                                         bot_status="administrator")
        chats.append({"key": spec.key, "id": chat.id, "title": spec.title,
                      "kind": spec.kind.value, "department": spec.department,
                      "region": spec.region})
    return chats


# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Act:
    """One seeded action on a case, on a day (10:00 local time)."""

    day: date
    step: str  # a workflow step, or "resolve" (a coordinator resolves a by-duty group)
    department: str | None = None  # None: the coordinator (or the system for mark_overdue)
    evidence: str | None = None
    on: date | None = None
    capacity: float | None = None
    note: str | None = None
    reason: str | None = None
    months: int | None = None
    group: str | None = None
    departments: tuple[str, ...] = ()


def _accept(day: date, *departments: str) -> list[Act]:
    return [Act(day, "accept", d) for d in departments]


def _measures(day: date, department: str, *names: str) -> list[Act]:
    return [Act(day + timedelta(days=i), f"measure:{name}", department,
                evidence=f"photo:{name}.jpg", on=day + timedelta(days=i))
            for i, name in enumerate(names)]


D = date
#: The stage each demo case has reached, covering clauses （四） to （九）.
STAGES: dict[str, list[Act]] = {
    # （八） sealed, dismantling due in December.
    "CZ-2026-001": [
        Act(D(2026, 1, 13), "resolve", group="相关部门", departments=("environment",)),
        # A steel line: 工信, 发改 and 质监 must confirm; 能源 and 煤炭 are told ([routing]).
        *_accept(D(2026, 1, 14), "industry", "development_reform", "quality", "environment"),
        *_measures(D(2026, 2, 2), "industry", "power_water_cut", "power_units_removed",
                   "line_sealed", "public_commitment", "website_announcement"),
        Act(D(2026, 2, 12), "set_dismantling_date", "industry", on=D(2026, 12, 20)),
    ],
    # （四） extension granted, still overdue.
    "CZ-2026-002": [
        *_accept(D(2026, 2, 5), "industry", "development_reform"),
        Act(D(2026, 2, 10), "order_rectification", "industry", evidence="document:整改通知书.pdf"),
        Act(D(2026, 7, 20), "request_extension", "industry", reason="更换余热发电设备，工期较长",
            months=3),
        Act(D(2026, 7, 22), "approve_extension"),
        Act(D(2026, 11, 5), "mark_overdue"),
    ],
    # （五） restricted production, rectification due 10 December.
    "CZ-2026-003": [
        *_accept(D(2026, 2, 22), "environment"),
        Act(D(2026, 3, 1), "order_restriction", "environment",
            evidence="document:限产整改决定书.pdf", on=D(2026, 12, 10)),
    ],
    # （七） stopped, rectification due in January; a by-duty group still to resolve.
    "CZ-2026-004": [
        *_accept(D(2026, 3, 10), "safety"),
        Act(D(2026, 3, 11), "order_stop", "safety", evidence="document:停产整顿通知.pdf",
            on=D(2026, 3, 11)),
        Act(D(2026, 3, 20), "set_rectification_date", "safety", on=D(2027, 1, 15)),
    ],
    # （四） rectified and verified (closed).
    "CZ-2026-005": [
        *_accept(D(2026, 3, 30), "industry", "development_reform"),
        Act(D(2026, 4, 2), "order_rectification", "industry", evidence="document:整改通知书.pdf"),
        Act(D(2026, 9, 10), "confirm_rectified", "industry", evidence="photo:验收现场.jpg",
            on=D(2026, 9, 8)),
        Act(D(2026, 9, 12), "confirm_rectified", "development_reform",
            evidence="document:验收意见.pdf", on=D(2026, 9, 8)),
    ],
    # （六） overdue, closure submitted for government approval.
    "CZ-2026-006": [
        *_accept(D(2026, 4, 16), "quality"),
        Act(D(2026, 4, 20), "order_stop_rectify", "quality", evidence="document:停产整改通知.pdf"),
        Act(D(2026, 10, 20), "mark_overdue"),
        Act(D(2026, 10, 28), "request_closure", "quality", evidence="document:关停请示.pdf",
            note="复检仍不合格，报县政府批准关闭"),
    ],
    # （九） shutdown ordered, exit overdue since November.
    "CZ-2026-007": [
        Act(D(2026, 5, 7), "resolve", group="相关部门", departments=("industry", "environment")),
        *_accept(D(2026, 5, 8), "industry", "environment"),
        Act(D(2026, 5, 15), "order_shutdown", "industry", evidence="document:关停决定书.pdf",
            on=D(2026, 11, 20)),
        *_measures(D(2026, 6, 1), "industry", "enterprise_closed", "power_water_cut"),
        Act(D(2026, 11, 23), "mark_overdue"),
    ],
    # （四）（九） failed rectification, exited (red card).
    "CZ-2026-008": [
        *_accept(D(2026, 6, 20), "industry", "development_reform"),
        Act(D(2026, 6, 25), "order_rectification", "industry", evidence="document:整改通知书.pdf"),
        Act(D(2026, 10, 10), "report_failed", "industry", evidence="document:复检报告.pdf",
            note="能耗复检仍超标"),
        # （九）'s second way: power and water cut, power units removed, equipment sealed.
        *_measures(D(2026, 10, 15), "industry", "power_water_cut", "power_units_removed",
                   "line_sealed"),
        Act(D(2026, 11, 2), "confirm_exit", "industry", capacity=9.0, note="主体设备已封存"),
        Act(D(2026, 11, 3), "confirm_exit", "development_reform", capacity=9.0, note="已核实"),
    ],
    # （五） accepted, waiting for the order.
    "CZ-2026-009": [*_accept(D(2026, 7, 25), "environment")],
    # （七） stopped, rectification due 4 December.
    "CZ-2026-010": [
        Act(D(2026, 9, 1), "resolve", group="其他负有安全生产监督管理职责的部门",
            departments=("environment",)),
        *_accept(D(2026, 9, 1), "safety", "environment"),
        Act(D(2026, 9, 2), "order_stop", "safety", evidence="document:停产通知.pdf",
            on=D(2026, 9, 1)),
        Act(D(2026, 9, 5), "set_rectification_date", "safety", on=D(2026, 12, 4)),
    ],
    # （八）（九） partly accepted: 发改 has not acknowledged (a steel line: 工信、发改、质监).
    "CZ-2026-011": [*_accept(D(2026, 10, 12), "industry", "quality")],
    # CZ-2026-012 （六）: just routed, nobody has accepted yet.
}


def _liaison(org: Org, department: str) -> Who:
    person = next((p for p in org.people if p.department == department and p.role == "liaison"),
                  None)
    if person is not None:
        return Who(role="liaison", name=person.name, telegram_id=person.telegram_id,
                   department=department)
    found = org.department(department)
    name = f"{found.name if found else department}联络员"
    return Who(role="liaison", name=name, department=department)


def _coordinator(org: Org) -> Who:
    person = next(p for p in org.people if p.role == "coordinator")
    return Who(role="coordinator", name=person.name, telegram_id=person.telegram_id)


async def _apply(cases: CaseService, org: Org, ref: str, act: Act) -> None:
    if act.step == "resolve":
        await cases.reroute(ref, list(act.departments), _coordinator(org), group=act.group)
        return
    if act.step == "mark_overdue":
        await cases.take_step(ref, StepInput("mark_overdue", Actor.SYSTEM), Who(role="system"))
        return
    department = act.department
    actor = Actor.DEPARTMENT if department else Actor.COORDINATOR
    who = _liaison(org, department) if department else _coordinator(org)
    await cases.take_step(ref, StepInput(
        step=act.step, actor=actor, department=department,
        evidence=(act.evidence,) if act.evidence else (), on=act.on, capacity=act.capacity,
        note=act.note, reason=act.reason, months=act.months,
    ), who)


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), TZ)


async def seed_database(database_url: str, chats: Sequence[dict[str, Any]], *,
                        org: Org | None = None, catalog: Catalog | None = None,
                        start: datetime = SANDBOX_START) -> int:
    """Migrate, load the demo org, bind the chats, import the demo cases and take each case
    to its stage. Returns the number of cases. Dates are in the past of ``start``."""
    org = org or load_demo_org()
    catalog = catalog or load_default_catalog()
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        await OrgService(sessions).load(org)
        result = read_case_file(DEMO_CASES, org, today=start.date())
        if result.errors:
            raise DubanError(N_("The demo case file is broken; please report this."))
        inputs = sorted(result.valid, key=lambda item: item.registered_on)
        clock = ManualClock(_at(min(i.registered_on for i in inputs) - timedelta(days=7), 9))
        await _bind_chats(ChatService(sessions, clock), chats, org)
        cases = CaseService(sessions, catalog, clock)
        await _run_history(cases, clock, org, inputs)
        await _settle_outbox(OutboxStore(sessions), cases, clock.now())
        return len(inputs)
    finally:
        await engine.dispose()


async def _bind_chats(service: ChatService, chats: Sequence[dict[str, Any]], org: Org) -> None:
    coordinator = _coordinator(org)
    assert coordinator.telegram_id is not None
    for chat in chats:
        identity = await service.identify(int(chat["id"]), coordinator.telegram_id,
                                          coordinator.name or "")
        target = BindTarget(ChatKind(chat["kind"]), department=chat.get("department"),
                            region=chat.get("region"))
        await service.bind(int(chat["id"]), chat["title"], target, identity)


async def _settle_outbox(outbox: OutboxStore, cases: CaseService, now: datetime) -> None:
    """Drop what the seeded history queued but is moot by now: card edits (no card is shown
    yet, and each card is drawn in its current state when first posted), extension requests
    and decisions already settled, and groups already resolved. Sending them would only
    spend the bot's per-group sending budget, and confuse, when the sandbox starts."""
    for row in await outbox.due(now, limit=100_000):
        if row.kind in (Kind.REFRESH, Kind.EXTENSION, Kind.EXTENSION_DECIDED) or (
            row.kind == Kind.GROUP and not await _group_open(cases, row)
        ):
            await outbox.done(row, now, error="seeded history: already settled")


async def _group_open(cases: CaseService, row: Pending) -> bool:
    view = await cases.get_by_id(int(row.payload["case_id"]))
    return any(a.as_written == row.payload.get("group") for a in view.unresolved_groups)


async def _run_history(cases: CaseService, clock: ManualClock, org: Org,
                       inputs: Sequence[CaseInput]) -> None:
    """Import each case on its registration day and take its steps, all in date order."""
    timeline: list[tuple[datetime, int, str, Act | CaseInput]] = []
    for order, item in enumerate(inputs):
        timeline.append((_at(item.registered_on, 9), order, item.ref, item))
        for index, act in enumerate(STAGES.get(item.ref, [])):
            moment = _at(act.day) + timedelta(minutes=index)
            timeline.append((moment, order, item.ref, act))
    timeline.sort(key=lambda entry: (entry[0], entry[1]))
    coordinator = _coordinator(org)
    for moment, _, ref, what in timeline:
        if moment > clock.now():
            clock.set(moment)
        if isinstance(what, CaseInput):
            await cases.import_cases([what], coordinator)
        else:
            await _apply(cases, org, ref, what)
