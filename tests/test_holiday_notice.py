"""The State Council's holiday notice read into the override file; working days beyond the
packaged table."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli.main import main
from bot.core.i18n import DubanError
from scheduler.holiday_notice import (
    NoticeError,
    merge_overrides,
    notice_year,
    overrides_toml,
    parse_notice,
)
from scheduler.workdays import DayOverride, Overrides, WorkCalendar, parse_overrides

DATA = Path(__file__).resolve().parent / "data" / "holidays"


def _days_of(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=n) for n in range((date(year + 1, 1, 1) - first).days)]


@pytest.mark.parametrize("year", [2025, 2026])
def test_the_notice_gives_the_same_calendar_as_the_packaged_table(year: int) -> None:
    text = (DATA / f"notice_{year}.txt").read_text(encoding="utf-8")
    assert notice_year(text) == year
    overrides = merge_overrides(Overrides(), parse_notice(text), year)
    from_notice = WorkCalendar(overrides, library_years=())  # as if the table stopped earlier
    packaged = WorkCalendar()
    assert from_notice.is_covered(year)
    wrong = [d for d in _days_of(year)
             if from_notice.is_working_day(d) != packaged.is_working_day(d)]
    assert wrong == []


def test_what_the_2026_notice_says() -> None:
    days = {d.day: d for d in parse_notice((DATA / "notice_2026.txt").read_text("utf-8"))}
    assert not days[date(2026, 2, 15)].working and days[date(2026, 2, 15)].holiday == "春节"
    assert days[date(2026, 2, 14)].working and days[date(2026, 2, 28)].working
    assert all(not days[date(2026, 10, n)].working for n in range(1, 8))
    assert days[date(2026, 9, 20)].working and days[date(2026, 10, 10)].working
    assert sum(d.working for d in days.values()) == 6


def test_statutory_days_count_beyond_the_table_but_make_up_days_need_the_notice() -> None:
    beyond = WorkCalendar()
    assert not beyond.is_covered(2027)
    assert not beyond.is_working_day(date(2027, 1, 1))  # New Year's Day
    assert not beyond.is_working_day(date(2027, 2, 8))  # the Spring Festival's Monday
    assert beyond.is_working_day(date(2027, 2, 15))  # an ordinary Monday


def test_the_override_file_round_trips_and_keeps_local_days() -> None:
    local = Overrides(days=(DayOverride(date(2026, 7, 15), False, "州庆"),
                            DayOverride(date(2026, 10, 1), True, "wrong")))
    merged = merge_overrides(local, parse_notice((DATA / "notice_2026.txt").read_text("utf-8")),
                             2026)
    again = parse_overrides(overrides_toml(merged))
    assert again == merged
    by_day = {o.day: o for o in again.days}
    assert by_day[date(2026, 7, 15)].note == "州庆"  # a local day stays
    assert not by_day[date(2026, 10, 1)].working  # the notice corrects the wrong entry
    assert again.covered_years == frozenset({2026})


@pytest.mark.parametrize("text", [
    "关于2027年部分节假日安排的通知\n一、春节：2月30日（周一）放假。",  # no such date
    "关于2027年部分节假日安排的通知\n一、春节：2月6日至3月30日放假调休。",  # not a holiday
    "关于2027年部分节假日安排的通知\n一、春节：2月6日至12日放假。2月10日（周三）上班。",
    "关于2027年部分节假日安排的通知\n一、春节：放假调休，共8天。",  # no date
])
def test_odd_notices_are_refused_with_the_sentence(text: str) -> None:
    with pytest.raises(NoticeError) as refused:
        parse_notice(text)
    assert refused.value.problems


@pytest.mark.parametrize("text", [
    "一、春节：2月6日至12日放假。",  # no year anywhere
    "关于2027年部分节假日安排的通知\n经国务院批准，放假安排另行通知。",  # no items
])
def test_a_notice_without_year_or_items_is_refused(text: str) -> None:
    with pytest.raises(DubanError):
        parse_notice(text)


def test_holidays_import_previews_then_writes_the_override_file(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("DUBAN_LOCALE", "DUBAN_CONFIG", "TELEGRAM_BOT_TOKEN", "DUBAN_HOLIDAYS"):
        monkeypatch.delenv(name, raising=False)
    target = tmp_path / "holidays.toml"
    database = f"sqlite:///{tmp_path / 'duban.db'}"
    notice = str(DATA / "notice_2026.txt")
    args = ["--database", database, "--lang", "en", "holidays", "import", notice,
            "--to", str(target)]
    declined = CliRunner().invoke(main, args, input="n\n")
    assert declined.exit_code == 0, declined.output
    assert "day off, 春节" in declined.output and "Nothing was written." in declined.output
    assert "2026: 33 days off and 6 make-up working days." in declined.output
    assert not target.exists()
    accepted = CliRunner().invoke(main, [*args, "--yes"])
    assert accepted.exit_code == 0, accepted.output
    assert parse_overrides(target.read_text("utf-8")).covered_years == frozenset({2026})

    bad = tmp_path / "bad.txt"
    bad.write_text("关于2027年部分节假日安排的通知\n一、春节：2月30日放假。", encoding="utf-8")
    before = target.read_text("utf-8")
    refused = CliRunner().invoke(main, ["--database", database, "--lang", "en", "holidays",
                                        "import", str(bad), "--to", str(target), "--yes"])
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert target.read_text("utf-8") == before  # nothing written


@pytest.mark.parametrize("at", ["2027-01-01T10:00+08:00", "2027-02-08T10:00+08:00"])
def test_preview_sends_nothing_on_next_years_holidays(at: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("DUBAN_LOCALE", "DUBAN_CONFIG", "TELEGRAM_BOT_TOKEN", "DUBAN_HOLIDAYS"):
        monkeypatch.delenv(name, raising=False)
    database = f"sqlite:///{tmp_path / 'duban.db'}"
    assert CliRunner().invoke(main, ["--database", database, "demo"]).exit_code == 0
    working = CliRunner().invoke(main, ["--database", database, "--lang", "en", "preview",
                                        "--at", "2027-01-04T10:00+08:00"])
    last = working.output.strip().splitlines()[-1]
    assert not last.startswith("0 "), last  # the Monday after: the reminders go out
    holiday = CliRunner().invoke(main, ["--database", database, "--lang", "en", "preview",
                                        "--at", at])
    assert holiday.exit_code == 0
    assert holiday.output.strip().splitlines()[-1] == "0 messages would be sent."
