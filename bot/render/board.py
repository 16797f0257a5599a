"""The 红黄绿灯 board in words (``/board`` in the chat, ``duban board`` on the command line).

Two lines per county, park or department, so that it reads on a phone: its light, rank and
name with its on-time rate and open items; then what makes the light (overdue, due soon,
extended) and how often it was named this year (通报, 约谈). Departments by their names in the
reader's language, never by their keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.core.departments import AliasTable
from bot.core.i18n import N_, Translator
from bot.render.texts import RANKING_DEPARTMENTS, RANKING_REGIONS, fmt_date, fmt_number, fmt_percent
from bot.services.board import DUE_SOON_DAYS, Board, BoardRow, Light

LIGHT_EMOJI: Mapping[Light, str] = {Light.RED: "🔴", Light.YELLOW: "🟡", Light.GREEN: "🟢"}
LIGHT_WORDS: Mapping[Light, str] = {Light.RED: N_("red light"),
                                    Light.YELLOW: N_("yellow light"),
                                    Light.GREEN: N_("green light")}

#: Rows per part in the chat: two parts of 12 stay well within a message's 4096 characters
#: (the console lists every row).
CHAT_LIMIT = 12

BOARD_TITLE = N_("🚦 Board of {place} as of {date}")
BOARD_LEGEND = N_("{red} overdue, {yellow} due within {days} days or extended, {green} all "
                  "on time")
BOARD_LINE = N_("{light} {rank}. {name}: on time {rate}, open {open}")
BOARD_FIGURES = N_("overdue {overdue}, due within {days} days {soon}, extended {extended}, "
                   "notices {notices}, summonses {summonses}")
BOARD_EMPTY = N_("No cases yet: the board is empty.")
BOARD_MORE = N_("... and {n} more")


def light_mark(light: Light, tr: Translator, *, emoji: bool = True) -> str:
    """🔴 in the chat; the word (红灯) where a reader may not see colours (the console)."""
    return LIGHT_EMOJI[light] if emoji else tr.gettext(LIGHT_WORDS[light])


def row_name(row: BoardRow, aliases: AliasTable, locale: str) -> str:
    """A county or park by its name, a department by its name in the reader's language."""
    standing = row.standing
    return (aliases.name(standing.name, locale) if standing.kind == "department"
            else standing.name)


def board_text(board: Board, tr: Translator, aliases: AliasTable, *, place: str,
               emoji: bool = True, limit: int | None = None) -> str:
    """The board, worst first; at most ``limit`` rows per part (the chat), or all (the
    console)."""
    lines = [tr.gettext(BOARD_TITLE, place=place, date=fmt_date(board.today, tr)),
             tr.gettext(BOARD_LEGEND, days=DUE_SOON_DAYS,
                        **{light.name.lower(): light_mark(light, tr, emoji=emoji)
                           for light in Light})]
    if not (board.regions or board.departments):
        return "\n".join([*lines, tr.gettext(BOARD_EMPTY)])
    for heading, rows in ((RANKING_REGIONS, board.regions),
                          (RANKING_DEPARTMENTS, board.departments)):
        if rows:
            lines += ["", tr.gettext(heading), *_rows(rows, tr, aliases, emoji, limit)]
    return "\n".join(lines)


def _rows(rows: Sequence[BoardRow], tr: Translator, aliases: AliasTable, emoji: bool,
          limit: int | None) -> list[str]:
    shown = rows if limit is None else rows[:limit]
    lines: list[str] = []
    for rank, row in enumerate(shown, start=1):
        standing = row.standing
        lines.append(tr.gettext(BOARD_LINE, light=light_mark(row.light, tr, emoji=emoji),
                                rank=rank, name=row_name(row, aliases, tr.locale),
                                rate=fmt_percent(standing.on_time_rate, tr),
                                open=fmt_number(standing.open, tr)))
        lines.append("   " + tr.gettext(
            BOARD_FIGURES, overdue=fmt_number(standing.overdue, tr),
            soon=fmt_number(row.due_soon, tr), days=DUE_SOON_DAYS,
            extended=fmt_number(row.extended, tr),
            notices=fmt_number(row.notices, tr), summonses=fmt_number(row.summonses, tr)))
    if len(rows) > len(shown):
        lines.append(tr.gettext(BOARD_MORE, n=len(rows) - len(shown)))
    return lines
