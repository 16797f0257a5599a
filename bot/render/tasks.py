"""Tasks (督办任务) in words: the list, the review pages, a task, the owners' and coordinators'
messages. Reads values (``bot.services.tasks.TaskView``), never the database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, tzinfo

from bot.core.buttons import ConfirmDuty, TaskPress
from bot.core.departments import AliasTable
from bot.core.i18n import N_, Translator
from bot.core.tasks import (
    OPEN_STATUSES,
    STATUS_LABELS,
    TITLES,
    Schedule,
    TaskStatus,
    is_task_kind,
)
from bot.render import texts
from bot.render.cards import Button, CardContext, Reply
from bot.services.tasks import TaskView
from models.tables import TaskReport

TASK_TITLE = N_("Task {number}: {title}")
MAX_TEXT = 600
MAX_REPORT_SHOWN = 300
MAX_REPORTS_SHOWN = 8
#: Lines of a list before "… and N more" (a message holds 4,096 characters).
MAX_LISTED = 20


def duty_label(kind: str, tr: Translator) -> str | None:
    """A task duty row's kind in words (``督办任务5：严格执法监管：…``), None for a yearly
    duty's kind."""
    if not is_task_kind(kind):
        return None
    found = TITLES.get(kind)
    if found is None or not found[1]:  # a task this process has not read (closed long ago)
        return tr.gettext(N_("a supervised task (督办任务)"))
    number, title = found
    return tr.gettext(TASK_TITLE, number=number, title=title)


def schedule_words(schedule: Schedule, tr: Translator) -> str:
    if schedule.kind == "once":
        return tr.gettext(N_("once, by {date}"), date=texts.fmt_date(schedule.on, tr))
    if schedule.kind == "yearly":
        on = date(2025, schedule.month, schedule.day)
        return tr.gettext(N_("every year by {date}"), date=_month_day(on, tr))
    if schedule.months == 1:
        return tr.gettext(N_("every month, by its last day"))
    if schedule.months == 3:
        return tr.gettext(N_("every quarter, by its last day"))
    return tr.gettext(N_("every {n} months, by the month's last day"), n=schedule.months)


def _month_day(on: date, tr: Translator) -> str:
    if tr.locale.startswith("en"):
        return on.strftime("%d %B").lstrip("0")
    return f"{on.month}月{on.day}日"


def owners_words(view: TaskView, ctx: CardContext) -> str:
    """``牵头：州工信局；配合：州财政局``; bodies the organisation does not have are named."""
    task = view.task
    tr = ctx.tr
    sep = texts.separator(tr)
    parts = []
    if task.lead:
        parts.append(tr.gettext(N_("lead: {names}"), names=sep.join(
            ctx.aliases.name(k, tr.locale) for k in task.lead)))
    if task.participants:
        parts.append(tr.gettext(N_("with: {names}"), names=sep.join(
            ctx.aliases.name(k, tr.locale) for k in task.participants)))
    if task.unowned:
        parts.append(tr.gettext(N_("also named: {names}"), names=sep.join(task.unowned)))
    if not task.lead:
        parts.append(tr.gettext(N_("no lead department yet")))
    return ("; " if tr.locale.startswith("en") else "；").join(parts)


def _head(view: TaskView, tr: Translator) -> str:
    task = view.task
    return tr.gettext(N_("Task {number} (clause ({clause})): {title}"), number=task.number,
                      clause=task.clause, title=task.title)


def task_line(view: TaskView, ctx: CardContext) -> str:
    """One line of a list: number, clause, title, owners, next report date."""
    tr = ctx.tr
    line = "· " + _head(view, tr) + " — " + owners_words(view, ctx)
    task = view.task
    due = view.next_due
    if task.status == TaskStatus.LIVE and due is not None:
        mark = "⚠ " if due < ctx.today else ""
        line += " — " + mark + tr.gettext(N_("next report by {date}"),
                                          date=texts.fmt_date(due, tr))
    case_ref = view.case_ref
    if case_ref:
        line += " — " + tr.gettext(N_("case {ref}"), ref=case_ref)
    return line


