"""The calendar's messages: digests of nudges and reminders, notices (通报) with their
document, and interview summonses (约谈). Transport-neutral: text, buttons, file bytes."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, tzinfo
from typing import Any

from babel.dates import format_time

from bot.core.buttons import ButtonCodec, ConfirmDuty, ConfirmSummons, NoticeDecision, Rsvp
from bot.core.departments import AliasTable
from bot.core.i18n import N_, Translator
from bot.render import tasks as task_texts
from bot.render import texts
from bot.render.cards import Button, Reply
from bot.render.reports import Paragraph, Table
from bot.render.reports.official import (
    Masthead,
    OfficialDocument,
    imprint,
    number_tables,
    sign_off,
)
from models.tables import Case, Notice, NoticeEntry, Obligation, Summons
from scheduler.rules import OBLIGATION_LABELS

DIGEST_HEADER = N_("⏰ duban reminders for {date}:")
LINES: Mapping[str, str] = {
    "nudge": N_("· {ref} ({enterprise}): deadline {deadline}, {days} day(s) left"),
    "nudge_today": N_("· {ref} ({enterprise}): due today ({deadline})"),
    "overdue": N_("· ⚠ {ref} ({enterprise}): overdue since {deadline}"),
    "reminder": N_("· ⚠⚠ second reminder: {ref} ({enterprise}) overdue since {deadline}"),
    "reminder_cc": N_("· ⚠⚠ {party}: {ref} ({enterprise}) overdue since {deadline}"),
    "follow_up": N_("· ⚠⚠⚠ {ref} ({enterprise}): still not done after the interview summons; "
                    "overdue since {deadline}"),
    "unaccepted_reminder": N_("· 📥 {ref} ({enterprise}) is waiting for your acceptance"),
    "unaccepted_alert": N_("· 📥 {party} has not accepted {ref} ({enterprise}) since "
                           "{deadline}"),
    "unaccepted_follow_up": N_("· 📥 {ref} ({enterprise}) is still waiting for your acceptance "
                               "(routed {deadline})"),
    "unrouted": N_("· 🧭 {ref} ({enterprise}) has no department yet (registered {deadline}): "
                   "name its departments with the buttons of its first message, or with "
                   "`duban case reroute`"),
    "unreviewed": N_("· 🔎 {ref} ({enterprise}): its closing was to be reviewed by "
                     "{deadline}; close it or send it back for rework with the buttons of its "
                     "review message"),
    "credit_flag": N_("· ⛔ {ref} ({enterprise}) missed its exit deadline {deadline}: flag it "
                      "for the joint credit measures of clause (17)"),
    "obligation": N_("· 📅 {what}: due {deadline}"),
    "obligation_overdue": N_("· ⚠ {what} of {party}: overdue since {deadline}"),
}
#: What a deadline of a wait (a state without a date of its own) is for.
WAITS: Mapping[str, str] = {
    "immediate": N_("confirm the immediate stop or dismantling"),
    "action": N_("the next step"),
    "approval": N_("the government's approval of the closure"),
    "shutdown": N_("the shutdown and exit"),
}
WAIT_SUFFIX = N_(" (for {what})")
CASE_LINK = N_("Details: /case {ref}")
CONFIRM_DUTY = N_("Confirm: {duty}")


def duty_words(kind: str, tr: Translator) -> str:
    """A yearly duty's kind in words, or a task's (its report rows: ``督办任务5：…``)."""
    return task_texts.duty_label(kind, tr) or tr.gettext(OBLIGATION_LABELS.get(kind, kind))


def duty_of(obligation: str, tr: Translator) -> str:
    """A duty row (``kind/year``) in words: a yearly duty with its year (2026年…工作方案), a
    task's period by the task (督办任务5：…; its date says which period)."""
    kind, year = obligation.split("/")
    task = task_texts.duty_label(kind, tr)
    if task is not None:
        return task
    return tr.gettext(N_("{duty} ({year})"), duty=duty_words(kind, tr), year=year)


