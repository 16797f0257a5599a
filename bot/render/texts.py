"""Rendering: the words a person reads about cases, in the reader's language.

The command line and the chat handlers both render through these functions, so a case reads
the same everywhere. Dates and numbers go through Babel in the reader's locale.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

from bot.core.casefile import RowError
from bot.core.commands import SummonsNumber
from bot.core.departments import AliasTable
from bot.core.evidence import EvidenceRef
from bot.core.i18n import N_, Translator
from bot.core.org import Org
from bot.core.workflow import MEASURE_LABELS, STATE_LABELS, Measure, State, workflow_for
from bot.services.cases import CaseView, ImportReport
from bot.services.dialogs import DONE  # noqa: F401 - one text for every "done"
from bot.services.evidence import case_evidence
from bot.services.status import Standing, Status
from models.tables import Case, Event
from scheduler.rules import KIND_LABELS

INDUSTRY_LABELS: Mapping[str, str] = {
    "steel": N_("steel"),
    "coal": N_("coal"),
    "cement": N_("cement"),
    "electrolytic_aluminium": N_("electrolytic aluminium"),
    "flat_glass": N_("flat glass"),
    "power": N_("power"),
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
    "paused": N_("reminders and escalation paused"),
    "resumed": N_("reminders and escalation resumed"),
    "skipped": N_("an escalation step skipped"),
    "notice": N_("named in a notice (通报)"),
    "summons": N_("interview summons (约谈)"),
    "summons_updated": N_("interview summons changed"),
    "credit_flag": N_("flagged for the credit measures of clause (17)"),
    "note": N_("note"),
}

_CHINESE_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
                   "九": 9}


def clause_number(clause: str) -> int | None:
    """``"十二"`` → 12: the clause's number, for readers who do not read Chinese numerals."""
    if clause.isdigit():
        return int(clause)
    if not clause or any(ch not in _CHINESE_DIGITS and ch != "十" for ch in clause):
        return None
    if "十" not in clause:
        return _CHINESE_DIGITS.get(clause) if len(clause) == 1 else None
    tens, _, ones = clause.partition("十")
    return (_CHINESE_DIGITS.get(tens, 1) if tens else 1) * 10 + (
        _CHINESE_DIGITS.get(ones, 0) if ones else 0)


def clause_label(clause: str, tr: Translator) -> str:
    """A clause as the reader writes it: （四） in Chinese, (4) in English."""
    if tr.locale.startswith("en"):
        number = clause_number(clause)
        return f"({number})" if number is not None else f"({clause})"
    return f"（{clause}）"


def separator(tr: Translator) -> str:
    """Between items of a list: 、 in Chinese, a comma in English."""
    return ", " if tr.locale.startswith("en") else "、"


def evidence_label(ref: str, tr: Translator) -> str:
    """A stored evidence reference (``kind:unique:file_id:name[:sha256:size]``, see
    ``bot.core.evidence``) as people call it: the file's name, or "photo"/"document"; never
    the file id or the fingerprint."""
    parsed = EvidenceRef.parse(str(ref))
    if parsed.name:
        return parsed.name
    return tr.gettext(N_("photo") if parsed.kind == "photo" else N_("document"))


def fmt_date(value: date | None, tr: Translator) -> str:
    if value is None:
        return "—"
    return format_date(value, format="medium", locale=tr.babel_locale)


def fmt_datetime(value: datetime, tr: Translator, tz: tzinfo) -> str:
    """A moment to the minute, in the reader's date style: 2026年7月15日 09:00."""
    local = value.astimezone(tz)
    return f"{fmt_date(local.date(), tr)} {local:%H:%M}"


def fmt_number(value: Decimal | float | int | None, tr: Translator) -> str:
    if value is None:
        return "—"
    return format_decimal(value, locale=tr.babel_locale)


def fmt_percent(value: float | None, tr: Translator) -> str:
    if value is None:
        return "—"
    return format_percent(value, locale=tr.babel_locale)


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
        measure = step.split(":", 1)[1] if step.startswith("measure:") else None
        if measure in set(Measure):  # e.g. （四）'s dismantling, before its exit was （九）'s
            return tr.gettext(MEASURE_LABELS[Measure(measure)])
        return step


