"""The parts of an official document (公文) that GB/T 9704 (党政机关公文格式) lays out.

A report, a letter or a notice is still a :class:`~bot.render.reports.Document` (so the .xlsx
writer and every other reader keep working); :class:`OfficialDocument` adds what only the
.docx shows: the 版头 (:class:`Masthead`: the issuing body's name in red, the 发文字号 and,
for a document sent upwards, the 签发人) and the 版记 (:class:`Imprint`: 抄送, 印发机关 and
印发日期). :class:`Signature` (发文机关署名 and 成文日期) and :class:`SubHeading` (a
second-level heading) are a :class:`~bot.render.reports.Paragraph` and a
:class:`~bot.render.reports.Heading` to everything that does not know them.

The documents cite their sources by name and number (:class:`Source`), read from the policy
catalog: the guiding opinion first, then the prefecture's forwarding notice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

from bot.core.i18n import N_, Translator
from bot.core.policy.catalog import Catalog, load_default_catalog
from bot.render.reports import Block, Document, Heading, Paragraph, Table
from bot.render.texts import fmt_date

#: What stands where the county, department or commission writes by hand.
BLANK = "________"
#: Room for the serial number in a 发文字号 the issuer completes (two characters).
NUMBER_BLANK = "\u3000\u3000"


@dataclass(frozen=True)
class Source:
    """A document the text cites: 《title》（number）."""

    title: str
    number: str = ""

    def citation(self) -> str:
        # A title quoted inside 《》 turns its own 《》 into 〈〉.
        title = self.title.replace("《", "〈").replace("》", "〉")
        return f"《{title}》（{self.number}）" if self.number else f"《{title}》"


def catalog_sources(catalog: Catalog) -> tuple[Source, ...]:
    """The catalog's documents that have a title: the main one (the guiding opinion) first,
    then the others in order (the prefecture's forwarding notice)."""
    order = [catalog.main, *(i for i in range(len(catalog.documents)) if i != catalog.main)]
    found = [catalog.documents[i] for i in order]
    return tuple(Source(d.title, d.number or "") for d in found if d.title)


def default_sources() -> tuple[Source, ...]:
    """The sources of the reviewed seed catalog (``bot/data/catalog.json``)."""
    return catalog_sources(load_default_catalog())


def cite(sources: Sequence[Source], tr: Translator) -> str:
    """《指导意见》（工信部联产业〔2017〕30号）和《通知》（昌州经信〔2017〕185号）."""
    citations = [s.citation() for s in sources]
    if not citations:
        return ""
    if len(citations) == 1:
        return citations[0]
    return tr.gettext(N_("{first} and {second}"), first="、".join(citations[:-1]),
                      second=citations[-1])


@dataclass(frozen=True)
class Masthead:
    """The 版头: the issuing body (发文机关标志), the 发文字号 and, for a document to a higher
    body (上行文), the 签发人 line beside the number."""

    issuer: str
    number: str
    upward: bool = False


@dataclass(frozen=True)
class Imprint:
    """The 版记: who gets a copy (抄送), who prints it (印发机关) and when (印发日期)."""

    copy_to: str
    printer: str
    printed: str  # "2026年11月20日印发"


@dataclass(frozen=True)
class SubHeading(Heading):
    """A second-level heading such as （一）钢铁行业 (楷体)."""


@dataclass(frozen=True)
class Signature(Paragraph):
    """The 发文机关署名 (``centre_over``: the date it is centred over) or the 成文日期 (right,
    four characters in)."""

    centre_over: str | None = None
    align: Literal["left", "center", "right"] = "right"


@dataclass(frozen=True)
class OfficialDocument(Document):
    masthead: Masthead | None = None
    imprint: Imprint | None = None


def placeholder_number(code: str, year: int, tr: Translator) -> str:
    """A 发文字号 for the issuer to complete: 玛纳斯县〔2026〕  号."""
    return tr.gettext(N_("{code} [{year}] No. {blank}"), code=code, year=year,
                      blank=NUMBER_BLANK)


def addressee(name: str, tr: Translator) -> Paragraph:
    """The 主送 line: flush left, ending in a colon."""
    return Paragraph(tr.gettext(N_("{addressee}:"), addressee=name))


def sign_off(issuer: str, on: date, tr: Translator, *, contact: bool = True) -> list[Block]:
    """署名 and 成文日期 (where the seal goes), then the contact line (附注)."""
    day = fmt_date(on, tr)
    blocks: list[Block] = [Signature(issuer, centre_over=day), Signature(day)]
    if contact:
        blocks.append(Paragraph(tr.gettext(N_("(Contact: {blank}; telephone: {blank})"),
                                           blank=BLANK), indent=True))
    return blocks


def imprint(printer: str, on: date, tr: Translator, *, copy_to: str | None = None) -> Imprint:
    return Imprint(copy_to=tr.gettext(N_("Copy to: {parties}"), parties=copy_to or BLANK),
                   printer=printer,
                   printed=tr.gettext(N_("Issued on {date}"), date=fmt_date(on, tr)))


def number_tables(blocks: Iterable[Block], tr: Translator) -> tuple[Block, ...]:
    """Number the tables 表1, 表2, … in the order they stand, without gaps."""
    numbered: list[Block] = []
    count = 0
    for block in blocks:
        if isinstance(block, Table):
            count += 1
            block = replace(block, caption=tr.gettext(N_("Table {number}. {caption}"),
                                                      number=count, caption=block.caption))
        numbered.append(block)
    return tuple(numbered)


__all__ = [
    "BLANK", "Imprint", "Masthead", "OfficialDocument", "Signature", "Source", "SubHeading",
    "addressee", "catalog_sources", "cite", "default_sources", "imprint", "number_tables",
    "placeholder_number", "sign_off",
]
