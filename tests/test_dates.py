from __future__ import annotations

import calendar
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.dates import add_months, parse_date
from bot.core.i18n import DubanError


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 8, 31), 6, date(2027, 2, 28)),
        (date(2027, 8, 31), 6, date(2028, 2, 29)),
        (date(2026, 1, 15), 6, date(2026, 7, 15)),
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2026, 5, 20), 0, date(2026, 5, 20)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 1, 10), -1, date(2025, 12, 10)),
        (date(2028, 2, 29), -12, date(2027, 2, 28)),
        (date(2026, 7, 31), -25, date(2024, 6, 30)),
        (date(2026, 2, 28), 3, date(2026, 5, 28)),
    ],
)
def test_add_months_table(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31))


@given(dates, st.integers(min_value=-600, max_value=600))
def test_add_months_properties(start: date, months: int) -> None:
    result = add_months(start, months)
    assert result.day <= start.day
    assert (result.year * 12 + result.month) - (start.year * 12 + start.month) == months
    last = calendar.monthrange(result.year, result.month)[1]
    assert result.day == min(start.day, last)


@given(st.integers(min_value=1900, max_value=2200), st.integers(min_value=1, max_value=12),
       st.integers(min_value=-60, max_value=60))
def test_month_end_clamps(year: int, month: int, months: int) -> None:
    start = date(year, month, calendar.monthrange(year, month)[1])
    result = add_months(start, months)
    # A month-end lands on the target month's end or on the same day number.
    last = calendar.monthrange(result.year, result.month)[1]
    assert result.day == min(start.day, last)
    if start.day == 31:
        assert result.day == last


@pytest.mark.parametrize(
    "text",
    ["2026-03-05", "2026/3/5", "2026.3.5", "2026年3月5日", "2026年03月05日", " 2026-3-5 ",
     "２０２６－０３－０５", "20260305", "2026-03-05 00:00:00", "2026-03-05T08:30", "2026年3月5号"],
)
def test_parse_date_accepts(text: str) -> None:
    assert parse_date(text) == date(2026, 3, 5)


@pytest.mark.parametrize(
    "text",
    ["", "yesterday", "2026-13-01", "2026-02-30", "3/5/2026", "2026-03", "二〇二六年三月五日"],
)
def test_parse_date_refuses(text: str) -> None:
    with pytest.raises(DubanError) as caught:
        parse_date(text)
    assert caught.value.params["text"] == text
