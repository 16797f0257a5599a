"""Conversations: guided, validated, persistent.

A dialog belongs to one person in one chat. Its state (flow, step, the answers so far) is a row
written in the same transaction as each answer, so a restart in the middle of a conversation
continues where it was, and an answer redelivered by Telegram is not taken twice.

Flows:

* ``new_case`` (coordinators): county, enterprise, industry, clause, capacity and unit,
  description, optional evidence, summary, confirm.
* ``step`` (liaisons, from a card's button): what the workflow step needs (evidence, a date, a
  capacity figure, a note or reason, months), summary, confirm.
* ``hand_back`` (非本部门职责): the reason.
* ``deny_extension`` (coordinators): the reason.

``/cancel`` ends any dialog; a dialog left alone expires after ``DIALOG_TTL``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, delete
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.casefile import CaseInput, parse_clauses, parse_industry
from bot.core.clock import Clock, local_today
from bot.core.dates import parse_date
from bot.core.i18n import N_, DubanError
from bot.core.org import Org
from bot.core.workflow import (
    CASE_CLAUSES,
    MAX_CAPACITY,
    MAX_NOTE,
    Actor,
    Need,
    StepInput,
    workflow_for,
)
from bot.services.calendar import CalendarService
from bot.services.cases import CaseService, Who
from models.db import transaction
from models.tables import Dialog

DIALOG_TTL = timedelta(hours=24)
MAX_ENTERPRISE = 200
MAX_DESCRIPTION = 2000
PHOTO_MIMES = ("image/jpeg", "image/png", "image/webp", "image/heic")
DOCUMENT_MIMES = ("application/pdf", "image/jpeg", "image/png",
                  "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                  "application/msword", "application/zip",
                  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
MAX_FILE_BYTES = 20 * 1024 * 1024


class Flow(StrEnum):
    NEW_CASE = "new_case"
    STEP = "step"
    HAND_BACK = "hand_back"
    DENY_EXTENSION = "deny_extension"
    DUTY = "duty"  # confirm a yearly duty with the document sent
    OUTCOME = "outcome"  # a coordinator records how an interview summons went


@dataclass(frozen=True)
class Evidence:
    """A photo or document sent in the chat, kept as a reference to the file."""

    kind: str  # photo | document
    file_id: str
    unique_id: str
    name: str | None = None
    mime: str | None = None
    size: int | None = None

    def ref(self) -> str:
        return f"{self.kind}:{self.unique_id}:{self.file_id}:{self.name or ''}"


@dataclass(frozen=True)
class Answer:
    text: str | None = None
    evidence: Evidence | None = None
    choice: str | None = None


@dataclass(frozen=True)
class Choice:
    """A button answer: ``prefix`` + the label (a message id unless ``translate`` is off)."""

    label: str
    value: str
    translate: bool = True
    prefix: str = ""


@dataclass(frozen=True)
class Question:
    """What to ask next: a message id with parameters, and optional choices."""

    message: str
    params: Mapping[str, Any] = field(default_factory=dict)
    choices: tuple[Choice, ...] = ()
    hint: str | None = None  # an explanation of what was wrong with the last answer
    hint_params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Finished:
    """The dialog ended: say ``message``; ``case_ref`` names the case it changed, if any."""

    message: str
    params: Mapping[str, Any] = field(default_factory=dict)
    case_ref: str | None = None


Outcome = Question | Finished


class Retry(Exception):
    """The answer was not acceptable; ask the same question again with this hint."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.params = params


INDUSTRY_CHOICES = (("steel", N_("steel")), ("coal", N_("coal")), ("cement", N_("cement")),
                    ("electrolytic_aluminium", N_("electrolytic aluminium")),
                    ("flat_glass", N_("flat glass")), ("other", N_("other")))
CONFIRM_CHOICES = (Choice(N_("Confirm"), "yes"),)  # the cancel button is added to every question


