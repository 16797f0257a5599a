"""The 30 November county report, the 31 December letters and the 31 January summary, on a
real database (SQLite and PostgreSQL): every figure in the .xlsx and .docx is checked against
the cases as stored."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from docx import Document as open_docx
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import RGBColor
from openpyxl import load_workbook

from bot.core.casefile import CaseInput
from bot.core.clock import local_today
from bot.core.i18n import DubanError, Translator, get_translator
from bot.core.policy.catalog import load_default_catalog
from bot.core.workflow import Actor, Need, State, StepInput, workflow_for
from bot.render.reports import Heading, Paragraph
from bot.render.reports.county import write_county_report
from bot.render.reports.docx_util import (
    BODY_FONT,
    LANDSCAPE_WIDTH_PT,
    TEXT_WIDTH_PT,
    TITLE_FONT,
    cell_text,
    table_layout,
    text_em,
    title_lines,
    write_docx,
)
from bot.render.reports.letters import write_letter, write_summary
from bot.render.reports.official import OfficialDocument, SubHeading
from bot.render.reports.xlsx_util import write_xlsx
from bot.render.texts import fmt_date, fmt_number, industry_label
from bot.services.cases import Who, is_overdue
from bot.services.reports import INDUSTRY_ORDER, load_county_report, load_letter, load_summary
from bot.services.reports import is_overdue as is_overdue_row
from models.tables import Case
from tests.conftest import COORDINATOR, Services

SHANGHAI = ZoneInfo("Asia/Shanghai")
EN = get_translator("en")
ZH = get_translator("zh")

# The steps that take a case of each clause from routed to exited; "*" marks joint steps,
# which every required department takes.
_EXIT_PATHS: dict[str, tuple[str, ...]] = {
    "四": ("accept*", "order_rectification", "report_failed", "measures", "confirm_exit*"),
    "五": ("accept*", "order_restriction", "request_closure", "confirm_closure_approved",
          "measures", "confirm_exit*"),
    "七": ("accept*", "order_stop", "report_failed", "measures", "confirm_exit*"),
    "八": ("accept*", "confirm_dismantled*"),
}


def liaison(department: str) -> Who:
    return Who(role="liaison", name=f"联络员{department}", telegram_id=90000,
               department=department)


def case_input(ref: str, *, region: str = "玛纳斯县", industry: str = "cement",
               clause: str = "四", capacity: str | None = "60", unit: str | None = "万吨/年",
               enterprise: str | None = None, equipment: str | None = "熟料生产线1条",
               description: str = "能耗超过限额标准") -> CaseInput:
    return CaseInput(
        ref=ref, region=region, enterprise=enterprise or f"{region}{ref}企业",
        industry=industry, clauses=(clause,),
        capacity=Decimal(capacity) if capacity is not None else None, unit=unit,
        equipment=equipment, registered_on=date(2026, 3, 1), description=description, row=2,
    )


async def take(services: Services, ref: str, name: str, *, capacity: float | None) -> None:
    """Take step ``name`` (``measures``: every exit measure) the way liaisons would."""
    view = await services.cases.get(ref)
    workflow = workflow_for(view.case.clause)
    if name == "measures":
        for measure in workflow.measures:
            await take(services, ref, f"measure:{measure.value}", capacity=capacity)
        return
    joint = name.endswith("*")
    step = workflow.step(name.rstrip("*"))
    departments = sorted(view.required_departments)
    today = local_today(services.clock)
    on = today + timedelta(days=30) if Need.FUTURE_DATE in step.needs else today
    for department in departments if joint else departments[:1]:
        action = StepInput(step=step.name, actor=Actor.DEPARTMENT, department=department,
                           evidence=("doc:1",), on=on, capacity=capacity, note="依法关停",
                           reason="仍不达标")
        await services.cases.take_step(ref, action, liaison(department))


async def exit_case(services: Services, item: CaseInput, *, exited: str | None = None) -> None:
    """Import ``item`` and take it through its workflow to exited (``exited``: the capacity
    confirmed at exit, else the registered one)."""
    await services.cases.import_cases([item], COORDINATOR)
    figure = exited if exited is not None else (str(item.capacity) if item.capacity else "0")
    for name in _EXIT_PATHS[item.clauses[0]]:
        await take(services, item.ref, name, capacity=float(figure))
    assert (await services.cases.get(item.ref)).case.state == State.EXITED


async def rectifying_case(services: Services, item: CaseInput) -> None:
    """Import an energy case and order rectification: a yellow-card case."""
    await services.cases.import_cases([item], COORDINATOR)
    for name in ("accept*", "order_rectification"):
        await take(services, item.ref, name, capacity=None)


async def build_year(services: Services) -> None:
    """A year of work in 昌州: exits in two counties, open and overdue cases, one exit that
    falls in 2027 by local time although it is still 2026 in UTC."""
    await exit_case(services, case_input("S-1", industry="steel", clause="八", capacity="30",
                                         equipment="中频炉2台（0.5吨）"), exited="28.5")
    await exit_case(services, case_input("C-1", industry="cement", clause="四"))
    await exit_case(services, case_input("C-2", industry="cement", clause="七", capacity="12"))
    await exit_case(services, case_input("G-1", industry="flat_glass", clause="五",
                                         capacity="120", unit="万重量箱/年"))
    await exit_case(services, case_input("K-1", region="阜康市", industry="coal", clause="七",
                                         capacity="45"))
    await exit_case(services, case_input("X-1", region="昌吉市", industry="chemicals",
                                         clause="八", capacity=None, unit=None))
    await rectifying_case(services, case_input("O-1", capacity="20"))
    await rectifying_case(services, case_input("O-2", region="阜康市", capacity="15"))
    await services.cases.import_cases([case_input("O-3", clause="五")], COORDINATOR)
    services.clock.set(datetime(2026, 12, 31, 16, 30, tzinfo=UTC))  # 2027-01-01 00:30 local
    await exit_case(services, case_input("N-1", industry="steel", clause="八", capacity="7"))


# -- expected figures, straight from the stored cases ---------------------------------------------


async def stored_exits(services: Services, year: int, *, region: str | None = None,
                       department: str | None = None) -> list[Case]:
    cases = await services.cases.find(region=region, states=["exited"], department=department)
    found = [c for c in cases
             if c.closed_at is not None and c.closed_at.astimezone(SHANGHAI).year == year]
    if department is not None:
        views = [await services.cases.get(c.ref) for c in found]
        found = [v.case for v in views if department in v.required_departments]
    return found


def figure(case: Case) -> Decimal | None:
    return case.exited_capacity if case.exited_capacity is not None else case.capacity


def expected_by_industry(cases: Sequence[Case]) -> dict[str, dict[str, Decimal]]:
    """industry group -> unit -> capacity."""
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for case in cases:
        group = case.industry if case.industry in INDUSTRY_ORDER else "other"
        amount = figure(case)
        if amount is not None:
            sums[group][case.unit or ""] += amount
    return sums


def per_unit(cases: Sequence[Case]) -> dict[str, Decimal]:
    """unit -> capacity over all industries."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for case in cases:
        amount = figure(case)
        if amount is not None:
            sums[case.unit or ""] += amount
    return dict(sums)


