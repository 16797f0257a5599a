from __future__ import annotations

import csv
import io
import os
import zipfile
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook

from bot.core import casefile
from bot.core.casefile import (
    CaseFileResult,
    RowError,
    _from_cn,
    _to_cn,
    parse_clauses,
    parse_industry,
    read_case_bytes,
    read_case_file,
    read_case_rows,
)
from bot.core.i18n import DubanError, get_translator
from bot.core.org import Org, load_demo_org
from bot.data import DATA_DIR

TODAY = date(2026, 11, 29)
EN_HEADER = ["ref", "county", "enterprise", "industry", "clause", "capacity", "unit",
             "registered_on", "description"]
ZH_HEADER = ["编号", "县市园区", "企业名称", "行业", "条款", "产能", "单位", "立案日期", "情况说明"]
GOOD = ["A-1", "玛纳斯县", "恒达钢铁", "钢铁", "（八）", "30", "万吨/年", "2026-01-12", "中频炉"]


@pytest.fixture(scope="module")
def org() -> Org:
    return load_demo_org()


def csv_bytes(rows: Sequence[Sequence[object]], encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode(encoding)


def read_csv(org: Org, rows: Sequence[Sequence[object]], **kwargs: object) -> CaseFileResult:
    return read_case_bytes(csv_bytes(rows), "cases.csv", org, today=TODAY, **kwargs)  # type: ignore[arg-type]


def xlsx_file(path: Path, rows: Sequence[Sequence[object]]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)
    return path


def only_error(result: CaseFileResult) -> RowError:
    assert len(result.errors) == 1, result.errors
    return result.errors[0]


# --- helpers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "text"),
    [(1, "一"), (4, "四"), (9, "九"), (10, "十"), (11, "十一"), (16, "十六"), (20, "二十"),
     (23, "二十三"), (99, "九十九")],
)
def test_chinese_numerals(n: int, text: str) -> None:
    assert _to_cn(n) == text
    assert _from_cn(text) == n


@given(st.integers(min_value=1, max_value=99))
def test_chinese_numerals_round_trip(n: int) -> None:
    assert _from_cn(_to_cn(n)) == n


@pytest.mark.parametrize("text", ["", "零", "十十", "一二", "百", "二十三四", "abc"])
def test_from_cn_refuses(text: str) -> None:
    assert _from_cn(text) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("4", ("四",)), (4, ("四",)), (4.0, ("四",)), ("四", ("四",)), ("（四）", ("四",)),
     ("(4)", ("四",)), ("（4）", ("四",)), ("四;八", ("四", "八")), ("四、八", ("四", "八")),
     ("（四）（八）", ("四", "八")), ("4,9", ("四", "九")), ("第八条", ("八",)),
     ("八；八", ("八",)), ("十六", ("十六",)), ("abc", None), ("四x", None), ("", None)],
)
def test_parse_clauses(value: object, expected: tuple[str, ...] | None) -> None:
    assert parse_clauses(value) == expected


@pytest.mark.parametrize(
    ("text", "key"),
    [("钢铁", "steel"), ("steel", "steel"), ("Steel", "steel"), ("煤炭", "coal"),
     ("水泥", "cement"),
     ("电解铝", "electrolytic_aluminium"), ("electrolytic_aluminium", "electrolytic_aluminium"),
     ("Electrolytic aluminum", "electrolytic_aluminium"), ("平板玻璃", "flat_glass"),
     ("flat glass", "flat_glass"), ("其他", "other"), ("其它", "other"), ("水泥行业", "cement"),
     ("化工", None)],
)
def test_parse_industry(text: str, key: str | None) -> None:
    assert parse_industry(text) == key


# --- CSV ----------------------------------------------------------------------------------


def test_english_csv(org: Org) -> None:
    result = read_csv(org, [EN_HEADER, GOOD])
    assert result.errors == ()
    assert result.total_rows == 1
    (case,) = result.valid
    assert case.ref == "A-1"
    assert case.region == "玛纳斯县"
    assert case.industry == "steel"
    assert case.clauses == ("八",)
    assert case.capacity == Decimal(30)
    assert case.unit == "万吨/年"
    assert case.registered_on == date(2026, 1, 12)
    assert case.description == "中频炉"
    assert case.equipment is None
    assert case.row == 2


