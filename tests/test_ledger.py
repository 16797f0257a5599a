"""The ledger (台账) on a real database (both back-ends): the workbook opened with openpyxl and
checked against the database: a sheet per kind with its rows, a case's row in words, the
frozen and filtered header; cases read in chunks; ``duban ledger`` and ``/ledger``."""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlmodel import col, func, select

from bot.cli.main import main
from bot.core.i18n import get_translator
from bot.core.org import Org
from bot.render.reports.ledger import write_ledger
from bot.services.ledger import LedgerService
from models.db import transaction
from models.tables import Case, Obligation
from tests.bot_harness import Bot
from tests.conftest import Services
from tests.test_board import (
    COORDINATION,
    COORDINATOR_USER,
    MANAS_LIAISON,
    RECTIFICATION_ORDER,
    TODAY,
    TZ,
    at,
    build,
    clock,  # noqa: F401 - the board's clock: 2 March 2026
)


async def add_duties(services: Services) -> None:
    async with transaction(services.cases.sessions) as session:
        session.add_all([
            Obligation(kind="county_report", year=2026, party="玛纳斯县", party_kind="region",
                       role="responsible", due=date(2026, 11, 30), opened_on=date(2026, 11, 1),
                       evidence=[]),
            Obligation(kind="work_plan", year=2026, party="industry", party_kind="department",
                       role="lead", due=date(2026, 3, 31), opened_on=date(2026, 3, 1),
                       confirmed_at=at(date(2026, 3, 20)),
                       evidence=["document:u2:f2:2026年工作方案.docx"]),
            Obligation(kind="work_plan", year=2025, party="industry", party_kind="department",
                       role="lead", due=date(2025, 3, 31), opened_on=date(2025, 3, 1),
                       evidence=[]),
        ])


def rows(sheet: Worksheet) -> list[dict[str, object]]:
    values = list(sheet.iter_rows(values_only=True))
    headers = [str(h) for h in values[0]]
    return [dict(zip(headers, row, strict=True)) for row in values[1:]]


async def ledger_book(services: Services, demo_org: Org, chunk: int = 2) -> io.BytesIO:
    found = await LedgerService(services.cases.sessions, TZ).ledger(2026, TODAY, chunk=chunk)
    buffer = io.BytesIO()
    count = await write_ledger(found, get_translator("en"), demo_org, TZ, buffer)
    assert count == 7
    buffer.seek(0)
    return buffer


