"""Running the bot: migrations, the organisation, then polling or a webhook server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass

from aiohttp import web
from telegram import Update

from bot.app import build_application, build_deps, start_calendar, stop_calendar
from bot.core.clock import Clock, FileClock, SystemClock
from bot.core.i18n import N_, DubanError
from bot.core.org import load_org
from bot.core.policy.catalog import Catalog
from bot.services.leader import Leadership
from bot.services.org import OrgService
from bot.settings import Settings
from handlers.context import DubanApplication
from handlers.intake import Intake
from models.db import create_engine, session_factory, upgrade

log = logging.getLogger("duban")


class RedactToken(logging.Filter):
    """Keeps the bot token out of every log line (HTTP libraries log request URLs)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), None
        return True


def configure_logging(settings: Settings, level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if settings.telegram_bot_token:
        for handler in logging.getLogger().handlers:
            handler.addFilter(RedactToken(settings.telegram_bot_token))


@dataclass(frozen=True)
class WebhookOptions:
    url: str
    secret_token: str
    listen: str = "127.0.0.1"
    port: int = 8443
    path: str = "telegram"


async def prepare(settings: Settings) -> None:
    """Migrate the database and load the organisation file if one is configured."""
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        service = OrgService(session_factory(engine))
        if settings.org is not None:
            await service.load(load_org(settings.org))
        await service.current()  # a clear error when no organisation is loaded
    finally:
        await engine.dispose()


def run_bot(settings: Settings, catalog: Catalog, webhook: WebhookOptions | None = None,
            clock: Clock | None = None) -> None:
    """Run until interrupted: long polling, or a webhook server when ``webhook`` is given."""
    if not settings.telegram_bot_token:
        raise DubanError(N_("TELEGRAM_BOT_TOKEN is not set."))
    if webhook is not None and not webhook.secret_token:
        raise DubanError(N_("Webhook mode needs --secret-token: requests without it are "
                            "refused."))
    asyncio.run(serve(settings, catalog, webhook, clock))


async def serve(settings: Settings, catalog: Catalog, webhook: WebhookOptions | None = None,
                clock: Clock | None = None, stop: asyncio.Event | None = None) -> None:
    """The bot's life: migrate, start, take updates in (polling or webhook) and hand them to
    the handlers through the inbox, lead the calendar when this process is the leader, and shut
    down in order on SIGINT/SIGTERM (or when ``stop`` is set)."""
    await prepare(settings)
    if clock is None:
        clock = (FileClock(settings.clock_file, settings.tz) if settings.clock_file
                 else SystemClock(settings.tz))
    deps = build_deps(settings, create_engine(settings.database_url), clock, catalog)
    application = build_application(settings, deps)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    intake = Intake(application)
    leadership = Leadership(deps.engine)
    server: web.AppRunner | None = None
    try:
        async with application:
            if application.post_init is not None:
                await application.post_init(application)
            await application.start()
            if webhook is not None:
                server = await _serve_webhook(intake, webhook)
                await application.bot.set_webhook(
                    webhook.url, secret_token=webhook.secret_token,
                    allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
            else:
                await application.bot.delete_webhook(drop_pending_updates=False)
            log.info("duban starting (%s)", "webhook" if webhook else "long polling")
            tasks = [loop.create_task(intake.run(stop), name="duban.intake"),
                     loop.create_task(_lead(application, settings, intake, leadership, stop,
                                            polling=webhook is None), name="duban.leader")]
            try:
                done, _ = await asyncio.wait(
                    [*tasks, loop.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if task in tasks and not task.cancelled() and task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]
            finally:
                stop.set()
                await _finish(tasks)
                if server is not None:
                    await server.cleanup()
                await intake.acknowledge()
                await application.stop()
                if application.post_shutdown is not None:
                    await application.post_shutdown(application)
    finally:
        await leadership.release()
        await deps.engine.dispose()
    log.info("duban stopped")


#: how often a standby tries to become the leader, and the leader checks that it still is
LEADER_CHECK_SECONDS = 5.0


async def _lead(application: DubanApplication, settings: Settings, intake: Intake,
                leadership: Leadership, stop: asyncio.Event, *, polling: bool) -> None:
    """Lead the calendar (and the polling) while this process holds the leadership; step down
    when it is lost; try again while standing by."""
    poller: asyncio.Task[None] | None = None
    leading = False
    try:
        while not stop.is_set():
            held = await leadership.try_acquire()
            if held and not leading:
                log.info("this process leads: it runs the calendar%s",
                         " and polls" if polling else "")
                leading = True
                start_calendar(application, settings)
                if polling:
                    poller = asyncio.get_running_loop().create_task(intake.poll(stop),
                                                                    name="duban.poll")
            elif not held and leading:
                log.warning("leadership lost: the calendar and the polling stop here")
                leading = False
                stop_calendar(application)
                if poller is not None:
                    await _finish([poller], grace=0)
                    poller = None
            if poller is not None and poller.done():
                poller.result()  # a poller that ended on its own failed: raise its error
                poller = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), LEADER_CHECK_SECONDS)
    finally:
        if poller is not None:
            # A long poll holds for seconds: cancel it now (what it fetched and did not store
            # is not acknowledged, so Telegram sends it again).
            await _finish([poller], grace=0)


async def _serve_webhook(intake: Intake, options: WebhookOptions) -> web.AppRunner:
    server = web.Application(client_max_size=4 * 1024 * 1024)
    server["duban.secret"] = options.secret_token
    server.router.add_post("/" + options.path.strip("/"), intake.on_webhook)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, options.listen, options.port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


async def _finish(tasks: list[asyncio.Task[None]], grace: float = 10.0) -> None:
    """Let tasks end on their own (they watch ``stop``), then cancel what is left."""
    pending = [t for t in tasks if not t.done()]
    if pending:
        _, late = (await asyncio.wait(pending, timeout=grace)) if grace > 0 else (set(), pending)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
