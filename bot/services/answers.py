"""The answer to an update, committed with the change it reports.

The first commit of an update's handling records the update as handled (``models.db``); the
handler answers the person after it. A crash in between used to leave the change made, the
update never handled again, and the person without a word: the case registered but no
"registered as CZ-2026-004", the photo taken but the next question never asked.

So a handler whose service call changes something runs it through :meth:`AnswerStore.run`:
the service's change, the update's record and an outbox row holding the answer (the message as
the handler rendered it) commit together. The row is claimed by this process from the start;
the handler sends the answer at once, as before, and then marks the row sent
(:meth:`AnswerStore.sent`). If the process dies before that, the claim expires
(``outbox.CLAIM_LEASE``) and the delivery task of whichever process runs then sends it
(``handlers.delivery``): the answer comes late, never not at all. As with every outbox row, a
crash between Telegram's reply and the record repeats it once (docs/outbox.md).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.clock import Clock
from bot.services.outbox import Kind, enqueue
from models.db import transaction, update_in_hand
from models.tables import Outbox

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Renders the answer to a service call's result: the outbox payload of the message (see
#: ``handlers.answers``), or None when there is nothing to answer.
Render = Callable[[T], Awaitable[dict[str, Any] | None]]


class _NothingToAnswer(Exception):
    """The service call had nothing to answer: it changed nothing either (rolled back)."""


def answer_key(update_id: int) -> str:
    return f"answer:{update_id}"


@dataclass
class AnswerStore:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    #: Updates whose answer this process queued and has not marked sent yet.
    _queued: set[int] = field(default_factory=set, repr=False)

    async def run(self, work: Awaitable[T], answer: Render[T], chat_id: int) -> T:
        """Await the service call ``work`` and queue ``answer(result)`` for ``chat_id``, in one
        unit of work (the service joins it); the update in hand is recorded in its commit.

        A result ``answer`` makes nothing of must come from a call that changed nothing: the
        unit of work is then rolled back, and the update is recorded when its handlers are
        done, as an update that changes nothing is. Outside an update's handling (the command
        line, tests of a service), ``work`` simply runs in the unit of work."""
        hand = update_in_hand()
        result: T
        try:
            async with transaction(self.sessions) as session:
                result = await work
                if hand is None:
                    return result
                payload = await answer(result)
                if payload is None:
                    raise _NothingToAnswer
                # Claimed by this process: the handler sends it; others only once the claim
                # has expired (this process died before marking it sent).
                now = self.clock.now()
                if await enqueue(session, key=answer_key(hand.update_id), kind=Kind.ANSWER,
                                 recipient_kind="chat", recipient=str(chat_id), now=now,
                                 payload=payload, claimed_at=now):
                    self._queued.add(hand.update_id)
        except _NothingToAnswer:
            pass
        return result

    async def sent(self, update_id: int) -> None:
        """The handler sent the answer to ``update_id``: the delivery must not send it again.

        Committed on its own session, not as a unit of work of the update: the update's
        change is already committed, and losing this record only repeats the answer."""
        if update_id not in self._queued:
            return
        self._queued.discard(update_id)
        async with self.sessions() as session:
            await session.exec(_SENT, params={"answer_key": answer_key(update_id),
                                              "now": self.clock.now()})
            await session.commit()


_SENT = (update(Outbox)
         .where(col(Outbox.key) == bindparam("answer_key"), col(Outbox.sent_at).is_(None))
         .values(sent_at=bindparam("now"))
         .execution_options(synchronize_session=False))  # built once: every press sends one
