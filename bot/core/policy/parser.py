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
* **Tags.** A bracketed span （…） or (…) at the end of a paragraph or a sentence whose text
  ends with a role verb (负责/牵头/配合/参与/协助/指导/落实) or has the ``负责部门：`` form,
  and that names departments. See :func:`parse_tag`.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bot.core.departments import DEFAULT_ALIASES, AliasTable
from bot.core.i18n import N_
from bot.core.policy.catalog import (
    Catalog,
    Clause,
    Document,
    Paragraph,
    ParseWarning,
    PolicyError,
    Tag,
    TagAssignment,
    parse_chinese_number,
)
from bot.core.policy.deadlines import extract_deadlines

MAX_BYTES = 10 * 1024 * 1024
"""Files (and texts, in UTF-8 bytes) above this size are refused."""

MAX_TAG_CHARS = 200
"""A bracketed span longer than this is never a responsibility tag."""

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
_CONVENTION = re.compile(r"列(?:第一|首)位(?:者|的)?(?:为|是)牵头(?:单位|部门)")
_SENTENCE_PUNCT = "。；;！？!?.，,："


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


# --- tags -------------------------------------------------------------------------------

_VERB_ROLE = {"负责": "responsible", "落实": "responsible", "牵头": "lead",
              "配合": "cooperate", "参与": "cooperate", "协助": "cooperate", "指导": "guide"}
_LABEL_ROLE = {
    "负责部门": "responsible", "负责单位": "responsible", "责任部门": "responsible",
    "责任单位": "responsible", "牵头部门": "lead", "牵头单位": "lead",
    "配合部门": "cooperate", "配合单位": "cooperate", "参与部门": "cooperate",
    "参与单位": "cooperate", "指导部门": "guide",
}
_VERB_SEGMENT = re.compile(
    r"^(?P<bodies>.*?)(?P<mods>(?:分别|按照?职责分工|按照?职责|按各自职责|依职责|各自|共同|具体)*)"
    r"(?P<verb>负责|牵头|配合|参与|协助|指导|落实)$")
_LABEL_SEGMENT = re.compile(r"^([^：:]{1,8})[：:](.*)$")
_SEGMENT_SPLIT = re.compile(r"[，,；;]")
_LIST_SPLIT = re.compile(r"[、/／]")
_GROUP_PREFIXES = ("其他", "其它", "有关", "相关", "各", "参与", "其余", "地方各级")
_GROUP_SUFFIXES = ("成员单位", "协会", "人民政府", "各部门", "地区", "地方")
_ORG_SUFFIXES = ("部", "委", "局", "厅", "办", "署", "会", "院", "部门", "机构", "单位",
                 "政府", "中心", "办公室", "银行", "协会")
_NOT_ORG_SUFFIXES = ("内部", "外部", "全部", "局部", "干部", "大会", "机会", "社会")
_STRIP_SUFFIXES = ("等主管部门", "等有关部门", "等相关部门", "等部门", "等单位", "主管部门",
                   "部门", "等")
_PROTECTED_AND = ("工业和信息化", "人力资源和社会保障", "经济和信息化", "发展和改革",
                  "住房和城乡建设", "文化和旅游", "卫生和计划生育", "新闻出版和广电",
                  "参与", "给与")


@dataclass
class _Body:
    name: str
    group: bool
    joint: bool = False  # joined by 会同


@dataclass
class TagParse:
    """A recognised tag: its assignments and whether it states the lead convention."""

    assignments: tuple[TagAssignment, ...]
    convention: bool
    unknown: tuple[str, ...]


def _is_group(name: str, aliases: AliasTable) -> bool:
    if aliases.canonical(name) is not None:
        return False
    if name.endswith(_GROUP_SUFFIXES) or name in ("部门", "各地"):
        return True
    return name.startswith(_GROUP_PREFIXES) and name.endswith(_ORG_SUFFIXES)


def _is_org(name: str) -> bool:
    """Looks like the name of a body (…部, …委, …局): an unknown department, not a phrase."""
    return name.endswith(_ORG_SUFFIXES) and not name.endswith(_NOT_ORG_SUFFIXES)


