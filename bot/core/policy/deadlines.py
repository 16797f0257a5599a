"""Deadline phrases in a paragraph, as structured rules.

Kinds (see :mod:`bot.core.policy.catalog` for the JSON):

* ``extension_max``: "不超过3个月的延期申请" -> months 3. The extension phrase is consumed, so
  the 3 months are not also a ``within``.
* ``within``: "6个月内整改", "在6个月内未整改" -> months 6; "15日内" -> days 15 (working days are
  counted as days; the phrase keeps "工作日"); "5年内继续按原用途…使用土地" -> years 5. The last
  one is a grace period rather than a deadline for action, but it is still a time limit in
  the text, so it is kept as ``within`` with ``years``; routing only acts on months/days.
* ``immediate``: "立即" (also 立刻, 马上).
* ``set_by_authority``: "限时拆除", "限期整改" (the authority sets the date). "限期整改的企业名单"
  describes a list, not an order, and is not matched.
* ``annual``: "每年3月底前" -> 3/31, "每年11月30日前" -> 11/30, "每年年底前" -> 12/31.
  February's end is the 28th for a yearly rule.
* ``annual_next_year``: "次年1月底前" -> 1/31 (also 翌年, 下一年).
* ``absolute``: "2019年6月底前" -> 2019-06-30, "2018年12月31日前", "2020年底前".

A paragraph lists each rule once (equal rules with different phrases are merged; the first
phrase is kept), in the order they appear.
"""

from __future__ import annotations

import bisect
import calendar
import re
from collections.abc import Callable

from bot.core.policy.catalog import Deadline, parse_chinese_number

_NUM = r"(\d{1,4}|[零〇一二两三四五六七八九十百]{1,4})"
_BEFORE = r"(?:之前|以前|前)"
_TAIL = r"[^，。；、,;：:（）()或和及并的]{0,6}"

_EXTENSION = re.compile(
    rf"不(?:超过|超出|得超过|多于){_NUM}\s*(个月|个工作日|天|日|年)的?(?:延期|延长)(?:申请)?")
_WITHIN = re.compile(rf"(?:在|于)?{_NUM}\s*(个月|个工作日|天|日|年)(?:之内|以内|内){_TAIL}")
_IMMEDIATE = re.compile(rf"(?:立即|立刻|马上){_TAIL}")
_SET_BY_AUTHORITY = re.compile(
    r"(?:限时|限期)(?:拆除|整改|关停|关闭|淘汰|退出|完成|改正)(?!的)")
_ANNUAL_END = re.compile(rf"每年(?:的)?{_NUM}月(?:底|末){_BEFORE}?")
_ANNUAL_DAY = re.compile(rf"每年(?:的)?{_NUM}月{_NUM}日{_BEFORE}")
_ANNUAL_YEAR_END = re.compile(rf"每年(?:年底|年末){_BEFORE}?")
_NEXT_YEAR = r"(?:次年|翌年|下一年度?|第二年)"
_NEXT_END = re.compile(rf"{_NEXT_YEAR}{_NUM}月(?:底|末){_BEFORE}?")
_NEXT_DAY = re.compile(rf"{_NEXT_YEAR}{_NUM}月{_NUM}日{_BEFORE}")
_ABS_END = re.compile(rf"(\d{{4}})年{_NUM}月(?:底|末){_BEFORE}?")
_ABS_DAY = re.compile(rf"(\d{{4}})年{_NUM}月{_NUM}日{_BEFORE}")
_ABS_YEAR_END = re.compile(rf"(\d{{4}})年(?:底|末){_BEFORE}?")

_UNIT_FIELD = {"个月": "months", "天": "days", "日": "days", "个工作日": "days", "年": "years"}


def _num(text: str) -> int | None:
    return parse_chinese_number(text)


def _month_end(month: int, year: int | None = None) -> int:
    """The last day of ``month``; a yearly rule uses a common (non-leap) year."""
    return calendar.monthrange(year if year is not None else 2001, month)[1]


def _valid(month: int | None, day: int | None = None) -> bool:
    return month is not None and 1 <= month <= 12 and (day is None or 1 <= day <= 31)


