"""``duban policy``: parse a policy document and show the clause catalog.

Output a person reads goes through ``bot.core.i18n`` in the locale named by ``DUBAN_LOCALE``
(default Simplified Chinese). Exit codes: 0 success (warnings go to stderr), 1 when nothing
usable was found (empty, binary or undecodable input, no numbered clauses, a broken
catalog), 2 for usage errors (missing or oversized file, unknown clause).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import click

from bot.core.departments import DEFAULT_ALIASES
from bot.core.i18n import N_, DubanError, Translator, get_translator
from bot.core.policy.catalog import (
    Catalog,
    Clause,
    Deadline,
    Paragraph,
    ParseWarning,
    PolicyError,
    load_catalog,
    load_default_catalog,
)
from bot.core.policy.parser import parse_policy_file

ROLE_LABELS = {
    "lead": N_("Lead"),
    "responsible": N_("Responsible"),
    "cooperate": N_("Cooperate"),
    "guide": N_("Guide"),
    "by_duty": N_("By duty"),
}
"""Display names of the roles (zh: 牵头 / 负责 / 配合 / 指导 / 按职责分工)."""

_ROLE_ORDER = ("lead", "responsible", "cooperate", "guide", "by_duty")


def _translator() -> Translator:
    return get_translator(os.environ.get("DUBAN_LOCALE"))


def _fail(error: DubanError, translator: Translator) -> NoReturn:
    click.echo(translator.gettext(N_("Error: {detail}"), detail=error.render(translator)),
               err=True)
    code = error.exit_code if isinstance(error, PolicyError) else 1
    click.get_current_context().exit(code)
    raise AssertionError("unreachable")  # pragma: no cover


def _echo_warnings(warnings: tuple[ParseWarning, ...], translator: Translator) -> None:
    for warning in warnings:
        detail = warning.to_error().render(translator)
        click.echo(translator.gettext(N_("Warning: {detail}"), detail=detail), err=True)


# --- rendering --------------------------------------------------------------------------


def describe_deadline(deadline: Deadline, t: Translator) -> str:
    """A deadline rule in words."""
    kind = deadline.kind
    if kind in ("within", "extension_max"):
        return _describe_span(deadline, t)
    if kind == "immediate":
        return t.gettext(N_("immediately"))
    if kind == "set_by_authority":
        return t.gettext(N_("by a date the authority sets"))
    if kind == "annual":
        return t.gettext(N_("every year by {month}/{day}"),
                         month=deadline.month, day=deadline.day)
    if kind == "annual_next_year":
        return t.gettext(N_("by {month}/{day} of the following year"),
                         month=deadline.month, day=deadline.day)
    if kind == "absolute":
        return t.gettext(N_("by {year}-{month:02d}-{day:02d}"),
                         year=deadline.year, month=deadline.month, day=deadline.day)
    return deadline.phrase


def _describe_span(deadline: Deadline, t: Translator) -> str:
    if deadline.years is not None:
        amount = t.gettext(N_("{n} year(s)"), n=deadline.years)
    elif deadline.months is not None:
        amount = t.gettext(N_("{n} month(s)"), n=deadline.months)
    else:
        amount = t.gettext(N_("{n} day(s)"), n=deadline.days)
    if deadline.kind == "within":
        return t.gettext(N_("within {amount}"), amount=amount)
    return t.gettext(N_("an extension of at most {amount} on request"), amount=amount)


def _department_label(department: str | None, as_written: str, t: Translator) -> str:
    if department is None:
        return as_written
    return DEFAULT_ALIASES.name(department, t.locale)


def _list_separator(t: Translator) -> str:
    return "、" if t.locale.startswith("zh") else ", "


def _paragraph_lines(paragraph: Paragraph, t: Translator, indent: str) -> list[str]:
    lines: list[str] = []
    for tag in paragraph.tags:
        lines.append(indent + t.gettext(N_("Tag: {raw}"), raw=tag.raw))
        for role in _ROLE_ORDER:
            names = [_department_label(a.department, a.as_written, t)
                     for a in tag.assignments if a.role == role]
            if names:
                lines.append(indent + "  " + t.gettext(
                    N_("{role}: {names}"), role=t.gettext(ROLE_LABELS[role]),
                    names=_list_separator(t).join(names)))
    if paragraph.deadlines:
        rules = "; ".join(
            f"{describe_deadline(d, t)} ({d.phrase})" for d in paragraph.deadlines)
        lines.append(indent + t.gettext(N_("Deadlines: {rules}"), rules=rules))
    return lines


def render_clause(clause: Clause, t: Translator, full: bool = False) -> list[str]:
    """A clause's heading, then per paragraph its tags and deadlines (and text if ``full``)."""
    lines = [f"{'/'.join(clause.path)}  {clause.label}"]
    for number, paragraph in enumerate(clause.paragraphs, start=1):
        if full:
            lines.append(f"  [{number}] {paragraph.text}")
        lines.extend(_paragraph_lines(paragraph, t, "    " if full else "  "))
    return lines


def _document_heading(catalog: Catalog, index: int, t: Translator) -> str:
    doc = catalog.documents[index]
    title = doc.title or t.gettext(N_("(untitled)"))
    number = doc.number or "-"
    text = t.gettext(N_("Document {index}: {title} ({number})"),
                     index=index, title=title, number=number)
    if index == catalog.main and len(catalog.documents) > 1:
        text += " " + t.gettext(N_("[main document]"))
    return text


def render_catalog(catalog: Catalog, t: Translator) -> list[str]:
    lines: list[str] = []
    for index in range(len(catalog.documents)):
        if lines:
            lines.append("")
        lines.append(_document_heading(catalog, index, t))
        for clause in catalog.clauses_of(index):
            lines.extend(render_clause(clause, t))
    return lines


# --- commands ---------------------------------------------------------------------------


@click.group("policy", help=N_("Parse the policy document and show its clause catalog."))
def policy_group() -> None:
    """The ``duban policy`` commands."""


@policy_group.command(
    "parse", help=N_("Parse a policy document (UTF-8 or GBK text) into a clause catalog."))
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["json", "toml"]), default="json",
              show_default=True, help=N_("Output format."))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help=N_("Write the catalog to this file instead of standard output."))
def parse_command(file: Path, fmt: str, output: Path | None) -> None:
    t = _translator()
    try:
        catalog = parse_policy_file(file)
    except DubanError as error:
        _fail(error, t)
    _echo_warnings(catalog.warnings, t)
    text = catalog.to_json() if fmt == "json" else catalog.to_toml()
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(PolicyError(N_("Cannot write {path}: {error}"), exit_code=1,
                          path=str(output), error=str(exc)), t)
    click.echo(t.gettext(N_("Wrote {count} clauses to {path}."),
                         count=len(catalog.clauses), path=str(output)), err=True)


@policy_group.command(
    "show", help=N_("Show the clause catalog, or one clause in full (e.g. 四, 4, 二.四)."))
@click.argument("clause", required=False)
@click.option("--catalog", "catalog_path", type=click.Path(dir_okay=False, path_type=Path),
              help=N_("Catalog file (.json or .toml) to show instead of the built-in one."))
def show_command(clause: str | None, catalog_path: Path | None) -> None:
    t = _translator()
    try:
        catalog = load_catalog(catalog_path) if catalog_path else load_default_catalog()
        if clause is None:
            lines = render_catalog(catalog, t)
        else:
            found = catalog.find_clause(clause)
            lines = [_document_heading(catalog, found.doc, t),
                     *render_clause(found, t, full=True)]
    except DubanError as error:
        _fail(error, t)
    click.echo("\n".join(lines))
