"""Button presses: check the data and the presser's authority, call one service, answer."""

from __future__ import annotations

import logging

from telegram import Update

from bot.core.buttons import Action, ButtonData, ButtonError
from bot.core.i18n import DubanError, Translator
from bot.core.workflow import Actor, StepInput, workflow_for
from bot.render import texts
from bot.render.cards import Reply, finished_reply, question_reply
from bot.services.chats import BindTarget, ChatKind, Identity
from bot.services.dialogs import Answer, Finished, Flow, Question, step_needs
from handlers import commands
from handlers.common import identify
from handlers.context import DubanContext
from handlers.sending import send

log = logging.getLogger(__name__)


async def on_button(update: Update, context: DubanContext) -> None:
    query = update.callback_query
    assert query is not None
    chat = update.effective_chat
    message = query.message
    personal = await context.translator(update, personal=True)
    if chat is None or message is None:
        await query.answer(personal.gettext(texts.BAD_BUTTON), show_alert=True)
        return
    try:
        data = context.deps.codec.unpack(chat.id, query.data)
    except ButtonError as error:
        log.warning("refused button press by %s in %s: %s", query.from_user.id, chat.id, error)
        await query.answer(personal.gettext(texts.BAD_BUTTON), show_alert=True)
        return
    identity = await identify(update, context)
    try:
        alert = await _dispatch(update, context, data, identity, personal)
    except DubanError as error:
        await query.answer(error.render(personal), show_alert=True)
        return
    except (ValueError, IndexError) as error:
        log.warning("malformed button %r by %s: %s", query.data, query.from_user.id, error)
        await query.answer(personal.gettext(texts.BAD_BUTTON), show_alert=True)
        return
    await query.answer(alert.text if alert else None, show_alert=bool(alert and alert.alert))


async def _dispatch(update: Update, context: DubanContext, data: ButtonData,
                    identity: Identity, personal: Translator) -> Reply | None:
    handler = _HANDLERS[data.action]
    return await handler(update, context, data, identity, personal)


async def _step(update: Update, context: DubanContext, data: ButtonData, identity: Identity,
                personal: Translator) -> Reply | None:
    binding = identity.binding
    if binding is None or binding.kind != ChatKind.DEPARTMENT or not identity.may_act_for(
            binding):
        return Reply(personal.gettext(texts.NOT_ALLOWED), alert=True)
    case_id, clause = data.int_arg(0), data.args[1]
    workflow = workflow_for(clause)
    step = workflow.steps[data.int_arg(2)]
    department = binding.department_key
    assert department is not None
    needs = step_needs(step.name, clause)
    who = identity.who(binding.chat_id)
    if not needs:  # the workflow checks the step against the case itself
        await context.deps.cases.take_step(case_id, StepInput(
            step=step.name, actor=Actor.DEPARTMENT, department=department), who)
        context.deps.wakeup.set()
        return Reply(personal.gettext(texts.DONE))
    view = await context.deps.cases.get_by_id(case_id)
    tr = await context.translator(update)
    question = await context.deps.dialogs.start(
        binding.chat_id, identity.user_id, Flow.STEP,
        {"ref": view.case.ref, "step": step.name, "department": department, "needs": needs,
         "step_label": tr.gettext(step.label),
         "max_months": workflow.extension_max_months or 3}, update.update_id)
    await _ask(update, context, question_reply(question, tr, context.deps.codec,
                                               binding.chat_id))
    return None


async def _hand_back(update: Update, context: DubanContext, data: ButtonData,
                     identity: Identity, personal: Translator) -> Reply | None:
    binding = identity.binding
    if binding is None or binding.kind != ChatKind.DEPARTMENT or not identity.may_act_for(
            binding):
        return Reply(personal.gettext(texts.NOT_ALLOWED), alert=True)
    view = await context.deps.cases.get_by_id(data.int_arg(0))
    tr = await context.translator(update)
    question = await context.deps.dialogs.start(
        binding.chat_id, identity.user_id, Flow.HAND_BACK,
        {"ref": view.case.ref, "department": binding.department_key}, update.update_id)
    await _ask(update, context, question_reply(question, tr, context.deps.codec,
                                               binding.chat_id))
    return None


def _refused_to_non_coordinators(identity: Identity, personal: Translator) -> Reply | None:
    if identity.coordinator:
        return None
    return Reply(personal.gettext(texts.COORDINATORS_ONLY), alert=True)


async def _extension(update: Update, context: DubanContext, data: ButtonData,
                     identity: Identity, personal: Translator) -> Reply | None:
    if refused := _refused_to_non_coordinators(identity, personal):
        return refused
    chat = update.effective_chat
    assert chat is not None
    view = await context.deps.cases.get_by_id(data.int_arg(0))
    if data.args[1] == "a":
        await context.deps.cases.take_step(view.case.ref, StepInput(
            step="approve_extension", actor=Actor.COORDINATOR), identity.who(chat.id))
        context.deps.wakeup.set()
        return Reply(personal.gettext(texts.DONE))
    tr = await context.translator(update)
    question = await context.deps.dialogs.start(chat.id, identity.user_id, Flow.DENY_EXTENSION,
                                                {"ref": view.case.ref}, update.update_id)
    await _ask(update, context, question_reply(question, tr, context.deps.codec, chat.id))
    return None


