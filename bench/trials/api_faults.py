"""Trial ``api_faults``: the nudge round while the Bot API fails a share of the sends.

``python bench/trials/api_faults.py [--size RUNS] [--seed S] [--round ci|full] [--rate 0.1]
[--spawn exec|fork] [--file-clock] [--keep DIR]`` (``DUBAN_TRIAL_SIZE`` / ``DUBAN_TRIAL_SEED``
as for every trial; ``API_FAULTS_ROUND=full`` for the 1,000-item round).

The round of :mod:`bench.trials.delivery_round` is swept into the outbox, the world put to
rest, and ``duban run`` started in production mode (Telegram's limits in its rate limiter,
the system clock) against the emulator, which fails a seeded share of the sending calls: 429
with ``retry_after``, 500, 502, timeouts (the answer held past the client's timeout) and
dropped connections, half of those that can strike after the message was recorded. The bot
runs until the outbox is empty. A run is one such round (each with its own fault seed).

Every message of a clean run is counted 0 / 1 / >1 times. *lost*: never delivered (or, with
``--file-clock``, only once the clock had moved a day); *duplicated*: a repeat other than one
after an attempt whose outcome the bot could not know (the emulator recorded the message, then
failed the answer: those are counted apart and reported), a message no clean run sends, a
numbered notice sent again without its repeat line, and every message beyond Telegram's limits
(30 a second overall, 20 a minute per group, as the emulator checks them); *crashed*: the bot
ended on its own or the round did not finish.

``--file-clock`` runs the bot as the sandbox does (test mode, a clock that stands still, the
round swept by the bot itself) and, if the round is not done after a minute, moves the clock a
day on as a person at the sandbox's clock would: how "three digests arrived a day late" showed.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.trials.common import Tally, note, options, report
from bench.trials.delivery_round import (
    HISTORY,
    ROUND_AT,
    ROUNDS,
    Census,
    Outcome,
    RoundProbe,
    Spawner,
    Template,
    bot_env,
    compare,
    copy_database,
    emulator,
    queued_template,
    reference_run,
    seed_template,
    table,
)
from bot.core.clock import FileClock

SEED = 14
#: Every kind of failure; a timeout costs the sender its read timeout (5 s), so it weighs less.
KINDS = {"429": 1.0, "500": 1.0, "502": 1.0, "timeout": 0.5, "drop": 1.0}
FINISH_TIMEOUT = 600.0
STALL = 60.0


@dataclass
class FaultRun:
    """One faulty round."""

    outcome: Outcome
    crashed: int
    late: int  # file clock: messages that went out only once the clock moved a day
    span: float
    faults: dict[str, Any]
    limits: dict[str, Any]
    attempts: Counter[int] = field(default_factory=Counter)


@dataclass
class FaultResult:
    tally: Tally
    runs: list[FaultRun]
    items: int
    reference_messages: int
    reference_span: float
    seconds: float


async def faulty_round(queued: Template, reference: list[Any], folder: Path, *, rate: float,
                       seed: int, spawn: str, file_clock: bool) -> FaultRun:
    url = copy_database(queued, folder / "duban.db")
    clock = FileClock(folder / "clock.json") if file_clock else None
    if clock is not None:
        clock.set(ROUND_AT)
    crashed = late = 0
    async with emulator(queued) as running, Spawner(spawn) as spawner:
        world = running.state
        await running.client.set_faults(rate, seed=seed, kinds=KINDS, after=0.5,
                                        retry_after=1, hang=6.0)
        census = Census(world)
        probe = RoundProbe(url, clock.now if clock is not None else None)
        try:
            life = await spawner.start(bot_env(queued, running.base_url, url,
                                               clock_file=clock.path if clock else None),
                                       folder / "bot.log")
            finished = await probe.wait_done(world, STALL if clock else FINISH_TIMEOUT,
                                             alive=life.is_alive)
            if clock is not None and not finished and life.alive:
                before = len(census.collect())
                note(f"  not done after {STALL:.0f} s ({await probe.pending()} rows waiting); "
                     "the clock moves a day on")
                clock.advance(timedelta(days=1))
                finished = await probe.wait_done(world, FINISH_TIMEOUT, alive=life.is_alive)
                late = len(census.collect()) - before
            if not life.alive:
                crashed += 1
                note(f"  the bot ended on its own (exit {life.exited.result()}); see "
                     f"{folder / 'bot.log'}")
            else:
                await spawner.stop(life)
            if not finished:
                crashed += 1
                note("  the round did not finish")
            rows = await probe.rows()
        finally:
            await probe.close()
        faults = await running.client.faults()
        limits = await running.client.limits()
        messages = census.collect()
        census.close()
    unknown = {(str(f["chat_id"]), f["message_id"]) for f in faults["faults"]
               if f["phase"] == "after" and f["message_id"] is not None}
    outcome = compare(reference, messages,
                      lambda copy: (str(copy.chat_id), copy.message_id) in unknown)
    span = messages[-1].accepted - messages[0].accepted if messages else 0.0
    return FaultRun(outcome, crashed, late, span, faults, limits,
                    Counter(row.attempts for row in rows if row.error != HISTORY))


async def run_trial(runs: int, seed: int, folder: Path, *, round_size: str = "ci",
                    rate: float = 0.1, spawn: str = "exec", file_clock: bool = False,
                    template: Template | None = None) -> FaultResult:
    began = time.monotonic()
    size = ROUNDS[round_size]
    note(f"api_faults: seed {seed}, {rate:.0%} of sends failing, {runs} run(s), round "
         f"{round_size} {size}{', file clock' if file_clock else ''}")
    if template is None:
        template = await seed_template(folder / "template", size)
    queued, items = (template, 0) if file_clock else await queued_template(template)
    reference, span, swept = await reference_run(queued, folder, production=not file_clock)
    items = items or swept
    note(f"  clean run: {items} items, {len(reference)} messages in {span:.1f} s")
    results = []
    for run in range(runs):
        result = await faulty_round(queued, reference, folder / f"faulty-{run + 1:03d}",
                                    rate=rate, seed=seed + run, spawn=spawn,
                                    file_clock=file_clock)
        note(f"  run {run + 1} (fault seed {seed + run}): {result.faults['injected']} faults, "
             f"lost {result.outcome.lost}, repeats after an unknown outcome "
             f"{result.outcome.explained}, others {result.outcome.failures}, limit violations "
             f"{result.limits['hard_violations']}, late {result.late}")
        results.append(result)
    tally = Tally("api_faults", runs=runs,
                  lost=sum(r.outcome.lost + r.late for r in results),
                  duplicated=sum(r.outcome.failures + (0 if file_clock
                                                       else r.limits["hard_violations"])
                                 for r in results),
                  crashed=sum(r.crashed for r in results))
    return FaultResult(tally, results, items, len(reference), span, time.monotonic() - began)


def describe(result: FaultResult) -> str:
    rows: list[tuple[str, object]] = [
        ("round", f"{result.items} items, {result.reference_messages} messages; clean run "
                  f"{result.reference_span:.1f} s first to last"),
    ]
    for number, run in enumerate(result.runs, 1):
        o, faults, limits = run.outcome, run.faults, run.limits
        rows += [
            (f"run {number}: sending calls / faults",
             f"{faults['calls']} / {faults['injected']} {dict(sorted(faults['counts'].items()))}"),
            (f"run {number}: delivered once / lost", f"{o.ok} / {o.lost}"),
            (f"run {number}: repeats after an unknown outcome (allowed)",
             f"{o.explained} {dict(o.by_kind)}"),
            (f"run {number}: repeats otherwise / not in the clean run",
             f"{o.unexplained} / {o.unexpected}"),
            (f"run {number}: notices marked as repeats / repeated unmarked",
             f"{o.marked_notices} / {o.unmarked_notice_repeats}"),
            (f"run {number}: cards posted twice (older copy's buttons refused)",
             o.orphan_keyboards),
            (f"run {number}: the round's outbox rows by attempts",
             dict(sorted(run.attempts.items()))),
            (f"run {number}: busiest windows (overall per s, group per min)", limits["peaks"]),
            (f"run {number}: limit violations hard / private (soft)",
             f"{limits['hard_violations']} / {limits['violations'].get('private', 0)}"),
            (f"run {number}: first to last message", f"{run.span:.1f} s"),
            (f"run {number}: sent only once the clock moved a day", run.late),
        ]
        rows += [(f"run {number}: example", e) for e in o.examples[:3]]
    rows.append(("wall time", f"{result.seconds:.0f} s"))
    return table(rows)


def main(argv: list[str] | None = None) -> int:
    parser = options(__doc__.splitlines()[0], size=1, seed=SEED)
    parser.add_argument("--round", choices=sorted(ROUNDS),
                        default=os.environ.get("API_FAULTS_ROUND", "ci"))
    parser.add_argument("--rate", type=float, default=0.1)
    parser.add_argument("--spawn", choices=("fork", "exec"), default="exec")
    parser.add_argument("--file-clock", action="store_true",
                        help="run as the sandbox does: test mode, a clock that stands still")
    parser.add_argument("--keep", type=Path, default=None, help="keep the runs' files here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="api_faults-") as scratch:
        folder = args.keep or Path(scratch)
        result = asyncio.run(run_trial(args.size, args.seed, folder, round_size=args.round,
                                       rate=args.rate, spawn=args.spawn,
                                       file_clock=args.file_clock))
    note(describe(result))
    return report(result.tally)


if __name__ == "__main__":
    sys.exit(main())
