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
* ``inspection`` (a county's or park's liaisons in its chat; coordinators for the
  commission's own): an inspection held, its day, departments, enterprises checked and each
  problem found, fed back or opened as a case (``bot.services.inspections``).

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
from bot.core.inspections import (
    CASE,
    COMMISSION,
    FED_BACK,
    JOINT,
    MAX_ENTERPRISES,
    MAX_NAMES,
    MAX_PROBLEMS,
    match_names,
    split_names,
)
from bot.core.org import Org
from bot.core.tasks import TaskStatus
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
from bot.services.access import (
    NOT_ALLOWED,
    Who,
    require_coordinator,
    require_department,
    require_party,
)
from bot.services.calendar import CalendarService
from bot.services.cases import CaseService, CaseView
from bot.services.evidence import EvidenceStore, FetchFailed
from bot.services.inspections import InspectionInput, InspectionService, ProblemInput
from bot.services.tasks import MAX_REPORT, TaskService
from models.db import transaction
from models.tables import Dialog
from scheduler import rules

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
    TASK_REPORT = "task_report"  # a department reports progress on a task (进展反馈)
    TASK_BACK = "task_back"  # a coordinator sends a task's final report back (退回重办)
    INSPECTION = "inspection"  # an inspection held and the problems it found (联合检查, 督促检查)


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
    day: str | None = None  # an ISO day, shown before the label in the reader's date style


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
    day: str | None = None  # an ISO day, shown (instead of ``value``) in the reader's style


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
    kind: str = ""  # the duty's kind: what the question asks for ("" in older drafts)


@dataclass
class TaskReportDraft(Draft):
    """A progress report on a task's period; ``lead``: the reporter's department leads it
    (it may send the final report), ``linked``: a measure of a case (its date is asked)."""

    FLOW: ClassVar[Flow] = Flow.TASK_REPORT
    obligation_id: int
    number: int
    lead: bool = False
    linked: bool = False
    text: str | None = None
    evidence: list[str] = field(default_factory=list)
    final: bool = False
    done_on: str | None = None


@dataclass
class TaskBackDraft(Draft):
    FLOW: ClassVar[Flow] = Flow.TASK_BACK
    number: int
    reason: str | None = None


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


@dataclass
class InspectionDraft(Draft):
    """An inspection being recorded; ``problems`` are the problems answered so far (each a
    dict of ``region``, ``enterprise``, ``text``, ``disposition``, ``industry``,
    ``clauses``, ``evidence``), ``current`` the one being answered."""

    FLOW: ClassVar[Flow] = Flow.INSPECTION
    kind: str  # joint | commission
    regions: list[str] = field(default_factory=list)
    inspection_id: int | None = None  # the scheduled commission inspection recorded
    scheduled_on: str | None = None
    #: the scheduled commission inspections offered: id, day, regions, departments
    planned: list[dict[str, Any]] = field(default_factory=list)
    date: str | None = None
    departments: list[str] = field(default_factory=list)
    department_names: list[str] = field(default_factory=list)
    enterprises: list[str] = field(default_factory=list)
    enterprise_count: int | None = None
    problems: list[dict[str, Any]] = field(default_factory=list)
    current: dict[str, Any] = field(default_factory=dict)


DRAFTS: Mapping[Flow, type[Draft]] = {cls.FLOW: cls for cls in (
    NewCaseDraft, StepDraft, HandBackDraft, DenyExtensionDraft, DutyDraft, OutcomeDraft,
    NoticeEditDraft, NoteDraft, ReviewCloseDraft, SendBackDraft, InspectionDraft,
    TaskReportDraft, TaskBackDraft)}

INDUSTRY_CHOICES = (("steel", N_("steel")), ("coal", N_("coal")), ("cement", N_("cement")),
                    ("electrolytic_aluminium", N_("electrolytic aluminium")),
                    ("flat_glass", N_("flat glass")), ("power", N_("power")),
                    ("other", N_("other")))
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
    #: Where inspections are recorded; None (tests of other flows): ``/inspection`` refused.
    inspections: InspectionService | None = None
    #: Tasks (督办任务): a task's report rows start a progress report instead of a duty's.
    tasks: TaskService | None = None

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
                step=step, actor=Actor.DEPARTMENT, department=department), who, read=view)
            return Finished(DONE, case_ref=view.case.ref)
        _check_possible(workflow.step(step), view)  # before any question is asked
        case = view.case
        return await self._start(chat_id, who, StepDraft(
            ref=case.ref, clause=clause, step=step, department=department, needs=needs,
            max_months=self.cases.terms(clause).extension_max_months or 0,
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
                step="approve_extension", actor=Actor.COORDINATOR), who, read=view)
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
        task = await self.tasks.duty_task(obligation_id) if self.tasks else None
        if task is not None:
            return await self._start(chat_id, who, TaskReportDraft(
                obligation_id, task.number, lead=obligation.party in task.task.lead,
                linked=task.task.case_id is not None), update_id)
        return await self._start(chat_id, who, DutyDraft(obligation_id, kind=obligation.kind),
                                 update_id)

    async def start_task_back(self, chat_id: int, who: Who, number: int,
                              update_id: int = 0) -> Question:
        """退回重办 of a task's final report: the reason first (the leads are told it)."""
        require_coordinator(who)
        assert self.tasks is not None
        view = await self.tasks.get(number)
        if view.task.status != TaskStatus.REVIEW:
            raise DubanError(N_("Task {number} has no final report to review."), number=number)
        return await self._start(chat_id, who, TaskBackDraft(number), update_id)

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

    async def start_inspection(self, chat_id: int, who: Who, chat_region: str | None,
                               update_id: int = 0) -> Question:
        """``/inspection``: in a county's or park's chat its joint inspection (its liaisons, or
        coordinators); elsewhere, for coordinators, a commission inspection (a scheduled one,
        or another)."""
        if self.inspections is None:
            raise DubanError(NOT_ALLOWED)
        if chat_region is not None:
            require_party(who, region=chat_region)
            return await self._start(chat_id, who, InspectionDraft(
                kind=JOINT, regions=[chat_region]), update_id)
        if not who.is_coordinator:
            if who.role == "liaison" and who.region:
                raise DubanError(N_("Record the joint inspection in the chat of {region}."),
                                 region=who.region)
            raise DubanError(NOT_ALLOWED)
        org = await self.org()
        planned = [{"id": i.id, "day": i.scheduled_on.isoformat() if i.scheduled_on else None,
                    "regions": list(i.regions), "departments": list(i.departments),
                    "department_names": [_department_name(org, k) for k in i.departments]}
                   for i in await self.inspections.planned()][:MAX_CHOICES]
        return await self._start(chat_id, who, InspectionDraft(kind=COMMISSION,
                                                               planned=planned), update_id)

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
        if isinstance(draft, TaskReportDraft):
            return _TASK_QUESTIONS[step](draft)
        if isinstance(draft, DutyDraft):
            if draft.kind in DUTY_QUESTIONS:
                return Question(DUTY_QUESTIONS[draft.kind])
            return _need_question(Need.EVIDENCE, 0)
        if isinstance(draft, OutcomeDraft):
            return Question(_OUTCOME_QUESTIONS[step], {"limit": MAX_NOTE})
        if isinstance(draft, ReviewCloseDraft):
            return Question(N_("A comment for the case's record (at most {limit} characters), "
                               "or skip."), {"limit": MAX_NOTE},
                            choices=(Choice(N_("Skip"), "skip"),))
        if isinstance(draft, InspectionDraft):
            return _inspection_question(step, draft, local_today(self.clock))
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
        elif isinstance(draft, TaskReportDraft):
            return _task_answer(step, draft, answer, local_today(self.clock))
        elif isinstance(draft, DutyDraft):
            draft.evidence.append(_evidence(answer).ref())
            return "confirm"
        elif isinstance(draft, OutcomeDraft):
            setattr(draft, step, _text(answer, MAX_NOTE))
            order = tuple(_OUTCOME_QUESTIONS)
        elif isinstance(draft, HandBackDraft | DenyExtensionDraft | SendBackDraft
                        | TaskBackDraft):
            draft.reason = _text(answer, MAX_NOTE)
            return "confirm"
        elif isinstance(draft, ReviewCloseDraft):
            draft.note = None if answer.choice == "skip" else _text(answer, MAX_NOTE)
            return "confirm"
        elif isinstance(draft, NoticeEditDraft):
            draft.remark = _text(answer, MAX_REMARK)
            return "confirm"
        elif isinstance(draft, InspectionDraft):
            return _inspection_answer(step, draft, answer, await self.org(),
                                      local_today(self.clock))
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
        if isinstance(draft, TaskBackDraft):
            assert self.tasks is not None
            await self.tasks.decide(draft.number, False, draft.reason, who)
            return Finished(N_("Task {number} is sent back for rework; its lead departments "
                               "are told."), {"number": draft.number})
        if isinstance(draft, TaskReportDraft):
            assert self.tasks is not None and draft.text
            await self.tasks.report(draft.obligation_id, draft.text, draft.evidence,
                                    draft.final, date.fromisoformat(draft.done_on)
                                    if draft.done_on else None, who)
            return Finished(N_("Report recorded for task {number}; the coordinators are "
                               "told."), {"number": draft.number})
        if isinstance(draft, DutyDraft):
            duty = await self.calendar.confirm_obligation(draft.obligation_id, draft.evidence,
                                                          who)
            if duty.kind == rules.DEPARTMENT_LETTER:
                org = await self.org()
                names = [found.name for key in self.calendar.letter_recipients(org, duty)
                         if (found := org.department(key)) is not None]
                if names:
                    return Finished(N_("Confirmed, with the letter as evidence; it goes to "
                                       "{recipients}."), {"recipients": "、".join(names)})
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
        if isinstance(draft, InspectionDraft):
            return await self._finish_inspection(draft, who)
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

    async def _finish_inspection(self, draft: InspectionDraft, who: Who) -> Finished:
        """Open the cases (the same intake as ``/newcase``), then record the inspection and
        queue what was fed back: one transaction (the dialog's)."""
        assert self.inspections is not None and draft.date is not None
        today = local_today(self.clock)
        opened = [p for p in draft.problems if p["disposition"] == CASE]
        refs = iter(await self._next_refs(today, len(opened)))
        problems: list[ProblemInput] = []
        made: list[str] = []
        for p in draft.problems:
            ref = None
            if p["disposition"] == CASE:
                ref = next(refs)
                # Liaisons open their own county's cases from its joint inspection.
                view = await self.cases.create_case(CaseInput(
                    ref=ref, region=p["region"], enterprise=p["enterprise"],
                    industry=p["industry"], clauses=tuple(p["clauses"]), capacity=None,
                    unit=None, equipment=None, registered_on=today, description=p["text"],
                    row=0, evidence=tuple(p["evidence"])), who, own_region=draft.kind == JOINT)
                made.append(view.case.ref)
            problems.append(ProblemInput(
                region=p["region"], enterprise=p["enterprise"], text=p["text"],
                disposition=p["disposition"], case_ref=ref, evidence=tuple(p["evidence"])))
        await self.inspections.record(InspectionInput(
            kind=draft.kind, regions=tuple(draft.regions),
            held_on=date.fromisoformat(draft.date), departments=tuple(draft.departments),
            enterprises=tuple(draft.enterprises), enterprise_count=draft.enterprise_count,
            problems=tuple(problems), inspection_id=draft.inspection_id), who)
        fed_back = len(problems) - len(made)
        if made:
            return Finished(N_("The inspection is recorded. Problems fed back: {fed_back}; "
                               "cases opened and routed: {refs}."),
                            {"fed_back": fed_back, "refs": "、".join(made)}, made[0])
        return Finished(N_("The inspection is recorded. Problems fed back: {fed_back}."),
                        {"fed_back": fed_back})

    async def _next_refs(self, today: date, count: int) -> list[str]:
        """``count`` new case references of this year, in order."""
        existing = {c.ref for c in await self.cases.find()} if count else set()
        refs: list[str] = []
        n = 1
        while len(refs) < count:
            ref = f"CZ-{today.year}-{n:03d}"
            if ref not in existing:
                refs.append(ref)
            n += 1
        return refs

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
    elif isinstance(draft, InspectionDraft):
        return _inspection_summary(draft)
    elif isinstance(draft, TaskBackDraft):
        add(N_("Task"), draft.number)
        add(N_("Step"), N_("Send back for rework"), translate=True)
        add(N_("Reason"), draft.reason)
    elif isinstance(draft, TaskReportDraft):
        add(N_("Task"), draft.number)
        add(N_("Report"), N_("Final report: completed") if draft.final
            else N_("Progress report"), translate=True)
        add(N_("Progress"), draft.text)
        lines.extend([SummaryLine("", label=N_("Carried out on"), day=draft.done_on)]
                     if draft.done_on else [])
    evidence = getattr(draft, "evidence", None)
    if evidence:
        add(N_("Evidence"), f"📎 ×{len(evidence)}")
    return tuple(lines)


