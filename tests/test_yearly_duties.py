"""The yearly duties read from the catalog: who owes them (the tags of （十九）, with the guiding
opinion's departments as the fallback), the one joint work plan escalated as one, the counties'
and parks' own work plan with their government's approval, and the 31 December letters
delivered to the departments they are written to."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from bot.core.clock import ManualClock
from bot.core.i18n import DubanError, get_translator
from bot.core.org import load_demo_org
from bot.core.policy.catalog import Catalog, load_default_catalog
from bot.services.access import Who
from bot.services.calendar import CalendarService, WaitingParty
from bot.services.dialogs import DUTY_QUESTIONS
from bot.services.outbox import CLAIM_LEASE, Kind
from models.tables import NoticeEntry, Obligation, Outbox
from scheduler.rules import (
    OBLIGATION_LABELS,
    DutyOwners,
    ObligationSnapshot,
    duty_owners,
    obligations_for_year,
)
from scheduler.workdays import WorkCalendar
from tests.bot_harness import Bot, start_bot
from tests.conftest import Services
from tests.test_bot_app import COORDINATION, COORDINATOR, INDUSTRY, MANAS, REFORM, bind_all
from tests.test_calendar import bind_chats
from tests.test_rules import Sender, d, daily, sent_steps

ENERGY, COAL = -1006, -1007
MANAS_LIAISON = (30001, "玛纳斯联络员")
REFORM_LIAISON = (20003, "发改联络员")
LEADS = ("industry", "energy", "coal")
PARTNERS = ("development_reform", "environment", "quality", "safety")
TR = get_translator("zh_CN")


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour - 8, tzinfo=UTC)


def retagged(catalog: Catalog, assignments: list[dict[str, Any]]) -> Catalog:
    """The catalog with the tag of （十九） replaced: a document of the same family that names
    other departments, loaded as any catalog file is (no code knows it)."""
    data = json.loads(catalog.to_json())
    for clause in data["clauses"]:
        if clause["path"][-1] != "十九":
            continue
        for paragraph in clause["paragraphs"]:
            for tag in paragraph["tags"]:
                tag["assignments"] = assignments
    return Catalog.from_json(json.dumps(data, ensure_ascii=False))


def assignment(role: str, key: str) -> dict[str, Any]:
    return {"role": role, "department": key, "as_written": key}


OTHER_DOCUMENT = [assignment("lead", "industry"), assignment("lead", "development_reform"),
                  assignment("responsible", "environment"), assignment("cooperate", "safety")]


# --- who owes each duty -------------------------------------------------------------------------


def test_the_seed_names_the_owners_of_the_duties_in_the_tag_of_clause_19() -> None:
    owners = duty_owners(load_default_catalog())
    assert owners == DutyOwners(work_plan_leads=LEADS, work_plan_partners=PARTNERS,
                                letter_senders=PARTNERS, letter_recipients=LEADS,
                                annual_report=LEADS)


def test_another_document_names_other_departments_without_a_code_change() -> None:
    catalog = retagged(load_default_catalog(), OTHER_DOCUMENT)
    owners = duty_owners(catalog)
    assert owners.work_plan_leads == ("industry", "development_reform")
    assert owners.work_plan_partners == ("environment", "safety")
    assert owners.letter_senders == ("environment", "safety")
    assert owners.letter_recipients == ("industry", "development_reform")
    assert owners.annual_report == ("industry", "development_reform")
    org = load_demo_org()
    duties = obligations_for_year(2026, catalog, org.regions, org.departments)
    plan = [(o.party, o.role) for o in duties if o.kind == "work_plan"]
    assert plan == [("industry", "lead"), ("development_reform", "lead"),
                    ("environment", "cooperate"), ("safety", "cooperate")]
    assert [o.party for o in duties if o.kind == "department_letter"] == [
        "environment", "safety"]
    assert [o.party for o in duties if o.kind == "annual_report"] == [
        "industry", "development_reform"]


def test_a_catalog_without_the_paragraph_keeps_the_guiding_opinions_departments() -> None:
    seed = load_default_catalog()
    without = Catalog(clauses=tuple(c for c in seed.clauses if c.ref != "十九"),
                      documents=seed.documents, main=seed.main)
    assert duty_owners(without) == DutyOwners()
    assert duty_owners(None) == DutyOwners()
    untagged = retagged(seed, [])
    assert duty_owners(untagged) == DutyOwners()


# --- the joint work plan, escalated as one --------------------------------------------------------


def work_plan(confirmed: frozenset[str] = frozenset()) -> list[ObligationSnapshot]:
    return [ObligationSnapshot("work_plan", 2026, d("2026-03-31"), key, "department",
                               confirmed=key in confirmed,
                               role="lead" if key in LEADS else "cooperate",
                               opened_on=d("2026-03-01"))
            for key in (*LEADS, *PARTNERS)]


def test_the_joint_work_plan_names_its_leads_and_only_reminds_the_others() -> None:
    sender = Sender()
    sender.run(daily("2026-03-01", "2026-05-31"), obligations=work_plan())
    formal = {(i.kind, i.party) for _, i in sender.log if i.kind in ("notice", "summons")}
    assert formal == {(kind, key) for kind in ("notice", "summons") for key in LEADS}
    for key in PARTNERS:
        steps = [step for _, party, step in sent_steps(sender.log) if party == key]
        assert steps[-2:] == ["overdue", "reminder"], (key, steps)
        assert "T-7" in steps or "T-3" in steps or "T-1" in steps
    assert all(i.recipient in LEADS or i.kind not in ("notice", "summons")
               for _, i in sender.log)


def test_once_the_leads_submit_the_joint_plan_nobody_is_chased_for_it() -> None:
    sender = Sender()
    sender.run(daily("2026-04-01", "2026-05-31"), obligations=work_plan(frozenset(LEADS)))
    assert sender.log == [], "the plan is in: the participants are not chased either"
    one_lead_late = work_plan(frozenset(LEADS[:2]))
    sender = Sender()
    sender.run(daily("2026-04-01", "2026-05-31"), obligations=one_lead_late)
    named = {i.party for _, i in sender.log if i.kind == "notice"}
    assert named == {"coal"}
    assert {i.party for _, i in sender.log} == {"coal", *PARTNERS}


def test_a_department_alone_with_no_lead_in_the_org_is_escalated_as_before() -> None:
    alone = [o for o in work_plan() if o.party == "environment"]
    sender = Sender()
    sender.run(daily("2026-03-01", "2026-05-31"), obligations=alone)
    assert "notice" in [i.kind for _, i in sender.log]


# --- on the database ------------------------------------------------------------------------------


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 2, 2, tzinfo=UTC))


async def calendar_with(services: Services, catalog: Catalog) -> CalendarService:
    cases = services.cases
    return CalendarService(cases.sessions, services.clock, catalog, WorkCalendar(), cases,
                           services.org.current)


async def test_a_retagged_catalog_opens_the_duties_of_the_departments_it_names(
        services: Services) -> None:
    await bind_chats(services)
    calendar = await calendar_with(services, retagged(load_default_catalog(), OTHER_DOCUMENT))
    services.clock.set(at(date(2026, 3, 2)))
    await calendar.sweep()
    found = await calendar.obligations(year=2026)
    assert sorted((o.party, o.role) for o in found if o.kind == "work_plan") == [
        ("development_reform", "lead"), ("environment", "cooperate"), ("industry", "lead"),
        ("safety", "cooperate")]
    regions = {r.name for r in (await services.org.current()).regions}
    assert {o.party for o in found if o.kind == "region_work_plan"} == regions
    assert {o.due for o in found if o.kind == "region_work_plan"} == {date(2026, 3, 31)}


async def test_the_joint_plan_notice_names_the_leads_only(services: Services) -> None:
    await bind_chats(services)
    calendar = await calendar_with(services, services.cases.catalog)
    for day in (date(2026, 3, 2), date(2026, 4, 1), date(2026, 4, 14)):
        services.clock.set(at(day))
        report = await calendar.sweep()
    plan = [i for i in report.items if i.obligation == "work_plan/2026"]
    assert {i.party for i in plan if i.kind == "notice"} == set(LEADS)
    assert not [i for i in plan if i.party in PARTNERS and i.kind in ("notice", "summons")]
    async with services.cases.sessions() as session:
        named = (await session.exec(select(col(NoticeEntry.party)).where(
            col(NoticeEntry.obligation) == "work_plan/2026"))).all()
    assert sorted(named) == sorted(LEADS), "the 通报 names the leads, once each"


async def test_the_county_work_plan_needs_the_uploaded_approval(services: Services) -> None:
    await bind_chats(services)
    calendar = await calendar_with(services, services.cases.catalog)
    await calendar.sweep()
    duty = next(o for o in await calendar.obligations(party="玛纳斯县", year=2026)
                if o.kind == "region_work_plan")
    county = Who(role="liaison", name="玛纳斯联络员", telegram_id=30001, region="玛纳斯县")
    with pytest.raises(DubanError):
        await calendar.confirm_obligation(duty.id or 0, [], county)
    assert (await calendar.obligation(duty.id or 0)).confirmed_at is None
    other = Who(role="liaison", name="奇台联络员", telegram_id=30002, region="奇台县")
    with pytest.raises(DubanError):
        await calendar.confirm_obligation(duty.id or 0, ["document:a:b:批复.pdf"], other)
    await calendar.confirm_obligation(duty.id or 0, ["document:a:b:批复.pdf"], county)
    assert (await calendar.obligation(duty.id or 0)).confirmed_at is not None


# --- in the chats -------------------------------------------------------------------------------


async def test_a_county_confirms_its_work_plan_with_the_governments_approval(bot: Bot) -> None:
    await bind_all(bot)
    calendar = bot.app.deps.calendar
    bot.clock.set(at(date(2026, 3, 24)))  # T-7 before 31 March
    await calendar.sweep()
    await bot.deliver()
    digest = bot.last(MANAS)
    label = TR.gettext(OBLIGATION_LABELS["region_work_plan"])
    assert label in digest.text and "region_work_plan" not in digest.text, digest.text
    await bot.press(MANAS_LIAISON, digest, label)
    assert TR.gettext(DUTY_QUESTIONS["region_work_plan"]) in bot.last(MANAS).text
    await bot.say(MANAS_LIAISON, MANAS, "已经批了")  # words are not the approval
    assert (await _county_plan(bot)).confirmed_at is None
    await bot.feed(bot.users.document(MANAS_LIAISON, MANAS, "approval-1", "县政府批复.pdf",
                                      "application/pdf"))
    await bot.press(MANAS_LIAISON, bot.last(MANAS), "确认")
    duty = await _county_plan(bot)
    assert duty.confirmed_at is not None and duty.evidence[0].startswith("document:approval-1u")
    await bot.say(COORDINATOR, COORDINATION, "/duties 2026")
    lines = bot.last(COORDINATION).text.splitlines()
    at_plan = next(i for i, line in enumerate(lines) if label in line)
    assert "1/" in lines[at_plan] and "玛纳斯县" not in lines[at_plan + 1], lines
    assert "呼图壁县" in lines[at_plan + 1], lines


async def _county_plan(bot: Bot) -> Obligation:
    return next(o for o in await bot.app.deps.calendar.obligations(party="玛纳斯县", year=2026)
                if o.kind == "region_work_plan")


async def test_duties_shows_the_joint_plan_once_with_its_leads_and_participants(
        bot: Bot) -> None:
    await bind_all(bot)
    calendar = bot.app.deps.calendar
    bot.clock.set(at(date(2026, 3, 24)))
    await calendar.sweep()
    duty = next(o for o in await calendar.obligations(party="industry", year=2026)
                if o.kind == "work_plan")
    industry = Who(role="liaison", name="工信联络员", telegram_id=20001, department="industry")
    await calendar.confirm_obligation(duty.id or 0, ["document:p:q:工作方案.pdf"], industry)
    await bot.say(COORDINATOR, COORDINATION, "/duties 2026")
    lines = bot.last(COORDINATION).text.splitlines()
    label = TR.gettext(OBLIGATION_LABELS["work_plan"])
    plan = [i for i, line in enumerate(lines) if line.startswith(label)]
    assert len(plan) == 1, lines
    leads, partners = lines[plan[0] + 1], lines[plan[0] + 2]
    assert TR.gettext("{party} (submitted)").format(party="州工信局") in leads, leads
    assert "州能源局" in leads and "州煤炭工业管理局" in leads, leads
    assert "州发改委" in partners and "州工信局" not in partners, partners


async def _bind(bot: Bot, chat: int, target: str) -> None:
    await bot.say(COORDINATOR, chat, f"/bind {target}")


def _letters(bot: Bot, chat: int) -> list[dict[str, Any]]:
    """The year-end letters of 发改 sent to ``chat`` (their caption names the writer)."""
    return [c for c in bot.fake.called("sendDocument")
            if c["chat_id"] == chat and "州发改委" in (c.get("caption") or "")]


async def _confirm_letter(bot: Bot) -> None:
    calendar = bot.app.deps.calendar
    bot.clock.set(at(date(2026, 12, 24)))  # T-7 before 31 December
    await calendar.sweep()
    await bot.deliver()
    digest = bot.last(REFORM)
    await bot.press(REFORM_LIAISON, digest, TR.gettext(OBLIGATION_LABELS["department_letter"]))
    assert TR.gettext(DUTY_QUESTIONS["department_letter"]) in bot.last(REFORM).text
    await bot.feed(bot.users.document(REFORM_LIAISON, REFORM, "letter-1", "函告.pdf",
                                      "application/pdf"))
    await bot.press(REFORM_LIAISON, bot.last(REFORM), "确认")
    told = bot.last(REFORM).text
    assert "州工信局" in told and "州能源局" in told, told


async def test_the_letter_goes_once_to_the_three_chats_and_not_again_after_a_restart(
        bot: Bot, engine: AsyncEngine, clock: ManualClock, catalog: Catalog) -> None:
    await bind_all(bot)
    await _bind(bot, ENERGY, "能源")
    await _bind(bot, COAL, "煤炭")
    await bot.deliver()
    await _confirm_letter(bot)
    await bot.deliver()
    for chat in (INDUSTRY, ENERGY, COAL):
        letters = _letters(bot, chat)
        assert len(letters) == 1, (chat, letters)
        caption = letters[0]["caption"]
        assert "州发改委" in caption and "2026" in caption and "development_reform" not in caption
    assert not _letters(bot, REFORM) and not _letters(bot, MANAS)
    clock.advance(CLAIM_LEASE + timedelta(seconds=1))
    again = await start_bot(engine, clock, catalog, fake=bot.fake, users=bot.users)
    try:
        await again.deliver()
        await again.app.deps.calendar.sweep()
        assert await again.app.deps.calendar.queue_letters("industry") == 0
        await again.deliver()
    finally:
        await again.app.shutdown()
    assert [len(_letters(bot, chat)) for chat in (INDUSTRY, ENERGY, COAL)] == [1, 1, 1]


async def test_a_recipient_without_a_chat_gets_the_letter_once_its_chat_is_bound(
        bot: Bot) -> None:
    await bind_all(bot)
    await _bind(bot, ENERGY, "能源")
    await bot.deliver()
    await _confirm_letter(bot)  # 煤炭 has no chat yet
    await bot.deliver()
    assert len(_letters(bot, INDUSTRY)) == 1 and len(_letters(bot, ENERGY)) == 1
    async with bot.app.deps.sessions() as session:
        rows = (await session.exec(select(Outbox).where(
            col(Outbox.kind) == Kind.DUTY_LETTER))).all()
    assert {r.recipient for r in rows} == {"industry", "energy"}, "nothing given up for 煤炭"
    calendar = bot.app.deps.calendar
    await calendar.sweep()
    assert WaitingParty("department", "coal", 1) in await calendar.waiting_for_chats()
    await _bind(bot, COAL, "煤炭")
    await bot.deliver()
    await bot.deliver()
    assert len(_letters(bot, COAL)) == 1
    await _bind(bot, COAL, "煤炭")  # bound again: still once
    await bot.deliver()
    assert len(_letters(bot, COAL)) == 1 and len(_letters(bot, INDUSTRY)) == 1
    assert not [w for w in await calendar.waiting_for_chats() if w.party == "coal"]