@dataclass
class DialogService:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    cases: CaseService
    org: Callable[[], Awaitable[Org]]
    calendar: CalendarService

    # -- lifecycle --------------------------------------------------------------------------

    async def current(self, chat_id: int, user_id: int) -> Dialog | None:
        async with self.sessions() as session:
            dialog = await session.get(Dialog, (chat_id, user_id))
        if dialog is None or dialog.expires_at <= self.clock.now():
            return None
        return dialog

    async def start(self, chat_id: int, user_id: int, flow: Flow, data: dict[str, Any],
                    update_id: int = 0) -> Question:
        first = _FIRST_STEP[flow](data)
        await self._save(chat_id, user_id, flow, first, data, update_id)
        return await self._question(flow, first, data)

    async def cancel(self, chat_id: int, user_id: int) -> bool:
        async with transaction(self.sessions) as session:
            result = await session.exec(delete(Dialog).where(
                col(Dialog.chat_id) == chat_id, col(Dialog.user_id) == user_id))
            return bool(result.rowcount)

    async def answer(self, chat_id: int, user_id: int, answer: Answer, who: Who,
                     update_id: int = 0) -> Outcome | None:
        """Apply an answer to the person's dialog in this chat; None when there is none
        (or the update was already applied)."""
        dialog = await self.current(chat_id, user_id)
        if dialog is None or (update_id and update_id <= dialog.last_update_id):
            return None
        flow, data = Flow(dialog.flow), dict(dialog.data)
        if answer.choice == "no" and dialog.step == "confirm":
            await self.cancel(chat_id, user_id)
            return Finished(N_("Cancelled; nothing was changed."))
        try:
            step = await self._accept(flow, dialog.step, data, answer)
        except Retry as retry:
            question = await self._question(flow, dialog.step, data)
            return Question(question.message, question.params, question.choices,
                            retry.message, retry.params)
        if step is None:
            finished = await self._finish(flow, data, who)
            await self.cancel(chat_id, user_id)
            return finished
        await self._save(chat_id, user_id, flow, step, data, update_id)
        return await self._question(flow, step, data)

    async def _save(self, chat_id: int, user_id: int, flow: Flow, step: str,
                    data: dict[str, Any], update_id: int) -> None:
        now = self.clock.now()
        async with transaction(self.sessions) as session:
            dialog = await session.get(Dialog, (chat_id, user_id)) or Dialog(
                chat_id=chat_id, user_id=user_id, flow=flow.value, step=step,
                expires_at=now + DIALOG_TTL, updated_at=now)
            dialog.flow, dialog.step, dialog.data = flow.value, step, data
            dialog.last_update_id = max(dialog.last_update_id or 0, update_id)
            dialog.expires_at, dialog.updated_at = now + DIALOG_TTL, now
            session.add(dialog)

    # -- questions --------------------------------------------------------------------------

    async def _question(self, flow: Flow, step: str, data: dict[str, Any]) -> Question:
        if step == "confirm":
            return Question(N_("Please check and confirm:\n{summary}"),
                            {"summary": await self._summary(flow, data)}, CONFIRM_CHOICES)
        if flow is Flow.NEW_CASE:
            return _NEW_CASE_QUESTIONS[step](data)
        if flow is Flow.STEP:
            return _need_question(Need(step), data)
        if flow is Flow.DUTY:
            return _need_question(Need.EVIDENCE, data)
        if flow is Flow.OUTCOME:
            return Question(_OUTCOME_QUESTIONS[step], {"limit": MAX_NOTE})
        return Question(N_("Please give the reason (at most {limit} characters)."),
                        {"limit": MAX_NOTE})

    async def _summary(self, flow: Flow, data: dict[str, Any]) -> str:
        lines: list[str] = []
        for key in ("ref", "region", "enterprise", "industry", "clause", "capacity", "unit",
                    "description", "step_label", "date", "note", "reason", "months"):
            if data.get(key) not in (None, ""):
                lines.append(f"· {data[key]}")
        if data.get("evidence"):
            lines.append(f"· 📎 ×{len(data['evidence'])}")
        return "\n".join(lines)

    # -- answers ----------------------------------------------------------------------------

    async def _accept(self, flow: Flow, step: str, data: dict[str, Any],
                      answer: Answer) -> str | None:
        """Validate ``answer`` for ``step``, store it in ``data``; the next step or None."""
        if step == "confirm":
            if answer.choice != "yes":
                raise Retry(N_("Press Confirm or Cancel."))
            return None
        if flow is Flow.NEW_CASE:
            await self._new_case_answer(step, data, answer)
            order: tuple[str, ...] = NEW_CASE_STEPS
        elif flow is Flow.STEP:
            _need_answer(Need(step), data, answer, local_today(self.clock))
            order = tuple(data["needs"])
        elif flow is Flow.DUTY:
            _need_answer(Need.EVIDENCE, data, answer, local_today(self.clock))
            return "confirm"
        elif flow is Flow.OUTCOME:
            data[step] = _text(answer, MAX_NOTE)
            order = tuple(_OUTCOME_QUESTIONS)
        else:
            data["reason"] = _text(answer, MAX_NOTE)
            return "confirm"
        index = order.index(step)
        return order[index + 1] if index + 1 < len(order) else "confirm"

    async def _new_case_answer(self, step: str, data: dict[str, Any], answer: Answer) -> None:
        org = await self.org()
        if step == "region":
            if answer.choice is not None:
                candidates = data.get("candidates", [])
                if not answer.choice.isdigit() or int(answer.choice) >= len(candidates):
                    raise Retry(N_("Please choose one of the buttons."))
                data["region"] = candidates[int(answer.choice)]
                return
            query = _text(answer, 100)
            match = org.match_region(query)
            if match.ok:
                data["region"] = match.value
                return
            if match.candidates:
                data["candidates"] = list(match.candidates)
                raise Retry(N_("“{query}” could mean several places; choose one."), query=query)
            raise Retry(N_("No county or park called “{query}”."), query=query)
        if step == "enterprise":
            data["enterprise"] = _text(answer, MAX_ENTERPRISE)
        elif step == "industry":
            value = answer.choice or parse_industry(_text(answer, 40))
            if value not in dict(INDUSTRY_CHOICES):
                raise Retry(N_("Please choose the industry from the buttons."))
            data["industry"] = value
        elif step == "clause":
            parsed = parse_clauses(answer.choice or _text(answer, 40))
            if not parsed:
                raise Retry(N_("Please choose the clause from the buttons."))
            data["clauses"] = list(parsed)
            data["clause"] = "、".join(f"（{c}）" for c in parsed)
        elif step == "capacity":
            data["capacity"], data["unit"] = _capacity(_text(answer, 60))
        elif step == "description":
            data["description"] = _text(answer, MAX_DESCRIPTION)
        elif step == "evidence":
            if answer.choice == "skip":
                return
            data.setdefault("evidence", []).append(_evidence(answer).ref())

    # -- finishing --------------------------------------------------------------------------

    async def _finish(self, flow: Flow, data: dict[str, Any], who: Who) -> Finished:
        if flow is Flow.NEW_CASE:
            today = local_today(self.clock)
            ref = data.get("ref") or await self._next_ref(today)
            item = CaseInput(
                ref=ref, region=data["region"], enterprise=data["enterprise"],
                industry=data["industry"], clauses=tuple(data["clauses"]),
                capacity=Decimal(data["capacity"]) if data.get("capacity") else None,
                unit=data.get("unit"), equipment=None, registered_on=today,
                description=data.get("description", ""), row=0)
            view = await self.cases.create_case(item, who)
            return Finished(N_("Case {ref} registered and routed."), {"ref": view.case.ref},
                            view.case.ref)
        if flow is Flow.STEP:
            action = StepInput(
                step=data["step"], actor=Actor.DEPARTMENT, department=data["department"],
                evidence=tuple(data.get("evidence", ())),
                on=date.fromisoformat(data["date"]) if data.get("date") else None,
                capacity=float(data["capacity"]) if data.get("capacity") else None,
                note=data.get("note"), reason=data.get("reason"),
                months=int(data["months"]) if data.get("months") else None)
            result = await self.cases.take_step(data["ref"], action, who)
            if not result.outcome.completes:
                return Finished(N_("Recorded for your department; waiting for the others."),
                                case_ref=data["ref"])
            return Finished(N_("Recorded: {step}."), {"step": data["step_label"]}, data["ref"])
        if flow is Flow.HAND_BACK:
            await self.cases.hand_back(data["ref"], data["department"], data["reason"], who)
            return Finished(N_("Handed back to the coordinators with your reason."),
                            case_ref=data["ref"])
        if flow is Flow.DUTY:
            await self.calendar.confirm_obligation(int(data["obligation_id"]),
                                                   data.get("evidence", []), who)
            return Finished(N_("Confirmed, with the document as evidence."))
        if flow is Flow.OUTCOME:
            await self.calendar.record_outcome(int(data["summons_id"]), data["attendees"],
                                               data["summary"], data["commitments"], who)
            return Finished(N_("The outcome of the summons is recorded."))
        action = StepInput(step="deny_extension", actor=Actor.COORDINATOR,
                           reason=data["reason"])
        await self.cases.take_step(data["ref"], action, who)
        return Finished(N_("Extension denied; the department is told."), case_ref=data["ref"])

    async def _next_ref(self, today: date) -> str:
        existing = {c.ref for c in await self.cases.find()}
        n = 1
        while f"CZ-{today.year}-{n:03d}" in existing:
            n += 1
        return f"CZ-{today.year}-{n:03d}"


