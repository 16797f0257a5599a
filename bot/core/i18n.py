"""Translations: every text a person reads goes through here.

Message ids are English; ``locales/<lang>/LC_MESSAGES/messages.po`` holds the translations.
The ``.po`` files are compiled in memory when first used, so a fresh checkout needs no build
step and a catalog can never be stale.

Two ways to mark text:

* ``N_("...")`` marks a message id without translating it, for texts defined in one place and
  rendered later in the reader's language (errors, labels).
* ``Translator.gettext`` / ``ngettext`` translate at the point of rendering.
"""

from __future__ import annotations

import gettext as _gettext
import io
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).resolve().parents[2] / "locales"
DEFAULT_LOCALE = "zh_CN"
SUPPORTED_LOCALES = ("zh_CN", "en")


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated when rendered."""
    return message


def normalize_locale(value: str | None) -> str:
    """Map user input such as ``zh``, ``zh-CN``, ``en_US`` or ``EN`` to a supported locale."""
    if not value:
        return DEFAULT_LOCALE
    key = value.strip().replace("-", "_").lower()
    if key.startswith("zh"):
        return "zh_CN"
    if key.startswith("en"):
        return "en"
    return DEFAULT_LOCALE


@dataclass(frozen=True)
class Translator:
    """The texts of one locale."""

    locale: str
    catalog: _gettext.NullTranslations

    def gettext(self, message: str, /, **params: Any) -> str:
        text = self.catalog.gettext(message)
        return text.format(**params) if params else text

    def ngettext(self, singular: str, plural: str, n: int, /, **params: Any) -> str:
        text = self.catalog.ngettext(singular, plural, n)
        return text.format(n=n, **params)

    @property
    def babel_locale(self) -> Locale:
        return Locale.parse(self.locale)


@cache
def _load_catalog(locale: str) -> _gettext.NullTranslations:
    po_path = LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po_path.exists():
        return _gettext.NullTranslations()
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


@cache
def get_translator(locale: str | None = None) -> Translator:
    code = normalize_locale(locale)
    return Translator(locale=code, catalog=_load_catalog(code))


class DubanError(Exception):
    """An error a person can act on: a message id plus named parameters.

    Raise it from the core with ``N_``-marked text; the edge renders it in the reader's
    language with :meth:`render`.
    """

    def __init__(self, message: str, /, *, translate: Iterable[str] = (),
                 departments: Iterable[str] = (), **params: Any) -> None:
        super().__init__(message.format(**params) if params else message)
        self.message = message
        self.params = params
        #: Parameters that are message ids (a state's, a step's label): translated when shown.
        self.translate = tuple(translate)
        #: Parameters that are department keys: shown by the department's name.
        self.departments = tuple(departments)

    def render(self, translator: Translator, aliases: Any = None) -> str:
        """The message in the reader's language; department keys by name (``aliases``: the
        organisation's alias table, else the built-in names)."""
        params = dict(self.params)
        separator = ", " if translator.locale.startswith("en") else "、"
        for name in self.translate:
            value = params.get(name)
            if isinstance(value, tuple | list):
                params[name] = separator.join(translator.gettext(str(v)) for v in value)
            elif value is not None:
                params[name] = translator.gettext(str(value))
        if self.departments:
            if aliases is None:
                from bot.core.departments import DEFAULT_ALIASES
                aliases = DEFAULT_ALIASES
            for name in self.departments:
                if name in params:
                    params[name] = aliases.name(str(params[name]), translator.locale)
        return translator.gettext(self.message, **params)


class ProblemsError(DubanError):
    """A file with problems: a headline (``{source}``, ``{count}``) and every problem in it,
    one per line, so the whole file is reported at once."""

    def __init__(self, headline: str, problems: Iterable[DubanError], *,
                 source: str = "") -> None:
        self.problems: tuple[DubanError, ...] = tuple(problems)
        self.source = source
        super().__init__(headline, source=source, count=len(self.problems))

    def __str__(self) -> str:
        return "\n".join([super().__str__(), *(f"- {p}" for p in self.problems)])

    def render(self, translator: Translator, aliases: Any = None) -> str:
        return "\n".join([super().render(translator, aliases),
                          *(f"- {p.render(translator, aliases)}" for p in self.problems)])