def capacity_text(case: Case, tr: Translator) -> str:
    if case.capacity is None:
        return "—"
    return f"{fmt_number(case.capacity, tr)} {case.unit or ''}".strip()


def case_line(case: Case, tr: Translator) -> str:
    """One line per case, for lists."""
    return tr.gettext(
        N_("{ref} · {enterprise} · {region} · clause {clause} · {state} · deadline {deadline}"),
        ref=case.ref, enterprise=case.enterprise, region=case.region_name,
        clause=clause_label(case.clause, tr), state=state_label(case.state, tr),
        deadline=fmt_date(case.deadline, tr),
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
        tr.gettext(N_("Clause: {clauses}"),
                   clauses=separator(tr).join(clause_label(c, tr) for c in case.clauses)),
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
            N_("- {who}: {role}, {status} (clause {clause} tag “{tag}”)"),
            who=who, role=tr.gettext(ROLE_LABELS.get(a.role, a.role)),
            status=tr.gettext(STATUS_LABELS.get(a.status, a.status)),
            clause=clause_label(a.clause, tr),
            tag=a.tag_raw or "—",
        ) + (tr.gettext(N_(" reason: {reason}"), reason=a.reason) if a.reason else ""))
    if view.needs_coordinator:
        lines.append(tr.gettext(N_("⚠ Waiting in the coordinators' queue.")))
    measures = measures_done(view.events)
    workflow = workflow_for(case.clause)
    if measures and workflow.measures:
        done, total = workflow.exit_progress(measures)
        lines.append(tr.gettext(N_("Exit measures: {done} of {total} confirmed"),
                                done=done, total=total))
    lines.append("")
    lines.append(tr.gettext(N_("Timeline:")))
    lines.extend(event_line(case, e, tr, aliases, tz) for e in view.events)
    evidence = case_evidence(view)
    if evidence:  # numbered as the case's evidence buttons are (bot.render.evidence)
        lines.append("")
        lines.append(tr.gettext(N_("Evidence:")))
        for item in evidence:
            who = item.actor_name or tr.gettext(N_("system"))
            if item.department_key:
                who = tr.gettext(N_("{who} ({department})"), who=who,
                                 department=aliases.name(item.department_key, tr.locale))
            line = (f"📎{item.number}. {fmt_datetime(item.at, tr, tz)} · {who} · "
                    f"{evidence_label(item.ref.ref(), tr)}")
            if not item.ref.stored:
                line += tr.gettext(N_(" (no copy kept)"))
            lines.append(line)
    return "\n".join(lines)


def measures_done(events: Iterable[Event]) -> set[Measure]:
    return {Measure(e.kind.split(":", 1)[1]) for e in events if e.kind.startswith("measure:")}


def event_line(case: Case, event: Event, tr: Translator, aliases: AliasTable, tz: tzinfo) -> str:
    who = event.actor_name or tr.gettext(N_("system"))
    if event.department_key:
        who = tr.gettext(N_("{who} ({department})"), who=who,
                         department=aliases.name(event.department_key, tr.locale))
    if event.kind.startswith("measure:"):
        what = tr.gettext(MEASURE_LABELS[Measure(event.kind.split(':', 1)[1])])
    else:
        what = step_label(case.clause, event.kind, tr)
    line = f"{event.seq}. {fmt_datetime(event.at, tr, tz)} · {who} · {what}"
    if event.to_state and event.to_state != event.from_state:
        line += " → " + state_label(event.to_state, tr)
    details = _payload_details(event.payload or {}, tr, aliases, tz)
    return line + (f" ({details})" if details else "")


