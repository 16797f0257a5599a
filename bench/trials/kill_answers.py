"""Trial: ``kill -9`` right after an answer or a press, in every dialog flow, polling and webhook.

Each run picks a flow and a mode (polling or webhook) with a seeded RNG, brings the conversation
up to its last answer or press through the running ``duban run``, sends that last input, waits
a random 0–150 ms, kills the bot with SIGKILL and starts it again in the same mode. Once the
inbox is empty and the bot idle (the update recorded as handled, nothing waiting in the
emulator, the inbox or the outbox, and the person answered), the database must show the
effect exactly once:

* **lost**: the effect is not there, or the dialog the last input ends is still open, or the
  person never got the answer;
* **duplicated**: the effect is there more than once, or the last input was taken twice (two
  different answers to it, or its answer and another reply); the same answer twice is counted
  apart, as *repeated* (sent, then the bot was killed before it recorded that: the outbox
  repeats rather than loses, docs/outbox.md);
* **crashed**: the bot died on its own, the error handler's generic failure reply appeared, or
  the bot's log has a traceback.

The flows (:data:`FLOW_SPECS`): a new case (the 确认 at the end of /newcase); a step that
needs evidence (the photo; or the final 确认); accepting a case (受理); an extension request
and its denial (确认); a hand-back (非本部门职责, its reason, 确认); /reschedule of a summons;
/outcome of a summons (确认); a note by replying to a card (确认).

One emulator and one SQLite database serve every run (seeded once, before the bot starts, with
what each run needs: cases in the right state, summonses); only the bot process restarts. The
bot runs on a clock file that stands still: when a dead process left a claim behind (an inbox
row or an outbox row it was handling), the clock moves past the claim's lease while the bot is
down (the restart "took" that long), so the run does not wait a real minute for it. Such runs
are counted ("lease waits"): in production they are the ones where the person waits up to the
lease for the answer.

The first start is a cold ``python -m bot.cli run``; the restarts are forked from
:mod:`bench.trials.zygote` (an interpreter that imported duban once), so a run costs the bot's
own start-up, not the interpreter's (``--cold``: every start cold).

``python bench/trials/kill_answers.py [--size N] [--seed S] [--verbose] [--keep DIR]``: the
seed, the failures and the timings on standard error, then the one result line. CI runs it at
:data:`CI_SIZE` (``tests/test_trial_kill_answers.py``); ``--size`` or ``DUBAN_TRIAL_SIZE`` runs
it bigger, ``--seed`` or ``DUBAN_TRIAL_SEED`` draws other runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, func, select

from bench.trials.common import Tally, note, options, report
from bench.trials.world import free_ports
from bot.app import build_deps
from bot.core.casefile import CaseInput
from bot.core.clock import FileClock
from bot.core.i18n import get_translator
from bot.core.policy.catalog import load_default_catalog
from bot.core.workflow import Actor, StepInput
from bot.devtools.emulator.client import (
    ChatMessage,
    EmulatorClient,
)
from bot.devtools.emulator.server import RunningEmulator, run_emulator
from bot.render import texts
from bot.services import inbox as inbox_service
from bot.services import outbox as outbox_service
from bot.services.access import Who
from bot.services.chats import BindTarget, ChatKind
from bot.services.deps import Deps
from bot.settings import Settings
from models.db import create_engine, transaction, upgrade
from models.tables import (
    Case,
    Dialog,
    Event,
    InboxUpdate,
    Outbox,
    ProcessedUpdate,
    Summons,
)

ROOT = Path(__file__).resolve().parents[2]
NAME = "kill_answers"
CI_SIZE = 20
DEFAULT_SEED = 14
TOKEN = "737373:KILL-ANSWERS-TRIAL"
SECRET = "kill-answers-secret"
#: How long any one condition may take (a start, an answer, the bot going idle).
WAIT = 60.0
#: The pause between sending the last input and the kill, drawn per run.
KILL_AFTER = (0.0, 0.150)
#: The bot's clock: a Monday morning in office hours (Asia/Shanghai), in a year with room.
START = datetime(2026, 6, 1, 1, 30, tzinfo=UTC)
#: How far the clock moves while the bot is down when a dead process left a claim.
LEASE_GAP = max(inbox_service.CLAIM_LEASE, outbox_service.CLAIM_LEASE) + timedelta(seconds=1)
MODES = ("polling", "webhook")
TRACEBACK = "Traceback (most recent call last)"
#: A tiny JPEG (by its bytes, which is how the bot recognises a photo).
PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00kill-trial\xff\xd9"

ZH = get_translator("zh_CN")
COORDINATOR = Who(role="coordinator", name="王玮中", telegram_id=10001)
INDUSTRY = Who(role="liaison", name="张明", telegram_id=20001, department="industry")
ENVIRONMENT = Who(role="liaison", name="李娜", telegram_id=20002, department="environment")
REFORM = Who(role="liaison", name="赵磊", telegram_id=20003, department="development_reform")
COUNTY = Who(role="liaison", name="马晓燕", telegram_id=30001, region="玛纳斯县")

T = TypeVar("T")


def _said(message_id: str) -> str:
    """What a reply starts with: the Chinese text of ``message_id`` up to its first field."""
    return ZH.gettext(message_id).split("{", 1)[0].strip()


FAILED = _said(texts.FAILED)


class Timeout(Exception):
    """A condition the trial waits for did not come within :data:`WAIT`."""


# -- the runs --------------------------------------------------------------------------------


@dataclass
class Run:
    """One kill: what it seeds, what it sends last, what it finds afterwards."""

    index: int
    flow: str
    mode: str
    delay: float
    ref: str = ""
    case_id: int = 0
    summons_id: int = 0
    summons_number: int = 0
    text: str = ""  # the enterprise, the note, the reason: what the effect is recognised by
    wanted: datetime | None = None  # /reschedule's new time
    # Filled in while it runs:
    chat: int = 0
    user: int = 0
    update_id: int = 0
    asked: int = 0  # the message the answer replies to (the input, or the pressed question)
    query_id: str | None = None
    phase: str = ""  # how far the killed process got (see Trial._phase)
    lease_wait: bool = False
    drive_seconds: float = 0.0  # the conversation up to the last input
    restart_seconds: float = 0.0
    settle_seconds: float = 0.0  # from the restart to idle
    seconds: float = 0.0
    effect: int = 0
    answers: int = 0
    repeated: bool = False  # the same answer came twice (an unknown send, repeated)
    counted: bool = False  # in the tally
    crashed: bool = False
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Last:
    """The input after which the bot is killed: a text (maybe a reply), a photo, or a press."""

    user: int
    chat: int
    text: str | None = None
    reply_to: int | None = None
    photo: bool = False
    press: ChatMessage | None = None
    label: str | None = None


@dataclass(frozen=True)
class Answer:
    """How the person is answered: what the bot says to the last input (a message replying to
    ``Run.asked``, or the press's toast) contains ``says``."""

    says: str


@dataclass(frozen=True)
class FlowSpec:
    name: str
    seed: Callable[[Trial, Run], Awaitable[None]]
    drive: Callable[[Trial, Run], Awaitable[Last]]
    effect: Callable[[Trial, Run], Awaitable[int]]
    answer: Answer
    ends_dialog: bool = True  # the last input ends a dialog: no dialog row may stay
    cleanup: Callable[[Trial, Run], Awaitable[None]] | None = None


def plan(size: int, rng: random.Random) -> list[tuple[str, str]]:
    """``size`` (flow, mode) pairs: every pair once first (as far as ``size`` allows), the
    rest drawn at random; polling runs first, then webhook runs (one switch of mode)."""
    pairs = [(flow, mode) for mode in MODES for flow in FLOWS]
    rng.shuffle(pairs)
    chosen = pairs[:size] + [(rng.choice(list(FLOWS)), rng.choice(MODES))
                             for _ in range(size - len(pairs))]
    rng.shuffle(chosen)
    return sorted(chosen, key=lambda pair: MODES.index(pair[1]))


# -- the bot process -------------------------------------------------------------------------


class Zygote:
    """A client of :mod:`bench.trials.zygote`: ``duban run`` forked from an interpreter that
    has imported duban already."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self._pids: asyncio.Queue[int] = asyncio.Queue()
        self._exits: dict[int, asyncio.Future[int]] = {}
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def start(cls, log: Path) -> Zygote:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DUBAN_", "TELEGRAM_"))}
        with log.open("ab") as handle:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.trials.zygote", env=env, cwd=str(ROOT),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=handle)
        return cls(process)

    def _exit(self, pid: int) -> asyncio.Future[int]:
        return self._exits.setdefault(pid, asyncio.get_running_loop().create_future())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            word, *values = line.decode().split()
            if word == "pid":
                self._pids.put_nowait(int(values[0]))
            elif word == "exit" and not self._exit(int(values[0])).done():
                self._exit(int(values[0])).set_result(int(values[1]))

    async def run(self, env: dict[str, str], log: Path,
                  arguments: list[str]) -> tuple[int, asyncio.Future[int]]:
        """Fork ``duban *arguments``: its pid, and its exit code to come."""
        assert self.process.stdin is not None
        request = {"env": env, "log": str(log), "cwd": str(ROOT), "args": arguments}
        self.process.stdin.write((json.dumps(request) + "\n").encode())
        await self.process.stdin.drain()
        pid = await asyncio.wait_for(self._pids.get(), WAIT)  # after its imports, the first
        return pid, self._exit(pid)

    async def close(self) -> None:
        if self.process.returncode is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), WAIT)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        self._reader.cancel()


@dataclass
class BotProcess:
    """``duban run`` as its own process, in polling or webhook mode.

    The first start is cold (``python -m bot.cli run``, as an operator starts it); later
    starts, unless ``cold``, are forked from a :class:`Zygote` that has done the imports
    once, so a restart after a kill costs the bot's own start-up (the database, the
    organisation, the Application, the webhook or the polling) and not the interpreter's."""

    env: dict[str, str]
    log: Path
    emulator: RunningEmulator
    webhook_port: int
    cold: bool = False
    mode: str = ""
    pid: int | None = None
    exit: asyncio.Future[int] | None = None
    forks: Zygote | None = None
    cold_starts: list[float] = field(default_factory=list)
    warm_starts: list[float] = field(default_factory=list)

    @property
    def alive(self) -> bool:
        return self.exit is not None and not self.exit.done()

    @property
    def exit_code(self) -> int | None:
        return self.exit.result() if self.exit is not None and self.exit.done() else None

    def arguments(self, mode: str) -> list[str]:
        arguments = ["run"]
        if mode == "webhook":
            url = f"http://127.0.0.1:{self.webhook_port}/telegram"
            arguments += ["--webhook-url", url, "--secret-token", SECRET, "--listen",
                          "127.0.0.1", "--port", str(self.webhook_port)]
        return arguments

    async def _spawn(self, mode: str) -> None:
        with self.log.open("ab") as handle:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", *self.arguments(mode), env=self.env,
                cwd=str(ROOT), stdin=asyncio.subprocess.DEVNULL, stdout=handle, stderr=handle)
        self.pid = process.pid
        self.exit = asyncio.get_running_loop().create_task(process.wait())

    async def start(self, mode: str, until: Callable[..., Awaitable[Any]]) -> float:
        """Start and wait until it takes updates (it polls, or it has set its webhook)."""
        world = self.emulator.state
        generation, hook = world.poll_generation, world.webhook
        began = time.perf_counter()
        warm = self.forks is not None
        if self.forks is not None:
            self.pid, self.exit = await self.forks.run(self.env, self.log, self.arguments(mode))
        else:
            await self._spawn(mode)
        self.mode = mode

        async def ready() -> bool | None:
            if not self.alive:
                raise RuntimeError(f"duban run exited with {self.exit_code} while starting; "
                                   f"see {self.log}")
            if mode == "webhook":
                return True if world.webhook is not hook and world.webhook.url else None
            return True if world.poll_generation != generation else None

        await until(ready, f"duban run to start ({mode})")
        seconds = time.perf_counter() - began
        (self.warm_starts if warm else self.cold_starts).append(seconds)
        if self.forks is None and not self.cold:
            self.forks = await Zygote.start(self.log)
        return seconds

    async def _signal(self, signum: int) -> None:
        if self.alive and self.pid is not None:
            os.kill(self.pid, signum)

    async def kill(self) -> None:
        """SIGKILL, and wait until it is gone."""
        await self._signal(signal.SIGKILL)
        if self.exit is not None:
            await self.exit

    async def stop(self) -> None:
        """Stop the bot as an operator would (SIGTERM)."""
        await self._signal(signal.SIGTERM)
        if self.exit is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self.exit), WAIT)
            except TimeoutError:
                await self.kill()

    async def close(self) -> None:
        await self.stop()
        if self.forks is not None:
            await self.forks.close()


