"""Backups: the database and the evidence store in one archive, and back again.

An archive is a gzip-compressed tar file holding

* the database, as it was at one instant: ``database.sqlite3`` (SQLite's online backup API,
  copied inside one read transaction) or ``database.pgdump`` (``pg_dump --format=custom``,
  run on a snapshot exported by a transaction that also counts the rows);
* the evidence store: ``evidence/<sha256[:2]>/<sha256>``, every file present after the
  database was copied, each checked against its name (a damaged file is left out and named in
  the manifest). Files are written before the database rows that name them, so every file the
  copied database refers to is there; a few newer ones may be too;
* ``manifest.json``, last: the format and its version, the back-end, the database's migration
  revision, when the backup was made, the row count of every table (taken in the same snapshot
  as the copy), the evidence files' count and size, and the database file's SHA-256 and size.

The archive is written beside its destination and renamed into place when complete, so a
reader never sees half of one. :func:`restore_backup` reads the whole archive into a staging
area first, checking the manifest, the database's fingerprint and every evidence file's name
before it changes anything; it restores only into an empty database (the SQLite file is
renamed into place, PostgreSQL gets ``pg_restore --single-transaction``), puts the evidence
files back (each renamed into place), and brings the database from the backed-up revision to
this version's with the migrations.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import os
import shlex
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.evidence import SHA256
from bot.core.i18n import N_, DubanError
from models.db import create_engine, current_revision, normalize_url, upgrade

FORMAT = "duban-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
POSTGRES_FILE = "database.pgdump"
EVIDENCE = "evidence"
_CHUNK = 1 << 20

NOT_A_BACKUP = N_("{path} is not a duban backup.")
DAMAGED = N_("The backup {path} is damaged ({reason}); nothing was changed.")
ENDS_EARLY = N_("it ends early")
NO_MANIFEST = N_("its manifest is missing")
BAD_MANIFEST = N_("its manifest cannot be read")
DATABASE_MISMATCH = N_("the database in it does not match its manifest")
EVIDENCE_MISMATCH = N_("an evidence file in it does not match its fingerprint")
EVIDENCE_COUNT = N_("evidence files are missing from it")
UNEXPECTED = N_("it holds files a backup does not")
COUNTS_MISMATCH = N_("the restored tables do not hold the rows its manifest counts")
NEWER_FORMAT = N_("The backup {path} was made by a newer duban (format {version}); upgrade "
                  "duban to restore it.")
NEWER_REVISION = N_("The backup {path} is at database revision {revision}, which this duban "
                    "does not know; upgrade duban to restore it.")
OTHER_BACKEND = N_("The backup {path} holds a {backend} database; restore it into a {backend} "
                   "database (--database or DATABASE_URL).")
NOT_EMPTY = N_("The database {database} is not empty ({tables} tables); a backup is restored "
               "only into an empty database. Nothing was changed.")
OVER_DATABASE = N_("The backup would be written over the database itself ({path}); name "
                   "another file.")
NO_ARCHIVE = N_("There is no backup at {path}.")
NO_DATABASE = N_("There is no database at {path}.")
IN_MEMORY = N_("An in-memory SQLite database cannot be backed up or restored; name a file in "
               "--database or DATABASE_URL.")
NO_TOOL = N_("{program} is not installed (not on the PATH): install PostgreSQL's client tools "
             "for server version {major}, e.g. apt install postgresql-client-{major}.")
TOOL_FAILED = N_("{program} failed: {reason}")
NO_SUCH_DATABASE = N_("The database {database} does not exist; create it empty first "
                      "(createdb {database}).")

#: Announces a command about to run, as a shell would show it (the password hidden).
Announce = Callable[[str], None]


@dataclass(frozen=True)
class Manifest:
    backend: str  # sqlite | postgresql
    revision: str | None
    created_at: datetime
    #: rows per table, counted in the snapshot the database was copied from
    counts: dict[str, int]
    database_file: str
    database_sha256: str
    database_bytes: int
    evidence_files: int = 0
    evidence_bytes: int = 0
    #: evidence files left out because they no longer match their names (damaged in the store)
    left_out: tuple[str, ...] = ()
    version: int = FORMAT_VERSION

    def to_json(self) -> bytes:
        return json.dumps({
            "format": FORMAT, "version": self.version, "backend": self.backend,
            "revision": self.revision, "created_at": self.created_at.astimezone(UTC).isoformat(),
            "counts": self.counts,
            "database": {"file": self.database_file, "sha256": self.database_sha256,
                         "bytes": self.database_bytes},
            "evidence": {"files": self.evidence_files, "bytes": self.evidence_bytes,
                         "left_out": list(self.left_out)},
        }, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes, path: Path) -> Manifest:
        try:
            raw = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise _damaged(path, BAD_MANIFEST) from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise DubanError(NOT_A_BACKUP, path=str(path))
        version = raw.get("version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise DubanError(NEWER_FORMAT, path=str(path), version=version)
        try:
            database, evidence = raw["database"], raw["evidence"]
            manifest = cls(
                backend=str(raw["backend"]), revision=raw["revision"],
                created_at=datetime.fromisoformat(raw["created_at"]),
                counts={str(k): int(v) for k, v in raw["counts"].items()},
                database_file=str(database["file"]), database_sha256=str(database["sha256"]),
                database_bytes=int(database["bytes"]),
                evidence_files=int(evidence["files"]), evidence_bytes=int(evidence["bytes"]),
                left_out=tuple(str(s) for s in evidence.get("left_out", ())), version=version)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise _damaged(path, BAD_MANIFEST) from None
        if manifest.backend not in ("sqlite", "postgresql") or manifest.database_file != (
                SQLITE_FILE if manifest.backend == "sqlite" else POSTGRES_FILE):
            raise _damaged(path, BAD_MANIFEST)
        return manifest


@dataclass(frozen=True)
class Restored:
    manifest: Manifest
    #: the revision the database was restored at (the backup's) and the one it was brought to
    restored_revision: str | None
    revision: str | None
    evidence_written: int
    evidence_present: int  # already in the store, intact


# -- the database's address ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Database:
    url: URL

    @classmethod
    def of(cls, url: str) -> _Database:
        return cls(make_url(normalize_url(url)))

    @property
    def backend(self) -> str:
        return "sqlite" if self.url.get_backend_name() == "sqlite" else "postgresql"

    @property
    def path(self) -> Path:
        name = self.url.database
        if not name or name == ":memory:" or name.startswith("file:"):
            raise DubanError(IN_MEMORY)
        return Path(name)

    @property
    def name(self) -> str:
        if self.backend == "sqlite":
            return str(self.path)
        return self.url.database or ""

    def libpq(self) -> tuple[list[str], dict[str, str], str]:
        """Connection options for pg_dump/pg_restore, the environment (the password goes in
        PGPASSWORD, never on the command line) and how to show that environment."""
        options = ["--no-password"]
        if self.url.host:
            options.append(f"--host={self.url.host}")
        if self.url.port:
            options.append(f"--port={self.url.port}")
        if self.url.username:
            options.append(f"--username={self.url.username}")
        env = dict(os.environ)
        shown = ""
        if self.url.password:
            env["PGPASSWORD"] = str(self.url.password)
            shown = "PGPASSWORD=*** "
        return options, env, shown


# -- backing up ---------------------------------------------------------------------------------


async def create_backup(url: str, evidence_dir: Path, archive: Path, *, now: datetime,
                        announce: Announce | None = None,
                        on_snapshot: Callable[[], Awaitable[None]] | None = None) -> Manifest:
    """Write one archive of the database at ``url`` and the evidence store ``evidence_dir``.

    ``on_snapshot`` is awaited once the database's snapshot is fixed and before it is copied
    (the tests let other writers commit there: their writes are not in the archive).
    """
    database = _Database.of(url)
    archive = archive.resolve()
    if database.backend == "sqlite" and archive in {
            Path(f"{database.path.resolve()}{suffix}") for suffix in ("", "-wal", "-shm")}:
        raise DubanError(OVER_DATABASE, path=str(archive))
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=archive.parent, prefix=f".{archive.name}.") as work:
        copy = Path(work) / (SQLITE_FILE if database.backend == "sqlite" else POSTGRES_FILE)
        if database.backend == "sqlite":
            revision, counts = await _copy_sqlite(database.path, copy, on_snapshot)
        else:
            revision, counts = await _dump_postgres(database, copy, announce, on_snapshot)
        return await asyncio.to_thread(_write_archive, archive, copy, evidence_dir, Manifest(
            backend=database.backend, revision=revision, created_at=now, counts=counts,
            database_file=copy.name, database_sha256="", database_bytes=0))


async def _copy_sqlite(source: Path, copy: Path,
                       on_snapshot: Callable[[], Awaitable[None]] | None,
                       ) -> tuple[str | None, dict[str, int]]:
    if not source.is_file():
        raise DubanError(NO_DATABASE, path=str(source))

    def begin() -> sqlite3.Connection:
        connection = sqlite3.connect(source, timeout=30, isolation_level=None,
                                     check_same_thread=False)
        connection.execute("BEGIN")
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot
        return connection

    def finish(connection: sqlite3.Connection) -> tuple[str | None, dict[str, int]]:
        target = sqlite3.connect(copy)
        try:
            connection.backup(target)  # inside the read transaction: that snapshot
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            target.close()
        return _sqlite_counts(copy)

    connection = await asyncio.to_thread(begin)
    try:
        if on_snapshot is not None:
            await on_snapshot()
        return await asyncio.to_thread(finish, connection)
    finally:
        await asyncio.to_thread(connection.close)


def _sqlite_counts(path: Path) -> tuple[str | None, dict[str, int]]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name")]
        counts = {name: int(connection.execute(
            f'SELECT count(*) FROM "{name}"').fetchone()[0]) for name in tables}
        revision = None
        if "alembic_version" in tables:
            found = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = found[0] if found else None
        return revision, counts
    finally:
        connection.close()


async def _dump_postgres(database: _Database, copy: Path, announce: Announce | None,
                         on_snapshot: Callable[[], Awaitable[None]] | None,
                         ) -> tuple[str | None, dict[str, int]]:
    engine = create_engine(database.url.render_as_string(hide_password=False))
    try:
        async with engine.connect() as connection:
            snapshotting = await connection.execution_options(isolation_level="REPEATABLE READ")
            async with snapshotting.begin():
                snapshot = (await snapshotting.execute(
                    text("SELECT pg_export_snapshot()"))).scalar_one()
                program = await _tool("pg_dump", snapshotting)
                revision, counts = await _postgres_counts(snapshotting)
                if on_snapshot is not None:
                    await on_snapshot()
                options, env, shown = database.libpq()
                command = [program, "--format=custom", f"--snapshot={snapshot}", *options,
                           f"--file={copy}", f"--dbname={database.url.database}"]
                await _run(command, env, shown, announce)
                return revision, counts
    finally:
        await engine.dispose()


async def _postgres_counts(connection: AsyncConnection) -> tuple[str | None, dict[str, int]]:
    tables = list((await connection.execute(text(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
        "ORDER BY tablename"))).scalars())
    quote = connection.dialect.identifier_preparer.quote
    counts = {}
    for name in tables:
        counts[name] = int((await connection.execute(
            text(f"SELECT count(*) FROM {quote(name)}"))).scalar_one())
    revision = None
    if "alembic_version" in tables:
        revision = (await connection.execute(
            text("SELECT version_num FROM alembic_version"))).scalar_one_or_none()
    return revision, counts


async def _tool(name: str, connection: AsyncConnection) -> str:
    program = shutil.which(name)
    if program is None:
        number = int((await connection.execute(text("SHOW server_version_num"))).scalar_one())
        raise DubanError(NO_TOOL, program=name, major=number // 10000)
    return program


async def _run(command: list[str], env: dict[str, str], shown: str,
               announce: Announce | None) -> None:
    if announce is not None:
        announce(shown + shlex.join(command))
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _out, err = await process.communicate()
    if process.returncode != 0:
        lines = [line for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
        raise DubanError(TOOL_FAILED, program=Path(command[0]).name,
                         reason=" / ".join(lines[-3:]) or f"exit code {process.returncode}")


class _Hashing(io.RawIOBase):
    """Reads a file and fingerprints what was read."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.digest = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data


