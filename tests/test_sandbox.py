"""The sandbox without a browser: seeding, the page's API, bad input, the clock, reset and reuse,
and ``duban sandbox`` as a process stopped with Ctrl-C.

Waits are conditions with timeouts (the emulator's wait helpers), never sleeps.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import ClientSession, FormData

from bot.core.clock import FileClock
from bot.core.i18n import DubanError
from bot.core.org import load_demo_org
from bot.core.routing import AssignmentStatus
from bot.core.workflow import State
from bot.devtools.emulator.client import EmulatorClient
from bot.devtools.sandbox import Sandbox, SandboxOptions
from bot.devtools.sandbox import web as sandbox_web
from bot.devtools.sandbox.seed import SANDBOX_START, STAGES, chat_specs, personas, seed_database
from bot.devtools.sandbox.web import ClockPanel, split_text
from bot.services.cases import CaseService
from bot.services.outbox import Kind, OutboxStore
from models.db import create_engine, session_factory

ROOT = Path(__file__).resolve().parent.parent
WAIT = 30.0
HEADERS = {"X-Duban-Sandbox": "1"}
COORDINATOR, INDUSTRY, ENVIRONMENT, MANAS, OUTSIDER = 10001, 20001, 20002, 30001, 90001
#: A process that stands in for the bot where a test needs none (it waits to be stopped).
IDLE_BOT = (sys.executable, "-c", "import signal; signal.pause()")

#: The page fixture lives for the module, so its tests share the module's event loop.
in_module_loop = pytest.mark.asyncio(loop_scope="module")


def png() -> bytes:
    from tests.test_sandbox_browser import png as make

    return make(40, 30)


# --------------------------------------------------------------------------- seeding


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database seeded as the sandbox seeds it, with made-up chat ids."""
    org = load_demo_org()
    specs = chat_specs(org, personas(org))
    chats = [{"key": s.key, "id": -1000 - i, "title": s.title, "kind": s.kind.value,
              "department": s.department, "region": s.region} for i, s in enumerate(specs)]
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('seed') / 'duban.db'}"
    assert asyncio.run(seed_database(url, chats, org=org)) == 12
    return url


@in_module_loop
async def test_seeded_cases_cover_every_clause_at_different_stages(seeded: str,
                                                                   catalog: Any) -> None:
    engine = create_engine(seeded)
    try:
        cases = CaseService(session_factory(engine), catalog, FileClock(Path("unused")))
        found = await cases.find()
        states = {c.ref: State(c.state) for c in found}
        assert {c.clause for c in found} == {"四", "五", "六", "七", "八", "九"}
        assert states["CZ-2026-001"] is State.SEALED
        assert states["CZ-2026-002"] is State.OVERDUE
        assert states["CZ-2026-005"] is State.RECTIFIED
        assert states["CZ-2026-006"] is State.CLOSURE_REQUESTED
        assert states["CZ-2026-008"] is State.EXITED
        assert states["CZ-2026-012"] is State.ROUTED
        assert len(set(states.values())) >= 8
        start = SANDBOX_START
        for ref in STAGES:
            view = await cases.get(ref)
            assert all(event.at < start for event in view.events), ref
            assert len(view.events) == 1 + len(STAGES[ref]), ref
        deadlines = [c.deadline for c in found if c.deadline and c.state not in ("exited",)]
        assert any(d < start.date() for d in deadlines)  # some passed …
        assert any(start.date() < d <= start.date() + timedelta(days=30) for d in deadlines)
        group = await cases.get("CZ-2026-004")
        assert [a.status for a in group.unresolved_groups] == [AssignmentStatus.UNRESOLVED]
    finally:
        await engine.dispose()


