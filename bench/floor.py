"""The floors a press is measured against: bare PTB with one durable write, and with none.

``python bench/floor.py [--presses 2000] [--database URL]``

* **Durable floor**: a bare PTB Application whose one CallbackQueryHandler writes, in **one
  durable transaction**, the rows a 受理 press writes now — the inbox row (stored and taken
  out again), ``processed_updates``, the case (state, version, chain head), its assignment, the
  event, the card refresh and the answer as outbox rows (recorded sent) — after reading the
  case; then answers the query and edits the card. On SQLite through the standard ``sqlite3``
  module on the event loop's thread (no thread hand-off; WAL, ``synchronous=FULL``: each commit
  is on disk), on PostgreSQL through one asyncpg connection.
* **Bare PTB**: the same Application answering and replying, without any I/O
  (``bench/buttons.py``'s ``bare_run``).

The update stream is ``bench/buttons.py``'s: ``Users.press`` on a posted card. Alone, this
script writes into a fresh database of its own; ``bench/press.py`` runs the durable floor on
the database the press was measured on, in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.engine import make_url
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, ContextTypes

from bench.buttons import CHAT, LIAISON, TOKEN, bare_run, percentile
from tests.telegram_fakes import RecordingRequest, Sent, Users

__all__ = ["STATEMENTS", "bare_run", "describe", "durable_run"]

NOW = datetime(2026, 11, 30, 2, tzinfo=UTC)
FIRST_UPDATE = 500_000_000  # above any update id a press run used
CARD = ("【受理】CZ-2026-000001 某某水泥有限公司\n县区：示范县　条款：五\n状态：已受理\n"
        "责任部门：生态环境局（已受理）\n期限：2027-01-15")
KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("整改完成", callback_data="x" * 40),
                                  InlineKeyboardButton("非本部门职责", callback_data="y" * 40)]])

#: One press's transaction, in order (``?`` placeholders; numbered for asyncpg).
TRANSACTION: tuple[str, ...] = (
    "INSERT INTO inbox (update_id, payload, received_at, attempts) VALUES (?, ?, ?, 0)",
    "SELECT id, state, version, chain_seq, chain_hash FROM cases WHERE id = ?",
    "UPDATE assignments SET status = 'accepted' WHERE case_id = ? AND department_key = ?",
    "UPDATE cases SET state = 'accepted', version = version + 1, updated_at = ?, "
    "chain_seq = chain_seq + 1, chain_hash = ? WHERE id = ? AND version = ?",
    "INSERT INTO events (case_id, seq, at, kind, from_state, to_state, actor_id, actor_name, "
    "actor_role, department_key, chat_id, payload, hash, prev_hash) "
    "VALUES (?, ?, ?, 'accept', 'routed', 'accepted', ?, ?, 'liaison', 'environment', ?, "
    "'{}', ?, ?)",
    "INSERT INTO outbox (key, kind, recipient_kind, recipient, payload, created_at, "
    "not_before, sent_at, attempts) VALUES (?, 'refresh', 'case', ?, ?, ?, ?, ?, 1)",
    "INSERT INTO outbox (key, kind, recipient_kind, recipient, payload, created_at, "
    "not_before, claimed_at, sent_at, attempts) VALUES (?, 'answer', 'chat', ?, ?, ?, ?, ?, "
    "?, 0)",
    "INSERT INTO processed_updates (update_id, processed_at) VALUES (?, ?)",
    "DELETE FROM inbox WHERE update_id = ?",
)
STATEMENTS = len(TRANSACTION)

#: Writes one press: (update id, case id, the update's JSON) -> done.
Writer = Callable[[int, int, dict[str, Any]], Awaitable[None]]


def _parameters(update_id: int, case_id: int, payload: dict[str, Any], at: Any,
                found: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The parameters of TRANSACTION's statements after the first two."""
    _, _, version, seq, head = found
    digest = f"{update_id:064x}"
    answer = json.dumps({"text": "已完成", "reply_to": 100000 + case_id}, ensure_ascii=False)
    return [
        (case_id, "environment"),
        (at, digest, case_id, version),
        (case_id, seq + 1, at, LIAISON[0], LIAISON[1], CHAT, digest, head),
        (f"floor-refresh:{case_id}:{update_id}", str(case_id),
         json.dumps({"case_id": case_id}), at, at, at),
        (f"floor-answer:{update_id}", str(CHAT), answer, at, at, at, at),
        (update_id, at),
        (update_id,),
    ]


