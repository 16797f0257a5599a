"""A chat bound after its cases exist gets every card that waits for it, once, read a page at a
time: the cases it waits for are never all held in memory (issue 13: at 300,000 stored cases
reading them all at once raised the start-up peak by ~70 MB)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import col, delete

import bot.services.delivery as delivery
from bot.services.cases import CaseInput
from models.db import transaction
from models.tables import Outbox
from tests.bot_harness import Bot
from tests.conftest import COORDINATOR
from tests.test_bot_app import COORDINATION, INDUSTRY, MANAS
from tests.test_bot_app import COORDINATOR as COORDINATOR_USER

PAGE = 3
MANAS_REFS = [f"M-{n}" for n in range(1, 8)]  # seven: pages of 3, 3 and 1
OTHER_REFS = ["H-1", "H-2"]  # another county's, for the department's chat only


def energy_case(ref: str, region: str) -> CaseInput:
    return CaseInput(ref=ref, region=region, enterprise=f"{ref}水泥厂", industry="cement",
                     clauses=("四",), capacity=Decimal(50), unit="万吨/年", equipment=None,
                     registered_on=date(2026, 2, 1), description="能耗超标", row=2)


@pytest.fixture
def pages(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every page of waiting cases the delivery read."""
    monkeypatch.setattr(delivery, "WAITING_PAGE", PAGE)
    read: list[int] = []
    store = bot.app.deps.deliveries
    original = store.waiting_for

    async def counted(*args: Any, **kwargs: Any) -> list[int]:
        found = await original(*args, **kwargs)
        read.append(len(found))
        return found

    monkeypatch.setattr(store, "waiting_for", counted)
    return read


def cards_in(bot: Bot, chat: int) -> Counter[str]:
    """How many cards (【督办 REF】…) ``chat`` was sent of each case."""
    return Counter(found.group(1) for sent in bot.fake.in_chat(chat)
                   if (found := re.match(r"【督办 (\S+)】", sent.text)))


async def bind_after_the_cases(bot: Bot, chat: int, target: str) -> None:
    """The cases are there before the chat, with nothing queued for them (as cases restored
    or loaded in bulk): binding the chat is what brings their cards."""
    await bot.app.deps.cases.import_cases(
        [energy_case(ref, "玛纳斯县") for ref in MANAS_REFS]
        + [energy_case(ref, "呼图壁县") for ref in OTHER_REFS], COORDINATOR)
    async with transaction(bot.app.deps.sessions) as session:
        await session.exec(delete(Outbox).where(col(Outbox.sent_at).is_(None)))  # type: ignore[call-overload]
    await bot.say(COORDINATOR_USER, COORDINATION, "/bind coordination")
    await bot.say(COORDINATOR_USER, chat, f"/bind {target}")
    assert "绑定" in bot.last(chat).text, bot.last(chat).text
    while await bot.deliver():
        pass


async def test_a_county_bound_late_gets_each_of_its_cards_once_a_page_at_a_time(
        bot: Bot, pages: list[int]) -> None:
    await bind_after_the_cases(bot, MANAS, "玛纳斯")
    assert cards_in(bot, MANAS) == Counter(MANAS_REFS), "its own county's cases, each once"
    assert pages[:4] == [3, 3, 1, 0], pages  # then the empty page that ends the reading
    assert max(pages) <= PAGE


async def test_a_department_bound_late_gets_the_cards_of_every_county(
        bot: Bot, pages: list[int]) -> None:
    await bind_after_the_cases(bot, INDUSTRY, "工信")
    assert cards_in(bot, INDUSTRY) == Counter([*MANAS_REFS, *OTHER_REFS])
    assert pages[:4] == [3, 3, 3, 0], pages
    # Read again (a retried row), nothing waits: the shown cards are left out.
    binding = await bot.app.deps.chats.binding(INDUSTRY)
    assert binding is not None
    assert await bot.app.deps.deliveries.waiting_for(binding) == []
