"""Delivery: sends what the outbox holds (cards, card edits, notices) through the Bot API.

Runs as one task in the bot process; woken at once when a handler queues something, and every
few seconds for rows queued by other processes (the command line) or due later. The protocol
(claim, send, record) is in ``bot.services.outbox``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, timedelta
from typing import Any

from telegram import Bot
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.core.clock import local_today
from bot.core.evidence import EvidenceRef
from bot.core.i18n import DubanError, get_translator
from bot.render import calendar_texts, cards, texts
from bot.render import tasks as task_texts
from bot.render.cards import CardContext, Reply
from bot.services.cases import CaseView
from bot.services.chats import Binding, BindTarget, ChatKind
from bot.services.delivery import ShownCard, retry_delay, still_required
from bot.services.deps import Deps
from bot.services.evidence import stored_file
from bot.services.outbox import Kind, Pending
from handlers.answers import payload_reply
from handlers.context import DubanApplication
from handlers.sending import edit, send

log = logging.getLogger(__name__)
POLL_SECONDS = 2.0
BATCH = 100
#: How often (real seconds) sent rows older than ``outbox.KEEP_SENT`` are pruned.
PRUNE_SECONDS = 3600.0
_TASK = "duban.delivery"


async def card_context(deps: Deps, chat_id: int, department: str | None = None) -> CardContext:
    """How a card or notice is rendered for ``chat_id``: its language, names and buttons."""
    org = await deps.org()
    locale = await deps.chats.locale_for(chat_id)
    return CardContext(chat_id=chat_id, tr=get_translator(locale), aliases=org.alias_table(),
                       tz=deps.tz, codec=deps.codec, today=local_today(deps.clock),
                       department=department)


async def card_reply(deps: Deps, view: CaseView, binding: Binding) -> Reply:
    """A case's card as the chat bound by ``binding`` sees it (buttons for its department)."""
    ctx = await card_context(deps, binding.chat_id, binding.department_key
                             if binding.kind == ChatKind.DEPARTMENT else None)
    return cards.card(view, ctx)


async def edit_cards(bot: Bot, deps: Deps, view: CaseView, shown: Sequence[ShownCard]) -> None:
    """Edit the case's cards ``shown`` to ``view``, each as its chat sees it."""
    for card in shown:
        binding = await deps.chats.binding(card.chat_id)
        if binding is None:
            continue
        await edit(bot, card.chat_id, card.message_id, await card_reply(deps, view, binding))


async def edit_held_cards(bot: Bot, deps: Deps, update_id: int) -> None:
    """A press's handler edits the cards its step changed, from the view the step committed
    (``AnswerStore.held_cards``), instead of the delivery reading the case again. A card
    whose case has moved on since, or that Telegram would not edit now, is given back: the
    delivery edits it from the case as it is then, with its retries."""
    for held in deps.answers.held_cards(update_id):
        case = held.view.case
        try:
            shown = await deps.deliveries.shown(case.id or 0, version=case.version)
            if not shown:
                deps.answers.give_back(update_id, held.key)
                continue
            await edit_cards(bot, deps, held.view, shown)
        except TelegramError as error:
            log.info("card of case %s left to the delivery: %s", case.id, error)
            deps.answers.give_back(update_id, held.key)


