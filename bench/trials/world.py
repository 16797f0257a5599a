"""What the trials that run ``duban run`` share: the sandbox's world on a database, the bot as a
process, waiting for conditions, and what each chat received."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from bot.core.clock import FileClock
from bot.core.org import load_demo_org
from bot.devtools.emulator.client import EmulatorClient
from bot.devtools.emulator.server import run_emulator
from bot.devtools.sandbox.seed import (
    DEMO_ORG,
    SANDBOX_START,
    Persona,
    chat_specs,
    personas,
    seed_database,
    seed_world,
)
from models.db import create_engine, session_factory
from models.tables import InboxUpdate, Outbox

ROOT = Path(__file__).resolve().parents[2]
WAIT = 90.0
LEADS = "this process leads"


@dataclass
class Process:
    name: str
    env: dict[str, str]
    log: Path
    process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        handle = self.log.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", env=self.env, cwd=str(ROOT),
            stdin=asyncio.subprocess.DEVNULL, stdout=handle, stderr=handle)

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def kill(self) -> None:
        if self.alive:
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)

    async def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return self.process.returncode


async def until(probe: Callable[[], Awaitable[object]], timeout: float = WAIT,
                every: float = 0.1) -> None:
    """Wait for a condition (an async callable returning truth), failing after ``timeout``."""
    async def loop() -> None:
        while not await probe():
            await asyncio.sleep(every)

    await asyncio.wait_for(loop(), timeout)


@contextlib.asynccontextmanager
async def fresh_database(admin_url: str) -> AsyncIterator[str]:
    import asyncpg
    from sqlalchemy.engine import make_url

    name = f"duban_trial_{uuid.uuid4().hex[:10]}"
    admin = make_url(admin_url).set(drivername="postgresql")
    dsn = admin.render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


@dataclass
class World:
    client: EmulatorClient
    chats: list[dict[str, object]]
    coordination: int
    coordinator: int
    url: str
    env: dict[str, str]
    people: list[Persona]


@contextlib.asynccontextmanager
async def world(url: str, folder: Path, token: str) -> AsyncIterator[World]:
    """The sandbox's people, chats and cases on its first day: the emulator, the database at
    ``url`` seeded, the clock file, and the environment ``duban run`` needs."""
    org = load_demo_org()
    people = personas(org)
    async with run_emulator(token) as emulator:
        chats = await seed_world(emulator.client, people, chat_specs(org, people))
        await seed_database(url, chats, org=org, start=SANDBOX_START)
        clock = folder / "clock.json"
        FileClock(clock).set(SANDBOX_START)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DUBAN_", "TELEGRAM_"))}
        env.update(TELEGRAM_BOT_TOKEN=token, TELEGRAM_API_BASE_URL=emulator.base_url,
                   DATABASE_URL=url, DUBAN_ORG=str(DEMO_ORG), DUBAN_MODE="test",
                   DUBAN_CLOCK_FILE=str(clock), PYTHONUNBUFFERED="1",
                   DUBAN_MONITOR_PORT="0")
        coordination = next(int(str(c["id"])) for c in chats if c["kind"] == "coordination")
        coordinator = next(p.id for p in people if p.role == "coordinator")
        yield World(emulator.client, chats, coordination, coordinator, url, env, people)


async def quiet(url: str) -> bool:
    """Everything queued is sent (or given up) and no update waits."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            unsent = (await session.exec(select(func.count()).select_from(Outbox).where(
                Outbox.sent_at.is_(None), Outbox.attempts < 8))).scalar()  # type: ignore[union-attr]
            waiting = (await session.exec(
                select(func.count()).select_from(InboxUpdate))).scalar()
        return not unsent and not waiting
    finally:
        await engine.dispose()


async def received(w: World) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = {}
    for chat in w.chats:
        bodies = [m.body for m in await w.client.messages(int(str(chat["id"]))) if m.from_bot]
        # /status answers depend on when they were asked (before or after a sweep): counted
        # by number, not by content
        # A message is known by its first line (a card's case, a digest's title and day): a
        # card's later lines follow the edits, whose order across sweeps may differ.
        out[str(chat["title"])] = Counter(
            "/status answer" if "📊" in body else body.split("\n", 1)[0] for body in bodies)
    return out


def free_ports(count: int) -> list[int]:
    """``count`` different free ports below the ephemeral range: a port the kernel hands out
    for ``bind(0)`` may be taken again by an outgoing connection (a worker's to PostgreSQL)
    before the worker listens on it, and a worker that cannot listen never gets its share."""
    low = _ephemeral_low()
    rng = random.Random()
    chosen: list[int] = []
    while len(chosen) < count:
        port = rng.randrange(max(1024, low - 12_000), low)
        if port in chosen:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        chosen.append(port)
    return chosen


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768
