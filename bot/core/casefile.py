"""Reading and validating case import files (CSV and XLSX, told apart by their bytes).

A case is an enterprise or production line in a county or park. The import file has one
case per row under an English or a Chinese header (column order free; ``equipment`` / ``设备``
optional)::

    ref,county,enterprise,industry,clause,capacity,unit,registered_on,description
    编号,县市园区,企业名称,行业,条款,产能,单位,立案日期,情况说明

Every row is validated and every problem collected (:class:`RowError`, with the
spreadsheet's row number; the header is row 1). Problems with the file as a whole raise
:class:`~bot.core.i18n.DubanError`.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from bot.core.dates import parse_date
from bot.core.i18n import N_, DubanError, Translator
from bot.core.org import Org
from bot.core.uploads import CASE_FILE, FILE_TOO_LARGE, MB, FileType, UploadRefused, detect

__all__ = [
    "CASE_CLAUSES",
    "INDUSTRIES",
    "MAX_ROWS",
    "CaseFileResult",
    "CaseInput",
    "RowError",
    "parse_clauses",
    "parse_industry",
    "read_case_bytes",
    "read_case_file",
    "read_case_rows",
]

MAX_ROWS = 100_000
MAX_CAPACITY = Decimal(10_000_000)
# Clauses of the guiding opinion that create work on a case.
CASE_CLAUSES: tuple[str, ...] = ("四", "五", "六", "七", "八", "九")
INDUSTRIES: tuple[str, ...] = (
    "steel", "coal", "cement", "electrolytic_aluminium", "flat_glass", "power", "other",
)

Progress = Callable[[int, int], None]

# --- columns ------------------------------------------------------------------------

# field -> accepted header spellings (compared after _header_key()).
_COLUMNS: dict[str, tuple[str, ...]] = {
    "ref": ("ref", "reference", "编号", "案件编号", "序号"),
    "county": ("county", "region", "县市园区", "县(市)园区", "县(市)、园区", "县市、园区",
               "县市区", "县(市)", "县市", "所在县市", "园区"),
    "enterprise": ("enterprise", "company", "企业名称", "企业", "企业(生产线)", "企业名称(生产线)"),
    "industry": ("industry", "行业"),
    "clause": ("clause", "clauses", "条款", "适用条款"),
    "capacity": ("capacity", "产能"),
    "unit": ("unit", "单位", "产能单位"),
    "registered_on": ("registered_on", "registered", "date", "立案日期", "登记日期", "立案时间"),
    "description": ("description", "facts", "情况说明", "说明", "基本情况"),
    "equipment": ("equipment", "设备", "主要设备"),
}
REQUIRED_COLUMNS: tuple[str, ...] = (
    "ref", "county", "enterprise", "industry", "clause",
    "capacity", "unit", "registered_on", "description",
)
_HEADER_INDEX = {
    spelling: fieldname for fieldname, spellings in _COLUMNS.items() for spelling in spellings
}


def _header_key(value: object) -> str:
    """A header cell folded for comparison: NFKC, no BOM/spaces/asterisks, lower case."""
    text = unicodedata.normalize("NFKC", "" if value is None else str(value))
    return re.sub(r"[\s\ufeff*＊]+", "", text).lower()


# --- Chinese numerals (1..99) --------------------------------------------------------

_CN_DIGITS = "零一二三四五六七八九"


def _to_cn(n: int) -> str:
    """1..99 as a Chinese numeral: 4 -> 四, 10 -> 十, 16 -> 十六, 23 -> 二十三."""
    if not 1 <= n <= 99:
        raise ValueError(n)
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _CN_DIGITS[tens] + "十")
    return head + (_CN_DIGITS[ones] if ones else "")


def _from_cn(text: str) -> int | None:
    """The value of a Chinese numeral 一..九十九 (or Arabic digits), None if it is not one."""
    if text.isdigit():
        return int(text)
    if not text or any(c not in _CN_DIGITS[1:] + "十" for c in text):
        return None
    if "十" not in text:
        return _CN_DIGITS.index(text) if len(text) == 1 else None
    tens_text, _, ones_text = text.partition("十")
    if len(tens_text) > 1 or len(ones_text) > 1 or "十" in ones_text:
        return None
    tens = _CN_DIGITS.index(tens_text) if tens_text else 1
    ones = _CN_DIGITS.index(ones_text) if ones_text else 0
    return tens * 10 + ones


_CLAUSE_TOKEN = re.compile(r"[0-9]+|[一二三四五六七八九十]+")
_CLAUSE_ALLOWED = re.compile(r"^[\s0-9一二三四五六七八九十()（）〔〕\[\]第条款项、,，;；/+和及]*$")


def parse_clauses(value: object) -> tuple[str, ...] | None:
    """``4``, ``四``, ``（四）``, ``(4)``, ``四;八``, ``四、八`` -> ("四",) / ("四", "八").

    Returns the clauses as Chinese numerals in the order given, without repeats, or None
    when ``value`` is not a list of clause numbers. Whether they apply to cases is checked
    by the caller.
    """
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if not text or not _CLAUSE_ALLOWED.match(text):
        return None
    result: dict[str, None] = {}
    for token in _CLAUSE_TOKEN.findall(text):
        number = _from_cn(token)
        if number is None or not 1 <= number <= 99:
            return None
        result.setdefault(_to_cn(number), None)
    return tuple(result) or None


# --- industries -----------------------------------------------------------------------

_INDUSTRY_NAMES: dict[str, str] = {
    "钢铁": "steel", "钢": "steel", "地条钢": "steel", "steel": "steel",
    "煤炭": "coal", "煤": "coal", "coal": "coal",
    "水泥": "cement", "cement": "cement",
    "电解铝": "electrolytic_aluminium", "铝": "electrolytic_aluminium",
    "electrolyticaluminium": "electrolytic_aluminium",
    "electrolyticaluminum": "electrolytic_aluminium",
    "aluminium": "electrolytic_aluminium", "aluminum": "electrolytic_aluminium",
    "平板玻璃": "flat_glass", "玻璃": "flat_glass", "flatglass": "flat_glass",
    "电力": "power", "火电": "power", "power": "power",
    "其他": "other", "其它": "other", "other": "other", "others": "other",
}


def parse_industry(value: str) -> str | None:
    """钢铁 / steel / "Flat glass" / 水泥行业 -> the industry key, or None."""
    text = re.sub(r"[\s_\-]+", "", unicodedata.normalize("NFKC", value)).lower()
    if text.endswith("行业") and len(text) > 2:
        text = text[:-2]
    return _INDUSTRY_NAMES.get(text)


# --- results ------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseInput:
    """One valid case from an import file."""

    ref: str
    region: str
    enterprise: str
    industry: str
    clauses: tuple[str, ...]
    capacity: Decimal | None
    unit: str | None
    equipment: str | None
    registered_on: date
    description: str
    row: int
    #: Evidence sent while registering it in chat (/newcase), recorded on its first event.
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class RowError:
    """A problem in one row. ``column`` is the header as written in the file."""

    row: int
    column: str | None
    message: str
    params: dict[str, Any] = field(default_factory=dict)
    field_key: str | None = None  # the column's key (ref, county, …) whatever the header

    def render(self, translator: Translator) -> str:
        problem = translator.gettext(self.message, **self.params)
        if self.column:
            return translator.gettext(
                N_("Row {row}, column {column}: {problem}"),
                row=self.row, column=self.column, problem=problem,
            )
        return translator.gettext(N_("Row {row}: {problem}"), row=self.row, problem=problem)


@dataclass(frozen=True)
class CaseFileResult:
    """The valid cases and every problem found; ``total_rows`` counts non-blank data rows."""

    valid: tuple[CaseInput, ...]
    errors: tuple[RowError, ...]
    total_rows: int

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def rows_with_errors(self) -> tuple[int, ...]:
        return tuple(sorted({e.row for e in self.errors}))


# --- reading files -------------------------------------------------------------------


def read_case_file(
    path: Path | str,
    org: Org,
    *,
    today: date,
    progress: Progress | None = None,
) -> CaseFileResult:
    """Read a ``.csv`` or ``.xlsx`` case file from disk."""
    source = Path(path)
    try:
        data = source.read_bytes()
    except FileNotFoundError:
        raise DubanError(N_("File not found: {name}"), name=str(source)) from None
    except OSError as exc:
        raise DubanError(
            N_("Cannot read {name}: {reason}"), name=source.name, reason=exc.strerror or str(exc)
        ) from None
    return read_case_bytes(data, source.name, org, today=today, progress=progress)


def read_case_bytes(
    data: bytes,
    filename: str,
    org: Org,
    *,
    today: date,
    progress: Progress | None = None,
    max_bytes: int | None = None,
) -> CaseFileResult:
    """Read a case file's content: CSV text or an Excel workbook, recognised by its bytes
    (``bot.core.uploads``) whatever ``filename`` says; the name is only for the messages.
    Anything else (a program, a PDF, a ZIP that is no workbook) is refused before it is read;
    ``max_bytes``: the size limit of a file sent in the chat."""
    if max_bytes is not None and len(data) > max_bytes:
        raise DubanError(FILE_TOO_LARGE, limit=max(1, max_bytes // MB))
    found = detect(data)
    if found in (FileType.XLSX, FileType.XLSM):
        table = _xlsx_rows(data, filename)
    elif found is FileType.TEXT:
        table = _csv_rows(data, filename)
    elif found is FileType.EMPTY:
        raise DubanError(N_("{name}: the file holds no cases"), name=filename)
    elif found is FileType.XLS:
        raise DubanError(
            N_("{name} is an old Excel file (.xls); please save it as .xlsx and send it again"),
            name=filename,
        )
    elif found is FileType.ZIP:  # a damaged workbook, or an archive that is none
        raise DubanError(N_("{name} is not a valid .xlsx file"), name=filename)
    else:
        raise UploadRefused(CASE_FILE.refusal, found=found, name=filename)
    return _read_table(table, filename, org, today=today, progress=progress)


def read_case_rows(
    rows: Iterable[Mapping[str, object]],
    org: Org,
    *,
    today: date,
    progress: Progress | None = None,
    filename: str = "",
) -> CaseFileResult:
    """Validate cases given as mappings from header text to cell value.

    The header is taken from the first mapping's keys; row numbers start at 2 as if the
    rows came from a spreadsheet under a one-line header.
    """
    materialised = list(rows)
    if not materialised:
        raise DubanError(N_("{name}: the file holds no cases"), name=filename or "-")
    header: list[object] = list(materialised[0].keys())
    table: list[list[object]] = [header]
    table.extend([row.get(str(h)) for h in header] for row in materialised)
    return _read_table(table, filename, org, today=today, progress=progress)


def _csv_rows(data: bytes, filename: str) -> list[list[object]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes nearly anything
        raise DubanError(
            N_("{name}: cannot read the text; save the CSV as UTF-8"), name=filename
        )
    if "\x00" in text:
        raise DubanError(N_("{name} is not a CSV text file"), name=filename)
    first_line = text.split("\n", 1)[0]
    delimiter = ","
    if "," not in first_line:
        if "\t" in first_line:
            delimiter = "\t"
        elif ";" in first_line:
            delimiter = ";"
    rows: list[list[object]] = []
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            rows.append(list(row))
            if len(rows) > MAX_ROWS + 1:
                _too_many(filename)
    except csv.Error as exc:
        raise DubanError(
            N_("{name}: not a readable CSV file ({reason})"), name=filename, reason=str(exc)
        ) from None
    return rows


def _xlsx_rows(data: bytes, filename: str) -> list[list[object]]:
    # Imported here: openpyxl is slow to import and only needed for spreadsheets.
    from openpyxl import load_workbook

    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise DubanError(N_("{name} is not a valid .xlsx file"), name=filename)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged package
        raise DubanError(N_("{name} is not a valid .xlsx file"), name=filename) from None
    try:
        if not workbook.worksheets:
            raise DubanError(N_("{name}: the file holds no cases"), name=filename)
        sheet = workbook.worksheets[0]
        rows: list[list[object]] = []
        try:
            for values in sheet.iter_rows(values_only=True):
                rows.append(list(values))
                if len(rows) > MAX_ROWS + 1:
                    _too_many(filename)
        except DubanError:
            raise
        except Exception:
            raise DubanError(N_("{name} is not a valid .xlsx file"), name=filename) from None
        return rows
    finally:
        workbook.close()


def _too_many(filename: str) -> None:
    raise DubanError(
        N_("{name} has more than {limit} rows; split it into smaller files"),
        name=filename, limit=MAX_ROWS,
    )


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# --- validation -------------------------------------------------------------------------


def _find_header(table: Sequence[Sequence[object]]) -> int:
    """The index of the header row: the first of the first five rows naming 3+ columns.

    A title line above the header (``2026年落后产能案件``) is common in hand-made sheets.
    """
    for index, row in enumerate(table[:5]):
        known = {_HEADER_INDEX.get(_header_key(cell)) for cell in row} - {None}
        if len(known) >= 3:
            return index
    return 0


def _read_table(
    table: Sequence[Sequence[object]],
    filename: str,
    org: Org,
    *,
    today: date,
    progress: Progress | None,
) -> CaseFileResult:
    name = filename or "-"
    if not table or all(all(_blank(c) for c in row) for row in table):
        raise DubanError(N_("{name} is empty"), name=name)
    header_at = _find_header(table)
    header = table[header_at]
    columns: dict[str, int] = {}
    titles: dict[str, str] = {}
    for position, cell in enumerate(header):
        fieldname = _HEADER_INDEX.get(_header_key(cell))
        if fieldname is None:
            continue
        if fieldname in columns:
            raise DubanError(
                N_("{name}: the column “{column}” appears twice"),
                name=name, column=str(cell).strip(),
            )
        columns[fieldname] = position
        titles[fieldname] = str(cell).strip().lstrip("\ufeff")
    missing = [f for f in REQUIRED_COLUMNS if f not in columns]
    if missing:
        raise DubanError(
            N_("{name}: missing column(s) {columns}. Expected the header: {expected}"),
            name=name,
            columns=", ".join(missing),
            expected=",".join(REQUIRED_COLUMNS)
            + " / 编号,县市园区,企业名称,行业,条款,产能,单位,立案日期,情况说明",
        )
    body = table[header_at + 1:]
    if len(body) > MAX_ROWS:
        _too_many(name)
    if not any(not all(_blank(c) for c in row) for row in body):
        raise DubanError(N_("{name}: the file holds no cases"), name=name)

    checker = _RowChecker(org, today, columns, titles)
    total = len(body)
    step = max(1, total // 100)
    for offset, row in enumerate(body):
        row_number = header_at + offset + 2
        if not all(_blank(c) for c in row):
            checker.check(row_number, row)
        if progress is not None and ((offset + 1) % step == 0 or offset + 1 == total):
            progress(offset + 1, total)
    return CaseFileResult(tuple(checker.valid), tuple(checker.errors), checker.count)


_EXCEL_EPOCH = date(1899, 12, 30)
_WHITESPACE = re.compile(r"\s+")


class _RowChecker:
    """Validates rows one at a time, remembering refs to spot duplicates."""

    def __init__(
        self, org: Org, today: date, columns: Mapping[str, int], titles: Mapping[str, str]
    ) -> None:
        self.org = org
        self.today = today
        self.columns = columns
        self.titles = titles
        self.refs: dict[str, int] = {}
        self.valid: list[CaseInput] = []
        self.errors: list[RowError] = []
        self.count = 0

    def check(self, row_number: int, row: Sequence[object]) -> None:
        self.count += 1
        problems: list[RowError] = []

        def cell(fieldname: str) -> object:
            position = self.columns.get(fieldname)
            if position is None or position >= len(row):
                return None
            return row[position]

        def error(fieldname: str | None, message: str, **params: Any) -> None:
            column = self.titles.get(fieldname) if fieldname else None
            problems.append(RowError(row_number, column, message, params, fieldname))

        ref = self._ref(cell("ref"), row_number, error)
        region = self._region(cell("county"), error)
        enterprise = self._text(cell("enterprise"), "enterprise", 200, error, required=True)
        industry = self._industry(cell("industry"), error)
        clauses = self._clauses(cell("clause"), error)
        capacity = self._capacity(cell("capacity"), error)
        unit = self._text(cell("unit"), "unit", 40, error)
        if capacity is not None and unit is None:
            error("unit", N_("the unit is missing (for example 万吨/年)"))
        equipment = self._text(cell("equipment"), "equipment", 500, error)
        registered_on = self._date(cell("registered_on"), error)
        description = self._text(cell("description"), "description", 2000, error) or ""

        if problems:
            self.errors.extend(problems)
            return
        assert ref is not None and region is not None and enterprise is not None
        assert industry is not None and clauses is not None and registered_on is not None
        self.valid.append(
            CaseInput(
                ref=ref,
                region=region,
                enterprise=enterprise,
                industry=industry,
                clauses=clauses,
                capacity=capacity,
                unit=unit,
                equipment=equipment,
                registered_on=registered_on,
                description=description,
                row=row_number,
            )
        )

    @staticmethod
    def _as_text(value: object) -> str:
        """A cell as text; a whole number Excel stored as 12.0 reads "12"."""
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        if isinstance(value, datetime):
            return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
        return str(value).strip()

    def _text(
        self,
        value: object,
        fieldname: str,
        limit: int,
        error: Callable[..., None],
        *,
        required: bool = False,
    ) -> str | None:
        text = self._as_text(value)
        if not text:
            if required:
                error(fieldname, N_("this cell must not be empty"))
            return None
        if len(text) > limit:
            error(fieldname, N_("too long: {length} characters, at most {limit}"),
                  length=len(text), limit=limit)
            return None
        return text

    def _ref(
        self, value: object, row_number: int, error: Callable[..., None]
    ) -> str | None:
        ref = self._text(value, "ref", 40, error, required=True)
        if ref is None:
            return None
        first = self.refs.setdefault(ref, row_number)
        if first != row_number:
            error("ref", N_("the reference {ref} is already used in row {first}"),
                  ref=ref, first=first)
            return None
        return ref

    def _region(self, value: object, error: Callable[..., None]) -> str | None:
        text = _WHITESPACE.sub(" ", self._as_text(value))
        if not text:
            error("county", N_("this cell must not be empty"))
            return None
        result = self.org.match_region(text)
        if result.value is not None:
            return result.value
        if result.candidates:
            error("county", N_("“{value}” could be several counties or parks: {candidates}"),
                  value=text, candidates="、".join(result.candidates))
        else:
            error("county", N_("no county or park matches “{value}”"), value=text)
        return None

    def _industry(self, value: object, error: Callable[..., None]) -> str | None:
        text = self._as_text(value)
        if not text:
            error("industry", N_("this cell must not be empty"))
            return None
        key = parse_industry(text)
        if key is None:
            error("industry",
                  N_("unknown industry “{value}”: use 钢铁, 煤炭, 水泥, 电解铝, 平板玻璃, 电力 or "
                     "其他"),
                  value=text)
        return key

    def _clauses(self, value: object, error: Callable[..., None]) -> tuple[str, ...] | None:
        if _blank(value):
            error("clause", N_("this cell must not be empty"))
            return None
        clauses = parse_clauses(value)
        text = self._as_text(value)
        if clauses is None:
            error("clause", N_("“{value}” is not a clause number such as 四 or （八）"),
                  value=text)
            return None
        wrong = [c for c in clauses if c not in CASE_CLAUSES]
        if wrong:
            error("clause",
                  N_("clause {clauses} does not apply to a case; use （四） to （九）"),
                  clauses="、".join(f"（{c}）" for c in wrong))
            return None
        return clauses

    def _capacity(self, value: object, error: Callable[..., None]) -> Decimal | None:
        if _blank(value):
            return None
        amount: Decimal | None
        if isinstance(value, bool):
            amount = None
        elif isinstance(value, int | Decimal):
            amount = Decimal(value)
        elif isinstance(value, float):
            amount = Decimal(repr(value))
        else:
            text = unicodedata.normalize("NFKC", str(value)).strip()
            cleaned = text.replace(" ", "")
            if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", cleaned):
                cleaned = cleaned.replace(",", "")
            try:
                amount = Decimal(cleaned) if re.fullmatch(r"[+-]?[\d.]+", cleaned) else None
            except InvalidOperation:
                amount = None
        if amount is None or not amount.is_finite():
            error("capacity", N_("“{value}” is not a number"), value=self._as_text(value))
            return None
        if amount < 0:
            error("capacity", N_("the capacity must not be negative"))
            return None
        if amount >= MAX_CAPACITY:
            error("capacity", N_("the capacity must be less than 10,000,000"))
            return None
        return amount.quantize(Decimal(1)) if amount == amount.to_integral_value() else amount

    def _date(self, value: object, error: Callable[..., None]) -> date | None:
        if _blank(value):
            error("registered_on", N_("this cell must not be empty"))
            return None
        result: date | None = None
        if isinstance(value, datetime):
            result = value.date()
        elif isinstance(value, date):
            result = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            # An Excel serial day number (a date cell without date formatting).
            if 1 <= value < 2958466:
                result = _EXCEL_EPOCH + timedelta(days=int(value))
            else:
                error("registered_on", N_("Not a date: “{text}” (write it as 2026-03-05)"),
                      text=self._as_text(value))
                return None
        else:
            try:
                result = parse_date(str(value))
            except DubanError as exc:
                error("registered_on", exc.message, **exc.params)
                return None
        if result > self.today:
            error("registered_on", N_("the date {date} is in the future"),
                  date=result.isoformat())
            return None
        return result
