"""The working-day calendar and office hours: 2026's holidays and 调休, overrides, fallback."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.i18n import DubanError, get_translator
from scheduler.workdays import (
    DayOverride,
    OverrideError,
    Overrides,
    WorkCalendar,
    in_office_hours,
    load_overrides,
    next_send_time,
    parse_overrides,
    uncovered_year_key,
)

TZ = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()
HOURS = (time(9, 0), time(17, 30))
# A year chinesecalendar will not know for a long time.
FAR_YEAR = 2031


def d(text: str) -> date:
    return date.fromisoformat(text)


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


# --- the 2026 calendar --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working", "why"),
    [
        ("2026-01-01", False, "New Year's Day"),
        ("2026-01-02", False, "New Year holiday (Friday)"),
        ("2026-01-04", True, "Sunday worked for New Year (调休)"),
        ("2026-02-13", True, "Friday before the Spring Festival"),
        ("2026-02-14", True, "Saturday worked for the Spring Festival (调休)"),
        ("2026-02-15", False, "Spring Festival holiday starts"),
        ("2026-02-17", False, "Chinese New Year's Day"),
        ("2026-02-23", False, "Spring Festival holiday, Monday"),
        ("2026-02-24", True, "first day back"),
        ("2026-02-28", True, "second Saturday worked for the Spring Festival"),
        ("2026-03-01", False, "an ordinary Sunday"),
        ("2026-03-31", True, "work plan deadline, a Tuesday"),
        ("2026-04-06", False, "Qingming, Monday"),
        ("2026-05-05", False, "Labour Day holiday, Tuesday"),
        ("2026-05-09", True, "Saturday worked for Labour Day"),
        ("2026-09-20", True, "Sunday worked for National Day (调休)"),
        ("2026-09-25", False, "Mid-Autumn Festival, Friday"),
        ("2026-09-26", False, "Mid-Autumn holiday, Saturday"),
        ("2026-10-01", False, "National Day"),
        ("2026-10-07", False, "last day of the National Day holiday (Wednesday)"),
        ("2026-10-08", True, "first day back, Thursday"),
        ("2026-10-10", True, "Saturday worked for National Day (调休)"),
        ("2026-10-11", False, "an ordinary Sunday"),
        ("2026-11-30", True, "county report deadline, a Monday"),
        ("2026-12-31", True, "department letter deadline, a Thursday"),
    ],
)
def test_2026_working_days(day: str, working: bool, why: str) -> None:
    assert CAL.is_working_day(d(day)) is working, why


def test_2026_is_covered_and_far_year_is_not() -> None:
    assert CAL.is_covered(2026)
    assert CAL.is_covered(2004)
    assert not CAL.is_covered(FAR_YEAR)
    assert CAL.uncovered_years([2026, FAR_YEAR, 2025, FAR_YEAR, 2040]) == (FAR_YEAR, 2040)
    assert CAL.uncovered_years([]) == ()
    assert uncovered_year_key(FAR_YEAR) == f"calendar:uncovered:{FAR_YEAR}"


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (f"{FAR_YEAR}-01-01", False),  # New Year's Day: statutory, from the holidays package
        (f"{FAR_YEAR}-01-03", True),  # Friday
        (f"{FAR_YEAR}-01-04", False),  # Saturday
        (f"{FAR_YEAR}-01-05", False),  # Sunday
        (f"{FAR_YEAR}-10-01", False),  # Wednesday, but National Day
        (f"{FAR_YEAR}-10-08", True),  # the Wednesday after: no 调休 known, a working day
    ],
)
def test_uncovered_year_falls_back_to_statutory_holidays_and_weekends(day: str,
                                                                      working: bool) -> None:
    assert CAL.is_working_day(d(day)) is working


def test_library_years_simulates_an_older_library() -> None:
    old = WorkCalendar(library_years=range(2004, 2026))
    assert not old.is_covered(2026)
    assert old.uncovered_years([2025, 2026]) == (2026,)
    assert not old.is_working_day(d("2026-02-16"))  # 除夕: statutory, from the holidays package
    assert not old.is_working_day(d("2026-02-14"))  # the 调休 Saturday is unknown
    assert old.is_working_day(d("2026-02-24"))  # an ordinary Tuesday after the festival


def test_override_file_can_declare_a_year_covered() -> None:
    cal = WorkCalendar(Overrides(covered_years=frozenset({FAR_YEAR})))
    assert cal.is_covered(FAR_YEAR)
    assert cal.uncovered_years([FAR_YEAR, FAR_YEAR + 1]) == (FAR_YEAR + 1,)
    assert WorkCalendar(covered_years=[FAR_YEAR]).is_covered(FAR_YEAR)


# --- overrides --------------------------------------------------------------------------------


def test_overrides_add_and_remove_days() -> None:
    cal = WorkCalendar([
        DayOverride(d("2026-10-09"), False, "local holiday"),
        DayOverride(d("2026-10-11"), True, "extra make-up Sunday"),
        DayOverride(d(f"{FAR_YEAR}-01-01"), False, "New Year"),
    ])
    assert not cal.is_working_day(d("2026-10-09"))
    assert cal.is_working_day(d("2026-10-11"))
    assert not cal.is_working_day(d(f"{FAR_YEAR}-01-01"))
    assert cal.next_working_day(d("2026-10-09")) == d("2026-10-10")
    assert cal.overrides[d("2026-10-11")] is True
    # A mapping works as well.
    assert not WorkCalendar({d("2026-03-31"): False}).is_working_day(d("2026-03-31"))


def test_a_calendar_without_working_days_gives_a_clear_error() -> None:
    start = d("2026-01-01")
    cal = WorkCalendar({start + timedelta(days=i): False for i in range(800)})
    with pytest.raises(DubanError, match="No working day within"):
        cal.next_working_day(start)


GOOD_FILE = """
covered_years = [2031]

