"""Write a :class:`~bot.render.reports.Document` as a Word file laid out as GB/T 9704
(党政机关公文格式) lays out an official document.

* A4 paper, margins top 37 mm, bottom 35 mm, left 28 mm, right 26 mm; 22 lines of 三号
  (16 pt) 仿宋_GB2312 to the page, a first-line indent of two characters;
* for an :class:`~bot.render.reports.official.OfficialDocument`, the 版头: the issuing body's
  name in red 小标宋 35 mm below the top of the type area, the 发文字号 two lines below it
  (centred; flush left with the 签发人 on the right for a document sent upwards), the red
  separator line 4 mm under it; the 版记 at the end (抄送, then 印发机关 and 印发日期 between
  rules);
* the title in 二号 (22 pt) 小标宋, centred, broken into balanced lines at a word;
  first-level headings in 三号 黑体, second-level in 三号 楷体_GB2312;
* the 发文机关署名 centred over the 成文日期, which stands four characters from the right;
* page numbers in the footer, "— 1 —" in 四号 宋体, odd pages on the right and even pages on
  the left, one character in;
* ruled tables with column widths for their content (references and names wide, numbers
  narrow), in 五号 or 小五 as the content needs, the header row repeated on every page, rows
  never split; a table whose references and figures cannot fit across a portrait page stands
  on landscape pages (横排表格) with the heading before it; charts 125 mm wide.

Word and WPS use the named fonts where they are installed; elsewhere (LibreOffice on a server)
they fall back to another Chinese face.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from io import BytesIO
from itertools import pairwise
from pathlib import Path
from typing import IO, Any

from docx import Document as new_docx
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT, WD_SECTION_START
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.table import Table as DocxTable
from docx.text.paragraph import Paragraph as DocxParagraph
from docx.text.run import Run

from bot.core.i18n import N_, Translator
from bot.render.reports import Cell, Document, Heading, Image, Paragraph, Table
from bot.render.reports.cells import cell_text, display_width, yes_no
from bot.render.reports.official import (
    Imprint,
    Masthead,
    OfficialDocument,
    Signature,
    SubHeading,
)

BODY_FONT = "仿宋_GB2312"
TITLE_FONT = "方正小标宋简体"  # 小标宋: the masthead and the title
HEADING_FONT = "黑体"
SUBHEADING_FONT = "楷体_GB2312"
PAGE_NUMBER_FONT = "宋体"
LATIN_FONT = "Times New Roman"
RED = RGBColor(0xFF, 0x00, 0x00)

BODY_PT = 16.0  # 三号
TITLE_PT = 22.0  # 二号
IMPRINT_PT = 14.0  # 四号: the 版记 and the page numbers
CAPTION_PT = 14.0
#: Line pitch: 22 lines in the 225 mm high type area.
LINE_PT = 28.9
PAGE_MM = (210, 297)
MARGINS_MM = {"top": 37, "bottom": 35, "left": 28, "right": 26}
TEXT_WIDTH_PT = (PAGE_MM[0] - MARGINS_MM["left"] - MARGINS_MM["right"]) / 25.4 * 72
LANDSCAPE_WIDTH_PT = (PAGE_MM[1] - MARGINS_MM["top"] - MARGINS_MM["bottom"]) / 25.4 * 72
_CELL_MARGIN_PT = 2.0  # left and right, in every table cell
_LATIN_EM = 0.6
_SHORT_EM = 5.0  # a text this wide stays on one line; a longer one may wrap, at this width
_LONG_EM = 20.0  # no column asks for more (a longer text wraps)
_LEFT_EM = 8.0  # a column with a text longer than this is set flush left
_CHART_MM = 125

_ALIGN = {"left": WD_ALIGN_PARAGRAPH.LEFT, "center": WD_ALIGN_PARAGRAPH.CENTER,
          "right": WD_ALIGN_PARAGRAPH.RIGHT}
# What follows w:pBdr in a w:pPr (the schema's order).
_AFTER_PBDR = ("w:shd", "w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap",
               "w:overflowPunct", "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN",
               "w:bidi", "w:adjustRightInd", "w:snapToGrid", "w:spacing", "w:ind",
               "w:contextualSpacing", "w:mirrorIndents", "w:suppressOverlap", "w:jc",
               "w:textDirection", "w:textAlignment", "w:textboxTightWrap", "w:outlineLvl",
               "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange")
_CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
_TOKEN = re.compile(r"[\u3000-\u9fff\uff00-\uffef]|[^\s\u3000-\u9fff\uff00-\uffef]+")
# Where a title may break: after 关于, after a year (2026年, 2026年度), after a 、.
_TITLE_BREAKS = re.compile(r"关于|\d{4}年度?|、")
_NO_LINE_START = set("，。、；：！？）》〉」”’的")
_NO_LINE_END = set("（《〈「“‘")


def write_docx(document: Document, tr: Translator, target: Path | IO[bytes]) -> None:
    doc = new_docx()
    _page_setup(doc)
    masthead = document.masthead if isinstance(document, OfficialDocument) else None
    imprint = document.imprint if isinstance(document, OfficialDocument) else None
    if masthead is not None:
        _masthead(doc, masthead, tr)
    _title(doc, document.title, after_masthead=masthead is not None)
    blocks = document.blocks
    layouts = {i: table_layout(b, tr) for i, b in enumerate(blocks) if isinstance(b, Table)}
    landscape = False
    for index, block in enumerate(blocks):
        # A table too wide for the page stands on landscape pages (横排表格), with the
        # heading just before it.
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        wants = (layouts[index].landscape if index in layouts else
                 isinstance(block, Heading) and isinstance(following, Table)
                 and layouts[index + 1].landscape)
        if wants != landscape:
            _new_section(doc, landscape=wants)
            landscape = wants
        if isinstance(block, Signature):
            _signature(doc, block)
        elif isinstance(block, Paragraph):
            _paragraph(doc, block, keep_with_next=isinstance(following, Signature))
        elif isinstance(block, Heading):
            _heading(doc, block)
        elif isinstance(block, Table):
            _table(doc, block, tr, layouts[index])
        elif isinstance(block, Image):
            _image(doc, block)
    if landscape:
        _new_section(doc, landscape=False)
    if imprint is not None:
        _imprint(doc, imprint)
    doc.save(str(target) if isinstance(target, Path) else target)


def docx_bytes(document: Document, tr: Translator) -> bytes:
    buffer = BytesIO()
    write_docx(document, tr, buffer)
    return buffer.getvalue()


# -- the page ------------------------------------------------------------------------------------


def _page_setup(doc: DocxDocument) -> None:
    section = doc.sections[0]
    section.start_type = WD_SECTION_START.NEW_PAGE
    _page_size(section, landscape=False)
    section.header_distance = Mm(15)
    normal = doc.styles["Normal"]
    normal.font.name = LATIN_FONT
    normal.font.size = Pt(BODY_PT)
    _east_asian(normal.element.get_or_add_rPr(), BODY_FONT)
    spacing = normal.paragraph_format
    spacing.space_before = spacing.space_after = Pt(0)
    spacing.line_spacing = Pt(LINE_PT)
    spacing.widow_control = False
    doc.settings.odd_and_even_pages_header_footer = True
    _page_number(section.footer.paragraphs[0], odd=True)
    _page_number(section.even_page_footer.paragraphs[0], odd=False)


def _page_size(section: Any, *, landscape: bool) -> None:
    """A4 with the margins of GB/T 9704; turned for a landscape table (the binding edge, the
    portrait page's left, on top)."""
    width, height = PAGE_MM
    margins = MARGINS_MM
    if landscape:
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = Mm(height), Mm(width)
        section.top_margin, section.bottom_margin = Mm(margins["left"]), Mm(margins["right"])
        section.left_margin, section.right_margin = Mm(margins["bottom"]), Mm(margins["top"])
        bottom = margins["right"]
    else:
        section.orientation = WD_ORIENT.PORTRAIT
        section.page_width, section.page_height = Mm(width), Mm(height)
        section.top_margin, section.bottom_margin = Mm(margins["top"]), Mm(margins["bottom"])
        section.left_margin, section.right_margin = Mm(margins["left"]), Mm(margins["right"])
        bottom = margins["bottom"]
    # The page number's dash stands 7 mm below the type area (its line is about 6 mm high).
    section.footer_distance = Mm(max(bottom - 7 - 6, 5))


def _new_section(doc: DocxDocument, *, landscape: bool) -> None:
    """Start a new page in the other orientation; the page numbers carry on."""
    _page_size(doc.add_section(WD_SECTION_START.NEW_PAGE), landscape=landscape)


def _east_asian(rpr: Any, font: str) -> None:
    fonts = rpr.get_or_add_rFonts()
    for attribute in ("w:ascii", "w:hAnsi", "w:cs"):
        fonts.set(qn(attribute), LATIN_FONT)
    fonts.set(qn("w:eastAsia"), font)


def _page_number(paragraph: DocxParagraph, *, odd: bool) -> None:
    """"— 3 —": right on odd pages, left on even pages, one character in."""
    paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT if odd else WD_ALIGN_PARAGRAPH.LEFT
    one = Pt(IMPRINT_PT)
    if odd:
        paragraph.paragraph_format.right_indent = one
    else:
        paragraph.paragraph_format.left_indent = one
    paragraph.paragraph_format.line_spacing = 1.0
    _font(paragraph.add_run("— "), PAGE_NUMBER_FONT, IMPRINT_PT, latin=PAGE_NUMBER_FONT)
    for kind in ("begin", "instruction", "separate", "shown", "end"):
        run = _font(paragraph.add_run(), PAGE_NUMBER_FONT, IMPRINT_PT, latin=PAGE_NUMBER_FONT)
        if kind == "instruction":
            instruction = OxmlElement("w:instrText")
            instruction.set(qn("xml:space"), "preserve")
            instruction.text = " PAGE "
            run._r.append(instruction)
        elif kind == "shown":
            run.text = "1"  # what a reader that does not update fields shows
        else:
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), kind)
            run._r.append(char)
    _font(paragraph.add_run(" —"), PAGE_NUMBER_FONT, IMPRINT_PT, latin=PAGE_NUMBER_FONT)


