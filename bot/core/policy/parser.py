"""Parse a Chinese policy document into a :class:`~bot.core.policy.catalog.Catalog`.

The parser reads line by line (linear in the input; the input is capped at
:data:`MAX_BYTES`):

* **Documents.** A document number line (``昌州经信〔2017〕185号  签发：…``) or a title
  (``关于…的通知`` / ``…指导意见``, possibly wrapped over up to four lines) starts a new
  document once the current one already has clauses or that header field. A cover letter
  that 转发 (forwards) another document found in the same text makes that one the main
  document; otherwise the document with the most clauses is the main one.
* **Clauses.** ``一、`` (level 1), ``（一）`` (level 2), ``1.`` / ``1、`` (level 3) and ``（1）``
  (level 4) headings; a clause's path is its ancestors' numbers plus its own, so the cover
  letter's ``2、`` under ``二、`` is ``["二", "2"]``. The title is a short heading
  ("一、总体要求", "（四）能耗方面。…"); text after it on the same line is the first paragraph.
  Lines without a number are further paragraphs of the current clause.
* **Outside clauses.** Lines before the first clause (salutation, preamble) are skipped;
  ``附件：`` starts the attachment list (its numbered lines are not clauses); ``联系人：`` /
  ``联系电话：`` / ``抄送：`` / ``印发`` lines are a trailer. In a document whose clauses end with
  responsibility tags, untagged paragraphs after the last clause's last tag are the
  document's closing text, not part of that clause.
* **Tags.** A bracketed span （…） or (…) at the end of a paragraph or a sentence that reads
  as a tag (see :mod:`bot.core.policy.tags`); a paragraph that is, or ends with, a
  ``责任单位：…`` / ``牵头单位：…`` line; the responsibility columns of a task table. Every
  other bracketed span is kept as a "not a tag" with the reason, for the reviewer.
* **Tables.** A line of cells (separated by tabs, ``|`` or two or more spaces) with a
  responsibility column (责任单位, 牵头单位, 配合单位…) starts a table; each following row of as
  many cells is a clause numbered by its 序号 cell (level 3), its tag read from those columns.
  Headings between rows (一、…) still nest the rows. An annex (a line ``附件`` / ``附件2`` after
  the attachment list) is a clause at the root, ``["附件"]``, level 0.
* **Notes.** A statement of the lead convention (列第一位者为牵头单位…) anywhere in the text
  (a tag, the body text, a 注： note) applies from there to the end of the document; it and
  every standing remark (以下各项任务均需…落实，不再列出 / 下同) are recorded as the
  document's notes.
* **Traditional script.** The text is read through :func:`~bot.core.policy.script.to_simplified`
  (one character for one), and everything stored is given back as written.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.core.departments import DEFAULT_ALIASES, AliasTable
from bot.core.i18n import N_
from bot.core.policy.catalog import (
    Catalog,
    Clause,
    Deadline,
    Document,
    Note,
    NotTag,
    Paragraph,
    ParseWarning,
    PolicyError,
    Tag,
    TagAssignment,
    parse_chinese_number,
)
from bot.core.policy.deadlines import extract_deadlines
from bot.core.policy.script import is_traditional, restore, to_simplified
from bot.core.policy.tags import (
    MAX_TAG_CHARS,
    ROLE_LABELS,
    Convention,
    TagParse,
    find_conventions,
    is_standing_remark,
    looks_like_tag,
    parse_tag,
    read_tag,
)

__all__ = [
    "MAX_BYTES", "MAX_TAG_CHARS", "TagParse", "bracket_spans", "decode_policy_bytes",
    "parse_policy", "parse_policy_file", "parse_tag", "read_policy_file", "split_title",
]

MAX_BYTES = 10 * 1024 * 1024
"""Files (and texts, in UTF-8 bytes) above this size are refused."""

# --- reading and decoding ---------------------------------------------------------------


def read_policy_file(path: str | Path) -> str:
    """Read and decode a policy file: UTF-8 (with or without BOM), UTF-16 with BOM, or
    GB18030 (which includes GBK and GB2312).

    Raises :class:`PolicyError` for a missing, empty, binary, oversized or undecodable file.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise PolicyError(N_("The file {path} does not exist."), exit_code=2,
                          path=str(path)) from None
    except OSError as exc:
        raise PolicyError(N_("Cannot read {path}: {error}"), path=str(path),
                          error=str(exc)) from exc
    if size > MAX_BYTES:
        raise _too_large(str(path), size)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyError(N_("Cannot read {path}: {error}"), path=str(path),
                          error=str(exc)) from exc
    return decode_policy_bytes(data, str(path))


