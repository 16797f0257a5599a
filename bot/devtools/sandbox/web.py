"""The sandbox's web chat page: static files and a small JSON API on loopback.

The page never talks to the emulator directly. Its actions go through here to the emulator's
control API (``/_emulator/...``), which checks them as Telegram would; the emulator's event
stream is bridged to the page's websocket, filtered and with file links rewritten. The clock
panel moves the simulated time (:class:`ClockPanel`) that the bot and the emulator both read.

Mutating requests must carry the ``X-Duban-Sandbox`` header (a cross-site form cannot send
it) and every request must name a loopback host (no DNS rebinding).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import mimetypes
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import BodyPartReader, ClientSession, WSMsgType, web

from bot.core.clock import FileClock, local_today
from bot.core.i18n import N_, Translator, get_translator, normalize_locale
from bot.devtools.emulator.client import EmulatorClient, EmulatorError
from bot.devtools.emulator.state import MAX_UPLOAD_BYTES
from bot.devtools.sandbox.seed import SandboxMeta
from bot.render.texts import FILE_TOO_LARGE
from bot.services.cases import open_states
from bot.services.dialogs import MAX_FILE_BYTES
from bot.services.health import HealthService
from models import queries
from models.db import create_engine, session_factory
from scheduler.rules import DEFAULT_ANNUAL_RULES

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_TEXT = 4096  # Telegram's limit for one message; longer texts are split, as clients do
MAX_TEXT_PARTS = 16
MAX_UPLOAD = MAX_UPLOAD_BYTES
CHUNK = 256 * 1024
PRESS_TIMEOUT = 15.0
SANDBOX_HEADER = "X-Duban-Sandbox"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
#: Emulator events the page cares about.
FORWARDED = frozenset({"message", "message_edited", "message_deleted", "chat_created",
                       "chat_updated", "member_joined", "member_left", "bot_status", "reset"})
IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a")
#: The bot's own answers to bad files, shown by the page for files it refuses to pass on
#: (the bot's evidence dialog says the same: bot.services.dialogs).
EMPTY_FILE = N_("The file is empty.")

JSON = dict[str, Any]


class PageError(Exception):
    """A refusal the page shows: a code its dictionary knows, and maybe the bot's words."""

    def __init__(self, status: int, code: str, message: str | None = None,
                 **params: Any) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.params = params

    def response(self) -> web.Response:
        body: JSON = {"error": self.code, "params": self.params}
        if self.message is not None:
            body["message"] = self.message
        return _json(body, status=self.status)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status,
                             dumps=lambda value: json.dumps(value, ensure_ascii=False))


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split a long text into messages of at most ``limit`` characters, preferring line
    breaks and spaces, as Telegram clients do."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = max(rest.rfind("\n", 0, limit), rest.rfind(" ", 0, limit))
        if cut < limit // 2:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return [part for part in parts if part]


