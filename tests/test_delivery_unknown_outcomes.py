"""Sends whose outcome is unknown (docs/outbox.md): a numbered notice sent again says it is
the same notice, a card posted twice keeps one set of live buttons, a failed send waits in
real time (not in the bot's clock, which may stand still), and the outbox remembers which rows
may already have been delivered."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import col, select

from bot.core.casefile import CaseInput
from bot.core.clock import ManualClock
from bot.core.i18n import get_translator
from bot.render import texts
from bot.render.calendar_texts import NOTICE_REPEATED
from bot.services.access import Who
from bot.services.outbox import CLAIM_LEASE, MAX_ATTEMPTS, UNKNOWN_OUTCOME, Kind, enqueue
from handlers.delivery import Delivery
from models.db import transaction
from models.tables import Outbox
from tests.bot_harness import Bot
from tests.test_bot_app import COORDINATION, COORDINATOR, INDUSTRY, MANAS, bind_all
from tests.test_calendar_chat import INDUSTRY_LIAISON, _queued_digest, at
from tests.test_calendar_chat import energy_case_in_rectification as case_in_rectification

ZH = get_translator("zh_CN")


@pytest.fixture
def clock() -> ManualClock:
    """As in tests/test_calendar_chat.py: the story starts on Monday 5 January 2026."""
    return ManualClock(datetime(2026, 1, 5, 2, tzinfo=UTC))


class Failing:
    """The fake Bot API, but the calls ``chosen`` picks fail once each with a 500: ``after``
    the message was recorded (the outcome the bot cannot know) or before."""

    def __init__(self, bot: Bot, chosen: Callable[[str, dict[str, Any]], bool], *,
                 after: bool, times: int = 1) -> None:
        self.original = bot.fake.do_request
        self.chosen, self.after, self.left = chosen, after, times

    async def __call__(self, url: str, method: str, request_data: Any = None,
                       **timeouts: Any) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params = {k: _loads(v) for k, v in (request_data.json_parameters.items()
                                             if request_data else [])}
        if self.left and self.chosen(name, params):
            self.left -= 1
            if self.after:
                await self.original(url, method, request_data, **timeouts)
            return 500, json.dumps({"ok": False, "error_code": 500,
                                    "description": "Internal Server Error"}).encode()
        return await self.original(url, method, request_data, **timeouts)


def _loads(value: Any) -> Any:
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


def _to(chat: int, *methods: str) -> Callable[[str, dict[str, Any]], bool]:
    return lambda name, params: name in methods and int(params.get("chat_id", 0)) == chat


async def _signed_notice(bot: Bot) -> None:
    await bind_all(bot)
    await case_in_rectification(bot)  # deadline 2026-07-05
    for day in (date(2026, 6, 5), date(2026, 7, 6), date(2026, 7, 15)):  # T-30, overdue, and
        bot.clock.set(at(day))  # seven working days late: the notice
        await bot.app.deps.calendar.sweep()
        await bot.deliver()
    draft = next(m for m in bot.fake.in_chat(COORDINATION) if "通报草稿" in m.text)
    await bot.press(COORDINATOR, draft, "签发")


def _notices(bot: Bot, chat: int) -> list[str]:
    return [m.text for m in bot.fake.in_chat(chat) if "〔2026〕1号" in m.text
            and "📣" in m.text]


async def test_a_notice_sent_again_after_an_unknown_outcome_says_it_is_the_same_number(
        bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    await _signed_notice(bot)
    monkeypatch.setattr(bot.fake, "do_request",
                        Failing(bot, _to(INDUSTRY, "sendDocument"), after=True))
    await bot.deliver()  # the department's copy arrived, but the answer was a 500
    [first] = _notices(bot, INDUSTRY)
    await bot.deliver()  # tried again
    assert _notices(bot, INDUSTRY) == [first, f"{ZH.gettext(NOTICE_REPEATED)}\n{first}"]
    assert not first.startswith(ZH.gettext(NOTICE_REPEATED))
    names = {name for method, chat, name, _ in bot.fake.uploads
             if method == "sendDocument" and chat == INDUSTRY}
    assert len(names) == 1 and next(iter(names)).endswith("〔2026〕1号.docx"), names
    assert len(_notices(bot, MANAS)) == 1, "the other units got it once, unmarked"
    assert not _notices(bot, MANAS)[0].startswith(ZH.gettext(NOTICE_REPEATED))


async def test_a_notice_refused_before_it_took_effect_is_still_marked_when_unsure(
        bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 500 does not say whether the message arrived: the bot cannot tell the two cases
    apart, so the next copy is marked even when (as here) no earlier copy exists."""
    await _signed_notice(bot)
    monkeypatch.setattr(bot.fake, "do_request",
                        Failing(bot, _to(INDUSTRY, "sendDocument"), after=False))
    await bot.deliver()
    assert _notices(bot, INDUSTRY) == []
    await bot.deliver()
    [only] = _notices(bot, INDUSTRY)
    assert only.startswith(ZH.gettext(NOTICE_REPEATED) + "\n")


