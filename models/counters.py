"""The counters behind ``/status``: kept by database triggers, read by summing, rebuilt on demand.

``status_counts`` holds, per region × clause × state × industry × unit × closing year × on-time
flag, how many cases there are and how much capacity they hold; ``department_counts`` the
required assignments per department × status of its part × its case's region, state and
on-time flag. Triggers on ``cases`` and ``assignments`` (installed by migration 0007 with
:func:`install`) change them in the writer's own transaction, whatever the writer: ORM flushes,
the import's bulk Core inserts, the sweep's Core updates, a hand-edit in ``psql``.

**Local days in SQL.** The closing year and "closed by its due day" are local dates. The
triggers shift ``closed_at`` by the UTC offset stored in ``settings`` (:data:`OFFSET_KEY`);
that is exact for a zone with one offset (Asia/Shanghai, every zone in China). Readers check
that the offset stored is the fixed offset of their zone (:func:`usable`) and count from the
cases themselves otherwise; ``duban db recount`` stores the zone's offset and rebuilds.

**Concurrency.** SQLite has one writer at a time: its row triggers add to one row per key
(``shard`` 0). On PostgreSQL a statement trigger sums the statement's changes per key and adds
them to rows of its own transaction (``shard`` = its transaction id), so two writers never
update the same counter row and cannot wait on each other or deadlock, whatever order they
touch keys in. Readers sum over the shards; :func:`fold` moves committed shards into shard 0
(one statement, keys in order) so the table stays about as small as the number of keys.

What depends on "today" (overdue) is not counted here: it is an indexed query whose cost
follows the number of overdue cases (``ix_cases_state_due_on``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import CTE, ColumnElement, insert, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.sql.elements import TextClause
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.tables import Case  # (and the counters' tables, in SQLModel.metadata)

#: ``settings`` row with the UTC offset (minutes) the triggers use for local dates.
OFFSET_KEY = "counters_utc_offset"

STATUS_KEY = ("region_name", "clause", "state", "industry", "unit", "closed_year", "on_time")
STATUS_VALUES = ("n", "capacity", "capacity_n")
DEPARTMENT_KEY = ("department_key", "region_name", "state", "status", "on_time")
DEPARTMENT_VALUES = ("n",)

#: The columns of ``cases`` the counters read: an UPDATE that changes none of them changes no
#: counter (most updates only move the event chain's head or ``updated_at``).
CASE_COLUMNS = ("region_name", "clause", "state", "industry", "unit", "capacity",
                "exited_capacity", "closed_at", "due_on")
CASE_DEPARTMENT_COLUMNS = ("region_name", "state", "closed_at", "due_on")
ASSIGNMENT_COLUMNS = ("case_id", "department_key", "required", "status")


@dataclass(frozen=True)
class StatusRow:
    region_name: str
    clause: str
    state: str
    industry: str
    unit: str
    closed_year: int
    on_time: int
    n: int
    capacity: Decimal
    capacity_n: int


@dataclass(frozen=True)
class DepartmentRow:
    department_key: str
    region_name: str
    state: str
    status: str
    on_time: int
    n: int


# -- the key of a row, in each dialect's SQL ---------------------------------------------------


def _sqlite_offset() -> str:
    return ("coalesce((SELECT printf('%+d minutes', CAST(value AS INTEGER)) FROM settings "
            f"WHERE key = '{OFFSET_KEY}'), '+0 minutes')")


def _local(p: str, dialect: str) -> tuple[str, str]:
    """(local year, local date) of ``{p}closed_at``."""
    if dialect == "sqlite":
        offset = _sqlite_offset()
        return (f"CAST(strftime('%Y', {p}closed_at, {offset}) AS INTEGER)",
                f"date({p}closed_at, {offset})")
    local = f"(({p}closed_at AT TIME ZONE 'UTC') + make_interval(mins => duban_counts_offset()))"
    return f"CAST(EXTRACT(YEAR FROM {local}) AS INTEGER)", f"CAST({local} AS date)"


def _on_time(p: str, dialect: str) -> str:
    """Closed by its due day in local time (as ``StatusService._on_time``); open counts as 1."""
    _, day = _local(p, dialect)
    return (f"CASE WHEN {p}closed_at IS NULL OR {p}due_on IS NULL OR {day} <= {p}due_on "
            "THEN 1 ELSE 0 END")


def _named(expressions: Sequence[str], names: Sequence[str] | None) -> str:
    if names is None:
        return ", ".join(expressions)
    return ", ".join(f"{e} AS {n}" for e, n in zip(expressions, names, strict=True))


def status_columns(p: str, sign: int, dialect: str, named: bool = True) -> str:
    """The key and values of case row ``p`` (``NEW.``, ``OLD.``, ``c.``), times ``sign``."""
    year, _ = _local(p, dialect)
    amount = f"coalesce({p}exited_capacity, {p}capacity)"
    return _named([f"{p}region_name", f"{p}clause", f"{p}state", f"{p}industry",
                   f"coalesce({p}unit, '')",
                   f"CASE WHEN {p}closed_at IS NULL THEN 0 ELSE {year} END",
                   _on_time(p, dialect), f"{sign}", f"{sign} * coalesce({amount}, 0)",
                   f"CASE WHEN {amount} IS NULL THEN 0 ELSE {sign} END"],
                  (*STATUS_KEY, *STATUS_VALUES) if named else None)


def department_columns(a: str, c: str, sign: int, dialect: str, named: bool = True) -> str:
    """The key and value of assignment ``a`` of case ``c``, times ``sign``."""
    return _named([f"{a}department_key", f"{c}region_name", f"{c}state", f"{a}status",
                   _on_time(c, dialect), f"{sign}"],
                  (*DEPARTMENT_KEY, *DEPARTMENT_VALUES) if named else None)


def _counted(a: str) -> str:
    """Only a department's required parts are counted (as ``/status`` and the ranking do)."""
    return f"{a}required AND {a}department_key IS NOT NULL"