def _is_body(name: str, aliases: AliasTable) -> bool:
    return bool(name) and (aliases.canonical(name) is not None or _is_group(name, aliases)
                           or _is_org(name))


def _strip_suffix(name: str, aliases: AliasTable) -> str:
    """Drop a trailing 主管部门 / 部门 / 等 (shared by a list) from a named body."""
    for _ in range(2):
        for suffix in _STRIP_SUFFIXES:
            if name.endswith(suffix) and len(name) > len(suffix):
                name = name[: -len(suffix)]
                break
        else:
            break
    return name


def _split_conjunction(text: str, word: str, aliases: AliasTable) -> list[str]:
    """Split on ``word`` (和/与/及/以及) where it joins two bodies, not inside a name."""
    protected: list[tuple[int, int]] = []
    for name in _PROTECTED_AND:
        start = text.find(name)
        while start != -1:
            protected.append((start, start + len(name)))
            start = text.find(name, start + 1)
    pieces: list[str] = []
    rest_start, search = 0, 0
    while (index := text.find(word, search)) != -1:
        search = index + len(word)
        if any(a <= index < b for a, b in protected):
            continue
        left, right = text[rest_start:index], text[index + len(word):]
        right_head = _SPLIT_ANY.split(right, maxsplit=1)[0]
        if _is_body(_strip_suffix(left, aliases), aliases) and (
                _is_body(_strip_suffix(right_head, aliases), aliases)
                or _is_group(right_head, aliases) or right_head.startswith(_GROUP_PREFIXES)):
            pieces.append(left)
            rest_start = index + len(word)
    pieces.append(text[rest_start:])
    return [p for p in pieces if p]


_SPLIT_ANY = re.compile(r"以及|及|和|与")


def _split_bodies(text: str, aliases: AliasTable) -> list[_Body]:
    """Split the bodies part of a tag segment into named bodies and groups."""
    bodies: list[_Body] = []
    for item in _LIST_SPLIT.split(text):
        item = item.strip().removeprefix("由")
        for index, part in enumerate(item.split("会同")):
            for piece in _split_conjunctions(part, aliases):
                group = _is_group(piece, aliases)
                name = piece if group else _strip_suffix(piece, aliases)
                if name:
                    bodies.append(_Body(name, group, joint=index > 0 or "会同" in item))
    return bodies


def _split_conjunctions(text: str, aliases: AliasTable) -> list[str]:
    pieces = [text]
    for word in ("以及", "及", "和", "与"):
        pieces = [p for piece in pieces for p in _split_conjunction(piece, word, aliases)]
    return pieces


def _role_for(verb_role: str, body: _Body) -> str:
    """A group (相关部门…) that is responsible acts by its duties, unless joined by 会同."""
    if body.group and verb_role == "responsible" and not body.joint:
        return "by_duty"
    return verb_role


def _segments(raw: str) -> Iterator[tuple[str, str, str]]:
    """``(kind, role, bodies text)`` per segment of a tag.

    kind is "verb" (…负责), "label" (负责部门：…), "ignore" (another label, such as 适用范围：)
    or "plain" (bodies without a role, as in "负责部门：A，B").
    """
    for segment in _SEGMENT_SPLIT.split(raw):
        segment = segment.strip().rstrip("。.")
        if not segment:
            continue
        label = _LABEL_SEGMENT.match(segment)
        if label:
            role = _LABEL_ROLE.get(label.group(1).strip())
            yield ("label", role, label.group(2)) if role else ("ignore", "", "")
            continue
        verb = _VERB_SEGMENT.match(segment)
        if verb:
            yield "verb", _VERB_ROLE[verb.group("verb")], verb.group("bodies")
        else:
            yield "plain", "", segment


def _strip_convention(raw: str) -> tuple[str, bool]:
    found = bool(_CONVENTION.search(raw))
    text = re.sub(r"[，,；;]?\s*" + _CONVENTION.pattern, "", raw)
    text = re.sub(r"[，,；;。]?\s*下同\s*$", "", text)
    return text.strip(), found


def _looks_like_tag(text: str) -> bool:
    """Structural test: ends with a role verb, or has a 负责部门：-style label."""
    if any(text.startswith(label) for label in _LABEL_ROLE):
        return True
    return bool(re.search(r"(?:负责|牵头|配合|参与|协助|指导|落实)[。.]?$", text))


