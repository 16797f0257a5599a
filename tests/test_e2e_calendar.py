"""End to end: the calendar in ``duban run`` with a simulated clock, across a restart.

The bot runs as its own process against the Bot API emulator, in test mode with a clock file
the test moves. A case's deadline passes: the overdue reminder arrives once; the bot stops,
the clock moves a week and a half on, the bot starts again: the 通报 arrives, and nothing that
was sent before is sent again.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bot.core.casefile import CaseInput
from bot.core.clock import FileClock, ManualClock
from bot.core.org import load_demo_org
from bot.core.policy.catalog import load_default_catalog
from bot.core.workflow import Actor, StepInput
from bot.devtools.emulator.client import EmulatorClient
from bot.devtools.emulator.server import run_emulator
from bot.services.cases import CaseService, Who
from bot.services.chats import BindTarget, ChatKind, ChatService
from bot.services.health import HealthService
from bot.services.org import OrgService
from models.db import create_engine, session_factory, upgrade
from tests.test_e2e import DEMO_ORG, WAIT, BotProcess

TOKEN = "515151:CALENDAR-E2E"
COORDINATOR = Who(role="coordinator", name="王玮中", telegram_id=10001)
LIAISON = Who(role="liaison", name="环保联络员", telegram_id=20002, department="environment")


async def seed(url: str, coordination: int, environment: int) -> str:
    engine = create_engine(url)
    await upgrade(engine)
    sessions = session_factory(engine)
    clock = ManualClock(datetime(2026, 11, 2, 2, tzinfo=UTC))
    await OrgService(sessions).load(load_demo_org())
    chats = ChatService(sessions, clock)
    identity = await chats.identify(coordination, 10001, "王玮中")
    await chats.bind(coordination, "协调组", BindTarget(ChatKind.COORDINATION), identity)
    await chats.bind(environment, "环保群",
                     BindTarget(ChatKind.DEPARTMENT, department="environment"), identity)
    cases = CaseService(sessions, load_default_catalog(), clock)
    await cases.import_cases([CaseInput(
        ref="E2E-CAL-1", region="玛纳斯县", enterprise="玛纳斯县日历水泥厂", industry="cement",
        clauses=("五",), capacity=Decimal(30), unit="万吨/年", equipment=None,
        registered_on=date(2026, 11, 2), description="颗粒物超标", row=2)], COORDINATOR)
    await cases.take_step("E2E-CAL-1", StepInput("accept", Actor.DEPARTMENT, "environment"),
                          LIAISON)
    await cases.take_step("E2E-CAL-1", StepInput(
        "order_restriction", Actor.DEPARTMENT, "environment", evidence=("doc:1",),
        on=date(2026, 11, 20)), LIAISON)
    await engine.dispose()
    return "E2E-CAL-1"


@dataclass
class CalendarWorld:
    client: EmulatorClient
    coordination: int
    environment: int
    url: str
    ref: str
    clock: FileClock
    bot: BotProcess


@asynccontextmanager
async def calendar_world(tmp_path: Path, start: datetime) -> AsyncIterator[CalendarWorld]:
    """The emulator with the coordination and 环保 groups, a seeded SQLite database, the clock
    file at ``start``, and ``duban run`` ready to start against them."""
    async with run_emulator(TOKEN) as emulator:
        client = emulator.client
        coordinator = await client.create_user("王玮中", id=10001)
        liaison = await client.create_user("环保联络员", id=20002)
        coordination = await client.create_group("协调组", [coordinator], chat_type="supergroup")
        environment = await client.create_group("环保群", [coordinator, liaison],
                                                chat_type="supergroup")
        url = f"sqlite+aiosqlite:///{tmp_path / 'duban.db'}"
        ref = await seed(url, coordination.id, environment.id)
        clock = FileClock(tmp_path / "clock.json")
        clock.set(start)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DUBAN_", "TELEGRAM_"))}
        env.update(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=emulator.base_url,
                   DATABASE_URL=url, DUBAN_ORG=str(DEMO_ORG), DUBAN_MODE="test",
                   DUBAN_CLOCK_FILE=str(clock.path))
        yield CalendarWorld(client, coordination.id, environment.id, url, ref, clock,
                            BotProcess(env, tmp_path / "bot.log"))


async def test_reminder_then_notice_once_each_across_a_restart(tmp_path: Path) -> None:
    async with calendar_world(tmp_path, datetime(2026, 11, 23, 2, tzinfo=UTC)) as world:
        client, coordination, environment = world.client, world.coordination, world.environment
        ref, clock, bot = world.ref, world.clock, world.bot

        def reminders(messages: list) -> list:  # type: ignore[type-arg]
            return [m for m in messages if m.from_bot and ref in m.body and "逾期" in m.body
                    and "督办提醒" in m.body]

        await bot.start()
        try:
            await client.wait_for_message(
                environment, lambda m: bool(reminders([m])), timeout=WAIT)
        finally:
            await bot.stop()

        clock.set(datetime(2026, 12, 3, 2, tzinfo=UTC))  # eight working days late
        await bot.start()
        try:
            draft = await client.wait_for_message(
                coordination, lambda m: m.from_bot and "通报草稿" in m.body and ref in m.body,
                timeout=WAIT)
            await client.press(10001, coordination, draft.message_id, text="签发",
                               timeout=WAIT)
            notice = await client.wait_for_message(
                coordination, lambda m: m.from_bot and "通报" in m.body and bool(m.files),
                timeout=WAIT)
            assert notice.files[0].file_name.endswith(".docx")
            await client.wait_for_message(
                environment, lambda m: m.from_bot and "通报" in m.body, timeout=WAIT)
            await client.wait_for_message(  # the missed second reminder, as a catch-up
                environment, lambda m: bool(reminders([m])) and "再次提醒" in m.body,
                timeout=WAIT)
        finally:
            await bot.stop()
        messages = await client.messages(environment)
        assert len(reminders(messages)) == 2  # the overdue reminder, then the second one
        assert len([m for m in messages if m.from_bot and "通报" in m.body and m.files]) == 1
        bodies = [m.body for m in reminders(messages)]
        assert len(set(bodies)) == len(bodies), "nothing was sent twice"


async def test_the_calendar_keeps_sweeping_while_the_clock_moves_fifty_times(
        tmp_path: Path) -> None:
    """SQLite, the default: the job store once locked against the bot's own writes and the
    calendar stopped for good. Every move of the clock must be followed by a sweep."""
    async with calendar_world(tmp_path, datetime(2026, 11, 16, 2, tzinfo=UTC)) as world:
        client, coordination, environment = world.client, world.coordination, world.environment
        url, ref, clock, bot = world.url, world.ref, world.clock, world.bot
        engine = create_engine(url)
        health = HealthService(session_factory(engine), clock)

        async def swept_since(moment: datetime) -> None:
            while True:  # a condition on the bot's own record, with the caller's timeout
                last = (await health.calendar()).last_success
                if last is not None and last >= moment:
                    return
                await asyncio.sleep(0.05)

        await bot.start()
        try:
            for move in range(50):
                clock.advance(timedelta(days=7 if move % 5 == 4 else 1))
                await asyncio.wait_for(swept_since(clock.now()), WAIT)
            await client.wait_for_message(
                coordination, lambda m: m.from_bot and "通报草稿" in m.body and ref in m.body,
                timeout=WAIT)
        finally:
            await bot.stop()
            await engine.dispose()
        log = (tmp_path / "bot.log").read_text(errors="replace")
        assert "could not process its jobs" not in log and "sweep failed" not in log, log[-3000:]
        for chat in (environment, coordination):
            bodies = [m.body for m in await client.messages(chat) if m.from_bot]
            twice = [b for b in set(bodies) if bodies.count(b) > 1]
            assert not twice, f"sent twice: {twice}"
        assert (await HealthService(session_factory(create_engine(url)), clock).calendar()
                ).failures_in_a_row == 0
