"""An async Python client of the emulator's control API, for tests and the sandbox.

People and chats are passed either as the objects this client returns or as plain ids. Waiting
is condition-based: :meth:`EmulatorClient.wait_for_message` long-polls the emulator's event log
and re-checks its predicate after every change, until it holds or the timeout passes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import ClientSession, FormData

JSON = dict[str, Any]
T = TypeVar("T")


class EmulatorError(Exception):
    """The control API refused a request."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True)
class EmUser:
    id: int
    first_name: str
    username: str | None = None
    language_code: str | None = None

    @classmethod
    def from_json(cls, data: JSON) -> EmUser:
        return cls(id=data["id"], first_name=data["first_name"], username=data.get("username"),
                   language_code=data.get("language_code"))


@dataclass(frozen=True)
class EmChat:
    id: int
    type: str
    title: str | None = None
    members: tuple[int, ...] = ()
    bot_status: str = "member"
    raw: JSON = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: JSON) -> EmChat:
        return cls(id=data["id"], type=data["type"], title=data.get("title"),
                   members=tuple(data.get("members", ())),
                   bot_status=data.get("bot_status", "member"), raw=data)


@dataclass(frozen=True)
class EmFile:
    file_id: str
    file_unique_id: str
    file_size: int
    download_url: str
    file_name: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class ChatMessage:
    """A message as the control API shows it: raw text (with markup) and what a reader sees."""

    chat_id: int
    message_id: int
    from_id: int
    from_bot: bool
    date: int
    text: str | None
    caption: str | None
    plain_text: str | None
    parse_mode: str | None
    reply_markup: JSON | None
    reply_to_message_id: int | None
    files: tuple[EmFile, ...]
    edits: tuple[JSON, ...]
    deleted: bool
    service: JSON | None
    raw: JSON = field(compare=False, repr=False)

    @property
    def body(self) -> str:
        """The visible text or caption ("" for media without caption and service messages)."""
        return self.plain_text or ""

    @property
    def buttons(self) -> list[JSON]:
        """Inline buttons, row by row flattened: ``{"text", "callback_data"|"url"...}``."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]

    @property
    def edited(self) -> bool:
        return bool(self.edits)


@dataclass(frozen=True)
class CallbackAnswer:
    """The bot's answer to a button press, as the person sees it."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    answered: bool
    data: str | None = None


UserRef = EmUser | int
ChatRef = EmChat | int


def _id(ref: EmUser | EmChat | int) -> int:
    return ref if isinstance(ref, int) else ref.id


