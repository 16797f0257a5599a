"""Trial ``db_outage``: PostgreSQL stopped under a running bot, then started again.

``python -m bench.trials.db_outage [--size N] [--seconds S]`` (needs PostgreSQL 15's ``initdb``
and ``pg_ctl`` on the PATH; as root the server runs as the ``postgres`` user).

The trial starts a PostgreSQL server of its own, seeds the sandbox's world on it and runs
``duban run`` against the emulator. Each run stops the server (``pg_ctl stop -m fast``) for S
seconds (30 at full size, fewer in CI) while a coordinator asks ``/status``, a liaison presses
受理 on a card and another asks ``/whoami``; then starts it again. Expected: during the outage
each chat is told once that its message is kept; after it, every input is handled exactly once
(the press's acceptance is one event), the calendar sweeps again, the outbox and the inbox
empty, and nobody reads the generic failure reply. *Lost*: an input never handled; *duplicated*:
handled twice; *crashed*: the bot died, answered with the failure reply, stayed silent during
the outage, or its calendar did not recover.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from bench.trials.common import Tally, report
from bench.trials.world import LEADS, Process, World, free_ports, quiet, until, world
from bot.core.buttons import ButtonCodec, StepPress
from bot.core.i18n import get_translator
from bot.render import texts
from bot.services.health import HealthService
from handlers.intake import WILL_HANDLE_LATER
from models.db import create_engine, session_factory
from models.tables import Event

TOKEN = "737373:DB-OUTAGE"


@dataclass
class Server:
    """A throw-away PostgreSQL server on loopback that can be stopped and started."""

    folder: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-l", str(self.folder / "log"),
                  "-w", "-t", "60", "-o",
                  f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")


@contextlib.contextmanager
def postgres_server() -> Iterator[Server]:
    if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
        raise SystemExit("trial db_outage needs PostgreSQL (initdb and pg_ctl on the PATH)")
    folder = Path(tempfile.mkdtemp(prefix="duban-outage-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    server = Server(folder, free_ports(1)[0])
    server._run("initdb", "-D", str(folder / "data"), "-U", "postgres", "--auth=trust",
                "--encoding=UTF8", "--locale=C.UTF-8")
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def _messages(w: World, chat: int, test: object) -> list[str]:
    return [m.body for m in await w.client.messages(chat)
            if m.from_bot and test(m.body)]  # type: ignore[operator]


async def _accepts(url: str, case_id: int, department: str) -> int:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            return int((await session.exec(select(func.count()).select_from(Event).where(
                Event.case_id == case_id, Event.kind == "accept",  # type: ignore[arg-type]
                Event.department_key == department))).scalar() or 0)  # type: ignore[arg-type]
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class Card:
    chat: int
    message_id: int
    data: str
    case_id: int
    department: str
    liaison: int


async def _cards(w: World) -> list[Card]:
    """Cards still waiting for a department's 受理, with the liaison who may press it."""
    codec = ButtonCodec.from_token(TOKEN)
    found: list[Card] = []
    for chat in w.chats:
        if chat["kind"] != "department":
            continue
        chat_id = int(str(chat["id"]))
        liaison = next((p.id for p in w.people if p.role == "liaison"
                        and p.department == chat["department"]), None)
        if liaison is None:
            continue
        for message in await w.client.messages(chat_id):
            for button in message.buttons:
                if button.get("text") != "受理":
                    continue
                payload = codec.unpack(chat_id, str(button["callback_data"]))
                if isinstance(payload, StepPress):
                    found.append(Card(chat_id, message.message_id, str(button["callback_data"]),
                                      payload.case_id, str(chat["department"]), liaison))
    return found


