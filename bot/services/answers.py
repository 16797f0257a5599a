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

A button's press does the same with the cards its step changes (``run(..., sends_cards=True)``):
their refresh row commits claimed with the step, the handler edits the cards from the view the
step holds (:meth:`AnswerStore.held_cards`) and marks it sent with the answer, in one commit;
a card it could not edit is given back to the delivery (:meth:`AnswerStore.give_back`,
:meth:`AnswerStore.release`), which edits it from the case as it is then.
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
from bot.services.cases import HeldCards
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
    #: The cards each update's handler is to edit (their rows claimed), and those it gave back.
    _held: dict[int, list[HeldCards]] = field(default_factory=dict, repr=False)
    _given_back: dict[int, list[str]] = field(default_factory=dict, repr=False)

    async def run(self, work: Awaitable[T], answer: Render[T], chat_id: int, *,
                  sends_cards: bool = False) -> T:
        """Await the service call ``work`` and queue ``answer(result)`` for ``chat_id``, in one
        unit of work (the service joins it); the update in hand is recorded in its commit.

        A result ``answer`` makes nothing of must come from a call that changed nothing: the
        unit of work is then rolled back, and the update is recorded when its handlers are
        done, as an update that changes nothing is. Outside an update's handling (the command
        line, tests of a service), ``work`` simply runs in the unit of work.

        ``sends_cards``: the handler edits the cards the step refreshes itself (see
        :meth:`held_cards`)."""
        hand = update_in_hand()
        result: T
        try:
            async with transaction(self.sessions) as session:
                if hand is not None:
                    hand.sends_cards = sends_cards
                try:
                    result = await work
                finally:
                    if hand is not None:
                        hand.sends_cards = False
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
        if hand is not None and hand.held:  # committed: the handler's to edit
            self._held.setdefault(hand.update_id, []).extend(hand.held)
            hand.held.clear()
        return result

    def held_cards(self, update_id: int) -> list[HeldCards]:
        """The cards the handling of ``update_id`` is to edit, each to the view its step
        committed."""
        return list(self._held.get(update_id, ()))

    def give_back(self, update_id: int, key: str) -> None:
        """The handler did not edit the cards of the held row ``key`` (the case moved on, or
        Telegram could not be reached): :meth:`sent` leaves it to the delivery."""
        self._given_back.setdefault(update_id, []).append(key)

    async def sent(self, update_id: int) -> None:
        """The handler sent the answer to ``update_id`` and edited the cards it held: the
        delivery must not send them again (those given back it sends).

        Committed on its own session, not as a unit of work of the update: the update's
        change is already committed, and losing this record only repeats the answer."""
        given_back = self._given_back.pop(update_id, [])
        keys = [held.key for held in self._held.pop(update_id, ()) if held.key not in given_back]
        if update_id in self._queued:
            self._queued.discard(update_id)
            keys.append(answer_key(update_id))
        if not keys and not given_back:
            return
        async with self.sessions() as session:
            if keys:  # the answer and the cards edited: one commit
                await session.exec(_SENT, params={"keys": keys, "now": self.clock.now()})
            if given_back:
                await session.exec(_GIVE_BACK, params={"keys": given_back})
            await session.commit()

    async def release(self, update_id: int) -> bool:
        """The handling of ``update_id`` is over: the rows it held and did not mark sent (the
        handler failed before) go back to the delivery at once rather than when their claim
        expires. True when there were any (the delivery should look now)."""
        keys = [held.key for held in self._held.pop(update_id, ())]
        keys += self._given_back.pop(update_id, [])
        if not keys:
            return False
        async with self.sessions() as session:
            await session.exec(_GIVE_BACK, params={"keys": keys})
            await session.commit()
        return True


_SENT = (update(Outbox)  # built once: every press marks its answer and its cards sent
         .where(col(Outbox.key).in_(bindparam("keys", expanding=True)),
                col(Outbox.sent_at).is_(None))
         .values(sent_at=bindparam("now"))
         .execution_options(synchronize_session=False))
_GIVE_BACK = (update(Outbox)
              .where(col(Outbox.key).in_(bindparam("keys", expanding=True)),
                     col(Outbox.sent_at).is_(None))
              .values(claimed_at=None)
              .execution_options(synchronize_session=False))
