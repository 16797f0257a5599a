from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.i18n import DubanError, get_translator
from bot.core.matching import (
    DEPARTMENT_SUFFIXES,
    AmbiguousNameError,
    MatchResult,
    NameIndex,
    UnknownNameError,
    match_name,
    normalize,
    resolve_name,
)

REGIONS: dict[str, list[str]] = {
    "昌吉市": [],
    "阜康市": [],
    "呼图壁县": [],
    "玛纳斯县": ["玛纳斯"],
    "奇台县": [],
    "吉木萨尔县": [],
    "木垒哈萨克自治县": ["木垒"],
    "准东经济技术开发区": ["准东开发区", "准东"],
    "昌吉高新技术产业开发区": ["昌吉高新区", "高新区"],
}
INDEX = NameIndex(REGIONS)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("玛纳斯县", "玛纳斯县"),
        ("玛纳斯", "玛纳斯县"),
        (" 玛纳斯县 ", "玛纳斯县"),
        ("manasi", "玛纳斯县"),
        ("Manasi", "玛纳斯县"),
        ("Manasi County", "玛纳斯县"),
        ("manasixian", "玛纳斯县"),
        ("Ｍａｎａｓｉ", "玛纳斯县"),
        ("mnsx", "玛纳斯县"),
        ("玛那斯县", "玛纳斯县"),  # homophone typo
        ("玛纳期县", "玛纳斯县"),  # character typo
        ("马纳斯", "玛纳斯县"),
        ("manasy", "玛纳斯县"),
        ("玛纳斯县人民政府", "玛纳斯县"),
        ("准东", "准东经济技术开发区"),
        ("准东开发区", "准东经济技术开发区"),
        ("zhundong", "准东经济技术开发区"),
        ("Zhundong Development Zone", "准东经济技术开发区"),
        ("吉木萨尔", "吉木萨尔县"),
        ("jimusaer", "吉木萨尔县"),
        ("吉木萨", "吉木萨尔县"),
        ("木垒", "木垒哈萨克自治县"),
        ("Mulei Kazak Autonomous County", "木垒哈萨克自治县"),
        ("阜康县", "阜康市"),
        ("fukang", "阜康市"),
        ("奇台", "奇台县"),
        ("Qitai County", "奇台县"),
        ("hutubi", "呼图壁县"),
        ("昌吉市", "昌吉市"),
        ("Changji City", "昌吉市"),
        ("changjishi", "昌吉市"),
        ("高新区", "昌吉高新技术产业开发区"),
        ("昌吉高新", "昌吉高新技术产业开发区"),
        ("昌吉高薪区", "昌吉高新技术产业开发区"),
    ],
)
def test_unique_matches(query: str, expected: str) -> None:
    result = INDEX.match(query)
    assert result == MatchResult(expected, ())
    assert result.ok
    # The plain mapping gives the same answer as the prebuilt index.
    assert match_name(query, REGIONS) == result


@pytest.mark.parametrize("query", ["昌吉", "changji", "cj", "昌吉区"])
def test_ambiguous_names_list_candidates(query: str) -> None:
    result = INDEX.match(query)
    assert not result.ok
    assert result.ambiguous
    assert set(result.candidates) == {"昌吉市", "昌吉高新技术产业开发区"}


@pytest.mark.parametrize(
    "query",
    ["", "   ", "县", "区", "开发区", "xian", "county", "北京", "beijing", "阜", "hu", "？？"],
)
def test_nothing_matches(query: str) -> None:
    result = INDEX.match(query)
    assert result == MatchResult(None, ())
    assert not result.ok and not result.ambiguous


def test_sequence_of_names() -> None:
    assert match_name("玛纳斯", ["玛纳斯县", "奇台县"]).value == "玛纳斯县"
    assert match_name("qitai", ("玛纳斯县", "奇台县")).value == "奇台县"


def test_alias_shared_by_two_names_is_ambiguous() -> None:
    result = match_name("新区", {"甲县": ["新区"], "乙县": ["新区"]})
    assert result.candidates == ("甲县", "乙县")


def test_exact_alias_wins_over_ambiguity() -> None:
    names = {"昌吉市": ["昌吉"], "昌吉高新技术产业开发区": ["昌吉高新区"]}
    assert match_name("昌吉", names).value == "昌吉市"


def test_fuzzy_close_scores_are_ambiguous() -> None:
    # Equally distant from both: never guess.
    result = match_name("abcdefgh", ["abcdefgx", "abcdefgy", "zzzz"])
    assert result == MatchResult(None, ("abcdefgx", "abcdefgy"))
    assert match_name("甲乙", ["甲乙丙", "甲乙丁"]).candidates == ("甲乙丙", "甲乙丁")
    # A clear winner is taken.
    assert match_name("abcdefgh", ["abcdefgx", "zzzzzzzz"]).value == "abcdefgx"
    # Close in sound but not in writing: not a match.
    assert match_name("甲乙丙", ["甲乙丁", "甲乙戊"]).value is None


def test_department_suffixes() -> None:
    names = {"industry": ["工信", "经信委"], "tax": ["税务"]}
    assert match_name("工信局", names, suffixes=DEPARTMENT_SUFFIXES).value == "industry"
    assert match_name("水利局", names, suffixes=DEPARTMENT_SUFFIXES).value is None


def test_normalize() -> None:
    assert normalize(" Ｍａｎａｓｉ  County ") == "manasicounty"
    assert normalize("玛纳斯（县）") == "玛纳斯县"


def test_resolve_name_ok_and_errors() -> None:
    assert resolve_name("manasi", INDEX, what="region") == "玛纳斯县"
    with pytest.raises(AmbiguousNameError) as ambiguous:
        resolve_name("昌吉", INDEX, what="region")
    assert ambiguous.value.candidates == ("昌吉市", "昌吉高新技术产业开发区")
    text = ambiguous.value.render(get_translator("en"))
    assert "昌吉市" in text and "昌吉高新技术产业开发区" in text and "昌吉" in text
    with pytest.raises(UnknownNameError) as unknown:
        resolve_name("北京", INDEX, what="region")
    assert isinstance(unknown.value, DubanError)
    assert "北京" in unknown.value.render(get_translator("zh_CN"))
    with pytest.raises(UnknownNameError) as generic:
        resolve_name("北京", ["上海"], what="city")
    assert generic.value.params["what"] == "city"


names_strategy = st.lists(
    st.text(alphabet="玛纳斯县昌吉市准东开发区高新木垒abcxian ", min_size=1, max_size=8),
    min_size=1,
    max_size=6,
    unique=True,
)


@given(names_strategy, st.text(alphabet="玛纳斯县昌吉市准东开发区高新木垒abcxian ", max_size=10))
def test_match_never_invents_a_name(names: list[str], query: str) -> None:
    result = match_name(query, names)
    if result.value is not None:
        assert result.value in names
        assert result.candidates == ()
    assert set(result.candidates) <= set(names)
    assert len(result.candidates) != 1


@given(st.text(max_size=12))
def test_any_text_is_safe(query: str) -> None:
    result = INDEX.match(query)
    assert result.value is None or result.value in REGIONS
    assert set(result.candidates) <= set(REGIONS)
