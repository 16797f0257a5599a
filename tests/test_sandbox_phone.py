"""The sandbox on a phone (390×844, Chromium): the first-run guide, a card, a photo, a stale button.

The page on a phone leaves the screen to the chat: the persona picker, the clock and the chat
list sit in a drawer behind ☰ (or the one-line status in the top bar). The story dismisses the
first-run guide (and finds it stays dismissed after a reload), plays the 质监 liaison: 受理 on a
seeded card, a step with a photo, ``/case`` showing the evidence and sending it again, and an
earlier 确认 pressed after the step was recorded, which changes nothing. Screenshots go to
``build/screenshots/phone-*.png``.

Uses the fixtures' pieces of :mod:`tests.test_sandbox_browser`: skipped with the reason when
Chromium or Playwright is missing, failed instead when ``DUBAN_REQUIRE_BROWSER=1``. Every wait
is a condition with a timeout; nothing sleeps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from bot.devtools.sandbox import Sandbox, SandboxOptions
from tests.test_sandbox_browser import CHROMIUM, FLAGS, WAIT, Story, _playwright, png

PHONE = {"width": 390, "height": 844}
QUALITY_LIAISON = 20004  # 刘洋, 州质监局
REF = "CZ-2026-012"  # seeded: assigned to 州质监局, waiting for 受理

pytestmark = pytest.mark.asyncio(loop_scope="module")


class PhoneStory(Story):
    """The story's helpers, through the phone's drawer."""

    async def shot(self, name: str) -> None:
        await super().shot(f"phone-{name}")

    async def open_drawer(self) -> None:
        from playwright.async_api import expect

        if not await self.page.locator("#sidebar").is_visible():
            await self.page.click("#menu-toggle")
        await expect(self.page.locator("#sidebar")).to_be_visible()

    async def act_as(self, user_id: int) -> None:
        await self.open_drawer()
        await super().act_as(user_id)

    async def open_chat(self, chat_id: int) -> None:
        from playwright.async_api import expect

        await self.open_drawer()
        await super().open_chat(chat_id)
        await expect(self.page.locator("#sidebar")).to_be_hidden()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def phone(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PhoneStory]:
    async_playwright = _playwright()
    directory = tmp_path_factory.mktemp("sandbox-phone")
    async with Sandbox(SandboxOptions(directory=directory, port=0)) as sandbox:
        await sandbox.wait_ready(timeout=60)
        async with async_playwright() as playwright:
            context = await playwright.chromium.launch_persistent_context(
                str(tmp_path_factory.mktemp("chromium-phone")),
                executable_path=str(CHROMIUM), headless=True, args=FLAGS,
                viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
            page = context.pages[0] if context.pages else await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(sandbox.url)
            await page.wait_for_selector("body[data-ready='true']", timeout=WAIT)
            try:
                yield PhoneStory(sandbox, page)
            finally:
                await context.close()
            assert errors == [], f"JavaScript errors on the page: {errors}"


def inline(message: Any, label: str) -> Any:
    """The message's inline button with this label (not its 回复 link, which quotes the text)."""
    return message.locator("button.inline-button").filter(has_text=label)


async def box(locator: Any) -> dict[str, float]:
    found = await locator.bounding_box()
    assert found is not None, locator
    return dict(found)


