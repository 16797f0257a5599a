"""The fault trials that run ``duban run`` on PostgreSQL, at CI size (``bench/trials/``):

* ``two_processes``: two processes on one database, the leader killed during the round;
* ``db_outage``: the database stopped under the running bot, then started again.

Each prints ``trial NAME: N runs, lost 0, duplicated 0, crashed 0`` or fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_POSTGRES

ROOT = Path(__file__).resolve().parent.parent


def _run_trial(name: str, size: str, *extra: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"bench.trials.{name}", "--size", size, "--seed", "20261201",
         *extra], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    tail = done.stdout + done.stderr[-4000:]
    lines = [line for line in done.stdout.splitlines()
             if line.startswith(f"trial {name}:") and " runs, " in line]
    assert lines, tail
    assert lines[-1] == f"trial {name}: {size} runs, lost 0, duplicated 0, crashed 0", tail
    assert done.returncode == 0, tail


def test_two_processes_on_one_postgresql_database() -> None:
    if not os.environ.get("DUBAN_TEST_POSTGRES_URL"):
        if REQUIRE_POSTGRES:
            pytest.fail("DUBAN_REQUIRE_POSTGRES=1 but DUBAN_TEST_POSTGRES_URL is not set")
        pytest.skip("PostgreSQL not configured (set DUBAN_TEST_POSTGRES_URL)")
    _run_trial("two_processes", os.environ.get("DUBAN_TRIAL_SIZE", "1"))


def test_the_database_going_away_and_coming_back() -> None:
    if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
        if REQUIRE_POSTGRES:
            pytest.fail("DUBAN_REQUIRE_POSTGRES=1 but PostgreSQL's initdb/pg_ctl are missing")
        pytest.skip("needs PostgreSQL 15 (initdb and pg_ctl on the PATH)")
    _run_trial("db_outage", os.environ.get("DUBAN_TRIAL_SIZE", "2"), "--seconds",
               os.environ.get("DUBAN_OUTAGE_SECONDS", "5"))
