"""The emulator's injected faults and its check of Telegram's limits: the plans, the draws,
what a caller sees over HTTP (and through python-telegram-bot), the command line."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from telegram import Bot
from telegram.error import NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from bot.devtools.emulator import EmulatorClient, EmulatorError, RunningEmulator, run_emulator
from bot.devtools.emulator.__main__ import parse_args
from bot.devtools.emulator.faults import (
    FaultInjector,
    FaultPlan,
    FaultPlanError,
    Limit,
    LimitWatch,
    parse_kinds,
)

TOKEN = "434343:FAULTS-token"


# --------------------------------------------------------------------------- plans and draws


def test_a_plan_refuses_what_it_cannot_apply() -> None:
    for bad in ({"rate": 1.5}, {"after": -0.1}, {"kinds": {"418": 1.0}},
                {"kinds": {"500": -1.0}}, {"rate": 0.5, "kinds": {"500": 0.0}},
                {"retry_after": 0}, {"hang": -1.0}, {"methods": ("send message",)}):
        with pytest.raises(FaultPlanError):
            FaultPlan(**bad)
    with pytest.raises(FaultPlanError, match="unknown fault plan fields"):
        FaultPlan.from_json({"rate": 0.1, "colour": "red"})


def test_a_plan_reads_the_control_apis_json_and_kinds_with_weights() -> None:
    plan = FaultPlan.from_json({"rate": 0.2, "seed": 5, "methods": "sendMessage,editMessageText",
                                "kinds": "429=2,timeout", "after": 1})
    assert plan.kinds == {"429": 2.0, "timeout": 1.0}
    assert plan.applies_to("SENDMESSAGE") and plan.applies_to("editmessagetext")
    assert not plan.applies_to("sendDocument")
    assert FaultPlan.from_json(plan.to_json()) == plan
    assert parse_kinds("500, drop=0.5") == {"500": 1.0, "drop": 0.5}
    everything = FaultPlan(rate=0.1)
    assert everything.applies_to("sendDocument") and not everything.applies_to("getUpdates")
    assert not FaultPlan().applies_to("sendMessage"), "rate 0: no faults"


def test_draws_follow_the_rate_and_the_seed_and_a_429_never_takes_effect() -> None:
    def draws(seed: int) -> list[Any]:
        injector = FaultInjector(lambda: 0.0)
        injector.configure(FaultPlan(rate=0.1, seed=seed, after=0.5))
        return [injector.draw("sendMessage") for _ in range(10_000)]

    first = draws(7)
    assert first == draws(7), "the same seed gives the same faults"
    assert first != draws(8)
    faults = [f for f in first if f is not None]
    assert 800 <= len(faults) <= 1200
    kinds = Counter(f.kind for f in faults)
    assert set(kinds) == {"429", "500", "502", "timeout", "drop"}
    assert all(kinds[k] > 120 for k in kinds), kinds
    assert not [f for f in faults if f.kind == "429" and f.after]
    after = sum(1 for f in faults if f.after and f.kind != "429")
    assert 0.4 < after / sum(1 for f in faults if f.kind != "429") < 0.6


def test_calls_outside_the_plan_do_not_move_the_draws() -> None:
    injector = FaultInjector(lambda: 0.0)
    injector.configure(FaultPlan(rate=0.3, seed=3, methods=("sendMessage",)))
    plain = [injector.draw("sendMessage") for _ in range(50)]
    injector.configure(FaultPlan(rate=0.3, seed=3, methods=("sendMessage",)))
    mixed = []
    for _ in range(50):
        assert injector.draw("getUpdates") is None
        mixed.append(injector.draw("sendMessage"))
    assert plain == mixed
    assert injector.calls == 50


# --------------------------------------------------------------------------- limits


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_watch_counts_sliding_windows_and_reports_each_limit() -> None:
    ticks = Ticks()
    watch = LimitWatch(ticks, slack=0.0)
    for i in range(30):  # 30 messages to 30 groups within 0.9 s: allowed
        ticks.now = 100.0 + i * 0.03
        assert watch.observe(-100 - i, private=False) == []
    ticks.now = 100.95
    [violation] = watch.observe(-200, private=False)
    assert violation["limit"] == "overall" and violation["count"] == 31
    ticks.now = 102.0  # the window moved on
    assert watch.observe(-201, private=False) == []
    report = watch.report()
    assert report["peaks"]["overall"] == 31 and report["hard_violations"] == 1


def test_a_group_gets_twenty_a_minute_and_a_private_chat_one_a_second_softly() -> None:
    ticks = Ticks()
    watch = LimitWatch(ticks, slack=0.0)
    for i in range(20):
        ticks.now = 100.0 + i * 2.0
        assert watch.observe(-5, private=False) == []
    ticks.now = 141.0
    assert [v["limit"] for v in watch.observe(-5, private=False)] == ["group"]
    assert watch.observe(-6, private=False) == [], "another group has its own minute"
    assert watch.observe(7, private=True) == []
    ticks.now = 141.5
    [soft] = watch.observe(7, private=True)
    assert soft["limit"] == "private" and soft["soft"]
    report = watch.report()
    assert report["violations"] == {"overall": 0, "group": 1, "private": 1}
    assert report["hard_violations"] == 1, "the private limit is reported apart"


def test_the_slack_absorbs_jitter_at_the_edge_of_a_window() -> None:
    ticks = Ticks()
    strict, lenient = LimitWatch(ticks, slack=0.0), LimitWatch(ticks, slack=0.05)
    for i in range(31):  # 31 messages paced 1/30 s apart, the last one 0.99 s after the first
        ticks.now = 100.0 + i * 0.033
        strict.observe(-1 - i, private=False)
        lenient.observe(-1 - i, private=False)
    assert strict.hard_violations() == 1 and lenient.hard_violations() == 0
    custom = LimitWatch(ticks, limits=[Limit("tiny", 1, 10.0, "all")])
    custom.observe(1, private=True)
    assert custom.observe(2, private=False)[0]["limit"] == "tiny"


# --------------------------------------------------------------------------- over HTTP


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with run_emulator(TOKEN) as running:
        yield running


@pytest.fixture
def client(emulator: RunningEmulator) -> EmulatorClient:
    return emulator.client


async def _group(client: EmulatorClient) -> int:
    user = await client.create_user("联络员")
    return (await client.create_group("环保群", [user], chat_type="supergroup")).id


async def _send(emulator: RunningEmulator, chat: int, text: str = "提醒",
                timeout: float = 10.0) -> tuple[int, str, Any]:
    url = f"{emulator.base_url}/bot{TOKEN}/sendMessage"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        async with session.post(url, json={"chat_id": chat, "text": text}) as reply:
            body = await reply.text()
            return reply.status, reply.content_type, body


async def test_a_fault_before_records_nothing_and_one_after_records_the_message(
        emulator: RunningEmulator, client: EmulatorClient) -> None:
    chat = await _group(client)
    await client.set_faults(1.0, kinds={"500": 1.0}, after=0.0)
    status, _, body = await _send(emulator, chat, "之前")
    assert status == 500 and "Internal Server Error" in body
    assert await client.messages(chat) == []
    await client.set_faults(1.0, kinds={"500": 1.0}, after=1.0)
    status, _, _ = await _send(emulator, chat, "之后")
    assert status == 500
    [recorded] = await client.messages(chat)
    assert recorded.body == "之后"
    report = await client.faults()
    assert report["counts"] == {"500/after": 1} and report["calls"] == 1
    [fault] = report["faults"]
    assert fault["message_id"] == recorded.message_id and fault["phase"] == "after"
    await client.set_faults(0)
    status, _, _ = await _send(emulator, chat, "正常")
    assert status == 200 and len(await client.messages(chat)) == 2


async def test_429_502_and_a_dropped_connection_look_like_telegrams(
        emulator: RunningEmulator, client: EmulatorClient) -> None:
    chat = await _group(client)
    await client.set_faults(1.0, kinds={"429": 1.0}, retry_after=3)
    status, _, body = await _send(emulator, chat)
    assert status == 429 and '"retry_after": 3' in body
    await client.set_faults(1.0, kinds={"502": 1.0}, after=0.0)
    status, content_type, body = await _send(emulator, chat)
    assert status == 502 and content_type == "text/html" and "nginx" in body
    await client.set_faults(1.0, kinds={"drop": 1.0}, after=1.0)
    with pytest.raises(aiohttp.ClientError):
        await _send(emulator, chat, "无回音")
    assert [m.body for m in await client.messages(chat)] == ["无回音"]


async def test_a_timeout_holds_the_answer_past_the_clients_patience(
        emulator: RunningEmulator, client: EmulatorClient) -> None:
    chat = await _group(client)
    await client.set_faults(1.0, kinds={"timeout": 1.0}, after=1.0, hang=60.0)
    with pytest.raises(TimeoutError):
        await _send(emulator, chat, "超时", timeout=0.3)
    assert [m.body for m in await client.messages(chat)] == ["超时"]


async def test_faults_only_strike_the_methods_named(emulator: RunningEmulator,
                                                    client: EmulatorClient) -> None:
    chat = await _group(client)
    await client.set_faults(1.0, methods=["editMessageText"], kinds={"500": 1.0})
    status, _, _ = await _send(emulator, chat)
    assert status == 200
    with pytest.raises(EmulatorError):
        await client.set_faults(2.0)


async def test_python_telegram_bot_sees_each_fault_as_its_own_error(
        emulator: RunningEmulator, client: EmulatorClient) -> None:
    chat = await _group(client)
    bot = Bot(TOKEN, base_url=emulator.bot_base_url,
              request=HTTPXRequest(read_timeout=0.5, connect_timeout=2.0))
    async with bot:
        for kind, error in (("429", RetryAfter), ("500", NetworkError), ("502", NetworkError),
                            ("drop", NetworkError), ("timeout", TimedOut)):
            await client.set_faults(1.0, kinds={kind: 1.0}, after=0.0, hang=30.0)
            with pytest.raises(error):
                await bot.send_message(chat, kind)
        await client.set_faults(0)
        await bot.send_message(chat, "好了")
    assert [m.body for m in await client.messages(chat)] == ["好了"]


async def test_the_limits_report_counts_accepted_messages_and_refusals(
        emulator: RunningEmulator, client: EmulatorClient) -> None:
    chat = await _group(client)
    await client.set_rate_limit(per_chat_per_minute=2)
    statuses = [(await _send(emulator, chat, f"第{i}条"))[0] for i in range(3)]
    assert statuses == [200, 200, 429]
    report = await client.limits()
    assert report["messages"] == 2 and report["rate_limit_refused"] == 1
    assert report["peaks"]["group"] == 2 and report["hard_violations"] == 0
    await client.reset_limits()
    assert (await client.limits())["messages"] == 0
    await client.set_faults(0.5, seed=1)
    await client.reset()
    assert (await client.state())["faults"]["rate"] == 0, "a reset switches faults off"


def test_the_command_line_builds_the_plan() -> None:
    args = parse_args(["--token", "1:x", "--faults", "0.1", "--fault-seed", "9",
                       "--fault-methods", "sendMessage", "--fault-kinds", "500=2,drop",
                       "--fault-after", "1", "--fault-retry-after", "2", "--fault-hang", "7"])
    assert args.fault_plan == FaultPlan(rate=0.1, seed=9, methods=("sendMessage",),
                                        kinds={"500": 2.0, "drop": 1.0}, after=1.0,
                                        retry_after=2, hang=7.0)
    assert parse_args(["--token", "1:x"]).fault_plan.rate == 0
    with pytest.raises(SystemExit):
        parse_args(["--token", "1:x", "--faults", "0.1", "--fault-kinds", "teapot"])