# -- the trial -------------------------------------------------------------------------------


@dataclass
class Chats:
    private: int
    coordination: int
    environment: int
    industry: int
    reform: int
    county: int

    def all(self) -> tuple[int, ...]:
        return (self.private, self.coordination, self.environment, self.industry,
                self.reform, self.county)


@dataclass
class Trial:
    emulator: RunningEmulator
    deps: Deps  # the trial's own services on the shared database (seeding and reading)
    clock: FileClock
    chats: Chats
    bot: BotProcess
    failed_seen: set[tuple[int, int]] = field(default_factory=set)
    #: graceful stops and starts (outside the runs: a change of mode) whose log has a
    #: traceback; reported, not counted
    stop_tracebacks: int = 0
    summonses: int = 0

    @property
    def client(self) -> EmulatorClient:
        return self.emulator.client

    # -- waiting ---------------------------------------------------------------------------

    async def until(self, probe: Callable[[], Awaitable[T | None]], what: str,
                    timeout: float = WAIT) -> T:
        """Re-run ``probe`` after each change in the emulator (and at least every 0.2 s, for
        changes only the database sees) until it returns a value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seq, _ = await self.client.events(since=1 << 62)
        while True:
            result = await probe()
            if result is not None:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise Timeout(f"{what}: not within {timeout:.0f} s")
            seq, _ = await self.client.events(since=seq, timeout=min(remaining, 0.2))

    async def replies(self, chat: int, message_id: int, says: str = "",
                      after: int = 0) -> list[ChatMessage]:
        return [m for m in await self.client.messages(chat)
                if m.from_bot and m.reply_to_message_id == message_id and m.message_id > after
                and says in m.body]

    async def reply(self, chat: int, message_id: int, says: str = "",
                    after: int = 0) -> ChatMessage:
        async def found() -> ChatMessage | None:
            got = await self.replies(chat, message_id, says, after)
            return got[-1] if got else None

        return await self.until(found, f"a reply to {message_id} in {chat} ({says!r})")

    async def say(self, user: int, chat: int, text: str, says: str = "",
                  reply_to: int | None = None) -> ChatMessage:
        sent = await self.client.send_text(user, chat, text, reply_to=reply_to)
        return await self.reply(chat, sent.message_id, says)

    async def photo(self, user: int, chat: int, says: str = "") -> ChatMessage:
        sent = await self.client.send_photo(user, chat, PHOTO, "evidence.jpg")
        return await self.reply(chat, sent.message_id, says)

    async def press(self, user: int, chat: int, message: ChatMessage, label: str,
                    says: str = "") -> ChatMessage:
        """Press a button and wait for the bot's next message about it (a reply to the
        pressed message)."""
        newest = max((m.message_id for m in await self.client.messages(chat)), default=0)
        answer = await self.client.press(user, chat, message.message_id,
                                         data=_button(message, label), timeout=WAIT)
        if answer is None:
            raise Timeout(f"no answer to the press of {label!r}")
        return await self.reply(chat, message.message_id, says, after=newest)

    async def card(self, chat: int, ref: str, label: str) -> ChatMessage:
        """The newest message in ``chat`` about ``ref`` with a button ``label``."""
        async def found() -> ChatMessage | None:
            got = [m for m in await self.client.messages(chat) if m.from_bot and ref in m.body
                   and any(label in b.get("text", "") for b in m.buttons)]
            return got[-1] if got else None

        return await self.until(found, f"the card of {ref} with {label!r} in {chat}")

    # -- reading the database ----------------------------------------------------------------

    async def scalar(self, statement: Any) -> Any:
        async with self.deps.sessions() as session:
            return (await session.exec(statement)).one()

    async def events(self, run: Run, kind: str) -> list[Event]:
        async with self.deps.sessions() as session:
            return list((await session.exec(select(Event).where(
                col(Event.case_id) == run.case_id, col(Event.kind) == kind))).all())

    async def dialog(self, run: Run) -> Dialog | None:
        async with self.deps.sessions() as session:
            return await session.get(Dialog, (run.chat, run.user))

    async def said(self, run: Run) -> list[str]:
        """Everything the bot said to the last input: its replies (to the message sent, or to
        the message pressed) and the press's toast."""
        said = [m.body for m in await self.replies(run.chat, run.asked)]
        if run.query_id is not None:
            toast = await self.client.callback_answer(run.query_id, timeout=0)
            if toast is not None and toast.text:
                said.append(toast.text)
        return said

    async def answers(self, run: Run, spec: FlowSpec) -> int:
        """How many times the person was given the answer to the last input."""
        return sum(spec.answer.says in text for text in await self.said(run))

    async def idle(self, run: Run, spec: FlowSpec) -> bool | None:
        """The bot is done with everything: the update is recorded as handled, nothing waits
        in the emulator, the inbox or the outbox, and the person has the answer. True also
        when the bot died (the caller tells the two apart)."""
        if not self.bot.alive:
            return True
        if self.emulator.state.pending:
            return None
        async with self.deps.sessions() as session:
            handled = await session.get(ProcessedUpdate, run.update_id) is not None
            waiting = (await session.exec(select(func.count()).select_from(InboxUpdate))).one()
            unsent = (await session.exec(select(func.count()).select_from(Outbox).where(
                col(Outbox.sent_at).is_(None),
                col(Outbox.not_before) <= self.clock.now()))).one()
        if not handled or waiting or unsent:
            return None
        return True if await self.answers(run, spec) else None

    async def _phase(self, run: Run, spec: FlowSpec) -> str:
        """How far the killed process got with the last input."""
        async with self.deps.sessions() as session:
            handled = await session.get(ProcessedUpdate, run.update_id) is not None
            row = await session.get(InboxUpdate, run.update_id)
        if handled:
            return "answered" if await self.answers(run, spec) else "handled, not answered"
        if row is not None:
            return "claimed" if row.claimed_at is not None else "stored"
        return "not stored"

    async def _claims_left(self) -> bool:
        """Whether a dead process left an inbox or outbox row claimed."""
        async with self.deps.sessions() as session:
            inbox = (await session.exec(select(func.count()).select_from(InboxUpdate).where(
                col(InboxUpdate.claimed_at).is_not(None)))).one()
            outbox = (await session.exec(select(func.count()).select_from(Outbox).where(
                col(Outbox.sent_at).is_(None), col(Outbox.claimed_at).is_not(None)))).one()
        return bool(inbox or outbox)

    async def _new_failures(self) -> list[str]:
        """Generic failure replies (messages and alerts) not seen before."""
        found: list[str] = []
        for chat in self.chats.all():
            for message in await self.client.messages(chat):
                key = (chat, message.message_id)
                if message.from_bot and FAILED in message.body and key not in self.failed_seen:
                    self.failed_seen.add(key)
                    found.append(f"failure reply in {chat}: {message.body[:80]!r}")
        for user in (COORDINATOR, INDUSTRY, ENVIRONMENT, REFORM):
            assert user.telegram_id is not None
            for answer in await self.client.alerts(user.telegram_id):
                key = (user.telegram_id, hash(answer.callback_query_id))
                if FAILED in (answer.text or "") and key not in self.failed_seen:
                    self.failed_seen.add(key)
                    found.append(f"failure alert to {user.telegram_id}: {answer.text!r}")
        return found

    # -- one run ---------------------------------------------------------------------------

    async def ensure_mode(self, mode: str) -> None:
        """The bot running in ``mode``: stopped and started again (gracefully) if not."""
        if self.bot.alive and self.bot.mode == mode:
            return
        offset = self.bot.log.stat().st_size if self.bot.log.exists() else 0
        await self.bot.stop()
        await self.bot.start(mode, self.until)
        if TRACEBACK in _read_from(self.bot.log, offset):
            self.stop_tracebacks += 1

    async def send(self, run: Run, last: Last) -> None:
        """Send the last input; note its update id and what the answer will reply to."""
        world = self.emulator.state
        run.update_id, run.chat, run.user = world.next_update_id, last.chat, last.user
        if last.press is not None:
            assert last.label is not None
            run.asked = last.press.message_id
            run.query_id = await self.client.press_nowait(
                last.user, last.chat, last.press.message_id,
                data=_button(last.press, last.label))
        elif last.photo:
            sent = await self.client.send_photo(last.user, last.chat, PHOTO, "evidence.jpg")
            run.asked = sent.message_id
        else:
            assert last.text is not None
            sent = await self.client.send_text(last.user, last.chat, last.text,
                                               reply_to=last.reply_to)
            run.asked = sent.message_id
        assert world.update_log[-1]["update"]["update_id"] == run.update_id, "one update"

    async def run(self, run: Run, tally: Tally) -> None:
        spec = FLOW_SPECS[run.flow]
        began = time.perf_counter()
        await self.ensure_mode(run.mode)  # a graceful stop and start: not part of the run
        offset = self.bot.log.stat().st_size if self.bot.log.exists() else 0
        driving = time.perf_counter()
        last = await spec.drive(self, run)
        run.drive_seconds = time.perf_counter() - driving
        if not self.bot.alive:
            run.problems.append("crashed: the bot died before the last input")
        await self.send(run, last)
        await asyncio.sleep(run.delay)  # the kill lands at a random point of the handling
        if not self.bot.alive:
            run.problems.append(f"crashed: the bot died on its own (exit {self.bot.exit_code})")
        await self.bot.kill()
        run.phase = await self._phase(run, spec)
        if await self._claims_left():
            run.lease_wait = True
            self.clock.advance(LEASE_GAP)
        run.restart_seconds = await self.bot.start(run.mode, self.until)
        settling = time.perf_counter()
        try:
            await self.until(lambda: self.idle(run, spec), "the bot to go idle")
        except Timeout as timeout:
            run.problems.append(f"timeout: {timeout}")
        run.settle_seconds = time.perf_counter() - settling
        if not self.bot.alive:
            run.problems.append(f"crashed: the bot died after the restart "
                                f"(exit {self.bot.exit_code})")
        await self.verdict(run, spec, tally, offset)
        if spec.cleanup is not None and self.bot.alive:
            await spec.cleanup(self, run)
        run.seconds = time.perf_counter() - began

    async def verdict(self, run: Run, spec: FlowSpec, tally: Tally, offset: int) -> None:
        run.effect = await spec.effect(self, run)
        said = await self.said(run)
        answers = [text for text in said if spec.answer.says in text]
        others = [text for text in said if spec.answer.says not in text and FAILED not in text]
        run.answers = len(answers)
        lost = duplicated = crashed = False
        if run.effect == 0:
            lost = True
            run.problems.append("lost: the effect is not there")
        elif run.effect > 1:
            duplicated = True
            run.problems.append(f"duplicated: the effect is there {run.effect} times")
        if run.answers == 0:
            lost = True
            run.problems.append("lost: the person got no answer")
        elif len(set(answers)) > 1:
            duplicated = True
            run.problems.append(f"duplicated: different answers: {answers}")
        elif run.answers > 1:
            # The same answer again: sent, then the process died before recording it; the
            # outbox repeats rather than loses (docs/outbox.md). Counted, not a failure.
            run.repeated = True
        if others:
            duplicated = True
            run.problems.append(f"duplicated: the last input was taken again: {others}")
        if spec.ends_dialog and await self.dialog(run) is not None:
            lost = True
            run.problems.append("lost: the dialog the last input ends is still open")
        failures = await self._new_failures()
        log = _read_from(self.bot.log, offset)
        if TRACEBACK in log:
            failures.append("a traceback in the log:\n" + _around(log, TRACEBACK))
        if failures or any(p.startswith("crashed") for p in run.problems):
            crashed = True
            run.problems.extend(f"crashed: {f}" for f in failures)
        if run.problems:
            run.problems.append(await self._what_happened(run))
        tally.runs += 1
        tally.lost += lost
        tally.duplicated += duplicated
        tally.crashed += crashed
        run.counted, run.crashed = True, crashed

    async def _what_happened(self, run: Run) -> str:
        """For a failed run: the bot's replies to the last input and the dialog's state."""
        said = [m.body[:100] for m in await self.replies(run.chat, run.asked)]
        dialog = await self.dialog(run)
        answer = (await self.client.callback_answer(run.query_id, timeout=0)
                  if run.query_id else None)
        return (f"update {run.update_id}; replies to {run.asked}: {said}; toast: "
                f"{answer.text if answer else None!r}; dialog: "
                f"{(dialog.flow, dialog.step, dialog.data) if dialog else None}")


