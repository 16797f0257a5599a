"""The Bot API emulator over real HTTP: control API and Bot API together, without PTB."""

from __future__ import annotations

import asyncio
import json
import struct
import sys
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.devtools.emulator import EmulatorClient, EmulatorError, RunningEmulator, run_emulator
from bot.devtools.emulator.state import (
    detect_entities,
    image_size,
    parse_html,
    parse_markdown_v2,
    validate_reply_markup,
)

TOKEN = "424242:TEST-token_abc"


def png(width: int, height: int) -> bytes:
    """A minimal valid PNG header of the given size (enough for size detection)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
            + struct.pack(">I", zlib.crc32(chunk)))


class Api:
    """A bare Bot API caller: JSON bodies by default, or form / multipart like PTB."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession, token: str = TOKEN):
        self.url = f"{base_url}/bot{token}"
        self.session = session

    async def raw(self, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
        async with self.session.post(f"{self.url}/{method}", json=params) as reply:
            return reply.status, await reply.json()

    async def form(self, method: str, data: Any) -> tuple[int, dict[str, Any]]:
        async with self.session.post(f"{self.url}/{method}", data=data) as reply:
            return reply.status, await reply.json()

    async def call(self, method: str, **params: Any) -> Any:
        status, body = await self.raw(method, **params)
        assert status == 200 and body["ok"], body
        return body["result"]

    async def error(self, method: str, **params: Any) -> tuple[int, str]:
        status, body = await self.raw(method, **params)
        assert not body["ok"] and body["error_code"] == status, body
        return status, body["description"]


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with run_emulator(TOKEN, webhook_retry_delay=0.01, webhook_attempts=3) as running:
        yield running


@pytest.fixture
async def api(emulator: RunningEmulator) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(emulator.base_url, session)


@pytest.fixture
def client(emulator: RunningEmulator) -> EmulatorClient:
    return emulator.client


async def started_chat(client: EmulatorClient, name: str = "Ann") -> tuple[Any, Any]:
    user = await client.create_user(name, username=name.lower(), language_code="zh")
    chat = await client.private_chat(user, started=True)
    return user, chat


# --------------------------------------------------------------------------- pure parts


def test_html_is_rendered_to_plain_text_and_entities() -> None:
    plain, entities = parse_html('<b>督办</b> &amp; <a href="https://x.org">link</a>')
    assert plain == "督办 & link"
    assert entities == [{"type": "bold", "offset": 0, "length": 2},
                        {"type": "text_link", "url": "https://x.org", "offset": 5, "length": 4}]


@pytest.mark.parametrize("bad", ["<br>", "<b>open", "<b><i>x</b></i>", "<div>x</div>"])
def test_html_that_telegram_refuses_is_refused(bad: str) -> None:
    with pytest.raises(Exception, match="can't parse entities"):
        parse_html(bad)


def test_markdown_v2_needs_escapes() -> None:
    assert parse_markdown_v2(r"*bold* done\.")[0] == "bold done."
    with pytest.raises(Exception, match="reserved"):
        parse_markdown_v2("done.")


def test_entities_count_utf16_units() -> None:
    assert parse_html("😀<b>x</b>")[1] == [{"type": "bold", "offset": 2, "length": 1}]


def test_command_entities() -> None:
    assert detect_entities("/start@duban_bot 玛纳斯县") == [
        {"type": "bot_command", "offset": 0, "length": 16}]
    assert detect_entities("no /command here")[0]["offset"] == 3
    assert detect_entities("a/b") == []


def test_callback_data_is_limited_to_64_bytes() -> None:
    def markup(data: str) -> dict[str, Any]:
        return {"inline_keyboard": [[{"text": "x", "callback_data": data}]]}

    validate_reply_markup(markup("督" * 21))
    with pytest.raises(Exception, match="BUTTON_DATA_INVALID"):
        validate_reply_markup(markup("督" * 22))


def test_image_size_of_png() -> None:
    assert image_size(png(640, 480)) == (640, 480)
    assert image_size(b"not an image") == (0, 0)


# --------------------------------------------------------------------------- Bot API basics


async def test_get_me_wrong_token_and_unknown_method(emulator: RunningEmulator,
                                                     api: Api) -> None:
    me = await api.call("getMe")
    assert me["id"] == 424242 and me["is_bot"] is True
    assert (await api.error("noSuchMethod"))[0] == 404
    wrong = Api(emulator.base_url, api.session, token="1:wrong")
    status, body = await wrong.raw("getMe")
    assert status == 401 and body == {"ok": False, "error_code": 401,
                                      "description": "Unauthorized"}


async def test_get_accepts_query_parameters(emulator: RunningEmulator, api: Api) -> None:
    async with api.session.get(f"{api.url}/getMe") as reply:
        assert (await reply.json())["result"]["username"] == "duban_emulator_bot"


async def test_user_message_becomes_an_update_with_a_command_entity(
    client: EmulatorClient, api: Api,
) -> None:
    user, chat = await started_chat(client)
    await client.send_text(user, chat, "/start@duban_emulator_bot now")
    updates = await api.call("getUpdates")
    message = updates[0]["message"]
    assert message["text"] == "/start@duban_emulator_bot now"
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 25}]
    assert message["chat"] == {"id": user.id, "type": "private", "first_name": "Ann",
                               "username": "ann"}
    assert message["from"]["language_code"] == "zh" and isinstance(message["date"], int)


