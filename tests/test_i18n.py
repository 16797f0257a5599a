"""The message catalogs: up to date with the code, Chinese complete, placeholders intact."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.core.i18n import DubanError, get_translator, normalize_locale

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
KEYWORDS = {"N_": None, "gettext": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"\{(\w+)")


def _code_messages() -> set[str | tuple[str, ...]]:
    found: set[str | tuple[str, ...]] = set()
    for folder in ("bot", "handlers", "scheduler", "models"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map=[("**.py", "python")], keywords=KEYWORDS,
        ):
            found.add(message if isinstance(message, str) else tuple(message))
    return found


def _catalog(locale: str):
    with (LOCALES / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def _ids(catalog) -> set[str | tuple[str, ...]]:
    return {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalog if m.id}


def test_template_matches_the_code() -> None:
    """Run `make messages` when this fails: a text was added or changed without the catalogs."""
    with (LOCALES / "messages.pot").open("rb") as handle:
        template = _ids(read_po(handle))
    code = _code_messages()
    assert sorted(map(str, code - template)) == [], "texts missing from locales/messages.pot"
    assert sorted(map(str, template - code)) == [], "stale texts in locales/messages.pot"


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_every_text_is_translated_with_the_same_placeholders(locale: str) -> None:
    catalog = _catalog(locale)
    assert _ids(catalog) == _code_messages()
    for message in catalog:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        assert all(strings), f"untranslated: {message.id!r}"
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for text in strings:
            assert set(PLACEHOLDER.findall(text)) <= wanted | set(PLACEHOLDER.findall(ids[0]))
            assert set(PLACEHOLDER.findall(ids[0])) <= set(PLACEHOLDER.findall(text)) | {"n"}


def test_chinese_is_the_default_and_plurals_work() -> None:
    zh = get_translator(None)
    assert zh.locale == "zh_CN"
    assert zh.ngettext("{n} case.", "{n} cases.", 3) == "共 3 件。"
    en = get_translator("en")
    assert en.ngettext("{n} case.", "{n} cases.", 1) == "1 case."
    assert en.ngettext("{n} case.", "{n} cases.", 2) == "2 cases."


@pytest.mark.parametrize(("given", "expected"), [
    ("zh", "zh_CN"), ("zh-CN", "zh_CN"), ("ZH_cn", "zh_CN"), ("en", "en"), ("en_US", "en"),
    ("fr", "zh_CN"), ("", "zh_CN"), (None, "zh_CN"),
])
def test_locale_names_are_normalised(given: str | None, expected: str) -> None:
    assert normalize_locale(given) == expected


def test_errors_render_in_the_readers_language() -> None:
    error = DubanError("No case with reference {ref}.", ref="X-1")
    assert error.render(get_translator("en")) == "No case with reference X-1."
    assert error.render(get_translator("zh")) == "没有编号为 X-1 的案件。"