def _button(message: ChatMessage, label: str) -> str:
    for button in message.buttons:
        if label in button.get("text", "") and "callback_data" in button:
            return str(button["callback_data"])
    raise AssertionError(f"no button {label!r} on {message.body[:60]!r}: {message.buttons}")


def _read_from(path: Path, offset: int) -> str:
    if not path.exists():
        return ""
    with path.open("rb") as handle:
        handle.seek(offset)
        return handle.read().decode("utf-8", errors="replace")


def _around(text: str, marker: str, width: int = 1500) -> str:
    at = text.index(marker)
    return text[max(0, at - 300):at + width]


# -- the flows -------------------------------------------------------------------------------
# Each seeds what it needs (before the bot starts), drives the conversation up to its last
# input, and counts its effect in the database.


def _enterprise(run: Run) -> str:
    return f"玛纳斯县断电试验{run.index:03d}厂"


def _five_case(run: Run) -> CaseInput:
    """An environmental case （五） of 环保 in 玛纳斯县."""
    run.ref = f"KA-{run.index:03d}"
    return CaseInput(ref=run.ref, region="玛纳斯县", enterprise=_enterprise(run),
                     industry="cement", clauses=("五",), capacity=Decimal(30), unit="万吨/年",
                     equipment=None, registered_on=START.date(), description="颗粒物超标",
                     row=run.index)


