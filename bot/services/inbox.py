"""The inbox: updates from Telegram stored before Telegram is told they arrived.

Long polling moves the ``getUpdates`` offset past an update only after the update is stored
here; a webhook answers 200 only after it is stored. The bot then handles the rows in order;
the transaction that records an update as handled also deletes its row (``models.db``), so a
crash at any moment leaves every update either handled or still here, never neither:

1. **store**: insert the updates not handled before (a redelivery is skipped); commit.
2. **claim**: mark the oldest unclaimed rows (or rows whose claim is older than the lease, left
   by a process that died) ``claimed_at = now``; commit.
3. **handle**: the handlers' first commit also records the update as handled and deletes the
   row; a read-only update is recorded at the end.

An update whose handling kills the process again and again is given up after
``MAX_ATTEMPTS`` claims (recorded as handled, logged), so it cannot stop the bot forever.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import queries
from models.db import transaction
from models.tables import InboxUpdate, ProcessedUpdate

log = logging.getLogger(__name__)

#: a claim older than this belongs to a process that died; another takes the row over
CLAIM_LEASE = timedelta(minutes=1)
MAX_ATTEMPTS = 5


_HANDLED = select(col(ProcessedUpdate.update_id)).where(
    col(ProcessedUpdate.update_id).in_(bindparam("ids", expanding=True)))
_FREE = or_(col(InboxUpdate.claimed_at).is_(None),
            col(InboxUpdate.claimed_at) < bindparam("expired"))
#: ``claim``'s statement, built once (it runs for every update).
_CLAIM = (update(InboxUpdate)
          .where(col(InboxUpdate.update_id).in_(
              select(col(InboxUpdate.update_id)).where(_FREE)
              .order_by(col(InboxUpdate.update_id)).limit(bindparam("limit"))
              .scalar_subquery()), _FREE)
          .values(claimed_at=bindparam("now"), attempts=InboxUpdate.attempts + 1)
          .returning(col(InboxUpdate.update_id), col(InboxUpdate.payload),
                     col(InboxUpdate.attempts)))


@dataclass(frozen=True)
class Stored:
    update_id: int
    payload: dict[str, Any]
    attempts: int


@dataclass
class InboxStore:
    sessions: async_sessionmaker[AsyncSession]

    async def store(self, payloads: Sequence[dict[str, Any]], now: datetime) -> int:
        """Store updates (Telegram's JSON) in one transaction; ids already stored or handled
        are skipped. Returns how many are new."""
        wanted = {int(p["update_id"]): p for p in payloads}
        if not wanted:
            return 0
        async with transaction(self.sessions) as session:
            handled = set((await session.exec(_HANDLED, params={"ids": list(wanted)})).all())
            rows = [{"update_id": update_id, "payload": payload, "received_at": now,
                     "attempts": 0}
                    for update_id, payload in sorted(wanted.items()) if update_id not in handled]
            if not rows:
                return 0
            dialect = session.bind.dialect.name if session.bind else "sqlite"
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            result = await session.exec(insert(InboxUpdate).values(rows)
                                        .on_conflict_do_nothing(index_elements=["update_id"]))
            return int(result.rowcount or 0)

    async def claim(self, now: datetime, limit: int = 50) -> list[Stored]:
        """Claim the oldest rows nobody holds, in update order: one ``UPDATE … RETURNING``.

        Two processes claiming at once cannot both take a row: PostgreSQL re-checks the
        condition on a row another transaction has just claimed (and skips it), SQLite has one
        writer at a time."""
        async with transaction(self.sessions) as session:
            connection = await session.connection()  # Core: no ORM bookkeeping for this
            rows = (await connection.execute(_CLAIM, {
                "now": now, "expired": now - CLAIM_LEASE, "limit": limit})).all()
        return [Stored(update_id, dict(payload), attempts)
                for update_id, payload, attempts in sorted(rows, key=lambda r: r[0])]

    async def give_up(self, update_id: int, now: datetime) -> None:
        """Record an update that keeps failing as handled, so it stops coming back."""
        log.error("update %s given up after %d attempts", update_id, MAX_ATTEMPTS)
        async with transaction(self.sessions) as session:
            await queries.record_handled(session, update_id=update_id, at=now)

    async def release(self, update_id: int) -> None:
        """Let the row be claimed again at once (its handling could not finish)."""
        async with transaction(self.sessions) as session:
            await session.exec(update(InboxUpdate).where(
                col(InboxUpdate.update_id) == update_id).values(claimed_at=None))

    async def waiting(self) -> int:
        async with self.sessions() as session:
            return int((await session.exec(select(func.count()).select_from(InboxUpdate))).one())
