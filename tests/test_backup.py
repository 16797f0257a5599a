"""Backups: one archive of the database and the evidence store, consistent while the bot writes,
restored only into an empty database, on both back-ends.

Consistency is shown without timing. A writer commits numbered units of work one after the
other (a new case with an evidence file, then a step on it: one event each), and the backup
waits, once its snapshot is fixed, until the writer has committed three more. The restored
database must then equal, row by row and table by table, a database that saw exactly the first
*k* units of work (replayed on a fresh database with the same clock and input), *k* being the
restored number of events; the replay run to the writer's last unit must equal the source, so
the replay is faithful. Every evidence file the restored database names is restored intact.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import os
import re
import shutil
import tarfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner, Result
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cli.main import main
from bot.core.casefile import CaseInput
from bot.core.clock import ManualClock
from bot.core.evidence import EvidenceRef
from bot.core.i18n import DubanError, get_translator
from bot.core.org import Org
from bot.core.policy.catalog import Catalog
from bot.core.workflow import Actor, StepInput
from bot.services import backup
from bot.services.audit import verify
from bot.services.cases import CaseService
from bot.services.evidence import EvidenceStore
from bot.services.org import OrgService
from models import counters
from models.db import alembic_config, create_engine, session_factory
from models.tables import SQLModel
from tests import conftest
from tests.conftest import COORDINATOR
from tests.test_case_service import INDUSTRY

START = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


# -- databases -----------------------------------------------------------------------------------


@dataclass
class Databases:
    """Fresh databases of the back-end under test: migrated ones and empty ones."""

    backend: str
    folder: Path
    request: pytest.FixtureRequest
    made: list[str] = field(default_factory=list)
    count: int = 0

    def _name(self) -> str:
        self.count += 1
        return f"duban_b{os.getpid()}_{next(conftest._counter)}_{self.count}"

    async def migrated(self) -> str:
        if self.backend == "sqlite":
            path = self.folder / f"{self._name()}.db"
            shutil.copyfile(self.request.getfixturevalue("sqlite_template"), path)
            return f"sqlite+aiosqlite:///{path}"
        template = self.request.getfixturevalue("postgres_template")
        return await self._postgres(f"TEMPLATE {template}")

    async def empty(self) -> str:
        if self.backend == "sqlite":
            return f"sqlite+aiosqlite:///{self.folder / self._name() / 'duban.db'}"
        return await self._postgres("")

    async def _postgres(self, how: str) -> str:
        assert conftest.POSTGRES_URL is not None
        name = self._name()
        await conftest._pg_execute(conftest.POSTGRES_URL, f"CREATE DATABASE {name} {how}")
        self.made.append(name)
        return conftest._pg_url(conftest.POSTGRES_URL, name)


@pytest.fixture
def databases(database_url: str, tmp_path: Path,
              request: pytest.FixtureRequest) -> Iterator[Databases]:
    found = Databases("sqlite" if database_url.startswith("sqlite") else "postgresql",
                      tmp_path / "databases", request)
    found.folder.mkdir()
    yield found
    for name in found.made:
        asyncio.run(conftest._pg_execute(conftest.POSTGRES_URL or "",
                                         f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


#: The counter tables: their key columns and their summed columns.
COUNTERS = {"status_counts": (counters.STATUS_KEY, counters.STATUS_VALUES),
            "department_counts": (counters.DEPARTMENT_KEY, counters.DEPARTMENT_VALUES)}


async def tables(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the models (and the migration revision), row by row in key order."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            found: dict[str, list[tuple[Any, ...]]] = {}
            for table in SQLModel.metadata.sorted_tables:
                if table.name in COUNTERS:  # shards are per transaction: compare the sums
                    key, values = COUNTERS[table.name]
                    rows = await connection.execute(
                        select(*(table.c[k] for k in key),
                               *(func.sum(table.c[v]) for v in values))
                        .group_by(*(table.c[k] for k in key))
                        .having(func.sum(table.c[values[0]]) != 0)
                        .order_by(*(table.c[k] for k in key)))
                else:
                    rows = await connection.execute(
                        select(table).order_by(*table.primary_key.columns))
                found[table.name] = [tuple(row) for row in rows]
            revision = await connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            found["alembic_version"] = [tuple(row) for row in revision]
            return found
    finally:
        await engine.dispose()


def files(root: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in root.glob("??/*") if path.is_file()}


# -- the writer ------------------------------------------------------------------------------------


@dataclass
class Writer:
    """Numbered units of work, one event each: an odd one registers a case with an evidence
    file (kept in the store first, as the bot does), an even one is a department's step on it.
    Deterministic: the same numbers on a fresh database give the same rows."""

    cases: CaseService
    clock: ManualClock
    store: EvidenceStore
    done: int = 0
    stop: bool = False
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    @classmethod
    async def on(cls, engine: AsyncEngine, store: Path, catalog: Catalog,
                 demo_org: Org) -> Writer:
        sessions = session_factory(engine)
        await OrgService(sessions).load(demo_org)
        clock = ManualClock(START)
        return cls(CaseService(sessions, catalog, clock), clock, EvidenceStore(store))

    async def write(self, number: int) -> None:
        ref = f"W-{(number + 1) // 2:03d}"
        if number % 2:
            stored = await self.store.store(f"整改报告 {number}".encode())
            evidence = EvidenceRef("document", f"u{number}", f"f{number}", f"报告{number}.pdf",
                                   stored.sha256, stored.size).ref()
            await self.cases.create_case(CaseInput(
                ref=ref, region="玛纳斯县", enterprise=f"测试水泥厂 {number}", industry="cement",
                clauses=("四",), capacity=Decimal("60"), unit="万吨/年", equipment=None,
                registered_on=date(2026, 3, 10), description="熟料能耗超标", row=number,
                evidence=(evidence,)), COORDINATOR)
        else:
            await self.cases.take_step(ref, StepInput("accept", Actor.DEPARTMENT,
                                                      department="industry"), INDUSTRY)
        self.clock.advance(timedelta(minutes=1))

    async def run(self) -> None:
        while not self.stop:
            await self.write(self.done + 1)
            async with self.changed:
                self.done += 1
                self.changed.notify_all()

    async def reached(self, number: int) -> None:
        async with self.changed:
            await self.changed.wait_for(lambda: self.done >= number)


@pytest.fixture
async def source(database_url: str, engine: AsyncEngine, tmp_path: Path, catalog: Catalog,
                 demo_org: Org) -> AsyncIterator[Writer]:
    yield await Writer.on(engine, tmp_path / "evidence", catalog, demo_org)


# -- a consistent snapshot while the bot writes -------------------------------------------------


async def test_backup_while_writing_restores_one_moment(
        source: Writer, database_url: str, databases: Databases, tmp_path: Path,
        catalog: Catalog, demo_org: Org) -> None:
    writing = asyncio.create_task(source.run())
    await source.reached(5)
    during: list[int] = []

    async def snapshot_fixed() -> None:  # the writer goes on: three more units of work commit
        during.append(source.done)
        await source.reached(source.done + 3)

    archive = tmp_path / "backups" / "duban.backup"
    shown: list[str] = []
    manifest = await backup.create_backup(database_url, source.store.root, archive,
                                          now=START, announce=shown.append,
                                          on_snapshot=snapshot_fixed)
    await source.reached(source.done + 1)  # and it still writes after the backup
    source.stop = True
    await writing
    last = source.done

    target, target_files = await databases.empty(), tmp_path / "restored-evidence"
    restored = await backup.restore_backup(archive, target, target_files)
    assert restored.restored_revision == manifest.revision == HEAD == restored.revision
    got = await tables(target)
    moment = len(got["events"])  # one event per unit of work
    # the snapshot came before the hook (where at most one commit was not counted yet), and
    # the writer committed at least twice more before the copy began
    assert 5 <= moment <= during[0] + 1 and moment + 2 <= last
    assert manifest.counts["events"] == moment
    assert {name: len(rows) for name, rows in got.items() if name not in COUNTERS} == {
        name: count for name, count in manifest.counts.items()
        if name in got and name not in COUNTERS}  # counters: summed, not row by row
    assert (databases.backend == "postgresql") == bool(shown)

    # The same units of work, replayed on a fresh database: equal at the backup's moment, and
    # equal to the source at the end (so the replay is the source's history).
    replay_url = await databases.migrated()
    replay_engine = create_engine(replay_url)
    try:
        replay = await Writer.on(replay_engine, tmp_path / "replay-evidence", catalog, demo_org)
        for number in range(1, last + 1):
            await replay.write(number)
            if number == moment:
                assert await tables(replay_url) == got
    finally:
        await replay_engine.dispose()
    assert await tables(replay_url) == await tables(database_url)

    # Every event's case is there, every chain ends at its case's head.
    target_engine = create_engine(target)
    try:
        report = await verify(session_factory(target_engine))
    finally:
        await target_engine.dispose()
    assert report.intact and report.events == moment
    # Evidence: every file the restored events name, intact; nothing that was not in the store.
    restored_files, source_files = files(target_files), files(source.store.root)
    named = {EvidenceRef.parse(ref).sha256 for row in got["events"]
             for ref in (_payload(row).get("evidence") or [])}
    assert named <= restored_files.keys() <= source_files.keys()
    assert all(restored_files[sha] == source_files[sha] for sha in restored_files)
    assert manifest.evidence_files == len(restored_files) == restored.evidence_written


def _payload(row: tuple[Any, ...]) -> dict[str, Any]:
    return next(value for value in row if isinstance(value, dict))


# -- restoring -------------------------------------------------------------------------------------


async def test_restore_refuses_a_database_that_is_not_empty(
        source: Writer, database_url: str, databases: Databases, tmp_path: Path) -> None:
    for number in range(1, 4):
        await source.write(number)
    archive = tmp_path / "one.backup"
    await backup.create_backup(database_url, source.store.root, archive, now=START)
    other = await databases.migrated()
    before, other_files = await tables(other), tmp_path / "other-evidence"
    with pytest.raises(DubanError) as refused:
        await backup.restore_backup(archive, other, other_files)
    assert refused.value.message == backup.NOT_EMPTY
    assert "不是空的" in refused.value.render(get_translator("zh"))
    assert await tables(other) == before and not other_files.exists()
    with pytest.raises(DubanError, match="not empty"):  # the source itself, of course
        await backup.restore_backup(archive, database_url, tmp_path / "again")
    if databases.backend == "sqlite":  # nor is a backup written over the live database
        live, kept = backup._Database.of(database_url).path, await tables(database_url)
        with pytest.raises(DubanError, match="over the database itself"):
            await backup.create_backup(database_url, source.store.root, live, now=START)
        assert await tables(database_url) == kept


def _rewrite(archive: Path, target: Path, change: Any) -> Path:
    """A copy of ``archive`` with ``change(name, data)`` applied to every member."""
    out = io.BytesIO()
    with tarfile.open(archive) as source, tarfile.open(fileobj=out, mode="w:gz") as tar:
        for member in source:
            extracted = source.extractfile(member)
            assert extracted is not None
            data = change(member.name, extracted.read())
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    target.write_bytes(out.getvalue())
    return target


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    for name in ("DUBAN_LOCALE", "DUBAN_CONFIG", "DUBAN_TIMEZONE", "TELEGRAM_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    def invoke(url: str, evidence: Path, *args: str, lang: str = "zh") -> Result:
        return CliRunner().invoke(main, ["--database", url, "--lang", lang, *args],
                                  env={"DUBAN_EVIDENCE_DIR": str(evidence)},
                                  catch_exceptions=False)

    return invoke


def _fill(url: str, store: Path, catalog: Catalog, demo_org: Org, units: int) -> None:
    async def work() -> None:
        engine = create_engine(url)
        try:
            writer = await Writer.on(engine, store, catalog, demo_org)
            for number in range(1, units + 1):
                await writer.write(number)
        finally:
            await engine.dispose()

    asyncio.run(work())


def test_a_bad_archive_is_refused_cleanly(database_url: str, databases: Databases,
                                          tmp_path: Path, catalog: Catalog, demo_org: Org,
                                          cli) -> None:
    store = tmp_path / "evidence"
    _fill(database_url, store, catalog, demo_org, 3)
    good = tmp_path / "good.backup"
    assert cli(database_url, store, "db", "backup", str(good)).exit_code == 0
    noise = tmp_path / "noise.backup"
    noise.write_bytes(os.urandom(4096))
    foreign = tmp_path / "foreign.tar.gz"
    with tarfile.open(foreign, "w:gz") as tar:
        data = b"hello"
        info = tarfile.TarInfo("notes/hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    cut = tmp_path / "cut.backup"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    evidence_changed = _rewrite(good, tmp_path / "evidence-changed.backup",
                                lambda name, data: data + b"!" if name.startswith("evidence/")
                                else data)

    def other_database(name: str, data: bytes) -> bytes:
        if name != backup.MANIFEST:
            return data
        manifest = json.loads(data)
        manifest["database"]["sha256"] = "0" * 64
        return json.dumps(manifest).encode()

    database_changed = _rewrite(good, tmp_path / "database-changed.backup", other_database)
    newer = _rewrite(good, tmp_path / "newer.backup", lambda name, data: data.replace(
        b'"version": 1', b'"version": 99') if name == backup.MANIFEST else data)
    plain_gzip = tmp_path / "plain.gz"
    plain_gzip.write_bytes(gzip.compress(b"not a tar at all" * 100))

    target, target_store = asyncio.run(databases.empty()), tmp_path / "restored-evidence"
    expected = {
        noise: f"{noise} 不是 duban 的备份文件。",
        foreign: f"{foreign} 不是 duban 的备份文件。",
        plain_gzip: f"{plain_gzip} 不是 duban 的备份文件。",
        cut: f"备份 {cut} 已损坏（文件不完整），未做任何改动。",
        evidence_changed: f"备份 {evidence_changed} 已损坏（其中有证据文件与其指纹不符），"
                          "未做任何改动。",
        database_changed: f"备份 {database_changed} 已损坏（其中的数据库与清单不符），"
                          "未做任何改动。",
        newer: f"备份 {newer} 由更新版本的 duban 生成（格式 99）；请先升级 duban 再恢复。",
        tmp_path / "nowhere.backup": f"{tmp_path / 'nowhere.backup'} 处没有备份文件。",
    }
    for archive, message in expected.items():
        result = cli(target, target_store, "db", "restore", str(archive))
        assert result.exit_code == 1, result.output
        assert result.output.strip() == f"错误：{message}"
        assert not target_store.exists()
    assert _empty(target)
    english = cli(target, target_store, "db", "restore", str(cut), lang="en")
    assert english.output.strip() == f"Error: The backup {cut} is damaged (it ends early); " \
                                     "nothing was changed."
    # and the good one still restores
    restored = cli(target, target_store, "db", "restore", str(good))
    assert restored.exit_code == 0, restored.output
    assert len(files(target_store)) == 2


def _empty(url: str) -> bool:
    async def count() -> int:
        database = backup._Database.of(url)
        if database.backend == "sqlite":
            return backup._sqlite_tables(database.path)
        return await backup._postgres_tables(database)

    return asyncio.run(count()) == 0


def test_cli_round_trip_from_an_older_revision(database_url: str, databases: Databases,
                                               tmp_path: Path, catalog: Catalog,
                                               demo_org: Org, cli) -> None:
    """A backup of a database at an older revision (before the event chains) restores at that
    revision and is then migrated: its events chained, the audit content."""
    store = tmp_path / "evidence"
    _fill(database_url, store, catalog, demo_org, 4)

    async def back_to_0005() -> None:
        engine = create_engine(database_url)

        def down(connection: Connection) -> None:
            from alembic import command

            config = alembic_config(database_url)
            config.attributes["connection"] = connection
            command.downgrade(config, "0005")

        try:
            async with engine.begin() as connection:
                await connection.run_sync(down)
        finally:
            await engine.dispose()

    asyncio.run(back_to_0005())
    archive = tmp_path / "old.backup"
    made = cli(database_url, store, "db", "backup", str(archive))
    assert made.exit_code == 0, made.output
    assert made.output.strip().splitlines()[-1] == (
        f"备份已写入 {archive}：数据库版本 0005，2 个案件、4 条记录、2 个证据文件。")
    target, target_store = asyncio.run(databases.empty()), tmp_path / "restored-evidence"
    restored = cli(target, target_store, "db", "restore", str(archive))
    assert restored.exit_code == 0, restored.output
    assert restored.output.strip().splitlines()[-1] == (
        f"已从 {archive}（{_when(archive)} 备份）恢复：数据库版本 0005，2 个案件、4 条记录、"
        f"2 个证据文件；数据库现为版本 {HEAD}。")
    assert files(target_store) == files(store)
    audit = cli(target, target_store, "audit", "verify")
    assert audit.exit_code == 0 and audit.output.strip() == "2 个案件、4 条记录，链条完整。"
    again = cli(target, target_store, "db", "restore", str(archive))
    assert again.exit_code == 1 and "不是空的" in again.output


def _when(archive: Path) -> str:
    """The backup's time as the restore shows it (to the minute, Asia/Shanghai)."""
    from zoneinfo import ZoneInfo

    with tarfile.open(archive) as tar:
        member = tar.extractfile(backup.MANIFEST)
        assert member is not None
        created = datetime.fromisoformat(json.loads(member.read())["created_at"])
    local = created.astimezone(ZoneInfo("Asia/Shanghai"))
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


