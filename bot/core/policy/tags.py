"""Responsibility tags: the text of a tag read as assignments, with a confidence for each.

A tag is the text inside a bracket at the end of a sentence (``工业和信息化部牵头，财政部配合``),
a ``责任单位：…`` line, or the responsibility cells of a task table. It is cut into segments at
``，；。`` (and at a space before another label); each segment is

* a role verb after its bodies: ``…负责`` / ``…落实`` / ``…牵头`` / ``…配合`` / ``…参与`` /
  ``…协助`` / ``…指导``, possibly with modifiers (``按职责分工``, ``分别``) and more verbs
  (``负责落实``, ``牵头负责``: the first verb gives the role);
* a label and its bodies: ``负责部门：…``, ``牵头单位：…``, ``配合单位：…``; a schedule label
  (``完成时限：…``) is skipped, any other label is set aside as a remark;
* bodies without a role, taking the role of the label before or the verb after them;
* a standing remark (``下同``, ``以下各项任务均需地方各级人民政府落实，不再列出``): kept as a note;
* the lead convention (``列第一位者为牵头单位``, ``排在首位的为牵头部门``, ``牵头单位列第一位``,
  optionally ``其他为配合单位`` and ``下同`` / ``以下同``): removed from the tag; the document
  records it and it applies from there on.

Bodies are split at ``、`` (not inside brackets: ``各县（市、区）人民政府``), at ``会同``, and at
``和 / 与 / 及 / 以及`` where both sides are bodies (``工业和信息化部`` is one name). Generic tails
after the named bodies are dropped (``等有关部门和单位``, ``及有关单位``, ``等部门``); ``单位`` or
``企业`` alone is never a body. A body is a department of the alias table, a group (相关部门,
有关部门, 各参与部门, 其他负有…职责的部门, 相关行业协会, 各省级人民政府, 各有关企业), or a name
that reads as a body (…部, …委, …局, …办公厅, …公司, …集团, …总会, …联合会, 中国残联, 中国科协).

Every assignment is ``sure`` or ``check`` with reasons (see :mod:`bot.core.policy.catalog`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from bot.core.departments import DEFAULT_ALIASES, AliasTable
from bot.core.policy.catalog import CHECK, SURE, TagAssignment
from bot.core.policy.deadlines import extract_deadlines

MAX_TAG_CHARS = 200
"""A bracketed span longer than this is never a responsibility tag."""

# --- the lead convention ------------------------------------------------------------------

_FIRST = r"(?:第一位|第一个|第一家|第一|首位|首个)"
_LEAD_WORD = r"(?:牵头|主办)(?:单位|部门|方)?"
_POSITION = r"(?:列|排|排列|排名|排序|位列|名列)"
CONVENTION = re.compile(
    rf"(?:{_POSITION}(?:在|于)?{_FIRST}位?(?:的|者)?(?:单位|部门)?(?:为|是|作为|系)?{_LEAD_WORD}"
    rf"|{_FIRST}位?(?:的|者)(?:单位|部门)?(?:为|是|作为|系){_LEAD_WORD}"
    rf"|{_LEAD_WORD}(?:均|一般)?{_POSITION}(?:在|于)?{_FIRST}位?)"
    r"(?P<others>[，,；;]?\s*(?:其他|其余|其它)(?:单位|部门)?(?:为|是)(?:配合|参与|协办)(?:单位|部门)?)?"
    r"(?:[，,；;。]?\s*(?:以下同|下同|以下均同|下文同))?")
"""The "first-named body leads" convention, in its phrasings (simplified script)."""


@dataclass(frozen=True)
class Convention:
    """A "first-named body leads" rule in force; ``others_cooperate``: "其他为配合单位"."""

    others_cooperate: bool = False


def find_conventions(text: str) -> list[tuple[re.Match[str], Convention]]:
    """Every statement of the lead convention in ``text``."""
    return [(m, Convention(others_cooperate=bool(m.group("others"))))
            for m in CONVENTION.finditer(text)]


# --- standing remarks ---------------------------------------------------------------------

_REMARK = re.compile(
    r"^(?:以下|下同|下文|后同|此后|各项任务均)|不再(?:一一)?列出|(?:^|以)下(?:均)?同$|均需.{0,20}(?:落实|负责)")
"""A remark that affects later tags ("以下各项任务均需…落实，不再列出", "下同")."""

_SCHEDULE = re.compile(
    r"^(?:持续推进|长期坚持|持续实施|逐步推进|分年度实施|逐年推进|长期推进|持续开展|立即开展|"
    r"立即实施|年内完成|按年度推进|20\d\d年起|\d{4}年.{0,8}(?:前|内|起|完成))")


def is_standing_remark(text: str) -> bool:
    return bool(_REMARK.search(text)) and "简称" not in text


# --- roles, labels, segments --------------------------------------------------------------

_VERB_ROLE = {"负责": "responsible", "落实": "responsible", "牵头": "lead", "主办": "lead",
              "配合": "cooperate", "参与": "cooperate", "协助": "cooperate", "协办": "cooperate",
              "指导": "guide"}
ROLE_LABELS = {
    "负责部门": "responsible", "负责单位": "responsible", "责任部门": "responsible",
    "责任单位": "responsible", "牵头部门": "lead", "牵头单位": "lead", "主办单位": "lead",
    "主办部门": "lead", "配合部门": "cooperate", "配合单位": "cooperate", "参与部门": "cooperate",
    "参与单位": "cooperate", "协办单位": "cooperate", "协办部门": "cooperate",
    "指导部门": "guide", "指导单位": "guide",
}
"""Labels that give a role: 负责部门：…, 牵头单位：…, and the columns of a task table."""
SCHEDULE_LABELS = ("完成时限", "完成时间", "时间进度", "时限", "时间节点", "进度安排", "时间安排",
                   "完成期限", "时间要求")
_VERBS = "负责|牵头|配合|参与|协助|指导|落实|主办|协办"
_VERB_SEGMENT = re.compile(
    r"^(?P<bodies>.*?)"
    r"(?P<mods>(?:分别|按照?职责分工|按照?职责|按各自职责|依职责|依据职责|各自|共同|具体|切实|认真)*)"
    rf"(?P<verb>{_VERBS})(?P<more>(?:负责|落实|实施|组织实施|推进|督促|牵头|配合|指导)*)$")
_LABEL_SEGMENT = re.compile(r"^([^：:]{1,8})[：:](.*)$")
_SEGMENT = re.compile(r"[^，,；;。]+")
_LABEL_AFTER_SPACE = re.compile(r"\s+(?=[^\s：:，,；;。]{2,8}[：:])")
_ENDS_WITH_ROLE = re.compile(rf"(?:{_VERBS})(?:负责|落实|实施|组织实施|推进|督促)*[。.]?$")


def looks_like_tag(text: str) -> bool:
    """Structural test: ends with a role verb, or starts with a role label."""
    text = text.strip()
    return any(text.startswith(label) for label in ROLE_LABELS) or bool(
        _ENDS_WITH_ROLE.search(text))


# --- bodies -------------------------------------------------------------------------------

_GROUP_PREFIXES = ("其他", "其它", "有关", "相关", "各", "参与", "其余", "地方各级", "全国各")
_GROUP_SUFFIXES = ("成员单位", "各部门", "地区", "地方", "有关方面", "企业")
_GENERIC_GOVERNMENT = ("省级", "市级", "县级", "地方", "各级", "有关", "相关", "各")
_ORG_SUFFIXES = ("部", "委", "局", "厅", "办", "署", "会", "院", "部门", "机构", "政府", "中心",
                 "办公室", "室", "银行", "协会", "公司", "集团", "总会", "联合会", "工会", "联",
                 "科协", "作协", "司", "社", "总台", "团中央", "处")
_NOT_ORG_SUFFIXES = ("内部", "外部", "全部", "局部", "干部", "大会", "机会", "社会", "关联", "互联",
                     "串联", "上司", "结社", "到处", "好处", "之处", "难处", "用处")
_NEVER_BODIES = ("单位", "企业", "部门单位", "有关", "相关", "各")
_STRIP_SUFFIXES = ("等主管部门", "等有关部门", "等相关部门", "等部门", "等单位", "主管部门",
                   "部门", "等")
_PROTECTED_AND = ("工业和信息化", "人力资源和社会保障", "经济和信息化", "发展和改革",
                  "住房和城乡建设", "文化和旅游", "卫生和计划生育", "新闻出版和广电",
                  "粮食和物资储备", "科学技术和", "参与", "给与", "和平", "和谐")
_CONJUNCTIONS = re.compile(r"以及|及|和|与")
_TAIL = re.compile(
    r"(?:等(?:其他|其它)?(?:有关|相关)?(?:中央|国有|重点|电网)?(?:主管)?(?:部门|单位|方面|机构|企业)?"
    r"(?:(?:和|及|与|、)(?:其他|其它)?(?:有关|相关)?单位)?"
    r"|(?:及|和|以及|与)(?:其他|其它)?(?:有关|相关)?(?:部门(?:和|及))?单位)$")
"""Generic tails after the named bodies: 等有关部门和单位, 等部门, 及有关单位, 等中央企业."""


def canonical(name: str, aliases: AliasTable) -> str | None:
    """The department key for ``name``; also tries without 国家 / 省 / 自治区 and without 部 /
    总局 / 总署 / 会 (生态环境部 -> 生态环境, 市场监管总局 -> 市场监管, 银保监会 -> 银保监,
    省财政厅 -> 财政厅). 市 and 县 are not set aside: 市场监管 starts with 市."""
    found = aliases.canonical(name)
    if found is not None:
        return found
    stems = [name]
    for prefix in ("国家", "自治区", "省"):
        if name.startswith(prefix) and len(name) - len(prefix) >= 2:
            stems.append(name[len(prefix):])
    for stem in list(stems):
        for suffix in ("总局", "总署", "部", "会"):
            if stem.endswith(suffix) and len(stem) - len(suffix) >= 2:
                stems.append(stem[: -len(suffix)])
    for stem in stems[1:]:
        found = aliases.canonical(stem)
        if found is not None:
            return found
    return None


def is_group(name: str, aliases: AliasTable) -> bool:
    """A body named only as a group, which a coordinator resolves."""
    if canonical(name, aliases) is not None or name in _NEVER_BODIES:
        return False
    if name in ("部门", "各地", "各方", "地方", "行业协会"):
        return True
    if name.endswith("人民政府"):
        return name == "人民政府" or name.startswith(_GENERIC_GOVERNMENT) or any(
            word in name for word in _GENERIC_GOVERNMENT[:4]) or "以上" in name
    if name.endswith(_GROUP_SUFFIXES):
        return True
    return name.startswith(_GROUP_PREFIXES) and name.endswith((*_ORG_SUFFIXES, "单位"))


def is_named_body(name: str) -> bool:
    """Reads as the name of one body (…部, …委, …局, …公司, 中国残联): unknown but named."""
    return (len(name) >= 2 and name not in _NEVER_BODIES and name.endswith(_ORG_SUFFIXES)
            and not name.endswith(_NOT_ORG_SUFFIXES))


def is_body(name: str, aliases: AliasTable) -> bool:
    return bool(name) and (canonical(name, aliases) is not None or is_group(name, aliases)
                           or is_named_body(name))


def _known(name: str, aliases: AliasTable) -> bool:
    return canonical(name, aliases) is not None or is_group(name, aliases)


def strip_suffix(name: str) -> str:
    """Drop a trailing 主管部门 / 部门 / 等 (shared by a list) from a named body."""
    for _ in range(2):
        for suffix in _STRIP_SUFFIXES:
            if name.endswith(suffix) and len(name) > len(suffix):
                name = name[: -len(suffix)]
                break
        else:
            break
    return name


@dataclass
class Body:
    name: str
    group: bool
    joint: bool = False  # joined by 会同
    guessed: bool = False  # split from its neighbour at 和/与/及 by a guess


def _split_top(text: str, separators: str) -> list[str]:
    """Split at ``separators`` outside brackets."""
    pieces: list[str] = []
    depth, start = 0, 0
    for index, char in enumerate(text):
        if char in "（(":
            depth += 1
        elif char in "）)" and depth:
            depth -= 1
        elif char in separators and depth == 0:
            pieces.append(text[start:index])
            start = index + 1
    pieces.append(text[start:])
    return pieces


def _protected_ranges(text: str) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for name in _PROTECTED_AND:
        start = text.find(name)
        while start != -1:
            ranges.append((start, start + len(name)))
            start = text.find(name, start + 1)
    return ranges


def _split_conjunctions(text: str, aliases: AliasTable) -> list[tuple[str, bool]]:
    """Split at 和/与/及/以及 where both sides are bodies; ``(piece, guessed)``.

    A split is sure when 等 closes the list before it, or both sides are departments of the
    alias table or groups; otherwise it is a guess (two unknown names may be one name).
    """
    protected = _protected_ranges(text)
    spots = [(m.start(), m.end()) for m in _CONJUNCTIONS.finditer(text)
             if not any(a <= m.start() < b for a, b in protected)]
    pieces: list[tuple[str, bool]] = []
    start, previous_guessed = 0, False
    for number, (at, end) in enumerate(spots):
        left = text[start:at]
        right_end = spots[number + 1][0] if number + 1 < len(spots) else len(text)
        right = text[end:right_end]
        left_name, right_name = strip_suffix(left), strip_suffix(right)
        if not (is_body(left_name, aliases) and (is_body(right_name, aliases)
                                                 or right.startswith(_GROUP_PREFIXES))):
            continue
        sure = left.endswith("等") or (
            (_known(left, aliases) or _known(left_name, aliases))
            and (_known(right, aliases) or _known(right_name, aliases)))
        # Both sides of a guessed split are flagged: either may be half of one name.
        pieces.append((left, previous_guessed or not sure))
        previous_guessed = not sure
        start = end
    pieces.append((text[start:], previous_guessed))
    return [(p, g) for p, g in pieces if p]


def strip_tail(text: str, aliases: AliasTable) -> str:
    """Drop a generic tail (等有关部门和单位, 及有关单位, 等部门) after named bodies."""
    match = _TAIL.search(text)
    if not match or match.start() == 0:
        return text
    rest = text[: match.start()]
    last = _split_top(rest, "、/／")[-1]
    return rest if is_body(strip_suffix(last), aliases) else text


def split_bodies(text: str, aliases: AliasTable = DEFAULT_ALIASES) -> list[Body]:
    """Split the bodies part of a tag segment into named bodies and groups."""
    bodies: list[Body] = []
    text = strip_tail(text.strip(), aliases)
    for item in _split_top(text, "、/／"):
        item = item.strip().removeprefix("由")
        for index, part in enumerate(item.split("会同")):
            for piece, guessed in _split_conjunctions(part, aliases):
                piece = strip_tail(piece, aliases)
                group = is_group(piece, aliases)
                name = piece if group else strip_suffix(piece)
                if name and name not in _NEVER_BODIES:
                    bodies.append(Body(name, group, joint=index > 0 or "会同" in item,
                                       guessed=guessed))
    return bodies


# --- a whole tag --------------------------------------------------------------------------


@dataclass
class TagParse:
    """A recognised tag: its assignments and tag-level flags."""

    assignments: tuple[TagAssignment, ...]
    reasons: tuple[str, ...] = ()
    remarks: tuple[str, ...] = ()  # standing remarks, as found in the (simplified) raw text
    unknown: tuple[str, ...] = ()
    convention: Convention | None = None  # stated in this tag

    @property
    def confidence(self) -> str:
        if self.reasons or any(a.confidence == CHECK for a in self.assignments):
            return CHECK
        return SURE


@dataclass
class _Reading:
    result: list[tuple[str, Body, str]] = field(default_factory=list)  # (role, body, verb)
    remark_spans: list[tuple[int, int]] = field(default_factory=list)
    set_aside: bool = False
    role_seen: bool = False


def _role_for(verb_role: str, body: Body) -> str:
    """A group (相关部门…) that is responsible acts by its duties, unless joined by 会同."""
    if body.group and verb_role == "responsible" and not body.joint:
        return "by_duty"
    return verb_role


def _segments(text: str) -> Iterator[tuple[int, int, str]]:
    """``(start, end, segment)``: the pieces between ，；。 and before a label after a space."""
    for match in _SEGMENT.finditer(text):
        start = match.start()
        for part in _LABEL_AFTER_SPACE.split(match.group(0)):
            offset = text.find(part, start)
            if part.strip():
                yield offset, offset + len(part), part.strip()
            start = offset + len(part)


def _all_bodies(bodies: list[Body], aliases: AliasTable) -> bool:
    return bool(bodies) and all(is_body(b.name, aliases) for b in bodies)


def _read_segments(text: str, aliases: AliasTable) -> _Reading:
    reading = _Reading()
    pending: list[Body] = []
    label_role = ""
    for start, end, segment in _segments(text):
        if is_standing_remark(segment):
            reading.remark_spans.append((start, end))
            continue
        label = _LABEL_SEGMENT.match(segment)
        if label:
            name = re.sub(r"\s+", "", label.group(1))
            role = ROLE_LABELS.get(name, "")
            label_role = role
            if role:
                reading.role_seen = True
                bodies = split_bodies(label.group(2), aliases)
                if _all_bodies(bodies, aliases):
                    reading.result.extend((_role_for(role, b), b, "label") for b in bodies)
                elif label.group(2).strip():
                    reading.set_aside = True
            elif name not in SCHEDULE_LABELS:
                reading.set_aside = True
            continue
        verb = _VERB_SEGMENT.match(segment)
        if verb:
            reading.role_seen = True
            label_role = ""
            role = _VERB_ROLE[verb.group("verb")]
            bodies = split_bodies(verb.group("bodies"), aliases)
            if _all_bodies(bodies, aliases):
                reading.result.extend((_role_for(role, b), b, verb.group("verb"))
                                      for b in [*pending, *bodies])
            else:
                reading.set_aside = True
            pending = []
            continue
        bodies = split_bodies(segment, aliases)
        if _all_bodies(bodies, aliases):
            if label_role:
                reading.result.extend((_role_for(label_role, b), b, "label") for b in bodies)
            else:
                pending.extend(bodies)
        elif not (_SCHEDULE.search(segment) or extract_deadlines(segment)):
            reading.set_aside = True
    if pending:
        reading.set_aside = True
    return reading


def _remarks(text: str, spans: list[tuple[int, int]]) -> tuple[str, ...]:
    """Consecutive remark segments joined as one remark, as found in ``text``."""
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and not text[merged[-1][1]:start].strip("，,；;。 "):
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(text[a:b] for a, b in merged)


def read_tag(raw: str, aliases: AliasTable = DEFAULT_ALIASES,
             convention: Convention | None = None) -> TagParse | str:
    """Read the text of a tag (simplified script): a :class:`TagParse`, or why it is not a
    tag (``no_role``, ``no_body``, ``too_long``).

    ``convention``: the lead convention in force in the document; the tag may also state it.
    """
    text = raw.strip()
    if len(text) > MAX_TAG_CHARS:
        return "too_long"
    stated = find_conventions(text)
    for match, _ in reversed(stated):
        text = text[: match.start()] + "，" + text[match.end():]
    if stated:
        convention = stated[-1][1]
    if not text.strip("，,；;。 ") or not (looks_like_tag(text) or any(
            looks_like_tag(s) or _LABEL_SEGMENT.match(s) for _, _, s in _segments(text))):
        return "no_role"
    reading = _read_segments(text, aliases)
    if not reading.result:
        return "no_body" if reading.role_seen else "no_role"
    assignments, unknown = _assign(reading.result, aliases, convention)
    # "group" is the tag's reason: a group assignment is already marked by its null
    # department, and its JSON stays as in version 1.
    reasons = (("group",) if any(b.group for _, b, _ in reading.result) else ()) + (
        ("remark",) if reading.set_aside or reading.remark_spans else ())
    return TagParse(tuple(assignments), reasons, _remarks(text, reading.remark_spans),
                    tuple(unknown), stated[-1][1] if stated else None)


def parse_tag(raw: str, aliases: AliasTable = DEFAULT_ALIASES,
              convention: Convention | None = None) -> TagParse | None:
    """Parse the text inside a bracket; None if it is not a responsibility tag."""
    result = read_tag(raw, aliases, convention)
    return None if isinstance(result, str) else result


def _assign(result: list[tuple[str, Body, str]], aliases: AliasTable,
            convention: Convention | None) -> tuple[list[TagAssignment], list[str]]:
    roles = [role for role, _, _ in result]
    reasons: list[list[str]] = [[] for _ in result]
    if convention and len(result) >= 2 and "lead" not in roles:
        first_role, first, verb = result[0]
        if not first.group and first_role == "responsible":
            roles[0] = "lead"
            reasons[0].append("convention")
            if convention.others_cooperate:
                for index, (role, _, other_verb) in enumerate(result[1:], start=1):
                    if other_verb == verb and role in ("responsible", "by_duty"):
                        roles[index] = "cooperate"
                        reasons[index].append("convention")
    assignments: list[TagAssignment] = []
    unknown: list[str] = []
    for index, (_, body, _) in enumerate(result):
        department = None if body.group else canonical(body.name, aliases)
        flags = reasons[index]
        if department is None and not body.group:
            department = body.name
            unknown.append(body.name)
            flags.insert(0, "unknown_body")
        if body.guessed:
            flags.append("split")
        assignments.append(TagAssignment(roles[index], department, body.name,
                                         CHECK if flags else SURE, tuple(flags)))
    return assignments, unknown
