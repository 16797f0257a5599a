"""Charts: a real CJK font loaded by path (the packaged one works alone), Chinese drawn as
glyphs (not boxes), valid PNGs, and a ``/status`` picture readable on a phone."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import matplotlib
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, fontManager
from matplotlib.ft2font import FT2Font
from matplotlib.image import imread

from bot.core.i18n import DubanError, Translator
from bot.render.reports import charts
from bot.render.reports.charts import (
    CLOSED_COLOR,
    FONT_ENV,
    MIN_LABEL_PX,
    ON_TIME_COLOR,
    OVERDUE_COLOR,
    PHONE_MAX_HEIGHT_PX,
    PHONE_WIDTH_PX,
    StatusChart,
    chart_font,
    find_cjk_font,
    has_cjk_glyphs,
    packaged_font,
    render_capacity_chart,
    render_overdue_chart,
    status_chart,
    wrap,
)
from bot.services.reports import (
    CaseRow,
    ClauseTally,
    ReportService,
    StatusFigures,
    all_open_cases,
    overdue_by_region,
    summarize,
)
from bot.services.status import StatusService
from tests.conftest import Services
from tests.test_reports import EN, ZH, build_year

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DEJAVU = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
TODAY = date(2026, 12, 20)
REGIONS = ("昌吉市", "阜康市", "呼图壁县", "玛纳斯县", "奇台县", "吉木萨尔县", "木垒哈萨克自治县",
           "准东经济技术开发区", "昌吉高新技术产业开发区")


def row(industry: str, capacity: str, unit: str, region: str = "玛纳斯县",
        state: str = "exited", deadline: date | None = None) -> CaseRow:
    return CaseRow(ref=f"{industry}-{capacity}", region=region, enterprise="某企业",
                   industry=industry, clause="四", state=state, capacity=Decimal(capacity),
                   exited_capacity=None, unit=unit, equipment=None,
                   registered_on=date(2026, 1, 5), deadline=deadline, due_on=deadline,
                   closed_on=date(2026, 6, 1) if state == "exited" else None)


def pixels(png: bytes) -> np.ndarray:
    assert png.startswith(PNG_MAGIC)
    return imread(BytesIO(png), format="png")


def draw_text(text: str, font: Path) -> np.ndarray:
    figure = Figure(figsize=(1.2, 0.6), dpi=100)
    FigureCanvasAgg(figure)
    figure.text(0.1, 0.25, text, fontproperties=FontProperties(fname=str(font), size=24))
    buffer = BytesIO()
    figure.savefig(buffer, format="png")
    return pixels(buffer.getvalue())


def count_colour(image: np.ndarray, colour: str) -> int:
    rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255
    return int((np.abs(image[..., :3] - rgb).sum(axis=-1) < 0.02).sum())


# -- the font -----------------------------------------------------------------------------------


def test_the_font_found_is_a_cjk_font() -> None:
    font = find_cjk_font(environ={})
    assert font.is_file()
    assert has_cjk_glyphs(font)
    assert not has_cjk_glyphs(DEJAVU)  # the test can tell a CJK font from a Latin one


def test_the_packaged_font_is_found_without_any_system_font() -> None:
    """A fresh machine with only Python and pip: no system font, the dependency's font."""
    shipped = packaged_font()
    assert shipped is not None and shipped.name == "NotoSansSC-Regular.otf"
    assert shipped.parent.name == "pylopdf_fonts_zh_cn"
    assert find_cjk_font(environ={}, candidates=()) == shipped
    assert has_cjk_glyphs(shipped, "昌吉回族自治州木垒哈萨克自治县准东经济技术开发区（四）（九）")
    assert "SIL Open Font License" in FT2Font(str(shipped)).get_sfnt()[(3, 1, 0x409, 13)].decode(
        "utf-16-be")


