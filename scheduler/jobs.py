"""The APScheduler side: one persistent sweep job in the bot process.

Per-case deadlines live in the database, not as one job per case: a single interval job sweeps
with indexed queries (``bot.services.calendar``), so 100k open cases do not mean 100k jobs.
The job is kept in a SQLAlchemy job store in the bot's own database, with an explicit
``misfire_grace_time`` and ``coalesce``, in the organisation's time zone.

A job in a persistent store is a reference to an importable function; the function finds the
running bot's sweep through :data:`RUNNERS`, which the bot fills when it starts the scheduler
(the one place where a module-level registry is unavoidable: APScheduler must be able to
re-import the callable after a restart).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import make_url

from bot.settings import Settings

log = logging.getLogger(__name__)

SWEEP_JOB = "duban-sweep"
PRODUCTION_INTERVAL = timedelta(minutes=5)
SIMULATED_INTERVAL = timedelta(seconds=1)  # sandbox and tests: the clock may jump at any time
MISFIRE_GRACE = 300
RUNNERS: dict[str, Callable[[], Awaitable[Any]]] = {}


async def run_sweep(name: str = "default") -> None:
    """The stored job's callable: run the sweep registered under ``name``."""
    runner = RUNNERS.get(name)
    if runner is None:
        log.warning("no sweep registered as %r; skipped", name)
        return
    try:
        await runner()
    except Exception:
        log.exception("sweep failed; the next run tries again")


def sync_url(url: str) -> str:
    """The job store uses a synchronous engine: the same database, through a sync driver."""
    parsed = make_url(url)
    driver = {"sqlite+aiosqlite": "sqlite", "postgresql+asyncpg": "postgresql+psycopg",
              "postgresql": "postgresql+psycopg"}.get(parsed.drivername, parsed.drivername)
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def build_scheduler(settings: Settings, database_url: str, sweep: Callable[[], Awaitable[Any]],
                    name: str = "default") -> AsyncIOScheduler:
    """An AsyncIOScheduler with the persistent sweep job (added or replaced)."""
    RUNNERS[name] = sweep
    scheduler = AsyncIOScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=sync_url(database_url),
                                                 tablename="apscheduler_jobs")},
        job_defaults={"coalesce": True, "misfire_grace_time": MISFIRE_GRACE,
                      "max_instances": 1},
        timezone=settings.tz,
    )
    interval = PRODUCTION_INTERVAL if settings.mode == "production" else SIMULATED_INTERVAL
    scheduler.add_job(run_sweep, IntervalTrigger(seconds=interval.total_seconds()),
                      id=SWEEP_JOB, name="calendar sweep", kwargs={"name": name},
                      replace_existing=True)
    return scheduler
