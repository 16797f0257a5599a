"""Write a :class:`~bot.render.reports.Document` as one worksheet laid out like the paper form.

Figures stay numbers (0 where nothing was counted) and dates stay dates, shown in the reader's
date style (so the reader can add them up and sort them again); yes and no are words (是/否);
the title,
paragraphs and table captions run across the table's width; charts are placed where they
stand in the document. The sheet prints landscape, fitted to the page width.
"""

from __future__ import annotations

import math
import re
from datetime import date
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import IO

from openpyxl import Workbook
from openpyxl.drawing.image import Image as XlImage
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from bot.core.i18n import Translator
from bot.render.reports import Cell, Document, Heading, Image, Paragraph, Table
from bot.render.reports.cells import display_width, yes_no

_THIN = Side(style="thin", color="000000")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FILL = PatternFill("solid", fgColor="D9D9D9")
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_ROW_PX = 20  # a default row is about 20 pixels high
_IMAGE_PX = (720, 405)  # charts are scaled to this size in the sheet


def sheet_title(text: str) -> str:
    """A valid worksheet name: at most 31 characters, none of []:*?/\\."""
    return _BAD_SHEET_CHARS.sub("_", text)[:31] or "Sheet1"


def date_format(tr: Translator) -> str:
    """The number format of a date cell: 2026年11月20日 in Chinese, 2026-11-20 otherwise."""
    return 'yyyy"年"m"月"d"日"' if tr.locale.startswith("zh") else "yyyy-mm-dd"


def excel_value(value: Cell, tr: Translator) -> object:
    """What goes into a cell: numbers and dates as such, yes and no as words, empty for
    None."""
    if isinstance(value, bool):
        return yes_no(value, tr)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def write_xlsx(document: Document, tr: Translator, target: Path | IO[bytes]) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = sheet_title(document.sheet)
    width = max((len(t.headers) for t in document.tables()), default=4)
    widths: dict[int, int] = {}
    row = _text_row(sheet, 1, document.title, width, Font(bold=True, size=16), "center")
    sheet.row_dimensions[1].height = 30
    previous: object = None
    for block in document.blocks:
        if isinstance(block, Paragraph):
            gap = 2 if isinstance(previous, Table | Image) else 1  # a blank row after a table
            row = _text_row(sheet, row + gap, block.text, width, Font(bold=block.bold),
                            block.align)
        elif isinstance(block, Heading):
            row = _text_row(sheet, row + 2, block.text, width, Font(bold=True, size=12), "left")
        elif isinstance(block, Table):
            row = _table(sheet, row + 2, block, widths, tr)
        elif isinstance(block, Image):
            row = _image(sheet, row + 2, block, width)
        previous = block
    for column, chars in widths.items():
        sheet.column_dimensions[get_column_letter(column)].width = min(max(chars + 2, 8), 50)
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    workbook.save(target)


def xlsx_bytes(document: Document, tr: Translator) -> bytes:
    buffer = BytesIO()
    write_xlsx(document, tr, buffer)
    return buffer.getvalue()


def _text_row(sheet: Worksheet, row: int, text: str, width: int, font: Font,
              align: str) -> int:
    cell = sheet.cell(row=row, column=1, value=text)
    cell.font = font
    cell.alignment = Alignment(horizontal=align, vertical="center", wrap_text=True)
    if width > 1:
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
    lines = max(1, math.ceil(display_width(text) / max(width * 14, 1)))
    if lines > 1:
        sheet.row_dimensions[row].height = 16 * lines
    return row


def _table(sheet: Worksheet, row: int, table: Table, widths: dict[int, int],
           tr: Translator) -> int:
    caption = sheet.cell(row=row, column=1, value=table.caption)
    caption.font = Font(bold=True)
    row += 1
    for column, header in enumerate(table.headers, start=1):
        cell = sheet.cell(row=row, column=column, value=header)
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
        cell.border = _BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        widths[column] = max(widths.get(column, 0), min(display_width(header), 20))
    for index, values in enumerate(table.rows):
        row += 1
        for column, value in enumerate(values, start=1):
            cell = sheet.cell(row=row, column=column, value=excel_value(value, tr))
            cell.border = _BORDER
            cell.alignment = Alignment(vertical="center", wrap_text=True)
            if index in table.emphasis:
                cell.font = Font(bold=True)
            if isinstance(value, date):
                cell.number_format = date_format(tr)
                text_width = 14
            else:
                shown = cell.value
                text_width = display_width("" if shown is None else str(shown))
            widths[column] = max(widths.get(column, 0), text_width)
    return row


def _image(sheet: Worksheet, row: int, block: Image, width: int) -> int:
    picture = XlImage(BytesIO(block.png))
    picture.width, picture.height = _IMAGE_PX
    sheet.add_image(picture, f"A{row}")
    row += math.ceil(_IMAGE_PX[1] / _ROW_PX) + 1
    return _text_row(sheet, row, block.caption, width, Font(italic=True), "center")
