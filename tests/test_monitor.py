"""The health and metrics endpoint: served on an ephemeral port, scraped and parsed as
Prometheus does, with the counters moved by real updates, sweeps and deliveries through the
application (tests/bot_harness.py); ``/healthz`` healthy, and 503 when the database is gone or
the last sweep is too old; started and stopped by the application's post_init/post_shutdown."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from telegram.error import NetworkError

from bot.app import build_application, build_deps, start_calendar
from bot.core.clock import ManualClock
from bot.core.i18n import DubanError
from bot.core.policy.catalog import Catalog
from bot.services.deps import Deps
from bot.services.health import HealthService
from bot.services.metrics import Metrics
from bot.services.monitor import (
    REASON_DATABASE,
    REASON_SWEEP,
    Monitor,
    start_monitor,
    stop_monitor,
)
from bot.settings import DEFAULT_MONITOR_PORT, Settings, load_settings
from models.db import session_factory
from scheduler.jobs import run_sweep
from tests.bot_harness import TOKEN, Bot
from tests.telegram_fakes import RecordingRequest
from tests.test_bot_app import (
    COORDINATION,
    COORDINATOR,
    bind_all,
    new_case,
)
from tests.test_calendar_chat import INDUSTRY_LIAISON, at, energy_case_in_rectification

STALE = timedelta(minutes=15)
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
async def monitor(bot: Bot) -> AsyncIterator[Monitor]:
    started = await start_monitor(bot.app.deps, listen="127.0.0.1", port=0, stale_after=STALE)
    assert started is not None and started.port > 0
    yield started
    await stop_monitor(started)


async def _get(monitor: Monitor, path: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(
            f"http://127.0.0.1:{monitor.port}{path}") as response:
        return response.status, response.headers["Content-Type"], await response.text()


async def scrape(monitor: Monitor) -> Samples:
    status, content_type, text = await _get(monitor, "/metrics")
    assert status == 200 and content_type.startswith("text/plain")
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


async def health(monitor: Monitor) -> tuple[int, dict[str, Any]]:
    status, content_type, text = await _get(monitor, "/healthz")
    assert content_type.startswith("application/json")
    return status, json.loads(text)


# -- /metrics ---------------------------------------------------------------------------------


async def test_metrics_count_updates_presses_and_deliveries(bot: Bot, monitor: Monitor) -> None:
    before = await scrape(monitor)
    assert value(before, "duban_updates_handled_total", kind="button") == 0
    assert value(before, "duban_button_press_seconds_count") == 0
    assert value(before, "duban_database_up") == 1

    await bind_all(bot)  # five /bind commands
    await new_case(bot)  # /newcase, four answers, four presses
    samples = await scrape(monitor)
    assert value(samples, "duban_updates_handled_total", kind="command") == 6
    assert value(samples, "duban_updates_handled_total", kind="message") == 4
    assert value(samples, "duban_updates_handled_total", kind="button") == 4
    assert value(samples, "duban_button_press_seconds_count") == 4
    assert 0 < value(samples, "duban_button_press_seconds_sum") < 30
    assert value(samples, "duban_button_press_seconds_bucket", le="+Inf") == 4
    # The new case's cards wait in the outbox, read at scrape time.
    waiting = value(samples, "duban_outbox_items", state="waiting")
    assert waiting >= 1 and value(samples, "duban_outbox_items", state="retrying") == 0

    # Telegram answers 429 twice (the rate limiter waits them out and retries), then sends.
    throttled = {"left": 2}
    original = bot.fake.do_request

    async def flooded(url: str, method: str, request_data: Any = None,
                      **kwargs: Any) -> tuple[int, bytes]:
        if url.endswith("/sendMessage") and throttled["left"] > 0:
            throttled["left"] -= 1
            return 429, json.dumps({"ok": False, "error_code": 429,
                                    "description": "Too Many Requests: retry after 1",
                                    "parameters": {"retry_after": 0.01}}).encode()
        return await original(url, method, request_data, **kwargs)

    bot.fake.do_request = flooded  # type: ignore[method-assign]
    delivered = await bot.deliver()
    assert throttled["left"] == 0
    samples = await scrape(monitor)
    assert value(samples, "duban_telegram_retry_after_total") == 2
    assert value(samples, "duban_messages_sent_total") == delivered >= 1
    assert value(samples, "duban_messages_failed_total") == 0
    assert value(samples, "duban_outbox_items", state="waiting") == 0


async def test_metrics_count_retries_and_failures(bot: Bot, monitor: Monitor) -> None:
    await bind_all(bot)
    await new_case(bot)
    original = bot.fake.do_request
    calls = {"n": 0}

    async def unreliable(url: str, method: str, request_data: Any = None,
                         **kwargs: Any) -> tuple[int, bytes]:
        if url.endswith("/sendMessage"):
            calls["n"] += 1
            if calls["n"] == 1:  # the network fails once: the row is retried later
                raise NetworkError("connection reset")
            if calls["n"] == 2:  # Telegram refuses one message: given up
                return 400, json.dumps({"ok": False, "error_code": 400,
                                        "description": "Bad Request: chat not found"}).encode()
        return await original(url, method, request_data, **kwargs)

    bot.fake.do_request = unreliable  # type: ignore[method-assign]
    await bot.deliver()
    samples = await scrape(monitor)
    assert value(samples, "duban_messages_retried_total") == 1
    assert value(samples, "duban_messages_failed_total") == 1
    assert value(samples, "duban_outbox_items", state="retrying") == 1
    assert value(samples, "duban_outbox_items", state="given_up") == 1


@pytest.fixture
def clock() -> ManualClock:  # the calendar's story starts in January
    return ManualClock(datetime(2026, 1, 5, 2, tzinfo=UTC))


async def test_a_signed_notice_is_counted(bot: Bot, monitor: Monitor) -> None:
    await bind_all(bot)
    await energy_case_in_rectification(bot)
    for day in (date(2026, 6, 5), date(2026, 7, 6), date(2026, 7, 15)):
        bot.clock.set(at(day))
        await bot.app.deps.calendar.sweep()
        await bot.deliver()
    assert value(await scrape(monitor), "duban_notices_issued_total") == 0  # a draft only
    draft = next(m for m in bot.fake.in_chat(COORDINATION) if "通报草稿" in m.text)
    await bot.press(INDUSTRY_LIAISON, draft, "签发")  # refused: not a coordinator
    await bot.press(COORDINATOR, draft, "签发")
    assert value(await scrape(monitor), "duban_notices_issued_total") == 1


async def test_each_application_counts_in_its_own_registry(engine: AsyncEngine,
                                                           clock: ManualClock,
                                                           catalog: Catalog) -> None:
    settings = Settings(telegram_bot_token=TOKEN)
    first, second = (build_deps(settings, engine, clock, catalog) for _ in range(2))
    first.metrics.sweeps.inc()
    assert first.metrics.registry is not second.metrics.registry
    assert first.calendar.metrics is first.metrics  # one object, reached through Deps
    assert b"duban_sweeps_total 1.0" in first.metrics.exposition()
    assert b"duban_sweeps_total 0.0" in second.metrics.exposition()


def test_a_press_is_timed_from_received_to_handled() -> None:
    ticks = iter([10.0, 10.25, 20.0, 20.5])
    metrics = Metrics(timer=lambda: next(ticks))
    metrics.update_received(1)
    metrics.update_handled(1, "button")
    metrics.update_received(2)
    metrics.update_handled(2, "message")  # counted, not timed
    metrics.update_handled(3, "button")  # never seen received (dropped): counted, not timed
    exposition = metrics.exposition().decode()
    assert "duban_button_press_seconds_sum 0.25" in exposition
    assert "duban_button_press_seconds_count 1.0" in exposition
    assert 'duban_updates_handled_total{kind="button"} 2.0' in exposition


# -- /healthz ---------------------------------------------------------------------------------


async def test_healthz_is_200_when_the_database_answers_and_sweeps_are_recent(
        bot: Bot, monitor: Monitor) -> None:
    status, body = await health(monitor)  # no sweep yet, but the bot has just started
    assert status == 200 and body["status"] == "ok" and body["reasons"] == []
    assert body["database"] == {"reachable": True}
    assert body["sweep"]["last_success"] is None
    assert body["sweep"]["stale_after_seconds"] == STALE.total_seconds()
    assert body["deliveries"] == {"waiting": 0, "retrying": 0, "given_up": 0,
                                  "oldest_queued": None}
    await bot.app.deps.health.sweep_succeeded()
    bot.clock.advance(timedelta(minutes=5))
    status, body = await health(monitor)
    assert status == 200 and body["sweep"]["age_seconds"] == 300
    assert value(await scrape(monitor), "duban_last_sweep_age_seconds") == 300


async def test_healthz_is_503_when_the_last_sweep_is_too_old(bot: Bot, monitor: Monitor
                                                             ) -> None:
    await bot.app.deps.health.sweep_succeeded()
    bot.clock.advance(STALE + timedelta(seconds=1))
    status, body = await health(monitor)
    assert status == 503 and body["status"] == "fail"
    assert body["reasons"] == [REASON_SWEEP] and body["database"]["reachable"]
    await bot.app.deps.health.sweep_succeeded()  # the calendar works again
    assert (await health(monitor))[0] == 200


async def test_healthz_is_503_when_the_database_is_unreachable(bot: Bot, tmp_path: Path
                                                               ) -> None:
    broken = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/duban.db")
    sessions = session_factory(broken)
    deps: Deps = dataclasses.replace(bot.app.deps, engine=broken, sessions=sessions,
                                     health=HealthService(sessions, bot.clock))
    monitor = await start_monitor(deps, listen="127.0.0.1", port=0, stale_after=STALE)
    assert monitor is not None
    try:
        status, body = await health(monitor)
        assert status == 503 and body["reasons"] == [REASON_DATABASE]
        assert body["database"] == {"reachable": False} and body["deliveries"] is None
        samples = await scrape(monitor)  # /metrics still answers: the database is down
        assert value(samples, "duban_database_up") == 0
        assert not any(name == "duban_outbox_items" for name, _ in samples)
    finally:
        await stop_monitor(monitor)
        await broken.dispose()


# -- the application starts and stops it ------------------------------------------------------


async def test_post_init_serves_the_endpoint_and_post_shutdown_stops_it(
        engine: AsyncEngine, database_url: str, clock: ManualClock, catalog: Catalog,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.core.org import load_demo_org
    from bot.services.org import OrgService

    await OrgService(session_factory(engine)).load(load_demo_org())
    settings = Settings(telegram_bot_token=TOKEN, database_url=database_url, mode="test",
                        monitor_port=0, evidence_dir=tmp_path / "evidence")
    deps = build_deps(settings, engine, clock, catalog)
    app = build_application(settings, deps, request=RecordingRequest())
    await app.initialize()
    assert app.post_init is not None and app.post_shutdown is not None
    await app.post_init(app)
    try:
        monitor = app.bot_data["duban.monitor"]
        assert isinstance(monitor, Monitor) and monitor.port > 0
        assert (await health(monitor))[0] == 200
        start_calendar(app, settings)  # as the leading process does (bot.runner)
        await app.bot_data["duban.first-sweep"]
        samples = await scrape(monitor)
        assert value(samples, "duban_sweeps_total") >= 1
        assert value(samples, "duban_sweeps_failed_total") == 0
        status, body = await health(monitor)
        assert status == 200 and body["sweep"]["last_success"] is not None

        async def failing() -> None:
            raise DubanError("the sweep fails")

        # From here only this test sweeps; one the scheduler started (every second in test
        # mode) may still hold the one-sweep-at-a-time lock, and a sweep then is skipped: run
        # ours until it is not (a condition, with a timeout; no time has to pass).
        app.bot_data["duban.scheduler"].pause()
        monkeypatch.setattr(deps.calendar, "sweep", failing)
        async with asyncio.timeout(30):
            while value(await scrape(monitor), "duban_sweeps_failed_total") == 0:
                await run_sweep()  # what the scheduler's job runs
                await asyncio.sleep(0)
        assert value(await scrape(monitor), "duban_sweeps_failed_total") == 1
    finally:
        await app.post_shutdown(app)
        await app.shutdown()
    with pytest.raises(aiohttp.ClientConnectionError):
        await _get(monitor, "/healthz")


# -- settings ---------------------------------------------------------------------------------


def test_monitor_settings(tmp_path: Path) -> None:
    production = load_settings({}, cwd=tmp_path)
    assert (production.monitor_port, production.monitor_listen) == (DEFAULT_MONITOR_PORT,
                                                                    "127.0.0.1")
    assert production.monitor_sweep_intervals == 3
    assert load_settings({"DUBAN_MODE": "sandbox"}, cwd=tmp_path).monitor_port is None
    assert Settings(mode="test").monitor_port is None  # tests never take a fixed port
    given = load_settings({"DUBAN_MODE": "test", "DUBAN_MONITOR_PORT": "9999",
                           "DUBAN_MONITOR_LISTEN": "0.0.0.0",
                           "DUBAN_MONITOR_SWEEP_INTERVALS": "5"}, cwd=tmp_path)
    assert (given.monitor_port, given.monitor_listen, given.monitor_sweep_intervals) == (
        9999, "0.0.0.0", 5)
    for off in ("off", "OFF", "none"):
        assert load_settings({"DUBAN_MONITOR_PORT": off}, cwd=tmp_path).monitor_port is None
    assert load_settings({"DUBAN_MONITOR_PORT": "0"}, cwd=tmp_path).monitor_port == 0
    config = tmp_path / "duban.toml"
    config.write_text("monitor_port = 9100\nmonitor_listen = \"::1\"\n", encoding="utf-8")
    from_toml = load_settings({"DUBAN_CONFIG": str(config)}, cwd=tmp_path)
    assert (from_toml.monitor_port, from_toml.monitor_listen) == (9100, "::1")


@pytest.mark.parametrize(("name", "value", "words"), [
    ("DUBAN_MONITOR_PORT", "70000", "端口号"),
    ("DUBAN_MONITOR_PORT", "http", "端口号"),
    ("DUBAN_MONITOR_LISTEN", "local host", "IP 地址"),
    ("DUBAN_MONITOR_SWEEP_INTERVALS", "0", "1 到 1000"),
])
def test_bad_monitor_settings_are_explained(tmp_path: Path, name: str, value: str,
                                            words: str) -> None:
    from bot.core.i18n import get_translator

    with pytest.raises(DubanError) as caught:
        load_settings({name: value}, cwd=tmp_path)
    assert caught.value.message.startswith(name)
    assert words in caught.value.render(get_translator("zh_CN"))


async def test_a_port_in_use_is_logged_not_fatal(bot: Bot, monitor: Monitor,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    second = await start_monitor(bot.app.deps, listen="127.0.0.1", port=monitor.port,
                                 stale_after=STALE)
    assert second is None
    assert "cannot listen" in caplog.text
    assert await start_monitor(bot.app.deps, listen="127.0.0.1", port=None,
                               stale_after=STALE) is None  # off

