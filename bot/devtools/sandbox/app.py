"""The sandbox: the local Bot API emulator, the unmodified bot in its own process, and the web
chat page, all on loopback, with their state in one folder.

::

    async with Sandbox(SandboxOptions(directory=Path("sandbox"))) as sandbox:
        print(sandbox.url)
        await sandbox.wait_ready()
        ...

The folder holds ``sandbox.json`` (the bot token, people and chats), ``duban.db`` (the bot's
SQLite database), ``clock.json`` (the simulated time), ``emulator/`` (the emulated Telegram)
and ``bot.log``. A second start reuses it; ``reset`` deletes those files first. Nothing else
in the folder is touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import ipaddress
import logging
import os
import shutil
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from bot.core.clock import FileClock
from bot.core.i18n import DEFAULT_LOCALE, N_, DubanError
from bot.core.org import load_demo_org
from bot.devtools.emulator.server import RunningEmulator, run_emulator
from bot.devtools.emulator.state import World
from bot.devtools.sandbox.seed import (
    BOT_NAME,
    BOT_USERNAME,
    DEMO_ORG,
    SANDBOX_START,
    SandboxMeta,
    chat_specs,
    personas,
    seed_database,
    seed_world,
)
from bot.devtools.sandbox.web import ClockPanel, SandboxWeb

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[3]
STOP_TIMEOUT = 15.0
MAX_RESTARTS = 5
#: Files and folders of a sandbox; ``reset`` deletes these and nothing else.
STATE_NAMES = ("sandbox.json", "sandbox.tmp", "duban.db", "duban.db-journal", "duban.db-wal",
               "duban.db-shm", "duban.jobs.db", "duban.jobs.db-journal", "duban.jobs.db-wal",
               "duban.jobs.db-shm", "clock.json", "clock.tmp", "emulator", "bot.log")


def default_directory() -> Path:
    """``$XDG_DATA_HOME/duban/sandbox`` (``~/.local/share/duban/sandbox``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "duban" / "sandbox"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class SandboxPaths:
    root: Path

    @property
    def meta(self) -> Path:
        return self.root / "sandbox.json"

    @property
    def database(self) -> Path:
        return self.root / "duban.db"

    @property
    def database_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.database}"

    @property
    def clock(self) -> Path:
        return self.root / "clock.json"

    @property
    def emulator(self) -> Path:
        return self.root / "emulator"

    @property
    def log(self) -> Path:
        return self.root / "bot.log"

    @property
    def lock(self) -> Path:
        return self.root / ".lock"

    def wipe(self) -> None:
        for name in STATE_NAMES:
            target = self.root / name
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)


@dataclass
class SandboxOptions:
    directory: Path
    host: str = "127.0.0.1"
    port: int = 8080
    reset: bool = False
    locale: str = DEFAULT_LOCALE
    start: datetime = SANDBOX_START
    #: The bot's command line; by default ``python -m bot.cli run`` (the production entry).
    bot_command: Sequence[str] = field(
        default_factory=lambda: (sys.executable, "-m", "bot.cli", "run"))


# --------------------------------------------------------------------------- the bot process


class BotProcess:
    """The bot in its own process; restarted if it dies, at most :data:`MAX_RESTARTS` times."""

    def __init__(self, command: Sequence[str], env: dict[str, str], cwd: Path, log_path: Path,
                 on_state: Callable[[str], Awaitable[None]]) -> None:
        self.command = list(command)
        self.env = env
        self.cwd = cwd
        self.log_path = log_path
        self.on_state = on_state
        self.process: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self.stopping = False
        self._watcher: asyncio.Task[None] | None = None
        self._log: IO[bytes] | None = None

    async def start(self) -> None:
        self._log = self.log_path.open("ab")
        await self._spawn()
        self._watcher = asyncio.create_task(self._watch(), name="sandbox-bot")

    async def _spawn(self) -> None:
        await self.on_state("starting")
        self.process = await asyncio.create_subprocess_exec(
            *self.command, env=self.env, cwd=str(self.cwd), stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log, stderr=self._log)

    async def _watch(self) -> None:
        while self.process is not None:
            code = await self.process.wait()
            if self.stopping:
                return
            log.warning("the bot exited with code %s; see %s", code, self.log_path)
            await self.on_state("stopped")
            if self.restarts >= MAX_RESTARTS:
                return
            self.restarts += 1
            await asyncio.sleep(min(2 ** self.restarts, 30))  # back off before restarting
            await self._spawn()

    async def stop(self) -> None:
        self.stopping = True
        process = self.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        if self._log is not None:
            self._log.close()
            self._log = None


# --------------------------------------------------------------------------- the sandbox