def _first_step(draft: Draft) -> str:
    if isinstance(draft, NewCaseDraft):
        return NEW_CASE_STEPS[0]
    if isinstance(draft, StepDraft):
        return draft.needs[0] if draft.needs else "confirm"
    if isinstance(draft, TaskReportDraft):
        return "text"
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
    if isinstance(draft, InspectionDraft):
        if draft.kind == JOINT:
            return "date"
        return "plan" if draft.planned else "regions"
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


#: What a yearly duty's confirmation asks for, where it is a particular document.
DUTY_QUESTIONS: Mapping[str, str] = {
    rules.REGION_WORK_PLAN: N_("Send the government's approval of your work plan (a scan or "
                               "the document): it is the evidence of this duty."),
    rules.DEPARTMENT_LETTER: N_("Send the letter (函告) as signed (a scan or the document): "
                                "it goes to the departments it is addressed to."),
}

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
        day = _typed_day(answer.choice or _text(answer, 40), today)
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


def _typed_day(value: str, today: date) -> date:
    """A day as typed: 今天 (today), or a date in any form ``parse_date`` reads; anything else
    is asked again."""
    try:
        return today if value.strip().lower() in _TODAY else parse_date(value)
    except DubanError:
        raise Retry(N_("“{text}” is not a date; write it as YYYY-MM-DD."), text=value) from None


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



