"""Application tests: real Update JSON through the real Application, handlers, services and
database (both back-ends); only Telegram's HTTP side is a recording fake."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.clock import ManualClock
from bot.core.policy.catalog import Catalog
from bot.core.workflow import State
from tests.bot_harness import Bot, start_bot
from tests.telegram_fakes import Sent

COORDINATION, ENVIRONMENT, INDUSTRY, REFORM, MANAS = -1001, -1002, -1003, -1004, -1005
COORDINATOR = (10001, "王玮中")
ENV_LIAISON = (20002, "环保联络员")
OUTSIDER = (55555, "路人")
TOKEN = "123456:TEST-TOKEN"


async def bind_all(bot: Bot) -> None:
    for chat, target in ((COORDINATION, "coordination"), (ENVIRONMENT, "环保局"),
                         (INDUSTRY, "工信"), (REFORM, "发改委"), (MANAS, "玛纳斯")):
        await bot.say(COORDINATOR, chat, f"/bind {target}")
        assert "绑定" in bot.last(chat).text, bot.last(chat).text


async def new_case_summary(bot: Bot, enterprise: str = "玛纳斯县测试水泥有限公司",
                           clause: str = "（五）环保") -> Sent:
    """/newcase answered up to its summary (the 确认 still to press)."""
    private = COORDINATOR[0]
    await bot.say(COORDINATOR, private, "/newcase")
    for answer in ("玛纳斯", enterprise):
        await bot.say(COORDINATOR, private, answer)
    await bot.press(COORDINATOR, bot.last(private), "水泥")
    await bot.press(COORDINATOR, bot.last(private), clause)
    await bot.say(COORDINATOR, private, "60 万吨/年")
    await bot.say(COORDINATOR, private, "颗粒物排放超标")
    await bot.press(COORDINATOR, bot.last(private), "跳过")
    summary = bot.last(private)
    assert "请核对" in summary.text
    return summary


async def new_case(bot: Bot, clause: str = "（五）环保") -> str:
    private = COORDINATOR[0]
    await new_case_summary(bot, clause=clause)
    await bot.press(COORDINATOR, bot.last(private), "确认")
    text = bot.last(private).text
    assert "已立案" in text, text
    return text.split()[1]


async def test_set_my_commands_in_both_languages(bot: Bot) -> None:
    from bot.app import register_commands

    await register_commands(bot.app)
    calls = bot.fake.called("setMyCommands")
    by_language = {call.get("language_code"): call["commands"] for call in calls}
    assert set(by_language) == {"zh", "en", None}
    assert any(c["command"] == "status" and "县" in c["description"] for c in by_language["zh"])
    assert any(c["command"] == "status" and "stand" in c["description"]
               for c in by_language["en"])


async def test_coordinator_binds_and_outsider_cannot(bot: Bot) -> None:
    await bot.say(OUTSIDER, ENVIRONMENT, "/bind 环保局")
    assert "只有协调员" in bot.last(ENVIRONMENT).text
    await bot.say(COORDINATOR, ENVIRONMENT, "/bind 环保局@duban_test_bot")
    assert "生态环境局" in bot.last(ENVIRONMENT).text
    await bot.say(COORDINATOR, ENVIRONMENT, "/whoami")
    assert "协调员" in bot.last(ENVIRONMENT).text


async def test_ambiguous_bind_offers_buttons(bot: Bot) -> None:
    await bot.say(COORDINATOR, MANAS, "/bind 昌吉")
    choices = [label for label, _ in bot.last(MANAS).buttons()]
    assert "昌吉市" in choices and "昌吉高新技术产业开发区" in choices
    await bot.press(COORDINATOR, bot.last(MANAS), "昌吉市")
    assert "昌吉市" in bot.last(MANAS).text


async def test_story_case_card_accept_step_with_photo_and_refusals(bot: Bot) -> None:
    await bind_all(bot)
    ref = await new_case(bot)
    await bot.deliver()
    card = bot.last(ENVIRONMENT)
    assert ref in card.text and "玛纳斯县" in card.text
    assert [label for label, _ in card.buttons()] == ["受理", "非本部门职责"]
    assert ref in bot.last(MANAS).text  # the county's chat sees its case too

    alert = await bot.press(OUTSIDER, card, "受理")
    assert alert["show_alert"] and "只有" in alert["text"]
    view = await bot.app.deps.cases.get(ref)
    assert view.case.state == State.ROUTED and len(view.events) == 1

    await bot.press(ENV_LIAISON, card, "受理")
    await bot.deliver()
    card = bot.last(ENVIRONMENT) if bot.last(ENVIRONMENT).message_id == card.message_id \
        else bot.fake.messages[(ENVIRONMENT, card.message_id)]
    assert "已受理" in card.text and len(card.history) == 2  # edited in place

    await bot.press(ENV_LIAISON, card, "限制生产")
    assert "证明材料" in bot.last(ENVIRONMENT).text
    await bot.say(ENV_LIAISON, ENVIRONMENT, "没有照片")
    assert "请发送照片或文件" in bot.last(ENVIRONMENT).text  # explained and asked again
    await bot.feed(bot.users.photo(ENV_LIAISON, ENVIRONMENT, "photo-1"))
    assert "期限是哪一天" in bot.last(ENVIRONMENT).text
    await bot.say(ENV_LIAISON, ENVIRONMENT, "2026-01-01")
    assert "必须晚于今天" in bot.last(ENVIRONMENT).text
    await bot.say(ENV_LIAISON, ENVIRONMENT, "2026-09-30")
    await bot.press(ENV_LIAISON, bot.last(ENVIRONMENT), "确认")
    assert "已记录" in bot.last(ENVIRONMENT).text
    view = await bot.app.deps.cases.get(ref)
    assert view.case.state == State.RECTIFYING
    assert view.events[-1].payload["evidence"][0].startswith("photo:photo-1u")
    assert view.events[-1].actor_name == "环保联络员"

    await bot.say(COORDINATOR, COORDINATION, "/status 玛纳斯")
    status = bot.last_with(COORDINATION, "📊")
    assert "玛纳斯县" in status and "在办 1" in status
    await bot.say(COORDINATOR, COORDINATION, "/lang en")
    await bot.say(COORDINATOR, COORDINATION, "/status manasi")
    assert "Open 1" in bot.last_with(COORDINATION, "📊")


async def test_forged_and_foreign_buttons_are_refused(bot: Bot) -> None:
    await bind_all(bot)
    ref = await new_case(bot)
    await bot.deliver()
    card = bot.last(ENVIRONMENT)
    data = card.button("受理")
    # The same button data replayed in another chat does not verify there.
    moved = replace(card, chat_id=INDUSTRY)
    await bot.feed(bot.users.press(ENV_LIAISON, moved, data))
    assert bot.fake.alerts[-1]["show_alert"]
    # Tampered data.
    await bot.feed(bot.users.press(ENV_LIAISON, card, data[:-1] + "x"))
    await bot.feed(bot.users.press(ENV_LIAISON, card, "v9:zz"))
    assert all(a["show_alert"] for a in bot.fake.alerts[-3:])
    assert (await bot.app.deps.cases.get(ref)).case.state == State.ROUTED


async def test_out_of_date_buttons_are_refused_and_the_card_refreshed(bot: Bot) -> None:
    await bind_all(bot)
    ref = await new_case(bot)
    await bot.deliver()
    card = bot.last(ENVIRONMENT)
    case_id = (await bot.app.deps.cases.get(ref)).case.id
    codec = bot.app.deps.codec
    # A card posted by the first version: steps by their position in the workflow.
    old = codec.sign(ENVIRONMENT, f"d1:s:{case_id}:五:0")
    await bot.feed(bot.users.press(ENV_LIAISON, card, old))
    alert = bot.fake.alerts[-1]
    assert alert["show_alert"] and "过期" in alert["text"], alert
    assert (await bot.app.deps.cases.get(ref)).case.state == State.ROUTED  # nothing taken
    fresh = bot.fake.messages[(ENVIRONMENT, card.message_id)]
    assert len(fresh.history) == 2  # the same message, edited in place
    assert all(data.startswith("d2:") for _, data in fresh.buttons())
    await bot.press(ENV_LIAISON, fresh, "受理")  # the fresh card works
    assert (await bot.app.deps.cases.get(ref)).case.state == State.ACCEPTED

    # An old button on a message that is not a card loses its keyboard.
    await bot.say(COORDINATOR, COORDINATION, "/whoami")
    note = bot.last(COORDINATION)
    bot.fake.messages[(COORDINATION, note.message_id)] = replace(
        note, reply_markup={"inline_keyboard": [[{"text": "批准", "callback_data": "x"}]]})
    stale = codec.sign(COORDINATION, f"d1:x:{case_id}:a")
    await bot.feed(bot.users.press(COORDINATOR, note, stale))
    assert bot.fake.alerts[-1]["show_alert"] and "过期" in bot.fake.alerts[-1]["text"]
    assert bot.fake.messages[(COORDINATION, note.message_id)].reply_markup is None


async def test_restart_in_the_middle_of_a_conversation(bot: Bot, engine: AsyncEngine,
                                                       clock: ManualClock,
                                                       catalog: Catalog) -> None:
    await bind_all(bot)
    ref = await new_case(bot)
    await bot.deliver()
    card = bot.last(ENVIRONMENT)
    await bot.press(ENV_LIAISON, card, "受理")
    await bot.deliver()
    await bot.press(ENV_LIAISON, card, "限制生产")
    await bot.feed(bot.users.photo(ENV_LIAISON, ENVIRONMENT, "photo-2"))
    await bot.app.shutdown()  # the bot goes down mid-dialog

    again = await start_bot(engine, clock, catalog, bot.fake, bot.users)
    try:
        await again.say(ENV_LIAISON, ENVIRONMENT, "2026-10-15")
        await again.press(ENV_LIAISON, again.last(ENVIRONMENT), "确认")
        view = await again.app.deps.cases.get(ref)
        assert view.case.state == State.RECTIFYING
        assert view.events[-1].payload["evidence"][0].startswith("photo:photo-2u")
    finally:
        await again.app.initialize()  # the fixture shuts the first app down again


async def test_redelivered_update_changes_nothing(bot: Bot) -> None:
    await bind_all(bot)
    private = COORDINATOR[0]
    await bot.say(COORDINATOR, private, "/newcase")
    update = bot.users.message(COORDINATOR, private, "玛纳斯")
    await bot.feed(update)
    asked = bot.last(private).text
    await bot.feed(update)  # Telegram sends it again after a restart
    assert bot.last(private).text == asked
    dialog = await bot.app.deps.dialogs.current(private, private)
    assert dialog is not None and dialog.step == "enterprise"


async def test_hand_back_reaches_coordinators_with_reroute_buttons(bot: Bot) -> None:
    await bind_all(bot)
    ref = await new_case(bot)
    await bot.deliver()
    await bot.press(ENV_LIAISON, bot.last(ENVIRONMENT), "非本部门职责")
    await bot.say(ENV_LIAISON, ENVIRONMENT, "属于质监职责")
    await bot.press(ENV_LIAISON, bot.last(ENVIRONMENT), "确认")
    await bot.deliver()
    notice = bot.last(COORDINATION)
    assert ref in notice.text and "属于质监职责" in notice.text
    await bot.press(COORDINATOR, notice, "州质监局")
    view = await bot.app.deps.cases.get(ref)
    assert "quality" in view.required_departments


async def test_bot_removed_unbinds_and_tells_coordinators(bot: Bot) -> None:
    await bind_all(bot)
    await bot.feed(bot.users.bot_membership(ENVIRONMENT, COORDINATOR, "member", "kicked"))
    await bot.deliver()
    assert await bot.app.deps.chats.binding(ENVIRONMENT) is None
    assert "移出" in bot.last(COORDINATION).text


async def test_bot_added_greets(bot: Bot) -> None:
    await bot.feed(bot.users.bot_membership(-1999, COORDINATOR, "left", "member"))
    assert "/bind" in bot.last(-1999).text


async def test_invite_and_join(bot: Bot) -> None:
    await bind_all(bot)
    await bot.say(COORDINATOR, INDUSTRY, "/invite")
    code = bot.last(INDUSTRY).text.split("：")[1].split()[0]
    newcomer = (70001, "新联络员")
    await bot.say(newcomer, REFORM, f"/join {code}")
    assert "生成邀请码的群" in bot.last(REFORM).text  # wrong chat
    await bot.say(newcomer, INDUSTRY, f"/join {code}")
    assert "新联络员" in bot.last(INDUSTRY).text
    await bot.say(newcomer, INDUSTRY, f"/join {code}")
    assert "已使用" in bot.last(INDUSTRY).text


async def test_errors_are_localized_never_tracebacks(bot: Bot) -> None:
    await bot.say(COORDINATOR, COORDINATION, "/case NOPE-404")
    assert "没有编号为 NOPE-404 的案件" in bot.last(COORDINATION).text
    await bot.say(COORDINATOR, COORDINATION, "/status 火星县")
    assert "Traceback" not in bot.last(COORDINATION).text


async def test_extension_request_approved_by_coordinator(bot: Bot) -> None:
    from tests.conftest import COORDINATOR as COORDINATOR_WHO

    await bind_all(bot)
    industry_liaison = (20001, "工信联络员")
    reform_liaison = (20003, "发改联络员")
    ref = await new_case(bot, clause="（四）能耗")
    await bot.deliver()
    for liaison, chat in ((industry_liaison, INDUSTRY), (reform_liaison, REFORM)):
        await bot.press(liaison, bot.last(chat), "受理")
    await bot.deliver()
    card = bot.last(INDUSTRY)
    await bot.press(industry_liaison, card, "责令限期整改")
    await bot.feed(bot.users.document(industry_liaison, INDUSTRY, "order-1", "整改通知.pdf",
                                      "application/pdf"))
    await bot.press(industry_liaison, bot.last(INDUSTRY), "确认")
    await bot.deliver()
    await bot.press(industry_liaison, bot.fake.messages[(INDUSTRY, card.message_id)], "申请延期")
    await bot.press(industry_liaison, bot.last(INDUSTRY), "2")
    await bot.say(industry_liaison, INDUSTRY, "设备改造周期长")
    await bot.press(industry_liaison, bot.last(INDUSTRY), "确认")
    before = (await bot.app.deps.cases.get(ref)).case.deadline
    await bot.deliver()
    notice = bot.last(COORDINATION)
    assert "延期 2 个月" in notice.text and "设备改造周期长" in notice.text
    alert = await bot.press(industry_liaison, notice, "批准")  # not a coordinator
    assert alert["show_alert"]
    await bot.press(COORDINATOR, notice, "批准")
    view = await bot.app.deps.cases.get(ref)
    assert view.case.state == State.RECTIFYING
    assert before is not None and view.case.deadline is not None
    assert (view.case.deadline.year * 12 + view.case.deadline.month) - (
        before.year * 12 + before.month) == 2
    await bot.deliver()
    assert "已批准" in bot.last(INDUSTRY).text
    assert COORDINATOR_WHO.telegram_id == COORDINATOR[0]


async def test_wrong_file_kind_is_explained_and_asked_again(bot: Bot) -> None:
    await bind_all(bot)
    await new_case(bot)
    await bot.deliver()
    card = bot.last(ENVIRONMENT)
    await bot.press(ENV_LIAISON, card, "受理")
    await bot.deliver()
    await bot.press(ENV_LIAISON, bot.fake.messages[(ENVIRONMENT, card.message_id)], "限制生产")
    await bot.feed(bot.users.document(ENV_LIAISON, ENVIRONMENT, "exe-1", "virus.exe",
                                      "application/x-msdownload"))
    assert "不接受" in bot.last(ENVIRONMENT).text
    await bot.feed(bot.users.document(ENV_LIAISON, ENVIRONMENT, "big-1", "big.pdf",
                                      "application/pdf", size=50 * 1024 * 1024))
    assert "文件过大" in bot.last(ENVIRONMENT).text
    dialog = await bot.app.deps.dialogs.current(ENVIRONMENT, ENV_LIAISON[0])
    assert dialog is not None and dialog.step == "evidence" and not dialog.data.get("evidence")


async def test_spreadsheet_import_in_private_chat(bot: Bot) -> None:
    csv = ("ref,county,enterprise,industry,clause,capacity,unit,registered_on,description\n"
           "S-1,奇台县,奇台测试煤矿,coal,九,45,万吨/年,2026-03-01,关停退出\n").encode()
    bot.fake.files["sheet-1"] = csv
    await bot.feed(bot.users.document(COORDINATOR, COORDINATOR[0], "sheet-1", "cases.csv",
                                      "text/csv"))
    assert "新导入 1 件案件" in bot.last(COORDINATOR[0]).text
    bad = csv.replace(b"2026-03-01", b"2099-01-01").replace(b"S-1", b"S-2")
    bot.fake.files["sheet-2"] = bad
    await bot.feed(bot.users.document(COORDINATOR, COORDINATOR[0], "sheet-2", "cases.csv",
                                      "text/csv"))
    assert "未导入任何案件" in bot.last(COORDINATOR[0]).text
    assert [c.ref for c in await bot.app.deps.cases.find()] == ["S-1"]
    # A liaison's spreadsheet is not an import.
    await bot.feed(bot.users.document(ENV_LIAISON, ENV_LIAISON[0], "sheet-1", "cases.csv",
                                      "text/csv"))
    assert [c.ref for c in await bot.app.deps.cases.find()] == ["S-1"]


async def test_retry_after_is_waited_out_and_nothing_is_dropped(bot: Bot) -> None:
    await bind_all(bot)
    await new_case(bot)
    throttled = {"left": 2}
    original = bot.fake._sendMessage

    def flaky(params: dict[str, Any]) -> dict[str, Any]:
        if throttled["left"] > 0:
            throttled["left"] -= 1
            raise _RetryAfter
        return original(params)

    bot.fake._sendMessage = flaky  # type: ignore[method-assign]
    bot.fake.do_request = _with_retry_after(bot.fake.do_request)  # type: ignore[method-assign]
    await bot.deliver()
    cards = [m for m in bot.fake.in_chat(ENVIRONMENT) if "【督办" in m.text]
    assert len(cards) == 1
    assert throttled["left"] == 0


class _RetryAfter(Exception):
    pass


def _with_retry_after(do_request: Any) -> Any:
    import json

    async def wrapped(url: str, method: str, request_data: Any = None, **kwargs: Any) -> Any:
        try:
            return await do_request(url, method, request_data, **kwargs)
        except _RetryAfter:
            return 429, json.dumps({"ok": False, "error_code": 429,
                                    "description": "Too Many Requests: retry after 0",
                                    "parameters": {"retry_after": 0}}).encode()

    return wrapped


async def test_status_sends_a_chart_and_report_sends_the_county_files(bot: Bot) -> None:
    await bind_all(bot)
    await new_case(bot)
    await bot.say(COORDINATOR, COORDINATION, "/status 玛纳斯县")
    photos = bot.fake.called("sendPhoto")
    assert photos and photos[-1]["chat_id"] == COORDINATION
    await bot.say(COORDINATOR, COORDINATION, "/report 玛纳斯 2026")
    names = [c["caption"].split("：")[0] for c in bot.fake.called("sendDocument")]
    assert any(n.endswith(".xlsx") for n in names) and any(n.endswith(".docx") for n in names)
    await bot.say(COORDINATOR, COORDINATION, "/report 火星县 2026")
    assert "火星县" in bot.last(COORDINATION).text
