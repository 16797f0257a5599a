"""Conversations: guided, validated, persistent.

A dialog belongs to one person in one chat. Its state (flow, step, the answers so far as the
flow's typed draft) is a row written in the same transaction as each answer, so a restart in
the middle of a conversation continues where it was, and an answer redelivered by Telegram is
not taken twice. Drafts hold keys and values, never translated words: the reader's language is
applied when a question is rendered.

Flows, each started by a method that checks who may start it (``bot.services.access``):

* ``new_case`` (coordinators): county, enterprise, industry, clause, capacity and unit,
  description, optional evidence, summary, confirm.
* ``step`` (liaisons, from a card's button): what the workflow step needs (evidence, a date, a
  capacity figure, a note or reason, months), summary, confirm. A step that needs nothing is
  taken at once.
* ``hand_back`` (非本部门职责): the reason.
* ``deny_extension`` (coordinators): the reason.
* ``review_close`` (coordinators, 办结 of a case in review): an optional comment, confirm.
* ``send_back`` (coordinators, 退回重办): the reason, confirm.
* ``duty`` (a department or county): the document that fulfils a yearly duty.
* ``outcome`` (coordinators): how an interview summons went.

``/cancel`` ends any dialog; a dialog left alone expires after ``DIALOG_TTL``.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, delete
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core import uploads
from bot.core.casefile import CaseInput, parse_clauses, parse_industry
from bot.core.clock import Clock, local_today
from bot.core.commands import SummonsNumber, clean_text
from bot.core.dates import parse_date
from bot.core.evidence import EvidenceRef
from bot.core.i18n import N_, DubanError
from bot.core.org import Org
from bot.core.workflow import (
    CASE_CLAUSES,
    MAX_CAPACITY,
    MAX_NOTE,
    Actor,
    Need,
    State,
    Step,
    StepInput,
    check_state,
    check_times,
    workflow_for,
)
from bot.services.access import Who, require_coordinator, require_department, require_party
from bot.services.calendar import CalendarService
from bot.services.cases import CaseService, CaseView
from bot.services.evidence import EvidenceStore, FetchFailed
from models.db import transaction
from models.tables import Dialog

log = logging.getLogger(__name__)
DIALOG_TTL = timedelta(hours=24)
MAX_ENTERPRISE = 200
MAX_DESCRIPTION = 2000
MAX_REMARK = 2000
#: The default limit of a file sent (``DUBAN_MAX_UPLOAD_MB``); what files are accepted is
#: decided by their bytes (``bot.core.uploads``).
MAX_FILE_BYTES = uploads.DEFAULT_MAX_UPLOAD_BYTES
DONE = N_("Done.")


class Flow(StrEnum):
    NEW_CASE = "new_case"
    STEP = "step"
    HAND_BACK = "hand_back"
    DENY_EXTENSION = "deny_extension"
    DUTY = "duty"  # confirm a yearly duty with the document sent
    OUTCOME = "outcome"  # a coordinator records how an interview summons went
    NOTICE_EDIT = "notice_edit"  # a coordinator rewords a draft notice's opening (修改)
    NOTE = "note"  # a reply to a case's card, recorded as a note once confirmed
    REVIEW_CLOSE = "review_close"  # a coordinator closes a reviewed case (办结)
    SEND_BACK = "send_back"  # a coordinator sends a reviewed case back (退回重办)


@dataclass(frozen=True)
class Evidence:
    """A photo or document sent in the chat; once kept in the evidence store, with the
    fingerprint of its bytes (``sha256``) and their actual ``size``."""

    kind: str  # photo | document
    file_id: str
    unique_id: str
    name: str | None = None
    mime: str | None = None
    size: int | None = None
    sha256: str | None = None

    def ref(self) -> str:
        """The reference recorded in the event (format: ``bot.core.evidence``)."""
        return EvidenceRef(self.kind, self.unique_id, self.file_id, self.name or "",
                           self.sha256, self.size if self.sha256 else None).ref()


#: Fetches the bytes of the file an answer carries (the Telegram layer's download);
#: raises :class:`~bot.services.evidence.FetchFailed` when it cannot.
Fetch = Callable[[], Awaitable[bytes]]

COULD_NOT_FETCH = N_("I could not fetch the file from Telegram; please send it again.")


@dataclass(frozen=True)
class Answer:
    text: str | None = None
    evidence: Evidence | None = None
    choice: str | None = None
    #: How to download ``evidence``: every file is fetched and kept before it is accepted.
    fetch: Fetch | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Choice:
    """A button answer: ``prefix`` + the label (a message id unless ``translate`` is off)."""

    label: str
    value: str
    translate: bool = True
    prefix: str = ""
    clause: str | None = None  # shown before the label as the reader writes clauses


@dataclass(frozen=True)
class Question:
    """What to ask next: a message id with parameters, and optional choices."""

    message: str
    params: Mapping[str, Any] = field(default_factory=dict)
    choices: tuple[Choice, ...] = ()
    hint: str | None = None  # an explanation of what was wrong with the last answer
    hint_params: Mapping[str, Any] = field(default_factory=dict)
    #: Values to list under the message (a confirmation): each a value, or a message id to
    #: translate when the question is rendered.
    summary: tuple[SummaryLine, ...] = ()
    title: str | None = None  # the step the question is for (a message id)


@dataclass(frozen=True)
class SummaryLine:
    """One "label: value" line of what is about to be confirmed; ``label`` is a message id,
    ``value`` one too when ``translate``."""

    value: str
    translate: bool = False
    label: str | None = None
    clauses: tuple[str, ...] = ()  # clause numbers, shown as the reader writes them


@dataclass(frozen=True)
class Finished:
    """The dialog ended: say ``message``; ``case_ref`` names the case it changed, if any."""

    message: str
    params: Mapping[str, Any] = field(default_factory=dict)
    case_ref: str | None = None
    translated: tuple[str, ...] = ()  # params that are message ids, translated when shown


Outcome = Question | Finished


class Retry(Exception):
    """The answer was not acceptable; ask the same question again with this hint."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.params = params


