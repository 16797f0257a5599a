"""The State Council's yearly holiday notice, read into the holiday override file.

Each autumn 国务院办公厅关于YYYY年部分节假日安排的通知 gives the next year's days off and the
make-up working days (调休) that no library can compute. Its items read like::

    二、春节：2月15日（农历腊月二十八、周日）至23日（农历正月初七、周一）放假调休，共9天。
    2月14日（周六）、2月28日（周六）上班。

:func:`parse_notice` turns the text into :class:`~scheduler.workdays.Overrides` (every day off,
every make-up working day, the whole year declared covered); :func:`merge_overrides` puts them
into an existing override file's content and :func:`overrides_toml` writes it. Anything it
cannot read for certain is a :class:`DubanError` naming the sentence, and nothing is written.
Pure: no file is read or written here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import tomli_w

from bot.core.i18n import N_, DubanError, ProblemsError
from bot.core.tomlfile import TomlTexts
from scheduler.workdays import DayOverride, Overrides

_TITLE_YEAR = re.compile(r"关于\s*(\d{4})\s*年\s*部分节假日安排")
# An item: "二、春节：…" up to the next item.
_ITEM = re.compile(r"(?:^|\n)\s*[一二三四五六七八九十]+\s*[、.．]\s*([^：:\n]{1,20})[：:]")
_DAY = r"(?:(\d{4})\s*年\s*)?(?:(\d{1,2})\s*月\s*)?(\d{1,2})\s*日"
_NOTE = r"(?:\s*[（(][^）)]*[）)])?"
_RANGE = re.compile(_DAY + _NOTE + r"\s*(?:至|到|—|－|-|～|~)\s*" + _DAY + _NOTE)
_ONE_DAY = re.compile(_DAY + _NOTE)
#: How a notice file that cannot be read is reported (read with ``bot.core.tomlfile.read_text``).
NOTICE_FILE = TomlTexts(
    not_found=N_("Holiday notice not found: {path}"),
    not_utf8=N_("The holiday notice {path} is not UTF-8 text"),
    unreadable=N_("Cannot read the holiday notice {path}: {reason}"),
)
#: A holiday longer than this is a misreading, not a holiday.
MAX_HOLIDAY_DAYS = 15


class NoticeError(ProblemsError):
    """The notice text has problems; ``problems`` lists each sentence that could not be read."""

    def __init__(self, problems: Iterable[DubanError], *, source: str = "") -> None:
        super().__init__(N_("The holiday notice {source} could not be read: {count} problem(s)"),
                         problems, source=source)


@dataclass(frozen=True)
class NoticeDay:
    day: date
    working: bool
    holiday: str  # the item's name as written: 春节, 国庆节、中秋节 …


def notice_year(text: str) -> int | None:
    """The year the notice is about, from its title (关于2026年部分节假日安排的通知)."""
    found = _TITLE_YEAR.search(text)
    return int(found.group(1)) if found else None


def parse_notice(text: str, *, year: int | None = None, source: str = "") -> list[NoticeDay]:
    """Every day the notice names, in date order; a :class:`NoticeError` for what it cannot
    read for certain."""
    year = year or notice_year(text)
    if year is None:
        raise DubanError(N_("The notice does not say which year it is about (its title reads "
                            "“关于2027年部分节假日安排的通知”); give the year with --year."))
    items = list(_ITEM.finditer(text))
    if not items:
        raise DubanError(N_("No holiday found: the notice lists its holidays as “一、元旦：…”, "
                            "“二、春节：…”."))
    problems: list[DubanError] = []
    found: dict[date, NoticeDay] = {}
    for index, item in enumerate(items):
        end = items[index + 1].start() if index + 1 < len(items) else len(text)
        name = item.group(1).strip()
        for sentence in re.split(r"[。；;\n]", text[item.end():end]):
            sentence = sentence.strip()
            if not sentence:
                continue
            try:
                days = _sentence_days(sentence, year)
            except DubanError as problem:
                problems.append(problem)
                continue
            for day, working in days:
                if day in found and found[day].working != working:
                    problems.append(DubanError(
                        N_("{date} is both a day off and a working day in the notice."),
                        date=day.isoformat()))
                found[day] = NoticeDay(day, working, name)
    if problems:
        raise NoticeError(problems, source=source)
    if not found:
        raise DubanError(N_("No holiday found: the notice lists its holidays as “一、元旦：…”, "
                            "“二、春节：…”."))
    return sorted(found.values(), key=lambda d: d.day)


def _sentence_days(sentence: str, year: int) -> list[tuple[date, bool]]:
    if "上班" in sentence:
        days: list[tuple[date, bool]] = []
        month: int | None = None
        for match in _ONE_DAY.finditer(sentence[:sentence.index("上班")]):
            day = _date(match.groups()[:3], year, month, sentence)
            month = day.month
            if day.weekday() < 5:
                raise DubanError(N_("“{text}”: {date} would be a make-up working day, but it "
                                    "is not a Saturday or a Sunday."),
                                 text=sentence, date=day.isoformat())
            days.append((day, True))
        if not days:
            raise DubanError(N_("“{text}”: no date found before “上班”."), text=sentence)
        return days
    if "放假" not in sentence:
        return []  # 共N天, 不调休, remarks
    head = sentence[:sentence.index("放假")]
    span = _RANGE.search(head)
    if span is not None:
        groups = span.groups()
        first = _date(groups[:3], year, None, sentence)
        last = _date(groups[3:6], first.year if groups[3] is None else year, first.month,
                     sentence)
        if last < first and groups[4] is not None and groups[3] is None:
            last = last.replace(year=last.year + 1)  # 12月31日至1月2日
    else:
        single = list(_ONE_DAY.finditer(head))
        if not single:
            raise DubanError(N_("“{text}”: no date found before “放假”."), text=sentence)
        first = last = _date(single[-1].groups()[:3], year, None, sentence)
    if not 0 <= (last - first).days < MAX_HOLIDAY_DAYS:
        raise DubanError(N_("“{text}”: {first} to {last} is not a plausible holiday."),
                         text=sentence, first=first.isoformat(), last=last.isoformat())
    return [(first + timedelta(days=n), False) for n in range((last - first).days + 1)]


def _date(parts: tuple[str | None, ...], year: int, month: int | None, sentence: str) -> date:
    year_text, month_text, day_text = parts
    wanted_month = int(month_text) if month_text else month
    if wanted_month is None:
        raise DubanError(N_("“{text}”: a date without its month."), text=sentence)
    try:
        return date(int(year_text) if year_text else year, wanted_month, int(day_text or 0))
    except ValueError:
        raise DubanError(N_("“{text}”: {month}月{day}日 is not a date."), text=sentence,
                         month=wanted_month, day=day_text) from None


def merge_overrides(existing: Overrides, days: Iterable[NoticeDay], year: int) -> Overrides:
    """``existing`` with the notice's days: they replace any entry for the same date, and the
    year counts as covered. Local entries for other dates are kept."""
    new = {d.day: DayOverride(d.day, d.working, d.holiday) for d in days}
    kept = [o for o in existing.days if o.day not in new]
    return Overrides(days=tuple(sorted([*kept, *new.values()], key=lambda o: o.day)),
                     covered_years=existing.covered_years | {year})


def overrides_toml(overrides: Overrides) -> str:
    """The override file's text (see :mod:`scheduler.workdays`)."""
    data: dict[str, object] = {"covered_years": sorted(overrides.covered_years)}
    data["days"] = [{"date": o.day, "working": o.working, **({"note": o.note} if o.note else {})}
                    for o in overrides.days]
    return tomli_w.dumps(data)
