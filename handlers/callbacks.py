"""Button presses: unpack the data, call one service, answer.

Who may press what is decided by the services (``bot.services.access``); a refusal comes back
as a :class:`DubanError` and is shown as an alert. Every press is answered.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.error import BadRequest

from bot.core.buttons import (
    BindChat,
    ButtonError,
    CancelDialog,
    ConfirmDuty,
    ConfirmSummons,
    DialogChoice,
    ExtensionDecision,
    HandBack,
    NoticeDecision,
    Payload,
    Reroute,
    ReviewDecision,
    Rsvp,
    SendEvidence,
    ShowCase,
    StaleButton,
    StepPress,
    TaskPress,
)
from bot.core.i18n import DubanError, Translator
from bot.render import calendar_texts, texts
from bot.render.cards import Reply, finished_reply, question_reply
from bot.render.evidence import evidence_caption
from bot.services import access
from bot.services.chats import Identity
from bot.services.dialogs import Answer, Finished, Question
from bot.services.evidence import evidence_file, evidence_item
from handlers import commands, tasks
from handlers.answers import answered, send_answer, with_answer
from handlers.common import answer_query, identify
from handlers.context import DubanContext
from handlers.delivery import card_context, card_reply, edit_held_cards, notice_sections
from handlers.sending import edit, send

log = logging.getLogger(__name__)


async def on_button(update: Update, context: DubanContext) -> None:
    query = update.callback_query
    assert query is not None
    chat = update.effective_chat
    message = query.message
    personal = await context.translator(update, personal=True)
    if chat is None or message is None:
        await answer_query(update, personal.gettext(texts.BAD_BUTTON), alert=True)
        return
    try:
        data = context.deps.codec.unpack(chat.id, query.data)
    except StaleButton as error:
        log.info("out-of-date button pressed by %s in %s: %s", query.from_user.id, chat.id,
                 error)
        await _refresh_stale(update, context, chat.id, message.message_id, personal)
        return
    except ButtonError as error:
        log.warning("refused button press by %s in %s: %s", query.from_user.id, chat.id, error)
        await answer_query(update, personal.gettext(texts.BAD_BUTTON), alert=True)
        return
    if isinstance(data, StepPress | HandBack) and await context.deps.deliveries.is_extra_copy(
            data.case_id, chat.id, message.message_id):
        # A card posted twice after an unknown outcome (docs/outbox.md): the older copy
        # loses its buttons, only the recorded card acts.
        await _refresh_stale(update, context, chat.id, message.message_id, personal)
        return
    identity = await identify(update, context)
    try:
        alert = await _HANDLERS[type(data)](update, context, data, identity)
    except DubanError as error:
        await answer_query(update, await context.explain(error, personal), alert=True)
        return
    except StaleButton as error:  # it names what is gone now (a /bind choice's department)
        log.info("out-of-date button pressed by %s in %s: %s", query.from_user.id, chat.id,
                 error)
        await _refresh_stale(update, context, chat.id, message.message_id, personal)
        return
    if _spent(data):  # the question is answered, the request decided: no live buttons left
        with contextlib.suppress(BadRequest):
            await context.bot.edit_message_reply_markup(chat.id, message.message_id,
                                                        reply_markup=None)
    if alert is not None:
        await answer_query(update, personal.gettext(alert.message, **alert.params), alert=False)
        # the cards the press changed, edited from its step (one commit with the answer)
        await edit_held_cards(context.bot, context.deps, update.update_id)
        await answered(update, context)
    else:
        await answer_query(update)


def _spent(data: Payload) -> bool:
    """Presses after which the pressed message's buttons can no longer act."""
    return (isinstance(data, DialogChoice | CancelDialog | Reroute | BindChat)
            or (isinstance(data, ExtensionDecision) and data.approve))


