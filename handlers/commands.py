"""Command handlers: parse the command (``bot.core.commands``), call one service, render, send.

A refusal or a bad argument is a :class:`DubanError` raised by the parser or the service; the
error handler (``handlers.errors``) answers it in the reader's language.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from collections.abc import Awaitable
from pathlib import Path

from telegram import Update

from bot.core import commands as parse
from bot.core import inspections as inspection_words
from bot.core.buttons import BindChat, region_code
from bot.core.clock import local_today
from bot.core.i18n import DubanError
from bot.core.tasks import TaskStatus
from bot.core.workflow import CASE_CLAUSES, State, clause_terms
from bot.render import board as board_texts
from bot.render import calendar_texts, cards, texts
from bot.render import evidence as evidence_texts
from bot.render import inspections as inspection_texts
from bot.render import search as search_texts
from bot.render import tasks as task_texts
from bot.render.cards import Button, Reply, question_reply
from bot.render.reports.county import write_county_report
from bot.services import access
from bot.services.cases import CaseView
from bot.services.chats import Ambiguous, BindTarget, ChatKind
from bot.services.dialogs import Question
from bot.services.inspections import Inspection
from handlers.answers import send_answer, with_answer
from handlers.common import display_name, identify, reader, say
from handlers.context import DubanContext
from handlers.delivery import card_context


def _args(context: DubanContext) -> str:
    return parse.words(" ".join(context.args or []))


def _chat_id(update: Update) -> int:
    chat = update.effective_chat
    assert chat is not None
    return chat.id


async def _ask(update: Update, context: DubanContext, work: Awaitable[Question]) -> None:
    """Start a dialog (``work``) and ask its first question; the question commits with the
    dialog (``handlers.answers``)."""

    async def render(question: Question) -> Reply:
        tr = await context.translator(update)
        return question_reply(question, tr, context.deps.codec, _chat_id(update))

    _, reply = await with_answer(update, context, work, render)
    assert reply is not None
    await send_answer(update, context, reply)


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
    identity.require_coordinator()
    chat_id = _chat_id(update)
    org = await context.deps.org()
    target = context.deps.chats.resolve_target(org, _args(context))
    if isinstance(target, Ambiguous):
        await say(update, context, Reply(
            tr.gettext(texts.CHOOSE_TARGET, query=target.query),
            tuple((Button(t.label(org), _bind_data(context, chat_id, t)),)
                  for t in target.candidates)))
        return
    await bind_to(update, context, target)


def _bind_data(context: DubanContext, chat_id: int, target: BindTarget) -> str:
    if target.kind is ChatKind.DEPARTMENT:
        return context.deps.codec.pack(chat_id, BindChat(department=target.department))
    return context.deps.codec.pack(chat_id, BindChat(region=region_code(target.region or "")))


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
    await context.deps.chats.unbind(_chat_id(update), identity)
    await say(update, context, tr.gettext(texts.UNBOUND))


async def invite(update: Update, context: DubanContext) -> None:
    tr = await context.translator(update)
    identity = await identify(update, context)
    made = await context.deps.chats.invite(_chat_id(update), identity)
    await say(update, context, tr.gettext(
        texts.INVITE_MADE, code=made.code,
        expires=texts.fmt_datetime(made.expires_at, tr, context.deps.tz)))


async def join(update: Update, context: DubanContext) -> None:
    tr = await context.translator(update)
    user = update.effective_user
    assert user is not None
    code = parse.require_text(_args(context), parse.JOIN_USAGE)
    person = await context.deps.chats.join(_chat_id(update), user.id, display_name(update),
                                           code)
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
    belongs, here = identity.belongs_to(), identity.chat_target()
    await say(update, context, texts.whoami_text(
        tr, name=identity.name, user_id=identity.user_id, role=identity.role,
        belongs_to=belongs.label(org) if belongs else None,
        chat_target=here.label(org) if here else None))


async def lang(update: Update, context: DubanContext) -> None:
    locale = parse.parse_language(_args(context))
    await context.deps.chats.set_locale(_chat_id(update), locale)
    tr = await context.translator(update)
    done = texts.LANG_SET if locale == "en" else texts.LANG_SET_ZH
    await say(update, context, tr.gettext(done))


async def newcase(update: Update, context: DubanContext) -> None:
    identity = await identify(update, context)
    chat_id = _chat_id(update)
    await _ask(update, context, context.deps.dialogs.start_new_case(
        chat_id, identity.who(chat_id), update.update_id))


async def cancel(update: Update, context: DubanContext) -> None:
    tr = await context.translator(update)
    user = update.effective_user
    assert user is not None
    cancelled = await context.deps.dialogs.cancel(_chat_id(update), user.id)
    await say(update, context, tr.gettext(texts.CANCELLED if cancelled
                                          else texts.NOTHING_TO_CANCEL))


async def status(update: Update, context: DubanContext) -> None:
    """/status [COUNTY]: the prefecture to coordinators, a county to its liaisons as well."""
    tr = await context.translator(update)
    org = await context.deps.org()
    who, commission = await reader(update, context), org.prefecture.commission
    query = _args(context)
    region = access.status_place(who, commission=commission) if not query else None
    if query:
        access.require_reader(who, commission=commission)
        region = org.resolve_region(query).name
        access.require_region_reader(who, region, commission=commission)
    today = local_today(context.deps.clock)
    result = await context.deps.status.status(today, region)
    message = texts.status_text(result, tr, org.alias_table(),
                                title=region or org.prefecture.name, year=today.year)
    if region is None:  # the prefecture's view names who moves slowly (clause 二十)
        regions, departments = await context.deps.status.ranking(today)
        if regions or departments:
            message += "\n\n" + texts.ranking_text(regions, departments, tr, org.alias_table())
    await say(update, context, message)
    # The chart, sized for a phone; with no usable Chinese font its DubanError says so.
    # (matplotlib is imported by the first chart, not with the bot.)
    from bot.render.reports.charts import status_chart

    figures = await context.deps.reports.status_figures(org, today=today, region=region)
    chart = status_chart(figures, tr, title_place=org.prefecture.name, today=today,
                         region=region)
    await say(update, context, Reply(chart.caption, photo=chart.png))


async def board(update: Update, context: DubanContext) -> None:
    """/board: the prefecture's 红黄绿灯 board, as text and as a picture, to those who read the
    prefecture's figures (a county's liaison is told whom to ask)."""
    tr = await context.translator(update)
    org = await context.deps.org()
    access.require_prefecture_reader(await reader(update, context),
                                     commission=org.prefecture.commission)
    found = await context.deps.board.board(local_today(context.deps.clock))
    place, aliases = org.prefecture.name, org.alias_table()
    await say(update, context, board_texts.board_text(found, tr, aliases, place=place,
                                                      limit=board_texts.CHAT_LIMIT))
    from bot.render.reports.board_chart import board_chart  # matplotlib, on first use

    chart = board_chart(found, tr, aliases, place=place)
    await say(update, context, Reply(chart.caption, photo=chart.png))


async def ledger(update: Update, context: DubanContext) -> None:
    """/ledger [YEAR]: the year's ledger (台账) as an .xlsx document, to coordinators."""
    tr = await context.translator(update)
    org = await context.deps.org()
    access.require_prefecture_reader(await reader(update, context),
                                     commission=org.prefecture.commission)
    today = local_today(context.deps.clock)
    year = parse.parse_year(_args(context), today, parse.LEDGER_USAGE)
    found = await context.deps.ledger.ledger(year, today)
    from bot.render.reports.ledger import ledger_file_name, write_ledger  # openpyxl, on use

    name = ledger_file_name(year, tr)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        count = await write_ledger(found, tr, org, context.deps.tz, path)
        await say(update, context, Reply(
            texts.ledger_sent(year, count, tr),
            document=(name, path.read_bytes())))


