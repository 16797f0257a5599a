"""The composition root: builds the services once and the python-telegram-bot Application.

Handlers reach the services through :class:`Deps`, carried by the application and exposed by
the typed context (``handlers.context.DubanContext``), never through module globals.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import BotCommand, BotCommandScopeDefault
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes
from telegram.request import BaseRequest

from bot.core.buttons import ButtonCodec
from bot.core.clock import Clock
from bot.core.i18n import N_, SUPPORTED_LOCALES, get_translator
from bot.core.org import Org
from bot.core.policy.catalog import Catalog
from bot.services.calendar import CalendarService
from bot.services.cases import CaseService
from bot.services.chats import ChatService
from bot.services.dialogs import DialogService
from bot.services.org import OrgService
from bot.services.outbox import OutboxStore
from bot.services.status import StatusService
from bot.settings import Settings
from models.db import session_factory
from scheduler.workdays import WorkCalendar, load_overrides

log = logging.getLogger(__name__)

# (command, description) in the order shown by Telegram clients.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("status", N_("Where things stand (optionally for a county: /status 玛纳斯县)")),
    ("case", N_("A case's timeline: /case REF")),
    ("mine", N_("This chat's open items")),
    ("overdue", N_("Overdue cases")),
    ("newcase", N_("Register a case (coordinators)")),
    ("lists", N_("Yellow and red card lists: /lists yellow")),
    ("report", N_("The county's yearly report: /report 玛纳斯县 2026")),
    ("bind", N_("Bind this chat (coordinators): /bind 环保局")),
    ("invite", N_("An invite code for this chat (coordinators)")),
    ("join", N_("Register as this chat's liaison: /join CODE")),
    ("whoami", N_("Who the bot thinks you are")),
    ("lang", N_("Language: /lang zh or /lang en")),
    ("cancel", N_("Stop the current question")),
    ("help", N_("What you can do here")),
)


@dataclass
class Deps:
    """Everything handlers need, built once."""

    settings: Settings
    clock: Clock
    engine: AsyncEngine
    catalog: Catalog
    sessions: async_sessionmaker[AsyncSession] = field(init=False)
    cases: CaseService = field(init=False)
    chats: ChatService = field(init=False)
    dialogs: DialogService = field(init=False)
    org_service: OrgService = field(init=False)
    outbox: OutboxStore = field(init=False)
    status: StatusService = field(init=False)
    calendar: CalendarService = field(init=False)
    codec: ButtonCodec = field(init=False)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    _org: Org | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.sessions = session_factory(self.engine)
        self.cases = CaseService(self.sessions, self.catalog, self.clock)
        self.chats = ChatService(self.sessions, self.clock,
                                 frozenset(self.settings.coordinators))
        self.org_service = OrgService(self.sessions)
        self.dialogs = DialogService(self.sessions, self.clock, self.cases, self.org)
        self.outbox = OutboxStore(self.sessions)
        self.status = StatusService(self.sessions, self.settings.tz)
        self.codec = ButtonCodec.from_token(self.settings.telegram_bot_token or "sandbox")
        overrides = load_overrides(self.settings.holidays) if self.settings.holidays else ()
        self.calendar = CalendarService(self.sessions, self.clock, self.catalog,
                                        WorkCalendar(overrides), self.cases, self.org)
        self.dialogs.calendar = self.calendar

    async def org(self) -> Org:
        """The organisation, read once from the database (reloaded with ``reload_org``)."""
        if self._org is None:
            self._org = await self.org_service.current()
        return self._org

    def reload_org(self) -> None:
        self._org = None


class DubanApplication(Application):
    """A PTB Application that carries the services."""

    deps: Deps


def build_application(deps: Deps, request: BaseRequest | None = None) -> DubanApplication:
    """The one place that builds the Application and registers every handler.

    ``request`` replaces the HTTP layer (tests and benchmarks pass a recording fake).
    """
    from handlers import register
    from handlers.context import context_types

    token = deps.settings.telegram_bot_token
    if not token:
        raise ValueError("build_application needs a bot token")
    builder: ApplicationBuilder = (
        ApplicationBuilder()
        .application_class(DubanApplication)
        .token(token)
        .context_types(context_types())
        .rate_limiter(rate_limiter(deps.settings))
        .concurrent_updates(False)
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    base = deps.settings.telegram_api_base_url
    if base:
        base = base.rstrip("/")
        builder = builder.base_url(f"{base}/bot").base_file_url(f"{base}/file/bot")
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    application: DubanApplication = builder.build()  # type: ignore[assignment]
    application.deps = deps
    register(application)
    return application


def rate_limiter(settings: Settings) -> AIORateLimiter:
    """Telegram's sending limits (30 messages a second, 20 a minute per group) in production;
    in the sandbox and tests only the overall limit, so a demo chat is not paced at one
    message every three seconds. Both retry on RetryAfter."""
    if settings.mode == "production":
        # Telegram's 30 a second, paced evenly: a bucket of 30 would first let a burst of 30
        # through, which a strict one-second window answers with 429 and a wait.
        return AIORateLimiter(overall_max_rate=1, overall_time_period=1 / 30, max_retries=5)
    return AIORateLimiter(overall_max_rate=30, overall_time_period=1, group_max_rate=0,
                          max_retries=5)


async def _post_init(application: Application) -> None:
    from handlers.delivery import start_delivery

    app: DubanApplication = application  # type: ignore[assignment]
    await app.deps.chats.bootstrap_coordinators()
    await register_commands(app)
    start_delivery(app)
    start_calendar(app)


async def _post_shutdown(application: Application) -> None:
    from handlers.delivery import stop_delivery

    app: DubanApplication = application  # type: ignore[assignment]
    scheduler = app.bot_data.pop(_SCHEDULER, None)
    if scheduler is not None:
        scheduler.shutdown(wait=False)
    await stop_delivery(app)


_SCHEDULER = "duban.scheduler"
_FIRST_SWEEP = "duban.first-sweep"


def start_calendar(app: DubanApplication) -> None:
    """Start APScheduler with the persistent sweep job, and sweep once now (catch-up)."""
    from scheduler.jobs import build_scheduler

    async def sweep() -> None:
        report = await app.deps.calendar.sweep()
        if report.items or report.marked_overdue:
            app.deps.wakeup.set()

    scheduler = build_scheduler(app.deps.settings, app.deps.settings.database_url, sweep)
    scheduler.start()
    app.bot_data[_SCHEDULER] = scheduler
    app.bot_data[_FIRST_SWEEP] = asyncio.get_running_loop().create_task(
        sweep(), name=_FIRST_SWEEP)


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


__all__ = ["COMMANDS", "ContextTypes", "Deps", "DubanApplication", "build_application"]