def _too_large(name: str, size: int) -> PolicyError:
    return PolicyError(
        N_("{path} is too large ({size} MB); the limit is {limit} MB."), exit_code=2,
        path=name, size=f"{size / 1024 / 1024:.1f}", limit=str(MAX_BYTES // 1024 // 1024),
    )


def decode_policy_bytes(data: bytes, name: str = "<input>") -> str:
    """Decode the bytes of a policy document; see :func:`read_policy_file`."""
    if len(data) > MAX_BYTES:
        raise _too_large(name, len(data))
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return _check_text(data.decode("utf-16"), name)
        except UnicodeDecodeError:
            raise _undecodable(name) from None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    if not data.strip():
        raise PolicyError(N_("The file {path} is empty."), path=name)
    if b"\x00" in data:
        raise PolicyError(N_("The file {path} looks binary (it contains NUL bytes)."),
                          path=name)
    try:
        return _check_text(data.decode("utf-8"), name)
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        raise _undecodable(name) from None
    if not _looks_chinese(text):
        raise _undecodable(name)
    return _check_text(text, name)


def _undecodable(name: str) -> PolicyError:
    return PolicyError(
        N_("Cannot decode {path}: it is neither UTF-8 nor GB18030/GBK text."), path=name)


def _looks_chinese(text: str) -> bool:
    """GB18030 decodes many byte strings; accept it only if the result reads as Chinese."""
    non_ascii = [c for c in text if ord(c) > 127]
    if not non_ascii:
        return True
    chinese = sum(1 for c in non_ascii if _is_cjk(c))
    return chinese / len(non_ascii) >= 0.6


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return (0x4E00 <= code <= 0x9FFF or 0x3000 <= code <= 0x303F
            or 0xFF00 <= code <= 0xFFEF or 0x2000 <= code <= 0x206F or 0x3400 <= code <= 0x4DBF)


def _check_text(text: str, name: str) -> str:
    if not text.strip():
        raise PolicyError(N_("The file {path} is empty."), path=name)
    if "\x00" in text:
        raise PolicyError(N_("The file {path} looks binary (it contains NUL bytes)."),
                          path=name)
    return text


def parse_policy_file(path: str | Path, aliases: AliasTable = DEFAULT_ALIASES) -> Catalog:
    """Read, decode and parse a policy file."""
    return parse_policy(read_policy_file(path), aliases)


# --- line classification ----------------------------------------------------------------

_CN = "零〇一二三四五六七八九十百"
_LEVEL1 = re.compile(rf"^([{_CN}]{{1,4}})\s*、\s*(.*)$")
_LEVEL2 = re.compile(rf"^[（(]\s*([{_CN}]{{1,4}})\s*[）)]\s*(.*)$")
_LEVEL3 = re.compile(r"^(\d{1,3})\s*[、.．](?![\d％%])\s*(.*)$")
_LEVEL4 = re.compile(r"^[（(]\s*(\d{1,3})\s*[）)]\s*(.*)$")
_HEADINGS = ((1, _LEVEL1), (2, _LEVEL2), (4, _LEVEL4), (3, _LEVEL3))

_DOC_NUMBER = re.compile(
    r"^([\u4e00-\u9fff]{1,24}\s*[〔［\[（(]\s*\d{4}\s*[〕］\]）)]\s*第?\s*\d{1,5}\s*号)"
    r"(?:\s+签\s*发\s*人?\s*[：:].*)?$")
_TITLE_START = re.compile(r"^[^，。；：:,;！？!?、]{0,30}关于[^，。；：:,;！？!?]*$")
_TITLE_PART = re.compile(r"^[^，。；：:,;！？!?]+$")
_TITLE_END = re.compile(
    r"(?:通知|意见|决定|办法|规定|方案|要点|细则|批复|函|通告|公告|报告|规划|计划|纲要|条例|规则)$")
_ATTACHMENT = re.compile(r"^附\s*件\s*\d*\s*[：:]?\s*(.*)$")
_TRAILER = re.compile(
    r"^(?:联\s*系\s*人|联\s*系\s*电\s*话|电\s*话|传\s*真|抄\s*送|抄\s*报|印\s*发|主题词)\s*[：:]")
_ANNEX = re.compile(r"^附\s*件\s*(\d{0,2})$")
_NOTE_LINE = re.compile(r"^[（(]?\s*(?:注|说明|备注)\s*\d*\s*[：:]")
_LABEL_LINE = re.compile(
    r"(?:^|(?<=[。；;]))\s*((?:牵头|责任|负责|配合|参与|协办|主办|指导)(?:单位|部门)\s*[：:].*)$")


def _normalize_line(line: str) -> str:
    return line.replace("\u3000", " ").replace("\xa0", " ").replace("\ufeff", "").strip()


def _match_heading(line: str) -> tuple[int, str, str] | None:
    """``(level, number, rest)`` for a numbered heading line."""
    for level, pattern in _HEADINGS:
        match = pattern.match(line)
        if match and parse_chinese_number(match.group(1)) is not None:
            return level, match.group(1), match.group(2).strip()
    return None


_TITLE_MAX = 20
_TITLE_ONLY_MAX = 30


def split_title(rest: str) -> tuple[str, str]:
    """Split a heading's text into ``(title, first paragraph)``.

    "总体要求" -> ("总体要求", ""); "能耗方面。严格执行…" -> ("能耗方面", "严格执行…");
    a heading that is a whole sentence has no title: ("", the sentence).
    """
    if not rest:
        return "", ""
    if not re.search(r"[。；！？!?;]", rest) and len(rest) <= _TITLE_ONLY_MAX \
            and not re.search(r"[（(]", rest):
        return rest, ""
    head, sep, tail = rest.partition("。")
    if sep and 0 < len(head) <= _TITLE_MAX and not re.search(r"[，,：:；;（(“\"]", head):
        return head, tail.strip()
    return "", rest


# --- brackets ---------------------------------------------------------------------------

_OPEN = "（("
_CLOSE = "）)"


def bracket_spans(text: str) -> tuple[list[tuple[int, int]], bool]:
    """Top-level round-bracket spans ``(start, end)`` (end exclusive) and whether an opening
    bracket is left unclosed. Stray closing brackets are ignored."""
    spans: list[tuple[int, int]] = []
    depth, start = 0, 0
    for index, char in enumerate(text):
        if char in _OPEN:
            if depth == 0:
                start = index
            depth += 1
        elif char in _CLOSE and depth:
            depth -= 1
            if depth == 0:
                spans.append((start, index + 1))
    return spans, depth > 0


def _at_sentence_end(text: str, start: int, end: int) -> bool:
    """Whether the span ends its paragraph or a sentence, or follows a sentence's end."""
    after = end
    while after < len(text) and text[after].isspace():
        after += 1
    before = start - 1
    while before >= 0 and text[before].isspace():
        before -= 1
    return (after == len(text) or text[after] in "。；;.！？!?"
            or before < 0 or text[before] in "。；;！？!?")


# --- tables -----------------------------------------------------------------------------

_PIPES = re.compile(r"\s*[|｜]\s*")
_SPACES = re.compile(r"\s{2,}")
_TABLE_RULE = re.compile(r"^[|｜\s:：\-—=+]+$")
_NUMBER_COLUMNS = ("序号", "编号", "序")
_TASK_COLUMNS = ("任务", "事项", "内容", "措施")
_CELL_MAX = 12


def table_cells(line: str) -> list[str]:
    """The cells of a table line: split at ``|``, tabs, or runs of two or more spaces."""
    if "|" in line or "｜" in line:
        cells = _PIPES.split(line.strip())
        if cells and not cells[0]:
            cells = cells[1:]
        if cells and not cells[-1]:
            cells = cells[:-1]
        return [c.strip() for c in cells]
    if "\t" in line:
        return [c.strip() for c in line.strip().split("\t")]
    return [c for c in _SPACES.split(line.strip()) if c]


@dataclass
class _Table:
    """The header of a task table: which column holds what."""

    cells: list[str]  # simplified
    written: list[str]
    number: int | None
    task: int | None
    roles: dict[int, str]  # column -> label (simplified)
    rows: int = 0


def _table_header(cells: list[str], written: list[str]) -> _Table | None:
    if len(cells) < 2 or any(len(c) > _CELL_MAX or re.search(r"[。；;，,]", c) for c in cells):
        return None
    names = [re.sub(r"\s+", "", c) for c in cells]
    roles = {i: n for i, n in enumerate(names) if n in ROLE_LABELS}
    if not roles:
        return None
    number = next((i for i, n in enumerate(names) if n in _NUMBER_COLUMNS), None)
    task = next((i for i, n in enumerate(names)
                 if i not in roles and any(w in n for w in _TASK_COLUMNS)), None)
    return _Table(names, written, number, task, roles)


# --- assembling -------------------------------------------------------------------------


@dataclass
class _ClauseBuilder:
    path: tuple[str, ...]
    doc: int
    level: int
    title: str
    line: int
    paragraphs: list[Paragraph] = field(default_factory=list)


@dataclass
class _DocBuilder:
    title: str | None = None
    number: str | None = None
    clauses: list[_ClauseBuilder] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    closing: list[str] = field(default_factory=list)
    stack: list[tuple[int, str]] = field(default_factory=list)
    convention: Convention | None = None
    notes: list[Note] = field(default_factory=list)


@dataclass
class _Parser:
    aliases: AliasTable
    written_lines: list[str]  # normalized, as written
    lines: list[str]  # normalized, simplified
    docs: list[_DocBuilder] = field(default_factory=lambda: [_DocBuilder()])
    warnings: list[ParseWarning] = field(default_factory=list)
    mode: str = "body"  # body | attachments | trailer
    table: _Table | None = None
    annex_title: _ClauseBuilder | None = None  # an annex waiting for its title line

    @property
    def doc(self) -> _DocBuilder:
        return self.docs[-1]

    def warn(self, message: str, at_line: int | None, **params: object) -> None:
        self.warnings.append(ParseWarning(
            message, tuple((k, str(v)) for k, v in params.items()), at_line))

    def written(self, line: int, fragment: str) -> str:
        """``fragment`` of simplified line ``line`` (1-based) as written."""
        return restore(fragment, self.lines[line - 1], self.written_lines[line - 1])

    def _path(self) -> tuple[str, ...]:
        return self.doc.clauses[-1].path if self.doc.clauses else ()

    # headers

    def set_number(self, number: str) -> None:
        if self.doc.clauses or self.doc.number:
            self.docs.append(_DocBuilder())
        self.doc.number = re.sub(r"\s+", "", number)
        self.mode = "body"
        self.table = None

    def set_title(self, title: str) -> None:
        if self.doc.clauses or self.doc.title:
            self.docs.append(_DocBuilder())
        self.doc.title = title
        self.mode = "body"
        self.table = None

    # notes

    def scan_notes(self, text: str, line: int, remarks: bool) -> None:
        """Record lead conventions in ``text`` (and standing remarks, in a note line) as
        notes; a convention is in force from here on."""
        for match, convention in find_conventions(text):
            self.doc.convention = convention
            kind = "lead_first_others_cooperate" if convention.others_cooperate else "lead_first"
            self.add_note(kind, match.group(0), line)
        if remarks:
            body = _NOTE_LINE.sub("", text)
            for sentence in re.split(r"[。；;]", body):
                if is_standing_remark(sentence) and not find_conventions(sentence):
                    self.add_note("remark", sentence.strip("，, "), line)

    def add_note(self, kind: str, fragment: str, line: int) -> None:
        note = Note(kind, self.written(line, fragment).strip("，,；;。 "), self._path(), line)
        if note not in self.doc.notes:
            self.doc.notes.append(note)

    # clauses and paragraphs

    def add_clause(self, level: int, number: str, rest: str, line: int) -> _ClauseBuilder:
        doc = self.doc
        while doc.stack and doc.stack[-1][0] >= level:
            doc.stack.pop()
        path = (*(ref for _, ref in doc.stack), number)
        doc.stack.append((level, number))
        if any(c.path == path for c in doc.clauses):
            self.warn(N_("Clause {path} appears twice (line {line})."), line,
                      path="/".join(path), line=line)
        title, first = split_title(rest)
        clause = _ClauseBuilder(path, len(self.docs) - 1, level,
                                self.written(line, title), line)
        doc.clauses.append(clause)
        self.mode = "body"
        if first:
            self.add_paragraph(first, line)
        return clause

    def add_annex(self, number: str, line: int) -> None:
        """``附件`` / ``附件2`` after the attachment list: the annex, a clause at the root."""
        self.doc.stack.clear()
        self.table = None
        self.annex_title = self.add_clause(0, self.written(line, "附件" + number), "", line)
        self.doc.stack[-1] = (0, self.annex_title.path[-1])

    def add_paragraph(self, text: str, line: int) -> None:
        self.scan_notes(text, line, remarks=bool(_NOTE_LINE.match(text)))
        clause = self.doc.clauses[-1]
        clause.paragraphs.append(self.build_paragraph(text, line, clause.path))

    def make_tag(self, parsed: TagParse, raw: str, raw_written: str, line: int,
                 path: tuple[str, ...]) -> Tag:
        """A catalog tag from a parse of simplified ``raw``; names given back as written."""
        assignments = tuple(
            TagAssignment(a.role,
                          restore(a.department, raw, raw_written)
                          if a.department == a.as_written else a.department,
                          restore(a.as_written, raw, raw_written), a.confidence, a.reasons)
            for a in parsed.assignments)
        for name in parsed.unknown:
            self.warn(N_("Unknown department {name} in clause {clause} (line {line})."),
                      line, name=restore(name, raw, raw_written), clause="/".join(path),
                      line=line)
        for remark in parsed.remarks:
            note = Note("remark", restore(remark, raw, raw_written), path, line)
            if note not in self.doc.notes:
                self.doc.notes.append(note)
        return Tag(raw_written, assignments, parsed.confidence, parsed.reasons)

    def build_paragraph(self, text: str, line: int, path: tuple[str, ...]) -> Paragraph:
        written = self.written(line, text)
        label = _LABEL_LINE.search(text)
        label_at = label.start(1) if label else len(text)
        spans, unclosed = bracket_spans(text)
        if unclosed:
            self.warn(N_("Unclosed bracket on line {line}."), line, line=line)
        tags: list[Tag] = []
        not_tags: list[NotTag] = []
        for start, end in spans:
            if start >= label_at:
                continue  # brackets inside a 责任单位： line belong to its bodies
            raw = text[start + 1:end - 1].strip()
            raw_written = restore(raw, text, written)
            if not _at_sentence_end(text, start, end):
                not_tags.append(NotTag(raw_written, "mid_sentence"))
                continue
            parsed = read_tag(raw, self.aliases, self.doc.convention)
            if isinstance(parsed, str):
                not_tags.append(NotTag(raw_written, parsed))
                if is_standing_remark(raw) and not find_conventions(raw):
                    self.add_note("remark", raw, line)
                continue
            tags.append(self.make_tag(parsed, raw, raw_written, line, path))
        if label:
            raw = label.group(1).strip().rstrip("。.")
            parsed = read_tag(raw, self.aliases, self.doc.convention)
            if isinstance(parsed, TagParse):
                tags.append(self.make_tag(parsed, raw, restore(raw, text, written), line, path))
        return Paragraph(written, tuple(tags), self.deadlines(text, written), tuple(not_tags))

    @staticmethod
    def deadlines(text: str, written: str) -> tuple[Deadline, ...]:
        found = extract_deadlines(text)
        if text == written:
            return found
        return tuple(replace(d, phrase=restore(d.phrase, text, written)) for d in found)

    # tables

    def start_table(self, table: _Table) -> None:
        self.table = table
        self.mode = "body"

    def add_row(self, cells: list[str], text: str, line: int) -> None:
        """One row of a task table: a clause with the row's text and the tag of its
        responsibility columns."""
        table = self.table
        assert table is not None
        table.rows += 1
        written = self.written(line, text)
        written_cells = table_cells(written)
        number_cell = cells[table.number].rstrip("、.．") if table.number is not None else ""
        number = number_cell if parse_chinese_number(number_cell) is not None \
            else str(table.rows)
        level = 3 if number.isdigit() else 2
        task = cells[table.task] if table.task is not None else ""
        clause = self.add_clause(level, number, "", line)
        title = split_title(task)[0]
        clause.title = restore(title, task, written_cells[table.task]) \
            if title and table.task is not None else ""
        parts: list[str] = []
        parts_written: list[str] = []
        for column, label in table.roles.items():
            cell = cells[column].strip()
            if not cell:
                continue
            part = cell if looks_like_tag(cell) else f"{label}：{cell}"
            header = table.written[column]
            parts.append(part)
            parts_written.append(written_cells[column] if looks_like_tag(cell)
                                 else f"{header}：{written_cells[column]}")
        tags: list[Tag] = []
        if parts:
            raw, raw_written = "；".join(parts), "；".join(parts_written)
            parsed = read_tag(raw, self.aliases, self.doc.convention)
            if isinstance(parsed, TagParse):
                tags.append(self.make_tag(parsed, raw, raw_written, line, clause.path))
            else:
                self.warn(N_("Task {clause} names no body the parser can read (line {line})."),
                          line, clause="/".join(clause.path), line=line)
        clause.paragraphs.append(Paragraph(written, tuple(tags), self.deadlines(text, written)))

    def feed_table(self, line_text: str, line_no: int) -> bool:
        """A line while a table is open; False when the line ends the table."""
        table = self.table
        assert table is not None
        if _TABLE_RULE.match(line_text):
            return True
        cells = table_cells(line_text)
        if len(cells) == len(table.cells):
            self.add_row(cells, line_text, line_no)
            return True
        # A heading between rows (一、…, also as a one-cell row) nests the rows after it.
        heading = _match_heading(cells[0] if len(cells) == 1 else line_text)
        if heading:
            self.add_clause(*heading, line=line_no)
            return True
        if len(cells) <= 1:
            self.table = None
            return False
        self.warn(N_("Table row on line {line} has {found} cells; the header has "
                     "{expected}."), line_no, line=line_no, found=len(cells),
                  expected=len(table.cells))
        return True

    def feed_other(self, line_text: str, line: int) -> None:
        """A line that is not a heading: a paragraph, an attachment, or skipped text."""
        if self.mode == "attachments":
            if self.doc.attachments and not _match_heading(line_text) \
                    and not re.match(r"^\d", line_text):
                self.mode = "trailer"  # the list is over: signature, date
                self.scan_notes(line_text, line, remarks=bool(_NOTE_LINE.match(line_text)))
                return
            self.doc.attachments.append(self.written(line, line_text))
            if bracket_spans(line_text)[1]:
                self.warn(N_("Unclosed bracket on line {line}."), line, line=line)
            return
        if self.mode == "trailer" or not self.doc.clauses:
            self.scan_notes(line_text, line, remarks=bool(_NOTE_LINE.match(line_text)))
            return
        self.add_paragraph(line_text, line)

    # the whole text

    def run(self) -> None:
        index = 0
        lines = self.lines
        while index < len(lines):
            line_text = lines[index]
            line_no = index + 1
            index += 1
            if not line_text:
                continue
            if self.annex_title is not None:
                annex, self.annex_title = self.annex_title, None
                if len(line_text) <= 40 and not re.search(r"[。；;，,：:]", line_text) \
                        and not _match_heading(line_text) \
                        and _table_header(table_cells(line_text), []) is None:
                    annex.title = self.written(line_no, line_text)
                    continue
            number = _DOC_NUMBER.match(line_text)
            if number:
                self.set_number(self.written(line_no, number.group(1)))
                continue
            title, used = _read_title(lines, index - 1)
            if title:
                self.set_title(restore(title, "".join(lines[index - 1:index - 1 + used]),
                                       "".join(self.written_lines[index - 1:index - 1 + used])))
                index += used - 1
                continue
            self.feed_line(line_text, line_no)

    def feed_line(self, line_text: str, line_no: int) -> None:
        if self.table is not None and self.feed_table(line_text, line_no):
            return
        annex = _ANNEX.match(line_text)
        if annex and self.doc.clauses and self.doc.attachments:
            self.add_annex(annex.group(1), line_no)
            return
        attachment = _ATTACHMENT.match(line_text)
        if attachment:
            self.mode = "attachments"
            if attachment.group(1):
                self.doc.attachments.append(self.written(line_no, attachment.group(1)))
            return
        if _TRAILER.match(line_text):
            self.mode = "trailer"
            return
        cells = table_cells(line_text)
        header = _table_header(cells, table_cells(self.written_lines[line_no - 1]))
        if header is not None and self.mode != "attachments":
            self.start_table(header)
            return
        heading = _match_heading(line_text)
        if heading and self.mode != "attachments":
            self.add_clause(*heading, line=line_no)
            return
        self.feed_other(line_text, line_no)


def _read_title(lines: list[str], index: int) -> tuple[str, int]:
    """A document title starting at ``lines[index]``, wrapped over up to four lines."""
    first = lines[index]
    if not _TITLE_START.match(first) or _match_heading(first):
        return "", 0
    title = first
    for used in range(1, 5):
        if _TITLE_END.search(title):
            return title, used
        if index + used >= len(lines):
            break
        nxt = lines[index + used]
        if not nxt or not _TITLE_PART.match(nxt) or _match_heading(nxt) or len(title) > 80:
            break
        title += nxt
    return "", 0


def _main_index(docs: list[Document], counts: list[int]) -> int:
    for doc in docs:
        if doc.title and "转发" in to_simplified(doc.title):
            for j, other in enumerate(docs):
                if other is not doc and other.title and other.title in doc.title:
                    return j
    best = max(range(len(docs)), key=lambda i: (counts[i], -i))
    return best


def _split_closing(builder: _DocBuilder) -> None:
    """Move untagged paragraphs after the last clause's last tag to the closing text, in a
    document that uses tags (three or more tagged clauses)."""
    tagged = [c for c in builder.clauses if any(p.tags for p in c.paragraphs)]
    if len(tagged) < 3 or not builder.clauses:
        return
    last = builder.clauses[-1]
    tag_indexes = [i for i, p in enumerate(last.paragraphs) if p.tags]
    if not tag_indexes or tag_indexes[-1] == len(last.paragraphs) - 1:
        return
    cut = tag_indexes[-1] + 1
    builder.closing.extend(p.text for p in last.paragraphs[cut:])
    del last.paragraphs[cut:]


def parse_policy(text: str, aliases: AliasTable = DEFAULT_ALIASES) -> Catalog:
    """Parse a policy document's text into a catalog.

    Raises :class:`PolicyError` when the text is too large or has no numbered clauses.
    """
    if len(text) > MAX_BYTES or len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise _too_large("<text>", len(text.encode("utf-8", "replace")))
    text = unicodedata.normalize("NFC", text.lstrip("\ufeff"))
    written = [_normalize_line(line)
               for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    # One character for one: a position in the simplified line is one in the written line.
    simplified = [to_simplified(line) for line in written] if is_traditional(text) else written
    parser = _Parser(aliases, written, simplified)
    parser.run()
    builders = [b for b in parser.docs if b.clauses or b.title or b.number]
    if not any(b.clauses for b in builders):
        raise PolicyError(N_("No numbered clauses (一、 / （一） / 1.) found in the document."))
    for builder in builders:
        _split_closing(builder)
    return _build_catalog(builders, parser.warnings)


def _build_catalog(builders: list[_DocBuilder], warnings: list[ParseWarning]) -> Catalog:
    documents = [Document(b.title, b.number, tuple(b.attachments), tuple(b.closing),
                          tuple(b.notes)) for b in builders]
    clauses: list[Clause] = []
    for index, builder in enumerate(builders):
        for c in builder.clauses:
            clauses.append(Clause(c.path, index, c.title, tuple(c.paragraphs), c.level))
    main = _main_index(documents, [len(b.clauses) for b in builders])
    return Catalog(tuple(clauses), tuple(documents), main, tuple(warnings))