def _font(run: Run, east_asia: str, size: float, *, bold: bool = False,
          latin: str = LATIN_FONT, color: RGBColor | None = None) -> Run:
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.name = latin
    fonts = run._element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), east_asia)
    fonts.set(qn("w:cs"), latin)
    if color is not None:
        run.font.color.rgb = color
    return run


def _border(paragraph: DocxParagraph, side: str, *, size: int, color: str = "000000",
            space: int = 1) -> None:
    """A rule along one side of ``paragraph`` (``size`` in eighths of a point)."""
    ppr = paragraph._p.get_or_add_pPr()
    borders = ppr.find(qn("w:pBdr"))
    if borders is None:
        borders = OxmlElement("w:pBdr")
        ppr.insert_element_before(borders, *_AFTER_PBDR)
    line = OxmlElement(f"w:{side}")
    line.set(qn("w:val"), "single")
    line.set(qn("w:sz"), str(size))
    line.set(qn("w:space"), str(space))
    line.set(qn("w:color"), color)
    borders.append(line)


# -- the masthead and the title ------------------------------------------------------------------


def _masthead(doc: DocxDocument, masthead: Masthead, tr: Translator) -> None:
    issuer = doc.add_paragraph()
    issuer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    layout = issuer.paragraph_format
    layout.space_before = Mm(35)
    layout.line_spacing = 1.0
    # As large as the name allows: at most 42 pt (初号), within 90 % of the type area.
    size = min(42.0, math.floor(TEXT_WIDTH_PT * 0.9 / max(display_width(masthead.issuer) / 2,
                                                           1)))
    _font(issuer.add_run(masthead.issuer), TITLE_FONT, size, color=RED)

    number = doc.add_paragraph()
    number.paragraph_format.space_before = Pt(2 * LINE_PT)
    if masthead.upward:
        # 上行文: the number one character in from the left, the 签发人 at the right.
        number.alignment = WD_ALIGN_PARAGRAPH.LEFT
        number.paragraph_format.tab_stops.add_tab_stop(Pt(TEXT_WIDTH_PT - BODY_PT),
                                                       WD_TAB_ALIGNMENT.RIGHT)
        _font(number.add_run("\u3000" + masthead.number + "\t"), BODY_FONT, BODY_PT)
        _font(number.add_run(tr.gettext(N_("Signed off by:"))), BODY_FONT, BODY_PT)
        _font(number.add_run("\u3000" * 3), SUBHEADING_FONT, BODY_PT)
    else:
        number.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _font(number.add_run(masthead.number), BODY_FONT, BODY_PT)
    # The red separator line, 4 mm under the number, as wide as the type area.
    _border(number, "bottom", size=12, color="FF0000", space=11)


