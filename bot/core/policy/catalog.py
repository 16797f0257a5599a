"""The clause catalog: what the policy parser produces and routing reads.

JSON schema (version 2)
=======================

``Catalog.to_json()`` writes UTF-8 JSON (``ensure_ascii=False``, two-space indent, keys in
the order below). ``Catalog.from_json(text).to_json() == text`` for any text it wrote.
Version 1 files (without ``confidence`` / ``reasons`` / ``not_tags`` / ``notes``) still load:
everything in them is ``sure``.

.. code-block:: text

    {
      "version": 2,
      "main": 1,                         # index into "documents" of the main document
      "document": {...},                 # == documents[main]: the forwarded / only document
      "documents": [                     # every document found, in reading order
        {"title": str | null,            # e.g. "关于利用综合标准依法依规推动落后产能退出的指导意见"
         "number": str | null,           # e.g. "工信部联产业〔2017〕30号"
         "attachments": [str, ...],      # optional: the "附件：" list, as written
         "closing": [str, ...],          # optional: closing paragraphs after the last clause
         "notes": [                      # optional: statements that affect later tags
           {"kind": "lead_first" | "lead_first_others_cooperate" | "remark",
            "text": str,                 # as written, e.g. "列第一位者为牵头单位，下同"
            "path": [str, ...],          # the clause it is in ([] outside clauses)
            "line": int}]}               # optional: 1-based line in the source text
      ],
      "clauses": [                       # document order; parents come before their children
        {"path": ["二", "四"],           # numbering path inside its document, as written
                                         # (Chinese numerals for 一、/（一）, digits for 1./（1）;
                                         # an annex is "附件" / "附件1" at the root)
         "doc": 1,                       # index into "documents"; (doc, path) is unique
         "level": 2,                     # numbering style: 1 一、  2 （一）  3 1. / 1、  4 （1）
                                         # 0 an annex (附件)
         "title": "能耗方面",            # "" when the heading has no short title
         "paragraphs": [
           {"text": str,                 # the paragraph as written, tags included
            "tags": [
              {"raw": "工业和信息化、发展改革主管部门负责",   # text inside the brackets; for a
                                         # 责任单位： line the line, for a table row
                                         # "<column>：<cell>；…"
               "confidence": "check",    # optional (see below)
               "reasons": ["remark"],    # optional
               "assignments": [
                 {"role": "responsible" | "lead" | "cooperate" | "guide" | "by_duty",
                  "department": str | null,  # canonical key; null for a group of bodies;
                                             # an unknown body's name as written
                  "as_written": str,         # the body as written, shared suffix removed
                  "confidence": "check",     # optional
                  "reasons": [str, ...]}]}], # optional
            "deadlines": [
              {"kind": "within" | "extension_max" | "immediate" | "set_by_authority"
                       | "annual" | "annual_next_year" | "absolute",
               "years": int, "months": int, "days": int,   # within / extension_max
               "year": int, "month": int, "day": int,      # absolute / annual(_next_year)
               "phrase": str}],          # keys that do not apply are omitted
            "not_tags": [                # optional: bracketed spans read as NOT a tag
              {"raw": str,               # the text inside the brackets
               "reason": "mid_sentence" | "no_role" | "no_body" | "too_long"}]}]}],
      "warnings": [
        {"message": str,                 # English message id (translate with gettext)
         "params": {str: str},           # its parameters
         "text": str,                    # the message rendered in English, for convenience
         "line": int}]                   # optional: 1-based line in the source text
    }

Roles: ``responsible`` (负责, 落实, 负责部门：), ``lead`` (牵头, 分别牵头, 牵头单位：, or the
first-named body under a "列第一位者为牵头单位" convention), ``cooperate`` (配合, 参与, 协助,
配合单位：), ``guide`` (指导), ``by_duty`` (a group of bodies, such as 相关部门 / 各参与部门 /
其他负有…职责的部门 / 相关行业协会, that is responsible "by its duties"). A group joined by 会同
("X会同有关部门负责") stays ``responsible``; a group that cooperates (相关部门配合) stays
``cooperate``. Whatever its role, a group has ``department`` null: it is one assignment, and a
coordinator resolves it to departments.

Confidence: ``confidence`` is ``"sure"`` or ``"check"``; both keys are omitted for an item that
is sure and was never flagged. ``reasons`` says why an item was flagged (:data:`REASONS`).
On an assignment: ``unknown_body`` (not in the alias table), ``convention`` (lead, or
cooperating, by the first-named convention), ``split`` (the boundary between two bodies at
和/及/与 was guessed). On a tag: ``group`` (it names a group, whose assignment has
``department`` null and is resolved by a coordinator), ``remark`` (it holds text that is not
an assignment). A tag is ``check`` when it or one of its assignments is. A reviewed item is
``sure`` and keeps its reasons.

TOML (``to_toml`` / ``from_toml``) has the same structure with null values omitted.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import tomli_w

from bot.core.i18n import N_, DubanError, Translator

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
DEFAULT_CATALOG_PATH = Path(__file__).resolve().parents[2] / "data" / "catalog.json"

ROLES = ("responsible", "lead", "cooperate", "guide", "by_duty")
DEADLINE_KINDS = (
    "within", "extension_max", "immediate", "set_by_authority",
    "annual", "annual_next_year", "absolute",
)
SURE, CHECK = "sure", "check"
CONFIDENCES = (SURE, CHECK)
REASONS = ("unknown_body", "group", "convention", "split", "remark")
"""Why an item is flagged ``check``; see the module docstring."""
NOT_TAG_REASONS = ("mid_sentence", "no_role", "no_body", "too_long")
"""Why a bracketed span was read as not a tag: it sits inside a sentence; it has no role verb
or label; it has one but names no body; it is longer than any tag."""
NOTE_KINDS = ("lead_first", "lead_first_others_cooperate", "remark")


class PolicyError(DubanError):
    """A policy-catalog error a person reads; ``exit_code`` is what the CLI exits with."""

    def __init__(self, message: str, exit_code: int = 1, **params: Any) -> None:
        super().__init__(message, **params)
        self.exit_code = exit_code


class CatalogFormatError(PolicyError):
    """A catalog with a value this program does not know (a version, role or confidence)."""


class MalformedCatalogError(PolicyError):
    """A catalog file that cannot be used as it is; renders its problem in the reader's
    language."""

    def __init__(self, path: str, problem: DubanError) -> None:
        super().__init__(N_("The catalog {path} is malformed: {problem}"), path=path,
                         problem=str(problem))
        self.problem = problem

    def render(self, translator: Translator, aliases: Any = None) -> str:
        return translator.gettext(self.message, path=self.params["path"],
                                  problem=self.problem.render(translator, aliases))


# --- Chinese numerals --------------------------------------------------------------------

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
           "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_DIGIT_CHARS = "零一二三四五六七八九"


def parse_chinese_number(text: str) -> int | None:
    """``"十七"`` -> 17, ``"二十三"`` -> 23, ``"一百零五"`` -> 105, ``"17"`` -> 17.

    Returns None when ``text`` is not a number (Arabic or Chinese, below 10000).
    """
    text = text.strip()
    if not text:
        return None
    if text.isdecimal():  # not isdigit(): it accepts "²", which int() refuses
        return int(text)
    total, digit = 0, None
    for char in text:
        if char in "零〇":
            continue  # a placeholder: 一百零五
        if char in _DIGITS:
            if digit is not None:  # two digits in a row: only "一〇" style, not supported
                return None
            digit = _DIGITS[char]
        elif char in _UNITS:
            total += (1 if digit is None else digit) * _UNITS[char]
            digit = None
        else:
            return None
    return total + (digit or 0)


def to_chinese_number(value: int) -> str:
    """17 -> ``"十七"``, 20 -> ``"二十"``, 105 -> ``"一百零五"`` (0 <= value < 10000)."""
    if not 0 <= value < 10000:
        raise ValueError(f"out of range: {value}")
    if value < 10:
        return _DIGIT_CHARS[value]
    if value < 20:
        return "十" + (_DIGIT_CHARS[value - 10] if value > 10 else "")
    parts: list[str] = []
    zero = False
    for unit, char in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = value // unit % 10
        if digit == 0:
            zero = bool(parts)
            continue
        if zero:
            parts.append("零")
            zero = False
        parts.append(_DIGIT_CHARS[digit] + char)
    return "".join(parts)


def _number_of(part: str) -> int | None:
    return parse_chinese_number(part)


# --- the dataclasses --------------------------------------------------------------------


@dataclass(frozen=True)
class Note:
    """A statement that affects later tags (a lead convention, a standing remark such as
    "以下各项任务均需地方各级人民政府落实，不再列出"), kept for the reviewer."""

    kind: str
    text: str
    path: tuple[str, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class Document:
    title: str | None = None
    number: str | None = None
    attachments: tuple[str, ...] = ()
    closing: tuple[str, ...] = ()
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True)
class Deadline:
    kind: str
    phrase: str = ""
    years: int | None = None
    months: int | None = None
    days: int | None = None
    year: int | None = None
    month: int | None = None
    day: int | None = None

    @property
    def key(self) -> tuple[Any, ...]:
        """The rule without its phrase: two deadlines with equal keys say the same thing."""
        return (self.kind, self.years, self.months, self.days, self.year, self.month, self.day)


@dataclass(frozen=True)
class TagAssignment:
    role: str
    department: str | None
    as_written: str
    confidence: str = SURE
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tag:
    raw: str
    assignments: tuple[TagAssignment, ...] = ()
    confidence: str = SURE
    reasons: tuple[str, ...] = ()

    @property
    def needs_check(self) -> bool:
        """The tag or one of its assignments is flagged ``check``."""
        return self.confidence == CHECK or any(a.confidence == CHECK for a in self.assignments)


@dataclass(frozen=True)
class NotTag:
    """A bracketed span the parser read as not a tag, and why (:data:`NOT_TAG_REASONS`)."""

    raw: str
    reason: str


@dataclass(frozen=True)
class Paragraph:
    text: str
    tags: tuple[Tag, ...] = ()
    deadlines: tuple[Deadline, ...] = ()
    not_tags: tuple[NotTag, ...] = ()

    def assignments(self) -> tuple[TagAssignment, ...]:
        return tuple(a for tag in self.tags for a in tag.assignments)


_LEVEL_MARKERS = {1: "{}、", 2: "（{}）", 3: "{}、", 4: "（{}）"}


@dataclass(frozen=True)
class Clause:
    path: tuple[str, ...]
    doc: int = 0
    title: str = ""
    paragraphs: tuple[Paragraph, ...] = ()
    level: int = 0

    @property
    def ref(self) -> str:
        """The clause's own number as written: ``"四"`` for （四）."""
        return self.path[-1]

    @property
    def marker(self) -> str:
        """The number as the document writes it: ``"（四）"``, ``"一、"``, ``"2、"``."""
        level = self.level or (2 if len(self.path) == 2 else 1)
        return _LEVEL_MARKERS.get(level, "{}").format(self.ref)

    @property
    def label(self) -> str:
        """``"（四）能耗方面"``; an untitled clause shows the start of its first paragraph."""
        if self.title:
            return self.marker + self.title
        if self.paragraphs:
            text = self.paragraphs[0].text
            return self.marker + (text[:16] + "…" if len(text) > 16 else text)
        return self.marker

    def assignments(self) -> tuple[TagAssignment, ...]:
        """All assignments of all paragraphs, in order."""
        return tuple(a for p in self.paragraphs for a in p.assignments())

    def deadlines(self) -> tuple[Deadline, ...]:
        return tuple(d for p in self.paragraphs for d in p.deadlines)


