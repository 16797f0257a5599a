"""Inspections (clause 三 of the cover letter): a county's joint inspection recorded in its chat,
its problems fed back to the commission (once) or opened as cases; the commission's own
inspections scheduled, announced and recorded; the listing. Real Update JSON through the real
Application on both back-ends; the chats speak English so the tests read the msgids."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook

from bot.core import inspections as words
from bot.core.i18n import DubanError, get_translator
from bot.core.org import Org
from bot.core.workflow import State
from bot.render.reports.ledger import write_ledger
from tests.bot_harness import Bot
from tests.telegram_fakes import Sent

COORDINATION, ENVIRONMENT, INDUSTRY, MANAS, CHANGJI = -1001, -1002, -1003, -1005, -1006
COORDINATOR = (10001, "王玮中")
ENV_LIAISON = (20002, "李娜")
MANAS_LIAISON = (30001, "马晓燕")
CHANGJI_LIAISON = (30002, "何俊")
OUTSIDER = (55555, "路人")


async def bind(bot: Bot) -> None:
    for chat, target in ((COORDINATION, "coordination"), (ENVIRONMENT, "环保局"),
                         (INDUSTRY, "工信"), (MANAS, "玛纳斯"), (CHANGJI, "昌吉市")):
        await bot.say(COORDINATOR, chat, f"/bind {target}")
        await bot.say(COORDINATOR, chat, "/lang en")


async def press(bot: Bot, user: tuple[int, str], chat: int, label: str) -> Sent:
    await bot.press(user, bot.last(chat), label)
    return bot.last(chat)


async def joint_inspection_up_to_problems(bot: Bot) -> None:
    await bot.say(MANAS_LIAISON, MANAS, "/inspection")
    assert "On what day" in bot.last(MANAS).text
    await bot.say(MANAS_LIAISON, MANAS, "明天")
    assert "not a date" in bot.last(MANAS).text  # explained and asked again
    await bot.say(MANAS_LIAISON, MANAS, "2026-06-02")
    assert "still to come" in bot.last(MANAS).text
    await bot.say(MANAS_LIAISON, MANAS, "2026年5月28日")
    assert "Which departments" in bot.last(MANAS).text
    await bot.say(MANAS_LIAISON, MANAS, "工信、外星球管理局")
    assert "外星球管理局" in bot.last(MANAS).text  # the name that is not a department
    await bot.say(MANAS_LIAISON, MANAS, "工信、环保")
    assert "Which enterprises" in bot.last(MANAS).text
    await bot.say(MANAS_LIAISON, MANAS, "宏达水泥有限公司、玛纳斯县测试钢铁厂")
    assert "Problem 1" in bot.last(MANAS).text


async def test_joint_inspection_feeds_back_once_and_opens_a_routed_case(bot: Bot) -> None:
    await bind(bot)
    await joint_inspection_up_to_problems(bot)
    # Problem 1: fed back to the commission, with a photo.
    await bot.say(MANAS_LIAISON, MANAS, "窑尾除尘设施未运行")
    await press(bot, MANAS_LIAISON, MANAS, "宏达水泥有限公司")
    await press(bot, MANAS_LIAISON, MANAS, "Feed back to the commission")
    assert "Send photos or documents" in bot.last(MANAS).text
    await bot.feed(bot.users.photo(MANAS_LIAISON, MANAS, "photo-7"))
    assert "Send photos or documents" in bot.last(MANAS).text
    await press(bot, MANAS_LIAISON, MANAS, "Next")
    # Problem 2: opened as a case under clause （五）.
    await bot.say(MANAS_LIAISON, MANAS, "超标排放仍在生产")
    await bot.say(MANAS_LIAISON, MANAS, "玛纳斯县测试钢铁厂")  # typed rather than pressed
    await press(bot, MANAS_LIAISON, MANAS, "Open a case")
    await press(bot, MANAS_LIAISON, MANAS, "steel")
    await bot.say(MANAS_LIAISON, MANAS, "五")
    await press(bot, MANAS_LIAISON, MANAS, "Next")
    summary = await press(bot, MANAS_LIAISON, MANAS, "No more problems")
    assert "Please check and confirm" in summary.text
    assert "May 28, 2026" in summary.text and "州工信局" in summary.text
    assert "(5)" in summary.text and "📎 ×1" in summary.text
    done = await press(bot, MANAS_LIAISON, MANAS, "Confirm")
    assert "The inspection is recorded" in done.text and "CZ-2026-001" in done.text

    view = await bot.app.deps.cases.get("CZ-2026-001")
    assert view.case.region_name == "玛纳斯县" and view.case.enterprise == "玛纳斯县测试钢铁厂"
    assert view.case.state == State.ROUTED and view.required_departments
    assert view.events[0].actor_name == "马晓燕"

    await bot.deliver()
    feedback = [s for s in bot.fake.in_chat(COORDINATION) if "fed back by" in s.text]
    assert len(feedback) == 1
    text = feedback[0].text
    assert "玛纳斯县" in text and "宏达水泥有限公司" in text and "窑尾除尘设施未运行" in text
    assert "May 28, 2026" in text and "photo-7" not in text and "2026-05-28" not in text
    assert "CZ-2026-001" in bot.last(ENVIRONMENT).text  # the case's card reached its department
    await bot.deliver()  # nothing is sent twice
    assert len([s for s in bot.fake.in_chat(COORDINATION) if "fed back by" in s.text]) == 1

    await bot.say(MANAS_LIAISON, MANAS, "/inspections")
    listing = bot.last(MANAS).text
    assert "joint inspection" in listing and "玛纳斯县测试钢铁厂" in listing
    assert "case CZ-2026-001 opened" in listing and "fed back to the commission" in listing
    assert "May 28, 2026" in listing and "industry" not in listing
    assert "photo" in listing and "photo-7" not in listing  # evidence by name, never its id
    await bot.say(COORDINATOR, COORDINATOR[0], "/inspections 玛纳斯 2026")
    assert "2026年5月28日" in bot.last(COORDINATOR[0]).text  # Chinese dates in Chinese
    await bot.say(CHANGJI_LIAISON, CHANGJI, "/inspections 玛纳斯县")
    assert "玛纳斯县测试钢铁厂" not in bot.last(CHANGJI).text  # another county's: refused

    # The ledger's sheet of inspections.
    deps = bot.app.deps
    found = await deps.ledger.ledger(2026, date(2026, 6, 1))
    buffer = io.BytesIO()
    await write_ledger(found, get_translator("zh_CN"), await deps.org(), deps.tz, buffer)
    sheet = load_workbook(buffer)[get_translator("zh_CN").gettext("Inspections")]
    values = list(sheet.iter_rows(values_only=True))
    assert len(values) == 2
    cells = [str(v) for v in values[1] if v is not None]
    assert "玛纳斯县" in cells and "CZ-2026-001" in cells
    assert any("州工信局" in c for c in cells) and any("窑尾除尘设施未运行" in c for c in cells)
    assert not any("industry" in c or "fed_back" in c for c in cells)


async def test_who_may_record_and_forged_buttons(bot: Bot) -> None:
    await bind(bot)
    for user, chat in ((OUTSIDER, MANAS), (CHANGJI_LIAISON, MANAS), (ENV_LIAISON, MANAS)):
        await bot.say(user, chat, "/inspection")
        assert "On what day" not in bot.last(chat).text
    await bot.say(MANAS_LIAISON, ENVIRONMENT, "/inspection")
    assert "玛纳斯县" in bot.last(ENVIRONMENT).text  # told where to record it
    assert await bot.app.deps.dialogs.current(ENVIRONMENT, MANAS_LIAISON[0]) is None

    await joint_inspection_up_to_problems(bot)
    await bot.say(MANAS_LIAISON, MANAS, "未落实停产措施")
    question = bot.last(MANAS)
    data = question.button("宏达水泥有限公司")
    await bot.feed(bot.users.press(MANAS_LIAISON, question, data[:-1] + "x"))  # tampered
    await bot.feed(bot.users.press(MANAS_LIAISON, question, "v9:zz"))
    assert all(a["show_alert"] for a in bot.fake.alerts[-2:])
    dialog = await bot.app.deps.dialogs.current(MANAS, MANAS_LIAISON[0])
    assert dialog is not None and dialog.step == "problem_enterprise"
    # Another person's press of this dialog's button answers nothing of it.
    await bot.feed(bot.users.press(CHANGJI_LIAISON, question, data))
    dialog = await bot.app.deps.dialogs.current(MANAS, MANAS_LIAISON[0])
    assert dialog is not None and dialog.step == "problem_enterprise"
    await bot.say(MANAS_LIAISON, MANAS, "/cancel")
    assert await bot.app.deps.inspections.listing(year=2026) == []


async def test_commission_inspection_scheduled_listed_overdue_then_recorded(bot: Bot) -> None:
    await bind(bot)
    await bot.say(MANAS_LIAISON, MANAS, "/inspection plan 2026-06-10 玛纳斯县 工信")
    assert not await bot.app.deps.inspections.planned()  # coordinators only
    await bot.say(COORDINATOR, COORDINATION, "/inspection plan 2026-05-01 玛纳斯县 工信")
    assert "today or a later day" in bot.last(COORDINATION).text
    await bot.say(COORDINATOR, COORDINATION, "/inspection plan 2026-06-10 玛纳斯县、昌吉市 "
                  "外星球管理局")
    assert "外星球管理局" in bot.last(COORDINATION).text
    await bot.say(COORDINATOR, COORDINATION, "/inspection plan 2026-06-10 玛纳斯县、昌吉市 "
                  "工信、环保")
    assert "is scheduled" in bot.last(COORDINATION).text
    assert "Jun 10, 2026" in bot.last(COORDINATION).text
    await bot.deliver()
    for chat in (MANAS, CHANGJI):
        told = bot.last(chat).text
        assert "Jun 10, 2026" in told and "州工信局" in told and "2026-06-10" not in told
    await bot.deliver()
    assert len([s for s in bot.fake.in_chat(MANAS) if "will inspect" in s.text]) == 1

    bot.clock.advance(timedelta(days=12))  # the day passed without a record
    await bot.say(COORDINATOR, COORDINATION, "/inspections")
    listing = bot.last(COORDINATION).text
    assert "passed without a record" in listing and "昌吉市" in listing
    await bot.say(MANAS_LIAISON, MANAS, "/inspections")
    assert "passed without a record" not in bot.last(MANAS).text  # for coordinators

    await bot.say(COORDINATOR, COORDINATION, "/inspection")
    assert "Which scheduled inspection" in bot.last(COORDINATION).text
    await press(bot, COORDINATOR, COORDINATION, "Jun 10, 2026 玛纳斯县、昌吉市")
    await press(bot, COORDINATOR, COORDINATION, "On the scheduled day")
    await press(bot, COORDINATOR, COORDINATION, "As scheduled")
    await bot.say(COORDINATOR, COORDINATION, "6")
    await bot.say(COORDINATOR, COORDINATION, "台账不全")
    await bot.say(COORDINATOR, COORDINATION, "昌吉某铁合金厂")
    await press(bot, COORDINATOR, COORDINATION, "昌吉市")
    await press(bot, COORDINATOR, COORDINATION, "Record as the commission's finding")
    await press(bot, COORDINATOR, COORDINATION, "Next")
    await press(bot, COORDINATOR, COORDINATION, "No more problems")
    await press(bot, COORDINATOR, COORDINATION, "Confirm")
    assert "Problems fed back: 1" in bot.last(COORDINATION).text
    assert not await bot.app.deps.inspections.planned()
    await bot.deliver()
    finding = bot.last(CHANGJI).text
    assert "Finding of the commission" in finding and "台账不全" in finding
    assert "Jun 10, 2026" in finding
    assert not any("台账不全" in s.text for s in bot.fake.in_chat(MANAS))
    await bot.say(COORDINATOR, COORDINATION, "/inspections 昌吉市")
    listing = bot.last(COORDINATION).text
    assert "commission inspection" in listing and "Enterprises checked: 6" in listing
    assert "passed without a record" not in listing


def test_plan_and_list_arguments(demo_org: Org) -> None:
    today = date(2026, 6, 1)
    plan = words.parse_plan(["plan", "2026年6月10日", "玛纳斯县、昌吉市", "工信，环保"], demo_org,
                            today)
    assert plan.day == date(2026, 6, 10)
    assert plan.regions == ("玛纳斯县", "昌吉市")
    assert plan.departments == ("industry", "environment")
    for bad in (["plan"], ["plan", "sometime", "玛纳斯县"], ["plan", "2026-06-10", "工信"],
                ["plan", "2026-05-01", "玛纳斯县"]):
        with pytest.raises(DubanError):
            words.parse_plan(bad, demo_org, today)
    assert words.parse_list([], demo_org, today) == words.ListRequest(None, 2026)
    assert words.parse_list(["2025", "玛纳斯"], demo_org, today) == words.ListRequest(
        "玛纳斯县", 2025)
    for bad in (["1999"], ["玛纳斯", "昌吉"], ["nowhere"]):
        with pytest.raises(DubanError):
            words.parse_list(bad, demo_org, today)