async def _refresh_stale(update: Update, context: DubanContext, chat_id: int, message_id: int,
                         personal: Translator) -> None:
    """An out-of-date button: a case card is replaced by a fresh one in place; any other
    message loses its dead buttons."""
    query = update.callback_query
    assert query is not None
    deps = context.deps
    case_id = await deps.deliveries.card_at(chat_id, message_id)
    binding = await deps.chats.binding(chat_id)
    try:
        if case_id is not None and binding is not None:
            view = await deps.cases.get_by_id(case_id)
            await edit(context.bot, chat_id, message_id, await card_reply(deps, view, binding))
            await answer_query(update, personal.gettext(texts.STALE_CARD), alert=True)
            return
        await context.bot.edit_message_reply_markup(chat_id, message_id, reply_markup=None)
    except BadRequest:  # too old to edit: the answer still says what to do
        log.info("could not refresh message %s in %s", message_id, chat_id, exc_info=True)
    await answer_query(update, personal.gettext(texts.STALE_BUTTON), alert=True)


def _chat_id(update: Update) -> int:
    chat = update.effective_chat
    assert chat is not None
    return chat.id


async def _show(update: Update, context: DubanContext,
                work: Awaitable[Question | Finished | None]) -> Finished | None:
    """A press that started a dialog shows its first question; one that finished at once
    is answered with a short confirmation (the toast ``on_button`` shows). Either answer
    commits with the change it reports (``handlers.answers``)."""

    async def render(outcome: Question | Finished | None) -> Reply | None:
        if isinstance(outcome, Finished):  # the toast's words (in the chat if it comes late)
            personal = await context.translator(update, personal=True)
            return Reply(personal.gettext(outcome.message, **outcome.params))
        return await outcome_reply(update, context, outcome)

    outcome, reply = await with_answer(update, context, work, render, sends_cards=True)
    if isinstance(outcome, Question):
        assert reply is not None
        await send_answer(update, context, reply)
        return None
    if isinstance(outcome, Finished):
        context.deps.wakeup.set()
    return outcome


async def _step(update: Update, context: DubanContext, data: StepPress,
                identity: Identity) -> Finished | None:
    chat_id = _chat_id(update)
    return await _show(update, context, context.deps.dialogs.press_step(
        chat_id, identity.who(chat_id), data.case_id, data.step, identity.department_here(),
        update.update_id))


async def _hand_back(update: Update, context: DubanContext, data: HandBack,
                     identity: Identity) -> Finished | None:
    chat_id = _chat_id(update)
    return await _show(update, context, context.deps.dialogs.start_hand_back(
        chat_id, identity.who(chat_id), data.case_id, identity.department_here(),
        update.update_id))


async def _extension(update: Update, context: DubanContext, data: ExtensionDecision,
                     identity: Identity) -> Finished | None:
    chat_id = _chat_id(update)
    return await _show(update, context, context.deps.dialogs.decide_extension(
        chat_id, identity.who(chat_id), data.case_id, data.approve, update.update_id))


async def _review(update: Update, context: DubanContext, data: ReviewDecision,
                  identity: Identity) -> Finished | None:
    chat_id = _chat_id(update)
    return await _show(update, context, context.deps.dialogs.decide_review(
        chat_id, identity.who(chat_id), data.case_id, data.close, update.update_id))


async def _reroute(update: Update, context: DubanContext, data: Reroute,
                   identity: Identity) -> Finished | None:
    view = await context.deps.cases.reroute_to(data.case_id, data.department,
                                               identity.who(_chat_id(update)))
    context.deps.wakeup.set()
    return Finished(texts.REROUTED, {"ref": view.case.ref,
                                     "department": await _department_name(context, update,
                                                                          data.department)})


async def _department_name(context: DubanContext, update: Update, key: str) -> str:
    personal = await context.translator(update, personal=True)
    return (await context.deps.org()).alias_table().name(key, personal.locale)