def _energy_case(run: Run) -> CaseInput:
    """An energy case （四） of 工信 and 发改 in 玛纳斯县."""
    run.ref = f"KA-{run.index:03d}"
    return CaseInput(ref=run.ref, region="玛纳斯县", enterprise=_enterprise(run),
                     industry="cement", clauses=("四",), capacity=Decimal(50), unit="万吨/年",
                     equipment=None, registered_on=START.date(), description="能耗超标",
                     row=run.index)


async def _import(trial: Trial, run: Run, item: CaseInput) -> None:
    await trial.deps.cases.import_cases([item], COORDINATOR)
    run.case_id = (await trial.deps.cases.get(item.ref)).case.id or 0


async def _step(trial: Trial, run: Run, step: str, who: Who, **values: Any) -> None:
    assert who.department is not None
    await trial.deps.cases.take_step(run.ref, StepInput(step, Actor.DEPARTMENT, who.department,
                                                        **values), who)


async def _rectifying_energy_case(trial: Trial, run: Run) -> None:
    await _import(trial, run, _energy_case(run))
    for who in (INDUSTRY, REFORM):
        await _step(trial, run, "accept", who)
    await _step(trial, run, "order_rectification", INDUSTRY, evidence=("doc:seed",))


async def _summons(trial: Trial, run: Run, *, confirmed: bool) -> None:
    """A case of 环保 and its summons (约谈), numbered as the sweep numbers them, proposed or
    confirmed by a coordinator (``CalendarService.confirm_summons``)."""
    await _import(trial, run, _five_case(run))
    trial.summonses += 1
    now = trial.clock.now()
    async with transaction(trial.deps.sessions) as session:
        summons = Summons(year=START.year, number=trial.summonses, key=f"trial:{run.index}",
                          party="environment", party_kind="department", case_refs=[run.ref],
                          status="proposed", meets_at=START + timedelta(days=20),
                          place="昌州经信委会议室", created_at=now, updated_at=now)
        session.add(summons)
        await session.flush()
        run.summons_id = summons.id or 0
    run.summons_number = trial.summonses
    if confirmed:
        await trial.deps.calendar.confirm_summons(run.summons_id, COORDINATOR)


