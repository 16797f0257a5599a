"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant, stored in UTC; SQLite hands back aware datetimes too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware instant")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: What ``json.dumps(value, ensure_ascii=False, sort_keys=True)`` builds on every call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


def json_text(value: Any) -> str:
    """``value`` as a :class:`JSONText` column writes it."""
    return _ENCODER.encode(value)


class RawJSON(str):
    """A value for a :class:`JSONText` column already written as JSON text (pieces written
    by :func:`json_text`): stored as it is. For a value too large to hold as objects at once
    (a digest of thousands of entries)."""

    __slots__ = ()


class JSONText(TypeDecorator[Any]):
    """JSON kept as text, so both back-ends store and compare it alike."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, RawJSON):
            return str(value)
        return json_text(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(value)
