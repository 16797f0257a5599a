"""``duban policy parse`` and ``duban policy show``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli.policy import policy_group
from bot.core.policy.catalog import Catalog, load_catalog

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "bot" / "data" / "seed_policy.txt"


@pytest.fixture
def english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBAN_LOCALE", "en")


def run(*args: str) -> Result:
    return CliRunner().invoke(policy_group, list(args))


def assert_clean_exit(result: Result, code: int) -> None:
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output + result.stderr


def test_parse_to_stdout_json() -> None:
    result = run("parse", str(SEED))
    assert_clean_exit(result, 0)
    data = json.loads(result.stdout)
    assert data["document"]["number"] == "工信部联产业〔2017〕30号"
    assert len(data["documents"]) == 2
    assert Catalog.from_json(result.stdout).find_clause("四").title == "能耗方面"


def test_parse_warnings_go_to_stderr(english: None) -> None:
    result = run("parse", str(SEED))
    assert "Warning: Unclosed bracket on line 19." in result.stderr
    assert "Warning" not in result.stdout


def test_parse_toml_to_file(tmp_path: Path, english: None) -> None:
    out = tmp_path / "catalog.toml"
    result = run("parse", str(SEED), "--format", "toml", "-o", str(out))
    assert_clean_exit(result, 0)
    assert result.stdout == ""
    assert "Wrote 32 clauses" in result.stderr
    assert load_catalog(out).find_clause("十九").title == "抓好工作落实"


def test_parse_gbk_file(tmp_path: Path) -> None:
    path = tmp_path / "gbk.txt"
    path.write_bytes("一、任务\r\n（一）能耗。整改。（财政主管部门负责）\r\n".encode("gbk"))
    result = run("parse", str(path))
    assert_clean_exit(result, 0)
    assert json.loads(result.stdout)["clauses"][1]["paragraphs"][0]["tags"][0]["raw"] == (
        "财政主管部门负责")


@pytest.mark.parametrize(("data", "code", "message"), [
    (None, 2, "does not exist"),
    (b"", 1, "is empty"),
    (b"\x00\x01\x02binary", 1, "looks binary"),
    (bytes(range(0x80, 0x100)) * 4, 1, "Cannot decode"),
    ("没有编号的文字。\n".encode(), 1, "No numbered clauses"),
])
def test_parse_bad_input(tmp_path: Path, english: None, data: bytes | None, code: int,
                         message: str) -> None:
    path = tmp_path / "input.txt"
    if data is not None:
        path.write_bytes(data)
    result = run("parse", str(path))
    assert_clean_exit(result, code)
    assert result.stderr.startswith("Error: ")
    assert message in result.stderr
    assert result.stdout == ""


def test_parse_oversized(tmp_path: Path, english: None) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    result = run("parse", str(path))
    assert_clean_exit(result, 2)
    assert "too large (50.0 MB); the limit is 10 MB" in result.stderr


def test_parse_unclosed_bracket_still_succeeds(tmp_path: Path, english: None) -> None:
    path = tmp_path / "input.txt"
    path.write_text("一、任务\n（一）甲。内容。（财政主管部门负责\n（二）乙。内容。（商务部负责）",
                    encoding="utf-8")
    result = run("parse", str(path))
    assert_clean_exit(result, 0)
    assert "Unclosed bracket on line 2" in result.stderr
    assert len(json.loads(result.stdout)["clauses"]) == 3


def test_parse_bad_format() -> None:
    assert_clean_exit(run("parse", str(SEED), "--format", "xml"), 2)


def test_show_all_default_locale() -> None:
    result = run("show")
    assert_clean_exit(result, 0)
    out = result.stdout
    assert "二/四  （四）能耗方面" in out
    assert "工信部联产业〔2017〕30号" in out
    assert "昌州经信〔2017〕185号" in out
    # Department display names come from the alias table, in Chinese by default.
    assert "工业和信息化、发展改革" in out
    assert "其他负有安全生产监督管理职责的部门" in out


def test_show_all_english(english: None) -> None:
    out = run("show").stdout
    assert "Responsible: Industry and Information Technology, Development and Reform" in out
    assert "Lead: Development and Reform" in out
    assert "By duty: 各相关部门" in out
    assert "every year by 11/30" in out
    assert "[main document]" in out


@pytest.mark.parametrize("ref", ["十九", "19", "（十九）", "四.十九", "四/十九"])
def test_show_one_clause(english: None, ref: str) -> None:
    result = run("show", ref)
    assert_clean_exit(result, 0)
    out = result.stdout
    assert "四/十九  （十九）抓好工作落实" in out
    assert "[3] 次年1月底前" in out
    assert "every year by 3/31 (每年3月底前)" in out
    assert "every year by 12/31" in out
    assert "by 1/31 of the following year" in out
    assert "Lead: Industry and Information Technology, Energy, Coal" in out
    assert "（二十）" not in out


def test_show_deadline_words(english: None) -> None:
    out = run("show", "四").stdout
    assert "within 6 month(s) (在6个月内整改)" in out
    assert "an extension of at most 3 month(s) on request" in out
    out = run("show", "八").stdout
    assert "immediately" in out
    assert "by a date the authority sets" in out


def test_show_cover_letter_clause(english: None) -> None:
    out = run("show", "二.2").stdout
    assert "关于转发" in out
    assert "every year by 11/30 (每年11月30日前)" in out


def test_show_unknown_clause(english: None) -> None:
    result = run("show", "九十九")
    assert_clean_exit(result, 2)
    assert result.stderr == "Error: No clause 九十九 in the catalog.\n"


def test_show_given_catalog(tmp_path: Path, english: None) -> None:
    catalog = tmp_path / "c.toml"
    assert_clean_exit(run("parse", str(SEED), "--format", "toml", "-o", str(catalog)), 0)
    result = run("show", "七", "--catalog", str(catalog))
    assert_clean_exit(result, 0)
    assert "Responsible: Work Safety Supervision" in result.stdout
    assert "By duty: 其他负有安全生产监督管理职责的部门" in result.stdout


@pytest.mark.parametrize(("name", "content", "code"), [
    ("missing.json", None, 2),
    ("bad.json", "{", 1),
    ("bad.yaml", "a: 1", 2),
])
def test_show_bad_catalog(tmp_path: Path, english: None, name: str, content: str | None,
                          code: int) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = run("show", "--catalog", str(path))
    assert_clean_exit(result, code)
    assert result.stderr.startswith("Error: ")


def test_help_texts() -> None:
    result = run("--help")
    assert_clean_exit(result, 0)
    assert "parse" in result.stdout and "show" in result.stdout
