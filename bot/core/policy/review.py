"""Reviewing a parsed catalog: the list of what a person should check, and their decisions.

The review list holds every tag flagged ``check`` (see :mod:`bot.core.policy.catalog`) and every
bracketed span the parser read as not a tag, in document order. A reviewer accepts a tag (it
and its assignments become ``sure``, keeping their reasons as a record), rewrites its
assignments, or says it is not a tag; a span is confirmed as text, or made a tag with the
assignments the reviewer writes. :func:`apply_review` builds the reviewed catalog.

The reviewer writes assignments as ``role：bodies；role：bodies``, e.g.
``牵头：国家发展改革委；配合：财政部、商务部`` (roles in Chinese or English, see
:data:`ROLE_WORDS`); bodies are looked up in the alias table, groups keep ``department`` null.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from bot.core.departments import DEFAULT_ALIASES, AliasTable
from bot.core.i18n import N_
from bot.core.policy.catalog import (
    SURE,
    Catalog,
    Clause,
    Note,
    NotTag,
    Paragraph,
    PolicyError,
    Tag,
    TagAssignment,
)
from bot.core.policy.tags import canonical, is_group

ROLE_WORDS = {
    "牵头": "lead", "负责": "responsible", "落实": "responsible", "配合": "cooperate",
    "参与": "cooperate", "协助": "cooperate", "指导": "guide", "按职责分工": "by_duty",
    "lead": "lead", "responsible": "responsible", "cooperate": "cooperate", "guide": "guide",
    "by_duty": "by_duty", "by-duty": "by_duty", "by duty": "by_duty",
}
"""Role words a reviewer may write, in Chinese or English."""

_ZH_ROLE = {"lead": "牵头", "responsible": "负责", "cooperate": "配合", "guide": "指导",
            "by_duty": "按职责分工"}


@dataclass(frozen=True)
class ReviewItem:
    """One entry of the review list: a flagged tag or a span read as not a tag."""

    kind: str  # "tag" | "not_tag"
    clause: int  # index into Catalog.clauses
    paragraph: int
    index: int  # into the paragraph's tags or not_tags

    def clause_of(self, catalog: Catalog) -> Clause:
        return catalog.clauses[self.clause]

    def tag_of(self, catalog: Catalog) -> Tag:
        return catalog.clauses[self.clause].paragraphs[self.paragraph].tags[self.index]

    def not_tag_of(self, catalog: Catalog) -> NotTag:
        return catalog.clauses[self.clause].paragraphs[self.paragraph].not_tags[self.index]


@dataclass(frozen=True)
class Decision:
    """What the reviewer decided: ``accept`` / ``replace`` / ``drop`` for a tag, ``dismiss`` /
    ``promote`` for a span; ``replace`` and ``promote`` carry the new assignments."""

    action: str
    assignments: tuple[TagAssignment, ...] = ()


def review_items(catalog: Catalog) -> list[ReviewItem]:
    """Every flagged tag and every span read as not a tag, in document order."""
    items: list[ReviewItem] = []
    for c, clause in enumerate(catalog.clauses):
        for p, paragraph in enumerate(clause.paragraphs):
            items.extend(ReviewItem("tag", c, p, i) for i, tag in enumerate(paragraph.tags)
                         if tag.needs_check)
            items.extend(ReviewItem("not_tag", c, p, i) for i in range(len(paragraph.not_tags)))
    return items


def review_notes(catalog: Catalog) -> list[tuple[int, Note]]:
    """``(document index, note)`` for every note of every document."""
    return [(d, note) for d, doc in enumerate(catalog.documents) for note in doc.notes]


def accepted(tag: Tag) -> Tag:
    """The tag as a reviewer confirmed it: sure, reasons kept as a record."""
    return replace(tag, confidence=SURE,
                   assignments=tuple(replace(a, confidence=SURE) for a in tag.assignments))


def apply_review(catalog: Catalog, decisions: Mapping[ReviewItem, Decision]) -> Catalog:
    """The catalog with the decisions applied; items without a decision stay as they are."""
    clauses = list(catalog.clauses)
    touched = {(item.clause, item.paragraph) for item in decisions}
    for c, p in sorted(touched):
        clause = clauses[c]
        paragraphs = list(clause.paragraphs)
        paragraphs[p] = _apply_to_paragraph(
            paragraphs[p], {item: d for item, d in decisions.items()
                            if (item.clause, item.paragraph) == (c, p)})
        clauses[c] = replace(clause, paragraphs=tuple(paragraphs))
    return replace(catalog, clauses=tuple(clauses))


def _apply_to_paragraph(paragraph: Paragraph,
                        decisions: Mapping[ReviewItem, Decision]) -> Paragraph:
    tag_decisions = {i.index: d for i, d in decisions.items() if i.kind == "tag"}
    span_decisions = {i.index: d for i, d in decisions.items() if i.kind == "not_tag"}
    tags: list[Tag] = []
    for index, tag in enumerate(paragraph.tags):
        decision = tag_decisions.get(index)
        if decision is None:
            tags.append(tag)
        elif decision.action == "accept":
            tags.append(accepted(tag))
        elif decision.action == "replace":
            tags.append(Tag(tag.raw, decision.assignments, SURE, tag.reasons))
        # "drop": the span is text, not a tag
    not_tags: list[NotTag] = []
    for index, span in enumerate(paragraph.not_tags):
        decision = span_decisions.get(index)
        if decision is None:
            not_tags.append(span)
        elif decision.action == "promote":
            tags.append(Tag(span.raw, decision.assignments, SURE, ()))
        # "dismiss": confirmed as text, off the list
    text = paragraph.text
    # Tags are kept in the order they appear in the paragraph.
    tags.sort(key=lambda t: text.find(t.raw) if t.raw in text else len(text))
    return replace(paragraph, tags=tuple(tags), not_tags=tuple(not_tags))


# --- the reviewer's assignment syntax ---------------------------------------------------

_PARTS = re.compile(r"[；;\n]")
_ROLE_PART = re.compile(r"^\s*([^：:]+?)\s*[：:]\s*(.*)$")
_BODIES = re.compile(r"[、,，/／]")


def parse_assignments(text: str, aliases: AliasTable = DEFAULT_ALIASES
                      ) -> tuple[TagAssignment, ...]:
    """Read ``牵头：国家发展改革委；配合：财政部、商务部``; raises :class:`PolicyError`."""
    assignments: list[TagAssignment] = []
    for part in _PARTS.split(text):
        if not part.strip():
            continue
        match = _ROLE_PART.match(part)
        if not match:
            raise PolicyError(N_("Write each part as role：bodies, e.g. "
                                 "牵头：国家发展改革委；配合：财政部、商务部 (not {part})."),
                              part=part.strip())
        word = match.group(1).strip()
        role = ROLE_WORDS.get(word) or ROLE_WORDS.get(word.lower())
        if role is None:
            raise PolicyError(N_("Unknown role {role}: use 牵头 / 负责 / 配合 / 指导 / 按职责分工 "
                                 "(lead, responsible, cooperate, guide, by_duty)."), role=word)
        names = [n.strip() for n in _BODIES.split(match.group(2)) if n.strip()]
        if not names:
            raise PolicyError(N_("No body after {role}."), role=word)
        for name in names:
            group = is_group(name, aliases)
            department = None if group else (canonical(name, aliases) or name)
            assignments.append(TagAssignment(role, department, name))
    if not assignments:
        raise PolicyError(N_("Write at least one assignment."))
    return tuple(assignments)


def format_assignments(assignments: tuple[TagAssignment, ...], english: bool = False) -> str:
    """Assignments in the reviewer's syntax, grouped by role in order of appearance."""
    order: list[str] = []
    names: dict[str, list[str]] = {}
    for a in assignments:
        if a.role not in names:
            order.append(a.role)
            names[a.role] = []
        names[a.role].append(a.as_written)
    if english:
        return "; ".join(f"{role}: {', '.join(names[role])}" for role in order)
    return "；".join(f"{_ZH_ROLE.get(role, role)}：{'、'.join(names[role])}" for role in order)
