"""HTTP in front of a :class:`~bot.devtools.emulator.state.World`.

* ``/bot<token>/<method>``: the Bot API, answering as Telegram does;
* ``/file/bot<token>/<file_path>``: file downloads for ``getFile`` paths;
* ``/_emulator/...``: the control API (JSON) for tests and the sandbox's web page;
* ``/_emulator/ws``: a websocket pushing every change as a JSON event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aiohttp import ClientError, ClientSession, ClientTimeout, WSMsgType, web
from multidict import MultiDictProxy

from bot.devtools.emulator.client import EmulatorClient
from bot.devtools.emulator.faults import Fault, FaultPlan, FaultPlanError
from bot.devtools.emulator.state import (
    JSON,
    MAX_DOWNLOAD_BYTES,
    MAX_UPLOAD_BYTES,
    ApiError,
    RateLimit,
    Upload,
    Webhook,
    World,
    WorldStore,
    bad_request,
)

LOGGER = logging.getLogger(__name__)

CHAT_ACTIONS = frozenset({
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note",
    "upload_video_note",
})

WORLD_KEY = web.AppKey("world", World)
#: What Telegram's front end answers when the Bot API behind it is down.
BAD_GATEWAY = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
               "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
               "</body>\r\n</html>\r\n")


# --------------------------------------------------------------------------- parameters


class Params:
    """A Bot API call's parameters, whichever way they were encoded.

    Form encodings (what PTB sends) carry every value as a string, with nested objects as JSON
    text; JSON bodies carry native values. The typed getters accept both.
    """

    def __init__(self, values: Mapping[str, Any], uploads: Mapping[str, Upload]) -> None:
        self.values = dict(values)
        self.uploads = dict(uploads)

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(f"{name} is empty")
            return None if value is None else ""
        return value if isinstance(value, str) else str(value)

    def integer(self, name: str, *, required: bool = False) -> int | None:
        value = self.values.get(name)
        if value in (None, ""):
            if required:
                raise bad_request(f"{name} is empty")
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def number(self, name: str) -> float | None:
        value = self.values.get(name)
        if value in (None, ""):
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def boolean(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def obj(self, name: str) -> Any:
        """A nested object: decoded from JSON text when it arrived as a string."""
        value = self.values.get(name)
        if isinstance(value, str):
            if not value:
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {name} JSON object") from None
        return value

    def chat_ref(self) -> int | str:
        value = self.values.get("chat_id")
        if value in (None, ""):
            raise bad_request("chat_id is empty")
        if isinstance(value, str) and not value.startswith("@"):
            try:
                return int(value)
            except ValueError:
                raise bad_request("chat not found") from None
        return value if isinstance(value, str) else int(value)


async def read_params(request: web.Request) -> Params:
    values: dict[str, Any] = dict(request.query)
    uploads: dict[str, Upload] = {}
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if not isinstance(body, dict):
                raise bad_request("request body must be a JSON object")
            values.update(body)
        else:
            form: MultiDictProxy[Any] = await request.post()
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    uploads[name] = Upload(value.file.read(), _filename(value.filename),
                                           value.content_type)
                else:
                    values[name] = value
    return Params(values, uploads)


def _filename(raw: str) -> str:
    """aiohttp clients percent-encode non-ASCII file names; browsers and httpx send UTF-8."""
    if raw.isascii() and re.search(r"%[0-9A-Fa-f]{2}", raw):
        return unquote(raw)
    return raw


# --------------------------------------------------------------------------- the Bot API

BotMethod = Callable[[Params], Awaitable[Any]]


class BotApi:
    """One coroutine per Bot API method; each returns the ``result`` or raises ApiError."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.methods: dict[str, BotMethod] = {
            "getme": self.get_me, "getupdates": self.get_updates,
            "setwebhook": self.set_webhook, "deletewebhook": self.delete_webhook,
            "getwebhookinfo": self.get_webhook_info, "sendmessage": self.send_message,
            "sendphoto": self.send_photo, "senddocument": self.send_document,
            "editmessagetext": self.edit_message_text,
            "editmessagecaption": self.edit_message_caption,
            "editmessagereplymarkup": self.edit_message_reply_markup,
            "deletemessage": self.delete_message,
            "answercallbackquery": self.answer_callback_query, "getfile": self.get_file,
            "sendchataction": self.send_chat_action, "setmycommands": self.set_my_commands,
            "getmycommands": self.get_my_commands, "deletemycommands": self.delete_my_commands,
            "getchat": self.get_chat, "getchatmember": self.get_chat_member,
            "leavechat": self.leave_chat, "setchatmenubutton": self.set_chat_menu_button,
            "getchatmenubutton": self.get_chat_menu_button, "close": self.accept,
            "logout": self.accept,
        }

    async def call(self, method: str, params: Params) -> Any:
        handler = self.methods.get(method.lower())
        if handler is None:
            raise ApiError(404, "Not Found")
        return await handler(params)

    async def accept(self, params: Params) -> bool:
        return True

    async def get_me(self, params: Params) -> JSON:
        return {**self.world.bot.to_api(), "can_join_groups": True,
                "can_read_all_group_messages": not self.world.privacy_mode,
                "supports_inline_queries": False, "can_connect_to_business": False,
                "has_main_web_app": False}

    # ---- updates

    async def get_updates(self, params: Params) -> list[JSON]:
        """Long polling: confirm below ``offset``, then wait up to ``timeout`` for updates. A
        newer getUpdates call ends an older one with 409, as on Telegram."""
        world = self.world
        self._refuse_while_webhook()
        limit = min(max(params.integer("limit") or 100, 1), 100)
        timeout = max(params.number("timeout") or 0.0, 0.0)
        world.set_allowed_updates(params.obj("allowed_updates"))
        world.confirm_updates(params.integer("offset") or 0)
        world.poll_generation += 1
        generation = world.poll_generation
        if timeout > 0 and not world.pending:
            # Not a change of the world (nothing to save), but the web page and tests like to
            # know that the bot is waiting.
            world.notify("polling", generation=generation)
        world.changed.fire()  # ends an older long poll
        await world.changed.wait_for(
            lambda: bool(world.pending) or world.closing or bool(world.webhook.url)
            or world.poll_generation != generation,
            timeout,
        )
        if world.poll_generation != generation:
            raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure "
                                "that only one bot instance is running")
        self._refuse_while_webhook()
        updates = world.pending[:limit]
        world.mark_delivered(updates)
        return updates

    def _refuse_while_webhook(self) -> None:
        if self.world.webhook.url:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is "
                                "active; use deleteWebhook to delete the webhook first")

    async def set_webhook(self, params: Params) -> bool:
        self.world.set_webhook(
            params.text("url") or "", secret_token=params.text("secret_token"),
            drop_pending=params.boolean("drop_pending_updates"),
            allowed_updates=params.obj("allowed_updates"),
            max_connections=params.integer("max_connections"),
        )
        return True

    async def delete_webhook(self, params: Params) -> bool:
        self.world.set_webhook("", secret_token=None,
                               drop_pending=params.boolean("drop_pending_updates"),
                               allowed_updates=None, max_connections=None)
        return True

    async def get_webhook_info(self, params: Params) -> JSON:
        return self.world.webhook_info()

    # ---- sending

    def _reply(self, params: Params) -> JSON | None:
        reply = params.obj("reply_parameters")
        if isinstance(reply, dict) and "message_id" in reply:
            return reply
        message_id = params.integer("reply_to_message_id")
        if message_id is None:
            return None
        return {"message_id": message_id,
                "allow_sending_without_reply": params.boolean("allow_sending_without_reply")}

    async def send_message(self, params: Params) -> JSON:
        chat_ref = params.chat_ref()
        message = self.world.bot_send(
            chat_ref, text=params.text("text") or "", parse_mode=params.text("parse_mode"),
            entities=params.obj("entities"), reply=self._reply(params),
            reply_markup=params.obj("reply_markup"),
        )
        return self.world.message_api(message)

    async def send_photo(self, params: Params) -> JSON:
        return await self._send_media(params, "photo")

    async def send_document(self, params: Params) -> JSON:
        return await self._send_media(params, "document")

    async def _send_media(self, params: Params, kind: str) -> JSON:
        chat_ref = params.chat_ref()
        self.world.resolve_chat(chat_ref)
        media = self._media(params, kind)
        message = self.world.bot_send(
            chat_ref, caption=params.text("caption"), parse_mode=params.text("parse_mode"),
            entities=params.obj("caption_entities"), reply=self._reply(params),
            reply_markup=params.obj("reply_markup"), media=media,
        )
        return self.world.message_api(message)

    def _media(self, params: Params, kind: str) -> JSON:
        """An uploaded file (multipart field, or ``attach://name``) or an existing file_id."""
        reference = params.text(kind)
        upload = params.uploads.get(kind)
        if reference and reference.startswith("attach://"):
            upload = params.uploads.get(reference.removeprefix("attach://"))
        if upload is not None:
            return self.world.store_upload(upload, kind)
        if not reference:
            raise bad_request(f"there is no {kind} in the request")
        if reference.startswith(("http://", "https://")):
            raise bad_request("failed to get HTTP URL content")
        stored = self.world.file(reference)
        if stored.kind != kind:
            raise bad_request(f"can't use file of type {stored.kind.title()} as "
                              f"{kind.title()}")
        if kind == "document":
            return {"document": stored.file_id}
        siblings = [f.file_id for f in self.world.files.values()
                    if f.sha256 == stored.sha256 and f.kind == "photo"]
        return {"photo": siblings or [stored.file_id]}

    async def edit_message_text(self, params: Params) -> JSON:
        self._refuse_inline(params)
        message = self.world.bot_edit(
            params.chat_ref(), params.integer("message_id"), text=params.text("text") or "",
            parse_mode=params.text("parse_mode"), entities=params.obj("entities"),
            reply_markup=params.obj("reply_markup"),
        )
        return self.world.message_api(message)

    async def edit_message_caption(self, params: Params) -> JSON:
        self._refuse_inline(params)
        message = self.world.bot_edit(
            params.chat_ref(), params.integer("message_id"), caption=params.text("caption"),
            parse_mode=params.text("parse_mode"), entities=params.obj("caption_entities"),
            reply_markup=params.obj("reply_markup"),
        )
        return self.world.message_api(message)

    async def edit_message_reply_markup(self, params: Params) -> JSON:
        self._refuse_inline(params)
        message = self.world.bot_edit(
            params.chat_ref(), params.integer("message_id"),
            reply_markup=params.obj("reply_markup"), markup_only=True,
        )
        return self.world.message_api(message)

    @staticmethod
    def _refuse_inline(params: Params) -> None:
        if params.has("inline_message_id"):
            raise bad_request("inline messages are not supported by the emulator")

    async def delete_message(self, params: Params) -> bool:
        self.world.bot_delete(params.chat_ref(), params.integer("message_id", required=True))
        return True

    async def answer_callback_query(self, params: Params) -> bool:
        self.world.answer_callback(
            params.text("callback_query_id", required=True) or "",
            text=params.text("text"), show_alert=params.boolean("show_alert"),
            url=params.text("url"),
        )
        return True

    async def send_chat_action(self, params: Params) -> bool:
        action = params.text("action", required=True) or ""
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self.world.chat_action(params.chat_ref(), action)
        return True

    # ---- files

    async def get_file(self, params: Params) -> JSON:
        stored = self.world.file(params.text("file_id", required=True) or "")
        if stored.file_size > MAX_DOWNLOAD_BYTES:
            raise bad_request("file is too big")
        return stored.to_file()

    # ---- commands

    async def set_my_commands(self, params: Params) -> bool:
        self.world.set_commands(params.obj("commands"), params.obj("scope"),
                                params.text("language_code"))
        return True

    async def get_my_commands(self, params: Params) -> list[JSON]:
        return self.world.get_commands(params.obj("scope"), params.text("language_code"))

    async def delete_my_commands(self, params: Params) -> bool:
        self.world.set_commands([], params.obj("scope"), params.text("language_code"))
        return True

    # ---- chats

    async def get_chat(self, params: Params) -> JSON:
        chat = self.world.resolve_chat(params.chat_ref())
        return {**chat.to_api(), "accent_color_id": 0, "max_reaction_count": 11,
                "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False,
                                        "unique_gifts": False, "premium_subscription": False,
                                        "gifts_from_channels": False}}

    async def get_chat_member(self, params: Params) -> JSON:
        chat = self.world.resolve_chat(params.chat_ref())
        return self.world.chat_member(chat, params.integer("user_id", required=True) or 0)

    async def leave_chat(self, params: Params) -> bool:
        self.world.bot_leave(params.chat_ref())
        return True

    async def set_chat_menu_button(self, params: Params) -> bool:
        button = params.obj("menu_button") or {"type": "default"}
        if params.has("chat_id"):
            chat = self.world.resolve_chat(params.chat_ref())
            chat.menu_button = button
        return True

    async def get_chat_menu_button(self, params: Params) -> JSON:
        if params.has("chat_id"):
            chat = self.world.resolve_chat(params.chat_ref())
            return chat.menu_button or {"type": "default"}
        return {"type": "default"}