def tasks_list(views: Sequence[TaskView], ctx: CardContext, *, department: str | None = None,
               closed: tuple[int, int] = (0, 0)) -> Reply:
    """``/tasks``: the open tasks (a department chat: its own), how many wait for review, and
    (``closed``) how many were completed and not supervised."""
    tr = ctx.tr
    by_status: dict[str, list[TaskView]] = {}
    measures: dict[str, list[TaskView]] = {}
    for view in views:
        if view.task.case_id is not None and view.task.status in OPEN_STATUSES:
            measures.setdefault(view.task.clause, []).append(view)
        else:
            by_status.setdefault(view.task.status, []).append(view)
    lines = [tr.gettext(N_("📌 Tasks (督办任务) of your department") if department
                        else N_("📌 Tasks (督办任务)"))]
    for status in (TaskStatus.LIVE, TaskStatus.REVIEW):
        group = by_status.get(status, [])
        if group:
            lines.append("")
            lines.append(tr.gettext(N_("{status} ({n}):"),
                                    status=tr.gettext(STATUS_LABELS[status]), n=len(group)))
            lines += [task_line(view, ctx) for view in group]
    if measures:  # one line per measure: there is one task per case
        lines.append("")
        lines.append(tr.gettext(N_("Measures that follow cases:")))
        for clause, group in measures.items():
            late = sum(1 for v in group if v.next_due is not None and v.next_due < ctx.today)
            lines.append(tr.gettext(N_("· Clause ({clause}) {title}: {n} open, {late} overdue"),
                                    clause=clause, title=group[0].task.title, n=len(group),
                                    late=late))
    proposed = by_status.get(TaskStatus.PROPOSED, [])
    if proposed and department is None:
        lines.append("")
        lines.append(tr.gettext(N_("{n} task(s) read from the document wait for review: "
                                   "/tasks review"), n=len(proposed)))
    done, dropped = closed
    if done or dropped:
        lines.append(tr.gettext(N_("Completed: {done}; not supervised: {dropped}."),
                                done=done, dropped=dropped))
    if len(lines) == 1:
        lines.append(tr.gettext(N_("No tasks yet.")))
    lines.append(tr.gettext(N_("Details: /task N")))
    return Reply("\n".join(lines))


def owed_text(views: Sequence[TaskView], department: str, ctx: CardContext) -> str:
    """Under ``/mine`` in a department's chat: the tasks waiting for its report."""
    tr = ctx.tr
    lines = [tr.gettext(N_("Tasks waiting for your report ({n}):"), n=len(views))]
    shown = sorted(views, key=lambda v: (v.open_duty(department).due  # type: ignore[union-attr]
                                         if v.open_duty(department) else date.max, v.number))
    for view in shown[:MAX_LISTED]:
        row = view.open_duty(department)
        due = row.due if row else None
        mark = "⚠ " if due is not None and due < ctx.today else ""
        lines.append("· " + mark + _head(view, tr) + " — " + tr.gettext(
            N_("report by {date}: /task {number}"), date=texts.fmt_date(due, tr),
            number=view.number))
    if len(shown) > MAX_LISTED:
        lines.append(tr.gettext(N_("… and {n} more: /tasks"), n=len(shown) - MAX_LISTED))
    return "\n".join(lines)


def coordinators_text(views: Sequence[TaskView], ctx: CardContext) -> str:
    """Under the coordinators' ``/mine``: final reports to review, tasks to review."""
    tr = ctx.tr
    final = [v for v in views if v.task.status == TaskStatus.REVIEW]
    proposed = [v for v in views if v.task.status == TaskStatus.PROPOSED]
    lines = []
    if final:
        lines.append(tr.gettext(N_("Final reports of tasks to review ({n}):"), n=len(final)))
        lines += ["· " + _head(v, tr) + f" — /task {v.number}" for v in final]
    if proposed:
        lines.append(tr.gettext(N_("{n} task(s) read from the document wait for review: "
                                   "/tasks review"), n=len(proposed)))
    return "\n".join(lines)


def linked_text(views: Sequence[TaskView], ctx: CardContext) -> str:
    """Under ``/case``: the measures that follow the case, who owns them, where they stand."""
    tr = ctx.tr
    lines = [tr.gettext(N_("Measures that follow this case:"))]
    for view in views:
        task = view.task
        line = tr.gettext(N_("· Task {number} (clause ({clause})): {title} — {status}"),
                          number=task.number, clause=task.clause, title=task.title,
                          status=tr.gettext(STATUS_LABELS.get(task.status, task.status)))
        line += " — " + owners_words(view, ctx)
        if task.done_on:
            line += " — " + tr.gettext(N_("carried out on {date}"),
                                       date=texts.fmt_date(task.done_on, tr))
        elif view.next_due is not None:
            line += " — " + tr.gettext(N_("due by {date}"),
                                       date=texts.fmt_date(view.next_due, tr))
        lines.append(line)
    return "\n".join(lines)