async def one_outage(w: World, server: Server, bot: Process, card: Card | None, seconds: float,
                     tally: Tally, marker: str) -> None:
    tr = get_translator("zh_CN")
    later, failed = tr.gettext(WILL_HANDLE_LATER), tr.gettext(texts.FAILED)
    liaison_chat = card.chat if card else w.coordination
    before = {chat: len(await _messages(w, chat, lambda b: True))
              for chat in (w.coordination, liaison_chat)}
    statuses = len(await _messages(w, w.coordination, lambda b: "📊" in b))
    server.stop()
    try:
        await w.client.send_text(w.coordinator, w.coordination, f"/status {marker}")
        if card is not None:
            await w.client.press_nowait(card.liaison, card.chat, card.message_id, data=card.data)
            await w.client.send_text(card.liaison, card.chat, "/whoami")
        # The bot answers while the database is away: each chat is told once.
        await until(lambda: _told(w, w.coordination, later, before[w.coordination]), 60)
        await asyncio.sleep(seconds)  # the outage itself lasts this long: the fault, by design
    finally:
        server.start()
    await until(lambda: _count_after(w, w.coordination, lambda b: "📊" in b, statuses + 1), 120)
    if card is not None:
        await until(lambda: _accepted(w.url, card), 120)
        await until(lambda: _count_after(w, card.chat, lambda b: "协调员" in b or "联络员" in b
                                         or "身份" in b, 1, since=before[card.chat]), 120)
    await until(lambda: quiet(w.url), 120)
    await until(lambda: _calendar_recovered(w.url), 120)
    # Count what happened.
    answered = len(await _messages(w, w.coordination, lambda b: "📊" in b)) - statuses
    tally.lost += max(0, 1 - answered)
    tally.duplicated += max(0, answered - 1)
    if card is not None:
        accepts = await _accepts(w.url, card.case_id, card.department)
        tally.lost += max(0, 1 - accepts)
        tally.duplicated += max(0, accepts - 1)
    for chat in {w.coordination, liaison_chat}:
        bodies = (await _messages(w, chat, lambda b: True))[before[chat]:]
        if any(failed in body for body in bodies):
            print(f"  the failure reply appeared in chat {chat}", file=sys.stderr)
            tally.crashed += 1
        told = sum(1 for body in bodies if body == later)
        if chat == w.coordination and told != 1:
            print(f"  chat {chat} was told {told} times to wait", file=sys.stderr)
            tally.crashed += 1
    if not bot.alive:
        tally.crashed += 1


async def _told(w: World, chat: int, later: str, since: int) -> bool:
    return later in (await _messages(w, chat, lambda b: True))[since:]


async def _count_after(w: World, chat: int, test: object, n: int, since: int = 0) -> bool:
    return len([b for b in (await _messages(w, chat, lambda b: True))[since:]
                if test(b)]) >= n  # type: ignore[operator]


async def _accepted(url: str, card: Card) -> bool:
    return await _accepts(url, card.case_id, card.department) >= 1


async def _calendar_recovered(url: str) -> bool:
    engine = create_engine(url)
    try:
        from bot.core.clock import SystemClock

        health = await HealthService(session_factory(engine), SystemClock()).calendar()
        return health.failures_in_a_row == 0 and health.last_success is not None
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def running(server: Server, folder: Path) -> AsyncIterator[tuple[World, Process]]:
    async with world(server.url, folder, TOKEN) as w:
        bot = Process("bot", w.env, folder / "bot.log")
        await bot.start()
        try:
            await until(lambda: _leads(bot))
            await until(lambda: quiet(w.url))
            yield w, bot
        finally:
            await bot.stop()


async def _leads(bot: Process) -> bool:
    return LEADS in bot.text()


async def main(size: int, seconds: float, seed: int) -> int:
    rng = random.Random(seed)
    print(f"trial db_outage: seed {seed}, outages of {seconds:g} s", flush=True)
    tally = Tally("db_outage")
    with postgres_server() as server, tempfile.TemporaryDirectory(prefix="duban-outage-") as tmp:
        async with running(server, Path(tmp)) as (w, bot):
            cards = await _cards(w)
            rng.shuffle(cards)
            markers = ["玛纳斯县", "昌吉市", "准东经济技术开发区"]
            for n in range(size):
                card = cards[n] if n < len(cards) else None
                await one_outage(w, server, bot, card, seconds, tally, markers[n % 3])
                tally.runs += 1
            log = bot.text()
        if "Traceback" in log and "Error while getting Updates" not in log:
            tracebacks = log.count("Traceback")
            print(f"  {tracebacks} tracebacks in the bot's log (outages log their cause)",
                  file=sys.stderr)
    return report(tally)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=int(os.environ.get("DUBAN_TRIAL_SIZE", "2")))
    parser.add_argument("--seconds", type=float,
                        default=float(os.environ.get("DUBAN_OUTAGE_SECONDS", "30")))
    parser.add_argument("--seed", type=int, default=random.randrange(1 << 30))
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments.size, arguments.seconds, arguments.seed)))