def _id(who: Who) -> int:
    assert who.telegram_id is not None
    return who.telegram_id


# new case: /newcase … 确认


async def seed_new_case(trial: Trial, run: Run) -> None:
    run.text = f"玛纳斯县断电{run.index:03d}水泥有限公司"


async def drive_new_case(trial: Trial, run: Run) -> Last:
    user, chat = _id(COORDINATOR), trial.chats.private
    await trial.say(user, chat, "/newcase")
    await trial.say(user, chat, "玛纳斯")
    industry = await trial.say(user, chat, run.text)
    clause = await trial.press(user, chat, industry, ZH.gettext("cement"))
    await trial.press(user, chat, clause, "（五）")
    await trial.say(user, chat, "45 万吨/年")
    evidence = await trial.say(user, chat, "颗粒物排放超标，群众举报")
    summary = await trial.press(user, chat, evidence, ZH.gettext("Skip"))
    return Last(user, chat, press=summary, label=ZH.gettext("Confirm"))


async def effect_new_case(trial: Trial, run: Run) -> int:
    return int(await trial.scalar(select(func.count()).select_from(Case).where(
        col(Case.enterprise) == run.text)))


# a step that needs evidence: the photo, or the final 确认


RESTRICTION = "order_restriction"


async def seed_accepted_case(trial: Trial, run: Run) -> None:
    await _import(trial, run, _five_case(run))
    await _step(trial, run, "accept", ENVIRONMENT)


