"""Forgiving matching of county, park and department names.

People type 玛纳斯, 玛纳斯县, "manasi", "Manasi County", "mnsx" or a near miss such as 玛那斯县
and all mean 玛纳斯县. Matching runs in stages and stops at the first stage that finds
anything; a stage that finds several names reports them as ambiguous, it never guesses:

1. exact name or alias;
2. normalised form (spaces, punctuation and full-width characters folded, case ignored);
3. stem (the name without its administrative suffix 县/市/区/自治县/开发区…), prefix and
   containment; "昌吉" is the stem of 昌吉市 and a prefix of 昌吉高新区, so it is ambiguous;
4. pinyin: full, without the suffix, initials; latin queries lose "county", "xian", …;
5. fuzzy (rapidfuzz) with a score cutoff and a margin between the best and the second best.

Build a :class:`NameIndex` once per set of names and reuse it: the organisation keeps one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

from bot.core import pinyin
from bot.core.i18n import N_, DubanError

__all__ = [
    "DEPARTMENT_SUFFIXES",
    "REGION_SUFFIXES",
    "AmbiguousNameError",
    "MatchResult",
    "NameIndex",
    "UnknownNameError",
    "match_name",
    "normalize",
    "resolve_name",
    "search_names",
]

# Longest first: the first suffix that matches is removed.
REGION_SUFFIXES: tuple[str, ...] = (
    "高新技术产业开发区",
    "经济技术开发区",
    "技术开发区",
    "哈萨克自治县",
    "经济开发区",
    "工业园区",
    "产业园区",
    "开发区",
    "高新区",
    "自治县",
    "自治州",
    "园区",
    "新区",
    "县",
    "市",
    "区",
)
DEPARTMENT_SUFFIXES: tuple[str, ...] = (
    "行政主管部门",
    "主管部门",
    "管理部门",
    "委员会",
    "部门",
    "局",
    "厅",
    "委",
)
# English words people append to a place name, as the pinyin of the Chinese suffix.
_ENGLISH_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("economicandtechnologicaldevelopmentzone", "jingjijishukaifaqu"),
    ("economictechnologicaldevelopmentzone", "jingjijishukaifaqu"),
    ("hightechindustrialdevelopmentzone", "gaoxinjishuchanyekaifaqu"),
    ("hightechdevelopmentzone", "gaoxinjishuchanyekaifaqu"),
    ("kazakhautonomouscounty", "hasakezizhixian"),
    ("kazakautonomouscounty", "hasakezizhixian"),
    ("autonomouscounty", "zizhixian"),
    ("developmentzone", "kaifaqu"),
    ("industrialpark", "gongyeyuanqu"),
    ("hightechzone", "gaoxinqu"),
    ("district", "qu"),
    ("county", "xian"),
    ("city", "shi"),
    ("park", "yuanqu"),
)
_PUNCT = re.compile(r"[\s\-_'’·.,，。、;；:：()（）\[\]【】\"“”]+")
_HAS_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN_ONLY = re.compile(r"^[a-z0-9]+$")

DEFAULT_CUTOFF = 80.0
DEFAULT_MARGIN = 8.0


def normalize(text: str) -> str:
    """Fold full-width characters (NFKC), case, spaces and punctuation."""
    return _PUNCT.sub("", unicodedata.normalize("NFKC", text)).lower()


def _strip_suffix(text: str, suffixes: Sequence[str]) -> str:
    """``text`` without its first matching suffix; unchanged if nothing would remain."""
    for suffix in suffixes:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)]
    return text


def _english_to_pinyin(text: str) -> str:
    """"manasicounty" -> "manasixian": an English suffix becomes the Chinese one's pinyin."""
    for english, sound in _ENGLISH_SUFFIXES:
        if text.endswith(english) and len(text) >= len(english) + 2:
            return text[: -len(english)] + sound
    return text


def _top_tier(found: dict[str, float]) -> dict[str, float]:
    """Keep only the names found by the strongest kind of evidence."""
    if not found:
        return found
    best = max(found.values())
    return {name: score for name, score in found.items() if score == best}


def _pinyin(text: str) -> str:
    return "".join(pinyin.syllables(text)).lower()


def _initials(text: str) -> str:
    return "".join(pinyin.initials(text)).lower()


@dataclass(frozen=True)
class _Form:
    """One spelling of a name, precomputed for every stage."""

    canonical: str
    norm: str
    stem: str
    pinyin: str
    pinyin_stem: str
    initials: str
    initials_stem: str


@dataclass(frozen=True)
class MatchResult:
    """The outcome of a match: a unique ``value``, or ``candidates`` when ambiguous."""

    value: str | None
    candidates: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.value is not None

    @property
    def ambiguous(self) -> bool:
        return self.value is None and len(self.candidates) > 1


