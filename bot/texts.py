"""Rendering: the words a person reads about cases, in the reader's language.

The command line and the chat handlers both render through these functions, so a case reads
the same everywhere. Dates and numbers go through Babel in the reader's locale.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, tzinfo
from decimal import Decimal

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from bot.casefile import RowError
from bot.departments import AliasTable
from bot.i18n import N_, Translator
from bot.services.cases import CaseView, ImportReport
from bot.workflow import MEASURE_LABELS, STATE_LABELS, Measure, State, workflow_for
from models.tables import Case, Event

INDUSTRY_LABELS: Mapping[str, str] = {
    "steel": N_("steel"),
    "coal": N_("coal"),
    "cement": N_("cement"),
    "electrolytic_aluminium": N_("electrolytic aluminium"),
    "flat_glass": N_("flat glass"),
    "other": N_("other"),
}

ROLE_LABELS: Mapping[str, str] = {
    "responsible": N_("responsible"),
    "lead": N_("lead"),
    "cooperate": N_("cooperate"),
    "guide": N_("guide"),
    "by_duty": N_("by duty"),
}

STATUS_LABELS: Mapping[str, str] = {
    "pending": N_("not yet accepted"),
    "accepted": N_("accepted"),
    "informed": N_("informed"),
    "returned": N_("handed back"),
    "unresolved": N_("to be resolved by a coordinator"),
    "resolved": N_("resolved"),
}

EVENT_LABELS: Mapping[str, str] = {
    "created": N_("case registered and routed"),
    "handed_back": N_("handed back as not this department's duty"),
    "rerouted": N_("re-routed by a coordinator"),
    "group_resolved": N_("group resolved into departments by a coordinator"),
}


def fmt_date(value: date | None, tr: Translator) -> str:
    if value is None:
        return "—"
    return format_date(value, format="medium", locale=tr.babel_locale)


def fmt_datetime(value: datetime, tr: Translator, tz: tzinfo) -> str:
    return format_datetime(value, format="medium", tzinfo=tz, locale=tr.babel_locale)


def fmt_number(value: Decimal | float | int | None, tr: Translator) -> str:
    if value is None:
        return "—"
    return format_decimal(value, locale=tr.babel_locale)


def state_label(state: str, tr: Translator) -> str:
    return tr.gettext(STATE_LABELS[State(state)])


def industry_label(industry: str, tr: Translator) -> str:
    label = INDUSTRY_LABELS.get(industry)
    return tr.gettext(label) if label else industry


def step_label(clause: str, step: str, tr: Translator) -> str:
    if step in EVENT_LABELS:
        return tr.gettext(EVENT_LABELS[step])
    try:
        return tr.gettext(workflow_for(clause).step(step).label)
    except Exception:  # an event of a step no longer in the workflow still renders
        return step


def capacity_text(case: Case, tr: Translator) -> str:
    if case.capacity is None:
        return "—"
    return f"{fmt_number(case.capacity, tr)} {case.unit or ''}".strip()


def case_line(case: Case, tr: Translator, regions_label: bool = True) -> str:
    """One line per case, for lists."""
    return tr.gettext(
        N_("{ref} · {enterprise} · {region} · clause ({clause}) · {state} · deadline {deadline}"),
        ref=case.ref, enterprise=case.enterprise, region=case.region_name, clause=case.clause,
        state=state_label(case.state, tr), deadline=fmt_date(case.deadline, tr),
    )


def case_detail(view: CaseView, tr: Translator, aliases: AliasTable, tz: tzinfo) -> str:
    """A case in full: facts, state, deadline, assignments with why, and the timeline."""
    case = view.case
    lines = [
        tr.gettext(N_("Case {ref}: {enterprise}"), ref=case.ref, enterprise=case.enterprise),
        tr.gettext(N_("County or park: {region}"), region=case.region_name),
        tr.gettext(N_("Industry: {industry}; capacity: {capacity}"),
                   industry=industry_label(case.industry, tr), capacity=capacity_text(case, tr)),
    ]
    if case.equipment:
        lines.append(tr.gettext(N_("Equipment: {equipment}"), equipment=case.equipment))
    lines += [
        tr.gettext(N_("Clause: {clauses}"), clauses="、".join(f"（{c}）" for c in case.clauses)),
        tr.gettext(N_("Registered: {date}"), date=fmt_date(case.registered_on, tr)),
        tr.gettext(N_("State: {state}"), state=state_label(case.state, tr)),
        tr.gettext(N_("Deadline: {date}"), date=fmt_date(case.deadline, tr)),
    ]
    if case.pending_extension_months:
        lines.append(tr.ngettext("Extension requested: {n} month",
                                 "Extension requested: {n} months",
                                 case.pending_extension_months))
    if case.description:
        lines.append(tr.gettext(N_("Facts: {text}"), text=case.description))
    lines.append("")
    lines.append(tr.gettext(N_("Assignments:")))
    for a in view.assignments:
        who = aliases.name(a.department_key, tr.locale) if a.department_key else a.as_written
        lines.append(tr.gettext(
            N_("- {who}: {role}, {status} (clause ({clause}) tag “{tag}”)"),
            who=who, role=tr.gettext(ROLE_LABELS.get(a.role, a.role)),
            status=tr.gettext(STATUS_LABELS.get(a.status, a.status)), clause=a.clause,
            tag=a.tag_raw or "—",
        ) + (tr.gettext(N_(" reason: {reason}"), reason=a.reason) if a.reason else ""))
    if view.needs_coordinator:
        lines.append(tr.gettext(N_("⚠ Waiting in the coordinators' queue.")))
    measures = measures_done(view.events)
    wanted = workflow_for(case.clause).measures
    if measures and wanted:
        lines.append(tr.gettext(N_("Exit measures: {done} of {total} confirmed"),
                                done=len(measures & set(wanted)), total=len(wanted)))
    lines.append("")
    lines.append(tr.gettext(N_("Timeline:")))
    lines.extend(event_line(case, e, tr, aliases, tz) for e in view.events)
    return "\n".join(lines)


def measures_done(events: Iterable[Event]) -> set[Measure]:
    return {Measure(e.kind.split(":", 1)[1]) for e in events if e.kind.startswith("measure:")}


def event_line(case: Case, event: Event, tr: Translator, aliases: AliasTable, tz: tzinfo) -> str:
    who = event.actor_name or tr.gettext(N_("system"))
    if event.department_key:
        who = f"{who}（{aliases.name(event.department_key, tr.locale)}）"
    if event.kind.startswith("measure:"):
        what = tr.gettext(MEASURE_LABELS[Measure(event.kind.split(':', 1)[1])])
    else:
        what = step_label(case.clause, event.kind, tr)
    line = f"{event.seq}. {fmt_datetime(event.at, tr, tz)} · {who} · {what}"
    if event.to_state and event.to_state != event.from_state:
        line += " → " + state_label(event.to_state, tr)
    details = _payload_details(event.payload or {}, tr)
    return line + (f" ({details})" if details else "")


def _payload_details(payload: Mapping[str, object], tr: Translator) -> str:
    parts: list[str] = []
    if payload.get("evidence"):
        parts.append(tr.gettext(N_("evidence: {items}"),
                                items=", ".join(map(str, payload["evidence"]))))  # type: ignore[call-overload]
    for key, label in (("date", N_("date: {value}")), ("note", N_("note: {value}")),
                       ("reason", N_("reason: {value}")), ("months", N_("months: {value}")),
                       ("capacity", N_("capacity: {value}")),
                       ("deadline", N_("deadline: {value}"))):
        if payload.get(key) is not None:
            parts.append(tr.gettext(label, value=payload[key]))
    if payload.get("waiting_for"):
        parts.append(tr.gettext(N_("waiting for: {items}"),
                                items=", ".join(map(str, payload["waiting_for"]))))  # type: ignore[call-overload]
    if payload.get("departments"):
        parts.append(", ".join(map(str, payload["departments"])))  # type: ignore[call-overload]
    return "; ".join(parts)


def import_report(report: ImportReport, tr: Translator) -> str:
    return "\n".join([
        tr.ngettext("Imported {n} new case.", "Imported {n} new cases.",
                    len(report.created)),
        tr.ngettext("{n} case was already there and is unchanged.",
                    "{n} cases were already there and are unchanged.",
                    len(report.unchanged)),
    ])


def row_errors(errors: Sequence[RowError], tr: Translator, limit: int = 200) -> str:
    lines = [tr.ngettext("{n} problem found in the file:",
                         "{n} problems found in the file:", len(errors))]
    lines.extend(f"- {e.render(tr)}" for e in errors[:limit])
    if len(errors) > limit:
        lines.append(tr.gettext(N_("… and {n} more."), n=len(errors) - limit))
    return "\n".join(lines)
