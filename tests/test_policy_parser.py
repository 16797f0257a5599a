"""The policy parser and the clause catalog: the seed, documents of the same family, and bad
input."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from bot.core.departments import DEFAULT_ALIASES
from bot.core.i18n import DubanError
from bot.core.policy.catalog import (
    Catalog,
    Clause,
    Deadline,
    PolicyError,
    TagAssignment,
    load_catalog,
    load_default_catalog,
    parse_chinese_number,
    to_chinese_number,
)
from bot.core.policy.parser import (
    MAX_BYTES,
    decode_policy_bytes,
    parse_policy,
    parse_policy_file,
    parse_tag,
    read_policy_file,
    split_title,
)

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "bot" / "data" / "seed_policy.txt"
DATA = Path(__file__).resolve().parent / "data" / "policy"

R, L, C, G, D = "responsible", "lead", "cooperate", "guide", "by_duty"


@pytest.fixture(scope="module")
def seed() -> Catalog:
    return parse_policy_file(SEED)


def clause(catalog: Catalog, doc: int, *path: str) -> Clause:
    matches = [c for c in catalog.clauses if c.doc == doc and c.path == path]
    assert len(matches) == 1, (doc, path)
    return matches[0]


def roles(assignments: tuple[TagAssignment, ...]) -> list[tuple[str, str | None, str]]:
    return [(a.role, a.department, a.as_written) for a in assignments]


# --- the seed: documents and structure ---------------------------------------------------


def test_seed_documents(seed: Catalog) -> None:
    assert [(d.title, d.number) for d in seed.documents] == [
        ("关于转发工信部等16部委《关于利用综合标准依法依规推动落后产能退出的指导意见》的通知",
         "昌州经信〔2017〕185号"),
        ("关于利用综合标准依法依规推动落后产能退出的指导意见", "工信部联产业〔2017〕30号"),
    ]
    assert seed.main == 1
    assert seed.document.number == "工信部联产业〔2017〕30号"
    assert len(seed.documents[0].attachments) == 3
    # The closing paragraph after （二十三） is the document's, not the clause's.
    assert seed.documents[1].closing[0].startswith("依法依规推动落后产能退出是当前")


def test_seed_paths_do_not_collide(seed: Catalog) -> None:
    keys = [(c.doc, c.path) for c in seed.clauses]
    assert len(keys) == len(set(keys))
    cover = [c.path for c in seed.clauses if c.doc == 0]
    assert cover == [("一",), ("二",), ("二", "1"), ("二", "2"), ("三",)]
    opinion = [c.path for c in seed.clauses if c.doc == 1]
    assert opinion[:2] == [("一",), ("一", "一")]
    assert [p[-1] for p in opinion if len(p) == 2] == [
        to_chinese_number(n) for n in range(1, 24)]


@pytest.mark.parametrize(("doc", "path", "title", "paragraphs"), [
    (0, ("一",), "提高认识，完善工作机制", 1),
    (0, ("二",), "分工协作，抓好重点工作", 0),
    (0, ("二", "2"), "", 1),
    (1, ("一",), "总体要求", 0),
    (1, ("一", "一"), "指导思想", 1),
    (1, ("一", "二"), "基本原则", 3),
    (1, ("二", "四"), "能耗方面", 1),
    (1, ("三", "十三"), "落实差别化信贷政策", 1),
    (1, ("三", "十六"), "严格执法监管", 4),
    (1, ("四", "十九"), "抓好工作落实", 3),
    (1, ("四", "二十三"), "做好宣传引导", 1),
])
def test_seed_titles_and_paragraphs(seed: Catalog, doc: int, path: tuple[str, ...], title: str,
                                    paragraphs: int) -> None:
    found = clause(seed, doc, *path)
    assert found.title == title
    assert len(found.paragraphs) == paragraphs


def test_heading_text_after_title_is_first_paragraph(seed: Catalog) -> None:
    four = clause(seed, 1, "二", "四")
    assert four.paragraphs[0].text.startswith("严格执行节约能源法")
    assert four.label == "（四）能耗方面"
    assert four.ref == "四"


# --- the seed: every tag -----------------------------------------------------------------

IND, DEV, ENE, COAL, QUA = "industry", "development_reform", "energy", "coal", "quality"
ENV, SAF = "environment", "safety"
SAFETY_GROUP = "其他负有安全生产监督管理职责的部门"

SEED_TAGS: list[tuple[str, list[list[tuple[str, str | None, str]]]]] = [
    ("四", [[(R, IND, "工业和信息化"), (R, DEV, "发展改革")]]),
    ("五", [[(R, ENV, "环境保护")]]),
    ("六", [[(R, QUA, "质量技术监督")]]),
    ("七", [[(R, SAF, "安全生产监管"), (D, None, SAFETY_GROUP)]]),
    ("八", [[(L, IND, "工业和信息化"), (L, DEV, "发展改革"), (L, ENE, "能源"), (L, COAL, "煤炭"),
             (L, QUA, "质量技术监督"), (D, None, "相关部门")]]),
    ("九", [[(D, None, "相关部门")]]),
    ("十", [[(R, "finance", "财政"), (C, IND, "工业和信息化"), (C, DEV, "发展改革"),
             (C, "human_resources", "人力资源社会保障"), (C, "pricing", "价格")]]),
    ("十一", [[(R, DEV, "发展改革"), (R, IND, "工业和信息化"), (R, ENE, "能源"),
               (R, COAL, "煤炭")]]),
    ("十二", [[(R, IND, "工业和信息化"), (R, DEV, "发展改革"), (R, "pricing", "价格")]]),
    ("十三", [[(R, "pboc", "中国人民银行分支机构"), (R, "banking_regulator", "银监局")]]),
    ("十四", [[(R, "human_resources", "人力资源社会保障")]]),
    ("十五", [[(R, "land", "国土资源"), (R, "finance", "财政")]]),
    ("十六", [[(R, IND, "工业和信息化"), (R, DEV, "发展改革")],
              [(R, ENV, "环境保护")],
              [(R, QUA, "质量技术监督")],
              [(R, SAF, "安全生产监管"), (D, None, SAFETY_GROUP)]]),
    ("十七", [[(L, DEV, "发展改革"), (D, None, "各相关部门")]]),
    ("十八", [[(L, IND, "工业和信息化"), (L, ENE, "能源"), (L, COAL, "煤炭"),
               (D, None, "各参与部门")]]),
    ("十九", [[], [], [(L, IND, "工业和信息化"), (L, ENE, "能源"), (L, COAL, "煤炭"),
                       (R, DEV, "发展改革"), (R, ENV, "环境保护"), (R, QUA, "质量技术监督"),
                       (R, SAF, "安全生产监管")]]),
    ("二十", [[(L, IND, "工业和信息化"), (L, ENE, "能源"), (L, COAL, "煤炭"),
               (R, DEV, "发展改革"), (R, ENV, "环境保护"), (R, QUA, "质量技术监督"),
               (R, SAF, "安全生产监管")]]),
    ("二十一", [[(R, IND, "工业和信息化"), (R, ENE, "能源"), (R, COAL, "煤炭"),
                 (R, DEV, "发展改革"), (R, ENV, "环境保护"), (R, QUA, "质量技术监督"),
                 (R, SAF, "安全生产监管")]]),
    ("二十二", [[(D, None, "相关行业协会")]]),
    # 相关部门配合: a group that cooperates keeps the cooperate role (department null).
    ("二十三", [[(L, IND, "工业信息化"), (L, ENE, "能源"), (L, COAL, "煤炭"),
                 (C, None, "相关部门")]]),
]


@pytest.mark.parametrize(("ref", "expected"), SEED_TAGS, ids=[r for r, _ in SEED_TAGS])
def test_seed_tags(seed: Catalog, ref: str, expected: list[list[tuple[str, str | None, str]]],
                   ) -> None:
    found = seed.find_clause(ref)
    assert found.doc == 1
    assert [roles(p.assignments()) for p in found.paragraphs] == expected
    for paragraph in found.paragraphs:
        assert len(paragraph.tags) <= 1


def test_seed_untagged_clauses(seed: Catalog) -> None:
    tagged = {c.ref for c in seed.clauses if c.doc == 1 and c.assignments()}
    assert tagged == {r for r, _ in SEED_TAGS}
    assert not any(c.assignments() for c in seed.clauses if c.doc == 0)


def test_seed_tag_raw_text(seed: Catalog) -> None:
    tag = seed.find_clause("八").paragraphs[0].tags[0]
    assert tag.raw == ("工业和信息化、发展改革、能源、煤炭、质量技术监督主管部门牵头，"
                       "相关部门按职责分工负责")


def test_seed_non_tag_brackets_are_ignored(seed: Catalog) -> None:
    raws = [t.raw for c in seed.clauses for p in c.paragraphs for t in p.tags]
    for text in ("领导", "2011年本", "修正", "市", "生产线", "规范"):
        assert text not in raws
    assert not any("扩大行业范围" in r or "以下简称" in r for r in raws)


def test_seed_only_warning_is_the_unclosed_attachment_bracket(seed: Catalog) -> None:
    assert [(w.message, w.line) for w in seed.warnings] == [
        ("Unclosed bracket on line {line}.", 19)]


# --- the seed: deadlines -----------------------------------------------------------------


def _dl(kind: str, **values: int) -> tuple[str, dict[str, int]]:
    return kind, values


def _shape(deadline: Deadline) -> tuple[str, dict[str, int]]:
    fields = ("years", "months", "days", "year", "month", "day")
    return deadline.kind, {f: getattr(deadline, f) for f in fields
                           if getattr(deadline, f) is not None}


@pytest.mark.parametrize(("doc", "path", "expected"), [
    (0, ("二", "2"), [[_dl("annual", month=11, day=30)]]),
    (1, ("二", "四"), [[_dl("within", months=6), _dl("extension_max", months=3)]]),
    (1, ("二", "五"), [[]]),
    (1, ("二", "六"), [[_dl("within", months=6)]]),
    (1, ("二", "七"), [[_dl("immediate")]]),
    (1, ("二", "八"), [[_dl("immediate"), _dl("set_by_authority")]]),
    (1, ("三", "十五"), [[_dl("within", years=5)]]),
    (1, ("三", "十七"), [[]]),
    (1, ("四", "十九"), [[_dl("annual", month=3, day=31)], [_dl("annual", month=12, day=31)],
                         [_dl("annual_next_year", month=1, day=31)]]),
    (1, ("四", "二十一"), [[]]),
])
def test_seed_deadlines(seed: Catalog, doc: int, path: tuple[str, ...],
                        expected: list[list[tuple[str, dict[str, int]]]]) -> None:
    found = clause(seed, doc, *path)
    assert [[_shape(d) for d in p.deadlines] for p in found.paragraphs] == expected


def test_seed_deadline_phrases(seed: Catalog) -> None:
    assert [d.phrase for d in seed.find_clause("四").deadlines()] == [
        "在6个月内整改", "不超过3个月的延期申请"]
    assert seed.find_clause("八").deadlines()[1].phrase == "限时拆除"


def test_reviewed_catalog_matches_the_parser(seed: Catalog) -> None:
    """bot/data/catalog.json is the parser's output for the seed (regenerate when it changes)."""
    load_default_catalog.cache_clear()
    assert load_default_catalog() == seed
    assert (ROOT / "bot" / "data" / "catalog.json").read_text(encoding="utf-8") == seed.to_json()


