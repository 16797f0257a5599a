"""Running the bot: migrations, the organisation, then polling or a webhook server."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from telegram import Update

from bot.app import build_application, build_deps
from bot.core.clock import Clock, FileClock, SystemClock
from bot.core.i18n import N_, DubanError
from bot.core.org import load_org
from bot.core.policy.catalog import Catalog
from bot.services.org import OrgService
from bot.settings import Settings
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
    asyncio.run(prepare(settings))
    if clock is None:
        clock = (FileClock(settings.clock_file, settings.tz) if settings.clock_file
                 else SystemClock(settings.tz))
    deps = build_deps(settings, create_engine(settings.database_url), clock, catalog)
    application = build_application(settings, deps)
    log.info("duban starting (%s)", "webhook" if webhook else "long polling")
    if webhook is None:
        application.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
        return
    application.run_webhook(listen=webhook.listen, port=webhook.port, url_path=webhook.path,
                            webhook_url=webhook.url, secret_token=webhook.secret_token,
                            allowed_updates=Update.ALL_TYPES)