async def test_long_poll_returns_as_soon_as_an_update_arrives(
    client: EmulatorClient, api: Api,
) -> None:
    user, chat = await started_chat(client)
    seq, _ = await client.events(since=1 << 62)
    poll = asyncio.create_task(api.call("getUpdates", timeout=30))
    await client.wait_for_event("polling", since=seq)
    await client.send_text(user, chat, "hello")
    updates = await asyncio.wait_for(poll, timeout=5)
    assert [u["message"]["text"] for u in updates] == ["hello"]
    # Not confirmed yet: fetched again; then confirmed by offset.
    assert len(await api.call("getUpdates")) == 1
    assert await api.call("getUpdates", offset=updates[0]["update_id"] + 1) == []
    log = await client.updates()
    assert log[0]["delivered"] is True


async def test_a_newer_get_updates_ends_the_older_one(client: EmulatorClient,
                                                      api: Api) -> None:
    first = asyncio.create_task(api.raw("getUpdates", timeout=30))
    await client.wait_for_event("polling")
    assert await api.call("getUpdates") == []
    status, body = await asyncio.wait_for(first, timeout=5)
    assert status == 409
    assert body["description"] == ("Conflict: terminated by other getUpdates request; make "
                                   "sure that only one bot instance is running")


async def test_allowed_updates_filters_new_updates(client: EmulatorClient, api: Api) -> None:
    user, chat = await started_chat(client)
    await api.call("getUpdates", allowed_updates=["callback_query"])
    await client.send_text(user, chat, "ignored")
    assert await api.call("getUpdates") == []
    assert (await client.updates())[-1]["dropped"] is True


async def test_bot_cannot_write_first_in_private(client: EmulatorClient, api: Api) -> None:
    user = await client.create_user("Bo")
    status, description = await api.error("sendMessage", chat_id=user.id, text="hi")
    assert (status, description) == (403, "Forbidden: bot can't initiate conversation with a user")
    chat = await client.private_chat(user)
    assert (await api.error("sendMessage", chat_id=chat.id, text="hi"))[0] == 403
    await client.send_text(user, chat, "anything")
    assert (await api.call("sendMessage", chat_id=chat.id, text="hi"))["text"] == "hi"
    await client.block_bot(user)
    assert await api.error("sendMessage", chat_id=chat.id, text="hi") == (
        403, "Forbidden: bot was blocked by the user")


async def test_unknown_chat(api: Api) -> None:
    assert await api.error("sendMessage", chat_id=-99, text="x") == (
        400, "Bad Request: chat not found")
    assert (await api.error("sendMessage", text="x"))[1] == "Bad Request: chat_id is empty"


# --------------------------------------------------------------------------- sending


