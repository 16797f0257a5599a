"""The calendar in the chats: digests, duty confirmation with a document, notices with their
.docx, summonses with RSVP buttons; and the outbox's crash points."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.core.clock import ManualClock
from bot.core.i18n import get_translator
from bot.services.access import Who
from bot.services.outbox import CLAIM_LEASE, Kind
from handlers.delivery import Delivery
from scheduler.rules import OBLIGATION_LABELS
from tests.bot_harness import Bot
from tests.test_bot_app import COORDINATION, COORDINATOR, INDUSTRY, MANAS, REFORM, bind_all

MANAS_LIAISON = (30001, "玛纳斯联络员")
INDUSTRY_LIAISON = (20001, "工信联络员")
REFORM_LIAISON = (20003, "发改联络员")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 5, 2, tzinfo=UTC))


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour - 8, tzinfo=UTC)


async def energy_case_in_rectification(bot: Bot) -> str:
    private = COORDINATOR[0]
    await bot.say(COORDINATOR, private, "/newcase")
    await bot.say(COORDINATOR, private, "玛纳斯")
    await bot.say(COORDINATOR, private, "玛纳斯县日历测试水泥厂")
    await bot.press(COORDINATOR, bot.last(private), "水泥")
    await bot.press(COORDINATOR, bot.last(private), "（四）")
    await bot.say(COORDINATOR, private, "60 万吨/年")
    await bot.say(COORDINATOR, private, "熟料能耗超标")
    await bot.press(COORDINATOR, bot.last(private), "跳过")
    await bot.press(COORDINATOR, bot.last(private), "确认")
    ref = bot.last(private).text.split()[1]
    await bot.deliver()
    for liaison, chat in ((INDUSTRY_LIAISON, INDUSTRY), (REFORM_LIAISON, REFORM)):
        await bot.press(liaison, bot.last(chat), "受理")
    await bot.deliver()
    card = next(m for m in bot.fake.in_chat(INDUSTRY) if ref in m.text and m.buttons())
    await bot.press(INDUSTRY_LIAISON, card, "责令限期整改")
    await bot.feed(bot.users.document(INDUSTRY_LIAISON, INDUSTRY, "order-9", "整改通知.pdf",
                                      "application/pdf"))
    await bot.press(INDUSTRY_LIAISON, bot.last(INDUSTRY), "确认")
    await bot.deliver()
    return ref


async def test_reminders_notice_and_summons_arrive_in_the_chats(bot: Bot) -> None:
    await bind_all(bot)
    ref = await energy_case_in_rectification(bot)  # deadline 2026-07-05 (a Sunday)
    calendar = bot.app.deps.calendar
    bot.clock.set(at(date(2026, 6, 5)))
    await calendar.sweep()
    await bot.deliver()
    nudge = bot.last(INDUSTRY)
    assert "督办提醒" in nudge.text and ref in nudge.text and "/case" in nudge.text
    assert "玛纳斯县日历测试水泥厂" in nudge.text  # each case with its enterprise
    bot.clock.set(at(date(2026, 7, 6)))
    await calendar.sweep()
    await bot.deliver()
    assert "逾期" in bot.last(INDUSTRY).text
    bot.clock.set(at(date(2026, 7, 15)))  # seven working days late
    await calendar.sweep()
    await bot.deliver()
    draft = next(m for m in bot.fake.in_chat(COORDINATION) if "通报草稿" in m.text)
    assert not bot.fake.called("sendDocument"), "nothing goes out before 签发"
    await bot.press(INDUSTRY_LIAISON, draft, "签发")  # only coordinators sign
    assert bot.fake.alerts[-1]["show_alert"]
    await bot.press(COORDINATOR, draft, "签发")
    assert "已签发" in next(m for m in bot.fake.in_chat(COORDINATION)
                           if m.message_id == draft.message_id).text
    await bot.deliver()
    documents = [c for c in bot.fake.called("sendDocument")]
    assert any("通报" in (c.get("caption") or "") and "〔2026〕1号" in c["caption"]
               for c in documents)
    assert {COORDINATION, INDUSTRY, MANAS} <= {c["chat_id"] for c in documents}
    bot.clock.set(at(date(2026, 7, 27)))  # fifteen working days late
    await calendar.sweep()
    await bot.deliver()
    proposals = [m for m in bot.fake.in_chat(COORDINATION) if "约谈" in m.text and m.buttons()]
    assert len(proposals) == 2 and "拟约谈" in proposals[0].text
    assert not [m for m in bot.fake.in_chat(INDUSTRY) if "约谈" in m.text]
    for proposal in proposals:
        await bot.press(COORDINATOR, proposal, "确认并发出")
    await bot.deliver()
    summons = next(m for m in bot.fake.in_chat(INDUSTRY) if "约谈" in m.text and m.buttons())
    await bot.press(MANAS_LIAISON, summons, "参加")  # not the summoned department
    assert bot.fake.alerts[-1]["show_alert"]
    await bot.press(INDUSTRY_LIAISON, summons, "参加")
    assert not bot.fake.alerts[-1].get("show_alert")
    await bot.deliver()
    assert "将参加" in bot.last(COORDINATION).text
    await bot.say(COORDINATOR, COORDINATION, f"/case {ref}")
    timeline = bot.last(COORDINATION).text
    assert "通报" in timeline or "notice" in timeline


async def test_county_confirms_its_yearly_report_with_the_stamped_scan(bot: Bot) -> None:
    await bind_all(bot)
    calendar = bot.app.deps.calendar
    bot.clock.set(at(date(2026, 11, 23)))  # T-7 before 30 November
    await calendar.sweep()
    await bot.deliver()
    digest = bot.last(MANAS)
    assert "年度" in digest.text or "报告" in digest.text
    await bot.press(MANAS_LIAISON, digest, "确认")
    await bot.feed(bot.users.document(MANAS_LIAISON, MANAS, "scan-1", "盖章报告.pdf",
                                      "application/pdf"))
    await bot.press(MANAS_LIAISON, bot.last(MANAS), "确认")
    assert "已确认" in bot.last(MANAS).text
    duty = next(d for d in await calendar.obligations(party="玛纳斯县", year=2026)
                if d.kind == "county_report")
    assert duty.confirmed_at is not None and duty.evidence[0].startswith("document:scan-1u")
    bot.clock.set(at(date(2026, 11, 30)))
    report = await calendar.sweep()
    assert not [i for i in report.items if i.party == "玛纳斯县"]


# -- the outbox's crash points --------------------------------------------------------------------


async def _queued_digest(bot: Bot) -> None:
    await bind_all(bot)
    await bot.deliver()
    bot.clock.set(at(date(2026, 11, 23)))
    report = await bot.app.deps.calendar.sweep()
    assert report.items


def _digests(bot: Bot, chat: int) -> list[str]:
    return [m.text for m in bot.fake.in_chat(chat) if "督办提醒" in m.text]


async def test_crash_after_recording_before_sending_sends_once(bot: Bot) -> None:
    await _queued_digest(bot)  # the sweep committed; the bot died before delivering
    restarted = Delivery(bot.app)
    await restarted.deliver_due()
    await restarted.deliver_due()
    assert len(_digests(bot, MANAS)) == 1


async def test_crash_after_claiming_before_sending_sends_once_after_the_lease(bot: Bot) -> None:
    await _queued_digest(bot)
    store = bot.app.deps.outbox
    rows = [r for r in await store.due(bot.clock.now()) if r.kind == Kind.DIGEST]
    for row in rows:
        assert await store.claim(row, bot.clock.now())  # … and then the process died
    await bot.deliver()
    assert _digests(bot, MANAS) == [], "a claim is respected while its lease runs"
    bot.clock.advance(CLAIM_LEASE + timedelta(seconds=1))
    await bot.deliver()
    await bot.deliver()
    assert len(_digests(bot, MANAS)) == 1


async def test_crash_between_sending_and_recording_repeats_that_message_once(
        bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    """The one window the Bot API leaves open (it has no idempotency key): documented in
    docs/outbox.md. The message is repeated once, never lost, never repeated again."""
    await _queued_digest(bot)
    store = bot.app.deps.outbox
    real_done = store.done
    calls = {"n": 0}

    async def crash_once(row, now, error=None, session=None):  # type: ignore[no-untyped-def]
        if row.kind == Kind.DIGEST and calls["n"] == 0:
            calls["n"] += 1
            raise RuntimeError("the process died here")
        return await real_done(row, now, error=error, session=session)

    monkeypatch.setattr(store, "done", crash_once)
    row = next(r for r in await store.due(bot.clock.now()) if r.recipient == "玛纳斯县")
    assert await store.claim(row, bot.clock.now())
    with pytest.raises(RuntimeError):
        await Delivery(bot.app)._deliver(row)  # sent, then died before recording
    assert len(_digests(bot, MANAS)) == 1
    await bot.deliver()  # the other chats' digests go out; this row's claim still holds
    assert len(_digests(bot, MANAS)) == 1
    bot.clock.advance(CLAIM_LEASE + timedelta(seconds=1))
    await bot.deliver()
    await bot.deliver()
    assert len(_digests(bot, MANAS)) == 2, "repeated once after the lease"
    bot.clock.advance(CLAIM_LEASE * 3)
    await bot.deliver()
    assert len(_digests(bot, MANAS)) == 2, "and never again"


async def test_a_submitted_duty_tells_the_coordinators_and_duties_shows_who_is_missing(
        bot: Bot) -> None:
    await bind_all(bot)
    calendar = bot.app.deps.calendar
    bot.clock.set(at(date(2026, 11, 23)))
    await calendar.sweep()
    await bot.deliver()
    duty = next(o for o in await calendar.obligations(party="玛纳斯县", year=2026)
                if o.kind == "county_report")
    await bot.say(COORDINATOR, COORDINATION, "/duties 2026")
    before = bot.last(COORDINATION).text
    assert "2026" in before and "玛纳斯县" in before and "尚未" in before, before
    county = Who(role="liaison", name="玛纳斯联络员", telegram_id=40004, region="玛纳斯县")
    await calendar.confirm_obligation(duty.id or 0, ["document:scan-1u:scan-1:报告.pdf"], county)
    await bot.deliver()
    told = bot.last_with(COORDINATION, "已提交")
    assert "玛纳斯县" in told and "county_report" not in told, told
    await bot.say(COORDINATOR, COORDINATION, "/duties")
    lines = bot.last(COORDINATION).text.splitlines()
    label = get_translator("zh_CN").gettext(OBLIGATION_LABELS["county_report"])
    at_report = next(i for i, x in enumerate(lines) if label in x)
    assert "已提交 1/" in lines[at_report], lines
    missing = lines[at_report + 1] if at_report + 1 < len(lines) else ""
    assert "玛纳斯县" not in missing and "阜康市" in missing, lines
    await bot.say(COORDINATOR, COORDINATION, "/duties ²")
    assert "/duties" in bot.last(COORDINATION).text  # the usage, not a failure
