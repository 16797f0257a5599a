"""A running duban Application on a test database, fed Update JSON, with a recording fake
of Telegram's HTTP side (see tests/telegram_fakes.py)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update

from bot.app import DubanApplication, build_application, build_deps
from bot.core.clock import ManualClock
from bot.core.policy.catalog import Catalog
from bot.settings import Settings, default_evidence_dir
from handlers.delivery import Delivery
from tests.telegram_fakes import RecordingRequest, Sent, Users

TOKEN = "123456:TEST-TOKEN"


@dataclass
class Bot:
    app: DubanApplication
    fake: RecordingRequest
    users: Users
    clock: ManualClock

    async def feed(self, update: dict[str, Any]) -> None:
        await self.app.process_update(Update.de_json(update, self.app.bot))

    async def say(self, user: tuple[int, str], chat: int, text: str) -> None:
        await self.feed(self.users.message(user, chat, text))

    async def press(self, user: tuple[int, str], sent: Sent, label: str) -> dict[str, Any]:
        before = len(self.fake.alerts)
        await self.feed(self.users.press(user, sent, sent.button(label)))
        assert len(self.fake.alerts) == before + 1, "every press is answered"
        return self.fake.alerts[-1]

    async def deliver(self) -> int:
        return await Delivery(self.app).deliver_due()

    def last(self, chat: int) -> Sent:
        return self.fake.last(chat)

    def last_with(self, chat: int, marker: str) -> str:
        """The text of the latest message in ``chat`` that contains ``marker``."""
        for sent in reversed(self.fake.in_chat(chat)):
            if marker in sent.text:
                return sent.text
        raise AssertionError(f"no message with {marker!r} in {chat}")


async def start_bot(engine: AsyncEngine, clock: ManualClock, catalog: Catalog,
                    fake: RecordingRequest | None = None, users: Users | None = None,
                    evidence_dir: Path | None = None) -> Bot:
    """``evidence_dir``: where evidence files are kept; if not given, beside the test's SQLite
    database (as in production: a restarted bot finds them again), else a fresh temporary
    folder removed at exit; never the working directory."""
    if evidence_dir is None:
        evidence_dir = default_evidence_dir(engine.url.render_as_string(hide_password=False))
        if not evidence_dir.is_absolute():
            evidence_dir = Path(tempfile.gettempdir()) / f"duban-evidence-{uuid.uuid4().hex}"
            atexit.register(shutil.rmtree, evidence_dir, True)
    settings = Settings(telegram_bot_token=TOKEN, evidence_dir=evidence_dir)
    deps = build_deps(settings, engine, clock, catalog)
    fake = fake or RecordingRequest()
    app = build_application(settings, deps, request=fake)
    await app.initialize()
    await deps.chats.bootstrap_coordinators()
    return Bot(app, fake, users or Users(), clock)