async def report(update: Update, context: DubanContext) -> None:
    """/report 玛纳斯县 2026: the 30 November county report as .xlsx and .docx, to coordinators
    and the county's liaisons."""
    tr = await context.translator(update)
    today = local_today(context.deps.clock)
    org = await context.deps.org()
    who, commission = await reader(update, context), org.prefecture.commission
    access.require_reader(who, commission=commission)
    wanted = parse.parse_report(list(context.args or []), today)
    county = org.resolve_region(wanted.county)
    access.require_region_reader(who, county.name, commission=commission)
    loaded = await context.deps.reports.county_report(org, county.name, year=wanted.year,
                                                      today=today)
    with tempfile.TemporaryDirectory() as folder:
        files = write_county_report(loaded, tr, Path(folder))
        for path in (files.xlsx, files.docx):
            await say(update, context, Reply(tr.gettext(texts.REPORT_SENT, name=path.name),
                                             document=(path.name, path.read_bytes())))


#: What a case reference looks like (CZ-2026-001, 2026/4-17): latin letters and digits in
#: parts, with a digit; an unknown one is answered as a reference, not as a search.
_REF_LIKE = re.compile(r"(?=.*[0-9])[A-Za-z0-9]+(?:[-_/.][A-Za-z0-9]+)+")


