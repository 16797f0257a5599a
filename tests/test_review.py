"""Review before closing (办结复核): a confirmed closing waits for a coordinator, who closes
the case (办结) or sends it back (退回重办) with a reason; off in the org file, cases close at
once as before. Chats on both back-ends, the command line, and the pure rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli.main import main
from bot.core.casefile import CaseInput
from bot.core.clock import ManualClock
from bot.core.i18n import DubanError
from bot.core.org import EscalationSettings, OrgError, ReviewSettings, parse_org
from bot.core.workflow import (
    Actor,
    CaseFacts,
    State,
    StepInput,
    decide,
    workflow_for,
)
from bot.services.access import Who
from scheduler import rules
from scheduler.workdays import WorkCalendar
from tests.bot_harness import Bot
from tests.conftest import COORDINATOR as COORDINATOR_WHO
from tests.test_bot_app import COORDINATION, COORDINATOR, INDUSTRY, MANAS, REFORM, bind_all
from tests.test_calendar_chat import INDUSTRY_LIAISON, REFORM_LIAISON
from tests.test_reader_words import everything_sent, problems

DEMO_ORG = Path(__file__).resolve().parents[1] / "bot" / "data" / "demo_org.toml"
REF = "R-1"
LIAISONS = {
    "industry": Who(role="liaison", name="工信联络员", telegram_id=INDUSTRY_LIAISON[0],
                    department="industry"),
    "development_reform": Who(role="liaison", name="发改联络员",
                              telegram_id=REFORM_LIAISON[0], department="development_reform"),
}
TODAY = date(2026, 3, 2)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 2, 2, tzinfo=UTC))  # Monday 10:00 in Shanghai


async def _confirm(bot: Bot, department: str) -> None:
    await bot.app.deps.cases.take_step(REF, StepInput(
        step="confirm_rectified", actor=Actor.DEPARTMENT, department=department,
        evidence=("photo:u9:f9:",), on=TODAY), LIAISONS[department])


async def _rectifying_case(bot: Bot) -> None:
    """A clause （四） case for 工信 and 发改, accepted and ordered to rectify; the chats read
    English (the words pressed are the English texts)."""
    await bind_all(bot)
    for chat in (COORDINATION, INDUSTRY, REFORM, MANAS):
        await bot.say(COORDINATOR, chat, "/lang en")
    cases = bot.app.deps.cases
    await cases.import_cases([CaseInput(
        ref=REF, region="玛纳斯县", enterprise="玛纳斯复核测试水泥厂", industry="cement",
        clauses=("四",), capacity=Decimal(60), unit="万吨/年", equipment=None,
        registered_on=TODAY, description="能耗超标", row=2)], COORDINATOR_WHO)
    for department, who in LIAISONS.items():
        await cases.take_step(REF, StepInput(step="accept", actor=Actor.DEPARTMENT,
                                             department=department), who)
    await cases.take_step(REF, StepInput(step="order_rectification", actor=Actor.DEPARTMENT,
                                         department="industry", evidence=("photo:u8:f8:",)),
                          LIAISONS["industry"])
    await bot.deliver()


def _review_message(bot: Bot):  # type: ignore[no-untyped-def]
    return next(m for m in reversed(bot.fake.in_chat(COORDINATION))
                if "Close the case" in [label for label, _ in m.buttons()])


def _card(bot: Bot, chat: int):  # type: ignore[no-untyped-def]
    return next(m for m in reversed(bot.fake.in_chat(chat)) if m.text.startswith("[Case"))


async def test_a_confirmed_closing_waits_for_review_then_closes(bot: Bot) -> None:
    await _rectifying_case(bot)
    cases = bot.app.deps.cases
    deadline = (await cases.get(REF)).case.deadline
    await _confirm(bot, "industry")
    await _confirm(bot, "development_reform")
    case = (await cases.get(REF)).case
    assert case.state == State.REVIEW and case.closed_at is None
    assert case.deadline == deadline  # kept for a send-back
    assert case.due_on is not None  # open: it has a next date
    await bot.deliver()

    card = _card(bot, INDUSTRY)
    assert "review" in card.text and not card.buttons()
    review = _review_message(bot)
    assert "Confirm rectified and verified" in review.text and REF in review.text
    assert [label for label, _ in review.buttons()] == ["Close the case", "Send back for rework"]
    await bot.say(COORDINATOR, COORDINATION, "/mine")
    assert "closing to review" in bot.last(COORDINATION).text

    # A liaison cannot decide the review.
    await bot.feed(bot.users.press(INDUSTRY_LIAISON, review, review.button("Close the case")))
    assert bot.fake.alerts[-1]["show_alert"]
    assert (await cases.get(REF)).case.state == State.REVIEW

    await bot.press(COORDINATOR, review, "Close the case")
    await bot.say(COORDINATOR, COORDINATION, "证据齐全，同意办结")
    await bot.press(COORDINATOR, bot.last(COORDINATION), "Confirm")
    view = await cases.get(REF)
    assert view.case.state == State.RECTIFIED and view.case.closed_at is not None
    assert view.case.deadline is None
    last = view.events[-1]
    assert (last.kind, last.from_state, last.to_state) == ("close_reviewed", "review",
                                                            "rectified")
    assert last.payload["note"] == "证据齐全，同意办结"
    await bot.say(COORDINATOR, COORDINATION, f"/case {REF}")
    timeline = bot.last(COORDINATION).text
    assert "Close the case" in timeline and "awaiting the coordinators' review" in timeline

    # The review message's button is spent: pressed again, it changes nothing.
    events = len(view.events)
    await bot.feed(bot.users.press(COORDINATOR, review, review.button("Close the case")))
    assert bot.fake.alerts[-1]["show_alert"]
    assert "not waiting for review" in bot.fake.alerts[-1]["text"]
    assert len((await cases.get(REF)).events) == events
    # People read words: no key, state name or timestamp in anything the story sent.
    assert not [found for text in everything_sent(bot) for found in problems(text, True)]


async def test_send_back_needs_a_reason_then_the_departments_confirm_again(bot: Bot) -> None:
    await _rectifying_case(bot)
    cases = bot.app.deps.cases
    deadline = (await cases.get(REF)).case.deadline
    await _confirm(bot, "industry")
    await _confirm(bot, "development_reform")
    await bot.deliver()
    events = len((await cases.get(REF)).events)

    # Without a reason: refused, nothing changes (the command line's way, then the chat's).
    with pytest.raises(DubanError, match="reason"):
        await cases.take_step(REF, StepInput(step="send_back", actor=Actor.COORDINATOR,
                                             reason="  "), COORDINATOR_WHO)
    review = _review_message(bot)
    await bot.press(COORDINATOR, review, "Send back for rework")
    assert "reason" in bot.last(COORDINATION).text
    await bot.say(COORDINATOR, COORDINATION, "   ")
    assert "Please answer with text" in bot.last(COORDINATION).text
    view = await cases.get(REF)
    assert view.case.state == State.REVIEW and len(view.events) == events

    await bot.say(COORDINATOR, COORDINATION, "照片不能证明设备已改造")
    await bot.press(COORDINATOR, bot.last(COORDINATION), "Confirm")
    view = await cases.get(REF)
    assert view.case.state == State.RECTIFYING
    assert view.case.deadline == deadline  # the ladder goes on from the original deadline
    assert view.events[-1].kind == "send_back"
    assert view.events[-1].payload["reason"] == "照片不能证明设备已改造"
    await bot.deliver()
    for chat in (INDUSTRY, REFORM):
        assert "照片不能证明设备已改造" in bot.last_with(chat, "sent back")
    assert "Confirm rectified and verified" in [label for label, _ in
                                                _card(bot, INDUSTRY).buttons()]

    # Every department confirms again before the case is reviewed again.
    await _confirm(bot, "industry")
    assert (await cases.get(REF)).case.state == State.RECTIFYING
    await _confirm(bot, "development_reform")
    assert (await cases.get(REF)).case.state == State.REVIEW
    assert not [found for text in everything_sent(bot) for found in problems(text, True)]


async def test_a_forged_review_button_does_nothing(bot: Bot) -> None:
    await _rectifying_case(bot)
    await _confirm(bot, "industry")
    await _confirm(bot, "development_reform")
    await bot.deliver()
    review = _review_message(bot)
    data = review.button("Close the case")
    await bot.feed(bot.users.press(COORDINATOR, review, data[:-1] + ("x" if data[-1] != "x"
                                                                     else "y")))
    case_id = (await bot.app.deps.cases.get(REF)).case.id
    unsigned = f"d2:j:{case_id}:c:AAAAAAAA"
    await bot.feed(bot.users.press(COORDINATOR, review, unsigned))
    assert all(a["show_alert"] for a in bot.fake.alerts[-2:])
    assert (await bot.app.deps.cases.get(REF)).case.state == State.REVIEW


async def test_with_review_off_a_confirmed_closing_closes_at_once(bot: Bot) -> None:
    org = parse_org(DEMO_ORG.read_text(encoding="utf-8") + "\n[review]\nbefore_closing = false\n")
    assert org.review == ReviewSettings(before_closing=False)
    await bot.app.deps.org_service.load(org)
    await _rectifying_case(bot)
    await _confirm(bot, "industry")
    await _confirm(bot, "development_reform")
    case = (await bot.app.deps.cases.get(REF)).case
    assert case.state == State.RECTIFIED and case.closed_at is not None
    await bot.deliver()
    assert not any("Close the case" in [label for label, _ in m.buttons()]
                   for m in bot.fake.in_chat(COORDINATION))


def test_the_command_line_closes_and_sends_back(database_url: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("DUBAN_LOCALE", "DUBAN_CATALOG", "DUBAN_CONFIG", "TELEGRAM_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str) -> str:
        result = CliRunner().invoke(main, ["--database", database_url, "--lang", "en", *args],
                                    catch_exceptions=False)
        return f"{result.exit_code} {result.output}"

    run("demo")
    (tmp_path / "one.csv").write_text(
        "ref,county,enterprise,industry,clause,capacity,unit,registered_on,description\n"
        "W-1,昌吉市,昌吉复核测试铝厂,electrolytic_aluminium,四,20,万吨/年,2026-01-05,能耗\n",
        encoding="utf-8")
    run("case", "import", str(tmp_path / "one.csv"))
    for department in ("工信", "发改委"):
        run("case", "step", "W-1", "accept", "--department", department)
    run("case", "step", "W-1", "order_rectification", "--department", "工信",
        "--evidence", "order.pdf")

    def confirm_both() -> str:
        for department in ("工信", "发改委"):
            out = run("case", "step", "W-1", "confirm_rectified", "--department", department,
                      "--evidence", "check.pdf", "--date", "2026-01-06")
        return out

    assert "awaiting the coordinators' review" in confirm_both()
    refused = run("case", "step", "W-1", "send_back")
    assert refused.startswith("1 ") and "reason" in refused
    back = run("case", "step", "W-1", "send_back", "--reason", "证据不足")
    assert back.startswith("0 ") and "now rectifying" in back
    assert "awaiting the coordinators' review" in confirm_both()
    closed = run("case", "step", "W-1", "close_reviewed", "--note", "同意办结")
    assert closed.startswith("0 ") and "rectified and verified" in closed
    shown = run("case", "show", "W-1")
    assert "reason: 证据不足" in shown and "note: 同意办结" in shown
    assert "review" not in shown.replace("awaiting the coordinators' review", "")


# -- the pure parts ----------------------------------------------------------------------------


def _facts(state: State, **more: object) -> CaseFacts:
    return CaseFacts(clause="九", state=state, deadline=date(2026, 5, 1),
                     required_departments=frozenset({"industry"}), **more)  # type: ignore[arg-type]


def test_decide_sends_a_closing_to_review_and_back() -> None:
    exit_ = StepInput(step="confirm_exit", actor=Actor.DEPARTMENT, department="industry",
                      capacity=10.0, note="已拆除")
    measures = frozenset(workflow_for("九").measures)
    today = date(2026, 4, 1)
    at_once = decide(_facts(State.SHUTDOWN_ORDERED, measures_done=measures), exit_, today)
    assert at_once.to_state is State.EXITED and at_once.deadline is None
    reviewed = decide(_facts(State.SHUTDOWN_ORDERED, measures_done=measures,
                             review_before_closing=True), exit_, today)
    assert reviewed.to_state is State.REVIEW and reviewed.deadline == date(2026, 5, 1)

    waiting = _facts(State.REVIEW, review_before_closing=True,
                     under_review=("confirm_exit", State.OVERDUE))
    close = decide(waiting, StepInput(step="close_reviewed", actor=Actor.COORDINATOR), today)
    assert (close.to_state, close.deadline) == (State.EXITED, None)
    back = decide(waiting, StepInput(step="send_back", actor=Actor.COORDINATOR,
                                     reason="封存不到位"), today)
    assert (back.to_state, back.deadline) == (State.OVERDUE, date(2026, 5, 1))
    with pytest.raises(DubanError):
        decide(waiting, StepInput(step="send_back", actor=Actor.COORDINATOR), today)
    with pytest.raises(DubanError):  # coordinators only
        decide(waiting, StepInput(step="close_reviewed", actor=Actor.DEPARTMENT,
                                  department="industry"), today)
    with pytest.raises(DubanError):  # not in review
        decide(_facts(State.SHUTDOWN_ORDERED), StepInput(step="close_reviewed",
                                                         actor=Actor.COORDINATOR), today)


def test_a_case_in_review_is_the_coordinators_work_not_the_departments() -> None:
    calendar, settings = WorkCalendar(), EscalationSettings()
    entered = date(2026, 3, 2)
    due = rules.due_on("四", State.REVIEW, date(2026, 3, 10), entered, calendar, settings)
    assert due == calendar.add_working_days(entered, settings.decision_working_days)
    case = rules.CaseSnapshot(
        ref="R-1", region="玛纳斯县", clause="四", state=State.REVIEW.value, deadline=due,
        deadline_kind=rules.WAIT_REVIEW, routed_on=date(2026, 1, 5),
        required=(rules.DeptStatus("industry", accepted=True),
                  rules.DeptStatus("development_reform", accepted=True)))
    assert rules.next_check(case, entered, calendar, settings) == due
    for day in (entered, due, due + timedelta(days=40)):
        now = datetime(day.year, day.month, day.day, 2, tzinfo=UTC)
        items = rules.due_items([case], [], [], frozenset(), now, calendar, settings)
        assert all(item.recipient_kind == rules.COORDINATORS for item in items), items
        assert not any(item.kind == rules.KIND_NOTICE for item in items)
    now = datetime(due.year, due.month, due.day + 1, 2, tzinfo=UTC)
    items = rules.due_items([case], [], [], frozenset(), now, calendar, settings)
    assert [item.step for item in items] == [rules.STEP_UNREVIEWED]


def test_the_org_file_switches_review() -> None:
    text = DEMO_ORG.read_text(encoding="utf-8")
    assert parse_org(text).review.before_closing  # on by default
    assert parse_org(text + "\n[review]\nbefore_closing = true\n").review.before_closing
    with pytest.raises(OrgError):
        parse_org(text + "\n[review]\nbefore_closing = \"yes\"\n")
    with pytest.raises(OrgError):
        parse_org(text + "\n[review]\nbefor_closing = false\n")
