"""The kill trial (``bench/trials/kill_answers.py``) at CI size: ``duban run`` killed with
SIGKILL right after the last answer or press of every dialog flow, in polling and in webhook
mode, and started again; every effect is there exactly once and every person has an answer.

``DUBAN_TRIAL_SEED`` draws other runs (the seed is in the failure message), ``DUBAN_TRIAL_SIZE``
runs more of them.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.trials import kill_answers


async def test_a_kill_after_the_last_answer_loses_and_doubles_nothing(tmp_path: Path) -> None:
    seed = int(os.environ.get("DUBAN_TRIAL_SEED") or kill_answers.DEFAULT_SEED)
    size = int(os.environ.get("DUBAN_TRIAL_SIZE") or kill_answers.CI_SIZE)
    lines: list[str] = []
    result = await kill_answers.trial(size, seed, tmp_path, out=lines.append)
    story = "\n".join([f"seed {seed}", *lines, result.summary()])
    assert result.tally.runs == size == len(result.runs), story
    assert result.tally.line() == (f"trial kill_answers: {size} runs, lost 0, duplicated 0, "
                                   f"crashed 0"), story
    if size >= len(kill_answers.FLOWS) * len(kill_answers.MODES):
        assert {(run.flow, run.mode) for run in result.runs} == {
            (flow, mode) for flow in kill_answers.FLOWS for mode in kill_answers.MODES}, story
    # Each run was killed after its last input was sent: the restart found it at some point
    # of its handling, and the bot answered it.
    assert all(run.phase and run.answers for run in result.runs), story
