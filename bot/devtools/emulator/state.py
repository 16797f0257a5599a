"""The emulated Telegram world: users, chats, messages, files and the bot's update queue.

Everything here is synchronous and in memory; :mod:`bot.devtools.emulator.server` puts HTTP
in front of it. A :class:`World` is one object (no module globals), so tests can run many
side by side.
Errors a Bot API caller can see are raised as :class:`ApiError` with Telegram's own wording.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import re
import secrets
import struct
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from bot.devtools.emulator.faults import FaultInjector, FaultPlan, LimitWatch

JSON = dict[str, Any]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
EVENT_LOG_SIZE = 2000

#: Update types delivered when the bot never asked for a particular list (Telegram's default).
DEFAULT_ALLOWED_UPDATES = frozenset(
    {
        "message", "edited_message", "channel_post", "edited_channel_post", "callback_query",
        "inline_query", "chosen_inline_result", "my_chat_member", "chat_join_request",
        "shipping_query", "pre_checkout_query", "poll", "poll_answer",
    }
)


class ApiError(Exception):
    """A Bot API failure: HTTP status, Telegram's description and optional parameters."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def to_json(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(message: str) -> ApiError:
    return ApiError(400, f"Bad Request: {message}")


def forbidden(message: str) -> ApiError:
    return ApiError(403, f"Forbidden: {message}")


def not_found(message: str) -> ApiError:
    """A control-API lookup failure (the Bot API says "chat not found" with 400 instead)."""
    return ApiError(404, message)


def _drop_none(data: JSON) -> JSON:
    return {key: value for key, value in data.items() if value is not None}


def utf16_len(text: str) -> int:
    """Telegram measures entity offsets and lengths in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------- text formatting

_HTML_ENTITY_TYPES = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler", "span": "spoiler", "a": "text_link", "code": "code", "pre": "pre",
    "blockquote": "blockquote", "tg-emoji": "custom_emoji",
}


class _TelegramHtml(HTMLParser):
    """Parses Telegram's HTML subset into plain text and entities, rejecting what it rejects."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.plain: list[str] = []
        self.entities: list[JSON] = []
        self._stack: list[tuple[str, int, JSON]] = []

    def _offset(self) -> int:
        return utf16_len("".join(self.plain))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag not in _HTML_ENTITY_TYPES or (
            tag == "span" and values.get("class") != "tg-spoiler"
        ):
            raise bad_request(f'can\'t parse entities: Unsupported start tag "{tag}"')
        entity: JSON = {"type": _HTML_ENTITY_TYPES[tag]}
        if tag == "a":
            entity["url"] = values.get("href", "")
        if tag == "blockquote" and "expandable" in values:
            entity["type"] = "expandable_blockquote"
        if tag == "tg-emoji":
            entity["custom_emoji_id"] = values.get("emoji-id", "")
        if tag == "code" and self._stack and self._stack[-1][0] == "pre":
            language = values.get("class", "").removeprefix("language-")
            if language:
                self._stack[-1][2]["language"] = language
        self._stack.append((tag, self._offset(), entity))

    def handle_endtag(self, tag: str) -> None:
        if not self._stack or self._stack[-1][0] != tag:
            raise bad_request(
                f'can\'t parse entities: Unmatched end tag "{tag}"'
            )
        _, start, entity = self._stack.pop()
        length = self._offset() - start
        if length > 0:
            self.entities.append({**entity, "offset": start, "length": length})

    def handle_data(self, data: str) -> None:
        self.plain.append(data)

    def finish(self) -> tuple[str, list[JSON]]:
        self.close()
        if self._stack:
            tag = self._stack[-1][0]
            raise bad_request(
                f'can\'t parse entities: Can\'t find end tag corresponding to start tag "{tag}"'
            )
        self.entities.sort(key=lambda item: (item["offset"], -item["length"]))
        return "".join(self.plain), self.entities


def parse_html(text: str) -> tuple[str, list[JSON]]:
    parser = _TelegramHtml()
    parser.feed(text)
    return parser.finish()


_MD2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MD2_TOGGLES = {"*": "bold", "_": "italic", "__": "underline", "~": "strikethrough",
                "||": "spoiler"}


def parse_markdown_v2(text: str) -> tuple[str, list[JSON]]:
    """MarkdownV2 to plain text and entities; unescaped reserved characters are refused."""
    plain: list[str] = []
    entities: list[JSON] = []
    open_marks: dict[str, int] = {}
    link_start: int | None = None
    i = 0

    def offset() -> int:
        return utf16_len("".join(plain))

    def close(kind: str, start: int, **extra: Any) -> None:
        if offset() > start:
            entities.append({"type": kind, "offset": start, "length": offset() - start, **extra})

    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            plain.append(text[i + 1])
            i += 2
            continue
        if char == "`":
            fence = "```" if text.startswith("```", i) else "`"
            end = text.find(fence, i + len(fence))
            if end < 0:
                raise bad_request(f"can't parse entities: Can't find end of the entity "
                                  f"starting at byte offset {len(text[:i].encode())}")
            body = text[i + len(fence):end].replace("\\`", "`").replace("\\\\", "\\")
            language = None
            if fence == "```" and "\n" in body:
                first, rest = body.split("\n", 1)
                language, body = (first or None), rest
            start = offset()
            plain.append(body)
            close("pre" if fence == "```" else "code", start,
                  **({"language": language} if language else {}))
            i = end + len(fence)
            continue
        mark = text[i:i + 2] if text[i:i + 2] in ("__", "||") else char
        if mark in _MD2_TOGGLES:
            if mark in open_marks:
                close(_MD2_TOGGLES[mark], open_marks.pop(mark))
            else:
                open_marks[mark] = offset()
            i += len(mark)
            continue
        if char == "[":
            link_start = offset()
            i += 1
            continue
        if char == "]" and link_start is not None and text[i + 1:i + 2] == "(":
            end = text.find(")", i + 2)
            if end < 0:
                raise bad_request("can't parse entities: Can't find end of a URL")
            close("text_link", link_start, url=text[i + 2:end])
            link_start = None
            i = end + 1
            continue
        if char == ">" and (i == 0 or text[i - 1] == "\n"):
            i += 1
            continue
        if char in _MD2_RESERVED:
            raise bad_request(f"can't parse entities: Character '{char}' is reserved and must "
                              "be escaped with the preceding '\\'")
        plain.append(char)
        i += 1
    if open_marks or link_start is not None:
        raise bad_request("can't parse entities: Can't find end of the entity starting at "
                          "byte offset 0")
    entities.sort(key=lambda item: (item["offset"], -item["length"]))
    return "".join(plain), entities


