"""The audit: every case's events form a hash chain; check that no link was changed or removed.

Each event stores ``hash``, the SHA-256 of its canonical content, and ``prev_hash``, the hash
of the case's event before it; the case row keeps the head of the chain (``chain_seq``,
``chain_hash``: its last event's number and hash), written in the same transaction as the
event. The canonical content is defined in :mod:`models.chain`: one JSON object with sorted
keys and no spaces (ASCII), of every column of the event except ``id`` and ``hash``
(``case_id``, ``seq``, ``at`` in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, ``kind``,
``from_state``, ``to_state``, ``actor_id``, ``actor_name``, ``actor_role``,
``department_key``, ``chat_id``, ``payload`` as stored JSON with sorted keys), plus
``prev_hash`` and the version ``v`` = 1.

What :func:`verify` finds, walking a case's events in order (the first problem of a case is
reported; the rest of that case is counted, not judged):

* **content changed** (:attr:`Problem.CONTENT_CHANGED`): an event no longer hashes to its
  stored hash, or the case's last event is not the one its head recorded (replaced, hash and
  all);
* **link broken** (:attr:`Problem.LINK_BROKEN`): an event's ``prev_hash`` is not the hash of the
  event before it (that one was rewritten with a new hash, or the link itself was);
* **event missing** (:attr:`Problem.EVENT_MISSING`): a number is skipped (an event removed from
  the middle);
* **event added** (:attr:`Problem.EVENT_ADDED`): an event the case's head does not cover (put in
  outside duban: the triggers refuse UPDATE and DELETE, not INSERT);
* **last events removed** (:attr:`Problem.LAST_REMOVED`): the chain ends before the head the
  case keeps — a valid but shorter chain.

The events are read a page at a time (a keyset on case and number), each page one statement
that reads the events together with their case's head, so the check holds while the bot keeps
writing: events are only appended, and an event and the head that covers it are committed
together. What a hash chain cannot show: someone with write access to the database who
rewrites an event, every hash after it and the case's head alike, or removes a case with all
its events; keep the output of ``duban audit verify`` (or a backup) elsewhere to compare with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.i18n import N_, DubanError
from models import chain
from models.tables import Case, Event

PAGE = 1000

_CASES = Case.__table__  # type: ignore[attr-defined]
_EVENTS = Event.__table__  # type: ignore[attr-defined]
_CONTENT = [_EVENTS.c[name] for name in chain.FIELDS if name not in ("case_id", "seq")]


class Problem(StrEnum):
    CONTENT_CHANGED = "content_changed"
    LINK_BROKEN = "link_broken"
    EVENT_MISSING = "event_missing"
    EVENT_ADDED = "event_added"
    LAST_REMOVED = "last_removed"


@dataclass(frozen=True)
class Break:
    """The first broken link of one case.

    ``seq`` is the event concerned: the changed, unlinked or added one; the first missing
    number for :attr:`Problem.EVENT_MISSING` and :attr:`Problem.LAST_REMOVED` (``until`` the
    last one missing). ``at`` is that event's time; for a missing event the time of the next
    event kept (``kept``), for removed last events the time of the last event kept (``kept``;
    0 and no time when none is left); for an added event, ``kept`` is where the case's
    recorded chain ends.
    """

    ref: str
    problem: Problem
    seq: int
    at: datetime | None
    until: int | None = None
    kept: int | None = None


@dataclass(frozen=True)
class AuditReport:
    cases: int
    events: int
    #: the first break of each broken case, in the order of the cases
    breaks: tuple[Break, ...]

    @property
    def intact(self) -> bool:
        return not self.breaks

    @property
    def first(self) -> Break | None:
        return self.breaks[0] if self.breaks else None


@dataclass
class _Walk:
    """One case's chain, event by event."""

    ref: str
    head_seq: int
    head_hash: str | None
    seq: int = 0
    hash: str | None = None
    at: datetime | None = None
    found: Break | None = None
    events: int = field(default=0)

    def step(self, row: Any) -> None:
        self.events += 1
        if self.found is not None:
            return
        values = {name: getattr(row, name) for name in chain.FIELDS}
        seq, at = int(row.seq), row.at
        if chain.event_hash(values, row.prev_hash) != row.hash:
            self._break(Problem.CONTENT_CHANGED, seq, at)
        elif seq > self.seq + 1:
            self._break(Problem.EVENT_MISSING, self.seq + 1, at, until=seq - 1, kept=seq)
        elif seq <= self.seq:
            self._break(Problem.EVENT_ADDED, seq, at, kept=self.head_seq)
        elif row.prev_hash != self.hash:
            self._break(Problem.LINK_BROKEN, seq, at)
        elif seq > self.head_seq:
            self._break(Problem.EVENT_ADDED, seq, at, kept=self.head_seq)
        self.seq, self.hash, self.at = seq, row.hash, at

    def end(self) -> Break | None:
        if self.found is None:
            if self.head_seq > self.seq:
                self._break(Problem.LAST_REMOVED, self.seq + 1, self.at, until=self.head_seq,
                            kept=self.seq)
            elif self.seq and self.hash != self.head_hash:
                self._break(Problem.CONTENT_CHANGED, self.seq, self.at)
        return self.found

    def _break(self, problem: Problem, seq: int, at: datetime | None, *,
               until: int | None = None, kept: int | None = None) -> None:
        self.found = Break(self.ref, problem, seq, at, until, kept)


