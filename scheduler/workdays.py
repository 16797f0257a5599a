"""Working days and office hours: when the bot may nudge, and how working days are counted.

China's working calendar is not "Monday to Friday": statutory holidays (法定节假日) are days
off, and make-up working days (调休) turn some Saturdays and Sundays into working days. In 2026
the Spring Festival runs 15–23 February with Saturday 14 and Saturday 28 February worked, and
National Day runs 1–7 October with Sunday 20 September and Saturday 10 October worked
(Mid-Autumn is 25–27 September on its own).

:class:`WorkCalendar` answers from three sources, the first that knows wins:

1. the local **override file** (``load_overrides``): days the coordinators add or remove,
   for a local holiday, a late State Council announcement or a correction;
2. the kept **chinesecalendar** library (``chinese_calendar``), for the years it covers;
3. for a year the library does not cover: the statutory holidays of the ``holidays``
   package's China calendar (New Year, Spring Festival, … with the days it observes in lieu)
   and weekends off, but no make-up working days (调休): those are known only from the State
   Council's yearly notice. The sweep asks :meth:`WorkCalendar.uncovered_years` and tells the
   coordinators once per year (key :func:`uncovered_year_key`, text
   :data:`UNCOVERED_YEAR_MESSAGE`), from 30 days before the year begins; ``duban holidays import
   NOTICE`` reads the notice into the override file, which then declares the whole year
   (``covered_years = [2027]``), and the year counts as covered.

Override file (TOML, UTF-8)::

    covered_years = [2027]          # optional: years this file describes completely

    [[days]]
    date = 2026-10-09               # a TOML date or the text "2026-10-09"
    working = false                 # required: false = a day off, true = a working day
    note = "市政府通知：国庆节后补休"   # optional

Every problem in the file is collected and raised as one :class:`OverrideError`.

Office hours are a local time range on working days, default 09:00–17:30 Asia/Shanghai (the
opening minute is inside, the closing minute is not). :func:`next_send_time` is the first
moment at or after ``now`` when a message may go out.

Everything here is pure: no clock is read; ``now`` is always a parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import holidays

from bot.core.dates import parse_date
from bot.core.i18n import N_, DubanError, ProblemsError
from bot.core.tomlfile import TomlTexts, parse_toml, read_toml

__all__ = [
    "DEFAULT_OFFICE_HOURS",
    "SHANGHAI",
    "UNCOVERED_YEAR_MESSAGE",
    "DayOverride",
    "OverrideError",
    "Overrides",
    "WorkCalendar",
    "in_office_hours",
    "load_overrides",
    "next_send_time",
    "office_opening",
    "parse_overrides",
    "uncovered_year_key",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_OFFICE_HOURS: tuple[time, time] = (time(9, 0), time(17, 30))
# How far the calendar searches for a working day before giving up (an override file that
# declares a whole year off would otherwise loop for ever).
MAX_SEARCH_DAYS = 366

UNCOVERED_YEAR_MESSAGE = N_(
    "The official holiday schedule of {year} is not known yet: the statutory holidays are "
    "counted, but not the make-up working days (调休). When the State Council publishes its "
    "notice, import it: duban holidays import NOTICE.txt"
)


def uncovered_year_key(year: int) -> str:
    """The exactly-once key of the "calendar does not cover ``year``" notice."""
    return f"calendar:uncovered:{year}"


@dataclass(frozen=True)
class DayOverride:
    """One day the local override file makes a working day (``working``) or a day off."""

    day: date
    working: bool
    note: str = ""


@dataclass(frozen=True)
class Overrides:
    """The content of an override file."""

    days: tuple[DayOverride, ...] = ()
    covered_years: frozenset[int] = frozenset()


class WorkCalendar:
    """Working days from overrides, then chinesecalendar, then weekends only.

    ``overrides`` maps days to "is a working day"; it may also be a sequence of
    :class:`DayOverride` or an :class:`Overrides` (which brings its ``covered_years``).
    ``library_years`` restricts which years the library is trusted for (tests use it to
    simulate a library that stops earlier); by default every year the library knows.
    """

    def __init__(
        self,
        overrides: Mapping[date, bool] | Iterable[DayOverride] | Overrides = (),
        *,
        covered_years: Iterable[int] = (),
        library_years: Iterable[int] | None = None,
    ) -> None:
        extra_years: set[int] = set(covered_years)
        if isinstance(overrides, Overrides):
            extra_years |= overrides.covered_years
            days: dict[date, bool] = {o.day: o.working for o in overrides.days}
        elif isinstance(overrides, Mapping):
            days = {d: bool(w) for d, w in overrides.items()}
        else:
            days = {o.day: o.working for o in overrides}
        self._overrides: dict[date, bool] = days
        self._declared_years = frozenset(extra_years)
        self._library_years = None if library_years is None else frozenset(library_years)
        self._coverage: dict[int, bool] = {}
        # chinesecalendar validates every date against its whole table (slow); a day's
        # answer never changes for one calendar, so it is kept.
        self._days: dict[date, bool] = {}
        self._added: dict[tuple[date, int], date] = {}
        self._holidays: dict[int, frozenset[date]] = {}

    def __repr__(self) -> str:
        return (f"WorkCalendar(overrides={len(self._overrides)} days, "
                f"covered_years={sorted(self._declared_years)})")

    @property
    def overrides(self) -> Mapping[date, bool]:
        return dict(self._overrides)

    # --- coverage -----------------------------------------------------------------------

    def library_covers(self, year: int) -> bool:
        """Whether chinesecalendar knows the holidays of ``year``."""
        if self._library_years is not None and year not in self._library_years:
            return False
        known = self._coverage.get(year)
        if known is None:
            try:
                chinese_calendar.is_workday(date(year, 1, 1))
                known = True
            except NotImplementedError:  # "no available data for year …"
                known = False
            self._coverage[year] = known
        return known

    def is_covered(self, year: int) -> bool:
        """Whether ``year``'s holidays are known (library or a complete override file)."""
        return year in self._declared_years or self.library_covers(year)

    def uncovered_years(self, years: Iterable[int]) -> tuple[int, ...]:
        """The years among ``years`` that fall back to weekends only, sorted, each once."""
        return tuple(sorted({y for y in years if not self.is_covered(y)}))

    # --- days ---------------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        """Whether ``d`` is a working day (holidays off, 调休 weekend days worked)."""
        known = self._days.get(d)
        if known is None:
            known = self._days[d] = self._working(d)
        return known

    def _working(self, d: date) -> bool:
        override = self._overrides.get(d)
        if override is not None:
            return override
        if self.library_covers(d.year):
            return bool(chinese_calendar.is_workday(d))
        return d.weekday() < 5 and d not in self._statutory(d.year)

    def _statutory(self, year: int) -> frozenset[date]:
        """The statutory days off of a year beyond the library (with days observed in lieu)."""
        found = self._holidays.get(year)
        if found is None:
            found = self._holidays[year] = frozenset(holidays.China(years=year))
        return found

    def previous_working_day(self, d: date, inclusive: bool = True) -> date:
        """The last working day on or before ``d`` (strictly before when not inclusive)."""
        return self._search(d if inclusive else d - timedelta(days=1), -1)

    def next_working_day(self, d: date, inclusive: bool = True) -> date:
        """The first working day on or after ``d`` (strictly after when not inclusive)."""
        return self._search(d if inclusive else d + timedelta(days=1), 1)

    def add_working_days(self, d: date, n: int) -> date:
        """The ``n``-th working day after ``d`` (``d`` itself when ``n`` is 0).

        ``d`` need not be a working day: one working day after a Saturday is the next
        working day. ``working_days_between(d, add_working_days(d, n)) == n``.
        """
        if n < 0:
            raise ValueError("add_working_days counts forward only (n >= 0)")
        found = self._added.get((d, n))
        if found is None:
            current = d
            for _ in range(n):
                current = self.next_working_day(current, inclusive=False)
            found = self._added[(d, n)] = current
        return found

    def working_days_between(self, a: date, b: date) -> int:
        """The number of working days ``x`` with ``a < x <= b`` (negative when ``b < a``)."""
        if b < a:
            return -self.working_days_between(b, a)
        count = 0
        current = a + timedelta(days=1)
        while current <= b:
            if self.is_working_day(current):
                count += 1
            current += timedelta(days=1)
        return count

    def _search(self, start: date, step: int) -> date:
        current = start
        for _ in range(MAX_SEARCH_DAYS):
            if self.is_working_day(current):
                return current
            current += timedelta(days=step)
        raise DubanError(
            N_("No working day within {days} days of {date}: check the holiday override file."),
            days=MAX_SEARCH_DAYS, date=start.isoformat(),
        )


