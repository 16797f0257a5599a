"""End to end: ``duban run`` as its own process, talking HTTP to the local Bot API emulator.

Waits are conditions with timeouts (the emulator's wait helpers), never sleeps.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.trials.world import free_ports
from bot.devtools.emulator.client import ChatMessage, EmChat, EmulatorClient, EmUser
from bot.devtools.emulator.server import run_emulator

TOKEN = "424242:E2E-TEST-TOKEN"
ROOT = Path(__file__).resolve().parent.parent
DEMO_ORG = ROOT / "bot" / "data" / "demo_org.toml"
WAIT = 20.0


@dataclass
class BotProcess:
    env: dict[str, str]
    log: Path
    process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        handle = self.log.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", env=self.env, cwd=str(ROOT),
            stdout=handle, stderr=handle)

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), WAIT)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


@dataclass
class World:
    client: EmulatorClient
    bot: BotProcess
    coordinator: EmUser
    liaison: EmUser
    outsider: EmUser
    coordination: EmChat
    environment: EmChat
    manas: EmChat

    async def say(self, user: EmUser, chat: EmChat | int, text: str) -> ChatMessage:
        sent = await self.client.send_text(user, chat, text)
        return await self.reply_to(chat, sent.message_id)

    async def reply_to(self, chat: EmChat | int, message_id: int) -> ChatMessage:
        return await self.client.wait_for_message(
            chat, lambda m: m.from_bot and m.reply_to_message_id == message_id, timeout=WAIT)

    async def bot_says(self, chat: EmChat | int, test: Callable[[str], bool]) -> ChatMessage:
        return await self.client.wait_for_message(
            chat, lambda m: m.from_bot and test(m.body), timeout=WAIT)

    async def press(self, user: EmUser, chat: EmChat | int, message: ChatMessage,
                    label: str) -> object:
        button = next((b for b in message.buttons if label in b["text"]), None)
        assert button is not None, f"no {label!r} in {message.buttons}"
        return await self.client.press(user, chat, message.message_id,
                                       data=button["callback_data"], timeout=WAIT)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with run_emulator(TOKEN) as emulator:
        client = emulator.client
        coordinator = await client.create_user("王玮中", id=10001)
        liaison = await client.create_user("环保联络员", id=20002)
        outsider = await client.create_user("路人", id=55555)
        members = [coordinator, liaison, outsider]
        coordination = await client.create_group("协调组", members, chat_type="supergroup")
        environment = await client.create_group("环保群", members, chat_type="supergroup")
        manas = await client.create_group("玛纳斯县群", members, chat_type="supergroup")
        await client.private_chat(coordinator)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DUBAN_", "TELEGRAM_"))}
        env.update(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=emulator.base_url,
                   DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'duban.db'}",
                   DUBAN_ORG=str(DEMO_ORG), PYTHONUNBUFFERED="1")
        bot = BotProcess(env, tmp_path / "bot.log")
        await bot.start()
        try:
            await client.wait_until(lambda: _commands_set(client), timeout=WAIT)
            yield World(client, bot, coordinator, liaison, outsider, coordination,
                        environment, manas)
        finally:
            await bot.stop()
            log = (tmp_path / "bot.log").read_text(errors="replace")
            assert TOKEN.split(":")[1] not in log, "the token must never appear in the log"


async def _commands_set(client: EmulatorClient) -> bool | None:
    return True if await client.bot_commands(language_code="en") else None


async def test_story_over_http_with_restart(world: World) -> None:
    w = world
    # Commands registered in both languages.
    zh = await w.client.bot_commands(language_code="zh")
    assert any(c["command"] == "status" for c in zh)

    # The coordinator binds the chats.
    for chat, target in ((w.coordination, "coordination"), (w.environment, "环保局"),
                         (w.manas, "玛纳斯")):
        bound = await w.say(w.coordinator, chat, f"/bind {target}")
        assert "绑定" in bound.body

    # … and registers a case in a private chat.
    private = w.coordinator.id
    question = await w.say(w.coordinator, private, "/newcase")
    assert "县" in question.body
    await w.say(w.coordinator, private, "玛纳斯")
    industry = await w.say(w.coordinator, private, "玛纳斯县端到端水泥有限公司")
    await w.press(w.coordinator, private, industry, "水泥")
    clause = await w.bot_says(private, lambda t: "适用哪一条" in t)
    await w.press(w.coordinator, private, clause, "（五）")
    await w.bot_says(private, lambda t: "产能及单位" in t)
    await w.say(w.coordinator, private, "45 万吨/年")
    evidence = await w.say(w.coordinator, private, "颗粒物排放超标，群众举报")
    await w.press(w.coordinator, private, evidence, "跳过")
    summary = await w.bot_says(private, lambda t: "请核对" in t)
    await w.press(w.coordinator, private, summary, "确认")
    done = await w.bot_says(private, lambda t: "已立案" in t)
    ref = done.body.split()[1]

    # The environment chat gets the card; the county's chat sees it too.
    card = await w.bot_says(w.environment, lambda t: ref in t)
    await w.bot_says(w.manas, lambda t: ref in t)

    # An outsider's press is refused with an alert; nothing changes.
    refused = await w.press(w.outsider, w.environment, card, "受理")
    assert refused is not None and refused.show_alert  # type: ignore[attr-defined]

    # The 环保 liaison accepts; the card is edited in place.
    await w.press(w.liaison, w.environment, card, "受理")
    card = await w.client.wait_for_message(
        w.environment, lambda m: m.message_id == card.message_id and "已受理" in m.body,
        timeout=WAIT)
    assert card.edited

    # The liaison starts a step and sends a photo …
    await w.press(w.liaison, w.environment, card, "限制生产")
    await w.bot_says(w.environment, lambda t: "证明材料" in t)
    photo = await w.client.send_photo(w.liaison, w.environment, b"\xff\xd8\xff fake jpeg",
                                      "evidence.jpg")
    await w.reply_to(w.environment, photo.message_id)

    # … the bot restarts in the middle of the conversation …
    await w.bot.stop()
    await w.bot.start()

    # … and the conversation continues where it was.
    asked = await w.say(w.liaison, w.environment, "2027-06-30")
    assert "请核对" in asked.body
    await w.press(w.liaison, w.environment, asked, "确认")
    await w.bot_says(w.environment, lambda t: "已记录" in t)

    # /status 玛纳斯县 shows it, in Chinese and in English.
    status = await w.say(w.coordinator, w.coordination, "/status 玛纳斯县")
    assert "玛纳斯县" in status.body and "在办 1" in status.body
    assert "黄牌 1" in status.body
    await w.say(w.coordinator, w.coordination, "/lang en")
    status = await w.say(w.coordinator, w.coordination, "/status manasi")
    assert "Open 1" in status.body and "Yellow card 1" in status.body

    timeline = await w.say(w.coordinator, w.coordination, f"/case {ref}")
    assert "环保联络员" in timeline.body and "evidence: photo" in timeline.body
    assert "photo:" not in timeline.body, "no file ids in what people read"


async def test_webhook_mode_requires_and_checks_the_secret(tmp_path: Path) -> None:
    import aiohttp

    port = free_ports(1)[0]
    url = f"http://127.0.0.1:{port}/telegram"
    async with run_emulator(TOKEN) as emulator:
        client = emulator.client
        coordinator = await client.create_user("王玮中", id=10001)
        await client.private_chat(coordinator)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DUBAN_", "TELEGRAM_"))}
        env.update(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=emulator.base_url,
                   DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'duban.db'}",
                   DUBAN_ORG=str(DEMO_ORG))
        log = tmp_path / "bot.log"

        refused = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", "--webhook-url", url, "--port", str(port),
            env=env, cwd=str(ROOT), stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        output, _ = await asyncio.wait_for(refused.communicate(), WAIT)
        assert refused.returncode != 0 and b"secret" in output.lower()

        bot = BotProcess({**env, "DUBAN_WEBHOOK_SECRET": "s3cret-token"}, log)
        bot.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", "--webhook-url", url, "--port", str(port),
            env=bot.env, cwd=str(ROOT), stdout=log.open("ab"), stderr=log.open("ab"))
        try:
            info = await client.wait_until(lambda: _webhook_set(client), timeout=WAIT)
            assert info["url"] == url
            sent = await client.send_text(coordinator, coordinator.id, "/whoami")
            answer = await client.wait_for_message(
                coordinator.id, lambda m: m.from_bot and m.reply_to_message_id == sent.message_id,
                timeout=WAIT)
            assert "协调员" in answer.body
            async with aiohttp.ClientSession() as http:
                forged = {"update_id": 999, "message": {
                    "message_id": 1, "date": 0, "text": "/whoami",
                    "chat": {"id": 10001, "type": "private"},
                    "from": {"id": 10001, "is_bot": False, "first_name": "x"}}}
                async with http.post(url, json=forged) as reply:
                    assert reply.status == 403
                async with http.post(url, json=forged, headers={
                        "X-Telegram-Bot-Api-Secret-Token": "wrong"}) as reply:
                    assert reply.status == 403
        finally:
            await bot.stop()


async def _webhook_set(client: EmulatorClient) -> dict[str, object] | None:
    info = await client.webhook_info()
    return info if info.get("url") else None
