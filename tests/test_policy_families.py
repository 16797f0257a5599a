"""The families of tags the parser used to miss or misread (issue 15), each with texts written
for it, and the confidence and reasons every tag and assignment carries."""

from __future__ import annotations

import json

import pytest

from bot.core.departments import DEFAULT_ALIASES
from bot.core.policy.catalog import (
    CHECK,
    SURE,
    Catalog,
    CatalogFormatError,
    Clause,
    MalformedCatalogError,
    TagAssignment,
    load_catalog,
)
from bot.core.policy.parser import parse_policy, parse_tag, table_cells
from bot.core.policy.script import GB2312_EXCEPTIONS, TRADITIONAL_TO_SIMPLIFIED, to_simplified
from bot.core.policy.tags import Convention, read_tag, split_bodies
from bot.core.routing import AssignmentStatus, route

R, L, C, G, D = "responsible", "lead", "cooperate", "guide", "by_duty"
IND, DEV, FIN, HR = "industry", "development_reform", "finance", "human_resources"
LEAD_FIRST = Convention()

Row = tuple[str, str | None, str]


def roles(assignments: tuple[TagAssignment, ...]) -> list[Row]:
    return [(a.role, a.department, a.as_written) for a in assignments]


def tag_roles(raw: str, convention: Convention | None = None) -> list[Row]:
    parsed = parse_tag(raw, DEFAULT_ALIASES, convention)
    assert parsed is not None, raw
    return roles(parsed.assignments)


def clause(catalog: Catalog, path: str) -> Clause:
    found = [c for c in catalog.clauses if "/".join(c.path) == path]
    assert len(found) == 1, path
    return found[0]


# --- bodies that are not ministries ------------------------------------------------------

NON_MINISTRY: list[tuple[str, list[Row]]] = [
    ("国家电网有限公司负责", [(R, "国家电网有限公司", "国家电网有限公司")]),
    ("中国残联、中国红十字会总会负责",
     [(R, "中国残联", "中国残联"), (R, "中国红十字会总会", "中国红十字会总会")]),
    ("中华全国总工会、共青团中央、全国妇联负责",
     [(R, "中华全国总工会", "中华全国总工会"), (R, "共青团中央", "共青团中央"),
      (R, "全国妇联", "全国妇联")]),
    ("民政部牵头，中国残联参与", [(L, "民政部", "民政部"), (C, "中国残联", "中国残联")]),
    ("中国科协、中国铁路集团负责",
     [(R, "中国科协", "中国科协"), (R, "中国铁路集团", "中国铁路集团")]),
    ("国务院国资委指导，国家能源投资集团有限责任公司负责",
     [(G, "state_assets", "国务院国资委"),
      (R, "国家能源投资集团有限责任公司", "国家能源投资集团有限责任公司")]),
    # A named association is one body; only a group of them (相关行业协会) is a group.
    ("中国钢铁工业协会负责", [(R, "中国钢铁工业协会", "中国钢铁工业协会")]),
    ("北京市人民政府负责", [(R, "北京市人民政府", "北京市人民政府")]),
    # Spellings the alias table knows once 部 / 总局 / 会 / 国家 are set aside.
    ("生态环境部、市场监管总局、银保监会、国家税务总局负责",
     [(R, "environment", "生态环境部"), (R, "market_regulation", "市场监管总局"),
      (R, "banking_regulator", "银保监会"), (R, "tax", "国家税务总局")]),
]


@pytest.mark.parametrize(("raw", "expected"), NON_MINISTRY, ids=[r for r, _ in NON_MINISTRY])
def test_bodies_that_are_not_ministries(raw: str, expected: list[Row]) -> None:
    assert tag_roles(raw) == expected


def test_unknown_bodies_are_checked_and_warned() -> None:
    parsed = parse_tag("国家电网有限公司、财政部负责")
    assert parsed is not None
    grid, finance = parsed.assignments
    assert (grid.confidence, grid.reasons) == (CHECK, ("unknown_body",))
    assert (finance.confidence, finance.reasons) == (SURE, ())
    catalog = parse_policy("一、任务\n（一）保供。做好供电。（国家电网有限公司负责）\n")
    assert [dict(w.params)["name"] for w in catalog.warnings] == ["国家电网有限公司"]
    assert catalog.clauses[1].paragraphs[0].tags[0].needs_check


