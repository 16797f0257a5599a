"""The calendar never stops: a scheduler that survives its job store's errors, sweep failures
counted and told to the coordinators once, and `duban doctor`."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.triggers.interval import IntervalTrigger
from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cli.main import main
from bot.core.clock import ManualClock
from bot.services.health import (
    CALENDAR_FAILING,
    CALENDAR_RECOVERED,
    FAILURES_BEFORE_ALERT,
    REASON_LOCKED,
    REASON_OTHER,
    REASON_UNREACHABLE,
    HealthService,
    failure_reason,
)
from bot.services.outbox import Kind, OutboxStore
from models.db import session_factory
from scheduler.jobs import RETRY_SECONDS, ResilientScheduler, job_store_url


class LockedStore(MemoryJobStore):
    """A job store whose UPDATE meets a lock, as the shared SQLite file once did."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    def update_job(self, job: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise sqlite3.OperationalError("database is locked")
        super().update_job(job)


async def _nothing() -> None:
    return None


async def test_the_scheduler_keeps_its_timer_when_the_job_store_fails() -> None:
    store = LockedStore()
    scheduler = ResilientScheduler(jobstores={"default": store}, timezone=UTC)
    scheduler.start(paused=True)
    scheduler.add_job(_nothing, IntervalTrigger(seconds=300), id="sweep",
                      next_run_time=datetime.now(UTC) - timedelta(seconds=1))
    try:
        scheduler.resume()  # wakes up on the loop; a plain AsyncIOScheduler dies there
        for _ in range(1000):  # wait for the wake-up to have run (a condition, not a time)
            if store.failures == 0:
                break
            await asyncio.sleep(0)
        assert store.failures == 0  # the UPDATE failed …
        timer = scheduler._timeout
        assert timer is not None  # … and the next wake-up is still planned
        assert timer.when() - asyncio.get_running_loop().time() <= RETRY_SECONDS
        pending = asyncio.all_tasks() - {asyncio.current_task()}
        await asyncio.gather(*pending, return_exceptions=True)  # the job itself
    finally:
        scheduler.shutdown(wait=False)


def test_the_job_store_never_shares_the_bots_sqlite_file() -> None:
    assert job_store_url("sqlite+aiosqlite:///data/duban.db") == "sqlite:///data/duban.jobs.db"
    assert job_store_url("sqlite:////var/lib/duban/bot.sqlite3") == \
        "sqlite:////var/lib/duban/bot.jobs.sqlite3"
    assert job_store_url("sqlite+aiosqlite:///:memory:") is None
    assert job_store_url("postgresql+asyncpg://u:p@db:5432/duban") == \
        "postgresql+psycopg://u:p@db:5432/duban"


@pytest.mark.parametrize(("error", "reason"), [
    (sqlite3.OperationalError("database is locked"), REASON_LOCKED),
    (ConnectionRefusedError(111, "Connection refused"), REASON_UNREACHABLE),
    (KeyError("x"), REASON_OTHER),
])
def test_failure_reasons_are_words_not_tracebacks(error: BaseException, reason: str) -> None:
    assert failure_reason(error) == reason


async def test_coordinators_hear_once_when_sweeps_keep_failing_and_once_on_recovery(
        engine: AsyncEngine, clock: ManualClock) -> None:
    sessions = session_factory(engine)
    health, outbox = HealthService(sessions, clock), OutboxStore(sessions)

    async def texts() -> list[dict[str, Any]]:
        return [row.payload for row in await outbox.due(clock.now() + timedelta(days=1))
                if row.kind == Kind.TEXT]

    await health.sweep_succeeded()
    assert (await health.calendar()).last_success == clock.now()
    for n in range(1, FAILURES_BEFORE_ALERT + 2):
        clock.advance(timedelta(minutes=5))
        await health.sweep_failed(sqlite3.OperationalError("database is locked"))
        state = await health.calendar()
        assert state.failures_in_a_row == n and state.reason == REASON_LOCKED
        assert len(await texts()) == (0 if n < FAILURES_BEFORE_ALERT else 1)
    [failing] = await texts()
    assert failing["message"] == CALENDAR_FAILING
    assert failing["params"] == {"count": FAILURES_BEFORE_ALERT}
    assert failing["translate"] == {"reason": REASON_LOCKED}

    clock.advance(timedelta(minutes=5))
    await health.sweep_succeeded()
    state = await health.calendar()
    assert state.failures_in_a_row == 0 and not state.alerted
    assert [t["message"] for t in await texts()] == [CALENDAR_FAILING, CALENDAR_RECOVERED]
    await health.sweep_succeeded()  # nothing more to say
    assert len(await texts()) == 2


async def test_a_failing_alert_reaches_the_coordination_group_in_words(bot: Any) -> None:
    from tests.test_bot_app import COORDINATION, bind_all

    await bind_all(bot)
    for _ in range(FAILURES_BEFORE_ALERT):
        await bot.app.deps.health.sweep_failed(sqlite3.OperationalError("database is locked"))
    await bot.deliver()
    text = bot.last(COORDINATION).text
    assert "日程" in text and "数据库繁忙" in text and "locked" not in text, text


def test_doctor_reports_the_calendar_deliveries_and_holidays(database_url: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("DUBAN_LOCALE", "DUBAN_CONFIG", "TELEGRAM_BOT_TOKEN", "DUBAN_HOLIDAYS"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    assert runner.invoke(main, ["--database", database_url, "demo"]).exit_code == 0
    result = runner.invoke(main, ["--database", database_url, "--lang", "en", "doctor"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Database: ") and "revision" in lines[0]
    assert "password" not in result.output
    assert "Last successful sweep: never" in result.output
    assert "Deliveries: " in result.output and "waiting" in result.output
    assert "Holidays " in result.output
