"""The bot starts without the libraries it needs only to draw a chart or write a document
(matplotlib, openpyxl, python-docx and what they bring: numpy, Pillow, lxml), without the
sandbox's emulator, and without pypinyin (names are matched from bot/data/pinyin.txt): they
are imported when first used. Memory is measured by bench/memory.py, never asserted here.

A subprocess, so that what other tests imported does not count."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Imported only when a chart is drawn, a document written, or the sandbox started.
LATER = ("matplotlib", "openpyxl", "docx", "numpy", "PIL", "lxml", "pypinyin", "bot.devtools")

# What `duban run` imports and builds before it serves, then a name matched by its pinyin.
SCRIPT = """
import asyncio, json, sys
import bot.cli.main
from bot.app import build_application, build_deps
from bot.core.clock import SystemClock
from bot.core.org import load_demo_org
from bot.core.policy.catalog import load_default_catalog
from bot.runner import prepare
from bot.settings import load_settings
from models.db import create_engine

settings = load_settings()
asyncio.run(prepare(settings))
deps = build_deps(settings, create_engine(settings.database_url), SystemClock(),
                  load_default_catalog())
build_application(settings, deps)
assert load_demo_org().resolve_region("manasi").name == "玛纳斯县"
later = sys.argv[1:]
print(json.dumps([p for p in later
                  if any(m == p or m.startswith(p + ".") for m in sys.modules)]))
"""


def test_starting_the_bot_imports_no_chart_or_document_library(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUBAN_", "TELEGRAM_"))}
    env.update(TELEGRAM_BOT_TOKEN="123456:LAZY-IMPORTS", DUBAN_MODE="test",
               DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'duban.db'}",
               DUBAN_ORG=str(ROOT / "bot" / "data" / "demo_org.toml"),
               DUBAN_MONITOR_PORT="off")
    done = subprocess.run([sys.executable, "-c", SCRIPT, *LATER], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    imported = json.loads(done.stdout.strip().splitlines()[-1])
    assert imported == [], f"imported at start-up: {imported}"