def _extension(m: re.Match[str]) -> Deadline | None:
    value = _num(m.group(1))
    if not value:
        return None
    return Deadline("extension_max", m.group(0), **{_UNIT_FIELD[m.group(2)]: value})


def _within(m: re.Match[str]) -> Deadline | None:
    value, unit = _num(m.group(1)), m.group(2)
    if not value or (unit == "年" and value > 100):  # "2019年内" is a calendar year
        return None
    return Deadline("within", m.group(0), **{_UNIT_FIELD[unit]: value})


def _fixed(kind: str) -> Callable[[re.Match[str]], Deadline | None]:
    return lambda m: Deadline(kind, m.group(0))


def _month_end_rule(kind: str) -> Callable[[re.Match[str]], Deadline | None]:
    def build(m: re.Match[str]) -> Deadline | None:
        month = _num(m.group(1))
        if month is None or not _valid(month):
            return None
        return Deadline(kind, m.group(0), month=month, day=_month_end(month))
    return build


def _month_day_rule(kind: str) -> Callable[[re.Match[str]], Deadline | None]:
    def build(m: re.Match[str]) -> Deadline | None:
        month, day = _num(m.group(1)), _num(m.group(2))
        if month is None or day is None or not _valid(month, day):
            return None
        return Deadline(kind, m.group(0), month=month, day=day)
    return build


def _annual_year_end(m: re.Match[str]) -> Deadline | None:
    return Deadline("annual", m.group(0), month=12, day=31)


def _absolute_end(m: re.Match[str]) -> Deadline | None:
    year, month = int(m.group(1)), _num(m.group(2))
    if month is None or not _valid(month):
        return None
    return Deadline("absolute", m.group(0), year=year, month=month, day=_month_end(month, year))


def _absolute_day(m: re.Match[str]) -> Deadline | None:
    year, month, day = int(m.group(1)), _num(m.group(2)), _num(m.group(3))
    if month is None or day is None or not _valid(month, day):
        return None
    return Deadline("absolute", m.group(0), year=year, month=month, day=day)


def _absolute_year_end(m: re.Match[str]) -> Deadline | None:
    return Deadline("absolute", m.group(0), year=int(m.group(1)), month=12, day=31)


# Most specific first: a span taken by an earlier rule is not matched again.
_RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], Deadline | None]], ...] = (
    (_EXTENSION, _extension),
    (_ABS_DAY, _absolute_day),
    (_ABS_END, _absolute_end),
    (_ABS_YEAR_END, _absolute_year_end),
    (_NEXT_DAY, _month_day_rule("annual_next_year")),
    (_NEXT_END, _month_end_rule("annual_next_year")),
    (_ANNUAL_DAY, _month_day_rule("annual")),
    (_ANNUAL_END, _month_end_rule("annual")),
    (_ANNUAL_YEAR_END, _annual_year_end),
    (_WITHIN, _within),
    (_SET_BY_AUTHORITY, _fixed("set_by_authority")),
    (_IMMEDIATE, _fixed("immediate")),
)


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    """Whether ``span`` overlaps one of ``taken`` (sorted, non-overlapping spans)."""
    index = bisect.bisect_left(taken, span)
    if index > 0 and taken[index - 1][1] > span[0]:
        return True
    return index < len(taken) and taken[index][0] < span[1]


def extract_deadlines(text: str) -> tuple[Deadline, ...]:
    """The deadline rules stated in ``text``, in order of appearance, each rule once."""
    found: list[tuple[int, Deadline]] = []
    taken: list[tuple[int, int]] = []
    for pattern, build in _RULES:
        for match in pattern.finditer(text):
            if _overlaps(match.span(), taken):
                continue
            deadline = build(match)
            if deadline is None:
                continue
            bisect.insort(taken, match.span())
            found.append((match.start(), deadline))
    found.sort(key=lambda item: item[0])
    seen: set[tuple[object, ...]] = set()
    result: list[Deadline] = []
    for _, deadline in found:
        if deadline.key not in seen:
            seen.add(deadline.key)
            result.append(deadline)
    return tuple(result)