def _evidence_files(root: Path) -> Iterator[tuple[str, Path]]:
    """The store's files (``<sha[:2]>/<sha>``), in order; anything else there is not ours."""
    if not root.is_dir():
        return
    for folder in sorted(root.iterdir()):
        if len(folder.name) != 2 or not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if SHA256.fullmatch(path.name) and path.name[:2] == folder.name and path.is_file():
                yield path.name, path


def _member(name: str, size: int, mtime: float) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(mtime), 0o444
    return info


def _write_archive(archive: Path, database: Path, evidence_dir: Path,
                   manifest: Manifest) -> Manifest:
    handle, temporary = tempfile.mkstemp(dir=archive.parent, prefix=f".{archive.name}.",
                                         suffix=".partial")
    moment = manifest.created_at.timestamp()
    try:
        with os.fdopen(handle, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6) as tar:
                with database.open("rb") as source:
                    hashing = _Hashing(source)
                    tar.addfile(_member(database.name, database.stat().st_size, moment),
                                hashing)
                files = size = 0
                left_out: list[str] = []
                for sha256, path in _evidence_files(evidence_dir):
                    try:
                        content = path.read_bytes()
                    except FileNotFoundError:
                        continue
                    if hashlib.sha256(content).hexdigest() != sha256:
                        left_out.append(sha256)
                        continue
                    tar.addfile(_member(f"{EVIDENCE}/{sha256[:2]}/{sha256}", len(content),
                                        moment), io.BytesIO(content))
                    files, size = files + 1, size + len(content)
                manifest = Manifest(
                    backend=manifest.backend, revision=manifest.revision,
                    created_at=manifest.created_at, counts=manifest.counts,
                    database_file=database.name, database_sha256=hashing.digest.hexdigest(),
                    database_bytes=hashing.size, evidence_files=files, evidence_bytes=size,
                    left_out=tuple(left_out))
                data = manifest.to_json()
                tar.addfile(_member(MANIFEST, len(data), moment), io.BytesIO(data))
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(temporary, archive)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _sync_folder(archive.parent)
    return manifest


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


