"""The ``duban`` command line.

``duban`` alone sets up a local demo (the 昌州 organisation and a dozen cases in a SQLite file)
and prints where things stand. The subcommands reach every core service: the policy catalog,
the organisation, cases and their workflow, and the database.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
from babel.dates import format_date
from sqlalchemy.engine import make_url

from bot.cli import failures
from bot.cli.app import App, pass_app, write_atomically
from bot.cli.board import board_command, ledger_command
from bot.cli.db import audit_group, backup_command, recount_command, restore_command
from bot.cli.policy import policy_group
from bot.cli.reports import lists_command, report_group
from bot.cli.sandbox import sandbox_command
from bot.cli.tasks import load_command as tasks_load_command
from bot.cli.tasks import tasks_command
from bot.core.casefile import CaseFileResult, read_case_file
from bot.core.clock import local_today
from bot.core.i18n import N_, DubanError, get_translator, normalize_locale
from bot.core.org import Org, load_demo_org, load_org
from bot.core.tomlfile import read_text
from bot.core.workflow import Actor, State, StepInput
from bot.data import DATA_DIR
from bot.render import calendar_texts, texts
from bot.services.cases import CaseService, Who, is_overdue, open_states
from bot.services.chats import ChatKind
from bot.services.deps import Deps
from bot.services.evidence import Check, Verdict, verify_case
from bot.services.health import REASON_OTHER
from bot.services.org import OrgLoadReport
from bot.settings import load_settings
from models.db import current_revision
from scheduler.holiday_notice import (
    NOTICE_FILE,
    merge_overrides,
    notice_year,
    overrides_toml,
    parse_notice,
)
from scheduler.jobs import interval_for, next_sweep
from scheduler.workdays import Overrides, load_overrides

CONSOLE = Who(role="console", name="console")


class DubanGroup(click.Group):
    """Turns errors a person can act on, and start-up and connection failures
    (:mod:`bot.cli.failures`), into one clear line and exit code 1; the traceback is shown
    only with ``--debug``."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DubanError as error:
            self._fail(ctx, error, error)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise  # click's own exits and usage errors
        except Exception as error:
            app = ctx.obj if isinstance(ctx.obj, App) else None
            problem = failures.explain(error, failures.Setup.of(app.settings, app.database)) \
                if app is not None else None
            if problem is None:
                raise
            self._fail(ctx, problem, error)

    @staticmethod
    def _fail(ctx: click.Context, problem: DubanError, error: BaseException) -> None:
        app = ctx.obj if isinstance(ctx.obj, App) else None
        if ctx.params.get("debug"):
            click.echo(failures.traceback_text(
                error, app.settings.telegram_bot_token if app else None), err=True, nl=False)
        tr = get_translator(app.settings.locale if app else None)
        click.echo(tr.gettext(N_("Error: {message}"), message=problem.render(tr)), err=True)
        ctx.exit(1)


@click.group(cls=DubanGroup, invoke_without_command=True)
@click.option("--database", envvar="DATABASE_URL", help="Database URL (default: ./duban.db).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default=None,
              help="Language of the output (default: DUBAN_LOCALE or zh).")
@click.option("--debug", is_flag=True,
              help="On a failure, show the full traceback before the one-line message.")
@click.version_option(package_name="duban")
@click.pass_context
def main(ctx: click.Context, database: str | None, lang: str | None, debug: bool) -> None:
    """督办 duban: routes backward-capacity cases to departments and follows them up."""
    try:
        settings = load_settings()
    except DubanError as error:
        click.echo(error.render(get_translator(None)), err=True)
        ctx.exit(2)
    if lang:
        settings = settings.but(locale=normalize_locale(lang))
    if database:
        settings = settings.but(database_url=database)
    ctx.obj = App(settings=settings, database=database)
    if ctx.invoked_subcommand is None:
        ctx.invoke(run if settings.telegram_bot_token else sandbox_command)


