"""``/case 宏达``: cases found by their enterprise's name (part of it, its pinyin, a near miss),
among the cases the reader may read; one is shown, several are offered as buttons."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from bot.core.casefile import CaseInput
from bot.core.i18n import DubanError, get_translator
from bot.core.matching import search_names
from bot.render import search
from bot.services import access
from bot.services.access import Reader, Room, Who
from tests.bot_harness import Bot
from tests.conftest import COORDINATOR as COORDINATOR_WHO

ZH = get_translator("zh_CN")
COORDINATION, INDUSTRY, UNBOUND = -1001, -1003, -1099
COORDINATOR = (10001, "王玮中")
INDUSTRY_LIAISON = (20001, "张明")  # department = industry in the demo organisation
MANAS_LIAISON = (30001, "马晓燕")  # region = 玛纳斯县
OUTSIDER = (55555, "路人")

# Clause 四 goes to industry (and development & reform), clause 六 to quality; registered a
# day apart, in this order (the order results come in).
CASES = (
    ("MANAS-H1", "玛纳斯县", "玛纳斯县宏达水泥有限公司", "四"),
    ("CHANGJI-H2", "昌吉市", "昌吉市宏达钢铁有限公司", "四"),
    ("MANAS-T3", "玛纳斯县", "玛纳斯县天山铝业有限公司", "六"),
    ("CHANGJI-H4", "昌吉市", "昌吉市鸿达煤业有限公司", "六"),
)


async def prepare(bot: Bot) -> None:
    for chat, target in ((COORDINATION, "coordination"), (INDUSTRY, "工信")):
        await bot.say(COORDINATOR, chat, f"/bind {target}")
    for day, (ref, region, enterprise, clause) in enumerate(CASES, start=1):
        await bot.app.deps.cases.create_case(CaseInput(
            ref=ref, region=region, enterprise=enterprise, industry="cement",
            clauses=(clause,), capacity=Decimal(60), unit="万吨/年", equipment=None,
            registered_on=date(2026, 3, day), description="测试", row=1), COORDINATOR_WHO)


async def ask(bot: Bot, user: tuple[int, str], chat: int, text: str) -> list[str]:
    before = {m.message_id for m in bot.fake.in_chat(chat)}
    await bot.say(user, chat, text)
    return [m.text for m in bot.fake.in_chat(chat) if m.message_id not in before]


def shown_case(answer: list[str], ref: str) -> bool:
    """The answer is the case in full (not a list of matches)."""
    return len(answer) == 1 and answer[0].startswith(
        ZH.gettext("Case {ref}: {enterprise}", ref=ref, enterprise="")) and (
        ZH.gettext("Timeline:") in answer[0])


async def commission(bot: Bot) -> str:
    return (await bot.app.deps.org()).prefecture.commission


async def test_several_matches_are_offered_as_buttons_that_show_the_case(bot: Bot) -> None:
    await prepare(bot)
    private = COORDINATOR[0]
    await bot.say(COORDINATOR, private, "/case 宏达")
    offer = bot.last(private)
    assert "MANAS-H1" in offer.text and "CHANGJI-H2" in offer.text
    assert "CHANGJI-H4" not in offer.text  # 鸿达 only sounds the same: the letters win
    assert [label for label, _ in offer.buttons()] == [
        "MANAS-H1 · 玛纳斯县宏达水泥有限公司", "CHANGJI-H2 · 昌吉市宏达钢铁有限公司"]
    await bot.press(COORDINATOR, offer, "CHANGJI-H2")
    assert shown_case([bot.last(private).text], "CHANGJI-H2")
    assert "昌吉市宏达钢铁有限公司" in bot.last(private).text

    # Pinyin finds what sounds the same, 鸿达 as well.
    await bot.say(COORDINATOR, private, "/case hongda")
    labels = [label.split(" ")[0] for label, _ in bot.last(private).buttons()]
    assert labels == ["MANAS-H1", "CHANGJI-H2", "CHANGJI-H4"]


async def test_one_match_is_shown_and_none_is_said(bot: Bot) -> None:
    await prepare(bot)
    private = COORDINATOR[0]
    assert shown_case(await ask(bot, COORDINATOR, private, "/case 天山"), "MANAS-T3")
    assert shown_case(await ask(bot, COORDINATOR, private, "/case tianshan lvye"), "MANAS-T3")
    assert shown_case(await ask(bot, COORDINATOR, private, "/case manas-t3"), "MANAS-T3")
    assert await ask(bot, COORDINATOR, private, "/case 火星钢铁") == [
        DubanError(search.NO_CASE_FOUND, query="火星钢铁").render(ZH)]
    # An unknown reference is still answered as a reference.
    answer = await ask(bot, COORDINATOR, private, "/case NOPE-404")
    assert answer == [DubanError("No case with reference {ref}.", ref="NOPE-404").render(ZH)]


async def test_a_search_finds_only_the_cases_the_reader_may_read(bot: Bot) -> None:
    await prepare(bot)
    # 玛纳斯县's liaison reads their county's cases: one 宏达, shown at once.
    manas = MANAS_LIAISON[0]
    assert shown_case(await ask(bot, MANAS_LIAISON, manas, "/case 宏达"), "MANAS-H1")
    # Another county's enterprise is not found (and not refused: nothing is given away).
    assert await ask(bot, MANAS_LIAISON, manas, "/case 昌吉市宏达") == [
        DubanError(search.NO_CASE_FOUND, query="昌吉市宏达").render(ZH)]
    # The industry liaison reads the clause 四 cases of both counties.
    await bot.say(INDUSTRY_LIAISON, INDUSTRY_LIAISON[0], "/case 达")
    labels = [label.split(" ")[0] for label, _ in bot.last(INDUSTRY_LIAISON[0]).buttons()]
    assert labels == ["MANAS-H1", "CHANGJI-H2"]
    # An outsider in a private chat is refused before anything is looked up.
    refused = DubanError(access.NOT_VISIBLE, commission=await commission(bot)).render(ZH)
    assert await ask(bot, OUTSIDER, OUTSIDER[0], "/case 宏达") == [refused]


async def test_an_outsider_cannot_press_a_found_case(bot: Bot) -> None:
    await prepare(bot)
    await bot.say(COORDINATOR, UNBOUND, "/case 宏达")
    offer = bot.last(UNBOUND)
    alert = await bot.press(OUTSIDER, offer, "MANAS-H1")
    assert alert["show_alert"]
    assert alert["text"] == DubanError(access.NOT_VISIBLE,
                                       commission=await commission(bot)).render(ZH)
    assert bot.last(UNBOUND).message_id == offer.message_id  # nothing else was sent


async def test_the_service_limits_and_orders(bot: Bot) -> None:
    await prepare(bot)
    cases = bot.app.deps.cases
    everyone = Reader(Who(role="coordinator", name="c", telegram_id=1))
    assert [c.ref for c in await cases.search("有限公司", everyone)] == [
        "MANAS-H1", "CHANGJI-H2", "MANAS-T3", "CHANGJI-H4"]
    quality_room = Reader(Who(role="outsider", telegram_id=9),
                          Room("department", department="quality"))
    assert [c.ref for c in await cases.search("有限公司", quality_room)] == [
        "MANAS-T3", "CHANGJI-H4"]
    assert await cases.search("有限公司", Who(role="outsider", telegram_id=9)) == []
    found = await cases.search("有限公司", everyone)
    reply = search.search_reply(found * 3, "有限公司", ZH, bot.app.deps.codec, 1)
    assert len(reply.buttons) == search.MAX_RESULTS
    assert ZH.gettext(search.TOO_MANY, shown=search.MAX_RESULTS) in reply.text


def test_search_names_is_forgiving_but_not_loose() -> None:
    names = ["玛纳斯县宏达水泥有限公司", "昌吉市宏达钢铁有限公司", "呼图壁县鸿达煤业",
             "准东天山铝业"]
    assert search_names("宏达", names) == tuple(names[:2])
    assert search_names("hongda", names) == tuple(names[:3])
    assert search_names("Hong Da", names) == tuple(names[:3])
    assert search_names("红达", names) == tuple(names[:3])  # the same sound
    assert search_names("hdsn", names) == (names[0],)  # initials
    assert search_names("宏大水泥", names) == (names[0],)  # a near miss
    assert search_names("tianshan", names) == (names[3],)
    assert search_names("县", names) == ()  # a bare suffix names nothing
    assert search_names("z", names) == ()
    assert search_names("", names) == ()
    assert search_names("火星", names) == ()