_NOTHING = MatchResult(None, ())


class NameIndex:
    """Precomputed spellings of a set of canonical names with their aliases.

    ``names`` is either a mapping from each canonical name to its aliases or a plain
    sequence of canonical names. Build it once and pass it to :func:`match_name`.
    """

    def __init__(
        self,
        names: Mapping[str, Iterable[str]] | Iterable[str],
        *,
        suffixes: Sequence[str] = REGION_SUFFIXES,
    ) -> None:
        self.suffixes = tuple(suffixes)
        pairs: dict[str, tuple[str, ...]]
        if isinstance(names, Mapping):
            pairs = {str(k): tuple(str(a) for a in v) for k, v in names.items()}
        else:
            pairs = {str(k): () for k in names}
        self.canonicals: tuple[str, ...] = tuple(pairs)
        self._order = {name: i for i, name in enumerate(self.canonicals)}
        self._exact: dict[str, set[str]] = {}
        self._norm: dict[str, set[str]] = {}
        self.forms: list[_Form] = []
        for canonical, aliases in pairs.items():
            for spelling in (canonical, *aliases):
                if not spelling.strip():
                    continue
                self._exact.setdefault(spelling.strip(), set()).add(canonical)
                norm = normalize(spelling)
                if not norm:
                    continue
                self._norm.setdefault(norm, set()).add(canonical)
                stem = _strip_suffix(norm, self.suffixes)
                self.forms.append(
                    _Form(
                        canonical=canonical,
                        norm=norm,
                        stem=stem,
                        pinyin=_pinyin(norm),
                        pinyin_stem=_pinyin(stem),
                        initials=_initials(norm),
                        initials_stem=_initials(stem),
                    )
                )
        self._suffix_norms = {normalize(s) for s in self.suffixes}
        self._pinyin_suffixes = tuple(
            sorted({_pinyin(s) for s in self.suffixes}, key=len, reverse=True)
        )

    def _strip_latin_suffix(self, text: str) -> str:
        for suffix in self._pinyin_suffixes:
            if text.endswith(suffix) and len(text) >= len(suffix) + 2:
                return text[: -len(suffix)]
        return text

    def __len__(self) -> int:
        return len(self.canonicals)

    def _result(self, found: Mapping[str, float] | Iterable[str]) -> MatchResult:
        """Unique value or ambiguous candidates; mapping values are scores (higher first)."""
        if isinstance(found, Mapping):
            ordered = sorted(found, key=lambda n: (-found[n], self._order[n]))
        else:
            ordered = sorted(set(found), key=self._order.__getitem__)
        if not ordered:
            return _NOTHING
        if len(ordered) == 1:
            return MatchResult(ordered[0], ())
        return MatchResult(None, tuple(ordered))

    def match(
        self,
        query: str,
        *,
        cutoff: float = DEFAULT_CUTOFF,
        margin: float = DEFAULT_MARGIN,
    ) -> MatchResult:
        raw = query.strip()
        if not raw:
            return _NOTHING
        if raw in self._exact:
            return self._result(self._exact[raw])
        norm = normalize(raw)
        if not norm:
            return _NOTHING
        if norm in self._norm:
            return self._result(self._norm[norm])
        if norm in self._suffix_norms:
            # "县", "开发区": a bare suffix names nothing.
            return _NOTHING
        contained: dict[str, float] = {}
        if _HAS_CJK.search(norm):
            contained = self._containment(norm)
            if contained and max(contained.values()) >= 2.0:
                return self._result(contained)
        # Mere containment ("昌吉" inside 昌吉高薪区) yields to a pinyin spelling match.
        found = self._pinyin(norm)
        if found:
            return self._result(found)
        if contained:
            return self._result(contained)
        return self._fuzzy(norm, cutoff=cutoff, margin=margin)

    def _containment(self, norm: str) -> dict[str, float]:
        stem = _strip_suffix(norm, self.suffixes)
        found: dict[str, float] = {}

        def hit(name: str, score: float) -> None:
            found[name] = max(found.get(name, 0.0), score)

        for form in self.forms:
            if stem == form.stem:
                hit(form.canonical, 3.0)
            elif len(stem) >= 2 and form.norm.startswith(stem):
                hit(form.canonical, 2.0)
            elif len(form.stem) >= 2 and form.stem in norm:
                # The query names the place and more: 玛纳斯县人民政府.
                hit(form.canonical, 1.5)
            elif len(stem) >= 2 and stem in form.norm:
                hit(form.canonical, 1.0)
        return _top_tier(found)

    def _pinyin(self, norm: str) -> dict[str, float]:
        latin = bool(_LATIN_ONLY.match(norm))
        if latin:
            if len(norm) < 2:
                return {}
            full = _english_to_pinyin(norm)
            stem = self._strip_latin_suffix(full)
        else:
            full = _pinyin(norm)
            stem = _pinyin(_strip_suffix(norm, self.suffixes))
            if not _LATIN_ONLY.match(full):
                return {}
        found: dict[str, float] = {}
        # Full spellings first: "manasixian" is 玛纳斯县 and nothing else.
        for form in self.forms:
            if full == form.pinyin or (latin and full == form.initials):
                found[form.canonical] = 3.0
        if found:
            return found
        for form in self.forms:
            score = 0.0
            if stem and (stem in (form.pinyin_stem, form.pinyin) or full == form.pinyin_stem):
                score = 3.0
            elif latin and len(full) >= 2 and full in (form.initials_stem,):
                score = 2.5
            elif len(stem) >= 4 and form.pinyin.startswith(stem):
                score = 2.0
            if score:
                found[form.canonical] = max(found.get(form.canonical, 0.0), score)
        return _top_tier(found)

    def _fuzzy(self, norm: str, *, cutoff: float, margin: float) -> MatchResult:
        if len(norm) < 2:
            return _NOTHING
        latin = bool(_LATIN_ONLY.match(norm))
        if latin:
            norm = _english_to_pinyin(norm)
        stem = self._strip_latin_suffix(norm) if latin else _strip_suffix(norm, self.suffixes)
        q_pinyin = norm if latin else _pinyin(norm)
        q_pinyin_stem = stem if latin else _pinyin(stem)
        scores: dict[str, float] = {}
        for form in self.forms:
            sound = max(
                fuzz.ratio(q_pinyin, form.pinyin),
                fuzz.ratio(q_pinyin_stem, form.pinyin_stem) if len(q_pinyin_stem) >= 3 else 0.0,
            )
            if latin:
                score = sound
            else:
                # Characters and sound must both be close: 玛纳期县 is 玛纳斯县, but 水利局
                # is not 税务局 although "shuiliju" sounds like "shuiwuju".
                chars = fuzz.ratio(norm, form.norm)
                if len(stem) >= 2:
                    chars = max(chars, fuzz.ratio(stem, form.stem))
                score = (chars + sound) / 2
            if score > scores.get(form.canonical, -1.0):
                scores[form.canonical] = score
        ranked = sorted(
            ((s, n) for n, s in scores.items() if s >= cutoff),
            key=lambda item: (-item[0], self._order[item[1]]),
        )
        if not ranked:
            return _NOTHING
        best = ranked[0][0]
        close = {n: s for s, n in ranked if best - s < margin}
        return self._result(close)


