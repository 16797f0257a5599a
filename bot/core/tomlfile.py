"""Reading a TOML file a person wrote (the organisation file, the holiday override file).

Every problem is a :class:`DubanError` the person can act on: a missing or unreadable file,
text that is not UTF-8 (a byte-order mark is allowed), or TOML with a syntax error. The
messages name the kind of file, so each kind brings its own :class:`TomlTexts`; a syntax error
is one problem of the file's :class:`ProblemsError` (``problems``), as its other problems are.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bot.core.i18n import N_, DubanError, ProblemsError

__all__ = ["NOT_TOML", "FileProblems", "TomlTexts", "parse_toml", "read_text", "read_toml"]

#: A TOML syntax error (``{line}``: its line, 0 when unknown; ``{detail}``: tomllib's words).
NOT_TOML = N_("Not valid TOML at line {line}: {detail}")
_LINE = re.compile(r"line (\d+)")


@dataclass(frozen=True)
class TomlTexts:
    """The message ids for one kind of file."""

    not_found: str  # {path}
    not_utf8: str  # {path}
    unreadable: str  # {path}, {reason}
    not_toml: str = NOT_TOML  # {line}, {detail}


class FileProblems(Protocol):
    """A file's :class:`ProblemsError` (such as ``OrgError``): its problems and its name."""

    def __call__(self, problems: Iterable[DubanError], *, source: str = "") -> ProblemsError:
        ...


def read_text(path: str | Path, texts: TomlTexts) -> str:
    """The UTF-8 text of ``path``; a missing or unreadable file raises :class:`DubanError`."""
    source = Path(path)
    try:
        return source.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DubanError(texts.not_found, path=str(source)) from None
    except UnicodeDecodeError:
        raise DubanError(texts.not_utf8, path=str(source)) from None
    except OSError as exc:
        raise DubanError(texts.unreadable, path=str(source),
                         reason=exc.strerror or str(exc)) from None


def parse_toml(text: str, texts: TomlTexts, problems: FileProblems, *,
               source: str = "") -> dict[str, Any]:
    """The tables of ``text``; a syntax error raises ``problems([…], source=source)``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _LINE.search(str(exc))
        problem = DubanError(texts.not_toml, line=int(found.group(1)) if found else 0,
                             detail=str(exc))
        raise problems([problem], source=source) from None


def read_toml(path: str | Path, texts: TomlTexts, problems: FileProblems) -> dict[str, Any]:
    """:func:`read_text` then :func:`parse_toml`, the file's name as the ``source``."""
    source = Path(path)
    return parse_toml(read_text(source, texts), texts, problems, source=source.name)