main.add_command(policy_group, "policy")
main.add_command(report_group, "report")
main.add_command(lists_command, "lists")
main.add_command(sandbox_command, "sandbox")
main.add_command(audit_group, "audit")
main.add_command(board_command, "board")
main.add_command(ledger_command, "ledger")
policy_group.add_command(tasks_load_command, "load")
main.add_command(tasks_command, "tasks")


# -- demo -------------------------------------------------------------------------------------


@main.command()
@click.option("--reset", is_flag=True, help="Start over: delete the local demo database first.")
@pass_app
def demo(app: App, reset: bool) -> None:
    """Set up the demo organisation and cases locally and show where things stand."""
    url = app.database or app.settings.database_url
    if reset and url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1]) if "///" in url else None
        if path and path.exists():
            path.unlink()
    org = load_demo_org()
    demo_file = DATA_DIR / "demo_cases.csv"

    async def work(deps: Deps) -> None:
        await deps.org_service.load(org)
        await deps.tasks.propose()  # the seed document's duties, for the coordinators' review
        result = read_case_file(demo_file, org, today=local_today(app.clock))
        if result.errors:
            raise DubanError(N_("The demo case file is broken; please report this."))
        cases = deps.cases
        report = await cases.import_cases(result.valid, CONSOLE)
        click.echo(texts.import_report(report, app.tr))
        click.echo("")
        await _overview(app, cases, org)

    app.run(work)
    click.echo("")
    app.say(N_("Database: {url}"), url=url)
    app.say(N_("Try: duban case list · duban case show {ref} · duban policy show 四 · "
               "duban org show · duban --help"), ref=_first_demo_ref(demo_file))


def _first_demo_ref(path: Path) -> str:
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    return lines[1].split(",", 1)[0] if len(lines) > 1 else "REF"


async def _overview(app: App, cases: CaseService, org: Org) -> None:
    everything = await cases.find()
    today = local_today(app.clock)
    app.say(N_("{prefecture}: {total} cases, {open} open, {overdue} overdue."),
            prefecture=org.prefecture.name, total=len(everything),
            open=sum(1 for c in everything if c.state in open_states()),
            overdue=sum(1 for c in everything if is_overdue(c, today)))
    by_region = Counter(c.region_name for c in everything)
    for region, count in sorted(by_region.items()):
        app.say(N_("- {region}: {count}"), region=region, count=count)
    queue = await cases.coordinator_queue()
    if queue:
        app.say(N_("Waiting for a coordinator: {refs}"), refs=", ".join(v.case.ref for v in queue))
    upcoming = sorted((c for c in everything if c.deadline and c.state in open_states()),
                      key=lambda c: c.deadline or date.max)[:5]
    if upcoming:
        app.say(N_("Next deadlines:"))
        for case in upcoming:
            click.echo("  " + texts.case_line(case, app.tr))


# -- the bot --------------------------------------------------------------------------------------


@main.command()
@click.option("--webhook-url", help="Public HTTPS URL Telegram posts updates to (webhook mode).")
@click.option("--listen", default="127.0.0.1", show_default=True, help="Webhook listen address.")
@click.option("--port", default=8443, show_default=True, type=int, help="Webhook port.")
@click.option("--secret-token", envvar="DUBAN_WEBHOOK_SECRET",
              help="Secret Telegram sends with each webhook request (required for webhooks).")
@pass_app
def run(app: App, webhook_url: str | None, listen: str, port: int,
        secret_token: str | None) -> None:
    """Run the bot: long polling, or a webhook server with --webhook-url."""
    from bot.runner import WebhookOptions, configure_logging, run_bot

    # Refused up front: values the database or Telegram would refuse later, less clearly.
    failures.check_database_url(app.database or app.settings.database_url)
    if webhook_url and secret_token:
        failures.check_secret_token(secret_token)
    configure_logging(app.settings)
    webhook = None
    if webhook_url:
        path = webhook_url.rstrip("/").rsplit("/", 1)[-1] or "telegram"
        webhook = WebhookOptions(webhook_url, secret_token or "", listen, port, path)
    try:
        run_bot(app.settings, app.catalog, webhook)
    except DubanError:
        raise
    except Exception as error:
        setup = failures.Setup.of(app.settings, app.database, listen=listen if webhook else None,
                                  port=port if webhook else None)
        problem = failures.explain(error, setup)
        if problem is None:
            raise
        raise problem from error