async def verify(sessions: async_sessionmaker[AsyncSession], *, ref: str | None = None,
                 page: int = PAGE) -> AuditReport:
    """Check the chain of every case (or of case ``ref``), ``page`` rows at a time."""
    case_id: int | None = None
    if ref is not None:
        async with sessions() as session:
            connection = await session.connection()
            case_id = (await connection.execute(
                select(_CASES.c.id).where(_CASES.c.ref == ref))).scalar_one_or_none()
        if case_id is None:
            raise DubanError(N_("No case with reference {ref}."), ref=ref)
    cases = events = 0
    breaks: list[Break] = []
    walk: _Walk | None = None
    walking: int | None = None
    after: tuple[int, int] | None = None
    while True:
        rows = await _page(sessions, after, case_id, page)
        for row in rows:
            if row.case_id != walking:
                if walk is not None:
                    cases, events = cases + 1, events + walk.events
                    if (found := walk.end()) is not None:
                        breaks.append(found)
                walking = row.case_id
                walk = _Walk(row.ref, int(row.chain_seq or 0), row.chain_hash)
            assert walk is not None
            walk.head_seq, walk.head_hash = int(row.chain_seq or 0), row.chain_hash
            if row.seq is not None:
                walk.step(row)
        if len(rows) < page:
            break
        after = (rows[-1].case_id, int(rows[-1].seq or 0))
    if walk is not None:
        cases, events = cases + 1, events + walk.events
        if (found := walk.end()) is not None:
            breaks.append(found)
    return AuditReport(cases, events, tuple(breaks))


async def _page(sessions: async_sessionmaker[AsyncSession], after: tuple[int, int] | None,
                case_id: int | None, size: int) -> Sequence[Any]:
    """One page of (case, its head, one of its events) in case and event order; a case with
    no event is one row with no event. One statement: the heads and the events agree."""
    query = (select(_CASES.c.id.label("case_id"), _CASES.c.ref, _CASES.c.chain_seq,
                    _CASES.c.chain_hash, _EVENTS.c.seq, _EVENTS.c.hash, _EVENTS.c.prev_hash,
                    *_CONTENT)
             .select_from(_CASES.outerjoin(_EVENTS, _EVENTS.c.case_id == _CASES.c.id))
             .order_by(_CASES.c.id, _EVENTS.c.seq).limit(size))
    if case_id is not None:
        query = query.where(_CASES.c.id == case_id)
    if after is not None:
        query = query.where(or_(_CASES.c.id > after[0],
                                and_(_CASES.c.id == after[0], _EVENTS.c.seq > after[1])))
    async with sessions() as session:
        connection = await session.connection()
        return (await connection.execute(query)).all()