def parse_tag(raw: str, aliases: AliasTable = DEFAULT_ALIASES,
              convention: bool = False) -> TagParse | None:
    """Parse the text inside a bracket; None if it is not a responsibility tag.

    ``convention``: a "列第一位者为牵头单位" rule is in force in this document; the tag may
    also state it itself. Under it, the first-named body of a tag naming several bodies,
    with no explicit 牵头, is the lead.
    """
    text, states_convention = _strip_convention(raw.strip())
    if not text or len(text) > MAX_TAG_CHARS or not _looks_like_tag(text):
        return None
    result: list[tuple[str, _Body]] = []
    pending: list[_Body] = []
    label_role = ""
    for kind, role, bodies_text in _segments(text):
        bodies = _split_bodies(bodies_text, aliases)
        if kind == "plain":
            if not bodies or not all(_is_body(b.name, aliases) for b in bodies):
                continue
            if label_role:
                result.extend((_role_for(label_role, b), b) for b in bodies)
            else:
                pending.extend(bodies)
            continue
        if kind == "ignore":
            label_role = ""
            continue
        label_role = role if kind == "label" else ""
        result.extend((_role_for(role, b), b) for b in [*pending, *bodies])
        pending = []
    if not result or not all(_is_body(body.name, aliases) for _, body in result):
        return None
    assignments, unknown = _assign(result, aliases, convention or states_convention)
    return TagParse(tuple(assignments), states_convention, tuple(unknown))


def _assign(result: list[tuple[str, _Body]], aliases: AliasTable,
            convention: bool) -> tuple[list[TagAssignment], list[str]]:
    assignments: list[TagAssignment] = []
    unknown: list[str] = []
    for role, body in result:
        department = None if body.group else aliases.canonical(body.name)
        if department is None and not body.group:
            department = body.name
            unknown.append(body.name)
        assignments.append(TagAssignment(role, department, body.name))
    named = [i for i, (_, body) in enumerate(result) if not body.group]
    if convention and len(named) >= 2 and not any(a.role == "lead" for a in assignments):
        first = named[0]
        if assignments[first].role == "responsible":
            a = assignments[first]
            assignments[first] = TagAssignment("lead", a.department, a.as_written)
    return assignments, unknown


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
    convention: bool = False


