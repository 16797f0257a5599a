"""Trial ``nudge_kill``: ``kill -9`` at random moments of a nudge round, restart, until it is done.

``python bench/trials/nudge_kill.py [--size KILLS] [--seed S] [--round ci|full]
[--spawn fork|exec] [--keep DIR]`` (``DUBAN_TRIAL_SIZE`` / ``DUBAN_TRIAL_SEED`` as for every
trial; ``NUDGE_KILL_ROUND=full`` for the bigger round).

The round of :mod:`bench.trials.delivery_round` (digests, one numbered 通报 to every unit, the
cards of new cases, over every bound chat) is put due with the file clock; ``duban run`` (test
mode) runs against the emulator and is killed with SIGKILL at a seeded random moment — during
its start, its sweep or its sending — then started again, until a life finishes the round;
then the next round, until ``--size`` kills were made. After each kill the file clock moves on
by the claim lease (what a real restart lets pass: the dead process's claim expires,
docs/outbox.md).

A run is one kill. Every message of a clean run of the same round is counted 0 / 1 / >1 times:
*lost* counts messages never delivered; *duplicated* counts repeats outside the documented
residual window, messages no clean run sends, and notices repeated without their repeat line;
*crashed* counts lives that ended on their own and rounds that did not finish. A repeat in the
residual window — the killed life's last message in that chat, whose outbox row was claimed
and not recorded at the kill (Telegram had accepted it; ``sent_at`` was never committed) — is
counted apart and reported, not as a failure.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.trials.common import Tally, note, options, report
from bench.trials.delivery_round import (
    ROUND_AT,
    ROUNDS,
    Census,
    Delivered,
    Outcome,
    RoundProbe,
    Spawner,
    Template,
    bot_env,
    compare,
    copy_database,
    emulator,
    reference_run,
    seed_template,
    table,
)
from bot.core.clock import FileClock
from bot.services.outbox import CLAIM_LEASE

CI_KILLS = 20
SEED = 14
#: A life is killed this long after it started, at random: a share during its start-up (the
#: migration check, the organisation, the first sweep), the rest while it sends.
START_SHARE = 0.3
SENDING_WINDOW = 1.5  # at most this many seconds of sending before the kill
FINISH_TIMEOUT = 300.0
MAX_CRASHES = 3


@dataclass
class LifeEnd:
    """A killed life: its number in the round and the chats of the rows it left in flight."""

    index: int
    in_flight: set[int]


@dataclass
class RoundResult:
    outcome: Outcome
    kills: int
    lives: int
    crashed: int
    peaks: dict[str, int] = field(default_factory=dict)


def in_window(ends: list[LifeEnd], starts: list[float],
              messages: list[Delivered]) -> set[tuple[int, int]]:
    """The messages in the residual window when their life was killed: the last one each
    killed life had accepted in a chat whose outbox row was claimed and not recorded."""
    last: dict[tuple[int, int], Delivered] = {}
    for message in messages:  # in the order accepted
        life = max((i for i, started in enumerate(starts) if started <= message.accepted),
                   default=0)
        last[(life, message.chat_id)] = message
    window = set()
    for end in ends:
        for chat in end.in_flight:
            found = last.get((end.index, chat))
            if found is not None:
                window.add((found.chat_id, found.message_id))
    return window


async def one_round(number: int, template: Template, reference: list[Delivered],
                    spawner: Spawner, rng: random.Random, kills_wanted: int, folder: Path,
                    startup: list[float]) -> RoundResult:
    url = copy_database(template, folder / "duban.db")
    clock = FileClock(folder / "clock.json")
    clock.set(ROUND_AT)
    ends: list[LifeEnd] = []
    starts: list[float] = []
    crashed = kills = 0
    async with emulator(template) as running:
        world = running.state
        census = Census(world)
        probe = RoundProbe(url, clock.now)
        env = bot_env(template, running.base_url, url, clock_file=clock.path)
        try:
            while crashed <= MAX_CRASHES:
                kill = kills < kills_wanted
                guess = statistics.median(startup) if startup else 3.0
                delay = (rng.uniform(0.2, guess) if rng.random() < START_SHARE
                         else guess + rng.uniform(0.0, SENDING_WINDOW))
                life = await spawner.start(env, folder / "bot.log")
                starts.append(life.started)
                index = len(starts) - 1
                finished = await probe.wait_done(world, delay if kill else FINISH_TIMEOUT,
                                                 alive=life.is_alive)
                first = census.first_after(life.started)
                if first is not None:  # how long a life takes to send (the kills use it)
                    startup.append(first - life.started)
                if not life.alive:
                    crashed += 1
                    note(f"  round {number} life {index}: ended on its own (exit "
                         f"{life.exited.result()}); see {folder / 'bot.log'}")
                    continue
                if finished or not kill:
                    await spawner.stop(life)
                    if not finished:
                        crashed += 1
                        note(f"  round {number}: not done after {FINISH_TIMEOUT:.0f} s "
                             f"({await probe.pending()} rows waiting)")
                    break
                await spawner.kill(life)
                kills += 1
                flying = await probe.in_flight()
                ends.append(LifeEnd(index, {
                    chat for row in flying
                    if (chat := template.chat_of(row.recipient_kind, row.recipient))
                    is not None}))
                note(f"  round {number} life {index}: kill -9 at {delay:.2f} s (seeded); "
                     f"{len(census.collect())} messages so far; in flight: "
                     f"{sorted(row.kind for row in flying) or 'nothing'}")
                clock.advance(CLAIM_LEASE + timedelta(seconds=5))
        finally:
            await probe.close()
        messages = census.collect()
        census.close()
        peaks = world.watch.report()["peaks"]
    window = in_window(ends, starts, messages)
    outcome = compare(reference, messages,
                      lambda copy: (copy.chat_id, copy.message_id) in window)
    return RoundResult(outcome, kills, len(starts), crashed, peaks)


@dataclass
class TrialResult:
    tally: Tally
    outcome: Outcome
    rounds: int
    lives: int
    seconds: float
    reference_messages: int
    reference_span: float
    peaks: dict[str, int]


async def run_trial(kills: int, seed: int, folder: Path, *, round_size: str = "ci",
                    spawn: str = "fork", template: Template | None = None) -> TrialResult:
    began = time.monotonic()
    size = ROUNDS[round_size]
    note(f"nudge_kill: seed {seed}, {kills} kills, round {round_size} {size}")
    if template is None:
        template = await seed_template(folder / "template", size)
    reference, span, items = await reference_run(template, folder, production=False)
    note(f"  clean run: {items} items, {len(reference)} messages in {span:.1f} s")
    rng = random.Random(seed)
    total = Outcome()
    rounds = lives = made = crashed = 0
    peaks: dict[str, int] = {}
    startup: list[float] = []
    async with Spawner(spawn) as spawner:
        while (made < kills or rounds == 0) and crashed <= MAX_CRASHES:
            rounds += 1
            result = await one_round(rounds, template, reference, spawner, rng, kills - made,
                                     folder / f"round-{rounds:03d}", startup)
            total.add(result.outcome)
            made, lives = made + result.kills, lives + result.lives
            crashed += result.crashed
            for name, peak in result.peaks.items():
                peaks[name] = max(peaks.get(name, 0), peak)
    tally = Tally("nudge_kill", runs=made, lost=total.lost, duplicated=total.failures,
                  crashed=crashed)
    return TrialResult(tally, total, rounds, lives, time.monotonic() - began, len(reference),
                       span, peaks)


def describe(result: TrialResult) -> str:
    o = result.outcome
    return table([
        ("kills / lives / rounds", f"{result.tally.runs} / {result.lives} / {result.rounds}"),
        ("messages per round (clean run)", result.reference_messages),
        ("expected deliveries, all rounds / delivered once", f"{o.expected} / {o.ok}"),
        ("lost", o.lost),
        ("repeated in the residual window (allowed)", f"{o.explained} {dict(o.by_kind)}"),
        ("repeated otherwise / not in the clean run", f"{o.unexplained} / {o.unexpected}"),
        ("notices marked as repeats / repeated unmarked",
         f"{o.marked_notices} / {o.unmarked_notice_repeats}"),
        ("cards posted twice (the older copy's buttons are refused)", o.orphan_keyboards),
        ("lives ended on their own / rounds not finished", result.tally.crashed),
        ("busiest windows seen (test mode's limiter)", result.peaks),
        ("wall time", f"{result.seconds:.0f} s"),
    ] + [("example", e) for e in o.examples[:5]])


def main(argv: list[str] | None = None) -> int:
    parser = options(__doc__.splitlines()[0], size=CI_KILLS, seed=SEED)
    parser.add_argument("--round", choices=sorted(ROUNDS),
                        default=os.environ.get("NUDGE_KILL_ROUND", "ci"))
    parser.add_argument("--spawn", choices=("fork", "exec"), default="fork")
    parser.add_argument("--keep", type=Path, default=None, help="keep the runs' files here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="nudge_kill-") as scratch:
        folder = args.keep or Path(scratch)
        result = asyncio.run(run_trial(args.size, args.seed, folder, round_size=args.round,
                                       spawn=args.spawn))
    note(describe(result))
    return report(result.tally)


if __name__ == "__main__":
    sys.exit(main())
