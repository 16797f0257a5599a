from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from bot.core.departments import BUILTIN_DEPARTMENTS
from bot.core.i18n import DubanError, get_translator
from bot.core.matching import AmbiguousNameError, UnknownNameError
from bot.core.org import (
    EscalationSettings,
    Org,
    OrgError,
    Person,
    Region,
    load_demo_org,
    load_org,
    parse_org,
)

MINIMAL = """
[prefecture]
name = "昌州"

[[regions]]
name = "玛纳斯县"
kind = "county"
aliases = ["玛纳斯"]

[[regions]]
name = "准东经济技术开发区"
kind = "park"
aliases = ["准东"]

[[departments]]
key = "industry"
name = "州工信局"
aliases = ["工信局"]

[[departments]]
key = "environment"
name = "州生态环境局"

[[people]]
name = "王玮中"
telegram_id = 10001
role = "coordinator"

[[people]]
name = "张明"
telegram_id = 20001
role = "liaison"
department = "industry"

[[people]]
name = "马晓燕"
telegram_id = 30001
role = "liaison"
region = "玛纳斯"
"""


def problems(text: str) -> list[str]:
    with pytest.raises(OrgError) as caught:
        parse_org(text)
    return [str(p) for p in caught.value.problems]


# --- the demo organisation ---------------------------------------------------------------


def test_demo_org_loads() -> None:
    org = load_demo_org()
    assert org.prefecture.name == "昌州"
    assert org.prefecture.commission == "昌州经信委"
    assert org.prefecture.notice_prefix == "昌州经信督"
    assert org.prefecture.timezone == "Asia/Shanghai"
    assert [r.name for r in org.counties] == [
        "昌吉市", "阜康市", "呼图壁县", "玛纳斯县", "奇台县", "吉木萨尔县", "木垒哈萨克自治县",
    ]
    assert [r.name for r in org.parks] == ["准东经济技术开发区", "昌吉高新技术产业开发区"]
    assert {d.key for d in org.departments} == {d.key for d in BUILTIN_DEPARTMENTS}
    assert org.department("industry") is not None
    assert org.department("industry").name == "州工信局"  # type: ignore[union-attr]
    assert [p.name for p in org.coordinators] == ["王玮中", "葛文琳"]
    assert org.is_coordinator(10001) and org.is_coordinator(10002)
    assert not org.is_coordinator(20001)
    for key in ("industry", "environment", "development_reform", "quality", "safety"):
        assert len(org.liaisons_for_department(key)) == 1
    for name in ("玛纳斯县", "昌吉市"):
        assert len(org.liaisons_for_region(name)) == 1
    assert org.escalation == EscalationSettings()


@pytest.mark.parametrize(
    ("query", "expected"),
    [("玛纳斯", "玛纳斯县"), ("manasi", "玛纳斯县"), ("准东", "准东经济技术开发区"),
     ("准东开发区", "准东经济技术开发区"), ("高新区", "昌吉高新技术产业开发区"),
     ("昌吉高新区", "昌吉高新技术产业开发区"), ("吉木萨尔", "吉木萨尔县"),
     ("木垒", "木垒哈萨克自治县")],
)
def test_demo_region_matching(query: str, expected: str) -> None:
    org = load_demo_org()
    assert org.match_region(query).value == expected
    assert org.resolve_region(query) == org.region(expected)


def test_demo_region_ambiguous_and_unknown() -> None:
    org = load_demo_org()
    with pytest.raises(AmbiguousNameError) as caught:
        org.resolve_region("昌吉")
    assert caught.value.candidates == ("昌吉市", "昌吉高新技术产业开发区")
    with pytest.raises(UnknownNameError):
        org.resolve_region("县")
    assert org.region("玛纳斯") is None  # exact lookup only
    assert org.region("玛纳斯县") == Region("玛纳斯县", "county", ("玛纳斯",),
                                         org.region("玛纳斯县").leader)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("query", "key"),
    [("工信", "industry"), ("经信委", "industry"), ("州工信局", "industry"),
     ("州经信委", "industry"),
     ("环保", "environment"), ("州生态环境局", "environment"), ("州环保局", "environment"),
     ("安监", "safety"), ("质监", "quality"), ("发改委", "development_reform"),
     ("人行", "pboc"), ("能原局", "energy"), ("industry", "industry")],
)
def test_demo_department_resolution(query: str, key: str) -> None:
    assert load_demo_org().resolve_department(query).key == key


