"""Benchmarks for the core, run on demand: ``python bench/run.py [--rows N] [--postgres URL]``.

Measures the policy parser on the seed, case-file validation, a bulk import, and reading cases
back, on SQLite (a temp file) and, when a URL is given (or DUBAN_TEST_POSTGRES_URL is set), on
PostgreSQL. Prints a Markdown table; results are kept in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.core.casefile import read_case_file
from bot.core.clock import ManualClock
from bot.core.org import load_demo_org
from bot.core.policy.catalog import load_default_catalog
from bot.core.policy.parser import parse_policy
from bot.services.cases import CaseService, Who
from bot.services.org import OrgService
from models.db import create_engine, session_factory, upgrade

SEED = Path(__file__).resolve().parent.parent / "bot" / "data" / "seed_policy.txt"
COORDINATOR = Who(role="coordinator", name="bench", telegram_id=1)
REGIONS = ["昌吉市", "阜康市", "呼图壁县", "玛纳斯县", "奇台县", "吉木萨尔县", "木垒哈萨克自治县",
           "准东经济技术开发区", "昌吉高新技术产业开发区"]
INDUSTRIES = ["steel", "coal", "cement", "electrolytic_aluminium", "flat_glass", "other"]


def timed(work: Callable[[], object], repeat: int = 1) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        samples.append(time.perf_counter() - start)
    return samples


def write_cases(path: Path, rows: int) -> None:
    rng = random.Random(7)
    lines = ["ref,county,enterprise,industry,clause,capacity,unit,registered_on,description"]
    for i in range(rows):
        lines.append(",".join([
            f"B-{i:06d}", rng.choice(REGIONS), f"测试企业{i}", rng.choice(INDUSTRIES),
            rng.choice(["四", "五", "六", "七", "八", "九"]), str(rng.randint(1, 500)), "万吨/年",
            date(2026, rng.randint(1, 10), rng.randint(1, 28)).isoformat(), "基准测试",
        ]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


async def database_bench(url: str, result_inputs: tuple, label: str) -> list[tuple[str, str]]:
    engine = create_engine(url)
    await upgrade(engine)
    sessions = session_factory(engine)
    clock = ManualClock(datetime(2026, 11, 29, 2, tzinfo=UTC))
    await OrgService(sessions).load(load_demo_org())
    cases = CaseService(sessions, load_default_catalog(), clock)
    start = time.perf_counter()
    report = await cases.import_cases(result_inputs, COORDINATOR)
    elapsed = time.perf_counter() - start
    rows: list[tuple[str, str]] = [
        (f"{label}: import {len(report.created)} cases (one transaction)",
         f"{elapsed:.2f} s ({len(report.created) / elapsed:,.0f} cases/s)"),
    ]
    start = time.perf_counter()
    again = await cases.import_cases(result_inputs, COORDINATOR)
    rows.append((f"{label}: import the same file again ({len(again.unchanged)} unchanged)",
                 f"{time.perf_counter() - start:.2f} s"))
    refs = [item.ref for item in result_inputs]
    rng = random.Random(3)
    samples = []
    for ref in rng.sample(refs, min(200, len(refs))):
        start = time.perf_counter()
        await cases.get(ref)
        samples.append(time.perf_counter() - start)
    rows.append((f"{label}: `case show` read (case + assignments + events), median of "
                 f"{len(samples)}", f"{statistics.median(samples) * 1000:.2f} ms"))
    start = time.perf_counter()
    found = await cases.find(region="玛纳斯县", states=["routed"])
    rows.append((f"{label}: list one county's routed cases ({len(found)})",
                 f"{(time.perf_counter() - start) * 1000:.1f} ms"))
    await engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--postgres", default=os.environ.get("DUBAN_TEST_POSTGRES_URL"))
    args = parser.parse_args()

    text = SEED.read_text(encoding="utf-8")
    parse = timed(lambda: parse_policy(text), repeat=20)
    table: list[tuple[str, str]] = [
        (f"parse the seed policy ({len(text):,} characters), median of 20",
         f"{statistics.median(parse) * 1000:.1f} ms"),
    ]
    org = load_demo_org()
    with tempfile.TemporaryDirectory() as folder:
        csv_path = Path(folder) / "cases.csv"
        write_cases(csv_path, args.rows)
        holder: dict[str, object] = {}
        validate = timed(lambda: holder.setdefault(
            "r", read_case_file(csv_path, org, today=date(2026, 11, 29))))
        result = holder["r"]
        assert not result.errors, result.errors[:3]  # type: ignore[attr-defined]
        table.append((f"validate a {args.rows:,}-row CSV", f"{validate[0]:.2f} s"))
        inputs = result.valid  # type: ignore[attr-defined]
        table += asyncio.run(database_bench(
            f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}", inputs, "SQLite"))
        if args.postgres:
            import asyncpg
            from sqlalchemy.engine import make_url

            admin = make_url(args.postgres).set(drivername="postgresql")

            async def recreate() -> None:
                connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
                await connection.execute("DROP DATABASE IF EXISTS duban_bench")
                await connection.execute("CREATE DATABASE duban_bench")
                await connection.close()

            asyncio.run(recreate())
            url = admin.set(drivername="postgresql+asyncpg", database="duban_bench")
            table += asyncio.run(database_bench(url.render_as_string(hide_password=False),
                                                inputs, "PostgreSQL"))
    print("| what | measured |\n|---|---|")
    for what, value in table:
        print(f"| {what} | {value} |")


if __name__ == "__main__":
    main()