# -- reading the files back ------------------------------------------------------------------------


def xlsx_table(path: Path, headers: Sequence[str]) -> list[dict[str, Any]]:
    """The rows under the header row ``headers`` in the first sheet, until a blank row."""
    sheet = load_workbook(path).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    for index, row in enumerate(rows):
        if tuple(row[:len(headers)]) == tuple(headers):
            found = []
            for values in rows[index + 1:]:
                if all(v is None for v in values):
                    break
                found.append(dict(zip(headers, values, strict=False)))
            return found
    raise AssertionError(f"no table with headers {headers}")


def xlsx_text(path: Path) -> str:
    sheet = load_workbook(path).worksheets[0]
    return "\n".join(str(v) for row in sheet.iter_rows(values_only=True) for v in row
                     if v is not None)


def docx_table(path: Path, headers: Sequence[str]) -> list[dict[str, str]]:
    for table in open_docx(str(path)).tables:
        first = [cell.text for cell in table.rows[0].cells]
        if first == list(headers):
            return [dict(zip(headers, [c.text for c in row.cells], strict=True))
                    for row in table.rows[1:]]
    raise AssertionError(f"no table with headers {headers}")


def docx_text(path: Path) -> str:
    document = open_docx(str(path))
    return "\n".join(p.text for p in document.paragraphs)