def title_lines(text: str, per_line: float) -> list[str]:
    """A Chinese title in at most two lines of ``per_line`` characters, broken at a word
    (after 关于, a year or a 、) so that the lines are as even as they can be; a title that
    fits, or is not Chinese, stays one line (Word wraps it)."""
    width = display_width(text) / 2
    if width <= per_line or not _CJK.search(text):
        return [text]
    preferred = {m.end() for m in _TITLE_BREAKS.finditer(text)}

    def fits(at: int) -> bool:
        return (0 < at < len(text) and text[at] not in _NO_LINE_START
                and text[at - 1] not in _NO_LINE_END
                and not (text[at - 1].isascii() and text[at - 1].isalnum()
                         and text[at].isascii() and text[at].isalnum())
                and display_width(text[at:]) / 2 <= per_line
                and display_width(text[:at]) / 2 <= per_line)

    for candidates in (sorted(preferred), range(1, len(text))):
        found = [at for at in candidates if fits(at)]
        if found:
            best = max(found, key=lambda at: (min(display_width(text[:at]),
                                                  display_width(text[at:])),
                                              display_width(text[at:])))
            return [text[:best], text[best:]]
    return [text]


def _title(doc: DocxDocument, text: str, *, after_masthead: bool) -> None:
    paragraph = doc.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    layout = paragraph.paragraph_format
    layout.space_before = Pt(2 * LINE_PT) if after_masthead else Pt(0)
    layout.space_after = Pt(LINE_PT)  # one blank line before the 主送
    layout.line_spacing = Pt(max(LINE_PT, TITLE_PT * 1.45))
    layout.keep_with_next = True
    for index, line in enumerate(title_lines(text, TEXT_WIDTH_PT / TITLE_PT)):
        run = _font(paragraph.add_run(), TITLE_FONT, TITLE_PT)
        if index:
            run.add_break()
        run.add_text(line)