class Sandbox:
    """Starts and stops the three parts; see the module docstring."""

    def __init__(self, options: SandboxOptions) -> None:
        if not is_loopback(options.host):
            raise DubanError(N_("The sandbox listens on loopback only (127.0.0.1, ::1 or "
                                "localhost); got {host}."), host=options.host)
        self.options = options
        self.paths = SandboxPaths(options.directory.expanduser().resolve())
        self.url = ""
        self.fresh = False
        self.meta: SandboxMeta | None = None
        self.emulator: RunningEmulator | None = None
        self.web: SandboxWeb | None = None
        self.bot: BotProcess | None = None
        self._stack = contextlib.AsyncExitStack()
        self._lock: IO[str] | None = None

    async def __aenter__(self) -> Sandbox:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- starting

    async def start(self) -> None:
        self._take_lock()
        meta = self._prepare_folder()
        clock = FileClock(self.paths.clock)
        world = World(meta.token, bot_username=BOT_USERNAME, bot_first_name=BOT_NAME,
                      clock=lambda: clock.now().timestamp())
        self.emulator = await self._stack.enter_async_context(run_emulator(
            meta.token, "127.0.0.1", 0, state_dir=self.paths.emulator, world=world))
        if not meta.seeded:
            await self._seed(meta, self.emulator)
        self.meta = meta
        self.web = SandboxWeb(self.emulator.base_url, meta,
                              ClockPanel(clock, self.paths.database_url))
        self._stack.push_async_callback(self.web.stop)
        self.url = await self._listen(self.web)
        self.bot = BotProcess(self.options.bot_command, self._bot_env(meta, self.emulator),
                              self.paths.root, self.paths.log, self.web.set_bot_state)
        self._stack.push_async_callback(self.bot.stop)
        await self.bot.start()

    def _take_lock(self) -> None:
        self.paths.root.mkdir(parents=True, exist_ok=True)
        handle = self.paths.lock.open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise DubanError(N_("Another sandbox is already running in {path}."),
                             path=str(self.paths.root)) from None
        self._lock = handle

    def _prepare_folder(self) -> SandboxMeta:
        """The saved sandbox, or a fresh one (after ``reset``, or over a half-seeded one)."""
        if self.options.reset:
            self.paths.wipe()
        meta = SandboxMeta.load(self.paths.meta)
        if meta is not None:
            return meta
        self.paths.wipe()
        self.fresh = True
        meta = SandboxMeta.new(self.options.start)
        FileClock(self.paths.clock).set(self.options.start)
        return meta

    async def _seed(self, meta: SandboxMeta, emulator: RunningEmulator) -> None:
        org = load_demo_org()
        people = personas(org)
        chats = await seed_world(emulator.client, people, chat_specs(org, people))
        await seed_database(self.paths.database_url, chats, org=org, start=self.options.start)
        if emulator.server.store is not None:  # the world first: the meta marks it complete
            emulator.server.store.save(emulator.state)
        meta.personas = [_persona_json(p, org) for p in people]
        meta.chats = chats
        meta.seeded = True
        meta.save(self.paths.meta)

    async def _listen(self, web: SandboxWeb) -> str:
        try:
            return await web.start(self.options.host, self.options.port)
        except OSError:
            if self.options.port == 0:
                raise
            log.warning("port %s is taken; using a free one", self.options.port)
            return await web.start(self.options.host, 0)

    def _bot_env(self, meta: SandboxMeta, emulator: RunningEmulator) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DUBAN_", "TELEGRAM_")) and k != "DATABASE_URL"}
        python_path = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH"))
                                      if p)
        env.update(
            TELEGRAM_BOT_TOKEN=meta.token, TELEGRAM_API_BASE_URL=emulator.base_url,
            DATABASE_URL=self.paths.database_url, DUBAN_ORG=str(DEMO_ORG),
            DUBAN_MODE="sandbox", DUBAN_CLOCK_FILE=str(self.paths.clock),
            DUBAN_LOCALE=self.options.locale, PYTHONUNBUFFERED="1", PYTHONPATH=python_path,
        )
        return env

    # ---- running

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until the bot has registered its commands and long-polls the emulator."""
        assert self.emulator is not None and self.web is not None
        client = self.emulator.client
        web = self.web

        async def ready() -> bool | None:
            commands = await client.all_bot_commands()
            return True if commands and web.bot_state == "running" else None

        await client.wait_until(ready, timeout=timeout)

    # ---- stopping

    def stopping(self) -> None:
        """Stopping is under way: the bot's exit from now on is no crash to restart."""
        if self.bot is not None:
            self.bot.stopping = True

    async def stop(self) -> None:
        """Stop the bot, then the page, then the emulator (which saves its world)."""
        await self._stack.aclose()
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def _persona_json(person: Any, org: Any) -> dict[str, Any]:
    unit_zh = unit_en = None
    if person.department:
        department = org.department(person.department)
        unit_zh = department.name if department else person.department
        unit_en = org.alias_table().name(person.department, "en")
    elif person.region:
        unit_zh = unit_en = person.region
    return {"id": person.id, "name": person.name, "role": person.role,
            "department": person.department, "region": person.region,
            "unit_zh": unit_zh, "unit_en": unit_en}


async def serve(options: SandboxOptions, announce: Callable[[Sandbox], None],
                open_browser: Callable[[str], Any] | None = None) -> None:
    """Run the sandbox until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    async with Sandbox(options) as sandbox:

        def on_signal() -> None:
            # Ctrl-C in a terminal reaches the bot too: its exit is expected, not a crash.
            sandbox.stopping()
            stop.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signum, on_signal)
        announce(sandbox)
        if open_browser is not None:
            await loop.run_in_executor(None, open_browser, sandbox.url)
        await stop.wait()
