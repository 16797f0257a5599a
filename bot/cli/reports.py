"""``duban report county|letter|summary`` and ``duban lists yellow|red|exit``.

Register with ``main.add_command(report_group, "report")`` and
``main.add_command(lists_command, "lists")``. Every command answers bad input (an unknown or
ambiguous county, an unknown department, a bad year or format) with a clear message and exit
code 1, whatever group it is registered in; a year without data still gives a valid report
that says so.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

import click

from bot.cli.app import App, pass_app
from bot.core.clock import local_today
from bot.core.i18n import N_, DubanError
from bot.render.reports.county import ReportFiles, write_county_report
from bot.render.reports.letters import write_letter, write_summary
from bot.render.reports.lists import (
    ListFormat,
    PublicList,
    build_list,
    list_file_name,
    parse_format,
    parse_kind,
    render_list,
)
from bot.services.deps import Deps
from bot.services.reports import (
    AnnualSummary,
    CountyReport,
    Letter,
    check_year,
    list_rows,
    load_county_report,
    load_letter,
    load_summary,
)

T = TypeVar("T")

_YEAR_HELP = "The calendar year (Asia/Shanghai); default: this year."
_DIR_HELP = "Folder to write the .xlsx and .docx into (default: the current folder)."


def _guarded(app: App, work: Callable[[], T]) -> T:
    """Run ``work``; an error a person can act on becomes a message and exit code 1."""
    try:
        return work()
    except DubanError as error:
        click.echo(app.tr.gettext(N_("Error: {message}"), message=error.render(app.tr)),
                   err=True)
        raise click.exceptions.Exit(1) from None


def _year(app: App, value: str | None) -> int:
    if value is None:
        return local_today(app.clock).year
    try:
        year = int(value.strip())
    except ValueError:
        raise DubanError(N_("The year must be a number such as 2026; got {value}."),
                         value=value) from None
    return check_year(year)


def _today(app: App) -> date:
    return local_today(app.clock)


def _wrote(app: App, files: ReportFiles) -> None:
    for path in (files.xlsx, files.docx):
        app.say(N_("Wrote {path}"), path=str(path))


@click.group("report")
def report_group() -> None:
    """Reports pre-filled from the cases, as .xlsx and .docx."""


@report_group.command("county")
@click.argument("county")
@click.option("--year", help=_YEAR_HELP)
@click.option("-o", "--output", "out_dir", default=".", help=_DIR_HELP,
              type=click.Path(path_type=Path))
@pass_app
def county(app: App, county: str, year: str | None, out_dir: Path) -> None:
    """The 30 November report of COUNTY (a county or park, matched forgivingly)."""

    def work() -> None:
        wanted = _year(app, year)

        async def load(deps: Deps) -> CountyReport:
            org = await deps.org()
            return await load_county_report(deps.sessions, org, county,
                                            year=wanted, today=_today(app))

        report = app.run(load)
        _wrote(app, write_county_report(report, app.tr, out_dir))
        if not report.exited:
            app.say(N_("No enterprise in {region} exited in {year}; the report says so."),
                    region=report.region.name, year=wanted)

    _guarded(app, work)


@report_group.command("letter")
@click.argument("department")
@click.option("--year", help=_YEAR_HELP)
@click.option("-o", "--output", "out_dir", default=".", help=_DIR_HELP,
              type=click.Path(path_type=Path))
@pass_app
def letter(app: App, department: str, year: str | None, out_dir: Path) -> None:
    """The 31 December letter of DEPARTMENT (发改, 环保, 质监 or 安监)."""

    def work() -> None:
        wanted = _year(app, year)

        async def load(deps: Deps) -> Letter:
            org = await deps.org()
            return await load_letter(deps.sessions, org, department, year=wanted,
                                     today=_today(app), catalog=deps.catalog)

        found = app.run(load)
        _wrote(app, write_letter(found, app.tr, out_dir))
        if not found.exited:
            app.say(N_("{department} closed no enterprise by law in {year}; the letter says "
                       "so."), department=found.department.name, year=wanted)

    _guarded(app, work)


@report_group.command("summary")
@click.option("--year", help=_YEAR_HELP)
@click.option("-o", "--output", "out_dir", default=".", help=_DIR_HELP,
              type=click.Path(path_type=Path))
@pass_app
def summary(app: App, year: str | None, out_dir: Path) -> None:
    """The 31 January summary of a year's exits, by county and industry."""

    def work() -> None:
        wanted = _year(app, year)

        async def load(deps: Deps) -> AnnualSummary:
            org = await deps.org()
            return await load_summary(deps.sessions, org, year=wanted,
                                      today=_today(app), catalog=deps.catalog)

        found = app.run(load)
        _wrote(app, write_summary(found, app.tr, out_dir))
        if not found.exited:
            app.say(N_("No enterprise exited in {year}; the report says so."), year=wanted)

    _guarded(app, work)


@click.command("lists")
@click.argument("kind", metavar="yellow|red|exit|emitters|serious")
@click.option("--year", help="The year of the red card and exit lists; default: this year.")
@click.option("--format", "fmt", metavar="csv|xlsx|html",
              help="Default: from the -o file's extension, else csv.")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="File (or folder) to write; default: standard output for csv and html.")
@pass_app
def lists_command(app: App, kind: str, year: str | None, fmt: str | None,
                  output: Path | None) -> None:
    """Lists for publication: yellow card, red card, the annual exit list, or 环保's lists of
    enterprises emitting over the standards (all; serious cases)."""

    def work() -> None:
        wanted_kind = parse_kind(kind)
        wanted_format = parse_format(fmt or _suffix(output) or ListFormat.CSV.value)
        wanted_year = _year(app, year)

        async def load(deps: Deps) -> PublicList:
            org = await deps.org()
            rows = await list_rows(deps.sessions, org, wanted_kind, year=wanted_year)
            return build_list(wanted_kind, rows, app.tr, prefecture=org.prefecture.name,
                              year=wanted_year, today=_today(app))

        public = app.run(load)
        data = render_list(public, wanted_format, app.tr)
        target = output
        if target is None and wanted_format is not ListFormat.XLSX:
            click.echo(data, nl=False)  # bytes go to the binary stream, BOM and all
            return
        if target is None or target.is_dir():
            target = (target or Path(".")) / list_file_name(public, wanted_format)
        try:
            target.write_bytes(data)
        except OSError as error:
            raise DubanError(N_("Cannot write {path}: {reason}"), path=str(target),
                             reason=error.strerror or str(error)) from None
        app.say(N_("Wrote {path}"), path=str(target))

    _guarded(app, work)


def _suffix(path: Path | None) -> str | None:
    if path is None or path.is_dir() or not path.suffix:
        return None
    return path.suffix
