"""The 30 November county (park) report to the prefecture commission.

The cover letter (昌州经信〔2017〕185号) asks every county and park to report, by 30 November,
the year's capacity exits and the enterprises closed by law (steel, cement, electrolytic
aluminium, flat glass and other industries), approved and stamped by the local government. The
report is a 报告 of the county's people's government (a park's administrative committee) to
the commission, laid out as GB/T 9704 wants it (:mod:`bot.render.reports.official`): the
government's name in red, a 发文字号 and 签发人 for the county to complete, the title
"XX关于2026年落后产能退出工作情况的报告", the commission as 主送, an opening that cites the
guiding opinion and the cover letter by name and number, then, pre-filled from the cases: a
summary by industry (coal has its own row, as in clause （十九）), the enterprises that exited
during the year with their equipment and capacity (the capacity confirmed at exit, else the
registered one), subtotals per industry and a total (per unit: 万吨/年 is never added to
万重量箱/年), the county's cases still open; the government's name over the date where the
seal goes, a contact line and the 版记.

The table helpers here are shared with :mod:`bot.render.reports.letters`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from bot.core.i18n import N_, DubanError, Translator
from bot.core.org import PARK
from bot.core.workflow import WORKFLOWS
from bot.render.reports import Block, Cell, Document, Heading, Image, Paragraph, Table
from bot.render.reports.official import (
    Masthead,
    OfficialDocument,
    Source,
    addressee,
    cite,
    default_sources,
    imprint,
    number_tables,
    placeholder_number,
    sign_off,
)
from bot.render.texts import fmt_date, fmt_number, industry_label, state_label
from bot.services.reports import (
    CaseRow,
    CountyReport,
    Quantity,
    Summary,
    add_quantities,
    by_industry,
    is_overdue,
)

_UNSAFE_FILE_CHARS = re.compile(r'[\\/:*?"<>|\s]+')


@dataclass(frozen=True)
class ReportFiles:
    xlsx: Path
    docx: Path


# -- shared pieces -----------------------------------------------------------------------------


def clause_text(clause: str, tr: Translator) -> str:
    """（四）能耗 — the clause and what it is about."""
    workflow = WORKFLOWS.get(clause)
    title = tr.gettext(workflow.title) if workflow else ""
    return f"（{clause}）{title}"


def quantities_text(quantities: Sequence[Quantity], tr: Translator) -> str:
    """60 万吨/年、120 万重量箱/年 — or a dash when nothing is known."""
    if not quantities:
        return "—"
    return "、".join(f"{fmt_number(q.amount, tr)} {q.unit}".strip() for q in quantities)


def industry_table(summary: Summary, tr: Translator, caption: str) -> Table:
    """Enterprises and capacity per industry, every industry listed, with a total."""
    rows: list[tuple[Cell, ...]] = []
    for line in summary.lines:
        unit_rows(rows, (industry_label(line.industry, tr),), line.enterprises, line.capacity)
    emphasis = unit_rows(rows, (tr.gettext(N_("Total")),), summary.enterprises, summary.capacity)
    return Table(caption=caption, headers=(
        tr.gettext(N_("Industry")), tr.gettext(N_("Enterprises")),
        tr.gettext(N_("Capacity exited")), tr.gettext(N_("Unit")),
    ), rows=tuple(rows), emphasis=emphasis)


def unit_rows(rows: list[tuple[Cell, ...]], lead: tuple[Cell, ...], count: Cell,
              capacity: Sequence[Quantity], trail: tuple[Cell, ...] = ()) -> frozenset[int]:
    """Append "lead… | count | amount | unit | trail…", one row per unit (``count`` on the
    first; nothing known: one row, the unit empty and the amount 0 when nothing was counted
    (``count`` 0), else empty: enterprises whose capacity is unknown); return the new rows'
    indexes."""
    start = len(rows)
    nothing: Cell = Decimal(0) if count == 0 else None
    for i, quantity in enumerate(capacity or (None,)):
        rows.append((*lead, count if i == 0 else None,
                     quantity.amount if quantity else nothing,
                     (quantity.unit or None) if quantity else None, *trail))
    return frozenset(range(start, len(rows)))


def exit_table(rows: Sequence[CaseRow], tr: Translator, caption: str, *,
               with_region: bool) -> Table:
    """The enterprises that exited, grouped by industry with subtotals and a total."""
    headers = [tr.gettext(N_("No.")), tr.gettext(N_("Reference"))]
    if with_region:
        headers.append(tr.gettext(N_("County or park")))
    headers += [tr.gettext(N_("Enterprise")), tr.gettext(N_("Industry")),
                tr.gettext(N_("Equipment (production line)")),
                tr.gettext(N_("Capacity exited")), tr.gettext(N_("Unit")),
                tr.gettext(N_("Exit date")), tr.gettext(N_("Clause"))]
    lead = 3 if with_region else 2  # columns before the enterprise name
    cells: list[tuple[Cell, ...]] = []
    emphasis: set[int] = set()
    number = 0
    for industry, group in by_industry(rows):
        for row in group:
            number += 1
            region: tuple[Cell, ...] = (row.region,) if with_region else ()
            cells.append((number, row.ref, *region, row.enterprise,
                          industry_label(row.industry, tr), row.equipment,
                          row.reported_capacity, row.unit, row.closed_on,
                          clause_text(row.clause, tr)))
        label = tr.gettext(N_("{industry} subtotal"), industry=industry_label(industry, tr))
        emphasis |= _subtotal_rows(cells, group, label, lead, tr)
    emphasis |= _subtotal_rows(cells, rows, tr.gettext(N_("Total")), lead, tr)
    return Table(caption=caption, headers=tuple(headers), rows=tuple(cells),
                 emphasis=frozenset(emphasis))


def _subtotal_rows(cells: list[tuple[Cell, ...]], rows: Sequence[CaseRow], label: str,
                   lead: int, tr: Translator) -> frozenset[int]:
    """Rows "label | | n enterprises | amount | unit | |" under the enterprise table's columns,
    one per unit; the label stands in the enterprise column."""
    count = tr.ngettext("{n} enterprise", "{n} enterprises", len(rows))
    return unit_rows(cells, (*(None,) * lead, label, None), count, add_quantities(rows),
                     (None, None))


def open_table(rows: Sequence[CaseRow], tr: Translator, caption: str, today: date) -> Table:
    cells: list[tuple[Cell, ...]] = [
        (i, row.ref, row.enterprise, industry_label(row.industry, tr),
         clause_text(row.clause, tr), state_label(row.state, tr), row.deadline,
         is_overdue(row, today))
        for i, row in enumerate(rows, start=1)
    ]
    return Table(caption=caption, headers=(
        tr.gettext(N_("No.")), tr.gettext(N_("Reference")), tr.gettext(N_("Enterprise")),
        tr.gettext(N_("Industry")), tr.gettext(N_("Clause")), tr.gettext(N_("State")),
        tr.gettext(N_("Deadline")), tr.gettext(N_("Overdue")),
    ), rows=tuple(cells))


def capacity_chart_block(summary: Summary, tr: Translator, *, year: int, title: str,
                         font: Path | None) -> tuple[Block, ...]:
    """The chart of capacity by industry, or nothing when nothing exited."""
    if summary.empty:
        return ()
    from bot.render.reports.charts import render_capacity_chart  # matplotlib: only to draw

    png = render_capacity_chart(summary, tr, year=year, title=title, font=font)
    return (Image(png=png, caption=title),)


def industry_section(summary: Summary, tr: Translator, *, region: str, year: int,
                     font: Path | None) -> tuple[Block, ...]:
    """"1. Exits by industry": the heading, the table by industry and its chart."""
    return (
        Heading(tr.gettext(N_("1. Exits by industry"))),
        industry_table(summary, tr, tr.gettext(N_("Capacity exited in {year} by industry"),
                                               year=year)),
        *capacity_chart_block(summary, tr, year=year, font=font,
                              title=tr.gettext(N_("{region}: capacity exited in {year} by "
                                                  "industry"), region=region, year=year)),
    )


def exit_section(rows: Sequence[CaseRow], tr: Translator, caption: str, *,
                 with_region: bool) -> Block:
    """The table of the enterprises that exited, or "None." when none did."""
    if not rows:
        return none_paragraph(tr)
    return exit_table(rows, tr, caption, with_region=with_region)


def none_paragraph(tr: Translator) -> Paragraph:
    """"None." in a section that has nothing to list."""
    return Paragraph(tr.gettext(N_("None.")), indent=True)


def safe_file_name(text: str) -> str:
    return _UNSAFE_FILE_CHARS.sub("_", text).strip("._") or "report"


def report_title(issuer: str, year: int, tr: Translator) -> str:
    """XX关于2026年落后产能退出工作情况的报告."""
    return tr.gettext(N_("{issuer}: report on the exit of backward production capacity in "
                         "{year}"), issuer=issuer, year=year)


def write_report_files(document: Document, tr: Translator, out_dir: Path) -> ReportFiles:
    """Write ``document`` as .xlsx and .docx into ``out_dir`` (created when missing)."""
    # openpyxl and python-docx: imported when a file is written, not with the bot
    from bot.render.reports.docx_util import write_docx
    from bot.render.reports.xlsx_util import write_xlsx

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = safe_file_name(document.title)
        files = ReportFiles(xlsx=out_dir / f"{stem}.xlsx", docx=out_dir / f"{stem}.docx")
        write_xlsx(document, tr, files.xlsx)
        write_docx(document, tr, files.docx)
    except OSError as error:
        raise DubanError(N_("Cannot write the report to {path}: {reason}"),
                         path=str(out_dir), reason=error.strerror or str(error)) from None
    return files


# -- the county report -------------------------------------------------------------------------


def county_title(report: CountyReport, tr: Translator) -> str:
    return report_title(report.region.name, report.year, tr)


def county_issuer(report: CountyReport, tr: Translator) -> str:
    """玛纳斯县人民政府; a park: 准东经济技术开发区管理委员会."""
    name = (N_("{region} Administrative Committee") if report.region.kind == PARK
            else N_("{region} People's Government"))
    return tr.gettext(name, region=report.region.name)


def county_document(report: CountyReport, tr: Translator, *, font: Path | None = None,
                    sources: Sequence[Source] | None = None) -> OfficialDocument:
    """The report; ``sources``: the documents it cites (default: the seed catalog's guiding
    opinion and cover letter)."""
    summary = report.summary
    name, year = report.region.name, report.year
    issuer = county_issuer(report, tr)
    cited = cite(default_sources() if sources is None else sources, tr)
    blocks: list[Block] = [
        addressee(report.commission, tr),
        Paragraph(tr.gettext(N_(
            "Under {sources}, which ask every county and park to report by 30 November the "
            "backward production capacity exited and the enterprises closed by law in the year "
            "(steel, cement, electrolytic aluminium, flat glass and other key industries), "
            "approved and stamped by the local government, {region} reports its work in "
            "{year} as follows."), sources=cited, region=name, year=year), indent=True),
        Paragraph(_summary_sentence(summary, tr, name, year), indent=True),
        *industry_section(summary, tr, region=name, year=year, font=font),
        Heading(tr.gettext(N_("2. Enterprises exited or closed by law"))),
        exit_section(report.exited, tr, tr.gettext(
            N_("Enterprises exited or closed by law in {year}"), year=year),
            with_region=False),
        Heading(tr.gettext(N_("3. Cases still open"))),
        open_table(report.open, tr, tr.gettext(
            N_("Open cases as of {date}"), date=fmt_date(report.today, tr)),
            report.today) if report.open else none_paragraph(tr),
        Paragraph(tr.gettext(N_("We hereby report.")), indent=True),
        *sign_off(issuer, report.today, tr),
    ]
    return OfficialDocument(
        title=county_title(report, tr), blocks=number_tables(blocks, tr),
        sheet=tr.gettext(N_("County report")),
        masthead=Masthead(issuer=issuer, number=placeholder_number(name, report.today.year, tr),
                          upward=True),
        imprint=imprint(issuer, report.today, tr))


def _summary_sentence(summary: Summary, tr: Translator, region: str, year: int) -> str:
    if summary.empty:
        return tr.gettext(N_("In {year}, no enterprise in {region} exited or was closed by "
                             "law."), year=year, region=region)
    return tr.ngettext(
        "In {year}, {n} enterprise (production line) in {region} exited or was closed by law, "
        "with a capacity of {capacity}.",
        "In {year}, {n} enterprises (production lines) in {region} exited or were closed by "
        "law, with a total capacity of {capacity}.",
        summary.enterprises, year=year, region=region,
        capacity=quantities_text(summary.capacity, tr))


def write_county_report(report: CountyReport, tr: Translator, out_dir: Path, *,
                        font: Path | None = None,
                        sources: Sequence[Source] | None = None) -> ReportFiles:
    return write_report_files(county_document(report, tr, font=font, sources=sources), tr,
                              out_dir)
