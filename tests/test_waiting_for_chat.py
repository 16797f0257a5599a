"""Reminders for a department or county without a bound chat are not used up: the sweep records
nothing for it, the coordinators see who waits, and when the chat is bound it gets what the
rules have due then (the latest step of each chain, once), and nothing that went stale."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import col, select

from bot.cli.main import main
from bot.core.clock import ManualClock
from bot.core.org import load_demo_org
from bot.core.policy.catalog import load_default_catalog
from bot.services.calendar import CalendarService, WaitingParty
from bot.services.cases import CaseService, Who
from bot.services.org import OrgService
from bot.services.outbox import Kind
from models.db import create_engine, session_factory, transaction
from models.tables import ChatBinding, Outbox, SentKey
from scheduler.workdays import WorkCalendar
from tests.bot_harness import Bot
from tests.conftest import Services
from tests.test_bot_app import COORDINATION, COORDINATOR, ENVIRONMENT, INDUSTRY, MANAS, REFORM
from tests.test_calendar import at, bind_chats

COUNTY = "玛纳斯县"
COUNTY_LIAISON = Who(role="liaison", name="玛纳斯联络员", telegram_id=30001, region=COUNTY)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 2, 2, tzinfo=UTC))


@pytest.fixture
async def calendar(services: Services) -> CalendarService:
    """Every department and county has its chat, but 玛纳斯县."""
    cases = services.cases
    await bind_chats(services, except_for=frozenset({COUNTY}))
    return CalendarService(cases.sessions, services.clock, cases.catalog, WorkCalendar(), cases,
                           services.org.current)


async def bind_county(services: Services) -> None:
    now = services.clock.now()
    async with transaction(services.cases.sessions) as session:
        session.add(ChatBinding(chat_id=-3001, kind="region", region_name=COUNTY, bound_at=now,
                                updated_at=now))


async def county_digests(services: Services) -> list[list[str]]:
    """The steps of each digest queued for the county, oldest first."""
    async with services.cases.sessions() as session:
        rows = (await session.exec(select(Outbox).where(
            col(Outbox.kind) == Kind.DIGEST, col(Outbox.recipient) == COUNTY)
            .order_by(col(Outbox.id)))).all()
    return [[item["step"] for item in row.payload["items"]] for row in rows]


async def county_keys(services: Services) -> set[str]:
    async with services.cases.sessions() as session:
        return set((await session.exec(select(col(SentKey.key)).where(
            col(SentKey.key).like(f"%:{COUNTY}:%")))).all())


async def test_a_county_without_a_chat_keeps_its_reminders_until_it_has_one(
        services: Services, calendar: CalendarService) -> None:
    services.clock.set(at(date(2026, 11, 2)))  # the county report (30 November) opens
    await calendar.sweep()
    services.clock.set(at(date(2026, 11, 16)))  # T-14
    report = await calendar.sweep()
    assert [(i.recipient, i.step) for i in report.held] == [(COUNTY, "T-14")]
    assert not [i for i in report.items if i.recipient == COUNTY]
    assert [i for i in report.items if i.recipient == "奇台县"], "the bound ones are nudged"
    assert await county_digests(services) == [] and await county_keys(services) == set()
    assert await calendar.waiting_for_chats() == [WaitingParty("region", COUNTY, 1)]

    services.clock.set(at(date(2026, 11, 23)))  # T-7: still no chat
    report = await calendar.sweep()
    [held] = [i for i in report.held if i.recipient == COUNTY]
    assert held.step == "T-7" and [k.rsplit(":", 1)[1] for k in held.supersedes] == ["T-14"]
    assert await county_digests(services) == [], "no second copy queued, nor a first"

    await bind_county(services)
    assert await calendar.waiting_for_chats() == [], "bound now: nothing waits for a chat"
    caught = await calendar.catch_up("region", COUNTY)
    assert [i.step for i in caught] == ["T-7"]
    assert await county_digests(services) == [["T-7"]], "the latest only, once"
    assert {key.rsplit(":", 1)[1] for key in await county_keys(services)} == {"T-14", "T-7"}
    assert await calendar.catch_up("region", COUNTY) == ()
    report = await calendar.sweep()
    assert not [i for i in report.items + report.held if i.recipient == COUNTY]
    assert await county_digests(services) == [["T-7"]]


async def test_what_went_stale_before_the_chat_was_bound_is_dropped(
        services: Services, calendar: CalendarService) -> None:
    services.clock.set(at(date(2026, 11, 23)))  # T-7, no chat
    report = await calendar.sweep()
    assert [i.step for i in report.held if i.recipient == COUNTY] == ["T-7"]
    duty = next(d for d in await calendar.obligations(party=COUNTY, year=2026)
                if d.kind == "county_report")
    await calendar.confirm_obligation(duty.id or 0, ["document:scan:报告.pdf"], COUNTY_LIAISON)
    await bind_county(services)
    assert await calendar.catch_up("region", COUNTY) == (), "the work is done: no reminder"
    assert await county_digests(services) == []


async def test_a_chat_bound_after_office_hours_waits_for_the_next_sweep(
        services: Services, calendar: CalendarService) -> None:
    services.clock.set(at(date(2026, 11, 23)))
    await calendar.sweep()
    services.clock.set(at(date(2026, 11, 23), hour=20))
    await bind_county(services)
    assert await calendar.catch_up("region", COUNTY) == ()
    services.clock.set(at(date(2026, 11, 24)))
    report = await calendar.sweep()
    assert [i.step for i in report.items if i.recipient == COUNTY] == ["T-7"]
    assert await county_digests(services) == [["T-7"]]


# -- in the chats -------------------------------------------------------------------------------


async def test_a_county_bound_late_gets_its_digest_once(bot: Bot) -> None:
    for chat, target in ((COORDINATION, "coordination"), (ENVIRONMENT, "环保局"),
                         (INDUSTRY, "工信"), (REFORM, "发改委")):
        await bot.say(COORDINATOR, chat, f"/bind {target}")
    await bot.deliver()
    bot.clock.set(at(date(2026, 11, 23)))  # T-7 before the county report
    calendar = bot.app.deps.calendar
    report = await calendar.sweep()
    assert COUNTY in {i.recipient for i in report.held}
    await bot.deliver()
    await bot.say(COORDINATOR, COORDINATION, "/mine")
    assert f"{COUNTY}尚未绑定群聊" in bot.last(COORDINATION).text, bot.last(COORDINATION).text
    await calendar.sweep()  # a second sweep before the chat is bound queues nothing either
    await bot.deliver()

    await bot.say(COORDINATOR, MANAS, "/bind 玛纳斯")
    assert "绑定" in bot.last(MANAS).text
    await bot.deliver()  # the bound chat's cards, and the calendar's catch-up queued
    await bot.deliver()
    digests = [m for m in bot.fake.in_chat(MANAS) if "督办提醒" in m.text]
    assert len(digests) == 1 and digests[0].buttons(), "with its 确认 button"
    await calendar.sweep()
    await bot.deliver()
    assert len([m for m in bot.fake.in_chat(MANAS) if "督办提醒" in m.text]) == 1
    await bot.say(COORDINATOR, COORDINATION, "/mine")
    assert f"{COUNTY}尚未绑定群聊" not in bot.last(COORDINATION).text


def test_doctor_names_the_parties_whose_reminders_wait(database_url: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    async def sweep() -> list[WaitingParty]:
        engine = create_engine(database_url)
        try:
            sessions = session_factory(engine)
            clock = ManualClock(at(date(2026, 11, 23)))
            org = OrgService(sessions)
            await org.load(load_demo_org())
            catalog = load_default_catalog()
            cases = CaseService(sessions, catalog, clock)
            calendar = CalendarService(sessions, clock, catalog, WorkCalendar(), cases,
                                       org.current)
            await calendar.sweep()
            return await calendar.waiting_for_chats()
        finally:
            await engine.dispose()

    monkeypatch.chdir(tmp_path)
    for name in ("DUBAN_LOCALE", "DUBAN_CONFIG", "TELEGRAM_BOT_TOKEN", "DUBAN_HOLIDAYS"):
        monkeypatch.delenv(name, raising=False)
    waiting = asyncio.run(sweep())
    assert {w.party for w in waiting} >= {COUNTY, "奇台县"}, "no chat is bound here"
    result = CliRunner().invoke(main, ["--database", database_url, "--lang", "en", "doctor"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "has no bound chat" in line]
    assert len(lines) == len(waiting), result.output
    assert any(line.startswith(f"⚠ {COUNTY} has no bound chat: 1 reminder waits")
               for line in lines), lines
