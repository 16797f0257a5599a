"""What every fault trial shares: its one result line, its exit code and its two options.

A trial puts duban through one kind of fault (odd chat input, a lost connection, a restart …)
``N`` times and counts what went wrong. It prints exactly one line on standard output::

    trial NAME: N runs, lost L, duplicated D, crashed C

and exits 1 when L, D or C is above zero (0 otherwise). *lost*: something a person should have
received or that should have been recorded, and was not; *duplicated*: something received or
recorded twice; *crashed*: an exception where a person should have read a sentence. Each trial's
docstring says what these mean for it. Everything else it has to say (its seed, each failure
with what is needed to replay it) goes to standard error, before that line.

Every trial takes ``--size N`` (how many runs; the CI size by default, or ``DUBAN_TRIAL_SIZE``)
and ``--seed S`` (the random seed; fixed by default, or ``DUBAN_TRIAL_SEED``), so a run that
failed can be run again exactly.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass


@dataclass
class Tally:
    """The counts of one trial."""

    name: str
    runs: int = 0
    lost: int = 0
    duplicated: int = 0
    crashed: int = 0

    @property
    def failed(self) -> bool:
        return bool(self.lost or self.duplicated or self.crashed)

    def line(self) -> str:
        return (f"trial {self.name}: {self.runs} runs, lost {self.lost}, "
                f"duplicated {self.duplicated}, crashed {self.crashed}")


def note(text: str) -> None:
    """A line for the person reading the trial's log (standard error)."""
    print(text, file=sys.stderr, flush=True)


def report(tally: Tally) -> int:
    """Print the result line; return the exit code."""
    print(tally.line(), flush=True)
    return 1 if tally.failed else 0


def options(description: str, *, size: int, seed: int) -> argparse.ArgumentParser:
    """The options every trial takes; a trial may add its own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--size", type=int, default=int(os.environ.get("DUBAN_TRIAL_SIZE", size)),
                        help=f"how many runs (default {size}, the CI size; or DUBAN_TRIAL_SIZE)")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("DUBAN_TRIAL_SEED", seed)),
                        help=f"the random seed (default {seed}; or DUBAN_TRIAL_SEED)")
    return parser
