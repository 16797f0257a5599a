"""A recording fake of the Bot API's HTTP layer, and Update JSON builders.

The fake sits at the outermost edge (PTB's ``BaseRequest``): the real Application, handlers,
services and database run; only the HTTP exchange with Telegram is replaced.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from telegram.request import BaseRequest, RequestData

BOT_ID = 900001
BOT_USERNAME = "duban_test_bot"


@dataclass
class Sent:
    """A message the bot sent, as the chat shows it now (edits applied)."""

    chat_id: int
    message_id: int
    text: str
    reply_markup: dict[str, Any] | None
    reply_to: int | None
    history: list[str] = field(default_factory=list)

    def buttons(self) -> list[tuple[str, str]]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]

    def button(self, label: str) -> str:
        for text, data in self.buttons():
            if label in text:
                return data
        raise AssertionError(f"no button {label!r} in {self.buttons()}")


class RecordingRequest(BaseRequest):
    """Answers every Bot API call like Telegram would, and remembers what was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.messages: dict[tuple[int, int], Sent] = {}
        self.alerts: list[dict[str, Any]] = []
        #: The content of files users sent, by file id; a file not listed downloads as a
        #: small JPEG naming its id (a photo, or a scan sent as a file: the bot accepts files
        #: by their bytes), one in ``unavailable`` cannot be fetched (getFile fails).
        self.files: dict[str, bytes] = {}
        self.unavailable: set[str] = set()
        #: Files the bot uploaded: (method, chat id, file name, content).
        self.uploads: list[tuple[str, int, str, bytes]] = []
        self._ids = itertools.count(1000)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float:
        return 5.0

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = None, write_timeout: Any = None,
                         connect_timeout: Any = None, pool_timeout: Any = None,
                         ) -> tuple[int, bytes]:
        if "/file/bot" in url:
            file_id = url.rsplit("/", 1)[-1]
            return 200, self.file_content(file_id)
        name = url.rsplit("/", 1)[-1]
        params = {k: _loads(v) for k, v in (request_data.json_parameters.items()
                                             if request_data else [])}
        self.calls.append((name, params))
        if name == "getFile" and params.get("file_id") in self.unavailable:
            return 400, json.dumps({"ok": False, "error_code": 400,
                                    "description": "Bad Request: wrong file_id"}).encode()
        if request_data is not None and request_data.contains_files:
            for upload in (request_data.multipart_data or {}).values():
                filename, content = upload[0], upload[1]
                self.uploads.append((name, int(params.get("chat_id", 0)), str(filename),
                                     bytes(content)))
        result = getattr(self, f"_{name}", self._true)(params)
        return 200, json.dumps({"ok": True, "result": result}).encode()

    # -- Bot API methods ---------------------------------------------------------------------

    def _true(self, params: dict[str, Any]) -> bool:
        return True

    def _getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "duban",
                "username": BOT_USERNAME, "can_join_groups": True,
                "can_read_all_group_messages": False, "supports_inline_queries": False}

    def _message(self, chat_id: int, message_id: int, text: str,
                 markup: dict[str, Any] | None) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "message_id": message_id, "date": 1780000000, "text": text,
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup",
                     "title": "chat"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "duban"}}
        if markup and "inline_keyboard" in markup:  # only inline keyboards come back
            payload["reply_markup"] = markup
        return payload

    def _sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id, message_id = int(params["chat_id"]), next(self._ids)
        markup = params.get("reply_markup")
        reply_to = (params.get("reply_parameters") or {}).get("message_id") or params.get(
            "reply_to_message_id")
        self.messages[(chat_id, message_id)] = Sent(chat_id, message_id, params["text"],
                                                    markup, reply_to, [params["text"]])
        return self._message(chat_id, message_id, params["text"], markup)

    def _sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._sendMessage({**params, "text": params.get("caption", "")})

    _sendDocument = _sendPhoto

    def _editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        sent = self.messages[key]
        sent.text, sent.reply_markup = params["text"], params.get("reply_markup")
        sent.history.append(params["text"])
        return self._message(key[0], key[1], sent.text, sent.reply_markup)

    def _editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        sent = self.messages[key]
        sent.reply_markup = params.get("reply_markup")
        return self._message(key[0], key[1], sent.text, sent.reply_markup)

    def _answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        self.alerts.append(params)
        return True

    def file_content(self, file_id: str) -> bytes:
        return self.files.get(file_id, b"\xff\xd8\xff\xe0 file " + file_id.encode())

    def _getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = params["file_id"]
        return {"file_id": file_id, "file_unique_id": file_id,
                "file_size": len(self.file_content(file_id)), "file_path": file_id}

    # -- reading -----------------------------------------------------------------------------

    def in_chat(self, chat_id: int) -> list[Sent]:
        return [m for (c, _), m in sorted(self.messages.items()) if c == chat_id]

    def last(self, chat_id: int) -> Sent:
        found = self.in_chat(chat_id)
        assert found, f"nothing sent to {chat_id}"
        return found[-1]

    def called(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]


def _loads(value: str) -> Any:
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


@dataclass
class Users:
    """Builds Update JSON as Telegram sends it."""

    update_ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    message_ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    @staticmethod
    def user(user_id: int, name: str) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": name, "language_code": "zh-hans"}

    @staticmethod
    def chat(chat_id: int, title: str = "群") -> dict[str, Any]:
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": title}
        return {"id": chat_id, "type": "supergroup", "title": title}

    def message(self, user: tuple[int, str], chat_id: int, text: str | None = None,
                **extra: Any) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self.message_ids), "date": 1780000000,
            "chat": self.chat(chat_id), "from": self.user(*user), **extra}
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                command = text.split()[0]
                message["entities"] = [{"type": "bot_command", "offset": 0,
                                        "length": len(command)}]
        return {"update_id": next(self.update_ids), "message": message}

    def photo(self, user: tuple[int, str], chat_id: int, file_id: str) -> dict[str, Any]:
        return self.message(user, chat_id, photo=[
            {"file_id": file_id, "file_unique_id": file_id + "u", "width": 800,
             "height": 600, "file_size": 12345}])

    def document(self, user: tuple[int, str], chat_id: int, file_id: str, name: str,
                 mime: str, size: int = 2048) -> dict[str, Any]:
        return self.message(user, chat_id, document={
            "file_id": file_id, "file_unique_id": file_id + "u", "file_name": name,
            "mime_type": mime, "file_size": size})

    def press(self, user: tuple[int, str], sent: Sent, data: str) -> dict[str, Any]:
        return {"update_id": next(self.update_ids), "callback_query": {
            "id": str(next(self.update_ids)), "from": self.user(*user),
            "chat_instance": "ci", "data": data,
            "message": {"message_id": sent.message_id, "date": 1780000000,
                        "chat": self.chat(sent.chat_id), "text": sent.text,
                        "from": {"id": BOT_ID, "is_bot": True, "first_name": "duban"}}}}

    def bot_membership(self, chat_id: int, by: tuple[int, str], old: str,
                       new: str) -> dict[str, Any]:
        bot = {"id": BOT_ID, "is_bot": True, "first_name": "duban"}

        def member(status: str) -> dict[str, Any]:
            body: dict[str, Any] = {"user": bot, "status": status}
            if status == "kicked":
                body["until_date"] = 0
            return body

        return {"update_id": next(self.update_ids), "my_chat_member": {
            "chat": self.chat(chat_id), "from": self.user(*by), "date": 1780000000,
            "old_chat_member": member(old), "new_chat_member": member(new)}}