@dataclass(frozen=True)
class ParseWarning:
    message: str
    params: tuple[tuple[str, str], ...] = ()
    line: int | None = None

    @property
    def text(self) -> str:
        return self.message.format(**dict(self.params))

    def to_error(self) -> DubanError:
        """As a DubanError, to render in the reader's language."""
        return DubanError(self.message, **dict(self.params))


#: The case events a linked measure can follow (see :class:`MeasureRule`).
MEASURE_EVENTS = ("accepted", "exited", "exit_missed", "failing")


@dataclass(frozen=True)
class MeasureRule:
    """A measure that follows a case (linked measure): when a case of ``case_clauses`` (any,
    when empty) has event ``on``, the paragraph of clause ``clause`` becomes a task for the
    departments its tag names, due ``months`` months later.

    Events: ``accepted`` (a department accepted the case: its capacity fails the standard),
    ``exited`` (the enterprise or line is closed and exited), ``exit_missed`` (an exit,
    dismantling or shutdown deadline passed without the exit), ``failing`` (still failing
    after the rectification period)."""

    on: str
    clause: str
    case_clauses: tuple[str, ...] = ()
    months: int = 3

    def __post_init__(self) -> None:
        if self.on not in MEASURE_EVENTS:
            raise CatalogFormatError(N_("unknown measure event {event}"), event=self.on)
        if not 1 <= self.months <= 24:
            raise CatalogFormatError(N_("a measure is due within 1 to 24 months"))

    def applies_to(self, case_clause: str) -> bool:
        return not self.case_clauses or case_clause in self.case_clauses


