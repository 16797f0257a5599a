"""Tasks (督办任务, issue 12): the document's tagged duties outside the case clauses, reviewed
once by the coordinators, routed, reported on (进展反馈) and chased as one joint duty; the
measures that follow a case; on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from bot.cli.main import main
from bot.core.casefile import CaseInput
from bot.core.clock import ManualClock
from bot.core.i18n import DubanError
from bot.core.org import load_demo_org
from bot.core.policy.catalog import load_default_catalog
from bot.core.policy.parser import parse_policy_file
from bot.core.tasks import (
    Schedule,
    ScheduleError,
    TaskStatus,
    parse_schedule,
    tasks_from_catalog,
)
from bot.core.workflow import Actor, StepInput
from bot.services.access import Who
from bot.services.tasks import open_measures
from models.db import transaction
from models.tables import Case
from scheduler import rules
from tests.bot_harness import Bot
from tests.conftest import COORDINATOR as COORDINATOR_WHO
from tests.test_bot_app import COORDINATION, COORDINATOR, INDUSTRY, REFORM, bind_all
from tests.test_calendar_chat import INDUSTRY_LIAISON, REFORM_LIAISON

DEMO_DEPARTMENTS = tuple(d.key for d in load_demo_org().departments)
INDUSTRY_WHO = Who(role="liaison", name="工信联络员", telegram_id=INDUSTRY_LIAISON[0],
                   department="industry")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 12, 1, 2, tzinfo=UTC))  # Tuesday 10:00 in Shanghai


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour - 8, tzinfo=UTC)


# -- the document's tasks (pure) ----------------------------------------------------------------


def test_every_tagged_duty_outside_the_case_clauses_is_a_task_with_its_owners() -> None:
    catalog = load_default_catalog()
    specs = tasks_from_catalog(catalog, DEMO_DEPARTMENTS, yearly=rules.duty_sources(catalog))
    by_clause: dict[str, list] = {}
    for spec in specs:
        by_clause.setdefault(spec.clause, []).append(spec)
    # （四）–（九） are cases; （十九） is the yearly calendar's work plan and annual report
    assert set(by_clause) == {"十", "十一", "十二", "十三", "十四", "十五", "十六", "十七", "十八",
                              "二十", "二十一", "二十二", "二十三"}
    assert len(by_clause["十六"]) == 4  # four enforcement duties, four owners
    assert [s.lead for s in by_clause["十六"]] == [
        ("industry", "development_reform"), ("environment",), ("quality",), ("safety",)]
    ten = by_clause["十"][0]
    assert ten.lead == ("finance",)  # 财政主管部门负责
    assert ten.participants == ("industry", "development_reform", "human_resources",
                                "pricing")  # 配合
    twenty = by_clause["二十"][0]  # one joint duty: three leads, four with them
    assert twenty.lead == ("industry", "energy", "coal")
    assert twenty.participants == ("development_reform", "environment", "quality", "safety")
    assert by_clause["二十二"][0].lead == () and by_clause["二十二"][0].unowned == ("相关行业协会",)
    assert by_clause["十六"][0].title == "严格执法监管：加大节能监察力度"
    assert all(s.schedule == Schedule("every", months=3) for s in specs)


def test_schedules_fall_on_period_ends_and_bad_ones_are_refused() -> None:
    quarterly = Schedule("every", months=3)
    start = date(2026, 12, 1)
    assert [quarterly.due(start, n) for n in (1, 2, 3)] == [
        date(2026, 12, 31), date(2027, 3, 31), date(2027, 6, 30)]
    assert quarterly.due(date(2026, 12, 20), 1) == date(2027, 3, 31)  # two weeks at least
    assert quarterly.period_on(start, date(2027, 1, 1)) == 2
    yearly = parse_schedule("每年3月底前", start)
    assert yearly == Schedule("yearly", month=3, day=31)
    assert yearly.due(start, 2) == date(2028, 3, 31)
    assert parse_schedule("每月", start) == Schedule("every", months=1)
    assert parse_schedule("6个月", start) == Schedule("every", months=6)
    assert parse_schedule("2027-06-30", start) == Schedule("once", on=date(2027, 6, 30))
    for bad in ("", "每5个月", "每年13月1日前", "2020-01-01", "sometime"):
        with pytest.raises(ScheduleError):
            parse_schedule(bad, start)
    for stored in ("every:3", "yearly:03-31", "once:2027-06-30"):
        assert Schedule.load(stored).dump() == stored


# -- the coordinators' review and the owners' reports (chat) -----------------------------------


async def _live_task(bot: Bot, clause_title: str = "严格执法监管：加大节能监察力度") -> int:
    """Propose the seed's tasks, accept the one titled ``clause_title`` from the review page."""
    await bind_all(bot)
    for chat in (COORDINATION, INDUSTRY, REFORM):
        await bot.say(COORDINATOR, chat, "/lang en")
    proposed = await bot.app.deps.tasks.propose()
    assert proposed.new == 16 and proposed.known == 0
    assert (await bot.app.deps.tasks.propose()).new == 0  # idempotent
    views = await bot.app.deps.tasks.find(statuses=[TaskStatus.PROPOSED])
    number = next(v.number for v in views if v.task.title == clause_title)
    return number