@in_module_loop
async def test_seeding_binds_every_chat_and_settles_moot_messages(seeded: str) -> None:
    engine = create_engine(seeded)
    try:
        sessions = session_factory(engine)
        pending = await OutboxStore(sessions).due(datetime(2027, 1, 1, tzinfo=SANDBOX_START.tzinfo),
                                                  limit=1000)
        kinds = {row.kind for row in pending}
        assert Kind.REFRESH not in kinds and Kind.EXTENSION not in kinds
        assert Kind.DELIVER in kinds and Kind.CARD in kinds
        groups = {row.payload["case_id"] for row in pending if row.kind == Kind.GROUP}
        assert len(groups) == 3  # CZ-2026-004, -008 and -011 still wait for a coordinator
    finally:
        await engine.dispose()


@in_module_loop
async def test_clock_panel_moves_to_each_next_deadline(seeded: str, tmp_path: Path) -> None:
    clock = FileClock(tmp_path / "clock.json")
    clock.set(SANDBOX_START)
    panel = ClockPanel(clock, seeded)
    try:
        assert await panel.next_deadline() == date(2026, 12, 4)  # CZ-2026-010
        moved = await panel.move("deadline")
        assert moved["now"].startswith("2026-12-04T09:00")
        assert (await panel.move("deadline"))["now"].startswith("2026-12-10")
        assert (await panel.move("day"))["now"].startswith("2026-12-11")
        assert (await panel.move("week"))["now"].startswith("2026-12-18")
        assert (await panel.move("deadline"))["now"].startswith("2026-12-20")  # CZ-2026-001
        assert (await panel.move("deadline"))["now"].startswith("2026-12-31")  # yearly
        with pytest.raises(sandbox_web.PageError):
            await panel.move("backwards")
    finally:
        await panel.close()


def test_long_text_is_split_as_telegram_clients_do() -> None:
    text = ("第一段说明。" * 500 + "\n") * 3
    parts = split_text(text)
    assert all(len(p) <= 4096 for p in parts) and len(parts) >= 3
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")
    assert split_text("x" * 9000) == ["x" * 4096, "x" * 4096, "x" * 808]
    assert split_text("short") == ["short"]


# --------------------------------------------------------------------------- the running page


class Page:
    """The page's API, as the browser uses it."""

    def __init__(self, sandbox: Sandbox, http: ClientSession) -> None:
        self.sandbox = sandbox
        self.http = http
        self.url = sandbox.url.rstrip("/")
        assert sandbox.emulator is not None and sandbox.meta is not None
        self.emulator: EmulatorClient = sandbox.emulator.client
        self.meta = sandbox.meta

    async def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        async with self.http.get(self.url + path, **kw) as reply:
            return reply.status, await reply.json(content_type=None)

    async def post(self, path: str, lang: str = "zh", **kw: Any) -> tuple[int, Any]:
        headers = {**HEADERS, "X-Duban-Lang": lang, **kw.pop("headers", {})}
        async with self.http.post(self.url + path, headers=headers, **kw) as reply:
            return reply.status, await reply.json(content_type=None)

    async def say(self, user: int, chat: int, text: str) -> tuple[int, Any]:
        return await self.post(f"/api/chats/{chat}/messages", json={"user_id": user,
                                                                    "text": text})

    async def upload(self, user: int, chat: int, data: bytes, name: str, mime: str,
                     kind: str = "document", lang: str = "zh") -> tuple[int, Any]:
        form = FormData()
        form.add_field("user_id", str(user))
        form.add_field("kind", kind)
        form.add_field("file", data, filename=name, content_type=mime)
        return await self.post(f"/api/chats/{chat}/files", lang=lang, data=form)

    async def bot_reply(self, chat: int, message_id: int) -> Any:
        return await self.emulator.wait_for_message(
            chat, lambda m: m.from_bot and m.reply_to_message_id == message_id, timeout=WAIT)

    async def press(self, user: int, chat: int, message_id: int, data: str) -> tuple[int, Any]:
        return await self.post(f"/api/chats/{chat}/messages/{message_id}/press",
                               json={"user_id": user, "data": data})


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def page(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Page]:
    directory = tmp_path_factory.mktemp("sandbox-api")
    async with Sandbox(SandboxOptions(directory=directory, port=0)) as sandbox:
        await sandbox.wait_ready(timeout=60)
        async with ClientSession() as http:
            yield Page(sandbox, http)