# -- inspections (bot.services.inspections) ------------------------------------------------------

#: At most this many buttons for a list of names (planned inspections, enterprises, places).
MAX_CHOICES = 12
INSPECTION_KIND_LABELS: Mapping[str, str] = {
    JOINT: N_("Joint inspection"),
    COMMISSION: N_("Commission inspection"),
}
_DISPOSITION_CHOICES: Mapping[str, tuple[tuple[str, str], ...]] = {
    JOINT: ((FED_BACK, N_("Feed back to the commission")), (CASE, N_("Open a case"))),
    COMMISSION: ((FED_BACK, N_("Record as the commission's finding")),
                 (CASE, N_("Open a case"))),
}


def _department_name(org: Org, key: str) -> str:
    found = org.department(key)
    return found.name if found is not None else key


def _inspection_question(step: str, draft: InspectionDraft, today: date) -> Question:
    number = len(draft.problems) + 1
    title = INSPECTION_KIND_LABELS[draft.kind]
    if step == "plan":
        planned = [Choice("、".join(p["regions"]), str(p["id"]), translate=False, day=p["day"])
                   for p in draft.planned]
        return Question(N_("Which scheduled inspection are you recording?"), choices=(
            *planned, Choice(N_("Another inspection"), "new")), title=title)
    if step == "regions":
        return Question(N_("Which counties or parks were inspected? Write their names "
                           "separated by 、 (e.g. 玛纳斯县、昌吉市)."), title=title)
    if step == "date":
        choices = [Choice(N_("Today"), "today")]
        if draft.scheduled_on and date.fromisoformat(draft.scheduled_on) <= today:
            choices.insert(0, Choice(N_("On the scheduled day"), "scheduled"))
        return Question(N_("On what day was the inspection held? (e.g. 2026-11-28 or "
                           "2026年11月28日)"), choices=tuple(choices), title=title)
    if step == "departments":
        return Question(N_("Which departments took part? Write their names separated by 、 "
                           "(e.g. 工信、环保、安监)."),
                        choices=(Choice(N_("As scheduled"), "scheduled"),)
                        if draft.inspection_id and draft.departments else (), title=title)
    if step == "enterprises":
        return Question(N_("Which enterprises were checked? Write their names separated by "
                           "、, or only how many (e.g. 5)."), title=title)
    if step == "problem":
        return Question(N_("Problem {number}: what was found (at most {limit} characters)? "
                           "Press “No more problems” when there is none left."),
                        {"number": number, "limit": MAX_NOTE},
                        choices=(Choice(N_("No more problems"), "none"),), title=title)
    if step == "problem_enterprise":
        return Question(N_("Which enterprise is problem {number} about? Choose it or write "
                           "its name."), {"number": number}, choices=tuple(
                               Choice(name, str(i), translate=False)
                               for i, name in enumerate(draft.enterprises[:MAX_CHOICES])),
                        title=title)
    if step == "problem_region":
        return Question(N_("In which county or park?"), choices=tuple(
            Choice(name, str(i), translate=False) for i, name in enumerate(draft.regions)),
            title=title)
    if step == "disposition":
        return Question(N_("What is to be done with problem {number}?"), {"number": number},
                        choices=tuple(Choice(label, value)
                                      for value, label in _DISPOSITION_CHOICES[draft.kind]),
                        title=title)
    if step == "industry":
        return dataclasses.replace(_NEW_CASE_QUESTIONS["industry"](NewCaseDraft()), title=title)
    if step == "clause":
        return dataclasses.replace(_clause_choices(NewCaseDraft()), title=title)
    assert step == EVIDENCE_STEP, step
    return Question(N_("Send photos or documents about problem {number}, one at a time, or "
                       "press “Next”."), {"number": number},
                    choices=(Choice(N_("Next"), "next"),), title=title)