# -- drafts: the typed partial input of each flow ---------------------------------------------


class Draft:
    """The answers so far of one flow, stored as JSON in the dialog's row."""

    FLOW: ClassVar[Flow]

    def dump(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> Draft | None:
        """The draft stored in a dialog row, or None if it is not one (a row written by an
        older version of the bot: the dialog starts again rather than guess)."""
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        try:
            # A copy: an answer appended to the draft must not change the row's value in
            # place, or the row would not look changed when it is saved in the same session.
            return cls(**{k: copy.deepcopy(v) for k, v in data.items() if k in known})
        except TypeError:
            return None


@dataclass
class NewCaseDraft(Draft):
    FLOW: ClassVar[Flow] = Flow.NEW_CASE
    candidates: list[str] = field(default_factory=list)  # places an ambiguous answer meant
    region: str | None = None
    enterprise: str | None = None
    industry: str | None = None
    clauses: list[str] = field(default_factory=list)
    capacity: str | None = None
    unit: str | None = None
    description: str | None = None
    evidence: list[str] = field(default_factory=list)


@dataclass
class StepDraft(Draft):
    FLOW: ClassVar[Flow] = Flow.STEP
    ref: str
    clause: str
    step: str
    department: str
    needs: list[str]
    max_months: int = 0
    evidence: list[str] = field(default_factory=list)
    date: str | None = None
    capacity: str | None = None
    note: str | None = None
    reason: str | None = None
    months: int | None = None
    registered_on: str | None = None  # answers are checked against the case's facts
    registered_capacity: str | None = None
    unit: str | None = None
    capacity_correction: str | None = None  # a figure above the registered one, sent once


@dataclass
class HandBackDraft(Draft):
    FLOW: ClassVar[Flow] = Flow.HAND_BACK
    ref: str
    department: str
    reason: str | None = None


@dataclass
class DenyExtensionDraft(Draft):
    FLOW: ClassVar[Flow] = Flow.DENY_EXTENSION
    ref: str
    reason: str | None = None


@dataclass
class ReviewCloseDraft(Draft):
    FLOW: ClassVar[Flow] = Flow.REVIEW_CLOSE
    ref: str
    note: str | None = None


@dataclass
class SendBackDraft(Draft):
    FLOW: ClassVar[Flow] = Flow.SEND_BACK
    ref: str
    reason: str | None = None


@dataclass
class DutyDraft(Draft):
    FLOW: ClassVar[Flow] = Flow.DUTY
    obligation_id: int
    evidence: list[str] = field(default_factory=list)


@dataclass
class OutcomeDraft(Draft):
    FLOW: ClassVar[Flow] = Flow.OUTCOME
    summons_id: int  # the row; people name it by ``summons`` (its number, ``2026-3``)
    summons: str = ""
    attendees: str | None = None
    summary: str | None = None
    commitments: str | None = None


@dataclass
class NoticeEditDraft(Draft):
    FLOW: ClassVar[Flow] = Flow.NOTICE_EDIT
    notice_id: int
    remark: str | None = None


@dataclass
class NoteDraft(Draft):
    FLOW: ClassVar[Flow] = Flow.NOTE
    case_id: int
    ref: str
    note: str


DRAFTS: Mapping[Flow, type[Draft]] = {cls.FLOW: cls for cls in (
    NewCaseDraft, StepDraft, HandBackDraft, DenyExtensionDraft, DutyDraft, OutcomeDraft,
    NoticeEditDraft, NoteDraft, ReviewCloseDraft, SendBackDraft)}

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
    #: Where evidence files are kept; None (tests of other flows): the reference only.
    evidence: EvidenceStore | None = None
    #: The largest file accepted (``DUBAN_MAX_UPLOAD_MB``).
    max_upload_bytes: int = MAX_FILE_BYTES

    # -- starting: each flow checks who may start it ----------------------------------------

    async def start_new_case(self, chat_id: int, who: Who, update_id: int = 0) -> Question:
        require_coordinator(who)
        return await self._start(chat_id, who, NewCaseDraft(), update_id)

    async def press_step(self, chat_id: int, who: Who, case_id: int, step: str,
                         department: str, update_id: int = 0) -> Outcome:
        """A department pressed a step's button: take it at once when it needs nothing,
        else ask what it needs."""
        require_department(who, department)
        view = await self.cases.get_by_id(case_id)
        clause = view.case.clause
        workflow = workflow_for(clause)
        needs = step_needs(step, clause)
        if not needs:  # the workflow checks the step against the case itself
            await self.cases.take_step(case_id, StepInput(
                step=step, actor=Actor.DEPARTMENT, department=department), who)
            return Finished(DONE, case_ref=view.case.ref)
        _check_possible(workflow.step(step), view)  # before any question is asked
        case = view.case
        return await self._start(chat_id, who, StepDraft(
            ref=case.ref, clause=clause, step=step, department=department, needs=needs,
            max_months=workflow.extension_max_months or 0,
            registered_on=case.registered_on.isoformat(),
            registered_capacity=str(case.capacity) if case.capacity is not None else None,
            unit=case.unit), update_id)

    async def start_hand_back(self, chat_id: int, who: Who, case_id: int, department: str,
                              update_id: int = 0) -> Question:
        require_department(who, department)
        view = await self.cases.get_by_id(case_id)
        return await self._start(chat_id, who, HandBackDraft(view.case.ref, department),
                                 update_id)

    async def decide_extension(self, chat_id: int, who: Who, case_id: int, approve: bool,
                               update_id: int = 0) -> Outcome:
        """A coordinator approves (at once) or denies (with a reason) an extension."""
        require_coordinator(who)
        view = await self.cases.get_by_id(case_id)
        if view.case.state != State.EXTENSION_REQUESTED:
            raise DubanError(N_("This extension request is already decided."))
        if approve:
            await self.cases.take_step(view.case.ref, StepInput(
                step="approve_extension", actor=Actor.COORDINATOR), who)
            return Finished(DONE, case_ref=view.case.ref)
        return await self._start(chat_id, who, DenyExtensionDraft(view.case.ref), update_id)

    async def decide_review(self, chat_id: int, who: Who, case_id: int, close: bool,
                            update_id: int = 0) -> Outcome:
        """A coordinator closes (办结, with an optional comment) or sends back (退回重办, with a
        reason) a case waiting for review; either is confirmed before it is taken."""
        require_coordinator(who)
        view = await self.cases.get_by_id(case_id)
        if view.case.state != State.REVIEW:
            raise DubanError(N_("This case is not waiting for review."))
        draft: Draft = (ReviewCloseDraft(view.case.ref) if close
                        else SendBackDraft(view.case.ref))
        return await self._start(chat_id, who, draft, update_id)

    async def start_duty(self, chat_id: int, who: Who, obligation_id: int,
                         update_id: int = 0) -> Question:
        obligation = await self.calendar.obligation(obligation_id)
        kind = "department" if obligation.party_kind == "department" else "region"
        require_party(who, **{kind: obligation.party})
        return await self._start(chat_id, who, DutyDraft(obligation_id), update_id)

    async def start_outcome(self, chat_id: int, who: Who, wanted: SummonsNumber,
                            update_id: int = 0) -> Question:
        """``/outcome N``: the summons of that number (a clear error when there is none)."""
        require_coordinator(who)
        summons = await self.calendar.numbered_summons(wanted)
        return await self._start(chat_id, who, OutcomeDraft(
            summons.id or 0, str(SummonsNumber(summons.number or 0, summons.year))), update_id)

    async def start_notice_edit(self, chat_id: int, who: Who, notice_id: int,
                                update_id: int = 0) -> Question:
        require_coordinator(who)
        notice = await self.calendar.notice(notice_id)
        if notice.status == "signed":
            raise DubanError(N_("This notice is already signed off as {code}."),
                             code=notice.code or "")
        return await self._start(chat_id, who, NoticeEditDraft(notice_id), update_id)

    async def start_note(self, chat_id: int, who: Who, case_id: int, text: str,
                         update_id: int = 0) -> Question:
        """A reply to a case's card: asks to confirm recording it as a note on the case."""
        if who.role not in ("coordinator", "console", "liaison"):
            raise DubanError(N_("Only coordinators and liaisons can add notes to a case."))
        note = clean_text(text).strip()
        if not note or len(note) > MAX_NOTE:
            raise DubanError(N_("A note is 1 to {limit} characters."), limit=MAX_NOTE)
        view = await self.cases.get_by_id(case_id)
        return await self._start(chat_id, who, NoteDraft(case_id, view.case.ref, note),
                                 update_id)

    # -- lifecycle --------------------------------------------------------------------------

    async def current(self, chat_id: int, user_id: int) -> Dialog | None:
        async with self.sessions() as session:
            dialog = await session.get(Dialog, (chat_id, user_id))
        if dialog is None or dialog.expires_at <= self.clock.now():
            return None
        return dialog

    async def _start(self, chat_id: int, who: Who, draft: Draft, update_id: int) -> Question:
        assert who.telegram_id is not None
        first = _first_step(draft)
        await self._save(chat_id, who.telegram_id, first, draft, update_id)
        return await self._question(first, draft)

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
        draft = DRAFTS[Flow(dialog.flow)].load(dialog.data)
        if draft is None:
            await self.cancel(chat_id, user_id)
            return Finished(N_("This question has expired; nothing was changed. Please start "
                               "again."))
        if answer.choice == "no" and dialog.step == "confirm":
            await self.cancel(chat_id, user_id)
            return Finished(N_("Cancelled; nothing was changed."))
        try:
            if answer.evidence is not None and dialog.step == EVIDENCE_STEP:
                answer = await self._keep(answer)
            step = await self._accept(dialog.step, draft, answer)
        except Retry as retry:
            # The draft may have learnt something (the places a name could mean, a figure
            # to confirm as a correction): kept for the next answer.
            await self._save(chat_id, user_id, dialog.step, draft, update_id)
            question = await self._question(dialog.step, draft)
            return dataclasses.replace(question, hint=retry.message, hint_params=retry.params)
        if step is None:
            # The last answer's effect and the dialog's end commit together: a crash between
            # them cannot leave the dialog waiting for a "confirm" it already acted on.
            async with transaction(self.sessions):
                finished = await self._finish(draft, who)
                await self.cancel(chat_id, user_id)
            return finished
        await self._save(chat_id, user_id, step, draft, update_id)
        return await self._question(step, draft)

    async def _keep(self, answer: Answer) -> Answer:
        """Check the file an evidence answer carries, fetch it, recognise it by its bytes
        (``bot.core.uploads``: never by its name or declared type) and keep it in the store;
        the answer then carries its fingerprint. Nothing is kept or accepted before the file
        is recognised."""
        evidence = _evidence(answer)
        if evidence.size is not None and evidence.size > self.max_upload_bytes:
            raise Retry(uploads.FILE_TOO_LARGE, limit=self.max_upload_bytes // uploads.MB)
        if self.evidence is None or answer.fetch is None:
            return answer
        try:
            content = await answer.fetch()
        except FetchFailed:
            raise Retry(COULD_NOT_FETCH) from None
        if not content:
            raise Retry(COULD_NOT_FETCH)
        accepts = uploads.PHOTO if evidence.kind == "photo" else uploads.EVIDENCE
        try:
            uploads.check(content, accepts, max_bytes=self.max_upload_bytes,
                          name=evidence.name or "")
        except uploads.UploadRefused as refused:
            log.info("evidence refused: %s %r (declared %s), %s bytes, is %s", evidence.kind,
                     evidence.name, evidence.mime, len(content), refused.found)
            raise Retry(refused.message, **refused.params) from None
        stored = await self.evidence.store(content)
        return dataclasses.replace(answer, evidence=dataclasses.replace(
            evidence, sha256=stored.sha256, size=stored.size))

    async def _save(self, chat_id: int, user_id: int, step: str, draft: Draft,
                    update_id: int) -> None:
        now = self.clock.now()
        async with transaction(self.sessions) as session:
            dialog = await session.get(Dialog, (chat_id, user_id)) or Dialog(
                chat_id=chat_id, user_id=user_id, flow=draft.FLOW.value, step=step,
                expires_at=now + DIALOG_TTL, updated_at=now)
            dialog.flow, dialog.step, dialog.data = draft.FLOW.value, step, draft.dump()
            dialog.last_update_id = max(dialog.last_update_id or 0, update_id)
            dialog.expires_at, dialog.updated_at = now + DIALOG_TTL, now
            session.add(dialog)

    # -- questions --------------------------------------------------------------------------

    async def _question(self, step: str, draft: Draft) -> Question:
        if step == "confirm":
            return Question(N_("Please check and confirm:\n{summary}"), choices=CONFIRM_CHOICES,
                            summary=_summary(draft))
        if isinstance(draft, NewCaseDraft):
            return _NEW_CASE_QUESTIONS[step](draft)
        if isinstance(draft, StepDraft):
            question = _need_question(Need(step), draft.max_months, draft)
            return dataclasses.replace(question, title=workflow_for(draft.clause).step(
                draft.step).label)
        if isinstance(draft, DutyDraft):
            return _need_question(Need.EVIDENCE, 0)
        if isinstance(draft, OutcomeDraft):
            return Question(_OUTCOME_QUESTIONS[step], {"limit": MAX_NOTE})
        if isinstance(draft, ReviewCloseDraft):
            return Question(N_("A comment for the case's record (at most {limit} characters), "
                               "or skip."), {"limit": MAX_NOTE},
                            choices=(Choice(N_("Skip"), "skip"),))
        if isinstance(draft, NoticeEditDraft):
            return Question(N_("The new opening of the notice (at most {limit} characters)? "
                               "It replaces the standard wording; the laggards and their "
                               "work stay as they are."), {"limit": MAX_REMARK})
        return Question(N_("Please give the reason (at most {limit} characters)."),
                        {"limit": MAX_NOTE})

    # -- answers ----------------------------------------------------------------------------

    async def _accept(self, step: str, draft: Draft, answer: Answer) -> str | None:
        """Validate ``answer`` for ``step``, store it in ``draft``; the next step or None."""
        if step == "confirm":
            if answer.choice != "yes":
                raise Retry(N_("Press Confirm or Cancel."))
            return None
        order: tuple[str, ...]
        if isinstance(draft, NewCaseDraft):
            await self._new_case_answer(step, draft, answer)
            order = NEW_CASE_STEPS
        elif isinstance(draft, StepDraft):
            _need_answer(Need(step), draft, answer, local_today(self.clock))
            order = tuple(draft.needs)
        elif isinstance(draft, DutyDraft):
            draft.evidence.append(_evidence(answer).ref())
            return "confirm"
        elif isinstance(draft, OutcomeDraft):
            setattr(draft, step, _text(answer, MAX_NOTE))
            order = tuple(_OUTCOME_QUESTIONS)
        elif isinstance(draft, HandBackDraft | DenyExtensionDraft | SendBackDraft):
            draft.reason = _text(answer, MAX_NOTE)
            return "confirm"
        elif isinstance(draft, ReviewCloseDraft):
            draft.note = None if answer.choice == "skip" else _text(answer, MAX_NOTE)
            return "confirm"
        elif isinstance(draft, NoticeEditDraft):
            draft.remark = _text(answer, MAX_REMARK)
            return "confirm"
        else:  # pragma: no cover - every flow is handled above
            raise AssertionError(draft)
        index = order.index(step)
        return order[index + 1] if index + 1 < len(order) else "confirm"

    async def _new_case_answer(self, step: str, draft: NewCaseDraft, answer: Answer) -> None:
        org = await self.org()
        if step == "region":
            if answer.choice is not None:
                if not answer.choice.isdecimal() or int(answer.choice) >= len(draft.candidates):
                    raise Retry(N_("Please choose one of the buttons."))
                draft.region = draft.candidates[int(answer.choice)]
                return
            query = _text(answer, 100)
            match = org.match_region(query)
            if match.ok:
                draft.region = match.value
                return
            if match.candidates:
                draft.candidates = list(match.candidates)
                raise Retry(N_("“{query}” could mean several places; choose one."), query=query)
            raise Retry(N_("No county or park called “{query}”."), query=query)
        if step == "enterprise":
            draft.enterprise = _text(answer, MAX_ENTERPRISE)
        elif step == "industry":
            value = answer.choice or parse_industry(_text(answer, 40))
            if value not in dict(INDUSTRY_CHOICES):
                raise Retry(N_("Please choose the industry from the buttons."))
            draft.industry = value
        elif step == "clause":
            parsed = parse_clauses(answer.choice or _text(answer, 40))
            if not parsed:
                raise Retry(N_("Please choose the clause from the buttons."))
            draft.clauses = list(parsed)
        elif step == "capacity":
            draft.capacity, draft.unit = _capacity(_text(answer, 60))
        elif step == "description":
            draft.description = _text(answer, MAX_DESCRIPTION)
        elif step == "evidence":
            if answer.choice == "skip":
                return
            draft.evidence.append(_evidence(answer).ref())

    # -- finishing --------------------------------------------------------------------------

    async def _finish(self, draft: Draft, who: Who) -> Finished:
        if isinstance(draft, NewCaseDraft):
            today = local_today(self.clock)
            assert draft.region and draft.enterprise and draft.industry
            item = CaseInput(
                ref=await self._next_ref(today), region=draft.region,
                enterprise=draft.enterprise, industry=draft.industry,
                clauses=tuple(draft.clauses),
                capacity=Decimal(draft.capacity) if draft.capacity else None,
                unit=draft.unit, equipment=None, registered_on=today,
                description=draft.description or "", row=0,
                evidence=tuple(draft.evidence))
            view = await self.cases.create_case(item, who)
            return Finished(N_("Case {ref} registered and routed."), {"ref": view.case.ref},
                            view.case.ref)
        if isinstance(draft, StepDraft):
            action = StepInput(
                step=draft.step, actor=Actor.DEPARTMENT, department=draft.department,
                evidence=tuple(draft.evidence),
                on=date.fromisoformat(draft.date) if draft.date else None,
                capacity=float(draft.capacity) if draft.capacity else None,
                note=draft.note, reason=draft.reason, months=draft.months)
            result = await self.cases.take_step(draft.ref, action, who)
            if not result.outcome.completes:
                return Finished(N_("Recorded for your department; waiting for the others."),
                                case_ref=draft.ref)
            return Finished(N_("Recorded: {step}."),
                            {"step": workflow_for(draft.clause).step(draft.step).label},
                            draft.ref, translated=("step",))
        if isinstance(draft, HandBackDraft):
            await self.cases.hand_back(draft.ref, draft.department, draft.reason or "", who)
            return Finished(N_("Handed back to the coordinators with your reason."),
                            case_ref=draft.ref)
        if isinstance(draft, DutyDraft):
            await self.calendar.confirm_obligation(draft.obligation_id, draft.evidence, who)
            return Finished(N_("Confirmed, with the document as evidence."))
        if isinstance(draft, OutcomeDraft):
            await self.calendar.record_outcome(draft.summons_id, draft.attendees or "",
                                               draft.summary or "", draft.commitments or "",
                                               who)
            return Finished(N_("The outcome of the summons is recorded."))
        if isinstance(draft, NoteDraft):
            await self.cases.add_note(draft.case_id, draft.note, who)
            return Finished(N_("Recorded as a note on case {ref}."), {"ref": draft.ref},
                            draft.ref)
        if isinstance(draft, NoticeEditDraft):
            await self.calendar.revise_notice(draft.notice_id, draft.remark or "", who)
            return Finished(N_("The draft notice is revised; it comes again for sign-off."))
        if isinstance(draft, ReviewCloseDraft | SendBackDraft):
            return await self._finish_review(draft, who)
        assert isinstance(draft, DenyExtensionDraft)
        await self.cases.take_step(draft.ref, StepInput(
            step="deny_extension", actor=Actor.COORDINATOR, reason=draft.reason), who)
        return Finished(N_("Extension denied; the department is told."), case_ref=draft.ref)

    async def _finish_review(self, draft: ReviewCloseDraft | SendBackDraft,
                             who: Who) -> Finished:
        if isinstance(draft, ReviewCloseDraft):
            await self.cases.take_step(draft.ref, StepInput(
                step="close_reviewed", actor=Actor.COORDINATOR, note=draft.note), who)
            return Finished(N_("Case {ref} is closed after review."), {"ref": draft.ref},
                            draft.ref)
        await self.cases.take_step(draft.ref, StepInput(
            step="send_back", actor=Actor.COORDINATOR, reason=draft.reason), who)
        return Finished(N_("Case {ref} is sent back for rework; its departments are told."),
                        {"ref": draft.ref}, draft.ref)

    async def _next_ref(self, today: date) -> str:
        existing = {c.ref for c in await self.cases.find()}
        n = 1
        while f"CZ-{today.year}-{n:03d}" in existing:
            n += 1
        return f"CZ-{today.year}-{n:03d}"


def _summary(draft: Draft) -> tuple[SummaryLine, ...]:
    """What the person is about to confirm, in the order they answered it, one labelled
    line per answer."""
    lines: list[SummaryLine] = []

    def add(label: str, value: object, translate: bool = False) -> None:
        if value not in (None, "", []):
            lines.append(SummaryLine(str(value), translate, label))

    if isinstance(draft, NewCaseDraft):
        add(N_("County or park"), draft.region)
        add(N_("Enterprise"), draft.enterprise)
        add(N_("Industry"), dict(INDUSTRY_CHOICES).get(draft.industry or ""), translate=True)
        if draft.clauses:
            lines.append(SummaryLine("", label=N_("Clause"), clauses=tuple(draft.clauses)))
        add(N_("Capacity"), f"{draft.capacity} {draft.unit or ''}".strip()
            if draft.capacity else None)
        add(N_("Facts"), draft.description)
    elif isinstance(draft, StepDraft):
        add(N_("Case"), draft.ref)
        add(N_("Step"), workflow_for(draft.clause).step(draft.step).label, translate=True)
        add(N_("Date"), draft.date)
        add(N_("Capacity"), draft.capacity)
        add(N_("Note"), draft.note)
        add(N_("Reason"), draft.reason)
        add(N_("Months of extension"), draft.months)
    elif isinstance(draft, HandBackDraft | DenyExtensionDraft | SendBackDraft):
        add(N_("Case"), draft.ref)
        if isinstance(draft, SendBackDraft):
            add(N_("Step"), N_("Send back for rework"), translate=True)
        add(N_("Reason"), draft.reason)
    elif isinstance(draft, ReviewCloseDraft):
        add(N_("Case"), draft.ref)
        add(N_("Step"), N_("Close the case"), translate=True)
        add(N_("Note"), draft.note)
    elif isinstance(draft, OutcomeDraft):
        add(N_("Summons"), draft.summons)
        add(N_("Attendees"), draft.attendees)
        add(N_("Summary"), draft.summary)
        add(N_("Commitments"), draft.commitments)
    elif isinstance(draft, NoticeEditDraft):
        add(N_("New opening"), draft.remark)
    elif isinstance(draft, NoteDraft):
        add(N_("Case"), draft.ref)
        add(N_("Note"), draft.note)
    evidence = getattr(draft, "evidence", None)
    if evidence:
        add(N_("Evidence"), f"📎 ×{len(evidence)}")
    return tuple(lines)


def _first_step(draft: Draft) -> str:
    if isinstance(draft, NewCaseDraft):
        return NEW_CASE_STEPS[0]
    if isinstance(draft, StepDraft):
        return draft.needs[0] if draft.needs else "confirm"
    if isinstance(draft, DutyDraft):
        return "evidence"
    if isinstance(draft, OutcomeDraft):
        return next(iter(_OUTCOME_QUESTIONS))
    if isinstance(draft, NoticeEditDraft):
        return "remark"
    if isinstance(draft, NoteDraft):
        return "confirm"
    if isinstance(draft, ReviewCloseDraft):
        return "note"
    return "reason"


#: The step, in every flow that asks for a file, at which the file is sent.
EVIDENCE_STEP = Need.EVIDENCE.value

NEW_CASE_STEPS = ("region", "enterprise", "industry", "clause", "capacity", "description",
                  "evidence")


def _clause_choices(_draft: NewCaseDraft) -> Question:
    return Question(N_("Which clause applies?"), choices=tuple(
        Choice(workflow_for(c).title, c, clause=c) for c in CASE_CLAUSES))


_NEW_CASE_QUESTIONS: Mapping[str, Callable[[NewCaseDraft], Question]] = {
    "region": lambda draft: Question(
        N_("Which county or park? (e.g. 玛纳斯县)"),
        choices=tuple(Choice(name, str(i), translate=False)
                      for i, name in enumerate(draft.candidates))),
    "enterprise": lambda draft: Question(N_("The enterprise's name?")),
    "industry": lambda draft: Question(N_("Which industry?"), choices=tuple(
        Choice(label, key) for key, label in INDUSTRY_CHOICES)),
    "clause": _clause_choices,
    "capacity": lambda draft: Question(N_("Capacity and unit? (e.g. 60 万吨/年)")),
    "description": lambda draft: Question(
        N_("Describe the facts (at most {limit} characters)."), {"limit": MAX_DESCRIPTION}),
    "evidence": lambda draft: Question(
        N_("Send a photo or document as evidence, or skip."),
        choices=(Choice(N_("Skip"), "skip"),)),
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
#: Words that mean the date of today, in either language.
_TODAY = ("today", "今天", "今日")


def _need_question(need: Need, max_months: int, draft: StepDraft | None = None) -> Question:
    choices: tuple[Choice, ...] = ()
    if need is Need.MONTHS:
        choices = tuple(Choice(str(n), str(n), translate=False)
                        for n in range(1, max_months + 1))
    if need is Need.DATE:
        choices = (Choice(N_("Today"), "today"),)
    if need is Need.CAPACITY and draft is not None and draft.registered_capacity:
        return Question(N_("The capacity concerned, in {unit}? (registered: {registered} "
                           "{unit}; e.g. 30 or 30 {unit})"),
                        {"unit": draft.unit or "", "registered": _plain(
                            draft.registered_capacity)})
    return Question(_NEED_QUESTIONS[need], {"limit": MAX_NOTE}, choices)


def _plain(number: str) -> str:
    """``"60.0000"`` → ``"60"``: a stored figure as people write it."""
    value = Decimal(number)
    return format(value.normalize(), "f") if value == value.to_integral() else str(
        value.normalize())


def _check_possible(step: Step, view: CaseView) -> None:
    """A step that cannot be taken now is refused when pressed, not after its questions."""
    check_state(step, State(view.case.state))
    check_times(step, sum(1 for e in view.events if e.kind == step.name))


def _need_answer(need: Need, draft: StepDraft, answer: Answer, today: date) -> None:
    if need is Need.EVIDENCE:
        draft.evidence.append(_evidence(answer).ref())
    elif need in (Need.DATE, Need.FUTURE_DATE):
        value = answer.choice or _text(answer, 40)
        try:
            day = today if value.strip().lower() in _TODAY else parse_date(value)
        except DubanError:
            raise Retry(N_("“{text}” is not a date; write it as YYYY-MM-DD."),
                        text=value) from None
        if need is Need.DATE and day > today:
            raise Retry(N_("The date {date} is in the future; give the date it happened."),
                        date=day.isoformat())
        if need is Need.FUTURE_DATE and day <= today:
            raise Retry(N_("The date {date} must be after today."), date=day.isoformat())
        if (need is Need.DATE and draft.registered_on
                and day < date.fromisoformat(draft.registered_on)):
            raise Retry(N_("The date {date} is before the case was registered ({registered})."),
                        date=day.isoformat(), registered=draft.registered_on)
        draft.date = day.isoformat()
    elif need is Need.CAPACITY:
        draft.capacity = str(_step_capacity(_text(answer, 40), draft))
    elif need is Need.MONTHS:
        text = (answer.choice or _text(answer, 5)).strip()
        if not text.isdecimal() or not 1 <= int(text) <= draft.max_months:
            raise Retry(N_("An extension is 1 to {limit} months."), limit=draft.max_months)
        draft.months = int(text)
    elif need is Need.NOTE:
        draft.note = _text(answer, MAX_NOTE)
    elif need is Need.REASON:
        draft.reason = _text(answer, MAX_NOTE)


def _text(answer: Answer, limit: int) -> str:
    text = clean_text(answer.text or "").strip()
    if not text:
        raise Retry(N_("Please answer with text."))
    if len(text) > limit:
        raise Retry(N_("The text is too long: at most {limit} characters."), limit=limit)
    return text


def _evidence(answer: Answer) -> Evidence:
    """The file an answer carries, unless it is none, empty, or declared a program (refused
    before it is downloaded; whether any other file is accepted is up to its bytes)."""
    evidence = answer.evidence
    if evidence is None:
        raise Retry(N_("Please send a photo or a document (PDF, image, Word, Excel)."))
    if evidence.size == 0:
        raise Retry(uploads.FILE_EMPTY)
    if evidence.kind == "document" and uploads.declared_program(evidence.mime):
        raise Retry(uploads.SENT_AS_PROGRAM, mime=evidence.mime or "?")
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


def _step_capacity(text: str, draft: StepDraft) -> Decimal:
    """A capacity answer: "30", "30万吨", "30 万吨/年" (the unit may be typed); positive, and
    not above the registered capacity unless the same figure is sent again as a
    correction."""
    match = _CAPACITY.match(text)
    if match is None:
        raise Retry(N_("“{text}” is not a number."), text=text)
    value = _number(match.group(1))
    if value <= 0:
        raise Retry(N_("The capacity must be more than 0."))
    if draft.registered_capacity is not None and value > Decimal(draft.registered_capacity):
        if draft.capacity_correction != str(value):
            draft.capacity_correction = str(value)
            raise Retry(N_("{value} is more than the registered capacity {registered} {unit}. "
                           "Send the same figure again to confirm it as a correction."),
                        value=_plain(str(value)), registered=_plain(draft.registered_capacity),
                        unit=draft.unit or "")
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