# -- restoring ----------------------------------------------------------------------------------


@dataclass
class _Staged:
    manifest: Manifest | None = None
    database: Path | None = None
    evidence: dict[str, Path] = field(default_factory=dict)


async def restore_backup(archive: Path, url: str, evidence_dir: Path, *,
                         announce: Announce | None = None) -> Restored:
    """Restore ``archive`` into the empty database at ``url`` and the store ``evidence_dir``,
    then bring the database to this version's revision."""
    database = _Database.of(url)
    if not archive.is_file():
        raise DubanError(NO_ARCHIVE, path=str(archive))
    await _refuse_non_empty(database)
    if database.backend == "sqlite":
        database.path.parent.mkdir(parents=True, exist_ok=True)
        staging_db = database.path.resolve().parent
    else:
        staging_db = Path(tempfile.gettempdir())
    evidence_dir = evidence_dir.resolve()
    created_store = not evidence_dir.exists()
    evidence_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(dir=staging_db, prefix=".duban-restore.") as db_work, \
                tempfile.TemporaryDirectory(dir=evidence_dir, prefix=".restore.") as files_work:
            staged = await asyncio.to_thread(_unpack, archive, Path(db_work), Path(files_work))
            manifest = staged.manifest
            assert manifest is not None and staged.database is not None
            if manifest.backend != database.backend:
                raise DubanError(OTHER_BACKEND, path=str(archive), backend=manifest.backend)
            _known_revision(manifest.revision, archive)
            if manifest.backend == "sqlite":
                revision, counts = await asyncio.to_thread(_sqlite_counts, staged.database)
                if counts != manifest.counts or revision != manifest.revision:
                    raise _damaged(archive, COUNTS_MISMATCH)
            await _refuse_non_empty(database)
            written, present = await asyncio.to_thread(_install_evidence, staged, evidence_dir)
            if manifest.backend == "sqlite":
                await asyncio.to_thread(_install_sqlite, staged.database, database.path)
            else:
                await _restore_postgres(database, staged.database, announce, manifest, archive)
    except BaseException:
        if created_store:
            with contextlib.suppress(OSError):
                evidence_dir.rmdir()  # only if still empty: nothing was put there
        raise
    engine = create_engine(url)
    try:
        restored = await current_revision(engine)
        await upgrade(engine)
        now = await current_revision(engine)
    finally:
        await engine.dispose()
    return Restored(manifest, restored, now, written, present)