def _changed(old: str, new: str, columns: Sequence[str], dialect: str) -> str:
    if dialect == "sqlite":
        return " OR ".join(f"{old}{c} IS NOT {new}{c}" for c in columns)
    return (f"({', '.join(old + c for c in columns)}) IS DISTINCT FROM "
            f"({', '.join(new + c for c in columns)})")


def _upsert(table: str, key: Sequence[str], values: Sequence[str], shard: str) -> str:
    names = ", ".join(("shard", *key, *values))
    sums = ", ".join(f"{v} = {table}.{v} + excluded.{v}" for v in values)
    return f"INSERT INTO {table} ({names}) {{rows}} ON CONFLICT (shard, {', '.join(key)}) " \
           f"DO UPDATE SET {sums}"


# -- SQLite: row triggers, one row per key ------------------------------------------------------


def _sqlite_status(p: str, sign: int) -> str:
    return _upsert("status_counts", STATUS_KEY, STATUS_VALUES, "0").format(
        rows=f"VALUES (0, {status_columns(p, sign, 'sqlite', named=False)})")


def _sqlite_department_of_case(p: str, sign: int) -> str:
    return _upsert("department_counts", DEPARTMENT_KEY, DEPARTMENT_VALUES, "0").format(
        rows=f"SELECT 0, {department_columns('a.', p, sign, 'sqlite')} FROM assignments a "
             f"WHERE a.case_id = {p}id AND {_counted('a.')}")


def _sqlite_department(a: str, sign: int) -> str:
    return _upsert("department_counts", DEPARTMENT_KEY, DEPARTMENT_VALUES, "0").format(
        rows=f"SELECT 0, {department_columns(a, 'c.', sign, 'sqlite')} FROM cases c "
             f"WHERE c.id = {a}case_id AND {_counted(a)}")


def _sqlite_trigger(name: str, when: str, body: Iterable[str]) -> str:
    return f"CREATE TRIGGER {name} {when} BEGIN {'; '.join(body)}; END"