def _payload_details(payload: Mapping[str, object], tr: Translator, aliases: AliasTable,
                     tz: tzinfo) -> str:
    """An event's facts in words: dates in the reader's style, departments by name, evidence
    by file name; internal keys never shown."""
    parts: list[str] = []
    join = separator(tr).join

    def items(key: str) -> list[str]:
        value = payload.get(key)
        return [str(v) for v in value] if isinstance(value, list | tuple) else []

    if items("evidence"):
        parts.append(tr.gettext(N_("evidence: {items}"),
                                items=join(evidence_label(e, tr) for e in items("evidence"))))
    for key, label in (("date", N_("date: {value}")), ("deadline", N_("deadline: {value}"))):
        value = payload.get(key)
        if isinstance(value, str):
            parts.append(tr.gettext(label, value=_date_text(value, tr)))
    for key, label in (("note", N_("note: {value}")), ("reason", N_("reason: {value}")),
                       ("months", N_("months: {value}")),
                       ("capacity", N_("capacity: {value}")), ("code", N_("number: {value}"))):
        if payload.get(key) is not None:
            parts.append(tr.gettext(label, value=payload[key]))
    number, year = payload.get("summons_number"), payload.get("summons_year")
    if isinstance(number, int) and isinstance(year, int):
        parts.append(tr.gettext(N_("number: {value}"),
                                value=summons_code(SummonsNumber(number, year), tr)))
    if isinstance(payload.get("meets_at"), str):
        with_time = datetime.fromisoformat(str(payload["meets_at"]))
        parts.append(tr.gettext(N_("meeting: {value}"), value=fmt_datetime(with_time, tr, tz)))
    if isinstance(payload.get("step"), str):
        parts.append(tr.gettext(N_("step: {value}"), value=payload["step"]))
    for key, label in (("waiting_for", N_("waiting for: {items}")),
                       ("departments", N_("departments: {items}"))):
        if items(key):
            parts.append(tr.gettext(label, items=join(aliases.name(k, tr.locale)
                                                      for k in items(key))))
    return "; ".join(parts)


def _date_text(value: str, tr: Translator) -> str:
    try:
        return fmt_date(date.fromisoformat(value[:10]), tr)
    except ValueError:
        return value


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


# -- chat texts -----------------------------------------------------------------------------------

BOUND = N_("This chat is now bound to {target}.")
UNBOUND = N_("This chat is no longer bound.")
CHOOSE_TARGET = N_("“{query}” could mean several; which one is this chat for?")
INVITE_MADE = N_("Invite code for this chat: {code}\nA liaison sends “/join {code}” here "
                 "before {expires}. It works once.")
JOINED = N_("Welcome, {name}: you are now a liaison of {target}.")
LANG_SET = N_("Language set to English.")
BAD_BUTTON = N_("This button is not valid (any more). Nothing was changed.")
NOT_YOUR_QUESTION = N_("This question is no longer open for you: it is already answered, or "
                       "it was asked of someone else.")
NOTHING_TO_CANCEL = N_("There is nothing to cancel.")
CANCELLED = N_("Cancelled; nothing was changed.")
FAILED = N_("Something went wrong; nothing was changed. Try again, or /cancel.")
STALE_CARD = N_("This card was out of date; it now shows the case as it is. Press again.")
STALE_BUTTON = N_("This button is out of date and no longer does anything; use the buttons of "
                  "the newest message.")
LANG_SET_ZH = N_("Language set to Simplified Chinese.")
NOTICE_SIGNED = N_("Signed off as {code}; it goes to every unit.")
NOTICE_HELD = N_("Held; the draft waits for sign-off.")
SUMMONS_CONFIRMED = N_("{code} confirmed; the summoned side is told.")
NOT_UNDERSTOOD = N_("I did not understand that. Send /help for what I can do; to add a note to "
                    "a case, reply to its card.")
UNKNOWN_COMMAND = N_("There is no command {command}. Send /help for the commands.")
POLICY_USAGE = N_("Which clause? For example: /policy 四")
OVERDUE_TITLE = N_("Overdue: {n}")
NOTHING_OVERDUE = N_("Nothing is overdue.")
OPEN_ITEMS = N_("Open items: {n}")
LIST_TITLES = {"yellow": N_("Yellow card list: {n}"), "red": N_("Red card list: {n}"),
               "emitters": N_("Enterprises emitting over the standards: {n}"),
               "serious": N_("Enterprises emitting over the standards, serious cases: {n}")}