@pytest.mark.parametrize("raw", [
    "企业自行负责", "企业内部负责", "单位负责", "企业负责", "有关负责", "社会各界参与",
])
def test_words_that_are_not_bodies(raw: str) -> None:
    assert parse_tag(raw) is None


# --- joined lists ---------------------------------------------------------------------------

JOINED: list[tuple[str, list[Row]]] = [
    ("国家发展改革委、财政部等和各有关市人民政府负责",
     [(R, DEV, "国家发展改革委"), (R, FIN, "财政部"), (D, None, "各有关市人民政府")]),
    ("国家发展改革委、工业和信息化部等和各有关市人民政府负责",
     [(R, DEV, "国家发展改革委"), (R, IND, "工业和信息化部"), (D, None, "各有关市人民政府")]),
    ("国家电网有限公司、中国残联等和各有关市人民政府负责",
     [(R, "国家电网有限公司", "国家电网有限公司"), (R, "中国残联", "中国残联"),
      (D, None, "各有关市人民政府")]),
    ("财政部、商务部等部门和有关地方人民政府负责",
     [(R, FIN, "财政部"), (R, "commerce", "商务部"), (D, None, "有关地方人民政府")]),
    # 、 inside brackets does not split a name.
    ("省发展改革委、省财政厅等和各县（市、区）人民政府负责",
     [(R, DEV, "省发展改革委"), (R, FIN, "省财政厅"), (D, None, "各县（市、区）人民政府")]),
    ("各有关市人民政府和国家发展改革委负责",
     [(D, None, "各有关市人民政府"), (R, DEV, "国家发展改革委")]),
    # 和 inside a name is not a split, even after another 和.
    ("财政部和工业和信息化部负责", [(R, FIN, "财政部"), (R, IND, "工业和信息化部")]),
]


@pytest.mark.parametrize(("raw", "expected"), JOINED, ids=[r for r, _ in JOINED])
def test_joined_lists(raw: str, expected: list[Row]) -> None:
    assert tag_roles(raw) == expected


def test_joined_list_under_the_convention() -> None:
    assert tag_roles("国家发展改革委、财政部等和各有关市人民政府负责", LEAD_FIRST) == [
        (L, DEV, "国家发展改革委"), (R, FIN, "财政部"), (D, None, "各有关市人民政府")]


def test_split_confidence() -> None:
    """A split at 和 between two unknown names is a guess; 等和 and known names are sure."""
    guessed = parse_tag("中国残联和中国红十字会总会负责")
    assert guessed is not None
    assert [a.reasons for a in guessed.assignments] == [
        ("unknown_body", "split"), ("unknown_body", "split")]
    sure = parse_tag("人力资源和社会保障部和财政部负责")
    assert sure is not None
    assert [a.confidence for a in sure.assignments] == [SURE, SURE]
    closed = [b.guessed for b in split_bodies("中国残联等和各有关市人民政府")]
    assert closed == [False, False]


# --- trailing generic tails -------------------------------------------------------------------

TAILS: list[tuple[str, list[Row]]] = [
    ("工业和信息化部、国家发展改革委等有关部门和单位负责",
     [(R, IND, "工业和信息化部"), (R, DEV, "国家发展改革委")]),
    ("财政部及有关单位负责", [(R, FIN, "财政部")]),
    ("财政部、商务部等部门负责", [(R, FIN, "财政部"), (R, "commerce", "商务部")]),
    ("人民银行、银保监会及相关单位负责", [(R, "pboc", "人民银行"),
                                          (R, "banking_regulator", "银保监会")]),
    ("财政部牵头，人力资源社会保障部等有关部门和单位参与",
     [(L, FIN, "财政部"), (C, HR, "人力资源社会保障部")]),
    ("国务院国资委牵头，中国中煤能源集团有限公司等中央企业配合",
     [(L, "state_assets", "国务院国资委"),
      (C, "中国中煤能源集团有限公司", "中国中煤能源集团有限公司")]),
    ("商务部等单位负责", [(R, "commerce", "商务部")]),
    # Alone, a group stays one group, as written.
    ("有关部门和单位按职责分工负责", [(D, None, "有关部门和单位")]),
    ("相关单位负责", [(D, None, "相关单位")]),
]