# Small cache so callers passing the same plain mapping twice do not rebuild the index.
_INDEX_CACHE: dict[tuple[object, ...], NameIndex] = {}
_INDEX_CACHE_LIMIT = 64


def _index_for(
    names: NameIndex | Mapping[str, Iterable[str]] | Iterable[str],
    suffixes: Sequence[str],
) -> NameIndex:
    if isinstance(names, NameIndex):
        return names
    if isinstance(names, Mapping):
        items = tuple((str(k), tuple(str(a) for a in v)) for k, v in names.items())
        key: tuple[object, ...] = ("m", items, tuple(suffixes))
        source: Mapping[str, Iterable[str]] | Iterable[str] = dict(items)
    else:
        listed = tuple(str(n) for n in names)
        key = ("s", listed, tuple(suffixes))
        source = listed
    index = _INDEX_CACHE.get(key)
    if index is None:
        if len(_INDEX_CACHE) >= _INDEX_CACHE_LIMIT:
            _INDEX_CACHE.clear()
        index = _INDEX_CACHE[key] = NameIndex(source, suffixes=suffixes)
    return index


def match_name(
    query: str,
    names: NameIndex | Mapping[str, Iterable[str]] | Iterable[str],
    *,
    suffixes: Sequence[str] = REGION_SUFFIXES,
    cutoff: float = DEFAULT_CUTOFF,
    margin: float = DEFAULT_MARGIN,
) -> MatchResult:
    """Match ``query`` against canonical ``names`` (with aliases when given as a mapping).

    The result's ``value`` and ``candidates`` are always canonical names from ``names``.
    ``suffixes`` is ignored when ``names`` is a prebuilt :class:`NameIndex`.
    """
    return _index_for(names, suffixes).match(query, cutoff=cutoff, margin=margin)


class UnknownNameError(DubanError):
    """Nothing matched the name."""

    def __init__(self, message: str, *, query: str, **params: Any) -> None:
        super().__init__(message, query=query, **params)
        self.query = query