async def notice_sections(deps: Deps, notice: Any
                          ) -> Callable[[str], list[calendar_texts.NoticeSection]]:
    """A notice's laggards, read once; the names come in the reader's language."""
    org = await deps.org()
    entries = await deps.calendar.notice_entries(notice.id or 0)
    refs = sorted({ref for entry in entries for ref in entry.case_refs})
    cases = {c.ref: c for c in await deps.cases.find_refs(refs)}
    on = notice.issued_on or local_today(deps.clock)
    workdays = deps.calendar.calendar

    def sections(locale: str) -> list[calendar_texts.NoticeSection]:
        return [calendar_texts.NoticeSection(
            party=texts.party_name(org, entry.party_kind, entry.party, locale), entry=entry,
            cases=[cases[ref] for ref in entry.case_refs if ref in cases],
            working_days_late=max(0, workdays.working_days_between(entry.deadline, on))
            if entry.deadline else 0) for entry in entries]

    return sections


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
        # A failed row waits here, in real seconds, before it is tried again: the bot's clock
        # may be simulated and stand still (sandbox, tests), and a wait in its time would
        # hold the row until someone moved it (three digests once arrived a day late so).
        self.monotonic: Callable[[], float] = time.monotonic
        self._backoff: dict[int, float] = {}  # outbox row id -> monotonic time to retry
        # A signed notice goes to every unit with the same .docx: written once per language
        # (about half a second each, in the event loop), not once per unit.
        self._notices: dict[tuple[int, str, str], Reply] = {}
        self._pruned_at: float | None = None

    async def run(self) -> None:
        while True:
            try:
                await self.deliver_due()
            except Exception:  # keep delivering; the row stays queued
                log.exception("delivery round failed")
            await self.prune_now_and_then()
            self.deps.wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.deps.wakeup.wait(), POLL_SECONDS)

    async def prune_now_and_then(self) -> int:
        """Once an hour (and at start), drop the sent rows kept long enough; every process
        may do it (the batches are idempotent), none waits for it to send."""
        if self._pruned_at is not None and self.monotonic() - self._pruned_at < PRUNE_SECONDS:
            return 0
        self._pruned_at = self.monotonic()
        try:
            pruned = await self.deps.outbox.prune(self.deps.clock.now())
        except Exception:  # pruning is housekeeping: the next hour tries again
            log.warning("pruning the outbox failed", exc_info=True)
            return 0
        if pruned:
            log.info("pruned %d sent outbox rows", pruned)
        return pruned

    async def deliver_due(self) -> int:
        """Send every due row once; returns how many were handled."""
        handled = 0
        while rows := await self.deps.outbox.due(self.deps.clock.now(), limit=BATCH,
                                                 skip=self._waiting()):
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
        metrics = self.deps.metrics
        if route is None:
            await self.deps.outbox.done(row, now, error=f"unknown kind {row.kind}")
            metrics.failed.inc()
            return
        try:
            await route(self, row)
        except RetryAfter as error:  # the 429 itself is counted by the rate limiter
            retry = error.retry_after
            seconds = retry.total_seconds() if isinstance(retry, timedelta) else float(retry)
            await self._retry_later(row, "retry after", seconds)  # refused: not delivered
            metrics.retried.inc()
        except BadRequest as error:  # the request itself is wrong: retrying will not help
            log.warning("outbox %s refused: %s", row.key, error)
            await self.deps.outbox.done(row, now, error=str(error)[:500])
            metrics.failed.inc()
        except (TimedOut, NetworkError) as error:  # it may have arrived all the same
            await self._retry_later(row, str(error)[:500],
                                    retry_delay(row.attempts).total_seconds(), unknown=True)
            metrics.retried.inc()
        except (Undeliverable, Forbidden) as error:
            await self.deps.outbox.done(row, now, error=str(error)[:500] or "undeliverable")
            metrics.failed.inc()
        else:
            if row.kind != Kind.CARD:  # cards record themselves with their message id
                await self.deps.outbox.done(row, now)
            metrics.sent.inc()

    async def _retry_later(self, row: Pending, error: str, seconds: float,
                           unknown: bool = False) -> None:
        """Put the row back, to be tried again after ``seconds`` of real time."""
        self._backoff[row.id] = self.monotonic() + seconds
        await self.deps.outbox.failed(row, error, self.deps.clock.now(), unknown=unknown)

    def _waiting(self) -> set[int]:
        """The rows still waiting out their back-off."""
        now = self.monotonic()
        for row_id in [i for i, until in self._backoff.items() if until <= now]:
            del self._backoff[row_id]
        return set(self._backoff)

    # -- rendering helpers ------------------------------------------------------------------

    async def _context(self, chat_id: int, department: str | None = None) -> CardContext:
        return await card_context(self.deps, chat_id, department)

    async def _card_reply(self, view: CaseView, binding: Binding) -> Reply:
        return await card_reply(self.deps, view, binding)

    async def _to_coordinators(self, build: Any) -> None:
        """Send to the coordination group, or else to each coordinator privately."""
        delivered = False
        for chat_id in await self.deps.chats.coordinator_chats():
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
        kind = ChatKind.of_party(row.recipient_kind)
        chat_id = await self.deps.chats.chat_for(kind=kind, key=row.recipient)
        if chat_id is None:
            if kind is ChatKind.DEPARTMENT and still_required(view, row.recipient):
                await self.deps.deliveries.warn_no_chat(view.case.id or 0, row.recipient,
                                                        self.deps.clock.now())
                self.deps.wakeup.set()
            raise Undeliverable("no bound chat")  # recorded (and counted) as given up
        binding = await self.deps.chats.binding(chat_id)
        assert binding is not None
        await self._post_card(view, binding, row)

    async def _post_card(self, view: CaseView, binding: Binding,
                         row: Pending | None = None) -> None:
        if await self.deps.deliveries.is_shown(view.case.id or 0, binding.chat_id):
            # already shown (refresh rows keep it current)
            if row is not None:
                await self.deps.outbox.done(row, self.deps.clock.now())
            return
        reply = await self._card_reply(view, binding)
        message = await send(self.application.bot, binding.chat_id, reply)
        await self.deps.deliveries.record_card(view.case.id or 0, binding, message.message_id,
                                               self.deps.clock.now(), row)

    async def refresh(self, row: Pending) -> None:
        view = await self.deps.cases.get_by_id(int(row.payload["case_id"]))
        await edit_cards(self.application.bot, self.deps, view,
                         await self.deps.deliveries.shown(view.case.id or 0))

    async def deliver_cards(self, row: Pending) -> None:
        """A chat was bound: post the cards of the open cases that wait for it, and queue the
        reminders the calendar held back for want of it (``CalendarService.catch_up``)."""
        binding = await self.deps.chats.binding(int(row.recipient))
        if binding is None:
            raise Undeliverable("chat no longer bound")
        after = 0
        while waiting := await self.deps.deliveries.waiting_for(binding, after=after):
            for case_id in waiting:
                await self._post_card(await self.deps.cases.get_by_id(case_id), binding)
            after = waiting[-1]
        party = (binding.department_key if binding.kind == ChatKind.DEPARTMENT
                 else binding.region_name)
        if party and await self.deps.calendar.catch_up(binding.kind, party):
            self.deps.wakeup.set()
        if (binding.kind == ChatKind.DEPARTMENT and party
                and await self.deps.calendar.queue_letters(party)):
            self.deps.wakeup.set()  # year-end letters that waited for this chat

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
        for shown in await self.deps.deliveries.shown(view.case.id or 0, departments_only=True):
            chat_id = shown.chat_id
            ctx = await self._context(chat_id)
            if row.payload.get("approved"):
                text = ctx.tr.gettext(texts.EXTENSION_APPROVED, ref=view.case.ref,
                                      deadline=texts.fmt_date(view.case.deadline, ctx.tr))
            else:
                text = ctx.tr.gettext(texts.EXTENSION_DENIED, ref=view.case.ref,
                                      reason=row.payload.get("reason") or "")
            await send(self.application.bot, chat_id, Reply(text))

    async def review_request(self, row: Pending) -> None:
        """The coordinators: a confirmed closing to review, the case's card with 办结 and
        退回重办."""
        view = await self.deps.cases.get_by_id(int(row.payload["case_id"]))

        async def build(chat_id: int) -> Reply:
            return cards.review_reply(view, await self._context(chat_id),
                                      str(row.payload.get("step") or ""))

        await self._to_coordinators(build)

    async def sent_back(self, row: Pending) -> None:
        """Every department chat showing the case: the work is sent back, and why."""
        view = await self.deps.cases.get_by_id(int(row.payload["case_id"]))
        for shown in await self.deps.deliveries.shown(view.case.id or 0, departments_only=True):
            ctx = await self._context(shown.chat_id)
            text = ctx.tr.gettext(texts.SENT_BACK_NOTICE, ref=view.case.ref,
                                  enterprise=view.case.enterprise,
                                  reason=row.payload.get("reason") or "")
            await send(self.application.bot, shown.chat_id, Reply(text))

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
        chat_id = await self.deps.chats.chat_for(kind=ChatKind.of_party(kind), key=name)
        if chat_id is None:
            raise Undeliverable(f"no bound chat for {kind} {name}")
        return chat_id

    async def digest(self, row: Pending) -> None:
        entries = list(row.payload.get("items", []))
        refs = sorted({ref for e in entries for ref in e.get("case_refs") or []})
        enterprises = await self.deps.cases.enterprise_names(refs)

        # A digest speaks of the day its sweep ran ("还剩 1 天" stays true to its date), even
        # when it is sent later (the bot was down, or Telegram slowed it).
        made = (row.created_at.astimezone(self.deps.tz).date() if row.created_at
                else local_today(self.deps.clock))

        async def build(chat_id: int, for_party: bool) -> Reply:
            ctx = await self._context(chat_id)
            return calendar_texts.digest(entries, calendar_texts.DigestContext(
                chat_id, ctx.tr, ctx.aliases, ctx.codec, made, enterprises), for_party)

        await self._to_recipient(row, build)

    async def notice(self, row: Pending) -> None:
        notice = await self.deps.calendar.notice(int(row.payload["notice_id"]))
        org = await self.deps.org()
        source = self.deps.catalog.document
        facts = calendar_texts.NoticeFacts(source.title or "", source.number or "")
        sections = await self._notice_sections(notice)

        async def build(chat_id: int, _for_party: bool) -> Reply:
            ctx = await self._context(chat_id)
            key = (notice.id or 0, str(notice.updated_at), ctx.tr.locale)
            reply = self._notices.get(key)
            if reply is None:
                if len(self._notices) >= 8:
                    self._notices.clear()
                reply = self._notices[key] = calendar_texts.notice_reply(
                    notice, sections(ctx.tr.locale), commission=org.prefecture.commission,
                    tr=ctx.tr, facts=facts)
            # It may have arrived already: a second copy says it is the same notice.
            return calendar_texts.repeated_notice(reply, ctx.tr) if row.uncertain else reply

        await self._to_recipient(row, build)

    async def notice_draft(self, row: Pending) -> None:
        notice = await self.deps.calendar.notice(int(row.payload["notice_id"]))
        if notice.status == "signed":
            return  # signed before this copy went out: the signed notice speaks
        sections = await self._notice_sections(notice)

        async def build(chat_id: int, _for_party: bool) -> Reply:
            ctx = await self._context(chat_id)
            return calendar_texts.notice_draft_reply(notice, sections(ctx.tr.locale),
                                                     tr=ctx.tr, codec=ctx.codec,
                                                     chat_id=chat_id)

        await self._to_recipient(row, build)

    async def _notice_sections(
            self, notice: Any) -> Callable[[str], list[calendar_texts.NoticeSection]]:
        return await notice_sections(self.deps, notice)

    async def summons(self, row: Pending) -> None:
        summons = await self.deps.calendar.summons(int(row.payload["summons_id"]))
        org = await self.deps.org()

        async def build(chat_id: int, summoned: bool) -> Reply:
            ctx = await self._context(chat_id)
            party = texts.party_name(org, summons.party_kind, summons.party, ctx.tr.locale)
            return calendar_texts.summons_reply(summons, party=party, tr=ctx.tr,
                                                tz=self.deps.tz,
                                                codec=ctx.codec if summoned else None,
                                                chat_id=chat_id,
                                                reminder=row.payload.get("reminder"),
                                                today=ctx.today,
                                                proposal=None if summoned else ctx.codec)

        await self._to_recipient(row, build)

    async def text(self, row: Pending) -> None:
        async def build(chat_id: int, _for_party: bool) -> Reply:
            ctx = await self._context(chat_id)
            params = dict(row.payload.get("params", {}))
            params.update({name: ctx.tr.gettext(str(message))  # message ids among the values
                           for name, message in dict(row.payload.get("translate", {})).items()})
            params.update({name: texts.fmt_date(date.fromisoformat(str(day)), ctx.tr)
                           for name, day in dict(row.payload.get("dates", {})).items()})
            return Reply(ctx.tr.gettext(str(row.payload["message"]), **params))

        await self._to_recipient(row, build)

    async def duty_letter(self, row: Pending) -> None:
        """One file of a department's confirmed year-end letter, to a department it writes to
        (工信、能源、煤炭), with a caption in words."""
        letter = await self.deps.calendar.obligation(int(row.payload["obligation_id"]))
        number, files = int(row.payload["file"]), list(letter.evidence or [])
        if not 0 < number <= len(files):
            raise Undeliverable("the letter has no such file")
        ref = EvidenceRef.parse(files[number - 1])
        org = await self.deps.org()
        content: bytes | None = None
        problem: DubanError | None = None
        try:
            content = await stored_file(self.deps.evidence, ref)
        except DubanError as error:  # not kept, or altered: the text still goes, saying so
            problem = error

        async def build(chat_id: int, _for_party: bool) -> Reply:
            ctx = await self._context(chat_id)
            return calendar_texts.letter_reply(
                department=texts.party_name(org, letter.party_kind, letter.party,
                                            ctx.tr.locale),
                year=letter.year, number=number, total=len(files), kind=ref.kind,
                name=ref.name, content=content,
                problem=problem.render(ctx.tr, ctx.aliases) if problem else None, tr=ctx.tr)

        await self._to_recipient(row, build)

    async def task(self, row: Pending) -> None:
        """A task (督办任务): live for an owner, a report or a final report for the
        coordinators, the coordinators' decision for an owner."""
        view = await self.deps.tasks.by_id(int(row.payload["task_id"]))
        event = str(row.payload.get("event") or "")
        report = (await self.deps.tasks.report_by_id(int(row.payload["report_id"]))
                  if event == "report" else None)

        async def build(chat_id: int, _for_party: bool) -> Reply:
            department = row.recipient if row.recipient_kind == "department" else None
            ctx = await self._context(chat_id, department)
            if report is not None:
                return task_texts.report_message(view, report, ctx)
            if event == "decided":
                return task_texts.decided_message(view, bool(row.payload.get("close")),
                                                  str(row.payload.get("note") or ""), ctx)
            return task_texts.live_message(view, row.recipient, ctx)

        await self._to_recipient(row, build)

    async def answer(self, row: Pending) -> None:
        """The answer to an update whose handler died before sending it
        (``bot.services.answers``): sent now, late but once."""
        await send(self.application.bot, int(row.recipient), payload_reply(row.payload),
                   reply_to=row.payload.get("reply_to"))

    async def _to_recipient(self, row: Pending,
                            build: Callable[[int, bool], Awaitable[Reply]]) -> None:
        """Send to the row's recipient: the coordinators (``build(chat, False)``), a chat by
        id, or the bound chat of a department or county (``build(chat, True)``)."""
        if row.recipient_kind == "coordinators":
            await self._to_coordinators(lambda chat_id: build(chat_id, False))
            return
        chat_id = (int(row.recipient) if row.recipient_kind == "chat"
                   else await self._party_chat(row.recipient_kind, row.recipient))
        await send(self.application.bot, chat_id, await build(chat_id, True))


_ROUTES: dict[str, Callable[[Delivery, Pending], Awaitable[None]]] = {
    Kind.CARD: Delivery.card,
    Kind.REFRESH: Delivery.refresh,
    Kind.DELIVER: Delivery.deliver_cards,
    Kind.GROUP: Delivery.group_to_resolve,
    Kind.HANDED_BACK: Delivery.handed_back,
    Kind.EXTENSION: Delivery.extension_request,
    Kind.EXTENSION_DECIDED: Delivery.extension_decided,
    Kind.REVIEW: Delivery.review_request,
    Kind.SENT_BACK: Delivery.sent_back,
    Kind.NO_CHAT: Delivery.no_chat,
    Kind.BOT_REMOVED: Delivery.bot_removed,
    Kind.TEXT: Delivery.text,
    Kind.DIGEST: Delivery.digest,
    Kind.NOTICE: Delivery.notice,
    Kind.NOTICE_DRAFT: Delivery.notice_draft,
    Kind.SUMMONS: Delivery.summons,
    Kind.ANSWER: Delivery.answer,
    Kind.TASK: Delivery.task,
    Kind.DUTY_LETTER: Delivery.duty_letter,
}