async def test_review_accept_report_and_close(bot: Bot) -> None:
    number = await _live_task(bot)
    await bot.say(COORDINATOR, COORDINATION, "/tasks review")
    page = bot.last(COORDINATION)
    assert ("Task review 1 of 16" in page.text and "Accept" in page.text) or page.buttons()
    # page through to the task, accept it there
    while f"Task {number} " not in page.text:
        await bot.press(COORDINATOR, page, "Next ▶")
        page = next(m for m in bot.fake.in_chat(COORDINATION) if m.message_id == page.message_id)
    await bot.press(COORDINATOR, page, "✅ Accept")
    assert "accepted" in bot.fake.alerts[-1]["text"]
    await bot.deliver()
    live = bot.last(INDUSTRY)
    assert "New supervised task" in live.text and "your department leads it" in live.text
    assert "every quarter" in live.text and "Dec 31, 2026" in live.text
    assert "New supervised task" in bot.last(REFORM).text  # both lead (负责)
    # the liaison reports progress with the button
    await bot.press(INDUSTRY_LIAISON, live, "📝 Report progress")
    await bot.say(INDUSTRY_LIAISON, INDUSTRY, "已完成重点用能企业节能监察32家，依法处置2家。")
    await bot.press(INDUSTRY_LIAISON, bot.last(INDUSTRY), "Skip")
    await bot.press(INDUSTRY_LIAISON, bot.last(INDUSTRY), "Final report: completed")
    await bot.press(INDUSTRY_LIAISON, bot.last(INDUSTRY), "Confirm")
    await bot.deliver()
    report = bot.last(COORDINATION)
    assert "sent its final report" in report.text and "节能监察32家" in report.text
    view = await bot.app.deps.tasks.get(number)
    assert view.task.status == TaskStatus.REVIEW
    await bot.press(COORDINATOR, report, "✅ Close")
    assert (await bot.app.deps.tasks.get(number)).task.status == TaskStatus.DONE
    await bot.deliver()
    assert f"Task {number}" in bot.last(REFORM).text and "closed" in bot.last(REFORM).text
    # nothing is chased any more: the other lead's row is gone
    assert (await bot.app.deps.tasks.get(number)).next_due is None