@pytest.mark.parametrize(("raw", "expected"), TAILS, ids=[r for r, _ in TAILS])
def test_trailing_generic_tails(raw: str, expected: list[Row]) -> None:
    assert tag_roles(raw) == expected


# --- tags that hold a sentence ------------------------------------------------------------------

SENTENCES: list[tuple[str, list[Row], tuple[str, ...]]] = [
    ("国务院国资委指导，各中央企业负责落实。下同",
     [(G, "state_assets", "国务院国资委"), (D, None, "各中央企业")], ("下同",)),
    ("国家发展改革委牵头，各有关部门按职责分工负责。以下各项任务均需地方各级人民政府落实，不再列出",
     [(L, DEV, "国家发展改革委"), (D, None, "各有关部门")],
     ("以下各项任务均需地方各级人民政府落实，不再列出",)),
    ("人力资源社会保障部指导，财政部参与，各省级人民政府负责落实",
     [(G, HR, "人力资源社会保障部"), (C, FIN, "财政部"), (D, None, "各省级人民政府")], ()),
    ("财政部牵头负责，商务部配合落实", [(L, FIN, "财政部"), (C, "commerce", "商务部")], ()),
]


@pytest.mark.parametrize(("raw", "expected", "remarks"), SENTENCES,
                         ids=[r for r, _, _ in SENTENCES])
def test_tags_that_hold_a_sentence(raw: str, expected: list[Row],
                                   remarks: tuple[str, ...]) -> None:
    parsed = parse_tag(raw)
    assert parsed is not None
    assert roles(parsed.assignments) == expected
    assert parsed.remarks == remarks
    assert ("remark" in parsed.reasons) == bool(remarks)


def test_text_set_aside_is_a_remark_but_a_schedule_is_not() -> None:
    aside = parse_tag("财政部负责，确保资金及时足额到位")
    assert aside is not None and aside.reasons == ("remark",)
    scheduled = parse_tag("财政部负责，2099年底前完成")
    assert scheduled is not None and scheduled.reasons == ()
    ongoing = parse_tag("负责部门：财政部，完成时限：持续推进")
    assert ongoing is not None and ongoing.reasons == ()


def test_a_standing_remark_is_a_document_note() -> None:
    text = ("一、主要任务\n"
            "（一）甲。加强指导。（人力资源社会保障部指导，各有关企业负责落实。"
            "以下各项任务均需地方各级人民政府落实，不再列出）\n"
            "（二）乙。做好保障。（财政部负责）\n"
            "（三）丙。统筹推进。（以下各项均需各地区落实，不再列出）\n")
    catalog = parse_policy(text)
    notes = catalog.document.notes
    assert [(n.kind, n.text, n.path, n.line) for n in notes] == [
        ("remark", "以下各项任务均需地方各级人民政府落实，不再列出", ("一", "一"), 2),
        ("remark", "以下各项均需各地区落实，不再列出", ("一", "三"), 4)]
    # The remark is noted, not turned into assignments of later tags.
    assert roles(clause(catalog, "一/二").assignments()) == [(R, FIN, "财政部")]
    three = clause(catalog, "一/三").paragraphs[0]
    assert three.tags == () and [n.reason for n in three.not_tags] == ["no_role"]


# --- the lead convention --------------------------------------------------------------------

PHRASINGS = [
    "列第一位者为牵头单位", "列第一位的为牵头单位", "排在第一位的为牵头部门",
    "排在首位的为牵头单位", "排在第一的为牵头单位", "列首位的部门为牵头部门",
    "第一位的为牵头单位", "牵头单位列第一位", "牵头部门排在首位",
    "排在第一位的部门为牵头部门，下同", "列第一位者为牵头单位，以下同",
]