NEW_CASE_STEPS = ("region", "enterprise", "industry", "clause", "capacity", "description",
                  "evidence")


def _clause_choices(_data: dict[str, Any]) -> Question:
    return Question(N_("Which clause applies?"), choices=tuple(
        Choice(workflow_for(c).title, c, prefix=f"（{c}）") for c in CASE_CLAUSES))


_NEW_CASE_QUESTIONS: Mapping[str, Callable[[dict[str, Any]], Question]] = {
    "region": lambda data: Question(
        N_("Which county or park? (e.g. 玛纳斯县)"),
        choices=tuple(Choice(name, str(i), translate=False)
                      for i, name in enumerate(data.get("candidates", [])))),
    "enterprise": lambda data: Question(N_("The enterprise's name?")),
    "industry": lambda data: Question(N_("Which industry?"), choices=tuple(
        Choice(label, key) for key, label in INDUSTRY_CHOICES)),
    "clause": _clause_choices,
    "capacity": lambda data: Question(N_("Capacity and unit? (e.g. 60 万吨/年)")),
    "description": lambda data: Question(N_("Describe the facts (at most {limit} characters)."),
                                         {"limit": MAX_DESCRIPTION}),
    "evidence": lambda data: Question(
        N_("Send a photo or document as evidence, or skip."),
        choices=(Choice(N_("Skip"), "skip"),)),
}

