"""The answer to a change commits with the change (bot.services.answers, handlers.answers): a
process that dies after the commit and before answering leaves the answer in the outbox, and
the next process sends it once the claim has expired; an answer sent at once is never sent
again (both back-ends)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from bot.core.clock import ManualClock
from bot.core.policy.catalog import Catalog
from bot.services.answers import answer_key
from bot.services.outbox import CLAIM_LEASE, Kind
from handlers.intake import Intake
from models.db import session_factory
from models.tables import Case, Dialog, Outbox
from tests.bot_harness import Bot, start_bot
from tests.telegram_fakes import Sent
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


async def _answers(engine: AsyncEngine) -> list[Outbox]:
    async with session_factory(engine)() as session:
        return list((await session.exec(select(Outbox).where(
            col(Outbox.kind) == Kind.ANSWER).order_by(col(Outbox.id)))).all())


async def _handle_dying_on(bot: Bot, update: dict[str, Any], method: str,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Handle ``update`` from the inbox; the process dies at its first ``method`` call."""
    original = bot.fake.do_request

    async def die(url: str, *args: Any, **kwargs: Any) -> Any:
        if url.endswith(method):
            raise Killed
        return await original(url, *args, **kwargs)

    intake = Intake(bot.app)
    await intake.store([update])
    monkeypatch.setattr(bot.fake, "do_request", die)
    with pytest.raises(Killed):
        await intake.handle_waiting()
    monkeypatch.setattr(bot.fake, "do_request", original)


async def _restarted(bot: Bot, engine: AsyncEngine, clock: ManualClock,
                     catalog: Catalog) -> Bot:
    """The next process, once the dead one's claims have expired."""
    clock.advance(CLAIM_LEASE + timedelta(seconds=1))
    return await start_bot(engine, clock, catalog, users=bot.users)


def _replies(bot: Bot, chat: int, message_id: int) -> list[str]:
    return [m.text for m in bot.fake.in_chat(chat) if m.reply_to == message_id]


async def _to_the_summary(bot: Bot) -> Sent:
    """/newcase answered up to its summary (the 确认 still to press)."""
    return await new_case_summary(bot, "玛纳斯县应答水泥有限公司")


async def test_a_last_answer_killed_before_its_reply_is_answered_once_after_the_restart(
        bot: Bot, engine: AsyncEngine, clock: ManualClock, catalog: Catalog,
        monkeypatch: pytest.MonkeyPatch) -> None:
    await bind_all(bot)
    summary = await _to_the_summary(bot)
    confirm = bot.users.press(COORDINATOR, summary, summary.button("确认"))
    await _handle_dying_on(bot, confirm, "sendMessage", monkeypatch)
    async with session_factory(engine)() as session:
        cases = (await session.exec(select(Case).where(
            col(Case.enterprise) == "玛纳斯县应答水泥有限公司"))).all()
    assert len(cases) == 1  # the case, the update's record and its answer: one commit
    kept = [row for row in await _answers(engine) if row.key == answer_key(confirm["update_id"])]
    assert len(kept) == 1 and kept[0].sent_at is None and kept[0].claimed_at is not None
    assert "已立案" in kept[0].payload["text"]

    again = await _restarted(bot, engine, clock, catalog)
    try:
        await again.deliver()
        await again.deliver()  # nothing twice
        said = _replies(again, COORDINATOR[0], summary.message_id)
        assert len(said) == 1 and f"案件 {cases[0].ref} 已立案" in said[0], said
        assert (await _answers(engine))[-1].sent_at is not None
    finally:
        await again.app.shutdown()


async def test_a_press_killed_before_its_toast_gets_its_words_in_the_chat(
        bot: Bot, engine: AsyncEngine, clock: ManualClock, catalog: Catalog,
        monkeypatch: pytest.MonkeyPatch) -> None:
    await bind_all(bot)
    ref = await new_case(bot)
    await bot.deliver()
    card = bot.last(ENVIRONMENT)
    press = bot.users.press(ENV_LIAISON, card, card.button("受理"))
    await _handle_dying_on(bot, press, "answerCallbackQuery", monkeypatch)
    again = await _restarted(bot, engine, clock, catalog)
    try:
        await again.deliver()
        await again.deliver()
        assert _replies(again, ENVIRONMENT, card.message_id) == ["已完成。"]
        view = await again.app.deps.cases.get(ref)
        assert [e.kind for e in view.events].count("accept") == 1
    finally:
        await again.app.shutdown()


async def test_the_next_question_killed_before_it_was_asked_is_asked_and_answered(
        bot: Bot, engine: AsyncEngine, clock: ManualClock, catalog: Catalog,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The photo is kept in the dialog (with the update's record and the question); the
    question comes after the restart, and the dialog goes on from it."""
    await bind_all(bot)
    ref = await new_case(bot)
    await bot.deliver()
    await bot.press(ENV_LIAISON, bot.last(ENVIRONMENT), "受理")
    await bot.deliver()
    card = next(m for m in bot.fake.in_chat(ENVIRONMENT) if ref in m.text and "限制生产" in str(
        m.buttons()))
    await bot.press(ENV_LIAISON, card, "限制生产")
    photo = bot.users.photo(ENV_LIAISON, ENVIRONMENT, "photo-9")
    await _handle_dying_on(bot, photo, "sendMessage", monkeypatch)
    async with session_factory(engine)() as session:
        dialog = await session.get(Dialog, (ENVIRONMENT, ENV_LIAISON[0]))
    assert dialog is not None and dialog.step == "future_date"
    assert len(dialog.data["evidence"]) == 1

    again = await _restarted(bot, engine, clock, catalog)
    try:
        await again.deliver()
        asked = _replies(again, ENVIRONMENT, photo["message"]["message_id"])
        assert len(asked) == 1 and "期限是哪一天" in asked[0], asked
        await again.say(ENV_LIAISON, ENVIRONMENT, "2026-09-30")
        await again.press(ENV_LIAISON, again.last(ENVIRONMENT), "确认")
        assert "已记录" in again.last(ENVIRONMENT).text
        view = await again.app.deps.cases.get(ref)
        assert view.events[-1].payload["evidence"][0].startswith("photo:photo-9u")
    finally:
        await again.app.shutdown()


async def test_an_answer_sent_at_once_is_recorded_and_never_sent_again(
        bot: Bot, engine: AsyncEngine) -> None:
    await bind_all(bot)
    summary = await _to_the_summary(bot)
    await bot.press(COORDINATOR, summary, "确认")
    kept = await _answers(engine)
    assert len(kept) >= 9  # every question of /newcase, and its end
    assert all(row.sent_at is not None for row in kept)
    before = len(bot.fake.in_chat(COORDINATOR[0]))
    await bot.deliver()
    assert len(bot.fake.in_chat(COORDINATOR[0])) == before


async def test_a_message_that_answers_nothing_keeps_nothing(bot: Bot,
                                                            engine: AsyncEngine) -> None:
    """No dialog to answer: nothing was changed, so nothing is kept (the update is recorded
    when its handlers are done, as any update that changes nothing)."""
    await bot.say(COORDINATOR, COORDINATOR[0], "随便说点什么")
    assert "没有理解这条消息" in bot.last(COORDINATOR[0]).text
    assert await _answers(engine) == []