@pytest.mark.parametrize("phrase", PHRASINGS)
def test_convention_phrasings_inside_a_tag(phrase: str) -> None:
    parsed = read_tag(f"国家发展改革委、财政部负责，{phrase}")
    assert not isinstance(parsed, str)
    assert roles(parsed.assignments) == [(L, DEV, "国家发展改革委"), (R, FIN, "财政部")]
    assert parsed.convention == Convention()
    assert parsed.assignments[0].reasons == ("convention",)


def test_convention_before_the_bodies_in_a_tag() -> None:
    assert tag_roles("列第一位者为牵头单位，下同。国家发展改革委、财政部负责") == [
        (L, DEV, "国家发展改革委"), (R, FIN, "财政部")]


def test_convention_with_others_cooperating() -> None:
    parsed = read_tag("国家发展改革委、财政部、各有关市人民政府负责，排在首位的为牵头单位，"
                      "其他为配合单位")
    assert not isinstance(parsed, str)
    assert parsed.convention == Convention(others_cooperate=True)
    assert roles(parsed.assignments) == [
        (L, DEV, "国家发展改革委"), (C, FIN, "财政部"), (C, None, "各有关市人民政府")]


@pytest.mark.parametrize("raw", [
    "财政部负责",  # one body
    "财政部牵头，商务部负责",  # an explicit lead
    "相关部门、财政部负责",  # the first body is a group
    "财政部配合，商务部配合",  # nobody under 负责
])
def test_convention_does_not_apply(raw: str) -> None:
    parsed = parse_tag(raw, DEFAULT_ALIASES, LEAD_FIRST)
    assert parsed is not None
    assert not any("convention" in a.reasons for a in parsed.assignments)


def test_convention_names_a_cooperating_tag_first() -> None:
    """A tag naming two or more bodies, the first under 负责, gets its lead."""
    assert tag_roles("工业和信息化部负责，财政部、商务部配合", LEAD_FIRST) == [
        (L, IND, "工业和信息化部"), (C, FIN, "财政部"), (C, "commerce", "商务部")]


@pytest.mark.parametrize(("where", "text"), [
    ("in a tag", "（一）甲。内容。（财政部、商务部负责，排在首位的为牵头单位，下同）\n"),
    ("in the body text", "（一）甲。各项任务中，排在第一位的部门为牵头部门。\n"),
    ("in a note", "注：责任单位有两个以上的，列第一位者为牵头单位，以下同。\n"),
])
def test_convention_applies_from_where_it_is_stated_to_the_end(where: str, text: str) -> None:
    document = ("关于某项工作的通知\n"
                "一、任务\n"
                "（零）前。内容。（财政部、商务部负责）\n"
                f"{text}"
                "（二）乙。内容。（国家发展改革委、工业和信息化部负责）\n"
                "二、保障\n"
                "（三）丙。内容。（人力资源社会保障部、财政部负责）\n")
    catalog = parse_policy(document)
    assert [a.role for a in clause(catalog, "一/零").assignments()] == [R, R], where
    assert [a.role for a in clause(catalog, "一/二").assignments()] == [L, R], where
    assert [a.role for a in clause(catalog, "二/三").assignments()] == [L, R], where
    assert [n.kind for n in catalog.document.notes] == ["lead_first"]


def test_convention_in_a_note_before_the_clauses() -> None:
    catalog = parse_policy("注：各项工作中排在第一位的为牵头单位，其他为配合单位。\n"
                           "一、任务\n1.甲。\n责任单位：财政部、商务部\n")
    note = catalog.document.notes[0]
    assert (note.kind, note.path, note.line) == ("lead_first_others_cooperate", (), 1)
    assert roles(clause(catalog, "一/1").assignments()) == [
        (L, FIN, "财政部"), (C, "commerce", "商务部")]


# --- groups -----------------------------------------------------------------------------------