def _line(entry: Mapping[str, Any], ctx: DigestContext) -> str:
    tr = ctx.tr
    deadline = date.fromisoformat(entry["deadline"]) if entry.get("deadline") else None
    party = _party(entry, ctx)
    common: dict[str, Any] = {"deadline": texts.fmt_date(deadline, tr), "party": party}
    if entry.get("obligation"):
        overdue = entry["step"] != "" and not str(entry["step"]).startswith("T-")
        template = LINES["obligation_overdue" if overdue else "obligation"]
        return tr.gettext(template, what=duty_of(str(entry["obligation"]), tr), **common)
    refs = list(entry.get("case_refs") or [])
    ref = refs[0] if refs else "?"
    enterprise = ctx.enterprises.get(ref, "")
    step = str(entry["step"])
    if step.startswith("T-"):
        days = (deadline - ctx.today).days if deadline else 0
        template = LINES["nudge_today"] if days <= 0 else LINES["nudge"]
        return (tr.gettext(template, ref=ref, enterprise=enterprise, days=days, **common)
                + _wait(entry, tr))
    template = LINES.get(step) or LINES.get(str(entry["kind"])) or LINES["overdue"]
    return tr.gettext(template, ref=ref, enterprise=enterprise, **common) + _wait(entry, tr)


def _wait(entry: Mapping[str, Any], tr: Translator) -> str:
    what = WAITS.get(str(entry.get("wait") or ""))
    return tr.gettext(WAIT_SUFFIX, what=tr.gettext(what)) if what else ""


#: Most urgent first: what is overdue, then what waits for acceptance, then the nudges.
_URGENCY = {"follow_up": 0, "reminder": 0, "reminder_cc": 0, "overdue": 1, "credit_flag": 1,
            "unaccepted_follow_up": 2, "unrouted": 2, "unreviewed": 2, "unaccepted_alert": 2,
            "unaccepted_reminder": 2}
_PARTY_MARK = "\u0000"


def _urgency(entry: Mapping[str, Any]) -> tuple[int, str, str]:
    step = str(entry.get("step") or "")
    rank = 3 if step.startswith("T-") else _URGENCY.get(step, _URGENCY.get(
        str(entry.get("kind")), 1))
    return rank, str(entry.get("deadline") or ""), str(entry.get("key") or "")


def _collapsed(entries: Sequence[Mapping[str, Any]], ctx: DigestContext) -> list[str]:
    """The lines of ``entries``; lines that differ only in the party they name become one
    line naming every party (nine counties late with the same report: one line)."""
    order: list[str] = []
    parties: dict[str, list[str]] = {}
    for entry in entries:
        shape = _line({**entry, "party": _PARTY_MARK, "party_kind": "region"}, ctx)
        if _PARTY_MARK not in shape:
            shape = _line(entry, ctx)
        if shape not in parties:
            order.append(shape)
            parties[shape] = []
        name = _party(entry, ctx)
        if name not in parties[shape]:
            parties[shape].append(name)
    separator = texts.separator(ctx.tr)
    return [shape.replace(_PARTY_MARK, separator.join(parties[shape])) for shape in order]


@dataclass(frozen=True)
class DigestContext:
    chat_id: int
    tr: Translator
    aliases: AliasTable
    codec: ButtonCodec
    today: date
    enterprises: Mapping[str, str]  # ref -> enterprise, for the cases in the digest


def _party(entry: Mapping[str, Any], ctx: DigestContext) -> str:
    party = str(entry.get("party") or "")
    if entry.get("party_kind") == "department":
        return ctx.aliases.name(party, ctx.tr.locale)
    return party


#: What a digest's lines may take of a message (Telegram's limit is 4,096 characters; the
#: header, the case links and the line saying how many more there are need the rest).
DIGEST_LINES_BUDGET = 3_400


