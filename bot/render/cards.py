"""Cards and replies as plain data: the text a chat shows and the buttons under it.

Only the Telegram layer turns a :class:`Reply` into API calls; everything here is words, in the
reader's language, and signed button data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, tzinfo

from bot.core.buttons import (
    ButtonCodec,
    CancelDialog,
    DialogChoice,
    ExtensionDecision,
    HandBack,
    Reroute,
    StepPress,
)
from bot.core.departments import AliasTable
from bot.core.i18n import N_, Translator
from bot.core.routing import AssignmentStatus
from bot.core.workflow import CLOSED_STATES, Actor, State, Step, workflow_for
from bot.render import texts
from bot.services.cases import CaseView
from bot.services.dialogs import Finished, Question
from models.tables import Assignment


@dataclass(frozen=True)
class Button:
    label: str
    data: str


@dataclass(frozen=True)
class Reply:
    """A message to show: text, inline buttons (rows), and whether to ask for an answer."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    ask: bool = False  # a question: the client should reply to it (ForceReply)
    alert: bool = False  # for button presses: show as an alert, not a toast
    photo: bytes | None = None
    document: tuple[str, bytes] | None = None  # (file name, content)


REQUIREMENTS: Mapping[str, str] = {
    "四": N_("Energy: rectify within 6 months of registration (one extension of at most "
            "3 months on application); not rectified or still failing: shut down and exit."),
    "五": N_("Environment: restricted production or stop and rectify; serious cases are "
            "suspended or closed with the approval of the government that has the power."),
    "六": N_("Quality: stop and rectify; not rectified within 6 months or still failing: "
            "closed with government approval."),
    "七": N_("Safety: stop at once for rectification; still unsafe: close and revoke "
            "licences."),
    "八": N_("Technology: dismantle the main equipment at once, or cut water and power, remove "
            "power units, seal the line, commit publicly, announce it, and dismantle by a set "
            "date."),
    "九": N_("Exit: close the enterprise or cut power and water, remove power units and seal "
            "the main equipment, so the capacity never produces again."),
}

SUGGESTED_DEPARTMENTS = ("industry", "development_reform", "environment", "quality", "safety",
                         "energy", "coal", "market_regulation")


@dataclass(frozen=True)
class CardContext:
    """Where a card is shown and for whom it is rendered."""

    chat_id: int
    tr: Translator
    aliases: AliasTable
    tz: tzinfo
    codec: ButtonCodec
    today: date
    department: str | None = None  # the department chat the card is in, if any
    extra: Mapping[str, str] = field(default_factory=dict)


def card(view: CaseView, ctx: CardContext) -> Reply:
    """A case as its card in a department's or county's chat."""
    case, tr = view.case, ctx.tr
    lines = [
        tr.gettext(N_("【Case {ref}】{enterprise}"), ref=case.ref, enterprise=case.enterprise),
        tr.gettext(N_("{region} · {industry} · {capacity}"), region=case.region_name,
                   industry=texts.industry_label(case.industry, tr),
                   capacity=texts.capacity_text(case, tr)),
        tr.gettext(N_("Clause ({clause}): {requirement}"), clause=case.clause,
                   requirement=tr.gettext(REQUIREMENTS.get(case.clause, ""))),
        tr.gettext(N_("State: {state}"), state=texts.state_label(case.state, tr)),
    ]
    if case.deadline is not None:
        late = case.deadline < ctx.today and State(case.state) not in CLOSED_STATES
        label = N_("Deadline: {date} (overdue)") if late else N_("Deadline: {date}")
        lines.append(tr.gettext(label, date=texts.fmt_date(case.deadline, tr)))
    for assignment in view.assignments:
        if assignment.department_key and assignment.required:
            lines.append(tr.gettext(N_("· {department}: {status}"),
                                    department=ctx.aliases.name(assignment.department_key,
                                                                tr.locale),
                                    status=tr.gettext(texts.STATUS_LABELS[assignment.status])))
    done = texts.measures_done(view.events)
    wanted = workflow_for(case.clause).measures
    if done and wanted:
        lines.append(tr.gettext(N_("Exit measures: {done} of {total} confirmed"),
                                done=len(done & set(wanted)), total=len(wanted)))
    if view.events:
        last = view.events[-1]
        lines.append(tr.gettext(N_("Last: {what}, {when}"),
                                what=texts.step_label(case.clause, last.kind, tr)
                                if not last.kind.startswith("measure:")
                                else texts.event_line(case, last, tr, ctx.aliases, ctx.tz),
                                when=texts.fmt_datetime(last.at, tr, ctx.tz)))
    return Reply("\n".join(lines), buttons=department_buttons(view, ctx))