[[days]]
date = 2026-10-09
working = false
note = "市政府通知：国庆节后补休"

[[days]]
date = "2026年10月11日"
working = true
"""


def test_load_overrides(tmp_path: Path) -> None:
    path = tmp_path / "holidays.toml"
    path.write_text(GOOD_FILE, encoding="utf-8")
    overrides = load_overrides(path)
    assert overrides.covered_years == frozenset({2031})
    assert overrides.days == (
        DayOverride(d("2026-10-09"), False, "市政府通知：国庆节后补休"),
        DayOverride(d("2026-10-11"), True, ""),
    )
    cal = WorkCalendar(overrides)
    assert not cal.is_working_day(d("2026-10-09"))
    assert cal.is_working_day(d("2026-10-11"))
    assert cal.is_covered(2031)


def test_empty_override_file_is_fine() -> None:
    assert parse_overrides("") == Overrides()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[[days]]\nworking = false\n", "“date” is required"),
        ('[[days]]\ndate = 2026-10-09\n', "“working” is required"),
        ('[[days]]\ndate = 2026-10-09\nworking = "no"\n', "“working” is required"),
        ('[[days]]\ndate = "10/9"\nworking = false\n', "is not a date"),
        ('[[days]]\ndate = "2026-02-30"\nworking = false\n', "is not a date"),
        ("[[days]]\ndate = 2026-10-09T10:00:00\nworking = false\n", "without a time"),
        ("[[days]]\ndate = 20261009\nworking = false\n", "without a time"),
        ('[[days]]\ndate = 2026-10-09\nworking = false\ncolour = "red"\n', "unknown key"),
        ("[[days]]\ndate = 2026-10-09\nworking = false\nnote = 3\n", "must be text"),
        ("[[days]]\ndate = 2026-10-09\nworking = false\n"
         "[[days]]\ndate = 2026-10-09\nworking = true\n", "already listed in days[1]"),
        ('holidays = ["2026-10-09"]\n', "unknown key"),
        ("days = 3\n", "must be a list of tables"),
        ("days = [3]\n", "must be a table"),
        ('covered_years = "2027"\n', "covered_years must be a list"),
        ("covered_years = [27]\n", "covered_years must be a list"),
        ("[[days]\n", "Not valid TOML"),
    ],
)
def test_bad_override_files(text: str, fragment: str) -> None:
    with pytest.raises(OverrideError) as caught:
        parse_overrides(text, source="holidays.toml")
    assert any(fragment in str(p) for p in caught.value.problems), str(caught.value)
    assert "holidays.toml" in str(caught.value)


def test_override_errors_are_collected_and_render() -> None:
    text = "[[days]]\nworking = false\n[[days]]\ndate = 2026-10-09\n"
    with pytest.raises(OverrideError) as caught:
        parse_overrides(text, source="h.toml")
    assert len(caught.value.problems) == 2
    rendered = caught.value.render(get_translator("en"))
    assert rendered.count("\n- ") == 2


def test_missing_override_file(tmp_path: Path) -> None:
    with pytest.raises(DubanError, match="not found"):
        load_overrides(tmp_path / "nope.toml")
    bad = tmp_path / "latin1.toml"
    bad.write_bytes("note = '\xe9'".encode("latin-1"))
    with pytest.raises(DubanError, match="not UTF-8"):
        load_overrides(bad)
    with pytest.raises(DubanError, match="Cannot read the holiday override file") as unreadable:
        load_overrides(tmp_path)  # a folder
    assert unreadable.value.params["path"] == str(tmp_path)


# --- stepping through days ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "inclusive", "previous", "following"),
    [
        ("2026-03-31", True, "2026-03-31", "2026-03-31"),
        ("2026-03-31", False, "2026-03-30", "2026-04-01"),
        ("2026-02-20", True, "2026-02-14", "2026-02-24"),  # inside the Spring Festival
        ("2026-02-24", False, "2026-02-14", "2026-02-25"),
        ("2026-10-03", True, "2026-09-30", "2026-10-08"),  # inside National Day
        ("2026-10-10", False, "2026-10-09", "2026-10-12"),  # from the 调休 Saturday
        ("2026-09-21", False, "2026-09-20", "2026-09-22"),  # back onto the 调休 Sunday
        ("2026-01-01", True, "2025-12-31", "2026-01-04"),
        (f"{FAR_YEAR}-01-04", True, f"{FAR_YEAR}-01-03", f"{FAR_YEAR}-01-06"),
    ],
)
def test_previous_and_next_working_day(
    day: str, inclusive: bool, previous: str, following: str
) -> None:
    assert CAL.previous_working_day(d(day), inclusive=inclusive) == d(previous)
    assert CAL.next_working_day(d(day), inclusive=inclusive) == d(following)


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        ("2026-03-30", 0, "2026-03-30"),
        ("2026-03-28", 0, "2026-03-28"),  # n = 0 leaves even a Saturday alone
        ("2026-03-27", 1, "2026-03-30"),  # Friday + 1 = Monday
        ("2026-03-28", 1, "2026-03-30"),  # Saturday + 1 = Monday
        ("2026-02-13", 1, "2026-02-14"),  # onto the 调休 Saturday
        ("2026-02-13", 2, "2026-02-24"),  # across the Spring Festival
        ("2026-02-13", 5, "2026-02-27"),
        ("2026-09-30", 1, "2026-10-08"),  # across National Day
        ("2026-10-08", 2, "2026-10-10"),  # the 调休 Saturday counts
        ("2026-10-08", 3, "2026-10-12"),
        ("2026-09-18", 1, "2026-09-20"),  # the 调休 Sunday counts
        ("2026-12-30", 1, "2026-12-31"),
        (f"{FAR_YEAR}-01-02", 3, f"{FAR_YEAR}-01-07"),  # weekends only
    ],
)
def test_add_working_days(start: str, n: int, expected: str) -> None:
    assert CAL.add_working_days(d(start), n) == d(expected)
    assert CAL.working_days_between(d(start), d(expected)) == n


def test_add_working_days_refuses_negative() -> None:
    with pytest.raises(ValueError):
        CAL.add_working_days(d("2026-03-30"), -1)


@pytest.mark.parametrize(
    ("a", "b", "count"),
    [
        ("2026-02-13", "2026-02-24", 2),  # 14 Feb (Sat, worked) and 24 Feb
        ("2026-09-30", "2026-10-11", 3),  # 8, 9, 10 Oct
        ("2026-09-19", "2026-09-20", 1),
        ("2026-03-31", "2026-03-31", 0),
        ("2026-10-11", "2026-09-30", -3),
    ],
)
def test_working_days_between(a: str, b: str, count: int) -> None:
    assert CAL.working_days_between(d(a), d(b)) == count


days_2025_2026 = st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 31))


@given(start=days_2025_2026, n=st.integers(min_value=0, max_value=40))
def test_add_and_count_are_inverse(start: date, n: int) -> None:
    end = CAL.add_working_days(start, n)
    assert CAL.working_days_between(start, end) == n
    assert CAL.working_days_between(end, start) == -n
    if n > 0:
        assert CAL.is_working_day(end)
        assert CAL.working_days_between(start, end - timedelta(days=1)) == n - 1


@given(day=days_2025_2026)
def test_previous_and_next_bracket_the_day(day: date) -> None:
    before = CAL.previous_working_day(day)
    after = CAL.next_working_day(day)
    assert before <= day <= after
    assert CAL.is_working_day(before) and CAL.is_working_day(after)
    assert (before == day) == CAL.is_working_day(day) == (after == day)
    assert CAL.working_days_between(before, after) == (0 if before == after else 1)


# --- office hours -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-03-31 10:00", "2026-03-31 10:00"),  # inside: now itself
        ("2026-03-31 09:00", "2026-03-31 09:00"),  # opening minute is inside
        ("2026-03-31 17:29:59", "2026-03-31 17:29:59"),
        ("2026-03-31 17:30", "2026-04-01 09:00"),  # closing minute is outside
        ("2026-03-31 06:15", "2026-03-31 09:00"),  # before opening
        ("2026-03-31 23:59", "2026-04-01 09:00"),
        ("2026-03-28 10:00", "2026-03-30 09:00"),  # Saturday -> Monday
        ("2026-02-13 18:00", "2026-02-14 09:00"),  # Friday evening -> the 调休 Saturday
        ("2026-02-14 18:00", "2026-02-24 09:00"),  # over the Spring Festival
        ("2026-02-17 10:00", "2026-02-24 09:00"),
        ("2026-09-30 17:45", "2026-10-08 09:00"),  # over National Day
        ("2026-10-09 20:00", "2026-10-10 09:00"),  # onto the 调休 Saturday
        ("2026-09-19 11:00", "2026-09-20 09:00"),  # onto the 调休 Sunday
        (f"{FAR_YEAR}-01-03 18:00", f"{FAR_YEAR}-01-06 09:00"),  # weekends-only year
    ],
)
def test_next_send_time(now: str, expected: str) -> None:
    result = next_send_time(local(now), CAL, HOURS, TZ)
    assert result == local(expected)
    assert in_office_hours(result, CAL, HOURS, TZ)


def test_next_send_time_keeps_the_instant_and_converts_utc() -> None:
    utc_now = datetime(2026, 3, 31, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    assert next_send_time(utc_now, CAL, HOURS, TZ) == utc_now
    early = datetime(2026, 3, 31, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai
    assert next_send_time(early, CAL, HOURS, TZ) == local("2026-03-31 09:00")


def test_custom_office_hours() -> None:
    hours = (time(8, 30), time(12, 0))
    assert next_send_time(local("2026-03-31 08:45"), CAL, hours, TZ) == local("2026-03-31 08:45")
    assert next_send_time(local("2026-03-31 12:00"), CAL, hours, TZ) == local("2026-04-01 08:30")


def test_office_hours_need_aware_times_and_an_order() -> None:
    with pytest.raises(ValueError):
        next_send_time(datetime(2026, 3, 31, 10, 0), CAL, HOURS, TZ)
    with pytest.raises(ValueError):
        in_office_hours(datetime(2026, 3, 31, 10, 0), CAL, HOURS, TZ)
    with pytest.raises(ValueError):
        next_send_time(local("2026-03-31 10:00"), CAL, (time(17, 0), time(9, 0)), TZ)


@given(
    now=st.datetimes(min_value=datetime(2025, 12, 1), max_value=datetime(2026, 12, 31),
                     timezones=st.just(TZ)),
)
def test_next_send_time_is_the_first_allowed_moment(now: datetime) -> None:
    result = next_send_time(now, CAL, HOURS, TZ)
    assert result >= now
    assert in_office_hours(result, CAL, HOURS, TZ)
    if in_office_hours(now, CAL, HOURS, TZ):
        assert result == now
    else:
        # Nothing allowed in between: the result is an opening time, and the minute before it
        # is outside office hours.
        assert result.astimezone(TZ).time() == HOURS[0]
        assert not in_office_hours(result - timedelta(minutes=1), CAL, HOURS, TZ)