def digest(entries: Sequence[Mapping[str, Any]], ctx: DigestContext,
           for_party: bool) -> Reply:
    """One message listing the items for one chat, most urgent first; duty items get a
    confirm button. Lines that would not fit in the message are counted, not cut off
    mid-line (a sweep after a long outage, or an import whose cases share a deadline, gives
    one chat thousands), and /mine lists them all."""
    tr = ctx.tr
    lines = [tr.gettext(DIGEST_HEADER, date=texts.fmt_date(ctx.today, tr))]
    every = _collapsed(sorted(entries, key=_urgency), ctx)
    used, shown = 0, 0
    for line in every:
        if used + len(line) + 1 > DIGEST_LINES_BUDGET:
            break
        used, shown = used + len(line) + 1, shown + 1
    lines += every[:shown]
    if shown < len(every):
        lines.append(tr.ngettext("…and {n} more item for this chat: /mine lists all its open work.",
                                 "…and {n} more items for this chat: /mine lists all its open "
                                 "work.", len(every) - shown))
    refs = sorted({ref for e in entries for ref in e.get("case_refs") or []})
    if refs:
        lines.append(" ".join(tr.gettext(CASE_LINK, ref=ref) for ref in refs[:5]))
    buttons = []
    if for_party:
        for entry in entries:
            if entry.get("obligation_id"):
                kind = str(entry["obligation"]).split("/")[0]
                label = tr.gettext(CONFIRM_DUTY,
                                   duty=duty_words(kind, tr))
                buttons.append((Button(label[:60], ctx.codec.pack(
                    ctx.chat_id, ConfirmDuty(int(entry["obligation_id"])))),))
    return Reply("\n".join(lines), tuple(dict.fromkeys(buttons)))


# -- notices (通报) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeFacts:
    """What a notice states beyond its rows: the document it cites."""

    source_title: str  # 关于利用综合标准依法依规推动落后产能退出的指导意见
    source_number: str  # 工信部联产业〔2017〕30号


@dataclass(frozen=True)
class NoticeSection:
    """One laggard of a notice: who, which entry, its cases, how late."""

    party: str  # the party in the reader's words
    entry: NoticeEntry
    cases: Sequence[Case]
    working_days_late: int


_SECTION_LINES: Mapping[str, str] = {
    "notice": N_("{party} has not completed the following work by its deadline; {days} working "
                 "days have passed since."),
    "renotice": N_("{party} has still not completed the following work after the interview "
                   "summons; {days} working days have passed since its deadline."),
    "laggard": N_("{party} lags: {count} of its cases are overdue, the longest by {days} "
                  "working days."),
}


def notice_title(tr: Translator, issuer: str) -> str:
    """XX关于落后产能退出工作逾期情况的通报."""
    return tr.gettext(N_("{issuer}: notice on overdue work on backward production capacity"),
                      issuer=issuer)


def notice_document(notice: Notice, sections: Sequence[NoticeSection], *, commission: str,
                    tr: Translator, facts: NoticeFacts) -> OfficialDocument:
    """The 通报 as GB/T 9704 lays it out: the commission's name in red, the notice's code
    (its 发文字号), the title, every laggard of the round, each with its overdue cases or
    duty, the commission's name over the date, the 版记."""
    opening = notice.remark or tr.gettext(N_(
        "The units below have not completed their work by its deadline. Under clause (20) of "
        "the 《{source}》 ({number}), this is notified to all parties. Each is asked to "
        "complete its work at once and report to {commission}."),
        source=facts.source_title, number=facts.source_number, commission=commission)
    blocks: list[Any] = [
        Paragraph(tr.gettext(N_("To every county, park and department:"))),  # 主送
        Paragraph(opening, indent=True),
    ]
    headers = (tr.gettext(N_("Reference")), tr.gettext(N_("Enterprise")),
               tr.gettext(N_("County or park")), tr.gettext(N_("Clause")),
               tr.gettext(N_("Deadline")), tr.gettext(N_("State")))
    for number, section in enumerate(sections, start=1):
        entry = section.entry
        line = tr.gettext(_SECTION_LINES.get(entry.step, _SECTION_LINES["notice"]),
                          party=section.party, days=section.working_days_late,
                          count=len(entry.case_refs))
        blocks.append(Paragraph(f"{number}. {line}", indent=True))
        if section.cases:
            rows = tuple((c.ref, c.enterprise, c.region_name, f"（{c.clause}）",
                          c.due_on or entry.deadline, texts.state_label(c.state, tr))
                         for c in section.cases)
            blocks.append(Table(tr.gettext(N_("Overdue work of {party}"),
                                           party=section.party), headers, rows))
        elif entry.obligation:
            blocks.append(Paragraph(_duty_line(entry, tr), indent=True))
    issued = notice.issued_on or notice.created_at.date()
    blocks += sign_off(commission, issued, tr, contact=False)
    code = notice.code or tr.gettext(N_("(draft, not yet signed off)"))
    return OfficialDocument(title=notice_title(tr, commission),
                            blocks=number_tables(blocks, tr), sheet="notice",
                            masthead=Masthead(issuer=commission, number=code),
                            imprint=imprint(commission, issued, tr))


