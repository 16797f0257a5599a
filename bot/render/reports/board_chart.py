"""The ``/board`` picture: the 红黄绿灯 board as bars, for a phone.

One panel for the counties and parks, one for the departments, worst first as the board text
lists them: each bar is a party's open items, coloured by its light, with its on-time rate
written at the end. Drawn like the ``/status`` picture (:mod:`bot.render.reports.charts`):
1080 pixels wide, every label large, in the packaged Chinese font. This module imports
matplotlib; the handler imports it when it draws, never at start-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from bot.core.departments import AliasTable
from bot.core.i18n import N_, Translator
from bot.render.board import BOARD_EMPTY, LIGHT_WORDS, row_name
from bot.render.reports.charts import (
    LABEL_PX,
    PHONE_WIDTH_PX,
    StatusChart,
    _Panel,
    _Phone,
    _phone_chart,
    _png,
    chart_font,
    wrap,
)
from bot.render.texts import fmt_date, fmt_number, fmt_percent
from bot.services.board import DUE_SOON_DAYS, Board, BoardRow, Light

LIGHT_COLORS = {Light.RED: "#e53e3e", Light.YELLOW: "#ecc94b", Light.GREEN: "#38a169"}
#: Rows per panel: the worst ones; the text lists every one.
MAX_ROWS = 10
#: The widest a name may be drawn before it wraps: under half the picture.
_NAME_PX = PHONE_WIDTH_PX * 0.45


def _panel(phone: _BoardPhone, rows: Sequence[BoardRow], aliases: AliasTable, title: str) -> _Panel:
    tr = phone.tr
    shown = list(rows[:MAX_ROWS])
    # Long names (English departments) on two lines, so the bars keep half the width.
    labels = [wrap(row_name(row, aliases, tr.locale), phone.font, LABEL_PX, _NAME_PX)
              for row in shown]

    def draw(ax: Axes) -> None:
        phone.panel_title(ax, title)
        opened = [row.standing.open for row in shown]
        bars = ax.barh(list(range(len(shown))), opened, height=0.62,
                       color=[LIGHT_COLORS[row.light] for row in shown])
        phone.axes(ax, labels, max(opened, default=0))
        ax.bar_label(bars, labels=[
            tr.gettext(N_("{open}, {rate}"), open=fmt_number(row.standing.open, tr),
                       rate=fmt_percent(row.standing.on_time_rate, tr)) for row in shown],
            padding=6, fontproperties=phone.props(), color="#1a202c")

    return _Panel(max(len(shown), sum(label.count("\n") + 1 for label in labels)), draw)


class _BoardPhone(_Phone):
    """The phone picture with the board's legend (the lights) instead of the status one."""

    def legend(self, figure: Figure) -> None:
        handles = [Patch(color=LIGHT_COLORS[light], label=self.tr.gettext(LIGHT_WORDS[light]))
                   for light in (Light.RED, Light.YELLOW, Light.GREEN)]
        figure.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False,
                      prop=self.props(), handlelength=0.9, handleheight=0.9,
                      columnspacing=1.2, labelcolor="#1a202c")


def board_chart(board: Board, tr: Translator, aliases: AliasTable, *, place: str,
                font: Path | None = None) -> StatusChart:
    """The board's picture and its caption; a :class:`DubanError` when no Chinese font is
    usable (as every chart)."""
    phone = _BoardPhone(font or chart_font(), tr)
    panels = [_panel(phone, rows, aliases, tr.gettext(title))
              for title, rows in ((N_("Counties and parks: open items and on-time rate"),
                                   board.regions),
                                  (N_("Departments: open items and on-time rate"),
                                   board.departments)) if rows]
    if not panels:
        panels = [_Panel(1, lambda ax: phone.empty(ax, tr.gettext(BOARD_EMPTY)))]
    title = tr.gettext(N_("{place}: the board as of {date}"), place=place,
                       date=fmt_date(board.today, tr))
    figure = _phone_chart(title, panels, phone, legend=bool(board.regions or board.departments))
    caption = tr.gettext(N_("{place}: open items per county, park and department, coloured red "
                            "(overdue), yellow (due within {days} days or extended) or green "
                            "(on time), worst first (at most {n} each), as of {date}."),
                         place=place, days=DUE_SOON_DAYS, n=MAX_ROWS,
                         date=fmt_date(board.today, tr))
    png = _png(figure)
    width, height = figure.canvas.get_width_height()
    return StatusChart(png=png, caption=caption, width=width, height=height)
