"""The command line, end to end on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli.main import main

HEADER = "ref,county,enterprise,industry,clause,capacity,unit,registered_on,description\n"


@pytest.fixture
def run(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    for name in ("DUBAN_LOCALE", "DUBAN_CATALOG", "DUBAN_CONFIG", "TELEGRAM_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    def invoke(*args: str, lang: str = "en") -> Result:
        return CliRunner().invoke(main, ["--database", database_url, "--lang", lang, *args],
                                  catch_exceptions=False)

    return invoke


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def test_demo_sets_up_org_and_cases_and_is_repeatable(run) -> None:
    first = run("demo")
    assert first.exit_code == 0, first.output
    assert "Imported 12 new cases." in first.output
    assert "昌州: 12 cases" in first.output
    again = run("demo")
    assert "Imported 0 new cases." in again.output
    assert "12 cases were already there" in again.output


def test_demo_output_is_chinese_by_default(run) -> None:
    result = run("demo", lang="zh")
    assert result.exit_code == 0
    assert "导入" in result.output


def test_org_show_lists_counties_parks_departments(run) -> None:
    run("demo")
    result = run("org", "show")
    assert result.exit_code == 0
    for name in ("玛纳斯县", "准东经济技术开发区", "industry", "王玮中"):
        assert name in result.output


def test_org_load_bad_file_reports_every_problem_and_changes_nothing(run, tmp_path: Path) -> None:
    bad = write(tmp_path / "org.toml", """
[prefecture]
name = "测试州"
[[regions]]
name = "甲县"
kind = "village"
[[people]]
name = "张三"
telegram_id = -5
role = "boss"
""")
    result = run("org", "load", str(bad))
    assert result.exit_code == 1
    assert "3 problem" in result.output or "problem(s)" in result.output
    assert "village" in result.output or "kind" in result.output
    shown = run("org", "show")
    assert shown.exit_code == 1  # still no organisation
    assert "No organisation is loaded" in shown.output


def test_case_import_all_or_nothing_then_skip_invalid(run, tmp_path: Path) -> None:
    run("demo")
    rows = write(tmp_path / "cases.csv", HEADER
                 + "T-1,玛纳斯,测试水泥厂,cement,4,30,万吨/年,2026-02-01,能耗超标\n"
                 + "T-2,不存在县,测试钢厂,steel,8,10,万吨/年,2026-02-01,中频炉\n"
                 + "T-3,manasi,测试玻璃厂,flat_glass,（六）,-1,万重量箱,2099-01-01,质量\n")
    refused = run("case", "import", str(rows))
    assert refused.exit_code == 1
    assert "Row 3" in refused.output and "Row 4" in refused.output
    assert "Nothing was imported" in refused.output
    assert "T-1" not in run("case", "list").output
    skipped = run("case", "import", str(rows), "--skip-invalid")
    assert skipped.exit_code == 0, skipped.output
    assert "Imported 1 new case." in skipped.output
    listed = run("case", "list", "--county", "玛纳斯")
    assert "T-1" in listed.output and "T-2" not in listed.output


def test_case_import_gbk_chinese_header(run, tmp_path: Path) -> None:
    run("demo")
    path = write(tmp_path / "gbk.csv",
                 "编号,县市园区,企业名称,行业,条款,产能,单位,立案日期,情况说明\n"
                 "G-1,奇台县,奇台测试煤矿,煤炭,九,45,万吨/年,2026年3月1日,关停退出\n",
                 encoding="gbk")
    result = run("case", "import", str(path))
    assert result.exit_code == 0, result.output
    shown = run("case", "show", "G-1")
    assert "奇台测试煤矿" in shown.output
    assert "相关部门" in shown.output  # （九）'s by-duty group waits for a coordinator


def test_case_show_and_workflow_steps(run, tmp_path: Path) -> None:
    run("demo")
    write(tmp_path / "one.csv", HEADER
          + "W-1,昌吉市,昌吉测试铝厂,electrolytic_aluminium,四,20,万吨/年,2026-10-31,能耗\n")
    assert run("case", "import", str(tmp_path / "one.csv")).exit_code == 0
    shown = run("case", "show", "W-1")
    assert shown.exit_code == 0
    assert "工业和信息化、发展改革主管部门负责" in shown.output  # why: the tag
    assert "Apr 30, 2027" in shown.output  # 31 Oct + 6 months, month-end aware
    waiting = run("case", "step", "W-1", "accept", "--department", "工信")
    assert "waiting for" in waiting.output
    done = run("case", "step", "W-1", "accept", "--department", "发改委")
    assert "now accepted" in done.output
    refused = run("case", "step", "W-1", "confirm_rectified", "--department", "工信")
    assert refused.exit_code == 1
    assert "not possible" in refused.output


def test_unknown_case_and_unknown_county(run) -> None:
    run("demo")
    missing = run("case", "show", "NOPE-1")
    assert missing.exit_code == 1 and "No case with reference NOPE-1" in missing.output
    ambiguous = run("case", "list", "--county", "昌吉")
    assert ambiguous.exit_code == 1
    assert "昌吉市" in ambiguous.output and "昌吉高新技术产业开发区" in ambiguous.output


def test_reroute_resolves_group(run, tmp_path: Path) -> None:
    run("demo")
    write(tmp_path / "x.csv",
          HEADER + "X-9,阜康市,阜康测试焦化厂,coal,九,50,万吨/年,2026-01-05,退出\n")
    run("case", "import", str(tmp_path / "x.csv"))
    assert "X-9" in run("case", "queue").output
    result = run("case", "reroute", "X-9", "--group", "相关部门", "--to", "环保", "--to", "安监")
    assert result.exit_code == 0, result.output
    assert "X-9" not in run("case", "queue").output


def test_missing_file_is_clear(run) -> None:
    run("demo")
    result = run("case", "import", "no-such-file.csv")
    assert result.exit_code == 1
    assert "no-such-file.csv" in result.output
