"""Shared fixtures: a migrated database on each back-end, an injected clock, the services.

Every database test runs on SQLite and on PostgreSQL. PostgreSQL runs when
``DUBAN_TEST_POSTGRES_URL`` names a server (``.ci/run`` starts one); without it those tests are
skipped, unless ``DUBAN_REQUIRE_POSTGRES=1`` (as in CI), which turns the skip into a failure.

Each test gets a fresh database copied from a template migrated once per session, so the
migrations themselves are exercised and tests stay fast.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.clock import ManualClock
from bot.core.org import Org, load_demo_org
from bot.core.policy.catalog import Catalog, load_default_catalog
from bot.services.cases import CaseService, Who
from bot.services.org import OrgService
from models.db import create_engine, session_factory, upgrade
from models.db import session_factory as _sessions

POSTGRES_URL = os.environ.get("DUBAN_TEST_POSTGRES_URL")
REQUIRE_POSTGRES = os.environ.get("DUBAN_REQUIRE_POSTGRES") == "1"
TEMPLATE_DB = f"duban_template_{os.getpid()}"
_counter = itertools.count()

COORDINATOR = Who(role="coordinator", name="王玮中", telegram_id=10001)


def _pg_admin_dsn(url: str) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def _pg_url(url: str, database: str) -> str:
    return make_url(url).set(drivername="postgresql+asyncpg", database=database) \
        .render_as_string(hide_password=False)


async def _pg_execute(url: str, *statements: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(_pg_admin_dsn(url))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def template_copies(names: Sequence[str], *, sqlite: Path | None = None,
                    postgres: str | None = None) -> Iterator[list[str]]:
    """Fresh databases copied from the migrated template, one per name, for the property
    tests that play one history on several databases in step: files in a temporary folder
    (``sqlite``: the template file) or PostgreSQL databases (``postgres``: the template's
    name), dropped after."""
    if sqlite is not None:
        with tempfile.TemporaryDirectory() as folder:
            urls = []
            for name in names:
                path = Path(folder) / f"{name}.db"
                shutil.copyfile(sqlite, path)
                urls.append(f"sqlite+aiosqlite:///{path}")
            yield urls
        return
    assert POSTGRES_URL is not None and postgres is not None  # the template fixture skips
    databases = [f"duban_{name}{os.getpid()}" for name in names]
    for database in databases:
        asyncio.run(_pg_execute(POSTGRES_URL, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)",
                                f"CREATE DATABASE {database} TEMPLATE {postgres}"))
    try:
        yield [_pg_url(POSTGRES_URL, database) for database in databases]
    finally:
        for database in databases:
            asyncio.run(_pg_execute(POSTGRES_URL,
                                    f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("DUBAN_REQUIRE_POSTGRES=1 but DUBAN_TEST_POSTGRES_URL is not set")
        pytest.skip("PostgreSQL not configured (set DUBAN_TEST_POSTGRES_URL)")
    asyncio.run(_pg_execute(POSTGRES_URL, f"DROP DATABASE IF EXISTS {TEMPLATE_DB}",
                            f"CREATE DATABASE {TEMPLATE_DB}"))
    asyncio.run(_migrate(_pg_url(POSTGRES_URL, TEMPLATE_DB)))
    yield TEMPLATE_DB
    asyncio.run(_pg_execute(POSTGRES_URL, f"DROP DATABASE IF EXISTS {TEMPLATE_DB}"))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of a fresh, migrated, empty database."""
    if request.param == "sqlite":
        path = tmp_path / "duban.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template = request.getfixturevalue("postgres_template")
    assert POSTGRES_URL is not None
    name = f"duban_t{os.getpid()}_{next(_counter)}"
    asyncio.run(_pg_execute(POSTGRES_URL, f"CREATE DATABASE {name} TEMPLATE {template}"))
    yield _pg_url(POSTGRES_URL, name)
    asyncio.run(_pg_execute(POSTGRES_URL, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 6, 1, 2, 0, tzinfo=UTC))  # 10:00 in Asia/Shanghai


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_default_catalog()


@pytest.fixture(scope="session")
def demo_org() -> Org:
    return load_demo_org()


@dataclass
class Services:
    cases: CaseService
    org: OrgService
    clock: ManualClock


@pytest.fixture
async def services(engine: AsyncEngine, clock: ManualClock, catalog: Catalog,
                   demo_org: Org) -> Services:
    sessions = session_factory(engine)
    org = OrgService(sessions)
    await org.load(demo_org)
    return Services(CaseService(sessions, catalog, clock), org, clock)


@pytest.fixture
async def bot(engine: AsyncEngine, clock: ManualClock, catalog: Catalog,
              demo_org: Org, tmp_path: Path) -> AsyncIterator[Any]:
    from tests.bot_harness import start_bot

    await OrgService(_sessions(engine)).load(demo_org)
    started = await start_bot(engine, clock, catalog, evidence_dir=tmp_path / "evidence")
    yield started
    await started.app.shutdown()