async def _refuse_non_empty(database: _Database) -> None:
    if database.backend == "sqlite":
        tables = await asyncio.to_thread(_sqlite_tables, database.path)
    else:
        tables = await _postgres_tables(database)
    if tables:
        raise DubanError(NOT_EMPTY, database=database.name, tables=tables)


def _sqlite_tables(path: Path) -> int:
    if not path.exists() or path.stat().st_size == 0:
        return 0
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            return int(connection.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0])
        finally:
            connection.close()
    except sqlite3.DatabaseError:  # not a database at all: not ours to overwrite
        return 1


async def _postgres_tables(database: _Database) -> int:
    engine = create_engine(database.url.render_as_string(hide_password=False))
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(text(
                "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN "
                "('pg_catalog', 'information_schema')"))).scalar_one())
    except Exception as error:  # asyncpg's InvalidCatalogNameError, raised on connecting
        if getattr(error, "sqlstate", None) == "3D000":
            raise DubanError(NO_SUCH_DATABASE, database=database.name) from None
        raise
    finally:
        await engine.dispose()


def _damaged(path: Path, reason: str) -> DubanError:
    return DubanError(DAMAGED, path=str(path), reason=reason, translate=("reason",))


def _unpack(archive: Path, db_work: Path, files_work: Path) -> _Staged:
    """Read the whole archive into the staging folders, checking as it goes."""
    staged = _Staged()
    recognised = False
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            for member in tar:
                name = member.name
                parts = name.split("/")
                is_evidence = (len(parts) == 3 and parts[0] == EVIDENCE
                               and SHA256.fullmatch(parts[2]) is not None
                               and parts[1] == parts[2][:2])
                if not member.isfile() or not (
                        name in (MANIFEST, SQLITE_FILE, POSTGRES_FILE) or is_evidence):
                    if not recognised:
                        raise DubanError(NOT_A_BACKUP, path=str(archive))
                    raise _damaged(archive, UNEXPECTED)
                recognised = True
                source = tar.extractfile(member)
                assert source is not None
                if name == MANIFEST:
                    staged.manifest = Manifest.from_json(source.read(1 << 20), archive)
                    continue
                if is_evidence:
                    target = files_work / parts[2]
                else:
                    if staged.database is not None:
                        raise _damaged(archive, DATABASE_MISMATCH)
                    target = db_work / name
                digest, _size = _copy_out(source, target)
                if is_evidence:
                    if digest != parts[2]:
                        raise _damaged(archive, EVIDENCE_MISMATCH)
                    staged.evidence[parts[2]] = target
                else:
                    staged.database = target
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        if not recognised and not isinstance(error, EOFError):
            raise DubanError(NOT_A_BACKUP, path=str(archive)) from None
        raise _damaged(archive, ENDS_EARLY if isinstance(error, EOFError | tarfile.ReadError)
                       else str(error)) from None
    manifest = staged.manifest
    if manifest is None:
        raise _damaged(archive, NO_MANIFEST) if recognised else \
            DubanError(NOT_A_BACKUP, path=str(archive))
    if staged.database is None or staged.database.name != manifest.database_file:
        raise _damaged(archive, DATABASE_MISMATCH)
    digest, size = _fingerprint(staged.database)
    if digest != manifest.database_sha256 or size != manifest.database_bytes:
        raise _damaged(archive, DATABASE_MISMATCH)
    if len(staged.evidence) != manifest.evidence_files:
        raise _damaged(archive, EVIDENCE_COUNT)
    return staged


