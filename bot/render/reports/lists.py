"""Lists for publication (clause （二十一）): yellow card, red card, the annual exit list, and
环保's two: enterprises emitting over the standards, and the serious cases among them.

* yellow card (黄牌): enterprises ordered to rectify by a deadline (cases in YELLOW_STATES,
  as of the day the list is made);
* red card (红牌): enterprises closed by law after failing (cases that exited in the year under
  a workflow whose exit means "closed after failing");
* exit list: every enterprise that exited in the year, with its equipment and capacity;
* 环保's two: enterprises emitting over the standards (open cases under （五）), and the
  serious cases among them (closure asked for or ordered, or carried out in the year).

Each exports as CSV (UTF-8 with a byte-order mark, so Excel reads the Chinese), XLSX, or a
static, accessible HTML page. Published lists carry no personal data: they never print a case's
description or who acted on it, and the free text they do print (enterprise, equipment, unit)
goes through :func:`scrub`, which removes telephone numbers and "联系人：张三"-like mentions.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from bot.core.i18n import N_, DubanError, Translator
from bot.render.reports import Cell, Document, Paragraph, Table
from bot.render.reports.cells import cell_text
from bot.render.reports.county import clause_text, safe_file_name
from bot.render.texts import fmt_date, industry_label
from bot.services.reports import CaseRow, ListKind


class ListFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    HTML = "html"


# Telephone numbers: mobiles, landlines with an area code, and labelled numbers.
_PHONE = re.compile(
    r"(?:(?:电话|手机|联系电话|联系方式|座机|tel|phone)\s*[:：]?\s*)?"
    r"(?:\+?86[-\s]?)?(?:(?<!\d)1[3-9]\d[-\s]?\d{4}[-\s]?\d{4}(?!\d)"
    r"|(?<!\d)0\d{2,3}[-\s]?\d{7,8}(?!\d)"
    r"|(?<=[:：])\s*\d[\d\-\s]{5,}\d)",
    re.IGNORECASE,
)
# "联系人：张三", "负责人 李四", "法定代表人王五" … up to the next separator.
_PERSON = re.compile(
    r"(?:联系人|负责人|联络员|法定代表人|法人代表|法人|经办人|填报人|contact)\s*[:：]?\s*"
    r"[^\s,，;；。、()（）:：]{0,12}",
    re.IGNORECASE,
)
_LEFTOVER = re.compile(r"[\s,，;；、:：]+$|^[\s,，;；、:：]+|\(\s*\)|（\s*）")


def scrub(text: str | None) -> str | None:
    """``text`` without telephone numbers and named contact persons."""
    if text is None:
        return None
    cleaned = _PERSON.sub("", _PHONE.sub("", text))
    cleaned = re.sub(r"\s{2,}", " ", _LEFTOVER.sub("", cleaned))
    return _LEFTOVER.sub("", cleaned).strip() or None


def parse_kind(value: str) -> ListKind:
    try:
        return ListKind(value.strip().lower())
    except ValueError:
        raise DubanError(N_("Unknown list “{value}”; use yellow, red, exit, emitters or "
                            "serious."),
                         value=value) from None


def parse_format(value: str) -> ListFormat:
    try:
        return ListFormat(value.strip().lower().lstrip("."))
    except ValueError:
        raise DubanError(N_("Unknown format “{value}”; use csv, xlsx or html."),
                         value=value) from None


@dataclass(frozen=True)
class PublicList:
    kind: ListKind
    title: str
    note: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    lang: str  # the page's language tag: zh-CN or en
    empty_text: str


def build_list(kind: ListKind, rows: Sequence[CaseRow], tr: Translator, *, prefecture: str,
               year: int, today: date) -> PublicList:
    """The list's title, headers and scrubbed rows, in the reader's language."""
    titles = {
        ListKind.YELLOW: N_("{prefecture}: enterprises failing the standards that must "
                            "rectify by a deadline (yellow card list)"),
        ListKind.RED: N_("{prefecture}: enterprises still failing after rectification and "
                         "closed by law in {year} (red card list)"),
        ListKind.EXIT: N_("{prefecture}: enterprises that exited backward production "
                          "capacity in {year}"),
        ListKind.EMITTERS: N_("{prefecture}: enterprises emitting over the standards"),
        ListKind.SERIOUS: N_("{prefecture}: enterprises emitting over the standards in "
                             "serious cases"),
    }
    common = (tr.gettext(N_("No.")), tr.gettext(N_("Enterprise")),
              tr.gettext(N_("County or park")), tr.gettext(N_("Industry")))
    capacity = (tr.gettext(N_("Equipment (production line)")), tr.gettext(N_("Capacity")),
                tr.gettext(N_("Unit")))
    headers: tuple[str, ...]
    if kind in (ListKind.YELLOW, ListKind.EMITTERS):
        headers = (*common, tr.gettext(N_("Problem")),
                   tr.gettext(N_("Rectification deadline")), *capacity)
    elif kind in (ListKind.RED, ListKind.SERIOUS):
        headers = (*common, tr.gettext(N_("Problem")), *capacity,
                   tr.gettext(N_("Closure date")))
    else:
        headers = (*common, *capacity, tr.gettext(N_("Exit date")))
    return PublicList(
        kind=kind, title=tr.gettext(titles[kind], prefecture=prefecture, year=year),
        note=tr.ngettext("{n} enterprise listed; as of {date}.",
                         "{n} enterprises listed; as of {date}.", len(rows),
                         date=fmt_date(today, tr)),
        headers=headers,
        rows=tuple(_row(kind, i, row, tr) for i, row in enumerate(rows, start=1)),
        lang="en" if tr.locale.startswith("en") else "zh-CN",
        empty_text=tr.gettext(N_("No enterprise is on this list.")),
    )


def _row(kind: ListKind, number: int, row: CaseRow, tr: Translator) -> tuple[Cell, ...]:
    common: tuple[Cell, ...] = (number, scrub(row.enterprise), row.region,
                                industry_label(row.industry, tr))
    if kind in (ListKind.YELLOW, ListKind.EMITTERS):
        return (*common, clause_text(row.clause, tr), row.deadline, scrub(row.equipment),
                row.capacity, scrub(row.unit))
    facts: tuple[Cell, ...] = (scrub(row.equipment), row.reported_capacity, scrub(row.unit))
    if kind in (ListKind.RED, ListKind.SERIOUS):
        return (*common, clause_text(row.clause, tr), *facts, row.closed_on)
    return (*common, *facts, row.closed_on)


# -- formats --------------------------------------------------------------------------------------


def _plain(value: Cell) -> str:
    """A cell for CSV: numbers without grouping, dates as YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def to_csv(public: PublicList) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(public.headers)
    writer.writerows([_plain(v) for v in row] for row in public.rows)
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(public: PublicList, tr: Translator) -> bytes:
    from bot.render.reports.xlsx_util import xlsx_bytes  # openpyxl: only for an .xlsx

    table = Table(caption=public.title, headers=public.headers, rows=public.rows)
    document = Document(title=public.title, blocks=(Paragraph(public.note), table),
                        sheet=tr.gettext(_SHEETS[public.kind]))
    return xlsx_bytes(document, tr)