async def test_a_joint_task_is_chased_as_one_the_leads_escalated_the_others_reminded(
        bot: Bot) -> None:
    number = await _live_task(bot, "加强监督检查：各地工业和信息化、能源、煤炭主管部门要…")
    tasks = bot.app.deps.tasks
    view = await tasks.accept(number, COORDINATOR_WHO)
    assert view.task.lead == ["industry", "energy", "coal"]
    assert {d.party: d.role for d in view.duties} == {
        "industry": "lead", "energy": "lead", "coal": "lead", "development_reform": "cooperate",
        "environment": "cooperate", "quality": "cooperate", "safety": "cooperate"}
    assert {d.due for d in view.duties} == {date(2026, 12, 31)}
    calendar = bot.app.deps.calendar
    items = await calendar.preview(at(date(2027, 1, 20)))
    mine = [i for i in items if (i.obligation or "").startswith(f"task-{view.task.id}-")]
    formal = {(i.kind, i.recipient) for i in mine if i.kind in ("notice", "summons")}
    assert ("notice", "industry") in formal  # a lead answers for the joint duty
    assert not {r for _, r in formal} & {"development_reform", "environment", "quality",
                                         "safety"}, formal
    reminded = {i.recipient for i in mine if i.kind != "notice"}
    assert "development_reform" in reminded  # the participants are reminded
    # the next sweep opens nothing twice; the quarter's report rows stay one per owner
    await calendar.sweep()
    await calendar.sweep()
    assert len((await tasks.get(number)).duties) == 7
    # a sweep in the next quarter opens its rows, the first quarter's stay chased
    bot.clock.set(at(date(2027, 1, 4)))
    await calendar.sweep()
    view = await tasks.get(number)
    assert {d.due for d in view.duties} == {date(2026, 12, 31), date(2027, 3, 31)}
    await bot.deliver()
    digest = bot.last_with(INDUSTRY, f"Task {number}")
    assert "加强监督检查" in digest and "task-" not in digest
    line = next(x for x in digest.splitlines() if f"Task {number}" in x)
    assert f"Task {number}: 加强监督检查" in line and "(2026)" not in line  # its date says


async def test_review_commands_drop_merge_owners_schedule_and_their_errors(bot: Bot) -> None:
    number = await _live_task(bot)
    tasks = bot.app.deps.tasks
    views = await tasks.find(statuses=[TaskStatus.PROPOSED])
    by_title = {v.task.title: v.number for v in views}
    quality = by_title["严格执法监管：加强产品质量管理执法"]
    await bot.say(COORDINATOR, COORDINATION, f"/tasks merge {quality} {number}")
    merged = await tasks.get(number)
    assert merged.task.lead == ["industry", "development_reform", "quality"]
    assert (await tasks.get(quality)).task.status == TaskStatus.DROPPED
    await bot.say(COORDINATOR, COORDINATION, f"/tasks schedule {number} 每年3月31日前")
    assert (await tasks.get(number)).schedule == Schedule("yearly", month=3, day=31)
    await bot.say(COORDINATOR, COORDINATION, f"/tasks owners {number} 牵头：工信；配合：财政局")
    owned = await tasks.get(number)
    assert owned.task.lead == ["industry"] and owned.task.participants == ["finance"]
    association = by_title["加强行业自律：各相关行业协会要充分发挥熟悉行业的优势"]
    before = len(bot.fake.in_chat(COORDINATION))
    await bot.say(COORDINATOR, COORDINATION, f"/tasks accept {association}")
    assert "no lead department" in bot.last(COORDINATION).text
    assert len(bot.fake.in_chat(COORDINATION)) == before + 1
    assert (await tasks.get(association)).task.status == TaskStatus.PROPOSED  # unchanged
    for bad in ("/tasks schedule 1 sometime", "/tasks merge 1 1", "/tasks accept 999",
                "/tasks owners 1 主办：工信", "/tasks frobnicate", f"/tasks accept {quality}"):
        await bot.say(COORDINATOR, COORDINATION, bad)
        text = bot.last(COORDINATION).text
        assert text and "Traceback" not in text and "task-" not in text, (bad, text)
    await bot.say(REFORM_LIAISON, REFORM, f"/tasks drop {number}")  # coordinators only
    assert (await tasks.get(number)).task.status == TaskStatus.PROPOSED
    await bot.say(COORDINATOR, COORDINATION, "/tasks all")
    assert "accepted" in bot.last(COORDINATION).text
    assert str(association) in bot.last(COORDINATION).text  # still to review, named
    await bot.say(REFORM_LIAISON, REFORM, "/tasks")
    mine = bot.last(REFORM).text
    assert "of your department" in mine and "加大技术扶持" in mine  # 发改 is responsible
    assert "加强产品质量管理执法" not in mine
    await bot.say(REFORM_LIAISON, REFORM, "/mine")
    owed = bot.last(REFORM).text
    assert "Tasks waiting for your report" in owed and "加大技术扶持" in owed
    await bot.say(COORDINATOR, COORDINATION, "/mine")
    assert "wait for review: /tasks review" in bot.last(COORDINATION).text


