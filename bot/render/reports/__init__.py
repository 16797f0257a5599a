"""Reports and published lists, pre-filled from the cases.

* :mod:`bot.render.reports.county`: the 30 November county (park) report;
* :mod:`bot.render.reports.letters`: the 31 December department letters and the 31 January summary;
* :mod:`bot.render.reports.lists`: the yellow card, red card and annual exit lists (CSV, XLSX,
  HTML);
* :mod:`bot.render.reports.charts`: PNG charts (also for ``/status``);
* :mod:`bot.services.reports`: the queries behind them.

A report is built once as a :class:`Document` (a title and a sequence of blocks, every text
already translated) and then written by :mod:`bot.render.reports.docx_util` and
:mod:`bot.render.reports.xlsx_util`, so the .docx and the .xlsx always carry the same figures.

Those two and :mod:`bot.render.reports.charts` import python-docx, openpyxl and matplotlib (with
numpy, Pillow and lxml, about 50 MB of memory): the other modules import them inside the
function that draws or writes, so that the bot starts without them
(``tests/test_lazy_imports.py``; ``bench/memory.py`` measures).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

Cell = str | int | Decimal | date | None


@dataclass(frozen=True)
class Paragraph:
    text: str
    align: Literal["left", "center", "right"] = "left"
    bold: bool = False
    indent: bool = False  # a first-line indent of two characters, as body text has


@dataclass(frozen=True)
class Heading:
    """A section heading such as 一、退出企业情况."""

    text: str


@dataclass(frozen=True)
class Table:
    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    emphasis: frozenset[int] = frozenset()  # indexes of subtotal and total rows (bold)


@dataclass(frozen=True)
class Image:
    png: bytes
    caption: str


Block = Paragraph | Heading | Table | Image


@dataclass(frozen=True)
class Document:
    title: str
    blocks: tuple[Block, ...]
    sheet: str  # the worksheet's name in the .xlsx

    def tables(self) -> tuple[Table, ...]:
        return tuple(b for b in self.blocks if isinstance(b, Table))


__all__ = ["Block", "Cell", "Document", "Heading", "Image", "Paragraph", "Table"]