async def test_send_message_validates_like_telegram(client: EmulatorClient, api: Api) -> None:
    _, chat = await started_chat(client)

    async def refused(**params: Any) -> str:
        status, description = await api.error("sendMessage", chat_id=chat.id, **params)
        assert status == 400
        return description

    assert await refused(text="") == "Bad Request: message text is empty"
    assert await refused(text="x" * 4097) == "Bad Request: message is too long"
    assert (await api.call("sendMessage", chat_id=chat.id, text="x" * 4096))["text"]
    long_html = "<b>" + "x" * 4096 + "</b>"
    assert (await api.call("sendMessage", chat_id=chat.id, text=long_html,
                           parse_mode="HTML"))["entities"][0]["length"] == 4096
    assert "can't parse entities" in await refused(text="a<br>b", parse_mode="HTML")
    assert "reserved" in await refused(text="1.5", parse_mode="MarkdownV2")
    assert await refused(text="x", parse_mode="BBCode") == "Bad Request: unsupported parse_mode"
    keyboard = {"inline_keyboard": [[{"text": "x", "callback_data": "d" * 65}]]}
    assert await refused(text="x", reply_markup=keyboard) == "Bad Request: BUTTON_DATA_INVALID"
    assert await refused(text="x", reply_to_message_id=999) == (
        "Bad Request: message to be replied not found")


async def test_form_encoded_parameters_as_ptb_sends_them(client: EmulatorClient,
                                                        api: Api) -> None:
    _, chat = await started_chat(client)
    markup = {"inline_keyboard": [[{"text": "确认", "callback_data": "v1:ack:7"}]]}
    status, body = await api.form("sendMessage", {
        "chat_id": str(chat.id), "text": "<i>案件</i>", "parse_mode": "HTML",
        "reply_markup": json.dumps(markup),
        "reply_parameters": json.dumps({"message_id": 1, "allow_sending_without_reply": True}),
    })
    assert status == 200, body
    assert body["result"]["reply_markup"] == markup
    stored = (await client.messages(chat))[-1]
    assert stored.text == "<i>案件</i>" and stored.plain_text == "案件"
    assert stored.parse_mode == "HTML" and stored.from_bot


async def test_reply_to_message_is_embedded(client: EmulatorClient, api: Api) -> None:
    user, chat = await started_chat(client)
    asked = await client.send_text(user, chat, "question")
    sent = await api.call("sendMessage", chat_id=chat.id, text="answer",
                          reply_parameters={"message_id": asked.message_id})
    assert sent["reply_to_message"]["text"] == "question"
    answer = await client.send_text(user, chat, "thanks", reply_to=sent["message_id"])
    update = (await api.call("getUpdates"))[-1]
    assert update["message"]["reply_to_message"]["message_id"] == answer.reply_to_message_id


async def test_edit_delete_and_history(client: EmulatorClient, api: Api) -> None:
    _, chat = await started_chat(client)
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    sent = await api.call("sendMessage", chat_id=chat.id, text="v1", reply_markup=markup)
    edited = await api.call("editMessageText", chat_id=chat.id,
                            message_id=sent["message_id"], text="v2", reply_markup=markup)
    assert edited["text"] == "v2" and "edit_date" in edited
    assert await api.error("editMessageText", chat_id=chat.id, message_id=sent["message_id"],
                           text="v2", reply_markup=markup) == (
        400, "Bad Request: message is not modified: specified new message content and reply "
             "markup are exactly the same as a current content and reply markup of the message")
    await api.call("editMessageReplyMarkup", chat_id=chat.id, message_id=sent["message_id"])
    message = await client.message(chat, sent["message_id"])
    assert message.text == "v2" and message.reply_markup is None
    assert [e["text"] for e in message.edits] == ["v1", "v2"]
    assert await api.error("editMessageText", chat_id=chat.id, message_id=99, text="x") == (
        400, "Bad Request: message to edit not found")
    assert await api.call("deleteMessage", chat_id=chat.id, message_id=sent["message_id"])
    assert await api.error("deleteMessage", chat_id=chat.id, message_id=sent["message_id"]) == (
        400, "Bad Request: message to delete not found")
    assert await client.messages(chat) == []
    assert (await client.messages(chat, include_deleted=True))[0].deleted


async def test_files_upload_get_file_and_download(client: EmulatorClient, api: Api) -> None:
    user, chat = await started_chat(client)
    picture = png(1280, 720)
    sent = await client.send_photo(user, chat, picture, caption="现场照片")
    document = await client.send_document(user, chat, b"%PDF-1.4 x", "整改报告.pdf",
                                          "application/pdf")
    updates = await api.call("getUpdates")
    photo = updates[0]["message"]["photo"]
    assert [(p["width"], p["height"]) for p in photo] == [(90, 51), (1280, 720)]
    assert updates[0]["message"]["caption"] == "现场照片" and sent.files[0].width == 1280
    doc = updates[1]["message"]["document"]
    assert doc["file_name"] == "整改报告.pdf" and doc["mime_type"] == "application/pdf"
    file = await api.call("getFile", file_id=doc["file_id"])
    assert file["file_path"].startswith("documents/") and file["file_size"] == 10
    async with api.session.get(
        f"{client.base_url}/file/bot{TOKEN}/{file['file_path']}"
    ) as reply:
        assert await reply.read() == b"%PDF-1.4 x"
    assert await client.download(document.files[0]) == b"%PDF-1.4 x"
    assert (await api.error("getFile", file_id="nope"))[0] == 400


