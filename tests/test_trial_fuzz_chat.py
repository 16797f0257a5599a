"""The chat fuzzer trial (bench/trials/fuzz_chat.py) at CI size finds nothing; and what it
counts as a crash, a loss and a duplicate is counted (the trial's own checks can fail)."""

from __future__ import annotations

import contextlib
import random
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Bot as PtbBot
from telegram import Update
from telegram.error import BadRequest
from telegram.ext import ApplicationHandlerStop, ContextTypes, TypeHandler

from bench.trials import fuzz_chat
from bench.trials.common import Tally, report
from bot.core.buttons import BindChat
from bot.core.clock import ManualClock
from bot.core.i18n import get_translator
from bot.core.org import Org
from bot.core.policy.catalog import Catalog
from bot.render import texts
from bot.services.dialogs import NEW_CASE_STEPS
from bot.services.org import OrgService
from models.db import session_factory
from tests.bot_harness import TOKEN, start_bot

#: Every question of every dialog flow (bot/services/dialogs.py): the trial answers each.
EVERY_STEP = {
    "new_case": {*NEW_CASE_STEPS, "confirm"},
    "step": {"evidence", "date", "future_date", "capacity", "months", "reason", "note",
             "confirm"},
    "hand_back": {"reason", "confirm"},
    "deny_extension": {"reason", "confirm"},
    "duty": {"evidence", "confirm"},
    "outcome": {"attendees", "summary", "commitments", "confirm"},
    "notice_edit": {"remark", "confirm"},
    "note": {"confirm"},
}


async def test_the_trial_at_ci_size_finds_no_crash_loss_or_duplicate(tmp_path: Path) -> None:
    tally, fuzzer = await fuzz_chat.trial(fuzz_chat.CI_SIZE, fuzz_chat.DEFAULT_SEED,
                                          folder=tmp_path)
    found = "\n".join([*(f"{c.number} {c.what}: {c.error} [{c.where}]" for c in fuzzer.crashes),
                       *fuzzer.problems])
    assert tally.runs >= 2000
    assert (tally.crashed, tally.lost, tally.duplicated) == (0, 0, 0), found
    answered: dict[str, set[str]] = {}
    for flow, step in fuzzer.coverage:
        answered.setdefault(flow, set()).add(step)
    missing = {flow: steps - answered.get(flow, set()) for flow, steps in EVERY_STEP.items()
               if steps - answered.get(flow, set())}
    assert not missing, f"dialog steps the trial never answered: {missing}"


def test_the_line_and_the_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert report(Tally("x", runs=5)) == 0
    assert capsys.readouterr().out == "trial x: 5 runs, lost 0, duplicated 0, crashed 0\n"
    for failed in (Tally("x", 5, lost=1), Tally("x", 5, duplicated=2), Tally("x", 5, crashed=1)):
        assert report(failed) == 1
    assert capsys.readouterr().out.splitlines()[-1] == (
        "trial x: 5 runs, lost 0, duplicated 0, crashed 1")


async def test_the_fake_refuses_what_telegram_refuses() -> None:
    fake = fuzz_chat.TelegramLikeRequest()
    async with PtbBot(TOKEN, request=fake) as bot:
        sent = await bot.send_message(-100, "案件")
        for refused in (lambda: bot.send_message(-100, " "),
                        lambda: bot.send_message(-100, "长" * 4097),
                        lambda: bot.edit_message_text("案件", chat_id=-100,
                                                      message_id=sent.message_id),
                        lambda: bot.edit_message_text("x", chat_id=-100, message_id=999999),
                        lambda: bot.answer_callback_query("q1", text="长" * 201)):
            with pytest.raises(BadRequest):
                await refused()
        await bot.answer_callback_query("q2", text="已受理")
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await bot.answer_callback_query("q2")
    assert len(fake.refused) == 6


@pytest.fixture
async def fuzzer(engine: AsyncEngine, clock: ManualClock, catalog: Catalog, demo_org: Org,
                 tmp_path: Path) -> Any:
    await OrgService(session_factory(engine)).load(demo_org)
    fake = fuzz_chat.TelegramLikeRequest()
    bot = await start_bot(engine, clock, catalog, fake=fake, evidence_dir=tmp_path / "e")
    people, _ = fuzz_chat.world_people(demo_org)
    found = fuzz_chat.Fuzzer(bot, fake, random.Random(1), people, {"coordination": -1001},
                             Tally("self-check"))
    bot.app.add_error_handler(found.on_error)

    async def faults(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        text = message.text if message is not None else None
        if text == "boom":
            raise RuntimeError("a bug")
        if text == "/swallowed":
            raise ApplicationHandlerStop  # no handler answers it
        query = update.callback_query
        if query is not None and query.data == "twice":
            await query.answer()
            with contextlib.suppress(BadRequest):  # Telegram refuses the second answer
                await query.answer()
            raise ApplicationHandlerStop

    bot.app.add_handler(TypeHandler(Update, faults), group=-3)  # before everything
    yield found
    await bot.app.shutdown()


async def test_what_the_trial_counts_is_counted(fuzzer: Any) -> None:
    coordinator = fuzzer.people["coordinator"][0]
    await fuzzer.say(coordinator, coordinator.id, "/help")
    assert (fuzzer.tally.crashed, fuzzer.tally.lost, fuzzer.tally.duplicated) == (0, 0, 0)
    await fuzzer.say(coordinator, coordinator.id, "boom")
    assert fuzzer.tally.crashed == 1 and "RuntimeError: a bug" in fuzzer.crashes[0].error
    await fuzzer.say(coordinator, coordinator.id, "/swallowed")
    assert fuzzer.tally.lost == 1
    help_sent = fuzzer.fake.last(coordinator.id)
    await fuzzer.press(coordinator, help_sent, "twice")
    assert fuzzer.tally.duplicated == 1
    redelivered = fuzzer._history[0]  # /help: handled, so a redelivery changes nothing
    await fuzzer.send(redelivered, fuzz_chat.Expect.NOTHING, "redelivered /help")
    assert fuzzer.tally.duplicated == 1 and fuzzer.tally.runs == 5


# -- what the trial found, fixed at the cause ---------------------------------------------------


@pytest.mark.parametrize("choice", [BindChat(department="no_such_department"),
                                    BindChat(region="aaaaaaaa")])
async def test_a_bind_choice_naming_a_place_no_longer_there_is_out_of_date(
        bot: Any, choice: BindChat) -> None:
    """A /bind choice whose department or county left the organisation (reloaded since):
    out of date, like any stale button, not "something went wrong" (seed 7, input #5030)."""
    coordinator, group = (10001, "王玮中"), -1007
    await bot.say(coordinator, group, "/bind 昌吉")
    offered = bot.last(group)
    data = bot.app.deps.codec.pack(group, choice)
    before = len(bot.fake.alerts)
    await bot.feed(bot.users.press(coordinator, offered, data))
    assert len(bot.fake.alerts) == before + 1
    alert = bot.fake.alerts[-1]
    assert alert["text"] == get_translator("zh_CN").gettext(texts.STALE_BUTTON), alert
    assert await bot.app.deps.chats.binding(group) is None