@in_module_loop
async def test_world_lists_personas_chats_and_clock(page: Page) -> None:
    status, world = await page.get("/api/world")
    assert status == 200
    ids = [p["id"] for p in world["personas"]]
    assert {COORDINATOR, INDUSTRY, ENVIRONMENT, MANAS, OUTSIDER} <= set(ids)
    assert ids[0] == COORDINATOR and ids[-1] == OUTSIDER
    liaison = next(p for p in world["personas"] if p["id"] == ENVIRONMENT)
    assert liaison["unit_zh"] == "州生态环境局" and liaison["unit_en"]
    keys = {c["key"] for c in world["chats"] if c["key"]}
    assert {"coordination", "department:environment", "department:industry",
            "region:玛纳斯县", "region:准东经济技术开发区"} <= keys
    assert {c["id"] for c in world["chats"] if c["type"] == "private"} >= set(ids)
    assert world["clock"]["now"].startswith("2026-12-01T09:00")
    assert world["bot_texts"]["zh"]["empty_file"] == "文件为空。"
    assert world["bot_texts"]["en"]["file_too_large"] == "The file is too large: at most 20 MB."
    async with page.http.get(page.url + "/") as reply:
        assert reply.status == 200 and "app.js" in await reply.text()


@in_module_loop
async def test_the_clock_says_when_the_calendar_last_swept(page: Page) -> None:
    async def swept() -> Any:
        while True:  # the bot sweeps every second in the sandbox: wait for it to have done so
            status, clock = await page.get("/api/clock")
            assert status == 200 and "last_sweep" in clock
            if clock["last_sweep"]:
                return clock
            await asyncio.sleep(0.1)

    clock = await asyncio.wait_for(swept(), WAIT)
    assert datetime.fromisoformat(clock["last_sweep"]) <= datetime.fromisoformat(clock["now"])


@in_module_loop
async def test_the_page_refuses_foreign_hosts_and_forged_requests(page: Page) -> None:
    status, body = await page.get("/api/world", headers={"Host": "evil.example:8080"})
    assert (status, body["error"]) == (403, "forbidden_host")
    async with page.http.post(f"{page.url}/api/clock", json={"action": "day"}) as reply:
        assert reply.status == 403
    status, body = await page.post("/api/clock", json={"action": "backwards"})
    assert (status, body["error"]) == (400, "bad_clock_action")
    status, body = await page.say(55555, COORDINATOR, "/help")
    assert (status, body["error"]) == (400, "unknown_persona")
    coordination = page.meta.chat_id("coordination")
    status, body = await page.say(OUTSIDER, coordination, "我能进来吗")
    assert (status, body["error"]) == (403, "not_member")
    status, body = await page.say(OUTSIDER, COORDINATOR, "/help")  # someone else's private chat
    assert (status, body["error"]) == (403, "not_member")
    status, body = await page.post(f"/api/chats/{coordination}/messages", data=b"{not json",
                                   headers={"Content-Type": "application/json"})
    assert (status, body["error"]) == (400, "bad_request")


@in_module_loop
async def test_text_reaches_the_bot_and_its_answer_comes_back(page: Page) -> None:
    status, body = await page.say(ENVIRONMENT, ENVIRONMENT, "/whoami")
    assert status == 200
    sent = body["messages"][0]
    assert sent["from"]["id"] == ENVIRONMENT and sent["text"] == "/whoami"
    answer = await page.bot_reply(ENVIRONMENT, sent["message_id"])
    assert "李娜" in answer.body


@in_module_loop
async def test_empty_and_huge_texts(page: Page) -> None:
    status, body = await page.say(COORDINATOR, COORDINATOR, "   \n ")
    assert (status, body["error"]) == (400, "empty_text")
    status, body = await page.say(COORDINATOR, COORDINATOR, "长" * (4096 * 16 + 1))
    assert (status, body["error"]) == (413, "text_too_long")
    status, body = await page.say(COORDINATOR, COORDINATOR, "字" * 9000)
    assert status == 200
    assert [len(m["text"]) for m in body["messages"]] == [4096, 4096, 808]


