"""``duban board``: the 红黄绿灯 board on the console, in words.

Register with ``main.add_command(board_command, "board")``. The same table as ``/board``
(:func:`bot.render.board.board_text`), every row, the lights as words (红灯/黄灯/绿灯) rather
than coloured dots a terminal may not show.
"""

from __future__ import annotations

import click

from bot.cli.app import App, pass_app
from bot.core.clock import local_today
from bot.render.board import board_text
from bot.services.deps import Deps


@click.command("board")
@pass_app
def board_command(app: App) -> None:
    """The board: each county, park and department red, yellow or green, worst first."""

    async def work(deps: Deps) -> str:
        org = await deps.org()
        found = await deps.board.board(local_today(app.clock))
        return board_text(found, app.tr, org.alias_table(), place=org.prefecture.name,
                          emoji=False)

    click.echo(app.run(work))
