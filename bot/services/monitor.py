"""The health and metrics endpoint: ``/healthz`` and ``/metrics`` over HTTP, for Prometheus and
for whoever watches the bot (a load balancer, systemd, a person with curl).

Served by aiohttp on the bot's own event loop, in polling and in webhook mode alike, on
``DUBAN_MONITOR_LISTEN:DUBAN_MONITOR_PORT`` (127.0.0.1 by default: the figures are not for the
internet). :func:`start_monitor` and :func:`stop_monitor` are called from the application's
``post_init`` and ``post_shutdown`` (``bot.app``).

``/healthz`` answers JSON: whether the database answers a ``SELECT 1`` within
:data:`DB_TIMEOUT`, the last successful sweep and its age, the sweeps failing in a row, and the
delivery queue. 200 when healthy; 503 with ``reasons`` when the database is unreachable or no
sweep succeeded for ``stale_after`` (a few sweep intervals, ``DUBAN_MONITOR_SWEEP_INTERVALS``).
The bot's own start counts as a fresh sweep, so a bot that was down for a day is not reported
late for the first few minutes back, and neither is a fresh installation.

``/metrics`` is Prometheus' text format (``bot.services.metrics``); the outbox gauges, the
database's state and the sweep's age are read at each scrape.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from bot.services.deps import Deps
from bot.services.health import CalendarHealth, DeliveryHealth

log = logging.getLogger(__name__)

#: How long the database may take to answer the health check.
DB_TIMEOUT = 2.0
REASON_DATABASE = "database unreachable"
REASON_SWEEP = "last sweep too old"


@dataclass
class Monitor:
    """A running endpoint; ``port`` is the one bound (useful when 0 was asked for)."""

    runner: web.AppRunner
    listen: str
    port: int


@dataclass
class Probe:
    """Reads what the endpoint reports from the services."""

    deps: Deps
    stale_after: timedelta
    started: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.deps.clock.now()

    async def _database(self) -> bool:
        async def select_one() -> None:
            async with self.deps.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))

        try:
            await asyncio.wait_for(select_one(), DB_TIMEOUT)
        except Exception as error:  # any failure means: not reachable from here
            log.warning("health check: the database did not answer: %s", error)
            return False
        return True

    async def _read(self) -> tuple[bool, CalendarHealth | None, DeliveryHealth | None]:
        if not await self._database():
            return False, None, None
        try:
            calendar, deliveries = await asyncio.wait_for(asyncio.gather(
                self.deps.health.calendar(), self.deps.health.deliveries()), DB_TIMEOUT)
        except Exception as error:
            log.warning("health check: could not read the calendar's health: %s", error)
            return False, None, None
        return True, calendar, deliveries

    async def health(self) -> tuple[bool, dict[str, Any]]:
        now = self.deps.clock.now()
        reachable, calendar, deliveries = await self._read()
        reasons: list[str] = []
        if not reachable:
            reasons.append(REASON_DATABASE)
        last = calendar.last_success if calendar else None
        # The start counts as a fresh sweep (the first one runs right after it).
        since = max(last, self.started) if last is not None else self.started
        if reachable and now - since > self.stale_after:
            reasons.append(REASON_SWEEP)
        body: dict[str, Any] = {
            "status": "fail" if reasons else "ok",
            "reasons": reasons,
            "database": {"reachable": reachable},
            "sweep": {
                "last_success": _iso(last),
                "age_seconds": _seconds(now - last) if last is not None else None,
                "stale_after_seconds": self.stale_after.total_seconds(),
                "failures_in_a_row": calendar.failures_in_a_row if calendar else None,
                "last_failure": _iso(calendar.last_failure) if calendar else None,
            },
            "deliveries": None if deliveries is None else {
                "waiting": deliveries.queued - deliveries.retrying,
                "retrying": deliveries.retrying,
                "given_up": deliveries.failed,
                "oldest_queued": _iso(deliveries.oldest_queued),
            },
            "started": _iso(self.started),
        }
        return not reasons, body

    async def metrics(self) -> bytes:
        _, calendar, deliveries = await self._read()
        self.deps.metrics.observe_state(deliveries, calendar.last_success if calendar else None,
                                        self.deps.clock.now())
        return self.deps.metrics.exposition()


def monitor_app(probe: Probe) -> web.Application:
    async def healthz(_request: web.Request) -> web.Response:
        healthy, body = await probe.health()
        return web.json_response(body, status=200 if healthy else 503)

    async def metrics(_request: web.Request) -> web.Response:
        response = web.Response(body=await probe.metrics())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


async def start_monitor(deps: Deps, *, listen: str, port: int | None,
                        stale_after: timedelta) -> Monitor | None:
    """Serve ``/healthz`` and ``/metrics`` on ``listen:port`` (0: any free port); None: off.

    A port that cannot be bound is logged, not fatal: the bot's work in the chats matters more
    than its figures (and Prometheus then reports the target down).
    """
    if port is None:
        return None
    runner = web.AppRunner(monitor_app(Probe(deps, stale_after)), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, listen, port)
    try:
        await site.start()
    except OSError as error:
        log.error("the health and metrics endpoint cannot listen on %s:%s: %s", listen, port,
                  error)
        await runner.cleanup()
        return None
    bound = int(runner.addresses[0][1]) if runner.addresses else port
    log.info("health and metrics on http://%s:%s/healthz and /metrics", listen, bound)
    return Monitor(runner, listen, bound)


async def stop_monitor(monitor: Monitor | None) -> None:
    if monitor is not None:
        await monitor.runner.cleanup()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _seconds(delta: timedelta) -> float:
    return round(max(0.0, delta.total_seconds()), 3)