def sqlite_writer(path: str) -> tuple[Writer, Callable[[], None]]:
    """The floor's transaction through ``sqlite3`` on the loop's thread; a durable commit."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    at = NOW.replace(tzinfo=None).isoformat(sep=" ")

    async def write(update_id: int, case_id: int, payload: dict[str, Any]) -> None:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(TRANSACTION[0], (update_id, json.dumps(payload), at))
        found = connection.execute(TRANSACTION[1], (case_id,)).fetchone()
        for statement, values in zip(TRANSACTION[2:], _parameters(
                update_id, case_id, payload, at, found), strict=True):
            connection.execute(statement, values)
        connection.execute("COMMIT")

    return write, connection.close


async def postgres_writer(url: str) -> tuple[Writer, Callable[[], Awaitable[None]]]:
    """The floor's transaction through one asyncpg connection (``synchronous_commit`` as the
    server has it: on by default, a durable commit)."""
    import asyncpg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    numbered = [_numbered(statement) for statement in TRANSACTION]

    async def write(update_id: int, case_id: int, payload: dict[str, Any]) -> None:
        async with connection.transaction():
            await connection.execute(numbered[0], update_id, json.dumps(payload), NOW)
            found = await connection.fetchrow(numbered[1], case_id)
            for statement, values in zip(numbered[2:], _parameters(
                    update_id, case_id, payload, NOW, tuple(found)), strict=True):
                await connection.execute(statement, *values)

    return write, connection.close


def _numbered(statement: str) -> str:
    count = iter(range(1, 100))
    return re.sub(r"\?", lambda _: f"${next(count)}", statement)


def describe(url: str) -> str:
    return ("asyncpg, one transaction" if url.startswith("postgresql")
            else "sqlite3 on the loop thread, one transaction")


async def _press_run(write: Writer, presses: int, first_case: int) -> list[float]:
    fake = RecordingRequest()
    cases: dict[int, int] = {}

    async def press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.message is not None
        await write(update.update_id, cases[update.update_id], update.to_dict())
        await query.answer("已完成")
        await query.edit_message_text(CARD, reply_markup=KEYBOARD)

    app = ApplicationBuilder().token(TOKEN).request(fake).get_updates_request(fake).build()
    app.add_handler(CallbackQueryHandler(press))
    await app.initialize()
    users = Users(update_ids=itertools.count(FIRST_UPDATE))
    samples = []
    for i in range(presses):
        case_id = first_case + i
        sent = Sent(CHAT, 100000 + case_id, "card", None, None)
        fake.messages[(CHAT, 100000 + case_id)] = sent
        payload = users.press(LIAISON, sent, "x" * 60)
        cases[payload["update_id"]] = case_id
        update = Update.de_json(payload, app.bot)
        began = time.perf_counter()
        await app.process_update(update)
        samples.append(time.perf_counter() - began)
    await app.shutdown()
    assert len(fake.alerts) == presses
    return samples


async def durable_run(url: str, presses: int, first_case: int = 1) -> list[float]:
    """The durable floor on the database at ``url`` (its cases ``first_case`` … pressed)."""
    if url.startswith("postgresql"):
        write, close = await postgres_writer(url)
        try:
            return await _press_run(write, presses, first_case)
        finally:
            await close()
    path = make_url(url).database
    assert path, url
    sync_write, sync_close = sqlite_writer(path)
    try:
        return await _press_run(sync_write, presses, first_case)
    finally:
        sync_close()


async def _standalone(url: str, presses: int) -> list[float]:
    from bench import sweep

    await sweep.seed(url, presses, 0)
    return await durable_run(url, presses)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--presses", type=int, default=2_000)
    parser.add_argument("--database", default=None,
                        help="an empty PostgreSQL database's URL (default: a SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database or f"sqlite+aiosqlite:///{Path(folder) / 'floor.db'}"
        durable = asyncio.run(_standalone(url, args.presses))
    bare = asyncio.run(bare_run(args.presses))
    print("| application | updates | updates/s | p50 ms | p99 ms |\n|---|---|---|---|---|")
    for name, samples in ((f"durable floor ({describe(url)})", durable),
                          ("bare PTB, no I/O", bare)):
        print(f"| {name} | {len(samples)} | {len(samples) / sum(samples):,.0f} | "
              f"{percentile(samples, 50) * 1000:.2f} | {percentile(samples, 99) * 1000:.2f} |")


if __name__ == "__main__":
    main()