async def _to_the_photo(trial: Trial, run: Run) -> tuple[int, int]:
    user, chat = _id(ENVIRONMENT), trial.chats.environment
    label = ZH.gettext("Order restricted production or stop and rectify")
    card = await trial.card(chat, run.ref, label)
    await trial.press(user, chat, card, label)
    return user, chat


async def drive_step_photo(trial: Trial, run: Run) -> Last:
    user, chat = await _to_the_photo(trial, run)
    return Last(user, chat, photo=True)


async def effect_step_photo(trial: Trial, run: Run) -> int:
    """The photo is kept in the dialog's draft, once, and the dialog asks for the date."""
    dialog = await trial.dialog(run)
    if dialog is None or dialog.step != "future_date":
        return 0
    return len(dialog.data.get("evidence", []))


async def cleanup_step_photo(trial: Trial, run: Run) -> None:
    await trial.say(run.user, run.chat, "/cancel")


async def drive_step_confirm(trial: Trial, run: Run) -> Last:
    user, chat = await _to_the_photo(trial, run)
    await trial.photo(user, chat)
    summary = await trial.say(user, chat, "2026-09-30")
    return Last(user, chat, press=summary, label=ZH.gettext("Confirm"))


async def effect_step_confirm(trial: Trial, run: Run) -> int:
    return len(await trial.events(run, RESTRICTION))


# accepting a case: the 受理 press


async def seed_routed_case(trial: Trial, run: Run) -> None:
    await _import(trial, run, _five_case(run))


async def drive_accept(trial: Trial, run: Run) -> Last:
    chat, label = trial.chats.environment, ZH.gettext("Accept")
    card = await trial.card(chat, run.ref, label)
    return Last(_id(ENVIRONMENT), chat, press=card, label=label)


async def effect_accept(trial: Trial, run: Run) -> int:
    return len(await trial.events(run, "accept"))


# an extension request: 申请延期, months, reason, 确认


async def drive_extension(trial: Trial, run: Run) -> Last:
    user, chat = _id(INDUSTRY), trial.chats.industry
    label = ZH.gettext("Request an extension")
    card = await trial.card(chat, run.ref, label)
    months = await trial.press(user, chat, card, label)
    reason = await trial.press(user, chat, months, "2")
    run.text = f"设备改造需要时间（第{run.index}次试验）"
    summary = await trial.say(user, chat, run.text, reply_to=reason.message_id)
    return Last(user, chat, press=summary, label=ZH.gettext("Confirm"))


async def effect_extension(trial: Trial, run: Run) -> int:
    return len([e for e in await trial.events(run, "request_extension")
                if e.payload.get("reason") == run.text])


# denying an extension: 不予延期, reason, 确认 (a coordinator)


async def seed_extension_requested(trial: Trial, run: Run) -> None:
    await _rectifying_energy_case(trial, run)
    await _step(trial, run, "request_extension", INDUSTRY, reason="设备改造", months=2)


async def drive_deny_extension(trial: Trial, run: Run) -> Last:
    user, chat = _id(COORDINATOR), trial.chats.coordination
    label = ZH.gettext("Deny")
    request = await trial.card(chat, run.ref, label)
    await trial.press(user, chat, request, label)
    run.text = f"理由不充分（第{run.index}次试验）"
    summary = await trial.say(user, chat, run.text)
    return Last(user, chat, press=summary, label=ZH.gettext("Confirm"))


async def effect_deny_extension(trial: Trial, run: Run) -> int:
    return len([e for e in await trial.events(run, "deny_extension")
                if e.payload.get("reason") == run.text])


# a hand-back: 非本部门职责, its reason, 确认


async def drive_hand_back(trial: Trial, run: Run) -> Last:
    user, chat = _id(ENVIRONMENT), trial.chats.environment
    label = ZH.gettext("Not our duty")
    card = await trial.card(chat, run.ref, label)
    await trial.press(user, chat, card, label)
    run.text = f"应由工信部门办理（第{run.index}次试验）"
    summary = await trial.say(user, chat, run.text)
    return Last(user, chat, press=summary, label=ZH.gettext("Confirm"))


async def effect_hand_back(trial: Trial, run: Run) -> int:
    return len([e for e in await trial.events(run, "handed_back")
                if e.payload.get("reason") == run.text])


# /reschedule of a summons


async def seed_reschedule(trial: Trial, run: Run) -> None:
    await _summons(trial, run, confirmed=run.index % 2 == 0)
    run.wanted = datetime(2026, 7, 1 + run.index % 28, 9, 30, tzinfo=trial.deps.tz)


async def drive_reschedule(trial: Trial, run: Run) -> Last:
    assert run.wanted is not None
    when = run.wanted.strftime("%Y-%m-%d %H:%M")
    number = f"{START.year}-{run.summons_number}"
    return Last(_id(COORDINATOR), trial.chats.coordination,
                text=f"/reschedule {number} {when} 州政府第{run.index}会议室")


