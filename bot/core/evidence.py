"""Evidence references: how a photo or document sent as evidence is recorded in an event.

A reference is one string in an event's ``payload["evidence"]`` (and a duty's evidence list):

``kind:unique_id:file_id:name:sha256:size``

* ``kind``: ``photo`` or ``document``;
* ``unique_id``, ``file_id``: Telegram's ids of the file (never shown to people);
* ``name``: the document's file name, empty for a photo; it may itself contain ``:``;
* ``sha256``, ``size``: the fingerprint and length of the bytes kept in the evidence store
  (``bot.services.evidence``), where the file lives at ``<dir>/<sha256[:2]>/<sha256>``.

References written before files were kept end after the name (``kind:unique_id:file_id:name``)
and free-form ones (``duban case step --evidence 整改通知.pdf``, the sandbox's
``photo:验收现场.jpg``) have fewer fields: :meth:`EvidenceRef.parse` reads them all, with no
fingerprint. The fingerprint and size are found from the right, so a name with colons in it
reads back whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SHA256 = re.compile(r"[0-9a-f]{64}")
_STORED_TAIL = re.compile(r"(?s)(.*):([0-9a-f]{64}):([0-9]{1,12})")


@dataclass(frozen=True)
class EvidenceRef:
    """One evidence reference, parsed."""

    kind: str  # photo | document (or whatever a free-form reference began with)
    unique_id: str = ""
    file_id: str = ""
    name: str = ""
    sha256: str | None = None  # None: not kept in the store (an older or free-form reference)
    size: int | None = None

    @property
    def stored(self) -> bool:
        return self.sha256 is not None

    def ref(self) -> str:
        base = f"{self.kind}:{self.unique_id}:{self.file_id}:{self.name}"
        if self.sha256 is None:
            return base
        return f"{base}:{self.sha256}:{self.size if self.size is not None else 0}"

    @classmethod
    def parse(cls, text: str) -> EvidenceRef:
        kind, _, rest = str(text).partition(":")
        parts = rest.split(":", 2)
        if len(parts) < 3:  # free-form: "photo:name.jpg", "整改通知.pdf"
            return cls(kind)
        unique_id, file_id, tail = parts
        stored = _STORED_TAIL.fullmatch(tail)
        if stored is None:
            return cls(kind, unique_id, file_id, tail)
        return cls(kind, unique_id, file_id, stored.group(1), stored.group(2),
                   int(stored.group(3)))
