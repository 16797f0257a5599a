"""What delivery needs from the database: which cards a chat already shows, which cases wait
for a newly bound chat, who still has to act on a case, and how long a failed send waits.

The sending itself (Bot API calls, rendering) is ``handlers.delivery``; everything here is
plain data and transactions, so the rules can be tested without Telegram.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.routing import ACTIVE_STATUSES
from bot.services.cases import CaseView, open_states
from bot.services.chats import ChatKind
from bot.services.outbox import Kind, OutboxStore, Pending, enqueue
from models.db import transaction
from models.tables import Assignment, Card, Case, ChatBinding

#: A failed send waits 5 s, 10 s, 20 s … and at most this long before the next try.
MAX_BACKOFF = timedelta(minutes=5)
#: The cases a newly bound chat waits for, read this many at a time (memory flat in their
#: number: at 300,000 stored cases reading them all at once raised the start-up peak by ~70 MB).
WAITING_PAGE = 500


def retry_delay(attempts: int) -> timedelta:
    """How long a send that failed ``attempts`` times (timeout, network) waits to retry."""
    return min(MAX_BACKOFF, timedelta(seconds=5 * 2 ** max(0, attempts)))


def still_required(view: CaseView, department: str) -> bool:
    """``department`` must still act on the case (required and not yet done or handed back)."""
    return any(a.department_key == department and a.required and a.status in ACTIVE_STATUSES
               for a in view.assignments)


@dataclass(frozen=True)
class ShownCard:
    """A case's card as posted in one chat (edited in place when the case changes)."""

    chat_id: int
    message_id: int


@dataclass
class DeliveryStore:
    sessions: async_sessionmaker[AsyncSession]
    outbox: OutboxStore

    async def is_shown(self, case_id: int, chat_id: int) -> bool:
        async with self.sessions() as session:
            found = (await session.exec(select(col(Card.message_id)).where(
                col(Card.case_id) == case_id, col(Card.chat_id) == chat_id))).first()
        return found is not None

    async def card_at(self, chat_id: int, message_id: int) -> int | None:
        """The case whose card is message ``message_id`` of ``chat_id``, if it is one."""
        async with self.sessions() as session:
            return (await session.exec(select(col(Card.case_id)).where(
                col(Card.chat_id) == chat_id, col(Card.message_id) == message_id))).first()

    async def is_extra_copy(self, case_id: int, chat_id: int, message_id: int) -> bool:
        """Message ``message_id`` carries the case's buttons but the chat's card of the case is
        another message: a copy posted by an attempt whose outcome was unknown (its message id
        was never learnt), then posted again. Only the recorded card is kept current."""
        async with self.sessions() as session:
            shown = (await session.exec(_CARD_MESSAGE, params={
                "case_id": case_id, "chat_id": chat_id})).first()
        return shown is not None and shown != message_id

    async def record_card(self, case_id: int, binding: ChatBinding, message_id: int,
                          now: datetime, row: Pending | None = None) -> None:
        """The card was posted: remember its message (and finish its outbox row) at once."""
        async with transaction(self.sessions) as session:
            session.add(Card(case_id=case_id, chat_id=binding.chat_id, message_id=message_id,
                             department_key=binding.department_key,
                             region_name=binding.region_name, updated_at=now))
            if row is not None:
                await self.outbox.done(row, now, session=session)

    async def shown(self, case_id: int, departments_only: bool = False, *,
                    version: int | None = None) -> list[ShownCard]:
        """Every chat that shows the case's card (only departments' chats if asked);
        ``version``: none once the case has moved on from that version (a card edited to it
        would be out of date)."""
        statement, params = ((_SHOWN[departments_only], {"case_id": case_id}) if version is None
                             else (_SHOWN_AT, {"case_id": case_id, "version": version}))
        async with self.sessions() as session:
            rows = (await session.exec(statement, params=params)).all()
        return [ShownCard(chat_id, message_id) for chat_id, message_id in rows]

    async def waiting_for(self, binding: ChatBinding, *, after: int = 0,
                          limit: int | None = None) -> list[int]:
        """Ids of the open cases whose card the newly bound chat should show: at most ``limit``
        of them, those after case ``after`` in id order. A department's chat may wait for
        hundreds of thousands of cards, so the delivery reads them a page at a time (never all
        at once) and each page goes on from the last id of the one before (``limit``:
        :data:`WAITING_PAGE` unless given)."""
        statement = select(col(Case.id)).where(col(Case.state).in_(open_states()),
                                               col(Case.id) > after)
        if binding.kind == ChatKind.DEPARTMENT:
            # EXISTS, not IN: a page reads its rows through the indexes, where IN would
            # first gather every case of the department, on every page.
            statement = statement.where(select(col(Assignment.id)).where(
                col(Assignment.case_id) == col(Case.id),
                col(Assignment.department_key) == binding.department_key,
                col(Assignment.status).in_([s.value for s in ACTIVE_STATUSES] + ["informed"]))
                .exists())
        else:
            statement = statement.where(col(Case.region_name) == binding.region_name)
        shown = select(col(Card.id)).where(col(Card.case_id) == col(Case.id),
                                           col(Card.chat_id) == binding.chat_id).exists()
        async with self.sessions() as session:
            ids = (await session.exec(statement.where(~shown).order_by(col(Case.id))
                                      .limit(WAITING_PAGE if limit is None else limit))).all()
        return [case_id for case_id in ids if case_id is not None]

    async def warn_no_chat(self, case_id: int, department: str, now: datetime) -> None:
        """Tell the coordinators (once per case and department) that nobody can see a case
        routed to a department without a bound chat."""
        async with transaction(self.sessions) as session:
            await enqueue(session, key=f"nochat:{case_id}:{department}", kind=Kind.NO_CHAT,
                          recipient_kind="coordinators", recipient="*", now=now,
                          payload={"case_id": case_id, "department": department})


# Every press reads these (the pressed card, the cards to edit): built once.
_CARD_MESSAGE = select(col(Card.message_id)).where(col(Card.case_id) == bindparam("case_id"),
                                                   col(Card.chat_id) == bindparam("chat_id"))
_SHOWN = {departments_only: select(col(Card.chat_id), col(Card.message_id))
          .where(col(Card.case_id) == bindparam("case_id"),
                 *([col(Card.department_key).is_not(None)] if departments_only else []))
          .order_by(col(Card.chat_id)) for departments_only in (False, True)}
_SHOWN_AT = (select(col(Card.chat_id), col(Card.message_id))
             .join(Case, col(Case.id) == col(Card.case_id))
             .where(col(Card.case_id) == bindparam("case_id"),
                    col(Case.version) == bindparam("version"))
             .order_by(col(Card.chat_id)))