async def case(update: Update, context: DubanContext) -> None:
    """/case REF: to coordinators, the liaisons of its departments and of its county, with a
    button for each evidence file. /case 宏达 (not a reference): the readable cases whose
    enterprise it names; one is shown, several are offered as buttons."""
    tr = await context.translator(update)
    org = await context.deps.org()
    who, commission = await reader(update, context), org.prefecture.commission
    access.require_reader(who, commission=commission)
    query = parse.require_text(_args(context), parse.CASE_USAGE)
    known = await context.deps.cases.find_refs(list(dict.fromkeys((query, query.upper()))))
    if known:
        await show_case(update, context, await context.deps.cases.get(known[0].ref))
        return
    found = await context.deps.cases.search(query, who)
    if not found and _REF_LIKE.fullmatch(query):
        await context.deps.cases.get(query)  # "No case with reference …"
    if not found:
        raise DubanError(search_texts.NO_CASE_FOUND, query=query)
    if len(found) == 1:
        await show_case(update, context, await context.deps.cases.get(found[0].ref))
        return
    await say(update, context, search_texts.search_reply(found, query, tr, context.deps.codec,
                                                         _chat_id(update)))


async def show_case(update: Update, context: DubanContext, view: CaseView) -> None:
    """A case in full with its evidence buttons, if the reader (here, now) may read it."""
    tr = await context.translator(update)
    org = await context.deps.org()
    access.require_case_reader(await reader(update, context), view.case.region_name,
                               (a.department_key for a in view.assignments),
                               commission=org.prefecture.commission)
    reply = evidence_texts.case_reply(
        view, tr, org.alias_table(), context.deps.tz, context.deps.codec, _chat_id(update))
    linked = await context.deps.tasks.find(case_id=view.case.id)
    if linked:  # the measures that follow it (（十四） resettlement, …)
        ctx = await card_context(context.deps, _chat_id(update))
        reply = dataclasses.replace(reply, text=f"{reply.text}\n\n"
                                    f"{task_texts.linked_text(linked, ctx)}")
    await say(update, context, reply)


async def overdue(update: Update, context: DubanContext) -> None:
    """/overdue: the overdue cases the reader may read (their room's, or their own party's)."""
    tr = await context.translator(update)
    org = await context.deps.org()
    scope = access.overdue_scope(await reader(update, context),
                                 commission=org.prefecture.commission)
    found = await context.deps.status.overdue(local_today(context.deps.clock),
                                              region=scope.region, department=scope.department)
    await say(update, context, texts.case_list_text(
        found, tr, title=texts.OVERDUE_TITLE, empty=texts.NOTHING_OVERDUE))