LIST_EMPTY = N_("The list is empty.")
NOT_BOUND = N_("This chat is not bound yet. A coordinator sends /bind followed by the "
               "department, county or park (or “coordination”).")
IMPORT_DONE = N_("Spreadsheet imported.")
GREETING = N_("Hello, I am duban (督办). To set me up:\n"
              "1. A coordinator binds this chat: /bind 环保局, /bind 玛纳斯县 or "
              "/bind coordination.\n"
              "2. The coordinator sends /invite; each liaison sends /join CODE.\n"
              "3. Cases then arrive here as cards with buttons; /help lists the commands.")
NO_CHAT_WARNING = N_("⚠ {department} has no bound chat; case {ref} waits in the coordinators' "
                     "queue. Bind a chat with /bind {department}.")
GROUP_WARNING = N_("⚠ Case {ref} ({enterprise}, {region}): the tag names “{group}”; "
                   "choose the departments with `duban case reroute {ref} --group {group} "
                   "--to …` or the buttons below.")
HANDED_BACK_NOTICE = N_("↩ {department} handed back case {ref} ({enterprise}): {reason}\n"
                        "Route it to:")
EXTENSION_NOTICE = N_("⏳ {department} asks to extend case {ref} ({enterprise}) by {months} "
                      "month(s): {reason}\nCurrent deadline: {deadline}.")
EXTENSION_APPROVED = N_("✅ Extension for case {ref} approved; new deadline {deadline}.")
EXTENSION_DENIED = N_("❌ Extension for case {ref} denied: {reason}")
REVIEW_NOTICE = N_("🔎 Case {ref} ({enterprise}) is confirmed by its departments: {step}. "
                   "Review the evidence (/case {ref}), then close the case or send it back "
                   "for rework.")
SENT_BACK_NOTICE = N_("↩ Case {ref} ({enterprise}) is sent back for rework: {reason}\n"
                      "Confirm it again when the work is done.")
BOT_REMOVED_NOTICE = N_("⚠ I was removed from “{title}” ({target}); that chat is no longer "
                        "bound.")
REROUTED = N_("Case {ref} routed to {department}.")

FILE_TOO_LARGE = N_("The file is too large: at most {limit} MB.")
IMPORT_REFUSED = N_("Nothing was imported: fix the rows above and send the file again.")
REPORT_SENT = N_("{name}: check it, have it approved and stamped, then upload the stamped scan "
                 "with the button on the yearly reminder.")

HEADING = N_("【{title}】")
HELP_TITLE = N_("duban — supervision of the exit of backward production capacity")
HELP_EVERYONE = N_("/lists yellow|red — the public yellow and red card lists\n"
                   "/duties [year] — the yearly duties: who has submitted, who has not\n"
                   "/policy 四 — a clause of the guiding opinion\n"
                   "/whoami — who I think you are\n/lang zh|en — language\n"
                   "/help — this list")
HELP_READERS = N_("/case REF or a name — a case and its timeline (yours to read)\n"
                  "/overdue — the overdue cases you may read\n"
                  "/mine — the open items of this chat, or yours\n"
                  "/status [county] — where things stand\n"
                  "/summons N — an interview summons")
HELP_LIAISON = N_("Press the buttons on the case cards to accept a case, hand it back, or "
                  "confirm a step with its evidence; reply to a card to add a note.\n"
                  "/report COUNTY [year] — the county's yearly report to stamp\n"
                  "/cancel — stop the current question")
HELP_COORDINATOR = N_("/bind <department|county|coordination>, /unbind — bind this chat\n"
                      "/invite — an invite code for liaisons\n"
                      "/newcase — register a case (or send a .csv/.xlsx file privately)\n"
                      "/pause REF reason, /resume REF reason — hold or resume a case's "
                      "reminders\n"
                      "/skip REF STEP reason — skip one escalation step\n"
                      "/reschedule N YYYY-MM-DD HH:MM [place] — move an interview summons\n"
                      "/outcome N — record how a summons went\n"
                      "Draft notices (通报) and proposed summonses come with their buttons: "
                      "签发 / 修改 / 暂缓, 确认并发出.")