def department_buttons(view: CaseView, ctx: CardContext) -> tuple[tuple[Button, ...], ...]:
    """The steps this department can take now, as buttons (none in a county's chat)."""
    if ctx.department is None or State(view.case.state) in CLOSED_STATES:
        return ()
    mine = _assignment(view.assignments, ctx.department)
    if mine is None or not mine.required:
        return ()
    case_id = view.case.id or 0
    tr = ctx.tr
    if mine.status == AssignmentStatus.PENDING:
        return ((Button(tr.gettext(N_("Accept")), _step_data(ctx, case_id, view, "accept")),
                 Button(tr.gettext(N_("Not our duty")),
                        ctx.codec.pack(ctx.chat_id, HandBack(case_id)))),)
    if mine.status != AssignmentStatus.ACCEPTED:
        return ()
    steps = available_steps(view, ctx.department)
    buttons = [Button(tr.gettext(step.label), _step_data(ctx, case_id, view, step.name))
               for step in steps]
    return tuple(tuple(buttons[i:i + 2]) for i in range(0, len(buttons), 2))


def available_steps(view: CaseView, department: str) -> list[Step]:
    """Department steps possible in the case's state that this department has not done."""
    workflow = workflow_for(view.case.clause)
    state = State(view.case.state)
    done_measures = texts.measures_done(view.events)
    confirmed = {e.kind for e in view.events
                 if e.department_key == department and e.to_state is None}
    found = []
    for step in workflow.steps:
        if step.actor is not Actor.DEPARTMENT or state not in step.sources:
            continue
        if step.name == "accept" or (step.measure and step.measure in done_measures):
            continue
        if step.joint and step.name in confirmed:
            continue
        found.append(step)
    return found


def _step_data(ctx: CardContext, case_id: int, view: CaseView, step: str) -> str:
    return ctx.codec.pack(ctx.chat_id, StepPress(case_id, view.case.clause, step))


def _assignment(assignments: Sequence[Assignment], department: str) -> Assignment | None:
    for assignment in assignments:
        if assignment.department_key == department:
            return assignment
    return None


def reroute_buttons(ctx: CardContext, case_id: int,
                    exclude: Sequence[str]) -> tuple[tuple[Button, ...], ...]:
    """Coordinators: route the case to one of the usual departments."""
    buttons = [Button(ctx.aliases.name(key, ctx.tr.locale),
                      ctx.codec.pack(ctx.chat_id, Reroute(case_id, key)))
               for key in SUGGESTED_DEPARTMENTS if key not in exclude]
    return tuple(tuple(buttons[i:i + 2]) for i in range(0, len(buttons), 2))


def extension_buttons(ctx: CardContext, case_id: int) -> tuple[tuple[Button, ...], ...]:
    tr = ctx.tr
    return ((Button(tr.gettext(N_("Approve")),
                    ctx.codec.pack(ctx.chat_id, ExtensionDecision(case_id, approve=True))),
             Button(tr.gettext(N_("Deny")),
                    ctx.codec.pack(ctx.chat_id, ExtensionDecision(case_id, approve=False)))),)


def question_reply(question: Question, tr: Translator, codec: ButtonCodec,
                   chat_id: int) -> Reply:
    """A dialog's question, with its choices and a cancel button, asking for an answer."""
    params = dict(question.params)
    if question.summary:
        params["summary"] = "\n".join(
            "· " + (tr.gettext(line.value) if line.translate else line.value)
            for line in question.summary)
    text = tr.gettext(question.message, **params)
    if question.hint:
        text = tr.gettext(question.hint, **question.hint_params) + "\n" + text
    if not question.choices:
        # A typed answer: ask for a reply, so it reaches the bot even with privacy mode on.
        return Reply(text, ask=True)
    buttons = [Button(c.prefix + (tr.gettext(c.label) if c.translate else c.label),
                      codec.pack(chat_id, DialogChoice(c.value))) for c in question.choices]
    rows = [tuple(buttons[i:i + 2]) for i in range(0, len(buttons), 2)]
    rows.append((Button(tr.gettext(N_("Cancel")), codec.pack(chat_id, CancelDialog())),))
    return Reply(text, tuple(rows), ask=True)


def finished_reply(finished: Finished, tr: Translator) -> Reply:
    params = {key: tr.gettext(value) if key in finished.translated else value
              for key, value in finished.params.items()}
    return Reply(tr.gettext(finished.message, **params))