def industry_headers(tr: Translator) -> tuple[str, ...]:
    return tuple(tr.gettext(h) for h in ("Industry", "Enterprises", "Capacity exited", "Unit"))


def exit_headers(tr: Translator, *, with_region: bool) -> tuple[str, ...]:
    names = ["No.", "Reference", *(["County or park"] if with_region else []), "Enterprise",
             "Industry", "Equipment (production line)", "Capacity exited", "Unit", "Exit date",
             "Clause"]
    return tuple(tr.gettext(n) for n in names)


def check_industry_table(rows: list[dict[str, Any]], cases: Sequence[Case], tr: Translator,
                         *, as_text: bool = False) -> None:
    """Every industry, its enterprise count and capacity per unit; the totals."""
    name, count, amount, unit = industry_headers(tr)
    sums = expected_by_industry(cases)
    counts: dict[str, int] = defaultdict(int)
    for case in cases:
        counts[case.industry if case.industry in INDUSTRY_ORDER else "other"] += 1

    def number(value: Decimal | int) -> object:
        return cell_text(value, tr) if as_text else value

    def figures(lines: list[dict[str, Any]]) -> dict[str, object]:
        """unit -> amount; an industry where nothing exited shows 0, not an empty cell."""
        if lines[0][count] == number(0):
            assert [(r[amount], r[unit]) for r in lines] == [(number(0), None if not as_text
                                                              else "")]
            return {}
        return {(r[unit] or ""): r[amount] for r in lines if r[amount] not in (None, "")}

    for industry in INDUSTRY_ORDER:
        label = industry_label(industry, tr)
        mine = [r for r in rows if r[name] == label]
        assert mine, label
        assert mine[0][count] == number(counts[industry])
        assert figures(mine) == {u: number(v) for u, v in sums[industry].items()}, label
    totals = [r for r in rows if r[name] == tr.gettext("Total")]
    assert totals[0][count] == number(len(cases))
    overall = per_unit(cases)
    assert figures(totals) == {u: number(v) for u, v in overall.items()}


# -- the county report ---------------------------------------------------------------------------