SQLITE_TRIGGERS: dict[str, str] = {
    "cases_count_insert": _sqlite_trigger(
        "cases_count_insert", "AFTER INSERT ON cases", [_sqlite_status("NEW.", 1)]),
    "cases_count_update": _sqlite_trigger(
        "cases_count_update",
        f"AFTER UPDATE OF {', '.join(CASE_COLUMNS)} ON cases "
        f"WHEN {_changed('OLD.', 'NEW.', CASE_COLUMNS, 'sqlite')}",
        [_sqlite_status("OLD.", -1), _sqlite_status("NEW.", 1),
         _sqlite_department_of_case("OLD.", -1), _sqlite_department_of_case("NEW.", 1)]),
    "cases_count_delete": _sqlite_trigger(
        "cases_count_delete", "AFTER DELETE ON cases", [_sqlite_status("OLD.", -1)]),
    "assignments_count_insert": _sqlite_trigger(
        "assignments_count_insert", "AFTER INSERT ON assignments",
        [_sqlite_department("NEW.", 1)]),
    "assignments_count_update": _sqlite_trigger(
        "assignments_count_update",
        f"AFTER UPDATE OF {', '.join(ASSIGNMENT_COLUMNS)} ON assignments "
        f"WHEN {_changed('OLD.', 'NEW.', ASSIGNMENT_COLUMNS, 'sqlite')}",
        [_sqlite_department("OLD.", -1), _sqlite_department("NEW.", 1)]),
    "assignments_count_delete": _sqlite_trigger(
        "assignments_count_delete", "AFTER DELETE ON assignments",
        [_sqlite_department("OLD.", -1)]),
}


# -- PostgreSQL: statement triggers, one row per key and transaction -----------------------------

_SHARD = "txid_current()"


def _pg_add(table: str, key: Sequence[str], values: Sequence[str], rows: str) -> str:
    """Sum ``rows`` (key…, values…) per key and add them to this transaction's shard."""
    width = len(key)
    groups = ", ".join(str(i) for i in range(2, width + 2))
    sums = ", ".join(f"sum({v})" for v in values)
    nonzero = " OR ".join(f"sum({v}) <> 0" for v in values)
    select = (f"SELECT {_SHARD}, {', '.join(key)}, {sums} FROM ({rows}) AS d "
              f"GROUP BY {groups} HAVING {nonzero} ORDER BY {groups}")
    return _upsert(table, key, values, _SHARD).format(rows=select)


def _pg_status(rows: str) -> str:
    return _pg_add("status_counts", STATUS_KEY, STATUS_VALUES, rows)


def _pg_department(rows: str) -> str:
    return _pg_add("department_counts", DEPARTMENT_KEY, DEPARTMENT_VALUES, rows)


def _pg_case_update() -> list[str]:
    pairs = "old_rows o JOIN new_rows r ON r.id = o.id"
    moved = _changed("o.", "r.", CASE_COLUMNS, "postgresql")
    moved_department = _changed("o.", "r.", CASE_DEPARTMENT_COLUMNS, "postgresql")
    with_parts = f"{pairs} JOIN assignments a ON a.case_id = o.id"
    return [
        _pg_status(f"SELECT {status_columns('o.', -1, 'postgresql')} FROM {pairs} "
                   f"WHERE {moved} UNION ALL "
                   f"SELECT {status_columns('r.', 1, 'postgresql')} FROM {pairs} WHERE {moved}"),
        _pg_department(
            f"SELECT {department_columns('a.', 'o.', -1, 'postgresql')} FROM {with_parts} "
            f"WHERE {_counted('a.')} AND {moved_department} UNION ALL "
            f"SELECT {department_columns('a.', 'r.', 1, 'postgresql')} FROM {with_parts} "
            f"WHERE {_counted('a.')} AND {moved_department}"),
    ]


def _pg_assignment_rows(table: str, sign: int, where: str = "") -> str:
    return (f"SELECT {department_columns('a.', 'c.', sign, 'postgresql')} FROM {table} "
            f"JOIN cases c ON c.id = a.case_id WHERE {_counted('a.')}{where}")