def test_department_unknown() -> None:
    with pytest.raises(UnknownNameError):
        load_demo_org().resolve_department("水利局")


def test_alias_table_extends_builtin() -> None:
    org = load_demo_org()
    table = org.alias_table()
    assert table.canonical("州工信局") == "industry"
    assert table.canonical("人行昌州中心支行") == "pboc"
    assert table.canonical("工业和信息化") == "industry"
    assert org.alias_table() is table  # built once


def test_minimal_org_and_defaults() -> None:
    org = parse_org(MINIMAL)
    assert org.prefecture.commission == "昌州经信委"
    assert org.prefecture.notice_prefix == "昌州经信督"
    assert org.people[2] == Person("马晓燕", 30001, "liaison", None, "玛纳斯县")
    assert org.person(20001) == Person("张明", 20001, "liaison", "industry", None)
    assert org.escalation.office_hours == (time(9, 0), time(17, 30))
    assert org.escalation.nudge_days_before == (30, 14, 7, 3, 1, 0)
    assert org.resolve_department("工信局").name == "州工信局"


def test_departments_default_to_builtin() -> None:
    text = '[prefecture]\nname = "昌州"\n'
    org = parse_org(text)
    assert {d.key for d in org.departments} == {d.key for d in BUILTIN_DEPARTMENTS}
    assert org.regions == ()


def test_new_department_key_needs_a_name() -> None:
    ok = parse_org(MINIMAL + '\n[[departments]]\nkey = "water"\nname = "州水利局"\n')
    assert ok.resolve_department("州水利局").key == "water"
    assert ok.resolve_department("水利局").key == "water"
    found = problems(MINIMAL + '\n[[departments]]\nkey = "water"\n')
    assert any("departments[3]" in p and "name" in p for p in found)


def test_liaison_may_name_department_by_alias() -> None:
    org = parse_org(MINIMAL.replace('department = "industry"', 'department = "工信"'))
    assert org.person(20001).department == "industry"  # type: ignore[union-attr]


def test_equal_orgs_compare_equal() -> None:
    assert parse_org(MINIMAL) == parse_org(MINIMAL)


def test_org_built_directly() -> None:
    org = Org(
        prefecture=parse_org(MINIMAL).prefecture,
        regions=(Region("奇台县", "county"),),
        departments=(),
    )
    assert org.match_region("qitai").value == "奇台县"


# --- validation ---------------------------------------------------------------------------


BAD = """
[prefecture]
name = "昌州"
timezone = "Mars/Base"

[[regions]]
name = "玛纳斯县"
kind = "town"

[[regions]]
name = "玛纳斯县"

[[departments]]
key = "industry"
name = "州工信局"
aliases = ["环保"]

[[people]]
name = "甲"
telegram_id = -5
role = "coordinator"

[[people]]
name = "乙"
telegram_id = 20001
role = "boss"

[[people]]
name = "丙"
telegram_id = 20001
role = "liaison"

[[people]]
name = "丁"
telegram_id = 20002
role = "liaison"
department = "nowhere"

[[people]]
name = "戊"
telegram_id = 20003
role = "liaison"
region = "火星县"

[[people]]
name = "己"
telegram_id = "20004"
role = "liaison"
region = "玛纳斯县"
colour = "red"

[escalation]
notice_after_working_days = 20
summons_after_working_days = 15
office_hours = ["17:30", "09:00"]
"""


