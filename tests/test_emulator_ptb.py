"""Real python-telegram-bot round trips against the emulator over HTTP."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, RetryAfter
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.devtools.emulator import EmulatorClient, RunningEmulator, run_emulator

TOKEN = "777000:PTB-round-trip"
BOT_NAME = "duban_emulator_bot"


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with run_emulator(TOKEN, webhook_retry_delay=0.01) as running:
        yield running


@pytest.fixture
async def bot(emulator: RunningEmulator) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=emulator.bot_base_url,
                   base_file_url=emulator.bot_base_file_url) as real_bot:
        yield real_bot


async def menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("确认", callback_data="v1:ack:7")]])
    await context.bot.send_message(update.effective_chat.id, "案件 7", reply_markup=keyboard)


async def acknowledge(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data == "v1:ack:7"
    await query.answer("已确认 7", show_alert=True)
    await query.edit_message_text("案件 7 ✅ 已确认")


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(f"welcome {' '.join(context.args or [])}".strip())


async def receive_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None and message.document is not None
    file = await context.bot.get_file(message.document.file_id)
    data = await file.download_as_bytearray()
    await message.reply_text(f"{message.document.file_name} {hashlib.sha256(data).hexdigest()}")


async def receive_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None and message.photo
    biggest = message.photo[-1]
    data = await (await context.bot.get_file(biggest.file_id)).download_as_bytearray()
    await message.reply_text(f"{biggest.width}x{biggest.height} {len(data)}")


@pytest.fixture
async def application(emulator: RunningEmulator) -> AsyncIterator[Application[Any, Any, Any,
                                                                              Any, Any, Any]]:
    """The real Application, long polling the emulator."""
    app = (
        Application.builder().token(TOKEN).base_url(emulator.bot_base_url)
        .base_file_url(emulator.bot_base_file_url).build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("menu", menu))
    app.add_handler(CallbackQueryHandler(acknowledge, pattern=r"^v1:ack:"))
    app.add_handler(MessageHandler(filters.Document.ALL, receive_document))
    app.add_handler(MessageHandler(filters.PHOTO, receive_photo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=10)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


async def person(client: EmulatorClient, name: str = "Liu") -> tuple[Any, Any]:
    user = await client.create_user(name, username=name.lower(), language_code="zh")
    chat = await client.private_chat(user)
    return user, chat


def from_bot(text: str) -> Any:
    return lambda message: message.from_bot and message.text == text


async def test_button_press_gets_alert_and_message_is_edited_in_place(
    emulator: RunningEmulator, application: Any,
) -> None:
    client = emulator.client
    user, chat = await person(client)
    await client.send_text(user, chat, "/menu")
    card = await client.wait_for_message(chat, from_bot("案件 7"))
    assert card.buttons == [{"text": "确认", "callback_data": "v1:ack:7"}]
    answer = await client.press(user, chat, card.message_id, text="确认")
    assert answer is not None and answer.text == "已确认 7" and answer.show_alert
    edited = await client.wait_for_message(chat, from_bot("案件 7 ✅ 已确认"))
    assert edited.message_id == card.message_id
    assert [e["text"] for e in edited.edits] == ["案件 7"] and edited.reply_markup is None
    assert [a.text for a in await client.alerts(user)] == ["已确认 7"]


async def test_start_with_and_without_the_bot_name(emulator: RunningEmulator,
                                                  application: Any) -> None:
    client = emulator.client
    user, chat = await person(client)
    group = await client.create_group("玛纳斯县", [user])
    await client.send_text(user, chat, "/start")
    await client.wait_for_message(chat, from_bot("welcome"))
    await client.send_text(user, group, f"/start@{BOT_NAME} 工信")
    reply = await client.wait_for_message(group, from_bot("welcome 工信"))
    assert reply.reply_to_message_id is not None
    await client.send_text(user, group, "/start@some_other_bot")
    await client.send_text(user, group, "/start last")
    await client.wait_for_message(group, from_bot("welcome last"))
    assert [m.text for m in await client.messages(group) if m.from_bot] == [
        "welcome 工信", "welcome last"]


async def test_bot_downloads_a_document_and_a_photo(emulator: RunningEmulator,
                                                   application: Any) -> None:
    client = emulator.client
    user, chat = await person(client)
    data = b"%PDF-1.7 " + bytes(range(256)) * 40
    await client.send_document(user, chat, data, "整改报告.pdf", "application/pdf")
    expected = f"整改报告.pdf {hashlib.sha256(data).hexdigest()}"
    await client.wait_for_message(chat, from_bot(expected))
    picture = b"\xff\xd8\xff\xc0\x00\x11\x08\x02\xd0\x05\x00" + b"\x00" * 100
    await client.send_photo(user, chat, picture)
    await client.wait_for_message(chat, from_bot(f"1280x720 {len(picture)}"))


async def test_bot_get_file_directly(emulator: RunningEmulator, bot: Bot) -> None:
    client = emulator.client
    user, chat = await person(client)
    sent = await client.send_document(user, chat, b"hello", "a.txt", "text/plain")
    file = await bot.get_file(sent.files[0].file_id)
    assert await file.download_as_bytearray() == bytearray(b"hello")
    updates = await bot.get_updates()
    assert updates[0].message is not None and updates[0].message.document is not None
    assert updates[0].message.document.file_id == sent.files[0].file_id


async def test_bot_sends_files(emulator: RunningEmulator, bot: Bot) -> None:
    client = emulator.client
    user, chat = await person(client)
    await client.send_text(user, chat, "hi")
    document = await bot.send_document(chat.id, b"a,b\n", filename="名单.csv",
                                       caption="<b>通报</b>", parse_mode="HTML")
    assert document.document is not None and document.document.file_name == "名单.csv"
    assert document.caption == "通报"
    with pytest.raises(BadRequest, match=r"(?i)can't use file of type Document as Photo"):
        await bot.send_photo(chat.id, document.document.file_id)
    picture = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00\x00\x00\x00\x80" + bytes(8)
    photo = await bot.send_photo(chat.id, picture, caption="现场")
    assert [(p.width, p.height) for p in photo.photo] == [(90, 45), (256, 128)]
    stored = await client.wait_for_message(chat, lambda m: m.from_bot and bool(m.files))
    assert stored.message_id == document.message_id
    assert stored.caption == "<b>通报</b>" and await client.download(stored.files[0]) == b"a,b\n"


async def test_commands_per_language(emulator: RunningEmulator, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("status", "进度")], language_code="zh")
    await bot.set_my_commands([BotCommand("status", "Progress")], language_code="en")
    zh = await bot.get_my_commands(language_code="zh")
    assert [(c.command, c.description) for c in zh] == [("status", "进度")]
    assert await emulator.client.bot_commands(language_code="en") == [
        {"command": "status", "description": "Progress"}]
    assert await bot.get_my_commands() == ()


@pytest.mark.filterwarnings("ignore:.*retry_after.*")  # PTB's own notice about its int/timedelta
async def test_retry_after_and_refusals_surface_as_ptb_errors(emulator: RunningEmulator,
                                                              bot: Bot) -> None:
    client = emulator.client
    user, chat = await person(client)
    with pytest.raises(Forbidden, match=r"(?i)can't initiate conversation"):
        await bot.send_message(chat.id, "first")
    await client.send_text(user, chat, "hello")
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(chat.id, "x", reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton("x", callback_data="d" * 65)]]))
    await bot.send_message(chat.id, "x", reply_markup=InlineKeyboardMarkup(
        [[InlineKeyboardButton("x", callback_data="d" * 64)]]))
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(chat.id, "长" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(-42, "x")
    await client.set_rate_limit(per_chat_per_minute=1)
    await bot.send_message(chat.id, "allowed")
    with pytest.raises(RetryAfter, match=r"Retry in (60|[1-5]?[0-9])(\.0)? seconds"):
        await bot.send_message(chat.id, "too soon")


async def test_webhook_mode_posts_updates_with_the_secret(emulator: RunningEmulator,
                                                          bot: Bot) -> None:
    client = emulator.client
    received: asyncio.Queue[tuple[str | None, Update]] = asyncio.Queue()

    async def hook(request: web.Request) -> web.Response:
        update = Update.de_json(await request.json(), bot)
        await received.put((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), update))
        return web.Response()

    app = web.Application()
    app.router.add_post("/telegram", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        assert await bot.set_webhook(f"http://{host}:{port}/telegram", secret_token="s-3cret")
        info = await bot.get_webhook_info()
        assert info.url.endswith("/telegram")
        with pytest.raises(Conflict):
            await bot.get_updates()
        user, chat = await person(client)
        await client.send_text(user, chat, "/status")
        secret, update = await asyncio.wait_for(received.get(), timeout=5)
        assert secret == "s-3cret"
        assert update.message is not None and update.message.text == "/status"
        assert await bot.delete_webhook()
    finally:
        await runner.cleanup()


async def test_group_membership_updates_parse(emulator: RunningEmulator, bot: Bot) -> None:
    client = emulator.client
    owner = await client.create_user("Zhao")
    group = await client.create_group("协调组", [owner], bot_status="left")
    await client.add_bot_to_group(group, by=owner, admin=True)
    updates = await bot.get_updates(allowed_updates=Update.ALL_TYPES)
    joined = updates[0].message
    assert joined is not None and joined.new_chat_members[0].id == bot.id
    change = updates[1].my_chat_member
    assert change is not None and change.new_chat_member.status == "administrator"
    member = await bot.get_chat_member(group.id, owner.id)
    assert member.status == "creator"
    chat = await bot.get_chat(group.id)
    assert chat.title == "协调组"
    assert await bot.send_chat_action(group.id, "typing")
    assert await bot.leave_chat(group.id)
    updates = await bot.get_updates(offset=updates[-1].update_id + 1)
    assert updates[-1].my_chat_member is not None
    assert updates[-1].my_chat_member.new_chat_member.status == "left"


async def test_process_update_on_fetched_updates(emulator: RunningEmulator) -> None:
    """The other way to drive the Application: fetch with get_updates, call process_update."""
    client = emulator.client
    app = (Application.builder().token(TOKEN).base_url(emulator.bot_base_url)
           .base_file_url(emulator.bot_base_file_url).updater(None).build())
    app.add_handler(CommandHandler("start", start))
    user, chat = await person(client)
    async with app:
        await client.send_text(user, chat, "/start 督办")
        for update in await app.bot.get_updates(timeout=5):
            await app.process_update(update)
    assert (await client.wait_for_message(chat)).text == "welcome 督办"
