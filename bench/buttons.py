"""Button presses through the whole stack, against a bare PTB application, on the same fake.

``python bench/buttons.py [--cases 100000] [--presses 2000] [--database URL]``

duban: a 受理 press on a case card → the authority check, the workflow transition, the event,
the outbox row, then the card edited in place by the delivery — with ``--cases`` cases stored.
Bare: a PTB Application with one CallbackQueryHandler that answers and replies.
Both talk to the same in-memory Bot API fake (tests/telegram_fakes.py), so the difference is
duban's own work. Prints updates per second, the ratio, and p50/p99 latency per update.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text
from telegram import Update
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, ContextTypes

from bot.app import build_application, build_deps
from bot.core.buttons import StepPress
from bot.core.casefile import CaseInput
from bot.core.clock import ManualClock
from bot.core.org import load_demo_org
from bot.core.policy.catalog import load_default_catalog
from bot.services.cases import Who
from bot.services.chats import BindTarget, ChatKind
from bot.services.deps import Deps
from bot.services.org import OrgService
from bot.settings import Settings
from handlers.delivery import Delivery
from models.db import create_engine, upgrade
from tests.telegram_fakes import RecordingRequest, Sent, Users

TOKEN = "123456:BENCH"
CHAT = -100777
LIAISON = (20002, "环保联络员")
COORDINATOR = Who(role="coordinator", name="bench", telegram_id=10001)


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def seed(deps: Deps, cases: int, presses: int) -> None:
    await OrgService(deps.sessions).load(load_demo_org())
    identity = await deps.chats.identify(CHAT, 10001, "bench")
    await deps.chats.bind(CHAT, "环保群", BindTarget(ChatKind.DEPARTMENT, department="environment"),
                          identity)
    regions = [r.name for r in load_demo_org().regions]
    batch: list[CaseInput] = []
    for i in range(cases):
        batch.append(CaseInput(
            ref=f"B-{i:07d}", region=regions[i % len(regions)], enterprise=f"企业{i}",
            industry="cement", clauses=("五",), capacity=None, unit=None, equipment=None,
            registered_on=date(2026, 1 + i % 10, 1 + i % 28), description="", row=i + 2))
        if len(batch) == 5000:
            await deps.cases.import_cases(batch, COORDINATOR)
            batch = []
    if batch:
        await deps.cases.import_cases(batch, COORDINATOR)
    # Cards already posted for the cases that will be pressed; the rest of the queue is done.
    async with deps.engine.begin() as connection:
        await connection.execute(text("UPDATE outbox SET sent_at = created_at"))
        await connection.execute(text(
            "INSERT INTO cards (case_id, chat_id, message_id, department_key, updated_at) "
            "SELECT id, :chat, 100000 + id, 'environment', created_at FROM cases "
            "WHERE id <= :n"), {"chat": CHAT, "n": presses})


async def duban_run(database: str, cases: int, presses: int) -> list[float]:
    clock = ManualClock(datetime(2026, 11, 30, 2, tzinfo=UTC))
    engine = create_engine(database)
    await upgrade(engine)
    # Test mode: Telegram's per-group pacing (one message every 3 s) is not what is measured.
    settings = Settings(telegram_bot_token=TOKEN, mode="test")
    deps = build_deps(settings, engine, clock, load_default_catalog())
    start = time.perf_counter()
    await seed(deps, cases, presses)
    print(f"seeded {cases} cases in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    fake = RecordingRequest()
    app = build_application(settings, deps, request=fake)
    app.bot._rate_limiter = None  # measure the processing, not Telegram's pacing
    await app.initialize()
    delivery = Delivery(app)
    users = Users()
    samples = []
    for case_id in range(1, presses + 1):
        data = deps.codec.pack(CHAT, StepPress(case_id, "五", "accept"))
        sent = Sent(CHAT, 100000 + case_id, "card", None, None)
        fake.messages[(CHAT, 100000 + case_id)] = sent
        update = Update.de_json(users.press(LIAISON, sent, data), app.bot)
        began = time.perf_counter()
        await app.process_update(update)
        await delivery.deliver_due()
        samples.append(time.perf_counter() - began)
    errors = [a for a in fake.alerts if a.get("show_alert")]
    assert not errors, errors[:3]
    edited = sum(1 for m in fake.messages.values() if len(m.history) > 0)
    assert edited >= presses, "every press edits its card"
    await app.shutdown()
    await engine.dispose()
    return samples


async def bare_run(presses: int) -> list[float]:
    fake = RecordingRequest()

    async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.message is not None
        await query.answer()
        await context.bot.send_message(query.message.chat.id, "ok")

    app = ApplicationBuilder().token(TOKEN).request(fake).get_updates_request(fake).build()
    app.add_handler(CallbackQueryHandler(reply))
    await app.initialize()
    users = Users()
    samples = []
    for i in range(presses):
        sent = Sent(CHAT, i + 1, "card", None, None)
        update = Update.de_json(users.press(LIAISON, sent, "x"), app.bot)
        began = time.perf_counter()
        await app.process_update(update)
        samples.append(time.perf_counter() - began)
    await app.shutdown()
    return samples


def report(name: str, samples: list[float]) -> float:
    rate = len(samples) / sum(samples)
    print(f"| {name} | {len(samples)} | {rate:,.0f} | {percentile(samples, 50) * 1000:.2f} | "
          f"{percentile(samples, 99) * 1000:.2f} |")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--presses", type=int, default=2_000)
    parser.add_argument("--database", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database = args.database or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        ours = asyncio.run(duban_run(database, args.cases, args.presses))
    bare = asyncio.run(bare_run(args.presses))
    print("| application | updates | updates/s | p50 ms | p99 ms |\n|---|---|---|---|---|")
    duban_rate = report(f"duban, {args.cases:,} cases stored", ours)
    bare_rate = report("bare PTB, one reply handler", bare)
    print(f"\nratio duban / bare: {duban_rate / bare_rate:.2f}")


if __name__ == "__main__":
    main()