def host_name(host: str) -> str:
    """``127.0.0.1:8080`` -> ``127.0.0.1``; ``[::1]:8080`` -> ``[::1]``."""
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _too_large(tr: Translator) -> str:
    """The bot's answer to a file over its limit, in ``tr``'s language."""
    return tr.gettext(FILE_TOO_LARGE, limit=MAX_FILE_BYTES // (1024 * 1024))


def looks_like_image(head: bytes) -> bool:
    return head.startswith(IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


# --------------------------------------------------------------------------- the clock panel


@dataclass
class ClockPanel:
    """Moves the simulated time forward: a day, a week, or to the next deadline."""

    clock: FileClock
    database_url: str
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _engine: Any = None

    def now(self) -> datetime:
        return self.clock.now().astimezone(self.clock.tz)

    async def view(self) -> JSON:
        """The simulated time, and when the bot's calendar last swept (None: not yet)."""
        now = self.now()
        last = (await HealthService(self._sessions(), self.clock).calendar()).last_success
        return {"now": now.isoformat(), "timezone": str(self.clock.tz),
                "epoch": int(now.timestamp()),
                "last_sweep": last.astimezone(self.clock.tz).isoformat() if last else None}

    def _sessions(self) -> Any:
        if self._engine is None:
            self._engine = create_engine(self.database_url)
        return session_factory(self._engine)

    async def move(self, action: str) -> JSON:
        async with self._lock:
            if action == "day":
                self.clock.advance(timedelta(days=1))
            elif action == "week":
                self.clock.advance(timedelta(days=7))
            elif action == "deadline":
                target = await self.next_deadline()
                if target is None:
                    raise PageError(409, "no_deadline")
                moment = datetime.combine(target, time(9), self.clock.tz)
                self.clock.set(max(moment, self.clock.now()))
            else:
                raise PageError(400, "bad_clock_action")
            return await self.view()

    async def next_deadline(self) -> date | None:
        """The first case deadline or yearly deadline after today."""
        today = local_today(self.clock)
        candidates = [d for d in await self._case_deadlines() if d > today]
        # The yearly duties about last year (the annual report is due next January), this
        # year and next: the first one after today is among them.
        for year in (today.year - 1, today.year, today.year + 1):
            candidates.extend(d for d in (rule.due(year) for rule in DEFAULT_ANNUAL_RULES)
                              if d > today)
        return min(candidates) if candidates else None

    async def _case_deadlines(self) -> list[date]:
        async with self._sessions()() as session:
            cases = await queries.list_cases(session, states=open_states())
        return [case.deadline for case in cases if case.deadline is not None]

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None


# --------------------------------------------------------------------------- live updates


class EventHub:
    """One connection to the emulator's event stream, fanned out to every open page."""

    def __init__(self, emulator_url: str, convert: Callable[[JSON], JSON | None],
                 on_event: Callable[[JSON], Awaitable[None]]) -> None:
        self.url = f"{emulator_url}/_emulator/ws"
        self.convert = convert
        self.on_event = on_event
        self.sockets: set[web.WebSocketResponse] = set()
        self._task: asyncio.Task[None] | None = None
        self._session: ClientSession | None = None

    def start(self) -> None:
        self._session = ClientSession()
        self._task = asyncio.create_task(self._run(), name="sandbox-events")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for socket in list(self.sockets):
            await socket.close()
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        assert self._session is not None
        while True:
            try:
                async with self._session.ws_connect(self.url, heartbeat=30) as upstream:
                    async for message in upstream:
                        if message.type != WSMsgType.TEXT:
                            break
                        await self._relay(json.loads(message.data))
            except (OSError, ValueError) as error:
                log.debug("emulator event stream interrupted: %s", error)
            await asyncio.sleep(0.5)  # reconnect after the emulator restarts

    async def _relay(self, event: JSON) -> None:
        await self.on_event(event)
        converted = self.convert(event)
        if converted is not None:
            await self.broadcast(converted)

    async def broadcast(self, event: JSON) -> None:
        data = json.dumps(event, ensure_ascii=False)
        for socket in list(self.sockets):
            try:
                await socket.send_str(data)
            except (ConnectionError, RuntimeError):
                self.sockets.discard(socket)


# --------------------------------------------------------------------------- the web app

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class SandboxWeb:
    """The page's server. ``start`` returns the address to open."""

    def __init__(self, emulator_url: str, meta: SandboxMeta, panel: ClockPanel) -> None:
        self.emulator_url = emulator_url.rstrip("/")
        self.meta = meta
        self.panel = panel
        self.bot_state = "starting"
        self.client = EmulatorClient(self.emulator_url)
        self.hub = EventHub(self.emulator_url, self.page_event, self._watch_bot)
        self.personas = {int(p["id"]): p for p in meta.personas}
        self._runner: web.AppRunner | None = None
        self.url = ""

    # ---- lifecycle

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=1024 * 1024)
        router = app.router
        router.add_get("/", self.index)
        router.add_static("/static/", STATIC_DIR, append_version=False)
        router.add_get("/api/world", self.world)
        router.add_get("/api/chats/{chat_id}/messages", self.messages)
        router.add_post("/api/chats/{chat_id}/messages", self.send_text)
        router.add_post("/api/chats/{chat_id}/files", self.send_file)
        router.add_post("/api/chats/{chat_id}/messages/{message_id}/press", self.press)
        router.add_get("/api/files/{file_id}", self.file)
        router.add_get("/api/clock", self.clock)
        router.add_post("/api/clock", self.move_clock)
        router.add_get("/api/ws", self.websocket)
        return app

    async def start(self, host: str, port: int) -> str:
        runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        bound_host, bound_port = self._runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.url = f"http://{shown}:{bound_port}/"
        self.hub.start()
        return self.url

    async def stop(self) -> None:
        await self.hub.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.client.close()
        await self.panel.close()

    async def set_bot_state(self, state: str) -> None:
        self.bot_state = state
        await self.hub.broadcast({"type": "bot", "state": state})

    async def _watch_bot(self, event: JSON) -> None:
        """The bot is up once it long-polls or takes its first update."""
        if self.bot_state != "running" and event.get("type") in ("polling", "update_delivered"):
            await self.set_bot_state("running")

    # ---- guard

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if host_name(request.host or "") not in LOOPBACK_HOSTS:
            return _json({"error": "forbidden_host"}, status=403)
        if request.method not in ("GET", "HEAD") and request.headers.get(SANDBOX_HEADER) != "1":
            return _json({"error": "missing_header"}, status=403)
        try:
            return await handler(request)
        except PageError as error:
            return error.response()
        except EmulatorError as error:
            return PageError(400 if error.status < 500 else 502, "refused",
                             error.message).response()

    # ---- helpers

    def _tr_locale(self, request: web.Request) -> str:
        return normalize_locale(request.headers.get("X-Duban-Lang")
                                or request.query.get("lang") or "zh")

    def _persona(self, value: Any) -> int:
        try:
            user_id = int(value)
        except (TypeError, ValueError):
            raise PageError(400, "unknown_persona") from None
        if user_id not in self.personas:
            raise PageError(400, "unknown_persona")
        return user_id

    @staticmethod
    def _int(value: Any, code: str) -> int:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise PageError(400, code) from None

    @staticmethod
    async def _body(request: web.Request) -> JSON:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            raise PageError(400, "bad_request") from None
        if not isinstance(body, dict):
            raise PageError(400, "bad_request")
        return body

    def bot_texts(self) -> JSON:
        """The bot's own words for files the page refuses to pass on, in both languages."""
        texts: JSON = {}
        for lang, locale in (("zh", "zh_CN"), ("en", "en")):
            tr = get_translator(locale)
            texts[lang] = {"empty_file": tr.gettext(EMPTY_FILE),
                           "file_too_large": _too_large(tr)}
        return texts

    # ---- converting emulator views for the page

    def page_message(self, view: JSON) -> JSON:
        files = []
        photo = view.get("photo") or []
        if photo:
            largest = photo[-1]
            files.append(self._page_file(largest, "photo"))
        if view.get("document"):
            files.append(self._page_file(view["document"], "document"))
        sender = view.get("from") or {}
        return {
            "chat_id": view["chat_id"], "message_id": view["message_id"],
            "from": {"id": sender.get("id"), "name": sender.get("first_name", ""),
                     "is_bot": bool(sender.get("is_bot"))},
            "from_bot": bool(view.get("from_bot")), "date": view.get("date"),
            "text": view.get("plain_text"), "reply_to": view.get("reply_to_message_id"),
            "buttons": _buttons(view.get("reply_markup")),
            "force_reply": bool((view.get("reply_markup") or {}).get("force_reply")),
            "service": _service(view.get("service")), "files": files,
            "edited": view.get("edit_date") is not None, "deleted": bool(view.get("deleted")),
        }

    @staticmethod
    def _page_file(data: JSON, kind: str) -> JSON:
        name = data.get("file_name") or ("photo.jpg" if kind == "photo" else "file")
        return {"file_id": data["file_id"], "kind": kind, "name": name,
                "size": data.get("file_size"), "mime": data.get("mime_type"),
                "width": data.get("width"), "height": data.get("height"),
                "url": f"/api/files/{quote(data['file_id'])}?name={quote(name)}"}

    def page_chat(self, view: JSON) -> JSON:
        known = {int(c["id"]): c for c in self.meta.chats}
        meta = known.get(int(view["id"]), {})
        private = view["type"] == "private"
        return {"id": view["id"], "type": view["type"],
                "title": BOT_TITLE if private else view.get("title"),
                "kind": "private" if private else meta.get("kind", "group"),
                "key": meta.get("key"), "members": view.get("members", []),
                "bot_status": view.get("bot_status")}

    def page_event(self, event: JSON) -> JSON | None:
        kind = event.get("type")
        if kind not in FORWARDED:
            return None
        if kind in ("message", "message_edited"):
            return {"type": kind, "chat_id": event["chat_id"],
                    "message": self.page_message(event["message"])}
        if kind == "message_deleted":
            return {"type": kind, "chat_id": event["chat_id"],
                    "message_id": event["message_id"]}
        return {"type": "chats_changed"}

    # ---- handlers

    async def index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "index.html",
                                headers={"Cache-Control": "no-store"})

    async def world(self, request: web.Request) -> web.Response:
        chats = [self.page_chat(c) for c in (await self.client.state())["chats"]]
        return _json({
            "bot": {"name": BOT_TITLE, "state": self.bot_state},
            "personas": list(self.personas.values()),
            "chats": chats, "clock": await self.panel.view(),
            "limits": {"text": MAX_TEXT, "text_parts": MAX_TEXT_PARTS, "upload": MAX_UPLOAD},
            "bot_texts": self.bot_texts(),
        })

    async def messages(self, request: web.Request) -> web.Response:
        chat_id = self._int(request.match_info["chat_id"], "unknown_chat")
        viewer = request.query.get("as")
        if viewer is not None:
            self._check_member(chat_id, self._persona(viewer), await self._chat(chat_id))
        found = await self.client.messages(chat_id)
        return _json([self.page_message(m.raw) for m in found])

    async def _chat(self, chat_id: int) -> JSON:
        try:
            return (await self.client.chat(chat_id)).raw
        except EmulatorError:
            raise PageError(404, "unknown_chat") from None

    @staticmethod
    def _check_member(chat_id: int, user_id: int, chat: JSON) -> None:
        members = chat.get("members") or []
        if (chat.get("type") == "private" and chat_id != user_id) or user_id not in members:
            raise PageError(403, "not_member")

    async def send_text(self, request: web.Request) -> web.Response:
        chat_id = self._int(request.match_info["chat_id"], "unknown_chat")
        body = await self._body(request)
        user_id = self._persona(body.get("user_id"))
        self._check_member(chat_id, user_id, await self._chat(chat_id))
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise PageError(400, "empty_text")
        parts = split_text(text.strip())
        if len(parts) > MAX_TEXT_PARTS:
            raise PageError(413, "text_too_long", limit=MAX_TEXT * MAX_TEXT_PARTS)
        reply_to = body.get("reply_to")
        sent = []
        for index, part in enumerate(parts):
            message = await self.client.send_text(
                user_id, chat_id, part,
                reply_to=self._int(reply_to, "bad_request") if reply_to and not index else None)
            sent.append(self.page_message(message.raw))
        return _json({"messages": sent})

    async def send_file(self, request: web.Request) -> web.Response:
        chat_id = self._int(request.match_info["chat_id"], "unknown_chat")
        tr = get_translator(self._tr_locale(request))
        if request.content_length and request.content_length > MAX_UPLOAD + CHUNK * 4:
            raise PageError(413, "file_too_large", _too_large(tr))
        upload = await _read_upload(request)
        user_id = self._persona(upload.fields.get("user_id"))
        self._check_member(chat_id, user_id, await self._chat(chat_id))
        if upload.too_large:
            raise PageError(413, "file_too_large", _too_large(tr))
        if not upload.data:
            raise PageError(400, "empty_file", tr.gettext(EMPTY_FILE))
        caption = (upload.fields.get("caption") or "").strip() or None
        if caption is not None and len(caption) > 1024:
            raise PageError(413, "caption_too_long", limit=1024)
        reply_raw = upload.fields.get("reply_to")
        reply_to = self._int(reply_raw, "bad_request") if reply_raw else None
        kind = upload.fields.get("kind", "document")
        if kind == "photo" and looks_like_image(upload.data[:16]):
            message = await self.client.send_photo(user_id, chat_id, upload.data, upload.name,
                                                   upload.mime, caption=caption,
                                                   reply_to=reply_to)
        else:  # not a picture: sent as a file, as Telegram clients do
            message = await self.client.send_document(user_id, chat_id, upload.data,
                                                      upload.name, upload.mime,
                                                      caption=caption, reply_to=reply_to)
        return _json({"messages": [self.page_message(message.raw)]})

    async def press(self, request: web.Request) -> web.Response:
        chat_id = self._int(request.match_info["chat_id"], "unknown_chat")
        message_id = self._int(request.match_info["message_id"], "bad_request")
        body = await self._body(request)
        user_id = self._persona(body.get("user_id"))
        data = body.get("data")
        if not isinstance(data, str) or not data:
            raise PageError(400, "bad_request")
        query_id = await self.client.press_nowait(user_id, chat_id, message_id, data=data)
        answer = await self.client.callback_answer(query_id, timeout=PRESS_TIMEOUT)
        if answer is None:
            return _json({"answered": False})
        return _json({"answered": True, "text": answer.text, "show_alert": answer.show_alert})

    async def file(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["file_id"]
        try:
            data = await self.client.download(file_id)
        except EmulatorError:
            raise PageError(404, "unknown_file") from None
        name = Path(request.query.get("name") or "file").name or "file"
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        disposition = "attachment" if request.query.get("download") else "inline"
        return web.Response(body=data, content_type=mime, headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
        })

    async def clock(self, request: web.Request) -> web.Response:
        return _json(await self.panel.view())

    async def move_clock(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        view = await self.panel.move(str(body.get("action", "")))
        await self.hub.broadcast({"type": "clock", **view})
        return _json(view)

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(heartbeat=30)
        await socket.prepare(request)
        # "hello" comes first: the socket joins the broadcasts only once it has been sent (the
        # clock's view reads the database, and a broadcast must not overtake it).
        hello = {"type": "hello", "clock": await self.panel.view(), "bot": self.bot_state}
        await socket.send_json(hello)
        self.hub.sockets.add(socket)
        try:
            async for message in socket:
                if message.type == WSMsgType.ERROR:
                    break
        finally:
            self.hub.sockets.discard(socket)
        return socket


BOT_TITLE = "督办"


def _buttons(markup: JSON | None) -> list[list[JSON]]:
    rows = (markup or {}).get("inline_keyboard") or []
    return [[{"text": b.get("text", ""), "data": b.get("callback_data"), "url": b.get("url")}
             for b in row] for row in rows]


def _service(service: JSON | None) -> JSON | None:
    if not service:
        return None
    joined: Iterable[Any] = service.get("new_chat_members") or []
    left = service.get("left_chat_member")
    return {"joined": list(joined), "left": left}


@dataclass
class Upload:
    fields: dict[str, str] = field(default_factory=dict)
    data: bytes = b""
    name: str = "file"
    mime: str = "application/octet-stream"
    too_large: bool = False


async def _read_upload(request: web.Request) -> Upload:
    """Read a multipart upload, streaming the file and stopping past the size limit."""
    upload = Upload()
    try:
        reader = await request.multipart()
    except (AssertionError, ValueError, KeyError):
        raise PageError(400, "bad_request") from None
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "file":
            await _read_file_part(part, upload)
        elif part.name:
            upload.fields[part.name] = (await part.read(decode=True)).decode(
                "utf-8", errors="replace")[:4096]
    return upload


async def _read_file_part(part: BodyPartReader, upload: Upload) -> None:
    upload.name = Path(part.filename or "file").name[:200] or "file"
    declared = part.headers.get("Content-Type", "")
    guessed = mimetypes.guess_type(upload.name)[0]
    upload.mime = (declared if declared and declared != "application/octet-stream"
                   else guessed or "application/octet-stream")
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(CHUNK):
        size += len(chunk)
        if size > MAX_UPLOAD:
            upload.too_large = True
            continue  # drain the rest so the answer reaches the browser
        chunks.append(chunk)
    upload.data = b"" if upload.too_large else b"".join(chunks)