async def test_a_participant_adds_its_part_and_a_send_back_reopens_the_leads(
        bot: Bot) -> None:
    number = await _live_task(bot, "加大资金扶持：充分利用工业企业结构调整专项奖补资金…")
    tasks = bot.app.deps.tasks
    view = await tasks.accept(number, COORDINATOR_WHO)
    assert view.task.lead == ["finance"] and "industry" in view.task.participants
    await bot.deliver()
    live = next(m for m in reversed(bot.fake.in_chat(INDUSTRY)) if m.buttons())
    assert "your department takes part" in live.text
    await bot.press(INDUSTRY_LIAISON, live, "📝 Report progress")
    await bot.say(INDUSTRY_LIAISON, INDUSTRY, "配合财政局梳理奖补企业名单12家。")
    await bot.feed(bot.users.document(INDUSTRY_LIAISON, INDUSTRY, "list-1", "名单.pdf",
                                      "application/pdf"))
    summary = bot.last(INDUSTRY)
    assert "Final report" not in str(summary.buttons())  # a participant only reports progress
    await bot.press(INDUSTRY_LIAISON, summary, "Confirm")
    view = await tasks.get(number)
    assert [r.department_key for r in view.reports] == ["industry"]
    assert view.reports[0].evidence and not view.reports[0].final
    assert view.open_duty("industry") is None and view.open_duty("finance") is not None
    # the lead's final report; the coordinators send it back with a reason
    finance = view.open_duty("finance")
    assert finance is not None
    await tasks.report(finance.id or 0, "奖补资金已拨付。", [], True, None,
                       Who(role="coordinator", name="王玮中", telegram_id=COORDINATOR[0]))
    await bot.deliver()
    report = bot.last(COORDINATION)
    await bot.press(COORDINATOR, report, "↩ Send back")
    await bot.say(COORDINATOR, COORDINATION, "缺少拨付凭证")
    await bot.press(COORDINATOR, bot.last(COORDINATION), "Confirm")
    view = await tasks.get(number)
    assert view.task.status == TaskStatus.LIVE and view.task.note == "缺少拨付凭证"
    assert view.open_duty("finance") is not None  # the lead reports again
    await bot.say(COORDINATOR, COORDINATION, f"/task {number}")
    detail = bot.last(COORDINATION).text
    assert "配合财政局梳理奖补企业名单" in detail and "缺少拨付凭证" in detail
    await bot.say(REFORM_LIAISON, REFORM, f"/task {number}")  # 发改 takes part: may read
    assert "加大资金扶持" in bot.last(REFORM).text
    with pytest.raises(DubanError):
        await tasks.report(finance.id or 0, "", [], False, None, COORDINATOR_WHO)
    # the ledger's sheet of tasks, checked against the database
    from bot.core.i18n import get_translator
    from bot.render.reports.ledger import write_ledger
    ledger = await bot.app.deps.ledger.ledger(2026, date(2026, 12, 1))
    buffer = io.BytesIO()
    await write_ledger(ledger, get_translator("zh_CN"), await bot.app.deps.org(),
                       bot.app.deps.tz, buffer)
    book = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))
    sheet = book[get_translator("zh_CN").gettext("Tasks")]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [row[0] for row in rows] == [number]
    row = rows[0]
    assert row[2] == view.task.title and "州财政局" in row[4] and "州工信局" in row[5]
    assert "配合财政局梳理奖补企业名单12家" in row[10] and row[11]  # the report and its file
    assert not any("task-" in str(cell) for cell in row)
    duties = book[get_translator("zh_CN").gettext("Yearly duties")]
    assert not any(view.task.title in str(c) for r in duties.iter_rows(values_only=True)
                   for c in r)


