"""The composition root: builds the services once and the python-telegram-bot Application.

:func:`build_deps` builds the services (:class:`bot.services.deps.Deps`) for the bot, the command
line and the sandbox alike; :func:`build_application` builds the Application around them and
registers every handler. Handlers reach the services through the typed context
(``handlers.context.DubanContext``), never through module globals.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import BotCommand, BotCommandScopeDefault
from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes
from telegram.request import BaseRequest

from bot.core.buttons import ButtonCodec
from bot.core.clock import Clock
from bot.core.i18n import N_, SUPPORTED_LOCALES, get_translator
from bot.core.policy.catalog import Catalog
from bot.services.answers import AnswerStore
from bot.services.board import BoardService
from bot.services.calendar import CalendarService
from bot.services.cases import CaseService
from bot.services.chats import ChatService
from bot.services.delivery import DeliveryStore
from bot.services.deps import Deps
from bot.services.dialogs import DialogService
from bot.services.evidence import EvidenceStore
from bot.services.health import HealthService
from bot.services.inbox import InboxStore
from bot.services.inspections import InspectionService
from bot.services.ledger import LedgerService
from bot.services.metrics import Metrics
from bot.services.monitor import start_monitor, stop_monitor
from bot.services.org import OrgService
from bot.services.outbox import OutboxStore
from bot.services.reports import ReportService
from bot.services.status import StatusService
from bot.services.tasks import TaskService
from bot.settings import Settings
from handlers import register
from handlers.context import DubanApplication, context_types
from handlers.delivery import start_delivery, stop_delivery
from models.db import session_factory
from scheduler.jobs import build_scheduler, interval_for, run_sweep
from scheduler.workdays import WorkCalendar, load_overrides

log = logging.getLogger(__name__)

# (command, description) in the order shown by Telegram clients.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("status", N_("Where things stand (optionally for a county: /status 玛纳斯县)")),
    ("board", N_("The board: red, yellow and green lights per county and department")),
    ("ledger", N_("The year's ledger as a spreadsheet: /ledger 2026")),
    ("case", N_("A case's timeline: /case REF")),
    ("mine", N_("This chat's open items")),
    ("overdue", N_("Overdue cases")),
    ("newcase", N_("Register a case (coordinators)")),
    ("lists", N_("Yellow and red card lists: /lists yellow")),
    ("report", N_("The county's yearly report: /report 玛纳斯县 2026")),
    ("duties", N_("Yearly duties: who has submitted (/duties 2026)")),
    ("tasks", N_("Supervised tasks (督办任务); coordinators: /tasks review")),
    ("task", N_("One task and its reports: /task 5")),
    ("inspection", N_("Record an inspection and the problems found")),
    ("inspections", N_("Inspections of the year: /inspections 玛纳斯县 2026")),
    ("bind", N_("Bind this chat (coordinators): /bind 环保局")),
    ("invite", N_("An invite code for this chat (coordinators)")),
    ("join", N_("Register as this chat's liaison: /join CODE")),
    ("whoami", N_("Who the bot thinks you are")),
    ("lang", N_("Language: /lang zh or /lang en")),
    ("cancel", N_("Stop the current question")),
    ("help", N_("What you can do here")),
)


def build_deps(settings: Settings, engine: AsyncEngine, clock: Clock,
               catalog: Catalog) -> Deps:
    """The services, built once and in order; the bot, the command line and the sandbox all
    build theirs here."""
    sessions = session_factory(engine)
    org_service = OrgService(sessions)
    overrides = load_overrides(settings.holidays) if settings.holidays else ()
    workdays = WorkCalendar(overrides)
    cases = CaseService(sessions, catalog, clock, workdays, org_service.cached)
    metrics = Metrics()
    tasks = TaskService(sessions, clock, catalog, org_service.cached)
    calendar = CalendarService(sessions, clock, catalog, workdays, cases, org_service.cached,
                               metrics, tasks=tasks)
    outbox = OutboxStore(sessions)
    evidence = EvidenceStore(settings.evidence_path)
    status = StatusService(sessions, settings.tz)
    inspections = InspectionService(sessions, clock, org_service.cached)
    return Deps(
        clock=clock, tz=settings.tz, engine=engine, sessions=sessions, catalog=catalog,
        codec=ButtonCodec.from_token(settings.telegram_bot_token or "sandbox"),
        org_service=org_service, cases=cases,
        chats=ChatService(sessions, clock, frozenset(settings.coordinators)),
        calendar=calendar,
        dialogs=DialogService(sessions, clock, cases, org_service.cached, calendar, evidence,
                              settings.max_upload_bytes, inspections, tasks=tasks),
        outbox=outbox, deliveries=DeliveryStore(sessions, outbox),
        status=status, board=BoardService(status), ledger=LedgerService(sessions, settings.tz),
        reports=ReportService(sessions),
        health=HealthService(sessions, clock), evidence=evidence, inbox=InboxStore(sessions),
        answers=AnswerStore(sessions, clock), inspections=inspections, tasks=tasks,
        metrics=metrics, max_upload_bytes=settings.max_upload_bytes,
    )


def build_application(settings: Settings, deps: Deps,
                      request: BaseRequest | None = None) -> DubanApplication:
    """The one place that builds the Application and registers every handler.

    ``request`` replaces the HTTP layer (tests and benchmarks pass a recording fake).
    """
    token = settings.telegram_bot_token
    if not token:
        raise ValueError("build_application needs a bot token")
    builder: ApplicationBuilder = (
        ApplicationBuilder()
        .application_class(DubanApplication)
        .token(token)
        .context_types(context_types())
        .rate_limiter(rate_limiter(settings, deps.metrics))
        .concurrent_updates(False)
        .post_init(lambda application: _post_init(application, settings))
        .post_shutdown(_post_shutdown)
    )
    base = settings.telegram_api_base_url
    if base:
        base = base.rstrip("/")
        builder = builder.base_url(f"{base}/bot").base_file_url(f"{base}/file/bot")
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    application: DubanApplication = builder.build()  # type: ignore[assignment]
    application.deps = deps
    register(application)
    return application


def rate_limiter(settings: Settings, metrics: Metrics | None = None) -> AIORateLimiter:
    """Telegram's sending limits (30 messages a second, 20 a minute per group) in production;
    in the sandbox and tests only the overall limit, so a demo chat is not paced at one
    message every three seconds. Both retry on RetryAfter, and count each one in
    ``metrics``."""
    if settings.mode == "production":
        # Telegram's 30 a second, paced evenly: a bucket of 30 would first let a burst of 30
        # through, which a strict one-second window answers with 429 and a wait.
        return CountingRateLimiter(metrics, overall_max_rate=1, overall_time_period=1 / 30,
                                   max_retries=5)
    return CountingRateLimiter(metrics, overall_max_rate=30, overall_time_period=1,
                               group_max_rate=0, max_retries=5)


class CountingRateLimiter(AIORateLimiter):
    """AIORateLimiter that counts every RetryAfter (429) Telegram answers, including those it
    waits out and retries itself (which the delivery loop never sees)."""

    def __init__(self, metrics: Metrics | None, **limits: Any) -> None:
        super().__init__(**limits)
        self._metrics = metrics

    async def process_request(self, callback: Callable[..., Coroutine[Any, Any, Any]],
                              args: Any, kwargs: dict[str, Any], endpoint: str,
                              data: dict[str, Any], rate_limit_args: int | None) -> Any:
        async def counted(*call_args: Any, **call_kwargs: Any) -> Any:
            try:
                return await callback(*call_args, **call_kwargs)
            except RetryAfter:
                if self._metrics is not None:
                    self._metrics.retry_after.inc()
                raise

        return await super().process_request(counted, args, kwargs, endpoint, data,
                                              rate_limit_args)


async def _post_init(application: Application, settings: Settings) -> None:
    app: DubanApplication = application  # type: ignore[assignment]
    await app.deps.chats.bootstrap_coordinators()
    if (await app.deps.org()).departments:  # the document's duties, proposed for review
        await app.deps.tasks.propose()
    await app.deps.tasks.load_titles()
    await register_commands(app)
    start_delivery(app)
    # The calendar is started by the leader (bot.runner), not by every process.
    app.bot_data[_MONITOR] = await start_monitor(
        app.deps, listen=settings.monitor_listen, port=settings.monitor_port,
        stale_after=settings.monitor_sweep_intervals * interval_for(settings))


async def _post_shutdown(application: Application) -> None:
    app: DubanApplication = application  # type: ignore[assignment]
    stop_calendar(app)
    await stop_delivery(app)
    await stop_monitor(app.bot_data.pop(_MONITOR, None))


_SCHEDULER = "duban.scheduler"
_MONITOR = "duban.monitor"
_FIRST_SWEEP = "duban.first-sweep"


def stop_calendar(app: DubanApplication) -> None:
    """Stop the calendar (at shutdown, or when this process stops leading)."""
    scheduler = app.bot_data.pop(_SCHEDULER, None)
    if scheduler is not None:
        scheduler.shutdown(wait=False)
    first = app.bot_data.pop(_FIRST_SWEEP, None)
    if first is not None and not first.done():
        first.cancel()


def start_calendar(app: DubanApplication, settings: Settings) -> None:
    """Start APScheduler with the persistent sweep job, and sweep once now (catch-up)."""
    # One sweep at a time in this process: the catch-up sweep is not the scheduler's job, so
    # its max_instances does not keep the two apart, and a catch-up longer than the interval
    # (a second in the sandbox and tests) met the job's first run on the same new rows.
    running = asyncio.Lock()

    async def sweep() -> None:
        if running.locked():
            log.debug("a sweep is still running; this one is skipped")
            return
        async with running:
            await _sweep_once()

    async def _sweep_once() -> None:
        app.deps.metrics.sweeps.inc()
        try:
            report = await app.deps.calendar.sweep()
        except Exception as error:
            app.deps.metrics.sweeps_failed.inc()
            await app.deps.health.sweep_failed(error)
            app.deps.wakeup.set()
            raise
        await app.deps.health.sweep_succeeded()
        if report.items or report.marked_overdue:
            app.deps.wakeup.set()

    scheduler = build_scheduler(settings, settings.database_url, sweep)
    scheduler.start()
    app.bot_data[_SCHEDULER] = scheduler
    app.bot_data[_FIRST_SWEEP] = asyncio.get_running_loop().create_task(
        run_sweep(), name=_FIRST_SWEEP)


async def register_commands(application: DubanApplication) -> None:
    """setMyCommands in every supported language; Chinese is also the default list."""
    for locale in SUPPORTED_LOCALES:
        tr = get_translator(locale)
        commands = [BotCommand(name, tr.gettext(text)) for name, text in COMMANDS]
        language = locale.split("_")[0]
        await application.bot.set_my_commands(commands, scope=BotCommandScopeDefault(),
                                              language_code=language)
        if locale == "zh_CN":
            await application.bot.set_my_commands(commands, scope=BotCommandScopeDefault())


__all__ = ["COMMANDS", "ContextTypes", "Deps", "DubanApplication", "build_application",
           "build_deps"]
