"""Delivery: sends what the outbox holds (cards, card edits, notices) through the Bot API.

Runs as one task in the bot process; woken at once when a handler queues something, and every
few seconds for rows queued by other processes (the command line) or due later. The protocol
(claim, send, record) is in ``bot.services.outbox``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlmodel import col, select
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.app import Deps, DubanApplication
from bot.core.clock import local_today
from bot.core.i18n import get_translator
from bot.core.routing import ACTIVE_STATUSES
from bot.render import calendar_texts, cards, texts
from bot.render.cards import CardContext, Reply
from bot.services.cases import CaseView, open_states
from bot.services.chats import BindTarget, ChatKind
from bot.services.outbox import Kind, Pending, enqueue
from handlers.sending import edit, send
from models.db import transaction
from models.tables import Assignment, Card, Case, ChatBinding

log = logging.getLogger(__name__)
POLL_SECONDS = 2.0
BATCH = 100
_TASK = "duban.delivery"


class Undeliverable(Exception):
    """The row cannot be delivered (no chat, bot blocked); recorded, not retried."""


def start_delivery(application: DubanApplication) -> None:
    delivery = Delivery(application)
    # post_init runs before the application counts as running, so the task is created on the
    # loop directly (PTB would warn) and cancelled in stop_delivery.
    application.bot_data[_TASK] = asyncio.get_running_loop().create_task(delivery.run(),
                                                                         name=_TASK)


async def stop_delivery(application: DubanApplication) -> None:
    task = application.bot_data.pop(_TASK, None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Delivery:
    def __init__(self, application: DubanApplication) -> None:
        self.application = application
        self.deps: Deps = application.deps

    async def run(self) -> None:
        while True:
            try:
                await self.deliver_due()
            except Exception:  # keep delivering; the row stays queued
                log.exception("delivery round failed")
            self.deps.wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.deps.wakeup.wait(), POLL_SECONDS)

    async def deliver_due(self) -> int:
        """Send every due row once; returns how many were handled."""
        handled = 0
        while rows := await self.deps.outbox.due(self.deps.clock.now(), limit=BATCH):
            progressed = False
            for row in rows:
                if not await self.deps.outbox.claim(row, self.deps.clock.now()):
                    continue
                progressed = True
                handled += 1
                await self._deliver(row)
            if not progressed or len(rows) < BATCH:
                break
        return handled

    async def _deliver(self, row: Pending) -> None:
        now = self.deps.clock.now()
        route = _ROUTES.get(row.kind)
        if route is None:
            await self.deps.outbox.done(row, now, error=f"unknown kind {row.kind}")
            return
        try:
            await route(self, row)
        except RetryAfter as error:
            retry = error.retry_after
            seconds = retry.total_seconds() if isinstance(retry, timedelta) else float(retry)
            await self.deps.outbox.failed(row, "retry after", now + timedelta(seconds=seconds))
        except BadRequest as error:  # the request itself is wrong: retrying will not help
            log.warning("outbox %s refused: %s", row.key, error)
            await self.deps.outbox.done(row, now, error=str(error)[:500])
        except (TimedOut, NetworkError) as error:
            backoff = timedelta(seconds=min(300, 5 * 2 ** row.attempts))
            await self.deps.outbox.failed(row, str(error)[:500], now + backoff)
        except (Undeliverable, Forbidden) as error:
            await self.deps.outbox.done(row, now, error=str(error)[:500] or "undeliverable")
        else:
            if row.kind != Kind.CARD:  # cards record themselves with their message id
                await self.deps.outbox.done(row, now)

    # -- rendering helpers ------------------------------------------------------------------

    async def _context(self, chat_id: int, department: str | None = None) -> CardContext:
        org = await self.deps.org()
        locale = await self.deps.chats.locale_for(chat_id)
        return CardContext(chat_id=chat_id, tr=get_translator(locale),
                           aliases=org.alias_table(), tz=self.deps.settings.tz,
                           codec=self.deps.codec, today=local_today(self.deps.clock),
                           department=department)

    async def _card_reply(self, view: CaseView, binding: ChatBinding) -> Reply:
        ctx = await self._context(binding.chat_id, binding.department_key
                                  if binding.kind == ChatKind.DEPARTMENT else None)
        return cards.card(view, ctx)

    async def _coordinator_chats(self) -> list[int]:
        chat = await self.deps.chats.chat_for(kind=ChatKind.COORDINATION)
        if chat is not None:
            return [chat]
        return await self.deps.chats.coordinator_ids()  # their private chats

    async def _to_coordinators(self, build: Any) -> None:
        """Send to the coordination group, or else to each coordinator privately."""
        delivered = False
        for chat_id in await self._coordinator_chats():
            try:
                await send(self.application.bot, chat_id, await build(chat_id))
                delivered = True
            except Forbidden:
                log.info("coordinator chat %s cannot be reached", chat_id)
        if not delivered:
            raise Undeliverable("no coordinator chat can be reached")

    # -- kinds ------------------------------------------------------------------------------

    async def card(self, row: Pending) -> None:
        view = await self.deps.cases.get_by_id(int(row.payload["case_id"]))
        kind = ChatKind.DEPARTMENT if row.recipient_kind == "department" else ChatKind.REGION
        chat_id = await self.deps.chats.chat_for(kind=kind, key=row.recipient)
        if chat_id is None:
            if kind is ChatKind.DEPARTMENT and _required(view, row.recipient):
                async with transaction(self.deps.sessions) as session:
                    await enqueue(session, key=f"nochat:{view.case.id}:{row.recipient}",
                                  kind=Kind.NO_CHAT, recipient_kind="coordinators",
                                  recipient="*", now=self.deps.clock.now(),
                                  payload={"case_id": view.case.id,
                                           "department": row.recipient})
                self.deps.wakeup.set()
            await self.deps.outbox.done(row, self.deps.clock.now(), error="no bound chat")
            return
        binding = await self.deps.chats.binding(chat_id)
        assert binding is not None
        await self._post_card(view, binding, row)

    async def _post_card(self, view: CaseView, binding: ChatBinding,
                         row: Pending | None = None) -> None:
        async with self.deps.sessions() as session:
            existing = (await session.exec(select(Card).where(
                col(Card.case_id) == view.case.id, col(Card.chat_id) == binding.chat_id))
            ).one_or_none()
        if existing is not None:  # already shown (refresh rows keep it current)
            if row is not None:
                await self.deps.outbox.done(row, self.deps.clock.now())
            return
        reply = await self._card_reply(view, binding)
        message = await send(self.application.bot, binding.chat_id, reply)
        now = self.deps.clock.now()
        async with transaction(self.deps.sessions) as session:
            session.add(Card(case_id=view.case.id or 0, chat_id=binding.chat_id,
                             message_id=message.message_id,
                             department_key=binding.department_key,
                             region_name=binding.region_name, updated_at=now))
            if row is not None:
                await self.deps.outbox.done(row, now, session=session)

    async def refresh(self, row: Pending) -> None:
        view = await self.deps.cases.get_by_id(int(row.payload["case_id"]))
        async with self.deps.sessions() as session:
            shown = (await session.exec(select(Card).where(
                col(Card.case_id) == view.case.id))).all()
        for card in shown:
            binding = await self.deps.chats.binding(card.chat_id)
            if binding is None:
                continue
            await edit(self.application.bot, card.chat_id, card.message_id,
                       await self._card_reply(view, binding))

    async def deliver_cards(self, row: Pending) -> None:
        """A chat was bound: post the cards of the open cases that wait for it."""
        binding = await self.deps.chats.binding(int(row.recipient))
        if binding is None:
            raise Undeliverable("chat no longer bound")
        async with self.deps.sessions() as session:
            statement = select(Case).where(col(Case.state).in_(open_states()))
            if binding.kind == ChatKind.DEPARTMENT:
                statement = statement.where(col(Case.id).in_(select(
                    col(Assignment.case_id)).where(
                        col(Assignment.department_key) == binding.department_key,
                        col(Assignment.status).in_(
                            [s.value for s in ACTIVE_STATUSES] + ["informed"]))))
            else:
                statement = statement.where(col(Case.region_name) == binding.region_name)
            shown = select(col(Card.case_id)).where(col(Card.chat_id) == binding.chat_id)
            waiting = (await session.exec(statement.where(col(Case.id).not_in(shown))
                                          .order_by(col(Case.id)))).all()
        for case in waiting:
            await self._post_card(await self.deps.cases.get(case.ref), binding)

    async def group_to_resolve(self, row: Pending) -> None:
        view = await self.deps.cases.get_by_id(int(row.payload["case_id"]))

        async def build(chat_id: int) -> Reply:
            ctx = await self._context(chat_id)
            text = ctx.tr.gettext(texts.GROUP_WARNING, ref=view.case.ref,
                                  enterprise=view.case.enterprise,
                                  region=view.case.region_name, group=row.payload["group"])
            return Reply(text, cards.reroute_buttons(ctx, view.case.id or 0, ()))

        await self._to_coordinators(build)

    async def handed_back(self, row: Pending) -> None:
        view = await self.deps.cases.get_by_id(int(row.payload["case_id"]))
        department = str(row.payload["department"])

        async def build(chat_id: int) -> Reply:
            ctx = await self._context(chat_id)
            text = ctx.tr.gettext(texts.HANDED_BACK_NOTICE, ref=view.case.ref,
                                  enterprise=view.case.enterprise,
                                  department=ctx.aliases.name(department, ctx.tr.locale),
                                  reason=row.payload.get("reason", ""))
            return Reply(text, cards.reroute_buttons(ctx, view.case.id or 0, (department,)))

        await self._to_coordinators(build)

    async def extension_request(self, row: Pending) -> None:
        view = await self.deps.cases.get_by_id(int(row.payload["case_id"]))

        async def build(chat_id: int) -> Reply:
            ctx = await self._context(chat_id)
            text = ctx.tr.gettext(
                texts.EXTENSION_NOTICE, ref=view.case.ref, enterprise=view.case.enterprise,
                department=ctx.aliases.name(str(row.payload["department"]), ctx.tr.locale),
                months=row.payload.get("months"), reason=row.payload.get("reason", ""),
                deadline=texts.fmt_date(view.case.deadline, ctx.tr))
            return Reply(text, cards.extension_buttons(ctx, view.case.id or 0))

        await self._to_coordinators(build)

    async def extension_decided(self, row: Pending) -> None:
        view = await self.deps.cases.get_by_id(int(row.payload["case_id"]))
        async with self.deps.sessions() as session:
            chats = (await session.exec(select(col(Card.chat_id)).where(
                col(Card.case_id) == view.case.id, col(Card.department_key).is_not(None)))).all()
        for chat_id in chats:
            ctx = await self._context(chat_id)
            if row.payload.get("approved"):
                text = ctx.tr.gettext(texts.EXTENSION_APPROVED, ref=view.case.ref,
                                      deadline=texts.fmt_date(view.case.deadline, ctx.tr))
            else:
                text = ctx.tr.gettext(texts.EXTENSION_DENIED, ref=view.case.ref,
                                      reason=row.payload.get("reason") or "")
            await send(self.application.bot, chat_id, Reply(text))

    async def no_chat(self, row: Pending) -> None:
        view = await self.deps.cases.get_by_id(int(row.payload["case_id"]))
        department = str(row.payload["department"])

        async def build(chat_id: int) -> Reply:
            ctx = await self._context(chat_id)
            return Reply(ctx.tr.gettext(texts.NO_CHAT_WARNING, ref=view.case.ref,
                                        department=ctx.aliases.name(department,
                                                                    ctx.tr.locale)))

        await self._to_coordinators(build)

    async def bot_removed(self, row: Pending) -> None:
        org = await self.deps.org()
        target = BindTarget(ChatKind(str(row.payload["kind"])),
                            department=row.payload.get("department"),
                            region=row.payload.get("region")).label(org)

        async def build(chat_id: int) -> Reply:
            ctx = await self._context(chat_id)
            return Reply(ctx.tr.gettext(texts.BOT_REMOVED_NOTICE,
                                        title=row.payload.get("title") or "?", target=target))

        await self._to_coordinators(build)

    async def _party_chat(self, kind: str, name: str) -> int:
        chat_kind = ChatKind.DEPARTMENT if kind == "department" else ChatKind.REGION
        chat_id = await self.deps.chats.chat_for(kind=chat_kind, key=name)
        if chat_id is None:
            raise Undeliverable(f"no bound chat for {kind} {name}")
        return chat_id

    async def _party_name(self, kind: str, name: str) -> str:
        if kind != "department":
            return name
        org = await self.deps.org()
        found = org.department(name)
        return found.name if found else name

    async def digest(self, row: Pending) -> None:
        entries = list(row.payload.get("items", []))
        refs = sorted({ref for e in entries for ref in e.get("case_refs") or []})
        enterprises = {c.ref: c.enterprise for c in await self.deps.cases.find_refs(refs)}

        async def build(chat_id: int, for_party: bool) -> Reply:
            ctx = await self._context(chat_id)
            return calendar_texts.digest(entries, calendar_texts.DigestContext(
                chat_id, ctx.tr, ctx.aliases, ctx.codec, ctx.today, enterprises), for_party)

        if row.recipient_kind == "coordinators":
            await self._to_coordinators(lambda chat_id: build(chat_id, False))
            return
        chat_id = await self._party_chat(row.recipient_kind, row.recipient)
        await send(self.application.bot, chat_id, await build(chat_id, True))

    async def notice(self, row: Pending) -> None:
        notice = await self.deps.calendar.notice(int(row.payload["notice_id"]))
        cases = await self.deps.cases.find_refs(notice.case_refs)
        org = await self.deps.org()
        party = await self._party_name(notice.party_kind, notice.party)

        async def build(chat_id: int) -> Reply:
            ctx = await self._context(chat_id)
            return calendar_texts.notice_reply(notice, cases, commission=org.prefecture.commission,
                                               party=party, tr=ctx.tr)

        if row.recipient_kind == "coordinators":
            await self._to_coordinators(build)
            return
        chat_id = await self._party_chat(row.recipient_kind, row.recipient)
        await send(self.application.bot, chat_id, await build(chat_id))

    async def summons(self, row: Pending) -> None:
        summons = await self.deps.calendar.summons(int(row.payload["summons_id"]))
        party = await self._party_name(summons.party_kind, summons.party)

        async def build(chat_id: int, summoned: bool) -> Reply:
            ctx = await self._context(chat_id)
            return calendar_texts.summons_reply(summons, party=party, tr=ctx.tr,
                                                tz=self.deps.settings.tz,
                                                codec=ctx.codec if summoned else None,
                                                chat_id=chat_id,
                                                reminder=row.payload.get("reminder"))

        if row.recipient_kind == "coordinators":
            await self._to_coordinators(lambda chat_id: build(chat_id, False))
            return
        chat_id = await self._party_chat(row.recipient_kind, row.recipient)
        await send(self.application.bot, chat_id, await build(chat_id, True))

    async def text(self, row: Pending) -> None:
        async def build(chat_id: int) -> Reply:
            ctx = await self._context(chat_id)
            return Reply(ctx.tr.gettext(str(row.payload["message"]),
                                        **dict(row.payload.get("params", {}))))

        if row.recipient_kind == "coordinators":
            await self._to_coordinators(build)
            return
        chat_id = int(row.recipient)
        await send(self.application.bot, chat_id, await build(chat_id))


def _required(view: CaseView, department: str) -> bool:
    return any(a.department_key == department and a.required and a.status in ACTIVE_STATUSES
               for a in view.assignments)


_ROUTES: dict[str, Callable[[Delivery, Pending], Awaitable[None]]] = {
    Kind.CARD: Delivery.card,
    Kind.REFRESH: Delivery.refresh,
    Kind.DELIVER: Delivery.deliver_cards,
    Kind.GROUP: Delivery.group_to_resolve,
    Kind.HANDED_BACK: Delivery.handed_back,
    Kind.EXTENSION: Delivery.extension_request,
    Kind.EXTENSION_DECIDED: Delivery.extension_decided,
    Kind.NO_CHAT: Delivery.no_chat,
    Kind.BOT_REMOVED: Delivery.bot_removed,
    Kind.TEXT: Delivery.text,
    Kind.DIGEST: Delivery.digest,
    Kind.NOTICE: Delivery.notice,
    Kind.SUMMONS: Delivery.summons,
}