async def test_bot_uploads_multipart_and_reuses_file_ids(client: EmulatorClient,
                                                         api: Api) -> None:
    _, chat = await started_chat(client)
    form = aiohttp.FormData()
    form.add_field("chat_id", str(chat.id))
    form.add_field("caption", "通报 第3号")
    form.add_field("document", b"a,b\n1,2\n", filename="list.csv", content_type="text/csv")
    status, body = await api.form("sendDocument", form)
    assert status == 200, body
    file_id = body["result"]["document"]["file_id"]
    again = await api.call("sendDocument", chat_id=chat.id, document=file_id)
    assert again["document"]["file_unique_id"] == body["result"]["document"]["file_unique_id"]
    assert "can't use file of type Document as Photo" in (
        await api.error("sendPhoto", chat_id=chat.id, photo=file_id))[1]
    message = (await client.messages(chat))[-1]
    assert await client.download(message.files[0]) == b"a,b\n1,2\n"


# --------------------------------------------------------------------------- buttons


async def test_press_answer_and_alert(client: EmulatorClient, api: Api) -> None:
    user, chat = await started_chat(client)
    markup = {"inline_keyboard": [[{"text": "确认", "callback_data": "v1:ok"},
                                   {"text": "Site", "url": "https://example.org"}]]}
    sent = await api.call("sendMessage", chat_id=chat.id, text="case", reply_markup=markup)
    query_id = await client.press_nowait(user, chat, sent["message_id"], text="确认")
    update = (await api.call("getUpdates"))[-1]["callback_query"]
    assert update["data"] == "v1:ok" and update["message"]["message_id"] == sent["message_id"]
    assert update["from"]["id"] == user.id and update["chat_instance"]
    assert await client.callback_answer(query_id, timeout=0) is None
    await api.call("answerCallbackQuery", callback_query_id=query_id, text="已确认",
                   show_alert=True)
    answer = await client.callback_answer(query_id, timeout=1)
    assert answer is not None and (answer.text, answer.show_alert) == ("已确认", True)
    assert [a.text for a in await client.alerts(user)] == ["已确认"]
    assert (await api.error("answerCallbackQuery", callback_query_id=query_id))[0] == 400
    with pytest.raises(EmulatorError):
        await client.press_nowait(user, chat, sent["message_id"], data="v1:forged")
    forged = await client.press_nowait(user, chat, sent["message_id"], data="v1:x", force=True)
    assert (await api.call("getUpdates"))[-1]["callback_query"]["id"] == forged


async def test_press_waits_for_the_answer(client: EmulatorClient, api: Api) -> None:
    user, chat = await started_chat(client)
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    sent = await api.call("sendMessage", chat_id=chat.id, text="t", reply_markup=markup)

    async def bot_side() -> None:
        updates = await api.call("getUpdates", timeout=10)
        query = updates[-1]["callback_query"]
        await api.call("answerCallbackQuery", callback_query_id=query["id"], text="done")

    answering = asyncio.create_task(bot_side())
    answer = await client.press(user, chat, sent["message_id"], data="go", timeout=5)
    await answering
    assert answer is not None and answer.text == "done" and not answer.show_alert


# --------------------------------------------------------------------------- groups


async def test_adding_and_removing_the_bot(client: EmulatorClient, api: Api) -> None:
    owner = await client.create_user("Chen")
    group = await client.create_group("工信局", [owner], bot_status="left")
    await client.send_text(owner, group, "before the bot")
    await client.add_bot_to_group(group, by=owner)
    await client.send_text(owner, group, "/status@duban_emulator_bot")
    await client.remove_bot_from_group(group, by=owner)
    kinds = [next(k for k in u if k != "update_id") for u in await api.call("getUpdates")]
    assert kinds == ["message", "my_chat_member", "message", "message", "my_chat_member"]
    updates = await api.call("getUpdates")
    joined = updates[0]["message"]["new_chat_members"][0]
    assert joined["id"] == 424242
    change = updates[1]["my_chat_member"]
    assert (change["old_chat_member"]["status"], change["new_chat_member"]["status"]) == (
        "left", "member")
    assert updates[-1]["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    assert await api.error("sendMessage", chat_id=group.id, text="x") == (
        403, "Forbidden: bot was kicked from the group chat")


