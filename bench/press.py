"""A 受理 press through the whole stack, next to its two floors, in one run.

``python bench/press.py [--stored 100000 1000000] [--presses 2000] [--database URL]``

For each ``--stored`` size (cases written in bulk by ``bench/sweep.py``'s ``seed``, plus the
``--presses`` cases that are pressed, imported and with their cards posted):

* **duban**: the press as Telegram's update, through the inbox (``Intake.store``, as the webhook
  does before it answers 200), handled from there (``Intake.handle_waiting``: the claim, the
  guard, the authority check, the transition with its event and outbox row, the answer queued
  and sent), then the card edited in place by the delivery (``Delivery.deliver_due``).
* **durable floor** (``bench/floor.py``): bare PTB plus one durable transaction writing the
  rows a press writes, on the same database.
* **bare PTB**: one CallbackQueryHandler that answers and replies, no I/O.

All three talk to the same in-memory Bot API fake (``tests/telegram_fakes.py``) without the
rate limiter and see the same update stream (``Users.press``). Prints a Markdown table: updates
per second, p50 / p99 per update, and for duban the SQL statements, commits and (SQLite)
aiosqlite thread hand-offs per press.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import floor, sweep
from bench.buttons import CHAT, COORDINATOR, LIAISON, TOKEN, bare_run, percentile
from bench.trials.world import fresh_database
from bot.app import build_application, build_deps
from bot.core.buttons import StepPress
from bot.core.casefile import CaseInput
from bot.core.clock import ManualClock
from bot.core.org import load_demo_org
from bot.core.policy.catalog import load_default_catalog
from bot.services.chats import BindTarget, ChatKind
from bot.services.deps import Deps
from bot.settings import Settings
from handlers.delivery import Delivery
from handlers.intake import Intake
from models.db import create_engine, normalize_url
from models.tables import Case
from tests.telegram_fakes import RecordingRequest, Sent, Users

NOW = datetime(2026, 11, 30, 2, tzinfo=UTC)


@dataclass
class Counts:
    """SQL statements and commits seen by an engine, and aiosqlite's thread hand-offs."""

    statements: int = 0
    commits: int = 0
    hops: int = 0
    _installed: list[Any] = field(default_factory=list)

    def watch(self, engine: AsyncEngine) -> None:
        def on_execute(*_: Any) -> None:
            self.statements += 1

        def on_commit(*_: Any) -> None:
            self.commits += 1

        event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
        event.listen(engine.sync_engine, "commit", on_commit)

    @contextmanager
    def hops_counted(self) -> Iterator[None]:
        """Count every call aiosqlite hands to its connection thread."""
        import aiosqlite.core

        original = aiosqlite.core.Connection._execute

        async def counted(connection: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
            self.hops += 1
            return await original(connection, fn, *args, **kwargs)

        aiosqlite.core.Connection._execute = counted  # type: ignore[method-assign]
        try:
            yield
        finally:
            aiosqlite.core.Connection._execute = original  # type: ignore[method-assign]


async def seed_pressed(deps: Deps, presses: int) -> list[int]:
    """The cases that will be pressed: imported routed to 环保 (clause 五), their cards
    posted in the bound chat; everything queued before is sent. Returns their ids."""
    identity = await deps.chats.identify(CHAT, COORDINATOR.telegram_id or 0, "bench")
    await deps.chats.bind(CHAT, "环保群", BindTarget(ChatKind.DEPARTMENT,
                                                   department="environment"), identity)
    regions = [r.name for r in load_demo_org().regions]
    batch = [CaseInput(ref=f"P-{i:07d}", region=regions[i % len(regions)],
                       enterprise=f"按键企业{i}", industry="cement", clauses=("五",),
                       capacity=None, unit=None, equipment=None,
                       registered_on=date(2026, 1 + i % 10, 1 + i % 28), description="",
                       row=i + 2) for i in range(presses)]
    for start in range(0, presses, 5000):
        await deps.cases.import_cases(batch[start:start + 5000], COORDINATOR)
    async with deps.engine.begin() as connection:
        ids = list((await connection.execute(
            select(Case.id).where(Case.ref.like("P-%")).order_by(Case.id))).scalars())  # type: ignore[union-attr,attr-defined]
        await connection.execute(text("UPDATE outbox SET sent_at = created_at"))
        await connection.execute(text(
            "INSERT INTO cards (case_id, chat_id, message_id, department_key, updated_at) "
            "SELECT id, :chat, 100000 + id, 'environment', created_at FROM cases "
            "WHERE ref LIKE 'P-%'"), {"chat": CHAT})
        await connection.execute(text("ANALYZE"))
    return [int(i) for i in ids]


async def seed(url: str, stored: int, presses: int) -> list[int]:
    began = time.perf_counter()
    print(f"seeding {stored:,} stored cases …", file=sys.stderr, flush=True)
    await sweep.seed(url, stored, 0)
    if url.startswith("postgresql"):  # the bulk rows carry their ids: move the sequence on
        bulk = create_engine(url)
        async with bulk.begin() as connection:
            await connection.execute(text("SELECT setval(pg_get_serial_sequence('cases', "
                                          "'id'), (SELECT max(id) FROM cases))"))
        await bulk.dispose()
    print(f"  bulk rows in {time.perf_counter() - began:.0f} s; importing {presses:,} cases "
          "to press …", file=sys.stderr, flush=True)
    engine = create_engine(url)
    settings = Settings(telegram_bot_token=TOKEN, mode="test")
    deps = build_deps(settings, engine, ManualClock(NOW), load_default_catalog())
    ids = await seed_pressed(deps, presses)
    await engine.dispose()
    print(f"  seeded in {time.perf_counter() - began:.0f} s", file=sys.stderr, flush=True)
    return ids


@dataclass
class Run:
    samples: list[float]
    counts: Counts
    #: CPU seconds of the whole process (every thread) per press measured: what load on the
    #: machine changes least
    cpu: float = 0.0


async def duban_run(url: str, case_ids: list[int]) -> Run:
    """Every press as an update stored in the inbox, handled from there, its card edited."""
    engine = create_engine(url)
    # Test mode: Telegram's per-group pacing (one message every 3 s) is not what is measured.
    settings = Settings(telegram_bot_token=TOKEN, mode="test")
    deps = build_deps(settings, engine, ManualClock(NOW), load_default_catalog())
    fake = RecordingRequest()
    app = build_application(settings, deps, request=fake)
    app.bot._rate_limiter = None  # measure the processing, not Telegram's pacing
    await app.initialize()
    intake, delivery = Intake(app), Delivery(app)
    users = Users()
    counts = Counts()
    counts.watch(engine)
    samples = []
    warm = min(50, len(case_ids) // 10)
    cpu_began = time.process_time()
    with counts.hops_counted():
        for n, case_id in enumerate(case_ids):
            data = deps.codec.pack(CHAT, StepPress(case_id, "五", "accept"))
            sent = Sent(CHAT, 100000 + case_id, "card", None, None)
            fake.messages[(CHAT, 100000 + case_id)] = sent
            payload = users.press(LIAISON, sent, data)
            if n == warm:
                counts.statements = counts.commits = counts.hops = 0
                cpu_began = time.process_time()
            began = time.perf_counter()
            await intake.store([payload])
            await intake.handle_waiting()
            await delivery.deliver_due()
            samples.append(time.perf_counter() - began)
    cpu = (time.process_time() - cpu_began) / (len(case_ids) - warm)
    measured = len(case_ids) - warm
    counts.statements, counts.commits = counts.statements // measured, counts.commits // measured
    counts.hops //= measured
    errors = [a for a in fake.alerts if a.get("show_alert")]
    assert not errors, errors[:3]
    edited = sum(1 for m in fake.messages.values() if len(m.history) > 0)
    assert edited >= len(case_ids), f"every press edits its card ({edited})"
    await app.shutdown()
    await engine.dispose()
    return Run(samples[warm:], counts, cpu)


def row(name: str, samples: list[float], extra: str = "") -> float:
    rate = len(samples) / sum(samples)
    print(f"| {name} | {len(samples)} | {rate:,.0f} | {percentile(samples, 50) * 1000:.2f} | "
          f"{percentile(samples, 99) * 1000:.2f} | {extra} |", flush=True)
    return rate


async def measure(url: str, stored: int, presses: int) -> None:
    ids = await seed(url, stored, presses)
    ours = await duban_run(url, ids)
    durable = await floor.durable_run(url, presses, first_case=1)
    bare = await bare_run(presses)
    print(f"\n{stored:,} cases stored ({url.split(':', 1)[0]}):\n")
    print("| application | updates | updates/s | p50 ms | p99 ms | per press |")
    print("|---|---|---|---|---|---|")
    c = ours.counts
    hops = f", {c.hops} aiosqlite hand-offs" if url.startswith("sqlite") else ""
    duban_rate = row("duban, through the inbox", ours.samples,
                     f"{c.statements} statements, {c.commits} commits{hops}, "
                     f"{ours.cpu * 1000:.1f} ms CPU")
    floor_rate = row(f"durable floor ({floor.describe(url)})", durable,
                     f"{floor.STATEMENTS} statements, 1 commit")
    bare_rate = row("bare PTB, no I/O", bare, "")
    print(f"\nduban / durable floor: **{duban_rate / floor_rate:.2f}** (goal ≥ 0.5); "
          f"duban / bare PTB: {duban_rate / bare_rate:.3f}; "
          f"p99 {percentile(ours.samples, 99) * 1000:.1f} ms (goal ≤ 10 ms)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stored", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--presses", type=int, default=2_000)
    parser.add_argument("--database", default=None,
                        help="a PostgreSQL server's URL: each size gets a fresh database on "
                             "it (default: a SQLite file)")
    args = parser.parse_args()
    for stored in args.stored:
        asyncio.run(one_size(args.database, stored, args.presses))


async def one_size(admin_url: str | None, stored: int, presses: int) -> None:
    """Measure on a fresh database: a new one on the PostgreSQL server, or a SQLite file."""
    if admin_url:
        async with fresh_database(admin_url) as url:
            await measure(normalize_url(url), stored, presses)
        return
    with tempfile.TemporaryDirectory() as folder:
        await measure(f"sqlite+aiosqlite:///{Path(folder) / 'press.db'}", stored, presses)


if __name__ == "__main__":
    main()