async def test_ledger_matches_the_database(services: Services, demo_org: Org) -> None:
    await build(services)
    await add_duties(services)
    async with services.cases.sessions() as session:
        cases = (await session.exec(select(func.count()).select_from(Case))).one()
        duties = (await session.exec(select(func.count()).select_from(Obligation)
                                     .where(col(Obligation.year) == 2026))).one()
    book = load_workbook(await ledger_book(services, demo_org, chunk=2))  # chunks of 2
    assert book.sheetnames == ["Cases", "Yearly duties", "Notices", "Summonses", "Inspections",
                              "Tasks"]
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2"
        assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, sheet.max_column).column_letter}" \
                                        f"{sheet.max_row}"
    found = {r["Reference"]: r for r in rows(book["Cases"])}
    assert len(found) == cases == 7
    assert len(rows(book["Yearly duties"])) == duties == 2
    assert [r["Number"] for r in rows(book["Notices"])] == ["〔2026〕1号"]  # signed, this year
    assert len(rows(book["Summonses"])) == 2  # proposed and confirmed of 2026

    aliases = demo_org.alias_table()
    q1 = found["Q-1"]
    assert q1["County or park"] == "奇台县" and q1["Enterprise"] == "Q-1水泥厂"
    assert q1["Clause"] == "(4)" and q1["Industry"] == "cement"
    assert q1["Registered"] == datetime(2026, 2, 25)
    assert q1["Deadline"] == datetime(2026, 11, 25)  # extended by three months
    assert q1["Overdue"] == "No" and q1["Closed"] is None
    assert RECTIFICATION_ORDER in str(q1["Evidence"])
    parts = str(q1["Departments (role, status)"]).splitlines()
    assert f"{aliases.name('industry', 'en')} (responsible, accepted)" in parts
    assert f"{aliases.name('development_reform', 'en')} (responsible, handed back)" in parts
    m1 = found["M-1"]
    assert m1["Overdue"] == "Yes" and m1["Notices"] == "〔2026〕1号"
    assert m1["Summonses"] == "Summons 2026-1\nSummons 2026-2"
    assert found["M-2"]["Closed"] == datetime(2026, 5, 1)
    duty = {r["Duty"]: r for r in rows(book["Yearly duties"])}
    plan = duty["the year's work plan"]
    assert plan["Submitted"] == datetime(2026, 3, 20) and plan["Role"] == "lead"
    assert plan["Evidence"] == "2026年工作方案.docx" and plan["State"] == "submitted"
    summons = {r["Number"]: r for r in rows(book["Summonses"])}["Summons 2026-1"]
    assert summons["Summoned"] == "玛纳斯县" and summons["Status"] == "confirmed"
    assert summons["Time"] == "Aug 10, 2026 10:00"
    # Words, never keys: no snake_case, department key or evidence reference in any cell.
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            for value in row:
                text = str(value or "")
                assert not re.search(r"\b[a-z]+_[a-z_]+\b|\bindustry\b|document:", text), text
    # Chinese columns are wide enough for their text.
    cases_sheet = book["Cases"]
    assert cases_sheet.column_dimensions["C"].width >= len("Q-1水泥厂") + 4


async def test_a_year_without_cases_still_has_its_sheets(services: Services,
                                                        demo_org: Org) -> None:
    found = await LedgerService(services.cases.sessions, TZ).ledger(2030, TODAY)
    buffer = io.BytesIO()
    assert await write_ledger(found, get_translator("zh_CN"), demo_org, TZ, buffer) == 0
    book = load_workbook(buffer)
    assert len(book.worksheets) == 6 and all(s.max_row == 1 for s in book.worksheets)


async def test_ledger_command_sends_the_workbook_to_coordinators(bot: Bot) -> None:
    services = Services(bot.app.deps.cases, bot.app.deps.org_service, bot.clock)
    await build(services)
    await bot.say(COORDINATOR_USER, COORDINATION, "/bind coordination")
    await bot.say(COORDINATOR_USER, COORDINATION, "/ledger 2026")
    sent = bot.fake.called("sendDocument")
    assert sent and sent[-1]["chat_id"] == COORDINATION
    assert "2026" in sent[-1]["caption"] and "7" in sent[-1]["caption"]
    await bot.say(COORDINATOR_USER, COORDINATION, "/ledger 20x6")
    assert "/ledger" in bot.last(COORDINATION).text  # the usage, nothing sent
    await bot.say(MANAS_LIAISON, MANAS_LIAISON[0], "/ledger")
    assert "/overdue" in bot.last(MANAS_LIAISON[0]).text
    assert len(bot.fake.called("sendDocument")) == len(sent)


def test_cli_ledger_writes_the_file_and_refuses_a_bad_year(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("DUBAN_LOCALE", "DUBAN_CATALOG", "DUBAN_CONFIG", "TELEGRAM_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["--database", database_url, "--lang", "zh", *args],
                                    catch_exceptions=False)
        return result.exit_code, result.output

    assert run("demo")[0] == 0
    code, output = run("ledger", "--year", "2026", "-o", "台账.xlsx")
    assert code == 0, output
    book = load_workbook(tmp_path / "台账.xlsx")
    assert book.worksheets[0].max_row == 1 + 12  # the demo's twelve cases
    code, output = run("ledger", "--year", "二〇二六", "-o", "坏.xlsx")
    assert code == 1 and "二〇二六" in output and not (tmp_path / "坏.xlsx").exists()
    code, output = run("ledger", "--year", "1900")
    assert code == 1 and "1900" in output