# --- office hours --------------------------------------------------------------------------


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a timezone-aware datetime is required")


def office_opening(day: date, office_hours: tuple[time, time], tz: tzinfo) -> datetime:
    """The opening moment of ``day`` in ``tz``."""
    return datetime.combine(day, office_hours[0], tzinfo=tz)


def in_office_hours(
    moment: datetime, calendar: WorkCalendar, office_hours: tuple[time, time], tz: tzinfo
) -> bool:
    """Whether ``moment`` is on a working day, at or after opening and before closing."""
    _require_aware(moment)
    local = moment.astimezone(tz)
    opening, closing = office_hours
    return (calendar.is_working_day(local.date())
            and opening <= local.time() < closing)


def next_send_time(
    now: datetime,
    calendar: WorkCalendar,
    office_hours: tuple[time, time] = DEFAULT_OFFICE_HOURS,
    tz: tzinfo = SHANGHAI,
) -> datetime:
    """The first moment at or after ``now`` when a message may go out.

    ``now`` itself (as given) when it is within office hours on a working day; otherwise the
    opening time of today (before opening on a working day) or of the next working day, in
    ``tz``.
    """
    _require_aware(now)
    opening, closing = office_hours
    if not opening < closing:
        raise ValueError("office hours must open before they close")
    local = now.astimezone(tz)
    today = local.date()
    if calendar.is_working_day(today):
        clock = local.time()
        if opening <= clock < closing:
            return now
        if clock < opening:
            return office_opening(today, office_hours, tz)
    return office_opening(calendar.next_working_day(today, inclusive=False), office_hours, tz)


