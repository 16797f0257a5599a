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
LISTS_USAGE = N_("Which list? /lists yellow, /lists red, /lists emitters (over the emission "
                 "standards) or /lists serious (their serious cases)")
LANG_USAGE = N_("Choose a language: /lang zh or /lang en")
JOIN_USAGE = N_("Send the code you were given: /join CODE")
CONTROL_USAGE = N_("Usage: /pause REF reason, /resume REF reason, or /skip REF STEP reason "
                   "(STEP: T-7, overdue, reminder, notice, summons …).")
SUMMONS_USAGE = N_("Send the summons number: /summons N or /outcome N (N: this year's number; "
                   "YYYY-N for another year's, e.g. 2025-3)")
RESCHEDULE_USAGE = N_("Usage: /reschedule N YYYY-MM-DD HH:MM [place] (N: this year's summons "
                      "number, or YYYY-N)")
DUTIES_USAGE = N_("Usage: /duties [YEAR], e.g. /duties 2026")
LEDGER_USAGE = N_("Usage: /ledger [YEAR], e.g. /ledger 2026")
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
    "emitters": ("emitters", "超标排放", "超标排放企业", "超标排放企业名单"),
    "serious": ("serious", "情节严重", "超标排放情节严重", "超标排放情节严重企业名单"),
}
_MAX_NUMBER = 2 ** 31 - 1
_ASCII_DIGITS = re.compile(r"[0-9]{1,10}")
#: ``3``, ``2026-3``, ``2026/3``, or the number as printed: ``约谈〔2026〕3号``, ``〔2026〕3``.
_SUMMONS_NUMBER = re.compile(
    r"(?:约谈)?(?:[〔\[(（]?(?P<year>[0-9]{4})[〕\])）/-])?(?P<number>[0-9]{1,6})号?")


#: What no one types and a database may refuse: NUL (PostgreSQL cannot store it in a text) and
#: the other control characters, but tab and line breaks.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """What a person sent, without the control characters no one types."""
    return _CONTROL.sub("", text)


def words(text: str | None) -> str:
    return clean_text(text or "").strip()


def _clean_args(args: Sequence[str]) -> list[str]:
    return [arg for arg in (clean_text(a) for a in args) if arg.strip()]


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
    args = _clean_args(args)
    needed = 3 if with_step else 2
    if len(args) < needed:
        raise DubanError(CONTROL_USAGE)
    if with_step:
        return Control(args[0], " ".join(args[2:]), step=args[1])
    return Control(args[0], " ".join(args[1:]))


@dataclass(frozen=True)
class SummonsNumber:
    """A summons as people name it: its number within its year (约谈〔2026〕3号 is ``2026-3``).
    ``year`` None: this year's (the caller knows what year it is)."""

    number: int
    year: int | None = None

    def __str__(self) -> str:
        """As people type it in a command: ``2026-3`` (``3`` when the year is left out)."""
        return f"{self.year}-{self.number}" if self.year else str(self.number)


def parse_summons_number(text: str, usage: str) -> SummonsNumber:
    """``3`` (this year's number 3), ``2026-3``, or the printed ``约谈〔2026〕3号``."""
    found = _SUMMONS_NUMBER.fullmatch(text.strip())
    if found is None or int(found["number"]) < 1:
        raise DubanError(usage)
    year = int(found["year"]) if found["year"] else None
    if year is not None and not 2000 <= year <= 2100:
        raise DubanError(usage)
    return SummonsNumber(int(found["number"]), year)


@dataclass(frozen=True)
class Reschedule:
    summons: SummonsNumber
    when: datetime
    place: str | None


def parse_reschedule(args: Sequence[str], tz: tzinfo) -> Reschedule:
    """``/reschedule N YYYY-MM-DD HH:MM [place]`` in the organisation's time zone (``N`` as
    :func:`parse_summons_number` reads it)."""
    args = _clean_args(args)
    if len(args) < 3:
        raise DubanError(RESCHEDULE_USAGE)
    summons = parse_summons_number(args[0], RESCHEDULE_USAGE)
    try:
        when = datetime.fromisoformat(f"{args[1]}T{args[2]}")
    except ValueError:
        raise DubanError(RESCHEDULE_USAGE) from None
    if when.tzinfo is not None:
        raise DubanError(RESCHEDULE_USAGE)
    return Reschedule(summons, when.replace(tzinfo=tz), " ".join(args[3:]) or None)


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
    args = _clean_args(args)
    if not args:
        raise DubanError(REPORT_USAGE)
    year = parse_number(args[1], REPORT_USAGE) if len(args) > 1 else today.year
    return ReportRequest(args[0], year)
