"""People read words, never keys: a story through the chats in Chinese and in English, and a
scan of every message, caption, edit and alert the bot sent, and of the English catalog.

The scan fails on an internal key (snake_case identifiers, state, step and industry keys), a
file id (``photo:…``), a time with seconds or an ISO timestamp, and, in English, full-width
punctuation that does not quote Chinese. Along the way the story checks the dead ends the
issue names: a card that waits for another department says so, the one extension allowed is
no longer offered once asked for, a decided request keeps no buttons, unknown commands and
free text get an answer, a reply to a card becomes a note.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from babel.messages.pofile import read_po

from bot.core.clock import ManualClock
from bot.core.i18n import LOCALES_DIR
from bot.core.workflow import State
from handlers import COMMAND_HANDLERS
from tests.bot_harness import Bot
from tests.test_bot_app import (
    COORDINATION,
    COORDINATOR,
    INDUSTRY,
    MANAS,
    OUTSIDER,
    REFORM,
    bind_all,
)
from tests.test_calendar_chat import INDUSTRY_LIAISON, REFORM_LIAISON, at

SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")
KEYS = re.compile(r"\b(?:routed|rectifying|extension_requested|shutdown_ordered|"
                  r"closure_requested|request_extension|deny_extension|approve_extension|"
                  r"development_reform|mark_overdue|confirm_rectified)\b")
FILE_ID = re.compile(r"\b(?:photo|document):\S")
SECONDS = re.compile(r"\b\d{1,2}:\d{2}:\d{2}\b")
ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}")
FULL_WIDTH = re.compile(r"[，：。；（）、！？【】]")
CJK = re.compile(r"[\u4e00-\u9fff]")
ZH_ONLY_KEYS = re.compile(r"\b(?:cement|steel|flat glass|industry|environment)\b")
#: English texts that show the Chinese syntax a person must type (the punctuation is it).
QUOTES_CHINESE_SYNTAX = ("role：bodies", "separated by 、")


def problems(text: str, english: bool) -> list[str]:
    # In English "routed" and "rectifying" are words; in Chinese they are leaked keys.
    patterns = (SNAKE, FILE_ID, SECONDS, ISO_MOMENT) + (() if english else (KEYS,))
    found = [m.group() for pattern in patterns for m in pattern.finditer(text)]
    if english:
        found += [f"{m.group()} in …{text[max(0, m.start() - 8):m.end() + 8]}…"
                  for m in FULL_WIDTH.finditer(text)
                  if not CJK.search(text[max(0, m.start() - 6):m.end() + 6])]
    else:
        found += [m.group() for m in ZH_ONLY_KEYS.finditer(text)]
    return found


def everything_sent(bot: Bot) -> list[str]:
    texts = [m.text for m in bot.fake.messages.values()]
    texts += [m for sent in bot.fake.messages.values() for m in sent.history]
    texts += [label for sent in bot.fake.messages.values() for label, _ in sent.buttons()]
    texts += [str(a.get("text") or "") for a in bot.fake.alerts]
    texts += [str(c.get("caption") or "") for c in bot.fake.called("sendDocument")]
    texts += [str(c.get("caption") or "") for c in bot.fake.called("sendPhoto")]
    return [t for t in texts if t]


def card_of(bot: Bot, chat: int, ref: str):  # type: ignore[no-untyped-def]
    """The case's card in the chat (as edited since)."""
    return next(m for m in reversed(bot.fake.in_chat(chat))
                if ref in m.text and m.text.startswith(("【", "[Case")))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 5, 2, tzinfo=UTC))