async def mine(update: Update, context: DubanContext) -> None:
    tr = await context.translator(update)
    identity = await identify(update, context)
    binding = identity.binding
    department = region = None
    if binding is not None and binding.kind != ChatKind.COORDINATION:
        department, region = binding.department_key, binding.region_name
    elif identity.person is not None and not identity.coordinator:
        department, region = identity.person.department_key, identity.person.region_name
    if department or region:
        items = await context.deps.status.open_for(department=department, region=region)
        text = texts.open_items_text(items, tr)
        if department:  # and the department's tasks waiting for its report
            owed = [v for v in await context.deps.tasks.find(
                statuses=[TaskStatus.LIVE], department=department) if v.open_duty(department)]
            if owed:
                ctx = await card_context(context.deps, _chat_id(update), department)
                text += "\n\n" + task_texts.owed_text(owed, department, ctx)
        await say(update, context, text)
        return
    if not identity.coordinator:
        await say(update, context, tr.gettext(texts.NOT_BOUND))
        return
    # The coordinators' own work, in their group or privately.
    queue = await context.deps.cases.coordinator_queue()
    extensions = await context.deps.cases.find(states=[State.EXTENSION_REQUESTED.value])
    reviews = await context.deps.cases.find(states=[State.REVIEW.value])
    notices, summonses = await context.deps.calendar.awaiting_sign_off()
    unbound = await context.deps.calendar.waiting_for_chats()
    org = await context.deps.org()
    text = texts.coordinator_work_text(
        [v.case for v in queue], extensions, notices, summonses, tr,
        party=lambda kind, key: texts.party_name(org, kind, key, tr.locale), unbound=unbound,
        reviews=reviews)
    waiting = await context.deps.tasks.find(statuses=[TaskStatus.PROPOSED, TaskStatus.REVIEW])
    if waiting:
        ctx = await card_context(context.deps, _chat_id(update))
        text += "\n\n" + task_texts.coordinators_text(waiting, ctx)
    await say(update, context, text)


async def lists(update: Update, context: DubanContext) -> None:
    tr = await context.translator(update)
    key = parse.parse_card_list(_args(context))
    found = await context.deps.status.listed(key)
    await say(update, context, texts.case_list_text(found, tr, title=texts.LIST_TITLES[key],
                                                    empty=texts.LIST_EMPTY))


async def duties(update: Update, context: DubanContext) -> None:
    """/duties [YEAR]: every yearly duty, who has submitted and who has not."""
    tr = await context.translator(update)
    year = parse.parse_year(_args(context), local_today(context.deps.clock), parse.DUTIES_USAGE)
    org = await context.deps.org()
    found = await context.deps.calendar.obligations(year=year)
    await say(update, context, calendar_texts.duties_text(
        found, year, lambda o: texts.party_name(org, o.party_kind, o.party, tr.locale), tr))


# -- the calendar: coordinators' controls and summonses ------------------------------------------


async def pause(update: Update, context: DubanContext) -> None:
    await _set_paused(update, context, paused=True)


async def resume(update: Update, context: DubanContext) -> None:
    await _set_paused(update, context, paused=False)


async def _set_paused(update: Update, context: DubanContext, *, paused: bool) -> None:
    tr = await context.translator(update)
    identity = await identify(update, context)
    wanted = parse.parse_control(list(context.args or []), with_step=False)
    await context.deps.calendar.set_paused(wanted.ref, paused, wanted.reason,
                                           identity.who(_chat_id(update)))
    await say(update, context, tr.gettext(texts.DONE))


async def skip(update: Update, context: DubanContext) -> None:
    tr = await context.translator(update)
    identity = await identify(update, context)
    wanted = parse.parse_control(list(context.args or []), with_step=True)
    assert wanted.step is not None
    await context.deps.calendar.skip(wanted.ref, wanted.step, wanted.reason,
                                     identity.who(_chat_id(update)))
    await say(update, context, tr.gettext(texts.DONE))


