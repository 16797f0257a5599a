"""``duban report …`` and ``duban lists …`` end to end (SQLite and PostgreSQL): files written,
bad input answered clearly with exit code 1 and no traceback."""

from __future__ import annotations

import io
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from openpyxl import load_workbook

from bot.cli.app import App
from bot.cli.reports import lists_command, report_group
from bot.core.i18n import normalize_locale
from bot.settings import Settings
from tests.conftest import Services
from tests.test_reports import build_year


def _cli() -> click.Group:
    """A stand-in for ``duban``'s main group with only these commands."""

    @click.group()
    @click.option("--database")
    @click.option("--lang", default="en")
    @click.pass_context
    def cli(ctx: click.Context, database: str | None, lang: str) -> None:
        ctx.obj = App(settings=Settings().but(locale=normalize_locale(lang)),
                      database=database)

    cli.add_command(report_group, "report")
    cli.add_command(lists_command, "lists")
    return cli


@pytest.fixture
async def seeded(services: Services, database_url: str) -> str:
    await build_year(services)
    return database_url


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    for name in ("DUBAN_LOCALE", "DUBAN_CONFIG", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)

    def invoke(database: str, *args: str, lang: str = "en") -> Result:
        return CliRunner().invoke(_cli(), ["--database", database, "--lang", lang, *args])

    return invoke


def _clean_failure(result: Result, *needles: str) -> None:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not a traceback
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.output, result.output


def test_county_report_writes_both_files(seeded: str, run, tmp_path: Path) -> None:
    result = run(seeded, "report", "county", "玛纳斯", "--year", "2026", "-o", "out")
    assert result.exit_code == 0, result.output
    files = sorted((tmp_path / "out").iterdir())
    assert [f.suffix for f in files] == [".docx", ".xlsx"]
    assert all("玛纳斯县" in f.name and "2026" in f.name for f in files)
    assert str(files[0]) in result.output or files[0].name in result.output


def test_county_report_in_chinese(seeded: str, run, tmp_path: Path) -> None:
    result = run(seeded, "report", "county", "玛纳斯县", "--year", "2026", lang="zh")
    assert result.exit_code == 0, result.output
    assert list(tmp_path.glob("*玛纳斯县*2026*.docx"))


def test_letter_and_summary(seeded: str, run, tmp_path: Path) -> None:
    letter = run(seeded, "report", "letter", "发改委", "--year", "2026", "-o", "letters")
    assert letter.exit_code == 0, letter.output
    assert len(list((tmp_path / "letters").glob("*.docx"))) == 1
    summary = run(seeded, "report", "summary", "--year", "2026", "-o", "summary")
    assert summary.exit_code == 0, summary.output
    assert len(list((tmp_path / "summary").glob("*.xlsx"))) == 1


def test_a_year_without_data_is_a_report_that_says_so(seeded: str, run,
                                                      tmp_path: Path) -> None:
    result = run(seeded, "report", "county", "玛纳斯县", "--year", "2030", "-o", "empty")
    assert result.exit_code == 0, result.output
    assert "No enterprise in 玛纳斯县 exited in 2030" in result.output
    assert len(list((tmp_path / "empty").iterdir())) == 2
    letter = run(seeded, "report", "letter", "环保", "--year", "2030", "-o", "empty")
    assert letter.exit_code == 0 and "closed no enterprise by law in 2030" in letter.output


@pytest.mark.parametrize(("args", "needles"), [
    (("report", "county", "火星县", "--year", "2026"), ("Error:", "火星县")),
    (("report", "county", "昌吉", "--year", "2026"), ("昌吉市", "昌吉高新技术产业开发区")),
    (("report", "county", "玛纳斯县", "--year", "twenty"), ("twenty",)),
    (("report", "county", "玛纳斯县", "--year", "1900"), ("1900",)),
    (("report", "letter", "外星事务局", "--year", "2026"), ("外星事务局",)),
    (("report", "letter", "工信", "--year", "2026"), ("does not write the year-end letter",)),
    (("lists", "green"), ("green", "yellow, red, exit, emitters or serious")),
    (("lists", "red", "--format", "pdf"), ("pdf", "csv, xlsx or html")),
    (("lists", "exit", "--year", "abc"), ("abc",)),
])
def test_bad_input_is_a_clear_error(seeded: str, run, tmp_path: Path, args: tuple[str, ...],
                                    needles: tuple[str, ...]) -> None:
    _clean_failure(run(seeded, *args), *needles)
    assert not list(tmp_path.glob("*.docx"))


def test_no_organisation_loaded(database_url: str, run) -> None:
    _clean_failure(run(database_url, "report", "summary", "--year", "2026"),
                   "No organisation is loaded")


def test_lists_to_stdout_and_files(seeded: str, run, tmp_path: Path) -> None:
    csv_out = run(seeded, "lists", "exit", "--year", "2026")
    assert csv_out.exit_code == 0, csv_out.output
    assert csv_out.stdout_bytes.startswith(b"\xef\xbb\xbf")
    assert "玛纳斯县C-1企业" in csv_out.stdout_bytes.decode("utf-8-sig")
    page = run(seeded, "lists", "yellow", "--format", "html")
    assert page.exit_code == 0 and page.output.startswith("<!DOCTYPE html>")
    assert "<caption>" in page.output
    wrote = run(seeded, "lists", "red", "--year", "2026", "-o", "red.xlsx")
    assert wrote.exit_code == 0, wrote.output
    sheet = load_workbook(io.BytesIO((tmp_path / "red.xlsx").read_bytes())).worksheets[0]
    names = {v for r in sheet.iter_rows(values_only=True) for v in r if isinstance(v, str)}
    assert "阜康市K-1企业" in names and "玛纳斯县S-1企业" not in names
    default = run(seeded, "lists", "exit", "--year", "2026", "--format", "xlsx")
    assert default.exit_code == 0 and list(tmp_path.glob("*2026*.xlsx"))
