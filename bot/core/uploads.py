"""What an uploaded file is, from its bytes alone; and what each place that receives files takes.

A file's name and the MIME type Telegram reports are the sender's claims: ``virus.pdf`` may be
a program. So every file people send (evidence photos and documents, case files to import) is
recognised by its content here, before anything is kept or changed:

* PDF: begins with ``%PDF-``; JPEG: ``FF D8 FF``; PNG: its 8-byte signature; WebP: ``RIFF`` …
  ``WEBP`` (photos only: Telegram's photos are JPEG, the sandbox's may be WebP);
* Word ``.docx`` and Excel ``.xlsx``: a ZIP whose ``[Content_Types].xml`` declares the main part
  of a document (``…wordprocessingml.document.main+xml``) resp. a workbook
  (``…spreadsheetml.sheet.main+xml``), with parts under ``word/`` resp. ``xl/``. With macros
  (a ``vbaProject.bin`` part, or the macro-enabled content type) they are ``.docm`` and
  ``.xlsm``; any other ZIP is just a ZIP;
* Word 97–2003 ``.doc`` and Excel ``.xls``: a compound file (OLE2) whose directory holds a
  ``WordDocument`` resp. ``Workbook`` (or ``Book``) stream; a ``.doc`` with macros (a
  ``Macros`` storage) is no document;
* text (a CSV file): no NUL and no other control character than tab, line breaks, form feed
  and DOS's end-of-file mark, in UTF-8 (with or without a byte order mark) or GB18030 (what
  Excel writes on a Chinese Windows), as ``bot.core.casefile`` reads it; a text that begins
  with ``#!`` is a script.

Anything else is refused; programs (ELF, MZ/PE, Mach-O, WebAssembly) are named as such for the
log. :func:`check` applies one place's rules (:data:`PHOTO`, :data:`EVIDENCE`,
:data:`CASE_FILE`) and a size limit, and raises :class:`UploadRefused` with a message naming
what that place expects. Pure: bytes in, a verdict out (the ZIP and OLE2 directories are read
from memory).
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.core.i18n import N_, DubanError

MB = 1024 * 1024
#: Telegram's limit for files a bot downloads (``getFile``): 20 MB.
DEFAULT_MAX_UPLOAD_MB = 20
DEFAULT_MAX_UPLOAD_BYTES = DEFAULT_MAX_UPLOAD_MB * MB

FILE_TOO_LARGE = N_("The file is too large: at most {limit} MB.")
FILE_EMPTY = N_("The file is empty.")


class FileType(StrEnum):
    PDF = "pdf"
    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    DOCX = "docx"
    DOCM = "docm"  # .docx with macros
    XLSX = "xlsx"
    XLSM = "xlsm"  # .xlsx with macros
    DOC = "doc"  # Word 97-2003
    XLS = "xls"  # Excel 97-2003
    TEXT = "text"
    # never accepted; named for the log
    ZIP = "zip"
    OLE = "ole"  # a compound file that is no Word or Excel file (or has macros)
    PROGRAM = "program"
    SCRIPT = "script"
    EMPTY = "empty"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Accepts:
    """The file types one place takes, and the refusal that names them (``{name}``: the
    file's name as sent)."""

    types: frozenset[FileType]
    refusal: str


#: A photo sent as a photo (Telegram sends JPEG; the sandbox passes PNG and WebP through).
PHOTO = Accepts(frozenset({FileType.JPEG, FileType.PNG, FileType.WEBP}), N_(
    "This photo is not accepted: its content is not a JPEG, PNG or WebP image. Nothing was "
    "kept; please send it again."))
#: A document sent as evidence.
EVIDENCE = Accepts(frozenset({FileType.PDF, FileType.JPEG, FileType.PNG, FileType.DOCX,
                              FileType.DOC, FileType.XLSX}), N_(
    "This file is not accepted: by its content it is not a PDF, a JPEG or PNG image, a Word "
    "document (.docx, .doc) or an Excel workbook (.xlsx), whatever its name says. Nothing was "
    "kept; please send one of those."))
#: A case file to import (``bot.core.casefile``).
CASE_FILE = Accepts(frozenset({FileType.TEXT, FileType.XLSX, FileType.XLSM}), N_(
    "{name} was not imported: by its content it is neither a CSV text file (UTF-8 or GB18030) "
    "nor an Excel workbook (.xlsx), whatever its name says."))

#: MIME types Telegram reports for programs: such a file is refused before it is even
#: downloaded (:data:`SENT_AS_PROGRAM`). A claim can only refuse a file early, never accept one.
PROGRAM_MIMES = frozenset({
    "application/x-msdownload", "application/x-dosexec", "application/x-executable",
    "application/x-elf", "application/x-sharedlib", "application/x-mach-binary",
    "application/vnd.microsoft.portable-executable", "application/x-msdos-program",
    "application/x-msi", "application/x-ms-installer", "application/x-sh",
    "application/x-shellscript", "application/x-bat", "application/x-csh",
    "application/java-archive", "application/vnd.android.package-archive",
})


SENT_AS_PROGRAM = N_(
    "This file is not accepted: it was sent as a program ({mime}). Please send a PDF, a JPEG or "
    "PNG image, a Word document (.docx, .doc) or an Excel workbook (.xlsx).")


class UploadRefused(DubanError):
    """A file refused by :func:`check`; ``found`` says what it is (for the log)."""

    def __init__(self, message: str, /, *, found: FileType, **params: Any) -> None:
        super().__init__(message, **params)
        self.found = found


def declared_program(mime: str | None) -> bool:
    return (mime or "").split(";")[0].strip().lower() in PROGRAM_MIMES


def check(content: bytes, accepts: Accepts, *, max_bytes: int, name: str = "") -> FileType:
    """What ``content`` is, if ``accepts`` takes it and it is at most ``max_bytes`` long;
    else :class:`UploadRefused`."""
    if len(content) > max_bytes:
        raise UploadRefused(FILE_TOO_LARGE, found=FileType.UNKNOWN,
                            limit=max(1, max_bytes // MB))
    found = detect(content)
    if found is FileType.EMPTY:
        raise UploadRefused(FILE_EMPTY, found=found)
    if found not in accepts.types:
        raise UploadRefused(accepts.refusal, found=found, name=name or "?")
    return found


# -- recognition ------------------------------------------------------------------------------

_PNG = b"\x89PNG\r\n\x1a\n"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_PROGRAMS = (
    b"\x7fELF",  # Linux and most Unix
    b"MZ",  # DOS and Windows (PE)
    b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe",  # Mach-O
    b"\xca\xfe\xba\xbe",  # Mach-O universal (and Java classes)
    b"\x00asm",  # WebAssembly
)
# Control characters other than tab, line feed, form feed, carriage return and ^Z (DOS's end of
# file); C1 controls never appear in text either.
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x19\x1b-\x1f\x7f-\x9f]")


def detect(content: bytes) -> FileType:
    """The type of ``content``, by its bytes only."""
    if not content:
        return FileType.EMPTY
    if content.startswith(b"%PDF-"):
        return FileType.PDF
    if content.startswith(b"\xff\xd8\xff"):
        return FileType.JPEG
    if content.startswith(_PNG):
        return FileType.PNG
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return FileType.WEBP
    if content.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_type(content)
    if content.startswith(_OLE):
        return _ole_type(content)
    text = _text(content)
    if text is not None:
        return FileType.SCRIPT if text.startswith("#!") else FileType.TEXT
    if content.startswith(_PROGRAMS):
        return FileType.PROGRAM
    return FileType.UNKNOWN


def _text(content: bytes) -> str | None:
    """``content`` as text, the way case files are read (UTF-8, else GB18030), when it is
    text at all."""
    if b"\x00" in content:
        return None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        return None if _CONTROL.search(text) else text
    return None


# The content types that name an OOXML package's main part.
_MAIN_PARTS = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml":
        ("word/", FileType.DOCX),
    "application/vnd.ms-word.document.macroenabled.main+xml": ("word/", FileType.DOCM),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml":
        ("xl/", FileType.XLSX),
    "application/vnd.ms-excel.sheet.macroenabled.main+xml": ("xl/", FileType.XLSM),
}
_MACROS = {FileType.DOCX: FileType.DOCM, FileType.XLSX: FileType.XLSM}
# [Content_Types].xml is a few kilobytes; a bigger one is not read (a decompression bomb).
_MAX_CONTENT_TYPES = 1 * MB


def _zip_type(content: bytes) -> FileType:
    """DOCX, XLSX (or their macro-enabled kin) when the ZIP is an OOXML package, else ZIP."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = archive.namelist()
            info = archive.getinfo("[Content_Types].xml")
            if info.file_size > _MAX_CONTENT_TYPES:
                return FileType.ZIP
            declared = archive.read(info).decode("utf-8", errors="replace").lower()
    except (KeyError, zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError,
            RuntimeError, OSError, ValueError, EOFError):
        # no [Content_Types].xml, a damaged archive, an encrypted member or unknown compression
        return FileType.ZIP
    macros = any(name.lower().endswith("vbaproject.bin") for name in names)
    for content_type, (folder, kind) in _MAIN_PARTS.items():
        if f'contenttype="{content_type}"' in declared and any(
                name.startswith(folder) for name in names):
            return _MACROS.get(kind, kind) if macros else kind
    return FileType.ZIP


_FREE, _END_OF_CHAIN = 0xFFFFFFFF, 0xFFFFFFFE
_MAX_SECTORS = 1 << 20  # a guard against loops in a damaged or hostile file


def _ole_type(content: bytes) -> FileType:
    """DOC or XLS by the compound file's stream names, else OLE."""
    names = _ole_names(content)
    if names is None:
        return FileType.OLE
    if "WordDocument" in names:
        return FileType.OLE if "Macros" in names else FileType.DOC
    if "Workbook" in names or "Book" in names:
        return FileType.XLS
    return FileType.OLE


def _ole_names(content: bytes) -> set[str] | None:
    """The names in a compound file's directory (MS-CFB), or None when it is damaged."""
    if len(content) < 512:
        return None
    try:
        shift = struct.unpack_from("<H", content, 0x1E)[0]
        if shift not in (9, 12):
            return None
        size = 1 << shift
        fat_count, first_directory = struct.unpack_from("<II", content, 0x2C)
        first_difat, difat_count = struct.unpack_from("<II", content, 0x44)

        def sector(number: int) -> bytes:
            start = (number + 1) * size
            if number >= _MAX_SECTORS or start + size > len(content):
                raise ValueError("sector outside the file")
            return content[start:start + size]

        per_sector = size // 4
        fat_sectors = [n for n in struct.unpack_from("<109I", content, 0x4C) if n != _FREE]
        next_difat, seen = first_difat, 0
        while next_difat not in (_FREE, _END_OF_CHAIN) and seen <= difat_count:
            entries = struct.unpack(f"<{per_sector}I", sector(next_difat))
            fat_sectors += [n for n in entries[:-1] if n != _FREE]
            next_difat, seen = entries[-1], seen + 1
        fat: list[int] = []
        for number in fat_sectors[:fat_count]:
            fat += struct.unpack(f"<{per_sector}I", sector(number))
        names: set[str] = set()
        current, visited = first_directory, 0
        while current != _END_OF_CHAIN:
            visited += 1
            if current >= len(fat) or visited > _MAX_SECTORS:
                return None
            block = sector(current)
            for offset in range(0, size, 128):
                length = struct.unpack_from("<H", block, offset + 0x40)[0]
                if block[offset + 0x42] in (1, 2, 5) and 2 <= length <= 64:
                    names.add(block[offset:offset + length - 2].decode("utf-16-le", "replace"))
            current = fat[current]
        return names
    except (struct.error, ValueError, IndexError):
        return None