def _duty_line(entry: NoticeEntry, tr: Translator) -> str:
    assert entry.obligation is not None
    return tr.gettext(N_("Overdue: {what}, due {deadline}."),
                      what=duty_of(entry.obligation, tr),
                      deadline=texts.fmt_date(entry.deadline, tr))


def items_text(refs: Sequence[str], obligation: str | None, tr: Translator) -> str:
    """The cases by reference, or the yearly duty in words ("2026年…报告")."""
    if refs:
        return "、".join(refs)
    if obligation:
        return duty_of(obligation, tr)
    return ""


def notice_reply(notice: Notice, sections: Sequence[NoticeSection], *, commission: str,
                 tr: Translator, facts: NoticeFacts) -> Reply:
    """The signed 通报 as circulated: a caption naming the laggards, and the .docx."""
    from bot.render.reports.docx_util import write_docx  # python-docx: only for the file

    document = notice_document(notice, sections, commission=commission, tr=tr, facts=facts)
    buffer = io.BytesIO()
    write_docx(document, tr, buffer)
    parties = texts.separator(tr).join(dict.fromkeys(s.party for s in sections))
    caption = tr.gettext(N_("📣 Notice {code}: {parties} are named for overdue work."),
                         code=notice.code or "", parties=parties)
    return Reply(caption, document=(f"{notice.code}.docx", buffer.getvalue()))


#: The first line of a notice sent again after an attempt whose outcome is unknown.
NOTICE_REPEATED = N_("(Sent again: the outcome of the earlier sending is unknown; the number "
                     "is unchanged.)")


def repeated_notice(reply: Reply, tr: Translator) -> Reply:
    """The same notice, sent again because an earlier attempt may or may not have arrived: its
    first line says so, so that no one takes it for a second notice with the same number."""
    return replace(reply, text=f"{tr.gettext(NOTICE_REPEATED)}\n{reply.text}")


def notice_draft_reply(notice: Notice, sections: Sequence[NoticeSection], *, tr: Translator,
                       codec: ButtonCodec | None, chat_id: int) -> Reply:
    """The draft for the coordinators: who is named and why, with 签发 / 修改 / 暂缓."""
    lines = [tr.gettext(N_("📝 Draft notice (通报) for sign-off: {n} unit(s) named"),
                        n=len({s.party for s in sections}))]
    for section in sections:
        entry = section.entry
        what = items_text(entry.case_refs, entry.obligation, tr)
        if entry.step == "laggard":
            lines.append(tr.gettext(N_("· {party}: lagging, {count} overdue case(s) ({items}), "
                                       "the longest {days} working day(s) late"),
                                    party=section.party, count=len(entry.case_refs),
                                    items=what, days=section.working_days_late))
        else:
            lines.append(tr.gettext(N_("· {party}: {items}, {days} working day(s) late"),
                                    party=section.party, items=what,
                                    days=section.working_days_late))
    if notice.remark:
        lines.append(tr.gettext(N_("Opening as revised: {text}"), text=notice.remark))
    buttons: tuple[tuple[Button, ...], ...] = ()
    if notice.status == "signed":
        lines.append(tr.gettext(N_("✅ Signed off as {code} by {name}; sent to every unit."),
                                code=notice.code or "", name=notice.signed_by_name or "duban"))
    else:
        if notice.status == "held":
            lines.append(tr.gettext(N_("⏸ Held by {name}; sign it off when it should go out."),
                                    name=notice.signed_by_name or ""))
        if codec is not None:
            row = [Button(tr.gettext(N_("Sign off (签发)")),
                          codec.pack(chat_id, NoticeDecision(notice.id or 0, "sign"))),
                   Button(tr.gettext(N_("Edit (修改)")),
                          codec.pack(chat_id, NoticeDecision(notice.id or 0, "edit")))]
            if notice.status != "held":
                row.append(Button(tr.gettext(N_("Hold (暂缓)")),
                                  codec.pack(chat_id, NoticeDecision(notice.id or 0, "hold"))))
            buttons = (tuple(row),)
    return Reply("\n".join(lines), buttons)