# -- measures that follow a case -----------------------------------------------------------------


async def _take(bot: Bot, ref: str, step: str, every: bool = True, **values: object) -> None:
    """``step`` by every required department of the case (a joint step waits for all), or by
    the first one (``every`` off)."""
    view = await bot.app.deps.cases.get(ref)
    keys = [a.department_key for a in view.assignments if a.required and a.department_key]
    for key in keys if every else keys[:1]:
        await bot.app.deps.cases.take_step(ref, StepInput(
            step=step, actor=Actor.DEPARTMENT, department=key, **values),  # type: ignore[arg-type]
            Who(role="liaison", name="联络员", telegram_id=1, department=key))


async def test_a_case_s_events_open_the_measures_that_follow_it(bot: Bot) -> None:
    await bind_all(bot)
    cases, tasks = bot.app.deps.cases, bot.app.deps.tasks
    today = date(2026, 12, 1)
    await cases.import_cases([
        CaseInput(ref="M-1", region="玛纳斯县", enterprise="玛纳斯联动测试水泥厂",
                  industry="cement", clauses=("八",), capacity=Decimal(60), unit="万吨/年",
                  equipment="Φ3.2m水泥磨", registered_on=today, description="淘汰类装备", row=2),
        CaseInput(ref="M-2", region="玛纳斯县", enterprise="玛纳斯联动测试钢厂",
                  industry="steel", clauses=("四",), capacity=Decimal(30), unit="万吨/年",
                  equipment=None, registered_on=today, description="能耗超标", row=3),
    ], COORDINATOR_WHO)
    assert await tasks.find(case_id=(await cases.get("M-1")).case.id) == []  # not before
    await _take(bot, "M-1", "accept")
    opened = await tasks.find(case_id=(await cases.get("M-1")).case.id)
    assert [(v.task.clause, v.task.status) for v in opened] == [("十二", TaskStatus.LIVE)]
    prices = opened[0]
    assert prices.task.lead == ["industry", "development_reform", "pricing"]
    assert prices.schedule == Schedule("once", on=date(2027, 3, 1))
    # the exit (dismantled, reviewed) opens resettlement and the land
    await _take(bot, "M-1", "confirm_dismantled", evidence=("photo:u1:f1:",), on=today,
                capacity=60.0)
    assert {v.task.clause for v in await tasks.find(case_id=prices.task.case_id)} == {"十二"}
    await cases.take_step("M-1", StepInput(step="close_reviewed", actor=Actor.COORDINATOR),
                          COORDINATOR_WHO)
    linked = {v.task.clause: v for v in await tasks.find(case_id=prices.task.case_id)}
    assert set(linked) == {"十二", "十四", "十五"}
    assert linked["十四"].task.lead == ["human_resources"]
    assert linked["十五"].task.lead == ["land", "finance"]
    assert linked["十五"].schedule == Schedule("once", on=date(2027, 6, 1))
    # still failing after rectifying: no new credit (（十三）) and the credit platform (（十七）)
    await _take(bot, "M-2", "accept")
    await _take(bot, "M-2", "order_rectification", False, evidence=("photo:u2:f2:",))
    await _take(bot, "M-2", "report_failed", False, evidence=("photo:u3:f3:",),
                note="复测仍超标")
    steel = {v.task.clause: v for v in await tasks.find(
        case_id=(await cases.get("M-2")).case.id)}
    assert set(steel) == {"十二", "十三", "十七"}
    assert steel["十三"].task.lead == ["pboc", "banking_regulator"]
    assert steel["十七"].task.lead == ["development_reform"]
    assert steel["十七"].task.unowned == ["各相关部门"]
    # /case names them; the resettlement's owner reports it done with the date
    await bot.say(COORDINATOR, COORDINATION, "/lang en")
    await bot.say(COORDINATOR, COORDINATION, "/case M-1")
    text = bot.last(COORDINATION).text
    assert "Measures that follow this case" in text and "做好职工安置" in text
    row = linked["十四"].open_duty("human_resources")
    assert row is not None
    await tasks.report(row.id or 0, "职工156人已全部安置。", [], True, date(2026, 11, 28),
                       COORDINATOR_WHO)
    await tasks.decide(linked["十四"].number, True, None, COORDINATOR_WHO)
    done = await tasks.get(linked["十四"].number)
    assert done.task.status == TaskStatus.DONE and done.task.done_on == date(2026, 11, 28)
    # the same event again opens nothing twice
    view = await cases.get("M-2")
    async with transaction(bot.app.deps.sessions) as session:
        case = await session.get(Case, view.case.id)
        assert case is not None
        again = await open_measures(session, bot.app.deps.catalog, await bot.app.deps.org(),
                                    case, "failing", today, bot.clock.now())
    assert again == []