# -- the calendar -----------------------------------------------------------------------------


@main.command()
@click.option("--at", "at", required=True,
              help="The instant, e.g. 2026-12-01T09:00+08:00 (no offset: the org's time zone).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_app
def preview(app: App, at: str, fmt: str) -> None:
    """What the calendar would send at an instant, without sending anything."""
    try:
        instant = datetime.fromisoformat(at)
    except ValueError:
        raise DubanError(N_("“{value}” is not a date and time like 2026-12-01T09:00+08:00."),
                         value=at) from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=app.settings.tz)

    async def work(deps: Deps) -> list[dict[str, Any]]:
        items = await deps.calendar.preview(instant)
        chats = deps.chats
        coordination = await chats.chat_for(kind=ChatKind.COORDINATION)
        rows = []
        for item in items:
            if item.recipient_kind == "coordinators":
                chat = coordination
            else:
                chat = await chats.chat_for(kind=ChatKind(item.recipient_kind),
                                            key=item.recipient)
            rows.append({"key": item.key, "kind": item.kind, "chat": chat,
                         "recipient": f"{item.recipient_kind}:{item.recipient}",
                         "case_refs": list(item.case_refs), "obligation": item.obligation,
                         "due_at": item.due_at.isoformat(), "step": item.step,
                         "send_after": item.send_after.isoformat()})
        return rows

    rows = app.run(work)
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    org = app.run(lambda deps: deps.org())
    for row in rows:
        kind, _, name = row["recipient"].partition(":")
        recipient = (app.tr.gettext(N_("the coordinators")) if kind == "coordinators"
                     else texts.party_name(org, kind, name, app.tr.locale))
        click.echo(texts.preview_line(
            date.fromisoformat(row["due_at"]), row["kind"], row["step"], recipient,
            calendar_texts.items_text(row["case_refs"], row["obligation"], app.tr), app.tr))
    click.echo(app.tr.ngettext("{n} message would be sent.", "{n} messages would be sent.",
                               len(rows)))


@main.command()
@pass_app
def sweep(app: App) -> None:
    """Run the calendar's sweep once now (the bot runs it on its own every few minutes)."""

    async def work(deps: Deps) -> Any:
        return await deps.calendar.sweep()

    report = app.run(work)
    app.say(N_("Marked overdue: {overdue}; queued: {queued}; notices: {notices}."),
            overdue=len(report.marked_overdue), queued=len(report.items),
            notices="、".join(report.notices) or "—")