_SHEETS = {
    ListKind.YELLOW: N_("Yellow card list"),
    ListKind.RED: N_("Red card list"),
    ListKind.EXIT: N_("Exit list"),
    ListKind.EMITTERS: N_("Over the emission standards"),
    ListKind.SERIOUS: N_("Serious emission cases"),
}

_CSS = """
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei",
       "Microsoft YaHei", "PingFang SC", sans-serif; margin: 2rem; color: #111;
       line-height: 1.5; }
h1 { font-size: 1.4rem; }
table { border-collapse: collapse; width: 100%; }
caption { text-align: left; font-weight: bold; padding: 0.5rem 0; }
th, td { border: 1px solid #444; padding: 0.35rem 0.5rem; text-align: left;
         vertical-align: top; }
thead th { background: #e8e8e8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
@media print {
  body { margin: 0; font-size: 10.5pt; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  thead th { background: none; }
}
""".strip()


def to_html(public: PublicList, tr: Translator) -> str:
    """A static page: one table with a caption and scoped headers; no script, prints well."""
    esc = html.escape
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in public.headers)
    body = [_html_row(row, tr) for row in public.rows] or [
        f'<tr><td colspan="{len(public.headers)}">{esc(public.empty_text)}</td></tr>'
    ]
    return "\n".join([
        "<!DOCTYPE html>",
        f'<html lang="{esc(public.lang)}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(public.title)}</title>",
        f"<style>\n{_CSS}\n</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{esc(public.title)}</h1>",
        f"<p>{esc(public.note)}</p>",
        "<table>",
        f"<caption>{esc(public.title)}</caption>",
        f"<thead><tr>{head}</tr></thead>",
        "<tbody>",
        *body,
        "</tbody>",
        "</table>",
        "</main>",
        "</body>",
        "</html>",
        "",
    ])


def _html_row(row: tuple[Cell, ...], tr: Translator) -> str:
    """The enterprise (second column) heads its row."""
    cells = []
    for index, value in enumerate(row):
        text = html.escape(cell_text(value, tr))
        if index == 1:
            cells.append(f'<th scope="row">{text}</th>')
        elif isinstance(value, Decimal | int):
            cells.append(f'<td class="num">{text}</td>')
        else:
            cells.append(f"<td>{text}</td>")
    return f"<tr>{''.join(cells)}</tr>"


def render_list(public: PublicList, fmt: ListFormat, tr: Translator) -> bytes:
    if fmt is ListFormat.CSV:
        return to_csv(public)
    if fmt is ListFormat.XLSX:
        return to_xlsx(public, tr)
    return to_html(public, tr).encode("utf-8")


def list_file_name(public: PublicList, fmt: ListFormat) -> str:
    return f"{safe_file_name(public.title)}.{fmt.value}"