# -- the body ------------------------------------------------------------------------------------


def _paragraph(doc: DocxDocument, block: Paragraph, *, keep_with_next: bool = False) -> None:
    """Body text; the line before the signature (特此报告。) goes with it to the next page, so
    that no page holds the signature alone."""
    paragraph = doc.add_paragraph()
    paragraph.paragraph_format.keep_with_next = keep_with_next or None
    if block.indent:
        paragraph.paragraph_format.first_line_indent = Pt(2 * BODY_PT)
    paragraph.alignment = (WD_ALIGN_PARAGRAPH.JUSTIFY if block.align == "left" and block.indent
                           else _ALIGN[block.align])
    _font(paragraph.add_run(block.text), BODY_FONT, BODY_PT, bold=block.bold)


def _heading(doc: DocxDocument, block: Heading) -> None:
    """一、… in 黑体, （一）… in 楷体; two characters in, kept with what follows."""
    paragraph = doc.add_paragraph()
    paragraph.paragraph_format.first_line_indent = Pt(2 * BODY_PT)
    paragraph.paragraph_format.keep_with_next = True
    font = SUBHEADING_FONT if isinstance(block, SubHeading) else HEADING_FONT
    _font(paragraph.add_run(block.text), font, BODY_PT)


def _signature(doc: DocxDocument, block: Signature) -> None:
    """The 成文日期 four characters from the right; the 署名 centred over it."""
    paragraph = doc.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    layout = paragraph.paragraph_format
    indent = 4 * BODY_PT
    if block.centre_over is not None:
        indent += (display_width(block.centre_over) - display_width(block.text)) / 2 \
            * BODY_PT / 2
        layout.space_before = Pt(2 * LINE_PT)  # room for the seal
    layout.keep_with_next = True  # the 署名, the date and the line under them stay together
    layout.right_indent = Pt(max(indent, 0))
    _font(paragraph.add_run(block.text), BODY_FONT, BODY_PT, bold=block.bold)