# --- catalog API -------------------------------------------------------------------------


@pytest.mark.parametrize(("ref", "doc", "path"), [
    ("四", 1, ("二", "四")),
    ("4", 1, ("二", "四")),
    ("（四）", 1, ("二", "四")),
    ("(4)", 1, ("二", "四")),
    ("二.四", 1, ("二", "四")),
    ("二/四", 1, ("二", "四")),
    ("2.4", 1, ("二", "四")),
    (" 十七 ", 1, ("三", "十七")),
    ("17", 1, ("三", "十七")),
    ("一", 1, ("一", "一")),
    ("二.2", 0, ("二", "2")),
    ("二/1", 0, ("二", "1")),
])
def test_find_clause(seed: Catalog, ref: str, doc: int, path: tuple[str, ...]) -> None:
    found = seed.find_clause(ref)
    assert (found.doc, found.path) == (doc, path)


@pytest.mark.parametrize("ref", ["二十四", "99", "", "五.四", "abc", "²", "二.²",
                                 "99999999999999999999"])
def test_find_clause_missing(seed: Catalog, ref: str) -> None:
    with pytest.raises(DubanError) as info:
        seed.find_clause(ref)
    assert info.value.message == "No clause {ref} in the catalog."


def test_find_clause_ambiguous() -> None:
    text = "一、甲\n（一）乙。内容。\n二、丙\n（一）丁。内容。\n"
    catalog = parse_policy(text)
    with pytest.raises(PolicyError) as info:
        catalog.find_clause("一")
    assert info.value.message == "Clause {ref} is ambiguous: {candidates}."
    assert catalog.find_clause("二.一").title == "丁"


