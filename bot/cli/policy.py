"""``duban policy``: parse a policy document, show the clause catalog, review it.

Output a person reads goes through ``bot.core.i18n`` in the locale named by ``DUBAN_LOCALE``
(default Simplified Chinese). Exit codes: 0 success (warnings and the review list go to
stderr), 1 when nothing usable was found (empty, binary or undecodable input, no numbered
clauses, a broken catalog) or a review was stopped, 2 for usage errors (missing or oversized
file, unknown clause).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import click

from bot.cli.app import write_atomically
from bot.core.departments import DEFAULT_ALIASES
from bot.core.i18n import N_, DubanError, Translator, get_translator
from bot.core.policy.catalog import (
    Catalog,
    Clause,
    Deadline,
    Note,
    Paragraph,
    ParseWarning,
    PolicyError,
    Tag,
    TagAssignment,
    load_catalog,
    load_default_catalog,
)
from bot.core.policy.parser import parse_policy_file
from bot.core.policy.review import (
    Decision,
    ReviewItem,
    apply_review,
    format_assignments,
    parse_assignments,
    review_items,
    review_notes,
)

ROLE_LABELS = {
    "lead": N_("Lead"),
    "responsible": N_("Responsible"),
    "cooperate": N_("Cooperate"),
    "guide": N_("Guide"),
    "by_duty": N_("By duty"),
}
"""Display names of the roles (zh: 牵头 / 负责 / 配合 / 指导 / 按职责分工)."""

_ROLE_ORDER = ("lead", "responsible", "cooperate", "guide", "by_duty")

REASON_LABELS = {
    "unknown_body": N_("not in the department list"),
    "group": N_("names a group: a coordinator resolves it"),
    "convention": N_("role set by the first-named convention"),
    "split": N_("the split between two bodies is a guess"),
    "remark": N_("holds a remark besides the assignments"),
}
"""Why an item is flagged ``check`` (bot.core.policy.catalog.REASONS)."""

NOT_TAG_LABELS = {
    "mid_sentence": N_("inside a sentence"),
    "no_role": N_("no role word"),
    "no_body": N_("a role word but no body"),
    "too_long": N_("too long for a tag"),
}
"""Why a bracketed span was read as not a tag (bot.core.policy.catalog.NOT_TAG_REASONS)."""

NOTE_LABELS = {
    "lead_first": N_("from here on the first-named body leads"),
    "lead_first_others_cooperate": N_(
        "from here on the first-named body leads and the others cooperate"),
    "remark": N_("a remark that may affect later tags"),
}


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


# --- the review list --------------------------------------------------------------------


def _reasons(reasons: tuple[str, ...], t: Translator) -> str:
    return "; ".join(t.gettext(REASON_LABELS[r]) if r in REASON_LABELS else r for r in reasons)


def _where(catalog: Catalog, clause: Clause) -> str:
    """A clause as the review names it; with the document's index when there are several."""
    path = "/".join(clause.path)
    return f"{clause.doc}:{path}" if len(catalog.documents) > 1 else path


def _assignment_line(a: TagAssignment, t: Translator) -> str:
    line = t.gettext(N_("{role}: {names}"), role=t.gettext(ROLE_LABELS.get(a.role, a.role)),
                     names=_department_label(a.department, a.as_written, t))
    if a.reasons:
        line += " — " + _reasons(a.reasons, t)
    return line


def tag_review_lines(catalog: Catalog, item: ReviewItem, t: Translator) -> list[str]:
    """A flagged tag: where it is, its text, its assignments and why it is flagged."""
    tag = item.tag_of(catalog)
    head = t.gettext(N_("Check {clause}: ({raw})"), clause=_where(catalog,
                                                                  item.clause_of(catalog)),
                     raw=tag.raw)
    if tag.reasons:
        head += " — " + _reasons(tag.reasons, t)
    return [head, *("    " + _assignment_line(a, t) for a in tag.assignments)]