def _imprint(doc: DocxDocument, imprint: Imprint) -> None:
    """The 版记: 抄送 and 印发 in 四号, between a thick rule above and below and a thin one
    between them, one character in from either side."""
    spacer = doc.add_paragraph()
    spacer.paragraph_format.keep_with_next = True
    table = doc.add_table(rows=2, cols=1)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    _table_borders(table, {"top": 8, "bottom": 8, "insideH": 4})
    _cell_margins(table, IMPRINT_PT)
    width = Pt(TEXT_WIDTH_PT)
    table.columns[0].width = width
    label = imprint.copy_to.split("：", 1)[0] + "：" if "：" in imprint.copy_to else ""
    for row, text in zip(table.rows, (imprint.copy_to, None), strict=True):
        _row_properties(row, cant_split=True)
        cell = row.cells[0]
        cell.width = width
        paragraph = cell.paragraphs[0]
        layout = paragraph.paragraph_format
        layout.line_spacing = Pt(LINE_PT * 0.9)
        layout.keep_with_next = True
        if text is not None:
            # Lines after the first align with the first party, after the colon.
            hang = Pt(display_width(label) / 2 * IMPRINT_PT)
            layout.left_indent, layout.first_line_indent = hang, -hang
            _font(paragraph.add_run(text), BODY_FONT, IMPRINT_PT)
        else:
            layout.tab_stops.add_tab_stop(Pt(TEXT_WIDTH_PT - 2 * IMPRINT_PT),
                                          WD_TAB_ALIGNMENT.RIGHT)
            _font(paragraph.add_run(f"{imprint.printer}\t{imprint.printed}"), BODY_FONT,
                  IMPRINT_PT)


# -- tables --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableLayout:
    landscape: bool
    size: float  # points
    widths: tuple[float, ...]  # points, adding up to the type area's width


def table_layout(block: Table, tr: Translator) -> TableLayout:
    """The largest type and the page that let every column show its content: 五号 (10.5 pt)
    or 小五 (9 pt), on one line if possible, else with long texts wrapped; a table whose
    references and figures cannot fit across a portrait page goes on a landscape one."""
    least, want = _column_needs(block, tr)
    portrait, landscape = TEXT_WIDTH_PT, LANDSCAPE_WIDTH_PT
    for turned, width, needs in ((False, portrait, want), (False, portrait, least),
                                 (True, landscape, least)):
        for size in (10.5, 9.0):
            if sum(needs) * size + _padding(len(needs)) <= width:
                return TableLayout(turned, size, column_widths(block, tr, width=width,
                                                               size=size))
    return TableLayout(True, 9.0, column_widths(block, tr, width=landscape, size=9.0))


def _padding(columns: int) -> float:
    return columns * (2 * _CELL_MARGIN_PT + 1)


def text_em(text: str) -> float:
    """How wide ``text`` prints, in ems: a Chinese or full-width character is one, anything
    else 0.6 (the digits and letters of the Latin fonts that stand in, at their widest), and
    a quarter between Chinese and Latin text (the space Word and LibreOffice put there)."""
    wide = display_width(text) - len(text)  # characters that count double
    kinds = [display_width(ch) for ch in text]
    turns = sum(1 for a, b in pairwise(kinds) if a != b)
    return wide + (len(text) - wide) * _LATIN_EM + turns * 0.25


