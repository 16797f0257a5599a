"""Command handlers: parse the command, call one service, render, send."""

from __future__ import annotations

import logging
import tempfile
from datetime import datetime
from pathlib import Path

from telegram import Update

from bot.core.buttons import Action
from bot.core.clock import local_today
from bot.core.i18n import N_, DubanError
from bot.core.org import Org
from bot.render import calendar_texts, texts
from bot.render.cards import Button, Reply, question_reply
from bot.render.reports.charts import status_chart
from bot.render.reports.county import write_county_report
from bot.services.chats import Ambiguous, BindTarget, ChatKind
from bot.services.dialogs import Flow
from handlers.common import display_name, identify, say
from handlers.context import DubanContext

log = logging.getLogger(__name__)


def _args(context: DubanContext) -> str:
    return " ".join(context.args or []).strip()


async def start(update: Update, context: DubanContext) -> None:
    await help_command(update, context)


async def help_command(update: Update, context: DubanContext) -> None:
    tr = await context.translator(update)
    identity = await identify(update, context)
    await say(update, context, texts.help_text(tr, coordinator=identity.coordinator,
                                               liaison=identity.person is not None))


async def bind(update: Update, context: DubanContext) -> None:
    tr = await context.translator(update)
    identity = await identify(update, context)
    chat = update.effective_chat
    assert chat is not None
    if not identity.coordinator:
        await say(update, context, tr.gettext(texts.COORDINATORS_ONLY))
        return
    org = await context.deps.org()
    try:
        target = context.deps.chats.resolve_target(org, _args(context))
    except DubanError as error:
        await say(update, context, error.render(tr))
        return
    if isinstance(target, Ambiguous):
        await say(update, context, Reply(
            tr.gettext(texts.CHOOSE_TARGET, query=target.query),
            tuple((Button(t.label(org), _bind_data(context, chat.id, t, org)),)
                  for t in target.candidates)))
        return
    await bind_to(update, context, target)


def _bind_data(context: DubanContext, chat_id: int, target: BindTarget, org: Org) -> str:
    if target.kind is ChatKind.DEPARTMENT:
        return context.deps.codec.pack(chat_id, Action.BIND, "d", target.department)
    names = [r.name for r in org.regions]
    return context.deps.codec.pack(chat_id, Action.BIND, "r", names.index(target.region or ""))


async def bind_to(update: Update, context: DubanContext, target: BindTarget) -> None:
    tr = await context.translator(update)
    identity = await identify(update, context)
    chat = update.effective_chat
    assert chat is not None
    org = await context.deps.org()
    await context.deps.chats.bind(chat.id, chat.title, target, identity)
    context.deps.wakeup.set()
    await say(update, context, tr.gettext(texts.BOUND, target=target.label(org)))


async def unbind(update: Update, context: DubanContext) -> None:
    tr = await context.translator(update)
    identity = await identify(update, context)
    chat = update.effective_chat
    assert chat is not None
    await context.deps.chats.unbind(chat.id, identity)
    await say(update, context, tr.gettext(texts.UNBOUND))


async def invite(update: Update, context: DubanContext) -> None:
    tr = await context.translator(update)
    identity = await identify(update, context)
    chat = update.effective_chat
    assert chat is not None
    made = await context.deps.chats.invite(chat.id, identity)
    await say(update, context, tr.gettext(
        texts.INVITE_MADE, code=made.code,
        expires=texts.fmt_datetime(made.expires_at, tr, context.deps.tz)))


async def join(update: Update, context: DubanContext) -> None:
    tr = await context.translator(update)
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    code = _args(context)
    if not code:
        await say(update, context, tr.gettext(texts.JOIN_USAGE))
        return
    person = await context.deps.chats.join(chat.id, user.id, display_name(update), code)
    org = await context.deps.org()
    target = (BindTarget(ChatKind.DEPARTMENT, department=person.department_key)
              if person.department_key else BindTarget(ChatKind.REGION,
                                                       region=person.region_name))
    await say(update, context, tr.gettext(texts.JOINED, name=person.name,
                                          target=target.label(org)))


