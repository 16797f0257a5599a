"""PNG charts: capacity exited by industry, overdue cases by county, and the ``/status`` picture.

Rendered with matplotlib's Agg canvas on a private :class:`~matplotlib.figure.Figure` (no
pyplot, so no global figure state and safe in a bot that renders concurrently).

Two kinds of picture:

* the reports' charts (:func:`render_capacity_chart`, :func:`render_overdue_chart`), landscape
  for a page of A4;
* the ``/status`` picture (:func:`status_chart`), for a phone: 1080 pixels wide, square or
  portrait (at most 4:5 while it fits), every text at least :data:`MIN_LABEL_PX` pixels tall,
  panels stacked one above the other. The prefecture's shows capacity exited by industry and
  overdue cases by county; a county's shows capacity exited by industry and its cases per
  clause, one stacked bar for each of （四）…（九）: open and on time, overdue, closed.

Chinese labels need a CJK font: :func:`find_cjk_font` takes ``DUBAN_CJK_FONT`` when set, else
Noto Sans SC from the ``pylopdf-fonts-zh-cn`` package (a dependency, SIL Open Font License
1.1, so every install has it), else the usual system fonts (Debian's ``fonts-wqy-microhei``,
``fonts-noto-cjk``, …, macOS, Windows). Every text on a chart is drawn with that font file
explicitly, never with the system default. With none usable, charts fail with a
:class:`DubanError` that says what to install; a chart is never dropped silently.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from io import BytesIO
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, fontManager, get_font
from matplotlib.ft2font import FT2Font
from matplotlib.gridspec import SubplotSpec
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from bot.core.i18n import N_, DubanError, Translator
from bot.core.workflow import WORKFLOWS
from bot.render.texts import fmt_date, fmt_number, industry_label
from bot.services.reports import ClauseTally, StatusFigures, Summary

FONT_ENV = "DUBAN_CJK_FONT"
# The font every install has: Noto Sans SC (SIL OFL 1.1) from the pylopdf-fonts-zh-cn wheel.
PACKAGED_FONT = ("pylopdf_fonts_zh_cn", "NotoSansSC-Regular.otf")
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
ON_TIME_COLOR = "#3182ce"
CLOSED_COLOR = "#a0aec0"
_DPI = 150  # the reports' charts

# The /status picture, for a phone's chat bubble. Telegram shows a photo up to 1280 px on its
# long side without scaling it down; 1080 x 1350 (4:5) is the tallest that fits that.
PHONE_WIDTH_PX = 1080
PHONE_MAX_HEIGHT_PX = 1350
PHONE_DPI = 180  # 1080 px = 6 in, so 1 pt = 2.5 px
MIN_LABEL_PX = 28  # the least height of any text's glyphs (digits, Latin words, Chinese)
LABEL_PX = 42  # the size (em) of every label: digits are 30 px tall, Chinese 35 px
TITLE_PX = 50
_MARGIN_PX = 24
_ROW_PX, _MIN_ROW_PX = 72, 56  # one bar and the gap to the next (the least when crowded)
_PANEL_PX = 84  # a panel's title and the space around it
_LEGEND_PX = 84
_HEIGHT_STEP_PX = 45  # heights in quarter inches, so that inches x dpi is exact
_INK = "#1a202c"


# -- the font -----------------------------------------------------------------------------------


def has_cjk_glyphs(path: Path, probe: str = PROBE) -> bool:
    """Whether the font file at ``path`` (face 0 of a collection) draws every probe character."""
    try:
        font = FT2Font(str(path))
    except (OSError, RuntimeError, ValueError):
        return False
    return all(font.get_char_index(ord(ch)) != 0 for ch in probe)


def packaged_font() -> Path | None:
    """Noto Sans SC as the ``pylopdf-fonts-zh-cn`` wheel installs it, if it is installed."""
    package, name = PACKAGED_FONT
    try:
        resource = resources.files(package) / name
    except ModuleNotFoundError:
        return None
    # An ordinary install is a folder of files; FreeType needs a real path, not a zip member.
    return resource if isinstance(resource, Path) and resource.is_file() else None


def find_cjk_font(environ: Mapping[str, str] | None = None,
                  candidates: Sequence[str] | None = None,
                  packaged: Callable[[], Path | None] | None = None) -> Path:
    """The CJK font the charts use, by file path: ``DUBAN_CJK_FONT``, else the packaged
    font, else the first system font of ``candidates``; a clear error when there is none."""
    environ = os.environ if environ is None else environ
    candidates = FONT_CANDIDATES if candidates is None else candidates
    chosen = environ.get(FONT_ENV, "").strip()
    if chosen:
        path = Path(chosen)
        if not path.is_file() or not has_cjk_glyphs(path):
            raise DubanError(N_("{setting}={path} is not a font file with Chinese characters."),
                             setting=FONT_ENV, path=chosen)
        return path
    shipped = (packaged or packaged_font)()
    if shipped is not None and has_cjk_glyphs(shipped):
        return shipped
    for candidate in candidates:
        path = Path(candidate)
        if path.is_file() and has_cjk_glyphs(path):
            return path
    raise DubanError(N_("No Chinese (CJK) font was found for the charts. Reinstall duban with "
                        "its dependencies (`pip install pylopdf-fonts-zh-cn` brings one), "
                        "install a system font with `apt-get install -y fonts-wqy-microhei`, "
                        "or set {setting} to the path of a .ttf, .ttc or .otf font with Chinese "
                        "characters."), setting=FONT_ENV)


@cache
def register_font(path: Path) -> Path:
    """Make the font known to matplotlib's font manager (by its family name, e.g. for
    fallback); once per file and process."""
    fontManager.addfont(str(path))
    return path


def chart_font() -> Path:
    """The font of :func:`find_cjk_font`, registered with matplotlib."""
    return register_font(find_cjk_font())


def _props(font: Path, size: float) -> FontProperties:
    return FontProperties(fname=str(font), size=size)


# -- the reports' charts ------------------------------------------------------------------------


def _figure(height: float = 4.5, width: float = 8.0, dpi: int = _DPI) -> Figure:
    figure = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Figure) -> bytes:
    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=figure.dpi, facecolor="white")
    return buffer.getvalue()


def _style_ticks(ax: Axes, font: Path) -> None:
    for label in (*ax.get_xticklabels(), *ax.get_yticklabels()):
        label.set_fontproperties(_props(font, 9))


def _draw_empty(ax: Axes, text: str, font: Path, size: float = 12) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes,
            fontproperties=_props(font, size), color="#555555")


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


def _capacity_lines(summary: Summary, unit: str) -> list[tuple[str, Decimal]]:
    """(industry, amount) of the industries with capacity in ``unit``, in INDUSTRY_ORDER."""
    return [(line.industry, q.amount) for line in summary.lines for q in line.capacity
            if q.unit == unit]


def _capacity_panels(figure: Figure, slots: Sequence[SubplotSpec], summary: Summary,
                     tr: Translator, year: int, font: Path) -> None:
    units = [q.unit for q in summary.capacity]
    if not units:
        _draw_empty(figure.add_subplot(slots[0]),
                    tr.gettext(N_("No capacity exited in {year}."), year=year), font)
        return
    for slot, unit in zip(slots, units, strict=False):
        ax = figure.add_subplot(slot)
        lines = _capacity_lines(summary, unit)
        _draw_bars(ax, [industry_label(industry, tr) for industry, _ in lines],
                   [float(amount) for _, amount in lines],
                   [fmt_number(amount, tr) for _, amount in lines],
                   color=CAPACITY_COLOR, font=font,
                   xlabel=unit or tr.gettext(N_("capacity (no unit given)")))


def render_capacity_chart(summary: Summary, tr: Translator, *, year: int, title: str,
                          font: Path | None = None) -> bytes:
    """Capacity exited by industry, one panel per unit (万吨/年 and 万重量箱/年 never share
    an axis)."""
    font = font or chart_font()
    panels = max(1, len(summary.capacity))
    figure = _figure(height=1.6 + 2.2 * panels)
    grid = figure.add_gridspec(panels, 1)
    _capacity_panels(figure, [grid[i, 0] for i in range(panels)], summary, tr, year, font)
    figure.suptitle(title, fontproperties=_props(font, 13))
    return _png(figure)


def render_overdue_chart(overdue: Sequence[tuple[str, int]], tr: Translator, *, title: str,
                         font: Path | None = None) -> bytes:
    """Overdue cases per county or park, ``overdue`` in the order to draw (top first)."""
    font = font or chart_font()
    figure = _figure(height=max(3.0, 1.4 + 0.4 * len(overdue)))
    ax = figure.add_subplot()
    if overdue:
        _draw_bars(ax, [name for name, _ in overdue], [count for _, count in overdue],
                   [fmt_number(count, tr) for _, count in overdue], color=OVERDUE_COLOR,
                   xlabel=tr.gettext(N_("overdue cases")), font=font, integer=True)
    else:
        _draw_empty(ax, tr.gettext(N_("No overdue cases.")), font)
    figure.suptitle(title, fontproperties=_props(font, 13))
    return _png(figure)


# -- the /status picture, for a phone ----------------------------------------------------------


def _pt(px: float) -> float:
    """Points for a size in pixels of the phone picture."""
    return px * 72 / PHONE_DPI


def text_width_px(text: str, font: Path, px: float = LABEL_PX) -> float:
    """How wide ``text`` is drawn at ``px`` pixels per em in the phone picture."""
    ft = get_font(str(font))
    ft.set_size(_pt(px), PHONE_DPI)
    ft.set_text(text, 0.0)
    return ft.get_width_height()[0] / 64


# A Latin word or number (with the spaces after it), or any one other character.
_TOKEN = re.compile(r"[0-9A-Za-zÀ-ɏ][0-9A-Za-zÀ-ɏ_.,'’/()\-]*\s*|\s+|.")
_NO_LINE_START = set("，。、：；！？）》」』,.:;!?)%")


def wrap(text: str, font: Path, px: float, width_px: float) -> str:
    """``text`` broken into lines no wider than ``width_px`` (between Latin words or between
    Chinese characters, never before closing punctuation)."""
    lines: list[str] = []
    line = ""
    for token in _TOKEN.findall(text):
        if line.strip() and token[0] not in _NO_LINE_START and \
                text_width_px((line + token).rstrip(), font, px) > width_px:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line += token
    lines.append(line.rstrip())
    return "\n".join(lines)


@dataclass(frozen=True)
class _Panel:
    """One panel of the phone picture: its number of bar rows and how to draw it."""

    rows: int
    draw: Callable[[Axes], None]


@dataclass(frozen=True)
class _Phone:
    font: Path
    tr: Translator

    def props(self, px: float = LABEL_PX) -> FontProperties:
        return _props(self.font, _pt(px))

    def panel_title(self, ax: Axes, title: str) -> None:
        """The title above a panel, from the picture's left margin across its width."""
        ax.annotate(wrap(title, self.font, LABEL_PX, PHONE_WIDTH_PX - 2 * _MARGIN_PX),
                    xy=(_MARGIN_PX / PHONE_WIDTH_PX, 1), xycoords=("figure fraction",
                                                                  "axes fraction"),
                    xytext=(0, 14), textcoords="offset pixels", ha="left", va="bottom",
                    fontproperties=self.props(), color=_INK, annotation_clip=False)

    def empty(self, ax: Axes, text: str) -> None:
        """A panel with nothing to draw: says so, from the picture's left margin."""
        ax.set_axis_off()
        ax.annotate(wrap(text, self.font, LABEL_PX, PHONE_WIDTH_PX - 2 * _MARGIN_PX),
                    xy=(_MARGIN_PX / PHONE_WIDTH_PX, 0.5), xycoords=("figure fraction",
                                                                    "axes fraction"),
                    ha="left", va="center", fontproperties=self.props(), color="#4a5568",
                    annotation_clip=False)

    def axes(self, ax: Axes, labels: Sequence[str], top: float) -> None:
        """Category axis on the left (first item on top), no value axis: values are written
        on the bars."""
        positions = list(range(len(labels)))
        ax.set_yticks(positions, labels=list(labels))
        ax.set_ylim(len(labels) - 0.5, -0.5)
        ax.set_xlim(0, top * 1.3 if top > 0 else 1)
        ax.xaxis.set_visible(False)
        ax.tick_params(axis="y", length=0, pad=10, colors=_INK)
        ax.spines[["top", "right", "bottom"]].set_visible(False)
        for label in ax.get_yticklabels():
            label.set_fontproperties(self.props())

    def bars(self, ax: Axes, labels: Sequence[str], values: Sequence[float],
             texts: Sequence[str], *, color: str, title: str) -> None:
        self.panel_title(ax, title)
        bars = ax.barh(list(range(len(labels))), list(values), height=0.62, color=color)
        self.axes(ax, labels, max(values, default=0))
        ax.bar_label(bars, labels=list(texts), padding=6, fontproperties=self.props(),
                     color=_INK)

    def capacity_panels(self, summary: Summary, year: int) -> list[_Panel]:
        tr = self.tr
        if not summary.capacity:
            return [_Panel(1, lambda ax: self.empty(
                ax, tr.gettext(N_("No capacity exited in {year}."), year=year)))]
        panels = []
        for unit in (q.unit for q in summary.capacity):
            lines = _capacity_lines(summary, unit)
            title = (tr.gettext(N_("Capacity exited ({unit})"), unit=unit) if unit
                     else tr.gettext(N_("capacity (no unit given)")))

            def draw(ax: Axes, lines: list[tuple[str, Decimal]] = lines,
                     title: str = title) -> None:
                self.bars(ax, [industry_label(industry, tr) for industry, _ in lines],
                          [float(amount) for _, amount in lines],
                          [fmt_number(amount, tr) for _, amount in lines],
                          color=CAPACITY_COLOR, title=title)
            panels.append(_Panel(len(lines), draw))
        return panels

    def overdue_panel(self, overdue: Sequence[tuple[str, int]]) -> _Panel:
        tr = self.tr
        if not overdue:
            return _Panel(1, lambda ax: self.empty(ax, tr.gettext(N_("No overdue cases."))))
        return _Panel(len(overdue), lambda ax: self.bars(
            ax, [name for name, _ in overdue], [count for _, count in overdue],
            [fmt_number(count, tr) for _, count in overdue], color=OVERDUE_COLOR,
            title=tr.gettext(N_("Overdue cases"))))

    def clause_panel(self, tallies: Sequence[ClauseTally]) -> _Panel:
        """One stacked bar per clause: open and on time, overdue, closed; each part's count
        inside it where it fits, the clause's total at the end."""
        tr = self.tr

        def draw(ax: Axes) -> None:
            self.panel_title(ax, tr.gettext(N_("Cases by clause")))
            positions = list(range(len(tallies)))
            left = [0] * len(tallies)
            for part, color, ink in (("on_time", ON_TIME_COLOR, "white"),
                                     ("overdue", OVERDUE_COLOR, "white"),
                                     ("closed", CLOSED_COLOR, _INK)):
                counts = [getattr(tally, part) for tally in tallies]
                bars = ax.barh(positions, counts, left=left, height=0.62, color=color,
                               label=part)
                ax.bar_label(bars, labels=[fmt_number(n, tr) if n else "" for n in counts],
                             label_type="center", fontproperties=self.props(), color=ink,
                             gid="segment")
                left = [a + b for a, b in zip(left, counts, strict=True)]
            self.axes(ax, [_clause_label(tally.clause, tr) for tally in tallies],
                      max((t.total for t in tallies), default=0))
            ax.bar_label(bars, labels=[fmt_number(t.total, tr) for t in tallies], padding=6,
                         fontproperties=self.props(), color=_INK)

        return _Panel(len(tallies), draw)

    def legend(self, figure: Figure) -> None:
        tr = self.tr
        handles = [Patch(color=ON_TIME_COLOR, label=tr.gettext(N_("open, on time"))),
                   Patch(color=OVERDUE_COLOR, label=tr.gettext(N_("overdue"))),
                   Patch(color=CLOSED_COLOR, label=tr.gettext(N_("closed")))]
        figure.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False,
                      prop=self.props(), handlelength=0.9, handleheight=0.9,
                      columnspacing=1.2, labelcolor=_INK)