def _inspection_answer(step: str, draft: InspectionDraft, answer: Answer, org: Org,
                       today: date) -> str:
    """Validate an answer of the inspection flow, store it; the next step."""
    current = draft.current
    if step == "plan":
        chosen = next((p for p in draft.planned if str(p["id"]) == answer.choice), None)
        if answer.choice == "new":
            return "regions"
        if chosen is None:
            raise Retry(N_("Please choose one of the buttons."))
        draft.inspection_id, draft.scheduled_on = int(chosen["id"]), chosen["day"]
        draft.regions = list(chosen["regions"])
        draft.departments = list(chosen["departments"])
        draft.department_names = list(chosen["department_names"])
        return "date"
    if step == "regions":
        draft.regions = list(_matched(org, _text(answer, 500), regions=True).regions)
        if not draft.regions:
            raise Retry(N_("Name at least one county or park to inspect."))
        return "date"
    if step == "date":
        if answer.choice == "scheduled" and draft.scheduled_on:
            day = date.fromisoformat(draft.scheduled_on)
        elif answer.choice == "today":
            day = today
        elif answer.choice is not None:
            raise Retry(N_("Please choose one of the buttons."))
        else:
            day = _typed_day(_text(answer, 40), today)
        if day > today:
            raise Retry(N_("That day is still to come; give the day the inspection was "
                           "held."))
        if day.year < 2000:
            raise Retry(N_("“{text}” is not a date; write it as YYYY-MM-DD."),
                        text=answer.text or "")
        draft.date = day.isoformat()
        return "departments"
    if step == "departments":
        if answer.choice == "scheduled" and draft.inspection_id and draft.departments:
            return "enterprises"
        if answer.choice is not None:
            raise Retry(N_("Please choose one of the buttons."))
        keys = _matched(org, _text(answer, 500), regions=False).departments
        if not keys:
            raise Retry(N_("Please answer with text."))
        draft.departments = list(keys)
        draft.department_names = [_department_name(org, key) for key in keys]
        return "enterprises"
    if step == "enterprises":
        text = _text(answer, 4000).translate(_FULLWIDTH_DIGITS)
        if text.isdecimal():
            if not 1 <= int(text) <= MAX_ENTERPRISES:
                raise Retry(N_("Write the enterprises' names separated by 、, or how many were "
                               "checked (1 to {limit})."), limit=MAX_ENTERPRISES)
            draft.enterprises, draft.enterprise_count = [], int(text)
            return "problem"
        names = list(dict.fromkeys(  # a name may hold spaces: only these separate names
            name.strip() for name in re.split(r"[、,，;；\n]+", text) if name.strip()))
        if not names or len(names) > MAX_NAMES or any(len(n) > MAX_ENTERPRISE for n in names):
            raise Retry(N_("Write the enterprises' names separated by 、, or how many were "
                           "checked (1 to {limit})."), limit=MAX_ENTERPRISES)
        draft.enterprises, draft.enterprise_count = names, len(names)
        return "problem"
    if step == "problem":
        if answer.choice == "none":
            return "confirm"
        if answer.choice is not None:
            raise Retry(N_("Please choose one of the buttons."))
        if len(draft.problems) >= MAX_PROBLEMS:
            raise Retry(N_("At most {limit} problems are recorded at a time; press “No more "
                           "problems”."), limit=MAX_PROBLEMS)
        draft.current = {"text": _text(answer, MAX_NOTE), "evidence": []}
        return "problem_enterprise"
    if step == "problem_enterprise":
        if answer.choice is not None:
            if not answer.choice.isdecimal() or int(answer.choice) >= min(
                    len(draft.enterprises), MAX_CHOICES):
                raise Retry(N_("Please choose one of the buttons."))
            current["enterprise"] = draft.enterprises[int(answer.choice)]
        else:
            current["enterprise"] = _text(answer, MAX_ENTERPRISE)
        if len(draft.regions) > 1:
            return "problem_region"
        current["region"] = draft.regions[0]
        return "disposition"
    if step == "problem_region":
        if (answer.choice is None or not answer.choice.isdecimal()
                or int(answer.choice) >= len(draft.regions)):
            raise Retry(N_("Please choose one of the buttons."))
        current["region"] = draft.regions[int(answer.choice)]
        return "disposition"
    if step == "disposition":
        if answer.choice not in (FED_BACK, CASE):
            raise Retry(N_("Please choose one of the buttons."))
        current["disposition"] = answer.choice
        return "industry" if answer.choice == CASE else EVIDENCE_STEP
    if step == "industry":
        industry = answer.choice or parse_industry(_text(answer, 40))
        if industry not in dict(INDUSTRY_CHOICES):
            raise Retry(N_("Please choose the industry from the buttons."))
        current["industry"] = industry
        return "clause"
    if step == "clause":
        parsed = parse_clauses(answer.choice or _text(answer, 40))
        if not parsed or any(c not in CASE_CLAUSES for c in parsed):
            raise Retry(N_("Please choose the clause from the buttons."))
        current["clauses"] = list(parsed)
        return EVIDENCE_STEP
    assert step == EVIDENCE_STEP, step
    if answer.choice == "next":
        draft.problems.append(dict(current))
        draft.current = {}
        return "problem"
    if answer.choice is not None:
        raise Retry(N_("Please choose one of the buttons."))
    current.setdefault("evidence", []).append(_evidence(answer).ref())
    return EVIDENCE_STEP