async def _choice(update: Update, context: DubanContext, data: DialogChoice,
                  identity: Identity) -> Finished | None:
    chat_id = _chat_id(update)
    dialog = await context.deps.dialogs.current(chat_id, identity.user_id)
    if dialog is None:
        raise DubanError(texts.NOT_YOUR_QUESTION)
    await answer_outcome(update, context, context.deps.dialogs.answer(
        chat_id, identity.user_id, Answer(choice=data.value), identity.who(chat_id),
        update.update_id))
    return None


async def _cancel(update: Update, context: DubanContext, data: CancelDialog,
                  identity: Identity) -> Finished | None:
    if not await context.deps.dialogs.cancel(_chat_id(update), identity.user_id):
        raise DubanError(texts.NOT_YOUR_QUESTION)
    return Finished(texts.CANCELLED)


async def _bind(update: Update, context: DubanContext, data: BindChat,
                identity: Identity) -> Finished | None:
    org = await context.deps.org()
    await commands.bind_to(update, context, context.deps.chats.target_of(
        org, department=data.department, region_code=data.region))
    return None


async def _duty(update: Update, context: DubanContext, data: ConfirmDuty,
                identity: Identity) -> Finished | None:
    chat_id = _chat_id(update)
    return await _show(update, context, context.deps.dialogs.start_duty(
        chat_id, identity.who(chat_id), data.obligation_id, update.update_id))


async def _rsvp(update: Update, context: DubanContext, data: Rsvp,
                identity: Identity) -> Finished | None:
    await context.deps.calendar.rsvp(data.summons_id, "accept" if data.accept else "decline",
                                     identity.who(_chat_id(update)))
    context.deps.wakeup.set()
    return Finished(texts.DONE)


async def _notice(update: Update, context: DubanContext, data: NoticeDecision,
                  identity: Identity) -> Finished | None:
    """签发 / 暂缓 change the draft in place (its buttons follow); 修改 asks for the wording."""
    chat_id = _chat_id(update)
    who = identity.who(chat_id)
    calendar = context.deps.calendar
    if data.decision == "edit":
        return await _show(update, context, context.deps.dialogs.start_notice_edit(
            chat_id, who, data.notice_id, update.update_id))
    if data.decision == "sign":
        notice = await calendar.sign_notice(data.notice_id, who)
        done = Finished(texts.NOTICE_SIGNED, {"code": notice.code or ""})
    else:
        notice = await calendar.hold_notice(data.notice_id, who)
        done = Finished(texts.NOTICE_HELD)
    context.deps.wakeup.set()
    await _edit_pressed(update, context, lambda ctx, sections: calendar_texts.notice_draft_reply(
        notice, sections(ctx.tr.locale), tr=ctx.tr, codec=ctx.codec, chat_id=chat_id),
        notice)
    return done


async def _edit_pressed(update: Update, context: DubanContext, build: Any, notice: Any) -> None:
    """Show the pressed draft as it is now (a message too old to edit stays as it was)."""
    query = update.callback_query
    chat_id = _chat_id(update)
    if query is None or query.message is None:
        return
    ctx = await card_context(context.deps, chat_id)
    sections = await notice_sections(context.deps, notice)
    try:
        await edit(context.bot, chat_id, query.message.message_id, build(ctx, sections))
    except BadRequest:
        log.info("could not edit the draft notice in %s", chat_id, exc_info=True)


async def _confirm_summons(update: Update, context: DubanContext, data: ConfirmSummons,
                           identity: Identity) -> Finished | None:
    chat_id = _chat_id(update)
    summons = await context.deps.calendar.confirm_summons(data.summons_id,
                                                          identity.who(chat_id))
    context.deps.wakeup.set()
    query = update.callback_query
    if query is not None and query.message is not None:
        with contextlib.suppress(BadRequest):
            await context.bot.edit_message_reply_markup(chat_id, query.message.message_id,
                                                        reply_markup=None)
    personal = await context.translator(update, personal=True)  # the toast is the presser's
    return Finished(texts.SUMMONS_CONFIRMED, {"code": texts.summons_code(summons, personal)})