# -- yearly duties -------------------------------------------------------------------------------


def duties_text(obligations: Sequence[Obligation], year: int, party_name: Any,
                tr: Translator) -> str:
    """``/duties``: per yearly duty, who has submitted and who has not. A joint duty (the
    work plan of （十九）: leads and the departments with them) is shown once, with its leads
    and participants."""
    lines = [tr.gettext(N_("📅 Yearly duties {year}"), year=year)]
    if not obligations:
        lines.append(tr.gettext(N_("No yearly duty is open for {year} yet."), year=year))
    by_kind: dict[str, list[Obligation]] = {}
    for obligation in obligations:
        by_kind.setdefault(obligation.kind, []).append(obligation)
    separator = texts.separator(tr)
    for kind, found in by_kind.items():
        if any(o.role == "lead" for o in found):
            lines += _joint_duty_lines(kind, found, party_name, tr)
            continue
        done = [party_name(o) for o in found if o.confirmed_at is not None]
        missing = [party_name(o) for o in found if o.confirmed_at is None]
        lines.append(tr.gettext(N_("{duty}, due {deadline}: {done} of {total} submitted"),
                                duty=duty_words(kind, tr),
                                deadline=texts.fmt_date(found[0].due, tr), done=len(done),
                                total=len(found)))
        if missing:
            lines.append(tr.gettext(N_("  not yet: {parties}"),
                                    parties=separator.join(missing)))
    return "\n".join(lines)


def _joint_duty_lines(kind: str, found: Sequence[Obligation], party_name: Any,
                      tr: Translator) -> list[str]:
    """One joint duty: submitted when its leads have all submitted; who leads, who works
    with them, each marked when it has submitted its part."""
    separator = texts.separator(tr)
    leads = [o for o in found if o.role == "lead"]
    partners = [o for o in found if o.role != "lead"]

    def named(rows: Sequence[Obligation]) -> str:
        return separator.join(
            tr.gettext(N_("{party} (submitted)"), party=party_name(o))
            if o.confirmed_at is not None else party_name(o) for o in rows)

    submitted = all(o.confirmed_at is not None for o in leads)
    lines = [tr.gettext(
        N_("{duty}, due {deadline}: one joint plan, submitted") if submitted
        else N_("{duty}, due {deadline}: one joint plan, {done} of {total} leads submitted"),
        duty=duty_words(kind, tr),
        deadline=texts.fmt_date(found[0].due, tr),
        done=sum(1 for o in leads if o.confirmed_at is not None), total=len(leads))]
    lines.append(tr.gettext(N_("  led by: {parties}"), parties=named(leads)))
    if partners:
        lines.append(tr.gettext(N_("  with: {parties}"), parties=named(partners)))
    return lines


LETTER_CAPTION = N_("📨 Year-end letter (函告) from {department} for {year}: the enterprises, "
                    "equipment and capacity closed and exited by law this year, to be counted "
                    "in the year's exit of backward capacity. File {n} of {total}.")
LETTER_FILE_MISSING = N_("The file cannot be attached: {problem}")


