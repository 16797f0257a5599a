"""What the chat commands accept: their arguments, the words people use, and the usage to show.

Each parser takes the words after the command and returns plain values, or raises a
:class:`DubanError` carrying the command's usage (localized when shown). Handlers call these
and never count arguments or compare words themselves.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from bot.core.i18n import N_, DubanError

CASE_USAGE = N_("Send the case reference: /case REF")
LISTS_USAGE = N_("Which list? /lists yellow or /lists red")
LANG_USAGE = N_("Choose a language: /lang zh or /lang en")
JOIN_USAGE = N_("Send the code you were given: /join CODE")
CONTROL_USAGE = N_("Usage: /pause REF reason, /resume REF reason, or /skip REF STEP reason "
                   "(STEP: T-7, overdue, reminder, notice, summons …).")
SUMMONS_USAGE = N_("Send the summons number: /summons N or /outcome N")
RESCHEDULE_USAGE = N_("Usage: /reschedule N YYYY-MM-DD HH:MM [place]")
DUTIES_USAGE = N_("Usage: /duties [YEAR], e.g. /duties 2026")
REPORT_USAGE = N_("Usage: /report 玛纳斯县 2026 (the county's 30 November report)")

#: The words people type for each language the bot speaks.
LANGUAGE_WORDS: dict[str, tuple[str, ...]] = {
    "zh_CN": ("zh", "zh_cn", "zh-cn", "cn", "中文", "汉语", "简体中文"),
    "en": ("en", "english", "英文", "英语"),
}
#: … and for the public lists of clause （二十一）.
CARD_LIST_WORDS: dict[str, tuple[str, ...]] = {
    "yellow": ("yellow", "黄牌", "黄牌名单"),
    "red": ("red", "红牌", "红牌名单"),
}
_MAX_NUMBER = 2 ** 31 - 1
_ASCII_DIGITS = re.compile(r"[0-9]{1,10}")


def words(text: str | None) -> str:
    return (text or "").strip()


def _lookup(table: dict[str, tuple[str, ...]], text: str, usage: str) -> str:
    wanted = text.strip().lower()
    for key, spellings in table.items():
        if wanted in spellings:
            return key
    raise DubanError(usage)


def parse_language(text: str) -> str:
    """``/lang zh`` → ``zh_CN``; anything else is the usage."""
    return _lookup(LANGUAGE_WORDS, text, LANG_USAGE)


def parse_card_list(text: str) -> str:
    """``/lists 黄牌`` → ``yellow``."""
    return _lookup(CARD_LIST_WORDS, text, LISTS_USAGE)


def parse_number(text: str, usage: str) -> int:
    """A positive number written with the digits 0–9 (not ² or ５), of a sensible size."""
    text = text.strip()
    if not _ASCII_DIGITS.fullmatch(text) or not 0 < int(text) <= _MAX_NUMBER:
        raise DubanError(usage)
    return int(text)


def require_text(text: str, usage: str) -> str:
    """The argument, or the usage when it is missing."""
    if not text.strip():
        raise DubanError(usage)
    return text.strip()


@dataclass(frozen=True)
class Control:
    """``/pause REF reason``, ``/resume REF reason``, ``/skip REF STEP reason``."""

    ref: str
    reason: str
    step: str | None = None


def parse_control(args: Sequence[str], *, with_step: bool) -> Control:
    needed = 3 if with_step else 2
    if len(args) < needed:
        raise DubanError(CONTROL_USAGE)
    if with_step:
        return Control(args[0], " ".join(args[2:]), step=args[1])
    return Control(args[0], " ".join(args[1:]))


@dataclass(frozen=True)
class Reschedule:
    summons_id: int
    when: datetime
    place: str | None


def parse_reschedule(args: Sequence[str], tz: tzinfo) -> Reschedule:
    """``/reschedule N YYYY-MM-DD HH:MM [place]`` in the organisation's time zone."""
    if len(args) < 3:
        raise DubanError(RESCHEDULE_USAGE)
    summons_id = parse_number(args[0], RESCHEDULE_USAGE)
    try:
        when = datetime.fromisoformat(f"{args[1]}T{args[2]}")
    except ValueError:
        raise DubanError(RESCHEDULE_USAGE) from None
    if when.tzinfo is not None:
        raise DubanError(RESCHEDULE_USAGE)
    return Reschedule(summons_id, when.replace(tzinfo=tz), " ".join(args[3:]) or None)


def parse_year(text: str, today: date, usage: str) -> int:
    """An optional year argument (this year when left out), within 2000–2100."""
    if not text.strip():
        return today.year
    year = parse_number(text, usage)
    if not 2000 <= year <= 2100:
        raise DubanError(usage)
    return year


@dataclass(frozen=True)
class ReportRequest:
    county: str
    year: int


def parse_report(args: Sequence[str], today: date) -> ReportRequest:
    """``/report 玛纳斯县 [2026]``: the county, and the year (this year when left out)."""
    if not args:
        raise DubanError(REPORT_USAGE)
    year = parse_number(args[1], REPORT_USAGE) if len(args) > 1 else today.year
    return ReportRequest(args[0], year)
