"""The hash chain of a case's events: the canonical content of an event and its SHA-256.

Each event stores ``hash``, the SHA-256 (64 lower-case hex digits) of its canonical content,
and ``prev_hash``, the ``hash`` of the event before it in the same case (``NULL`` for a case's
first event). ``prev_hash`` is part of the hashed content, so changing an event changes every
hash after it. The case row keeps the head of its chain (``cases.chain_seq``, the number of its
last event, and ``cases.chain_hash``, that event's hash), written in the same transaction as
the event, so removing the last events of a case is noticed too (the chain left would be valid
but shorter). ``bot.services.audit`` checks the chains.

Canonical content, version 1: the UTF-8 (in fact ASCII) bytes of one JSON object,
``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)``, whose keys are

* ``v``: ``1``, the version of this definition;
* ``case_id``, ``seq``: integers;
* ``at``: the instant in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (always six decimals);
* ``kind``, ``from_state``, ``to_state``, ``actor_name``, ``actor_role``, ``department_key``:
  strings or ``null``;
* ``actor_id``, ``chat_id``: integers or ``null``;
* ``payload``: the payload as the database hands it back (the JSON text the column stores,
  read again), ``null`` when the column is ``NULL``; its keys sorted at every depth like the
  whole object's;
* ``prev_hash``: the previous event's hash, or ``null`` for the first event of a case.

Every column of ``events`` is in it except ``id`` (a storage detail; ``case_id`` and ``seq``
name the event) and ``hash`` itself. The values are normalised before they are written
(:func:`stored_values`), so what is hashed when an event is recorded is exactly what is read
back later, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any

VERSION = 1

#: The columns of ``events`` in the canonical content (all but ``id`` and ``hash``).
FIELDS = ("case_id", "seq", "at", "kind", "from_state", "to_state", "actor_id", "actor_name",
          "actor_role", "department_key", "chat_id", "payload")
_INTEGERS = ("case_id", "seq", "actor_id", "chat_id")
_STRINGS = ("kind", "from_state", "to_state", "actor_name", "actor_role", "department_key")


def stored_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The event's values as the database will hand them back: integers as ``int``, enums by
    value, the instant in UTC, the payload through the JSON text the column keeps."""
    values: dict[str, Any] = {}
    for name in FIELDS:
        value = fields.get(name)
        if value is None:
            values[name] = None
        elif name in _INTEGERS:
            values[name] = int(value)
        elif name in _STRINGS:
            values[name] = str(value.value if isinstance(value, Enum) else value)
        elif name == "at":
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise ValueError("an event's time is an aware datetime")
            values[name] = value.astimezone(UTC)
        else:  # payload: what models.types.JSONText stores and reads back
            values[name] = json.loads(json.dumps(value, ensure_ascii=False, sort_keys=True))
    return values


def canonical(values: Mapping[str, Any], prev_hash: str | None) -> bytes:
    """The canonical content (version 1) of an event with these stored values."""
    content: dict[str, Any] = {name: values.get(name) for name in FIELDS}
    at = content["at"]
    content["at"] = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if at else None
    content["prev_hash"] = prev_hash
    content["v"] = VERSION
    return json.dumps(content, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True).encode("ascii")


def event_hash(values: Mapping[str, Any], prev_hash: str | None) -> str:
    """The SHA-256 (hex) of the event's canonical content."""
    return hashlib.sha256(canonical(values, prev_hash)).hexdigest()