def parse_markdown_legacy(text: str) -> tuple[str, list[JSON]]:
    """The old "Markdown" mode: only the markers are removed; entities are not computed."""
    return re.sub(r"(?<!\\)[*_`\[]", "", text).replace("\\", ""), []


def render_text(text: str, parse_mode: str | None) -> tuple[str, list[JSON]]:
    """The text a reader sees and its entities, as Telegram derives them from ``parse_mode``."""
    mode = (parse_mode or "").lower()
    if not mode:
        return text, []
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        return parse_markdown_legacy(text)
    raise bad_request("unsupported parse_mode")


_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,64}(@[A-Za-z0-9_]{3,64})?")


def detect_entities(text: str) -> list[JSON]:
    """Entities Telegram adds to a person's text: ``bot_command`` at the start of each word."""
    entities = []
    for match in _COMMAND.finditer(text):
        start = match.start()
        if start > 0 and not text[start - 1].isspace():
            continue
        end = match.end()
        if end < len(text) and not (text[end].isspace() or text[end] in ".,;:!?"):
            continue
        entities.append({"type": "bot_command", "offset": utf16_len(text[:start]),
                         "length": utf16_len(match.group())})
    return entities


# --------------------------------------------------------------------------- reply markup

_BUTTON_ACTIONS = (
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
)


def validate_reply_markup(markup: Any) -> JSON | None:
    """Check a reply_markup object as Telegram does; returns it unchanged (or None)."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        _validate_inline_keyboard(markup["inline_keyboard"])
    elif "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request("can't parse reply keyboard markup JSON object")
    elif not (markup.get("remove_keyboard") or markup.get("force_reply")):
        raise bad_request("can't parse reply keyboard markup JSON object")
    return markup


def _validate_inline_keyboard(rows: Any) -> None:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an "
                          "Array of Arrays")
    for row in rows:
        for button in row:
            _validate_button(button)


def _validate_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request("can't parse inline keyboard button: Text must be a String")
    actions = [name for name in _BUTTON_ACTIONS if name in button]
    if not actions:
        raise bad_request("can't parse inline keyboard button: Text buttons are unallowed in "
                          "the inline keyboard")
    if not button["text"]:
        raise bad_request("BUTTON_TEXT_INVALID")
    data = button.get("callback_data")
    if "callback_data" in button and (
        not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES
    ):
        raise bad_request("BUTTON_DATA_INVALID")
    url = button.get("url")
    if "url" in button and (
        not isinstance(url, str) or not re.match(r"^(https?|tg)://\S+$", url)
    ):
        raise bad_request("BUTTON_URL_INVALID")


def inline_buttons(markup: JSON | None) -> list[JSON]:
    if not markup or "inline_keyboard" not in markup:
        return []
    return [button for row in markup["inline_keyboard"] for button in row]


# --------------------------------------------------------------------------- the world's parts


@dataclass
class User:
    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    def to_api(self) -> JSON:
        return _drop_none({
            "id": self.id, "is_bot": self.is_bot, "first_name": self.first_name,
            "last_name": self.last_name, "username": self.username,
            "language_code": None if self.is_bot else self.language_code,
        })


@dataclass
class Chat:
    """A chat. Private chats have the user's id as their id, as in Telegram."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    members: list[int] = field(default_factory=list)
    admins: list[int] = field(default_factory=list)
    owner_id: int | None = None
    #: The bot's status here: creator/administrator/member/left/kicked.
    bot_status: str = "left"
    #: Private chats: the user has written to the bot, so the bot may write back.
    started: bool = False
    blocked: bool = False
    next_message_id: int = 1
    instance: str = field(default_factory=lambda: str(secrets.randbits(62)))
    menu_button: JSON | None = None

    @property
    def is_private(self) -> bool:
        return self.type == "private"

    def to_api(self) -> JSON:
        return _drop_none({
            "id": self.id, "type": self.type, "title": self.title, "username": self.username,
            "first_name": self.first_name, "last_name": self.last_name,
        })


@dataclass
class StoredFile:
    """A file the emulator knows by ``file_id``; the bytes live in the world's blob store."""

    file_id: str
    file_unique_id: str
    kind: str
    sha256: str
    file_size: int
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None

    def to_photo_size(self) -> JSON:
        return {"file_id": self.file_id, "file_unique_id": self.file_unique_id,
                "width": self.width or 0, "height": self.height or 0,
                "file_size": self.file_size}

    def to_document(self) -> JSON:
        return _drop_none({"file_id": self.file_id, "file_unique_id": self.file_unique_id,
                           "file_name": self.file_name, "mime_type": self.mime_type,
                           "file_size": self.file_size})

    def to_file(self) -> JSON:
        return {"file_id": self.file_id, "file_unique_id": self.file_unique_id,
                "file_size": self.file_size, "file_path": self.file_path}


@dataclass
class Message:
    chat_id: int
    message_id: int
    sender_id: int
    date: int
    text: str | None = None
    caption: str | None = None
    #: parse_mode as sent; ``text``/``caption`` are stored raw (with their markup).
    parse_mode: str | None = None
    #: Entities given explicitly (bot's ``entities``/``caption_entities``, user's commands).
    entities: list[JSON] | None = None
    photo: list[str] | None = None
    document: str | None = None
    reply_to_message_id: int | None = None
    reply_markup: JSON | None = None
    #: Service message fields, e.g. {"new_chat_members": [ids]} or {"left_chat_member": id}.
    service: JSON | None = None
    edit_date: int | None = None
    #: Earlier versions, oldest first: {"date", "text", "caption", "parse_mode", "reply_markup"}.
    edits: list[JSON] = field(default_factory=list)
    deleted: bool = False

    def rendered(self) -> tuple[str | None, list[JSON]]:
        """Plain text (or caption) and its entities, as a reader sees it."""
        body = self.text if self.text is not None else self.caption
        if body is None:
            return None, []
        if self.parse_mode:
            return render_text(body, self.parse_mode)
        return body, list(self.entities or [])