def letter_reply(*, department: str, year: int, number: int, total: int, kind: str,
                 name: str, content: bytes | None, problem: str | None,
                 tr: Translator) -> Reply:
    """A department's confirmed year-end letter as it reaches the departments it writes to:
    who, which year, what it is, and the file (or why the file is missing)."""
    text = tr.gettext(LETTER_CAPTION, department=department, year=year, n=number, total=total)
    if content is None:
        return Reply("\n".join([text, tr.gettext(LETTER_FILE_MISSING, problem=problem or "")]))
    if kind == "photo":
        return Reply(text, photo=content)
    return Reply(text, document=(name or tr.gettext(N_("letter")), content))


# -- summonses (约谈) -----------------------------------------------------------------------------


SUMMONS_REMINDER_LINES: Mapping[str, str] = {
    "day": N_("⏰ Reminder: the interview summons is tomorrow."),
    "today": N_("⏰ Reminder: the interview summons is today, at {time}."),
    "hour": N_("⏰ Reminder: the interview summons starts in one hour."),
}


def _reminder_line(reminder: str, summons: Summons, tr: Translator, tz: tzinfo,
                   today: date | None) -> str:
    """The day-before reminder says "tomorrow" only when the meeting is tomorrow: sent late
    (the bot was down), it says "today"."""
    meets = summons.meets_at.astimezone(tz)
    if reminder == "day" and today is not None and meets.date() <= today:
        return tr.gettext(SUMMONS_REMINDER_LINES["today"],
                          time=format_time(meets, "HH:mm", locale=tr.babel_locale))
    return tr.gettext(SUMMONS_REMINDER_LINES[reminder])


def summons_reply(summons: Summons, *, party: str, tr: Translator, tz: tzinfo,
                  codec: ButtonCodec | None, chat_id: int,
                  reminder: str | None = None, today: date | None = None,
                  proposal: ButtonCodec | None = None) -> Reply:
    """The summons, with its number (约谈〔2026〕3号); the summoned side gets RSVP buttons
    (``codec`` given); a proposed one shows the coordinators a confirm button (``proposal``
    given). The buttons carry the summons's row id, which no one reads."""
    items = items_text(summons.case_refs, summons.obligation, tr)
    lines = [_reminder_line(reminder, summons, tr, tz, today)] if reminder else []
    lines += [tr.gettext(N_("🏛 Interview summons (约谈): {leader} of {party} is called to "
                           "a meeting at {when}, {place}, about overdue work ({items})."),
                        leader=summons.leader or tr.gettext(N_("the responsible leader")),
                        party=party, when=texts.fmt_datetime(summons.meets_at, tr, tz),
                        place=summons.place, items=items),
             texts.summons_code(summons, tr)]
    if summons.rsvp:
        lines.append(tr.gettext(N_("Answer: {answer}"), answer=tr.gettext(
            N_("will attend") if summons.rsvp == "accept" else N_("cannot attend"))))
    if summons.outcome and summons.outcome.get("cancelled"):
        lines.append(tr.gettext(N_("Cancelled: the work was submitted before the meeting.")))
    elif summons.outcome:
        lines.append(tr.gettext(N_("Outcome recorded: {summary}"),
                                summary=summons.outcome.get("summary", "")))
    buttons: tuple[tuple[Button, ...], ...] = ()
    if summons.status == "proposed" and summons.outcome is None:
        lines.append(tr.gettext(N_("Proposed, not yet sent: confirm it, or change the time and "
                                   "place with /reschedule {ref} YYYY-MM-DD HH:MM [place]."),
                                ref=texts.summons_ref(summons)))
        if proposal is not None:
            return Reply("\n".join(lines), ((Button(
                tr.gettext(N_("Confirm and send")),
                proposal.pack(chat_id, ConfirmSummons(summons.id or 0))),),))
        return Reply("\n".join(lines))
    if codec is not None and summons.outcome is None:
        buttons = ((Button(tr.gettext(N_("Will attend")),
                           codec.pack(chat_id, Rsvp(summons.id or 0, accept=True))),
                    Button(tr.gettext(N_("Cannot attend")),
                           codec.pack(chat_id, Rsvp(summons.id or 0, accept=False)))),)
    return Reply("\n".join(lines), buttons)
