"""Charts: a real CJK font loaded by path, Chinese drawn as glyphs (not boxes), valid PNGs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import BytesIO
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.image import imread

from bot.core.i18n import DubanError
from bot.render.reports.charts import (
    FONT_ENV,
    find_cjk_font,
    has_cjk_glyphs,
    render_capacity_chart,
    render_overdue_chart,
    render_status_chart,
    status_chart,
)
from bot.services.reports import CaseRow, ReportService, overdue_by_region, summarize
from tests.conftest import Services
from tests.test_reports import EN, ZH, build_year

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DEJAVU = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


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


def test_the_font_found_is_a_cjk_font() -> None:
    font = find_cjk_font(environ={})
    assert font.is_file()
    assert has_cjk_glyphs(font)
    assert not has_cjk_glyphs(DEJAVU)  # the test can tell a CJK font from a Latin one


def test_chinese_is_drawn_as_glyphs_not_boxes() -> None:
    """A font without the characters draws the same box for every one of them; a CJK font
    draws each character differently."""
    font = find_cjk_font(environ={})
    steel, coal = draw_text("钢", font), draw_text("煤", font)
    assert not np.array_equal(steel, coal)
    assert (steel[..., :3] < 0.5).any()  # ink on the page
    with pytest.warns(UserWarning, match="missing from font"):
        box_steel, box_coal = draw_text("钢", DEJAVU), draw_text("煤", DEJAVU)
    assert np.array_equal(box_steel, box_coal)
    assert not np.array_equal(steel, box_steel)


def test_no_font_is_a_clear_error_naming_the_install_step(tmp_path: Path) -> None:
    with pytest.raises(DubanError, match="apt-get install -y fonts-wqy-microhei"):
        find_cjk_font(environ={}, candidates=[str(tmp_path / "missing.ttc")])
    with pytest.raises(DubanError, match=FONT_ENV):
        find_cjk_font(environ={FONT_ENV: str(DEJAVU)})
    chosen = find_cjk_font(environ={})
    assert find_cjk_font(environ={FONT_ENV: str(chosen)}, candidates=[]) == chosen


def test_capacity_chart_is_a_real_picture() -> None:
    summary = summarize([row("steel", "30", "万吨/年"), row("cement", "60", "万吨/年"),
                         row("flat_glass", "120", "万重量箱/年")])
    png = render_capacity_chart(summary, ZH, year=2026, title="2026年分行业退出产能")
    image = pixels(png)
    height, width = image.shape[:2]
    assert width >= 1000 and height >= 600
    colours = {tuple(p) for p in image.reshape(-1, image.shape[-1])[::7].round(2).tolist()}
    assert len(colours) > 20  # bars, text and anti-aliasing, not a blank page
    blue = np.array([0x2B, 0x6C, 0xB0]) / 255
    assert (np.abs(image[..., :3] - blue).sum(axis=-1) < 0.02).sum() > 1000  # the bars


def test_empty_and_overdue_charts_render() -> None:
    empty = pixels(render_capacity_chart(summarize([]), EN, year=2030, title="2030"))
    assert empty.shape[0] > 100
    overdue = render_overdue_chart([("玛纳斯县", 3), ("木垒哈萨克自治县", 1)], ZH,
                                   title="逾期事项")
    assert pixels(overdue).shape[1] >= 1000
    assert pixels(render_overdue_chart([], EN, title="none")).shape[0] > 100


def test_status_chart_returns_png_bytes() -> None:
    summary = summarize([row("coal", "45", "万吨/年")])
    png = render_status_chart(summary, [("阜康市", 2)], ZH, year=2026, title="昌州")
    assert isinstance(png, bytes) and len(png) > 10_000
    assert pixels(png).shape[1] > pixels(render_overdue_chart([], ZH, title="x")).shape[1]


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


async def test_status_chart_from_the_database(services: Services) -> None:
    await build_year(services)
    org = await services.org.current()
    today = date(2026, 12, 20)
    reports = ReportService(services.cases.sessions)
    whole = status_chart(await reports.status_figures(org, today=today), ZH,
                         title_place=org.prefecture.name, today=today)
    county = status_chart(await reports.status_figures(org, today=today, region="玛纳斯县"),
                          ZH, title_place=org.prefecture.name, today=today, region="玛纳斯县")
    assert pixels(whole).shape[0] > 100 and pixels(county).shape[0] > 100
    assert whole != county