@dataclass
class _Parser:
    aliases: AliasTable
    docs: list[_DocBuilder] = field(default_factory=lambda: [_DocBuilder()])
    warnings: list[ParseWarning] = field(default_factory=list)
    mode: str = "body"  # body | attachments | trailer

    @property
    def doc(self) -> _DocBuilder:
        return self.docs[-1]

    def warn(self, message: str, at_line: int | None, **params: object) -> None:
        self.warnings.append(ParseWarning(
            message, tuple((k, str(v)) for k, v in params.items()), at_line))

    # headers

    def set_number(self, number: str) -> None:
        if self.doc.clauses or self.doc.number:
            self.docs.append(_DocBuilder())
        self.doc.number = re.sub(r"\s+", "", number)
        self.mode = "body"

    def set_title(self, title: str) -> None:
        if self.doc.clauses or self.doc.title:
            self.docs.append(_DocBuilder())
        self.doc.title = title
        self.mode = "body"

    # clauses and paragraphs

    def add_clause(self, level: int, number: str, rest: str, line: int) -> None:
        doc = self.doc
        while doc.stack and doc.stack[-1][0] >= level:
            doc.stack.pop()
        path = (*(ref for _, ref in doc.stack), number)
        doc.stack.append((level, number))
        if any(c.path == path for c in doc.clauses):
            self.warn(N_("Clause {path} appears twice (line {line})."), line,
                      path="/".join(path), line=line)
        title, first = split_title(rest)
        clause = _ClauseBuilder(path, len(self.docs) - 1, level, title, line)
        doc.clauses.append(clause)
        self.mode = "body"
        if first:
            self.add_paragraph(first, line)

    def add_paragraph(self, text: str, line: int) -> None:
        if _CONVENTION.search(text):
            self.doc.convention = True
        clause = self.doc.clauses[-1]
        clause.paragraphs.append(self.build_paragraph(text, line, clause.path))

    def build_paragraph(self, text: str, line: int, path: tuple[str, ...]) -> Paragraph:
        spans, unclosed = bracket_spans(text)
        if unclosed:
            self.warn(N_("Unclosed bracket on line {line}."), line, line=line)
        tags: list[Tag] = []
        for start, end in spans:
            if not _at_sentence_end(text, start, end):
                continue
            raw = text[start + 1:end - 1].strip()
            parsed = parse_tag(raw, self.aliases, self.doc.convention)
            if parsed is None:
                continue
            if parsed.convention:
                self.doc.convention = True
            for name in parsed.unknown:
                self.warn(N_("Unknown department {name} in clause {clause} (line {line})."),
                          line, name=name, clause="/".join(path), line=line)
            tags.append(Tag(raw, parsed.assignments))
        return Paragraph(text, tuple(tags), extract_deadlines(text))

    def feed_other(self, line_text: str, line: int) -> None:
        """A line that is not a heading: a paragraph, an attachment, or skipped text."""
        if self.mode == "attachments":
            self.doc.attachments.append(line_text)
            if bracket_spans(line_text)[1]:
                self.warn(N_("Unclosed bracket on line {line}."), line, line=line)
            return
        if self.mode == "trailer":
            return
        if self.doc.clauses:
            self.add_paragraph(line_text, line)
        elif _CONVENTION.search(line_text):
            self.doc.convention = True

    # the whole text

    def run(self, lines: list[str]) -> None:
        index = 0
        while index < len(lines):
            line_text = _normalize_line(lines[index])
            line_no = index + 1
            index += 1
            if not line_text:
                continue
            number = _DOC_NUMBER.match(line_text)
            if number:
                self.set_number(number.group(1))
                continue
            title, used = _read_title(lines, index - 1)
            if title:
                self.set_title(title)
                index += used - 1
                continue
            self.feed_line(line_text, line_no)

    def feed_line(self, line_text: str, line_no: int) -> None:
        attachment = _ATTACHMENT.match(line_text)
        if attachment:
            self.mode = "attachments"
            if attachment.group(1):
                self.doc.attachments.append(attachment.group(1))
            return
        if _TRAILER.match(line_text):
            self.mode = "trailer"
            return
        heading = _match_heading(line_text)
        if heading and self.mode != "attachments":
            self.add_clause(*heading, line=line_no)
            return
        self.feed_other(line_text, line_no)


def _read_title(lines: list[str], index: int) -> tuple[str, int]:
    """A document title starting at ``lines[index]``, wrapped over up to four lines."""
    first = _normalize_line(lines[index])
    if not _TITLE_START.match(first) or _match_heading(first):
        return "", 0
    title = first
    for used in range(1, 5):
        if _TITLE_END.search(title):
            return title, used
        if index + used >= len(lines):
            break
        nxt = _normalize_line(lines[index + used])
        if not nxt or not _TITLE_PART.match(nxt) or _match_heading(nxt) or len(title) > 80:
            break
        title += nxt
    return "", 0


def _main_index(docs: list[Document], counts: list[int]) -> int:
    for doc in docs:
        if doc.title and "转发" in doc.title:
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
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    parser = _Parser(aliases)
    parser.run(lines)
    builders = [b for b in parser.docs if b.clauses or b.title or b.number]
    if not any(b.clauses for b in builders):
        raise PolicyError(N_("No numbered clauses (一、 / （一） / 1.) found in the document."))
    for builder in builders:
        _split_closing(builder)
    return _build_catalog(builders, parser.warnings)


def _build_catalog(builders: list[_DocBuilder], warnings: list[ParseWarning]) -> Catalog:
    documents = [Document(b.title, b.number, tuple(b.attachments), tuple(b.closing))
                 for b in builders]
    clauses: list[Clause] = []
    for index, builder in enumerate(builders):
        for c in builder.clauses:
            clauses.append(Clause(c.path, index, c.title, tuple(c.paragraphs), c.level))
    main = _main_index(documents, [len(b.clauses) for b in builders])
    return Catalog(tuple(clauses), tuple(documents), main, tuple(warnings))
