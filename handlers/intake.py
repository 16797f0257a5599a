"""Updates in: stored in the inbox before Telegram is told they arrived, then handled from there.

* **Long polling** (:meth:`Intake.poll`): ``getUpdates`` with the offset of the last update
  *stored*; Telegram forgets an update only when the next call moves the offset past it, so an
  update fetched and not yet stored is fetched again after a crash.
* **Webhook** (:meth:`Intake.on_webhook`): the request is answered 200 only once the update is
  stored; a wrong secret is 403, malformed JSON 400, a database that cannot store it 503 (Telegram
  tries again later).
* **Handling** (:meth:`Intake.handle_waiting`): the rows in update order, each through the whole
  Application (guards, handlers, error handler); the inbox protocol is in
  ``bot.services.inbox``.

While the database cannot be reached, nothing is acknowledged; people who write or press a
button are told once that their message will be handled when the service is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, TimedOut

from bot.core.i18n import DEFAULT_LOCALE, N_, get_translator
from bot.services.health import is_database_unreachable
from bot.services.inbox import MAX_ATTEMPTS
from handlers.context import DubanApplication

log = logging.getLogger(__name__)

POLL_TIMEOUT = 10  # seconds Telegram holds a getUpdates call open
RESCAN_SECONDS = 5.0  # how often rows left by another process are looked for
CLAIM_BATCH = 50  # stored updates claimed at a time
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

WILL_HANDLE_LATER = N_("The service cannot reach its database for a moment. Your message is "
                       "kept and will be handled as soon as it is back.")


class Intake:
    """The inbox's two ends in one bot process: storing updates and handling them."""

    def __init__(self, application: DubanApplication) -> None:
        self.app = application
        self.deps = application.deps
        self.arrived = asyncio.Event()
        self.offset: int | None = None
        self.backoff = 1.0  # the first wait after a failure, doubling up to a limit
        self._told: set[int] = set()  # chats told "later" during this outage
        self._conflicts = 0

    # -- storing ------------------------------------------------------------------------------

    async def store(self, payloads: Sequence[dict[str, Any]]) -> None:
        """Store updates durably; raises when the database cannot take them."""
        await self.deps.inbox.store(payloads, self.deps.clock.now())
        self._told.clear()
        self.arrived.set()

    async def poll(self, stop: asyncio.Event) -> None:
        """Long polling until ``stop``: fetch, store, and only then move the offset on."""
        backoff = self.backoff
        while not stop.is_set():
            try:
                updates = await self.app.bot.get_updates(
                    offset=self.offset, timeout=POLL_TIMEOUT, allowed_updates=Update.ALL_TYPES)
            except InvalidToken:
                raise
            except Conflict:
                self._conflicts += 1
                if self._conflicts == 1:
                    log.warning("another process is polling with this token (409 Conflict)")
                await _wait(stop, 5.0)
                continue
            except (NetworkError, TimedOut) as error:
                log.warning("getUpdates failed (%s); trying again in %.0f s", error, backoff)
                await _wait(stop, backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = self.backoff
            if not updates:
                continue
            payloads = [update.to_dict() for update in updates]
            if not await self._store_until_done(payloads, updates, stop):
                return  # not stored, so not acknowledged either: fetched again next start
            self.offset = updates[-1].update_id + 1

    async def _store_until_done(self, payloads: list[dict[str, Any]], updates: list[Update],
                                stop: asyncio.Event) -> bool:
        """Store, trying again while the database is away; False when stopped first."""
        backoff = self.backoff
        while True:
            try:
                await self.store(payloads)
                return True
            except Exception as error:
                if not is_database_unreachable(error):
                    raise
                log.warning("cannot store %d updates (%s); trying again", len(payloads), error)
                await self._tell_later(updates)
                if await _wait(stop, backoff):
                    return False
                backoff = min(backoff * 2, 15.0)

    async def _tell_later(self, updates: Sequence[Update]) -> None:
        """Say once per chat and outage that the message will be handled later."""
        for update in updates:
            chat = update.effective_chat
            if chat is None or chat.id in self._told:
                continue
            self._told.add(chat.id)
            # The chat's language is in the database that cannot be reached: the default one.
            text = get_translator(DEFAULT_LOCALE).gettext(WILL_HANDLE_LATER)
            try:
                if update.callback_query is not None:
                    await update.callback_query.answer(text, show_alert=True)
                else:
                    await self.app.bot.send_message(chat.id, text)
            except Exception:  # a best effort: the update itself is not lost
                log.debug("could not tell chat %s to wait", chat.id, exc_info=True)

    async def acknowledge(self) -> None:
        """Tell Telegram the stored updates arrived (at shutdown: the next start would fetch
        them again otherwise; they would be skipped, but fetched for nothing)."""
        if self.offset is None:
            return
        with contextlib.suppress(Exception):
            await self.app.bot.get_updates(offset=self.offset, timeout=0, limit=1)

    async def on_webhook(self, request: web.Request) -> web.Response:
        """The webhook: 200 only once the update is stored."""
        secret = request.app["duban.secret"]
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return web.Response(status=403)
        try:
            payload = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return web.Response(status=400, text="malformed JSON")
        if not isinstance(payload, dict) or not isinstance(payload.get("update_id"), int) \
                or isinstance(payload.get("update_id"), bool):
            return web.Response(status=400, text="not an update")
        try:
            await self.store([payload])
        except Exception as error:
            if not is_database_unreachable(error):
                raise
            log.warning("cannot store update %s (%s): 503", payload["update_id"], error)
            return web.Response(status=503)
        return web.Response(status=200)

    # -- handling -----------------------------------------------------------------------------

    async def handle_waiting(self) -> int:
        """Handle every stored update this process can claim; returns how many."""
        handled = 0
        while True:
            rows = await self.deps.inbox.claim(self.deps.clock.now(), limit=CLAIM_BATCH)
            for row in rows:
                if row.attempts > MAX_ATTEMPTS:
                    await self.deps.inbox.give_up(row.update_id, self.deps.clock.now())
                    continue
                await self._handle(row.update_id, row.payload)
                handled += 1
            # A short batch was all there was; rows stored meanwhile set ``arrived``, and
            # ``run`` comes back at once (no empty claim after every update).
            if len(rows) < CLAIM_BATCH:
                return handled

    async def _handle(self, update_id: int, payload: dict[str, Any]) -> None:
        try:
            update = Update.de_json(payload, self.app.bot)
        except Exception:
            log.exception("update %s cannot be read; dropped", update_id)
            await self.deps.inbox.give_up(update_id, self.deps.clock.now())
            return
        try:
            await self.app.process_update(update)
            # The guard records the update at the end (group 100); an update stopped early
            # (seen before) is finished here.
            await self.deps.chats.finish_update(update_id)
        finally:
            await self._release(update_id)
            self.deps.chats.drop_update()  # whatever happened, the next work is not this update

    async def _release(self, update_id: int) -> None:
        """Cards the handler held and did not edit go to the delivery now (not when their
        claim expires); should that fail too, the claim expires."""
        try:
            if await self.deps.answers.release(update_id):
                self.deps.wakeup.set()
        except Exception:
            log.warning("could not give back the cards of update %s; their claim will expire",
                        update_id, exc_info=True)

    async def run(self, stop: asyncio.Event) -> None:
        """Handle stored updates until ``stop``: at once when one arrives, and every few
        seconds for rows another process left behind."""
        backoff = self.backoff
        while not stop.is_set():
            self.arrived.clear()
            try:
                await self.handle_waiting()
                backoff = self.backoff
            except Exception as error:
                if not is_database_unreachable(error):
                    log.exception("handling stored updates failed")
                else:
                    log.warning("cannot reach the database to handle updates (%s)", error)
                await _wait(stop, backoff)
                backoff = min(backoff * 2, 15.0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(stop, self.arrived), RESCAN_SECONDS)


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` or until ``stop``; True when stopped."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