async def test_phone_story(phone: PhoneStory) -> None:
    from playwright.async_api import expect

    page = phone.page
    await expect(page.locator("body")).to_have_attribute("data-layout", "phone")

    # The first-run guide: who to play and what to try; dismissed, and remembered.
    guide = page.locator("#guide")
    await expect(guide).to_be_visible()
    await expect(guide).to_contain_text("王玮中")
    await expect(guide).to_contain_text("受理")
    await expect(guide).to_contain_text("/status")
    await expect(guide).to_contain_text("签发")
    await phone.shot("01-guide")
    await page.click("#guide-dismiss")
    await expect(guide).to_be_hidden()
    await page.reload()
    await page.wait_for_selector("body[data-ready='true']", timeout=WAIT)
    await expect(page.locator("body")).to_have_attribute("data-guide", "closed")
    await expect(guide).to_be_hidden()

    # The chat has the screen: persona, clock and chats wait in the drawer.
    await phone.act_as(QUALITY_LIAISON)
    quality = phone.chat("department:quality")
    await phone.open_chat(quality)
    await expect(page.locator("#persona")).to_be_hidden()
    await expect(page.locator("#clock-now")).to_be_hidden()
    await expect(page.locator("#phone-status")).to_contain_text("刘洋")
    messages, composer = await box(page.locator("#messages")), await box(page.locator("#composer"))
    assert messages["height"] >= 0.6 * PHONE["height"], messages
    assert composer["y"] + composer["height"] <= PHONE["height"] + 1, composer
    assert messages["width"] >= PHONE["width"] - 2, messages
    await expect(page.locator("#composer-text")).to_be_visible()
    await phone.open_drawer()
    await expect(page.locator("#persona")).to_be_visible()
    await expect(page.locator('[data-clock="day"]')).to_be_visible()
    await phone.shot("02-drawer")
    await page.keyboard.press("Escape")
    await expect(page.locator("#sidebar")).to_be_hidden()

    # 受理 on the seeded card: the card changes in place.
    card = phone.card(REF)
    await card.wait_for(timeout=WAIT)
    card_id = await card.get_attribute("data-message-id")
    same_card = page.locator(f'#messages .message[data-message-id="{card_id}"]')
    await inline(card, "受理").first.click()
    await expect(same_card).to_contain_text("已受理", timeout=WAIT)
    await expect(inline(same_card, "受理")).to_have_count(0)
    await phone.shot("03-accepted")

    # A step with a photo; typing instead of pressing brings the summary again.
    await phone.press(same_card, "责令停产整改", "证明材料")
    before = await phone.bot_count()
    await page.set_input_files("#photo-input", files=[
        {"name": "现场照片.png", "mimeType": "image/png", "buffer": png()}])
    photo = page.locator("#messages .message.from-me").filter(has=page.locator("img")).last
    await expect(photo.locator("img")).to_be_visible(timeout=WAIT)
    first_check = await phone.wait_new_bot(before, "请核对")
    first_id = await first_check.get_attribute("data-message-id")
    earlier = page.locator(f'#messages .message[data-message-id="{first_id}"]')
    again = await phone.say("好的", "请点击")
    await expect(inline(again, "确认")).to_be_visible()
    recorded = phone.bot_messages().filter(has_text="已记录")
    await phone.press(again, "确认", "已记录")
    await expect(recorded).to_have_count(1)
    await expect(same_card).to_contain_text("整改中", timeout=WAIT)
    await phone.shot("04-step-with-photo")

    # /case shows the record and the evidence, and sends the photo again on request.
    case = await phone.say(f"/case {REF}", f"案件 {REF}")
    await expect(case).to_contain_text("证明材料")
    await expect(case).to_contain_text("责令停产整改")
    evidence = inline(case, "照片")
    await expect(evidence.first).to_be_visible()
    await phone.shot("05-case")
    before = await phone.bot_count()
    await evidence.first.click()
    resent = await phone.wait_new_bot(before)
    await expect(resent.locator("img")).to_be_visible(timeout=WAIT)
    await phone.shot("06-evidence-again")

    # The earlier summary's 确认, pressed after the step was recorded, records nothing.
    await expect(inline(earlier, "确认")).to_be_visible()
    await inline(earlier, "确认").click()
    dialog = page.locator("#alert-dialog")
    await expect(dialog).to_be_visible(timeout=WAIT)
    await expect(page.locator("#alert-text")).not_to_be_empty()
    await phone.shot("07-stale-button")
    await dialog.get_by_role("button").click()
    await expect(dialog).to_be_hidden()
    await expect(recorded).to_have_count(1)
    await expect(same_card).to_contain_text("整改中")