def _pg_assignment_update() -> str:
    moved = _changed("o.", "a.", ASSIGNMENT_COLUMNS, "postgresql")
    old = (f"SELECT {department_columns('o.', 'c.', -1, 'postgresql')} FROM old_rows o "
           f"JOIN new_rows a ON a.id = o.id JOIN cases c ON c.id = o.case_id "
           f"WHERE {_counted('o.')} AND {moved}")
    new = (f"SELECT {department_columns('a.', 'c.', 1, 'postgresql')} FROM old_rows o "
           f"JOIN new_rows a ON a.id = o.id JOIN cases c ON c.id = a.case_id "
           f"WHERE {_counted('a.')} AND {moved}")
    return _pg_department(f"{old} UNION ALL {new}")


# name -> (table, event, transition tables, statements)
_PG_TRIGGERS: dict[str, tuple[str, str, str, list[str]]] = {
    "cases_count_insert": ("cases", "INSERT", "NEW TABLE AS new_rows", [
        _pg_status(f"SELECT {status_columns('r.', 1, 'postgresql')} FROM new_rows r")]),
    "cases_count_update": ("cases", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                           _pg_case_update()),
    "cases_count_delete": ("cases", "DELETE", "OLD TABLE AS old_rows", [
        _pg_status(f"SELECT {status_columns('o.', -1, 'postgresql')} FROM old_rows o")]),
    "assignments_count_insert": ("assignments", "INSERT", "NEW TABLE AS new_rows", [
        _pg_department(_pg_assignment_rows("new_rows a", 1))]),
    "assignments_count_update": ("assignments", "UPDATE",
                                 "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                                 [_pg_assignment_update()]),
    "assignments_count_delete": ("assignments", "DELETE", "OLD TABLE AS old_rows", [
        _pg_department(_pg_assignment_rows("old_rows a", -1))]),
}

_PG_OFFSET_FUNCTION = (
    "CREATE OR REPLACE FUNCTION duban_counts_offset() RETURNS integer LANGUAGE sql STABLE AS "
    f"$$ SELECT coalesce((SELECT CAST(value AS integer) FROM settings "
    f"WHERE key = '{OFFSET_KEY}'), 0) $$")


def postgres_statements() -> list[str]:
    statements = [_PG_OFFSET_FUNCTION]
    for name, (table, event, transitions, body) in _PG_TRIGGERS.items():
        statements.append(
            f"CREATE OR REPLACE FUNCTION duban_{name}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {'; '.join(body)}; RETURN NULL; END $$")
        statements.append(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {transitions} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION duban_{name}()")
    return statements


def install_statements(dialect: str) -> list[str]:
    """What creates the triggers (a migration that copies ``cases`` or ``assignments`` on
    SQLite drops them with the old table and must run these again)."""
    return list(SQLITE_TRIGGERS.values()) if dialect == "sqlite" else postgres_statements()


def drop_statements(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGERS]
    statements = [f"DROP TRIGGER IF EXISTS {name} ON {table}"
                  for name, (table, *_rest) in _PG_TRIGGERS.items()]
    statements += [f"DROP FUNCTION IF EXISTS duban_{name}()" for name in _PG_TRIGGERS]
    return [*statements, "DROP FUNCTION IF EXISTS duban_counts_offset()"]


# -- the offset ----------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def fixed_offset(tz: tzinfo, first_year: int = 2000, last_year: int = 2100) -> int | None:
    """The zone's UTC offset in minutes if it is the same every fortnight of those years
    (then local dates are a shift of UTC ones), else None."""
    seen: set[timedelta | None] = set()
    at = datetime(first_year, 1, 1, tzinfo=UTC)
    end = datetime(last_year, 12, 31, tzinfo=UTC)
    while at < end and len(seen) < 2:
        seen.add(at.astimezone(tz).utcoffset())
        at += timedelta(days=14)
    if len(seen) != 1:
        return None
    (offset,) = seen
    return None if offset is None else int(offset.total_seconds() // 60)


def offset_now(tz: tzinfo) -> int:
    """The zone's offset in minutes now (stored for a zone without one fixed offset, whose
    readers then count from the cases)."""
    offset = datetime.now(UTC).astimezone(tz).utcoffset()
    return int(offset.total_seconds() // 60) if offset else 0


async def stored_offset(session: AsyncSession) -> int | None:
    value = (await session.exec(text(  # type: ignore[call-overload]
        "SELECT value FROM settings WHERE key = :key"), params={"key": OFFSET_KEY})).first()
    try:
        return None if value is None else int(value[0])
    except (TypeError, ValueError):
        return None


async def usable(session: AsyncSession, tz: tzinfo) -> bool:
    """Whether the counters' local dates are those of ``tz`` (else count from the cases)."""
    offset = fixed_offset(tz)
    return offset is not None and await stored_offset(session) == offset


# -- reading -------------------------------------------------------------------------------------


def _summed(table: str, key: Sequence[str], values: Sequence[str], where: str) -> TextClause:
    sums = ", ".join(f"sum({v})" for v in values)
    nonzero = " OR ".join(f"sum({v}) <> 0" for v in values)
    return text(f"SELECT {', '.join(key)}, {sums} FROM {table} {where} "
                f"GROUP BY {', '.join(key)} HAVING {nonzero} ORDER BY {', '.join(key)}")


async def status_rows(session: AsyncSession, region: str | None = None) -> list[StatusRow]:
    """The status counters (summed over shards, zero rows left out), of one region or all."""
    where = "WHERE region_name = :region" if region is not None else ""
    rows = await session.exec(_summed("status_counts", STATUS_KEY, STATUS_VALUES, where),
                              params={"region": region})  # type: ignore[call-overload]
    return [_status_row(row) for row in rows.all()]


async def department_rows(session: AsyncSession,
                          region: str | None = None) -> list[DepartmentRow]:
    where = "WHERE region_name = :region" if region is not None else ""
    rows = await session.exec(
        _summed("department_counts", DEPARTMENT_KEY, DEPARTMENT_VALUES, where),
        params={"region": region})  # type: ignore[call-overload]
    return [_department_row(row) for row in rows.all()]


def _status_row(row: Sequence[Any]) -> StatusRow:
    region, clause, state, industry, unit, year, on_time, n, capacity, capacity_n = row
    return StatusRow(region, clause, state, industry, unit, int(year), int(on_time), int(n),
                     _decimal(capacity), int(capacity_n))


def _department_row(row: Sequence[Any]) -> DepartmentRow:
    department, region, state, status, on_time, n = row
    return DepartmentRow(department, region, state, status, int(on_time), int(n))


def _decimal(value: Any) -> Decimal:
    """SQLite sums REAL values: four places, as the column keeps them."""
    return Decimal(str(value or 0)).quantize(Decimal("0.0001"))


def overdue_cases(overdue: ColumnElement[bool]) -> CTE:
    """The overdue cases (``id``, ``region_name``, ``clause``; ``overdue`` is
    ``queries.overdue_condition``), read first by their index and then grouped or filtered.

    Materialized: asked for the count per region (or of one region) in one statement, SQLite's
    planner walks the region index over every case to save a sort; this way the cost follows
    the number of overdue cases."""
    return (select(col(Case.id), col(Case.region_name), col(Case.clause)).where(overdue)
            .cte("overdue_cases").prefix_with("MATERIALIZED"))


# -- folding and rebuilding ----------------------------------------------------------------------


def _fold_statement(table: str, key: Sequence[str], values: Sequence[str]) -> str:
    sums = ", ".join(f"sum({v})" for v in values)
    keys = ", ".join(key)
    select = (f"SELECT 0, {keys}, {sums} FROM gone GROUP BY {keys} ORDER BY {keys}")
    upsert = _upsert(table, key, values, "0").format(rows=select)
    return (f"WITH gone AS (DELETE FROM {table} WHERE shard <> 0 "
            f"RETURNING {', '.join((*key, *values))}) {upsert}")


async def fold(sessions: async_sessionmaker[AsyncSession]) -> None:
    """PostgreSQL: move committed transactions' shards into shard 0 (cost follows the rows
    written since the last fold). Readers are right without it, only slower; a fold that
    meets another one is given up (the other does the work)."""
    async with sessions() as session:
        if session.bind is None or session.bind.dialect.name != "postgresql":
            return
        try:
            async with session.begin():
                for table, key, values in (
                        ("status_counts", STATUS_KEY, STATUS_VALUES),
                        ("department_counts", DEPARTMENT_KEY, DEPARTMENT_VALUES)):
                    await session.exec(text(  # type: ignore[call-overload]
                        "SET LOCAL lock_timeout = '200ms'"))
                    await session.exec(text(_fold_statement(  # type: ignore[call-overload]
                        table, key, values)))
        except DBAPIError:
            return


@dataclass(frozen=True)
class Recount:
    status_changed: int  # counter rows (keys) that were wrong, missing or left over
    department_changed: int

    @property
    def changed(self) -> int:
        return self.status_changed + self.department_changed


def _full_status(dialect: str) -> TextClause:
    rows = f"SELECT {status_columns('c.', 1, dialect)} FROM cases c"
    return _full(rows, STATUS_KEY, STATUS_VALUES)


def _full_department(dialect: str) -> TextClause:
    rows = (f"SELECT {department_columns('a.', 'c.', 1, dialect)} FROM assignments a "
            f"JOIN cases c ON c.id = a.case_id WHERE {_counted('a.')}")
    return _full(rows, DEPARTMENT_KEY, DEPARTMENT_VALUES)


def _full(rows: str, key: Sequence[str], values: Sequence[str]) -> TextClause:
    keys = ", ".join(key)
    sums = ", ".join(f"sum({v})" for v in values)
    return text(f"SELECT {keys}, {sums} FROM ({rows}) AS d GROUP BY {keys} ORDER BY {keys}")


async def full_status(session: AsyncSession) -> list[StatusRow]:
    """The status counters as a full count of ``cases`` would make them."""
    rows = await session.exec(_full_status(_dialect(session)))  # type: ignore[call-overload]
    return [_status_row(row) for row in rows.all()]


async def full_departments(session: AsyncSession) -> list[DepartmentRow]:
    rows = await session.exec(_full_department(_dialect(session)))  # type: ignore[call-overload]
    return [_department_row(row) for row in rows.all()]


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def _differences(kept: Iterable[Any], counted: Iterable[Any], width: int) -> int:
    def keyed(rows: Iterable[Any]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        out = {}
        for row in rows:
            values = tuple(row.__dict__.values())
            if any(values[width:]):
                out[values[:width]] = values[width:]
        return out

    have, want = keyed(kept), keyed(counted)
    return sum(1 for key in set(have) | set(want) if have.get(key) != want.get(key))


async def recount(session: AsyncSession, offset: int) -> Recount:
    """Rebuild both counters from the tables (in the caller's transaction), with local dates
    at UTC ``offset`` minutes; how many counter rows were not what a full count gives."""
    dialect = _dialect(session)
    if dialect == "postgresql":  # writers wait until this commits: nothing slips between
        await session.exec(text(  # type: ignore[call-overload]
            "LOCK TABLE cases, assignments IN SHARE MODE"))
    before = await stored_offset(session)
    await session.exec(text(  # type: ignore[call-overload]
        "DELETE FROM settings WHERE key = :key"), params={"key": OFFSET_KEY})
    await session.exec(text(  # type: ignore[call-overload]
        "INSERT INTO settings (key, value) VALUES (:key, :value)"),
        params={"key": OFFSET_KEY, "value": str(offset)})
    kept_status = await status_rows(session)
    kept_departments = await department_rows(session)
    status = await full_status(session)
    departments = await full_departments(session)
    changed = Recount(
        _differences(kept_status, status, len(STATUS_KEY)),
        _differences(kept_departments, departments, len(DEPARTMENT_KEY)))
    if changed.changed or before != offset:
        await _replace(session, "status_counts", STATUS_KEY, STATUS_VALUES, status)
        await _replace(session, "department_counts", DEPARTMENT_KEY, DEPARTMENT_VALUES,
                       departments)
    return changed


async def _replace(session: AsyncSession, table: str, key: Sequence[str],
                   values: Sequence[str], rows: Sequence[Any]) -> None:
    await session.exec(text(f"DELETE FROM {table}"))  # type: ignore[call-overload]
    if not rows:
        return
    target = SQLModel.metadata.tables[table]  # typed columns: capacities bind as Decimal
    params = [{"shard": 0, **row.__dict__} for row in rows]
    await session.exec(insert(target), params=params)
