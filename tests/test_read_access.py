"""Who may read what (issue 11, item 5): the access rules, and the same rules through the bot.

The table test drives the real Application (tests/bot_harness.py): each reader, in a private,
a bound or an unbound chat, asks ``/case`` for four cases (two counties × two departments),
``/overdue``, ``/status``, ``/status COUNTY`` and ``/report COUNTY``, and gets either the
answer or the refusal that names whom to ask.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from bot.core.casefile import CaseInput
from bot.core.i18n import DubanError, get_translator
from bot.services import access
from bot.services.access import Reader, Room, Scope, Who
from tests.bot_harness import Bot
from tests.conftest import COORDINATOR as COORDINATOR_WHO

COMMISSION = "昌州经信委"
PREFECTURE = "昌州"
MANAS_COUNTY, CHANGJI_CITY = "玛纳斯县", "昌吉市"

COORDINATION, INDUSTRY, MANAS, UNBOUND = -1001, -1003, -1005, -1099
COORDINATOR = (10001, "王玮中")
INDUSTRY_LIAISON = (20001, "张明")  # department = industry in the demo organisation
MANAS_LIAISON = (30001, "马晓燕")  # region = 玛纳斯县
OUTSIDER = (55555, "路人")

# Clause 四 goes to industry and development & reform, clause 六 to quality; registered in
# October 2025, all four are overdue on the test clock's 1 June 2026.
MANAS_4, MANAS_6, CHANGJI_4, CHANGJI_6 = "MANAS-4", "MANAS-6", "CHANGJI-4", "CHANGJI-6"
CASES = ((MANAS_4, MANAS_COUNTY, "四"), (MANAS_6, MANAS_COUNTY, "六"),
         (CHANGJI_4, CHANGJI_CITY, "四"), (CHANGJI_6, CHANGJI_CITY, "六"))
ALL = frozenset(ref for ref, _, _ in CASES)
INDUSTRY_CASES = frozenset({MANAS_4, CHANGJI_4})
MANAS_CASES = frozenset({MANAS_4, MANAS_6})

ZH = get_translator("zh")


def refusal(message: str, **params: str) -> str:
    return DubanError(message, commission=COMMISSION, **params).render(ZH)


NOT_VISIBLE = refusal(access.NOT_VISIBLE)
PREFECTURE_REFUSED = refusal(access.PREFECTURE_NOT_VISIBLE)


def region_refused(region: str) -> str:
    return refusal(access.REGION_NOT_VISIBLE, region=region)


# -- the table: what each reader may read -------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    user: tuple[int, str]
    chat: int | None  # None: the reader's private chat
    cases: frozenset[str]  # the cases /case shows
    overdue: frozenset[str] | None  # what /overdue lists; None: refused
    status: str | None  # the place /status shows; None: refused
    regions: frozenset[str]  # the counties /status COUNTY and /report COUNTY are given for

    @property
    def where(self) -> int:
        return self.chat if self.chat is not None else self.user[0]

    @property
    def reads_nothing(self) -> bool:
        return not self.cases


BOTH_COUNTIES = frozenset({MANAS_COUNTY, CHANGJI_CITY})
# (cases, overdue, status, regions)
EVERYTHING = (ALL, ALL, PREFECTURE, BOTH_COUNTIES)
NOTHING: tuple[frozenset[str], None, None, frozenset[str]] = (
    frozenset(), None, None, frozenset())
AS_INDUSTRY = (INDUSTRY_CASES, INDUSTRY_CASES, None, frozenset[str]())
AS_MANAS = (MANAS_CASES, MANAS_CASES, MANAS_COUNTY, frozenset({MANAS_COUNTY}))

TABLE = {
    "coordinator in private": Expect(COORDINATOR, None, *EVERYTHING),
    # in a department's room /overdue lists the department's cases, for coordinators too
    "coordinator in the department group": Expect(COORDINATOR, INDUSTRY, ALL, INDUSTRY_CASES,
                                                  PREFECTURE, BOTH_COUNTIES),
    "department liaison in private": Expect(INDUSTRY_LIAISON, None, *AS_INDUSTRY),
    "county liaison in private": Expect(MANAS_LIAISON, None, *AS_MANAS),
    "outsider in private": Expect(OUTSIDER, None, *NOTHING),
    "outsider in the department group": Expect(OUTSIDER, INDUSTRY, *AS_INDUSTRY),
    "outsider in the county group": Expect(OUTSIDER, MANAS, *AS_MANAS),
    "outsider in the coordination group": Expect(OUTSIDER, COORDINATION, *EVERYTHING),
    "outsider in an unbound group": Expect(OUTSIDER, UNBOUND, *NOTHING),
    # their own department's cases anywhere, and the room's county's
    "department liaison in the county group": Expect(
        INDUSTRY_LIAISON, MANAS, INDUSTRY_CASES | MANAS_CASES, MANAS_CASES, MANAS_COUNTY,
        frozenset({MANAS_COUNTY})),
    "county liaison in an unbound group": Expect(MANAS_LIAISON, UNBOUND, *AS_MANAS),
}


async def prepare(bot: Bot) -> None:
    for chat, target in ((COORDINATION, "coordination"), (INDUSTRY, "工信"), (MANAS, "玛纳斯")):
        await bot.say(COORDINATOR, chat, f"/bind {target}")
        assert "绑定" in bot.last(chat).text, bot.last(chat).text
    for ref, region, clause in CASES:
        await bot.app.deps.cases.create_case(CaseInput(
            ref=ref, region=region, enterprise=f"{region}{ref}测试有限公司", industry="cement",
            clauses=(clause,), capacity=Decimal(60), unit="万吨/年", equipment=None,
            registered_on=date(2025, 10, 1), description="测试", row=1), COORDINATOR_WHO)


async def ask(bot: Bot, user: tuple[int, str], chat: int, text: str) -> list[str]:
    """Everything the bot answered in ``chat`` to ``text``."""
    before = {m.message_id for m in bot.fake.in_chat(chat)}
    await bot.say(user, chat, text)
    return [m.text for m in bot.fake.in_chat(chat) if m.message_id not in before]


def refs_in(texts: list[str]) -> frozenset[str]:
    return frozenset(ref for ref in ALL if any(ref in text for text in texts))


@pytest.mark.parametrize("role", list(TABLE))
async def test_who_reads_what_through_the_bot(bot: Bot, role: str) -> None:
    expect = TABLE[role]
    await prepare(bot)
    user, chat = expect.user, expect.where
    wrong: list[str] = []

    def check(command: str, answer: list[str], allowed: bool, refused_with: str,
              shown: str) -> None:
        if allowed and not any(shown in text for text in answer):
            wrong.append(f"{command}: expected {shown!r}, got {answer}")
        if not allowed and answer != [refused_with]:
            wrong.append(f"{command}: expected the refusal {refused_with!r}, got {answer}")

    for ref in sorted(ALL):
        answer = await ask(bot, user, chat, f"/case {ref}")
        check(f"/case {ref}", answer, ref in expect.cases, NOT_VISIBLE, f"{ref}测试有限公司")
        if ref not in expect.cases and any("测试有限公司" in text for text in answer):
            wrong.append(f"/case {ref}: the refusal shows the case")

    answer = await ask(bot, user, chat, "/overdue")
    if expect.overdue is None:
        check("/overdue", answer, False, NOT_VISIBLE, "")
    elif refs_in(answer) != expect.overdue:
        wrong.append(f"/overdue: expected {sorted(expect.overdue)}, got {answer}")

    answer = await ask(bot, user, chat, "/status")
    check("/status", answer, expect.status is not None,
          NOT_VISIBLE if expect.reads_nothing else PREFECTURE_REFUSED,
          f"📊 {expect.status}\n")

    for region in (MANAS_COUNTY, CHANGJI_CITY):
        refused = NOT_VISIBLE if expect.reads_nothing else region_refused(region)
        answer = await ask(bot, user, chat, f"/status {region}")
        check(f"/status {region}", answer, region in expect.regions, refused,
              f"📊 {region}\n")
        answer = await ask(bot, user, chat, f"/report {region} 2026")
        check(f"/report {region}", answer, region in expect.regions, refused, ".xlsx")
        if region not in expect.regions and any(".docx" in text for text in answer):
            wrong.append(f"/report {region}: a file was sent")

    assert not wrong, f"{role}:\n" + "\n".join(wrong)


async def test_outsiders_learn_nothing_and_public_lists_stay_public(bot: Bot) -> None:
    await prepare(bot)
    private = OUTSIDER[0]
    # No oracle: an unknown reference is refused like a known one.
    assert await ask(bot, OUTSIDER, private, "/case NOPE-404") == [NOT_VISIBLE]
    assert await ask(bot, OUTSIDER, private, "/report") == [NOT_VISIBLE]
    # The refusal names whom to ask, in English as well.
    await bot.say(OUTSIDER, private, "/lang en")
    answer = await ask(bot, OUTSIDER, private, f"/case {MANAS_4}")
    assert answer == [DubanError(access.NOT_VISIBLE, commission=COMMISSION).render(
        get_translator("en"))]
    assert COMMISSION in answer[0]
    # The published lists and the duties overview are public.
    await bot.say(OUTSIDER, private, "/lang zh")
    for command in ("/lists 黄牌", "/lists 超标排放", "/lists serious", "/duties 2026"):
        answer = await ask(bot, OUTSIDER, private, command)
        assert answer and COMMISSION not in answer[0], (command, answer)
    # A liaison asking for a case that does not exist is told so.
    answer = await ask(bot, INDUSTRY_LIAISON, INDUSTRY_LIAISON[0], "/case NOPE-404")
    assert "NOPE-404" in answer[0]


# -- the rules themselves ---------------------------------------------------------------------

COORD = Who(role="coordinator", name="协调员", telegram_id=1)
CONSOLE = Who(role="console", name="console")
IND = Who(role="liaison", name="工信", telegram_id=2, department="industry")
MAN = Who(role="liaison", name="玛纳斯", telegram_id=3, region=MANAS_COUNTY)
NOBODY = Who(role="outsider", name="路人", telegram_id=4)
IND_ROOM = Room("department", department="industry")
MAN_ROOM = Room("region", region=MANAS_COUNTY)
COORD_ROOM = Room("coordination")


@pytest.mark.parametrize(("reader", "region", "departments", "allowed"), [
    (COORD, CHANGJI_CITY, ["quality"], True),
    (CONSOLE, CHANGJI_CITY, [], True),
    (IND, CHANGJI_CITY, ["quality", "industry"], True),
    (IND, MANAS_COUNTY, ["quality"], False),
    (IND, MANAS_COUNTY, [None], False),  # a group not yet resolved is nobody's
    (MAN, MANAS_COUNTY, [], True),
    (MAN, CHANGJI_CITY, ["industry"], False),
    (NOBODY, MANAS_COUNTY, ["industry"], False),
    (Reader(NOBODY, IND_ROOM), CHANGJI_CITY, ["industry"], True),
    (Reader(NOBODY, IND_ROOM), CHANGJI_CITY, ["quality"], False),
    (Reader(NOBODY, MAN_ROOM), MANAS_COUNTY, [], True),
    (Reader(NOBODY, COORD_ROOM), CHANGJI_CITY, [], True),
    (Reader(IND, MAN_ROOM), CHANGJI_CITY, ["industry"], True),  # own department, any room
    (Reader(IND, MAN_ROOM), MANAS_COUNTY, ["quality"], True),  # the room's county
    (Reader(NOBODY, None), MANAS_COUNTY, [], False),
])
def test_may_read_case(reader: Who | Reader, region: str, departments: list[str | None],
                       allowed: bool) -> None:
    assert access.may_read_case(reader, region, departments) is allowed
    if allowed:
        access.require_case_reader(reader, region, departments, commission=COMMISSION)
    else:
        with pytest.raises(DubanError) as refused:
            access.require_case_reader(reader, region, departments, commission=COMMISSION)
        assert refused.value.message == access.NOT_VISIBLE
        assert refused.value.params == {"commission": COMMISSION}


def test_regions_and_parties() -> None:
    assert access.may_read_region(COORD, CHANGJI_CITY)
    assert access.may_read_region(MAN, MANAS_COUNTY)
    assert not access.may_read_region(MAN, CHANGJI_CITY)
    assert not access.may_read_region(IND, MANAS_COUNTY)
    assert access.may_read_region(Reader(NOBODY, MAN_ROOM), MANAS_COUNTY)
    assert not access.may_read_region(Reader(NOBODY, IND_ROOM), MANAS_COUNTY)
    with pytest.raises(DubanError) as refused:
        access.require_region_reader(IND, MANAS_COUNTY, commission=COMMISSION)
    assert refused.value.message == access.REGION_NOT_VISIBLE
    with pytest.raises(DubanError) as refused:  # nothing at all to read: the general refusal
        access.require_region_reader(NOBODY, MANAS_COUNTY, commission=COMMISSION)
    assert refused.value.message == access.NOT_VISIBLE

    assert access.may_read_party(IND, department="industry")
    assert not access.may_read_party(IND, department="quality")
    assert not access.may_read_party(IND, region=MANAS_COUNTY)
    assert access.may_read_party(MAN, region=MANAS_COUNTY)
    assert access.may_read_party(COORD, department="quality")
    assert not access.may_read_party(NOBODY)
    with pytest.raises(DubanError):
        access.require_party_reader(MAN, commission=COMMISSION, department="industry")


def test_a_person_outside_the_liaison_role_gets_nothing_from_stray_fields() -> None:
    stray = Who(role="outsider", name="?", department="industry", region=MANAS_COUNTY)
    assert not access.may_read_case(stray, MANAS_COUNTY, ["industry"])
    assert not Reader(stray).reads_anything


def test_status_place() -> None:
    assert access.status_place(COORD, commission=COMMISSION) is None
    assert access.status_place(Reader(NOBODY, COORD_ROOM), commission=COMMISSION) is None
    assert access.status_place(Reader(COORD, MAN_ROOM), commission=COMMISSION) is None
    assert access.status_place(MAN, commission=COMMISSION) == MANAS_COUNTY
    assert access.status_place(Reader(NOBODY, MAN_ROOM), commission=COMMISSION) == MANAS_COUNTY
    assert access.status_place(Reader(IND, MAN_ROOM), commission=COMMISSION) == MANAS_COUNTY
    for reader, message in ((IND, access.PREFECTURE_NOT_VISIBLE),
                            (Reader(NOBODY, IND_ROOM), access.PREFECTURE_NOT_VISIBLE),
                            (NOBODY, access.NOT_VISIBLE)):
        with pytest.raises(DubanError) as refused:
            access.status_place(reader, commission=COMMISSION)
        assert refused.value.message == message, reader


def test_overdue_scope() -> None:
    assert access.overdue_scope(COORD, commission=COMMISSION) == Scope()
    assert access.overdue_scope(Reader(NOBODY, COORD_ROOM), commission=COMMISSION) == Scope()
    assert access.overdue_scope(Reader(COORD, IND_ROOM), commission=COMMISSION) == Scope(
        department="industry")
    assert access.overdue_scope(IND, commission=COMMISSION) == Scope(department="industry")
    assert access.overdue_scope(MAN, commission=COMMISSION) == Scope(region=MANAS_COUNTY)
    assert access.overdue_scope(Reader(IND, MAN_ROOM), commission=COMMISSION) == Scope(
        region=MANAS_COUNTY)
    assert access.overdue_scope(Reader(NOBODY, IND_ROOM), commission=COMMISSION) == Scope(
        department="industry")
    with pytest.raises(DubanError) as refused:
        access.overdue_scope(NOBODY, commission=COMMISSION)
    assert refused.value.message == access.NOT_VISIBLE
    with pytest.raises(DubanError):
        access.require_reader(Reader(NOBODY, None), commission=COMMISSION)
    access.require_reader(Reader(NOBODY, IND_ROOM), commission=COMMISSION)