HELP_TASKS = N_("/tasks — the supervised tasks (督办任务) of the document and of the cases' "
                "measures (in a department's chat: its own)\n"
                "/task N — one task and its reports; its owners report progress with the "
                "button")
HELP_TASK_REVIEW = N_("/tasks review — review the tasks read from the document: accept, do "
                      "not supervise, merge; /tasks owners N 牵头：…；配合：…, "
                      "/tasks schedule N 每季度, /tasks all")
HELP_SUPERVISION = N_("/board — the board: red, yellow and green lights per county, park "
                      "and department, worst first\n"
                      "/ledger [year] — the ledger of the year's cases and duties as a "
                      "spreadsheet")
HELP_INSPECTIONS = N_("/inspection — record an inspection held: in a county's or park's chat "
                      "its joint inspection, elsewhere (coordinators) the commission's; each "
                      "problem found is fed back or opened as a case\n"
                      "/inspection plan DATE COUNTIES DEPARTMENTS — schedule a commission "
                      "inspection (coordinators)\n"
                      "/inspections [county] [year] — the inspections and the problems found")
HELP_OUTSIDER = N_("To take part, ask a coordinator for an invite code, then send /join CODE "
                   "in your department's or county's chat.")


def ledger_sent(year: int, n: int, tr: Translator) -> str:
    """The caption of ``/ledger``'s spreadsheet."""
    return tr.ngettext("The ledger of {year}: {n} case, with the yearly duties, notices and "
                       "summonses.",
                       "The ledger of {year}: {n} cases, with the yearly duties, notices and "
                       "summonses.", n, year=year)


def help_text(tr: Translator, *, coordinator: bool, liaison: bool) -> str:
    """``/help``: headings per role, every command the reader may use."""
    sections = [(N_("Everyone"), HELP_EVERYONE)]
    if liaison or coordinator:
        sections += [(N_("Cases and figures"), HELP_READERS), (N_("Liaisons"), HELP_LIAISON),
                     (N_("Inspections"), HELP_INSPECTIONS), (N_("Tasks"), HELP_TASKS)]
    if coordinator:
        sections.append((N_("Coordinators"), HELP_COORDINATOR))
        sections.append((N_("The board and the ledger"), HELP_SUPERVISION))
        sections.append((N_("Reviewing the tasks"), HELP_TASK_REVIEW))
    if not (liaison or coordinator):
        sections.append((N_("Taking part"), HELP_OUTSIDER))
    return "\n\n".join([tr.gettext(HELP_TITLE)] + [
        tr.gettext(HEADING, title=tr.gettext(title)) + "\n" + tr.gettext(body)
        for title, body in sections])


def whoami_text(tr: Translator, *, name: str, user_id: int, role: str,
                belongs_to: str | None, chat_target: str | None) -> str:
    lines = [tr.gettext(N_("{name} (id {id})"), name=name, id=user_id),
             tr.gettext(N_("Role: {role}"), role=tr.gettext(ROLE_NAMES.get(role, role)))]
    if belongs_to:
        lines.append(tr.gettext(N_("Liaison of: {target}"), target=belongs_to))
    lines.append(tr.gettext(N_("This chat: {target}"), target=chat_target)
                 if chat_target else tr.gettext(N_("This chat is not bound.")))
    return "\n".join(lines)


ROLE_NAMES: Mapping[str, str] = {
    "coordinator": N_("coordinator"),
    "liaison": N_("liaison"),
    "outsider": N_("not registered"),
}


def _comma(tr: Translator) -> str:
    return ", " if tr.locale.startswith("en") else "，"