async def test_county_report_figures_match_the_database(services: Services,
                                                        tmp_path: Path) -> None:
    await build_year(services)
    org = await services.org.current()
    report = await load_county_report(services.cases.sessions, org, "玛纳斯", year=2026,
                                      today=date(2026, 11, 20))
    files = write_county_report(report, EN, tmp_path)
    expected = await stored_exits(services, 2026, region="玛纳斯县")
    assert sorted(c.ref for c in expected) == ["C-1", "C-2", "G-1", "S-1"]  # not N-1 (2027)

    check_industry_table(xlsx_table(files.xlsx, industry_headers(EN)), expected, EN)
    check_industry_table(docx_table(files.docx, industry_headers(EN)), expected, EN,
                         as_text=True)

    headers = exit_headers(EN, with_region=False)
    listed = {r[headers[1]]: r for r in xlsx_table(files.xlsx, headers) if r[headers[1]]}
    assert set(listed) == {c.ref for c in expected}
    for case in expected:
        row = listed[case.ref]
        assert row[headers[2]] == case.enterprise
        assert row[headers[4]] == case.equipment
        assert Decimal(str(row[headers[5]])) == figure(case)
        assert row[headers[6]] == case.unit
        assert case.closed_at is not None
        assert row[headers[7]].date() == case.closed_at.astimezone(SHANGHAI).date()
    assert listed["S-1"][headers[5]] == 28.5  # the capacity confirmed at exit wins
    subtotal = EN.gettext("{industry} subtotal", industry=industry_label("cement", EN))
    cement = [r for r in xlsx_table(files.xlsx, headers) if r[headers[2]] == subtotal]
    assert [(r[headers[5]], r[headers[6]]) for r in cement] == [(72, "万吨/年")]
    glass_and_tons = [r for r in xlsx_table(files.xlsx, headers)
                      if r[headers[2]] == EN.gettext("Total")]
    assert {(r[headers[6]], r[headers[5]]) for r in glass_and_tons} == {
        ("万吨/年", 100.5), ("万重量箱/年", 120)}  # units never added together

    docx_rows = docx_table(files.docx, headers)
    assert {r[headers[1]] for r in docx_rows if r[headers[1]]} == {c.ref for c in expected}
    s1 = next(r for r in docx_rows if r[headers[1]] == "S-1")
    assert s1[headers[5]] == fmt_number(Decimal("28.5"), EN)

    stored_open = [c for c in await services.cases.find(region="玛纳斯县")
                   if c.state not in ("exited", "rectified")]
    open_headers = tuple(EN.gettext(h) for h in ("No.", "Reference", "Enterprise", "Industry",
                                                 "Clause", "State", "Deadline", "Overdue"))
    open_rows = xlsx_table(files.xlsx, open_headers)
    assert {r[open_headers[1]] for r in open_rows} == {c.ref for c in stored_open}
    for row in open_rows:  # 是否逾期: yes or no, never blank
        case = next(c for c in stored_open if c.ref == row[open_headers[1]])
        assert row[open_headers[7]] == EN.gettext(
            "Yes" if is_overdue(case, date(2026, 11, 20)) else "No")

    text = docx_text(files.docx)
    assert "玛纳斯县" in text and "昌州经信委" in text
    assert EN.gettext("{region} People's Government", region="玛纳斯县") in text
    assert "工信部联产业〔2017〕30号" in text and "昌州经信〔2017〕185号" in text
    assert open_docx(str(files.docx)).inline_shapes, "the capacity chart is embedded"
    assert "2026" in files.docx.name and "玛纳斯县" in files.docx.name


async def test_county_report_in_chinese_names_the_county_and_year(services: Services,
                                                                  tmp_path: Path) -> None:
    await build_year(services)
    org = await services.org.current()
    report = await load_county_report(services.cases.sessions, org, "玛纳斯县", year=2026,
                                      today=date(2026, 11, 20))
    files = write_county_report(report, ZH, tmp_path)
    document = open_docx(str(files.docx))
    masthead, number, title = (p.text for p in document.paragraphs[:3])
    assert masthead == ZH.gettext("{region} People's Government", region="玛纳斯县")
    assert number.strip().startswith("玛纳斯县") and "2026" in number
    assert title.replace("\n", "") == ZH.gettext(
        "{issuer}: report on the exit of backward production capacity in {year}",
        issuer="玛纳斯县", year=2026)
    assert "2026年11月20日" in docx_text(files.docx)  # Babel's Chinese date
    check_industry_table(xlsx_table(files.xlsx, industry_headers(ZH)),
                         await stored_exits(services, 2026, region="玛纳斯县"), ZH)


async def test_park_report_asks_the_administrative_committee(services: Services,
                                                             tmp_path: Path) -> None:
    org = await services.org.current()
    report = await load_county_report(services.cases.sessions, org, "准东", year=2026,
                                      today=date(2026, 11, 20))
    text = docx_text(write_county_report(report, EN, tmp_path).docx)
    assert EN.gettext("{region} Administrative Committee", region="准东经济技术开发区") in text
    assert EN.gettext("{region} People's Government", region="准东经济技术开发区") not in text