def not_tag_review_line(catalog: Catalog, item: ReviewItem, t: Translator) -> str:
    span = item.not_tag_of(catalog)
    return t.gettext(N_("Not a tag {clause}: ({raw}) — {reason}"),
                     clause=_where(catalog, item.clause_of(catalog)), raw=span.raw,
                     reason=t.gettext(NOT_TAG_LABELS.get(span.reason, span.reason)))


def note_review_line(catalog: Catalog, doc: int, note: Note, t: Translator) -> str:
    where = "/".join(note.path) or "-"
    if len(catalog.documents) > 1:
        where = f"{doc}:{where}"
    return t.gettext(N_("Note {clause}, line {line}: {text} — {meaning}"), clause=where,
                     line=note.line if note.line is not None else "-", text=note.text,
                     meaning=t.gettext(NOTE_LABELS.get(note.kind, note.kind)))


def _tag_summary(tag: Tag, t: Translator) -> str:
    """The tag's assignments on one line, each flagged body with its reasons."""
    parts: list[str] = []
    for role in _ROLE_ORDER:
        names = []
        for a in tag.assignments:
            if a.role != role:
                continue
            name = _department_label(a.department, a.as_written, t)
            names.append(f"{name} ({_reasons(a.reasons, t)})" if a.reasons else name)
        if names:
            parts.append(t.gettext(N_("{role}: {names}"),
                                   role=t.gettext(ROLE_LABELS[role]),
                                   names=_list_separator(t).join(names)))
    return "; ".join(parts)


def render_review(catalog: Catalog, t: Translator) -> list[str]:
    """The review list: notes, then every flagged tag and every span read as not a tag."""
    items = review_items(catalog)
    notes = review_notes(catalog)
    tags = [i for i in items if i.kind == "tag"]
    spans = [i for i in items if i.kind == "not_tag"]
    lines = [t.gettext(N_("Review: {tags} tag(s) to check, {spans} bracketed span(s) read as "
                          "not a tag, {notes} note(s)."),
                       tags=len(tags), spans=len(spans), notes=len(notes))]
    lines.extend("  " + note_review_line(catalog, d, n, t) for d, n in notes)
    for item in tags:
        # One line per item: the first line of the detailed form and the assignments.
        head = tag_review_lines(catalog, item, t)[0]
        lines.append(f"  {head} => {_tag_summary(item.tag_of(catalog), t)}")
    lines.extend("  " + not_tag_review_line(catalog, item, t) for item in spans)
    return lines


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
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            _fail(PolicyError(N_("Cannot write {path}: {error}"), exit_code=1,
                              path=str(output), error=str(exc)), t)
        click.echo(t.gettext(N_("Wrote {count} clauses to {path}."),
                             count=len(catalog.clauses), path=str(output)), err=True)
    # Last, so the reviewer reads it at the end of the output (stderr: stdout is the catalog).
    click.echo("\n".join(render_review(catalog, t)), err=True)


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


# --- review -----------------------------------------------------------------------------


def _context(catalog: Catalog, item: ReviewItem, raw: str, width: int = 30) -> str:
    """The span in its paragraph, with up to ``width`` characters either side."""
    text = item.clause_of(catalog).paragraphs[item.paragraph].text
    at = text.find(raw)
    if at < 0:
        return text[: 2 * width] + ("…" if len(text) > 2 * width else "")
    start, end = max(0, at - width), min(len(text), at + len(raw) + width)
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")


def _ask_assignments(t: Translator, default: str | None) -> tuple[TagAssignment, ...]:
    """Prompt until the reviewer writes assignments the syntax accepts."""
    while True:
        text = click.prompt(t.gettext(N_("Assignments (role：bodies；…)")), default=default,
                            show_default=default is not None)
        try:
            return parse_assignments(text)
        except DubanError as error:
            click.echo(t.gettext(N_("Error: {detail}"), detail=error.render(t)), err=True)