GROUPS: list[tuple[str, list[Row]]] = [
    ("相关部门牵头", [(L, None, "相关部门")]),
    ("有关部门配合", [(C, None, "有关部门")]),
    ("各参与部门按职责分工落实", [(D, None, "各参与部门")]),
    ("其他负有安全生产监督管理职责的部门负责", [(D, None, "其他负有安全生产监督管理职责的部门")]),
    ("相关行业协会指导", [(G, None, "相关行业协会")]),
    ("各省级人民政府负责", [(D, None, "各省级人民政府")]),
    ("各有关企业参与", [(C, None, "各有关企业")]),
    ("财政部会同有关部门负责", [(R, FIN, "财政部"), (R, None, "有关部门")]),
    ("各地区、各部门按职责分工负责", [(D, None, "各地区"), (D, None, "各部门")]),
]


@pytest.mark.parametrize(("raw", "expected"), GROUPS, ids=[r for r, _ in GROUPS])
def test_groups(raw: str, expected: list[Row]) -> None:
    parsed = parse_tag(raw)
    assert parsed is not None
    assert roles(parsed.assignments) == expected
    assert "group" in parsed.reasons and parsed.confidence == CHECK


@pytest.mark.parametrize("raw", ["相关部门牵头", "有关部门配合", "相关行业协会指导",
                                 "各省级人民政府负责"])
def test_a_group_waits_for_a_coordinator_whatever_the_verb(raw: str) -> None:
    catalog = parse_policy(f"一、任务\n（一）甲。内容。（{raw}）\n")
    [planned] = route(catalog, ["一"])
    assert planned.department is None
    assert planned.status == AssignmentStatus.UNRESOLVED


# --- traditional characters and half-width brackets ---------------------------------------

TRADITIONAL = ("國務院關於加強職工安置工作的通知\n"
               "國發〔2099〕5號\n"
               "一、主要任務\n"
               "(一)職工安置。應在6個月內完成安置。(人力資源社會保障部、財政部負責,"
               "列第一位者為牽頭單位,下同)\n"
               "(二)用電保障。做好斷電、銷戶工作。(國家發展改革委牽頭,國家電網有限公司、"
               "中國殘聯配合)\n"
               "(三)督促落實。(相關部門按職責分工負責)\n"
               "(四)其他事項(試行)。不超過3個月的延期申請。(國務院國資委指導)\n")


def test_traditional_script_with_ascii_brackets() -> None:
    catalog = parse_policy(TRADITIONAL)
    assert catalog.document.title == "國務院關於加強職工安置工作的通知"
    assert catalog.document.number == "國發〔2099〕5號"
    one = clause(catalog, "一/一")
    assert one.title == "職工安置"
    assert one.paragraphs[0].tags[0].raw == (
        "人力資源社會保障部、財政部負責,列第一位者為牽頭單位,下同")
    assert roles(one.assignments()) == [(L, HR, "人力資源社會保障部"), (R, FIN, "財政部")]
    assert [(d.kind, d.months, d.phrase) for d in one.deadlines()] == [
        ("within", 6, "在6個月內完成安置")]
    assert roles(clause(catalog, "一/二").assignments()) == [
        (L, DEV, "國家發展改革委"), (C, "國家電網有限公司", "國家電網有限公司"),
        (C, "中國殘聯", "中國殘聯")]
    assert roles(clause(catalog, "一/三").assignments()) == [(D, None, "相關部門")]
    four = clause(catalog, "一/四")
    assert roles(four.assignments()) == [(G, "state_assets", "國務院國資委")]
    assert [(n.raw, n.reason) for n in four.paragraphs[0].not_tags] == [("試行", "no_role")]
    assert [d.kind for d in four.deadlines()] == ["extension_max"]
    assert [(n.kind, n.text) for n in catalog.document.notes] == [
        ("lead_first", "列第一位者為牽頭單位,下同")]
    assert {dict(w.params)["name"] for w in catalog.warnings} == {"國家電網有限公司", "中國殘聯"}


