"""Cards and replies as plain data: the text a chat shows and the buttons under it.

Only the Telegram layer turns a :class:`Reply` into API calls; everything here is words, in the
reader's language, and signed button data.
"""

from __future__ import annotations

from collections import Counter
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
    ReviewDecision,
    StepPress,
)
from bot.core.departments import AliasTable
from bot.core.i18n import N_, Translator
from bot.core.policy.catalog import Clause
from bot.core.routing import AssignmentStatus
from bot.core.workflow import (
    CLOSED_STATES,
    SHUTDOWN_WAYS_HINT,
    Actor,
    State,
    Step,
    Terms,
    confirmations,
    times_left,
    workflow_for,
)
from bot.render import texts
from bot.services.cases import CaseView
from bot.services.dialogs import Finished, Question, SummaryLine
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
    "四": N_("Energy: rectify within {period} of registration (one extension of at most "
            "{extension} months on application); not rectified or still failing: shut down "
            "and exit."),
    "五": N_("Environment: restricted production or stop and rectify; serious cases are "
            "suspended or closed with the approval of the government that has the power."),
    "六": N_("Quality: stop and rectify; not rectified within {period} or still failing: "
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


def policy_text(clause: Clause, tr: Translator, terms: Terms | None = None) -> str:
    """``/policy 四``: the clause's gist in the reader's language (its periods as the loaded
    catalog states them: ``terms``), then its text as written."""
    number = clause.ref
    lines = [tr.gettext(N_("Clause {clause}"), clause=texts.clause_label(number, tr))]
    gist = REQUIREMENTS.get(number)
    if gist:
        terms = terms or Terms(rectification_months=6, extension_max_months=3)
        period = (tr.gettext(N_("{n} month(s)"), n=terms.rectification_months)
                  if terms.rectification_months is not None
                  else tr.gettext(N_("{n} day(s)"), n=terms.rectification_days or 0))
        lines.append(tr.gettext(gist, period=period, extension=terms.extension_max_months or 0))
    lines.append("")
    lines.extend(p.text for p in clause.paragraphs)
    return "\n".join(lines)


def card(view: CaseView, ctx: CardContext) -> Reply:
    """A case as its card: the state and what is due first, then who is awaited, then the
    facts, the clause in one line (``/policy 四`` for its text) and the last event."""
    case, tr = view.case, ctx.tr
    lines = [tr.gettext(N_("【Case {ref}】{enterprise}"), ref=case.ref, enterprise=case.enterprise),
             _state_line(view, ctx)]
    waiting = _waiting_line(view, ctx)
    if waiting:
        lines.append(waiting)
    for assignment in view.assignments:
        if assignment.department_key and assignment.required:
            lines.append(tr.gettext(N_("· {department}: {status}"),
                                    department=ctx.aliases.name(assignment.department_key,
                                                                tr.locale),
                                    status=tr.gettext(texts.STATUS_LABELS[assignment.status])))
    done = texts.measures_done(view.events)
    workflow = workflow_for(case.clause)
    if (workflow.ways and State(case.state) in workflow.step("confirm_exit").sources
            and not workflow.way_done(done)):
        lines.append(tr.gettext(SHUTDOWN_WAYS_HINT))  # the ways are alternatives
    if done and workflow.measures:
        confirmed, needed = workflow.exit_progress(done)
        lines.append(tr.gettext(N_("Exit measures: {done} of {total} confirmed"),
                                done=confirmed, total=needed))
    lines.append(tr.gettext(N_("{region} · {industry} · {capacity}"), region=case.region_name,
                            industry=texts.industry_label(case.industry, tr),
                            capacity=texts.capacity_text(case, tr)))
    lines.append(tr.gettext(N_("Clause {clause} {title} · full text: /policy {number}"),
                            clause=texts.clause_label(case.clause, tr),
                            title=tr.gettext(workflow_for(case.clause).title),
                            number=case.clause))
    if view.events:
        last = view.events[-1]
        lines.append(tr.gettext(N_("Last: {what}, {when}"),
                                what=texts.step_label(case.clause, last.kind, tr)
                                if not last.kind.startswith("measure:")
                                else texts.event_line(case, last, tr, ctx.aliases, ctx.tz),
                                when=texts.fmt_datetime(last.at, tr, ctx.tz)))
    return Reply("\n".join(lines), buttons=department_buttons(view, ctx))


def _state_line(view: CaseView, ctx: CardContext) -> str:
    case, tr = view.case, ctx.tr
    state = texts.state_label(case.state, tr)
    # In review the deadline waits for a send-back; what is due is the review.
    due = case.due_on if case.state == State.REVIEW else case.deadline or case.due_on
    if due is None or State(case.state) in CLOSED_STATES:
        return tr.gettext(N_("State: {state}"), state=state)
    late = due < ctx.today
    if case.deadline is not None and case.state != State.REVIEW:
        label = (N_("State: {state} · deadline {date} (overdue)") if late
                 else N_("State: {state} · deadline {date}"))
    else:  # a wait without a date of the text: the day the next step is due
        label = (N_("State: {state} · next step due {date} (overdue)") if late
                 else N_("State: {state} · next step due {date}"))
    return tr.gettext(label, state=state, date=texts.fmt_date(due, tr))


def _waiting_line(view: CaseView, ctx: CardContext) -> str | None:
    """In a department's chat, why there is nothing to press: who is awaited."""
    if ctx.department is None or State(view.case.state) in CLOSED_STATES:
        return None
    mine = _assignment(view.assignments, ctx.department)
    if mine is None or not mine.required or mine.status != AssignmentStatus.ACCEPTED:
        return None
    if available_steps(view, ctx.department):
        return None
    tr, names = ctx.tr, ctx.aliases
    others = [a.department_key for a in view.assignments
              if a.required and a.department_key and a.department_key != ctx.department]
    join = texts.separator(tr).join
    if view.case.state == State.ROUTED:
        pending = [a.department_key for a in view.assignments if a.required
                   and a.department_key and a.status == AssignmentStatus.PENDING]
        if pending:
            return tr.gettext(N_("⏳ Waiting for {departments} to accept; then you can act."),
                              departments=join(names.name(k, tr.locale) for k in pending))
    confirmed = confirmations(view.events)
    mine_done = {step for step, dept in confirmed if dept == ctx.department}
    if mine_done:
        waiting = [k for k in others if not any((step, k) in confirmed for step in mine_done)]
        if waiting:
            return tr.gettext(N_("⏳ Your part is recorded; waiting for {departments}."),
                              departments=join(names.name(k, tr.locale) for k in waiting))
    if view.case.state == State.EXTENSION_REQUESTED:
        return tr.gettext(N_("⏳ Waiting for the coordinators to decide the extension."))
    if view.case.state == State.REVIEW:
        return tr.gettext(N_("⏳ Confirmed; waiting for the coordinators to review it."))
    return tr.gettext(N_("⏳ Nothing for your department to do now."))


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
    # Joint steps count in the current state only: work sent back is confirmed again.
    confirmed = {step for step, dept in confirmations(view.events) if dept == department}
    taken = Counter(e.kind for e in view.events)
    found = []
    for step in workflow.steps:
        if step.actor is not Actor.DEPARTMENT or state not in step.sources:
            continue
        if step.name == "accept" or (step.measure and step.measure in done_measures):
            continue
        if step.measure and workflow.ways and workflow.way_done(done_measures):
            continue  # one way of exit is complete: the other's measures are not needed
        if step.joint and step.name in confirmed:
            continue
        if not times_left(step, taken[step.name]):
            continue  # e.g. the one extension allowed was asked for already
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


def review_reply(view: CaseView, ctx: CardContext, step: str) -> Reply:
    """For the coordinators: the departments confirmed the closing ``step``; the case's card
    with 办结 and 退回重办."""
    tr, case_id = ctx.tr, view.case.id or 0
    head = tr.gettext(texts.REVIEW_NOTICE, ref=view.case.ref, enterprise=view.case.enterprise,
                      step=texts.step_label(view.case.clause, step, tr))
    buttons = ((Button(tr.gettext(N_("Close the case")),
                       ctx.codec.pack(ctx.chat_id, ReviewDecision(case_id, close=True))),
                Button(tr.gettext(N_("Send back for rework")),
                       ctx.codec.pack(ctx.chat_id, ReviewDecision(case_id, close=False)))),)
    return Reply(head + "\n\n" + card(view, ctx).text, buttons)


def question_reply(question: Question, tr: Translator, codec: ButtonCodec,
                   chat_id: int) -> Reply:
    """A dialog's question, with its choices and a cancel button, asking for an answer."""
    params = dict(question.params)
    if question.summary:
        params["summary"] = "\n".join(_summary_line(line, tr) for line in question.summary)
    text = tr.gettext(question.message, **params)
    if question.title:
        text = tr.gettext(N_("【{step}】"), step=tr.gettext(question.title)) + "\n" + text
    if question.hint:
        text = tr.gettext(question.hint, **question.hint_params) + "\n" + text
    if not question.choices:
        # A typed answer: ask for a reply, so it reaches the bot even with privacy mode on
        # (a reply keyboard leaves no room for a cancel button: the command says it).
        return Reply(text + "\n" + tr.gettext(N_("(/cancel to stop; nothing is changed)")),
                     ask=True)
    space = " " if tr.locale.startswith("en") else ""
    buttons = [Button((texts.clause_label(c.clause, tr) + space if c.clause else "")
                      + (texts.fmt_date(date.fromisoformat(c.day), tr) + " " if c.day else "")
                      + c.prefix
                      + (tr.gettext(c.label) if c.translate else c.label),
                      codec.pack(chat_id, DialogChoice(c.value))) for c in question.choices]
    rows = [tuple(buttons[i:i + 2]) for i in range(0, len(buttons), 2)]
    rows.append((Button(tr.gettext(N_("Cancel")), codec.pack(chat_id, CancelDialog())),))
    return Reply(text, tuple(rows), ask=True)


def _summary_line(line: SummaryLine, tr: Translator) -> str:
    value = tr.gettext(line.value) if line.translate else line.value
    if line.clauses:
        value = texts.separator(tr).join(texts.clause_label(c, tr) for c in line.clauses)
    if line.day:
        value = texts.fmt_date(date.fromisoformat(line.day), tr)
    if line.label is None:
        return "· " + value
    return "· " + tr.gettext(N_("{label}: {value}"), label=tr.gettext(line.label), value=value)


def finished_reply(finished: Finished, tr: Translator) -> Reply:
    params = {key: tr.gettext(value) if key in finished.translated else value
              for key, value in finished.params.items()}
    return Reply(tr.gettext(finished.message, **params))