async def _reroute(update: Update, context: DubanContext, data: ButtonData,
                   identity: Identity, personal: Translator) -> Reply | None:
    if refused := _refused_to_non_coordinators(identity, personal):
        return refused
    chat = update.effective_chat
    assert chat is not None
    view = await context.deps.cases.get_by_id(data.int_arg(0))
    department = data.args[1]
    group = next((g.as_written for g in view.unresolved_groups), None)
    await context.deps.cases.reroute(view.case.ref, [department], identity.who(chat.id),
                                     group=group)
    context.deps.wakeup.set()
    org = await context.deps.org()
    return Reply(personal.gettext(texts.REROUTED, ref=view.case.ref,
                                  department=org.alias_table().name(department,
                                                                    personal.locale)))


async def _choice(update: Update, context: DubanContext, data: ButtonData,
                  identity: Identity, personal: Translator) -> Reply | None:
    chat = update.effective_chat
    assert chat is not None
    dialog = await context.deps.dialogs.current(chat.id, identity.user_id)
    if dialog is None:
        return Reply(personal.gettext(texts.NOT_YOUR_QUESTION), alert=True)
    outcome = await context.deps.dialogs.answer(
        chat.id, identity.user_id, Answer(choice=data.args[0]),
        identity.who(chat.id), update.update_id)
    await reply_outcome(update, context, outcome)
    return None


async def _cancel(update: Update, context: DubanContext, data: ButtonData,
                  identity: Identity, personal: Translator) -> Reply | None:
    chat = update.effective_chat
    assert chat is not None
    cancelled = await context.deps.dialogs.cancel(chat.id, identity.user_id)
    if not cancelled:
        return Reply(personal.gettext(texts.NOT_YOUR_QUESTION), alert=True)
    return Reply(personal.gettext(texts.CANCELLED))


async def _bind(update: Update, context: DubanContext, data: ButtonData,
                identity: Identity, personal: Translator) -> Reply | None:
    if refused := _refused_to_non_coordinators(identity, personal):
        return refused
    org = await context.deps.org()
    if data.args[0] == "d":
        target = BindTarget(ChatKind.DEPARTMENT, department=data.args[1])
    else:
        target = BindTarget(ChatKind.REGION, region=org.regions[data.int_arg(1)].name)
    await commands.bind_to(update, context, target)
    return None


async def reply_outcome(update: Update, context: DubanContext,
                        outcome: Question | Finished | None) -> None:
    """Show what a dialog answer led to: the next question, or the end."""
    chat = update.effective_chat
    assert chat is not None
    tr = await context.translator(update)
    if outcome is None:
        return
    if isinstance(outcome, Finished):
        context.deps.wakeup.set()
        await _ask(update, context, finished_reply(outcome, tr))
        return
    await _ask(update, context, question_reply(outcome, tr, context.deps.codec, chat.id))


async def _ask(update: Update, context: DubanContext, reply: Reply) -> None:
    chat = update.effective_chat
    message = update.effective_message
    assert chat is not None
    await send(context.bot, chat.id, reply, reply_to=message.message_id if message else None)


async def _duty(update: Update, context: DubanContext, data: ButtonData,
                identity: Identity, personal: Translator) -> Reply | None:
    chat = update.effective_chat
    assert chat is not None
    if not (identity.coordinator or identity.may_act_for(identity.binding)):
        return Reply(personal.gettext(texts.NOT_ALLOWED), alert=True)
    tr = await context.translator(update)
    question = await context.deps.dialogs.start(chat.id, identity.user_id, Flow.DUTY,
                                                {"obligation_id": data.int_arg(0)},
                                                update.update_id)
    await _ask(update, context, question_reply(question, tr, context.deps.codec, chat.id))
    return None


async def _rsvp(update: Update, context: DubanContext, data: ButtonData,
                identity: Identity, personal: Translator) -> Reply | None:
    chat = update.effective_chat
    assert chat is not None
    answer = "accept" if data.args[1] == "a" else "decline"
    await context.deps.calendar.rsvp(data.int_arg(0), answer, identity.who(chat.id))
    context.deps.wakeup.set()
    return Reply(personal.gettext(texts.DONE))


_HANDLERS = {
    Action.STEP: _step,
    Action.HAND_BACK: _hand_back,
    Action.EXTENSION: _extension,
    Action.REROUTE: _reroute,
    Action.CHOICE: _choice,
    Action.CANCEL: _cancel,
    Action.BIND: _bind,
    Action.DUTY: _duty,
    Action.RSVP: _rsvp,
}
