"""Button data: one versioned schema, at most 64 bytes, signed for the chat it was sent to.

Layout: ``d1:<action>:<arg>[:<arg>…]:<mac>``. The MAC (8 characters of a keyed BLAKE2b over the
chat id and the rest) ties a button to the chat it was posted in, so data copied to another
chat, edited by a modified client, or made up does not parse. Everything that does not parse
is refused; the caller answers the press and logs it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum

VERSION = "d1"
MAX_BYTES = 64
_MAC_CHARS = 8


class Action(StrEnum):
    STEP = "s"  # case c, clause k: take step n (department from the chat's binding)
    HAND_BACK = "r"  # "not ours" on case c
    EXTENSION = "x"  # coordinator decides an extension: a(pprove) / d(eny)
    REROUTE = "t"  # coordinator routes case c to department d
    CHOICE = "c"  # an answer to the current dialog question
    CANCEL = "k"  # cancel the current dialog
    DUTY = "o"  # confirm yearly duty (obligation) o with a document
    RSVP = "v"  # the summoned side answers summons s: a(ccept) / d(ecline)
    BIND = "b"  # bind this chat to d(epartment) key / r(egion) index, after an ambiguous /bind


@dataclass(frozen=True)
class ButtonData:
    action: Action
    args: tuple[str, ...] = ()

    def int_arg(self, index: int) -> int:
        return int(self.args[index])


class ButtonError(ValueError):
    """Button data that does not follow the schema or was not issued for this chat."""


@dataclass(frozen=True)
class ButtonCodec:
    secret: bytes

    @classmethod
    def from_token(cls, token: str) -> ButtonCodec:
        return cls(hashlib.sha256(b"duban-buttons:" + token.encode()).digest())

    def _mac(self, chat_id: int, body: str) -> str:
        digest = hmac.new(self.secret, f"{chat_id}|{body}".encode(), hashlib.blake2b).digest()
        return base64.urlsafe_b64encode(digest).decode()[:_MAC_CHARS]

    def pack(self, chat_id: int, action: Action, *args: object) -> str:
        parts = [VERSION, action.value, *(str(a) for a in args)]
        if any(":" in p or not p for p in parts[2:]):
            raise ValueError("button arguments must be non-empty and free of ':'")
        body = ":".join(parts)
        data = f"{body}:{self._mac(chat_id, body)}"
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"button data over {MAX_BYTES} bytes: {data!r}")
        return data

    def unpack(self, chat_id: int, data: str | None) -> ButtonData:
        if not data or len(data.encode()) > MAX_BYTES:
            raise ButtonError("missing or over-long button data")
        body, _, mac = data.rpartition(":")
        parts = body.split(":")
        if len(parts) < 2 or parts[0] != VERSION:
            raise ButtonError(f"unknown button version in {data!r}")
        if not hmac.compare_digest(mac, self._mac(chat_id, body)):
            raise ButtonError(f"button not issued for chat {chat_id}: {data!r}")
        try:
            action = Action(parts[1])
        except ValueError:
            raise ButtonError(f"unknown button action in {data!r}") from None
        return ButtonData(action, tuple(parts[2:]))