def _review_tag(catalog: Catalog, item: ReviewItem, number: int, total: int,
                t: Translator) -> Decision | str | None:
    """Ask about one flagged tag: a decision, None to skip, or "quit"."""
    click.echo("")
    lines = tag_review_lines(catalog, item, t)
    click.echo(f"[{number}/{total}] " + lines[0])
    click.echo("    " + _context(catalog, item, item.tag_of(catalog).raw))
    for line in lines[1:]:
        click.echo(line)
    choice = click.prompt(
        t.gettext(N_("[a] accept  [e] edit  [n] not a tag  [s] skip  [q] save and quit")),
        type=click.Choice(["a", "e", "n", "s", "q"]), default="a", show_choices=False)
    if choice == "a":
        return Decision("accept")
    if choice == "e":
        current = item.tag_of(catalog).assignments
        default = format_assignments(current, english=not t.locale.startswith("zh"))
        return Decision("replace", _ask_assignments(t, default or None))
    if choice == "n":
        return Decision("drop")
    return "quit" if choice == "q" else None


def _review_span(catalog: Catalog, item: ReviewItem, number: int, total: int,
                 t: Translator) -> Decision | str | None:
    """Ask about one span read as not a tag: a decision, None to skip, or "quit"."""
    click.echo("")
    click.echo(f"[{number}/{total}] " + not_tag_review_line(catalog, item, t))
    click.echo("    " + _context(catalog, item, item.not_tag_of(catalog).raw))
    choice = click.prompt(
        t.gettext(N_("[k] keep as text  [t] make it a tag  [s] skip  [q] save and quit")),
        type=click.Choice(["k", "t", "s", "q"]), default="k", show_choices=False)
    if choice == "k":
        return Decision("dismiss")
    if choice == "t":
        return Decision("promote", _ask_assignments(t, None))
    return "quit" if choice == "q" else None


@policy_group.command(
    "review", help=N_("Walk through the items of a catalog that need a reviewer, and write "
                      "the reviewed catalog."))
@click.argument("catalog_path", metavar="CATALOG",
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help=N_("Write the reviewed catalog to this file instead of over CATALOG."))
def review_command(catalog_path: Path, output: Path | None) -> None:
    t = _translator()
    target = output or catalog_path
    try:
        catalog = load_catalog(catalog_path)
        if target.suffix.lower() not in (".json", ".toml"):
            raise PolicyError(N_("A catalog file must end in .json or .toml: {path}"),
                              exit_code=2, path=str(target))
    except DubanError as error:
        _fail(error, t)
    items = review_items(catalog)
    if not items:
        click.echo(t.gettext(N_("Nothing to review in {path}."), path=str(catalog_path)))
        return
    click.echo(render_review(catalog, t)[0])
    for doc, note in review_notes(catalog):
        click.echo("  " + note_review_line(catalog, doc, note, t))
    decisions: dict[ReviewItem, Decision] = {}
    try:
        for number, item in enumerate(items, start=1):
            ask = _review_tag if item.kind == "tag" else _review_span
            answer = ask(catalog, item, number, len(items), t)
            if answer == "quit":
                break
            if isinstance(answer, Decision):
                decisions[item] = answer
    except click.Abort:
        click.echo("")
        click.echo(t.gettext(N_("Review stopped; nothing was written.")), err=True)
        click.get_current_context().exit(1)
    reviewed = apply_review(catalog, decisions)
    text = reviewed.to_json() if target.suffix.lower() == ".json" else reviewed.to_toml()
    try:
        write_atomically(target, text)
    except OSError as exc:
        _fail(PolicyError(N_("Cannot write {path}: {error}"), exit_code=1, path=str(target),
                          error=str(exc)), t)
    actions = [d.action for d in decisions.values()]
    click.echo(t.gettext(
        N_("Wrote the reviewed catalog to {path}: {confirmed} confirmed, {edited} edited, "
           "{removed} removed, {left} left to check."),
        path=str(target), confirmed=actions.count("accept") + actions.count("dismiss"),
        edited=actions.count("replace") + actions.count("promote"),
        removed=actions.count("drop"), left=len(review_items(reviewed))))