# --------------------------------------------------------------------------- the server


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda v: json.dumps(v,
                                                                              ensure_ascii=False))


def _control_error(error: ApiError) -> web.Response:
    return _json({"error": error.description}, status=error.code)


class EmulatorServer:
    """The aiohttp application around one world; optional persistence to ``store``.

    Webhook deliveries are retried ``webhook_attempts`` times with doubling delays starting at
    ``webhook_retry_delay`` seconds, then the update is dropped (as Telegram eventually does).
    """

    def __init__(self, world: World, *, store: WorldStore | None = None,
                 webhook_retry_delay: float = 0.5, webhook_attempts: int = 5) -> None:
        self.world = world
        self.store = store
        self.api = BotApi(world)
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_attempts = webhook_attempts
        self.base_url = ""
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._sockets: set[web.WebSocketResponse] = set()
        if store is not None:
            store.load(world)

    # ---- lifecycle

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app[WORLD_KEY] = self.world
        app.router.add_route("*", "/bot{token}/{method}", self.handle_bot_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self.handle_file)
        self._add_control_routes(app.router)
        app.on_startup.append(self._on_startup)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.make_app(), shutdown_timeout=2.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self.base_url = f"http://{bound_host}:{bound_port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _on_startup(self, app: web.Application) -> None:
        self.world.closing = False
        self._tasks = [asyncio.create_task(self._deliver_webhooks())]
        if self.store is not None:
            self._tasks.append(asyncio.create_task(self._save_changes()))

    async def _on_shutdown(self, app: web.Application) -> None:
        self.world.close()
        for socket in list(self._sockets):
            await socket.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.store is not None:
            self.store.save(self.world)

    # ---- Bot API

    async def handle_bot_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.world.token:
            return _json(ApiError(401, "Unauthorized").to_json(), status=401)
        method = request.match_info["method"]
        fault: Fault | None = None
        try:
            params = await read_params(request)
            fault = self.world.faults.draw(method)
            if fault is not None and not fault.after:
                return await self._inject(request, fault, method, params, None)
            result = await self.api.call(method, params)
        except ApiError as error:
            return _json(error.to_json(), status=error.code)
        except ConnectionResetError:  # the caller went away mid-request (a bot killed -9)
            return web.Response(status=499)
        if fault is not None:
            return await self._inject(request, fault, method, params, result)
        return _json({"ok": True, "result": result})

    async def _inject(self, request: web.Request, fault: Fault, method: str, params: Params,
                      result: Any) -> web.Response:
        """Answer with the fault instead of the result (which, "after", took effect)."""
        message_id = result.get("message_id") if isinstance(result, dict) else None
        self.world.faults.record(fault, method, params.values.get("chat_id"), message_id)
        self.world.notify("fault", method=method, fault=fault.kind, phase=fault.phase,
                          message_id=message_id)
        plan = self.world.faults.plan
        if fault.kind == "429":
            error = ApiError(429, f"Too Many Requests: retry after {plan.retry_after}",
                             {"retry_after": plan.retry_after})
            return _json(error.to_json(), status=429)
        if fault.kind == "500":
            return _json(ApiError(500, "Internal Server Error").to_json(), status=500)
        if fault.kind == "502":
            return web.Response(status=502, content_type="text/html", text=BAD_GATEWAY)
        if fault.kind == "timeout":  # hold the answer past the client's timeout
            await self.world.changed.wait_for(lambda: self.world.closing, plan.hang)
        if request.transport is not None:  # timeout or drop: no answer at all
            request.transport.abort()
        return web.Response(status=504)  # never reaches the client

    async def handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.world.token:
            return _json(ApiError(401, "Unauthorized").to_json(), status=401)
        stored = self.world.file_by_path(request.match_info["path"])
        if stored is None:
            return _json(ApiError(404, "Not Found").to_json(), status=404)
        return self._file_response(stored.file_id)

    def _file_response(self, file_id: str) -> web.Response:
        stored = self.world.file(file_id)
        content_type = stored.mime_type or ("image/jpeg" if stored.kind == "photo"
                                            else "application/octet-stream")
        return web.Response(body=self.world.file_bytes(stored), content_type=content_type)

    # ---- webhook delivery

    async def _deliver_webhooks(self) -> None:
        world = self.world
        async with ClientSession(timeout=ClientTimeout(total=10)) as session:
            attempts = 0
            while not world.closing:
                await world.changed.wait_for(
                    lambda: world.closing or (bool(world.webhook.url) and bool(world.pending)),
                    None,
                )
                if world.closing:
                    return
                hook, update = world.webhook, world.pending[0]
                error = await self._post_update(session, update)
                if error is None:
                    attempts = 0
                    if world.pending and world.pending[0] is update:
                        world.pending.pop(0)
                    world.mark_delivered([update])
                    continue
                attempts += 1
                hook.last_error_date, hook.last_error_message = world.now(), error
                if attempts >= self.webhook_attempts:
                    attempts = 0
                    if world.pending and world.pending[0] is update:
                        world.pending.pop(0)
                    world.notify("update_dropped", update=update, error=error)
                    continue
                delay = self.webhook_retry_delay * 2 ** (attempts - 1)
                # Back off, but wake at once if the webhook changes or the server stops.
                await world.changed.wait_for(self._webhook_replaced(hook), delay)

    def _webhook_replaced(self, hook: Webhook) -> Callable[[], bool]:
        return lambda: self.world.closing or self.world.webhook is not hook

    async def _post_update(self, session: ClientSession, update: JSON) -> str | None:
        hook = self.world.webhook
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        try:
            async with session.post(hook.url, data=json.dumps(update), headers=headers) as reply:
                if 200 <= reply.status < 300:
                    return None
                return f"Wrong response from the webhook: {reply.status} {reply.reason}"
        except (ClientError, TimeoutError) as error:
            return f"Connection failed: {error!r}"

    # ---- persistence

    async def _save_changes(self) -> None:
        world = self.world
        assert self.store is not None
        while not world.closing:
            await world.changed.wait_for(lambda: world.dirty or world.closing, None)
            if world.dirty:
                self.store.save(world)

    # ---- control API

    def _add_control_routes(self, router: web.UrlDispatcher) -> None:
        routes: list[tuple[str, str, Callable[[web.Request], Awaitable[Any]]]] = [
            ("GET", "/state", self.c_state),
            ("POST", "/reset", self.c_reset),
            ("GET", "/events", self.c_events),
            ("GET", "/users", self.c_users),
            ("POST", "/users", self.c_create_user),
            ("GET", "/users/{user_id}/alerts", self.c_alerts),
            ("POST", "/users/{user_id}/block", self.c_block),
            ("GET", "/chats", self.c_chats),
            ("POST", "/chats", self.c_create_group),
            ("POST", "/chats/private", self.c_private_chat),
            ("GET", "/chats/{chat_id}", self.c_chat),
            ("POST", "/chats/{chat_id}/bot", self.c_bot_status),
            ("POST", "/chats/{chat_id}/members", self.c_add_member),
            ("DELETE", "/chats/{chat_id}/members/{user_id}", self.c_remove_member),
            ("GET", "/chats/{chat_id}/messages", self.c_messages),
            ("POST", "/chats/{chat_id}/messages", self.c_send),
            ("GET", "/chats/{chat_id}/messages/{message_id}", self.c_message),
            ("POST", "/chats/{chat_id}/messages/{message_id}/edit", self.c_edit),
            ("POST", "/chats/{chat_id}/messages/{message_id}/press", self.c_press),
            ("GET", "/callbacks/{query_id}", self.c_callback),
            ("GET", "/updates", self.c_updates),
            ("GET", "/commands", self.c_commands),
            ("GET", "/webhook", self.c_webhook),
            ("GET", "/rate_limit", self.c_rate_limit),
            ("PUT", "/rate_limit", self.c_set_rate_limit),
            ("GET", "/files/{file_id}", self.c_file),
            ("GET", "/faults", self.c_faults),
            ("PUT", "/faults", self.c_set_faults),
            ("GET", "/limits", self.c_limits),
            ("DELETE", "/limits", self.c_reset_limits),
        ]
        for method, path, handler in routes:
            router.add_route(method, f"/_emulator{path}", self._control(handler))
        router.add_get("/_emulator/ws", self.c_websocket)

    def _control(
        self, handler: Callable[[web.Request], Awaitable[Any]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                result = await handler(request)
            except ApiError as error:
                return _control_error(error)
            except (KeyError, ValueError, TypeError) as error:
                return _json({"error": f"bad request: {error}"}, status=400)
            if isinstance(result, web.StreamResponse):
                return result
            return _json(result)
        return wrapped

    @staticmethod
    async def _body(request: web.Request) -> JSON:
        if not request.can_read_body:
            return {}
        body = await request.json()
        if not isinstance(body, dict):
            raise bad_request("request body must be a JSON object")
        return body

    @staticmethod
    def _int(request: web.Request, name: str) -> int:
        return int(request.match_info[name])

    async def c_state(self, request: web.Request) -> JSON:
        world = self.world
        return {"seq": world.events.seq, "bot": world.bot.to_api(), "token_id": world.bot.id,
                "users": [u.to_api() for u in world.users.values()],
                "chats": [world.chat_view(c) for c in world.chats.values()],
                "webhook": world.webhook_info(), "rate_limit": asdict(world.limiter.config),
                "privacy_mode": world.privacy_mode, "faults": world.faults.plan.to_json()}

    async def c_reset(self, request: web.Request) -> JSON:
        self.world.reset()
        return {"ok": True}

    async def c_events(self, request: web.Request) -> JSON:
        """Events after ``since``; waits up to ``timeout`` seconds for the first one."""
        world = self.world
        since = int(request.query.get("since", "0"))
        timeout = min(float(request.query.get("timeout", "0")), 60.0)
        await world.changed.wait_for(lambda: world.events.seq > since or world.closing, timeout)
        return {"seq": world.events.seq, "events": world.events.since(since)}

    async def c_users(self, request: web.Request) -> list[JSON]:
        return [u.to_api() for u in self.world.users.values()]

    async def c_create_user(self, request: web.Request) -> JSON:
        body = await self._body(request)
        user = self.world.create_user(
            str(body["first_name"]), user_id=body.get("id"), username=body.get("username"),
            last_name=body.get("last_name"), language_code=body.get("language_code"),
        )
        return user.to_api()

    async def c_alerts(self, request: web.Request) -> list[JSON]:
        user_id = self._int(request, "user_id")
        return [a.to_json() for a in self.world.alerts_for(user_id)]

    async def c_block(self, request: web.Request) -> JSON:
        body = await self._body(request)
        chat = self.world.block_bot(self._int(request, "user_id"), bool(body.get("blocked", True)))
        return self.world.chat_view(chat)

    async def c_chats(self, request: web.Request) -> list[JSON]:
        return [self.world.chat_view(c) for c in self.world.chats.values()]

    async def c_create_group(self, request: web.Request) -> JSON:
        body = await self._body(request)
        chat = self.world.create_group(
            str(body["title"]), [int(m) for m in body.get("members", [])],
            chat_type=body.get("type", "group"), chat_id=body.get("id"),
            admins=[int(a) for a in body.get("admins", [])], username=body.get("username"),
            bot_status=body.get("bot_status", "member"),
        )
        return self.world.chat_view(chat)

    async def c_private_chat(self, request: web.Request) -> JSON:
        body = await self._body(request)
        chat = self.world.private_chat(int(body["user_id"]), started=bool(body.get("started")))
        return self.world.chat_view(chat)

    async def c_chat(self, request: web.Request) -> JSON:
        return self.world.chat_view(self.world.chat(self._int(request, "chat_id")))

    async def c_bot_status(self, request: web.Request) -> JSON:
        body = await self._body(request)
        by = body.get("by_user_id")
        chat = self.world.set_bot_status(self._int(request, "chat_id"), str(body["status"]),
                                         by_user_id=int(by) if by is not None else None)
        return self.world.chat_view(chat)

    async def c_add_member(self, request: web.Request) -> JSON:
        body = await self._body(request)
        message = self.world.add_member(self._int(request, "chat_id"), int(body["user_id"]))
        return self.world.message_view(message)

    async def c_remove_member(self, request: web.Request) -> JSON:
        message = self.world.remove_member(self._int(request, "chat_id"),
                                           self._int(request, "user_id"))
        return self.world.message_view(message)

    async def c_messages(self, request: web.Request) -> list[JSON]:
        include_deleted = request.query.get("include_deleted", "true").lower() != "false"
        messages = self.world.chat_messages(self._int(request, "chat_id"), include_deleted)
        return [self.world.message_view(m) for m in messages]

    async def c_message(self, request: web.Request) -> JSON:
        message = self.world.message(self._int(request, "chat_id"),
                                     self._int(request, "message_id"))
        return self.world.message_view(message)

    async def c_send(self, request: web.Request) -> JSON:
        """A person writes: JSON ``{from_user_id, text, reply_to_message_id}``, or multipart with
        ``from_user_id``, ``kind`` (photo/document), optional ``caption`` and a ``file`` part."""
        chat_id = self._int(request, "chat_id")
        if request.content_type == "multipart/form-data":
            params = await read_params(request)
            upload = params.uploads.get("file")
            if upload is None:
                raise bad_request("multipart message needs a file part")
            message = self.world.user_send(
                params.integer("from_user_id", required=True) or 0, chat_id,
                text=params.text("caption"), upload=upload, kind=params.text("kind") or "document",
                reply_to_message_id=params.integer("reply_to_message_id"),
            )
        else:
            body = await self._body(request)
            reply_to = body.get("reply_to_message_id")
            message = self.world.user_send(
                int(body["from_user_id"]), chat_id, text=str(body.get("text") or ""),
                reply_to_message_id=int(reply_to) if reply_to is not None else None,
            )
        return self.world.message_view(message)

    async def c_edit(self, request: web.Request) -> JSON:
        body = await self._body(request)
        message = self.world.user_edit(int(body["from_user_id"]), self._int(request, "chat_id"),
                                       self._int(request, "message_id"), str(body["text"]))
        return self.world.message_view(message)

    async def c_press(self, request: web.Request) -> JSON:
        body = await self._body(request)
        answer = self.world.press(
            int(body["from_user_id"]), self._int(request, "chat_id"),
            self._int(request, "message_id"), data=body.get("data"), text=body.get("text"),
            force=bool(body.get("force")),
        )
        return answer.to_json()

    async def c_callback(self, request: web.Request) -> JSON:
        """The bot's answer to a press; waits up to ``timeout`` seconds for it."""
        world = self.world
        query_id = request.match_info["query_id"]
        answer = world.answers.get(query_id)
        if answer is None:
            raise ApiError(404, f"callback query {query_id} not found")
        timeout = min(float(request.query.get("timeout", "0")), 60.0)
        await world.changed.wait_for(lambda: answer.answered or world.closing, timeout)
        return answer.to_json()

    async def c_updates(self, request: web.Request) -> list[JSON]:
        return list(self.world.update_log)

    async def c_commands(self, request: web.Request) -> list[JSON]:
        return list(self.world.commands.values())

    async def c_webhook(self, request: web.Request) -> JSON:
        return self.world.webhook_info()

    async def c_rate_limit(self, request: web.Request) -> JSON:
        return asdict(self.world.limiter.config)

    async def c_set_rate_limit(self, request: web.Request) -> JSON:
        body = await self._body(request)
        config = RateLimit(per_chat_per_minute=body.get("per_chat_per_minute"),
                           global_per_second=body.get("global_per_second"))
        self.world.limiter.configure(config)
        self.world.notify("rate_limit", **asdict(config))
        return asdict(config)

    async def c_file(self, request: web.Request) -> web.Response:
        return self._file_response(request.match_info["file_id"])

    async def c_faults(self, request: web.Request) -> JSON:
        """The fault plan, how many calls it saw and every fault injected."""
        return self.world.faults.report()

    async def c_set_faults(self, request: web.Request) -> JSON:
        """Replace the fault plan (``{"rate": 0}`` switches faults off); the log restarts."""
        try:
            plan = FaultPlan.from_json(await self._body(request))
        except FaultPlanError as error:
            raise bad_request(str(error)) from None
        self.world.faults.configure(plan)
        self.world.notify("faults", **plan.to_json())
        return plan.to_json()

    async def c_limits(self, request: web.Request) -> JSON:
        """Telegram's limits checked against every accepted message; plus the 429s the
        configured rate limit answered."""
        return {**self.world.watch.report(), "rate_limit_refused": self.world.limiter.refused}

    async def c_reset_limits(self, request: web.Request) -> JSON:
        self.world.watch.reset()
        return self.world.watch.report()

    async def c_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """Pushes ``{"type": "hello", "seq": N}`` and then every event as it happens."""
        socket = web.WebSocketResponse(heartbeat=30)
        await socket.prepare(request)
        queue: asyncio.Queue[JSON] = asyncio.Queue()
        self.world.events.listeners.append(queue.put_nowait)
        self._sockets.add(socket)
        sender = asyncio.create_task(self._pump(socket, queue))
        try:
            await socket.send_json({"type": "hello", "seq": self.world.events.seq,
                                    "bot": self.world.bot.to_api()})
            async for message in socket:
                if message.type == WSMsgType.ERROR:
                    break
        finally:
            self.world.events.listeners.remove(queue.put_nowait)
            self._sockets.discard(socket)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        return socket

    @staticmethod
    async def _pump(socket: web.WebSocketResponse, queue: asyncio.Queue[JSON]) -> None:
        while not socket.closed:
            event = await queue.get()
            with contextlib.suppress(ConnectionError):
                await socket.send_json(event, dumps=lambda v: json.dumps(v, ensure_ascii=False))


# --------------------------------------------------------------------------- in-process runner


@dataclass
class RunningEmulator:
    """What :func:`run_emulator` yields."""

    base_url: str
    client: EmulatorClient
    state: World
    server: EmulatorServer

    @property
    def bot_base_url(self) -> str:
        """For ``Bot(token, base_url=...)``."""
        return f"{self.base_url}/bot"

    @property
    def bot_base_file_url(self) -> str:
        """For ``Bot(token, base_file_url=...)``."""
        return f"{self.base_url}/file/bot"


@contextlib.asynccontextmanager
async def run_emulator(
    token: str,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    state_dir: str | Path | None = None,
    world: World | None = None,
    webhook_retry_delay: float = 0.5,
    webhook_attempts: int = 5,
    **world_options: Any,
) -> AsyncIterator[RunningEmulator]:
    """Run an emulator in this event loop for the duration of the ``async with`` block."""
    world = world or World(token, **world_options)
    store = WorldStore(Path(state_dir)) if state_dir is not None else None
    server = EmulatorServer(world, store=store, webhook_retry_delay=webhook_retry_delay,
                            webhook_attempts=webhook_attempts)
    base_url = await server.start(host, port)
    try:
        async with EmulatorClient(base_url) as client:
            yield RunningEmulator(base_url=base_url, client=client, state=world, server=server)
    finally:
        await server.stop()