async def test_a_year_without_exits_is_a_valid_report_saying_so(services: Services,
                                                                tmp_path: Path) -> None:
    org = await services.org.current()
    report = await load_county_report(services.cases.sessions, org, "玛纳斯县", year=2030,
                                      today=date(2030, 11, 20))
    files = write_county_report(report, EN, tmp_path)
    text = docx_text(files.docx)
    assert EN.gettext("In {year}, no enterprise in {region} exited or was closed by law.",
                      year=2030, region="玛纳斯县") in text
    assert EN.gettext("None.") in text
    check_industry_table(xlsx_table(files.xlsx, industry_headers(EN)), [], EN)
    assert not open_docx(str(files.docx)).inline_shapes  # no chart of nothing
    assert captions(files.docx) == [EN.gettext(
        "Table {number}. {caption}", number=1,
        caption=EN.gettext("Capacity exited in {year} by industry", year=2030))]


def captions(path: Path) -> list[str]:
    return [p.text for p in open_docx(str(path)).paragraphs if p.text.startswith("Table ")]


async def test_tables_are_numbered_without_a_gap(services: Services, tmp_path: Path) -> None:
    """No exits in 2030 but cases still open: 表1 and 表2, not 表1 and 表3."""
    await build_year(services)
    org = await services.org.current()
    report = await load_county_report(services.cases.sessions, org, "玛纳斯县", year=2030,
                                      today=date(2030, 11, 20))
    files = write_county_report(report, EN, tmp_path)
    assert [c.split(".")[0] for c in captions(files.docx)] == ["Table 1", "Table 2"]
    assert captions(files.docx)[1].endswith(EN.gettext("Open cases as of {date}",
                                                       date=fmt_date(date(2030, 11, 20), EN)))
    sheet = load_workbook(files.xlsx).worksheets[0]
    texts = [v for r in sheet.iter_rows(values_only=True) for v in r if isinstance(v, str)]
    assert [t.split(".")[0] for t in texts if t.startswith("Table ")] == ["Table 1", "Table 2"]


async def test_unknown_and_ambiguous_counties_are_clear_errors(services: Services) -> None:
    org = await services.org.current()
    with pytest.raises(DubanError, match="No county or park matches"):
        await load_county_report(services.cases.sessions, org, "火星县", year=2026,
                                 today=date(2026, 11, 20))
    with pytest.raises(DubanError, match="昌吉市") as error:
        await load_county_report(services.cases.sessions, org, "昌吉", year=2026,
                                 today=date(2026, 11, 20))
    assert "昌吉高新技术产业开发区" in str(error.value)
    with pytest.raises(DubanError, match="year"):
        await load_county_report(services.cases.sessions, org, "玛纳斯", year=1066,
                                 today=date(2026, 11, 20))


# -- the year-end letters --------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "key", "refs"), [
    ("发改", "development_reform", {"C-1", "S-1", "X-1"}),
    ("环保", "environment", {"G-1"}),
    ("质监", "quality", {"S-1"}),  # （八）: 质监 confirms for steel, not for chemicals
    ("安监", "safety", {"C-2", "K-1"}),
])
async def test_letter_lists_what_the_department_closed(services: Services, tmp_path: Path,
                                                       query: str, key: str,
                                                       refs: set[str]) -> None:
    await build_year(services)
    org = await services.org.current()
    letter = await load_letter(services.cases.sessions, org, query, year=2026,
                               today=date(2026, 12, 25))
    assert letter.department.key == key
    files = write_letter(letter, EN, tmp_path)
    expected = await stored_exits(services, 2026, department=key)
    assert {c.ref for c in expected} == refs
    headers = exit_headers(EN, with_region=True)
    rows = [r for r in xlsx_table(files.xlsx, headers) if r[headers[1]]]
    assert {r[headers[1]] for r in rows} == refs
    for row in rows:
        case = next(c for c in expected if c.ref == row[headers[1]])
        assert row[headers[2]] == case.region_name
        stored = figure(case)
        assert (row[headers[6]] is None if stored is None
                else Decimal(str(row[headers[6]])) == stored)
    check_industry_table(xlsx_table(files.xlsx, industry_headers(EN)), expected, EN)
    text = docx_text(files.docx)
    assert "州工信局、州能源局、州煤炭工业管理局" in text
    assert letter.department.name in text
    assert {r[headers[1]] for r in docx_table(files.docx, headers) if r[headers[1]]} == refs


