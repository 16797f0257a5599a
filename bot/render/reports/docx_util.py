"""Write a :class:`~bot.render.reports.Document` as a Word file laid out like an official document.

A4 paper with the margins of GB/T 9704 (党政机关公文格式), a centred title, body text with a
two-character first-line indent, ruled tables whose header row repeats on every page, and
charts at text width.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import IO

from docx import Document as new_docx
from docx.document import Document as DocxDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from docx.table import Table as DocxTable
from docx.text.run import Run

from bot.core.i18n import Translator
from bot.render.reports import Cell, Document, Heading, Image, Paragraph, Table
from bot.render.texts import fmt_date, fmt_number

BODY_FONT = "仿宋"  # FangSong; Word falls back to another Song face where it is missing
TITLE_FONT = "黑体"  # SimHei
LATIN_FONT = "Times New Roman"
_ALIGN = {"left": WD_ALIGN_PARAGRAPH.LEFT, "center": WD_ALIGN_PARAGRAPH.CENTER,
          "right": WD_ALIGN_PARAGRAPH.RIGHT}


def cell_text(value: Cell, tr: Translator) -> str:
    """A table cell as the reader sees it: numbers and dates in the reader's locale."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, Decimal | int):
        return fmt_number(value, tr)
    if isinstance(value, date):
        return fmt_date(value, tr)
    return value


def write_docx(document: Document, tr: Translator, target: Path | IO[bytes]) -> None:
    doc = new_docx()
    _page_setup(doc)
    _title(doc, document.title)
    for block in document.blocks:
        if isinstance(block, Paragraph):
            _paragraph(doc, block)
        elif isinstance(block, Heading):
            _run_fonts(doc.add_paragraph().add_run(block.text), TITLE_FONT, 14, bold=True)
        elif isinstance(block, Table):
            _table(doc, block, tr)
        elif isinstance(block, Image):
            _image(doc, block)
    doc.save(str(target) if isinstance(target, Path) else target)


def docx_bytes(document: Document, tr: Translator) -> bytes:
    buffer = BytesIO()
    write_docx(document, tr, buffer)
    return buffer.getvalue()


def _page_setup(doc: DocxDocument) -> None:
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.top_margin, section.bottom_margin = Cm(3.7), Cm(3.5)
    section.left_margin, section.right_margin = Cm(2.8), Cm(2.6)
    normal = doc.styles["Normal"]
    normal.font.name = LATIN_FONT
    normal.font.size = Pt(14)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), BODY_FONT)


def _run_fonts(run: Run, east_asia: str, size: float, *, bold: bool = False) -> Run:
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.name = LATIN_FONT
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), east_asia)
    return run


def _title(doc: DocxDocument, text: str) -> None:
    paragraph = doc.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.paragraph_format.space_after = Pt(18)
    _run_fonts(paragraph.add_run(text), TITLE_FONT, 20, bold=True)


def _paragraph(doc: DocxDocument, block: Paragraph) -> None:
    paragraph = doc.add_paragraph()
    paragraph.alignment = _ALIGN[block.align]
    if block.indent:
        paragraph.paragraph_format.first_line_indent = Pt(28)
    _run_fonts(paragraph.add_run(block.text), BODY_FONT, 14, bold=block.bold)


def _table(doc: DocxDocument, block: Table, tr: Translator) -> None:
    caption = doc.add_paragraph()
    caption.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run_fonts(caption.add_run(block.caption), TITLE_FONT, 12, bold=True)
    table = doc.add_table(rows=1, cols=len(block.headers))
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, header in zip(table.rows[0].cells, block.headers, strict=True):
        _cell(cell, header, bold=True)
    _repeat_header(table)
    for index, values in enumerate(block.rows):
        cells = table.add_row().cells
        for cell, value in zip(cells, values, strict=True):
            _cell(cell, cell_text(value, tr), bold=index in block.emphasis)
    doc.add_paragraph()


def _cell(cell: object, text: str, *, bold: bool) -> None:
    paragraph = cell.paragraphs[0]  # type: ignore[attr-defined]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run_fonts(paragraph.add_run(text), BODY_FONT, 10.5, bold=bold)


def _repeat_header(table: DocxTable) -> None:
    """Mark the first row as a header row, repeated at the top of every page."""
    properties = table.rows[0]._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    properties.append(header)


def _image(doc: DocxDocument, block: Image) -> None:
    doc.add_picture(BytesIO(block.png), width=Cm(15))
    doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
    caption = doc.add_paragraph()
    caption.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run_fonts(caption.add_run(block.caption), BODY_FONT, 10.5)