def test_chinese_is_drawn_as_glyphs_not_boxes_with_the_packaged_font() -> None:
    """A font without the characters draws the same box for every one of them; a CJK font
    draws each character differently."""
    font = find_cjk_font(environ={}, candidates=())
    assert font == packaged_font()
    steel, coal = draw_text("钢", font), draw_text("煤", font)
    assert not np.array_equal(steel, coal)
    assert (steel[..., :3] < 0.5).any()  # ink on the page
    with pytest.warns(UserWarning, match="missing from font"):
        box_steel, box_coal = draw_text("钢", DEJAVU), draw_text("煤", DEJAVU)
    assert np.array_equal(box_steel, box_coal)
    assert not np.array_equal(steel, box_steel)


def test_a_system_font_is_the_fallback_and_no_font_is_a_clear_error(tmp_path: Path) -> None:
    shipped = packaged_font()
    assert shipped is not None
    missing = str(tmp_path / "missing.ttc")
    # Without the package, the first system font that has the characters.
    assert find_cjk_font(environ={}, candidates=[missing, str(DEJAVU), str(shipped)],
                         packaged=lambda: None) == shipped
    with pytest.raises(DubanError, match="pip install pylopdf-fonts-zh-cn") as raised:
        find_cjk_font(environ={}, candidates=[missing], packaged=lambda: None)
    assert "apt-get install -y fonts-wqy-microhei" in str(raised.value)
    with pytest.raises(DubanError, match=FONT_ENV):
        find_cjk_font(environ={FONT_ENV: str(DEJAVU)})
    assert find_cjk_font(environ={FONT_ENV: str(shipped)}, candidates=[]) == shipped


def test_the_chart_font_is_registered_with_matplotlib() -> None:
    font = chart_font()
    assert str(font) in {entry.fname for entry in fontManager.ttflist}
    assert chart_font() == font  # registered once


def test_a_chart_without_a_usable_font_is_an_error_not_dropped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FONT_ENV, str(DEJAVU))
    with pytest.raises(DubanError, match=FONT_ENV):
        status_chart(StatusFigures(summarize([]), ()), ZH, title_place="昌州", today=TODAY)


# -- the reports' charts ------------------------------------------------------------------------


def test_capacity_chart_is_a_real_picture() -> None:
    summary = summarize([row("steel", "30", "万吨/年"), row("cement", "60", "万吨/年"),
                         row("flat_glass", "120", "万重量箱/年")])
    png = render_capacity_chart(summary, ZH, year=2026, title="2026年分行业退出产能")
    image = pixels(png)
    height, width = image.shape[:2]
    assert width >= 1000 and height >= 600
    colours = {tuple(p) for p in image.reshape(-1, image.shape[-1])[::7].round(2).tolist()}
    assert len(colours) > 20  # bars, text and anti-aliasing, not a blank page
    assert count_colour(image, "#2b6cb0") > 1000  # the bars


def test_empty_and_overdue_charts_render() -> None:
    empty = pixels(render_capacity_chart(summarize([]), EN, year=2030, title="2030"))
    assert empty.shape[0] > 100
    overdue = render_overdue_chart([("玛纳斯县", 3), ("木垒哈萨克自治县", 1)], ZH,
                                   title="逾期事项")
    assert pixels(overdue).shape[1] >= 1000
    assert pixels(render_overdue_chart([], EN, title="none")).shape[0] > 100


def test_overdue_by_region_counts_and_orders() -> None:
    rows = [row("cement", "1", "t", region="阜康市", state="rectifying",
                deadline=date(2026, 5, 1)),
            row("cement", "2", "t", region="玛纳斯县", state="overdue",
                deadline=date(2026, 4, 1)),
            row("cement", "3", "t", region="玛纳斯县", state="rectifying",
                deadline=date(2026, 5, 1)),
            row("cement", "4", "t", region="昌吉市", state="rectifying",
                deadline=date(2026, 12, 1)),
            row("cement", "5", "t", region="昌吉市")]
    assert overdue_by_region(rows, date(2026, 6, 1), ["玛纳斯县", "阜康市"]) == [
        ("玛纳斯县", 2), ("阜康市", 1)]


# -- the /status picture, for a phone -----------------------------------------------------------


