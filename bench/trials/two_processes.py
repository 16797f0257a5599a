"""Trial ``two_processes``: two ``duban run`` on one PostgreSQL database, the leader killed.

``python -m bench.trials.two_processes [--size N]`` (needs ``DUBAN_TEST_POSTGRES_URL``, a server
where databases may be created: the trial makes one per run and drops it).

First a reference: the sandbox's world (its people, chats and cases, on its first day) with one
bot process, run until everything queued is sent, every message each chat received is kept.
Then each run: the same world on a fresh database and a fresh emulator, two processes started
one after the other; the first leads (calendar and polling), the second stands by; the leader
is killed (``kill -9``) at a random moment while the round is delivered, the standby takes
over; a coordinator's ``/status`` before and after the kill must each be answered once.

Per chat, the messages received are compared with the reference: fewer is *lost*, more is
*duplicated*, except duplicates explained by the one residual window of docs/outbox.md (a row
the dead process had claimed and sent before it could record it, or an update it had answered
before it could record it, taken over after the lease: at most one repeat in that row's chat),
which are counted apart. *Crashed*: a process that died on its own, a traceback in a
log, two processes leading at once, or a 409 Conflict (two pollers).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import tempfile
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bench.trials.common import Tally, report
from bench.trials.world import LEADS, Process, World, fresh_database, quiet, received, until
from bench.trials.world import world as sandbox_world
from bot.core.clock import FileClock
from bot.services import inbox as inbox_service
from bot.services import outbox as outbox_service
from models.db import create_engine, session_factory
from models.tables import ChatBinding, InboxUpdate, Outbox

TOKEN = "626262:TWO-PROCESSES"
#: how far the clock moves after the kill: past both leases (the outbox's and the inbox's)
LEASE_GAP = max(inbox_service.CLAIM_LEASE, outbox_service.CLAIM_LEASE) + timedelta(seconds=1)


@contextlib.asynccontextmanager
async def world(admin_url: str, folder: Path) -> AsyncIterator[World]:
    """The sandbox's world on a database of its own."""
    async with fresh_database(admin_url) as url, sandbox_world(url, folder, TOKEN) as w:
        yield w


async def status(w: World, marker: str) -> None:
    """A coordinator asks /status in the coordination group (answered by whoever polls)."""
    await w.client.send_text(w.coordinator, w.coordination, f"/status {marker}")


async def reference(admin_url: str, folder: Path) -> dict[str, Counter[str]]:
    async with world(admin_url, folder) as w:
        bot = Process("reference", w.env, folder / "reference.log")
        await bot.start()
        try:
            await until(lambda: _leads(bot))
            await status(w, "玛纳斯县")
            await status(w, "昌吉市")
            await until(lambda: _answered(w, 2))
            await until(lambda: quiet(w.url))
        finally:
            await bot.stop()
        return await received(w)


async def _leads(bot: Process) -> bool:
    return LEADS in bot.text()


async def _answered(w: World, n: int) -> bool:
    messages = await w.client.messages(w.coordination)
    return sum(1 for m in messages if m.from_bot and "📊" in m.body) >= n


async def one_run(admin_url: str, folder: Path, rng: random.Random,
                  expected: dict[str, Counter[str]], tally: Tally) -> int:
    """One run; returns the duplicates explained by the residual window."""
    async with world(admin_url, folder) as w:
        first = Process("first", w.env, folder / "first.log")
        second = Process("second", w.env, folder / "second.log")
        await first.start()
        await until(lambda: _leads(first))
        await second.start()
        await status(w, "玛纳斯县")
        await asyncio.sleep(rng.uniform(0.0, 2.0))  # the kill's moment: random by design
        first.kill()
        assert first.process is not None
        await first.process.wait()
        # The claims the dead process held expire after the lease: the shared file clock moves
        # on by it instead of waiting two minutes (what a real standby would do after that
        # time). Only the clock moves: the standby's own claims, held while it sends, are
        # skipped by its own dispatcher, as in production (releasing every claim in the
        # database let the standby send a row it was already sending).
        engine = create_engine(w.url)
        try:
            async with session_factory(engine)() as session:
                in_flight = await _in_flight(session, w)
        finally:
            await engine.dispose()
        FileClock(folder / "clock.json").advance(LEASE_GAP)
        await until(lambda: _leads(second))
        await status(w, "昌吉市")
        await until(lambda: _answered(w, 2))
        await until(lambda: quiet(w.url))
        code = await second.stop()
        got = await received(w)
        explained = 0
        for title in set(expected) | set(got):
            want, have = expected.get(title, Counter()), got.get(title, Counter())
            tally.lost += sum((want - have).values())
            extra = sum((have - want).values())
            for body in (want - have):
                print(f"  lost in {title}: {body[:160]!r}", file=sys.stderr)
            for body in (have - want):
                print(f"  extra in {title}: {body[:160]!r}", file=sys.stderr)
            take = min(extra, in_flight[title])
            explained += take
            tally.duplicated += extra - take
        logs = first.text() + second.text()
        leads_second_early = second.text().count(LEADS) != 1
        reasons = [why for why, bad in (
            (f"the standby exited with {code}", code not in (0, None)),
            ("a traceback in a log", "Traceback" in logs),
            ("two pollers (409 Conflict)", "another process is polling" in logs),
            ("the standby did not lead exactly once", leads_second_early)) if bad]
        if reasons:
            tally.crashed += 1
            print(f"  run crashed: {'; '.join(reasons)}", file=sys.stderr)
            for line in logs.splitlines():
                if "Error" in line or "Traceback" in line:
                    print(f"    {line[:200]}", file=sys.stderr)
        return explained


