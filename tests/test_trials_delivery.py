"""The delivery fault trials at CI size (bench/trials/nudge_kill.py, bench/trials/api_faults.py):
``duban run`` as a process against the emulator, killed with SIGKILL twenty times in a nudge
round, then run through a round in which a tenth of the sends fail. Nothing may be lost,
nothing repeated but where the outcome was unknown, nothing may crash, and what the emulator
accepted must keep to Telegram's limits.

The kill moments are random, from a fixed seed printed with each kill (``-s`` shows them);
every wait is for a condition with a timeout. The two trials share one seeded round.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.trials import api_faults, nudge_kill
from bench.trials.delivery_round import ROUNDS, Template, seed_template


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    folder = tmp_path_factory.mktemp("delivery-round")
    return asyncio.run(seed_template(folder, ROUNDS["ci"]))


async def test_nudge_kill_loses_and_repeats_nothing_across_twenty_kills(
        template: Template, tmp_path: Path) -> None:
    result = await nudge_kill.run_trial(nudge_kill.CI_KILLS, nudge_kill.SEED, tmp_path,
                                        template=template)
    print(result.tally.line())
    print(nudge_kill.describe(result))
    assert result.tally.runs >= 20
    assert (result.tally.lost, result.tally.duplicated, result.tally.crashed) == (0, 0, 0), \
        nudge_kill.describe(result)
    assert result.outcome.ok == result.outcome.expected


async def test_api_faults_loses_nothing_and_repeats_only_unknown_outcomes(
        template: Template, tmp_path: Path) -> None:
    result = await api_faults.run_trial(1, api_faults.SEED, tmp_path, template=template)
    print(result.tally.line())
    print(api_faults.describe(result))
    [run] = result.runs
    assert run.faults["injected"] > 0 and run.faults["counts"], "faults were injected"
    assert (result.tally.lost, result.tally.duplicated, result.tally.crashed) == (0, 0, 0), \
        api_faults.describe(result)
    assert run.limits["hard_violations"] == 0, run.limits
    assert run.outcome.unmarked_notice_repeats == 0