def test_the_same_document_in_both_scripts_reads_the_same() -> None:
    simplified = parse_policy(to_simplified(TRADITIONAL))
    traditional = parse_policy(TRADITIONAL)
    for a, b in zip(simplified.clauses, traditional.clauses, strict=True):
        assert [(x.role, x.department is None) for x in a.assignments()] == [
            (x.role, x.department is None) for x in b.assignments()]
        assert [to_simplified(x.as_written) for x in b.assignments()] == [
            x.as_written for x in a.assignments()]


def test_the_script_table_never_touches_simplified_text() -> None:
    for code, simplified in TRADITIONAL_TO_SIMPLIFIED.items():
        traditional = chr(code)
        if traditional not in GB2312_EXCEPTIONS:
            with pytest.raises(UnicodeEncodeError):
                traditional.encode("gb2312")
        simplified.encode("gb2312")
    seed_like = "工业和信息化、发展改革主管部门负责，相关部门按职责分工落实；后续工作"
    assert to_simplified(seed_like) == seed_like


# --- tables, label lines, annexes -------------------------------------------------------------


@pytest.mark.parametrize(("line", "cells"), [
    ("| 1 | 任务 | 财政部 |  | 持续推进 |", ["1", "任务", "财政部", "", "持续推进"]),
    ("1\t任务\t财政部\t\t持续推进", ["1", "任务", "财政部", "", "持续推进"]),
    ("1   任务    财政部  持续推进", ["1", "任务", "财政部", "持续推进"]),
])
def test_table_cells(line: str, cells: list[str]) -> None:
    assert table_cells(line) == cells


def test_task_table_rows_are_clauses() -> None:
    text = ("一、重点任务\n"
            "序号\t重点任务\t牵头单位\t配合单位\t完成时限\n"
            "1\t清理项目\t国家发展改革委\t财政部、商务部\t2099年底前\n"
            "2\t加强督导\t国家发展改革委牵头，财政部参与\t\t持续推进\n"
            "3\t只有两格\t财政部\n"
            "二、保障措施\n")
    catalog = parse_policy(text)
    one = clause(catalog, "一/1")
    assert (one.level, one.title) == (3, "清理项目")
    tag = one.paragraphs[0].tags[0]
    assert tag.raw == "牵头单位：国家发展改革委；配合单位：财政部、商务部"
    assert roles(tag.assignments) == [(L, DEV, "国家发展改革委"), (C, FIN, "财政部"),
                                      (C, "commerce", "商务部")]
    assert [d.kind for d in one.deadlines()] == ["absolute"]
    # A cell that is itself a tag is read as one.
    assert roles(clause(catalog, "一/2").assignments()) == [(L, DEV, "国家发展改革委"),
                                                           (C, FIN, "财政部")]
    assert [w.message for w in catalog.warnings] == [
        "Table row on line {line} has {found} cells; the header has {expected}."]
    assert [c.path for c in catalog.clauses][-1] == ("二",)


def test_label_lines_and_inline_labels() -> None:
    text = ("一、任务\n"
            "1.修订标准。\n"
            "牵头单位：市场监管总局  配合单位：国家电网有限公司\n"
            "完成时限：2099年6月底前\n"
            "2.开展监察。责任单位：工业和信息化部、各县（市、区）人民政府。\n")
    catalog = parse_policy(text)
    one = clause(catalog, "一/1")
    assert one.title == "修订标准"
    assert [len(p.tags) for p in one.paragraphs] == [1, 0]
    assert roles(one.assignments()) == [(L, "market_regulation", "市场监管总局"),
                                       (C, "国家电网有限公司", "国家电网有限公司")]
    two = clause(catalog, "一/2").paragraphs[0]
    assert roles(two.assignments()) == [(R, IND, "工业和信息化部"),
                                       (D, None, "各县（市、区）人民政府")]
    assert two.not_tags == ()  # brackets inside the label's bodies are not spans to review


def test_annex_after_the_attachment_list() -> None:
    text = ("一、任务\n（一）甲。内容。（财政部负责）\n"
            "附件：任务分工表\n"
            "国务院\n2099年3月1日\n"
            "附件\n任务分工表\n"
            "| 序号 | 任务 | 责任单位 |\n| --- | --- | --- |\n"
            "| 1 | 乙 | 商务部 |\n")
    catalog = parse_policy(text)
    assert catalog.document.attachments == ("任务分工表",)
    annex = clause(catalog, "附件")
    assert (annex.level, annex.title) == (0, "任务分工表")
    assert roles(clause(catalog, "附件/1").assignments()) == [(R, "commerce", "商务部")]