_FIRST_STEP: Mapping[Flow, Callable[[dict[str, Any]], str]] = {
    Flow.NEW_CASE: lambda data: NEW_CASE_STEPS[0],
    Flow.STEP: lambda data: data["needs"][0] if data.get("needs") else "confirm",
    Flow.HAND_BACK: lambda data: "reason",
    Flow.DENY_EXTENSION: lambda data: "reason",
    Flow.DUTY: lambda data: "evidence",
    Flow.OUTCOME: lambda data: "attendees",
}

_OUTCOME_QUESTIONS: Mapping[str, str] = {
    "attendees": N_("Who attended? (at most {limit} characters)"),
    "summary": N_("A summary of the meeting? (at most {limit} characters)"),
    "commitments": N_("The commitments, with their new deadlines? (at most {limit} "
                      "characters)"),
}


def step_needs(step_name: str, clause: str) -> list[str]:
    """The questions a workflow step asks, in order (evidence first)."""
    step = workflow_for(clause).step(step_name)
    order = (Need.EVIDENCE, Need.DATE, Need.FUTURE_DATE, Need.CAPACITY, Need.MONTHS,
             Need.REASON, Need.NOTE)
    return [need.value for need in order if need in step.needs]


_NEED_QUESTIONS: Mapping[Need, str] = {
    Need.EVIDENCE: N_("Send a photo or a document as evidence."),
    Need.DATE: N_("On what date did it happen? (YYYY-MM-DD, or “today”)"),
    Need.FUTURE_DATE: N_("By what date? (YYYY-MM-DD, after today)"),
    Need.CAPACITY: N_("The capacity concerned, as a number (e.g. 60)?"),
    Need.NOTE: N_("A short note (at most {limit} characters)?"),
    Need.REASON: N_("The reason (at most {limit} characters)?"),
    Need.MONTHS: N_("How many months of extension?"),
}