@dataclass
class CallbackAnswer:
    callback_query_id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str | None
    text: str | None = None
    show_alert: bool = False
    url: str | None = None
    answered: bool = False
    date: int | None = None

    def to_json(self) -> JSON:
        return asdict(self)


@dataclass
class Webhook:
    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class RateLimit:
    """Sending limits; ``None`` switches a limit off. Telegram allows ~20/min per group and ~30/s
    overall."""

    per_chat_per_minute: int | None = None
    global_per_second: int | None = None


# --------------------------------------------------------------------------- signalling


class Signal:
    """Wakes every waiter on each change; waiters re-check their own condition."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float | None) -> bool:
        """Wait until ``predicate()`` is true or ``timeout`` passes; returns the last value."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not predicate():
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._event.wait(), remaining)
            except TimeoutError:
                return predicate()
        return True


class EventLog:
    """Numbered change events, kept in a bounded log and pushed to listeners (websockets)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.seq = 0
        self.recent: deque[JSON] = deque(maxlen=EVENT_LOG_SIZE)
        self.listeners: list[Callable[[JSON], None]] = []

    def publish(self, kind: str, **data: Any) -> JSON:
        self.seq += 1
        event = {"seq": self.seq, "type": kind, "date": int(self._clock()), **data}
        self.recent.append(event)
        for listener in list(self.listeners):
            listener(event)
        return event

    def since(self, seq: int) -> list[JSON]:
        return [event for event in self.recent if event["seq"] > seq]


class RateLimiter:
    """Sliding windows over real (monotonic) time, independent of the world's clock."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self.config = RateLimit()
        self._monotonic = monotonic
        self.refused = 0  # 429s answered since the last configure
        self._global: deque[float] = deque()
        self._per_chat: dict[int, deque[float]] = {}

    def configure(self, config: RateLimit) -> None:
        self.config = config
        self.refused = 0
        self._global.clear()
        self._per_chat.clear()

    def check(self, chat_id: int) -> None:
        """Count one send to ``chat_id`` or raise 429 with ``retry_after``."""
        now = self._monotonic()
        chat_window = self._per_chat.setdefault(chat_id, deque())
        wait = max(
            self._wait(self._global, self.config.global_per_second, 1.0, now),
            self._wait(chat_window, self.config.per_chat_per_minute, 60.0, now),
        )
        if wait > 0:
            self.refused += 1
            retry_after = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}",
                           {"retry_after": retry_after})
        self._global.append(now)
        chat_window.append(now)

    @staticmethod
    def _wait(window: deque[float], limit: int | None, span: float, now: float) -> float:
        while window and window[0] <= now - span:
            window.popleft()
        if limit is None or len(window) < limit:
            return 0.0
        return window[0] + span - now


# --------------------------------------------------------------------------- image sizes


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, GIF or JPEG; (0, 0) when unknown."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data[:4] == b"GIF8" and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return width, height
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    return 0, 0


def _jpeg_size(data: bytes) -> tuple[int, int]:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return width, height
        i += 2 + length
    return 0, 0


# --------------------------------------------------------------------------- the world


def bot_id_from_token(token: str) -> int:
    prefix = token.split(":", 1)[0]
    return int(prefix) if prefix.isdigit() else 1_000_000_001


@dataclass
class Upload:
    """Bytes a user or the bot uploads."""

    data: bytes
    filename: str | None = None
    mime_type: str | None = None