@dataclass(frozen=True)
class Drawn:
    """One text as the renderer drew it: its glyphs' height and where it lies, in pixels."""

    text: str
    font: str
    ink_px: float
    left: float
    right: float


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Drawn]]:
    """Every text the Agg renderer draws (not what a figure holds: only what reaches the
    picture), measured as drawn."""
    found: list[Drawn] = []
    original = RendererAgg.draw_text

    def spy(self: RendererAgg, gc: Any, x: float, y: float, s: str, prop: FontProperties,
            angle: float, ismath: bool = False, mtext: Any = None) -> None:
        if s.strip():
            width, height, _ = self.get_text_width_height_descent(s, prop, ismath)
            assert angle == 0
            found.append(Drawn(s, str(prop.get_file()), height, x, x + width))
        original(self, gc, x, y, s, prop, angle, ismath, mtext)

    monkeypatch.setattr(RendererAgg, "draw_text", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a glyph missing from the font is a failure
        yield found


def crowded(region: str | None) -> StatusFigures:
    """Two units, every industry, every county overdue: the most a prefecture shows."""
    summary = summarize([row("steel", "30", "万吨/年"), row("coal", "120", "万吨/年"),
                         row("cement", "260", "万吨/年"),
                         row("electrolytic_aluminium", "12.5", "万吨/年"),
                         row("other", "3", "万吨/年"), row("flat_glass", "120", "万重量箱/年")])
    if region is None:
        return StatusFigures(summary, tuple((name, i + 1) for i, name in enumerate(REGIONS)))
    return StatusFigures(summary, ((region, 6),), (
        ClauseTally("四", 5, 2, 8), ClauseTally("五", 1, 0, 3), ClauseTally("六"),
        ClauseTally("七", 12, 4, 1), ClauseTally("八", 0, 1, 0), ClauseTally("九", 3, 3, 20)))


def render(figures: StatusFigures, tr: Translator, region: str | None) -> StatusChart:
    return status_chart(figures, tr, title_place="昌吉回族自治州", today=TODAY, region=region)


@pytest.mark.parametrize("region", [None, "木垒哈萨克自治县"])
@pytest.mark.parametrize("tr", [ZH, EN], ids=["zh", "en"])
def test_status_picture_fits_a_phone_with_large_text(drawn: list[Drawn], tr: Translator,
                                                      region: str | None,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """1080 px wide, square to 4:5, every text at least 28 px tall and inside the picture,
    all drawn with the packaged font alone and with no glyph missing."""
    monkeypatch.delenv(FONT_ENV, raising=False)
    monkeypatch.setattr(charts, "FONT_CANDIDATES", ())  # no system font
    shipped = packaged_font()
    assert shipped is not None
    chart = render(crowded(region), tr, region)
    image = pixels(chart.png)
    assert image.shape[:2] == (chart.height, chart.width)
    assert chart.width == PHONE_WIDTH_PX and PHONE_WIDTH_PX <= chart.height <= \
        PHONE_MAX_HEIGHT_PX
    assert drawn, "no text drawn"
    smallest = min(drawn, key=lambda d: d.ink_px)
    assert smallest.ink_px >= MIN_LABEL_PX, smallest
    assert {d.font for d in drawn} == {str(shipped)}
    glyphs = FT2Font(str(shipped))
    assert all(glyphs.get_char_index(ord(ch)) for d in drawn for ch in d.text if ch.strip())
    assert all(0 <= d.left and d.right <= chart.width for d in drawn), [
        d for d in drawn if d.left < 0 or d.right > chart.width]
    texts = {d.text for d in drawn}
    assert texts >= ({"钢铁", "平板玻璃", "260", "12.5"} if tr is ZH else {"flat glass", "260"})
    if region is None:
        assert texts >= {*REGIONS, "9"}
        assert count_colour(image, ON_TIME_COLOR) == 0
    else:
        assert texts >= ({"（四）能耗", "（九）产能退出", "已逾期", "15", "26"} if tr is ZH
                         else {"overdue", "closed", "15", "26"})
        assert texts >= {"12", "20"}  # counts written inside the parts wide enough for them
        for colour in (ON_TIME_COLOR, OVERDUE_COLOR, CLOSED_COLOR):
            assert count_colour(image, colour) > 2000, colour


def test_caption_says_what_the_picture_shows() -> None:
    whole = render(crowded(None), ZH, None)
    county = render(crowded("木垒哈萨克自治县"), EN, "木垒哈萨克自治县")
    assert whole.caption.startswith("昌吉回族自治州") and "2026" in whole.caption
    assert county.caption.startswith("木垒哈萨克自治县")
    for part in ("by industry", "by clause", "open and on time", "overdue", "closed",
                 "Dec 20, 2026"):
        assert part in county.caption
    assert "by county and park" in render(crowded(None), EN, None).caption


def test_a_small_picture_is_square_and_a_crowded_one_grows_at_most_to_4_by_5() -> None:
    empty = render(StatusFigures(summarize([]), ()), ZH, None)
    assert (empty.width, empty.height) == (PHONE_WIDTH_PX, PHONE_WIDTH_PX)
    assert render(crowded(None), ZH, None).height == PHONE_MAX_HEIGHT_PX
    zeros = StatusFigures(summarize([]), (), tuple(ClauseTally(c) for c in "四五六七八九"))
    assert render(zeros, ZH, "玛纳斯县").height == PHONE_WIDTH_PX


def test_wrap_breaks_long_titles_between_words_or_characters() -> None:
    font = chart_font()
    title = "木垒哈萨克自治县：2026年退出产能及分条款事项，截至2026年12月20日"
    lines = wrap(title, font, 50, 600).split("\n")
    assert len(lines) > 1 and "".join(lines) == title
    assert not any(line[0] in "，。：）" for line in lines)
    english = wrap("capacity exited in 2026 and overdue cases", font, 50, 500).split("\n")
    assert " ".join(english) == "capacity exited in 2026 and overdue cases"
    assert wrap("短", font, 50, 600) == "短"
    # A number before Chinese does not glue the Chinese into one unbreakable word.
    assert wrap("2026年退出产能及逾期事项", font, 50, 400).split("\n")[0].startswith("2026年")
    assert len(wrap("2026年退出产能及逾期事项", font, 50, 400).split("\n")) > 1


async def test_status_chart_from_the_database(services: Services) -> None:
    await build_year(services)
    org = await services.org.current()
    reports = ReportService(services.cases.sessions)
    whole_figures = await reports.status_figures(org, today=TODAY)
    county_figures = await reports.status_figures(org, today=TODAY, region="玛纳斯县")
    whole = status_chart(whole_figures, ZH, title_place=org.prefecture.name, today=TODAY)
    county = status_chart(county_figures, ZH, title_place=org.prefecture.name, today=TODAY,
                          region="玛纳斯县")
    assert pixels(whole.png).shape[1] == PHONE_WIDTH_PX
    assert pixels(county.png).shape[1] == PHONE_WIDTH_PX
    assert whole.png != county.png and whole.caption != county.caption
    assert whole_figures.by_clause == ()
    # The overdue counts (now grouped in the database) are those of the one definition …
    rows = await all_open_cases(services.cases.sessions, org=org)
    assert list(whole_figures.overdue) == overdue_by_region(rows, TODAY,
                                                            [r.name for r in org.regions])
    # … and the county's clause tallies are what the /status text says.
    status = await StatusService(services.cases.sessions, ZoneInfo("Asia/Shanghai")).status(
        TODAY, "玛纳斯县")
    tallies = {t.clause: t for t in county_figures.by_clause}
    assert [t.clause for t in county_figures.by_clause] == list("四五六七八九")
    for clause, tally in tallies.items():
        assert tally.on_time + tally.overdue == status.open_by_clause.get(clause, 0)
        assert tally.overdue == status.overdue_by_clause.get(clause, 0)
        assert tally.closed == status.closed_by_clause.get(clause, 0)
    assert sum(t.total for t in tallies.values()) == status.open + status.closed > 0
    assert county_figures.summary.enterprises == 4  # 玛纳斯县's exits in 2026