class EmulatorClient:
    """``EmulatorClient(base_url)``; use as ``async with`` or call :meth:`close`."""

    def __init__(self, base_url: str, session: ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._owns_session = session is None

    async def __aenter__(self) -> EmulatorClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    def _http(self) -> ClientSession:
        if self._session is None:
            self._session = ClientSession()
            self._owns_session = True
        return self._session

    async def _request(self, method: str, path: str, *, json: Any = None,
                       data: FormData | None = None, params: JSON | None = None) -> Any:
        url = f"{self.base_url}/_emulator{path}"
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        async with self._http().request(method, url, json=json, data=data,
                                        params=query) as reply:
            body = await reply.json(content_type=None)
            if reply.status >= 400:
                raise EmulatorError(reply.status, str(body.get("error", body)))
            return body

    # ---- world

    async def state(self) -> JSON:
        result: JSON = await self._request("GET", "/state")
        return result

    async def bot(self) -> EmUser:
        return EmUser.from_json((await self.state())["bot"])

    async def reset(self) -> None:
        await self._request("POST", "/reset")

    async def events(self, since: int = 0, timeout: float = 0.0) -> tuple[int, list[JSON]]:
        """Events after ``since`` (waiting up to ``timeout`` for one) and the latest seq."""
        body = await self._request("GET", "/events", params={"since": since, "timeout": timeout})
        return int(body["seq"]), list(body["events"])

    async def create_user(self, first_name: str, *, id: int | None = None,
                          username: str | None = None, last_name: str | None = None,
                          language_code: str | None = None) -> EmUser:
        body = await self._request("POST", "/users", json={
            "id": id, "first_name": first_name, "username": username, "last_name": last_name,
            "language_code": language_code,
        })
        return EmUser.from_json(body)

    async def create_group(self, title: str, members: list[UserRef] | tuple[UserRef, ...] = (),
                           *, admins: list[UserRef] | tuple[UserRef, ...] = (),
                           chat_type: str = "group", id: int | None = None,
                           username: str | None = None, bot_status: str = "member") -> EmChat:
        """A group the bot is already in (``bot_status``); no update is produced. Create it with
        ``bot_status="left"`` and call :meth:`add_bot_to_group` to produce my_chat_member."""
        body = await self._request("POST", "/chats", json={
            "title": title, "members": [_id(m) for m in members],
            "admins": [_id(a) for a in admins], "type": chat_type, "id": id,
            "username": username, "bot_status": bot_status,
        })
        return EmChat.from_json(body)

    async def private_chat(self, user: UserRef, *, started: bool = False) -> EmChat:
        """The user's private chat with the bot; ``started`` as if the user had pressed Start."""
        body = await self._request("POST", "/chats/private",
                                   json={"user_id": _id(user), "started": started})
        return EmChat.from_json(body)

    async def chat(self, chat: ChatRef) -> EmChat:
        return EmChat.from_json(await self._request("GET", f"/chats/{_id(chat)}"))

    async def set_bot_status(self, chat: ChatRef, status: str,
                             by: UserRef | None = None) -> EmChat:
        body = await self._request("POST", f"/chats/{_id(chat)}/bot", json={
            "status": status, "by_user_id": _id(by) if by is not None else None,
        })
        return EmChat.from_json(body)

    async def add_bot_to_group(self, chat: ChatRef, by: UserRef | None = None, *,
                               admin: bool = False) -> EmChat:
        return await self.set_bot_status(chat, "administrator" if admin else "member", by)

    async def remove_bot_from_group(self, chat: ChatRef, by: UserRef | None = None, *,
                                    kicked: bool = True) -> EmChat:
        return await self.set_bot_status(chat, "kicked" if kicked else "left", by)

    async def add_member(self, chat: ChatRef, user: UserRef) -> ChatMessage:
        body = await self._request("POST", f"/chats/{_id(chat)}/members",
                                   json={"user_id": _id(user)})
        return self._message(body)

    async def remove_member(self, chat: ChatRef, user: UserRef) -> ChatMessage:
        body = await self._request("DELETE", f"/chats/{_id(chat)}/members/{_id(user)}")
        return self._message(body)

    async def block_bot(self, user: UserRef, blocked: bool = True) -> EmChat:
        body = await self._request("POST", f"/users/{_id(user)}/block", json={"blocked": blocked})
        return EmChat.from_json(body)

    # ---- acting as a person

    async def send_text(self, user: UserRef, chat: ChatRef, text: str, *,
                        reply_to: int | None = None) -> ChatMessage:
        body = await self._request("POST", f"/chats/{_id(chat)}/messages", json={
            "from_user_id": _id(user), "text": text, "reply_to_message_id": reply_to,
        })
        return self._message(body)

    async def send_document(self, user: UserRef, chat: ChatRef, data: bytes, filename: str,
                            mime: str = "application/octet-stream", *,
                            caption: str | None = None,
                            reply_to: int | None = None) -> ChatMessage:
        return await self._send_file(user, chat, "document", data, filename, mime, caption,
                                     reply_to)

    async def send_photo(self, user: UserRef, chat: ChatRef, data: bytes,
                         filename: str = "photo.jpg", mime: str = "image/jpeg", *,
                         caption: str | None = None,
                         reply_to: int | None = None) -> ChatMessage:
        return await self._send_file(user, chat, "photo", data, filename, mime, caption,
                                     reply_to)

    async def _send_file(self, user: UserRef, chat: ChatRef, kind: str, data: bytes,
                         filename: str, mime: str, caption: str | None,
                         reply_to: int | None) -> ChatMessage:
        form = FormData()
        form.add_field("from_user_id", str(_id(user)))
        form.add_field("kind", kind)
        if caption:
            form.add_field("caption", caption)
        if reply_to is not None:
            form.add_field("reply_to_message_id", str(reply_to))
        form.add_field("file", data, filename=filename, content_type=mime)
        body = await self._request("POST", f"/chats/{_id(chat)}/messages", data=form)
        return self._message(body)

    async def edit_text(self, user: UserRef, chat: ChatRef, message_id: int,
                        text: str) -> ChatMessage:
        body = await self._request("POST", f"/chats/{_id(chat)}/messages/{message_id}/edit",
                                   json={"from_user_id": _id(user), "text": text})
        return self._message(body)

    async def press_nowait(self, user: UserRef, chat: ChatRef, message_id: int,
                           data: str | None = None, text: str | None = None, *,
                           force: bool = False) -> str:
        """Press a button (by callback ``data`` or by button ``text``); returns the query id.
        ``force`` sends ``data`` even when no such button exists (a forged press)."""
        body = await self._request(
            "POST", f"/chats/{_id(chat)}/messages/{message_id}/press",
            json={"from_user_id": _id(user), "data": data, "text": text, "force": force},
        )
        return str(body["callback_query_id"])

    async def press(self, user: UserRef, chat: ChatRef, message_id: int,
                    data: str | None = None, text: str | None = None, *,
                    timeout: float = 5.0, force: bool = False) -> CallbackAnswer | None:
        """Press a button and wait for the bot's answerCallbackQuery; None if it never came."""
        query_id = await self.press_nowait(user, chat, message_id, data, text, force=force)
        return await self.callback_answer(query_id, timeout=timeout)

    async def callback_answer(self, query_id: str, *,
                              timeout: float = 5.0) -> CallbackAnswer | None:
        body = await self._request("GET", f"/callbacks/{query_id}", params={"timeout": timeout})
        return self._answer(body) if body["answered"] else None

    async def alerts(self, user: UserRef) -> list[CallbackAnswer]:
        """Every callback answer the user has received, oldest first."""
        body = await self._request("GET", f"/users/{_id(user)}/alerts")
        return [self._answer(item) for item in body]

    # ---- reading

    async def messages(self, chat: ChatRef, *, include_deleted: bool = False) -> list[ChatMessage]:
        body = await self._request("GET", f"/chats/{_id(chat)}/messages",
                                   params={"include_deleted": str(include_deleted).lower()})
        return [self._message(item) for item in body]

    async def message(self, chat: ChatRef, message_id: int) -> ChatMessage:
        return self._message(await self._request("GET", f"/chats/{_id(chat)}/messages/"
                                                        f"{message_id}"))

    async def wait_for_message(
        self, chat: ChatRef, predicate: Callable[[ChatMessage], bool] | None = None, *,
        timeout: float = 5.0, include_deleted: bool = False,
    ) -> ChatMessage:
        """The first message in ``chat`` matching ``predicate`` (default: any bot message),
        waiting for it up to ``timeout`` seconds. Edits count: the predicate sees current text.
        """
        check = predicate or (lambda message: message.from_bot)

        async def find() -> ChatMessage | None:
            found = await self.messages(chat, include_deleted=include_deleted)
            return next((m for m in found if check(m)), None)

        try:
            return await self.wait_until(find, timeout=timeout)
        except TimeoutError:
            seen = [(m.message_id, m.body[:60]) for m in await self.messages(chat)]
            raise TimeoutError(f"no matching message in chat {_id(chat)} within {timeout}s; "
                               f"messages: {seen}") from None

    async def wait_until(self, probe: Callable[[], Awaitable[T | None]], *,
                         timeout: float = 5.0) -> T:
        """Re-run ``probe`` after each change in the emulator until it returns a value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seq, _ = await self.events(since=1 << 62)
        while True:
            result = await probe()
            if result is not None:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            seq, _ = await self.events(since=seq, timeout=min(remaining, 30.0))

    async def wait_for_event(self, kind: str, predicate: Callable[[JSON], bool] | None = None,
                             *, since: int = 0, timeout: float = 5.0) -> JSON:
        """The first event of type ``kind`` after seq ``since`` (0: any still in the log)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            seq, events = await self.events(since=since, timeout=max(min(remaining, 30.0), 0))
            for event in events:
                if event["type"] == kind and (predicate is None or predicate(event)):
                    return event
            since = seq
            if loop.time() >= deadline:
                raise TimeoutError(f"no {kind!r} event within {timeout}s")

    async def updates(self) -> list[JSON]:
        """Every update produced: ``{"update", "delivered", "dropped"}``, oldest first."""
        result: list[JSON] = await self._request("GET", "/updates")
        return result

    async def bot_commands(self, *, scope: JSON | None = None,
                           language_code: str | None = None) -> list[JSON]:
        """Commands set with setMyCommands for one scope and language (default: default, "")."""
        wanted_scope = scope or {"type": "default"}
        for entry in await self.all_bot_commands():
            if entry["scope"] == wanted_scope and entry["language_code"] == (language_code or ""):
                return list(entry["commands"])
        return []

    async def all_bot_commands(self) -> list[JSON]:
        """Every stored command list: ``{"scope", "language_code", "commands"}``."""
        result: list[JSON] = await self._request("GET", "/commands")
        return result

    async def webhook_info(self) -> JSON:
        result: JSON = await self._request("GET", "/webhook")
        return result

    async def set_rate_limit(self, *, per_chat_per_minute: int | None = None,
                             global_per_second: int | None = None) -> None:
        """Switch Telegram-like sending limits on (``None`` turns a limit off)."""
        await self._request("PUT", "/rate_limit", json={
            "per_chat_per_minute": per_chat_per_minute, "global_per_second": global_per_second,
        })

    async def set_faults(self, rate: float, *, seed: int = 0,
                         methods: list[str] | tuple[str, ...] = (),
                         kinds: dict[str, float] | None = None, after: float = 0.5,
                         retry_after: int = 1, hang: float = 6.0) -> JSON:
        """Make a share ``rate`` of the bot's sending calls (or of ``methods``) fail; ``rate=0``
        switches faults off. See :class:`bot.devtools.emulator.faults.FaultPlan`."""
        body: JSON = {"rate": rate, "seed": seed, "methods": list(methods), "after": after,
                      "retry_after": retry_after, "hang": hang}
        if kinds is not None:
            body["kinds"] = kinds
        result: JSON = await self._request("PUT", "/faults", json=body)
        return result

    async def faults(self) -> JSON:
        """The fault plan, the calls it saw and every fault injected (``faults``)."""
        result: JSON = await self._request("GET", "/faults")
        return result

    async def limits(self) -> JSON:
        """Telegram's limits checked against every accepted message: peaks and violations."""
        result: JSON = await self._request("GET", "/limits")
        return result

    async def reset_limits(self) -> None:
        await self._request("DELETE", "/limits")

    async def download(self, file: EmFile | str) -> bytes:
        url = file.download_url if isinstance(file, EmFile) else (
            f"{self.base_url}/_emulator/files/{file}")
        async with self._http().get(url) as reply:
            if reply.status >= 400:
                raise EmulatorError(reply.status, await reply.text())
            return await reply.read()

    # ---- decoding

    def _file(self, data: JSON) -> EmFile:
        return EmFile(file_id=data["file_id"], file_unique_id=data["file_unique_id"],
                      file_size=data["file_size"],
                      download_url=f"{self.base_url}{data['download_url']}",
                      file_name=data.get("file_name"), mime_type=data.get("mime_type"),
                      width=data.get("width"), height=data.get("height"))

    def _message(self, data: JSON) -> ChatMessage:
        return ChatMessage(
            chat_id=data["chat_id"], message_id=data["message_id"], from_id=data["from"]["id"],
            from_bot=data["from_bot"], date=data["date"], text=data.get("text"),
            caption=data.get("caption"), plain_text=data.get("plain_text"),
            parse_mode=data.get("parse_mode"), reply_markup=data.get("reply_markup"),
            reply_to_message_id=data.get("reply_to_message_id"),
            files=tuple(self._file(f) for f in data.get("files", [])),
            edits=tuple(data.get("edits", [])), deleted=data["deleted"],
            service=data.get("service"), raw=data,
        )

    @staticmethod
    def _answer(data: JSON) -> CallbackAnswer:
        return CallbackAnswer(callback_query_id=data["callback_query_id"], text=data.get("text"),
                              show_alert=bool(data.get("show_alert")), url=data.get("url"),
                              answered=bool(data.get("answered")), data=data.get("data"))
