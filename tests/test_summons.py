"""Summons numbers (约谈〔2026〕3号): numbered within the year in the transaction that creates
the summons, so a sweep that rolls back leaves no gap and two racing sweeps number once; people
name a summons by its number (``/summons 3``, ``/summons 2025-3``), never by its database row."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot.core.clock import ManualClock
from bot.core.commands import (
    RESCHEDULE_USAGE,
    SUMMONS_USAGE,
    SummonsNumber,
    parse_reschedule,
    parse_summons_number,
)
from bot.core.i18n import DubanError, get_translator
from bot.render.calendar_texts import summons_reply
from bot.render.texts import coordinator_work_text, summons_code
from bot.services import calendar as calendar_module
from bot.services.calendar import CalendarService
from bot.services.outbox import Kind
from models.db import transaction
from models.tables import Summons
from scheduler.workdays import WorkCalendar
from tests.bot_harness import Bot
from tests.conftest import COORDINATOR, Services
from tests.test_bot_app import COORDINATION, bind_all
from tests.test_bot_app import COORDINATOR as COORDINATOR_USER
from tests.test_calendar import at, bind_chats, rectifying
from tests.test_calendar_chat import energy_case_in_rectification

TZ = ZoneInfo("Asia/Shanghai")
ZH, EN = get_translator("zh_CN"), get_translator("en")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 5, 2, tzinfo=UTC))


@pytest.fixture
async def calendar(services: Services) -> CalendarService:
    cases = services.cases
    await bind_chats(services)
    return CalendarService(cases.sessions, services.clock, cases.catalog, WorkCalendar(), cases,
                           services.org.current)


# -- what people type ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "wanted"), [
    ("3", SummonsNumber(3)),
    ("3号", SummonsNumber(3)),
    ("2026-3", SummonsNumber(3, 2026)),
    ("2025/12", SummonsNumber(12, 2025)),
    ("约谈〔2026〕3号", SummonsNumber(3, 2026)),
    ("〔2026〕3", SummonsNumber(3, 2026)),
    (" 2026-3 ", SummonsNumber(3, 2026)),
])
def test_a_summons_is_named_by_its_number_and_year(text: str, wanted: SummonsNumber) -> None:
    assert parse_summons_number(text, SUMMONS_USAGE) == wanted


@pytest.mark.parametrize("text", ["", "0", "-3", "３", "²", "a", "2026-", "1999-3", "2026-0",
                                  "2026-3-1", "1234567"])
def test_anything_else_gets_the_usage(text: str) -> None:
    with pytest.raises(DubanError) as raised:
        parse_summons_number(text, SUMMONS_USAGE)
    assert raised.value.message == SUMMONS_USAGE


def test_reschedule_takes_the_number() -> None:
    wanted = parse_reschedule(["2026-2", "2026-08-20", "09:30", "州政府", "会议室"], TZ)
    assert wanted.summons == SummonsNumber(2, 2026) and wanted.place == "州政府 会议室"
    assert wanted.when == datetime(2026, 8, 20, 9, 30, tzinfo=TZ)
    with pytest.raises(DubanError) as raised:
        parse_reschedule(["二", "2026-08-20", "09:30"], TZ)
    assert raised.value.message == RESCHEDULE_USAGE
    assert str(SummonsNumber(2, 2026)) == "2026-2" and str(SummonsNumber(2)) == "2"


# -- what people read ---------------------------------------------------------------------------


def _summons(**values: Any) -> Summons:
    now = datetime(2026, 7, 27, 2, tzinfo=UTC)
    fields: dict[str, Any] = {
        "id": 41, "year": 2026, "number": 3, "key": "s", "party": "environment",
        "party_kind": "department", "case_refs": ["CZ-1"], "meets_at": now + timedelta(days=3),
        "place": "会议室", "status": "proposed", "created_at": now, "updated_at": now}
    return Summons(**(fields | values))


def test_the_summons_shows_its_number_never_its_row() -> None:
    proposed = _summons()
    for tr, code in ((ZH, "约谈〔2026〕3号"), (EN, "Summons 2026-3")):
        assert summons_code(proposed, tr) == code
        text = summons_reply(proposed, party="州生态环境局", tr=tr, tz=TZ, codec=None,
                             chat_id=0).text
        assert code in text and "/reschedule 2026-3 " in text, text
        assert "41" not in text, text
        work = coordinator_work_text([], [], [], [proposed], tr, party=lambda kind, key: key)
        assert code in work and "/reschedule 2026-3" in work and "41" not in work, work


# -- numbering in the sweep -----------------------------------------------------------------------


async def _numbers(services: Services) -> list[tuple[int | None, int | None, str]]:
    async with services.cases.sessions() as session:
        rows = (await session.exec(select(Summons).order_by(col(Summons.year),
                                                            col(Summons.number)))).all()
    return [(s.year, s.number, s.key) for s in rows]


async def _to_the_summons(services: Services, calendar: CalendarService) -> None:
    """Case S-1 (deadline 15 July): its notice on 24 July; its summonses fall due on 5 August."""
    services.clock.set(at(date(2026, 1, 20)))
    await rectifying(services, "S-1", date(2026, 1, 15))
    await rectifying(services, "S-2", date(2026, 2, 2))  # deadline 2 August: later
    services.clock.set(at(date(2026, 7, 24)))
    await calendar.sweep()
    services.clock.set(at(date(2026, 8, 5)))


async def test_a_sweep_rolled_back_after_the_summons_leaves_no_gap(
        services: Services, calendar: CalendarService, monkeypatch: pytest.MonkeyPatch) -> None:
    await _to_the_summons(services, calendar)
    real_enqueue = calendar_module.enqueue

    async def crash(session: Any, **row: Any) -> bool:
        if row["kind"] == Kind.SUMMONS:  # the summons row is written (and numbered) by now
            raise RuntimeError("the process died in the middle of the sweep")
        return await real_enqueue(session, **row)

    monkeypatch.setattr(calendar_module, "enqueue", crash)
    with pytest.raises(RuntimeError):
        await calendar.sweep()
    assert await _numbers(services) == [], "the transaction took its numbers with it"
    monkeypatch.setattr(calendar_module, "enqueue", real_enqueue)
    await calendar.sweep()
    first = await _numbers(services)
    assert [(year, number) for year, number, _ in first] == [(2026, 1), (2026, 2)]
    services.clock.set(at(date(2026, 8, 24)))  # S-2's summonses
    await calendar.sweep()
    numbers = await _numbers(services)
    assert [(year, number) for year, number, _ in numbers] == [(2026, n) for n in range(1, 5)]
    assert len({key for *_, key in numbers}) == 4


async def test_two_sweeps_at_once_number_each_summons_once(
        services: Services, calendar: CalendarService) -> None:
    await _to_the_summons(services, calendar)
    second = CalendarService(calendar.sessions, calendar.clock, calendar.catalog,
                             calendar.calendar, calendar.cases, calendar.org)
    results = await asyncio.gather(calendar.sweep(), second.sweep(), return_exceptions=True)
    assert any(not isinstance(r, BaseException) for r in results), results
    await calendar.sweep()  # whatever a failed one left is done now, and nothing twice
    numbers = await _numbers(services)
    assert [(year, number) for year, number, _ in numbers] == [(2026, 1), (2026, 2)]


async def test_numbers_start_again_each_year(services: Services,
                                             calendar: CalendarService) -> None:
    async with transaction(services.cases.sessions) as session:  # as migration 0005 left it
        session.add(_summons(id=None, year=2025, number=7, key="old", status="confirmed"))
    await _to_the_summons(services, calendar)
    await calendar.sweep()
    numbers = [(year, number) for year, number, _ in await _numbers(services)]
    assert numbers == [(2025, 7), (2026, 1), (2026, 2)]


async def test_commands_find_a_summons_by_its_number(services: Services,
                                                     calendar: CalendarService) -> None:
    async with transaction(services.cases.sessions) as session:
        session.add(_summons(id=None, year=2025, number=1, key="old", status="confirmed"))
    await _to_the_summons(services, calendar)
    await calendar.sweep()
    this_year = await calendar.numbered_summons(SummonsNumber(1))
    assert (this_year.year, this_year.number) == (2026, 1)
    assert (await calendar.numbered_summons(SummonsNumber(1, 2026))).id == this_year.id
    assert (await calendar.numbered_summons(SummonsNumber(1, 2025))).key == "old"
    with pytest.raises(DubanError) as raised:
        await calendar.numbered_summons(SummonsNumber(3))
    assert raised.value.params == {"year": 2026, "number": 3}
    moved = await calendar.reschedule(SummonsNumber(2), services.clock.now() + timedelta(days=9),
                                      "州政府第三会议室", COORDINATOR)
    assert moved.number == 2 and moved.place == "州政府第三会议室"
    services.clock.set(moved.meets_at + timedelta(days=1))  # too late to confirm number 1
    with pytest.raises(DubanError) as raised:
        await calendar.confirm_summons(this_year.id or 0, COORDINATOR)
    assert "/reschedule {year}-{number}" in raised.value.message
    assert raised.value.params == {"year": 2026, "number": 1}


# -- in the chats -------------------------------------------------------------------------------


def _printed_number(text: str) -> int:
    found = re.search(r"约谈〔2026〕(\d+)号", text)
    assert found is not None, text
    return int(found[1])


async def test_coordinators_use_the_numbers_they_read(bot: Bot) -> None:
    await bind_all(bot)
    async with transaction(bot.app.deps.sessions) as session:  # row 1 is last year's
        session.add(_summons(id=None, year=2025, number=1, key="old", status="confirmed"))
    await energy_case_in_rectification(bot)  # deadline 2026-07-05
    calendar = bot.app.deps.calendar
    for day in (date(2026, 7, 6), date(2026, 7, 15)):
        bot.clock.set(at(day))
        await calendar.sweep()
        await bot.deliver()
    draft = next(m for m in bot.fake.in_chat(COORDINATION) if "通报草稿" in m.text)
    await bot.press(COORDINATOR_USER, draft, "签发")
    bot.clock.set(at(date(2026, 7, 27)))
    await calendar.sweep()
    await bot.deliver()
    proposals = [m.text for m in bot.fake.in_chat(COORDINATION) if "约谈" in m.text
                 and "/reschedule" in m.text]
    assert len(proposals) == 2
    assert {_printed_number(p) for p in proposals} == {1, 2}
    summonses = {s.number: s for s in [await calendar.numbered_summons(SummonsNumber(n))
                                       for n in (1, 2)]}
    assert {s.id for s in summonses.values()} == {2, 3}, "rows and numbers differ here"
    for text in proposals:
        number = _printed_number(text)
        assert f"/reschedule 2026-{number} " in text
        assert f"/reschedule {summonses[number].id} " not in text

    await bot.say(COORDINATOR_USER, COORDINATION, "/summons 2")
    assert "约谈〔2026〕2号" in bot.last(COORDINATION).text
    await bot.say(COORDINATOR_USER, COORDINATION, "/summons 2025-1")
    assert "约谈〔2025〕1号" in bot.last(COORDINATION).text
    await bot.say(COORDINATOR_USER, COORDINATION, "/summons 7")
    assert "没有约谈〔2026〕7号" in bot.last(COORDINATION).text
    await bot.say(COORDINATOR_USER, COORDINATION, "/summons 第二")
    assert "/summons" in bot.last(COORDINATION).text and "2025-3" in bot.last(COORDINATION).text

    await bot.say(COORDINATOR_USER, COORDINATION, "/reschedule 1 2026-08-20 09:30 州政府会议室")
    moved = await calendar.numbered_summons(SummonsNumber(1))
    assert moved.place == "州政府会议室"
    assert moved.meets_at == datetime(2026, 8, 20, 9, 30, tzinfo=TZ)

    await bot.say(COORDINATOR_USER, COORDINATION, "/mine")
    work = bot.last(COORDINATION).text
    assert "拟约谈〔2026〕1号" in work and "/reschedule 2026-1" in work, work

    await bot.say(COORDINATOR_USER, COORDINATION, "/outcome 2026-2")
    for answer in ("分管副局长", "说明了整改计划", "9月底前完成"):
        await bot.say(COORDINATOR_USER, COORDINATION, answer)
    summary = bot.last(COORDINATION)
    assert "2026-2" in summary.text and "分管副局长" in summary.text, summary.text
    await bot.press(COORDINATOR_USER, summary, "确认")
    recorded = await calendar.numbered_summons(SummonsNumber(2))
    assert recorded.outcome is not None and recorded.outcome["summary"] == "说明了整改计划"
    assert (await calendar.numbered_summons(SummonsNumber(1))).outcome is None
