"""The outbox: messages to send are rows written in the same transaction as their cause.

A service that changes a case also queues the cards and notices it implies; a dispatcher in the
bot process sends them. So a case imported from the command line reaches the department's chat,
a restart loses nothing that was decided, and the same key is never queued twice.

The sending protocol (also in docs/outbox.md):

1. **claim**: one UPDATE marks a due row ``claimed_at = now`` unless another dispatcher holds an
   unexpired claim; commit.
2. **send** through the transport.
3. **record**: ``sent_at = now`` together with what the send produced (a card's message id);
   commit.

A crash after 1 leaves a claim that expires after ``CLAIM_LEASE``; the row is then sent again.
A crash between 2 and 3 therefore repeats that one message once; a crash anywhere else repeats
nothing and skips nothing.

An attempt whose outcome is unknown (its claim expired, or it ended in a timeout, a network
error or a 5xx) makes the row :attr:`Pending.uncertain`: the next send may be a repeat, and a
numbered notice says so (docs/outbox.md, "Unknown outcomes").
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Integer, bindparam, case, delete, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import transaction
from models.tables import Outbox

CLAIM_LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8
#: Sent rows are kept this long, then pruned (``OutboxStore.prune``).
KEEP_SENT = timedelta(days=30)
PRUNE_BATCH = 5000
#: How a row's ``error`` begins once an attempt may have been delivered without duban knowing.
UNKNOWN_OUTCOME = "outcome unknown: "


async def enqueue(session: AsyncSession, *, key: str, kind: str, recipient_kind: str,
                  recipient: str, now: datetime, payload: dict[str, Any] | None = None,
                  not_before: datetime | None = None,
                  claimed_at: datetime | None = None) -> bool:
    """Queue a message unless one with ``key`` exists; True when it was queued now.
    ``claimed_at``: queued already claimed (its writer sends it itself; see
    ``bot.services.answers``)."""
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    await session.flush()  # as the ORM's execution would, before the Core statement
    connection = await session.connection()
    result = await connection.execute(_ENQUEUE[dialect == "postgresql"], {
        "key": key, "kind": kind, "recipient_kind": recipient_kind, "recipient": recipient,
        "payload": payload or {}, "created_at": now, "not_before": not_before or now,
        "attempts": 0, "claimed_at": claimed_at})
    return bool(result.rowcount)


#: ``enqueue``'s statement (by "is PostgreSQL"), built once: every press queues a row.
_ENQUEUE = {postgres: (pg_insert if postgres else sqlite_insert)(Outbox)
            .on_conflict_do_nothing(index_elements=["key"]) for postgres in (False, True)}


async def enqueue_many(session: AsyncSession, rows: Sequence[dict[str, Any]],
                       now: datetime) -> None:
    """Queue many messages in one statement; keys already queued are skipped."""
    if not rows:
        return
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    values = [{"payload": {}, "created_at": now, "not_before": now, "attempts": 0,
               "claimed_at": None, **row} for row in rows]
    await session.flush()  # as the ORM's execution would, before the Core statement
    connection = await session.connection()  # Core: the ORM's bulk path costs ~0.3 ms a row
    await connection.execute(_ENQUEUE[dialect == "postgresql"], values)


class Kind(StrEnum):
    """What the dispatcher renders for a row."""

    CARD = "card"  # post a case's card to a department's or county's chat
    REFRESH = "refresh"  # edit every card of a case to its current state
    DELIVER = "deliver_cards"  # a chat was bound: post the cards waiting for it
    GROUP = "group_to_resolve"  # coordinators: name the departments for 相关部门
    HANDED_BACK = "handed_back"  # coordinators: a department says "not ours"
    EXTENSION = "extension_request"  # coordinators: approve or deny
    EXTENSION_DECIDED = "extension_decided"  # the department: the coordinators' answer
    REVIEW = "review"  # coordinators: a confirmed closing to close or send back (办结复核)
    SENT_BACK = "sent_back"  # the departments: the coordinators sent the work back, and why
    NO_CHAT = "no_chat"  # coordinators: a department has no bound chat
    BOT_REMOVED = "bot_removed"  # coordinators: the bot was removed from a bound chat
    TEXT = "text"  # a plain message (msgid + params) to a chat
    DIGEST = "digest"  # the calendar: every nudge and reminder for one chat, in one message
    NOTICE = "notice"  # a numbered notice (通报) with its .docx
    NOTICE_DRAFT = "notice_draft"  # coordinators: a round's 通报 to sign off, edit or hold
    SUMMONS = "summons"  # an interview summons (约谈), with RSVP buttons for the summoned
    ANSWER = "answer"  # the answer to an update, if its handler died before sending it
    TASK = "task"  # a task (督办任务): live for its owners, a report, a review, a decision
    DUTY_LETTER = "duty_letter"  # a department's confirmed 31 December letter, one file


#: Kinds whose sent rows may be pruned: their keys name something that never comes again (a
#: case version, an update, a sweep's instant, an event's number), so a pruned key can never be
#: queued a second time. The others' keys are the "once" of docs/outbox.md and stay: a card per
#: case and chat, "no chat" and "name the departments" once per case, a notice's or summons's
#: copy per recipient, a duty's confirmation once, a year-end letter's file per recipient.
PRUNABLE = frozenset({Kind.REFRESH, Kind.ANSWER, Kind.DIGEST, Kind.EXTENSION,
                      Kind.EXTENSION_DECIDED, Kind.HANDED_BACK, Kind.DELIVER, Kind.BOT_REMOVED,
                      Kind.REVIEW, Kind.SENT_BACK})


@dataclass(frozen=True)
class Pending:
    id: int
    key: str
    kind: str
    recipient_kind: str
    recipient: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime | None = None  # when the change that queued it happened
    #: An earlier attempt may have reached the chat: its claim ran out (the process died while
    #: sending) or it ended without a clear answer (timeout, network error, 5xx).
    uncertain: bool = False


def due_statement(now: datetime, limit: int = 100, skip: Collection[int] = ()) -> Any:
    """The dispatcher's query: unsent rows due now and not claimed within the lease.

    ``sent_at IS NULL`` is the condition of the partial index ``ix_outbox_unsent``
    (``models.tables``): among millions of sent rows the planner walks only the few unsent
    ones, in id order, whatever ANALYZE says about the table."""
    return _DUE[bool(skip)].params(_due_params(now, limit, skip))


def _due_select(skipping: bool) -> Any:
    table = Outbox.__table__  # type: ignore[attr-defined]
    statement = sa_select(table).where(
        table.c.sent_at.is_(None), table.c.not_before <= bindparam("now"),
        table.c.attempts < MAX_ATTEMPTS,
        or_(table.c.claimed_at.is_(None), table.c.claimed_at < bindparam("expired")))
    if skipping:
        statement = statement.where(table.c.id.not_in(bindparam("skip", expanding=True)))
    return statement.order_by(table.c.id).limit(bindparam("limit", type_=Integer))


def _due_params(now: datetime, limit: int, skip: Collection[int]) -> dict[str, Any]:
    return {"now": now, "expired": now - CLAIM_LEASE, "limit": limit,
            **({"skip": list(skip)} if skip else {})}


#: the dispatcher's query (by "skips rows"), built once: it runs after every press
_DUE = {skipping: _due_select(skipping) for skipping in (False, True)}


# The delivery's statements for each row, built once.
_CLAIM = (update(Outbox)
          .where(col(Outbox.id) == bindparam("row_id"), col(Outbox.sent_at).is_(None),
                 or_(col(Outbox.claimed_at).is_(None),
                     col(Outbox.claimed_at) < bindparam("expired")))
          .values(claimed_at=bindparam("now"), attempts=case(
              (col(Outbox.claimed_at).is_(None), Outbox.attempts + 1),
              else_=Outbox.attempts))
          .execution_options(synchronize_session=False))  # no row of it is held as an object
_DONE = (update(Outbox).where(col(Outbox.id) == bindparam("row_id"))
         .values(sent_at=bindparam("now"), error=bindparam("row_error"))
         .execution_options(synchronize_session=False))


@dataclass
class OutboxStore:
    sessions: async_sessionmaker[AsyncSession]

    async def due(self, now: datetime, limit: int = 100,
                  skip: Collection[int] = ()) -> list[Pending]:
        """Rows that may be sent now, oldest first (but for the ids in ``skip``)."""
        async with self.sessions() as session:
            connection = await session.connection()  # Core rows: no object is kept
            rows = await connection.execute(_DUE[bool(skip)], _due_params(now, limit, skip))
            return [Pending(r.id or 0, r.key, r.kind, r.recipient_kind, r.recipient,
                            dict(r.payload or {}), r.attempts, r.created_at,
                            uncertain=r.claimed_at is not None  # a claim that ran out
                            or (r.error or "").startswith(UNKNOWN_OUTCOME))
                    for r in rows.all()]

    async def claim(self, row: Pending, now: datetime) -> bool:
        """Take the row for sending. Taking over a claim that ran out (its process died) is
        not a new attempt: a message is never given up because the processes sending it were
        killed, only after ``MAX_ATTEMPTS`` sends that failed."""
        async with transaction(self.sessions) as session:
            result = await session.exec(_CLAIM, params={
                "row_id": row.id, "now": now, "expired": now - CLAIM_LEASE})
            return bool(result.rowcount)

    async def done(self, row: Pending, now: datetime, error: str | None = None,
                   session: AsyncSession | None = None) -> None:
        """Record the row as handled (sent, or given up with ``error``)."""
        params = {"row_id": row.id, "now": now, "row_error": error}
        if session is not None:
            await session.exec(_DONE, params=params)
            return
        async with transaction(self.sessions) as own:
            await own.exec(_DONE, params=params)

    async def failed(self, row: Pending, error: str, retry_at: datetime,
                     unknown: bool = False) -> None:
        """Release the claim so the row is tried again at ``retry_at``; ``unknown``: the
        attempt may have been delivered (the row stays uncertain from then on)."""
        if unknown or row.uncertain:
            error = UNKNOWN_OUTCOME + error.removeprefix(UNKNOWN_OUTCOME)
        async with transaction(self.sessions) as session:
            await session.exec(update(Outbox).where(col(Outbox.id) == row.id)
                               .values(claimed_at=None, not_before=retry_at, error=error))

    async def prune(self, now: datetime, keep: timedelta = KEEP_SENT,
                    batch: int = PRUNE_BATCH) -> int:
        """Delete rows sent (or given up) more than ``keep`` ago, of the :data:`PRUNABLE`
        kinds only, ``batch`` at a time, each batch its own short transaction (a sender is
        never held up for long). Unsent rows are never touched. Returns how many went."""
        old = (select(col(Outbox.id))
               .where(col(Outbox.sent_at).is_not(None), col(Outbox.sent_at) < now - keep,
                      col(Outbox.kind).in_(sorted(PRUNABLE)))
               .order_by(col(Outbox.sent_at)).limit(batch))
        total = 0
        while True:
            async with transaction(self.sessions) as session:
                result = await session.exec(delete(Outbox).where(
                    col(Outbox.id).in_(old.scalar_subquery())))
            total += int(result.rowcount or 0)
            if (result.rowcount or 0) < batch:
                return total

    async def pending_count(self) -> int:
        async with self.sessions() as session:
            rows = await session.exec(select(col(Outbox.id)).where(col(Outbox.sent_at).is_(None)))
            return len(rows.all())

    async def sent(self, keys: Sequence[str] | None = None) -> list[Outbox]:
        async with self.sessions() as session:
            statement = select(Outbox).where(col(Outbox.sent_at).is_not(None))
            if keys is not None:
                statement = statement.where(col(Outbox.key).in_(list(keys)))
            return list((await session.exec(statement.order_by(col(Outbox.id)))).all())
