"""A round of nudges to 200 chats through the Bot API emulator, with Telegram's limits on.

``python bench/nudge_round.py [--chats 200]``

The emulator answers 429 with ``retry_after`` past 30 messages a second overall or 20 a
minute in one chat; the bot runs in production mode (PTB's AIORateLimiter with Telegram's
limits, retrying RetryAfter). One digest per chat is queued in the outbox and the delivery
sends them. Reported: every message delivered, how many 429s the emulator answered, and the
total time against the floor the overall limit allows (chats / 30 s).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import build_application, build_deps
from bot.core.clock import ManualClock
from bot.core.org import load_demo_org
from bot.core.policy.catalog import load_default_catalog
from bot.devtools.emulator.server import run_emulator
from bot.services.outbox import Kind, enqueue_many
from bot.settings import Settings
from handlers.delivery import Delivery
from models.db import create_engine, transaction, upgrade

TOKEN = "777777:NUDGE-ROUND"
PER_SECOND = 30


async def main(chats: int) -> None:
    async with run_emulator(TOKEN) as emulator:
        client = emulator.client
        await client.set_rate_limit(per_chat_per_minute=20, global_per_second=PER_SECOND)
        refusals = {"n": 0}
        check = emulator.state.limiter.check

        def counting(chat_id: int) -> None:
            try:
                check(chat_id)
            except Exception:
                refusals["n"] += 1
                raise

        emulator.state.limiter.check = counting  # type: ignore[method-assign]
        user = await client.create_user("联络员", id=20001)
        groups = [await client.create_group(f"群{i}", [user], chat_type="supergroup")
                  for i in range(chats)]
        with tempfile.TemporaryDirectory() as folder:
            engine = create_engine(f"sqlite+aiosqlite:///{Path(folder) / 'round.db'}")
            await upgrade(engine)
            settings = Settings(telegram_bot_token=TOKEN,
                                telegram_api_base_url=emulator.base_url)
            clock = ManualClock(datetime(2026, 12, 1, 2, tzinfo=UTC))
            deps = build_deps(settings, engine, clock, load_default_catalog())
            await deps.org_service.load(load_demo_org())
            async with transaction(deps.sessions) as session:
                await enqueue_many(session, [
                    {"key": f"round:{g.id}", "kind": Kind.TEXT, "recipient_kind": "chat",
                     "recipient": str(g.id),
                     "payload": {"message": "⏰ duban reminders for {date}:",
                                 "params": {"date": "2026-12-01"}}}
                    for g in groups], clock.now())
            app = build_application(settings, deps)
            await app.initialize()
            began = time.perf_counter()
            handled = await Delivery(app).deliver_due()
            elapsed = time.perf_counter() - began
            await app.shutdown()
            await engine.dispose()
        delivered = 0
        for group in groups:
            delivered += sum(1 for m in await client.messages(group) if m.from_bot)
        refused = refusals["n"]
    floor = chats / PER_SECOND
    print("| chats | delivered | rows handled | 429 answered | time | floor | time / floor |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {chats} | {delivered} | {handled} | {refused} | {elapsed:.2f} s | "
          f"{floor:.2f} s | {elapsed / floor:.2f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--chats", type=int, default=200)
    asyncio.run(main(parser.parse_args().chats))
