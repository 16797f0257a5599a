"""A running duban Application on a test database, fed Update JSON, with a recording fake
of Telegram's HTTP side (see tests/telegram_fakes.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update

from bot.app import DubanApplication, build_application, build_deps
from bot.core.clock import ManualClock
from bot.core.policy.catalog import Catalog
from bot.settings import Settings
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
                    fake: RecordingRequest | None = None, users: Users | None = None) -> Bot:
    settings = Settings(telegram_bot_token=TOKEN)
    deps = build_deps(settings, engine, clock, catalog)
    fake = fake or RecordingRequest()
    app = build_application(settings, deps, request=fake)
    await app.initialize()
    await deps.chats.bootstrap_coordinators()
    return Bot(app, fake, users or Users(), clock)