def status_text(status: Status, tr: Translator, aliases: AliasTable, *, title: str,
                year: int) -> str:
    """One screen, readable on a phone."""
    lines = [tr.gettext(N_("📊 {title}"), title=title),
             tr.gettext(N_("Open {open} · overdue {overdue} · closed {closed}"),
                        open=status.open, overdue=status.overdue, closed=status.closed),
             tr.gettext(N_("Yellow card {yellow} · red card {red}"), yellow=status.yellow,
                        red=status.red)]
    clauses = sorted(set(status.open_by_clause) | set(status.closed_by_clause),
                     key=_clause_order)
    if clauses:
        lines.append(tr.gettext(N_("By clause (open / overdue / closed):")))
        for clause in clauses:
            lines.append(f"{clause_label(clause, tr)} {status.open_by_clause.get(clause, 0)} / "
                         f"{status.overdue_by_clause.get(clause, 0)} / "
                         f"{status.closed_by_clause.get(clause, 0)}")
    if status.open_by_industry:
        lines.append(tr.gettext(N_("Open by industry:")) + " " + _comma(tr).join(
            f"{industry_label(k, tr)} {v}" for k, v in sorted(status.open_by_industry.items())))
    lines.append(tr.gettext(N_("Capacity exited in {year}:"), year=year))
    if status.exited_capacity:
        for (industry, unit), total in sorted(status.exited_capacity.items()):
            lines.append(f"  {industry_label(industry, tr)} {fmt_number(total, tr)} {unit}")
    else:
        lines.append("  " + tr.gettext(N_("none yet")))
    if status.unaccepted:
        lines.append(tr.gettext(N_("Not yet accepted by:")) + " " + _comma(tr).join(
            f"{aliases.name(k, tr.locale)} {v}" for k, v in sorted(status.unaccepted.items())))
    return "\n".join(lines)


RANKING_TITLE = N_("🏁 Ranking (overdue items · on-time rate)")
RANKING_REGIONS = N_("Counties and parks:")
RANKING_DEPARTMENTS = N_("Departments:")
RANKING_LINE = N_("{rank}. {name}: {overdue} overdue · on time {rate}")


def ranking_text(regions: Sequence[Standing], departments: Sequence[Standing], tr: Translator,
                 aliases: AliasTable, limit: int = 10) -> str:
    """Clause （二十）: who moves slowly, worst first (as :meth:`StatusService.ranking` sorts)."""
    lines = [tr.gettext(RANKING_TITLE)]
    for heading, standings in ((RANKING_REGIONS, regions), (RANKING_DEPARTMENTS, departments)):
        if not standings:
            continue
        lines.append(tr.gettext(heading))
        for rank, standing in enumerate(standings[:limit], start=1):
            name = (aliases.name(standing.name, tr.locale) if standing.kind == "department"
                    else standing.name)
            lines.append(tr.gettext(RANKING_LINE, rank=rank, name=name,
                                    overdue=fmt_number(standing.overdue, tr),
                                    rate=fmt_percent(standing.on_time_rate, tr)))
    return "\n".join(lines)


def _clause_order(clause: str) -> int:
    order = "一二三四五六七八九十"
    return order.index(clause) if clause in order else 99


def case_list_text(cases: Sequence[Case], tr: Translator, *, title: str,
                   empty: str) -> str:
    if not cases:
        return tr.gettext(empty)
    return "\n".join([tr.gettext(title, n=len(cases)), *(case_line(c, tr) for c in cases)])


#: How a summons is numbered for people (its database row never is): 约谈〔2026〕3号 in Chinese.
SUMMONS_CODE = N_("Summons {year}-{number}")


def summons_code(summons: Any, tr: Translator) -> str:
    """A summons's number as people read it: 约谈〔2026〕3号 (``Summons 2026-3``)."""
    return tr.gettext(SUMMONS_CODE, year=summons.year or "—", number=summons.number or "—")


def summons_ref(summons: Any) -> str:
    """A summons's number as people type it in a command: ``2026-3``."""
    return str(SummonsNumber(summons.number or 0, summons.year))


def party_name(org: Org, kind: str, key: str, locale: str) -> str:
    """A notice's or summons's party as people call it: a department by the organisation's
    own name (州发改委) in Chinese, by its English name in English; a county by its name."""
    if kind != "department":
        return key
    found = org.department(key)
    if found is not None and not locale.startswith("en"):
        return found.name
    return org.alias_table().name(key, locale)