async def test_an_exit_deadline_missed_opens_the_credit_measures_in_the_sweep(bot: Bot) -> None:
    await bind_all(bot)
    cases, tasks = bot.app.deps.cases, bot.app.deps.tasks
    await cases.import_cases([CaseInput(
        ref="M-3", region="玛纳斯县", enterprise="玛纳斯逾期退出测试水泥厂",
        industry="cement", clauses=("八",), capacity=Decimal(60), unit="万吨/年",
        equipment="Φ3.2m水泥磨", registered_on=date(2026, 12, 1), description="淘汰类装备",
        row=2)], COORDINATOR_WHO)
    await _take(bot, "M-3", "accept")
    view = await cases.get("M-3")
    for assignment in view.assignments:
        if assignment.required and assignment.department_key:
            for measure in ("measure:power_water_cut", "measure:power_units_removed",
                            "measure:line_sealed", "measure:public_commitment",
                            "measure:website_announcement"):
                await cases.take_step("M-3", StepInput(
                    step=measure, actor=Actor.DEPARTMENT,
                    department=assignment.department_key, evidence=("photo:u4:f4:",),
                    on=date(2026, 12, 1)), COORDINATOR_WHO)
            break
    await cases.take_step("M-3", StepInput(
        step="set_dismantling_date", actor=Actor.DEPARTMENT,
        department=view.assignments[0].department_key, on=date(2026, 12, 15)),
        COORDINATOR_WHO)
    assert {v.task.clause for v in await tasks.find(case_id=view.case.id)} == {"十二"}
    bot.clock.set(at(date(2026, 12, 17)))  # the dismantling date has passed
    await bot.app.deps.calendar.sweep()
    assert {v.task.clause for v in await tasks.find(case_id=view.case.id)} == {
        "十二", "十三", "十七"}


# -- a second document of the family, loaded without code ----------------------------------------

FAMILY = Path(__file__).resolve().parent / "data" / "policy" / "tasks_family.txt"


def test_a_second_document_s_duties_are_tasks_with_their_own_dates_and_owners() -> None:
    catalog = parse_policy_file(FAMILY)
    specs = {s.clause: s for s in tasks_from_catalog(
        catalog, DEMO_DEPARTMENTS, yearly=rules.duty_sources(catalog))}
    assert set(specs) == {"十", "十一", "十二"}  # （十三） has no tag: no owner to route to
    assert specs["十"].schedule == Schedule("yearly", month=6, day=30)  # 每年6月底前
    assert specs["十"].lead == ("industry",)
    assert specs["十"].participants == ("development_reform", "tax")
    assert specs["十一"].schedule == Schedule("once", on=date(2027, 9, 30))  # 2027年9月底前
    assert specs["十一"].lead == ("finance", "tax")
    assert specs["十二"].schedule == Schedule("every", months=3)  # 定期
    assert specs["十二"].unowned == ("国家电网瀚州供电公司",)


