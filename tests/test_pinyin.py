"""The pinyin table that name matching reads (bot.core.pinyin) instead of pypinyin's
dictionaries: the same readings and the same splitting as ``pypinyin.lazy_pinyin`` without
its phrase dictionary."""

from __future__ import annotations

import pytest

from bot.core import pinyin


@pytest.mark.parametrize(
    ("text", "syllables", "initials"),
    [
        ("玛纳斯县", ["ma", "na", "si", "xian"], ["m", "n", "s", "x"]),
        ("绿", ["lv"], ["l"]),
        ("人民公社", ["ren", "min", "gong", "she"], ["r", "m", "g", "s"]),
        ("企业12玛纳斯", ["qi", "ye", "12", "ma", "na", "si"], ["q", "y", "12", "m", "n", "s"]),
        ("宏达 Cement·水泥", ["hong", "da", " Cement·", "shui", "ni"],
         ["h", "d", " Cement·", "s", "n"]),
        ("〇", ["ling"], ["l"]),
        ("𠀀", ["he"], ["h"]),  # CJK Extension B
        ("", [], []),
        ("ABC-1", ["ABC-1"], ["ABC-1"]),
    ],
)
def test_syllables_and_initials(text: str, syllables: list[str], initials: list[str]) -> None:
    assert pinyin.syllables(text) == syllables
    assert pinyin.initials(text) == initials


@pytest.mark.parametrize(("text", "read"), [
    ("长城水泥", ["chang", "cheng", "shui", "ni"]),
    ("人民银行", ["ren", "min", "yin", "hang"]),
    ("重庆钢铁", ["chong", "qing", "gang", "tie"]),
    ("长长城", ["zhang", "chang", "cheng"]),  # the word where it is, the character elsewhere
    ("行", ["xing"]),
])
def test_words_read_as_people_say_them(text: str, read: list[str]) -> None:
    assert pinyin.syllables(text) == read
    assert pinyin.initials(text) == [r[0] for r in read]


def _common_characters() -> list[str]:
    """GB 2312's first level: the 3,755 most common characters."""
    found = []
    for high in range(0xB0, 0xD8):
        for low in range(0xA1, 0xFF):
            try:
                found.append(bytes((high, low)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return found


def test_the_table_reads_as_pypinyin() -> None:
    """If this fails after upgrading pypinyin, write the table again:
    ``python -m bot.devtools.pinyin_table``."""
    lazy_pinyin = pytest.importorskip("pypinyin").lazy_pinyin
    characters = _common_characters()
    assert len(characters) == 3755
    differ = [(ch, pinyin.syllables(ch), lazy_pinyin(ch)) for ch in characters
              if pinyin.syllables(ch) != lazy_pinyin(ch)]
    assert not differ, differ[:10]
