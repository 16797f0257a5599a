"""The evidence store: every photo and document sent as evidence, kept by its SHA-256.

Layout: ``<dir>/<sha256[:2]>/<sha256>``, one file per distinct content (the same photo sent
twice is kept once). ``<dir>`` is the ``DUBAN_EVIDENCE_DIR`` setting, by default a folder
``evidence`` beside the SQLite database (``bot.settings.Settings.evidence_path``). Files are
written atomically (a temporary file beside them, then a rename) and left read-only; reading
checks the fingerprint again, so an altered file is never sent as evidence.

The event records the reference (``bot.core.evidence``): kind, Telegram's ids, the file name,
the fingerprint and the size. :func:`case_evidence` lists a case's evidence from its events,
:meth:`EvidenceStore.check` tells whether a file is there and intact (``duban case verify``).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from bot.core.evidence import SHA256, EvidenceRef
from bot.core.i18n import N_, DubanError
from bot.services.cases import CaseView

MISSING = N_("The file {name} is missing from the evidence store; it cannot be sent.")
ALTERED = N_("The stored file {name} no longer matches its SHA-256 fingerprint; it is not sent.")
NOT_STORED = N_("The file {name} was recorded before files were kept; there is no copy to "
                "send.")
PHOTO = N_("photo")
DOCUMENT = N_("document")
NO_SUCH_EVIDENCE = N_("Case {ref} has no evidence number {n}.")


class FetchFailed(Exception):
    """A file could not be fetched from Telegram (raised by the handler's fetcher)."""


class Verdict(StrEnum):
    OK = "ok"
    MISSING = "missing"
    ALTERED = "altered"  # there, but its content no longer hashes to its name
    NOT_STORED = "not_stored"  # a reference without a fingerprint: nothing to check


@dataclass(frozen=True)
class Stored:
    """Bytes kept in the store."""

    sha256: str
    size: int


@dataclass(frozen=True)
class EvidenceStore:
    """A folder of files named by their SHA-256."""

    root: Path

    def path_for(self, sha256: str) -> Path:
        if not SHA256.fullmatch(sha256):  # never a path from a made-up reference
            raise ValueError(f"not a SHA-256: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def put(self, content: bytes) -> Stored:
        """Keep ``content``; already there (and intact): nothing is written."""
        sha256 = hashlib.sha256(content).hexdigest()
        path = self.path_for(sha256)
        if self.check(sha256) is Verdict.OK:
            return Stored(sha256, len(content))
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{sha256[:8]}.")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, 0o444)
            os.replace(temporary, path)  # also repairs an altered copy
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return Stored(sha256, len(content))

    def read(self, sha256: str, *, name: str = "", name_is_message: bool = False) -> bytes:
        """The file's bytes, checked against the fingerprint; a :class:`DubanError` naming the
        file ``name`` (a message id to translate with ``name_is_message``) when it is missing
        or altered."""
        named = {"name": name or sha256[:12], "translate": ("name",) if name_is_message else ()}
        try:
            content = self.path_for(sha256).read_bytes()
        except FileNotFoundError:
            raise DubanError(MISSING, **named) from None
        if hashlib.sha256(content).hexdigest() != sha256:
            raise DubanError(ALTERED, **named)
        return content

    def check(self, sha256: str) -> Verdict:
        path = self.path_for(sha256)
        digest = hashlib.sha256()
        try:
            with path.open("rb") as source:
                for block in iter(lambda: source.read(1 << 20), b""):
                    digest.update(block)
        except FileNotFoundError:
            return Verdict.MISSING
        return Verdict.OK if digest.hexdigest() == sha256 else Verdict.ALTERED

    async def store(self, content: bytes) -> Stored:
        return await asyncio.to_thread(self.put, content)

    async def open(self, sha256: str, *, name: str = "", name_is_message: bool = False) -> bytes:
        return await asyncio.to_thread(
            lambda: self.read(sha256, name=name, name_is_message=name_is_message))


@dataclass(frozen=True)
class CaseEvidence:
    """One evidence file of a case, numbered from 1 in the order it was recorded."""

    number: int
    ref: EvidenceRef
    at: datetime
    actor_name: str | None
    department_key: str | None
    event_seq: int


def case_evidence(view: CaseView) -> list[CaseEvidence]:
    """Every evidence reference in the case's events, oldest first. Events are never changed,
    so a number keeps naming the same file (the case's evidence buttons rely on it)."""
    found: list[CaseEvidence] = []
    for event in view.events:
        refs = (event.payload or {}).get("evidence")
        if not isinstance(refs, list | tuple):
            continue
        for ref in refs:
            found.append(CaseEvidence(len(found) + 1, EvidenceRef.parse(str(ref)), event.at,
                                      event.actor_name, event.department_key, event.seq))
    return found


def evidence_item(view: CaseView, number: int) -> CaseEvidence:
    for item in case_evidence(view):
        if item.number == number:
            return item
    raise DubanError(NO_SUCH_EVIDENCE, ref=view.case.ref, n=number)


async def evidence_file(store: EvidenceStore, item: CaseEvidence) -> bytes:
    """The stored bytes of one evidence item (checked), or a clear DubanError."""
    return await stored_file(store, item.ref)


async def stored_file(store: EvidenceStore, ref: EvidenceRef) -> bytes:
    """The stored bytes of one evidence reference (a case's or a duty's; checked), or a
    clear DubanError."""
    if ref.name:
        name, translate = ref.name, False
    else:  # a photo has no name: "photo", in the reader's words
        name, translate = (PHOTO if ref.kind == "photo" else DOCUMENT), True
    if ref.sha256 is None:
        raise DubanError(NOT_STORED, name=name, translate=("name",) if translate else ())
    return await store.open(ref.sha256, name=name, name_is_message=translate)


@dataclass(frozen=True)
class Check:
    item: CaseEvidence
    verdict: Verdict


def verify_case(view: CaseView, store: EvidenceStore) -> list[Check]:
    """Each evidence file of the case: there and matching its fingerprint, or not."""
    return [Check(item, store.check(item.ref.sha256) if item.ref.sha256 is not None
                  else Verdict.NOT_STORED)
            for item in case_evidence(view)]