async def test_a_failed_send_waits_in_real_time_while_the_bots_clock_stands_still(
        bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a simulated clock that does not move (the sandbox, tests), a back-off kept in the
    bot's time never ran out: three digests arrived a day late, when the clock was moved."""
    await _queued_digest(bot)
    frozen = bot.clock.now()
    monkeypatch.setattr(bot.fake, "do_request",
                        Failing(bot, _to(MANAS, "sendMessage"), after=False))
    delivery = Delivery(bot.app)
    seconds = [1000.0]
    delivery.monotonic = lambda: seconds[0]

    def digests() -> list[str]:
        return [m.text for m in bot.fake.in_chat(MANAS) if "督办提醒" in m.text]

    await delivery.deliver_due()
    assert digests() == []
    await delivery.deliver_due()
    assert digests() == [], "it waits out its back-off"
    seconds[0] += 11  # 5 s × 2: the first retry's wait, in real seconds
    await delivery.deliver_due()
    assert len(digests()) == 1 and bot.clock.now() == frozen


async def test_a_card_posted_twice_keeps_one_set_of_live_buttons(
        bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    await bind_all(bot)
    await bot.deliver()
    deps = bot.app.deps
    await deps.cases.import_cases([CaseInput(
        ref="UNK-1", region="玛纳斯县", enterprise="玛纳斯县两张卡片水泥厂", industry="cement",
        clauses=("四",), capacity=Decimal(20), unit="万吨/年", equipment=None,
        registered_on=date(2026, 1, 5), description="能耗超标", row=2)],
        Who(role="coordinator", name=COORDINATOR[1], telegram_id=COORDINATOR[0]))
    real_record = deps.deliveries.record_card
    died = {"once": False}

    async def die_once(*args: Any, **kwargs: Any) -> None:
        if not died["once"]:
            died["once"] = True
            raise RuntimeError("the process died after Telegram accepted the card")
        await real_record(*args, **kwargs)

    monkeypatch.setattr(deps.deliveries, "record_card", die_once)
    row = next(r for r in await deps.outbox.due(bot.clock.now())
               if r.kind == Kind.CARD and r.recipient == "industry")
    assert await deps.outbox.claim(row, bot.clock.now())
    with pytest.raises(RuntimeError):
        await Delivery(bot.app)._deliver(row)
    bot.clock.advance(CLAIM_LEASE + timedelta(seconds=1))
    await bot.deliver()
    older, newer = [m for m in bot.fake.in_chat(INDUSTRY) if "UNK-1" in m.text]
    assert older.buttons() and newer.buttons(), "both copies arrived with buttons"

    alert = await bot.press(INDUSTRY_LIAISON, older, "受理")
    assert alert["show_alert"] and alert["text"] == ZH.gettext(texts.STALE_BUTTON)
    assert older.reply_markup is None, "the older copy lost its buttons"
    view = await deps.cases.get("UNK-1")
    assert {a.department_key: a.status for a in view.assignments}["industry"] == "pending"

    await bot.press(INDUSTRY_LIAISON, newer, "受理")
    view = await deps.cases.get("UNK-1")
    assert {a.department_key: a.status for a in view.assignments}["industry"] == "accepted"


async def test_the_outbox_remembers_a_row_that_may_have_been_delivered(bot: Bot) -> None:
    store = bot.app.deps.outbox
    now = bot.clock.now()
    async with transaction(bot.app.deps.sessions) as session:
        for key in ("refused", "unknown"):
            await enqueue(session, key=key, kind=Kind.TEXT, recipient_kind="chat",
                          recipient=str(MANAS), now=now, payload={"message": "Done."})

    async def due() -> dict[str, Any]:
        return {r.key: r for r in await store.due(bot.clock.now())}

    rows = await due()
    assert not rows["refused"].uncertain and not rows["unknown"].uncertain
    for row in rows.values():
        assert await store.claim(row, bot.clock.now())  # … and the process died sending
    assert await due() == {}, "a claim holds for its lease"
    bot.clock.advance(CLAIM_LEASE + timedelta(seconds=1))
    rows = await due()
    assert rows["refused"].uncertain and rows["unknown"].uncertain, "the claim ran out"
    await store.failed(rows["refused"], "retry after", bot.clock.now())
    await store.failed(rows["unknown"], "Timed out", bot.clock.now(), unknown=True)
    rows = await due()
    assert rows["refused"].uncertain, "once unsure, unsure until sent"
    assert await store.claim(rows["unknown"], bot.clock.now())
    await store.failed(rows["unknown"], "retry after", bot.clock.now())
    assert (await due())["unknown"].uncertain, "a 429 after an unknown outcome changes nothing"
    async with bot.app.deps.sessions() as session:
        error = (await session.exec(select(col(Outbox.error)).where(
            col(Outbox.key) == "unknown"))).one()
    assert error == f"{UNKNOWN_OUTCOME}retry after"


async def test_a_row_refused_with_429_is_not_taken_for_a_possible_repeat(bot: Bot) -> None:
    store = bot.app.deps.outbox
    now = bot.clock.now()
    async with transaction(bot.app.deps.sessions) as session:
        await enqueue(session, key="paced", kind=Kind.TEXT, recipient_kind="chat",
                      recipient=str(MANAS), now=now, payload={"message": "Done."})
    [row] = [r for r in await store.due(now) if r.key == "paced"]
    assert await store.claim(row, now)
    await store.failed(row, "retry after", now)  # Telegram refused it: not delivered
    [row] = [r for r in await store.due(now) if r.key == "paced"]
    assert not row.uncertain


async def test_a_message_is_not_given_up_because_the_processes_sending_it_died(
        bot: Bot) -> None:
    store = bot.app.deps.outbox
    async with transaction(bot.app.deps.sessions) as session:
        await enqueue(session, key="survivor", kind=Kind.TEXT, recipient_kind="chat",
                      recipient=str(MANAS), now=bot.clock.now(), payload={"message": "Done."})
    for _ in range(MAX_ATTEMPTS + 2):  # claimed, then the process was killed, again and again
        [row] = [r for r in await store.due(bot.clock.now()) if r.key == "survivor"]
        assert await store.claim(row, bot.clock.now())
        bot.clock.advance(CLAIM_LEASE + timedelta(seconds=1))
    await bot.deliver()
    assert [m.text for m in bot.fake.in_chat(MANAS)] == [ZH.gettext("Done.")]
