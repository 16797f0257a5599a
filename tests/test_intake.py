"""Updates are stored before they are acknowledged and handled from the inbox exactly once: the
effect and "this update is handled" commit together; a dialog's last answer, its effect and the
dialog's end commit together (both back-ends)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.clock import ManualClock
from bot.core.policy.catalog import Catalog
from bot.core.workflow import State
from bot.services.cases import CaseService
from bot.services.dialogs import DialogService
from bot.services.inbox import CLAIM_LEASE
from handlers.intake import SECRET_HEADER, WILL_HANDLE_LATER, Intake
from models.db import session_factory
from models.tables import Case, InboxUpdate, ProcessedUpdate
from tests.bot_harness import Bot, start_bot
from tests.test_bot_app import (
    COORDINATOR,
    ENV_LIAISON,
    ENVIRONMENT,
    bind_all,
    new_case,
    new_case_summary,
)


class Killed(BaseException):
    """Stands for the process dying at this point (nothing below it runs)."""


async def _count(engine: AsyncEngine, table: Any) -> int:
    async with session_factory(engine)() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar())


async def _accept_press(bot: Bot) -> tuple[str, dict[str, Any]]:
    await bind_all(bot)
    ref = await new_case(bot)
    await bot.deliver()
    card = bot.last(ENVIRONMENT)
    return ref, bot.users.press(ENV_LIAISON, card, card.button("受理"))


async def test_a_stored_update_is_handled_once_and_leaves_the_inbox(bot: Bot,
                                                                    engine: AsyncEngine) -> None:
    intake = Intake(bot.app)
    update = bot.users.message(COORDINATOR, ENVIRONMENT, "/bind 环保局")
    await intake.store([update])
    assert await _count(engine, InboxUpdate) == 1
    assert await intake.handle_waiting() == 1
    assert "绑定" in bot.last(ENVIRONMENT).text
    assert await _count(engine, InboxUpdate) == 0
    # Telegram sending it again (the offset was not confirmed before a crash) changes nothing.
    await intake.store([update])
    assert await intake.handle_waiting() == 0
    assert await _count(engine, InboxUpdate) == 0


async def test_an_update_stored_before_a_crash_is_handled_after_the_restart(
        bot: Bot, engine: AsyncEngine, clock: ManualClock, catalog: Catalog) -> None:
    ref, press = await _accept_press(bot)
    await Intake(bot.app).store([press])  # stored; the process dies before handling it
    again = await start_bot(engine, clock, catalog, users=bot.users)
    try:
        assert await Intake(again.app).handle_waiting() == 1
        view = await again.app.deps.cases.get(ref)
        assert view.case.state == State.ACCEPTED
        assert [e.kind for e in view.events].count("accept") == 1
    finally:
        await again.app.shutdown()


async def test_a_press_whose_effect_committed_is_not_taken_again(
        bot: Bot, engine: AsyncEngine, clock: ManualClock, catalog: Catalog,
        monkeypatch: pytest.MonkeyPatch) -> None:
    ref, press = await _accept_press(bot)
    intake = Intake(bot.app)
    await intake.store([press])
    original = bot.fake.do_request

    async def die_on_answer(url: str, *args: Any, **kwargs: Any) -> Any:
        if url.endswith("answerCallbackQuery"):
            raise Killed  # the transition committed; the process dies before answering
        return await original(url, *args, **kwargs)

    monkeypatch.setattr(bot.fake, "do_request", die_on_answer)
    with pytest.raises(Killed):
        await intake.handle_waiting()
    monkeypatch.setattr(bot.fake, "do_request", original)
    # The effect and "handled" were one commit: the row is gone and nothing is taken twice.
    assert await _count(engine, InboxUpdate) == 0
    clock.advance(CLAIM_LEASE + timedelta(seconds=1))
    again = await start_bot(engine, clock, catalog, users=bot.users)
    try:
        assert await Intake(again.app).handle_waiting() == 0
        view = await again.app.deps.cases.get(ref)
        assert [e.kind for e in view.events].count("accept") == 1
    finally:
        await again.app.shutdown()


async def test_a_crash_before_the_effect_commits_takes_it_once_after_the_lease(
        bot: Bot, engine: AsyncEngine, clock: ManualClock, catalog: Catalog,
        monkeypatch: pytest.MonkeyPatch) -> None:
    ref, press = await _accept_press(bot)
    intake = Intake(bot.app)
    await intake.store([press])

    async def die(*args: Any, **kwargs: Any) -> Any:
        raise Killed

    monkeypatch.setattr(CaseService, "take_step", die)
    with pytest.raises(Killed):
        await intake.handle_waiting()
    monkeypatch.undo()
    assert await _count(engine, InboxUpdate) == 1  # still here, claimed by the dead process
    again = await start_bot(engine, clock, catalog, users=bot.users)
    try:
        assert await Intake(again.app).handle_waiting() == 0  # the claim holds for the lease
        clock.advance(CLAIM_LEASE + timedelta(seconds=1))
        assert await Intake(again.app).handle_waiting() == 1
        view = await again.app.deps.cases.get(ref)
        assert view.case.state == State.ACCEPTED
        assert [e.kind for e in view.events].count("accept") == 1
        assert await _count(engine, InboxUpdate) == 0
    finally:
        await again.app.shutdown()


async def test_an_update_another_process_recorded_first_changes_nothing(
        bot: Bot, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    ref, press = await _accept_press(bot)
    # Another process handled it and recorded it just now; this one has not seen that yet.
    async with session_factory(engine)() as session:
        await session.execute(text(
            "INSERT INTO processed_updates (update_id, processed_at) VALUES (:id, :at)"),
            {"id": press["update_id"], "at": bot.clock.now()})
        await session.commit()

    async def not_seen(self: object, update_id: int) -> bool:
        return False

    monkeypatch.setattr(type(bot.app.deps.chats), "seen", not_seen)
    failures_before = [s.text for s in bot.fake.in_chat(ENVIRONMENT)]
    await bot.feed(press)
    view = await bot.app.deps.cases.get(ref)
    assert view.case.state == State.ROUTED  # the effect was rolled back with the conflict
    assert [s.text for s in bot.fake.in_chat(ENVIRONMENT)] == failures_before  # and silent


async def test_the_last_answer_its_effect_and_the_dialog_end_are_one_transaction(
        bot: Bot, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    await bind_all(bot)
    private = COORDINATOR[0]
    confirm = await new_case_summary(bot, "玛纳斯县事务水泥有限公司")
    data = confirm.button("确认")
    original = DialogService.cancel

    async def fail(self: DialogService, chat_id: int, user_id: int) -> bool:
        raise RuntimeError("the dialog could not be ended")

    monkeypatch.setattr(DialogService, "cancel", fail)
    await bot.feed(bot.users.press(COORDINATOR, confirm, data))
    assert await _count(engine, Case) == 0  # the case went with the failed end of the dialog
    assert (await bot.app.deps.dialogs.current(private, private)) is not None
    monkeypatch.setattr(DialogService, "cancel", original)
    await bot.feed(bot.users.press(COORDINATOR, confirm, data))
    assert "已立案" in bot.last(private).text
    assert await _count(engine, Case) == 1
    await bot.feed(bot.users.press(COORDINATOR, confirm, data))  # again: no second case
    assert await _count(engine, Case) == 1


async def test_a_read_only_update_is_recorded_at_the_end(bot: Bot, engine: AsyncEngine) -> None:
    intake = Intake(bot.app)
    before = await _count(engine, ProcessedUpdate)
    await intake.store([bot.users.message(COORDINATOR, ENVIRONMENT, "/help")])
    assert await intake.handle_waiting() == 1
    assert await _count(engine, ProcessedUpdate) == before + 1
    assert await _count(engine, InboxUpdate) == 0


# -- the webhook ----------------------------------------------------------------------------


async def _webhook_client(intake: Intake) -> TestClient:  # type: ignore[type-arg]
    server = web.Application()
    server["duban.secret"] = "s3cret_token-1"
    server.router.add_post("/telegram", intake.on_webhook)
    client = TestClient(TestServer(server))
    await client.start_server()
    return client


async def test_the_webhook_answers_200_only_once_the_update_is_stored(
        bot: Bot, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    intake = Intake(bot.app)
    client = await _webhook_client(intake)
    update = bot.users.message(COORDINATOR, ENVIRONMENT, "/bind 环保局")
    good = {SECRET_HEADER: "s3cret_token-1"}
    try:
        response = await client.post("/telegram", data=json.dumps(update))
        assert response.status == 403  # no secret
        response = await client.post("/telegram", data=json.dumps(update),
                                     headers={SECRET_HEADER: "wrong"})
        assert response.status == 403
        response = await client.post("/telegram", data=b"{not json", headers=good)
        assert response.status == 400
        response = await client.post("/telegram", data=b"[1, 2]", headers=good)
        assert response.status == 400
        response = await client.post("/telegram", data=b'{"update_id": true}', headers=good)
        assert response.status == 400
        assert await _count(engine, InboxUpdate) == 0

        async def down(*args: Any, **kwargs: Any) -> int:
            raise OperationalError("INSERT", {}, ConnectionRefusedError("connection refused"))

        monkeypatch.setattr(type(bot.app.deps.inbox), "store", down)
        response = await client.post("/telegram", data=json.dumps(update), headers=good)
        assert response.status == 503  # Telegram tries again later
        monkeypatch.undo()

        response = await client.post("/telegram", data=json.dumps(update), headers=good)
        assert response.status == 200
        assert await _count(engine, InboxUpdate) == 1
        assert intake.arrived.is_set()
        assert await intake.handle_waiting() == 1
        assert "绑定" in bot.last(ENVIRONMENT).text
    finally:
        await client.close()


# -- long polling against the emulator --------------------------------------------------------


async def test_polling_stores_before_it_acknowledges_and_waits_out_a_database_outage(
        engine: AsyncEngine, clock: ManualClock, catalog: Catalog, demo_org: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.app import build_application, build_deps
    from bot.devtools.emulator import run_emulator
    from bot.services.org import OrgService
    from bot.settings import Settings
    from tests.bot_harness import TOKEN

    await OrgService(session_factory(engine)).load(demo_org)
    async with run_emulator(TOKEN) as emulator:
        client = emulator.client
        coordinator = await client.create_user("王玮中", id=COORDINATOR[0])
        group = await client.create_group("环保群", [coordinator], chat_type="supergroup")
        settings = Settings(telegram_bot_token=TOKEN, telegram_api_base_url=emulator.base_url)
        app = build_application(settings, build_deps(settings, engine, clock, catalog))
        await app.initialize()
        intake = Intake(app)
        intake.backoff = 0.01
        stored = type(app.deps.inbox).store
        failures = {"left": 2}

        async def flaky(self: Any, payloads: Any, now: Any) -> int:
            if failures["left"]:
                failures["left"] -= 1
                raise OperationalError("INSERT", {}, ConnectionRefusedError("connection refused"))
            return await stored(self, payloads, now)

        monkeypatch.setattr(type(app.deps.inbox), "store", flaky)
        stop = asyncio.Event()
        poller = asyncio.create_task(intake.poll(stop))
        worker = asyncio.create_task(intake.run(stop))
        try:
            await client.send_text(coordinator, group, "/bind 环保局")
            later = await client.wait_for_message(
                group, lambda m: m.from_bot and "恢复" in m.body, timeout=10)
            assert later.body == WILL_HANDLE_LATER or "数据库" in later.body
            bound = await client.wait_for_message(
                group, lambda m: m.from_bot and "绑定" in m.body, timeout=10)
            assert bound is not None
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(poller, worker), 20)
            await intake.acknowledge()
            await app.shutdown()
        told = [m for m in await client.messages(group) if m.from_bot and "恢复" in m.body]
        assert len(told) == 1  # told once, not once per try
        assert await _count(engine, InboxUpdate) == 0