class AmbiguousNameError(DubanError):
    """Several names matched; ``candidates`` lists them (best first) for a choice."""

    def __init__(
        self, message: str, *, query: str, candidates: tuple[str, ...], **params: Any
    ) -> None:
        super().__init__(message, query=query, candidates="、".join(candidates), **params)
        self.query = query
        self.candidates = candidates


# Messages per kind of name, so each reads naturally once translated.
_MESSAGES: dict[str, tuple[str, str]] = {
    "region": (
        N_("No county or park matches “{query}”"),
        N_("“{query}” could be several counties or parks: {candidates}. Please be more precise"),
    ),
    "department": (
        N_("No department matches “{query}”"),
        N_("“{query}” could be several departments: {candidates}. Please be more precise"),
    ),
}
_GENERIC = (
    N_("No {what} matches “{query}”"),
    N_("“{query}” could be several of {what}: {candidates}. Please be more precise"),
)


def raise_for(result: MatchResult, query: str, *, what: str) -> str:
    """``result.value``, or the error a person reads when there is none."""
    if result.value is not None:
        return result.value
    not_found, ambiguous = _MESSAGES.get(what, _GENERIC)
    extra = {} if what in _MESSAGES else {"what": what}
    if result.candidates:
        raise AmbiguousNameError(ambiguous, query=query, candidates=result.candidates, **extra)
    raise UnknownNameError(not_found, query=query, **extra)


def resolve_name(
    query: str,
    names: NameIndex | Mapping[str, Iterable[str]] | Iterable[str],
    *,
    what: str,
    suffixes: Sequence[str] = REGION_SUFFIXES,
) -> str:
    """The canonical name ``query`` means, or a :class:`DubanError`.

    ``what`` is ``"region"`` or ``"department"`` for their own messages; any other value is
    inserted as-is into a generic message. Raises :class:`UnknownNameError` or
    :class:`AmbiguousNameError` (whose ``candidates`` lists the names to choose from).
    """
    return raise_for(match_name(query, names, suffixes=suffixes), query, what=what)



# -- searching: every name a query could mean ----------------------------------------------------


def _syllables(norm: str) -> list[str]:
    return [s.lower() for s in pinyin.syllables(norm)]


def _at_syllable(query: str, syllables: Sequence[str]) -> bool:
    """``query`` (latin) spells the name's sound from the start of one of its syllables:
    "hongda" in 玛纳斯县宏达水泥, but not "ongda"."""
    return any("".join(syllables[i:]).startswith(query) for i in range(len(syllables)))


def _run_of(needle: Sequence[str], hay: Sequence[str]) -> bool:
    n = len(needle)
    return any(list(hay[i:i + n]) == list(needle) for i in range(len(hay) - n + 1))


def search_names(query: str, names: Iterable[str], *,
                 cutoff: float = DEFAULT_CUTOFF) -> tuple[str, ...]:
    """Every name of ``names`` that ``query`` could mean, for a search (an enterprise by part
    of its name): unlike :func:`match_name`, several results are an answer, not an ambiguity.

    Stages, stopping at the first that finds anything: the query (normalised) inside the
    name; the query's sound inside the name's (pinyin typed as "hongda" or "hdsn", or other
    characters that sound the same, from a syllable's start); then fuzzy (rapidfuzz, the
    best part of the name, characters and sound together) at ``cutoff``. Names come back in
    the order given, fuzzy ones best first.
    """
    listed = list(dict.fromkeys(str(n) for n in names))
    norm = normalize(query)
    if not norm or norm in {normalize(s) for s in REGION_SUFFIXES}:
        return ()
    forms = [(name, normalize(name)) for name in listed]
    found = [name for name, form in forms if norm in form]
    if found:
        return tuple(found)
    latin = bool(_LATIN_ONLY.match(norm))
    if latin and len(norm) < 2:
        return ()
    sound = _syllables(norm)
    for name, form in forms:
        syllables = _syllables(form)
        if latin:
            initials = "".join(s[:1] for s in syllables)
            if _at_syllable(norm, syllables) or (len(norm) >= 3 and norm in initials):
                found.append(name)
        elif len(sound) >= 2 and _run_of(sound, syllables):
            found.append(name)
    if found:
        return tuple(found)
    if len(norm) < 3:
        return ()
    spoken = "".join(sound)
    scores: dict[str, float] = {}
    for name, form in forms:
        heard = fuzz.partial_ratio(spoken, "".join(_syllables(form)))
        score = heard if latin else (fuzz.partial_ratio(norm, form) + heard) / 2
        if score >= cutoff:
            scores[name] = score
    return tuple(sorted(scores, key=lambda n: -scores[n]))
