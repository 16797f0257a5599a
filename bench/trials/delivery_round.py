"""The delivery trials' round: a nudge round over many bound chats, ``duban run`` driven as a
subprocess against the Bot API emulator (run in this process), and the census of what arrived.

* **The round** (:func:`seed_template`): the demo organisation with extra counties (every
  county and park gets its county-report nudge at T-7), issued without sign-off (the round's
  one 通报 is numbered at once and goes to every unit); cases taken through the services as a
  year of work would leave them — due on 30 November (T-7 on Monday 23 November, the round) or
  eight working days overdue (second reminders, a notice naming the departments and the
  lagging counties) — and a few cases registered just before the round whose cards are still
  to be posted. Every unit has its own bound group. Seeded once into a template database; each
  run gets a copy.
* **A life** (:class:`Spawner`): one ``duban run`` process. ``fork`` forks it from a process
  that has already imported duban (:mod:`bench.trials.zygote`), so a life costs the bot's
  start-up, not seconds of imports; ``exec`` starts ``python -m bot.cli run``.
* **The census** (:class:`Census`): every message the bot had accepted, with the moment the
  emulator accepted it, compared with a clean run per message (chat, text as first sent,
  attached file name): delivered 0 times (lost), once, or more (duplicated). The clean run
  (:func:`reference_run`) delivers the same template in this process, through the bot's own
  application and delivery, without faults or kills.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import signal
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import SecretStr
from sqlalchemy import text, update
from sqlmodel import col, select

from bot.core.casefile import CaseInput
from bot.core.clock import Clock, ManualClock, SystemClock
from bot.core.i18n import get_translator
from bot.core.org import Org, parse_org
from bot.core.policy.catalog import load_default_catalog
from bot.core.workflow import Actor, StepInput
from bot.data import DATA_DIR
from bot.devtools.emulator.server import RunningEmulator, run_emulator
from bot.devtools.emulator.state import World
from bot.render.calendar_texts import NOTICE_REPEATED
from bot.services.cases import CaseService, Who
from bot.services.chats import BindTarget, ChatKind, ChatService
from bot.services.health import HealthService
from bot.services.org import OrgService
from bot.services.outbox import MAX_ATTEMPTS
from models.db import create_engine, session_factory, transaction, upgrade
from models.tables import Case, Obligation, Outbox, SentKey
from scheduler import rules
from scheduler.workdays import uncovered_year_key

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "616161:DELIVERY-TRIALS"
TZ = ZoneInfo("Asia/Shanghai")
#: The round: Monday 23 November 2026, 10:00 (T-7 of the 30 November deadlines).
ROUND_AT = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)
DUE_SOON = date(2026, 11, 30)
OVERDUE = date(2026, 11, 11)  # eight working days before the round: second reminder, notice
COORDINATOR_ID = 10001
COORDINATOR = Who(role="coordinator", name="王玮中", telegram_id=COORDINATOR_ID)
COORDINATION_CHAT = -1009000000000
#: Clauses whose deadline the seed can give: (clause, its departments, the ordering step).
CLAUSES = (("四", ("industry", "development_reform"), "order_rectification"),
           ("五", ("environment",), "order_restriction"),
           ("六", ("quality",), "order_stop_rectify"))
INDUSTRIES = ("cement", "steel", "coal", "flat_glass")
HISTORY = "trial history: sent before the round"


@dataclass(frozen=True)
class Size:
    """A round: ``cases`` with a deadline in it, ``counties`` added to the demo org's nine,
    ``cards`` new cases whose cards the round posts."""

    cases: int
    counties: int
    cards: int = 6
    overdue_share: float = 0.15


#: The round's sizes: CI (about 180 items, 106 messages over 52 chats) and full.
ROUNDS = {"ci": Size(cases=100, counties=24, cards=6),
          "full": Size(cases=700, counties=100, cards=12)}


@dataclass(frozen=True)
class ChatSpec:
    id: int
    title: str
    kind: ChatKind
    department: str | None = None
    region: str | None = None

    def target(self) -> BindTarget:
        return BindTarget(self.kind, department=self.department, region=self.region)


@dataclass(frozen=True)
class Template:
    """A seeded world: the org file, the database to copy and the chats to create."""

    folder: Path
    org_path: Path
    database: Path
    chats: tuple[ChatSpec, ...]
    size: Size

    def chat_of(self, recipient_kind: str, recipient: str) -> int | None:
        """The chat an outbox row goes to (the round's own table of bindings)."""
        if recipient_kind == "chat":
            return int(recipient)
        if recipient_kind == "coordinators":
            return COORDINATION_CHAT
        for chat in self.chats:
            if (recipient_kind == "department" and chat.department == recipient) or (
                    recipient_kind == "region" and chat.region == recipient):
                return chat.id
        return None


# --------------------------------------------------------------------------- the round


def trial_org_text(counties: int) -> str:
    """The demo organisation without sign-off, with ``counties`` more counties."""
    found = (DATA_DIR / "demo_org.toml").read_text(encoding="utf-8")
    found, replaced = re.subn(r"(?m)^sign_off = true", "sign_off = false", found)
    assert replaced == 1, "the demo org's sign_off line moved"
    extra = "".join(f'\n[[regions]]\nname = "试验{i:03d}县"\nkind = "county"\n'
                    f'leader = "试验{i:03d}县人民政府分管副县长"\n' for i in range(1, counties + 1))
    return found + extra


def chat_plan(org: Org) -> tuple[ChatSpec, ...]:
    chats = [ChatSpec(COORDINATION_CHAT, "协调组", ChatKind.COORDINATION)]
    chats += [ChatSpec(-1009000001000 - i, f"{d.name}督办群", ChatKind.DEPARTMENT, department=d.key)
              for i, d in enumerate(org.departments)]
    chats += [ChatSpec(-1009000100000 - i, f"{r.name}督办群", ChatKind.REGION, region=r.name)
              for i, r in enumerate(org.regions)]
    return tuple(chats)


def _at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def _liaison(department: str) -> Who:
    return Who(role="liaison", name=f"{department}联络员", department=department)


def _case(ref: str, region: str, clause: str, registered: date, rng: random.Random) -> CaseInput:
    return CaseInput(ref=ref, region=region, enterprise=f"{region}{ref[-4:]}号试验企业",
                     industry=rng.choice(INDUSTRIES), clauses=(clause,),
                     capacity=Decimal(rng.randint(5, 90)), unit="万吨/年", equipment=None,
                     registered_on=registered, description="试验轮次", row=2)


async def seed_template(folder: Path, size: Size, seed: int = 14) -> Template:
    """Seed the round's world into ``folder/template.db`` (once per trial)."""
    folder.mkdir(parents=True, exist_ok=True)
    org_path = folder / "trial_org.toml"
    org_path.write_text(trial_org_text(size.counties), encoding="utf-8")
    org = parse_org(org_path.read_text(encoding="utf-8"), source=org_path.name)
    chats = chat_plan(org)
    database = folder / "template.db"
    for stale in folder.glob("template.db*"):
        stale.unlink()
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    rng = random.Random(seed)
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        await OrgService(sessions).load(org)
        clock = ManualClock(_at(date(2026, 5, 4), 9))
        service = ChatService(sessions, clock)
        identity = await service.identify(COORDINATION_CHAT, COORDINATOR_ID,
                                          COORDINATOR.name or "")
        for chat in chats:
            await service.bind(chat.id, chat.title, chat.target(), identity)
        cases = CaseService(sessions, load_default_catalog(), clock)
        regions = [r.name for r in org.regions]
        overdue = round(size.cases * size.overdue_share)
        plan = [(f"TR-{i + 1:05d}", regions[i % len(regions)],
                 CLAUSES[rng.randrange(len(CLAUSES))], OVERDUE if i < overdue else DUE_SOON)
                for i in range(size.cases)]
        for deadline in (OVERDUE, DUE_SOON):  # six months before: clauses 四 and 六 count so
            registered = date(2026, deadline.month - 6, deadline.day)
            clock.set(_at(registered, 9))
            batch = [(ref, region, row) for ref, region, row, due in plan if due == deadline]
            await cases.import_cases([_case(ref, region, row[0], registered, rng)
                                      for ref, region, row in batch], COORDINATOR)
            clock.set(_at(registered, 11))
            for ref, _region, (_clause, departments, order) in batch:
                for department in departments:
                    await cases.take_step(ref, StepInput("accept", Actor.DEPARTMENT, department),
                                          _liaison(department))
                await cases.take_step(ref, StepInput(
                    order, Actor.DEPARTMENT, departments[0], evidence=("document:通知书.pdf",),
                    on=deadline if order == "order_restriction" else None),
                    _liaison(departments[0]))
        clock.set(_at(OVERDUE + timedelta(days=1), 9))
        for ref, _region, _row, due in plan:
            if due == OVERDUE:
                await cases.take_step(ref, StepInput("mark_overdue", Actor.SYSTEM),
                                      Who(role="system"))
        # The history's cards and edits went out long ago (this world has no such messages):
        # what the round posts are the cards of the cases registered just before it.
        async with transaction(sessions) as session:
            await session.exec(update(Outbox).where(col(Outbox.sent_at).is_(None))
                               .values(sent_at=clock.now(), error=HISTORY))
        clock.set(ROUND_AT - timedelta(minutes=30))
        fresh = [_case(f"TN-{i + 1:04d}", regions[(i * 7) % len(regions)],
                       CLAUSES[i % len(CLAUSES)][0], ROUND_AT.date(), rng)
                 for i in range(size.cards)]
        await cases.import_cases(fresh, COORDINATOR)
        async with engine.begin() as connection:
            await connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    finally:
        await engine.dispose()
    return Template(folder, org_path, database, chats, size)


def copy_database(template: Template, target: Path) -> str:
    """A fresh copy of the template database; returns its URL."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f"{target.name}*"):
        stale.unlink()
    shutil.copyfile(template.database, target)
    return f"sqlite+aiosqlite:///{target}"


def _settings(**values: Any) -> Any:
    from bot.settings import Settings

    return Settings(bot_token=SecretStr(TOKEN), **values)


async def sweep_round(url: str) -> int:
    """The round's sweep at :data:`ROUND_AT`, in this process, through the bot's own services;
    returns the items it recorded and queued."""
    from bot.app import build_deps  # the composition root, as the bot builds its services

    engine = create_engine(url)
    try:
        deps = build_deps(_settings(), engine, ManualClock(ROUND_AT), load_default_catalog())
        report = await deps.calendar.sweep()
    finally:
        await engine.dispose()
    return len(report.items)


async def queued_template(template: Template) -> tuple[Template, int]:
    """A copy of the template with the round already in its outbox and the world put to rest,
    for a bot on the system clock (production mode: Telegram's real limits in its limiter)."""
    target = template.folder / "queued.db"
    url = copy_database(template, target)
    items = await sweep_round(url)
    org = parse_org(template.org_path.read_text(encoding="utf-8"))
    await put_to_rest(url, org, datetime.now(TZ).date())
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    finally:
        await engine.dispose()
    return Template(template.folder, template.org_path, target, template.chats,
                    template.size), items


async def put_to_rest(url: str, org: Org, today: date) -> None:
    """After :func:`sweep_round`: nothing more falls due, whatever the real date (a bot on the
    system clock sweeps at the real time): every case paused, every duty of the years in view
    confirmed, the warnings about holiday schedules not yet imported already given."""
    catalog = load_default_catalog()
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        now = datetime.now(TZ)
        async with transaction(sessions) as session:
            await session.exec(update(Case).values(paused=True))
            await session.exec(update(Obligation).values(confirmed_at=now))
            existing = {(o.kind, o.year, o.party) for o in (await session.exec(
                select(Obligation))).all()}
            for year in sorted({today.year - 1, today.year, today.year + 1}):
                for spec in rules.obligations_for_year(year, catalog, org.regions,
                                                       org.departments):
                    if (spec.kind, spec.year, spec.party) not in existing:
                        session.add(Obligation(kind=spec.kind, year=spec.year,
                                               party=spec.party, party_kind=spec.party_kind,
                                               role=spec.role, due=spec.due,
                                               opened_on=spec.due, confirmed_at=now))
            known = set((await session.exec(select(col(SentKey.key)))).all())
            for year in range(2025, today.year + 10):
                key = uncovered_year_key(year)
                if key not in known:
                    session.add(SentKey(key=key, subject=key.rsplit(":", 1)[0],
                                        created_at=now))
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- the emulator


@contextlib.asynccontextmanager
async def emulator(template: Template) -> AsyncIterator[RunningEmulator]:
    """The emulator in this process, with the coordinator and every chat of the round."""
    async with run_emulator(TOKEN) as running:
        client = running.client
        await client.create_user("王玮中", id=COORDINATOR_ID, language_code="zh")
        for chat in template.chats:
            await client.create_group(chat.title, [COORDINATOR_ID], chat_type="supergroup",
                                      id=chat.id, bot_status="administrator")
        yield running


# --------------------------------------------------------------------------- lives


def bot_env(template: Template, base_url: str, database_url: str, *,
            clock_file: Path | None) -> dict[str, str]:
    """``duban run``'s environment: test mode with the file clock, or production (no clock
    file: Telegram's limits in the rate limiter, the system clock)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUBAN_", "TELEGRAM_"))}
    env.update(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=base_url,
               DATABASE_URL=database_url, DUBAN_ORG=str(template.org_path),
               DUBAN_MONITOR_PORT="off", PYTHONUNBUFFERED="1")
    if clock_file is not None:
        env.update(DUBAN_MODE="test", DUBAN_CLOCK_FILE=str(clock_file))
    return env


@dataclass
class Life:
    """One ``duban run`` process."""

    pid: int
    started: float
    exited: asyncio.Future[int]
    killed: bool = False

    @property
    def alive(self) -> bool:
        return not self.exited.done()

    def is_alive(self) -> bool:
        return self.alive


class Spawner:
    """Starts lives (``fork``: from the zygote; ``exec``: ``python -m bot.cli run``)."""

    def __init__(self, how: str = "fork") -> None:
        if how not in ("fork", "exec"):
            raise ValueError(f"spawn must be fork or exec, not {how!r}")
        self.how = how
        self._zygote: asyncio.subprocess.Process | None = None
        self._waiting: dict[int, asyncio.Future[int]] = {}
        self._spawned: asyncio.Queue[int] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._reapers: list[asyncio.Task[None]] = []
        self.lives: list[Life] = []

    async def __aenter__(self) -> Spawner:
        if self.how == "fork":
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("DUBAN_", "TELEGRAM_"))}
            self._zygote = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.trials.zygote", cwd=str(ROOT), env=env,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
            self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        for life in self.lives:
            if life.alive:
                await self.kill(life)
        if self._zygote is not None:
            assert self._zygote.stdin is not None
            self._zygote.stdin.close()
            await asyncio.wait_for(self._zygote.wait(), 30)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def _read(self) -> None:
        assert self._zygote is not None and self._zygote.stdout is not None
        while line := await self._zygote.stdout.readline():
            word, *values = line.decode().split()
            if word == "pid":
                await self._spawned.put(int(values[0]))
            elif word == "exit":
                future = self._waiting.setdefault(
                    int(values[0]), asyncio.get_running_loop().create_future())
                if not future.done():
                    future.set_result(int(values[1]))

    async def start(self, env: dict[str, str], log: Path) -> Life:
        loop = asyncio.get_running_loop()
        if self._zygote is not None:
            assert self._zygote.stdin is not None
            request = {"env": env, "log": str(log), "cwd": str(ROOT)}
            self._zygote.stdin.write((json.dumps(request) + "\n").encode())
            await self._zygote.stdin.drain()
            pid = await asyncio.wait_for(self._spawned.get(), 30)
            exited = self._waiting.setdefault(pid, loop.create_future())
        else:
            handle = log.open("ab")
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "run", env=env, cwd=str(ROOT),
                stdout=handle, stderr=handle)
            handle.close()
            pid = process.pid
            exited = loop.create_future()

            async def reap() -> None:
                exited.set_result(await process.wait())

            self._reapers.append(asyncio.create_task(reap()))
        life = Life(pid, time.monotonic(), exited)
        self.lives.append(life)
        return life

    async def kill(self, life: Life) -> None:
        """``kill -9``, and wait until the process is gone."""
        life.killed = True
        with contextlib.suppress(ProcessLookupError):
            os.kill(life.pid, signal.SIGKILL)
        await asyncio.wait_for(asyncio.shield(life.exited), 30)

    async def stop(self, life: Life, timeout: float = 30) -> int:
        """SIGTERM and wait (then SIGKILL, after ``timeout``)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(life.pid, signal.SIGTERM)
        try:
            return await asyncio.wait_for(asyncio.shield(life.exited), timeout)
        except TimeoutError:
            await self.kill(life)
            return -9


# --------------------------------------------------------------------------- the census


@dataclass(frozen=True)
class Delivered:
    """A message the emulator accepted from the bot."""

    chat_id: int
    message_id: int
    text: str
    file: str
    keyboard: bool
    accepted: float  # time.monotonic() when the emulator recorded it
    repeat_marked: bool = False

    @property
    def key(self) -> tuple[int, str, str]:
        return (self.chat_id, self.text, self.file)

    @property
    def is_notice(self) -> bool:
        return self.file.endswith(".docx")


class Census:
    """Listens to the emulator and keeps every message the bot had accepted, in order."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.messages: list[Delivered] = []
        self._accepted: dict[tuple[int, int], float] = {}
        self.repeat_line = get_translator("zh_CN").gettext(NOTICE_REPEATED)
        world.events.listeners.append(self._on_event)

    def _on_event(self, event: dict[str, Any]) -> None:
        if event.get("type") == "message" and event["message"].get("from_bot"):
            self._accepted[(event["chat_id"], event["message"]["message_id"])] = (
                time.monotonic())

    def close(self) -> None:
        with contextlib.suppress(ValueError):
            self.world.events.listeners.remove(self._on_event)

    def first_after(self, moment: float) -> float | None:
        """When the first bot message accepted at or after ``moment`` was accepted."""
        times = [t for t in self._accepted.values() if t >= moment]
        return min(times) if times else None

    def collect(self) -> list[Delivered]:
        """Every bot message in the world, in the order the emulator accepted them."""
        found = []
        for chat_id, messages in self.world.messages.items():
            for message in messages.values():
                if message.sender_id != self.world.bot.id or message.service:
                    continue
                body = message.text if message.text is not None else (message.caption or "")
                keyboard = bool((message.reply_markup or {}).get("inline_keyboard"))
                if message.edits:  # a card edited later is counted as it was first posted
                    first = message.edits[0]
                    body = first.get("text") or first.get("caption") or ""
                    keyboard = bool((first.get("reply_markup") or {}).get("inline_keyboard"))
                marked = body.startswith(self.repeat_line + "\n")
                if marked:
                    body = body[len(self.repeat_line) + 1:]
                file = ""
                if message.document:
                    file = self.world.files[message.document].file_name or ""
                found.append(Delivered(chat_id, message.message_id, body, file, keyboard,
                                       self._accepted.get((chat_id, message.message_id), 0.0),
                                       marked))
        found.sort(key=lambda d: d.accepted)
        self.messages = found
        return found


@dataclass
class Outcome:
    """Per expected message: delivered 0 / 1 / >1 times, and how the extra copies arose."""

    expected: int = 0
    delivered: int = 0
    ok: int = 0
    lost: int = 0
    extra: int = 0
    explained: int = 0  # extra copies after an unknown outcome (kill in the window, no answer)
    unexplained: int = 0
    unexpected: int = 0  # delivered, but not in the clean run
    unmarked_notice_repeats: int = 0
    marked_notices: int = 0
    orphan_keyboards: int = 0  # cards posted twice: the older copy keeps its buttons
    by_kind: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        for name in ("expected", "delivered", "ok", "lost", "extra", "explained",
                     "unexplained", "unexpected", "unmarked_notice_repeats", "marked_notices",
                     "orphan_keyboards"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.by_kind.update(other.by_kind)
        self.examples.extend(other.examples[: max(0, 10 - len(self.examples))])

    @property
    def failures(self) -> int:
        """Repeats that are not allowed, messages no clean run sends, unmarked notices."""
        return self.unexplained + self.unexpected + self.unmarked_notice_repeats


def kind_of(message: Delivered) -> str:
    if message.is_notice:
        return "notice"
    if message.text.startswith("【"):
        return "card"
    return "digest"


def compare(reference: Iterable[Delivered], delivered: list[Delivered],
            explains: Callable[[Delivered], bool]) -> Outcome:
    """Count each expected message's deliveries; ``explains(copy)`` tells whether ``copy`` had
    an unknown outcome (so that one more copy is an allowed repeat)."""
    expected = Counter(m.key for m in reference)
    copies: dict[tuple[int, str, str], list[Delivered]] = defaultdict(list)
    for message in delivered:
        copies[message.key].append(message)
    outcome = Outcome(expected=sum(expected.values()), delivered=len(delivered))
    for key, wanted in expected.items():
        got = copies.get(key, [])
        outcome.ok += min(wanted, len(got))
        if len(got) < wanted:
            outcome.lost += wanted - len(got)
            outcome.examples.append(f"lost in {key[0]}: {key[1][:60]!r}")
        if len(got) <= wanted:
            continue
        extra = len(got) - wanted
        outcome.extra += extra
        outcome.by_kind[kind_of(got[0])] += extra
        allowed = sum(1 for copy in got[:-1] if explains(copy))
        outcome.explained += min(extra, allowed)
        if extra > allowed:
            outcome.unexplained += extra - allowed
            outcome.examples.append(f"duplicated in {key[0]}: {key[1][:60]!r}")
        if got[0].is_notice:
            outcome.unmarked_notice_repeats += sum(1 for c in got[1:] if not c.repeat_marked)
        if kind_of(got[0]) == "card" and got[0].keyboard:
            outcome.orphan_keyboards += extra
    for key, got in copies.items():
        if key not in expected:
            outcome.unexpected += len(got)
            outcome.examples.append(f"unexpected in {key[0]}: {key[1][:60]!r}")
    outcome.marked_notices = sum(1 for m in delivered if m.repeat_marked)
    return outcome


# --------------------------------------------------------------------------- the round's state


def _changed_since(world: World, seq: int) -> Callable[[], bool]:
    return lambda: world.events.seq != seq


class RoundProbe:
    """Reads the bot's database (from this process) to tell when the round is done."""

    def __init__(self, url: str, clock: Callable[[], datetime] | None) -> None:
        self.engine = create_engine(url)
        self.sessions = session_factory(self.engine)
        self.clock = clock

    async def close(self) -> None:
        await self.engine.dispose()

    async def pending(self) -> int:
        """Rows not yet handled that will still be tried."""
        async with self.sessions() as session:
            rows = await session.exec(select(col(Outbox.id)).where(
                col(Outbox.sent_at).is_(None), col(Outbox.attempts) < MAX_ATTEMPTS))
            return len(rows.all())

    async def in_flight(self) -> list[Outbox]:
        """Rows claimed and not recorded: what a process killed now was sending."""
        async with self.sessions() as session:
            rows = await session.exec(select(Outbox).where(
                col(Outbox.sent_at).is_(None), col(Outbox.claimed_at).is_not(None)))
            return list(rows.all())

    async def swept(self) -> bool:
        """A sweep succeeded at the clock's current instant (or, without a clock, at all)."""
        health = await HealthService(self.sessions, SystemClock(TZ)).calendar()
        if health.last_success is None:
            return False
        return self.clock is None or health.last_success >= self.clock()

    async def done(self) -> bool:
        try:
            return await self.swept() and await self.pending() == 0
        except Exception:  # the bot is migrating or holds a write lock: not yet
            return False

    async def wait_done(self, world: World, timeout: float,
                        alive: Callable[[], bool] = lambda: True) -> bool:
        """Until the round is done (True), or ``timeout`` seconds pass or ``alive()`` turns
        false (False): re-checked at every change the emulator sees, and four times a second."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not await self.done():
            remaining = deadline - loop.time()
            if remaining <= 0 or not alive():
                return False
            await world.changed.wait_for(_changed_since(world, world.events.seq),
                                         min(remaining, 0.25))
        return True

    async def rows(self) -> list[Outbox]:
        async with self.sessions() as session:
            return list((await session.exec(select(Outbox))).all())


async def reference_run(template: Template, folder: Path, *,
                        production: bool) -> tuple[list[Delivered], float, int]:
    """A clean run of the round in this process, through the bot's own application and
    delivery, without faults or kills: the messages, the seconds from the first to the last,
    and the items its sweep recorded (0 when the template was already swept).
    ``production``: the template is :func:`queued_template`'s and the limiter is Telegram's;
    else the round is swept first and the limiter is ``duban run``'s in test mode."""
    from bot.app import build_application, build_deps
    from handlers.delivery import Delivery

    url = copy_database(template, folder / "reference.db")
    items = 0 if production else await sweep_round(url)
    async with emulator(template) as running:
        census = Census(running.state)
        engine = create_engine(url)
        try:
            settings = _settings(telegram_api_base_url=running.base_url,
                                 mode="production" if production else "test")
            clock: Clock = SystemClock(TZ) if production else ManualClock(ROUND_AT)
            deps = build_deps(settings, engine, clock, load_default_catalog())
            application = build_application(settings, deps)
            await application.initialize()
            try:
                delivery = Delivery(application)
                while await delivery.deliver_due():
                    pass
            finally:
                await application.shutdown()
        finally:
            await engine.dispose()
        messages = census.collect()
        census.close()
    span = messages[-1].accepted - messages[0].accepted if messages else 0.0
    return messages, span, items


def table(rows: Iterable[tuple[str, object]]) -> str:
    """A two-column Markdown table (for docs/benchmarks.md)."""
    lines = ["| what | measured |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)