def test_every_problem_is_reported_at_once() -> None:
    found = problems(BAD)
    expected = [
        "prefecture: unknown time zone “Mars/Base”",
        "regions[1] (玛纳斯县): kind must be “county” or “park”, not “town”",
        "regions[2] (玛纳斯县): the region name “玛纳斯县” is used twice",
        "departments[1] (州工信局): “环保” already means the department “environment”",
        "people[1] (甲): telegram_id must be a positive integer",
        "people[2] (乙): role must be “coordinator” or “liaison”, not “boss”",
        "people[3] (丙): telegram_id 20001 is already used by people[2] (乙)",
        "people[3] (丙): a liaison needs a department or a county/park",
        "people[4] (丁): unknown department “nowhere”",
        "people[5] (戊): unknown county or park “火星县”",
        "people[6] (己): unknown key “colour”",
        "people[6] (己): telegram_id must be a positive integer",
        "escalation: notice_after_working_days must be less than summons_after_working_days",
    ]
    for message in expected:
        assert message in found, (message, found)
    assert any(p.startswith("escalation: office_hours") for p in found)


def test_org_error_renders_every_problem() -> None:
    with pytest.raises(OrgError) as caught:
        parse_org(BAD, source="bad.toml")
    error = caught.value
    assert isinstance(error, DubanError)
    text = error.render(get_translator("en"))
    assert "bad.toml" in text
    assert text.count("\n- ") == len(error.problems)
    assert "people[1] (甲): telegram_id must be a positive integer" in text


@pytest.mark.parametrize(
    "hours",
    ['["9:00"]', '["09:00", "25:00"]', '["nine", "five"]', '"09:00-17:30"', '["12:00", "12:00"]'],
)
def test_bad_office_hours(hours: str) -> None:
    found = problems(f'[prefecture]\nname = "昌州"\n[escalation]\noffice_hours = {hours}\n')
    assert len(found) == 1 and found[0].startswith("escalation: office_hours")


def test_good_escalation_overrides() -> None:
    org = parse_org(
        '[prefecture]\nname = "昌州"\n[escalation]\nnotice_after_working_days = 5\n'
        'nudge_days_before = [0, 7, 7, 30]\noffice_hours = ["08:30", "18:00"]\n'
    )
    assert org.escalation.notice_after_working_days == 5
    assert org.escalation.nudge_days_before == (30, 7, 0)
    assert org.escalation.office_hours == (time(8, 30), time(18, 0))


def test_bad_escalation_numbers() -> None:
    found = problems('[prefecture]\nname = "昌州"\n[escalation]\nreminder_after_days = -1\n'
                     'summons_after_working_days = true\n')
    assert len(found) == 2


def test_toml_syntax_error_names_the_line() -> None:
    with pytest.raises(OrgError) as caught:
        parse_org('[prefecture]\nname = "昌州"\n\n[[regions]\nname = "x"\n')
    (problem,) = caught.value.problems
    assert problem.params["line"] == 4
    assert "line 4" in str(problem)


def test_missing_prefecture() -> None:
    found = problems('[[regions]]\nname = "玛纳斯县"\n')
    assert found == ["prefecture: the [prefecture] table is required"]


def test_alias_shared_between_regions_is_refused() -> None:
    found = problems(
        '[prefecture]\nname = "昌州"\n[[regions]]\nname = "昌吉市"\naliases = ["昌吉"]\n'
        '[[regions]]\nname = "昌吉高新技术产业开发区"\nkind = "park"\naliases = ["昌吉"]\n'
    )
    assert found == [
        "regions[2] (昌吉高新技术产业开发区): “昌吉” is already used by regions[1] (昌吉市)"
    ]


def test_liaison_with_both_department_and_region() -> None:
    both = MINIMAL.replace('region = "玛纳斯"', 'region = "玛纳斯"\ndepartment = "industry"')
    found = problems(both)
    assert found == ["people[3] (马晓燕): a liaison has a department or a county/park, not both"]


def test_load_org_from_file(tmp_path: Path) -> None:
    path = tmp_path / "org.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    assert load_org(path) == parse_org(MINIMAL)
    with pytest.raises(DubanError) as missing:
        load_org(tmp_path / "nope.toml")
    assert "nope.toml" in str(missing.value)
    bad = tmp_path / "bad.toml"
    bad.write_bytes("[prefecture]\nname = '昌州'\n".encode("gbk"))
    with pytest.raises(DubanError):
        load_org(bad)
    with pytest.raises(DubanError, match="Cannot read the organisation file"):
        load_org(tmp_path)  # a folder