async def whoami(update: Update, context: DubanContext) -> None:
    tr = await context.translator(update)
    identity = await identify(update, context)
    org = await context.deps.org()
    person = identity.person
    belongs = None
    if person and person.department_key:
        belongs = BindTarget(ChatKind.DEPARTMENT, department=person.department_key).label(org)
    elif person and person.region_name:
        belongs = person.region_name
    chat_target = None
    if identity.binding is not None:
        chat_target = BindTarget(ChatKind(identity.binding.kind),
                                 department=identity.binding.department_key,
                                 region=identity.binding.region_name).label(org)
    role = "coordinator" if identity.coordinator else ("liaison" if person else "outsider")
    await say(update, context, texts.whoami_text(
        tr, name=identity.name, user_id=identity.user_id, role=role, belongs_to=belongs,
        chat_target=chat_target))


async def lang(update: Update, context: DubanContext) -> None:
    chat = update.effective_chat
    assert chat is not None
    choice = _args(context).lower()
    if choice not in ("zh", "en", "zh_cn", "zh-cn", "中文", "english"):
        tr = await context.translator(update)
        await say(update, context, tr.gettext(texts.LANG_USAGE))
        return
    locale = await context.deps.chats.set_locale(
        chat.id, "en" if choice in ("en", "english") else "zh_CN")
    tr = await context.translator(update)
    await say(update, context, tr.gettext(texts.LANG_SET) if locale == "en" else
              tr.gettext(N_("Language set to Simplified Chinese.")))


async def newcase(update: Update, context: DubanContext) -> None:
    tr = await context.translator(update)
    identity = await identify(update, context)
    chat = update.effective_chat
    assert chat is not None and update.update_id is not None
    if not identity.coordinator:
        await say(update, context, tr.gettext(texts.COORDINATORS_ONLY))
        return
    question = await context.deps.dialogs.start(chat.id, identity.user_id, Flow.NEW_CASE, {},
                                                update.update_id)
    await say(update, context, question_reply(question, tr, context.deps.codec, chat.id))


async def cancel(update: Update, context: DubanContext) -> None:
    tr = await context.translator(update)
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    cancelled = await context.deps.dialogs.cancel(chat.id, user.id)
    await say(update, context, tr.gettext(texts.CANCELLED if cancelled
                                          else texts.NOTHING_TO_CANCEL))


async def status(update: Update, context: DubanContext) -> None:
    tr = await context.translator(update)
    org = await context.deps.org()
    query = _args(context)
    region = org.resolve_region(query).name if query else None
    today = local_today(context.deps.clock)
    result = await context.deps.status.status(today, region)
    await say(update, context, texts.status_text(
        result, tr, org.alias_table(), title=region or org.prefecture.name, year=today.year))
    try:
        figures = await context.deps.reports.status_figures(org, today=today, region=region)
        chart = status_chart(figures, tr, title_place=org.prefecture.name, today=today,
                             region=region)
    except DubanError as error:  # no Chinese font on this machine: the numbers are enough
        log.warning("status chart skipped: %s", error)
        return
    await say(update, context, Reply(tr.gettext(texts.STATUS_CHART), photo=chart))


async def report(update: Update, context: DubanContext) -> None:
    """/report 玛纳斯县 2026: the 30 November county report as .xlsx and .docx."""
    tr = await context.translator(update)
    args = list(context.args or [])
    today = local_today(context.deps.clock)
    if not args:
        await say(update, context, tr.gettext(texts.REPORT_USAGE))
        return
    year = int(args[1]) if len(args) > 1 and args[1].isdigit() else today.year
    org = await context.deps.org()
    loaded = await context.deps.reports.county_report(org, args[0], year=year, today=today)
    with tempfile.TemporaryDirectory() as folder:
        files = write_county_report(loaded, tr, Path(folder))
        for path in (files.xlsx, files.docx):
            await say(update, context, Reply(tr.gettext(texts.REPORT_SENT, name=path.name),
                                             document=(path.name, path.read_bytes())))


async def case(update: Update, context: DubanContext) -> None:
    tr = await context.translator(update)
    ref = _args(context)
    if not ref:
        await say(update, context, tr.gettext(texts.CASE_USAGE))
        return
    org = await context.deps.org()
    view = await context.deps.cases.get(ref)
    await say(update, context, texts.case_detail(view, tr, org.alias_table(),
                                                 context.deps.tz))


async def overdue(update: Update, context: DubanContext) -> None:
    tr = await context.translator(update)
    identity = await identify(update, context)
    binding = identity.binding
    found = await context.deps.status.overdue(
        local_today(context.deps.clock),
        region=binding.region_name if binding else None,
        department=binding.department_key if binding else None)
    await say(update, context, texts.case_list_text(
        found, tr, title=N_("Overdue: {n}"), empty=N_("Nothing is overdue.")))


