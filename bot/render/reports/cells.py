"""How a table's cell reads as text, in every format (.docx, .xlsx, CSV and HTML lists).

Plain Python, no document library: the lists and the notices' texts use it without importing
python-docx or openpyxl.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from decimal import Decimal

from bot.core.i18n import N_, Translator
from bot.render.reports import Cell
from bot.render.texts import fmt_date, fmt_number


def display_width(text: str) -> int:
    """Columns a text takes: CJK and full-width characters count double."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def yes_no(value: bool, tr: Translator) -> str:
    """是 or 否."""
    return tr.gettext(N_("Yes") if value else N_("No"))


def cell_text(value: Cell, tr: Translator) -> str:
    """A table cell as the reader sees it: numbers and dates in the reader's locale, yes and
    no as words (是/否)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return yes_no(value, tr)
    if isinstance(value, Decimal | int):
        return fmt_number(value, tr)
    if isinstance(value, date):
        return fmt_date(value, tr)
    return value


__all__ = ["cell_text", "display_width", "yes_no"]