@dataclass(frozen=True)
class Catalog:
    clauses: tuple[Clause, ...]
    documents: tuple[Document, ...] = (Document(),)
    main: int = 0
    warnings: tuple[ParseWarning, ...] = field(default=())
    #: Which case event opens which measure; None: the defaults of the guiding opinion
    #: (``bot.core.tasks.DEFAULT_MEASURES``). Written by the reviewer in the catalog file.
    measures: tuple[MeasureRule, ...] | None = None

    @property
    def document(self) -> Document:
        return self.documents[self.main]

    # --- lookup ---

    def find_clause(self, ref: str) -> Clause:
        """Find a clause by ``"四"``, ``"4"``, ``"（四）"``, ``"(4)"``, ``"二.四"`` or ``"二/四"``.

        A single number means the （N） clause of the main document (path of length 2) when
        there is exactly one; otherwise any clause whose own number matches, if unique. A
        path is matched in the main document first, then in the others. Numbers match in
        either script ("4" == "四").
        """
        parts = _split_ref(ref)
        if not parts:
            raise PolicyError(N_("No clause {ref} in the catalog."), exit_code=2, ref=ref)
        if len(parts) == 1:
            found = self._find_single(parts[0])
        else:
            found = self._find_path(parts)
        if not found:
            raise PolicyError(N_("No clause {ref} in the catalog."), exit_code=2, ref=ref)
        if len(found) > 1:
            names = "、".join("/".join(c.path) for c in found)
            raise PolicyError(
                N_("Clause {ref} is ambiguous: {candidates}."), exit_code=2,
                ref=ref, candidates=names,
            )
        return found[0]

    def _find_single(self, part: str) -> list[Clause]:
        main = [c for c in self.clauses
                if c.doc == self.main and len(c.path) == 2 and _part_matches(part, c.ref)]
        if main:
            return main
        return [c for c in self.clauses if _part_matches(part, c.ref)]

    def _find_path(self, parts: list[str]) -> list[Clause]:
        def matches(clause: Clause) -> bool:
            return len(clause.path) == len(parts) and all(
                _part_matches(p, e) for p, e in zip(parts, clause.path, strict=True))

        main = [c for c in self.clauses if c.doc == self.main and matches(c)]
        return main or [c for c in self.clauses if matches(c)]

    def clauses_of(self, doc: int) -> tuple[Clause, ...]:
        return tuple(c for c in self.clauses if c.doc == doc)

    # --- serialisation ---

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": SCHEMA_VERSION,
            "main": self.main,
            "document": _document_to_dict(self.document),
            "documents": [_document_to_dict(d) for d in self.documents],
            "clauses": [_clause_to_dict(c) for c in self.clauses],
            "warnings": [_warning_to_dict(w) for w in self.warnings],
            **({} if self.measures is None else {"measures": [
                {"on": m.on, "clause": m.clause, "case_clauses": list(m.case_clauses),
                 "months": m.months} for m in self.measures]}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Catalog:
        """Read a catalog; raises :class:`CatalogFormatError` for an unknown version, role,
        confidence or not-tag reason, and KeyError / TypeError / ValueError for a broken
        structure."""
        version = data.get("version", 1)
        if version not in READABLE_VERSIONS:
            raise CatalogFormatError(
                N_("unsupported catalog version {version} (this program reads versions "
                   "1 and 2)"), version=str(version))
        documents = tuple(_document_from_dict(d) for d in data.get("documents") or ())
        if not documents:
            documents = (_document_from_dict(data.get("document") or {}),)
        main = int(data.get("main", 0))
        if not 0 <= main < len(documents):
            raise ValueError(f"main index {main} out of range")
        return cls(
            clauses=tuple(_clause_from_dict(c) for c in data.get("clauses") or ()),
            documents=documents,
            main=main,
            warnings=tuple(_warning_from_dict(w) for w in data.get("warnings") or ()),
            measures=None if data.get("measures") is None else tuple(
                MeasureRule(on=str(m["on"]), clause=str(m["clause"]),
                            case_clauses=tuple(str(c) for c in m.get("case_clauses") or ()),
                            months=int(m.get("months", 3)))
                for m in data["measures"]),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Catalog:
        return cls.from_dict(json.loads(text))

    def to_toml(self) -> str:
        return tomli_w.dumps(_drop_none(self.to_dict()))

    @classmethod
    def from_toml(cls, text: str) -> Catalog:
        return cls.from_dict(tomllib.loads(text))


# --- ref helpers ------------------------------------------------------------------------

_REF_SPLIT = re.compile(r"[./／。．>·\\]")
_REF_STRIP = "（）()【】[]〔〕、，, \t"


def _split_ref(ref: str) -> list[str]:
    parts = [p.strip(_REF_STRIP) for p in _REF_SPLIT.split(ref.strip())]
    return [p for p in parts if p]


def _part_matches(part: str, element: str) -> bool:
    if part == element:
        return True
    number = _number_of(part)
    return number is not None and number == _number_of(element)


# --- (de)serialisation helpers -----------------------------------------------------------


def _document_to_dict(doc: Document) -> dict[str, Any]:
    out: dict[str, Any] = {"title": doc.title, "number": doc.number}
    if doc.attachments:
        out["attachments"] = list(doc.attachments)
    if doc.closing:
        out["closing"] = list(doc.closing)
    if doc.notes:
        out["notes"] = [_note_to_dict(n) for n in doc.notes]
    return out


def _document_from_dict(data: Mapping[str, Any]) -> Document:
    return Document(
        title=data.get("title"),
        number=data.get("number"),
        attachments=tuple(data.get("attachments") or ()),
        closing=tuple(data.get("closing") or ()),
        notes=tuple(_note_from_dict(n) for n in data.get("notes") or ()),
    )


def _note_to_dict(note: Note) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": note.kind, "text": note.text, "path": list(note.path)}
    if note.line is not None:
        out["line"] = note.line
    return out


def _note_from_dict(data: Mapping[str, Any]) -> Note:
    kind = str(data["kind"])
    if kind not in NOTE_KINDS:
        raise CatalogFormatError(N_("unknown note kind {kind}"), kind=kind)
    line = data.get("line")
    return Note(kind, str(data["text"]), tuple(str(p) for p in data.get("path") or ()),
                None if line is None else int(line))


def _flags_to_dict(confidence: str, reasons: tuple[str, ...]) -> dict[str, Any]:
    """``confidence`` / ``reasons`` keys, omitted for an item that is sure and unflagged."""
    if confidence == SURE and not reasons:
        return {}
    return {"confidence": confidence, "reasons": list(reasons)}


def _flags_from_dict(data: Mapping[str, Any], where: str) -> tuple[str, tuple[str, ...]]:
    confidence = str(data.get("confidence", SURE))
    if confidence not in CONFIDENCES:
        raise CatalogFormatError(N_("unknown confidence {value} in clause {clause}"),
                                 value=confidence, clause=where)
    return confidence, tuple(str(r) for r in data.get("reasons") or ())


_DEADLINE_INTS = ("years", "months", "days", "year", "month", "day")


def _deadline_to_dict(d: Deadline) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": d.kind}
    for name in _DEADLINE_INTS:
        value = getattr(d, name)
        if value is not None:
            out[name] = value
    out["phrase"] = d.phrase
    return out


def _deadline_from_dict(data: Mapping[str, Any]) -> Deadline:
    ints = {name: (None if data.get(name) is None else int(data[name])) for name in _DEADLINE_INTS}
    return Deadline(kind=str(data["kind"]), phrase=str(data.get("phrase") or ""), **ints)


def _assignment_to_dict(a: TagAssignment) -> dict[str, Any]:
    return {"role": a.role, "department": a.department, "as_written": a.as_written,
            **_flags_to_dict(a.confidence, a.reasons)}


def _tag_to_dict(t: Tag) -> dict[str, Any]:
    return {"raw": t.raw, **_flags_to_dict(t.confidence, t.reasons),
            "assignments": [_assignment_to_dict(a) for a in t.assignments]}


def _paragraph_to_dict(p: Paragraph) -> dict[str, Any]:
    out: dict[str, Any] = {
        "text": p.text,
        "tags": [_tag_to_dict(t) for t in p.tags],
        "deadlines": [_deadline_to_dict(d) for d in p.deadlines],
    }
    if p.not_tags:
        out["not_tags"] = [{"raw": n.raw, "reason": n.reason} for n in p.not_tags]
    return out


def _assignment_from_dict(data: Mapping[str, Any], where: str) -> TagAssignment:
    role = str(data["role"])
    if role not in ROLES:
        raise CatalogFormatError(N_("unknown role {role} in clause {clause}"),
                                 role=role, clause=where)
    department = data.get("department")
    confidence, reasons = _flags_from_dict(data, where)
    return TagAssignment(role=role, department=None if department is None else str(department),
                         as_written=str(data.get("as_written", "")),
                         confidence=confidence, reasons=reasons)


def _tag_from_dict(data: Mapping[str, Any], where: str) -> Tag:
    confidence, reasons = _flags_from_dict(data, where)
    return Tag(raw=str(data["raw"]), confidence=confidence, reasons=reasons,
               assignments=tuple(_assignment_from_dict(a, where)
                                 for a in data.get("assignments") or ()))


def _not_tag_from_dict(data: Mapping[str, Any], where: str) -> NotTag:
    reason = str(data.get("reason", ""))
    if reason not in NOT_TAG_REASONS:
        raise CatalogFormatError(N_("unknown not-a-tag reason {reason} in clause {clause}"),
                                 reason=reason, clause=where)
    return NotTag(str(data["raw"]), reason)


def _paragraph_from_dict(data: Mapping[str, Any], where: str = "") -> Paragraph:
    tags = tuple(_tag_from_dict(t, where) for t in data.get("tags") or ())
    deadlines = tuple(_deadline_from_dict(d) for d in data.get("deadlines") or ())
    not_tags = tuple(_not_tag_from_dict(n, where) for n in data.get("not_tags") or ())
    return Paragraph(text=str(data["text"]), tags=tags, deadlines=deadlines, not_tags=not_tags)


def _clause_to_dict(c: Clause) -> dict[str, Any]:
    return {
        "path": list(c.path),
        "doc": c.doc,
        "level": c.level,
        "title": c.title,
        "paragraphs": [_paragraph_to_dict(p) for p in c.paragraphs],
    }


def _clause_from_dict(data: Mapping[str, Any]) -> Clause:
    path = tuple(str(p) for p in data["path"])
    where = "/".join(path)
    return Clause(
        path=path,
        doc=int(data.get("doc", 0)),
        title=str(data.get("title") or ""),
        paragraphs=tuple(_paragraph_from_dict(p, where) for p in data.get("paragraphs") or ()),
        level=int(data.get("level", 0)),
    )


def _warning_to_dict(w: ParseWarning) -> dict[str, Any]:
    out: dict[str, Any] = {"message": w.message, "params": dict(w.params), "text": w.text}
    if w.line is not None:
        out["line"] = w.line
    return out


def _warning_from_dict(data: Mapping[str, Any]) -> ParseWarning:
    params = tuple((str(k), str(v)) for k, v in (data.get("params") or {}).items())
    line = data.get("line")
    return ParseWarning(message=str(data["message"]), params=params,
                        line=None if line is None else int(line))


def _drop_none(value: Any) -> Any:
    """TOML has no null: drop None values from mappings (recursively)."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


# --- loading ----------------------------------------------------------------------------


def load_catalog(path: str | Path) -> Catalog:
    """Read a catalog written by ``to_json`` (``.json``) or ``to_toml`` (``.toml``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".toml"):
        raise PolicyError(N_("A catalog file must end in .json or .toml: {path}"),
                          exit_code=2, path=str(path))
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise PolicyError(N_("The file {path} does not exist."), exit_code=2,
                          path=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(N_("Cannot read the catalog {path}: {error}"),
                          path=str(path), error=str(exc)) from exc
    try:
        return Catalog.from_json(text) if suffix == ".json" else Catalog.from_toml(text)
    except CatalogFormatError as exc:
        raise MalformedCatalogError(str(path), exc) from exc
    except (ValueError, KeyError, TypeError, AttributeError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(N_("Cannot read the catalog {path}: {error}"),
                          path=str(path), error=str(exc)) from exc


@cache
def load_default_catalog() -> Catalog:
    """The reviewed catalog of the seed document (``bot/data/catalog.json``), cached."""
    return load_catalog(DEFAULT_CATALOG_PATH)