async def mine(update: Update, context: DubanContext) -> None:
    tr = await context.translator(update)
    identity = await identify(update, context)
    binding = identity.binding
    if binding is None or binding.kind == ChatKind.COORDINATION:
        await say(update, context, tr.gettext(texts.NOT_BOUND))
        return
    items = await context.deps.status.open_for(department=binding.department_key,
                                               region=binding.region_name)
    lines = [texts.case_line(item, tr) + (
        f" · {tr.gettext(texts.STATUS_LABELS[status])}" if status else "")
        for item, status in items]
    await say(update, context, "\n".join([tr.gettext(N_("Open items: {n}"), n=len(items)),
                                          *lines]))


async def lists(update: Update, context: DubanContext) -> None:
    tr = await context.translator(update)
    which = _args(context).lower()
    if which not in ("yellow", "red", "黄牌", "红牌"):
        await say(update, context, tr.gettext(texts.LISTS_USAGE))
        return
    key = "yellow" if which in ("yellow", "黄牌") else "red"
    found = await context.deps.status.listed(key)
    title = N_("Yellow card list: {n}") if key == "yellow" else N_("Red card list: {n}")
    await say(update, context, texts.case_list_text(found, tr, title=title,
                                                    empty=N_("The list is empty.")))


# -- the calendar: coordinators' controls and summonses ------------------------------------------


async def pause(update: Update, context: DubanContext) -> None:
    await _control(update, context, "pause")


async def resume(update: Update, context: DubanContext) -> None:
    await _control(update, context, "resume")


async def skip(update: Update, context: DubanContext) -> None:
    await _control(update, context, "skip")


async def _control(update: Update, context: DubanContext, what: str) -> None:
    tr = await context.translator(update)
    identity = await identify(update, context)
    chat = update.effective_chat
    assert chat is not None
    args = list(context.args or [])
    needed = 3 if what == "skip" else 2
    if len(args) < needed:
        await say(update, context, tr.gettext(texts.CONTROL_USAGE))
        return
    who = identity.who(chat.id)
    if what == "skip":
        await context.deps.calendar.skip(args[0], args[1], " ".join(args[2:]), who)
    else:
        await context.deps.calendar.set_paused(args[0], what == "pause", " ".join(args[1:]),
                                               who)
    await say(update, context, tr.gettext(texts.DONE))


async def summons(update: Update, context: DubanContext) -> None:
    tr = await context.translator(update)
    arg = _args(context)
    if not arg.isdigit():
        await say(update, context, tr.gettext(texts.SUMMONS_USAGE))
        return
    found = await context.deps.calendar.summons(int(arg))
    org = await context.deps.org()
    party = (org.alias_table().name(found.party, tr.locale)
             if found.party_kind == "department" else found.party)
    await say(update, context, calendar_texts.summons_reply(
        found, party=party, tr=tr, tz=context.deps.tz, codec=None, chat_id=0))


async def reschedule(update: Update, context: DubanContext) -> None:
    tr = await context.translator(update)
    identity = await identify(update, context)
    chat = update.effective_chat
    assert chat is not None
    args = list(context.args or [])
    if len(args) < 3 or not args[0].isdigit():
        await say(update, context, tr.gettext(texts.RESCHEDULE_USAGE))
        return
    try:
        when = datetime.fromisoformat(f"{args[1]}T{args[2]}").replace(
            tzinfo=context.deps.tz)
    except ValueError:
        await say(update, context, tr.gettext(texts.RESCHEDULE_USAGE))
        return
    await context.deps.calendar.reschedule(int(args[0]), when, " ".join(args[3:]) or None,
                                           identity.who(chat.id))
    context.deps.wakeup.set()
    await say(update, context, tr.gettext(texts.DONE))


async def outcome(update: Update, context: DubanContext) -> None:
    tr = await context.translator(update)
    identity = await identify(update, context)
    chat = update.effective_chat
    assert chat is not None and update.update_id is not None
    arg = _args(context)
    if not identity.coordinator:
        await say(update, context, tr.gettext(texts.COORDINATORS_ONLY))
        return
    if not arg.isdigit():
        await say(update, context, tr.gettext(texts.SUMMONS_USAGE))
        return
    await context.deps.calendar.summons(int(arg))  # a clear error when it does not exist
    question = await context.deps.dialogs.start(chat.id, identity.user_id, Flow.OUTCOME,
                                                {"summons_id": int(arg)}, update.update_id)
    await say(update, context, question_reply(question, tr, context.deps.codec, chat.id))
