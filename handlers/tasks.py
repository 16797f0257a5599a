"""``/tasks`` and ``/task N`` (督办任务), and the tasks' buttons.

* ``/tasks``: the open tasks (in a department's chat: its own); how many wait for review.
* ``/tasks review`` (coordinators): the proposed tasks one page at a time, with accept / do not
  supervise / merge into the previous one; ``/tasks accept N``, ``/tasks drop N``,
  ``/tasks merge N M``, ``/tasks all`` (accept every one that has a lead),
  ``/tasks owners N 牵头：…；配合：…``, ``/tasks schedule N 每季度``.
* ``/task N``: one task, its reports; in an owner's chat the button to report progress.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.error import BadRequest

from bot.core import commands as parse
from bot.core.buttons import TaskPress
from bot.core.clock import local_today
from bot.core.i18n import N_, DubanError
from bot.core.tasks import OPEN_STATUSES, TaskStatus, parse_schedule
from bot.render import tasks as task_texts
from bot.render.cards import CardContext, Reply
from bot.services.access import Reader
from bot.services.chats import ChatKind, Identity
from bot.services.dialogs import Finished
from bot.services.tasks import TaskView
from handlers.answers import send_answer, with_answer
from handlers.common import identify, say
from handlers.context import DubanContext
from handlers.delivery import card_context
from handlers.sending import edit

log = logging.getLogger(__name__)

TASKS_USAGE = N_("Usage: /tasks, /tasks review, /tasks accept N, /tasks drop N, "
                 "/tasks merge N M, /tasks all, /tasks owners N 牵头：州工信局；配合：州财政局, "
                 "/tasks schedule N 每季度")
TASK_USAGE = N_("Usage: /task N, e.g. /task 5")
TASKS_NOT_VISIBLE = N_("Tasks are visible to the coordinators and to the departments that own "
                       "them.")


def _chat_id(update: Update) -> int:
    chat = update.effective_chat
    assert chat is not None
    return chat.id


def _department(identity: Identity) -> str | None:
    binding = identity.binding
    if binding is not None and binding.kind == ChatKind.DEPARTMENT:
        return binding.department_key
    return None


def _number(text: str, usage: str) -> int:
    value = parse.words(text)
    if not value.isdecimal() or not 0 < int(value) < 10 ** 9:
        raise DubanError(usage)
    return int(value)


def _may_read(reader: Reader, view: TaskView) -> bool:
    task = view.task
    return reader.everything or bool(reader.departments & {*task.lead, *task.participants})


async def _context(update: Update, context: DubanContext, identity: Identity) -> CardContext:
    return await card_context(context.deps, _chat_id(update), _department(identity))


async def tasks_command(update: Update, context: DubanContext) -> None:
    """``/tasks [review | accept N | drop N | merge N M | all | owners N … | schedule N …]``."""
    identity = await identify(update, context)
    words = parse.words(" ".join(context.args or [])).split(" ", 2)
    sub = words[0].lower() if words and words[0] else ""
    if not sub:
        await _list(update, context, identity)
        return
    identity.require_coordinator()
    if sub in ("review", "审核", "复核"):
        await _review(update, context, identity, 0)
        return
    actions: dict[str, Callable[[], Awaitable[object]]] = {}
    who = identity.who(_chat_id(update))
    tasks = context.deps.tasks
    rest = words[1:]
    if sub in ("accept", "drop", "schedule", "owners") and rest:
        number = _number(rest[0], TASKS_USAGE)
        argument = rest[1] if len(rest) > 1 else ""
        actions = {
            "accept": lambda: tasks.accept(number, who),
            "drop": lambda: tasks.drop(number, who),
            "schedule": lambda: tasks.set_schedule(
                number, parse_schedule(argument, local_today(context.deps.clock)), who),
            "owners": lambda: tasks.set_owners(number, argument, who),
        }
        if sub in ("schedule", "owners") and not argument:
            raise DubanError(TASKS_USAGE)
    elif sub == "merge" and len(rest) == 2:
        number, into = _number(rest[0], TASKS_USAGE), _number(rest[1], TASKS_USAGE)
        actions = {"merge": lambda: tasks.merge(number, into, who)}
    elif sub == "all":
        await _accept_all(update, context, identity)
        return
    if sub not in actions:
        raise DubanError(TASKS_USAGE)
    ctx = await _context(update, context, identity)

    async def render(view: object) -> Reply:
        assert isinstance(view, TaskView)
        return task_texts.task_detail(view, ctx)

    _, reply = await with_answer(update, context, actions[sub](), render)
    assert reply is not None
    await send_answer(update, context, reply)
    context.deps.wakeup.set()


async def _list(update: Update, context: DubanContext, identity: Identity) -> None:
    reader = identity.reader(_chat_id(update))
    department = None if reader.everything else _department(identity) or (
        identity.who(0).department)
    if not reader.everything and department is None:
        raise DubanError(TASKS_NOT_VISIBLE)
    tasks = context.deps.tasks
    views = await tasks.find(department=department, statuses=[TaskStatus.PROPOSED,
                                                              *OPEN_STATUSES])
    ctx = await _context(update, context, identity)
    await say(update, context, task_texts.tasks_list(
        views, ctx, department=department,
        closed=(0, 0) if department else await tasks.closed_counts()))


async def _accept_all(update: Update, context: DubanContext, identity: Identity) -> None:
    tr = await context.translator(update)

    async def render(result: tuple[int, list[int]]) -> Reply:
        accepted, ownerless = result
        text = tr.gettext(N_("{n} task(s) accepted; their departments are told."), n=accepted)
        if ownerless:
            text += "\n" + tr.gettext(N_(
                "Still to review, no lead department yet: {numbers} (/tasks owners N "
                "牵头：…, or /tasks drop N)."), numbers="、".join(str(n) for n in ownerless))
        return Reply(text)

    _, reply = await with_answer(update, context, context.deps.tasks.accept_all(
        identity.who(_chat_id(update))), render)
    assert reply is not None
    await send_answer(update, context, reply)
    context.deps.wakeup.set()


async def _review(update: Update, context: DubanContext, identity: Identity,
                  index: int) -> None:
    views = await context.deps.tasks.find(statuses=[TaskStatus.PROPOSED])
    ctx = await _context(update, context, identity)
    await say(update, context, task_texts.review_page(views, index, ctx))


async def task_command(update: Update, context: DubanContext) -> None:
    """``/task N``: one task, if the reader may read it."""
    identity = await identify(update, context)
    view = await context.deps.tasks.get(_number(" ".join(context.args or []), TASK_USAGE))
    if not _may_read(identity.reader(_chat_id(update)), view):
        raise DubanError(TASKS_NOT_VISIBLE)
    await say(update, context, task_texts.task_detail(view, await _context(
        update, context, identity)))


async def on_task_button(update: Update, context: DubanContext, data: TaskPress,
                         identity: Identity) -> Finished | None:
    """The review's buttons (accept, drop, merge, paging: the pressed page shows the next),
    a final report's 办结, and "show" (退回重办 starts a dialog: ``handlers.callbacks``)."""
    chat_id = _chat_id(update)
    who = identity.who(chat_id)
    deps = context.deps
    if data.action == "show":
        view = await deps.tasks.get(data.number)
        if not _may_read(identity.reader(chat_id), view):
            raise DubanError(TASKS_NOT_VISIBLE)
        await say(update, context, task_texts.task_detail(view, await _context(
            update, context, identity)))
        return None
    identity.require_coordinator()
    done: Finished | None = None
    if data.action == "close":
        await deps.tasks.decide(data.number, True, None, who)
        deps.wakeup.set()
        with contextlib.suppress(BadRequest):
            query = update.callback_query
            if query is not None and query.message is not None:
                await context.bot.edit_message_reply_markup(chat_id, query.message.message_id,
                                                            reply_markup=None)
        return Finished(N_("Task {number} is closed."), {"number": data.number})
    proposed = await deps.tasks.find(statuses=[TaskStatus.PROPOSED])
    numbers = [v.number for v in proposed]
    index = numbers.index(data.number) if data.number in numbers else 0
    if data.action == "accept":
        await deps.tasks.accept(data.number, who)
        done = Finished(N_("Task {number} accepted; its departments are told."),
                        {"number": data.number})
    elif data.action == "drop":
        await deps.tasks.drop(data.number, who)
        done = Finished(N_("Task {number} is not supervised."), {"number": data.number})
    elif data.action == "merge":
        await deps.tasks.merge(data.number, data.other, who)
        done = Finished(N_("Task {number} merged into task {into}."),
                        {"number": data.number, "into": data.other})
        index = max(0, index - 1)
    elif data.action == "prev":
        index = max(0, index - 1)
    elif data.action == "next":
        index += 1
    if done is not None:
        deps.wakeup.set()
        proposed = await deps.tasks.find(statuses=[TaskStatus.PROPOSED])
    await _show_page(update, context, identity, proposed, index)
    return done


async def _show_page(update: Update, context: DubanContext, identity: Identity,
                     views: list[TaskView], index: int) -> None:
    """The pressed review page shows page ``index`` now."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    ctx = await _context(update, context, identity)
    try:
        await edit(context.bot, _chat_id(update), query.message.message_id,
                   task_texts.review_page(views, index, ctx))
    except BadRequest:
        log.info("could not edit the task review page", exc_info=True)
