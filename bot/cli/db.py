"""``duban db backup|restore`` and ``duban audit verify``: the records, kept and checked.

Register with ``db.add_command(backup_command, "backup")``,
``db.add_command(restore_command, "restore")``, ``db.add_command(recount_command, "recount")``
and ``main.add_command(audit_group, "audit")``.
Backup and restore do not migrate the database first (as :meth:`App.run` does): a backup is of
the database as it is, and a restore needs an empty one.
"""

from __future__ import annotations

import asyncio
from datetime import tzinfo
from pathlib import Path

import click

from bot.cli.app import App, pass_app
from bot.core.i18n import N_, Translator
from bot.render import texts
from bot.services import audit, backup
from bot.services.deps import Deps

# -- the audit ----------------------------------------------------------------------------------

INTACT = N_("Cases checked: {cases}, events: {events}. The chains are intact.")
BROKEN = N_("Cases checked: {cases}, events: {events}. The first broken link:")
_LINES = {
    audit.Problem.CONTENT_CHANGED: N_("Case {ref}, event {seq} ({at}): its content was changed "
                                      "after it was recorded."),
    audit.Problem.LINK_BROKEN: N_("Case {ref}, event {seq} ({at}): its link to the event before "
                                  "it is broken (that event or the link was rewritten)."),
    audit.Problem.EVENT_ADDED: N_("Case {ref}, event {seq} ({at}): it was not recorded by duban "
                                  "(the case's chain ends at event {kept})."),
}
ONE_MISSING = N_("Case {ref}: event {seq} is missing (removed before event {kept} of {at}).")
SOME_MISSING = N_("Case {ref}: events {seq}–{until} are missing (removed before event {kept} "
                  "of {at}).")
LAST_REMOVED = N_("Case {ref}: its last events were removed: the case recorded {until} events, "
                  "the last one left is event {kept} ({at}).")
ALL_REMOVED = N_("Case {ref}: all its {until} events were removed.")


def break_line(found: audit.Break, tr: Translator, tz: tzinfo) -> str:
    """The broken link in words: which case, which event and when, what is wrong."""
    at = texts.fmt_datetime(found.at, tr, tz) if found.at is not None else "—"
    params = {"ref": found.ref, "seq": found.seq, "at": at, "until": found.until,
              "kept": found.kept}
    if found.problem is audit.Problem.EVENT_MISSING:
        message = ONE_MISSING if found.until == found.seq else SOME_MISSING
    elif found.problem is audit.Problem.LAST_REMOVED:
        message = LAST_REMOVED if found.kept else ALL_REMOVED
    else:
        message = _LINES[found.problem]
    return tr.gettext(message, **params)


@click.group("audit")
def audit_group() -> None:
    """The audit trail: each case's events form a hash chain."""


@audit_group.command("verify")
@click.argument("ref", required=False)
@pass_app
def audit_verify(app: App, ref: str | None) -> None:
    """Check the hash chains of all cases (or of case REF): no event changed, removed or
    added afterwards. Exits with 1 at a broken link."""

    async def work(deps: Deps) -> audit.AuditReport:
        return await audit.verify(deps.sessions, ref=ref)

    report = app.run(work)
    if report.intact:
        app.say(INTACT, cases=report.cases, events=report.events)
        return
    first = report.first
    assert first is not None
    app.say(BROKEN, cases=report.cases, events=report.events)
    click.echo(break_line(first, app.tr, app.settings.tz))
    more = len(report.breaks) - 1
    if more:
        click.echo(app.tr.ngettext("{n} more case has a broken chain.",
                                   "{n} more cases have broken chains.", more))
    click.get_current_context().exit(1)


# -- backups ------------------------------------------------------------------------------------


def _url(app: App) -> str:
    return app.database or app.settings.database_url


def _announce(app: App) -> backup.Announce:
    return lambda command: app.say(N_("Running: {command}"), command=command)


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_app
def backup_command(app: App, file: Path) -> None:
    """Write the database and the evidence store to one archive FILE (consistent while the
    bot runs; PostgreSQL needs pg_dump)."""
    manifest = asyncio.run(backup.create_backup(
        _url(app), app.settings.evidence_path, file, now=app.clock.now(),
        announce=_announce(app)))
    for sha256 in manifest.left_out:
        app.say(N_("⚠ The evidence file {sha} no longer matches its fingerprint; it was left "
                   "out of the backup."), sha=sha256)
    app.say(N_("Backup written to {path}: revision {revision}, {cases} cases, {events} events, "
               "{files} evidence files."), path=str(file), **backup.describe(manifest))


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_app
def restore_command(app: App, file: Path) -> None:
    """Restore an archive FILE from ``duban db backup`` into an empty database and the evidence
    store, then migrate the database to this version."""
    restored = asyncio.run(backup.restore_backup(
        file, _url(app), app.settings.evidence_path, announce=_announce(app)))
    app.say(N_("Restored {path} (made {when}): revision {restored}, {cases} cases, {events} "
               "events, {files} evidence files; the database is now at revision {revision}."),
            path=str(file), when=texts.fmt_datetime(restored.manifest.created_at, app.tr,
                                                     app.settings.tz),
            **{**backup.describe(restored.manifest), "restored": restored.restored_revision
               or "—", "revision": restored.revision or "—"})


# -- the status counters ---------------------------------------------------------------------------

RECOUNT_RIGHT = N_("The counters were right: no counter row changed.")


@click.command("recount")
@pass_app
def recount_command(app: App) -> None:
    """Rebuild the counters behind /status from the cases and assignments (one transaction;
    writers wait until it is done) and say how many counter rows were wrong."""

    async def work(deps: Deps) -> int:
        today = deps.clock.now().astimezone(deps.status.tz).date()
        return (await deps.status.recount(today)).changed

    changed = app.run(work)
    if not changed:
        app.say(RECOUNT_RIGHT)
        return
    click.echo(app.tr.ngettext(
        "The counters were rebuilt from the cases: {n} counter row changed.",
        "The counters were rebuilt from the cases: {n} counter rows changed.", changed))