async def summons(update: Update, context: DubanContext) -> None:
    tr = await context.translator(update)
    org = await context.deps.org()
    who, commission = await reader(update, context), org.prefecture.commission
    access.require_reader(who, commission=commission)
    found = await context.deps.calendar.numbered_summons(
        parse.parse_summons_number(_args(context), parse.SUMMONS_USAGE))
    department = found.party if found.party_kind == "department" else None
    access.require_party_reader(who, commission=commission, department=department,
                                region=None if department else found.party)
    await say(update, context, calendar_texts.summons_reply(
        found, party=texts.party_name(org, found.party_kind, found.party, tr.locale), tr=tr,
        tz=context.deps.tz, codec=None, chat_id=0))


async def reschedule(update: Update, context: DubanContext) -> None:
    tr = await context.translator(update)
    identity = await identify(update, context)
    wanted = parse.parse_reschedule(list(context.args or []), context.deps.tz)

    async def done(_moved: object) -> Reply:
        return Reply(tr.gettext(texts.DONE))

    _, reply = await with_answer(update, context, context.deps.calendar.reschedule(
        wanted.summons, wanted.when, wanted.place, identity.who(_chat_id(update))), done)
    context.deps.wakeup.set()
    assert reply is not None
    await send_answer(update, context, reply)


async def outcome(update: Update, context: DubanContext) -> None:
    identity = await identify(update, context)
    chat_id = _chat_id(update)
    identity.require_coordinator()
    wanted = parse.parse_summons_number(_args(context), parse.SUMMONS_USAGE)
    await _ask(update, context, context.deps.dialogs.start_outcome(
        chat_id, identity.who(chat_id), wanted, update.update_id))


async def policy(update: Update, context: DubanContext) -> None:
    """/policy 四: a clause of the source document, as the card's clause line points to."""
    tr = await context.translator(update)
    query = _args(context)
    if not query:
        raise DubanError(texts.POLICY_USAGE)
    clause = context.deps.catalog.find_clause(query)
    terms = clause_terms(context.deps.catalog, clause.ref) if clause.ref in CASE_CLAUSES else None
    await say(update, context, cards.policy_text(clause, tr, terms))


# -- inspections (clause 三 of the cover letter) ------------------------------------------------


async def inspection(update: Update, context: DubanContext) -> None:
    """/inspection: record an inspection (a county's joint one in its chat, the commission's
    elsewhere); /inspection plan DATE PLACES DEPARTMENTS: schedule the commission's."""
    identity = await identify(update, context)
    chat_id = _chat_id(update)
    args = list(context.args or [])
    if inspection_words.is_plan(args):
        await _plan_inspection(update, context, args)
        return
    binding = identity.binding
    await _ask(update, context, context.deps.dialogs.start_inspection(
        chat_id, identity.who(chat_id), binding.region_name if binding else None,
        update.update_id))


async def _plan_inspection(update: Update, context: DubanContext, args: list[str]) -> None:
    tr = await context.translator(update)
    identity = await identify(update, context)
    identity.require_coordinator()
    org = await context.deps.org()
    wanted = inspection_words.parse_plan(args, org, local_today(context.deps.clock))

    async def done(planned: Inspection) -> Reply:
        return Reply(inspection_texts.planned_reply(planned, tr))

    _, reply = await with_answer(update, context, context.deps.inspections.plan(
        wanted.day, wanted.regions, wanted.departments, identity.who(_chat_id(update))), done)
    context.deps.wakeup.set()
    assert reply is not None
    await send_answer(update, context, reply)


async def inspections(update: Update, context: DubanContext) -> None:
    """/inspections [PLACE] [YEAR]: the year's inspections and the problems they found."""
    tr = await context.translator(update)
    org = await context.deps.org()
    who = await reader(update, context)
    wanted = inspection_words.parse_list(list(context.args or []), org,
                                         local_today(context.deps.clock))
    found = await context.deps.inspections.overview(
        who, year=wanted.year, region=wanted.region, commission=org.prefecture.commission)
    await say(update, context, inspection_texts.listing(
        found.views, found.overdue, org, tr, year=found.year, region=found.region))
