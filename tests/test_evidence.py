"""Evidence kept and viewable: every photo and document sent as evidence is fetched, kept in the
content-addressed store, listed by ``/case`` with a button that sends it again (to readers of
the case only), and checked by ``duban case verify``."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import build_application, build_deps
from bot.cli.main import main
from bot.core.buttons import ButtonCodec, ButtonError, SendEvidence
from bot.core.casefile import CaseInput
from bot.core.clock import ManualClock
from bot.core.evidence import EvidenceRef
from bot.core.i18n import DubanError, get_translator
from bot.core.org import Org
from bot.core.policy.catalog import Catalog
from bot.devtools.emulator import run_emulator
from bot.devtools.emulator.client import ChatMessage, EmUser
from bot.render import texts
from bot.services import access
from bot.services.dialogs import COULD_NOT_FETCH
from bot.services.evidence import ALTERED, EvidenceStore, Verdict
from bot.services.org import OrgService
from bot.settings import Settings, default_evidence_dir, load_settings
from handlers.delivery import Delivery
from models.db import session_factory
from tests.bot_harness import Bot
from tests.conftest import COORDINATOR as COORDINATOR_WHO
from tests.test_bot_app import (
    COORDINATION,
    COORDINATOR,
    ENV_LIAISON,
    ENVIRONMENT,
    OUTSIDER,
    bind_all,
    new_case,
)

ZH = get_translator("zh_CN")
EMULATOR_TOKEN = "515151:EVIDENCE-TEST"
UNBOUND = -1009  # a group chat bound to nothing
PHOTO = b"\xff\xd8\xff\xe0 site photo " + bytes(range(256)) * 8


async def _commission(bot: Bot) -> str:
    return (await bot.app.deps.org()).prefecture.commission


def _store(bot: Bot) -> EvidenceStore:
    return bot.app.deps.evidence


async def accepted_case(bot: Bot) -> str:
    """A clause (五) case accepted by the environment department; its step 限制生产 asks for
    evidence first."""
    await bind_all(bot)
    ref = await new_case(bot, "环保")  # the clause button, however it is spelt
    await bot.deliver()
    await bot.press(ENV_LIAISON, bot.last(ENVIRONMENT), "受理")
    await bot.deliver()
    return ref


async def restrict_with(bot: Bot, ref: str, send: Callable[[], dict[str, Any]]) -> None:
    """The environment liaison takes 限制生产 with the file ``send()`` makes as evidence
    (made after the press: an update older than the press is taken as a redelivery)."""
    view = await bot.app.deps.cases.get(ref)
    card = next(m for m in reversed(bot.fake.in_chat(ENVIRONMENT))
                if ref in m.text and m.buttons())
    assert view.case.id is not None
    await bot.press(ENV_LIAISON, card, "限制生产")
    await bot.feed(send())
    assert "期限是哪一天" in bot.last(ENVIRONMENT).text, bot.last(ENVIRONMENT).text
    await bot.say(ENV_LIAISON, ENVIRONMENT, "2026-09-30")
    await bot.press(ENV_LIAISON, bot.last(ENVIRONMENT), "确认")
    assert "已记录" in bot.last(ENVIRONMENT).text


def verify(database_url: str, evidence: Path, ref: str) -> Result:
    """``duban case verify REF`` (in a thread: the command runs its own event loop)."""
    return CliRunner().invoke(
        main, ["--database", database_url, "--lang", "en", "case", "verify", ref],
        env={"DUBAN_EVIDENCE_DIR": str(evidence), "DUBAN_CONFIG": None, "DUBAN_LOCALE": None},
        catch_exceptions=False)


async def test_a_photo_is_kept_listed_sent_again_and_verified(bot: Bot, database_url: str,
                                                               tmp_path: Path) -> None:
    ref = await accepted_case(bot)
    bot.fake.files["photo-7"] = PHOTO
    await restrict_with(bot, ref, lambda: bot.users.photo(ENV_LIAISON, ENVIRONMENT, "photo-7"))

    # Kept under its SHA-256 before it was accepted; the event's reference has the hash.
    sha = hashlib.sha256(PHOTO).hexdigest()
    kept = tmp_path / "evidence" / sha[:2] / sha
    assert kept.read_bytes() == PHOTO
    view = await bot.app.deps.cases.get(ref)
    recorded = view.events[-1].payload["evidence"]
    assert len(recorded) == 1
    parsed = EvidenceRef.parse(recorded[0])
    assert (parsed.kind, parsed.unique_id, parsed.file_id) == ("photo", "photo-7u", "photo-7")
    assert (parsed.sha256, parsed.size) == (sha, len(PHOTO))
    assert recorded[0] == f"photo:photo-7u:photo-7::{sha}:{len(PHOTO)}"
    assert texts.evidence_label(recorded[0], ZH) == ZH.gettext("photo")

    # /case lists the evidence (who, when to the minute, the file) with a button.
    await bot.say(COORDINATOR, COORDINATION, f"/case {ref}")
    shown = bot.last(COORDINATION)
    assert ref in shown.text
    line = next(x for x in shown.text.splitlines() if x.startswith("📎1."))
    assert "环保联络员" in line and "10:00" in line and ZH.gettext("photo") in line
    assert sha not in shown.text and "photo-7" not in shown.text, "no ids or hashes shown"
    assert [label for label, _ in shown.buttons()] == [f"📎1 {ZH.gettext('photo')}"]

    # Pressing it sends the file again, from the store, to the chat.
    await bot.press(COORDINATOR, shown, "📎1")
    assert bot.fake.uploads[-1][:2] == ("sendPhoto", COORDINATION)
    assert bot.fake.uploads[-1][3] == PHOTO
    assert ref in bot.last(COORDINATION).text  # the caption names the case

    # In a chat bound to nothing, an outsider may not press the coordinator's button.
    uploads = len(bot.fake.uploads)
    await bot.say(COORDINATOR, UNBOUND, f"/case {ref}")
    here = bot.last(UNBOUND)
    alert = await bot.press(OUTSIDER, here, "📎1")
    assert alert["show_alert"]
    assert alert["text"] == DubanError(access.NOT_VISIBLE,
                                       commission=await _commission(bot)).render(ZH)
    assert len(bot.fake.uploads) == uploads
    # … nor ask for the case there.
    await bot.say(OUTSIDER, UNBOUND, f"/case {ref}")
    assert bot.last(UNBOUND).text == alert["text"]

    # duban case verify: passes, then fails once the stored file is altered.
    passed = await asyncio.to_thread(verify, database_url, tmp_path / "evidence", ref)
    assert passed.exit_code == 0, passed.output
    assert "✓ 1. photo: kept, SHA-256 matches" in passed.output
    kept.chmod(0o644)
    kept.write_bytes(PHOTO + b"tampered")
    failed = await asyncio.to_thread(verify, database_url, tmp_path / "evidence", ref)
    assert failed.exit_code == 1, failed.output
    assert "✗ 1. photo: altered" in failed.output
    # An altered file is never sent as evidence.
    alert = await bot.press(COORDINATOR, shown, "📎1")
    assert alert["show_alert"]
    assert alert["text"] == DubanError(ALTERED, name=ZH.gettext("photo")).render(ZH)
    assert len(bot.fake.uploads) == uploads
    kept.unlink()
    missing = await asyncio.to_thread(verify, database_url, tmp_path / "evidence", ref)
    assert missing.exit_code == 1 and "✗ 1. photo: missing" in missing.output


async def test_a_document_keeps_its_name_and_comes_back_as_a_document(bot: Bot) -> None:
    ref = await accepted_case(bot)
    content = b"%PDF-1.7 rectification order"
    bot.fake.files["order-3"] = content
    await restrict_with(bot, ref, lambda: bot.users.document(
        ENV_LIAISON, ENVIRONMENT, "order-3", "整改通知:第2版.pdf", "application/pdf"))
    view = await bot.app.deps.cases.get(ref)
    recorded = view.events[-1].payload["evidence"][0]
    assert texts.evidence_label(recorded, ZH) == "整改通知:第2版.pdf"  # a colon in the name
    assert EvidenceRef.parse(recorded).sha256 == hashlib.sha256(content).hexdigest()

    # The environment liaison reads the case in their own chat, and gets the file again.
    await bot.say(ENV_LIAISON, ENVIRONMENT, f"/case {ref}")
    shown = bot.last(ENVIRONMENT)
    assert "整改通知:第2版.pdf" in shown.text
    await bot.press(ENV_LIAISON, shown, "📎1")
    method, chat, name, sent = bot.fake.uploads[-1]
    assert (method, chat, name, sent) == ("sendDocument", ENVIRONMENT, "整改通知:第2版.pdf",
                                          content)


async def test_a_file_that_cannot_be_fetched_changes_nothing(bot: Bot, tmp_path: Path) -> None:
    ref = await accepted_case(bot)
    card = next(m for m in reversed(bot.fake.in_chat(ENVIRONMENT)) if m.buttons())
    await bot.press(ENV_LIAISON, card, "限制生产")
    bot.fake.unavailable.add("lost-1")
    await bot.feed(bot.users.document(ENV_LIAISON, ENVIRONMENT, "lost-1", "报告.pdf",
                                      "application/pdf"))
    asked = bot.last(ENVIRONMENT).text
    assert ZH.gettext(COULD_NOT_FETCH) in asked
    assert "证明材料" in asked  # the same question again
    assert not (tmp_path / "evidence").exists() or not any((tmp_path / "evidence").iterdir())
    view = await bot.app.deps.cases.get(ref)
    assert all("evidence" not in e.payload for e in view.events)
    # Sent again (and fetchable), it is taken.
    await bot.feed(bot.users.document(ENV_LIAISON, ENVIRONMENT, "found-1", "报告.pdf",
                                      "application/pdf"))
    assert "期限是哪一天" in bot.last(ENVIRONMENT).text


async def test_a_file_refused_for_its_type_is_not_fetched(bot: Bot) -> None:
    ref = await accepted_case(bot)
    card = next(m for m in reversed(bot.fake.in_chat(ENVIRONMENT)) if ref in m.text
                and m.buttons())
    await bot.press(ENV_LIAISON, card, "限制生产")
    await bot.feed(bot.users.document(ENV_LIAISON, ENVIRONMENT, "exe-9", "virus.exe",
                                      "application/x-msdownload"))
    assert not bot.fake.called("getFile")


async def test_a_photo_outside_a_question_is_not_fetched(bot: Bot) -> None:
    await bind_all(bot)
    await bot.feed(bot.users.photo(ENV_LIAISON, ENVIRONMENT, "photo-x"))
    assert not bot.fake.called("getFile")


# -- the pieces -----------------------------------------------------------------------------------


def test_references_of_every_age_parse_and_read_as_names() -> None:
    sha = "ab" * 32
    new = EvidenceRef("document", "u1", "f1", "a:b.pdf", sha, 12)
    assert EvidenceRef.parse(new.ref()) == new
    assert EvidenceRef.parse("photo:u2:f2:") == EvidenceRef("photo", "u2", "f2")
    assert EvidenceRef.parse("document:u3:f3:整改.pdf").name == "整改.pdf"
    assert EvidenceRef.parse("document:u3:f3:整改.pdf").sha256 is None
    assert EvidenceRef.parse("photo:验收现场.jpg") == EvidenceRef("photo")  # the sandbox's
    assert EvidenceRef.parse("整改通知.pdf").stored is False  # duban case step --evidence
    for ref, label in ((new.ref(), "a:b.pdf"), ("photo:u:f:", "photo"),
                       ("document:u:f:x.pdf", "x.pdf"), ("photo:验收现场.jpg", "photo"),
                       (f"photo:u:f::{sha}:3", "photo")):
        assert texts.evidence_label(ref, get_translator("en")) == label


def test_the_store_is_content_addressed_checked_and_safe(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "ev")
    first = store.put(b"hello")
    assert first.sha256 == hashlib.sha256(b"hello").hexdigest() and first.size == 5
    path = tmp_path / "ev" / first.sha256[:2] / first.sha256
    assert path.read_bytes() == b"hello"
    assert store.put(b"hello") == first  # kept once
    assert store.read(first.sha256) == b"hello"
    assert store.check(first.sha256) is Verdict.OK
    path.chmod(0o644)
    path.write_bytes(b"hellO")
    assert store.check(first.sha256) is Verdict.ALTERED
    with pytest.raises(DubanError):
        store.read(first.sha256)
    store.put(b"hello")  # the same content again repairs it
    assert store.check(first.sha256) is Verdict.OK
    assert store.check("cd" * 32) is Verdict.MISSING
    with pytest.raises(ValueError):
        store.path_for("../../etc/passwd")


def test_the_evidence_folder_defaults_to_beside_the_database(tmp_path: Path) -> None:
    assert default_evidence_dir(f"sqlite+aiosqlite:///{tmp_path}/x/duban.db") == (
        tmp_path / "x" / "evidence")
    assert default_evidence_dir("sqlite:///duban.db") == Path("evidence")
    assert default_evidence_dir("postgresql://u:p@db/duban") == Path("evidence")
    assert Settings().evidence_path == Path("evidence")
    chosen = load_settings({"DUBAN_EVIDENCE_DIR": str(tmp_path / "kept")}, cwd=tmp_path)
    assert chosen.evidence_path == tmp_path / "kept"
    assert load_settings({"DUBAN_EVIDENCE_DIR": ""}, cwd=tmp_path).evidence_dir is None


def test_an_evidence_button_names_a_case_and_a_number_from_one() -> None:
    codec = ButtonCodec.from_token("1:T")
    data = codec.pack(5, SendEvidence(3, 2))
    assert codec.unpack(5, data) == SendEvidence(3, 2)
    zero = codec.sign(5, "d2:e:3:0")
    with pytest.raises(ButtonError):
        codec.unpack(5, zero)


# -- over HTTP: the Bot API emulator's getFile and file downloads ---------------------------------


async def test_over_the_emulator_a_photo_is_fetched_kept_and_sent_again(
        engine: AsyncEngine, clock: ManualClock, catalog: Catalog, demo_org: Org,
        tmp_path: Path) -> None:
    """The real HTTP path: python-telegram-bot's getFile and download against the emulator,
    and the file sent again arriving byte for byte."""
    picture = b"\xff\xd8\xff\xc0\x00\x11\x08\x02\xd0\x05\x00" + bytes(range(256)) * 4
    async with run_emulator(EMULATOR_TOKEN) as emulator:
        client = emulator.client
        coordinator = await client.create_user("王玮中", id=COORDINATOR[0])
        liaison = await client.create_user("环保联络员", id=ENV_LIAISON[0])
        group = await client.create_group("环保群", [coordinator, liaison],
                                          chat_type="supergroup")
        await OrgService(session_factory(engine)).load(demo_org)
        settings = Settings(telegram_bot_token=EMULATOR_TOKEN,
                            telegram_api_base_url=emulator.base_url,
                            evidence_dir=tmp_path / "kept")
        deps = build_deps(settings, engine, clock, catalog)
        app = build_application(settings, deps)
        await app.initialize()
        await deps.chats.bootstrap_coordinators()
        offset = 0

        async def pump() -> None:
            nonlocal offset
            for update in await app.bot.get_updates(offset=offset, timeout=0):
                offset = update.update_id + 1
                await app.process_update(update)

        async def last_from_bot() -> ChatMessage:
            return [m for m in await client.messages(group) if m.from_bot][-1]

        async def press(user: EmUser, message: ChatMessage, label: str) -> None:
            button = next(b for b in message.buttons if label in b["text"])
            await client.press_nowait(user, group, message.message_id,
                                      data=button["callback_data"])
            await pump()

        try:
            await client.send_text(coordinator, group, "/bind 环保局")
            await pump()
            await deps.cases.create_case(CaseInput(
                ref="EM-1", region="玛纳斯县", enterprise="玛纳斯县模拟水泥有限公司",
                industry="cement", clauses=("五",), capacity=Decimal(60), unit="万吨/年",
                equipment=None, registered_on=date(2026, 5, 1), description="测试", row=1),
                COORDINATOR_WHO)
            await Delivery(app).deliver_due()
            card = await last_from_bot()
            await press(liaison, card, "受理")
            await Delivery(app).deliver_due()  # the card, edited in place
            await press(liaison, await client.message(group, card.message_id), "限制生产")
            sent = await client.send_photo(liaison, group, picture)
            await pump()
            assert "期限是哪一天" in (await last_from_bot()).body
            await client.send_text(liaison, group, "2026-09-30")
            await pump()
            await press(liaison, await last_from_bot(), "确认")

            sha = hashlib.sha256(picture).hexdigest()
            assert (tmp_path / "kept" / sha[:2] / sha).read_bytes() == picture
            view = await deps.cases.get("EM-1")
            ref = EvidenceRef.parse(view.events[-1].payload["evidence"][0])
            assert (ref.sha256, ref.size, ref.file_id) == (sha, len(picture),
                                                          sent.files[-1].file_id)

            await client.send_text(coordinator, group, "/case EM-1")
            await pump()
            await press(coordinator, await last_from_bot(), "📎1")
            again = await last_from_bot()
            assert again.files and "EM-1" in again.body
            assert await client.download(again.files[-1]) == picture
        finally:
            await app.shutdown()


async def test_evidence_sent_while_registering_a_case_is_on_its_record(bot: Bot) -> None:
    private = COORDINATOR[0]
    bot.fake.files["photo-reg"] = PHOTO
    await bot.say(COORDINATOR, private, "/newcase")
    await bot.say(COORDINATOR, private, "玛纳斯")
    await bot.say(COORDINATOR, private, "玛纳斯县登记取证水泥厂")
    await bot.press(COORDINATOR, bot.last(private), "水泥")
    await bot.press(COORDINATOR, bot.last(private), "（四）")
    await bot.say(COORDINATOR, private, "60 万吨/年")
    await bot.say(COORDINATOR, private, "熟料能耗超标")
    await bot.feed(bot.users.photo(COORDINATOR, private, "photo-reg"))
    await bot.press(COORDINATOR, bot.last(private), "确认")
    ref = bot.last(private).text.split()[1]
    view = await bot.app.deps.cases.get(ref)
    recorded = view.events[0].payload["evidence"][0]
    assert EvidenceRef.parse(recorded).sha256 == hashlib.sha256(PHOTO).hexdigest()
    await bot.say(COORDINATOR, private, f"/case {ref}")
    await bot.press(COORDINATOR, bot.last(private), "📎1")
    assert bot.fake.uploads[-1][3] == PHOTO
