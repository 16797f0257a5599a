"""A press edits the cards its step changed itself, from the view the step committed, and marks
their refresh row sent with its answer (bot.services.answers, handlers.delivery.
edit_held_cards). Whatever keeps it from the edit (the case moved on, Telegram refused, the
handler failed, the process died) leaves the row to the delivery, which edits the cards from
the case as it is then; nothing is edited twice, nothing is left unedited (both back-ends)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from telegram.error import NetworkError

from bot.core.clock import ManualClock
from bot.core.policy.catalog import Catalog
from bot.services.outbox import Kind
from handlers.intake import Intake
from models.db import session_factory
from models.tables import Case, Outbox
from tests.bot_harness import Bot
from tests.telegram_fakes import Sent
from tests.test_answers import Killed, _restarted
from tests.test_bot_app import ENV_LIAISON, ENVIRONMENT, MANAS, bind_all, new_case


async def _refreshes(engine: AsyncEngine, case_id: int) -> list[Outbox]:
    async with session_factory(engine)() as session:
        return list((await session.exec(select(Outbox).where(
            col(Outbox.kind) == Kind.REFRESH, col(Outbox.recipient) == str(case_id))
            .order_by(col(Outbox.id)))).all())


async def _card(bot: Bot, chat: int = ENVIRONMENT) -> tuple[str, int, Sent]:
    """A new case's card as its department's chat shows it, with its reference and id."""
    await bind_all(bot)
    ref = await new_case(bot)
    await bot.deliver()
    view = await bot.app.deps.cases.get(ref)
    assert view.case.id is not None
    card = next(m for m in bot.fake.in_chat(chat) if ref in m.text)
    return ref, view.case.id, card


def _edits(bot: Bot, card: Sent) -> list[str]:
    """The texts the card was edited to (its first text is the one posted)."""
    return bot.fake.messages[(card.chat_id, card.message_id)].history[1:]


def _failing(bot: Bot, method: str, error: BaseException,
             monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every ``method`` call fails with ``error`` until the returned list is cleared."""
    armed = [1]
    original = bot.fake.do_request

    async def refuse(url: str, *args: Any, **kwargs: Any) -> Any:
        if armed and url.endswith(method):
            raise error
        return await original(url, *args, **kwargs)

    monkeypatch.setattr(bot.fake, "do_request", refuse)
    return armed


async def test_a_press_edits_every_card_of_its_case_itself_with_one_commit_for_all(
        bot: Bot, engine: AsyncEngine) -> None:
    ref, case_id, card = await _card(bot)
    county = next(m for m in bot.fake.in_chat(MANAS) if ref in m.text)
    before = len(await _refreshes(engine, case_id))
    toast = await bot.press(ENV_LIAISON, card, "受理")
    assert toast.get("text") == "已完成。"
    # no delivery round: the press's handler edited both chats' cards
    for shown in (card, county):
        edits = _edits(bot, shown)
        assert len(edits) == 1 and "已受理" in edits[0], edits
    rows = await _refreshes(engine, case_id)
    assert len(rows) == before + 1
    assert rows[-1].sent_at is not None and rows[-1].error is None
    assert await bot.deliver() == 0
    assert len(_edits(bot, card)) == 1  # never edited twice


