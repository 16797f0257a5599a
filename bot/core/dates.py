"""Month arithmetic and forgiving date parsing.

Deadlines in the policy are counted in months ("6个月内", "不超过3个月"); a month after
31 August is the last day of the target month, never a day that spills into the next one.
"""

from __future__ import annotations

import calendar
import re
from datetime import date

from bot.core.i18n import N_, DubanError

__all__ = ["add_months", "month_end", "parse_date"]


def month_end(year: int, month: int) -> int:
    """The number of days in ``month`` of ``year`` (the last day's number)."""
    return calendar.monthrange(year, month)[1]


def add_months(d: date, months: int) -> date:
    """``d`` moved by ``months`` calendar months (negative moves back).

    The day is kept when the target month has it and clamped to the target month's last day
    otherwise: 2026-08-31 + 6 months = 2027-02-28; 2027-08-31 + 6 months = 2028-02-29.
    """
    index = d.year * 12 + (d.month - 1) + months
    year, month0 = divmod(index, 12)
    month = month0 + 1
    if not 1 <= year <= 9999:
        raise OverflowError("date out of range")
    return date(year, month, min(d.day, month_end(year, month)))


_NUMERIC = re.compile(r"^(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})$")
_CHINESE = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_FULLWIDTH = str.maketrans("０１２３４５６７８９－／．　", "0123456789-/. ")


def parse_date(text: str) -> date:
    """Parse a date as people type it.

    Accepts ``2026-03-05``, ``2026/3/5``, ``2026.3.5``, ``2026年3月5日`` (also with 号 or
    full-width digits) and ``20260305``; an ISO timestamp ``2026-03-05T10:00`` or
    ``2026-03-05 00:00:00`` keeps its date part. Raises :class:`DubanError` otherwise.
    """
    raw = text if isinstance(text, str) else str(text)
    value = raw.translate(_FULLWIDTH).strip()
    # A timestamp as spreadsheets export it: keep the date part.
    for sep in ("T", " "):
        head, found, tail = value.partition(sep)
        if found and re.fullmatch(r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?", tail.strip()):
            value = head.strip()
            break
    match = _NUMERIC.match(value) or _CHINESE.match(value) or _COMPACT.match(value)
    if match is None:
        raise DubanError(N_("Not a date: “{text}” (write it as 2026-03-05)"), text=raw)
    year, month, day = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        raise DubanError(N_("No such date: “{text}”"), text=raw) from None