async def test_members_and_get_chat_member(client: EmulatorClient, api: Api) -> None:
    coordinator = await client.create_user("Wang")
    liaison = await client.create_user("Li")
    group = await client.create_group("协调组", [coordinator], admins=[coordinator],
                                      chat_type="supergroup")
    await client.add_member(group, liaison)
    assert (await api.call("getUpdates"))[-1]["message"]["new_chat_members"][0]["id"] == (
        liaison.id)
    member = await api.call("getChatMember", chat_id=group.id, user_id=liaison.id)
    assert member["status"] == "member"
    owner = await api.call("getChatMember", chat_id=group.id, user_id=coordinator.id)
    assert owner["status"] == "creator"
    await client.remove_member(group, liaison)
    assert (await api.call("getChatMember", chat_id=group.id,
                           user_id=liaison.id))["status"] == "left"
    info = await api.call("getChat", chat_id=group.id)
    assert info["type"] == "supergroup" and info["title"] == "协调组"
    with pytest.raises(EmulatorError):
        await client.send_text(liaison, group, "not a member any more")


async def test_privacy_mode_delivers_only_commands_and_replies() -> None:
    async with run_emulator(TOKEN, privacy_mode=True) as running, \
            aiohttp.ClientSession() as session:
        api, client = Api(running.base_url, session), running.client
        user = await client.create_user("Zhou")
        group = await client.create_group("县", [user])
        await client.send_text(user, group, "chatter")
        await client.send_text(user, group, "/status")
        await client.send_text(user, group, "/status@other_bot")
        texts = [u["message"]["text"] for u in await api.call("getUpdates")]
        assert texts == ["/status"]


# --------------------------------------------------------------------------- commands, limits


async def test_commands_by_scope_and_language(client: EmulatorClient, api: Api) -> None:
    zh = [{"command": "status", "description": "进度"}]
    en = [{"command": "status", "description": "Progress"}]
    await api.call("setMyCommands", commands=zh, language_code="zh")
    await api.call("setMyCommands", commands=en, language_code="en")
    await api.call("setMyCommands", commands=en, scope={"type": "all_group_chats"})
    assert await api.call("getMyCommands", language_code="zh") == zh
    assert await api.call("getMyCommands") == []
    assert await client.bot_commands(language_code="en") == en
    assert await client.bot_commands(scope={"type": "all_group_chats"}) == en
    assert len(await client.all_bot_commands()) == 3
    await api.call("deleteMyCommands", language_code="zh")
    assert await client.bot_commands(language_code="zh") == []
    bad = [{"command": "Bad-Name", "description": "x"}]
    assert await api.error("setMyCommands", commands=bad) == (
        400, "Bad Request: BOT_COMMAND_INVALID")


async def test_rate_limit_answers_429_with_retry_after(client: EmulatorClient,
                                                      api: Api) -> None:
    _, chat = await started_chat(client)
    await api.call("sendMessage", chat_id=chat.id, text="free")
    await client.set_rate_limit(per_chat_per_minute=2)
    await api.call("sendMessage", chat_id=chat.id, text="1")
    await api.call("sendMessage", chat_id=chat.id, text="2")
    status, body = await api.raw("sendMessage", chat_id=chat.id, text="3")
    assert status == 429
    assert body["description"].startswith("Too Many Requests: retry after ")
    assert 1 <= body["parameters"]["retry_after"] <= 60
    await client.set_rate_limit()
    await api.call("sendMessage", chat_id=chat.id, text="3")


async def test_chat_action_and_menu_button(client: EmulatorClient, api: Api) -> None:
    _, chat = await started_chat(client)
    assert await api.call("sendChatAction", chat_id=chat.id, action="typing") is True
    assert (await api.error("sendChatAction", chat_id=chat.id, action="dancing"))[0] == 400
    button = {"type": "commands"}
    assert await api.call("setChatMenuButton", chat_id=chat.id, menu_button=button)
    assert await api.call("getChatMenuButton", chat_id=chat.id) == button
    assert await api.call("setChatMenuButton") is True