def _clause_label(clause: str, tr: Translator) -> str:
    """（四）能耗: the clause and what it is about."""
    workflow = WORKFLOWS.get(clause)
    return f"（{clause}）{tr.gettext(workflow.title)}" if workflow else f"（{clause}）"


def _drop_labels_that_do_not_fit(figure: Figure) -> None:
    """Remove the counts written inside stacked bars where the part is too short for them
    (the bars are taller than the digits: :data:`_MIN_ROW_PX` x 0.62 > 30 px)."""
    figure.draw_without_rendering()
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    for ax in figure.axes:
        bars = [c for c in ax.containers if isinstance(c, BarContainer)]
        segments = [t for t in ax.texts if t.get_gid() == "segment"]
        patches = [patch for container in bars for patch in container.patches]
        for text, patch in zip(segments, patches, strict=False):
            room = patch.get_window_extent(renderer)
            need = text.get_window_extent(renderer)
            if text.get_text() and need.width + 12 > room.width:
                text.remove()


def _phone_height(title_lines: int, panels: Sequence[_Panel], legend: bool) -> int:
    """Square when little is shown, taller for more rows up to 4:5, taller still (with rows
    squeezed to the least) only when even that does not fit."""
    fixed = (_MARGIN_PX * 2 + title_lines * TITLE_PX * 1.3 + _PANEL_PX * len(panels)
             + (_LEGEND_PX if legend else 0))
    rows = sum(panel.rows for panel in panels)
    row = max(_MIN_ROW_PX, min(_ROW_PX, (PHONE_MAX_HEIGHT_PX - fixed) / rows))
    height = max(PHONE_WIDTH_PX, fixed + rows * row)
    return int(-(-height // _HEIGHT_STEP_PX) * _HEIGHT_STEP_PX)


def _phone_chart(title: str, panels: Sequence[_Panel], phone: _Phone, *,
                 legend: bool = False) -> Figure:
    title = wrap(title, phone.font, TITLE_PX, PHONE_WIDTH_PX - 2 * _MARGIN_PX)
    height = _phone_height(title.count("\n") + 1, panels, legend)
    pad = _MARGIN_PX / PHONE_DPI
    figure = Figure(figsize=(PHONE_WIDTH_PX / PHONE_DPI, height / PHONE_DPI), dpi=PHONE_DPI,
                    layout=ConstrainedLayoutEngine(w_pad=pad, h_pad=pad / 2, hspace=0.04))
    FigureCanvasAgg(figure)
    figure.suptitle(title, x=_MARGIN_PX / PHONE_WIDTH_PX, ha="left",
                    fontproperties=phone.props(TITLE_PX), color=_INK)
    grid = figure.add_gridspec(len(panels), 1, height_ratios=[
        panel.rows * _ROW_PX + _PANEL_PX for panel in panels])
    for i, panel in enumerate(panels):
        panel.draw(figure.add_subplot(grid[i, 0]))
    if legend:
        phone.legend(figure)
    _drop_labels_that_do_not_fit(figure)
    return figure


@dataclass(frozen=True)
class StatusChart:
    """The ``/status`` picture and the caption that says what it shows."""

    png: bytes
    caption: str
    width: int
    height: int


def status_figure(figures: StatusFigures, tr: Translator, *, title_place: str, today: date,
                  region: str | None = None, font: Path | None = None) -> tuple[Figure, str]:
    """The ``/status`` picture as a matplotlib figure, and its caption."""
    phone = _Phone(font or chart_font(), tr)
    year, as_of = today.year, fmt_date(today, tr)
    panels = phone.capacity_panels(figures.summary, year)
    if region is None:
        title = tr.gettext(N_("{prefecture}: capacity exited in {year} and overdue cases"),
                           prefecture=title_place, year=year)
        caption = tr.gettext(N_("{prefecture}, {year}: capacity exited by industry, and "
                                "overdue cases by county and park as of {date}."),
                             prefecture=title_place, year=year, date=as_of)
        return _phone_chart(title, [*panels, phone.overdue_panel(figures.overdue)],
                            phone), caption
    title = tr.gettext(N_("{region}: capacity exited in {year} and cases by clause"),
                       region=region, year=year)
    caption = tr.gettext(N_("{region}, {year}: capacity exited by industry, and cases by "
                            "clause (open and on time, overdue, closed) as of {date}."),
                         region=region, year=year, date=as_of)
    return _phone_chart(title, [*panels, phone.clause_panel(figures.by_clause)], phone,
                        legend=True), caption


def status_chart(figures: StatusFigures, tr: Translator, *, title_place: str, today: date,
                 region: str | None = None, font: Path | None = None) -> StatusChart:
    """The ``/status`` picture for the prefecture (``title_place`` its name), or for one
    county or park, sized for a phone; a :class:`DubanError` when no Chinese font is usable."""
    figure, caption = status_figure(figures, tr, title_place=title_place, today=today,
                                    region=region, font=font)
    png = _png(figure)
    width, height = figure.canvas.get_width_height()
    return StatusChart(png=png, caption=caption, width=width, height=height)