_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def _matched(org: Org, text: str, *, regions: bool) -> Any:
    """The places (``regions``) or departments named in ``text``; a name that is not one is
    asked again."""
    names = split_names(text)
    if len(names) > MAX_NAMES:
        raise Retry(N_("The text is too long: at most {limit} characters."), limit=500)
    try:
        return match_names(org, names, regions=regions, departments=not regions)
    except DubanError as error:
        raise Retry(error.message, **error.params) from None


def _inspection_summary(draft: InspectionDraft) -> tuple[SummaryLine, ...]:
    lines = [SummaryLine(INSPECTION_KIND_LABELS[draft.kind], True, N_("Inspection")),
             SummaryLine("、".join(draft.regions), label=N_("County or park")),
             SummaryLine("", label=N_("Date"), day=draft.date)]
    if draft.department_names:
        lines.append(SummaryLine("、".join(draft.department_names), label=N_("Departments")))
    if draft.enterprises:
        lines.append(SummaryLine("、".join(draft.enterprises), label=N_("Enterprises checked")))
    elif draft.enterprise_count:
        lines.append(SummaryLine(str(draft.enterprise_count), label=N_("Enterprises checked")))
    for number, problem in enumerate(draft.problems, start=1):
        lines.append(SummaryLine(f"{number}. {problem['enterprise']}：{problem['text']}",
                                 label=N_("Problem")))
        if problem["disposition"] == CASE:
            lines.append(SummaryLine("", label=N_("Open a case under clause"),
                                     clauses=tuple(problem["clauses"])))
        else:
            lines.append(SummaryLine(dict(_DISPOSITION_CHOICES[draft.kind])[FED_BACK], True,
                                     N_("To be done")))
        if problem.get("evidence"):
            lines.append(SummaryLine(f"📎 ×{len(problem['evidence'])}", label=N_("Evidence")))
    if not draft.problems:
        lines.append(SummaryLine(N_("No problems found"), True, N_("Problem")))
    return tuple(lines)