# --------------------------------------------------------------------------- webhook


async def test_webhook_delivery_with_secret_and_retry(client: EmulatorClient, api: Api) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []
    failures = [1]

    async def hook(request: web.Request) -> web.Response:
        if failures:
            failures.pop()
            return web.Response(status=500)
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"),
                         await request.json()))
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        user, chat = await started_chat(client)
        await client.send_text(user, chat, "old, dropped")
        await api.call("setWebhook", url=f"http://{host}:{port}/hook", secret_token="s3cret",
                       drop_pending_updates=True)
        assert await api.error("getUpdates") == (
            409, "Conflict: can't use getUpdates method while webhook is active; use "
                 "deleteWebhook to delete the webhook first")
        await client.send_text(user, chat, "via webhook")

        async def delivered() -> bool | None:
            return True if received else None

        await client.wait_until(delivered, timeout=5)
        secret, update = received[0]
        assert secret == "s3cret" and update["message"]["text"] == "via webhook"
        info = await api.call("getWebhookInfo")
        assert info["url"].endswith("/hook") and "500" in info["last_error_message"]
        await api.call("deleteWebhook")
        assert await api.call("getUpdates") == []
    finally:
        await runner.cleanup()


async def test_webhook_gives_up_after_bounded_attempts(client: EmulatorClient,
                                                       api: Api) -> None:
    user, chat = await started_chat(client)
    await api.call("setWebhook", url="http://127.0.0.1:9/unreachable")
    await client.send_text(user, chat, "lost")

    async def dropped() -> bool | None:
        _, events = await client.events()
        return True if any(e["type"] == "update_dropped" for e in events) else None

    await client.wait_until(dropped, timeout=5)
    assert (await api.call("getWebhookInfo"))["pending_update_count"] == 0


# --------------------------------------------------------------------------- control API


async def test_wait_for_message_times_out_with_context(client: EmulatorClient) -> None:
    user, chat = await started_chat(client)
    await client.send_text(user, chat, "hello")
    with pytest.raises(TimeoutError, match="hello"):
        await client.wait_for_message(chat, timeout=0.05)


async def test_wait_for_message_sees_edits(client: EmulatorClient, api: Api) -> None:
    _, chat = await started_chat(client)
    sent = await api.call("sendMessage", chat_id=chat.id, text="pending")
    waiting = asyncio.create_task(
        client.wait_for_message(chat, lambda m: m.text == "done", timeout=5))
    await api.call("editMessageText", chat_id=chat.id, message_id=sent["message_id"],
                   text="done")
    assert (await waiting).message_id == sent["message_id"]


async def test_websocket_pushes_events(emulator: RunningEmulator,
                                       client: EmulatorClient, api: Api) -> None:
    async with api.session.ws_connect(f"{emulator.base_url}/_emulator/ws") as socket:
        hello = await socket.receive_json(timeout=5)
        assert hello["type"] == "hello"
        user, chat = await started_chat(client)
        await client.send_text(user, chat, "hi")
        kinds = []
        while "update_queued" not in kinds:
            kinds.append((await socket.receive_json(timeout=5))["type"])
        assert kinds[:2] == ["user_created", "chat_created"] and "message" in kinds


async def test_reset_forgets_the_world(client: EmulatorClient, api: Api) -> None:
    await started_chat(client)
    await client.reset()
    state = await client.state()
    assert state["users"] == [] and state["chats"] == []
    assert await api.call("getUpdates") == []


async def test_persistence_across_restarts(tmp_path: Path) -> None:
    async with run_emulator(TOKEN, state_dir=tmp_path) as first:
        user, chat = await started_chat(first.client)
        await first.client.send_document(user, chat, b"kept", "k.txt", "text/plain")
    assert (tmp_path / "world.json").exists()
    async with run_emulator(TOKEN, state_dir=tmp_path) as second:
        messages = await second.client.messages(chat)
        assert [m.files[0].file_name for m in messages] == ["k.txt"]
        assert await second.client.download(messages[0].files[0]) == b"kept"
        again = await second.client.send_text(user, chat, "next")
        assert again.message_id == 2


async def test_command_line_prints_the_base_url() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.devtools.emulator", "--port", "0", "--token", TOKEN,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=20)
        base_url = line.decode().strip()
        assert base_url.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as session:
            api = Api(base_url, session)
            assert (await api.call("getMe"))["id"] == 424242
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), timeout=20) == 0