@in_module_loop
async def test_bad_uploads_get_the_bots_own_answers(page: Page,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    chat = page.meta.chat_id("department:environment")
    status, body = await page.upload(ENVIRONMENT, chat, b"", "empty.pdf", "application/pdf")
    assert (status, body["error"], body["message"]) == (400, "empty_file", "文件为空。")
    status, body = await page.upload(ENVIRONMENT, chat, b"", "empty.pdf", "application/pdf",
                                     lang="en")
    assert body["message"] == "The file is empty."
    monkeypatch.setattr(sandbox_web, "MAX_UPLOAD", 1024)
    status, body = await page.upload(ENVIRONMENT, chat, b"x" * 5000, "big.pdf",
                                     "application/pdf")
    assert (status, body["error"]) == (413, "file_too_large")
    assert body["message"] == "文件过大：最多 20 MB。"


@in_module_loop
async def test_a_photo_that_is_no_picture_goes_as_a_file(page: Page) -> None:
    status, body = await page.upload(MANAS, MANAS, b"%PDF-1.4 not a picture", "scan.pdf",
                                     "application/pdf", kind="photo")
    assert status == 200
    [message] = body["messages"]
    assert [f["kind"] for f in message["files"]] == ["document"]
    status, body = await page.upload(MANAS, MANAS, png(), "site.png", "image/png", kind="photo")
    [photo] = body["messages"][0]["files"]
    assert photo["kind"] == "photo" and photo["url"].startswith("/api/files/")
    async with page.http.get(page.url + photo["url"] + "&download=1") as reply:
        assert reply.status == 200 and await reply.read() == png()
        assert reply.headers["Content-Disposition"].startswith("attachment")


@in_module_loop
async def test_wrong_file_type_in_a_step_gets_the_bots_answer(page: Page) -> None:
    chat = page.meta.chat_id("department:environment")
    card = await page.emulator.wait_for_message(
        chat, lambda m: m.from_bot and "CZ-2026-009" in m.body and bool(m.buttons), timeout=WAIT)
    step = next(b for b in card.buttons if "限制生产" in b["text"])
    status, answer = await page.press(ENVIRONMENT, chat, card.message_id, step["callback_data"])
    assert status == 200 and answer["answered"]
    await page.emulator.wait_for_message(chat, lambda m: m.from_bot and "证明材料" in m.body
                                         and m.message_id > card.message_id, timeout=WAIT)
    status, body = await page.upload(ENVIRONMENT, chat, b"MZ\x90\x00 program", "tool.exe",
                                     "application/x-msdownload")
    assert status == 200
    refused = await page.bot_reply(chat, body["messages"][0]["message_id"])
    assert "不接受" in refused.body and "application/x-msdownload" in refused.body
    await page.say(ENVIRONMENT, chat, "/cancel")


@in_module_loop
async def test_an_outsiders_press_is_refused_with_an_alert(page: Page) -> None:
    chat = page.meta.chat_id("department:environment")
    card = await page.emulator.wait_for_message(
        chat, lambda m: m.from_bot and "CZ-2026-003" in m.body and bool(m.buttons), timeout=WAIT)
    button = card.buttons[0]["callback_data"]
    status, answer = await page.press(OUTSIDER, chat, card.message_id, button)
    assert status == 200 and answer["answered"] and answer["show_alert"] and answer["text"]
    status, body = await page.post(f"/api/chats/{chat}/messages/{card.message_id}/press",
                                   json={"user_id": OUTSIDER})
    assert (status, body["error"]) == (400, "bad_request")
    status, body = await page.press(OUTSIDER, chat, card.message_id, "forged")
    assert (status, body["error"]) == (400, "refused")


@in_module_loop
async def test_live_updates_reach_the_page(page: Page) -> None:
    async with page.http.ws_connect(f"{page.url}/api/ws") as socket:
        hello = await socket.receive_json(timeout=WAIT)
        assert hello["type"] == "hello" and hello["bot"] == "running"
        status, body = await page.say(COORDINATOR, COORDINATOR, "/help")
        sent = body["messages"][0]["message_id"]
        while True:
            event = await socket.receive_json(timeout=WAIT)
            message = event.get("message") or {}
            if event["type"] == "message" and message.get("reply_to") == sent:
                break
        assert message["from_bot"] and message["text"]
        status, body = await page.post("/api/clock", json={"action": "day"})
        assert status == 200
        while (event := await socket.receive_json(timeout=WAIT))["type"] != "clock":
            pass
        assert event["now"] == body["now"]


# --------------------------------------------------------------------------- lifecycle


@in_module_loop
async def test_reuse_reset_and_one_sandbox_per_folder(tmp_path: Path) -> None:
    options = SandboxOptions(directory=tmp_path, port=0, bot_command=IDLE_BOT)
    async with Sandbox(options) as first:
        assert first.fresh and first.meta is not None and first.emulator is not None
        token = first.meta.token
        await first.emulator.client.send_text(COORDINATOR, COORDINATOR, "记得我")
        clock = FileClock(first.paths.clock)
        clock.advance(timedelta(days=3))
        with pytest.raises(DubanError, match="Another sandbox"):
            async with Sandbox(options):
                pass
    async with Sandbox(options) as again:
        assert not again.fresh and again.meta is not None and again.emulator is not None
        assert again.meta.token == token
        texts = [m.body for m in await again.emulator.client.messages(COORDINATOR)]
        assert "记得我" in texts
        assert FileClock(again.paths.clock).now() == SANDBOX_START + timedelta(days=3)
    (tmp_path / "notes.txt").write_text("mine")
    async with Sandbox(SandboxOptions(directory=tmp_path, port=0, reset=True,
                                      bot_command=IDLE_BOT)) as reset:
        assert reset.fresh and reset.meta is not None and reset.meta.token != token
        assert reset.emulator is not None
        assert await reset.emulator.client.messages(COORDINATOR) == []
        assert FileClock(reset.paths.clock).now() == SANDBOX_START
    assert (tmp_path / "notes.txt").read_text() == "mine"  # reset deletes only its own files


@in_module_loop
async def test_a_half_seeded_folder_starts_over(tmp_path: Path) -> None:
    (tmp_path / "sandbox.json").write_text(json.dumps({"token": "1:x", "start": "",
                                                       "personas": [], "chats": []}))
    async with Sandbox(SandboxOptions(directory=tmp_path, port=0, bot_command=IDLE_BOT)) as box:
        assert box.fresh and box.meta is not None and box.meta.seeded


def test_only_loopback_addresses(tmp_path: Path) -> None:
    with pytest.raises(DubanError, match="loopback"):
        Sandbox(SandboxOptions(directory=tmp_path, host="0.0.0.0"))
    Sandbox(SandboxOptions(directory=tmp_path, host="::1"))
    Sandbox(SandboxOptions(directory=tmp_path, host="localhost"))


@in_module_loop
async def test_duban_sandbox_runs_until_ctrl_c(tmp_path: Path) -> None:
    script = ("import sys; from bot.cli.app import App; from bot.settings import load_settings; "
              "from bot.cli.sandbox import sandbox_command; "
              "sandbox_command.main(sys.argv[1:], obj=App(load_settings()))")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUBAN_", "TELEGRAM_"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, "--dir", str(tmp_path), "--port", "0", "--no-browser",
        cwd=str(ROOT), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert match, line
        async with ClientSession() as http, http.get(match.group(0)) as reply:
            assert reply.status == 200 and "app.js" in await reply.text()
        children = _children(process.pid)
        assert children, "the bot runs as its own process"
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 60) == 0
        for pid in children:
            assert not _alive(pid), f"process {pid} outlived the sandbox"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert (tmp_path / "sandbox.json").exists() and (tmp_path / "emulator" / "world.json").exists()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, IndexError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "zombie" not in status.lower()
