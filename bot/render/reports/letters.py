"""The 31 December department letters (函告) and the 31 January annual summary.

Clause （十九）: by the end of December, 发展改革, 环境保护, 质量技术监督 and 安全生产监管 each
write to 工业和信息化, 能源 and 煤炭 at the same level listing the enterprises, equipment and
capacity closed by law that year; by the end of January, 工业和信息化, 能源 and 煤炭 report the
previous year's exits. A department's letter lists the cases that exited in the year in which
it had a required part (an active assignment: one it handed back is not its closure). The
summary covers every exit of the year, by county (park) and industry, and the overdue cases by
county as of the day it is made.

Both are official documents as GB/T 9704 lays them out (:mod:`bot.render.reports.official`):
the letter is the department's 函 to the three departments it writes to, the summary the
commission's 报告; each cites the guiding opinion by name and number.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from bot.core.i18n import N_, Translator
from bot.render.reports import Block, Cell, Heading, Image, Paragraph, Table
from bot.render.reports.county import (
    ReportFiles,
    capacity_chart_block,
    exit_section,
    exit_table,
    industry_section,
    industry_table,
    quantities_text,
    report_title,
    unit_rows,
    write_report_files,
)
from bot.render.reports.official import (
    BLANK,
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
from bot.render.texts import fmt_date, industry_label
from bot.services.reports import (
    AnnualSummary,
    Letter,
    Summary,
    add_quantities,
    by_industry,
    overdue_by_region,
    summarize,
)


def _official(title: str, blocks: list[Block], sheet: str, *, issuer: str, today: date,
              tr: Translator, upward: bool, copy_to: str | None = None) -> OfficialDocument:
    """The document under ``issuer``'s masthead, its tables numbered, signed and dated
    ``today``, with the 版记 (``copy_to``: its 抄送 line, else a blank to fill)."""
    blocks += sign_off(issuer, today, tr)
    return OfficialDocument(
        title=title, blocks=number_tables(blocks, tr), sheet=sheet,
        masthead=Masthead(issuer=issuer, number=placeholder_number(issuer, today.year, tr),
                          upward=upward),
        imprint=imprint(issuer, today, tr, copy_to=copy_to))


def _main_source(sources: Sequence[Source] | None) -> Sequence[Source]:
    """The guiding opinion (the catalog's main document)."""
    return (default_sources() if sources is None else sources)[:1]


def _totals_sentence(summary: Summary, tr: Translator, year: int) -> str:
    if summary.empty:
        return tr.gettext(N_("No enterprise was closed by law or exited in {year}."), year=year)
    return tr.ngettext(
        "In {year}, {n} enterprise (production line) was closed by law or exited, with a "
        "capacity of {capacity}.",
        "In {year}, {n} enterprises (production lines) were closed by law or exited, with a "
        "total capacity of {capacity}.",
        summary.enterprises, year=year, capacity=quantities_text(summary.capacity, tr))


# -- the 31 December letter ------------------------------------------------------------------------


def letter_title(letter: Letter, tr: Translator) -> str:
    return tr.gettext(N_("{department}: letter on the enterprises, equipment and capacity "
                         "closed by law in {year}"), department=letter.department.name,
                      year=letter.year)


def letter_document(letter: Letter, tr: Translator, *, font: Path | None = None,
                    sources: Sequence[Source] | None = None) -> OfficialDocument:
    """The department's 函; ``sources``: as for the county report (the first is cited)."""
    summary = summarize(letter.exited)
    year = letter.year
    blocks: list[Block] = [
        addressee("、".join(letter.recipients), tr),
        Paragraph(tr.gettext(N_(
            "Under clause (19) of {source}, we list below the enterprises, equipment and "
            "capacity of steel, coal, cement, electrolytic aluminium, flat glass and other key "
            "industries closed by law and exited in {year}, to be counted in this year's "
            "backward capacity exits."), source=cite(_main_source(sources), tr), year=year),
            indent=True),
        Paragraph(_totals_sentence(summary, tr, year), indent=True),
        industry_table(summary, tr, tr.gettext(N_("Capacity exited in {year} by industry"),
                                               year=year)),
        *capacity_chart_block(summary, tr, year=year, font=font, title=tr.gettext(
            N_("Capacity closed by law in {year}, by industry"), year=year)),
    ]
    if letter.exited:
        blocks.append(exit_table(letter.exited, tr, tr.gettext(
            N_("Enterprises closed by law and exited in {year}"), year=year),
            with_region=True))
    blocks.append(Paragraph(tr.gettext(N_("We hereby inform you.")), indent=True))
    return _official(letter_title(letter, tr), blocks, tr.gettext(N_("Year-end letter")),
                     issuer=letter.department.name, today=letter.today, tr=tr, upward=False)


def write_letter(letter: Letter, tr: Translator, out_dir: Path, *,
                 font: Path | None = None,
                 sources: Sequence[Source] | None = None) -> ReportFiles:
    return write_report_files(letter_document(letter, tr, font=font, sources=sources), tr,
                              out_dir)


# -- the 31 January summary ------------------------------------------------------------------------


def summary_title(summary: AnnualSummary, tr: Translator) -> str:
    return report_title(summary.commission, summary.year, tr)


def region_table(report: AnnualSummary, tr: Translator, caption: str) -> Table:
    """Per county and park (in the org's order): a row per industry, a subtotal; then the
    prefecture's total. Counties and parks without exits are listed with 0."""
    rows: list[tuple[Cell, ...]] = []
    emphasis: set[int] = set()
    for region in report.regions:
        exited = [row for row in report.exited if row.region == region.name]
        for industry, group in by_industry(exited):
            unit_rows(rows, (region.name, industry_label(industry, tr)), len(group),
                      add_quantities(group))
        emphasis |= unit_rows(rows, (region.name, tr.gettext(N_("Subtotal"))), len(exited),
                              add_quantities(exited))
    emphasis |= unit_rows(rows, (tr.gettext(N_("Total")), None), len(report.exited),
                          add_quantities(report.exited))
    return Table(caption=caption, headers=(
        tr.gettext(N_("County or park")), tr.gettext(N_("Industry")),
        tr.gettext(N_("Enterprises")), tr.gettext(N_("Capacity exited")),
        tr.gettext(N_("Unit")),
    ), rows=tuple(rows), emphasis=frozenset(emphasis))


def overdue_table(report: AnnualSummary, tr: Translator, caption: str) -> Table:
    overdue = dict(overdue_by_region(report.open, report.today))
    rows: list[tuple[Cell, ...]] = [
        (region.name, sum(1 for row in report.open if row.region == region.name),
         overdue.get(region.name, 0))
        for region in report.regions
    ]
    rows.append((tr.gettext(N_("Total")), len(report.open), sum(overdue.values())))
    return Table(caption=caption, headers=(
        tr.gettext(N_("County or park")), tr.gettext(N_("Open cases")),
        tr.gettext(N_("Overdue cases")),
    ), rows=tuple(rows), emphasis=frozenset({len(rows) - 1}))


def summary_document(report: AnnualSummary, tr: Translator, *, font: Path | None = None,
                     sources: Sequence[Source] | None = None) -> OfficialDocument:
    """The commission's 报告, to the bodies the policy text names (主送; the copies, 抄报, in
    the 版记); when the text names none, the lines are left for the commission to fill."""
    from bot.render.reports.charts import render_overdue_chart  # matplotlib: only to draw

    totals = summarize(report.exited)
    year = report.year
    as_of = fmt_date(report.today, tr)
    overdue = overdue_by_region(report.open, report.today, [r.name for r in report.regions])
    overdue_title = tr.gettext(N_("Overdue cases by county and park as of {date}"), date=as_of)
    cited = cite(default_sources() if sources is None else sources, tr)
    blocks: list[Block] = [
        addressee("、".join(report.recipients.to) or BLANK, tr),
        Paragraph(tr.gettext(N_(
            "Under {sources}, the backward production capacity exited in {prefecture} in "
            "{year}, including what the development and reform, environmental protection, "
            "quality supervision and work safety departments reported by letter, is "
            "summarised below."), sources=cited, prefecture=report.prefecture, year=year),
            indent=True),
        Paragraph(_totals_sentence(totals, tr, year), indent=True),
        *industry_section(totals, tr, region=report.prefecture, year=year, font=font),
        Heading(tr.gettext(N_("2. Exits by county and park"))),
        region_table(report, tr, tr.gettext(N_("Capacity exited in {year} by county and "
                                                "park"), year=year)),
        Heading(tr.gettext(N_("3. Enterprises exited or closed by law"))),
        exit_section(report.exited, tr, tr.gettext(
            N_("Enterprises exited or closed by law in {year}"), year=year),
            with_region=True),
        Heading(tr.gettext(N_("4. Overdue cases"))),
        overdue_table(report, tr, tr.gettext(N_("Open and overdue cases as of {date}"),
                                             date=as_of)),
        Image(png=render_overdue_chart(overdue, tr, title=overdue_title, font=font),
              caption=overdue_title),
        Paragraph(tr.gettext(N_("We hereby report.")), indent=True),
    ]
    return _official(summary_title(report, tr), blocks, tr.gettext(N_("Annual summary")),
                     issuer=report.commission, today=report.today, tr=tr, upward=True,
                     copy_to="、".join(report.recipients.copies) or None)


def write_summary(report: AnnualSummary, tr: Translator, out_dir: Path, *,
                  font: Path | None = None,
                  sources: Sequence[Source] | None = None) -> ReportFiles:
    return write_report_files(summary_document(report, tr, font=font, sources=sources), tr,
                              out_dir)
