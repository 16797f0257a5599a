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
the dead process had claimed and sent before it could record it, claimed again after the
lease), which are counted apart. *Crashed*: a process that died on its own, a traceback in a
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
from pathlib import Path

from sqlalchemy import func, select, update

from bench.trials.common import Tally, report
from bench.trials.world import LEADS, Process, World, fresh_database, quiet, received, until
from bench.trials.world import world as sandbox_world
from models.db import create_engine, session_factory
from models.tables import InboxUpdate, Outbox

TOKEN = "626262:TWO-PROCESSES"


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
        # The claims the dead process held expire after the lease: let it pass in the database
        # instead of waiting two minutes (what a real standby would do after that time).
        engine = create_engine(w.url)
        try:
            async with session_factory(engine)() as session:
                await session.exec(update(Outbox).where(
                    Outbox.sent_at.is_(None), Outbox.claimed_at.is_not(None))  # type: ignore[union-attr]
                    .values(claimed_at=None))
                await session.exec(update(InboxUpdate).where(
                    InboxUpdate.claimed_at.is_not(None))  # type: ignore[union-attr]
                    .values(claimed_at=None))
                await session.commit()
                retried = (await session.exec(select(func.count()).select_from(Outbox).where(
                    Outbox.attempts >= 2))).scalar() or 0
        finally:
            await engine.dispose()
        await until(lambda: _leads(second))
        await status(w, "昌吉市")
        await until(lambda: _answered(w, 2))
        await until(lambda: quiet(w.url))
        code = await second.stop()
        got = await received(w)
        residual_left = int(retried)
        explained = 0
        for title in set(expected) | set(got):
            want, have = expected.get(title, Counter()), got.get(title, Counter())
            tally.lost += sum((want - have).values())
            extra = sum((have - want).values())
            for body in (want - have):
                print(f"  lost in {title}: {body[:160]!r}", file=sys.stderr)
            for body in (have - want):
                print(f"  extra in {title}: {body[:160]!r}", file=sys.stderr)
            take = min(extra, residual_left)
            residual_left -= take
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
