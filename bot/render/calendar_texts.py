"""The calendar's messages: digests of nudges and reminders, notices (通报) with their
document, and interview summonses (约谈). Transport-neutral: text, buttons, file bytes."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, tzinfo
from typing import Any

from bot.core.buttons import ButtonCodec, ConfirmDuty, Rsvp
from bot.core.departments import AliasTable
from bot.core.i18n import N_, Translator
from bot.render import texts
from bot.render.cards import Button, Reply
from bot.render.reports import Document, Paragraph, Table
from bot.render.reports.docx_util import write_docx
from models.tables import Case, Notice, Summons
from scheduler.rules import OBLIGATION_LABELS

DIGEST_HEADER = N_("⏰ duban reminders for {date}:")
LINES: Mapping[str, str] = {
    "nudge": N_("· {ref} ({enterprise}): deadline {deadline}, {days} day(s) left"),
    "overdue": N_("· ⚠ {ref} ({enterprise}): overdue since {deadline}"),
    "reminder": N_("· ⚠⚠ second reminder: {ref} ({enterprise}) overdue since {deadline}"),
    "reminder_cc": N_("· ⚠⚠ {party}: {ref} ({enterprise}) overdue since {deadline}"),
    "unaccepted_reminder": N_("· 📥 {ref} ({enterprise}) is waiting for your acceptance"),
    "unaccepted_alert": N_("· 📥 {party} has not accepted {ref} ({enterprise}) since "
                           "{deadline}"),
    "credit_flag": N_("· ⛔ {ref} ({enterprise}) missed its exit deadline {deadline}: flag it "
                      "for the joint credit measures of clause (17)"),
    "obligation": N_("· 📅 {duty} ({year}): due {deadline}"),
    "obligation_overdue": N_("· ⚠ {duty} ({year}) of {party}: overdue since {deadline}"),
}
CASE_LINK = N_("Details: /case {ref}")
CONFIRM_DUTY = N_("Confirm: {duty}")


def _line(entry: Mapping[str, Any], ctx: DigestContext) -> str:
    tr = ctx.tr
    deadline = date.fromisoformat(entry["deadline"]) if entry.get("deadline") else None
    party = _party(entry, ctx)
    common: dict[str, Any] = {"deadline": texts.fmt_date(deadline, tr), "party": party}
    if entry.get("obligation"):
        kind, year = str(entry["obligation"]).split("/")
        overdue = entry["step"] != "" and not str(entry["step"]).startswith("T-")
        template = LINES["obligation_overdue" if overdue else "obligation"]
        return tr.gettext(template, duty=tr.gettext(OBLIGATION_LABELS.get(kind, kind)),
                          year=year, **common)
    refs = list(entry.get("case_refs") or [])
    ref = refs[0] if refs else "?"
    enterprise = ctx.enterprises.get(ref, "")
    step = str(entry["step"])
    if step.startswith("T-"):
        days = (deadline - ctx.today).days if deadline else 0
        return tr.gettext(LINES["nudge"], ref=ref, enterprise=enterprise, days=days, **common)
    template = LINES.get(step) or LINES.get(str(entry["kind"])) or LINES["overdue"]
    return tr.gettext(template, ref=ref, enterprise=enterprise, **common)


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


def digest(entries: Sequence[Mapping[str, Any]], ctx: DigestContext,
           for_party: bool) -> Reply:
    """One message listing every item for one chat; duty items get a confirm button."""
    tr = ctx.tr
    lines = [tr.gettext(DIGEST_HEADER, date=texts.fmt_date(ctx.today, tr))]
    lines += [_line(entry, ctx) for entry in entries]
    refs = sorted({ref for e in entries for ref in e.get("case_refs") or []})
    if refs:
        lines.append(" ".join(tr.gettext(CASE_LINK, ref=ref) for ref in refs[:5]))
    buttons = []
    if for_party:
        for entry in entries:
            if entry.get("obligation_id"):
                kind = str(entry["obligation"]).split("/")[0]
                label = tr.gettext(CONFIRM_DUTY,
                                   duty=tr.gettext(OBLIGATION_LABELS.get(kind, kind)))
                buttons.append((Button(label[:60], ctx.codec.pack(
                    ctx.chat_id, ConfirmDuty(int(entry["obligation_id"])))),))
    return Reply("\n".join(lines), tuple(dict.fromkeys(buttons)))


# -- notices (通报) -------------------------------------------------------------------------------


def notice_document(notice: Notice, cases: Sequence[Case], *, commission: str, party: str,
                    tr: Translator) -> Document:
    title = tr.gettext(N_("Notice on {party}'s overdue work on backward production capacity"),
                       party=party)
    rows = tuple((c.ref, c.enterprise, c.region_name, f"（{c.clause}）",
                  c.deadline or notice.deadline, texts.state_label(c.state, tr)) for c in cases)
    blocks: list[Any] = [
        Paragraph(notice.code, align="center"),
        Paragraph(tr.gettext(N_("To every county, park and department:")), indent=False),
        Paragraph(tr.gettext(N_(
            "{party} has not completed the following work by its deadline, and has not done so "
            "seven working days after it. Under clause (20) of the guiding opinion this is "
            "notified to all parties. {party} is asked to complete it at once and report to "
            "{commission}."), party=party, commission=commission), indent=True),
    ]
    if rows:
        blocks.append(Table(tr.gettext(N_("Overdue work")), (
            tr.gettext(N_("Reference")), tr.gettext(N_("Enterprise")),
            tr.gettext(N_("County or park")), tr.gettext(N_("Clause")),
            tr.gettext(N_("Deadline")), tr.gettext(N_("State"))), rows))
    elif notice.obligation:
        kind, year = notice.obligation.split("/")
        blocks.append(Paragraph(tr.gettext(N_("Overdue: {duty} ({year}), due {deadline}."),
                                           duty=tr.gettext(OBLIGATION_LABELS.get(kind, kind)),
                                           year=year,
                                           deadline=texts.fmt_date(notice.deadline, tr)),
                                indent=True))
    blocks += [Paragraph(commission, align="right"),
               Paragraph(texts.fmt_date(notice.issued_on, tr), align="right")]
    return Document(title=title, blocks=tuple(blocks), sheet="notice")


def items_text(refs: Sequence[str], obligation: str | None, tr: Translator) -> str:
    """The cases by reference, or the yearly duty in words ("2026年…报告")."""
    if refs:
        return "、".join(refs)
    if obligation:
        kind, year = obligation.split("/")
        return tr.gettext(N_("{duty} ({year})"), duty=tr.gettext(OBLIGATION_LABELS.get(kind, kind)),
                          year=year)
    return ""


def notice_reply(notice: Notice, cases: Sequence[Case], *, commission: str, party: str,
                 tr: Translator) -> Reply:
    document = notice_document(notice, cases, commission=commission, party=party, tr=tr)
    buffer = io.BytesIO()
    write_docx(document, tr, buffer)
    refs = items_text(notice.case_refs, notice.obligation, tr)
    caption = tr.gettext(N_("📣 Notice {code}: {party} is overdue ({items})."),
                         code=notice.code, party=party, items=refs)
    return Reply(caption, document=(f"{notice.code}.docx", buffer.getvalue()))


# -- summonses (约谈) -----------------------------------------------------------------------------


SUMMONS_REMINDER_LINES: Mapping[str, str] = {
    "day": N_("⏰ Reminder: the interview summons is tomorrow."),
    "hour": N_("⏰ Reminder: the interview summons starts in one hour."),
}


def summons_reply(summons: Summons, *, party: str, tr: Translator, tz: tzinfo,
                  codec: ButtonCodec | None, chat_id: int,
                  reminder: str | None = None) -> Reply:
    """The summons; the summoned side gets RSVP buttons (``codec`` given)."""
    items = items_text(summons.case_refs, summons.obligation, tr)
    lines = [tr.gettext(SUMMONS_REMINDER_LINES[reminder])] if reminder else []
    lines += [tr.gettext(N_("🏛 Interview summons (约谈): {leader} of {party} is called to "
                           "a meeting at {when}, {place}, about overdue work ({items})."),
                        leader=summons.leader or tr.gettext(N_("the responsible leader")),
                        party=party, when=texts.fmt_datetime(summons.meets_at, tr, tz),
                        place=summons.place, items=items),
             tr.gettext(N_("Summons number {id}."), id=summons.id)]
    if summons.rsvp:
        lines.append(tr.gettext(N_("Answer: {answer}"), answer=tr.gettext(
            N_("will attend") if summons.rsvp == "accept" else N_("cannot attend"))))
    if summons.outcome:
        lines.append(tr.gettext(N_("Outcome recorded: {summary}"),
                                summary=summons.outcome.get("summary", "")))
    buttons: tuple[tuple[Button, ...], ...] = ()
    if codec is not None and summons.outcome is None:
        buttons = ((Button(tr.gettext(N_("Will attend")),
                           codec.pack(chat_id, Rsvp(summons.id or 0, accept=True))),
                    Button(tr.gettext(N_("Cannot attend")),
                           codec.pack(chat_id, Rsvp(summons.id or 0, accept=False)))),)
    return Reply("\n".join(lines), buttons)