def test_clause_assignments_in_order(seed: Catalog) -> None:
    sixteen = seed.find_clause("十六")
    assert [a.department for a in sixteen.assignments()] == [
        IND, DEV, ENV, QUA, SAF, None]


@pytest.mark.parametrize(("text", "value"), [
    ("一", 1), ("十", 10), ("十七", 17), ("二十", 20), ("二十三", 23), ("一百", 100),
    ("一百零五", 105), ("一百一十", 110), ("两", 2), ("17", 17), ("１７", 17),
])
def test_chinese_numbers(text: str, value: int) -> None:
    assert parse_chinese_number(text) == value


@pytest.mark.parametrize("value", [*range(0, 130), 999, 1001, 2017])
def test_chinese_numbers_round_trip(value: int) -> None:
    assert parse_chinese_number(to_chinese_number(value)) == value


@pytest.mark.parametrize("text", ["", "甲", "四五", "a1", "²", "³⁴", "十²"])
def test_not_chinese_numbers(text: str) -> None:
    assert parse_chinese_number(text) is None


def test_json_round_trip(seed: Catalog) -> None:
    text = seed.to_json()
    assert Catalog.from_json(text) == seed
    assert Catalog.from_json(text).to_json() == text
    data = json.loads(text)
    assert data["document"] == data["documents"][data["main"]]
    four = next(c for c in data["clauses"] if c["path"] == ["二", "四"])
    assert four["doc"] == 1
    assert four["paragraphs"][0]["deadlines"][0] == {
        "kind": "within", "months": 6, "phrase": "在6个月内整改"}
    seven = next(c for c in data["clauses"] if c["path"] == ["二", "七"])
    assert seven["paragraphs"][0]["tags"][0]["assignments"][1] == {
        "role": "by_duty", "department": None, "as_written": SAFETY_GROUP}


