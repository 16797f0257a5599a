"""The parser scored on a corpus of State Council documents written for this purpose.

Each ``tests/data/policy/corpus/NN_name.txt`` has a ``NN_name.expected.json`` beside it listing
every responsibility tag a careful reader finds, clause by clause, with its assignments as
``[role, body]``: ``body`` is the canonical department key when the alias table knows the body,
the name as written when it does not, and ``group:<name as written>`` for a group a coordinator
resolves. The test prints, per document and overall:

* tags found: expected tags the parser found (matched inside the same clause by the bodies they
  share), and how many tags it found that nobody expected;
* body F1: over (clause, tag, body) — the right bodies, whatever their role;
* role F1: over (clause, tag, body, role).

The figures are recorded in ``docs/parser-corpus.md``.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.core.policy.catalog import Catalog, TagAssignment
from bot.core.policy.parser import parse_policy_file

CORPUS = Path(__file__).resolve().parent / "data" / "policy" / "corpus"
DOCUMENTS = sorted(p.stem for p in CORPUS.glob("*.txt"))

Assignment = tuple[str, str]  # (role, body key)


def body_key(assignment: TagAssignment) -> str:
    if assignment.department is None:
        return "group:" + assignment.as_written
    return assignment.department


def found_tags(catalog: Catalog) -> list[tuple[str, list[Assignment]]]:
    """``(clause path, assignments)`` for every tag, in document order."""
    return [("/".join(clause.path), [(a.role, body_key(a)) for a in tag.assignments])
            for clause in catalog.clauses for p in clause.paragraphs for tag in p.tags]


def expected_tags(name: str) -> list[tuple[str, list[Assignment]]]:
    data = json.loads((CORPUS / f"{name}.expected.json").read_text(encoding="utf-8"))
    return [(t["clause"], [(role, body) for role, body in t["assignments"]])
            for t in data["tags"]]


@dataclass
class Score:
    expected_tags: int = 0
    matched_tags: int = 0
    extra_tags: int = 0
    body_tp: int = 0
    body_expected: int = 0
    body_found: int = 0
    role_tp: int = 0
    role_expected: int = 0
    role_found: int = 0

    def add(self, other: Score) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @staticmethod
    def _f1(tp: int, expected: int, found: int) -> float:
        if not expected and not found:
            return 1.0
        precision = tp / found if found else 0.0
        recall = tp / expected if expected else 0.0
        return 0.0 if not precision + recall else 2 * precision * recall / (precision + recall)

    @property
    def tags_found(self) -> float:
        return self.matched_tags / self.expected_tags if self.expected_tags else 1.0

    @property
    def body_f1(self) -> float:
        return self._f1(self.body_tp, self.body_expected, self.body_found)

    @property
    def role_f1(self) -> float:
        return self._f1(self.role_tp, self.role_expected, self.role_found)


def _overlap(a: list[Assignment], b: list[Assignment]) -> int:
    return sum((Counter(k for _, k in a) & Counter(k for _, k in b)).values())


def score(found: list[tuple[str, list[Assignment]]],
          expected: list[tuple[str, list[Assignment]]]) -> Score:
    """Match tags clause by clause (greedily, by shared bodies) and count."""
    result = Score(expected_tags=len(expected))
    result.body_expected = result.role_expected = sum(len(a) for _, a in expected)
    result.body_found = result.role_found = sum(len(a) for _, a in found)
    clauses = {c for c, _ in expected} | {c for c, _ in found}
    for clause in clauses:
        want = [a for c, a in expected if c == clause]
        got = [a for c, a in found if c == clause]
        pairs = sorted(((_overlap(w, g), i, j) for i, w in enumerate(want)
                        for j, g in enumerate(got)), reverse=True)
        used_w: set[int] = set()
        used_g: set[int] = set()
        for overlap, i, j in pairs:
            if overlap == 0 or i in used_w or j in used_g:
                continue
            used_w.add(i)
            used_g.add(j)
            result.matched_tags += 1
            result.body_tp += overlap
            result.role_tp += sum((Counter(want[i]) & Counter(got[j])).values())
        result.extra_tags += len(got) - len(used_g)
    return result


def score_document(name: str) -> Score:
    catalog = parse_policy_file(CORPUS / f"{name}.txt")
    return score(found_tags(catalog), expected_tags(name))


def _row(name: str, s: Score) -> str:
    return (f"{name:<22} {s.matched_tags:>3}/{s.expected_tags:<3} {s.tags_found:>7.1%} "
            f"{s.extra_tags:>6} {s.body_f1:>8.3f} {s.role_f1:>8.3f}")


def test_scorer_counts_misses_and_extras() -> None:
    expected = [("一", [("lead", "a"), ("responsible", "b")]), ("二", [("responsible", "c")])]
    found = [("一", [("responsible", "a"), ("responsible", "b")]), ("三", [("guide", "d")])]
    s = score(found, expected)
    assert (s.matched_tags, s.extra_tags) == (1, 1)
    assert (s.body_tp, s.role_tp) == (2, 1)
    assert s.tags_found == 0.5
    assert round(s.body_f1, 3) == round(2 * (2 / 3) * (2 / 3) / (4 / 3), 3)


@pytest.mark.parametrize("name", DOCUMENTS)
def test_corpus_document_is_read(name: str) -> None:
    """Every expected tag is found and nothing else is; bodies and roles are right."""
    s = score_document(name)
    assert s.tags_found == 1.0, name
    assert s.extra_tags == 0, name
    assert s.body_f1 == 1.0, name
    assert s.role_f1 == 1.0, name


def test_corpus_scores(capsys: pytest.CaptureFixture[str]) -> None:
    """Print the figures (recorded in docs/parser-corpus.md)."""
    total = Score()
    lines = [f"{'document':<22} {'tags':>7} {'found':>7} {'extra':>6} {'body F1':>8} "
             f"{'role F1':>8}"]
    for name in DOCUMENTS:
        s = score_document(name)
        total.add(s)
        lines.append(_row(name, s))
    lines.append(_row("overall", total))
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert len(DOCUMENTS) >= 5
    assert total.tags_found >= 0.95
    assert total.role_f1 >= 0.9