@main.command()
@pass_app
def doctor(app: App) -> None:
    """Is the bot doing its job: the database, the calendar, deliveries, the holiday table."""
    tr, tz = app.tr, app.settings.tz

    async def work(deps: Deps) -> tuple[Any, ...]:
        revision = await current_revision(deps.engine)
        return (revision, await deps.health.calendar(), await deps.health.deliveries(),
                deps.calendar.calendar, await deps.calendar.waiting_for_chats(),
                await deps.org())

    revision, health, deliveries, calendar, unbound, org = app.run(work)
    url = make_url(app.database or app.settings.database_url)
    app.say(N_("Database: {url} (revision {revision})"),
            url=url.render_as_string(hide_password=True), revision=revision or "—")

    def when(moment: datetime | None) -> str:
        return texts.fmt_datetime(moment, tr, tz) if moment else tr.gettext(N_("never"))

    app.say(N_("Last successful sweep: {when}"), when=when(health.last_success))
    if health.failures_in_a_row:
        app.say(N_("⚠ Sweeps failed in a row: {count}, the last at {when} ({reason})"),
                count=health.failures_in_a_row, when=when(health.last_failure),
                reason=tr.gettext(health.reason or REASON_OTHER))
    next_run = next_sweep(app.database or app.settings.database_url)
    app.say(N_("Next sweep: {when} (every {minutes} min while the bot runs)"),
            when=when(next_run) if next_run else tr.gettext(N_("not scheduled: the bot is not "
                                                              "running here")),
            minutes=int(interval_for(app.settings).total_seconds() // 60) or 1)
    app.say(N_("Deliveries: {queued} waiting ({retrying} being retried), {failed} given up"),
            queued=deliveries.queued, retrying=deliveries.retrying, failed=deliveries.failed)
    if deliveries.oldest_queued is not None:
        app.say(N_("The oldest waiting delivery was queued at {when}."),
                when=when(deliveries.oldest_queued))
    for waiting in unbound:  # reminders the sweep holds back until the chat is bound
        click.echo("⚠ " + texts.waiting_for_chat_line(waiting, texts.party_name(
            org, waiting.party_kind, waiting.party, tr.locale), tr))
    today = local_today(app.clock)
    for year in (today.year, today.year + 1):
        if calendar.is_covered(year):
            app.say(N_("Holidays {year}: the official schedule is known."), year=year)
        else:
            app.say(N_("⚠ Holidays {year}: the official schedule is not known yet; statutory "
                       "holidays count, make-up working days (调休) do not. Import the State "
                       "Council's notice: duban holidays import NOTICE.txt"), year=year)


@main.group()
def holidays() -> None:
    """China's holidays and make-up working days (调休) beyond the packaged table."""


@holidays.command("import")
@click.argument("notice", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--year", type=int, help="The year, if the notice's title does not say it.")
@click.option("--to", "target", type=click.Path(dir_okay=False, path_type=Path),
              help="The override file to write (default: DUBAN_HOLIDAYS).")
@click.option("--yes", is_flag=True, help="Write without asking.")
@pass_app
def holidays_import(app: App, notice: Path, year: int | None, target: Path | None,
                    yes: bool) -> None:
    """Read the State Council's holiday NOTICE (a text file) into the override file."""
    target = target or app.settings.holidays
    if target is None:
        raise DubanError(N_("Name the holiday override file: --to FILE, or set DUBAN_HOLIDAYS."))
    text = read_text(notice, NOTICE_FILE)
    days = parse_notice(text, year=year, source=notice.name)
    wanted = year or notice_year(text) or days[0].day.year
    tr = app.tr
    for found in days:
        app.say(N_("{date} ({weekday}): working day, {holiday}") if found.working
                else N_("{date} ({weekday}): day off, {holiday}"),
                date=texts.fmt_date(found.day, tr), holiday=found.holiday,
                weekday=format_date(found.day, "EEE", locale=tr.babel_locale))
    off = sum(not d.working for d in days)
    app.say(N_("{year}: {off} days off and {working} make-up working days."), year=wanted,
            off=off, working=len(days) - off)
    if not yes and not click.confirm(tr.gettext(N_("Write them to {path}?"), path=str(target)),
                                     default=False):
        app.say(N_("Nothing was written."))
        return
    existing = load_overrides(target) if target.exists() else Overrides()
    write_atomically(target, overrides_toml(merge_overrides(existing, days, wanted)))
    app.say(N_("Written to {path}; {year} now counts as covered."), path=str(target),
            year=wanted)


# -- database ---------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """The database: migrations, backups."""


db.add_command(backup_command, "backup")
db.add_command(restore_command, "restore")
db.add_command(recount_command, "recount")


@db.command("upgrade")
@pass_app
def db_upgrade(app: App) -> None:
    """Apply the migrations (also done by every other command)."""

    async def work(deps: Deps) -> str | None:
        return await current_revision(deps.engine)

    app.say(N_("Database is at revision {revision}."), revision=app.run(work))


# -- organisation -----------------------------------------------------------------------------


@main.group()
def org() -> None:
    """The organisation: counties, parks, departments, people."""


@org.command("load")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_app
def org_load(app: App, file: Path) -> None:
    """Load (or update) the organisation from a TOML FILE."""
    loaded = load_org(file)
    async def work(deps: Deps) -> OrgLoadReport:
        report = await deps.org_service.load(loaded)
        await deps.tasks.propose()  # the document's duties, now that they have owners
        return report

    report = app.run(work)
    app.say(N_("Loaded {prefecture}: {regions} counties and parks, {departments} departments, "
               "{people} people."), prefecture=loaded.prefecture.name, regions=report.regions,
            departments=report.departments, people=report.people)


@org.command("show")
@pass_app
def org_show(app: App) -> None:
    """Show the stored organisation."""
    stored: Org = app.run(lambda deps: deps.org())
    tr = app.tr
    app.say(N_("{prefecture} ({commission}); notices numbered {prefix}〔year〕n号"),
            prefecture=stored.prefecture.name, commission=stored.prefecture.commission,
            prefix=stored.prefecture.notice_prefix)
    for heading, regions in ((N_("Counties:"), stored.counties), (N_("Parks:"), stored.parks)):
        app.say(heading)
        for region in regions:
            also = f"  ({'、'.join(region.aliases)})" if region.aliases else ""
            click.echo(f"  {region.name}{also}")
    app.say(N_("Departments:"))
    aliases = stored.alias_table()
    for department in stored.departments:
        official = aliases.name(department.key, tr.locale)
        click.echo(f"  {department.key}: {department.name} / {official}")
    app.say(N_("People:"))
    for person in stored.people:
        where = person.department or person.region or ""
        role = tr.gettext(N_("coordinator") if person.is_coordinator else N_("liaison"))
        click.echo(f"  {person.name} ({person.telegram_id}) {role} {where}".rstrip())


# -- cases ------------------------------------------------------------------------------------


@main.group()
def case() -> None:
    """Cases: import, list, show, and their workflow steps."""


@case.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True,
              help="Import the valid rows even when some rows are bad.")
@pass_app
def case_import(app: App, file: Path, skip_invalid: bool) -> None:
    """Import cases from a .csv or .xlsx FILE (validated first; same ref twice is a no-op)."""

    async def work(deps: Deps) -> None:
        stored = await deps.org()
        result = _read_with_progress(app, file, stored)
        if result.errors:
            click.echo(texts.row_errors(result.errors, app.tr), err=True)
            if not skip_invalid:
                raise DubanError(N_("Nothing was imported: fix the rows above, or use "
                                    "--skip-invalid to import the {n} valid rows."),
                                 n=len(result.valid))
        cases = deps.cases
        if sys.stderr.isatty():
            with click.progressbar(length=len(result.valid), file=sys.stderr,
                                   label=app.tr.gettext(N_("Importing"))) as bar:
                report = await cases.import_cases(result.valid, CONSOLE,
                                                  progress=lambda done: bar.update(1))
        else:
            report = await cases.import_cases(result.valid, CONSOLE)
        click.echo(texts.import_report(report, app.tr))

    app.run(work)


def _read_with_progress(app: App, file: Path, stored: Org) -> CaseFileResult:
    today = local_today(app.clock)
    if not sys.stderr.isatty():
        return read_case_file(file, stored, today=today)
    with click.progressbar(length=0, file=sys.stderr,
                           label=app.tr.gettext(N_("Checking rows"))) as bar:
        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        return read_case_file(file, stored, today=today, progress=progress)


@case.command("list")
@click.option("--county", "region", help="A county or park (forgiving match).")
@click.option("--state", "states", multiple=True, type=click.Choice([s.value for s in State]))
@click.option("--clause", help="A clause such as 四.")
@click.option("--department", help="A department (key or name).")
@click.option("--open", "only_open", is_flag=True, help="Only cases not closed.")
@pass_app
def case_list(app: App, region: str | None, states: tuple[str, ...], clause: str | None,
              department: str | None, only_open: bool) -> None:
    """List cases."""

    async def work(deps: Deps) -> None:
        stored = await deps.org()
        region_name = stored.resolve_region(region).name if region else None
        department_key = stored.resolve_department(department).key if department else None
        clause_ref = app.catalog.find_clause(clause).ref if clause else None
        # "overdue" is the one definition (open and past its due day), not only the state.
        overdue = State.OVERDUE.value in states
        named = [s for s in states if s != State.OVERDUE.value]
        wanted = named or (open_states() if only_open and not overdue else None)
        found = await deps.cases.find(region=region_name, states=wanted, clause=clause_ref,
                                      department=department_key,
                                      overdue_on=local_today(app.clock) if overdue else None)
        for item in found:
            click.echo(texts.case_line(item, app.tr))
        click.echo(app.tr.ngettext("{n} case.", "{n} cases.", len(found)))

    app.run(work)


@case.command("show")
@click.argument("ref")
@pass_app
def case_show(app: App, ref: str) -> None:
    """Show a case: facts, state, deadline, assignments and why, timeline."""

    async def work(deps: Deps) -> None:
        stored = await deps.org()
        view = await deps.cases.get(ref)
        click.echo(texts.case_detail(view, app.tr, stored.alias_table(), app.settings.tz))

    app.run(work)


_VERDICT_LINES = {
    Verdict.OK: N_("✓ {number}. {name}: kept, SHA-256 matches ({sha})"),
    Verdict.MISSING: N_("✗ {number}. {name}: missing from the evidence store ({sha})"),
    Verdict.ALTERED: N_("✗ {number}. {name}: altered, its SHA-256 no longer matches ({sha})"),
    Verdict.NOT_STORED: N_("- {number}. {name}: recorded before files were kept; nothing to "
                           "check"),
}


@case.command("verify")
@click.argument("ref")
@pass_app
def case_verify(app: App, ref: str) -> None:
    """Check that every evidence file of case REF is in the evidence store, unchanged.

    One line per file; exits with 1 when a file is missing or altered.
    """

    async def work(deps: Deps) -> list[Check]:
        return verify_case(await deps.cases.get(ref), deps.evidence)

    checks = app.run(work)
    for check in checks:
        sha = check.item.ref.sha256 or ""
        app.say(_VERDICT_LINES[check.verdict], number=check.item.number,
                name=texts.evidence_label(check.item.ref.ref(), app.tr), sha=sha[:16])
    bad = sum(1 for c in checks if c.verdict in (Verdict.MISSING, Verdict.ALTERED))
    if not checks:
        app.say(N_("Case {ref} has no evidence."), ref=ref)
    elif bad:
        click.echo(app.tr.ngettext("{n} evidence file is missing or altered.",
                                   "{n} evidence files are missing or altered.", bad), err=True)
        click.get_current_context().exit(1)
    else:
        app.say(N_("No evidence file of case {ref} is missing or altered."), ref=ref)


@case.command("queue")
@pass_app
def case_queue(app: App) -> None:
    """Cases waiting for a coordinator (groups to resolve, hand-backs, nobody assigned)."""

    async def work(deps: Deps) -> None:
        queue = await deps.cases.coordinator_queue()
        for view in queue:
            click.echo(texts.case_line(view.case, app.tr))
            for group in view.unresolved_groups:
                app.say(N_("  group to resolve: {group}"), group=group.as_written)
            for returned in view.returned:
                app.say(N_("  handed back by {department}: {reason}"),
                        department=(await deps.org()).alias_table().name(
                            returned.department_key or "", app.tr.locale),
                        reason=returned.reason or "")
        click.echo(app.tr.ngettext("{n} case.", "{n} cases.", len(queue)))

    app.run(work)


@case.command("step")
@click.argument("ref")
@click.argument("step")
@click.option("--department", help="Act for this department (key or name).")
@click.option("--evidence", multiple=True, help="An evidence reference (file name, photo id).")
@click.option("--date", "on", type=click.DateTime(["%Y-%m-%d"]), help="Date (YYYY-MM-DD).")
@click.option("--capacity", type=float)
@click.option("--note")
@click.option("--reason")
@click.option("--months", type=int)
@pass_app
def case_step(app: App, ref: str, step: str, department: str | None, evidence: tuple[str, ...],
              on: Any, capacity: float | None, note: str | None, reason: str | None,
              months: int | None) -> None:
    """Take workflow STEP on case REF (e.g. accept, order_rectification, measure:line_sealed).

    With --department the step is taken for that department, else as a coordinator. A case
    waiting for review is closed with close_reviewed (an optional --note) or sent back with
    send_back --reason.
    """

    async def work(deps: Deps) -> None:
        stored = await deps.org()
        key = stored.resolve_department(department).key if department else None
        action = StepInput(step=step, actor=Actor.DEPARTMENT if key else Actor.COORDINATOR,
                           department=key, evidence=evidence, on=on.date() if on else None,
                           capacity=capacity, note=note, reason=reason, months=months)
        result = await deps.cases.take_step(ref, action, CONSOLE)
        if result.outcome.completes:
            app.say(N_("Done: case {ref} is now {state}."), ref=ref,
                    state=texts.state_label(result.view.case.state, app.tr))
        else:
            names = stored.alias_table()
            app.say(N_("Recorded; waiting for: {departments}."),
                    departments="、".join(sorted(names.name(d, app.tr.locale)
                                                for d in result.outcome.waiting_for)))

    app.run(work)


@case.command("hand-back")
@click.argument("ref")
@click.option("--department", required=True)
@click.option("--reason", required=True)
@pass_app
def case_hand_back(app: App, ref: str, department: str, reason: str) -> None:
    """A department hands case REF back as not its duty (非本部门职责)."""

    async def work(deps: Deps) -> None:
        stored = await deps.org()
        key = stored.resolve_department(department).key
        await deps.cases.hand_back(ref, key, reason, CONSOLE)
        app.say(N_("Case {ref} handed back; the coordinators will re-route it."), ref=ref)

    app.run(work)


@case.command("reroute")
@click.argument("ref")
@click.option("--to", "targets", multiple=True, required=True, help="A department; repeatable.")
@click.option("--group", help="Resolve this by-duty group of the case (e.g. 相关部门).")
@click.option("--reason")
@pass_app
def case_reroute(app: App, ref: str, targets: tuple[str, ...], group: str | None,
                 reason: str | None) -> None:
    """Route case REF to departments (a coordinator's re-routing or group resolution)."""

    async def work(deps: Deps) -> None:
        stored = await deps.org()
        keys = [stored.resolve_department(t).key for t in targets]
        view = await deps.cases.reroute(ref, keys, CONSOLE, group=group, reason=reason)
        names = stored.alias_table()
        app.say(N_("Case {ref} now waits for: {departments}."), ref=ref,
                departments="、".join(sorted(names.name(d, app.tr.locale)
                                            for d in view.required_departments)))

    app.run(work)


@case.command("pause")
@click.argument("ref")
@click.option("--reason", required=True)
@pass_app
def case_pause(app: App, ref: str, reason: str) -> None:
    """Pause the reminders and escalation of case REF (the reason is recorded)."""
    _set_paused(app, ref, reason, paused=True)


@case.command("resume")
@click.argument("ref")
@click.option("--reason", required=True)
@pass_app
def case_resume(app: App, ref: str, reason: str) -> None:
    """Resume the reminders and escalation of case REF."""
    _set_paused(app, ref, reason, paused=False)


def _set_paused(app: App, ref: str, reason: str, *, paused: bool) -> None:
    app.run(lambda deps: deps.calendar.set_paused(ref, paused, reason, CONSOLE))
    app.say(N_("Done: reminders and escalation of case {ref} are paused.") if paused
            else N_("Done: reminders and escalation of case {ref} are resumed."), ref=ref)


@case.command("skip")
@click.argument("ref")
@click.argument("step")
@click.option("--reason", required=True)
@pass_app
def case_skip(app: App, ref: str, step: str, reason: str) -> None:
    """Skip one escalation STEP of case REF (T-7, overdue, reminder, notice, summons …)."""
    app.run(lambda deps: deps.calendar.skip(ref, step, reason, CONSOLE))
    app.say(N_("Done: step {step} of case {ref} will not be sent."), ref=ref, step=step)