# -- PostgreSQL's tools ----------------------------------------------------------------------------


postgres_only = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


@postgres_only
def test_pg_dump_invocation_is_shown_without_the_password(
        database_url: str, databases: Databases, tmp_path: Path,
        catalog: Catalog, demo_org: Org, cli) -> None:
    _fill(database_url, tmp_path / "evidence", catalog, demo_org, 2)
    from sqlalchemy.engine import make_url

    with_password = make_url(database_url).set(password="s3cret-pw") \
        .render_as_string(hide_password=False)  # the test server trusts loopback: any password
    archive = tmp_path / "pg.backup"
    result = cli(with_password, tmp_path / "evidence", "db", "backup", str(archive))
    assert result.exit_code == 0, result.output
    running = result.output.splitlines()[0]
    assert running.startswith("运行：PGPASSWORD=*** ") and "s3cret" not in result.output
    assert f"{shutil.which('pg_dump')} --format=custom --snapshot=" in running
    assert f"--dbname={make_url(database_url).database}" in running
    target = make_url(asyncio.run(databases.empty())).set(password="s3cret-pw") \
        .render_as_string(hide_password=False)
    restored = cli(target, tmp_path / "restored", "db", "restore", str(archive))
    assert restored.exit_code == 0, restored.output
    assert "pg_restore --exit-on-error --single-transaction" in restored.output
    assert "s3cret" not in restored.output


@postgres_only
def test_without_pg_dump_one_line_says_what_to_install(
        database_url: str, tmp_path: Path, cli,
        monkeypatch: pytest.MonkeyPatch) -> None:
    empty_path = tmp_path / "bin"
    empty_path.mkdir()
    monkeypatch.setenv("PATH", str(empty_path))
    archive = tmp_path / "none.backup"
    result = cli(database_url, tmp_path / "evidence", "db", "backup", str(archive))
    assert result.exit_code == 1
    assert re.fullmatch(r"错误：未安装 pg_dump（PATH 中找不到）：请安装与服务器版本 (\d+) 相同的 "
                        r"PostgreSQL 客户端工具，例如 apt install postgresql-client-\1。",
                        result.output.strip()), result.output
    assert not archive.exists() and not list(tmp_path.glob(".none.backup*"))