def review_page(views: Sequence[TaskView], index: int, ctx: CardContext) -> Reply:
    """One proposed task of ``views`` (the review's pages), with accept / drop / merge and
    paging buttons."""
    tr = ctx.tr
    if not views:
        return Reply(tr.gettext(N_("No task waits for review.")))
    index = max(0, min(index, len(views) - 1))
    view = views[index]
    task = view.task
    schedule = Schedule.load(task.schedule)
    lines = [
        tr.gettext(N_("🔎 Task review {index} of {total}"), index=index + 1, total=len(views)),
        _head(view, tr),
        tr.gettext(N_("Owners: {owners}"), owners=owners_words(view, ctx)),
        tr.gettext(N_("Reports: {schedule}"), schedule=schedule_words(schedule, tr)),
    ]
    if task.linked:
        lines.append(tr.gettext(N_("This measure is also opened for each case it follows "
                                   "(linked measures).")))
    lines.append("")
    lines.append(_excerpt(task.text))
    lines.append("")
    lines.append(tr.gettext(N_(
        "Change it with /tasks owners {number} 牵头：州工信局；配合：州财政局 or "
        "/tasks schedule {number} 每季度 (每月, 每年3月31日前, 2027-06-30)."),
        number=task.number))
    codec, chat = ctx.codec, ctx.chat_id

    def button(label: str, action: str, number: int) -> Button:
        return Button(tr.gettext(label), codec.pack(chat, TaskPress(number, action)))

    row = [button(N_("✅ Accept"), "accept", task.number),
           button(N_("🗑 Do not supervise"), "drop", task.number)]
    rows: list[tuple[Button, ...]] = [tuple(row)]
    if index > 0:
        previous = views[index - 1].task.number
        rows.append((Button(tr.gettext(N_("🔗 Merge into task {number}"), number=previous),
                            codec.pack(chat, TaskPress(task.number, "merge", previous))),))
    paging = []
    if index > 0:
        paging.append(button(N_("◀ Previous"), "prev", task.number))
    if index + 1 < len(views):
        paging.append(button(N_("Next ▶"), "next", task.number))
    if paging:
        rows.append(tuple(paging))
    return Reply("\n".join(lines), tuple(rows))