async def effect_reschedule(trial: Trial, run: Run) -> int:
    """One ``summons_updated`` event, and the summons at the new time and place."""
    async with trial.deps.sessions() as session:
        summons = await session.get(Summons, run.summons_id)
    assert summons is not None and run.wanted is not None
    if summons.meets_at != run.wanted or summons.place != f"州政府第{run.index}会议室":
        return 0
    return len(await trial.events(run, "summons_updated"))


# /outcome of a summons: attendees, summary, commitments, 确认


async def seed_outcome(trial: Trial, run: Run) -> None:
    await _summons(trial, run, confirmed=True)


async def drive_outcome(trial: Trial, run: Run) -> Last:
    user, chat = _id(COORDINATOR), trial.chats.coordination
    await trial.say(user, chat, f"/outcome {START.year}-{run.summons_number}")
    await trial.say(user, chat, "县分管副县长、环保局局长")
    await trial.say(user, chat, "说明了整改计划")
    run.text = f"9月底前完成整改（第{run.index}次试验）"
    summary = await trial.say(user, chat, run.text)
    return Last(user, chat, press=summary, label=ZH.gettext("Confirm"))


async def effect_outcome(trial: Trial, run: Run) -> int:
    async with trial.deps.sessions() as session:
        summons = await session.get(Summons, run.summons_id)
    assert summons is not None
    if not summons.outcome or summons.outcome.get("commitments") != run.text:
        return 0
    return len(await trial.events(run, "summons_updated"))


# a note: a reply to a case's card, then 确认


async def drive_note(trial: Trial, run: Run) -> Last:
    user, chat = _id(ENVIRONMENT), trial.chats.environment
    card = await trial.card(chat, run.ref, ZH.gettext("Accept"))
    run.text = f"现场复查：企业已停产（第{run.index}次试验）"
    summary = await trial.say(user, chat, run.text, reply_to=card.message_id)
    return Last(user, chat, press=summary, label=ZH.gettext("Confirm"))


async def effect_note(trial: Trial, run: Run) -> int:
    return len([e for e in await trial.events(run, "note")
                if e.payload.get("note") == run.text])


FLOW_SPECS: dict[str, FlowSpec] = {spec.name: spec for spec in (
    FlowSpec("new_case", seed_new_case, drive_new_case, effect_new_case,
             Answer(_said("Case {ref} registered and routed."))),
    FlowSpec("step_photo", seed_accepted_case, drive_step_photo, effect_step_photo,
             Answer(_said("By what date? (YYYY-MM-DD, after today)")), ends_dialog=False,
             cleanup=cleanup_step_photo),
    FlowSpec("step_confirm", seed_accepted_case, drive_step_confirm, effect_step_confirm,
             Answer(_said("Recorded: {step}."))),
    FlowSpec("accept", seed_routed_case, drive_accept, effect_accept,
             Answer(_said("Done.")), ends_dialog=False),
    FlowSpec("extension", _rectifying_energy_case, drive_extension, effect_extension,
             Answer(_said("Recorded: {step}."))),
    FlowSpec("deny_extension", seed_extension_requested, drive_deny_extension,
             effect_deny_extension, Answer(_said("Extension denied; the department is told."))),
    FlowSpec("hand_back", seed_routed_case, drive_hand_back, effect_hand_back,
             Answer(_said("Handed back to the coordinators with your reason."))),
    FlowSpec("reschedule", seed_reschedule, drive_reschedule, effect_reschedule,
             Answer(_said("Done.")), ends_dialog=False),
    FlowSpec("outcome", seed_outcome, drive_outcome, effect_outcome,
             Answer(_said("The outcome of the summons is recorded."))),
    FlowSpec("note", seed_routed_case, drive_note, effect_note,
             Answer(_said("Recorded as a note on case {ref}."))),
)}
FLOWS = tuple(FLOW_SPECS)


# -- setting up ------------------------------------------------------------------------------


async def _people_and_chats(emulator: RunningEmulator) -> Chats:
    client = emulator.client
    for who in (COORDINATOR, INDUSTRY, ENVIRONMENT, REFORM, COUNTY):
        await client.create_user(who.name or "?", id=_id(who))
    coordinator = _id(COORDINATOR)

    async def group(title: str, *members: Who) -> int:
        chat = await client.create_group(title, [coordinator, *(_id(m) for m in members)],
                                         chat_type="supergroup")
        return chat.id

    private = (await client.private_chat(coordinator)).id
    return Chats(private=private, coordination=await group("协调组"),
                 environment=await group("环保群", ENVIRONMENT),
                 industry=await group("工信群", INDUSTRY), reform=await group("发改群", REFORM),
                 county=await group("玛纳斯县群", COUNTY))


async def _bind(deps: Deps, chats: Chats) -> None:
    identity = await deps.chats.identify(chats.coordination, _id(COORDINATOR), "王玮中")
    for chat, title, target in (
            (chats.coordination, "协调组", BindTarget(ChatKind.COORDINATION)),
            (chats.environment, "环保群", BindTarget(ChatKind.DEPARTMENT,
                                                    department="environment")),
            (chats.industry, "工信群", BindTarget(ChatKind.DEPARTMENT, department="industry")),
            (chats.reform, "发改群", BindTarget(ChatKind.DEPARTMENT,
                                               department="development_reform")),
            (chats.county, "玛纳斯县群", BindTarget(ChatKind.REGION, region="玛纳斯县"))):
        await deps.chats.bind(chat, title, target, identity)


async def _database(url: str, settings: Settings, clock: FileClock) -> tuple[AsyncEngine, Deps]:
    from bot.core.org import load_demo_org
    from bot.services.org import OrgService
    from models.db import session_factory

    engine = create_engine(url)
    await upgrade(engine)
    await OrgService(session_factory(engine)).load(load_demo_org())
    return engine, build_deps(settings, engine, clock, load_default_catalog())


