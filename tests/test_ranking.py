"""The ranking of clause （二十） on a real database (both back-ends): counties and parks, and
departments, by overdue items and on-time rate, worst first; and how it reads."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.core.casefile import CaseInput
from bot.core.clock import ManualClock
from bot.core.i18n import get_translator
from bot.core.org import Org
from bot.core.workflow import Actor, State, StepInput
from bot.render.texts import ranking_text
from bot.services.cases import Who
from bot.services.status import Standing, StatusService
from tests.bot_harness import Bot
from tests.conftest import COORDINATOR, Services

INDUSTRY = Who(role="liaison", name="工信联络员", telegram_id=20001, department="industry")
REFORM = Who(role="liaison", name="发改联络员", telegram_id=20003,
             department="development_reform")
TZ = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 8, 1)
EARLY, LATE = date(2026, 1, 10), date(2026, 3, 1)  # deadlines 2026-07-10 and 2026-09-01


def at(day: date, hour: int = 10) -> datetime:
    """An instant in Asia/Shanghai office hours, as UTC."""
    return datetime(day.year, day.month, day.day, hour - 8, tzinfo=UTC)


def energy_case(ref: str, region: str, registered: date) -> CaseInput:
    return CaseInput(ref=ref, region=region, enterprise=f"{ref}水泥厂", industry="cement",
                     clauses=("四",), capacity=Decimal(50), unit="万吨/年", equipment=None,
                     registered_on=registered, description="能耗超标", row=2)


CASES = [  # ref, region, registered
    ("M-1", "玛纳斯县", EARLY), ("M-2", "玛纳斯县", EARLY), ("M-3", "玛纳斯县", EARLY),
    ("H-1", "呼图壁县", EARLY), ("H-2", "呼图壁县", LATE), ("H-3", "呼图壁县", EARLY),
    ("C-1", "昌吉市", EARLY), ("C-2", "昌吉市", EARLY),
    ("Q-1", "奇台县", LATE),
]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(at(date(2026, 3, 2)))


async def rectified(services: Services, ref: str, on: date) -> None:
    """Both departments accept, order rectification and confirm it on ``on``."""
    services.clock.set(at(on))
    for who in (INDUSTRY, REFORM):
        await services.cases.take_step(ref, StepInput("accept", Actor.DEPARTMENT,
                                                      who.department), who)
    await services.cases.take_step(ref, StepInput("order_rectification", Actor.DEPARTMENT,
                                                  "industry", evidence=("doc:1",)), INDUSTRY)
    for who in (INDUSTRY, REFORM):
        result = await services.cases.take_step(
            ref, StepInput("confirm_rectified", Actor.DEPARTMENT, who.department,
                           evidence=("photo:1",), on=on), who)
    assert result.view.case.state == State.RECTIFIED


async def build(services: Services) -> None:
    await services.cases.import_cases([energy_case(*c) for c in CASES], COORDINATOR)
    # Reform hands M-2 back: it no longer counts for reform (only for industry).
    await services.cases.hand_back("M-2", "development_reform", "不属于发改职责", REFORM)
    for ref in ("M-3", "C-2"):  # closed on time (before 2026-07-10)
        await rectified(services, ref, date(2026, 5, 1))
    await rectified(services, "H-3", date(2026, 7, 20))  # closed ten days late
    services.clock.set(at(TODAY))


def figures(standings: list[Standing]) -> list[tuple[str, int, int, int, int]]:
    return [(s.name, s.overdue, s.open, s.closed, s.closed_on_time) for s in standings]


async def test_ranking_orders_worst_first_with_the_figures(services: Services) -> None:
    await build(services)
    status = StatusService(services.cases.sessions, TZ)
    regions, departments = await status.ranking(TODAY)
    assert figures(regions) == [
        ("玛纳斯县", 2, 2, 1, 1),  # most overdue
        ("呼图壁县", 1, 2, 1, 0),  # one overdue, on time 0 %
        ("昌吉市", 1, 1, 1, 1),  # one overdue, on time 50 %
        ("奇台县", 0, 1, 0, 0),  # nothing due yet: no rate, last
    ]
    assert [s.on_time_rate for s in regions] == [pytest.approx(1 / 3), 0.0, 0.5, None]
    assert {s.kind for s in regions} == {"region"}
    assert figures(departments) == [
        ("industry", 4, 6, 3, 2),
        ("development_reform", 3, 5, 3, 2),
    ]
    assert [s.on_time_rate for s in departments] == [pytest.approx(2 / 7),
                                                    pytest.approx(2 / 6)]
    assert {s.kind for s in departments} == {"department"}
    # The overdue count is the one definition of overdue, as /status counts it.
    assert sum(s.overdue for s in regions) == (await status.status(TODAY)).overdue


async def test_ranking_of_an_empty_database(services: Services) -> None:
    status = StatusService(services.cases.sessions, TZ)
    assert await status.ranking(TODAY) == ([], [])


def test_sort_breaks_ties_by_rate_then_name() -> None:
    standings = [Standing("b", "region", 1, 1, 0, 0), Standing("a", "region", 1, 1, 0, 0),
                 Standing("c", "region", 1, 1, 1, 1), Standing("e", "region", 0, 1, 0, 0),
                 Standing("d", "region", 0, 1, 1, 0), Standing("f", "region", 2, 2, 9, 9)]
    ordered = sorted(standings, key=Standing.sort_key)
    assert [s.name for s in ordered] == ["f", "a", "b", "c", "d", "e"]
    assert Standing("e", "region", 0, 1, 0, 0).on_time_rate is None


REGIONS = [Standing("玛纳斯县", "region", 3, 5, 12, 12), Standing("昌吉市", "region", 1, 2, 1, 1),
           Standing("奇台县", "region", 0, 1, 0, 0)]
DEPARTMENTS = [Standing("industry", "department", 4, 6, 3, 2),
               Standing("development_reform", "department", 3, 5, 3, 2)]


def test_ranking_text_in_english(demo_org: Org) -> None:
    aliases = demo_org.alias_table()
    text = ranking_text(REGIONS, DEPARTMENTS, get_translator("en"), aliases)
    assert text.splitlines() == [
        "🏁 Ranking (overdue items · on-time rate)",
        "Counties and parks:",
        "1. 玛纳斯县: 3 overdue · on time 80%",
        "2. 昌吉市: 1 overdue · on time 50%",
        "3. 奇台县: 0 overdue · on time —",
        "Departments:",
        f"1. {aliases.name('industry', 'en')}: 4 overdue · on time 29%",
        f"2. {aliases.name('development_reform', 'en')}: 3 overdue · on time 33%",
    ]


def test_ranking_text_in_chinese_and_the_limit(demo_org: Org) -> None:
    aliases = demo_org.alias_table()
    tr = get_translator("zh_CN")
    lines = ranking_text(REGIONS, DEPARTMENTS, tr, aliases, limit=2).splitlines()
    assert len(lines) == 1 + 1 + 2 + 1 + 2  # title, heading, two regions, heading, two
    assert lines[0].startswith("🏁")
    assert lines[2].startswith("1. 玛纳斯县") and "3" in lines[2] and "80%" in lines[2]
    assert lines[3].startswith("2. 昌吉市") and "50%" in lines[3]
    assert not any("奇台县" in line for line in lines)  # beyond the limit
    assert lines[5].startswith(f"1. {aliases.name('industry', 'zh_CN')}")
    assert "29%" in lines[5]
    assert aliases.name("industry", "zh_CN") != aliases.name("industry", "en")
    assert lines[6].startswith(f"2. {aliases.name('development_reform', 'zh_CN')}")


COORDINATION = -1001
COORDINATOR_USER = (10001, "王玮中")


async def test_status_shows_the_ranking_only_for_the_prefecture(bot: Bot) -> None:
    bot.clock.set(at(date(2026, 3, 2)))
    cases = bot.app.deps.cases
    await cases.import_cases([energy_case("M-1", "玛纳斯县", EARLY),
                              energy_case("Q-1", "奇台县", LATE)], COORDINATOR)
    bot.clock.set(at(TODAY))
    await bot.say(COORDINATOR_USER, COORDINATION, "/bind coordination")
    await bot.say(COORDINATOR_USER, COORDINATION, "/lang en")
    await bot.say(COORDINATOR_USER, COORDINATION, "/status")
    status = bot.last_with(COORDINATION, "📊")
    assert "🏁" in status
    ranking = status[status.index("🏁"):].splitlines()
    assert ranking[1:4] == ["Counties and parks:", "1. 玛纳斯县: 1 overdue · on time 0%",
                            "2. 奇台县: 0 overdue · on time —"]
    await bot.say(COORDINATOR_USER, COORDINATION, "/status 玛纳斯")
    assert "🏁" not in bot.last_with(COORDINATION, "📊")