def test_toml_round_trip(seed: Catalog, tmp_path: Path) -> None:
    text = seed.to_toml()
    assert "null" not in text
    assert Catalog.from_toml(text) == seed
    path = tmp_path / "catalog.toml"
    path.write_text(text, encoding="utf-8")
    assert load_catalog(path) == seed


@pytest.mark.parametrize(("name", "content", "message"), [
    ("catalog.txt", "{}", "A catalog file must end in .json or .toml: {path}"),
    ("missing.json", None, "The file {path} does not exist."),
    ("broken.json", "{not json", "Cannot read the catalog {path}: {error}"),
    ("broken.toml", "= =", "Cannot read the catalog {path}: {error}"),
    ("nopath.json", '{"clauses": [{"doc": 0}]}', "Cannot read the catalog {path}: {error}"),
])
def test_load_catalog_errors(tmp_path: Path, name: str, content: str | None,
                             message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_catalog(path)
    assert info.value.message == message


# --- documents of the same family --------------------------------------------------------


@pytest.fixture(scope="module")
def state_council() -> Catalog:
    return parse_policy_file(DATA / "state_council.txt")


STATE_COUNCIL_TAGS: list[tuple[str, list[tuple[str, str | None, str]]]] = [
    ("一", [(R, IND, "工业和信息化部"), (R, DEV, "国家发展改革委")]),
    ("二", [(L, IND, "工业和信息化部"), (C, "finance", "财政部"), (C, "commerce", "商务部")]),
    ("三", [(L, DEV, "国家发展改革委"), (C, "finance", "财政部"),
            (C, "human_resources", "人力资源社会保障部")]),
    ("四", [(G, "state_assets", "国务院国资委")]),
    ("五", [(L, DEV, "国家发展改革委"), (D, None, "相关部门")]),
    ("六", [(L, IND, "工业和信息化部"), (L, ENE, "国家能源局"), (D, None, "各参与部门")]),
    ("七", [(R, "finance", "财政部"), (C, "human_resources", "人力资源社会保障部"),
            (C, "tax", "税务总局")]),
    ("八", [(R, IND, "工业和信息化部"), (R, DEV, "国家发展改革委")]),
    ("九", [(R, SAF, "国家安全监管总局"), (D, None, SAFETY_GROUP)]),
    ("十", [(D, None, "相关行业协会")]),
    ("十一", [(R, DEV, "国家发展改革委"), (R, IND, "工业和信息化部"),
              (D, None, "各有关省级人民政府")]),
    # An unknown single body passes through as written, with a warning.
    ("十二", [(R, "住房城乡建设部", "住房城乡建设部")]),
    # 会同: both responsible, the group with department null.
    ("十三", [(R, DEV, "国家发展改革委"), (R, None, "有关部门")]),
    # The convention "列第一位者为牵头单位，下同" applies to its own tag and later ones.
    ("十四", [(L, "human_resources", "人力资源和社会保障部"), (R, "finance", "财政部")]),
    ("十五", [(L, "land", "国土资源部"), (R, "finance", "财政部")]),
    ("十六", [(R, "tax", "税务总局")]),
    ("十七", [(L, IND, "工业和信息化部"), (C, "finance", "财政部"), (C, "commerce", "商务部")]),
]


@pytest.mark.parametrize(("ref", "expected"), STATE_COUNCIL_TAGS,
                         ids=[r for r, _ in STATE_COUNCIL_TAGS])
def test_state_council_tags(state_council: Catalog, ref: str,
                            expected: list[tuple[str, str | None, str]]) -> None:
    assert roles(state_council.find_clause(ref).assignments()) == expected


def test_state_council_document(state_council: Catalog) -> None:
    assert len(state_council.documents) == 1
    assert state_council.document.title == "国务院关于化解产能过剩矛盾的实施意见"
    assert state_council.document.number == "国发〔2099〕1号"
    assert [w.message for w in state_council.warnings] == [
        "Unknown department {name} in clause {clause} (line {line})."]
    assert dict(state_council.warnings[0].params)["name"] == "住房城乡建设部"


def test_state_council_level3_items(state_council: Catalog) -> None:
    item = state_council.find_clause("二.十七.1")
    assert item.title == "加强新闻宣传"
    assert roles(item.assignments()) == [(R, "commerce", "商务部")]
    second = state_council.find_clause("二/十七/2")
    assert second.title == ""
    assert _shape(second.deadlines()[0]) == ("within", {"days": 15})


@pytest.mark.parametrize(("ref", "kind", "values"), [
    ("一", "within", {"months": 3}),
    ("五", "immediate", {}),
    ("八", "absolute", {"year": 2019, "month": 6, "day": 30}),
    ("九", "set_by_authority", {}),
    ("十一", "annual", {"month": 12, "day": 31}),
    ("十四", "annual_next_year", {"month": 3, "day": 31}),
])
def test_state_council_deadlines(state_council: Catalog, ref: str, kind: str,
                                 values: dict[str, int]) -> None:
    assert [_shape(d) for d in state_council.find_clause(ref).deadlines()] == [(kind, values)]


def test_brackets_that_are_not_tags(state_council: Catalog) -> None:
    assert [t.raw for t in state_council.find_clause("十二").paragraphs[0].tags] == [
        "住房城乡建设部负责"]
    assert [t.raw for t in state_council.find_clause("十三").paragraphs[0].tags] == [
        "国家发展改革委会同有关部门负责"]


@pytest.mark.parametrize(("raw", "expected"), [
    ("工业和信息化、发展改革主管部门负责", [(R, IND, "工业和信息化"), (R, DEV, "发展改革")]),
    ("人力资源和社会保障部和财政部负责",
     [(R, "human_resources", "人力资源和社会保障部"), (R, "finance", "财政部")]),
    ("发展改革和财政主管部门负责", [(R, DEV, "发展改革"), (R, "finance", "财政")]),
    ("发展改革委与财政部负责", [(R, DEV, "发展改革委"), (R, "finance", "财政部")]),
    ("负责部门：财政部，商务部", [(R, "finance", "财政部"), (R, "commerce", "商务部")]),
    ("环境保护部门负责", [(R, ENV, "环境保护")]),
    ("相关部门配合", [(C, None, "相关部门")]),
    ("由财政部负责。", [(R, "finance", "财政部")]),
    ("国家发展改革委、财政部负责，列第一位者为牵头单位",
     [(L, DEV, "国家发展改革委"), (R, "finance", "财政部")]),
])
def test_parse_tag_forms(raw: str, expected: list[tuple[str, str | None, str]]) -> None:
    parsed = parse_tag(raw, DEFAULT_ALIASES)
    assert parsed is not None
    assert roles(parsed.assignments) == expected


@pytest.mark.parametrize("raw", [
    "工信部联产业〔2017〕30号，以下简称《指导意见》", "修正", "2011年本", "领导", "一", "市",
    "各地可结合本地区产业发展实际和结构调整需要，扩大行业范围", "企业自行负责", "试行",
    "以下简称“负责部门”", "", "企业内部负责",
])
def test_parse_tag_rejects(raw: str) -> None:
    assert parse_tag(raw, DEFAULT_ALIASES) is None


def test_convention_applies_only_from_where_it_is_stated() -> None:
    text = ("一、任务\n"
            "（一）甲。内容。（财政部、商务部负责）\n"
            "（二）乙。各项任务中列第一位者为牵头单位。\n"
            "（三）丙。内容。（财政部、商务部负责）\n")
    catalog = parse_policy(text)
    assert [a.role for a in catalog.find_clause("一").assignments()] == [R, R]
    assert [a.role for a in catalog.find_clause("三").assignments()] == [L, R]


def test_tag_at_sentence_end_inside_paragraph() -> None:
    text = "一、任务\n（一）甲。加强督导。（财政部负责）完善制度。（商务部牵头，相关部门配合）\n"
    tags = parse_policy(text).find_clause("一").paragraphs[0].tags
    assert [roles(t.assignments) for t in tags] == [
        [(R, "finance", "财政部")], [(L, "commerce", "商务部"), (C, None, "相关部门")]]


def test_mid_sentence_bracket_is_not_a_tag() -> None:
    text = "一、任务\n（一）甲。由财政部（财政部负责）会同商务部办理。\n"
    assert parse_policy(text).find_clause("一").paragraphs[0].tags == ()


@pytest.mark.parametrize(("rest", "title", "first"), [
    ("总体要求", "总体要求", ""),
    ("能耗方面。严格执行节约能源法。", "能耗方面", "严格执行节约能源法。"),
    ("指导思想。", "指导思想", ""),
    ("各县（市）、园区请于每年11月30日前上报。", "", "各县（市）、园区请于每年11月30日前上报。"),
    ("根据要求，制定方案。", "", "根据要求，制定方案。"),
    ("", "", ""),
])
def test_split_title(rest: str, title: str, first: str) -> None:
    assert split_title(rest) == (title, first)


# --- encodings and line endings -----------------------------------------------------------

SMALL = ("关于加强节能监察的通知\n"
         "一、主要任务\n"
         "（一）能耗方面。应在6个月内整改。（工业和信息化、发展改革主管部门负责）\n"
         "（二）环保方面。依法处理。\n"
         "继续加强监管。（环境保护主管部门负责）\n")


def _check_small(catalog: Catalog) -> None:
    assert catalog.document.title == "关于加强节能监察的通知"
    assert roles(catalog.find_clause("一").assignments()) == [
        (R, IND, "工业和信息化"), (R, DEV, "发展改革")]
    two = catalog.find_clause("二")
    assert [p.text[:7] for p in two.paragraphs] == ["依法处理。", "继续加强监管。"]
    assert two.paragraphs[1].tags[0].raw == "环境保护主管部门负责"
    assert roles(two.assignments()) == [(R, ENV, "环境保护")]


@pytest.mark.parametrize(("name", "data"), [
    ("utf8", SMALL.encode("utf-8")),
    ("utf8-bom", codecs.BOM_UTF8 + SMALL.encode("utf-8")),
    ("gbk", SMALL.encode("gbk")),
    ("gb18030", SMALL.encode("gb18030")),
    ("utf16", SMALL.encode("utf-16")),
    ("crlf", SMALL.replace("\n", "\r\n").encode("utf-8")),
    ("cr", SMALL.replace("\n", "\r").encode("utf-8")),
    ("gbk-crlf", SMALL.replace("\n", "\r\n").encode("gbk")),
    ("ascii-brackets", SMALL.replace("（", "(").replace("）", ")").encode("utf-8")),
    ("fullwidth-space", SMALL.replace("（一）", "\u3000\u3000（一）").encode("utf-8")),
])
def test_encodings(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / f"{name}.txt"
    path.write_bytes(data)
    _check_small(parse_policy_file(path))


def test_bom_in_text_is_ignored() -> None:
    _check_small(parse_policy("\ufeff" + SMALL))


# --- bad input ---------------------------------------------------------------------------


BINARY = "The file {path} looks binary (it contains NUL bytes)."
UNDECODABLE = "Cannot decode {path}: it is neither UTF-8 nor GB18030/GBK text."


@pytest.mark.parametrize(("data", "message"), [
    (b"", "The file {path} is empty."),
    (b"  \n\r\n ", "The file {path} is empty."),
    (codecs.BOM_UTF8, "The file {path} is empty."),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", BINARY),
    ("一、任务".encode() + b"\x00", BINARY),
    (bytes(range(0x80, 0x100)) * 4, UNDECODABLE),
    ("Ünïcödé façade naïve résumé".encode("latin-1"), UNDECODABLE),
])
def test_bad_bytes(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    with pytest.raises(PolicyError) as info:
        read_policy_file(path)
    assert info.value.message == message
    assert info.value.exit_code == 1


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as info:
        read_policy_file(tmp_path / "nope.txt")
    assert info.value.exit_code == 2


def test_oversized_file_fails_fast(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: nothing is written or read
    with pytest.raises(PolicyError) as info:
        read_policy_file(path)
    assert info.value.message == "{path} is too large ({size} MB); the limit is {limit} MB."
    assert info.value.params["size"] == "50.0"
    assert info.value.exit_code == 2


def test_oversized_text_and_bytes() -> None:
    with pytest.raises(PolicyError):
        parse_policy("一" * (MAX_BYTES // 3 + 1))
    with pytest.raises(PolicyError):
        decode_policy_bytes(b"a" * (MAX_BYTES + 1))


@pytest.mark.parametrize("text", [
    "这是一段没有编号的文字。\n第二段。（财政部负责）\n",
    "关于某事的通知\n昌州经信〔2017〕1号\n",
    "附件：\n一、某文件\n",
])
def test_no_numbered_clauses(text: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(text)
    assert info.value.message == "No numbered clauses (一、 / （一） / 1.) found in the document."


def test_unclosed_bracket_is_a_warning() -> None:
    text = ("一、任务\n"
            "（一）能耗。应整改。（工业和信息化主管部门负责\n"
            "（二）环保。依法处理。（环境保护主管部门负责）\n"
            "（三）质量。依法处理（质量技术监督")
    catalog = parse_policy(text)
    assert [(w.message, w.line) for w in catalog.warnings] == [
        ("Unclosed bracket on line {line}.", 2), ("Unclosed bracket on line {line}.", 4)]
    assert catalog.find_clause("一").assignments() == ()
    assert roles(catalog.find_clause("二").assignments()) == [(R, ENV, "环境保护")]
    assert catalog.find_clause("三").paragraphs[0].text == "依法处理（质量技术监督"


def test_duplicate_clause_number_is_a_warning() -> None:
    catalog = parse_policy("一、任务\n（一）甲。内容。\n（一）乙。内容。\n")
    assert [w.message for w in catalog.warnings] == ["Clause {path} appears twice (line {line})."]


def test_long_lines_parse_quickly() -> None:
    """Pathological input must stay linear: one huge line of brackets and numbers."""
    text = "一、任务\n（一）甲。" + "（财政部、" * 20000 + "\n" + "（二）乙。" + "6个月内" * 20000
    catalog = parse_policy(text)
    assert len(catalog.clauses) == 3
