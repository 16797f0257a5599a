"""The calendar on a real database (both back-ends): sweeps record each step exactly once,
number notices without gaps, summon, respect pauses and skips, and confirm yearly duties."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select, update

from bot.core.casefile import CaseInput
from bot.core.clock import ManualClock
from bot.core.i18n import DubanError
from bot.core.org import Org
from bot.core.workflow import Actor, State, StepInput
from bot.services.calendar import CalendarService
from bot.services.cases import Who
from bot.services.outbox import Kind, OutboxStore
from models.db import transaction
from models.tables import Case, ChatBinding, Notice, Outbox, SentKey
from scheduler.workdays import WorkCalendar
from tests.conftest import COORDINATOR, Services

INDUSTRY = Who(role="liaison", name="工信联络员", telegram_id=20001, department="industry")
REFORM = Who(role="liaison", name="发改联络员", telegram_id=20003,
             department="development_reform")
MANAS = Who(role="liaison", name="玛纳斯联络员", telegram_id=30001, region="玛纳斯县")


def at(day: date, hour: int = 10) -> datetime:
    """An instant in Asia/Shanghai office hours, as UTC."""
    return datetime(day.year, day.month, day.day, hour - 8, tzinfo=UTC)


def energy_case(ref: str, registered: date, region: str = "玛纳斯县") -> CaseInput:
    return CaseInput(ref=ref, region=region, enterprise=f"{ref}水泥厂", industry="cement",
                     clauses=("四",), capacity=Decimal(50), unit="万吨/年", equipment=None,
                     registered_on=registered, description="能耗超标", row=2)


@pytest.fixture
def clock() -> ManualClock:
    """These stories start in January (the shared fixture starts in June)."""
    return ManualClock(datetime(2026, 1, 1, 2, tzinfo=UTC))


@pytest.fixture
async def calendar(services: Services) -> CalendarService:
    """The calendar of an organisation whose every department and county has its chat (the
    reminders of a party without one wait: see the tests at the end)."""
    cases = services.cases
    await bind_chats(services)
    return CalendarService(cases.sessions, services.clock, cases.catalog, WorkCalendar(), cases,
                           services.org.current)


async def bind_chats(services: Services, *, except_for: frozenset[str] = frozenset()) -> None:
    """A bound chat for every department and county or park (but ``except_for``)."""
    org = await services.org.current()
    now = services.clock.now()
    parties = ([("department", d.key, None) for d in org.departments]
               + [("region", None, r.name) for r in org.regions])
    async with transaction(services.cases.sessions) as session:
        for index, (kind, department, region) in enumerate(parties):
            if (department or region) not in except_for:
                session.add(ChatBinding(chat_id=-2000 - index, kind=kind,
                                        department_key=department, region_name=region,
                                        bound_at=now, updated_at=now))


async def rectifying(services: Services, ref: str, registered: date) -> None:
    """A case both departments accepted and ordered to rectify (deadline registered + 6 m)."""
    await services.cases.import_cases([energy_case(ref, registered)], COORDINATOR)
    for who in (INDUSTRY, REFORM):
        await services.cases.take_step(ref, StepInput("accept", Actor.DEPARTMENT,
                                                      who.department), who)
    await services.cases.take_step(ref, StepInput("order_rectification", Actor.DEPARTMENT,
                                                  "industry", evidence=("doc:1",)), INDUSTRY)


async def outbox(services: Services, kind: str | None = None) -> list[Outbox]:
    async with services.cases.sessions() as session:
        statement = select(Outbox).order_by(col(Outbox.id))
        if kind:
            statement = statement.where(col(Outbox.kind) == kind)
        return list((await session.exec(statement)).all())


def digest_keys(rows: list[Outbox]) -> list[str]:
    return [item["key"] for row in rows for item in row.payload["items"]]


async def test_nudges_before_a_deadline_once_each(services: Services,
                                                  calendar: CalendarService) -> None:
    # Registered 2026-01-15: deadline 2026-07-15 (a Wednesday).
    services.clock.set(at(date(2026, 1, 20)))
    await rectifying(services, "N-1", date(2026, 1, 15))
    seen: list[str] = []
    for day in (date(2026, 6, 15), date(2026, 6, 15), date(2026, 7, 1), date(2026, 7, 8),
                date(2026, 7, 13), date(2026, 7, 14), date(2026, 7, 15)):
        if services.clock.now() < at(day):
            services.clock.set(at(day))
        await calendar.sweep()
        seen = digest_keys(await outbox(services, Kind.DIGEST))
    case_keys = [k for k in seen if ":N-1:" in k]
    assert Counter(case_keys).most_common(1)[0][1] == 1, "no key twice"
    steps = sorted({k.rsplit(":", 1)[1] for k in case_keys})
    assert steps == ["T-0", "T-1", "T-14", "T-3", "T-30", "T-7"]
    assert {k.split(":")[3] for k in case_keys} == {"industry", "development_reform"}


async def test_overdue_ladder_marks_overdue_then_notice_and_summons(
        services: Services, calendar: CalendarService) -> None:
    services.clock.set(at(date(2026, 1, 20)))
    await rectifying(services, "L-1", date(2026, 1, 15))
    services.clock.set(at(date(2026, 7, 16)))  # the day after the deadline
    report = await calendar.sweep()
    assert report.marked_overdue == ("L-1",)
    assert (await services.cases.get("L-1")).case.state == State.OVERDUE
    assert {i.step for i in report.items} == {"overdue"}
    services.clock.set(at(date(2026, 7, 20)))  # +3 working days
    report = await calendar.sweep()
    assert {i.step for i in report.items} == {"reminder", "reminder_cc"}
    services.clock.set(at(date(2026, 7, 24)))  # +7 working days
    report = await calendar.sweep()
    assert "notice" in {i.step for i in report.items}
    assert report.notices == (), "a draft: numbered at sign-off"
    notices = await all_notices(services)
    assert [(n.status, n.number) for n in notices] == [("draft", None)]
    entries = await calendar.notice_entries(notices[0].id or 0)
    assert sorted(e.party for e in entries) == ["development_reform", "industry"]
    assert [r.recipient_kind for r in await outbox(services, Kind.NOTICE_DRAFT)] == [
        "coordinators"]
    with pytest.raises(DubanError, match="Only coordinators"):
        await calendar.sign_notice(notices[0].id or 0, INDUSTRY)
    await calendar.hold_notice(notices[0].id or 0, COORDINATOR)
    signed = await calendar.sign_notice(notices[0].id or 0, COORDINATOR)
    assert signed.code == "昌州经信督〔2026〕1号" and signed.signed_by == COORDINATOR.telegram_id
    with pytest.raises(DubanError, match="already signed off"):
        await calendar.sign_notice(notices[0].id or 0, COORDINATOR)
    org = await services.org.current()
    circulated = await outbox(services, Kind.NOTICE)
    assert len(circulated) == 1 + len(org.departments) + len(org.regions), "every unit"
    again = await calendar.sweep()
    assert again.items == () and again.notices == ()
    services.clock.set(at(date(2026, 8, 5)))  # +15 working days
    report = await calendar.sweep()
    summonses = [i for i in report.items if i.kind == "summons"]
    assert len(summonses) == 2
    proposed = await outbox(services, Kind.SUMMONS)
    assert {r.recipient_kind for r in proposed} == {"coordinators"}, "proposed first"
    for row in proposed:
        await calendar.confirm_summons(int(row.payload["summons_id"]), COORDINATOR)
    sent = await outbox(services, Kind.SUMMONS)
    assert {r.recipient for r in sent} == {"*", "industry", "development_reform"}
    view = await services.cases.get("L-1")
    kinds = [e.kind for e in view.events]
    assert kinds.count("notice") == 2 and kinds.count("summons") == 2


async def all_notices(services: Services) -> list[Notice]:
    async with services.cases.sessions() as session:
        return list((await session.exec(select(Notice).order_by(col(Notice.id)))).all())


async def test_a_round_of_notices_is_one_draft_naming_every_laggard(
        services: Services, calendar: CalendarService) -> None:
    """Every county late with the same report and two departments still late with a case
    after their summons: one draft 通报 naming all of them, one number when signed."""
    services.clock.set(at(date(2026, 1, 20)))
    await rectifying(services, "R-1", date(2026, 1, 15))
    services.clock.set(at(date(2026, 11, 2)))
    await calendar.sweep()  # opens the county reports
    services.clock.set(at(date(2026, 12, 10)))  # 7 working days after 30 November
    await calendar.sweep()
    notices = await all_notices(services)
    assert len(notices) == 2, "the case's own round in November, then this round"
    entries = await calendar.notice_entries(notices[-1].id or 0)
    org = await services.org.current()
    regions = {e.party for e in entries if e.party_kind == "region"}
    assert regions == {r.name for r in org.regions}
    assert {e.party for e in entries if e.party_kind == "department"} == {
        "industry", "development_reform"}
    signed = await calendar.sign_notice(notices[-1].id or 0, COORDINATOR)
    assert signed.number == 1


async def test_notices_are_issued_at_once_without_sign_off(
        services: Services, calendar: CalendarService) -> None:
    org = await services.org.current()
    automatic = dataclasses.replace(org, escalation=dataclasses.replace(
        org.escalation, sign_off=False))

    async def current() -> Org:
        return automatic

    calendar = dataclasses.replace(calendar, org=current)
    services.clock.set(at(date(2026, 1, 20)))
    await rectifying(services, "A-1", date(2026, 1, 15))
    services.clock.set(at(date(2026, 7, 24)))
    report = await calendar.sweep()
    assert report.notices == ("昌州经信督〔2026〕1号",), "one notice for the round"
    services.clock.set(at(date(2026, 8, 5)))
    await calendar.sweep()
    sent = await outbox(services, Kind.SUMMONS)
    assert {r.recipient for r in sent} == {"*", "industry", "development_reform"}


async def test_a_lagging_county_is_named_and_then_summoned(
        services: Services, calendar: CalendarService) -> None:
    services.clock.set(at(date(2026, 1, 20)))
    for ref, registered in (("Q-1", date(2026, 1, 15)), ("Q-2", date(2026, 1, 16)),
                            ("Q-3", date(2026, 1, 19))):
        await rectifying(services, ref, registered)
    services.clock.set(at(date(2026, 7, 21)))  # three overdue cases in 玛纳斯县
    await calendar.sweep()
    notices = await all_notices(services)
    laggards = [e for n in notices for e in await calendar.notice_entries(n.id or 0)
                if e.step == "laggard"]
    assert [(e.party, e.case_refs) for e in laggards] == [("玛纳斯县", ["Q-1", "Q-2", "Q-3"])]
    for notice in notices:
        await calendar.sign_notice(notice.id or 0, COORDINATOR)
    services.clock.set(at(date(2026, 8, 3)))  # the next month, still lagging
    report = await calendar.sweep()
    summoned = [i for i in report.items if i.kind == "summons" and i.party == "玛纳斯县"]
    assert summoned and summoned[0].reason == "second_notice"


async def test_a_county_named_this_month_is_not_read_for_its_laggards_again(
        services: Services, calendar: CalendarService) -> None:
    """Once a county is named for its laggards this month, the sweeps of the month do not
    read its overdue cases for that (they read a case when one of its own steps is due); the
    next month they count them again."""
    services.clock.set(at(date(2026, 1, 20)))
    for ref, registered in (("Q-1", date(2026, 1, 15)), ("Q-2", date(2026, 1, 16)),
                            ("Q-3", date(2026, 1, 19))):
        await rectifying(services, ref, registered)
    services.clock.set(at(date(2026, 7, 21)))
    await calendar.sweep()  # 玛纳斯县 named in the round's notice
    async with transaction(services.cases.sessions) as session:  # no step of theirs due
        await session.exec(update(Case).values(next_due=date(2026, 12, 31)))
    org = await services.org.current()
    services.clock.set(at(date(2026, 7, 22)))
    snap = await calendar._snapshot(date(2026, 7, 22), org, create=False, unopened=False)
    assert not {c.ref for c in snap.cases} & {"Q-1", "Q-2", "Q-3"}
    assert not [i for i in await calendar.preview(at(date(2026, 7, 22)))
                if i.party == "玛纳斯县"]
    services.clock.set(at(date(2026, 8, 3)))  # a new month: counted again
    snap = await calendar._snapshot(date(2026, 8, 3), org, create=False, unopened=False)
    assert {"Q-1", "Q-2", "Q-3"} <= {c.ref for c in snap.cases}
    assert [i.step for i in await calendar.preview(at(date(2026, 8, 3)))
            if i.party == "玛纳斯县" and i.kind == "notice"] == ["laggard"]


async def test_outside_office_hours_a_sweep_reads_no_case(
        services: Services, calendar: CalendarService, engine: AsyncEngine) -> None:
    """Evenings, nights and weekends nothing may be sent: the sweeps then neither record nor
    read the due cases (thousands of them were read every few minutes all night); the first
    sweep of office hours sends what is due, once."""
    services.clock.set(at(date(2026, 1, 20)))
    await rectifying(services, "H-1", date(2026, 1, 15))  # deadline Wednesday 15 July
    async with transaction(services.cases.sessions) as session:
        await session.exec(update(Case).values(next_due=date(2026, 7, 1)))
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        statements.append(statement)

    sync = engine.sync_engine
    sqlalchemy_event.listen(sync, "before_cursor_execute", seen)
    try:
        for instant in (datetime(2026, 7, 10, 13, tzinfo=UTC),  # Friday 21:00
                        datetime(2026, 7, 11, 2, tzinfo=UTC),  # Saturday 10:00
                        datetime(2026, 7, 13, 0, tzinfo=UTC)):  # Monday 08:00
            services.clock.set(instant)
            report = await calendar.sweep()
            assert (report.items, report.held) == ((), ())
        assert not [s for s in statements if "FROM events" in s or "FROM assignments" in s]
        assert not await outbox(services, Kind.DIGEST)
        services.clock.set(datetime(2026, 7, 13, 1, 30, tzinfo=UTC))  # Monday 09:30
        statements.clear()
        report = await calendar.sweep()
    finally:
        sqlalchemy_event.remove(sync, "before_cursor_execute", seen)
    assert [s for s in statements if "FROM events" in s]
    # T-3 (Sunday 12 July) fell on Friday 10 July: due since Friday evening's sweep
    assert {(i.party, i.step) for i in report.items} == {("industry", "T-3"),
                                                          ("development_reform", "T-3")}
    assert not (await calendar.sweep()).items  # once


async def test_notice_numbers_have_no_gaps_across_sweeps(services: Services,
                                                         calendar: CalendarService) -> None:
    services.clock.set(at(date(2026, 1, 20)))
    await rectifying(services, "G-1", date(2026, 1, 15))
    await rectifying(services, "G-2", date(2026, 2, 2))
    for day in (date(2026, 7, 16), date(2026, 7, 24), date(2026, 8, 3), date(2026, 8, 12)):
        services.clock.set(at(day))
        await calendar.sweep()
        for notice in await all_notices(services):  # held ones take no number until signed
            if notice.status == "draft" and day.day % 2:
                await calendar.hold_notice(notice.id or 0, COORDINATOR)
            elif notice.status == "draft":
                await calendar.sign_notice(notice.id or 0, COORDINATOR)
    for notice in await all_notices(services):
        if notice.status == "held":
            await calendar.sign_notice(notice.id or 0, COORDINATOR)
    async with services.cases.sessions() as session:
        numbers = sorted(n for n in (await session.exec(select(col(Notice.number)).where(
            col(Notice.year) == 2026))).all() if n is not None)
    assert numbers == list(range(1, len(numbers) + 1))
    assert len(numbers) >= 2


async def test_concurrent_sweeps_record_each_key_once(services: Services,
                                                      calendar: CalendarService) -> None:
    services.clock.set(at(date(2026, 1, 20)))
    await rectifying(services, "C-1", date(2026, 1, 15))
    services.clock.set(at(date(2026, 7, 24)))
    second = CalendarService(calendar.sessions, calendar.clock, calendar.catalog,
                             calendar.calendar, calendar.cases, calendar.org)
    await asyncio.gather(calendar.sweep(), second.sweep(), return_exceptions=True)
    keys = digest_keys(await outbox(services, Kind.DIGEST))
    assert len(keys) == len(set(keys))
    async with services.cases.sessions() as session:
        notices = (await session.exec(select(Notice))).all()
    assert len({n.key for n in notices}) == len(notices)


async def test_downtime_sends_one_catch_up_per_chat(services: Services,
                                                    calendar: CalendarService) -> None:
    services.clock.set(at(date(2026, 1, 20)))
    await rectifying(services, "D-1", date(2026, 1, 15))
    await rectifying(services, "D-2", date(2026, 1, 16))
    services.clock.set(at(date(2026, 7, 14)))  # the bot was down from mid-June
    report = await calendar.sweep()
    digests = await outbox(services, Kind.DIGEST)
    recipients = Counter((row.recipient_kind, row.recipient) for row in digests)
    assert all(count == 1 for count in recipients.values()), "one digest per chat per sweep"
    by_case = Counter(item.case_refs[0] for item in report.items
                      if item.kind == "nudge" and item.recipient == "industry")
    assert by_case == {"D-1": 1, "D-2": 1}, "only the latest missed nudge per deadline"
    async with services.cases.sessions() as session:
        superseded = (await session.exec(select(col(SentKey.key)).where(
            col(SentKey.key).like("nudge:case:D-1:industry:%T-14")))).all()
    assert superseded, "missed nudges are recorded as superseded, never sent later"


async def test_pause_resume_and_skip(services: Services, calendar: CalendarService) -> None:
    services.clock.set(at(date(2026, 1, 20)))
    await rectifying(services, "P-1", date(2026, 1, 15))
    with pytest.raises(DubanError, match="Only coordinators"):
        await calendar.set_paused("P-1", True, "谈判中", INDUSTRY)
    with pytest.raises(DubanError, match="reason"):
        await calendar.set_paused("P-1", True, " ", COORDINATOR)
    await calendar.set_paused("P-1", True, "企业已停产，待核查", COORDINATOR)
    services.clock.set(at(date(2026, 7, 16)))
    report = await calendar.sweep()
    assert not [i for i in report.items if "P-1" in i.case_refs]
    await calendar.skip("P-1", "overdue", "已电话督促", COORDINATOR)
    await calendar.set_paused("P-1", False, "核查完毕", COORDINATOR)
    report = await calendar.sweep()
    assert not [i for i in report.items if i.step == "overdue"]
    kinds = [e.kind for e in (await services.cases.get("P-1")).events]
    assert {"paused", "resumed", "skipped"} <= set(kinds)
    with pytest.raises(DubanError, match="Unknown escalation step"):
        await calendar.skip("P-1", "fly", "x", COORDINATOR)


async def test_county_report_duty_confirmed_with_a_document(services: Services,
                                                            calendar: CalendarService) -> None:
    services.clock.set(at(date(2026, 11, 2)))  # T-28 before 30 November
    await calendar.sweep()
    duties = await calendar.obligations(party="玛纳斯县", year=2026)
    county = next(d for d in duties if d.kind == "county_report")
    with pytest.raises(DubanError, match="evidence"):
        await calendar.confirm_obligation(county.id or 0, [], MANAS)
    with pytest.raises(DubanError, match="Only the liaisons"):
        await calendar.confirm_obligation(county.id or 0, ["document:x"], INDUSTRY)
    await calendar.confirm_obligation(county.id or 0, ["document:stamped.pdf"], MANAS)
    with pytest.raises(DubanError, match="already confirmed"):
        await calendar.confirm_obligation(county.id or 0, ["document:again"], MANAS)
    services.clock.set(at(date(2026, 11, 30)))
    report = await calendar.sweep()
    assert not [i for i in report.items if i.party == "玛纳斯县"]
    assert [i for i in report.items if i.party == "奇台县"], "the others are still nudged"


async def test_summons_rsvp_reschedule_and_outcome(services: Services,
                                                   calendar: CalendarService) -> None:
    services.clock.set(at(date(2026, 1, 20)))
    await rectifying(services, "S-1", date(2026, 1, 15))
    for day in (date(2026, 7, 24), date(2026, 8, 5)):
        services.clock.set(at(day))
        await calendar.sweep()
    rows = await outbox(services, Kind.SUMMONS)
    summons_id = int(rows[0].payload["summons_id"])
    summons = await calendar.summons(summons_id)
    assert summons.meets_at > services.clock.now()
    party = INDUSTRY if summons.party == "industry" else REFORM
    with pytest.raises(DubanError, match="No summons"):
        await calendar.rsvp(summons_id, "accept", party)  # not sent to them yet
    await calendar.confirm_summons(summons_id, COORDINATOR)
    with pytest.raises(DubanError, match="already confirmed"):
        await calendar.confirm_summons(summons_id, COORDINATOR)
    with pytest.raises(DubanError, match="Only the liaisons"):
        await calendar.rsvp(summons_id, "accept", MANAS)
    party = INDUSTRY if summons.party == "industry" else REFORM
    await calendar.rsvp(summons_id, "accept", party)
    with pytest.raises(DubanError, match="future"):
        await calendar.reschedule(summons_id, services.clock.now() - timedelta(hours=1), None,
                                  COORDINATOR)
    moved = await calendar.reschedule(summons_id, services.clock.now() + timedelta(days=9),
                                      "州政府第三会议室", COORDINATOR)
    assert moved.place == "州政府第三会议室" and moved.rsvp is None
    await calendar.record_outcome(summons_id, "分管副县长", "说明了整改计划", "9月底前完成",
                                  COORDINATOR)
    with pytest.raises(DubanError, match="already taken place"):
        await calendar.rsvp(summons_id, "accept", party)


async def test_preview_writes_nothing(services: Services, calendar: CalendarService) -> None:
    services.clock.set(at(date(2026, 1, 20)))
    await rectifying(services, "V-1", date(2026, 1, 15))
    before = len(await outbox(services))
    items = await calendar.preview(at(date(2026, 7, 16)))
    assert {i.step for i in items if "V-1" in i.case_refs} == {"overdue"}
    assert len(await outbox(services)) == before
    assert (await services.cases.get("V-1")).case.state == State.RECTIFYING


@pytest.mark.parametrize("seed", range(3))
async def test_random_sweeps_send_every_due_step_once(services: Services,
                                                      calendar: CalendarService,
                                                      seed: int) -> None:
    """Random deadlines, random confirmations, random sweep times: no key twice, and every
    nudge point of an unconfirmed department is sent or superseded."""
    rng = random.Random(seed)
    services.clock.set(at(date(2026, 1, 5)))
    refs = []
    for i in range(4):
        ref = f"R{seed}-{i}"
        await rectifying(services, ref, date(2026, 1, 5) + timedelta(days=rng.randint(0, 40)))
        refs.append(ref)
    confirmed = rng.choice(refs)
    day = date(2026, 6, 1)
    while day < date(2026, 8, 20):
        day += timedelta(days=rng.randint(1, 6))
        services.clock.set(at(day, hour=rng.choice([8, 10, 15, 19])))
        if day > date(2026, 6, 20) and confirmed:
            for who in (INDUSTRY, REFORM):
                try:
                    await services.cases.take_step(confirmed, StepInput(
                        "confirm_rectified", Actor.DEPARTMENT, who.department,
                        evidence=("p",), on=day - timedelta(days=1)), who)
                except DubanError:
                    pass
            confirmed = ""
        await calendar.sweep()
    keys = digest_keys(await outbox(services, Kind.DIGEST))
    assert len(keys) == len(set(keys))
    async with services.cases.sessions() as session:
        recorded = set((await session.exec(select(col(SentKey.key)))).all())
    for ref in refs:
        view = await services.cases.get(ref)
        if view.case.state == State.RECTIFIED:
            continue
        for department in ("industry", "development_reform"):
            for step in ("T-30", "T-14", "T-7", "T-3", "T-1", "T-0"):
                matching = [k for k in recorded
                            if k.startswith(f"nudge:case:{ref}:{department}:")
                            and k.endswith(f":{step}")]
                assert matching, f"{ref} {department} {step} neither sent nor superseded"
    assert await OutboxStore(services.cases.sessions).pending_count() >= 0


async def test_summons_reminders_the_day_before_and_an_hour_before(
        services: Services, calendar: CalendarService) -> None:
    services.clock.set(at(date(2026, 1, 20)))
    await rectifying(services, "M-1", date(2026, 1, 15))
    for day in (date(2026, 7, 24), date(2026, 8, 5)):
        services.clock.set(at(day))
        await calendar.sweep()
    first = (await outbox(services, Kind.SUMMONS))[0]
    summons = await calendar.confirm_summons(int(first.payload["summons_id"]), COORDINATOR)

    def reminders(rows: list[Outbox], name: str) -> list[Outbox]:
        return [r for r in rows if r.payload.get("reminder") == name
                and r.payload["summons_id"] == summons.id]

    services.clock.set(summons.meets_at - timedelta(hours=23))
    await calendar.sweep()
    await calendar.sweep()
    rows = await outbox(services, Kind.SUMMONS)
    assert len(reminders(rows, "day")) == 2  # the coordinators and the summoned department
    assert reminders(rows, "hour") == []
    services.clock.set(summons.meets_at - timedelta(minutes=30))
    await calendar.sweep()
    assert len(reminders(await outbox(services, Kind.SUMMONS), "hour")) == 2
    services.clock.set(summons.meets_at + timedelta(minutes=5))
    await calendar.sweep()
    assert len(reminders(await outbox(services, Kind.SUMMONS), "hour")) == 2, "once each"


async def test_coordinators_are_asked_for_next_years_holiday_notice_once(
        calendar: CalendarService, services: Services) -> None:
    from scheduler.workdays import UNCOVERED_YEAR_MESSAGE, uncovered_year_key

    outbox = OutboxStore(services.cases.sessions)

    async def asked() -> list[int]:
        rows = await outbox.due(services.clock.now() + timedelta(days=400), limit=1000)
        return [r.payload["params"]["year"] for r in rows
                if r.payload.get("message") == UNCOVERED_YEAR_MESSAGE]

    services.clock.set(at(date(2026, 12, 2)))  # 30 days before 2027 begins
    await calendar.sweep()
    await calendar.sweep()
    assert (await asked()).count(2027) == 1
    keys = {r.key for r in await outbox.due(services.clock.now() + timedelta(days=400),
                                            limit=1000)}
    assert uncovered_year_key(2027) in keys


async def test_an_accepted_case_long_overdue_is_chased_until_closed(
        calendar: CalendarService, services: Services) -> None:
    """Imported in December, registered in March: its deadline (2 September) lies months back.
    Once both departments accepted it, the ladder still runs and, after the summons, the
    follow-ups keep coming."""
    services.clock.set(at(date(2026, 12, 1)))
    await rectifying(services, "LATE-1", date(2026, 3, 2))
    assert (await services.cases.get("LATE-1")).case.deadline == date(2026, 9, 2)
    steps: list[str] = []
    day = date(2026, 12, 1)
    while day <= date(2027, 3, 31):
        services.clock.set(at(day))
        report = await calendar.sweep()
        steps += [i.step for i in report.items if "LATE-1" in i.case_refs]
        day += timedelta(days=1)
    assert {"overdue", "reminder", "notice", "summons"} <= set(steps)
    assert steps.count("follow_up") >= 4  # every ten working days, for months