async def test_a_handed_back_case_is_not_in_the_departments_letter(services: Services,
                                                                   tmp_path: Path) -> None:
    item = case_input("H-1", clause="八", industry="steel", capacity="10")
    await services.cases.import_cases([item], COORDINATOR)
    await services.cases.hand_back("H-1", "quality", "不属于质监职责", liaison("quality"))
    for name in _EXIT_PATHS["八"]:
        await take(services, "H-1", name, capacity=10.0)
    org = await services.org.current()
    letter = await load_letter(services.cases.sessions, org, "质监", year=2026,
                               today=date(2026, 12, 25))
    assert letter.exited == ()
    reform = await load_letter(services.cases.sessions, org, "发改", year=2026,
                               today=date(2026, 12, 25))
    assert [r.ref for r in reform.exited] == ["H-1"]


async def test_only_the_four_departments_write_letters(services: Services) -> None:
    org = await services.org.current()
    with pytest.raises(DubanError, match="does not write the year-end letter"):
        await load_letter(services.cases.sessions, org, "工信", year=2026,
                          today=date(2026, 12, 25))
    with pytest.raises(DubanError, match="No department matches"):
        await load_letter(services.cases.sessions, org, "外星事务局", year=2026,
                          today=date(2026, 12, 25))


# -- the annual summary ----------------------------------------------------------------------------


async def test_summary_by_county_and_industry(services: Services, tmp_path: Path) -> None:
    await build_year(services)
    org = await services.org.current()
    today = date(2027, 1, 20)
    report = await load_summary(services.cases.sessions, org, year=2026, today=today)
    files = write_summary(report, EN, tmp_path)
    expected = await stored_exits(services, 2026)
    assert len(expected) == 6
    check_industry_table(xlsx_table(files.xlsx, industry_headers(EN)), expected, EN)

    headers = tuple(EN.gettext(h) for h in ("County or park", "Industry", "Enterprises",
                                            "Capacity exited", "Unit"))
    rows = xlsx_table(files.xlsx, headers)
    subtotal = EN.gettext("Subtotal")
    for region in org.regions:
        mine = [c for c in expected if c.region_name == region.name]
        lines = [r for r in rows if r[headers[0]] == region.name and r[headers[1]] == subtotal]
        assert lines[0][headers[2]] == len(mine), region.name
        if not mine:  # a county without exits: 0, not an empty cell
            assert [(r[headers[3]], r[headers[4]]) for r in lines] == [(0, None)]
            continue
        assert {(r[headers[4]] or ""): r[headers[3]] for r in lines
                if r[headers[3]] is not None} == per_unit(mine)
        for industry, sums in expected_by_industry(mine).items():
            cells = [r for r in rows if r[headers[0]] == region.name
                     and r[headers[1]] == industry_label(industry, EN)]
            assert {(r[headers[4]] or ""): r[headers[3]] for r in cells} == dict(sums)

    open_headers = tuple(EN.gettext(h) for h in ("County or park", "Open cases",
                                                 "Overdue cases"))
    stored = [c for c in await services.cases.find() if c.state not in ("exited", "rectified")]
    for row in xlsx_table(files.xlsx, open_headers)[:-1]:
        mine = [c for c in stored if c.region_name == row[open_headers[0]]]
        assert row[open_headers[1]] == len(mine)
        assert row[open_headers[2]] == sum(1 for c in mine if is_overdue(c, today))
    assert sum(1 for c in stored if is_overdue(c, today)) == 2  # O-1, O-2: past 6 months
    assert len(open_docx(str(files.docx)).inline_shapes) == 2  # capacity and overdue charts
    assert "昌州" in open_docx(str(files.docx)).paragraphs[0].text


