"""The bot's one clock. Production reads the system time; tests and the sandbox move it."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Shanghai"


class Clock(Protocol):
    tz: tzinfo

    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


def local_today(clock: Clock) -> date:
    """Today's date in the organisation's time zone (deadlines are local dates)."""
    return clock.now().astimezone(clock.tz).date()


@dataclass
class SystemClock:
    tz: tzinfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class ManualClock:
    """A clock that starts at a given instant and only moves when told to (tests, sandbox)."""

    current: datetime
    tz: tzinfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))

    def __post_init__(self) -> None:
        if self.current.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("the clock does not go backwards")
        self.current = self.current + delta
        return self.current

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        if instant < self.current:
            raise ValueError("the clock does not go backwards")
        self.current = instant


@dataclass
class FileClock:
    """Simulated time shared between processes (sandbox and end-to-end tests, never production).

    The instant lives in a small JSON file, ``{"now": "2026-12-01T09:00:00+08:00"}``, that one
    process moves forward (the sandbox's clock panel, a test) and the bot reads; it is read on
    every call (a few microseconds), so a move is seen at once.
    """

    path: Path
    tz: tzinfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))

    def now(self) -> datetime:
        data = json.loads(self.path.read_text(encoding="utf-8"))
        instant = datetime.fromisoformat(data["now"])
        if instant.tzinfo is None:
            raise ValueError(f"{self.path}: the instant needs a UTC offset")
        return instant

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("FileClock needs an aware datetime")
        if self.path.exists() and instant < self.now():
            raise ValueError("the clock does not go backwards")
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"now": instant.isoformat()}), encoding="utf-8")
        os.replace(temporary, self.path)

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("the clock does not go backwards")
        self.set(self.now() + delta)
        return self.now()