class World:
    """The whole emulated Telegram as one bot sees it.

    ``clock`` gives the unix time used for message dates (the sandbox moves it); rate limits use
    ``monotonic``. Bot-side methods are named ``bot_*``, person-side ones ``user_*``; both
    publish events and queue updates.
    """

    def __init__(
        self,
        token: str,
        *,
        bot_username: str = "duban_emulator_bot",
        bot_first_name: str = "Duban",
        privacy_mode: bool = False,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.clock = clock
        self.privacy_mode = privacy_mode
        self.bot = User(id=bot_id_from_token(token), first_name=bot_first_name,
                        username=bot_username, is_bot=True)
        self.events = EventLog(clock)
        self.changed = Signal()
        self.limiter = RateLimiter(monotonic)
        #: Injected failures of the bot's calls, and the check of Telegram's limits.
        self.faults = FaultInjector(clock)
        self.watch = LimitWatch(monotonic)
        self.closing = False
        self.poll_generation = 0
        self._clear()

    # ---- bookkeeping

    def _clear(self) -> None:
        self.users: dict[int, User] = {}
        self.chats: dict[int, Chat] = {}
        self.messages: dict[int, dict[int, Message]] = {}
        self.files: dict[str, StoredFile] = {}
        self.blobs: dict[str, bytes] = {}
        self.pending: list[JSON] = []
        self.update_log: list[JSON] = []
        self.next_update_id = 1
        self.next_file_number = 1
        self.next_chat_number = 1
        self.answers: dict[str, CallbackAnswer] = {}
        self.commands: dict[str, JSON] = {}
        self.webhook = Webhook()
        self.allowed_updates: list[str] | None = None
        self.dirty = False

    def reset(self) -> None:
        """Forget everything but the bot itself."""
        self._clear()
        self.limiter.configure(RateLimit())
        self.faults.configure(FaultPlan())
        self.watch.reset()
        self._publish("reset")

    def now(self) -> int:
        return int(self.clock())

    def _publish(self, kind: str, **data: Any) -> None:
        self.dirty = True
        self.events.publish(kind, **data)
        self.changed.fire()

    def notify(self, kind: str, **data: Any) -> None:
        """Publish an event that changes nothing worth saving (polling, deliveries)."""
        self.events.publish(kind, **data)
        self.changed.fire()

    def close(self) -> None:
        """Release long polls and waiters (server shutdown)."""
        self.closing = True
        self.changed.fire()

    # ---- look-ups

    def user(self, user_id: int) -> User:
        if user_id == self.bot.id:
            return self.bot
        try:
            return self.users[user_id]
        except KeyError:
            raise not_found(f"user {user_id} not found") from None

    def chat(self, chat_id: int) -> Chat:
        try:
            return self.chats[chat_id]
        except KeyError:
            raise not_found(f"chat {chat_id} not found") from None

    def message(self, chat_id: int, message_id: int) -> Message:
        try:
            return self.messages[chat_id][message_id]
        except KeyError:
            raise not_found(f"message {message_id} not found in chat {chat_id}") from None

    def resolve_chat(self, chat_ref: int | str) -> Chat:
        """A Bot API ``chat_id``: an integer id or ``@username``; 400 "chat not found" else."""
        if isinstance(chat_ref, str) and chat_ref.startswith("@"):
            name = chat_ref[1:].lower()
            for candidate in self.chats.values():
                if candidate.username and candidate.username.lower() == name and (
                    not candidate.is_private
                ):
                    return candidate
            raise bad_request("chat not found")
        try:
            chat_id = int(chat_ref)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None
        chat = self.chats.get(chat_id)
        if chat is None:
            if chat_id in self.users:
                raise forbidden("bot can't initiate conversation with a user")
            raise bad_request("chat not found")
        return chat

    def chat_messages(self, chat_id: int, include_deleted: bool = True) -> list[Message]:
        self.chat(chat_id)
        found = self.messages.get(chat_id, {}).values()
        return [m for m in found if include_deleted or not m.deleted]

    # ---- people and chats (control side)

    def create_user(self, first_name: str, *, user_id: int | None = None,
                    username: str | None = None, last_name: str | None = None,
                    language_code: str | None = None) -> User:
        if user_id is None:
            user_id = 100_000 + len(self.users) + 1
            while user_id in self.users:
                user_id += 1
        if user_id in self.users or user_id == self.bot.id:
            raise bad_request(f"user {user_id} already exists")
        user = User(id=user_id, first_name=first_name, username=username, last_name=last_name,
                    language_code=language_code)
        self.users[user_id] = user
        self._publish("user_created", user=user.to_api())
        return user

    def create_group(self, title: str, members: Iterable[int] = (), *, chat_type: str = "group",
                     chat_id: int | None = None, admins: Iterable[int] = (),
                     username: str | None = None, bot_status: str = "member") -> Chat:
        """A group with its members; the bot joins with ``bot_status`` (no update, as if it had
        been there before the bot started polling). Use :meth:`set_bot_status` for the update.
        """
        if chat_type not in ("group", "supergroup"):
            raise bad_request("chat type must be group or supergroup")
        member_ids = [self.user(uid).id for uid in members]
        if chat_id is None:
            base = -1_000_000_000_000 if chat_type == "supergroup" else -4_000_000_000
            chat_id = base - self.next_chat_number
            self.next_chat_number += 1
        if chat_id in self.chats:
            raise bad_request(f"chat {chat_id} already exists")
        admin_ids = [uid for uid in admins if uid in member_ids]
        chat = Chat(id=chat_id, type=chat_type, title=title, username=username,
                    members=member_ids, admins=admin_ids,
                    owner_id=member_ids[0] if member_ids else None, bot_status=bot_status)
        self._add_chat(chat)
        return chat

    def private_chat(self, user_id: int, *, started: bool = False) -> Chat:
        """The private chat between ``user_id`` and the bot (created on first use)."""
        user = self.user(user_id)
        existing = self.chats.get(user.id)
        if existing is None:
            chat = Chat(id=user.id, type="private", first_name=user.first_name,
                        last_name=user.last_name, username=user.username,
                        members=[user.id], bot_status="member", started=started)
            self._add_chat(chat)
            return chat
        chat = existing
        if started and not chat.started:
            chat.started = True
            self._publish("chat_updated", chat=self.chat_view(chat))
        return chat

    def _add_chat(self, chat: Chat) -> None:
        self.chats[chat.id] = chat
        self.messages[chat.id] = {}
        self._publish("chat_created", chat=self.chat_view(chat))

    def chat_view(self, chat: Chat) -> JSON:
        return {**chat.to_api(), "members": list(chat.members), "admins": list(chat.admins),
                "owner_id": chat.owner_id, "bot_status": chat.bot_status,
                "started": chat.started, "blocked": chat.blocked}

    def set_bot_status(self, chat_id: int, status: str, *, by_user_id: int | None = None) -> Chat:
        """Add the bot to a group (member/administrator) or remove it (left/kicked); the bot gets
        ``my_chat_member`` and, for joins and leaves, the service message."""
        chat = self.chat(chat_id)
        if chat.is_private or status not in ("member", "administrator", "left", "kicked"):
            raise bad_request("bot status must be member, administrator, left or kicked")
        actor = self.user(by_user_id) if by_user_id is not None else None
        old = chat.bot_status
        if old == status:
            return chat
        chat.bot_status = status
        sender = actor.id if actor else self.bot.id
        was_in = old in ("member", "administrator", "creator")
        now_in = status in ("member", "administrator")
        if now_in and not was_in:
            self._service_message(chat, sender, {"new_chat_members": [self.bot.id]})
        elif was_in and not now_in:
            self._service_message(chat, sender, {"left_chat_member": self.bot.id})
        self._emit_update("my_chat_member", {
            "chat": chat.to_api(), "from": (actor or self.bot).to_api(), "date": self.now(),
            "old_chat_member": self._member_json(chat, self.bot, old),
            "new_chat_member": self._member_json(chat, self.bot, status),
        })
        self._publish("bot_status", chat_id=chat.id, old=old, new=status)
        return chat

    def add_member(self, chat_id: int, user_id: int) -> Message:
        chat = self.chat(chat_id)
        user = self.user(user_id)
        if chat.is_private or user.id in chat.members:
            raise bad_request("user can't join this chat")
        chat.members.append(user.id)
        self._publish("member_joined", chat_id=chat.id, user=user.to_api())
        self._emit_chat_member(chat, user, "left", "member")
        return self._service_message(chat, user.id, {"new_chat_members": [user.id]})

    def remove_member(self, chat_id: int, user_id: int) -> Message:
        chat = self.chat(chat_id)
        user = self.user(user_id)
        if user.id not in chat.members or chat.is_private:
            raise bad_request("user is not a member of this chat")
        chat.members.remove(user.id)
        if user.id in chat.admins:
            chat.admins.remove(user.id)
        self._publish("member_left", chat_id=chat.id, user=user.to_api())
        self._emit_chat_member(chat, user, "member", "left")
        return self._service_message(chat, user.id, {"left_chat_member": user.id})

    def _emit_chat_member(self, chat: Chat, user: User, old: str, new: str) -> None:
        self._emit_update("chat_member", {
            "chat": chat.to_api(), "from": user.to_api(), "date": self.now(),
            "old_chat_member": self._member_json(chat, user, old),
            "new_chat_member": self._member_json(chat, user, new),
        })

    def member_status(self, chat: Chat, user_id: int) -> str:
        if user_id == self.bot.id:
            return chat.bot_status
        if chat.is_private:
            return "member" if user_id == chat.id else "left"
        if user_id not in chat.members:
            return "left"
        if user_id == chat.owner_id:
            return "creator"
        return "administrator" if user_id in chat.admins else "member"

    def _member_json(self, chat: Chat, user: User, status: str) -> JSON:
        data: JSON = {"status": status, "user": user.to_api()}
        if status == "creator":
            data["is_anonymous"] = False
        elif status == "administrator":
            rights = ("can_manage_chat", "can_delete_messages", "can_manage_video_chats",
                      "can_restrict_members", "can_promote_members", "can_change_info",
                      "can_invite_users", "can_post_stories", "can_edit_stories",
                      "can_delete_stories", "can_pin_messages")
            data.update({"can_be_edited": False, "is_anonymous": False},
                        **dict.fromkeys(rights, True))
        elif status == "kicked":
            data["until_date"] = 0
        return data

    def chat_member(self, chat: Chat, user_id: int) -> JSON:
        user = self.users.get(user_id) or (self.bot if user_id == self.bot.id else None)
        if user is None:
            raise bad_request("user not found")
        return self._member_json(chat, user, self.member_status(chat, user_id))

    # ---- messages

    def _new_message(self, chat: Chat, sender_id: int, **fields: Any) -> Message:
        message = Message(chat_id=chat.id, message_id=chat.next_message_id, sender_id=sender_id,
                          date=self.now(), **fields)
        chat.next_message_id += 1
        self.messages.setdefault(chat.id, {})[message.message_id] = message
        self._publish("message", chat_id=chat.id, message=self.message_view(message))
        return message

    def _service_message(self, chat: Chat, sender_id: int, service: JSON) -> Message:
        message = self._new_message(chat, sender_id, service=service)
        if chat.bot_status in ("member", "administrator", "creator") or (
            service.get("left_chat_member") == self.bot.id
        ):
            self._emit_update("message", self.message_api(message))
        return message

    def message_api(self, message: Message, *, with_reply: bool = True) -> JSON:
        """The message as Bot API JSON (what ``Message.de_json`` reads)."""
        chat = self.chats[message.chat_id]
        data: JSON = {"message_id": message.message_id, "date": message.date,
                      "chat": chat.to_api(), "from": self.user(message.sender_id).to_api()}
        plain, entities = message.rendered()
        if message.text is not None:
            data["text"] = plain
            if entities:
                data["entities"] = entities
        if message.caption is not None:
            data["caption"] = plain
            if entities:
                data["caption_entities"] = entities
        if message.photo:
            data["photo"] = [self.files[fid].to_photo_size() for fid in message.photo]
        if message.document:
            data["document"] = self.files[message.document].to_document()
        if message.edit_date is not None:
            data["edit_date"] = message.edit_date
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            data["reply_markup"] = message.reply_markup
        if with_reply and message.reply_to_message_id is not None:
            replied = self.messages[chat.id].get(message.reply_to_message_id)
            if replied is not None:
                data["reply_to_message"] = self.message_api(replied, with_reply=False)
        for key, value in (message.service or {}).items():
            if key == "new_chat_members":
                data[key] = [self.user(uid).to_api() for uid in value]
            elif key == "left_chat_member":
                data[key] = self.user(value).to_api()
            else:
                data[key] = value
        return data

    def file_view(self, file_id: str) -> JSON:
        stored = self.files[file_id]
        return {**stored.to_document(), "kind": stored.kind, "width": stored.width,
                "height": stored.height, "file_path": stored.file_path,
                "download_url": f"/_emulator/files/{stored.file_id}"}

    def message_view(self, message: Message) -> JSON:
        """The message for the control API and the web page: raw text plus everything known."""
        plain, entities = message.rendered()
        files = list(message.photo[-1:] if message.photo else [])
        if message.document:
            files.append(message.document)
        return {
            "chat_id": message.chat_id, "message_id": message.message_id,
            "from": self.user(message.sender_id).to_api(),
            "from_bot": message.sender_id == self.bot.id, "date": message.date,
            "text": message.text, "caption": message.caption, "parse_mode": message.parse_mode,
            "plain_text": plain, "entities": entities,
            "reply_to_message_id": message.reply_to_message_id,
            "reply_markup": message.reply_markup, "service": message.service,
            "photo": [self.file_view(fid) for fid in message.photo or []],
            "document": self.file_view(message.document) if message.document else None,
            "files": [self.file_view(fid) for fid in files],
            "edit_date": message.edit_date, "edits": list(message.edits),
            "deleted": message.deleted,
        }

    # ---- updates

    def _update_allowed(self, kind: str) -> bool:
        allowed = self.webhook.allowed_updates if self.webhook.url else self.allowed_updates
        return kind in (set(allowed) if allowed else DEFAULT_ALLOWED_UPDATES)

    def _emit_update(self, kind: str, payload: JSON) -> JSON | None:
        update = {"update_id": self.next_update_id, kind: payload}
        self.next_update_id += 1
        allowed = self._update_allowed(kind)
        self.update_log.append({"update": update, "delivered": False, "dropped": not allowed})
        if allowed:
            self.pending.append(update)
        self._publish("update_queued", update=update, dropped=not allowed)
        return update if allowed else None

    def confirm_updates(self, offset: int) -> None:
        """Forget updates below ``offset`` (negative: keep only the last ``-offset``)."""
        if offset < 0:
            self.pending = self.pending[offset:]
        elif offset:
            self.pending = [u for u in self.pending if u["update_id"] >= offset]

    def mark_delivered(self, updates: list[JSON]) -> None:
        ids = {u["update_id"] for u in updates}
        for entry in self.update_log:
            if entry["update"]["update_id"] in ids and not entry["delivered"]:
                entry["delivered"] = True
                self._publish("update_delivered", update=entry["update"])

    def set_allowed_updates(self, allowed: list[str] | None) -> None:
        if allowed is not None:
            self.allowed_updates = list(allowed)

    # ---- person-side actions

    def _check_can_post(self, chat: Chat, user: User) -> None:
        if chat.is_private and chat.id != user.id:
            raise bad_request("a user can only write in their own private chat with the bot")
        if not chat.is_private and user.id not in chat.members:
            raise bad_request(f"user {user.id} is not a member of chat {chat.id}")

    def _bot_sees(self, chat: Chat, message: Message) -> bool:
        """Whether the bot receives a person's message (membership and privacy mode)."""
        if chat.is_private:
            return not chat.blocked
        if chat.bot_status not in ("member", "administrator", "creator"):
            return False
        if not self.privacy_mode or chat.bot_status == "administrator":
            return True
        text = message.text or message.caption or ""
        command = text.split(maxsplit=1)[0] if text.startswith("/") else ""
        if command and ("@" not in command or
                        command.split("@", 1)[1].lower() == (self.bot.username or "").lower()):
            return True
        replied = self.messages[chat.id].get(message.reply_to_message_id or 0)
        return replied is not None and replied.sender_id == self.bot.id

    def user_send(self, user_id: int, chat_id: int, *, text: str | None = None,
                  upload: Upload | None = None, kind: str = "document",
                  reply_to_message_id: int | None = None) -> Message:
        """A person sends text, or a photo/document with ``text`` as its caption."""
        user = self.user(user_id)
        chat = self.chat(chat_id)
        self._check_can_post(chat, user)
        if reply_to_message_id is not None:
            self.message(chat.id, reply_to_message_id)
        fields: JSON = {"reply_to_message_id": reply_to_message_id}
        if upload is not None:
            media = self.store_upload(upload, kind)
            fields.update(media)
            if text:
                fields.update(caption=text, entities=detect_entities(text) or None)
        elif text:
            fields.update(text=text, entities=detect_entities(text) or None)
        else:
            raise bad_request("message text is empty")
        if chat.is_private and not chat.started:
            chat.started = True
            self._publish("chat_updated", chat=self.chat_view(chat))
        message = self._new_message(chat, user.id, **fields)
        if self._bot_sees(chat, message):
            self._emit_update("message", self.message_api(message))
        return message

    def user_edit(self, user_id: int, chat_id: int, message_id: int, text: str) -> Message:
        message = self.message(chat_id, message_id)
        if message.sender_id != user_id or message.text is None:
            raise bad_request("message can't be edited")
        self._revise(message, text=text, entities=detect_entities(text) or None)
        chat = self.chats[chat_id]
        if self._bot_sees(chat, message):
            self._emit_update("edited_message", self.message_api(message))
        return message

    def press(self, user_id: int, chat_id: int, message_id: int, *, data: str | None = None,
              text: str | None = None, force: bool = False) -> CallbackAnswer:
        """A person presses an inline button, found by ``data`` or by its ``text``. ``force``
        sends ``data`` even if no such button exists (a forged press)."""
        user = self.user(user_id)
        chat = self.chat(chat_id)
        self._check_can_post(chat, user)
        message = self.message(chat_id, message_id)
        if message.deleted:
            raise bad_request("message was deleted")
        data = self._button_data(message, data, text, force)
        query_id = str(secrets.randbits(63))
        answer = CallbackAnswer(callback_query_id=query_id, user_id=user.id, chat_id=chat.id,
                                message_id=message.message_id, data=data)
        self.answers[query_id] = answer
        self._publish("button_pressed", **answer.to_json())
        self._emit_update("callback_query", {
            "id": query_id, "from": user.to_api(), "message": self.message_api(message),
            "chat_instance": chat.instance, "data": data,
        })
        return answer

    @staticmethod
    def _button_data(message: Message, data: str | None, text: str | None, force: bool) -> str:
        if force and data is not None:
            return data
        for button in inline_buttons(message.reply_markup):
            if "callback_data" not in button:
                continue
            if (data is not None and button["callback_data"] == data) or (
                data is None and text is not None and button["text"] == text
            ):
                return str(button["callback_data"])
        raise bad_request(f"no callback button data={data!r} text={text!r} on that message")

    def block_bot(self, user_id: int, blocked: bool = True) -> Chat:
        chat = self.private_chat(user_id)
        chat.blocked = blocked
        self._publish("chat_updated", chat=self.chat_view(chat))
        return chat

    # ---- files

    def store_upload(self, upload: Upload, kind: str) -> JSON:
        """Keep uploaded bytes and issue file ids; returns Message fields (photo or document)."""
        if kind not in ("photo", "document"):
            raise bad_request("file kind must be photo or document")
        if not upload.data:
            raise bad_request("file must be non-empty")
        if len(upload.data) > MAX_UPLOAD_BYTES:
            raise ApiError(413, "Request Entity Too Large")
        sha = hashlib.sha256(upload.data).hexdigest()
        self.blobs[sha] = upload.data
        if kind == "document":
            return {"document": self._new_file(upload, "document", sha).file_id}
        width, height = image_size(upload.data)
        sizes = []
        if max(width, height) > 90:
            scale = 90 / max(width, height)
            thumb = self._new_file(upload, "photo", sha, suffix="s")
            thumb.width, thumb.height = max(1, round(width * scale)), max(1, round(height * scale))
            sizes.append(thumb.file_id)
        full = self._new_file(upload, "photo", sha, suffix="x")
        full.width, full.height = width, height
        sizes.append(full.file_id)
        return {"photo": sizes}

    def _new_file(self, upload: Upload, kind: str, sha: str, suffix: str = "") -> StoredFile:
        number = self.next_file_number
        self.next_file_number += 1
        prefix = "AgAC" if kind == "photo" else "BQAC"
        if kind == "photo":
            path = f"photos/file_{number}.jpg"
        else:
            extension = Path(upload.filename or "").suffix.lower()
            path = f"documents/file_{number}{extension}"
        stored = StoredFile(
            file_id=f"{prefix}{secrets.token_urlsafe(24)}",
            file_unique_id=f"AQAD{sha[:16]}{suffix}", kind=kind, sha256=sha,
            file_size=len(upload.data), file_path=path,
            file_name=upload.filename if kind == "document" else None,
            mime_type=(upload.mime_type or "application/octet-stream")
            if kind == "document" else None,
        )
        self.files[stored.file_id] = stored
        return stored

    def file(self, file_id: str) -> StoredFile:
        stored = self.files.get(file_id)
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return stored

    def file_by_path(self, path: str) -> StoredFile | None:
        return next((f for f in self.files.values() if f.file_path == path), None)

    def file_bytes(self, stored: StoredFile) -> bytes:
        return self.blobs[stored.sha256]

    # ---- bot-side actions

    def _check_bot_can_write(self, chat: Chat) -> None:
        if chat.is_private:
            if chat.blocked:
                raise forbidden("bot was blocked by the user")
            if not chat.started:
                raise forbidden("bot can't initiate conversation with a user")
            return
        if chat.bot_status == "kicked":
            raise forbidden(f"bot was kicked from the {chat.type} chat")
        if chat.bot_status == "left":
            raise forbidden(f"bot is not a member of the {chat.type} chat")

    def _check_reply(self, chat: Chat, reply: JSON | None) -> int | None:
        if not reply:
            return None
        message_id = int(reply["message_id"])
        existing = self.messages[chat.id].get(message_id)
        if existing is None or existing.deleted:
            if reply.get("allow_sending_without_reply"):
                return None
            raise bad_request("message to be replied not found")
        return message_id

    def bot_send(self, chat_ref: int | str, *, text: str | None = None,
                 caption: str | None = None, parse_mode: str | None = None,
                 entities: list[JSON] | None = None, reply: JSON | None = None,
                 reply_markup: JSON | None = None, media: JSON | None = None) -> Message:
        """sendMessage / sendPhoto / sendDocument after parameter parsing."""
        chat = self.resolve_chat(chat_ref)
        self._check_bot_can_write(chat)
        if text is not None or media is None:
            self._check_text(text or "", parse_mode, MAX_TEXT_LENGTH, "message")
        if caption:
            self._check_text(caption, parse_mode, MAX_CAPTION_LENGTH, "caption")
        markup = validate_reply_markup(reply_markup)
        reply_to = self._check_reply(chat, reply)
        self.limiter.check(chat.id)
        message = self._new_message(
            chat, self.bot.id, text=text, caption=caption or None, parse_mode=parse_mode,
            entities=entities, reply_to_message_id=reply_to, reply_markup=markup,
            **(media or {}),
        )
        for violation in self.watch.observe(chat.id, chat.is_private):
            self.notify("limit_violation", **violation)
        return message

    @staticmethod
    def _check_text(text: str, parse_mode: str | None, limit: int, what: str) -> None:
        plain, _ = render_text(text, parse_mode)
        if not plain.strip():
            raise bad_request(f"{what} text is empty")
        if len(plain) > limit:
            raise bad_request(f"{what} is too long")

    def _own_message(self, chat_ref: int | str, message_id: int | None, action: str) -> Message:
        chat = self.resolve_chat(chat_ref)
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = self.messages[chat.id].get(message_id)
        if message is None or message.deleted:
            raise bad_request(f"message to {action} not found")
        if message.sender_id != self.bot.id:
            raise bad_request("message can't be edited")
        return message

    def _revise(self, message: Message, **changes: Any) -> None:
        message.edits.append({"date": message.edit_date or message.date, "text": message.text,
                              "caption": message.caption, "parse_mode": message.parse_mode,
                              "reply_markup": message.reply_markup})
        for name, value in changes.items():
            setattr(message, name, value)
        message.edit_date = self.now()
        self._publish("message_edited", chat_id=message.chat_id,
                      message=self.message_view(message))

    def bot_edit(self, chat_ref: int | str, message_id: int | None, *,
                 text: str | None = None, caption: str | None = None,
                 parse_mode: str | None = None, entities: list[JSON] | None = None,
                 reply_markup: JSON | None = None, markup_only: bool = False) -> Message:
        """editMessageText / editMessageCaption / editMessageReplyMarkup."""
        message = self._own_message(chat_ref, message_id, "edit")
        markup = validate_reply_markup(reply_markup)
        if markup is not None and "inline_keyboard" not in markup:
            raise bad_request("inline keyboard expected")
        changes: JSON = {"reply_markup": markup}
        if not markup_only:
            if text is not None:
                if message.text is None:
                    raise bad_request("there is no text in the message to edit")
                self._check_text(text, parse_mode, MAX_TEXT_LENGTH, "message")
                changes.update(text=text)
            else:
                if message.text is not None:
                    raise bad_request("there is no caption in the message to edit")
                if caption:
                    self._check_text(caption, parse_mode, MAX_CAPTION_LENGTH, "caption")
                changes.update(caption=caption or "")
            changes.update(parse_mode=parse_mode, entities=entities)
        if all(getattr(message, name) == value for name, value in changes.items()):
            raise bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        self._revise(message, **changes)
        return message

    def bot_delete(self, chat_ref: int | str, message_id: int | None) -> None:
        chat = self.resolve_chat(chat_ref)
        message = self.messages[chat.id].get(message_id or 0)
        if message is None or message.deleted:
            raise bad_request("message to delete not found")
        if message.sender_id != self.bot.id and not chat.is_private and (
            chat.bot_status != "administrator"
        ):
            raise bad_request("message can't be deleted")
        message.deleted = True
        self._publish("message_deleted", chat_id=chat.id, message_id=message.message_id)

    def answer_callback(self, query_id: str, *, text: str | None, show_alert: bool,
                        url: str | None) -> CallbackAnswer:
        answer = self.answers.get(query_id)
        if answer is None or answer.answered:
            raise bad_request("query is too old and response timeout expired or query ID is "
                              "invalid")
        if text is not None and len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        answer.text, answer.show_alert, answer.url = text or None, show_alert, url
        answer.answered, answer.date = True, self.now()
        self._publish("callback_answer", **answer.to_json())
        if answer.text:
            self._publish("alert", **answer.to_json())
        return answer

    def alerts_for(self, user_id: int) -> list[CallbackAnswer]:
        return [a for a in self.answers.values() if a.user_id == user_id and a.answered]

    def bot_leave(self, chat_ref: int | str) -> None:
        chat = self.resolve_chat(chat_ref)
        if chat.is_private:
            raise bad_request("chat member status can't be changed in private chats")
        if chat.bot_status in ("left", "kicked"):
            raise forbidden(f"bot is not a member of the {chat.type} chat")
        self.set_bot_status(chat.id, "left")

    def chat_action(self, chat_ref: int | str, action: str) -> None:
        chat = self.resolve_chat(chat_ref)
        self._check_bot_can_write(chat)
        self._publish("chat_action", chat_id=chat.id, action=action)

    # ---- commands

    def scope_key(self, scope: JSON | None, language_code: str | None) -> str:
        scope = dict(scope or {"type": "default"})
        kinds = ("default", "all_private_chats", "all_group_chats", "all_chat_administrators",
                 "chat", "chat_administrators", "chat_member")
        if scope.get("type") not in kinds:
            raise bad_request("can't parse BotCommandScope JSON object")
        if "chat_id" in scope:
            scope["chat_id"] = self.resolve_chat(scope["chat_id"]).id
        elif scope["type"].startswith("chat"):
            raise bad_request("chat not found")
        if scope["type"] == "chat_member":
            scope["user_id"] = int(scope.get("user_id") or 0)
        language = language_code or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise bad_request("invalid language code specified")
        return json.dumps({"scope": scope, "language_code": language}, sort_keys=True)

    def set_commands(self, commands: Any, scope: JSON | None, language_code: str | None) -> None:
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("can't parse commands JSON object")
        for command in commands:
            name = command.get("command") if isinstance(command, dict) else None
            if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise bad_request("BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self.scope_key(scope, language_code)
        cleaned = [{"command": c["command"], "description": c["description"]} for c in commands]
        if cleaned:
            self.commands[key] = {**json.loads(key), "commands": cleaned}
        else:
            self.commands.pop(key, None)
        self._publish("commands_changed", **json.loads(key), commands=cleaned)

    def get_commands(self, scope: JSON | None, language_code: str | None) -> list[JSON]:
        entry = self.commands.get(self.scope_key(scope, language_code))
        return list(entry["commands"]) if entry else []

    # ---- webhook

    def set_webhook(self, url: str, *, secret_token: str | None, drop_pending: bool,
                    allowed_updates: list[str] | None, max_connections: int | None) -> None:
        if url and not re.match(r"^https?://[^/\s]+", url):
            raise bad_request("bad webhook: Failed to resolve host: Name or service not known")
        if secret_token is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret_token):
            raise bad_request("secret token contains unallowed characters")
        if drop_pending:
            self.pending.clear()
        self.webhook = Webhook(url=url, secret_token=secret_token if url else None,
                               max_connections=max_connections or 40,
                               allowed_updates=allowed_updates if url else None)
        self._publish("webhook_changed", url=url)

    def webhook_info(self) -> JSON:
        hook = self.webhook
        return _drop_none({
            "url": hook.url, "has_custom_certificate": False,
            "pending_update_count": len(self.pending),
            "max_connections": hook.max_connections if hook.url else None,
            "allowed_updates": hook.allowed_updates, "last_error_date": hook.last_error_date,
            "last_error_message": hook.last_error_message,
        })

    # ---- persistence

    def to_json(self) -> JSON:
        return {
            "users": [asdict(u) for u in self.users.values()],
            "chats": [asdict(c) for c in self.chats.values()],
            "messages": [asdict(m) for chat in self.messages.values() for m in chat.values()],
            "files": [asdict(f) for f in self.files.values()],
            "pending": self.pending, "next_update_id": self.next_update_id,
            "next_file_number": self.next_file_number,
            "next_chat_number": self.next_chat_number,
            "commands": self.commands, "allowed_updates": self.allowed_updates,
            "webhook": asdict(self.webhook),
        }

    def load_json(self, data: JSON, blobs: dict[str, bytes]) -> None:
        self._clear()
        self.users = {u["id"]: User(**u) for u in data.get("users", [])}
        self.chats = {c["id"]: Chat(**c) for c in data.get("chats", [])}
        self.messages = {chat_id: {} for chat_id in self.chats}
        for raw in data.get("messages", []):
            message = Message(**raw)
            self.messages[message.chat_id][message.message_id] = message
        self.files = {f["file_id"]: StoredFile(**f) for f in data.get("files", [])}
        self.blobs = blobs
        self.pending = list(data.get("pending", []))
        self.next_update_id = int(data.get("next_update_id", 1))
        self.next_file_number = int(data.get("next_file_number", 1))
        self.next_chat_number = int(data.get("next_chat_number", 1))
        self.commands = dict(data.get("commands", {}))
        self.allowed_updates = data.get("allowed_updates")
        self.webhook = Webhook(**data.get("webhook", {}))


class WorldStore:
    """Saves a world to a folder (``world.json`` plus ``files/<sha256>``), atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files = folder / "files"

    def save(self, world: World) -> None:
        self.files.mkdir(parents=True, exist_ok=True)
        for sha, data in world.blobs.items():
            target = self.files / sha
            if not target.exists():
                _atomic_write(target, data)
        payload = json.dumps(world.to_json(), ensure_ascii=False, indent=1).encode()
        _atomic_write(self.folder / "world.json", payload)
        world.dirty = False

    def load(self, world: World) -> bool:
        """Load a saved world; False when the folder holds none."""
        path = self.folder / "world.json"
        if not path.exists():
            return False
        data = json.loads(path.read_text(encoding="utf-8"))
        shas = {f["sha256"] for f in data.get("files", [])}
        blobs = {sha: (self.files / sha).read_bytes() for sha in shas
                 if (self.files / sha).exists()}
        world.load_json(data, blobs)
        return True


def _atomic_write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
