"""The review list of ``duban policy parse`` and the interactive ``duban policy review``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli.policy import policy_group
from bot.core.policy.catalog import CHECK, SURE, Catalog, load_catalog
from bot.core.policy.parser import parse_policy
from bot.core.policy.review import (
    Decision,
    apply_review,
    format_assignments,
    parse_assignments,
    review_items,
)

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "bot" / "data" / "seed_policy.txt"

SMALL = ("一、任务\n"
         "（一）甲。做好供电。（国家电网有限公司负责）\n"
         "（二）乙。加强督导。（相关部门配合）\n"
         "（三）丙。依法处理（试行）。完成工作。（财政部负责）\n")


@pytest.fixture
def english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBAN_LOCALE", "en")


@pytest.fixture
def catalog_file(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.json"
    path.write_text(parse_policy(SMALL).to_json(), encoding="utf-8")
    return path


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(policy_group, list(args), input=input)


def assert_clean_exit(result: Result, code: int) -> None:
    assert result.exit_code == code, result.output + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output + result.stderr


def tags_of(catalog: Catalog, ref: str) -> list[tuple[str, str, list[tuple[str, str | None]]]]:
    return [(t.raw, t.confidence, [(a.role, a.department) for a in t.assignments])
            for p in catalog.find_clause(ref).paragraphs for t in p.tags]


# --- the review list of `parse` ----------------------------------------------------------


def test_parse_ends_with_the_review_list(english: None) -> None:
    result = run("parse", str(SEED))
    assert_clean_exit(result, 0)
    json.loads(result.stdout)  # the catalog alone on stdout
    lines = result.stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Review: "))
    assert lines[start] == ("Review: 8 tag(s) to check, 16 bracketed span(s) read as not a tag, "
                            "0 note(s).")
    review = lines[start + 1:]
    assert len(review) == 24  # one line per item, to the end of the output
    assert review[0].startswith("  Check 1:二/七: (安全生产监管主管部门及其他负有")
    assert "names a group: a coordinator resolves it" in review[0]
    assert "By duty: 其他负有安全生产监督管理职责的部门" in review[0]
    assert "  Not a tag 1:三/十二: (2011年本) — inside a sentence" in review


def test_parse_review_list_names_notes_and_reasons(tmp_path: Path, english: None) -> None:
    path = tmp_path / "doc.txt"
    path.write_text("一、任务\n（一）甲。内容。（国家电网有限公司、财政部负责，列第一位者为牵头单位，下同）\n",
                    encoding="utf-8")
    result = run("parse", str(path), "-o", str(tmp_path / "out.json"))
    assert_clean_exit(result, 0)
    err = result.stderr
    assert err.index("Wrote 2 clauses") < err.index("Review: 1 tag(s) to check")
    assert ("Note 一/一, line 2: 列第一位者为牵头单位，下同 — from here on the first-named body "
            "leads") in err
    assert ("Lead: 国家电网有限公司 (not in the department list; role set by the first-named "
            "convention); Responsible: Finance") in err


def test_parse_review_list_in_the_default_locale() -> None:
    result = run("parse", str(SEED))
    assert_clean_exit(result, 0)
    last = result.stderr.splitlines()[-1]
    assert last.startswith("  ") and "“红牌”名单" in last


# --- reviewing ---------------------------------------------------------------------------------


def test_review_walks_every_item(catalog_file: Path, english: None) -> None:
    # tag 一 (unknown body): accept; tag 二 (group): edit; span 试行: make it a tag.
    result = run("review", str(catalog_file),
                 input="a\ne\n牵头：财政部；配合：相关部门\nt\nresponsible: 商务部\n")
    assert_clean_exit(result, 0)
    assert "[1/3] Check 一/一: (国家电网有限公司负责)" in result.stdout
    assert "[3/3] Not a tag 一/三: (试行) — no role word" in result.stdout
    assert ("Wrote the reviewed catalog to " + str(catalog_file) +
            ": 1 confirmed, 2 edited, 0 removed, 0 left to check.") in result.stdout
    reviewed = load_catalog(catalog_file)
    one = reviewed.find_clause("一").paragraphs[0].tags[0]
    assert (one.confidence, one.assignments[0].confidence) == (SURE, SURE)
    assert one.assignments[0].reasons == ("unknown_body",)  # kept as a record
    assert tags_of(reviewed, "二") == [
        ("相关部门配合", SURE, [("lead", "finance"), ("cooperate", None)])]
    three = reviewed.find_clause("三").paragraphs[0]
    assert [(t.raw, [a.department for a in t.assignments]) for t in three.tags] == [
        ("试行", ["commerce"]), ("财政部负责", ["finance"])]
    assert three.not_tags == ()
    assert review_items(reviewed) == []
    assert [p.name for p in catalog_file.parent.iterdir()] == ["catalog.json"]  # no temp file


def test_review_not_a_tag_keep_and_skip(catalog_file: Path, english: None) -> None:
    result = run("review", str(catalog_file), input="n\ns\nk\n")
    assert_clean_exit(result, 0)
    assert "1 confirmed, 0 edited, 1 removed, 1 left to check." in result.stdout
    reviewed = load_catalog(catalog_file)
    assert reviewed.find_clause("一").paragraphs[0].tags == ()
    assert tags_of(reviewed, "二")[0][1] == CHECK
    assert reviewed.find_clause("三").paragraphs[0].not_tags == ()


def test_review_edit_asks_again_after_a_mistake(catalog_file: Path, english: None) -> None:
    result = run("review", str(catalog_file), input="e\nboss：财政部\n负责\n\nq\n")
    assert_clean_exit(result, 0)
    assert "Error: Unknown role boss" in result.stderr
    assert "Error: Write each part as role：bodies" in result.stderr
    # Enter keeps the proposed assignments, shown in the reviewer's syntax.
    assert "[responsible: 国家电网有限公司]" in result.stdout
    assert "0 confirmed, 1 edited, 0 removed, 2 left to check." in result.stdout


def test_review_quit_saves_what_was_decided(catalog_file: Path, english: None) -> None:
    result = run("review", str(catalog_file), input="a\nq\n")
    assert_clean_exit(result, 0)
    assert "1 confirmed, 0 edited, 0 removed, 2 left to check." in result.stdout
    assert len(review_items(load_catalog(catalog_file))) == 2


def test_review_stopped_writes_nothing(catalog_file: Path, english: None) -> None:
    before = catalog_file.read_bytes()
    result = run("review", str(catalog_file), input="a\n")  # the input ends at item 2
    assert_clean_exit(result, 1)
    assert "Review stopped; nothing was written." in result.stderr
    assert catalog_file.read_bytes() == before
    assert [p.name for p in catalog_file.parent.iterdir()] == ["catalog.json"]


def test_review_to_another_file_and_format(catalog_file: Path, english: None) -> None:
    before = catalog_file.read_bytes()
    out = catalog_file.parent / "reviewed.toml"
    result = run("review", str(catalog_file), "-o", str(out), input="a\na\nk\n")
    assert_clean_exit(result, 0)
    assert catalog_file.read_bytes() == before
    assert review_items(load_catalog(out)) == []


@pytest.mark.parametrize(("content", "message"), [
    ("{", "Error: Cannot read the catalog"),
    (None, "Error: The file"),
])
def test_review_refuses_a_broken_catalog(tmp_path: Path, english: None, content: str | None,
                                         message: str) -> None:
    path = tmp_path / "catalog.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = run("review", str(path), input="a\n")
    assert_clean_exit(result, 2 if content is None else 1)
    assert result.stderr.startswith(message)
    assert [p.read_text() for p in tmp_path.iterdir()] == ([content] if content else [])


def test_review_refuses_a_malformed_catalog(catalog_file: Path, english: None) -> None:
    data = json.loads(catalog_file.read_text(encoding="utf-8"))
    data["clauses"][1]["paragraphs"][0]["tags"][0]["assignments"][0]["role"] = "boss"
    text = json.dumps(data, ensure_ascii=False)
    catalog_file.write_text(text, encoding="utf-8")
    result = run("review", str(catalog_file), input="a\na\na\n")
    assert_clean_exit(result, 1)
    assert result.stderr == (f"Error: The catalog {catalog_file} is malformed: unknown role boss "
                             "in clause 一/一\n")
    assert catalog_file.read_text(encoding="utf-8") == text
    assert [p.name for p in catalog_file.parent.iterdir()] == ["catalog.json"]


def test_review_refuses_an_output_that_is_not_a_catalog(catalog_file: Path,
                                                        english: None) -> None:
    result = run("review", str(catalog_file), "-o", str(catalog_file.parent / "out.txt"))
    assert_clean_exit(result, 2)
    assert "must end in .json or .toml" in result.stderr


def test_review_of_a_version_1_catalog(tmp_path: Path, english: None) -> None:
    data = json.loads(parse_policy(SMALL).to_json())
    data["version"] = 1
    for clause in data["clauses"]:
        for paragraph in clause["paragraphs"]:
            paragraph.pop("not_tags", None)
            for tag in paragraph["tags"]:
                tag.pop("confidence", None)
                tag.pop("reasons", None)
                for a in tag["assignments"]:
                    a.pop("confidence", None)
                    a.pop("reasons", None)
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    result = run("review", str(path))
    assert_clean_exit(result, 0)
    assert result.stdout == f"Nothing to review in {path}.\n"


def test_review_in_the_default_locale(catalog_file: Path) -> None:
    result = run("review", str(catalog_file), input="a\na\nk\n")
    assert_clean_exit(result, 0)
    assert review_items(load_catalog(catalog_file)) == []


# --- the core of the review --------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("牵头：国家发展改革委；配合：财政部、商务部",
     [("lead", "development_reform"), ("cooperate", "finance"), ("cooperate", "commerce")]),
    ("lead: 国家电网有限公司; by_duty: 相关部门",
     [("lead", "国家电网有限公司"), ("by_duty", None)]),
    ("负责:生态环境部\n指导：国务院国资委", [("responsible", "environment"),
                                        ("guide", "state_assets")]),
])
def test_parse_assignments(text: str, expected: list[tuple[str, str | None]]) -> None:
    assert [(a.role, a.department) for a in parse_assignments(text)] == expected


def test_format_assignments_reads_back() -> None:
    assignments = parse_assignments("牵头：国家发展改革委；配合：财政部、相关部门")
    for english in (False, True):
        assert parse_assignments(format_assignments(assignments, english)) == assignments


@pytest.mark.parametrize(("text", "message"), [
    ("", "Write at least one assignment."),
    ("财政部", "Write each part as role：bodies, e.g. 牵头：国家发展改革委；配合：财政部、商务部 "
              "(not {part})."),
    ("负责：", "No body after {role}."),
])
def test_parse_assignments_errors(text: str, message: str) -> None:
    with pytest.raises(Exception) as info:
        parse_assignments(text)
    assert getattr(info.value, "message", None) == message


def test_apply_review_leaves_other_items_alone() -> None:
    catalog = parse_policy(SMALL)
    items = review_items(catalog)
    reviewed = apply_review(catalog, {items[0]: Decision("accept")})
    assert [i.kind for i in review_items(reviewed)] == ["tag", "not_tag"]
    assert reviewed.clauses[2:] == catalog.clauses[2:]


def test_review_shows_each_item_in_its_sentence(catalog_file: Path, english: None) -> None:
    result = run("review", str(catalog_file), input="a\na\nk\n")
    assert "    乙。加强督导。（相关部门配合）" not in result.stdout  # the clause title is not text
    assert "    加强督导。（相关部门配合）" in result.stdout
    assert "    依法处理（试行）。完成工作。（财政部负责）" in result.stdout