def column_widths(block: Table, tr: Translator, *, width: float = TEXT_WIDTH_PT,
                  size: float = 10.5) -> tuple[float, ...]:
    """Column widths in points that add up to ``width``: every column gets what its longest
    unbreakable text needs (a number, a date, a reference, a unit, a short name; a long text
    at least five characters), and what is left goes to the columns whose text would still
    wrap, in proportion to how much more they want."""
    least, want = _column_needs(block, tr)
    padding = 2 * _CELL_MARGIN_PT + 1
    room = (width - _padding(len(want))) / size
    total_want, total_least = sum(want), sum(least)
    if total_want <= room:
        # Everything fits on one line: share the rest in proportion, so the table is as wide
        # as the type area.
        ems = [w * room / total_want for w in want]
    elif total_least <= room:
        extra = (room - total_least) / max(total_want - total_least, 1e-9)
        ems = [lo + (w - lo) * extra for lo, w in zip(least, want, strict=True)]
    else:
        ems = [lo * room / total_least for lo in least]
    return tuple(e * size + padding for e in ems)


def _column_needs(block: Table, tr: Translator) -> tuple[list[float], list[float]]:
    """Per column, in ems: the least it needs (its longest unbreakable text) and what it
    wants (its longest text on one line, at most 20 characters)."""
    least: list[float] = []
    want: list[float] = []
    for column, header in enumerate(block.headers):
        values = [row[column] for row in block.rows]
        texts = [cell_text(v, tr) for v in values]
        header_em = text_em(header)
        header_least = header_em if header_em <= _SHORT_EM else max(
            _longest_token(header), header_em / 2)
        lows = [header_least, *(_least(v, t) for v, t in zip(values, texts, strict=True))]
        highs = [header_em, *(text_em(t) for t in texts)]
        least.append(max(lows))
        want.append(min(max(max(highs), max(lows)), max(max(lows), _LONG_EM)))
    return least, want


def _least(value: Cell, text: str) -> float:
    """What a cell needs on one line: a number or a short text whole, a date its year or
    its day (2026年 / 9月18日); a long text at least five characters (or its longest Latin
    word)."""
    em = text_em(text)
    if isinstance(value, date):
        return max(text_em(part) for part in date_lines(text))
    if value is None or isinstance(value, bool | int | Decimal) or em <= _SHORT_EM:
        return em
    return max(_SHORT_EM, _longest_token(text))


def date_lines(text: str) -> list[str]:
    """A date in two lines where it must wrap: 2026年 / 9月18日; Sep 18, / 2026."""
    if "年" in text:
        year, _, day = text.partition("年")
        return [f"{year}年", day] if day else [text]
    return text.rsplit(" ", 1) if " " in text.strip() else [text]


def _longest_token(text: str) -> float:
    return max((text_em(t) for t in _TOKEN.findall(text)), default=0.0)


