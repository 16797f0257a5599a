"""PNG charts: capacity exited by industry, overdue cases by county, and both for ``/status``.

Rendered with matplotlib's Agg canvas on a private :class:`~matplotlib.figure.Figure` (no
pyplot, so no global figure state and safe in a bot that renders concurrently). Chinese labels
need a CJK font: :func:`find_cjk_font` looks for one by file path (``DUBAN_CJK_FONT`` first,
then the files Debian's ``fonts-wqy-microhei``, ``fonts-wqy-zenhei``, ``fonts-noto-cjk`` and
``fonts-droid-fallback`` install, then the usual macOS and Windows fonts), and every text on a
chart is drawn with it explicitly, never with the system default. With none found, charts
fail with a :class:`DubanError` that says what to install.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import date
from io import BytesIO
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ft2font import FT2Font
from matplotlib.gridspec import SubplotSpec
from matplotlib.ticker import MaxNLocator

from bot.core.i18n import N_, DubanError, Translator
from bot.render.texts import fmt_number, industry_label
from bot.services.reports import StatusFigures, Summary

FONT_ENV = "DUBAN_CJK_FONT"
FONT_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # apt-get install fonts-wqy-microhei
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # fonts-wqy-zenhei
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # fonts-noto-cjk
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",  # fonts-droid-fallback
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",  # Fedora
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)
# Characters a usable font must have: industry names and a county suffix.
PROBE = "钢铁煤炭水泥电解铝平板玻璃县"
CAPACITY_COLOR = "#2b6cb0"
OVERDUE_COLOR = "#c53030"
_DPI = 150


# -- the font -----------------------------------------------------------------------------------


def has_cjk_glyphs(path: Path, probe: str = PROBE) -> bool:
    """Whether the font file at ``path`` (face 0 of a collection) draws every probe character."""
    try:
        font = FT2Font(str(path))
    except (OSError, RuntimeError, ValueError):
        return False
    return all(font.get_char_index(ord(ch)) != 0 for ch in probe)


def find_cjk_font(environ: Mapping[str, str] | None = None,
                  candidates: Sequence[str] = FONT_CANDIDATES) -> Path:
    """The CJK font the charts use, by file path; a clear error when there is none."""
    environ = os.environ if environ is None else environ
    chosen = environ.get(FONT_ENV, "").strip()
    if chosen:
        path = Path(chosen)
        if not path.is_file() or not has_cjk_glyphs(path):
            raise DubanError(N_("{setting}={path} is not a font file with Chinese characters."),
                             setting=FONT_ENV, path=chosen)
        return path
    for candidate in candidates:
        path = Path(candidate)
        if path.is_file() and has_cjk_glyphs(path):
            return path
    raise DubanError(N_("No Chinese (CJK) font was found for the charts. Install one with "
                        "`apt-get install -y fonts-wqy-microhei` (or fonts-noto-cjk), or set "
                        "{setting} to the path of a .ttf, .ttc or .otf font with Chinese "
                        "characters."), setting=FONT_ENV)


def _props(font: Path, size: float) -> FontProperties:
    return FontProperties(fname=str(font), size=size)


# -- drawing ------------------------------------------------------------------------------------


def _figure(height: float = 4.5, width: float = 8.0) -> Figure:
    figure = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Figure) -> bytes:
    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, facecolor="white")
    return buffer.getvalue()


def _style_ticks(ax: Axes, font: Path) -> None:
    for label in (*ax.get_xticklabels(), *ax.get_yticklabels()):
        label.set_fontproperties(_props(font, 9))


def _draw_empty(ax: Axes, text: str, font: Path) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes,
            fontproperties=_props(font, 12), color="#555555")


def _draw_bars(ax: Axes, labels: Sequence[str], values: Sequence[float], texts: Sequence[str],
               *, color: str, xlabel: str, font: Path, integer: bool = False) -> None:
    """Horizontal bars, first item on top, each with its value written at the end."""
    positions = list(range(len(labels)))
    bars = ax.barh(positions, values, color=color)
    ax.set_yticks(positions, labels=list(labels))
    ax.invert_yaxis()
    ax.bar_label(bars, labels=list(texts), padding=3, fontproperties=_props(font, 9))
    ax.set_xlabel(xlabel, fontproperties=_props(font, 10))
    ax.margins(x=0.18)
    ax.spines[["top", "right"]].set_visible(False)
    if integer:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _style_ticks(ax, font)


def _capacity_panels(figure: Figure, slots: Sequence[SubplotSpec], summary: Summary,
                     tr: Translator, year: int, font: Path) -> None:
    units = [q.unit for q in summary.capacity]
    if not units:
        _draw_empty(figure.add_subplot(slots[0]),
                    tr.gettext(N_("No capacity exited in {year}."), year=year), font)
        return
    for slot, unit in zip(slots, units, strict=False):
        ax = figure.add_subplot(slot)
        lines = [(line.industry, q.amount) for line in summary.lines for q in line.capacity
                 if q.unit == unit]
        _draw_bars(ax, [industry_label(industry, tr) for industry, _ in lines],
                   [float(amount) for _, amount in lines],
                   [fmt_number(amount, tr) for _, amount in lines],
                   color=CAPACITY_COLOR, font=font,
                   xlabel=unit or tr.gettext(N_("capacity (no unit given)")))


def _overdue_panel(ax: Axes, overdue: Sequence[tuple[str, int]], tr: Translator,
                   font: Path) -> None:
    if not overdue:
        _draw_empty(ax, tr.gettext(N_("No overdue cases.")), font)
        return
    _draw_bars(ax, [name for name, _ in overdue], [count for _, count in overdue],
               [fmt_number(count, tr) for _, count in overdue], color=OVERDUE_COLOR,
               xlabel=tr.gettext(N_("overdue cases")), font=font, integer=True)


# -- public charts ------------------------------------------------------------------------------


def render_capacity_chart(summary: Summary, tr: Translator, *, year: int, title: str,
                          font: Path | None = None) -> bytes:
    """Capacity exited by industry, one panel per unit (万吨/年 and 万重量箱/年 never share
    an axis)."""
    font = font or find_cjk_font()
    panels = max(1, len(summary.capacity))
    figure = _figure(height=1.6 + 2.2 * panels)
    grid = figure.add_gridspec(panels, 1)
    _capacity_panels(figure, [grid[i, 0] for i in range(panels)], summary, tr, year, font)
    figure.suptitle(title, fontproperties=_props(font, 13))
    return _png(figure)


def render_overdue_chart(overdue: Sequence[tuple[str, int]], tr: Translator, *, title: str,
                         font: Path | None = None) -> bytes:
    """Overdue cases per county or park, ``overdue`` in the order to draw (top first)."""
    font = font or find_cjk_font()
    figure = _figure(height=max(3.0, 1.4 + 0.4 * len(overdue)))
    _overdue_panel(figure.add_subplot(), overdue, tr, font)
    figure.suptitle(title, fontproperties=_props(font, 13))
    return _png(figure)


def render_status_chart(summary: Summary, overdue: Sequence[tuple[str, int]],
                        tr: Translator, *, year: int, title: str,
                        font: Path | None = None) -> bytes:
    """Both charts side by side: what ``/status`` sends as its picture."""
    font = font or find_cjk_font()
    panels = max(1, len(summary.capacity))
    figure = _figure(height=max(4.0, 1.6 + 2.2 * panels), width=11.0)
    grid = figure.add_gridspec(panels, 2)
    _capacity_panels(figure, [grid[i, 0] for i in range(panels)], summary, tr, year, font)
    overdue_ax = figure.add_subplot(grid[:, 1])
    _overdue_panel(overdue_ax, overdue, tr, font)
    figure.suptitle(title, fontproperties=_props(font, 13))
    return _png(figure)


def status_chart(figures: StatusFigures, tr: Translator, *, title_place: str, today: date,
                 region: str | None = None, font: Path | None = None) -> bytes:
    """The ``/status`` picture for the prefecture (``title_place`` its name), or for one
    county or park: capacity exited this year by industry, and overdue cases by county."""
    title = (tr.gettext(N_("{region}: capacity exited in {year} and overdue cases"),
                        region=region, year=today.year) if region else
             tr.gettext(N_("{prefecture}: capacity exited in {year} and overdue cases"),
                        prefecture=title_place, year=today.year))
    return render_status_chart(figures.summary, figures.overdue, tr, year=today.year,
                               title=title, font=font)
