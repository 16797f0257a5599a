"""Odd command arguments (what the chat fuzzer sends, bench/trials/fuzz_chat.py) are usage
errors a person can act on, never an exception: the parsers of bot/core/commands.py, then the
same through the real Application on both back-ends."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from bot.core import commands as parse
from bot.core.i18n import DubanError, get_translator
from bot.render import texts
from tests.bot_harness import Bot

TZ = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 12, 1)
NOT_NUMBERS = ["²", "³⁴", "99999999999999999999", "-1", "0", "", "1.5", "0x10", "1e3",
               "2147483648", "\x00", "1\x00"]


@pytest.mark.parametrize("text", NOT_NUMBERS)
def test_a_number_is_ascii_digits_of_a_sensible_size(text: str) -> None:
    with pytest.raises(DubanError) as info:
        parse.parse_number(text, parse.SUMMONS_USAGE)
    assert info.value.message == parse.SUMMONS_USAGE


@pytest.mark.parametrize("text", ["²", "99999999999999999999", "2026-²", "约谈〔2026〕²号",
                                  "2026-99999999999", "99999-1", "-3", "\x00"])
def test_a_summons_number(text: str) -> None:
    with pytest.raises(DubanError):
        parse.parse_summons_number(text, parse.SUMMONS_USAGE)


@pytest.mark.parametrize("args", [
    ["²", "2027-01-05", "10:00"], ["99999999999999999999", "2027-01-05", "10:00"],
    ["1", "2027-02-30", "10:00"], ["1", "2027-01-05", "25:61"], ["1", "2027-01-05"],
    ["1", "2027-01-05", "10:00+08:00"], ["1", "\x00", "2027-01-05", "10:00\x00x"],
])
def test_reschedule_refuses_odd_numbers_dates_and_times(args: list[str]) -> None:
    with pytest.raises(DubanError) as info:
        parse.parse_reschedule(args, TZ)
    assert info.value.message == parse.RESCHEDULE_USAGE


@pytest.mark.parametrize("args", [["玛纳斯县", "²"], ["玛纳斯县", "99999999999999999999"],
                                  [], ["\x00"], ["玛纳斯县", "-2026"]])
def test_report_refuses_odd_years(args: list[str]) -> None:
    with pytest.raises(DubanError) as info:
        parse.parse_report(args, TODAY)
    assert info.value.message == parse.REPORT_USAGE


@pytest.mark.parametrize("text", ["²", "99999999999999999999", "1999", "2101", "-2026"])
def test_a_year(text: str) -> None:
    with pytest.raises(DubanError):
        parse.parse_year(text, TODAY, parse.DUTIES_USAGE)


def test_control_characters_are_dropped_from_what_people_type() -> None:
    """PostgreSQL cannot store NUL in a text; no one types the other controls either."""
    assert parse.words(" \x00CZ-2026-\x1b001\x7f ") == "CZ-2026-001"
    assert parse.words("第一行\n\t第二行") == "第一行\n\t第二行"
    control = parse.parse_control(["CZ-2026-001", "\x00", "整改\x00中"], with_step=False)
    assert control == parse.Control("CZ-2026-001", "整改中")
    with pytest.raises(DubanError):
        parse.parse_control(["CZ-2026-001", "\x00"], with_step=False)
    wanted = parse.parse_reschedule(["1", "2027-01-05", "10:00", "\x00会议室"], TZ)
    assert wanted.place == "会议室"


ODD_COMMANDS = [
    "/report 玛纳斯县 ²", "/summons ²", "/outcome ²", "/reschedule ² 2027-01-05 10:00",
    "/summons 99999999999999999999", "/outcome 99999999999999999999",
    "/reschedule 99999999999999999999 2027-02-30 10:00", "/duties 99999999999999999999",
    "/report 玛纳斯县 99999999999999999999", "/policy ²", "/policy 99999999999999999999",
    "/join \x00", "/case \x00", "/pause CZ-2026-001 \x00", "/skip CZ-2026-001 T-7 \x00原因",
    "/status \x00", "/bind \x00", "/lang \x00", "/lists ²",
]


@pytest.mark.parametrize("text", ODD_COMMANDS)
async def test_odd_arguments_through_the_application(bot: Bot, text: str) -> None:
    coordinator = (10001, "王玮中")
    await bot.say(coordinator, coordinator[0], text)
    answer = bot.last(coordinator[0]).text
    failed = get_translator("zh_CN").gettext(texts.FAILED)
    assert answer != failed, f"{text!r} crashed the handler"