# --- the override file ------------------------------------------------------------------


class OverrideError(ProblemsError):
    """The holiday override file has problems; ``problems`` lists every one of them."""

    def __init__(self, problems: Iterable[DubanError], *, source: str = "") -> None:
        super().__init__(N_("The holiday override file {source} has {count} problem(s)"),
                         problems, source=source)


_TEXTS = TomlTexts(
    not_found=N_("Holiday override file not found: {path}"),
    not_utf8=N_("The holiday override file {path} is not UTF-8 text"),
    unreadable=N_("Cannot read the holiday override file {path}: {reason}"),
)


def load_overrides(path: str | Path) -> Overrides:
    """Read and validate a holiday override file; raises :class:`OverrideError`/DubanError."""
    return _overrides(read_toml(path, _TEXTS, OverrideError), source=Path(path).name)


def parse_overrides(text: str, *, source: str = "") -> Overrides:
    """Parse and validate the TOML text of a holiday override file."""
    return _overrides(parse_toml(text, _TEXTS, OverrideError, source=source), source=source)


def _overrides(data: dict[str, Any], *, source: str) -> Overrides:
    problems: list[DubanError] = []
    for key in data:
        if key not in ("days", "covered_years"):
            problems.append(DubanError(N_("{where}: unknown key “{key}”"), where="file", key=key))
    covered = _covered_years(data.get("covered_years", []), problems)
    days = _days(data.get("days", []), problems)
    if problems:
        raise OverrideError(problems, source=source)
    return Overrides(days=days, covered_years=covered)


def _covered_years(value: Any, problems: list[DubanError]) -> frozenset[int]:
    if not isinstance(value, list) or not all(
        isinstance(y, int) and not isinstance(y, bool) and 1900 <= y <= 2999 for y in value
    ):
        problems.append(DubanError(
            N_("{where}: covered_years must be a list of years like [2027]"),
            where="covered_years",
        ))
        return frozenset()
    return frozenset(value)


def _days(value: Any, problems: list[DubanError]) -> tuple[DayOverride, ...]:
    if not isinstance(value, list):
        problems.append(DubanError(
            N_("{where}: must be a list of tables ([[{where}]])"), where="days"))
        return ()
    found: dict[date, tuple[str, DayOverride]] = {}
    for index, table in enumerate(value, start=1):
        where = f"days[{index}]"
        if not isinstance(table, dict):
            problems.append(DubanError(N_("{where}: must be a table"), where=where))
            continue
        for key in table:
            if key not in ("date", "working", "note"):
                problems.append(DubanError(N_("{where}: unknown key “{key}”"),
                                           where=where, key=key))
        day = _day_of(table.get("date"), where, problems)
        working = table.get("working")
        if not isinstance(working, bool):
            problems.append(DubanError(
                N_("{where}: “working” is required and must be true or false"), where=where))
        note = table.get("note", "")
        if not isinstance(note, str):
            problems.append(DubanError(N_("{where}: “{key}” must be text"),
                                       where=where, key="note"))
            note = ""
        if day is None or not isinstance(working, bool):
            continue
        override = DayOverride(day, working, note.strip())
        previous = found.get(day)
        if previous is not None:
            problems.append(DubanError(
                N_("{where}: the date {date} is already listed in {other}"),
                where=where, date=day.isoformat(), other=previous[0],
            ))
            continue
        found[day] = (where, override)
    return tuple(sorted((o for _, o in found.values()), key=lambda o: o.day))


def _day_of(value: Any, where: str, problems: list[DubanError]) -> date | None:
    if value is None:
        problems.append(DubanError(N_("{where}: “{key}” is required"), where=where, key="date"))
        return None
    if isinstance(value, datetime):
        problems.append(DubanError(
            N_("{where}: “date” must be a date like 2026-10-09, without a time"), where=where))
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return parse_date(value)
        except DubanError:
            problems.append(DubanError(
                N_("{where}: “{value}” is not a date (write it as 2026-10-09)"),
                where=where, value=value,
            ))
            return None
    problems.append(DubanError(
        N_("{where}: “date” must be a date like 2026-10-09, without a time"), where=where))
    return None
