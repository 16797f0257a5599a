"""Deadline phrase extraction."""

from __future__ import annotations

import pytest

from bot.core.policy.deadlines import extract_deadlines


def shapes(text: str) -> list[tuple[str, dict[str, int]]]:
    fields = ("years", "months", "days", "year", "month", "day")
    return [(d.kind, {f: getattr(d, f) for f in fields if getattr(d, f) is not None})
            for d in extract_deadlines(text)]


@pytest.mark.parametrize(("text", "expected"), [
    # within
    ("对达不到标准的产能，应在6个月内整改。", [("within", {"months": 6})]),
    ("在6个月内未整改或经整改仍未达标的，依法关停。", [("within", {"months": 6})]),
    ("六个月内整改到位", [("within", {"months": 6})]),
    ("两个月以内完成", [("within", {"months": 2})]),
    ("15日内答复", [("within", {"days": 15})]),
    ("10个工作日内办结", [("within", {"days": 10})]),
    ("30天之内", [("within", {"days": 30})]),
    ("可在5年内继续按原用途和土地权利类型使用土地", [("within", {"years": 5})]),
    ("2019年内完成", []),
    # extension: not also a within
    ("确需延长整改期限的，可提出不超过3个月的延期申请",
     [("extension_max", {"months": 3})]),
    ("应在6个月内整改；确需延长整改期限的，可提出不超过3个月的延期申请；",
     [("within", {"months": 6}), ("extension_max", {"months": 3})]),
    ("不超过30日的延期", [("extension_max", {"days": 30})]),
    # immediate and set by authority
    ("立即停产停业整顿", [("immediate", {})]),
    ("应立即拆除；暂不具备拆除条件的，应立即断水、断电", [("immediate", {})]),
    ("接受社会监督，并限时拆除。", [("set_by_authority", {})]),
    ("责令限期整改。", [("set_by_authority", {})]),
    ("定期公布不达标应限期整改的企业名单", []),
    ("应立即断电，并限时拆除", [("immediate", {}), ("set_by_authority", {})]),
    # annual
    ("每年3月底前，各地制定工作方案", [("annual", {"month": 3, "day": 31})]),
    ("每年11月30日前将本年度情况上报", [("annual", {"month": 11, "day": 30})]),
    ("每年12月底前函告", [("annual", {"month": 12, "day": 31})]),
    ("每年2月底前", [("annual", {"month": 2, "day": 28})]),
    ("每年6月末", [("annual", {"month": 6, "day": 30})]),
    ("每年年底前报送进展", [("annual", {"month": 12, "day": 31})]),
    ("每年十一月三十日前", [("annual", {"month": 11, "day": 30})]),
    ("每年5月1日起施行", []),
    ("每年13月底前", []),
    # next year
    ("次年1月底前，报工业和信息化部", [("annual_next_year", {"month": 1, "day": 31})]),
    ("翌年3月31日前报送", [("annual_next_year", {"month": 3, "day": 31})]),
    # absolute
    ("2019年6月底前完成", [("absolute", {"year": 2019, "month": 6, "day": 30})]),
    ("2020年2月底前", [("absolute", {"year": 2020, "month": 2, "day": 29})]),
    ("2018年12月31日前", [("absolute", {"year": 2018, "month": 12, "day": 31})]),
    ("2020年底前", [("absolute", {"year": 2020, "month": 12, "day": 31})]),
    ("2017年12月1日起施行", []),
    ("2017年自治区经信委工作实施要点", []),
    # none
    ("对未按期退出落后产能的企业，严控新增授信", []),
    ("定期组织相关部门进行监督检查", []),
    ("", []),
])
def test_extract(text: str, expected: list[tuple[str, dict[str, int]]]) -> None:
    assert shapes(text) == expected


@pytest.mark.parametrize(("text", "phrase"), [
    ("应在6个月内整改；", "在6个月内整改"),
    ("在6个月内未整改或经整改仍未达标的", "在6个月内未整改"),
    ("可提出不超过3个月的延期申请；", "不超过3个月的延期申请"),
    ("立即停产停业整顿；", "立即停产停业整顿"),
    ("并限时拆除。", "限时拆除"),
    ("请于每年11月30日前将", "每年11月30日前"),
    ("次年1月底前，", "次年1月底前"),
])
def test_phrases(text: str, phrase: str) -> None:
    assert extract_deadlines(text)[0].phrase == phrase


def test_order_of_appearance() -> None:
    text = "2019年6月底前完成清理，每年3月底前报送，立即整改。"
    assert [d.kind for d in extract_deadlines(text)] == ["absolute", "annual", "immediate"]


def test_linear_on_long_input() -> None:
    text = "每年" * 50000 + "6个月内" * 50000
    assert len(extract_deadlines(text)) == 1
