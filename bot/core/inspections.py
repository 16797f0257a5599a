"""Inspections (clause 三 of the cover letter): the words of their commands and the names
people type for the places and departments that take part.

A county or park organises joint inspections (联合检查) with its departments; the commission
schedules and records its own (督促检查). ``/inspection plan DATE PLACES DEPARTMENTS`` and
``/inspections [PLACE] [YEAR]`` are parsed here; the dialog that records an inspection uses
:func:`split_names` and :func:`match_names` for its answers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from bot.core.dates import parse_date
from bot.core.i18n import N_, DubanError
from bot.core.org import Org

JOINT = "joint"  # a county's or park's joint inspection (联合检查)
COMMISSION = "commission"  # the commission's inspection (督促检查)
PLANNED = "planned"
RECORDED = "recorded"
FED_BACK = "fed_back"  # 问题反馈: fed back to the commission (or, of its own, its finding)
CASE = "case"  # 立案: opened as a case

#: At most this many problems, names or departments in one inspection.
MAX_PROBLEMS = 30
MAX_NAMES = 100
MAX_ENTERPRISES = 9999
#: The words that mean today, in either language.
TODAY_WORDS = ("today", "今天", "今日")
#: The first word of ``/inspection plan …``.
PLAN_WORDS = ("plan", "计划", "安排")

PLAN_USAGE = N_("Usage: /inspection plan DATE COUNTIES DEPARTMENTS, e.g. /inspection plan "
                "2026-12-10 玛纳斯县、昌吉市 工信、环保")
LIST_USAGE = N_("Usage: /inspections [county or park] [year], e.g. /inspections 玛纳斯县 2026")
PLAN_NOT_BEFORE_TODAY = N_("An inspection is scheduled for today or a later day.")
PLAN_NO_PLACE = N_("Name at least one county or park to inspect.")
NOT_A_NAME = N_("“{query}” is neither a county or park nor a department.")
SEVERAL_MEANINGS = N_("“{query}” could mean several: {names}. Write the full name.")

_SEPARATORS = re.compile(r"[、,，;；/\s]+")


def split_names(text: str) -> list[str]:
    """``"工信、环保，安监"`` → the names, without empties or repeats, in the order given."""
    seen: list[str] = []
    for part in _SEPARATORS.split(text):
        part = part.strip()
        if part and part not in seen:
            seen.append(part)
    return seen


@dataclass(frozen=True)
class Matched:
    """Names matched to counties or parks (their names) and departments (their keys)."""

    regions: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()


def match_names(org: Org, names: Sequence[str], *, regions: bool = True,
                departments: bool = True) -> Matched:
    """Each name as a county or park (tried first) or a department; a name that is neither,
    or could mean several, raises :class:`DubanError` naming it."""
    found_regions: list[str] = []
    found_departments: list[str] = []
    for name in names:
        candidates: tuple[str, ...] = ()
        if regions:
            region = org.match_region(name)
            if region.ok and region.value is not None:
                if region.value not in found_regions:
                    found_regions.append(region.value)
                continue
            candidates = region.candidates
        if departments:
            department = org.match_department(name)
            if department.ok and department.value is not None:
                if department.value not in found_departments:
                    found_departments.append(department.value)
                continue
            candidates += tuple(_department_name(org, key) for key in department.candidates)
        if candidates:
            raise DubanError(SEVERAL_MEANINGS, query=name, names="、".join(candidates))
        raise DubanError(NOT_A_NAME, query=name)
    return Matched(tuple(found_regions), tuple(found_departments))


def _department_name(org: Org, key: str) -> str:
    found = org.department(key)
    return found.name if found is not None else key


def is_plan(args: Sequence[str]) -> bool:
    """``/inspection plan …`` schedules; ``/inspection`` alone records."""
    return bool(args) and args[0].strip().lower() in PLAN_WORDS


@dataclass(frozen=True)
class PlanRequest:
    day: date
    regions: tuple[str, ...]
    departments: tuple[str, ...]


def parse_plan(args: Sequence[str], org: Org, today: date) -> PlanRequest:
    """``/inspection plan 2026-12-10 玛纳斯县、昌吉市 工信、环保``: the day (today or later),
    the places inspected (at least one) and the departments taking part."""
    words = [w for w in args if w.strip()]
    if words and words[0].strip().lower() in PLAN_WORDS:
        words = words[1:]
    if not words:
        raise DubanError(PLAN_USAGE)
    day = parse_day(words[0], today, usage=PLAN_USAGE)
    if day < today:
        raise DubanError(PLAN_NOT_BEFORE_TODAY)
    names = split_names(" ".join(words[1:]))
    if len(names) > MAX_NAMES:
        raise DubanError(PLAN_USAGE)
    matched = match_names(org, names)
    if not matched.regions:
        raise DubanError(PLAN_NO_PLACE)
    return PlanRequest(day, matched.regions, matched.departments)


def parse_day(text: str, today: date, *, usage: str) -> date:
    """A day as people type it (``2026-12-10``, ``2026年12月10日``, ``今天``)."""
    if text.strip().lower() in TODAY_WORDS:
        return today
    try:
        return parse_date(text)
    except DubanError:
        raise DubanError(usage) from None


@dataclass(frozen=True)
class ListRequest:
    region: str | None
    year: int


def parse_list(args: Sequence[str], org: Org, today: date) -> ListRequest:
    """``/inspections [PLACE] [YEAR]``, in either order; this year when left out."""
    region: str | None = None
    year: int | None = None
    for word in (w.strip() for w in args if w.strip()):
        if word.isdecimal() and year is None:
            year = int(word)
            if not 2000 <= year <= 2100:
                raise DubanError(LIST_USAGE)
            continue
        if region is not None:
            raise DubanError(LIST_USAGE)
        region = org.resolve_region(word).name
    return ListRequest(region, year if year is not None else today.year)