async def test_summary_goes_to_the_bodies_the_text_names(services: Services,
                                                         tmp_path: Path) -> None:
    """（十九）: 报工业和信息化部、国家能源局，抄报 the fourteen bodies; read from the catalog."""
    org = await services.org.current()
    report = await load_summary(services.cases.sessions, org, year=2026,
                                today=date(2027, 1, 20), catalog=load_default_catalog())
    assert report.recipients.to == ("工业和信息化部", "国家能源局")
    assert len(report.recipients.copies) == 14
    assert report.recipients.copies[0] == "国家发展改革委"
    assert report.recipients.copies[-1] == "银监会"
    path = write_summary(report, ZH, tmp_path).docx
    assert "工业和信息化部、国家能源局：" in docx_text(path)
    document = open_docx(str(path))
    imprint = "\n".join(cell.text for table in document.tables for row in table.rows
                         for cell in row.cells)  # the 版记 is a table of rules and lines
    assert "国家发展改革委、财政部、人力资源社会保障部" in imprint and "银监会" in imprint
    # A text that names nobody leaves both lines for the commission to fill.
    blank = await load_summary(services.cases.sessions, org, year=2026,
                               today=date(2027, 1, 20), catalog=None)
    assert blank.recipients.to == () and blank.recipients.copies == ()


# -- the layout (GB/T 9704), from rows ----------------------------------------------------------


def _east_asia(run: Any) -> str | None:
    fonts = run._element.rPr.rFonts
    return fonts.get(qn("w:eastAsia")) if fonts is not None else None


def test_the_docx_is_laid_out_as_gb_t_9704(tmp_path: Path) -> None:
    from tests.test_documents_pdf import county

    document = county(ZH)
    assert isinstance(document, OfficialDocument) and document.masthead is not None
    path = tmp_path / "county.docx"
    write_docx(document, ZH, path)
    docx = open_docx(str(path))
    section = docx.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    assert [round(m.mm) for m in (section.top_margin, section.bottom_margin,
                                  section.left_margin, section.right_margin)] == [37, 35, 28, 26]
    masthead, number, title = docx.paragraphs[:3]
    assert masthead.text == document.masthead.issuer
    assert masthead.runs[0].font.color.rgb == RGBColor(0xFF, 0, 0)
    assert masthead.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert _east_asia(masthead.runs[0]) == TITLE_FONT
    assert document.masthead.number in number.text
    assert ZH.gettext("Signed off by:") in number.text  # 上行文: the 签发人 beside the number
    rule = number._p.pPr.find(qn("w:pBdr")).find(qn("w:bottom"))
    assert rule.get(qn("w:color")) == "FF0000"  # the red separator line
    assert title.text.replace("\n", "") == document.title
    assert {(r.font.size.pt, _east_asia(r)) for r in title.runs if r.text} == {(22, TITLE_FONT)}
    addressee = docx.paragraphs[3]
    assert addressee.text.startswith("昌州经信委")
    opening = docx.paragraphs[4]
    assert opening.paragraph_format.first_line_indent.pt == 32
    assert {(r.font.size.pt, _east_asia(r)) for r in opening.runs} == {(16, BODY_FONT)}
    assert "工信部联产业〔2017〕30号" in opening.text and "昌州经信〔2017〕185号" in opening.text
    heading = next(p for p in docx.paragraphs
                   if p.text == ZH.gettext("1. Exits by industry"))
    assert {(r.font.size.pt, _east_asia(r)) for r in heading.runs} == {(16, "黑体")}
    # Page numbers "— 1 —": a PAGE field on odd and even pages.
    assert docx.settings.odd_and_even_pages_header_footer
    for footer in (section.footer, section.even_page_footer):
        xml = footer.paragraphs[0]._p.xml
        assert "PAGE" in xml and footer.paragraphs[0].text.startswith("— ")
        assert footer.paragraphs[0].text.endswith(" —")
    # The 版记 closes the document.
    assert document.imprint is not None
    imprint = docx.tables[-1]
    assert imprint.rows[0].cells[0].text == document.imprint.copy_to
    assert document.imprint.printed in imprint.rows[1].cells[0].text
    # The signature stands over the date, the date four characters from the right.
    date_line = next(p for p in docx.paragraphs if p.text == "2026年11月20日")
    assert date_line.paragraph_format.right_indent.pt == 64


