"""Workflows that match the text (issue 12, item 5), through the services on a real database
(SQLite and PostgreSQL) and one through the chat: （四） exits as （九） does, （九）'s two ways,
（五）'s serious cases, （八）'s required departments by industry (and the org file's override),
and the periods read from the catalog."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from bot.core.casefile import CaseInput
from bot.core.i18n import DubanError, get_translator
from bot.core.org import DEFAULT_REQUIRED, Org, OrgError, RequiredRule, parse_org
from bot.core.policy.catalog import DEFAULT_CATALOG_PATH, Catalog
from bot.core.policy.parser import parse_policy
from bot.core.routing import route
from bot.core.workflow import Actor, State, StepInput
from bot.services.cases import CaseService, Who
from bot.services.org import OrgService
from tests.bot_harness import Bot
from tests.conftest import COORDINATOR, Services
from tests.test_bot_app import COORDINATOR as COORDINATOR_USER
from tests.test_bot_app import ENV_LIAISON, ENVIRONMENT, bind_all, new_case

INDUSTRY = Who(role="liaison", name="工信联络员", telegram_id=20001, department="industry")
REFORM = Who(role="liaison", name="发改联络员", telegram_id=20003,
             department="development_reform")
ENVIRONMENT_WHO = Who(role="liaison", name="环保联络员", telegram_id=20002,
                      department="environment")
SEED_TEXT = (DEFAULT_CATALOG_PATH.parent / "seed_policy.txt").read_text(encoding="utf-8")
TODAY = date(2026, 6, 1)  # the clock of tests.conftest


def case_input(ref: str, clause: str, industry: str = "cement",
               registered: date = date(2026, 3, 10)) -> CaseInput:
    return CaseInput(
        ref=ref, region="玛纳斯县", enterprise=f"玛纳斯县{ref}有限公司", industry=industry,
        clauses=(clause,), capacity=Decimal("60"), unit="万吨/年", equipment="回转窑",
        registered_on=registered, description="测试", row=2,
    )


def step(name: str, department: str | None = None, **kw: object) -> StepInput:
    actor = Actor.DEPARTMENT if department else Actor.COORDINATOR
    return StepInput(step=name, actor=actor, department=department, **kw)  # type: ignore[arg-type]


async def accepted(services: Services, item: CaseInput, *whos: Who) -> None:
    await services.cases.import_cases([item], COORDINATOR)
    for who in whos:
        await services.cases.take_step(item.ref, step("accept", who.department), who)


async def exit_case(services: Services, ref: str, measures: tuple[str, ...],
                    *whos: Who) -> State:
    for measure in measures:
        await services.cases.take_step(ref, step(f"measure:{measure}", whos[0].department,
                                                 evidence=(f"photo:{measure}",), on=TODAY),
                                       whos[0])
    for who in whos:
        result = await services.cases.take_step(ref, step("confirm_exit", who.department,
                                                          capacity=60.0, note="已退出"), who)
    return State(result.view.case.state)


# -- （四） exits as （九） does -------------------------------------------------------------------


async def test_energy_exit_by_closing_the_whole_enterprise(services: Services) -> None:
    cases = services.cases
    await accepted(services, case_input("E-1", "四"), INDUSTRY, REFORM)
    await cases.take_step("E-1", step("order_rectification", "industry", evidence=("doc:1",)),
                          INDUSTRY)
    await cases.take_step("E-1", step("report_failed", "industry", evidence=("doc:2",),
                                      note="整改后仍不达标"), INDUSTRY)
    # （八）'s dismantling list is not （四）'s: refused, nothing written.
    before = await cases.get("E-1")
    for measure in ("equipment_dismantled", "public_commitment", "website_announcement"):
        with pytest.raises(DubanError, match="Unknown step"):
            await cases.take_step("E-1", step(f"measure:{measure}", "industry",
                                              evidence=("photo:x",), on=TODAY), INDUSTRY)
    assert len((await cases.get("E-1")).events) == len(before.events)
    state = await exit_case(services, "E-1", ("enterprise_closed",), INDUSTRY, REFORM)
    assert state is State.EXITED
    assert (await cases.get("E-1")).case.exited_capacity == Decimal("60")


# -- （九）'s two ways -----------------------------------------------------------------------------


@pytest.mark.parametrize("measures", [
    ("enterprise_closed",), ("power_water_cut", "power_units_removed", "line_sealed"),
], ids=["whole enterprise", "equipment measures"])
async def test_exit_either_way(services: Services, measures: tuple[str, ...]) -> None:
    cases = services.cases
    await cases.import_cases([case_input("X-1", "九")], COORDINATOR)
    await cases.reroute("X-1", ["industry", "development_reform"], COORDINATOR,
                        group="相关部门")
    for who in (INDUSTRY, REFORM):
        await cases.take_step("X-1", step("accept", who.department), who)
    await cases.take_step("X-1", step("order_shutdown", "industry", evidence=("doc:1",),
                                      on=date(2026, 9, 30)), INDUSTRY)
    assert await exit_case(services, "X-1", measures, INDUSTRY, REFORM) is State.EXITED


async def test_exit_with_part_of_the_equipment_way_is_refused(services: Services) -> None:
    cases = services.cases
    await cases.import_cases([case_input("X-2", "九")], COORDINATOR)
    await cases.reroute("X-2", ["industry"], COORDINATOR, group="相关部门")
    await cases.take_step("X-2", step("accept", "industry"), INDUSTRY)
    await cases.take_step("X-2", step("order_shutdown", "industry", evidence=("doc:1",),
                                      on=date(2026, 9, 30)), INDUSTRY)
    for measure in ("power_water_cut", "line_sealed"):
        await cases.take_step("X-2", step(f"measure:{measure}", "industry",
                                          evidence=("photo:1",), on=TODAY), INDUSTRY)
    with pytest.raises(DubanError, match="one way of exit") as refused:
        await cases.take_step("X-2", step("confirm_exit", "industry", capacity=1.0,
                                          note="x"), INDUSTRY)
    assert "power units removed" in str(refused.value)
    assert (await cases.get("X-2")).case.state == State.SHUTDOWN_ORDERED


# -- （五） serious cases --------------------------------------------------------------------------


async def test_serious_environment_case_goes_straight_to_closure(services: Services) -> None:
    cases = services.cases
    await accepted(services, case_input("H-1", "五"), ENVIRONMENT_WHO)
    result = await cases.take_step("H-1", step("request_closure_serious", "environment",
                                               evidence=("doc:report",), note="情节严重"),
                                   ENVIRONMENT_WHO)
    assert result.view.case.state == State.CLOSURE_REQUESTED
    assert result.view.case.deadline is None and result.view.case.due_on is not None
    approved = await cases.take_step("H-1", step("confirm_closure_approved", "environment",
                                                 evidence=("doc:approval",)), ENVIRONMENT_WHO)
    assert approved.view.case.state == State.SHUTDOWN_ORDERED


# -- （八）'s required departments by industry -----------------------------------------------------


@pytest.mark.parametrize(("industry", "required"), [
    ("cement", {"industry", "development_reform"}),
    ("coal", {"industry", "development_reform", "coal"}),
    ("power", {"industry", "development_reform", "energy"}),
    ("steel", {"industry", "development_reform", "quality"}),
])
async def test_technology_required_departments_follow_the_industry(
        services: Services, industry: str, required: set[str]) -> None:
    await services.cases.import_cases([case_input("T-1", "八", industry)], COORDINATOR)
    view = await services.cases.get("T-1")
    assert view.required_departments == required
    routed = {a.department_key for a in view.assignments if a.department_key}
    assert routed == {"industry", "development_reform", "energy", "coal", "quality"}
    assert all(a.role == "lead" for a in view.assignments if a.department_key)
    assert [a.as_written for a in view.unresolved_groups] == ["相关部门"]


def test_a_required_part_under_another_clause_is_kept(catalog: Catalog) -> None:
    """（四） makes 工信 and 发改 responsible; （八） does not take 煤炭's part away from a coal
    mine, nor add 质监 for cement."""
    plan = {p.target: p for p in route(catalog, ("四", "八"), "coal")}
    assert {k for k, p in plan.items() if p.required} == {"industry", "development_reform",
                                                           "coal"}
    assert not plan["quality"].required and not plan["energy"].required


ROUTING = """
[routing.required."（八）"]
all = ["工信"]
"煤炭" = ["州煤炭局", "energy"]
"水泥" = ["质监"]
"""


def org_with(demo_org: Org, extra: str) -> Org:
    """The demo organisation file with its ``[routing]`` table replaced by ``extra``."""
    text = (DEFAULT_CATALOG_PATH.parent / "demo_org.toml").read_text(encoding="utf-8")
    head, _, _ = text.partition("\n[routing.required.")
    assert "\n[routing" not in head
    return parse_org(head + "\n" + extra, source="org.toml")


async def test_the_org_file_overrides_the_required_departments(
        services: Services, demo_org: Org) -> None:
    org = org_with(demo_org, ROUTING)
    assert org.routing.required("八", "coal") == {"industry", "coal", "energy"}
    assert org.routing.required("八", "cement") == {"industry", "quality"}
    assert org.routing.required("四", "coal") is None  # not listed: the tag decides
    await services.org.load(org)
    stored = await OrgService(services.org.sessions).current()
    assert stored.routing == org.routing  # kept in the database with the org
    cases = CaseService(services.cases.sessions, services.cases.catalog, services.clock,
                        org=services.org.cached)
    await cases.import_cases([case_input("T-2", "八", "coal"), case_input("T-3", "八")],
                             COORDINATOR)
    assert (await cases.get("T-2")).required_departments == {"industry", "coal", "energy"}
    assert (await cases.get("T-3")).required_departments == {"industry", "quality"}


def test_demo_org_has_the_default_rules(demo_org: Org) -> None:
    assert demo_org.routing.rules == DEFAULT_REQUIRED  # written out in the demo file
    assert org_with(demo_org, "").routing.rules == DEFAULT_REQUIRED  # left out: the same
    assert RequiredRule("八", "power", ("energy",)) in DEFAULT_REQUIRED


@pytest.mark.parametrize(("extra", "problem"), [
    ('[routing.required."八"]\ncoal = ["州卫健委"]\n', "unknown department “州卫健委”"),
    ('[routing.required."八"]\n"化工" = ["工信"]\n', "unknown industry “化工”"),
    ('[routing.required."十二"]\nall = ["工信"]\n', "“十二” is not a clause of a case"),
    ('[routing.required."八"]\ncoal = [1]\n', "must be a list of texts"),
    ('[routing.required]\n"八" = "工信"\n', "must be a table"),
    ('[routing]\nrequire = {}\n', "unknown key “require”"),
    ('[routing.required."八"]\nall = []\n[routing.required."（八）"]\nall = []\n',
     "listed twice"),
])
def test_bad_routing_tables_are_clear_errors(demo_org: Org, extra: str, problem: str) -> None:
    with pytest.raises(OrgError) as raised:
        org_with(demo_org, extra)
    (found,) = raised.value.problems
    assert problem in str(found)
    assert "routing" in str(found)  # where in the file
    chinese = raised.value.render(get_translator("zh_CN"))
    assert "org.toml" in chinese and "{" not in chinese


# -- periods from the catalog ---------------------------------------------------------------------


def four_months_catalog() -> Catalog:
    """The seed as a reviewer might have changed it: 4 months to rectify, at most 2 more."""
    text = SEED_TEXT.replace("应在6个月内整改", "应在4个月内整改").replace(
        "不超过3个月的延期申请", "不超过2个月的延期申请")
    assert text != SEED_TEXT
    return parse_policy(text)


async def test_the_catalog_sets_the_periods(services: Services) -> None:
    cases = CaseService(services.cases.sessions, four_months_catalog(), services.clock)
    await cases.import_cases([case_input("P-1", "四"), case_input("P-2", "六")], COORDINATOR)
    assert (await cases.get("P-1")).case.deadline == date(2026, 7, 10)  # 4 months
    assert (await cases.get("P-2")).case.deadline == date(2026, 9, 10)  # （六） still 6
    for who in (INDUSTRY, REFORM):
        await cases.take_step("P-1", step("accept", who.department), who)
    await cases.take_step("P-1", step("order_rectification", "industry",
                                      evidence=("doc:1",)), INDUSTRY)
    with pytest.raises(DubanError, match="1 to 2 months"):
        await cases.take_step("P-1", step("request_extension", "industry", reason="改造",
                                          months=3), INDUSTRY)
    await cases.take_step("P-1", step("request_extension", "industry", reason="改造",
                                      months=2), INDUSTRY)
    approved = await cases.take_step("P-1", step("approve_extension"), COORDINATOR)
    assert approved.view.case.deadline == date(2026, 9, 10)


async def test_without_the_periods_in_the_text_the_numbers_of_today(
        services: Services, catalog: Catalog) -> None:
    """A catalog whose （四） states no period keeps 6 months and an extension of 3."""
    bare = replace(catalog, clauses=tuple(
        replace(c, paragraphs=tuple(replace(p, deadlines=()) for p in c.paragraphs))
        if c.ref == "四" else c for c in catalog.clauses))
    cases = CaseService(services.cases.sessions, bare, services.clock)
    await cases.import_cases([case_input("P-3", "四")], COORDINATOR)
    assert (await cases.get("P-3")).case.deadline == date(2026, 9, 10)
    assert cases.terms("四").extension_max_months == 3


async def test_immediate_in_the_text_is_the_orgs_short_deadline(services: Services) -> None:
    """"立即" in a clause's text: an accepted case is due within the org's
    ``immediate_working_days`` (3), not the ordinary decision wait (10)."""
    text = SEED_TEXT.replace("责令采取限制生产", "责令立即采取限制生产")
    assert text != SEED_TEXT
    plain = services.cases
    urgent = CaseService(plain.sessions, parse_policy(text), services.clock)
    await plain.import_cases([case_input("I-1", "五")], COORDINATOR)
    await urgent.import_cases([case_input("I-2", "五")], COORDINATOR)
    for cases, ref in ((plain, "I-1"), (urgent, "I-2")):
        await cases.take_step(ref, step("accept", "environment"), ENVIRONMENT_WHO)
    calendar = plain.calendar
    assert (await plain.get("I-1")).case.due_on == calendar.add_working_days(TODAY, 10)
    assert (await urgent.get("I-2")).case.due_on == calendar.add_working_days(TODAY, 3)


# -- through the chat -----------------------------------------------------------------------------


async def test_serious_case_button_on_the_card(bot: Bot) -> None:
    """An environment liaison presses 情节严重 on an accepted （五） card: the closure request
    is asked for (evidence, note), confirmed, and the case waits for the approval."""
    await bind_all(bot)
    await bot.say(COORDINATOR_USER, ENVIRONMENT, "/lang en")
    ref = await new_case(bot)
    await bot.deliver()
    card = bot.last(ENVIRONMENT)
    await bot.press(ENV_LIAISON, card, "Accept")
    await bot.deliver()
    card = bot.fake.messages[(ENVIRONMENT, card.message_id)]
    labels = [label for label, _ in card.buttons()]
    assert any("Serious case" in label for label in labels), labels
    assert any("restricted production" in label for label in labels), labels  # kept
    await bot.press(ENV_LIAISON, card, "Serious case")
    await bot.feed(bot.users.photo(ENV_LIAISON, ENVIRONMENT, "photo-serious"))
    await bot.say(ENV_LIAISON, ENVIRONMENT, "多次超标排放，情节严重")
    await bot.press(ENV_LIAISON, bot.last(ENVIRONMENT), "Confirm")
    view = await bot.app.deps.cases.get(ref)
    assert view.case.state == State.CLOSURE_REQUESTED
    assert view.events[-1].kind == "request_closure_serious"
    assert view.events[-1].payload["note"] == "多次超标排放，情节严重"


async def test_exit_card_says_the_two_ways(services: Services) -> None:
    """The card of a （九） case being shut down: the two ways as buttons a liaison can read,
    the hint that one is enough; once one way is done, only the exit is left to press."""
    from datetime import UTC

    from bot.core.buttons import ButtonCodec
    from bot.core.departments import DEFAULT_ALIASES
    from bot.render.cards import CardContext, card

    cases = services.cases
    await cases.import_cases([case_input("X-3", "九")], COORDINATOR)
    await cases.reroute("X-3", ["industry"], COORDINATOR, group="相关部门")
    await cases.take_step("X-3", step("accept", "industry"), INDUSTRY)
    await cases.take_step("X-3", step("order_shutdown", "industry", evidence=("doc:1",),
                                      on=date(2026, 9, 30)), INDUSTRY)
    ctx = CardContext(chat_id=-1003, tr=get_translator("en"), aliases=DEFAULT_ALIASES, tz=UTC,
                      codec=ButtonCodec.from_token("1:x"), today=TODAY, department="industry")
    shown = card(await cases.get("X-3"), ctx)
    labels = [b.label for row in shown.buttons for b in row]
    assert labels[:4] == ["Way 1: whole enterprise closed down", "Way 2: power and water cut",
                          "Way 2: power units removed", "Way 2: main equipment sealed"]
    assert "Exit in one of two ways" in shown.text
    await cases.take_step("X-3", step("measure:enterprise_closed", "industry",
                                      evidence=("doc:closure",), on=TODAY), INDUSTRY)
    shown = card(await cases.get("X-3"), ctx)
    assert [b.label for row in shown.buttons for b in row] == ["Confirm exit"]
    assert "Exit in one of two ways" not in shown.text
    assert "Exit measures: 1 of 1 confirmed" in shown.text


def test_policy_gist_states_the_catalog_s_periods() -> None:
    from bot.core.i18n import get_translator
    from bot.core.policy.catalog import load_default_catalog
    from bot.core.workflow import Terms
    from bot.render.cards import policy_text

    clause = load_default_catalog().find_clause("四")
    zh = get_translator("zh_CN")
    assert "自立案起6个月内整改" in policy_text(clause, zh)
    four = policy_text(clause, zh, Terms(rectification_months=4, extension_max_months=2))
    assert "自立案起4个月内整改" in four and "不超过2个月的延期" in four
    english = policy_text(clause, get_translator("en"), Terms(rectification_months=4,
                                                                extension_max_months=2))
    assert "within 4 months" in english or "within 4 month(s)" in english
