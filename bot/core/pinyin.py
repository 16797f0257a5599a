"""Toneless pinyin for matching names: 玛纳斯县 → ma na si xian.

Each character has one reading, its most common, as pypinyin gives it without its phrase
dictionary, except in a short list of words of enterprise and place names (长城 "changcheng",
银行 "yinhang": :data:`PHRASES`); a query and a name are read by the same rules, so they
always read alike. The readings come from ``bot/data/pinyin.txt``
(written from pypinyin by ``python -m bot.devtools.pinyin_table``), read on first use into one
array of two bytes per code point, about 0.4 MB: pypinyin's own dictionaries take 55 MB of the
bot's memory with the phrases, 12 MB without.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from functools import cache

from bot.data import DATA_DIR

TABLE = DATA_DIR / "pinyin.txt"

__all__ = ["initials", "syllables"]


@dataclass(frozen=True)
class _Readings:
    first: int  # the code point of readings[0]
    readings: array[int]  # for each code point from ``first``: 0 (none) or 1 + a syllable's index
    syllables: tuple[str, ...]

    def of(self, character: str) -> str | None:
        at = ord(character) - self.first
        if 0 <= at < len(self.readings) and (index := self.readings[at]):
            return self.syllables[index - 1]
        return None


@cache
def _table() -> _Readings:
    lines = [line.split("\t") for line in TABLE.read_text(encoding="utf-8").splitlines()
             if line and not line.startswith("#")]
    codes = [ord(ch) for _, characters in lines for ch in characters]
    first = min(codes)
    readings = array("H", bytes(2 * (max(codes) - first + 1)))
    for index, (_, characters) in enumerate(lines, start=1):
        for ch in characters:
            readings[ord(ch) - first] = index
    return _Readings(first, readings, tuple(syllable for syllable, _ in lines))


#: Words of enterprise and place names whose reading is not their characters' first one
#: (长 reads "zhang" alone, 都 "dou", 行 "xing"): read as people say them.
PHRASES: dict[str, tuple[str, str]] = {
    "长城": ("chang", "cheng"), "长江": ("chang", "jiang"), "长春": ("chang", "chun"),
    "长沙": ("chang", "sha"), "长安": ("chang", "an"), "长治": ("chang", "zhi"),
    "长丰": ("chang", "feng"), "成都": ("cheng", "du"), "首都": ("shou", "du"),
    "都市": ("du", "shi"), "厦门": ("xia", "men"), "重庆": ("chong", "qing"),
    "银行": ("yin", "hang"), "行业": ("hang", "ye"), "商行": ("shang", "hang"),
}


def _parts(text: str) -> list[tuple[str, bool]]:
    """``text`` as readings (each with True) and the runs of other characters between them
    (with False), as ``pypinyin.lazy_pinyin`` splits it; the words of :data:`PHRASES` read
    as words."""
    table = _table()
    parts: list[tuple[str, bool]] = []
    other = ""
    phrase: tuple[str, ...] = ()
    for at, ch in enumerate(text):
        if phrase:  # the second character of a word already read
            reading: str | None = phrase[0]
            phrase = ()
        elif (word := PHRASES.get(text[at:at + 2])) is not None:
            reading, phrase = word[0], word[1:]
        else:
            reading = table.of(ch)
        if reading is None:
            other += ch
            continue
        if other:
            parts.append((other, False))
            other = ""
        parts.append((reading, True))
    if other:
        parts.append((other, False))
    return parts


def syllables(text: str) -> list[str]:
    """Each character's reading, and each run of other characters as it is:
    "企业12玛纳斯" → ["qi", "ye", "12", "ma", "na", "si"]."""
    return [part for part, _ in _parts(text)]


def initials(text: str) -> list[str]:
    """The first letter of each reading, and each run of other characters as it is:
    "玛纳斯县" → ["m", "n", "s", "x"]."""
    return [part[0] if reading else part for part, reading in _parts(text)]