def test_columns_are_as_wide_as_their_content() -> None:
    from tests.test_documents_pdf import county, letter

    exits = county(ZH).tables()[1]
    layout = table_layout(exits, ZH)
    widths = dict(zip(exits.headers, layout.widths, strict=True))
    assert not layout.landscape
    assert abs(sum(layout.widths) - TEXT_WIDTH_PT) < 0.5
    reference, number = widths[ZH.gettext("Reference")], widths[ZH.gettext("No.")]
    assert reference > 2 * number
    assert widths[ZH.gettext("Enterprise")] > widths[ZH.gettext("Capacity exited")]
    # "CZ-2026-001" on one line: its width at this size, with the cell's margins.
    assert reference >= text_em("CZ-2026-001") * layout.size + 4
    # Ten columns (the county or park too) do not fit across a portrait page.
    wide = table_layout(letter(ZH).tables()[1], ZH)
    assert wide.landscape and abs(sum(wide.widths) - LANDSCAPE_WIDTH_PT) < 0.5


def test_a_long_chinese_title_breaks_at_a_word() -> None:
    assert title_lines("玛纳斯县关于2026年落后产能退出工作情况的报告", 20) == [
        "玛纳斯县关于2026年", "落后产能退出工作情况的报告"]
    assert title_lines("州发改委关于2026年度依法关闭退出企业、设备及产能情况的函", 20) == [
        "州发改委关于2026年度", "依法关闭退出企业、设备及产能情况的函"]
    assert title_lines("短标题", 20) == ["短标题"]
    assert title_lines("A report on the exit of backward production capacity", 20) == [
        "A report on the exit of backward production capacity"]


def test_the_xlsx_has_zeros_yes_no_and_real_dates(tmp_path: Path) -> None:
    from tests.test_documents_pdf import OPEN, TODAY, county

    path = tmp_path / "county.xlsx"
    write_xlsx(county(ZH), ZH, path)
    industries = xlsx_table(path, industry_headers(ZH))
    aluminium = next(r for r in industries if r[ZH.gettext("Industry")]
                     == industry_label("electrolytic_aluminium", ZH))
    assert aluminium[ZH.gettext("Enterprises")] == 0
    assert aluminium[ZH.gettext("Capacity exited")] == 0
    headers = tuple(ZH.gettext(h) for h in ("No.", "Reference", "Enterprise", "Industry",
                                            "Clause", "State", "Deadline", "Overdue"))
    rows = xlsx_table(path, headers)
    assert [r[headers[7]] for r in rows] == [
        ZH.gettext("Yes") if is_overdue_row(r, TODAY) else ZH.gettext("No") for r in OPEN]
    sheet = load_workbook(path).worksheets[0]
    dates = [c for row in sheet.iter_rows() for c in row if isinstance(c.value, datetime)]
    assert dates and all(c.is_date and "yyyy" in c.number_format for c in dates)
    assert {c.value.date() for c in dates} >= {r.due_on for r in OPEN}


def test_a_second_level_heading_is_set_in_kaiti(tmp_path: Path) -> None:
    document = OfficialDocument(title="标题", sheet="s", blocks=(
        Heading("一、总体情况"), SubHeading("（一）钢铁行业"), Paragraph("正文。", indent=True)))
    path = tmp_path / "headings.docx"
    write_docx(document, ZH, path)
    fonts = {p.text: _east_asia(p.runs[0]) for p in open_docx(str(path)).paragraphs if p.runs}
    assert fonts["一、总体情况"] == "黑体" and fonts["（一）钢铁行业"] == "楷体_GB2312"
    assert fonts["标题"] == TITLE_FONT and fonts["正文。"] == BODY_FONT
