"""The sandbox in a real browser: Debian's headless Chromium driven by Playwright.

A story walks through the page as people would: the coordinator registers a case, an outsider's
press is refused, the 环保 liaison accepts it and confirms a step with a photo, the coordinator
asks for ``/status 玛纳斯县``; then the clock panel moves time past the deadline and the
reminder and the 通报 arrive. Screenshots of the main states go to ``build/screenshots/``.

Skipped (with the reason) only when ``/usr/bin/chromium`` or Playwright is missing and
``DUBAN_REQUIRE_BROWSER`` is not ``1``; CI sets it, so there a missing browser fails. Every wait
is a condition with a timeout (Playwright's ``expect`` and ``wait_for_*``); nothing sleeps.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.devtools.sandbox import Sandbox, SandboxOptions

CHROMIUM = Path("/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("DUBAN_REQUIRE_BROWSER") == "1"
ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "build" / "screenshots"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT = 30_000  # milliseconds, for answers from the bot
SCHEDULER_WAIT = 30_000

COORDINATOR, ENV_LIAISON, OUTSIDER = 10001, 20002, 90001
DEADLINE = "2026-12-15"

pytestmark = pytest.mark.asyncio(loop_scope="module")


def _missing(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"DUBAN_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(f"browser test skipped: {reason} (set DUBAN_REQUIRE_BROWSER=1 to fail instead)")


def _playwright() -> Any:
    if not CHROMIUM.exists():
        _missing("/usr/bin/chromium is not installed (apt-get install chromium)")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _missing("Playwright is not installed (pip install playwright)")
    return async_playwright


def png(width: int = 160, height: int = 100) -> bytes:
    """A small real PNG (a two-colour picture), so the page shows an actual image."""
    rows = b"".join(b"\x00" + b"".join(
        bytes((200, 40, 40) if (x // 20 + y // 20) % 2 else (250, 220, 60))
        for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


async def bot_sends_document(sandbox: Sandbox, chat_id: int, name: str, data: bytes) -> None:
    """What the bot does for a report: sendDocument through the Bot API."""
    from aiohttp import ClientSession, FormData

    assert sandbox.emulator is not None and sandbox.meta is not None
    form = FormData()
    form.add_field("chat_id", str(chat_id))
    form.add_field("document", data, filename=name,
                   content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    url = f"{sandbox.emulator.base_url}/bot{sandbox.meta.token}/sendDocument"
    async with ClientSession() as http, http.post(url, data=form) as reply:
        assert reply.status == 200, await reply.text()


@dataclass
class Story:
    """What the first test leaves for the next: the page and the case it created."""

    sandbox: Sandbox
    page: Any
    ref: str | None = None
    shots: list[Path] = field(default_factory=list)

    def chat(self, key: str) -> int:
        assert self.sandbox.meta is not None
        return self.sandbox.meta.chat_id(key)

    async def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=False)
        self.shots.append(path)

    # ---- acting through the page

    async def act_as(self, user_id: int) -> None:
        await self.page.select_option("#persona", str(user_id))
        await self.page.wait_for_selector(f"body[data-persona='{user_id}']", state="attached")

    async def open_chat(self, chat_id: int) -> None:
        await self.page.click(f'.chat-button[data-chat-id="{chat_id}"]')
        await self.page.wait_for_selector(f'#messages[data-chat-id="{chat_id}"]',
                                          state="attached")

    def bot_messages(self) -> Any:
        return self.page.locator('#messages .message[data-from-bot="true"]')

    async def bot_count(self) -> int:
        return int(await self.bot_messages().count())

    async def wait_new_bot(self, before: int, text: str | None = None,
                           timeout: int = WAIT) -> Any:
        """The first bot message after the first ``before`` ones (containing ``text``)."""
        await self.page.wait_for_function(
            "n => document.querySelectorAll('#messages .message[data-from-bot=\"true\"]')"
            ".length > n", arg=before, timeout=timeout)
        newer = self.bot_messages().nth(before)
        if text is None:
            return newer
        found = self.bot_messages().filter(has_text=text).last
        await found.wait_for(timeout=timeout)
        return found

    async def say(self, text: str, expect_text: str | None = None) -> Any:
        before = await self.bot_count()
        await self.page.fill("#composer-text", text)
        await self.page.press("#composer-text", "Enter")
        return await self.wait_new_bot(before, expect_text)

    async def press(self, message: Any, label: str, expect_text: str | None = None) -> Any:
        before = await self.bot_count()
        await message.get_by_role("button", name=label).first.click()
        if expect_text is None:
            return None
        return await self.wait_new_bot(before, expect_text)

    def card(self, ref: str) -> Any:
        return self.bot_messages().filter(has_text=f"【督办 {ref}】").last

    async def clock_date(self) -> str:
        value = await self.page.get_attribute("#clock-now", "datetime")
        assert value
        return value[:10]

    async def move_clock(self, action: str) -> str:
        before = await self.page.get_attribute("#clock-now", "datetime")
        await self.page.click(f'[data-clock="{action}"]')
        await self.page.wait_for_function(
            "old => document.querySelector('#clock-now').dateTime !== old", arg=before)
        return await self.clock_date()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def story(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Story]:
    async_playwright = _playwright()
    directory = tmp_path_factory.mktemp("sandbox")
    async with Sandbox(SandboxOptions(directory=directory, port=0)) as sandbox:
        await sandbox.wait_ready(timeout=60)
        async with async_playwright() as playwright:
            context = await playwright.chromium.launch_persistent_context(
                str(tmp_path_factory.mktemp("chromium-profile")),
                executable_path=str(CHROMIUM), headless=True, args=FLAGS,
                viewport={"width": 1280, "height": 860}, accept_downloads=True)
            page = context.pages[0] if context.pages else await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(sandbox.url)
            await page.wait_for_selector("body[data-ready='true']", timeout=WAIT)
            try:
                yield Story(sandbox, page)
            finally:
                await context.close()
            assert errors == [], f"JavaScript errors on the page: {errors}"


async def test_story_through_the_page(story: Story) -> None:
    from playwright.async_api import expect

    page = story.page
    await expect(page.locator("#clock-now")).to_have_attribute("datetime", re.compile("2026-12-01"))
    await expect(page.locator("#bot-state")).to_have_attribute("data-state", "running")
    await story.shot("01-start")
    # The first-run guide is shown once; dismissed, it stays out of the way.
    await expect(page.locator("#guide")).to_be_visible()
    await page.click("#guide-dismiss")
    await expect(page.locator("#guide")).to_be_hidden()

    # The coordinator registers a case in the private chat with the bot.
    await story.act_as(COORDINATOR)
    await story.open_chat(COORDINATOR)
    await story.say("/newcase", "县")
    await story.say("玛纳斯")
    industry = await story.say("玛纳斯县浏览器测试水泥有限公司")
    clause = await story.press(industry, "水泥", "适用哪一条")
    await story.press(clause, "（五）", "产能及单位")
    await story.say("45 万吨/年")
    evidence = await story.say("颗粒物排放超标，群众举报")
    summary = await story.press(evidence, "跳过", "请核对")
    done = await story.press(summary, "确认", "已立案")
    text = await done.locator(".text").inner_text()
    story.ref = ref = text.split()[1]  # "案件 CZ-2026-013 已立案并分派。"
    assert ref.startswith("CZ-"), text
    await story.shot("02-case-created")

    # An outsider in the 环保 group presses 受理: refused, with an alert.
    environment = story.chat("department:environment")
    await story.act_as(OUTSIDER)
    await story.open_chat(environment)
    card = story.card(ref)
    await card.wait_for(timeout=WAIT)
    await card.get_by_role("button", name="受理").first.click()
    dialog = page.locator("#alert-dialog")
    await expect(dialog).to_be_visible(timeout=WAIT)
    await expect(page.locator("#alert-text")).not_to_be_empty()
    await story.shot("03-outsider-refused")
    await dialog.get_by_role("button").click()
    await expect(dialog).to_be_hidden()
    await expect(card).not_to_contain_text("已受理")

    # The 环保 liaison accepts; the card changes in place.
    await story.act_as(ENV_LIAISON)
    await story.open_chat(environment)
    card = story.card(ref)
    card_id = await card.get_attribute("data-message-id")
    await card.get_by_role("button", name="受理").first.click()
    same_card = page.locator(f'#messages .message[data-message-id="{card_id}"]')
    await expect(same_card).to_contain_text("已受理", timeout=WAIT)
    await expect(same_card.locator(".edited")).to_be_visible()
    await story.shot("04-accepted-in-place")

    # … and confirms a step with a photo and a date.
    await story.press(same_card, "限制生产", "证明材料")
    before = await story.bot_count()
    picture = png()
    await page.set_input_files("#photo-input", files=[
        {"name": "现场照片.png", "mimeType": "image/png", "buffer": picture}])
    photo = page.locator("#messages .message.from-me").filter(has=page.locator("img")).last
    await expect(photo.locator("img")).to_be_visible(timeout=WAIT)
    await story.wait_new_bot(before)
    check = await story.say(DEADLINE, "请核对")
    await story.press(check, "确认", "已记录")
    await story.shot("05-step-confirmed-with-photo")

    # The photo can be downloaded from the page, byte for byte.
    async with page.expect_download() as download_info:
        await photo.locator("a.download").click()
    download = await download_info.value
    saved = await download.path()
    assert saved is not None and Path(saved).read_bytes() == picture

    # The coordinator asks for the county's status in the coordination group.
    coordination = story.chat("coordination")
    await story.act_as(COORDINATOR)
    await story.open_chat(coordination)
    status = await story.say("/status 玛纳斯县", "玛纳斯县")
    await expect(status).to_contain_text(re.compile(r"在办 \d+"))
    files = status.locator("a.download")
    if await files.count():  # the chart the bot sends can be downloaded too
        async with page.expect_download() as chart_info:
            await files.first.click()
        chart = await (await chart_info.value).path()
        assert chart is not None and Path(chart).read_bytes()[:4] == b"\x89PNG"
    await story.shot("06-status")

    # A file the bot sends (sendDocument, as report commands do) appears live and downloads.
    report = "昌州产能退出报告.xlsx".encode() + bytes(range(256)) * 8
    await bot_sends_document(story.sandbox, coordination, "2026年度报告.xlsx", report)
    sent = story.bot_messages().filter(has_text="2026年度报告.xlsx").last
    await sent.wait_for(timeout=WAIT)
    async with page.expect_download() as report_info:
        await sent.locator("a.download").click()
    received = await report_info.value
    assert received.suggested_filename == "2026年度报告.xlsx"
    path = await received.path()
    assert path is not None and Path(path).read_bytes() == report

    # The page speaks English on request, and fits a phone.
    await page.click("#lang-toggle")
    await expect(page.locator("#clock-heading")).to_have_text("Simulated time")
    await story.shot("07-english")
    await page.click("#lang-toggle")
    await expect(page.locator("#clock-heading")).to_have_text("模拟时间")
    await page.set_viewport_size({"width": 390, "height": 844})
    await story.shot("08-phone")
    await page.click("#menu-toggle")
    await expect(page.locator("#sidebar")).to_be_visible()
    await story.shot("09-phone-chats")
    await page.keyboard.press("Escape")
    await expect(page.locator("#sidebar")).to_be_hidden()
    await page.set_viewport_size({"width": 1280, "height": 860})


async def test_clock_brings_reminder_then_notice(story: Story) -> None:
    from playwright.async_api import expect

    if story.ref is None:
        pytest.fail("the story before this test did not create its case")
    ref = story.ref
    page = story.page

    # Move to the case's deadline, then one day past it.
    for _ in range(8):
        if await story.clock_date() >= DEADLINE:
            break
        await story.move_clock("deadline")
    assert await story.clock_date() == DEADLINE
    await story.move_clock("day")

    # The 环保 group gets the reminder …
    await story.act_as(ENV_LIAISON)
    await story.open_chat(story.chat("department:environment"))
    reminder = (story.bot_messages().filter(has_text=ref).filter(has_text="逾期")
                .filter(has_not_text="【督办 "))  # a message, not the case's card
    await expect(reminder.first).to_be_visible(timeout=SCHEDULER_WAIT)
    await story.shot("10-reminder")

    # … and, once it is still overdue after the working days the org allows, the 通报.
    await story.move_clock("week")
    await story.move_clock("week")
    await story.act_as(COORDINATOR)
    await story.open_chat(story.chat("coordination"))
    notice = story.bot_messages().filter(has_text="通报").filter(has_text=ref)
    await expect(notice.first).to_be_visible(timeout=SCHEDULER_WAIT)
    await story.shot("11-notice")

    await story.say("/status 玛纳斯县", "📊 玛纳斯县")
    # The answer to this /status (not the story's earlier one) counts both overdue cases.
    status = story.bot_messages().filter(has_text=re.compile(r"📊 玛纳斯县[\s\S]*逾期 [2-9]"))
    await expect(status.last).to_be_visible(timeout=SCHEDULER_WAIT)
    await story.shot("12-status-after")
    assert page.url.startswith(story.sandbox.url)