async def _story(bot: Bot, english: bool) -> None:
    await bind_all(bot)
    chats = (COORDINATION, INDUSTRY, REFORM, MANAS, COORDINATOR[0])
    if english:
        for chat in chats:
            await bot.say(COORDINATOR, chat, "/lang en")
    private = COORDINATOR[0]
    words = {"accept": "Accept", "confirm": "Confirm", "skip": "Skip", "cement": "cement",
             "clause": "(4)", "order": "Order rectification", "extend": "Request an extension",
             "approve": "Approve", "sign": "Sign off"} if english else {
        "accept": "受理", "confirm": "确认", "skip": "跳过", "cement": "水泥", "clause": "（四）",
        "order": "责令限期整改", "extend": "申请延期", "approve": "批准", "sign": "签发"}
    await bot.say(COORDINATOR, private, "/newcase")
    await bot.say(COORDINATOR, private, "玛纳斯")
    await bot.say(COORDINATOR, private, "玛纳斯县读者测试水泥厂")
    await bot.press(COORDINATOR, bot.last(private), words["cement"])
    await bot.press(COORDINATOR, bot.last(private), words["clause"])
    await bot.say(COORDINATOR, private, "60 万吨/年")
    await bot.say(COORDINATOR, private, "熟料能耗超标")
    await bot.press(COORDINATOR, bot.last(private), words["skip"])
    summary = bot.last(private).text
    assert ("Industry: cement" in summary) if english else ("行业：水泥" in summary)
    await bot.press(COORDINATOR, bot.last(private), words["confirm"])
    ref = bot.last(private).text.split()[1]
    await bot.deliver()

    # Accepted by one department only: its card says whom it waits for.
    await bot.press(INDUSTRY_LIAISON, bot.last(INDUSTRY), words["accept"])
    await bot.deliver()
    card = card_of(bot, INDUSTRY, ref)
    assert not card.buttons()
    assert ("Waiting for" in card.text) if english else ("受理后可办理" in card.text)
    await bot.press(REFORM_LIAISON, bot.last(REFORM), words["accept"])
    await bot.deliver()
    card = card_of(bot, INDUSTRY, ref)
    await bot.press(INDUSTRY_LIAISON, card, words["order"])
    await bot.feed(bot.users.document(INDUSTRY_LIAISON, INDUSTRY, "order-1", "整改通知.pdf",
                                      "application/pdf"))
    await bot.press(INDUSTRY_LIAISON, bot.last(INDUSTRY), words["confirm"])
    await bot.deliver()

    # The one extension allowed: asked for, then no longer offered; decided, no buttons left.
    card = card_of(bot, INDUSTRY, ref)
    await bot.press(INDUSTRY_LIAISON, card, words["extend"])
    await bot.press(INDUSTRY_LIAISON, bot.last(INDUSTRY), "2")
    await bot.say(INDUSTRY_LIAISON, INDUSTRY, "设备改造需要时间")
    await bot.press(INDUSTRY_LIAISON, bot.last(INDUSTRY), words["confirm"])
    await bot.deliver()
    request = next(m for m in reversed(bot.fake.in_chat(COORDINATION)) if m.buttons())
    await bot.press(COORDINATOR, request, words["approve"])
    assert not bot.fake.messages[(COORDINATION, request.message_id)].buttons()
    await bot.deliver()
    card = card_of(bot, INDUSTRY, ref)
    assert words["extend"] not in [label for label, _ in card.buttons()]

    # Unknown commands, free text, a reply to a card.
    await bot.say(COORDINATOR, private, "/nosuchthing")
    assert "/help" in bot.last(private).text
    await bot.say(OUTSIDER, OUTSIDER[0], "你好")
    assert "/help" in bot.last(OUTSIDER[0]).text
    replied = {"message_id": card.message_id, "date": 1780000000,
               "chat": bot.users.chat(INDUSTRY),
               "from": {"id": 123456, "is_bot": True, "first_name": "duban"}}
    await bot.feed(bot.users.message(INDUSTRY_LIAISON, INDUSTRY, "企业已提交整改方案",
                                     reply_to_message=replied))
    await bot.press(INDUSTRY_LIAISON, bot.last(INDUSTRY), words["confirm"])
    view = await bot.app.deps.cases.get(ref)
    assert view.events[-1].kind == "note"

    for command in ("/help", f"/case {ref}", "/status", "/status 玛纳斯", "/overdue", "/mine",
                    "/duties", "/policy 四"):
        await bot.say(COORDINATOR, COORDINATION, command)
    await bot.say(INDUSTRY_LIAISON, INDUSTRY, "/mine")
    await bot.say(OUTSIDER, OUTSIDER[0], "/help")

    # The calendar: past the deadline, the ladder, the draft notice and its sign-off.
    calendar = bot.app.deps.calendar
    for day in (date(2026, 9, 7), date(2026, 9, 10), date(2026, 9, 16), date(2026, 9, 28)):
        bot.clock.set(at(day))
        await calendar.sweep()
        await bot.deliver()
    draft = next(m for m in bot.fake.in_chat(COORDINATION) if m.buttons()
                 and words["sign"] in [label for label, _ in m.buttons()])
    await bot.press(COORDINATOR, draft, words["sign"])
    await bot.deliver()
    await bot.say(COORDINATOR, COORDINATION, f"/case {ref}")
    await bot.say(COORDINATOR, COORDINATION, "/mine")
    assert (await bot.app.deps.cases.get(ref)).case.state != State.ROUTED


@pytest.mark.parametrize("english", [False, True], ids=["zh_CN", "en"])
async def test_every_message_of_a_story_reads_as_words(bot: Bot, english: bool) -> None:
    await _story(bot, english)
    found = {text[:80]: problems(text, english) for text in everything_sent(bot)}
    found = {text: p for text, p in found.items() if p}
    assert not found, "\n".join(f"{t!r}: {p}" for t, p in found.items())


def test_the_english_catalog_keeps_chinese_punctuation_for_chinese_only() -> None:
    catalog = read_po((LOCALES_DIR / "en" / "LC_MESSAGES" / "messages.po").open("rb"),
                      locale="en")
    bad = []
    for message in catalog:
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        for text in strings:
            if text and not any(q in text for q in QUOTES_CHINESE_SYNTAX):
                bad += problems(text, english=True)
    # Setting names (nudge_days_before) and input examples (2026-12-01T09:00+08:00) are what
    # people type; only the punctuation is checked here.
    assert not [b for b in bad if not SNAKE.fullmatch(b.split(" ")[0])
                and not ISO_MOMENT.fullmatch(b)], bad


@pytest.mark.parametrize("role", ["coordinator", "liaison", "outsider"])
async def test_help_lists_every_command_the_reader_may_use(bot: Bot, role: str) -> None:
    await bind_all(bot)
    who = {"coordinator": COORDINATOR, "liaison": INDUSTRY_LIAISON, "outsider": OUTSIDER}[role]
    await bot.say(who, who[0], "/help")
    text = bot.last(who[0]).text
    assert "【" in text, "headings"
    everyone = {"lists", "duties", "policy", "whoami", "lang", "help"}
    readers = everyone | {"case", "overdue", "mine", "status", "summons", "report", "cancel"}
    coordinators = set(COMMAND_HANDLERS) - {"start", "join"}
    wanted = {"coordinator": coordinators, "liaison": readers, "outsider": everyone}[role]
    missing = [c for c in sorted(wanted) if f"/{c}" not in text]
    assert not missing, missing
    if role == "outsider":
        assert "/join" in text and "/newcase" not in text