async def _in_flight(session: AsyncSession, w: World) -> Counter[str]:
    """Per chat (by title), what the killed process held claimed and had not recorded: its
    outbox rows claimed and unsent (a card being posted, a digest, an answer) and the updates
    it was handling. Each may have reached the chat before the kill and is done again after
    the claim is taken over: the residual window of docs/outbox.md, at most one repeat each.
    (Counted before the claims are let go; the attempts cannot tell: taking a claim over is
    not an attempt.)"""
    titles = {str(chat["id"]): str(chat["title"]) for chat in w.chats}
    chats: dict[tuple[str, str], str] = {}  # (recipient kind, recipient) -> chat id
    for binding in (await session.exec(select(ChatBinding))).all():
        chat = str(binding.chat_id)
        chats.setdefault(("department", binding.department_key or ""), chat)
        chats.setdefault(("region", binding.region_name or ""), chat)
        if binding.kind == "coordination":
            chats[("coordinators", "")] = chat
    found: Counter[str] = Counter()
    rows = await session.exec(select(Outbox.recipient_kind, Outbox.recipient).where(
        Outbox.sent_at.is_(None), Outbox.claimed_at.is_not(None)))  # type: ignore[union-attr]
    for kind, recipient in rows.all():
        chat = (recipient if recipient in titles
                else chats.get(("coordinators", "") if kind == "coordinators"
                               else (kind, recipient), ""))
        found[titles.get(chat, "")] += 1
    updates = await session.exec(select(InboxUpdate.payload).where(
        InboxUpdate.claimed_at.is_not(None)))  # type: ignore[union-attr]
    for payload in updates.all():
        message = payload.get("message") or (payload.get("callback_query") or {}).get(
            "message") or {}
        found[titles.get(str((message.get("chat") or {}).get("id")), "")] += 1
    return found


async def main(size: int, seed: int) -> int:
    admin_url = os.environ.get("DUBAN_TEST_POSTGRES_URL")
    if not admin_url:
        print("trial two_processes needs PostgreSQL: set DUBAN_TEST_POSTGRES_URL",
              file=sys.stderr)
        return 2
    rng = random.Random(seed)
    print(f"trial two_processes: seed {seed}", flush=True)
    tally = Tally("two_processes")
    residual = 0
    with tempfile.TemporaryDirectory(prefix="duban-two-") as tmp:
        (Path(tmp) / "ref").mkdir()
        expected = await reference(admin_url, Path(tmp) / "ref")
        print(f"  reference: {sum(sum(c.values()) for c in expected.values())} messages "
              f"in {len(expected)} chats", flush=True)
        for n in range(size):
            folder = Path(tmp) / f"run{n}"
            folder.mkdir()
            residual += await one_run(admin_url, folder, rng, expected, tally)
            tally.runs += 1
    print(f"  residual window (docs/outbox.md): {residual} repeated", flush=True)
    return report(tally)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int,
                        default=int(os.environ.get("DUBAN_TRIAL_SIZE", "2")))
    parser.add_argument("--seed", type=int, default=random.randrange(1 << 30))
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments.size, arguments.seed)))
