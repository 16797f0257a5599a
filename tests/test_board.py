"""The 红黄绿灯 board on a real database (both back-ends): the lights of counties, parks and
departments, worst first, with the on-time rate and the notices and summonses of the year;
``/board`` through the real Application (coordinators only, a county's liaison is told whom to
ask) and ``duban board`` in words."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from bot.cli.main import main
from bot.core.casefile import CaseInput
from bot.core.clock import ManualClock
from bot.core.i18n import get_translator
from bot.core.org import Org
from bot.core.workflow import Actor, State, StepInput
from bot.render.board import board_text
from bot.services.board import Board, BoardRow, BoardService, Light, light_of
from bot.services.cases import Who
from bot.services.status import Standing, StatusService
from models.db import transaction
from models.tables import Notice, NoticeEntry, Summons
from tests.bot_harness import Bot
from tests.conftest import COORDINATOR, Services

INDUSTRY = Who(role="liaison", name="工信联络员", telegram_id=20001, department="industry")
REFORM = Who(role="liaison", name="发改联络员", telegram_id=20003,
             department="development_reform")
TZ = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 8, 1)
RECTIFICATION_ORDER = "整改通知书.pdf"


def at(day: date, hour: int = 10) -> datetime:
    """An instant in Asia/Shanghai office hours, as UTC."""
    return datetime(day.year, day.month, day.day, hour - 8, tzinfo=UTC)


def a_case(ref: str, region: str, registered: date, clause: str = "四") -> CaseInput:
    return CaseInput(ref=ref, region=region, enterprise=f"{ref}水泥厂", industry="cement",
                     clauses=(clause,), capacity=Decimal(50), unit="万吨/年", equipment=None,
                     registered_on=registered, description="超标", row=2)


# Deadlines six months after registration; today is 2026-08-01.
CASES = [
    a_case("M-1", "玛纳斯县", date(2026, 1, 10)),  # due 07-10: overdue (red)
    a_case("M-2", "玛纳斯县", date(2026, 1, 10)),  # closed on time
    a_case("H-1", "呼图壁县", date(2026, 2, 5)),  # due 08-05: within 7 days (yellow)
    a_case("C-1", "昌吉市", date(2026, 3, 1)),  # due 09-01 (green)
    a_case("C-2", "昌吉市", date(2026, 1, 10)),  # closed on time
    a_case("Q-1", "奇台县", date(2026, 2, 25)),  # extension approved (yellow)
    a_case("Q-2", "奇台县", date(2026, 2, 5), clause="六"),  # quality, due 08-05 (yellow)
]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(at(date(2026, 3, 2)))


async def step(services: Services, ref: str, name: str, who: Who = INDUSTRY,
               **values: object) -> State:
    actor = Actor.COORDINATOR if who.is_coordinator else Actor.DEPARTMENT
    result = await services.cases.take_step(
        ref, StepInput(name, actor, who.department, **values), who)  # type: ignore[arg-type]
    return State(result.view.case.state)


async def rectified(services: Services, ref: str, on: date) -> None:
    services.clock.set(at(on))
    for who in (INDUSTRY, REFORM):
        await step(services, ref, "accept", who)
    await step(services, ref, "order_rectification", evidence=("doc:1",))
    for who in (INDUSTRY, REFORM):
        state = await step(services, ref, "confirm_rectified", who, evidence=("photo:1",), on=on)
    if state == State.REVIEW:  # the coordinators' review before closing (on by default)
        state = await step(services, ref, "close_reviewed", COORDINATOR)
    assert state == State.RECTIFIED


async def build(services: Services) -> None:
    """Counties: 玛纳斯县 red, 呼图壁县 and 奇台县 yellow, 昌吉市 green. Departments: industry
    red (M-1), quality yellow (Q-2), development and reform green (it handed back M-1, H-1 and
    Q-1; what it keeps is on time)."""
    await services.cases.import_cases(CASES, COORDINATOR)
    for ref in ("M-1", "H-1", "Q-1"):
        await services.cases.hand_back(ref, "development_reform", "不属于发改职责", REFORM)
    for ref in ("M-2", "C-2"):
        await rectified(services, ref, date(2026, 5, 1))
    services.clock.set(at(date(2026, 7, 1)))
    await step(services, "Q-1", "accept")
    await step(services, "Q-1", "order_rectification",
               evidence=(f"document:u1:f1:{RECTIFICATION_ORDER}",))
    await step(services, "Q-1", "request_extension", reason="设备改造", months=3)
    await step(services, "Q-1", "approve_extension", COORDINATOR)
    services.clock.set(at(TODAY))
    async with transaction(services.cases.sessions) as session:
        signed = Notice(key="n1", status="signed", year=2026, number=1, code="〔2026〕1号",
                        issued_on=date(2026, 7, 20), created_at=at(date(2026, 7, 20)))
        draft = Notice(key="n2", status="draft", created_at=at(date(2026, 7, 27)))
        old = Notice(key="n0", status="signed", year=2025, number=4, code="〔2025〕4号",
                     issued_on=date(2025, 12, 1), created_at=at(date(2025, 12, 1)))
        session.add_all([signed, draft, old])
        await session.flush()
        for notice, party, kind in ((signed, "玛纳斯县", "region"),
                                    (signed, "industry", "department"),
                                    (draft, "呼图壁县", "region"),
                                    (old, "昌吉市", "region")):
            session.add(NoticeEntry(notice_id=notice.id, key=f"{notice.key}:{party}",
                                    party=party, party_kind=kind, case_refs=["M-1"]))
        for number, party, kind, status in ((1, "玛纳斯县", "region", "confirmed"),
                                            (2, "industry", "department", "proposed")):
            session.add(Summons(year=2026, number=number, key=f"s{number}", party=party,
                                party_kind=kind, case_refs=["M-1"], status=status,
                                meets_at=at(date(2026, 8, 10)), place="州经信委301会议室",
                                created_at=at(TODAY), updated_at=at(TODAY)))


def lights(rows: tuple[BoardRow, ...]) -> list[tuple[str, Light]]:
    return [(row.standing.name, row.light) for row in rows]


async def test_lights_ranked_worst_first(services: Services) -> None:
    await build(services)
    board = await BoardService(StatusService(services.cases.sessions, TZ)).board(TODAY)
    assert lights(board.regions) == [("玛纳斯县", Light.RED), ("呼图壁县", Light.YELLOW),
                                     ("奇台县", Light.YELLOW), ("昌吉市", Light.GREEN)]
    assert lights(board.departments) == [("industry", Light.RED), ("quality", Light.YELLOW),
                                         ("development_reform", Light.GREEN)]
    regions = {row.standing.name: row for row in board.regions}
    manas, hutubi, qitai, changji = (regions[n] for n in ("玛纳斯县", "呼图壁县", "奇台县",
                                                          "昌吉市"))
    assert (manas.standing.overdue, manas.standing.open, manas.standing.on_time_rate) == (
        1, 1, 0.5)  # M-2 on time, M-1 overdue
    assert (hutubi.due_soon, hutubi.extended) == (1, 0)
    assert (qitai.due_soon, qitai.extended) == (1, 1)  # Q-2 due soon, Q-1 extended
    assert changji.standing.on_time_rate == 1.0 and changji.standing.open == 1
    # Signed notices and confirmed summonses of this year only.
    assert (manas.notices, manas.summonses) == (1, 1)
    assert (hutubi.notices, changji.notices) == (0, 0)
    departments = {row.standing.name: row for row in board.departments}
    assert (departments["industry"].notices, departments["industry"].summonses) == (1, 0)
    assert departments["development_reform"].standing.on_time_rate == 1.0


def test_light_rules_and_order() -> None:
    calm = Standing("a", "region", overdue=0, open=2, closed=1, closed_on_time=1)
    late = Standing("b", "region", overdue=1, open=2, closed=0, closed_on_time=0)
    assert light_of(calm, due_soon=0, extended=0) is Light.GREEN
    assert light_of(calm, due_soon=1, extended=0) is Light.YELLOW
    assert light_of(calm, due_soon=0, extended=1) is Light.YELLOW
    assert light_of(late, due_soon=0, extended=0) is Light.RED
    # A yellow one with a worse rate still comes after a red one, before a green one.
    rows = [BoardRow(calm), BoardRow(Standing("c", "region", 0, 1, 4, 0), due_soon=1),
            BoardRow(late)]
    assert [r.standing.name for r in sorted(rows, key=BoardRow.sort_key)] == ["b", "c", "a"]


def test_board_text_reads_names_and_lights(demo_org: Org) -> None:
    aliases = demo_org.alias_table()
    board = Board(TODAY, regions=(BoardRow(Standing("玛纳斯县", "region", 1, 1, 1, 1),
                                           notices=2),),
                  departments=(BoardRow(Standing("industry", "department", 0, 3, 0, 0),
                                        extended=1),))
    en = board_text(board, get_translator("en"), aliases, place="昌吉州").splitlines()
    assert en[0] == "🚦 Board of 昌吉州 as of Aug 1, 2026"
    assert en[3:5] == ["Counties and parks:", "🔴 1. 玛纳斯县: on time 50%, open 1"]
    assert en[5].strip() == ("overdue 1, due within 7 days 0, extended 0, notices 2, "
                             "summonses 0")
    assert en[8] == f"🟡 1. {aliases.name('industry', 'en')}: on time —, open 3"
    words = board_text(board, get_translator("zh_CN"), aliases, place="昌吉州", emoji=False)
    assert "🔴" not in words and aliases.name("industry", "zh_CN") in words
    assert not re.search(r"\bindustry\b", words)
    empty = board_text(Board(TODAY, (), ()), get_translator("en"), aliases, place="昌吉州")
    assert empty.endswith("No cases yet: the board is empty.")


COORDINATION = -1001
COORDINATOR_USER = (10001, "王玮中")
MANAS_LIAISON = (30001, "马晓燕")  # a liaison of 玛纳斯县


async def test_board_command_for_coordinators_only(bot: Bot) -> None:
    services = Services(bot.app.deps.cases, bot.app.deps.org_service, bot.clock)
    await build(services)
    await bot.say(COORDINATOR_USER, COORDINATION, "/bind coordination")
    await bot.say(COORDINATOR_USER, COORDINATION, "/lang en")
    photos = len(bot.fake.called("sendPhoto"))
    await bot.say(COORDINATOR_USER, COORDINATION, "/board")
    text = bot.last_with(COORDINATION, "🚦")
    lines = text.splitlines()
    assert lines[lines.index("Counties and parks:") + 1].startswith("🔴 1. 玛纳斯县")
    assert "🟢 4. 昌吉市: on time 100%, open 1" in lines
    assert not re.search(r"\b(?:industry|development_reform|quality)\b", text)
    sent = bot.fake.called("sendPhoto")
    assert len(sent) == photos + 1 and sent[-1]["chat_id"] == COORDINATION
    assert "board" not in sent[-1]["caption"].split(":")[0]  # the place, not a key

    await bot.say(MANAS_LIAISON, MANAS_LIAISON[0], "/board")
    refusal = bot.last(MANAS_LIAISON[0]).text
    assert "/overdue" in refusal and "🚦" not in refusal
    assert len(bot.fake.called("sendPhoto")) == photos + 1


def test_cli_board_prints_words_not_keys(database_url: str, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("DUBAN_LOCALE", "DUBAN_CATALOG", "DUBAN_CONFIG", "TELEGRAM_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str, lang: str) -> str:
        result = CliRunner().invoke(main, ["--database", database_url, "--lang", lang, *args],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("demo", lang="en")
    for lang in ("zh", "en"):
        output = run("board", lang=lang)
        assert "玛纳斯县" in output and "🔴" not in output
        assert not re.search(r"\b[a-z]+_[a-z_]+\b", output)  # no snake_case key
        assert not re.search(r"\d{4}-\d{2}-\d{2}", output)  # no ISO date
    assert "light" in output  # the lights in words
    assert not re.search(r"\b(?:industry|environment|quality|safety)\b",
                         run("board", lang="zh"))


def test_board_chart_is_sized_for_a_phone(demo_org: Org) -> None:
    from bot.render.reports.board_chart import MAX_ROWS, board_chart

    aliases = demo_org.alias_table()
    regions = tuple(BoardRow(Standing(f"第{i}县", "region", i % 2, 3, 1, 1))
                    for i in range(MAX_ROWS + 3))
    departments = (BoardRow(Standing("development_reform", "department", 0, 2, 0, 0),
                            due_soon=1),)
    for locale in ("zh_CN", "en"):
        chart = board_chart(Board(TODAY, regions, departments), get_translator(locale),
                            aliases, place="昌州")
        assert chart.width == 1080 and chart.png.startswith(b"\x89PNG")
        assert 1080 <= chart.height <= 1350 + 45 * 4
        assert "development_reform" not in chart.caption and "2026" in chart.caption
    empty = board_chart(Board(TODAY, (), ()), get_translator("en"), aliases, place="昌州")
    assert empty.width == 1080


def test_the_chat_board_fits_one_message(demo_org: Org) -> None:
    from bot.render.board import CHAT_LIMIT

    aliases = demo_org.alias_table()
    longest = max(demo_org.departments, key=lambda d: len(aliases.name(d.key, "en"))).key
    regions = tuple(BoardRow(Standing(f"木垒哈萨克自治县{i}", "region", 10, 99, 99, 9))
                    for i in range(30))
    departments = tuple(BoardRow(Standing(longest, "department", 10, 999, 99, 9),
                                 due_soon=10, extended=10, notices=10, summonses=10)
                        for _ in range(30))
    text = board_text(Board(TODAY, regions, departments), get_translator("en"), aliases,
                      place="昌州", limit=CHAT_LIMIT)
    assert len(text) < 4096 and text.count("... and 18 more") == 2