async def test_a_second_document_s_tasks_are_routed_and_chased(bot: Bot) -> None:
    await bind_all(bot)
    tasks = bot.app.deps.tasks
    proposed = await tasks.propose(parse_policy_file(FAMILY))
    assert (proposed.new, proposed.known) == (3, 0)
    accepted, ownerless = await tasks.accept_all(COORDINATOR_WHO)
    assert (accepted, ownerless) == (3, [])
    statistics = next(v for v in await tasks.find() if v.task.clause == "十")
    assert {d.due for d in statistics.duties} == {date(2027, 6, 30)}
    await bot.deliver()
    assert "开展专项统计" in bot.last_with(INDUSTRY, "开展专项统计")
    items = await bot.app.deps.calendar.preview(at(date(2027, 6, 21)))
    nudged = {(i.recipient, i.kind) for i in items
              if (i.obligation or "").startswith(f"task-{statistics.task.id}-")}
    assert ("industry", "obligation_nudge") in nudged and ("tax", "obligation_nudge") in nudged
    late = await bot.app.deps.calendar.preview(at(date(2027, 7, 20)))
    assert ("notice", "industry") in {(i.kind, i.recipient) for i in late if (
        i.obligation or "").startswith(f"task-{statistics.task.id}-")}


def test_the_command_line_loads_a_document_s_tasks_and_lists_them(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("DUBAN_LOCALE", "DUBAN_CATALOG", "DUBAN_CONFIG", "TELEGRAM_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["--database", database_url, "--lang", "en", *args])
        return result.exit_code, result.output

    code, out = run("policy", "load", str(FAMILY))
    assert code == 1 and "No organisation is loaded yet" in out  # nothing written
    run("demo")  # the organisation, the demo cases and the seed's 16 tasks to review
    code, out = run("policy", "load", str(FAMILY))
    assert code == 0, out
    assert "Proposed 3 task(s)" in out and "19 wait for the coordinators' review" in out
    assert "开展专项统计" in out and "doc0" not in out and "task-" not in out
    code, out = run("policy", "load", str(FAMILY))
    assert "Proposed 0 task(s)" in out and "3 already known" in out
    code, out = run("tasks")
    assert code == 0 and "19 task(s) read from the document wait for review" in out
    code, out = run("policy", "load", str(tmp_path / "missing.txt"))
    assert code != 0 and "Traceback" not in out


async def test_the_owners_read_the_task_in_chinese_words(bot: Bot) -> None:
    await bind_all(bot)
    tasks = bot.app.deps.tasks
    await tasks.propose()
    number = next(v.number for v in await tasks.find(statuses=[TaskStatus.PROPOSED])
                  if v.task.clause == "十一")
    await bot.say(COORDINATOR, COORDINATION, f"/tasks accept {number}")
    await bot.deliver()
    live = bot.last(REFORM)
    assert "📌 新的督办任务 — 本部门牵头" in live.text, live.text
    assert f"督办任务{number}（第（十一）条）：加大技术扶持" in live.text
    assert "每季度末前" in live.text and "2026年12月31日" in live.text
    assert "州发改委" in live.text and live.buttons()[0][0] == "📝 进展反馈"
    for text in (live.text, bot.last(COORDINATION).text):
        assert "task-" not in text and "every:" not in text and "doc1" not in text


def test_a_task_duty_is_named_in_words_even_when_this_process_has_not_read_it() -> None:
    from bot.core.i18n import get_translator
    from bot.core.tasks import TITLES, task_kind
    from bot.render.calendar_texts import duty_words

    zh = get_translator("zh_CN")
    TITLES.set(9001, 41, "严格执法监管：加大节能监察力度")
    assert duty_words(task_kind(9001, 2), zh) == "督办任务41：严格执法监管：加大节能监察力度"
    assert duty_words(task_kind(9002, 1), zh) == "督办任务"  # unknown here: no key, no id
    assert duty_words("work_plan", zh) != "work_plan"
