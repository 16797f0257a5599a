"""The APScheduler side: one persistent sweep job in the bot process.

Per-case deadlines live in the database, not as one job per case: a single interval job sweeps
with indexed queries (``bot.services.calendar``), so 100k open cases do not mean 100k jobs.
The job is kept in a SQLAlchemy job store with an explicit ``misfire_grace_time`` and
``coalesce``, in the organisation's time zone.

The calendar must never stop. Two things once stopped it on SQLite: the job store's synchronous
engine shared the bot's database file and met "database is locked" while the bot wrote through
aiosqlite, and APScheduler's wake-up does not restart its timer when updating a job raises.
So on SQLite the job store has a file of its own (with a busy timeout), and
:class:`ResilientScheduler` treats any error while it looks at its jobs like a job store that
could not be read: it logs it and wakes up again shortly. A sweep that fails is logged by
:func:`run_sweep` and tried again on the next tick (``bot.app`` tells the coordinators when
sweeps keep failing).

A job in a persistent store is a reference to an importable function; the function finds the
running bot's sweep through :data:`RUNNERS`, which the bot fills when it starts the scheduler
(the one place where a module-level registry is unavoidable: APScheduler must be able to
re-import the callable after a restart).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.jobstores.base import BaseJobStore
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import create_engine, event
from sqlalchemy.engine import make_url

from bot.settings import Settings

log = logging.getLogger(__name__)

SWEEP_JOB = "duban-sweep"
PRODUCTION_INTERVAL = timedelta(minutes=5)
SIMULATED_INTERVAL = timedelta(seconds=1)  # sandbox and tests: the clock may jump at any time
MISFIRE_GRACE = 300
RETRY_SECONDS = 5  # after the scheduler could not read or update its jobs
RUNNERS: dict[str, Callable[[], Awaitable[Any]]] = {}


async def run_sweep(name: str = "default") -> None:
    """The stored job's callable: run the sweep registered under ``name``."""
    runner = RUNNERS.get(name)
    if runner is None:
        log.warning("no sweep registered as %r; skipped", name)
        return
    try:
        await runner()
    except asyncio.CancelledError:
        # The calendar stopped (shutdown, or leadership lost) in the middle of a sweep: its
        # transaction rolls back and the next leader's sweep does the work. Ended quietly, as
        # APScheduler would log the cancellation as a failed job, with a traceback.
        log.info("sweep stopped with the calendar; the next sweep does its work")
    except Exception:
        log.exception("sweep failed; the next run tries again")


class ResilientScheduler(AsyncIOScheduler):
    """An AsyncIOScheduler whose timer survives errors of its job store.

    APScheduler 3 catches errors while *reading* due jobs and retries after
    ``jobstore_retry_interval``, but an error while *updating* a job after submitting it (an
    ``UPDATE`` that meets a lock) escapes ``wakeup`` before the next timer is set, and the
    scheduler never wakes again. Here every such error is logged and retried.
    """

    def _process_jobs(self) -> float | None:
        try:
            return super()._process_jobs()
        except Exception:
            log.exception("the scheduler could not process its jobs; retrying in %s s",
                          RETRY_SECONDS)
            return RETRY_SECONDS


def interval_for(settings: Settings) -> timedelta:
    return PRODUCTION_INTERVAL if settings.mode == "production" else SIMULATED_INTERVAL


def job_store_url(url: str) -> str | None:
    """Where the job store keeps its one job, through a synchronous driver: for a SQLite
    database a file of its own beside it (``duban.db`` → ``duban.jobs.db``), so the two engines
    never lock each other; for PostgreSQL the same database. None: keep it in memory (an
    in-memory SQLite database has no file to put beside)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return None
        path = Path(database)
        jobs = path.with_name(f"{path.stem}.jobs{path.suffix or '.db'}")
        return parsed.set(drivername="sqlite", database=str(jobs)).render_as_string(
            hide_password=False)
    driver = {"postgresql+asyncpg": "postgresql+psycopg",
              "postgresql": "postgresql+psycopg"}.get(parsed.drivername, parsed.drivername)
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def _job_store(database_url: str) -> BaseJobStore:
    url = job_store_url(database_url)
    if url is None:
        return MemoryJobStore()
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs")
    return SQLAlchemyJobStore(url=url, tablename="apscheduler_jobs")


def next_sweep(database_url: str) -> datetime | None:
    """When the stored sweep job runs next (None: not stored, or kept in memory)."""
    store = _job_store(database_url)
    if isinstance(store, MemoryJobStore):
        return None
    try:
        job = store.lookup_job(SWEEP_JOB)
    except Exception:  # no table yet: the bot never ran on this database
        log.debug("no stored sweep job", exc_info=True)
        return None
    finally:
        store.shutdown()
    return job.next_run_time if job is not None else None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def build_scheduler(settings: Settings, database_url: str, sweep: Callable[[], Awaitable[Any]],
                    name: str = "default") -> AsyncIOScheduler:
    """A scheduler with the persistent sweep job (added or replaced)."""
    RUNNERS[name] = sweep
    scheduler = ResilientScheduler(
        jobstores={"default": _job_store(database_url)},
        job_defaults={"coalesce": True, "misfire_grace_time": MISFIRE_GRACE,
                      "max_instances": 1},
        jobstore_retry_interval=RETRY_SECONDS,
        timezone=settings.tz,
    )
    scheduler.add_job(run_sweep, IntervalTrigger(seconds=interval_for(settings).total_seconds()),
                      id=SWEEP_JOB, name="calendar sweep", kwargs={"name": name},
                      replace_existing=True)
    return scheduler