async def test_a_card_whose_case_moved_on_before_the_edit_is_left_to_the_delivery(
        bot: Bot, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another writer changed the case between the press's commit and its edit: the view the
    step holds is out of date, so its card is not edited to it; the delivery edits the card
    to the case as it is."""
    _ref, case_id, card = await _card(bot)
    shown = bot.app.deps.deliveries.shown

    async def after_another_writer(case: int, departments_only: bool = False, *,
                                   version: int | None = None) -> Any:
        if version is not None:  # the press's handler, about to edit
            async with session_factory(engine)() as session:
                await session.exec(update(Case).where(  # type: ignore[call-overload]
                    col(Case.id) == case_id).values(version=col(Case.version) + 1,
                                                    enterprise="改名水泥有限公司"))
                await session.commit()
        return await shown(case, departments_only, version=version)

    monkeypatch.setattr(bot.app.deps.deliveries, "shown", after_another_writer)
    await bot.press(ENV_LIAISON, card, "受理")
    assert _edits(bot, card) == []
    row = (await _refreshes(engine, case_id))[-1]
    assert row.sent_at is None and row.claimed_at is None  # given back, at once
    monkeypatch.setattr(bot.app.deps.deliveries, "shown", shown)
    await bot.deliver()
    edits = _edits(bot, card)
    assert len(edits) == 1 and "已受理" in edits[0] and "改名水泥有限公司" in edits[0], edits
    assert (await _refreshes(engine, case_id))[-1].sent_at is not None


async def test_telegram_refusing_the_edit_for_now_leaves_the_card_to_the_delivery(
        bot: Bot, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    _ref, case_id, card = await _card(bot)
    armed = _failing(bot, "editMessageText", NetworkError("connection reset"), monkeypatch)
    toast = await bot.press(ENV_LIAISON, card, "受理")
    assert toast.get("text") == "已完成。"  # the press is answered all the same
    assert _edits(bot, card) == []
    row = (await _refreshes(engine, case_id))[-1]
    assert row.sent_at is None and row.claimed_at is None
    armed.clear()
    await bot.deliver()
    edits = _edits(bot, card)
    assert len(edits) == 1 and "已受理" in edits[0]


async def test_a_handler_failing_after_the_commit_gives_its_cards_back_at_once(
        bot: Bot, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The press is handled from the inbox and its handler fails between the commit and the
    edit (here: the toast cannot be sent): the intake gives the held row back, so the
    delivery edits the card at once rather than when the claim expires."""
    _ref, case_id, card = await _card(bot)

    async def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the handler failed")

    monkeypatch.setattr("handlers.callbacks.answer_query", broken)
    intake = Intake(bot.app)
    await intake.store([bot.users.press(ENV_LIAISON, card, card.button("受理"))])
    await intake.handle_waiting()  # the error handler logs the failure
    row = (await _refreshes(engine, case_id))[-1]
    assert row.sent_at is None and row.claimed_at is None
    assert bot.app.deps.wakeup.is_set()
    await bot.deliver()
    edits = _edits(bot, card)
    assert len(edits) == 1 and "已受理" in edits[0]


async def test_a_process_dying_before_the_edit_leaves_it_to_the_next_process(
        bot: Bot, engine: AsyncEngine, clock: ManualClock, catalog: Catalog,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _ref, case_id, card = await _card(bot)
    _failing(bot, "editMessageText", Killed(), monkeypatch)
    with pytest.raises(Killed):
        await bot.feed(bot.users.press(ENV_LIAISON, card, card.button("受理")))
    row = (await _refreshes(engine, case_id))[-1]
    assert row.sent_at is None and row.claimed_at is not None  # still claimed by the dead
    assert await bot.deliver() == 0  # not another process's to send while the claim holds
    again = await _restarted(bot, engine, clock, catalog)
    try:
        again.fake.messages.update(bot.fake.messages)  # the chats as they are
        await again.deliver()
        await again.deliver()
        edits = _edits(again, card)
        assert len(edits) == 1 and "已受理" in edits[0], edits
    finally:
        await again.app.shutdown()


async def test_a_press_refused_holds_nothing(bot: Bot, engine: AsyncEngine) -> None:
    """A step the workflow refuses rolls back: no row is queued, none is held or edited."""
    _ref, case_id, card = await _card(bot)
    accept = card.button("受理")
    await bot.press(ENV_LIAISON, card, "受理")
    rows = len(await _refreshes(engine, case_id))
    await bot.feed(bot.users.press(ENV_LIAISON, card, accept))  # the old card's button again
    assert bot.fake.alerts[-1].get("show_alert")
    found = await _refreshes(engine, case_id)
    assert len(found) == rows and all(r.sent_at is not None for r in found)