def test_chinese_header_any_order_bom_and_equipment(org: Org) -> None:
    header = [" 行业 ", "\ufeff编号", "设备", *ZH_HEADER[1:3], *ZH_HEADER[4:]]
    row = ["水泥", "Z-1", "立窑2座", "玛纳斯", "鑫源水泥", "四、九", "1,200.5", "万吨/年",
           "2026年3月5日", "能耗超标"]
    data = "\ufeff".encode() + csv_bytes([header, row])
    result = read_case_bytes(data, "导入.CSV", org, today=TODAY)
    assert result.errors == ()
    (case,) = result.valid
    assert (case.ref, case.region, case.industry, case.clauses) == ("Z-1", "玛纳斯县", "cement",
                                                                     ("四", "九"))
    assert case.capacity == Decimal("1200.5")
    assert case.equipment == "立窑2座"
    assert case.registered_on == date(2026, 3, 5)


def test_gbk_csv(org: Org, tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes(csv_bytes([ZH_HEADER, ["G-1", "昌吉市", "宏远建材", "平板玻璃", "五", "120",
                                            "万重量箱/年", "2026/2/20", "超标排放"]], "gbk"))
    result = read_case_file(path, org, today=TODAY)
    assert result.errors == ()
    assert result.valid[0].enterprise == "宏远建材"
    assert result.valid[0].industry == "flat_glass"


def test_demo_case_file(org: Org) -> None:
    path = DATA_DIR / "demo_cases.csv"
    result = read_case_file(path, org, today=TODAY)
    assert result.errors == ()
    assert 10 <= len(result.valid) <= 15
    clauses = {c for case in result.valid for c in case.clauses}
    assert clauses == {"四", "五", "六", "七", "八", "九"}
    # Every industry but power: the demo prefecture has no power plant among its cases.
    assert {c.industry for c in result.valid} == set(casefile.INDUSTRIES) - {"power"}
    assert "玛纳斯县" in {c.region for c in result.valid}
    assert all(c.registered_on.year == 2026 for c in result.valid)


def test_every_error_is_collected(org: Org) -> None:
    rows = [
        EN_HEADER,
        GOOD,
        ["A-2", "昌吉", "x", "钢铁", "四", "-5", "万吨/年", "2026-13-01", ""],
        ["A-1", "火星县", "", "化工", "一", "abc", "", "2027-01-01", ""],
        ["", "玛纳斯县", "y", "水泥", "四", "", "", "2026-01-01", "d" * 2001],
        ["A-5", "玛纳斯县", "z", "水泥", "十二", "10000000", "吨", "", ""],
    ]
    result = read_csv(org, rows)
    assert [c.ref for c in result.valid] == ["A-1"]
    assert result.total_rows == 5
    assert result.rows_with_errors == (3, 4, 5, 6)
    by_row: dict[int, set[str | None]] = {}
    for error in result.errors:
        by_row.setdefault(error.row, set()).add(error.field_key)
    assert by_row[3] == {"county", "capacity", "registered_on"}
    assert by_row[4] == {"ref", "county", "enterprise", "industry", "clause", "capacity",
                         "registered_on"}
    assert by_row[5] == {"ref", "description"}
    assert by_row[6] == {"clause", "capacity", "registered_on"}


def test_ambiguous_county_lists_candidates(org: Org) -> None:
    error = only_error(read_csv(org, [EN_HEADER, ["A", "昌吉", *GOOD[2:]]]))
    assert error.row == 2 and error.column == "county" and error.field_key == "county"
    text = error.render(get_translator("en"))
    assert "Row 2" in text and "昌吉市" in text and "昌吉高新技术产业开发区" in text


def test_unknown_clause(org: Org) -> None:
    error = only_error(read_csv(org, [EN_HEADER, [*GOOD[:4], "（十二）", *GOOD[5:]]]))
    assert error.field_key == "clause"
    assert "十二" in error.render(get_translator("en"))
    error = only_error(read_csv(org, [EN_HEADER, [*GOOD[:4], "四;一", *GOOD[5:]]]))
    assert error.params["clauses"] == "（一）"


def test_negative_capacity(org: Org) -> None:
    error = only_error(read_csv(org, [EN_HEADER, [*GOOD[:5], "-1", *GOOD[6:]]]))
    assert error.field_key == "capacity"
    assert "negative" in error.render(get_translator("en"))


@pytest.mark.parametrize(
    ("capacity", "unit", "expected"),
    [("1,200", "吨", Decimal(1200)), ("0", "吨", Decimal(0)), ("3.5", "万吨/年", Decimal("3.5")),
     ("", "", None), ("", "万吨/年", None), ("9999999.99", "吨", Decimal("9999999.99"))],
)
def test_capacity_values(org: Org, capacity: str, unit: str, expected: Decimal | None) -> None:
    result = read_csv(org, [EN_HEADER, [*GOOD[:5], capacity, unit, *GOOD[7:]]])
    assert result.errors == ()
    assert result.valid[0].capacity == expected


@pytest.mark.parametrize("capacity", ["1,2,3", "1e3", "NaN", "inf", "10000000", "12吨"])
def test_bad_capacity(org: Org, capacity: str) -> None:
    assert only_error(read_csv(org, [EN_HEADER, [*GOOD[:5], capacity, *GOOD[6:]]])).field_key \
        == "capacity"


def test_capacity_needs_a_unit(org: Org) -> None:
    assert only_error(read_csv(org, [EN_HEADER, [*GOOD[:6], "", *GOOD[7:]]])).field_key == "unit"


def test_bad_and_future_dates(org: Org) -> None:
    bad = only_error(read_csv(org, [EN_HEADER, [*GOOD[:7], "next week", GOOD[8]]]))
    assert bad.field_key == "registered_on"
    assert "next week" in bad.render(get_translator("en"))
    future = only_error(read_csv(org, [EN_HEADER, [*GOOD[:7], "2026-11-30", GOOD[8]]]))
    assert future.params == {"date": "2026-11-30"}
    assert read_csv(org, [EN_HEADER, [*GOOD[:7], "2026-11-29", GOOD[8]]]).errors == ()


def test_duplicate_ref(org: Org) -> None:
    error = only_error(read_csv(org, [EN_HEADER, GOOD, GOOD]))
    assert (error.row, error.field_key, error.params) == (3, "ref", {"ref": "A-1", "first": 2})


def test_limits(org: Org) -> None:
    rows = [EN_HEADER, ["r" * 41, GOOD[1], "e" * 201, *GOOD[3:]]]
    assert {e.field_key for e in read_csv(org, rows).errors} == {"ref", "enterprise"}


def test_blank_rows_are_skipped_but_counted(org: Org) -> None:
    rows = [EN_HEADER, ["", "", ""], GOOD, [" "] * 9, ["A-2", *GOOD[1:]]]
    result = read_csv(org, rows)
    assert result.errors == ()
    assert [c.row for c in result.valid] == [3, 5]
    assert result.total_rows == 2


def test_progress_is_reported(org: Org) -> None:
    calls: list[tuple[int, int]] = []
    rows = [EN_HEADER, *[[f"P-{i}", *GOOD[1:]] for i in range(5)]]
    read_csv(org, rows, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (5, 5)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_title_row_above_header(org: Org) -> None:
    result = read_csv(org, [["2026年落后产能案件"], EN_HEADER, GOOD])
    assert result.errors == ()
    assert result.valid[0].row == 3


# --- file-level problems --------------------------------------------------------------


def test_missing_column(org: Org) -> None:
    with pytest.raises(DubanError) as caught:
        read_csv(org, [EN_HEADER[:-2], GOOD[:-2]])
    assert "registered_on" in caught.value.params["columns"]
    assert "description" in caught.value.params["columns"]


@pytest.mark.parametrize(
    ("data", "name"),
    [(b"", "cases.csv"), (b"\n\n", "cases.csv"), (os.urandom(256), "cases.xlsx"),
     (b"PK\x03\x04 not really a zip", "cases.xlsx"), (b"a,b", "cases.pdf"), (b"", "cases.xls"),
     (b"a\x00b,c\n", "cases.csv")],
)
def test_bad_files(org: Org, data: bytes, name: str) -> None:
    with pytest.raises(DubanError) as caught:
        read_case_bytes(data, name, org, today=TODAY)
    assert caught.value.render(get_translator("en"))


def test_header_only(org: Org) -> None:
    with pytest.raises(DubanError, match="no cases"):
        read_csv(org, [EN_HEADER])


def test_zip_that_is_not_a_workbook(org: Org) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(DubanError, match=r"not a valid \.xlsx"):
        read_case_bytes(buffer.getvalue(), "cases.xlsx", org, today=TODAY)


def test_too_many_rows(org: Org, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(casefile, "MAX_ROWS", 3)
    rows = [EN_HEADER, *[[f"R-{i}", *GOOD[1:]] for i in range(5)]]
    with pytest.raises(DubanError, match="more than 3 rows"):
        read_csv(org, rows)
    path = xlsx_file(tmp_path / "big.xlsx", rows)
    with pytest.raises(DubanError, match="more than 3 rows"):
        read_case_file(path, org, today=TODAY)
    assert read_csv(org, rows[:4]).total_rows == 3


def test_missing_file(org: Org, tmp_path: Path) -> None:
    with pytest.raises(DubanError):
        read_case_file(tmp_path / "none.csv", org, today=TODAY)


# --- XLSX ---------------------------------------------------------------------------------


def test_xlsx_with_typed_cells(org: Org, tmp_path: Path) -> None:
    rows: list[list[object]] = [
        [*ZH_HEADER, "设备"],
        [12.0, "玛纳斯县", "恒达钢铁", "钢铁", 8, 30, "万吨/年", datetime(2026, 1, 12), "地条钢",
         "中频炉"],
        [13, "Manasi County", "鑫源", "cement", 4.0, 60.5, "万吨/年", "2026/2/3", None, None],
        [None, None, None, None, None, None, None, None, None, None],
        ["X-3", "准东", "华鑫铝业", "电解铝", "（四）", None, None, 46000, "", ""],
    ]
    path = xlsx_file(tmp_path / "cases.xlsx", rows)
    result = read_case_file(path, org, today=TODAY)
    assert result.errors == ()
    first, second, third = result.valid
    assert first.ref == "12" and first.clauses == ("八",) and first.capacity == Decimal(30)
    assert first.registered_on == date(2026, 1, 12) and first.equipment == "中频炉"
    assert second.ref == "13" and second.region == "玛纳斯县" and second.industry == "cement"
    assert second.capacity == Decimal("60.5") and second.description == ""
    assert third.row == 5 and third.region == "准东经济技术开发区"
    assert third.registered_on == date(2025, 12, 9)  # Excel serial 46000
    assert third.capacity is None and third.unit is None
    assert result.total_rows == 3


def test_xlsx_errors_use_sheet_rows(org: Org, tmp_path: Path) -> None:
    rows: list[list[object]] = [
        EN_HEADER,
        ["A", "昌吉", "e", "steel", "八", -3, "吨", datetime(2027, 5, 1), ""],
        ["B", "玛纳斯", "e", "steel", "三", 3, "吨", "bad", ""],
    ]
    result = read_case_file(xlsx_file(tmp_path / "e.xlsx", rows), org, today=TODAY)
    assert result.valid == ()
    assert {(e.row, e.field_key) for e in result.errors} == {
        (2, "county"), (2, "capacity"), (2, "registered_on"),
        (3, "clause"), (3, "registered_on"),
    }


def test_xlsx_uses_first_sheet(org: Org, tmp_path: Path) -> None:
    workbook = Workbook()
    first = workbook.active
    first.append(EN_HEADER)
    first.append(GOOD)
    other = workbook.create_sheet("other")
    other.append(["nothing"])
    workbook.active = 1
    path = tmp_path / "two.xlsx"
    workbook.save(path)
    assert len(read_case_file(path, org, today=TODAY).valid) == 1


# --- mappings (Telegram uploads, other callers) --------------------------------------------


def test_read_case_rows(org: Org) -> None:
    rows = [dict(zip(EN_HEADER, GOOD, strict=True)),
            dict(zip(EN_HEADER, ["A-2", "昌吉", *GOOD[2:]], strict=True))]
    result = read_case_rows(rows, org, today=TODAY)
    assert [c.ref for c in result.valid] == ["A-1"]
    assert only_error(result).row == 3
    with pytest.raises(DubanError):
        read_case_rows([], org, today=TODAY)


def test_row_error_render_in_chinese(org: Org) -> None:
    error = only_error(read_csv(org, [ZH_HEADER, [*GOOD[:5], "-1", *GOOD[6:]]]))
    assert error.column == "产能"
    text = error.render(get_translator("zh_CN"))
    assert "2" in text and "产能" in text