def _copy_out(source: IO[bytes], target: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with target.open("wb") as out:
        for block in iter(lambda: source.read(_CHUNK), b""):
            digest.update(block)
            size += len(block)
            out.write(block)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest(), size


def _fingerprint(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as source:
        for block in iter(lambda: source.read(_CHUNK), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _known_revision(revision: str | None, archive: Path) -> None:
    if revision is None:
        return
    from alembic.script import ScriptDirectory

    from models.db import alembic_config

    try:
        found = ScriptDirectory.from_config(alembic_config()).get_revision(revision)
    except Exception:  # alembic's CommandError or ResolutionError: not one of ours
        found = None
    if found is None:
        raise DubanError(NEWER_REVISION, path=str(archive), revision=revision)


def _install_evidence(staged: _Staged, root: Path) -> tuple[int, int]:
    """Each file renamed into place (an intact copy already there is kept)."""
    written = present = 0
    for sha256, path in sorted(staged.evidence.items()):
        target = root / sha256[:2] / sha256
        if target.is_file() and _fingerprint(target)[0] == sha256:
            present += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o444)
        os.replace(path, target)
        _sync_folder(target.parent)
        written += 1
    return written, present


def _install_sqlite(staged: Path, target: Path) -> None:
    for suffix in ("-wal", "-shm", "-journal"):  # an empty database's leftovers
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(staged, target)
    _sync_folder(target.parent)


async def _restore_postgres(database: _Database, dump: Path, announce: Announce | None,
                            manifest: Manifest, archive: Path) -> None:
    engine = create_engine(database.url.render_as_string(hide_password=False))
    try:
        async with engine.connect() as connection:
            program = await _tool("pg_restore", connection)
        options, env, shown = database.libpq()
        await _run([program, "--exit-on-error", "--single-transaction", "--no-owner",
                    "--no-privileges", *options, f"--dbname={database.url.database}",
                    str(dump)], env, shown, announce)
        async with engine.connect() as connection:
            revision, counts = await _postgres_counts(connection)
    finally:
        await engine.dispose()
    if counts != manifest.counts or revision != manifest.revision:
        raise _damaged(archive, COUNTS_MISMATCH)


def describe(manifest: Manifest) -> dict[str, Any]:
    """The numbers people read after a backup or a restore."""
    return {"revision": manifest.revision or "—", "cases": manifest.counts.get("cases", 0),
            "events": manifest.counts.get("events", 0), "files": manifest.evidence_files}
