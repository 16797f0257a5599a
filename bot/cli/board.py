"""``duban board`` and ``duban ledger``: the 红黄绿灯 board in words, and the year's ledger.

Register with ``main.add_command(board_command, "board")`` and
``main.add_command(ledger_command, "ledger")``. The board is the same table as ``/board``
(:func:`bot.render.board.board_text`), every row, the lights as words (红灯/黄灯/绿灯) rather
than coloured dots a terminal may not show. The ledger is the workbook ``/ledger`` sends.
Bad input (a year that is not one) gets a clear message and exit code 1, and writes nothing.
"""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.app import App, pass_app
from bot.cli.reports import _guarded, _year
from bot.core.clock import local_today
from bot.render.board import board_text
from bot.services.deps import Deps
from bot.services.ledger import check_ledger_year


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


@click.command("ledger")
@click.option("--year", help="The calendar year (Asia/Shanghai); default: this year.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="The .xlsx file to write (default: the ledger's name in the current "
                   "folder).")
@pass_app
def ledger_command(app: App, year: str | None, output: Path | None) -> None:
    """The ledger (台账) of a year: every case and yearly duty, the notices and summonses."""
    from bot.render.reports.ledger import ledger_file_name, write_ledger  # openpyxl

    def work() -> None:
        wanted = check_ledger_year(_year(app, year))
        target = output or Path(ledger_file_name(wanted, app.tr))

        async def write(deps: Deps) -> int:
            org = await deps.org()
            found = await deps.ledger.ledger(wanted, local_today(app.clock))
            partial = target.with_name(f".{target.name}.part")
            try:  # a reader sees the old file or the whole new one
                count = await write_ledger(found, app.tr, org, deps.tz, partial)
                partial.replace(target)
            finally:
                partial.unlink(missing_ok=True)
            return count

        target.parent.mkdir(parents=True, exist_ok=True)
        count = app.run(write)
        click.echo(app.tr.ngettext("Wrote {path}: {n} case of {year}.",
                                   "Wrote {path}: {n} cases of {year}.", count,
                                   path=str(target), year=wanted))

    _guarded(app, work)