def _table(doc: DocxDocument, block: Table, tr: Translator, layout: TableLayout) -> None:
    caption = doc.add_paragraph()
    caption.alignment = WD_ALIGN_PARAGRAPH.CENTER
    caption.paragraph_format.keep_with_next = True
    caption.paragraph_format.space_before = Pt(LINE_PT / 2)
    _font(caption.add_run(block.caption), HEADING_FONT, CAPTION_PT)
    size, widths = layout.size, layout.widths
    texts = [[cell_text(v, tr) for v in row] for row in block.rows]
    # Long texts (names, equipment) read from the left; codes, figures and dates centred.
    wide = [any(text_em(row[c]) > _LEFT_EM for row in texts) for c in range(len(widths))]
    table = doc.add_table(rows=1, cols=len(block.headers))
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    _cell_margins(table, _CELL_MARGIN_PT)
    for column, width in zip(table.columns, widths, strict=True):
        column.width = Pt(width)
    for cell, header, width in zip(table.rows[0].cells, block.headers, widths, strict=True):
        _cell(cell, header, width, size, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    _row_properties(table.rows[0], cant_split=True, header=True)
    for index, (values, shown) in enumerate(zip(block.rows, texts, strict=True)):
        row = table.add_row()
        _row_properties(row, cant_split=True)
        for column, (cell, value, text) in enumerate(zip(row.cells, values, shown, strict=True)):
            align = WD_ALIGN_PARAGRAPH.LEFT if wide[column] else WD_ALIGN_PARAGRAPH.CENTER
            if isinstance(value, date) and text_em(text) * size > widths[column] - 5:
                text = "\n".join(date_lines(text))  # 2026年 / 9月18日, not 2026年9月 / 18日
            _cell(cell, text, widths[column], size, bold=index in block.emphasis, align=align)
    spacer = doc.add_paragraph()
    spacer.paragraph_format.line_spacing = Pt(LINE_PT / 2)


def _cell(cell: Any, text: str, width: float, size: float, *, bold: bool, align: Any) -> None:
    cell.width = Pt(width)
    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    paragraph = cell.paragraphs[0]
    paragraph.alignment = align
    paragraph.paragraph_format.line_spacing = 1.0
    _font(paragraph.add_run(text), BODY_FONT, size, bold=bold)  # a "\n" is a line break


def _row_properties(row: Any, *, cant_split: bool = False, header: bool = False) -> None:
    """Rows never break across pages; the header row repeats at the top of every page."""
    properties = row._tr.get_or_add_trPr()
    for name, wanted in (("w:cantSplit", cant_split), ("w:tblHeader", header)):
        if wanted:
            element = OxmlElement(name)
            element.set(qn("w:val"), "true")
            properties.append(element)


def _cell_margins(table: DocxTable, side: float) -> None:
    tblpr = table._tbl.tblPr
    margins = OxmlElement("w:tblCellMar")
    for name, value in (("top", 0.0), ("left", side), ("bottom", 0.0), ("right", side)):
        element = OxmlElement(f"w:{name}")
        element.set(qn("w:w"), str(round(value * 20)))
        element.set(qn("w:type"), "dxa")
        margins.append(element)
    look = tblpr.find(qn("w:tblLook"))
    if look is not None:
        look.addprevious(margins)
    else:
        tblpr.append(margins)


def _table_borders(table: DocxTable, sizes: dict[str, int]) -> None:
    """Only the given rules (sizes in eighths of a point), none at the sides."""
    borders = OxmlElement("w:tblBorders")
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        element = OxmlElement(f"w:{side}")
        size = sizes.get(side)
        element.set(qn("w:val"), "single" if size else "nil")
        if size:
            element.set(qn("w:sz"), str(size))
            element.set(qn("w:space"), "0")
            element.set(qn("w:color"), "000000")
        borders.append(element)
    tblpr = table._tbl.tblPr
    following = [tblpr.find(qn(n)) for n in ("w:shd", "w:tblLayout", "w:tblCellMar",
                                             "w:tblLook")]
    anchor = next((e for e in following if e is not None), None)
    if anchor is not None:
        anchor.addprevious(borders)
    else:
        tblpr.append(borders)


# -- charts --------------------------------------------------------------------------------------


def _image(doc: DocxDocument, block: Image) -> None:
    doc.add_picture(BytesIO(block.png), width=Mm(_CHART_MM))
    picture = doc.paragraphs[-1]
    picture.alignment = WD_ALIGN_PARAGRAPH.CENTER
    picture.paragraph_format.line_spacing = 1.0
    picture.paragraph_format.keep_with_next = True
    caption = doc.add_paragraph()
    caption.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _font(caption.add_run(block.caption), BODY_FONT, 10.5)


__all__ = ["TableLayout", "cell_text", "column_widths", "docx_bytes", "table_layout",
           "title_lines", "write_docx", "yes_no"]
