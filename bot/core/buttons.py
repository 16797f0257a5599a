"""Button data: a schema per action, at most 64 bytes, signed for the chat it was sent to.

Layout: ``d2:<action>:<field>[:<field>…]:<mac>``. Each action is one small frozen class below
(its fields, how they pack, how they are checked); :class:`ButtonCodec` signs and verifies. The
MAC (8 characters of a keyed BLAKE2b over the chat id and the rest) ties a button to the chat it
was posted in, so data copied to another chat, edited by a modified client, or made up does not
parse.

Workflow steps and regions are packed by **stable codes**, never by position: a step by its
entry in :data:`STEP_CODES` (an explicit table: reordering a workflow changes nothing), a region
by a short hash of its name (reloading the organisation in another order changes nothing). A
press whose step or region no longer exists, and any press of a button issued under an earlier
layout (``d1``: steps and regions by index), is :class:`StaleButton`: the handler says the card
is out of date and shows a fresh one, instead of guessing what the old position meant.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from bot.core.i18n import DubanError
from bot.core.workflow import CASE_CLAUSES, workflow_for

VERSION = "d2"
#: Layouts this bot issued before: their buttons are refused as out of date, not as forged.
OLD_VERSIONS = frozenset({"d1"})
MAX_BYTES = 64
_MAC_CHARS = 8
_MAX_ID = 2 ** 63 - 1
_ID = re.compile(r"[0-9]{1,19}")
_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
_CHOICE = re.compile(r"[A-Za-z0-9_\-.\u4e00-\u9fff]{1,40}")


class Action(StrEnum):
    STEP = "s"
    HAND_BACK = "r"
    EXTENSION = "x"
    REROUTE = "t"
    CHOICE = "c"
    CANCEL = "k"
    DUTY = "o"
    RSVP = "v"
    BIND = "b"
    NOTICE = "n"
    SUMMONS = "m"
    SHOW_CASE = "w"
    EVIDENCE = "e"
    REVIEW = "j"
    TASK = "q"


#: Every workflow step a button can start, by a code that never changes. A new step gets a new
#: code; a code is never reused for another step (old cards would then run the wrong step).
STEP_CODES: Mapping[str, str] = {
    "accept": "ac",
    "order_rectification": "or",
    "request_extension": "rx",
    "confirm_rectified": "cr",
    "report_failed": "rf",
    "order_shutdown": "os",
    "request_closure": "rc",
    "request_closure_serious": "rs",
    "confirm_closure_approved": "ca",
    "order_restriction": "rr",
    "order_stop_rectify": "sr",
    "order_stop": "st",
    "set_rectification_date": "sd",
    "confirm_dismantled": "cd",
    "set_dismantling_date": "dd",
    "confirm_exit": "ce",
    "measure:production_stopped": "mp",
    "measure:power_water_cut": "mw",
    "measure:power_units_removed": "mu",
    "measure:line_sealed": "ml",
    "measure:equipment_dismantled": "me",
    "measure:public_commitment": "mc",
    "measure:website_announcement": "ma",
    "measure:licences_revoked": "mv",
    "measure:enterprise_closed": "mx",
}
_STEPS_BY_CODE = {code: step for step, code in STEP_CODES.items()}


def region_code(name: str) -> str:
    """A short code for a county or park that stays the same while its name does."""
    digest = hashlib.blake2b(name.encode(), digest_size=5).digest()
    return base64.b32encode(digest).decode().rstrip("=").lower()


class ButtonError(ValueError):
    """Button data that does not follow the schema or was not issued for this chat."""


class StaleButton(ButtonError):
    """A genuine button of this chat that no longer means anything: issued under an earlier
    layout, or naming a step or place that no longer exists."""


def _id(text: str) -> int:
    if not _ID.fullmatch(text) or int(text) > _MAX_ID:
        raise ButtonError(f"not an id: {text!r}")
    return int(text)


def _key(text: str) -> str:
    if not _KEY.fullmatch(text):
        raise ButtonError(f"not a key: {text!r}")
    return text


def _flag(text: str, yes: str, no: str) -> bool:
    if text not in (yes, no):
        raise ButtonError(f"expected {yes} or {no}: {text!r}")
    return text == yes


def _count(parts: Sequence[str], n: int) -> None:
    if len(parts) != n:
        raise ButtonError(f"expected {n} fields, got {len(parts)}")


class Payload:
    """What one kind of button carries. Subclasses are frozen dataclasses."""

    ACTION: ClassVar[Action]

    def fields(self) -> tuple[str, ...]:
        raise NotImplementedError

    @classmethod
    def parse(cls, parts: Sequence[str]) -> Payload:
        raise NotImplementedError


@dataclass(frozen=True)
class StepPress(Payload):
    """A department takes ``step`` on case ``case_id`` (department from the chat's binding)."""

    ACTION: ClassVar[Action] = Action.STEP
    case_id: int
    clause: str
    step: str

    def fields(self) -> tuple[str, ...]:
        return (str(self.case_id), self.clause, STEP_CODES[self.step])

    @classmethod
    def parse(cls, parts: Sequence[str]) -> StepPress:
        _count(parts, 3)
        case_id, clause, code = _id(parts[0]), parts[1], parts[2]
        if clause not in CASE_CLAUSES:
            raise ButtonError(f"unknown clause {clause!r}")
        step = _STEPS_BY_CODE.get(code)
        if step is None:
            raise StaleButton(f"unknown step code {code!r}")
        try:
            workflow_for(clause).step(step)
        except DubanError:
            raise StaleButton(f"clause {clause} has no step {step}") from None
        return cls(case_id, clause, step)


@dataclass(frozen=True)
class HandBack(Payload):
    """非本部门职责 on case ``case_id``."""

    ACTION: ClassVar[Action] = Action.HAND_BACK
    case_id: int

    def fields(self) -> tuple[str, ...]:
        return (str(self.case_id),)

    @classmethod
    def parse(cls, parts: Sequence[str]) -> HandBack:
        _count(parts, 1)
        return cls(_id(parts[0]))


@dataclass(frozen=True)
class ExtensionDecision(Payload):
    """A coordinator approves or denies the extension asked for case ``case_id``."""

    ACTION: ClassVar[Action] = Action.EXTENSION
    case_id: int
    approve: bool

    def fields(self) -> tuple[str, ...]:
        return (str(self.case_id), "a" if self.approve else "d")

    @classmethod
    def parse(cls, parts: Sequence[str]) -> ExtensionDecision:
        _count(parts, 2)
        return cls(_id(parts[0]), _flag(parts[1], "a", "d"))


@dataclass(frozen=True)
class ReviewDecision(Payload):
    """A coordinator closes (办结) or sends back (退回重办) case ``case_id`` waiting for review."""

    ACTION: ClassVar[Action] = Action.REVIEW
    case_id: int
    close: bool

    def fields(self) -> tuple[str, ...]:
        return (str(self.case_id), "c" if self.close else "b")

    @classmethod
    def parse(cls, parts: Sequence[str]) -> ReviewDecision:
        _count(parts, 2)
        return cls(_id(parts[0]), _flag(parts[1], "c", "b"))


#: What a task button does (:class:`TaskPress`): the review's accept, drop, merge into the
#: previous task and paging; 办结 and 退回重办 of a final report; show the task.
TASK_ACTIONS = frozenset({"accept", "drop", "merge", "prev", "next", "close", "back", "show"})
_TASK_CODES = {"accept": "a", "drop": "d", "merge": "m", "prev": "p", "next": "n",
               "close": "c", "back": "b", "show": "s"}
_TASK_ACTIONS = {code: action for action, code in _TASK_CODES.items()}


@dataclass(frozen=True)
class TaskPress(Payload):
    """A button of task number ``number`` (督办任务N): see :data:`TASK_ACTIONS`; ``other`` is
    the task a merge goes into (0 for the other actions)."""

    ACTION: ClassVar[Action] = Action.TASK
    number: int
    action: str
    other: int = 0

    def fields(self) -> tuple[str, ...]:
        return (str(self.number), _TASK_CODES[self.action], str(self.other))

    @classmethod
    def parse(cls, parts: Sequence[str]) -> TaskPress:
        _count(parts, 3)
        action = _TASK_ACTIONS.get(parts[1])
        if action is None:
            raise ButtonError(f"not a task action: {parts[1]!r}")
        other = _id(parts[2])
        if (action == "merge") != (other > 0):
            raise ButtonError(f"not a task to merge into: {parts[2]!r}")
        return cls(_id(parts[0]), action, other)


@dataclass(frozen=True)
class Reroute(Payload):
    """A coordinator routes case ``case_id`` to ``department`` (a department key)."""

    ACTION: ClassVar[Action] = Action.REROUTE
    case_id: int
    department: str

    def fields(self) -> tuple[str, ...]:
        return (str(self.case_id), self.department)

    @classmethod
    def parse(cls, parts: Sequence[str]) -> Reroute:
        _count(parts, 2)
        return cls(_id(parts[0]), _key(parts[1]))


@dataclass(frozen=True)
class DialogChoice(Payload):
    """An answer to the current question of the presser's dialog in this chat."""

    ACTION: ClassVar[Action] = Action.CHOICE
    value: str

    def fields(self) -> tuple[str, ...]:
        return (self.value,)

    @classmethod
    def parse(cls, parts: Sequence[str]) -> DialogChoice:
        _count(parts, 1)
        if not _CHOICE.fullmatch(parts[0]):
            raise ButtonError(f"not a choice: {parts[0]!r}")
        return cls(parts[0])


@dataclass(frozen=True)
class CancelDialog(Payload):
    """Cancel the presser's dialog in this chat."""

    ACTION: ClassVar[Action] = Action.CANCEL

    def fields(self) -> tuple[str, ...]:
        return ("0",)

    @classmethod
    def parse(cls, parts: Sequence[str]) -> CancelDialog:
        _count(parts, 1)
        return cls()


@dataclass(frozen=True)
class ConfirmDuty(Payload):
    """Confirm yearly duty ``obligation_id`` by sending its document."""

    ACTION: ClassVar[Action] = Action.DUTY
    obligation_id: int

    def fields(self) -> tuple[str, ...]:
        return (str(self.obligation_id),)

    @classmethod
    def parse(cls, parts: Sequence[str]) -> ConfirmDuty:
        _count(parts, 1)
        return cls(_id(parts[0]))


@dataclass(frozen=True)
class Rsvp(Payload):
    """The summoned side accepts or declines summons ``summons_id``."""

    ACTION: ClassVar[Action] = Action.RSVP
    summons_id: int
    accept: bool

    def fields(self) -> tuple[str, ...]:
        return (str(self.summons_id), "a" if self.accept else "d")

    @classmethod
    def parse(cls, parts: Sequence[str]) -> Rsvp:
        _count(parts, 2)
        return cls(_id(parts[0]), _flag(parts[1], "a", "d"))


@dataclass(frozen=True)
class NoticeDecision(Payload):
    """A coordinator signs off (``sign``), edits (``edit``) or holds (``hold``) a draft 通报."""

    ACTION: ClassVar[Action] = Action.NOTICE
    CODES: ClassVar[Mapping[str, str]] = {"sign": "s", "edit": "e", "hold": "h"}
    notice_id: int
    decision: str

    def fields(self) -> tuple[str, ...]:
        return (str(self.notice_id), self.CODES[self.decision])

    @classmethod
    def parse(cls, parts: Sequence[str]) -> NoticeDecision:
        _count(parts, 2)
        by_code = {code: name for name, code in cls.CODES.items()}
        if parts[1] not in by_code:
            raise ButtonError(f"not a notice decision: {parts[1]!r}")
        return cls(_id(parts[0]), by_code[parts[1]])


@dataclass(frozen=True)
class ConfirmSummons(Payload):
    """A coordinator confirms a proposed summons's time and place; it goes out."""

    ACTION: ClassVar[Action] = Action.SUMMONS
    summons_id: int

    def fields(self) -> tuple[str, ...]:
        return (str(self.summons_id),)

    @classmethod
    def parse(cls, parts: Sequence[str]) -> ConfirmSummons:
        _count(parts, 1)
        return cls(_id(parts[0]))


@dataclass(frozen=True)
class BindChat(Payload):
    """Bind this chat to a department (by key) or a region (by :func:`region_code`), after an
    ambiguous ``/bind``."""

    ACTION: ClassVar[Action] = Action.BIND
    department: str | None = None
    region: str | None = None  # the region's code

    def fields(self) -> tuple[str, ...]:
        if self.department is not None:
            return ("d", self.department)
        assert self.region is not None
        return ("r", self.region)

    @classmethod
    def parse(cls, parts: Sequence[str]) -> BindChat:
        _count(parts, 2)
        if _flag(parts[0], "d", "r"):
            return cls(department=_key(parts[1]))
        if not re.fullmatch(r"[a-z2-7]{8}", parts[1]):
            raise ButtonError(f"not a region code: {parts[1]!r}")
        return cls(region=parts[1])


@dataclass(frozen=True)
class ShowCase(Payload):
    """Show case ``case_id`` in full (a choice among the cases a search found)."""

    ACTION: ClassVar[Action] = Action.SHOW_CASE
    case_id: int

    def fields(self) -> tuple[str, ...]:
        return (str(self.case_id),)

    @classmethod
    def parse(cls, parts: Sequence[str]) -> ShowCase:
        _count(parts, 1)
        return cls(_id(parts[0]))


@dataclass(frozen=True)
class SendEvidence(Payload):
    """Send again evidence file ``number`` (from 1, in the order recorded) of case
    ``case_id``, from the evidence store."""

    ACTION: ClassVar[Action] = Action.EVIDENCE
    case_id: int
    number: int

    def fields(self) -> tuple[str, ...]:
        return (str(self.case_id), str(self.number))

    @classmethod
    def parse(cls, parts: Sequence[str]) -> SendEvidence:
        _count(parts, 2)
        number = _id(parts[1])
        if number < 1:
            raise ButtonError(f"not an evidence number: {parts[1]!r}")
        return cls(_id(parts[0]), number)


PAYLOADS: Mapping[Action, type[Payload]] = {
    cls.ACTION: cls for cls in (StepPress, HandBack, ExtensionDecision, Reroute, DialogChoice,
                                CancelDialog, ConfirmDuty, Rsvp, BindChat, NoticeDecision,
                                ConfirmSummons, ShowCase, SendEvidence, ReviewDecision, TaskPress)
}


@dataclass(frozen=True)
class ButtonCodec:
    secret: bytes

    @classmethod
    def from_token(cls, token: str) -> ButtonCodec:
        return cls(hashlib.sha256(b"duban-buttons:" + token.encode()).digest())

    def _mac(self, chat_id: int, body: str) -> str:
        digest = hmac.new(self.secret, f"{chat_id}|{body}".encode(), hashlib.blake2b).digest()
        return base64.urlsafe_b64encode(digest).decode()[:_MAC_CHARS]

    def sign(self, chat_id: int, body: str) -> str:
        """``body`` with its MAC for ``chat_id`` (any layout; :meth:`pack` for this one)."""
        return f"{body}:{self._mac(chat_id, body)}"

    def pack(self, chat_id: int, payload: Payload) -> str:
        parts = payload.fields()
        if any(":" in p or not p for p in parts):
            raise ValueError("button fields must be non-empty and free of ':'")
        data = self.sign(chat_id, ":".join((VERSION, payload.ACTION.value, *parts)))
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"button data over {MAX_BYTES} bytes: {data!r}")
        return data

    def unpack(self, chat_id: int, data: str | None) -> Payload:
        """The payload of a press in ``chat_id``; :class:`ButtonError` for anything forged,
        foreign or malformed, :class:`StaleButton` for a genuine button that is out of date."""
        if not data or len(data.encode()) > MAX_BYTES:
            raise ButtonError("missing or over-long button data")
        body, _, mac = data.rpartition(":")
        parts = body.split(":")
        if len(parts) < 2 or not hmac.compare_digest(mac, self._mac(chat_id, body)):
            raise ButtonError(f"button not issued for chat {chat_id}: {data!r}")
        version, action, fields = parts[0], parts[1], parts[2:]
        if version in OLD_VERSIONS:
            raise StaleButton(f"button of layout {version}")
        if version != VERSION:
            raise ButtonError(f"unknown button version in {data!r}")
        try:
            kind = PAYLOADS[Action(action)]
        except ValueError:
            raise ButtonError(f"unknown button action in {data!r}") from None
        return kind.parse(fields)