# --- not-a-tag spans ---------------------------------------------------------------------------


def test_spans_that_are_not_tags_are_kept_with_a_reason() -> None:
    text = ("一、任务\n"
            "（一）甲。由财政部（财政部负责）会同商务部办理。依法处理（试行）。"
            "做好工作。（企业自行负责）\n")
    paragraph = parse_policy(text).clauses[1].paragraphs[0]
    assert paragraph.tags == ()
    assert [(n.raw, n.reason) for n in paragraph.not_tags] == [
        ("财政部负责", "mid_sentence"), ("试行", "no_role"), ("企业自行负责", "no_body")]
    assert read_tag("负" * 201) == "too_long"


# --- the catalog format ----------------------------------------------------------------------


def test_confidence_round_trips_and_is_omitted_when_sure() -> None:
    catalog = parse_policy(TRADITIONAL)
    text = catalog.to_json()
    assert Catalog.from_json(text) == catalog
    assert Catalog.from_json(text).to_json() == text
    assert Catalog.from_toml(catalog.to_toml()) == catalog
    data = json.loads(text)
    assert data["version"] == 2
    one = data["clauses"][1]["paragraphs"][0]["tags"][0]
    assert one["confidence"] == "check"
    assert one["assignments"][0]["reasons"] == ["convention"]
    assert "confidence" not in one["assignments"][1]
    assert data["documents"][0]["notes"][0]["kind"] == "lead_first"


def test_version_1_catalogs_load_as_sure() -> None:
    old = {"version": 1, "main": 0, "document": {"title": None, "number": None},
           "documents": [{"title": None, "number": None}],
           "clauses": [{"path": ["一"], "doc": 0, "level": 1, "title": "",
                        "paragraphs": [{"text": "x（相关部门负责）", "deadlines": [],
                                        "tags": [{"raw": "相关部门负责", "assignments": [
                                            {"role": "by_duty", "department": None,
                                             "as_written": "相关部门"}]}]}]}],
           "warnings": []}
    catalog = Catalog.from_dict(old)
    tag = catalog.clauses[0].paragraphs[0].tags[0]
    assert not tag.needs_check and tag.assignments[0].confidence == SURE
    assert json.loads(catalog.to_json())["version"] == 2


@pytest.mark.parametrize(("change", "message"), [
    ({"version": 9}, "unsupported catalog version {version} (this program reads versions "
                     "1 and 2)"),
    ({"role": "boss"}, "unknown role {role} in clause {clause}"),
    ({"confidence": "maybe"}, "unknown confidence {value} in clause {clause}"),
])
def test_malformed_values_are_refused(tmp_path, change: dict[str, object], message: str,
                                      ) -> None:
    data = json.loads(parse_policy("一、任务\n（一）甲。内容。（财政部负责）\n").to_json())
    assignment = data["clauses"][1]["paragraphs"][0]["tags"][0]["assignments"][0]
    for key, value in change.items():
        (data if key == "version" else assignment)[key] = value
    with pytest.raises(CatalogFormatError) as info:
        Catalog.from_dict(data)
    assert info.value.message == message
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(MalformedCatalogError) as loaded:
        load_catalog(path)
    assert loaded.value.problem.message == message


def test_table_rows_numbered_like_headings() -> None:
    text = ("一、重点任务\n"
            "序号\t任务\t责任单位\n"
            "1.\t清理项目\t财政部\n"
            "2.\t加强督导\t商务部\n"
            "二、保障措施\n")
    catalog = parse_policy(text)
    assert [c.path for c in catalog.clauses] == [("一",), ("一", "1"), ("一", "2"), ("二",)]
    assert roles(clause(catalog, "一/2").assignments()) == [(R, "commerce", "商务部")]
