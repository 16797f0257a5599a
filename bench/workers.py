"""Throughput of 1, 2 and 4 ``duban run`` webhook workers on one PostgreSQL database.

``python bench/workers.py [--workers 1 2 4] [--messages 300]`` (needs ``DUBAN_TEST_POSTGRES_URL``:
each count gets a fresh database on that server).

The sandbox's world on its first day (``bench.trials.world``: its people, chats and cases, the
Bot API emulator), then N ``duban run`` processes in webhook mode, all registered with the same
public URL: a small load balancer in this process, which forwards each webhook request to the
next worker in turn and hands its answer back (the emulator, like Telegram with
``max_connections=1``, posts one update at a time and waits for the 200 — given once the update
is stored). Once the first round is sent, every liaison presses 受理 on each card waiting for
it and ``--messages`` ``/whoami`` are sent round the department chats, all at once; measured is
the time until every one of them is answered and the outbox and inbox are empty.

Counted exactly once each: every /whoami's reply (a bot message replying to it), every press's
answer, every acceptance (one ``accept`` event per pressed card). Prints updates per second by
worker count.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import ClientSession, web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from bench.trials.db_outage import TOKEN, Card, _cards
from bench.trials.world import (
    LEADS,
    ROOT,
    Process,
    World,
    free_ports,
    fresh_database,
    quiet,
    until,
    world,
)
from models.db import create_engine, session_factory
from models.tables import Event, InboxUpdate, Outbox, ProcessedUpdate

SECRET = "bench-workers-secret"
WAIT = 600.0


@dataclass
class Worker(Process):
    """``duban run`` in webhook mode, listening on its own port."""

    port: int = 0
    public_url: str = ""

    async def start(self) -> None:
        handle = self.log.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", "--webhook-url", self.public_url,
            "--port", str(self.port), "--secret-token", SECRET, env=self.env, cwd=str(ROOT),
            stdin=asyncio.subprocess.DEVNULL, stdout=handle, stderr=handle)


class Balancer:
    """Round-robin in front of the workers: forwards each webhook request and its answer."""

    def __init__(self, ports: list[int], port: int) -> None:
        self.port = port  # its own
        self.targets = itertools.cycle([f"http://127.0.0.1:{p}/telegram" for p in ports])
        self.forwarded: Counter[str] = Counter()
        self.session: ClientSession | None = None
        self.runner: web.AppRunner | None = None

    async def start(self) -> str:
        self.session = ClientSession()
        app = web.Application()
        app.router.add_post("/telegram", self.forward)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return f"http://127.0.0.1:{self.port}/telegram"

    async def forward(self, request: web.Request) -> web.Response:
        assert self.session is not None
        target = next(self.targets)
        try:
            async with self.session.post(target, data=await request.read(),
                                         headers=dict(request.headers)) as reply:
                self.forwarded[target] += 1
                return web.Response(status=reply.status, body=await reply.read())
        except OSError:  # a worker not listening yet: Telegram tries again
            return web.Response(status=502)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        if self.session is not None:
            await self.session.close()


_ENGINES: dict[str, AsyncEngine] = {}


async def _count(url: str, statement: object) -> int:
    """A count on the database at ``url`` (one engine per database: the probes run often)."""
    engine = _ENGINES.get(url) or _ENGINES.setdefault(url, create_engine(url))
    async with session_factory(engine)() as session:
        return int((await session.exec(statement)).scalar() or 0)  # type: ignore[call-overload]


async def _replies(w: World, asked: dict[int, list[int]]) -> Counter[tuple[int, int]]:
    """How many bot messages reply to each /whoami asked (by chat and message id)."""
    counts: Counter[tuple[int, int]] = Counter()
    for chat, ids in asked.items():
        wanted = set(ids)
        for message in await w.client.messages(chat):
            if message.from_bot and message.reply_to_message_id in wanted:
                counts[chat, message.reply_to_message_id] += 1
    return counts


@dataclass(frozen=True)
class Result:
    workers: int
    updates: int
    seconds: float
    forwarded: tuple[int, ...]
    problems: tuple[str, ...]


async def one_count(admin_url: str, folder: Path, workers: int, messages: int) -> Result:
    async with fresh_database(admin_url) as url, world(url, folder, TOKEN) as w:
        *ports, own = free_ports(workers + 1)
        balancer = Balancer(ports, own)
        public = await balancer.start()
        processes = [Worker(f"worker{i}", w.env, folder / f"worker{i}.log", port=port,
                            public_url=public) for i, port in enumerate(ports)]
        try:
            for process in processes:
                await process.start()
            await until(lambda: _any_leads(processes), WAIT)
            await until(lambda: quiet(url), WAIT)
            cards = await _cards(w)
            liaisons = {c.chat: c.liaison for c in cards}
            chats = sorted(liaisons)
            before = await _count(url, select(func.count()).select_from(ProcessedUpdate))
            began = time.perf_counter()
            asked: dict[int, list[int]] = {}
            press_ids: list[tuple[Card, str]] = []
            for card in cards:
                press_ids.append((card, await w.client.press_nowait(
                    card.liaison, card.chat, card.message_id, data=card.data)))
            for n in range(messages):
                chat = chats[n % len(chats)]
                sent = await w.client.send_text(liaisons[chat], chat, "/whoami")
                asked.setdefault(chat, []).append(sent.message_id)
            total = len(cards) + messages

            async def done() -> bool:
                handled = await _count(url, select(func.count()).select_from(ProcessedUpdate))
                return handled - before >= total and await _quiet(url)

            await until(done, WAIT, every=0.05)
            seconds = time.perf_counter() - began
            problems = await _check(w, url, press_ids, asked)
            engine = _ENGINES.pop(url, None)
            if engine is not None:
                await engine.dispose()
        finally:
            for process in processes:
                await process.stop()
            await balancer.stop()
        logs = "".join(p.text() for p in processes)
        if "Traceback" in logs:
            problems.append("a traceback in a worker's log")
        return Result(workers, total, seconds, tuple(balancer.forwarded.values()),
                      tuple(problems))


async def _quiet(url: str) -> bool:
    unsent = await _count(url, select(func.count()).select_from(Outbox).where(
        col(Outbox.sent_at).is_(None), col(Outbox.attempts) < 8))
    return not unsent and not await _count(url, select(func.count()).select_from(InboxUpdate))


async def _any_leads(processes: list[Worker]) -> bool:
    return any(LEADS in p.text() for p in processes)


async def _check(w: World, url: str, presses: list[tuple[Card, str]],
                 asked: dict[int, list[int]]) -> list[str]:
    problems: list[str] = []
    replies = await _replies(w, asked)
    for chat, ids in asked.items():
        for message_id in ids:
            if replies[chat, message_id] != 1:
                problems.append(f"/whoami {message_id} in {chat} answered "
                                f"{replies[chat, message_id]} times")
    for card, query_id in presses:
        answer = await w.client.callback_answer(query_id, timeout=5.0)
        if answer is None or not answer.answered:
            problems.append(f"press on case {card.case_id} not answered")
        accepts = await _count(url, select(func.count()).select_from(Event).where(
            Event.case_id == card.case_id, Event.kind == "accept",  # type: ignore[arg-type]
            Event.department_key == card.department))  # type: ignore[arg-type]
        if accepts != 1:
            problems.append(f"case {card.case_id} accepted {accepts} times")
    return problems


async def main(counts: list[int], messages: int) -> int:
    admin_url = os.environ.get("DUBAN_TEST_POSTGRES_URL")
    if not admin_url:
        print("bench/workers.py needs PostgreSQL: set DUBAN_TEST_POSTGRES_URL", file=sys.stderr)
        return 2
    results = []
    with tempfile.TemporaryDirectory(prefix="duban-workers-") as tmp:
        for workers in counts:
            folder = Path(tmp) / f"w{workers}"
            folder.mkdir()
            print(f"{workers} worker(s) …", file=sys.stderr, flush=True)
            results.append(await one_count(admin_url, folder, workers, messages))
    print("| workers | updates (presses + /whoami) | seconds | updates/s | per worker "
          "(forwarded) | exactly once |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r.workers} | {r.updates} | {r.seconds:.1f} | {r.updates / r.seconds:.0f} | "
              f"{' / '.join(str(n) for n in r.forwarded)} | "
              f"{'yes' if not r.problems else '; '.join(r.problems[:3])} |")
    return 1 if any(r.problems for r in results) else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--messages", type=int, default=300)
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments.workers, arguments.messages)))