@dataclass
class Result:
    tally: Tally
    seed: int
    runs: list[Run]
    seconds: float
    cold_starts: list[float]
    warm_starts: list[float]
    stop_tracebacks: int = 0

    def summary(self) -> str:
        phases = Counter(run.phase for run in self.runs)
        flows = Counter((run.flow, run.mode) for run in self.runs)
        restarts = [run.restart_seconds for run in self.runs]
        per_run = [run.seconds for run in self.runs]
        lines = [
            f"seed {self.seed}: {len(self.runs)} runs in {self.seconds:.1f} s "
            f"({_mean(per_run):.2f} s a run, max {max(per_run, default=0):.2f} s: conversation "
            f"{_mean([run.drive_seconds for run in self.runs]):.2f} s, restart "
            f"{_mean(restarts):.2f} s, restart to idle "
            f"{_mean([run.settle_seconds for run in self.runs]):.2f} s)",
            f"duban run start-up: cold (a fresh interpreter) mean {_mean(self.cold_starts):.2f} s "
            f"over {len(self.cold_starts)}; warm (forked after the imports) mean "
            f"{_mean(self.warm_starts):.2f} s, max {max(self.warm_starts, default=0):.2f} s over "
            f"{len(self.warm_starts)}",
            "killed when: " + ", ".join(f"{phase} {n}" for phase, n in phases.most_common()),
            f"lease waits (a dead process's claim expired while the bot was down): "
            f"{sum(run.lease_wait for run in self.runs)}; answers repeated (sent, then killed "
            f"before the record): {sum(run.repeated for run in self.runs)}",
            f"graceful stops (changes of mode, the end) with a traceback in the log: "
            f"{self.stop_tracebacks}",
            "runs: " + ", ".join(f"{flow}/{mode} {n}" for (flow, mode), n in sorted(
                flows.items())),
        ]
        return "\n".join(lines)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


async def trial(size: int, seed: int, workdir: Path, *, verbose: bool = False, cold: bool = False,
                out: Callable[[str], None] = note) -> Result:
    """Run the trial: ``size`` kills, drawn with ``seed``, in ``workdir``."""
    began = time.perf_counter()
    rng = random.Random(seed)
    runs = [Run(index, flow, mode, rng.uniform(*KILL_AFTER))
            for index, (flow, mode) in enumerate(plan(size, rng), start=1)]
    url = f"sqlite+aiosqlite:///{workdir / 'duban.db'}"
    clock = FileClock(workdir / "clock.json")
    clock.set(START)
    # The emulator's server logs every request a killed bot left half-sent: expected here.
    quiet = logging.getLogger("aiohttp.server")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        return await _trial(runs, seed, workdir, url, clock, verbose, cold, out, began)
    finally:
        quiet.setLevel(level)


async def _trial(runs: list[Run], seed: int, workdir: Path, url: str, clock: FileClock,
                 verbose: bool, cold: bool, out: Callable[[str], None], began: float) -> Result:
    tally = Tally(NAME)
    settings = Settings(bot_token=SecretStr(TOKEN), database_url=url, mode="test",
                        clock_file=clock.path)
    # Telegram keeps retrying a webhook it could not deliver; so does the emulator here.
    async with run_emulator(TOKEN, webhook_retry_delay=0.2, webhook_attempts=1000) as emulator:
        chats = await _people_and_chats(emulator)
        engine, deps = await _database(url, settings, clock)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DUBAN_", "TELEGRAM_"))}
        env.update(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=emulator.base_url,
                   DATABASE_URL=url, DUBAN_MODE="test", DUBAN_CLOCK_FILE=str(clock.path),
                   PYTHONUNBUFFERED="1")
        bot = BotProcess(env, workdir / "bot.log", emulator, free_ports(1)[0], cold)
        world = Trial(emulator, deps, clock, chats, bot)
        try:
            await _bind(deps, chats)
            for run in runs:
                await FLOW_SPECS[run.flow].seed(world, run)
            for run in runs:
                try:
                    await world.run(run, tally)
                except Exception as error:  # the conversation did not get through
                    run.problems.append(f"crashed: {type(error).__name__}: {error}")
                    tally.runs += not run.counted
                    tally.crashed += not run.crashed
                    run.crashed = True
                line = (f"run {run.index:3d} {run.flow:14s} {run.mode:7s} kill after "
                        f"{run.delay * 1000:5.1f} ms ({run.phase}): effect {run.effect}, "
                        f"answers {run.answers}, {run.seconds:.2f} s")
                if run.problems:
                    out(line + "\n    " + "\n    ".join(run.problems))
                elif verbose:
                    out(line)
        finally:
            offset = bot.log.stat().st_size if bot.log.exists() else 0
            await bot.close()
            await engine.dispose()
            world.stop_tracebacks += TRACEBACK in _read_from(bot.log, offset)
    return Result(tally, seed, runs, time.perf_counter() - began, bot.cold_starts,
                  bot.warm_starts, world.stop_tracebacks)


def main(argv: list[str] | None = None) -> int:
    parser = options(__doc__.split("\n\n")[0], size=CI_SIZE, seed=DEFAULT_SEED)
    parser.add_argument("--keep", type=Path, default=None,
                        help="a folder to keep the database and the bot's log in")
    parser.add_argument("--verbose", action="store_true", help="a line for every run")
    parser.add_argument("--cold", action="store_true",
                        help="start every time with a fresh interpreter (no zygote)")
    args = parser.parse_args(argv)
    note(f"trial {NAME}: seed {args.seed}, {args.size} runs")
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="duban-kill-answers-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        result = asyncio.run(trial(args.size, args.seed, workdir, verbose=args.verbose,
                                   cold=args.cold))
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    note(result.summary())
    return report(result.tally)


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["CI_SIZE", "FLOWS", "MODES", "Result", "main", "plan", "trial"]