STEP_WORDS: Mapping[str, str] = {
    "overdue": N_("overdue reminder"),
    "reminder": N_("second reminder"),
    "reminder_cc": N_("copy to the coordinators"),
    "notice": N_("notice"),
    "renotice": N_("notice again after the summons"),
    "laggard": N_("lagging county or park"),
    "summons": N_("interview summons"),
    "follow_up": N_("follow-up after the summons"),
    "unaccepted_reminder": N_("acceptance reminder"),
    "unaccepted_alert": N_("acceptance alert"),
    "unaccepted_follow_up": N_("acceptance reminder again"),
    "unrouted": N_("departments to name"),
    "unreviewed": N_("closing to review"),
    "credit_flag": N_("credit measures"),
}


def step_words(step: str, tr: Translator) -> str:
    """An escalation step in words: T-7 is "7 days before"."""
    if step.startswith("T-") and step[2:].isdigit():
        return tr.ngettext("{n} day before", "{n} days before", int(step[2:]))
    return tr.gettext(STEP_WORDS[step]) if step in STEP_WORDS else step


def preview_line(due: date, kind: str, step: str, recipient: str, items: str,
                 tr: Translator) -> str:
    """``duban preview``: one item that would be sent, in words."""
    label = KIND_LABELS.get(kind)
    return tr.gettext(N_("{date} · {kind} ({step}) · to {recipient} · {items}"),
                      date=fmt_date(due, tr), kind=tr.gettext(label) if label else kind,
                      step=step_words(step, tr), recipient=recipient, items=items)


def coordinator_work_text(queue: Sequence[Case], extensions: Sequence[Case],
                          notices: Sequence[Any], summonses: Sequence[Any], tr: Translator,
                          party: Any, unbound: Sequence[Any] = (),
                          reviews: Sequence[Case] = ()) -> str:
    """``/mine`` for coordinators: what waits for them (``unbound``: the parties whose
    reminders wait for a bound chat, ``CalendarService.waiting_for_chats``)."""
    lines = [tr.gettext(N_("🧭 Waiting for the coordinators:"))]
    for case in queue:
        lines.append(tr.gettext(N_("· {line} (to route or hand-back to settle)"),
                                line=case_line(case, tr)))
    for case in extensions:
        lines.append(tr.gettext(N_("· {line} (extension to decide)"), line=case_line(case, tr)))
    for case in reviews:
        lines.append(tr.gettext(N_("· {line} (closing to review)"), line=case_line(case, tr)))
    for notice in notices:
        lines.append(tr.gettext(N_("· draft notice of {date}, {status}: sign it off with its "
                                   "buttons"), date=fmt_date(notice.created_at.date(), tr),
                                status=tr.gettext(N_("held") if notice.status == "held"
                                                  else N_("not yet signed"))))
    for summons in summonses:
        lines.append(tr.gettext(N_("· proposed {code} of {party} at {when}: confirm it or "
                                   "/reschedule {ref}"), code=summons_code(summons, tr),
                                ref=summons_ref(summons),
                                party=party(summons.party_kind, summons.party),
                                when=fmt_date(summons.meets_at.date(), tr)))
    for waiting in unbound:
        lines.append("· " + waiting_for_chat_line(
            waiting, party(waiting.party_kind, waiting.party), tr))
    if len(lines) == 1:
        lines.append(tr.gettext(N_("Nothing waits for you.")))
    return "\n".join(lines)


def waiting_for_chat_line(waiting: Any, name: str, tr: Translator) -> str:
    """A department or county without a bound chat whose reminders wait for it."""
    return tr.ngettext("{party} has no bound chat: {n} reminder waits until a coordinator "
                       "binds its chat (/bind {party})",
                       "{party} has no bound chat: {n} reminders wait until a coordinator "
                       "binds its chat (/bind {party})", waiting.items, party=name)


def open_items_text(items: Sequence[tuple[Case, str | None]],
                    tr: Translator) -> str:
    """``/mine``: the chat's open cases, with this department's part in each."""
    lines = [case_line(item, tr) + (f" · {tr.gettext(STATUS_LABELS[status])}" if status else "")
             for item, status in items]
    return "\n".join([tr.gettext(OPEN_ITEMS, n=len(items)), *lines])
