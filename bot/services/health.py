"""Is the bot doing its job: the calendar's last sweeps, and the deliveries waiting or failed.

The sweep reports each run here. The state is kept in the ``settings`` table (so ``duban
doctor`` and the sandbox page, in other processes, can read it), and the coordinators are told
once when sweeps keep failing, and once when the calendar works again.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.clock import Clock
from bot.core.i18n import N_
from bot.services.outbox import Kind, enqueue
from models import queries
from models.db import transaction
from models.tables import Outbox, Setting

log = logging.getLogger(__name__)

HEALTH_KEY = "calendar.health"
#: Sweeps that fail in a row before the coordinators are told.
FAILURES_BEFORE_ALERT = 3

CALENDAR_FAILING = N_("⚠ The calendar is failing: the last {count} sweeps did not complete "
                      "({reason}). Reminders and notices wait until it works again; nothing is "
                      "lost. The bot keeps trying.")
CALENDAR_RECOVERED = N_("✅ The calendar works again: reminders and notices that waited are on "
                        "their way.")
REASON_LOCKED = N_("the database was busy")
REASON_UNREACHABLE = N_("the database could not be reached")
REASON_OTHER = N_("an unexpected error; the bot's log has the details")


def failure_reason(error: BaseException) -> str:
    """Why a sweep failed, as a message id people can read (the log keeps the details)."""
    text = str(error).lower()
    if "locked" in text or "busy" in text:
        return REASON_LOCKED
    if isinstance(error, OSError | ConnectionError) or (
            isinstance(error, OperationalError | DBAPIError | sqlite3.OperationalError)
            and any(word in text for word in ("connect", "refused", "unreachable", "closed"))):
        return REASON_UNREACHABLE
    return REASON_OTHER


def is_database_unreachable(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot be used just now (down, refusing, busy), as
    opposed to a fault in what was asked of it."""
    if isinstance(error, ConnectionError | TimeoutError):
        return True
    if isinstance(error, OSError) and not isinstance(error, FileNotFoundError | PermissionError):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return failure_reason(error) in (REASON_UNREACHABLE, REASON_LOCKED) and isinstance(
        error, OperationalError | DBAPIError | sqlite3.OperationalError | OSError)


@dataclass(frozen=True)
class CalendarHealth:
    last_success: datetime | None = None
    last_failure: datetime | None = None
    failures_in_a_row: int = 0
    reason: str | None = None  # a message id (failure_reason)
    alerted: bool = False  # the coordinators were told of the current run of failures

    def to_json(self) -> dict[str, object]:
        return {"last_success": _iso(self.last_success), "last_failure": _iso(self.last_failure),
                "failures_in_a_row": self.failures_in_a_row, "reason": self.reason,
                "alerted": self.alerted}

    @classmethod
    def from_json(cls, data: object) -> CalendarHealth:
        if not isinstance(data, dict):
            return cls()
        return cls(last_success=_when(data.get("last_success")),
                   last_failure=_when(data.get("last_failure")),
                   failures_in_a_row=int(data.get("failures_in_a_row") or 0),
                   reason=data.get("reason") or None, alerted=bool(data.get("alerted")))


@dataclass(frozen=True)
class DeliveryHealth:
    queued: int  # waiting to be sent (including those waiting to be retried)
    retrying: int  # of those, tried and failed at least once
    failed: int  # given up (no chat, bot removed, refused by Telegram)
    oldest_queued: datetime | None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _when(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


@dataclass
class HealthService:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    # This process's own count, so a database that cannot record the failures still alerts as
    # soon as it can be written to again.
    _failures: int = 0
    _reason: str | None = None

    async def calendar(self) -> CalendarHealth:
        async with self.sessions() as session:
            return CalendarHealth.from_json(await queries.setting(session, key=HEALTH_KEY))

    async def sweep_succeeded(self) -> None:
        now = self.clock.now()
        async with transaction(self.sessions) as session:
            before = CalendarHealth.from_json(await queries.setting(session, key=HEALTH_KEY))
            if before.alerted:
                await enqueue(session, key=f"calendar-recovered:{now.isoformat()}",
                              kind=Kind.TEXT, recipient_kind="coordinators", recipient="*",
                              now=now, payload={"message": CALENDAR_RECOVERED, "params": {}})
            await session.merge(Setting(key=HEALTH_KEY, value=CalendarHealth(
                last_success=now, last_failure=before.last_failure).to_json()))
        self._failures, self._reason = 0, None

    async def sweep_failed(self, error: BaseException) -> None:
        """Count a failed sweep; from the third in a row, tell the coordinators (once)."""
        self._failures += 1
        self._reason = failure_reason(error)
        now = self.clock.now()
        try:
            async with transaction(self.sessions) as session:
                before = CalendarHealth.from_json(await queries.setting(session,
                                                                        key=HEALTH_KEY))
                count = max(self._failures, before.failures_in_a_row + 1)
                alert = count >= FAILURES_BEFORE_ALERT and not before.alerted
                if alert:
                    first = before.last_success.isoformat() if before.last_success else "never"
                    await enqueue(session, key=f"calendar-failing:{first}", kind=Kind.TEXT,
                                  recipient_kind="coordinators", recipient="*", now=now,
                                  payload={"message": CALENDAR_FAILING,
                                           "params": {"count": count},
                                           "translate": {"reason": self._reason}})
                await session.merge(Setting(key=HEALTH_KEY, value=CalendarHealth(
                    last_success=before.last_success, last_failure=now,
                    failures_in_a_row=count, reason=self._reason,
                    alerted=before.alerted or alert).to_json()))
        except Exception:  # the database itself may be what fails; counted here meanwhile
            log.warning("could not record the failed sweep", exc_info=True)

    async def deliveries(self) -> DeliveryHealth:
        async with self.sessions() as session:
            pending = col(Outbox.sent_at).is_(None)
            queued, oldest = (await session.exec(select(
                func.count(), func.min(col(Outbox.created_at))).where(pending))).one()
            retrying = (await session.exec(select(func.count()).where(
                pending, col(Outbox.attempts) > 0))).one()
            failed = (await session.exec(select(func.count()).where(
                col(Outbox.sent_at).is_not(None), col(Outbox.error).is_not(None)))).one()
        return DeliveryHealth(int(queued), int(retrying), int(failed), oldest)