async def _show_case(update: Update, context: DubanContext, data: ShowCase,
                     identity: Identity) -> Finished | None:
    """A case chosen among those a search found: shown in full, if the presser may read it."""
    await commands.show_case(update, context, await context.deps.cases.get_by_id(data.case_id))
    return None


async def _send_evidence(update: Update, context: DubanContext, data: SendEvidence,
                         identity: Identity) -> Finished | None:
    """Send one evidence file of a case again, from the store, to a reader of the case."""
    chat_id = _chat_id(update)
    deps = context.deps
    org = await deps.org()
    reader = identity.reader(chat_id)
    access.require_reader(reader, commission=org.prefecture.commission)
    view = await deps.cases.get_by_id(data.case_id)
    access.require_case_reader(reader, view.case.region_name,
                               (a.department_key for a in view.assignments),
                               commission=org.prefecture.commission)
    item = evidence_item(view, data.number)
    content = await evidence_file(deps.evidence, item)
    tr = await context.translator(update)
    caption = evidence_caption(view, item, tr, org.alias_table(), deps.tz)
    if item.ref.kind == "photo":
        reply = Reply(caption, photo=content)
    else:
        reply = Reply(caption, document=(item.ref.name or f"evidence-{item.number}", content))
    await _ask(update, context, reply)
    return None


async def outcome_reply(update: Update, context: DubanContext,
                        outcome: Question | Finished | None) -> Reply | None:
    """What a dialog answer led to, as the chat reads it: the next question, or the end."""
    chat = update.effective_chat
    assert chat is not None
    if outcome is None:
        return None
    tr = await context.translator(update)
    if isinstance(outcome, Finished):
        return finished_reply(outcome, tr)
    return question_reply(outcome, tr, context.deps.codec, chat.id)


async def answer_outcome(update: Update, context: DubanContext,
                         work: Awaitable[Question | Finished | None]
                         ) -> Question | Finished | None:
    """Take a dialog answer (``work``) and show what it led to; the answer commits with the
    change it reports (``handlers.answers``). None: there was no dialog to answer."""
    outcome, reply = await with_answer(update, context, work,
                                       lambda found: outcome_reply(update, context, found))
    if reply is not None:
        await send_answer(update, context, reply)
    if isinstance(outcome, Finished):  # after the answer: its record need not wait for them
        context.deps.wakeup.set()
    return outcome


async def _ask(update: Update, context: DubanContext, reply: Reply) -> None:
    chat = update.effective_chat
    message = update.effective_message
    assert chat is not None
    await send(context.bot, chat.id, reply, reply_to=message.message_id if message else None)


async def _task(update: Update, context: DubanContext, data: TaskPress,
                identity: Identity) -> Finished | None:
    """A task's button (``handlers.tasks``); 退回重办 asks for the reason first."""
    if data.action == "back":
        chat_id = _chat_id(update)
        return await _show(update, context, context.deps.dialogs.start_task_back(
            chat_id, identity.who(chat_id), data.number, update.update_id))
    return await tasks.on_task_button(update, context, data, identity)


_Handler = Callable[[Update, DubanContext, Any, Identity], Awaitable[Finished | None]]
_HANDLERS: dict[type[Payload], _Handler] = {
    StepPress: _step,
    HandBack: _hand_back,
    ExtensionDecision: _extension,
    ReviewDecision: _review,
    Reroute: _reroute,
    DialogChoice: _choice,
    CancelDialog: _cancel,
    BindChat: _bind,
    ConfirmDuty: _duty,
    Rsvp: _rsvp,
    NoticeDecision: _notice,
    ConfirmSummons: _confirm_summons,
    ShowCase: _show_case,
    SendEvidence: _send_evidence,
    TaskPress: _task,
}