def _need_question(need: Need, data: dict[str, Any]) -> Question:
    choices: tuple[Choice, ...] = ()
    if need is Need.MONTHS:
        choices = tuple(Choice(str(n), str(n), translate=False)
                        for n in range(1, int(data.get("max_months", 3)) + 1))
    if need is Need.DATE:
        choices = (Choice(N_("Today"), "today"),)
    return Question(_NEED_QUESTIONS[need], {"limit": MAX_NOTE}, choices)


def _need_answer(need: Need, data: dict[str, Any], answer: Answer, today: date) -> None:
    if need is Need.EVIDENCE:
        data.setdefault("evidence", []).append(_evidence(answer).ref())
    elif need in (Need.DATE, Need.FUTURE_DATE):
        value = answer.choice or _text(answer, 40)
        try:
            day = today if value.strip().lower() in ("today", "今天") else parse_date(value)
        except DubanError:
            raise Retry(N_("“{text}” is not a date; write it as YYYY-MM-DD."),
                        text=value) from None
        if need is Need.DATE and day > today:
            raise Retry(N_("The date {date} is in the future; give the date it happened."),
                        date=day.isoformat())
        if need is Need.FUTURE_DATE and day <= today:
            raise Retry(N_("The date {date} must be after today."), date=day.isoformat())
        data["date"] = day.isoformat()
    elif need is Need.CAPACITY:
        data["capacity"] = str(_number(_text(answer, 40)))
    elif need is Need.MONTHS:
        text = answer.choice or _text(answer, 5)
        limit = int(data.get("max_months", 3))
        if not text.strip().isdigit() or not 1 <= int(text) <= limit:
            raise Retry(N_("An extension is 1 to {limit} months."), limit=limit)
        data["months"] = int(text)
    elif need is Need.NOTE:
        data["note"] = _text(answer, MAX_NOTE)
    elif need is Need.REASON:
        data["reason"] = _text(answer, MAX_NOTE)


def _text(answer: Answer, limit: int) -> str:
    if answer.text is None or not answer.text.strip():
        raise Retry(N_("Please answer with text."))
    text = answer.text.strip()
    if len(text) > limit:
        raise Retry(N_("The text is too long: at most {limit} characters."), limit=limit)
    return text


def _evidence(answer: Answer) -> Evidence:
    evidence = answer.evidence
    if evidence is None:
        raise Retry(N_("Please send a photo or a document (PDF, image, Word, Excel)."))
    if evidence.size is not None and evidence.size > MAX_FILE_BYTES:
        raise Retry(N_("The file is too large: at most {limit} MB."),
                    limit=MAX_FILE_BYTES // (1024 * 1024))
    if evidence.size == 0:
        raise Retry(N_("The file is empty."))
    if evidence.kind == "document" and evidence.mime not in DOCUMENT_MIMES:
        raise Retry(N_("Files of type {mime} are not accepted; send a PDF, an image, or a Word "
                       "or Excel file."), mime=evidence.mime or "?")
    return evidence


_CAPACITY = re.compile(r"^\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*(.*)$")


def _number(text: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", "").strip())
    except InvalidOperation:
        raise Retry(N_("“{text}” is not a number."), text=text) from None
    if not value.is_finite() or value < 0 or value >= MAX_CAPACITY:
        raise Retry(N_("The capacity {capacity} is not plausible."), capacity=text)
    return value


def _capacity(text: str) -> tuple[str, str]:
    match = _CAPACITY.match(text)
    if match is None:
        raise Retry(N_("Write the capacity as a number and a unit, e.g. 60 万吨/年."))
    value = _number(match.group(1))
    unit = match.group(2).strip()
    if not unit:
        raise Retry(N_("Add the unit, e.g. 60 万吨/年."))
    return str(value), unit[:40]