def _excerpt(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def task_detail(view: TaskView, ctx: CardContext) -> Reply:
    """``/task N``: the task, its owners and schedule, who has reported, its reports; in an
    owner's chat, the button to report for its open period."""
    tr = ctx.tr
    task = view.task
    schedule = Schedule.load(task.schedule)
    lines = [
        "📌 " + _head(view, tr),
        tr.gettext(N_("Status: {status}"), status=tr.gettext(STATUS_LABELS.get(
            task.status, task.status))),
        tr.gettext(N_("Owners: {owners}"), owners=owners_words(view, ctx)),
        tr.gettext(N_("Reports: {schedule}"), schedule=schedule_words(schedule, tr)),
    ]
    case_ref = view.case_ref
    if case_ref:
        lines.append(tr.gettext(N_("Follows case {ref}: /case {ref}"), ref=case_ref))
    if task.done_on:
        lines.append(tr.gettext(N_("Carried out on {date}"), date=texts.fmt_date(
            task.done_on, tr)))
    duties = view.duties
    open_rows = sorted((d for d in duties if d.confirmed_at is None), key=lambda d: d.due)
    if open_rows and task.status == TaskStatus.LIVE:
        sep = texts.separator(tr)
        due = open_rows[0].due
        names = sep.join(ctx.aliases.name(d.party, tr.locale) for d in open_rows)
        mark = "⚠ " if due < ctx.today else ""
        lines.append(mark + tr.gettext(N_("Report due by {date}, not yet from: {names}"),
                                       date=texts.fmt_date(due, tr), names=names))
    if task.note:
        lines.append(tr.gettext(N_("Coordinators' note: {note}"), note=task.note))
    lines.append("")
    lines.append(_excerpt(task.text))
    reports = view.reports
    if reports:
        lines.append("")
        lines.append(tr.gettext(N_("Reports ({n}):"), n=len(reports)))
        for report in list(reports)[-MAX_REPORTS_SHOWN:]:
            lines.append(report_line(report, tr, ctx.aliases, ctx.tz))
    buttons: list[tuple[Button, ...]] = []
    if ctx.department and task.status == TaskStatus.LIVE:
        row = view.open_duty(ctx.department)
        if row is not None:
            buttons.append((Button(tr.gettext(N_("📝 Report progress")), ctx.codec.pack(
                ctx.chat_id, ConfirmDuty(row.id or 0))),))
    return Reply("\n".join(lines), tuple(buttons))


def report_line(report: TaskReport, tr: Translator, aliases: AliasTable, tz: tzinfo) -> str:
    """``· 2026年12月1日 州工信局（进展）：…``, with the number of files."""
    r = report
    when = texts.fmt_date(r.reported_at.astimezone(tz).date(), tr)
    who = aliases.name(r.department_key, tr.locale)
    label = N_("final report") if r.final else N_("progress")
    line = tr.gettext(N_("· {date} {department} ({what}): {text}"), date=when, department=who,
                      what=tr.gettext(label),
                      text=_excerpt(r.text, MAX_REPORT_SHOWN))
    evidence = len(r.evidence)
    if evidence:
        line += " " + tr.gettext(N_("(📎 {n} file(s))"), n=evidence)
    return line


def live_message(view: TaskView, department: str, ctx: CardContext) -> Reply:
    """To an owner's chat: the task is now yours (lead or with), what to report, by when."""
    tr = ctx.tr
    task = view.task
    role = (N_("your department leads it") if department in task.lead
            else N_("your department takes part"))
    lines = [tr.gettext(N_("📌 New supervised task — {role}"), role=tr.gettext(role)),
             _head(view, tr),
             tr.gettext(N_("Owners: {owners}"), owners=owners_words(view, ctx))]
    row = view.open_duty(department)
    schedule = Schedule.load(task.schedule)
    lines.append(tr.gettext(N_("Report progress {schedule}; the first report by {date}."),
                            schedule=schedule_words(schedule, tr),
                            date=texts.fmt_date(row.due if row else None, tr)))
    case_ref = view.case_ref
    if case_ref:
        lines.append(tr.gettext(N_("It follows case {ref}: /case {ref}"), ref=case_ref))
    lines.append("")
    lines.append(_excerpt(task.text))
    buttons: tuple[tuple[Button, ...], ...] = ()
    if row is not None:
        buttons = ((Button(tr.gettext(N_("📝 Report progress")), ctx.codec.pack(
            ctx.chat_id, ConfirmDuty(row.id or 0))),),)
    return Reply("\n".join(lines), buttons)


def report_message(view: TaskView, report: TaskReport, ctx: CardContext) -> Reply:
    """To the coordinators: a department reported; a final one to close or send back."""
    tr = ctx.tr
    task = view.task
    department = ctx.aliases.name(report.department_key, tr.locale)
    final = report.final
    text = (N_("🏁 {department} sent its final report on task {number}: {title}") if final
            else N_("📨 {department} reported progress on task {number}: {title}"))
    lines = [tr.gettext(text, department=department, number=task.number, title=task.title),
             _excerpt(report.text, MAX_REPORT_SHOWN)]
    evidence = len(report.evidence)
    if evidence:
        lines.append(tr.gettext(N_("(📎 {n} file(s))"), n=evidence))
    buttons: tuple[tuple[Button, ...], ...] = ()
    if final and task.status == TaskStatus.REVIEW:
        lines.append(tr.gettext(N_("Close the task (办结), or send it back for rework with a "
                                   "reason (退回重办).")))
        buttons = ((Button(tr.gettext(N_("✅ Close")), ctx.codec.pack(
            ctx.chat_id, TaskPress(task.number, "close"))),
            Button(tr.gettext(N_("↩ Send back")), ctx.codec.pack(
                ctx.chat_id, TaskPress(task.number, "back")))),)
    lines.append(tr.gettext(N_("Details: /task {number}"), number=task.number))
    return Reply("\n".join(lines), buttons)


def decided_message(view: TaskView, close: bool, note: str, ctx: CardContext) -> Reply:
    """To the owners: the coordinators closed the task, or sent it back and why."""
    tr = ctx.tr
    task = view.task
    if close:
        text = tr.gettext(N_("✅ Task {number} ({title}) is closed by the coordinators."),
                          number=task.number, title=task.title)
        if note:
            text += "\n" + tr.gettext(N_("Coordinators' note: {note}"), note=note)
        return Reply(text)
    return Reply(tr.gettext(N_("↩ Task {number} ({title}) is sent back for rework: {reason}\n"
                               "Report again with /task {number}."),
                            number=task.number, title=task.title, reason=note))
