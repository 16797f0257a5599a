"""``duban policy load DOC`` and ``duban tasks``: the document's duties as tasks (任务分解).

Register with ``policy_group.add_command(load_command, "load")`` and
``main.add_command(tasks_command, "tasks")``. ``load`` reads a policy document (text, parsed
as ``duban policy parse`` parses it) or a reviewed catalog (``.json``/``.toml``) and proposes
each tagged duty outside the case clauses as a task; the coordinators review the list once
(``/tasks review`` in the bot) before any of it goes live. Loading the same document again
proposes only what is new. ``tasks`` lists them as ``/tasks`` does for coordinators.
"""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.app import App, pass_app
from bot.cli.reports import _guarded
from bot.core.clock import local_today
from bot.core.i18n import N_, DubanError
from bot.core.policy.catalog import Catalog, load_catalog
from bot.core.policy.parser import parse_policy_file
from bot.core.tasks import OPEN_STATUSES, TaskStatus
from bot.render import tasks as task_texts
from bot.render.cards import CardContext
from bot.services.deps import Deps


def _read(file: Path) -> Catalog:
    if file.suffix.lower() in (".json", ".toml"):
        return load_catalog(file)
    return parse_policy_file(file)


async def _context(app: App, deps: Deps) -> CardContext:
    org = await deps.org()
    return CardContext(chat_id=0, tr=app.tr, aliases=org.alias_table(), tz=deps.tz,
                       codec=deps.codec, today=local_today(app.clock))


@click.command("load")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_app
def load_command(app: App, file: Path) -> None:
    """Propose the tasks of a policy document (text) or a reviewed catalog (.json, .toml)."""

    def work() -> None:
        catalog = _read(file)

        async def propose(deps: Deps) -> list[str]:
            org = await deps.org()
            if not org.departments:
                raise DubanError(N_("Load the organisation first (duban org load FILE): a "
                                    "task's owners are its departments."))
            report = await deps.tasks.propose(catalog)
            ctx = await _context(app, deps)
            views = await deps.tasks.find(statuses=[TaskStatus.PROPOSED])
            lines = [app.tr.gettext(N_(
                "Proposed {new} task(s) from {title} ({known} already known); {waiting} "
                "wait for the coordinators' review (/tasks review in the bot)."),
                new=report.new, known=report.known, waiting=len(views),
                title=catalog.document.title or file.name)]
            lines += [task_texts.task_line(view, ctx) for view in views]
            return lines

        click.echo("\n".join(app.run(propose)))

    _guarded(app, work)


@click.command("tasks")
@pass_app
def tasks_command(app: App) -> None:
    """The tasks (督办任务): open ones, and how many wait for review."""

    async def work(deps: Deps) -> str:
        views = await deps.tasks.find(statuses=[TaskStatus.PROPOSED, *OPEN_STATUSES])
        return task_texts.tasks_list(views, await _context(app, deps),
                                     closed=await deps.tasks.closed_counts()).text

    click.echo(app.run(work))
