"""Memory of ``duban run``: its RSS after start-up and, with cases stored, through ``/status`` and
a sweep.

``python bench/memory.py [--stored 0 100000 1000000] [--due 10000]``

For each size, ``duban run`` runs as its own process (as the fault trials start it,
:mod:`bench.trials.world`) against the Bot API emulator, on a SQLite database holding the
sandbox's world (its people, bound chats and dozen cases) and, when ``--stored N`` is above 0,
N more cases written in bulk as :mod:`bench.sweep` writes them (``--due`` of them rectifying
with their deadline seven days after the sweep). The simulated clock starts at 08:00 on
Tuesday 1 December 2026, before office hours, so the sweeps at start-up look at everything
but send nothing. Three stages, each measured from ``/proc/PID/status`` once it is over:

1. **start-up**: the process leads, and its first sweep is done;
2. **/status 玛纳斯县**: a coordinator asks in the coordination group; over when the chart
   has arrived (the text comes first);
3. **sweep**: the clock moves to 10:00; over when a sweep at 10:00 has recorded and queued
   its items (the due cases' T-7 nudges); what the delivery sent meanwhile counts too.

Each stage's row gives VmRSS at its end and the stage's own peak (VmHWM, reset between
stages through ``/proc/PID/clear_refs`` where the kernel allows; otherwise the peak since the
process started). Then, once, where the imports' memory goes: a fresh interpreter imports
and builds what ``duban run`` does before it serves (the command line, the runner, the
migrations, the services and the Application) with each module's RSS growth recorded (its
own, without the modules it imports in turn); the top ten packages are printed.

Seeding 1M cases takes several minutes (progress on standard error). Numbers go to
docs/benchmarks.md; there are no memory asserts in the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Only the standard library up here: the import breakdown runs this file in a fresh
# interpreter and must see duban's imports happen, so duban's own modules and the helpers
# (which import them) are imported inside the functions that measure.

TOKEN = "515151:MEMORY-BENCH"
TZ = ZoneInfo("Asia/Shanghai")
#: Before office hours (09:00): the sweeps at start-up find what is due but send nothing.
START_AT = datetime(2026, 12, 1, 8, 0, tzinfo=TZ)
MB = 1024 * 1024
T = TypeVar("T")


# -- reading a process's memory -----------------------------------------------------------------


@dataclass(frozen=True)
class Memory:
    rss: int  # bytes
    peak: int

    @classmethod
    def of(cls, pid: int) -> Memory:
        fields = {}
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) * 1024
        return cls(fields["VmRSS"], fields["VmHWM"])


def reset_peak(pid: int) -> bool:
    """Set VmHWM back to VmRSS (Linux 4.0+, the process's owner or root); whether it worked."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# -- where the imports' memory goes ------------------------------------------------------------


class ImportTracker:
    """The RSS growth while each module is loaded: its own, without that of the modules it
    imports (those are counted for themselves). A measure of the memory an import costs, not
    an exact one: freed memory is reused, and the allocator keeps memory in arenas."""

    def __init__(self) -> None:
        self.own: dict[str, int] = {}
        self._children: list[int] = []  # per module being loaded: its imports' growth
        self._statm = os.open("/proc/self/statm", os.O_RDONLY)
        self._page = os.sysconf("SC_PAGE_SIZE")

    def rss(self) -> int:
        return int(os.pread(self._statm, 100, 0).split()[1]) * self._page

    def measure(self, name: str, load: Callable[[], T]) -> T:
        start = self.rss()
        self._children.append(0)
        try:
            return load()
        finally:
            grown = self.rss() - start
            children = self._children.pop()
            self.own[name] = self.own.get(name, 0) + grown - children
            if self._children:
                self._children[-1] += grown

    def install(self) -> None:
        """Wrap the loaders of source, bytecode and extension modules (every file import)."""
        from importlib import _bootstrap_external as external

        def wrap(cls: Any, method: str, name_of: Callable[[Any], str]) -> None:
            original = getattr(cls, method)

            def measured(loader: Any, target: Any) -> Any:
                return self.measure(name_of(target), lambda: original(loader, target))

            setattr(cls, method, measured)

        wrap(external._LoaderBasics,  # type: ignore[attr-defined]
             "exec_module", lambda module: module.__name__)
        wrap(external.ExtensionFileLoader, "create_module", lambda spec: spec.name)
        wrap(external.ExtensionFileLoader, "exec_module", lambda module: module.__name__)


def breakdown_child() -> None:
    """In a fresh interpreter: import and build what ``duban run`` does before it serves, and
    print each module's own growth (JSON) with the total."""
    tracker = ImportTracker()
    tracker.install()
    start = tracker.rss()
    with tempfile.TemporaryDirectory() as folder:
        environ = {k: v for k, v in os.environ.items()
                   if not k.startswith(("DUBAN_", "TELEGRAM_"))}
        environ.update(TELEGRAM_BOT_TOKEN=TOKEN, DUBAN_MODE="test",
                       DATABASE_URL=f"sqlite+aiosqlite:///{Path(folder) / 'duban.db'}",
                       DUBAN_ORG=str(ROOT / "bot" / "data" / "demo_org.toml"))
        os.environ.clear()
        os.environ.update(environ)
        import bot.cli.main  # noqa: F401  (what ``python -m bot.cli run`` imports)
        from bot.app import build_application, build_deps
        from bot.core.clock import SystemClock
        from bot.core.policy.catalog import load_default_catalog
        from bot.runner import prepare
        from bot.settings import load_settings
        from models.db import create_engine

        settings = load_settings()
        asyncio.run(prepare(settings))
        deps = build_deps(settings, create_engine(settings.database_url), SystemClock(),
                          load_default_catalog())
        build_application(settings, deps)
    json.dump({"total": tracker.rss() - start, "modules": tracker.own}, sys.stdout)


def import_breakdown(top: int = 10) -> list[str]:
    """The Markdown lines of the import breakdown (run in a child interpreter)."""
    done = subprocess.run([sys.executable, __file__, "--breakdown-child"], cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the import breakdown failed:\n{done.stderr}")
    result = json.loads(done.stdout)
    packages: dict[str, dict[str, int]] = {}
    for name, grown in result["modules"].items():
        packages.setdefault(name.split(".")[0], {})[name] = grown
    ranked = sorted(packages.items(), key=lambda item: -sum(item[1].values()))
    lines = [f"Imports and building the application: {result['total'] / MB:.0f} MB of RSS in "
             f"{len(result['modules'])} modules; the top {top} packages by their modules' own "
             "growth:", "",
             "| package | RSS growth | modules | the heaviest module |", "|---|---|---|---|"]
    for package, modules in ranked[:top]:
        heaviest = max(modules, key=modules.__getitem__)
        lines.append(f"| {package} | {sum(modules.values()) / MB:.1f} MB | {len(modules)} | "
                     f"{heaviest} ({modules[heaviest] / MB:.1f} MB) |")
    return lines


# -- the bot's life -----------------------------------------------------------------------------


@dataclass
class Stage:
    name: str
    memory: Memory
    seconds: float
    own_peak: bool  # the peak is this stage's own (VmHWM was reset before it)
    finished: bool = True  # False: measured when the stage had not ended in its time


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def seed_cases(url: str, stored: int, due: int, database: Path) -> None:
    """:func:`bench.sweep.seed`, saying now and then how far it has got."""
    from bench.sweep import seed

    began = time.perf_counter()

    async def progress() -> None:
        while True:
            await asyncio.sleep(15)
            size = database.stat().st_size / MB if database.exists() else 0
            note(f"  seeding {stored:,} cases: {time.perf_counter() - began:.0f} s, "
                 f"database {size:,.0f} MB")

    ticker = asyncio.get_running_loop().create_task(progress())
    try:
        await seed(url, stored, due)
    finally:
        ticker.cancel()
    note(f"  seeded {stored:,} cases in {time.perf_counter() - began:.0f} s")


async def life(stored: int, due: int, folder: Path) -> list[Stage]:
    from sqlalchemy import bindparam, text

    from bench.sweep import SWEEP_AT
    from bench.trials.world import LEADS, Process, until, world
    from bot.core.clock import FileClock, SystemClock
    from bot.services.health import HealthService
    from models.db import create_engine, session_factory
    from models.types import UTCDateTime

    database = folder / "duban.db"
    url = f"sqlite+aiosqlite:///{database}"
    if stored:
        await seed_cases(url, stored, due, database)

    async def swept_at(instant: datetime) -> bool:
        engine = create_engine(url)
        try:
            health = await HealthService(session_factory(engine), SystemClock()).calendar()
        finally:
            await engine.dispose()
        return health.last_success is not None and health.last_success >= instant

    async def recorded_at(instant: datetime) -> bool:
        """A sweep at ``instant`` recorded its items, and a sweep ended since. (A sweep's end
        is stamped with the clock at its end: one that began at 08:00 and ended after the
        move to 10:00 says "10:00" too, so the stamp alone ended the stage too early.)"""
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                found = (await connection.execute(text(
                    "SELECT 1 FROM sent_keys WHERE created_at >= :at LIMIT 1").bindparams(
                    bindparam("at", type_=UTCDateTime())), {"at": instant})).first()
        finally:
            await engine.dispose()
        return found is not None and await swept_at(instant)

    stages: list[Stage] = []
    note("  seeding the sandbox's world")
    async with world(url, folder, TOKEN) as w:
        # A clock of its own, since the world's stands at 09:00 and clocks never go back.
        clock = FileClock(folder / "memory-clock.json")
        clock.set(START_AT)
        bot = Process("bot", {**w.env, "DUBAN_CLOCK_FILE": str(clock.path)},
                      folder / "bot.log")
        began = time.perf_counter()
        await bot.start()
        assert bot.process is not None
        pid = bot.process.pid
        own_peak = True  # the peak since the process started is the start-up's own

        async def stage(name: str, over: Awaitable[object], timeout: float) -> bool:
            """Wait for the stage to be over, then measure; whether it was over in time."""
            nonlocal began, own_peak
            try:
                await asyncio.wait_for(over, timeout)
                finished = True
            except TimeoutError:
                finished = False
            stages.append(Stage(name, Memory.of(pid), time.perf_counter() - began, own_peak,
                                finished))
            note(f"  {name}: {stages[-1].memory.rss / MB:.0f} MB "
                 f"(peak {stages[-1].memory.peak / MB:.0f} MB), {stages[-1].seconds:.1f} s"
                 + ("" if finished else f", not over after {timeout:.0f} s"))
            own_peak = reset_peak(pid)
            began = time.perf_counter()
            return finished

        async def started() -> None:
            await until(lambda: _contains(bot, LEADS), 300)
            await until(lambda: swept_at(START_AT), 900)

        async def status() -> None:
            sent = await w.client.send_text(w.coordinator, w.coordination, "/status 玛纳斯县")
            await w.client.wait_for_message(
                w.coordination, lambda m: m.from_bot and m.message_id > sent.message_id
                and bool(m.files), timeout=600)

        try:
            if (await stage("start-up (leading, first sweep done)", started(), 1200)
                    and await stage("/status 玛纳斯县 (text, then the chart)", status(), 600)):
                clock.set(SWEEP_AT)
                await stage("sweep at 10:00 (its items recorded and queued)",
                            until(lambda: recorded_at(SWEEP_AT) if due and stored
                                  else swept_at(SWEEP_AT), 1800), 1800)
        finally:
            code = await bot.stop()
            if code not in (0, None):
                note(bot.text()[-3000:])
                raise SystemExit(f"duban run ended with {code}; its log: {folder / 'bot.log'}")
    return stages


async def _contains(process: Any, text: str) -> bool:
    return text in process.text()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stored", type=int, nargs="+", default=[0],
                        help="cases stored besides the sandbox's world, one run each "
                             "(default 0: the sandbox's world alone)")
    parser.add_argument("--due", type=int, default=10_000,
                        help="of them, due for a T-7 nudge at the 10:00 sweep (default 10000)")
    parser.add_argument("--no-imports", action="store_true", help="skip the import breakdown")
    parser.add_argument("--breakdown-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.breakdown_child:
        breakdown_child()
        return
    rows = ["| stored cases | stage | RSS at its end | the stage's peak | time |",
            "|---|---|---|---|---|"]
    for stored in args.stored:
        note(f"{stored:,} cases stored:")
        with tempfile.TemporaryDirectory(prefix="duban-memory-") as folder:
            stages = asyncio.run(life(stored, min(args.due, stored), Path(folder)))
        for stage in stages:
            peak = f"{stage.memory.peak / MB:.0f} MB" + ("" if stage.own_peak
                                                        else " (since start)")
            took = f"{stage.seconds:.1f} s" + ("" if stage.finished else " (not over)")
            rows.append(f"| {stored:,} | {stage.name} | {stage.memory.rss / MB:.0f} MB | "
                        f"{peak} | {took} |")
    print("\n".join(rows))
    if not args.no_imports:
        print()
        print("\n".join(import_breakdown()))


if __name__ == "__main__":
    main()