# -- task reports (进展反馈) ----------------------------------------------------------------------

_TASK_QUESTIONS: Mapping[str, Callable[[TaskReportDraft], Question]] = {
    "text": lambda draft: Question(
        N_("Your progress report on task {number}: what was done, what remains (at most "
           "{limit} characters)."), {"number": draft.number, "limit": MAX_REPORT}),
    "evidence": lambda draft: Question(
        N_("Send a photo or document as evidence, or skip."),
        choices=(Choice(N_("Skip"), "skip"),)),
    "final": lambda draft: Question(
        N_("Is the task completed with this report?"),
        choices=(Choice(N_("Not yet: a progress report"), "progress"),
                 Choice(N_("Final report: completed"), "final"))),
    "date": lambda draft: Question(
        N_("On which date was the measure carried out? (e.g. 2026-11-20, or today)")),
}


def _task_answer(step: str, draft: TaskReportDraft, answer: Answer, today: date) -> str:
    """Store the answer to ``step``; the next step (the final question for a lead only, the
    date for a linked measure's final report only)."""
    if step == "text":
        draft.text = _text(answer, MAX_REPORT)
        return "evidence"
    if step == "evidence":
        if answer.choice != "skip":
            draft.evidence.append(_evidence(answer).ref())
        return "final" if draft.lead else "confirm"
    if step == "final":
        if answer.choice not in ("progress", "final"):
            raise Retry(N_("Please choose one of the buttons."))
        draft.final = answer.choice == "final"
        return "date" if draft.final and draft.linked else "confirm"
    day = _typed_day(answer.choice or _text(answer, 40), today)
    if day > today:
        raise Retry(N_("The date {date} is in the future; give the date it happened."),
                    date=day.isoformat())
    draft.done_on = day.isoformat()
    return "confirm"
