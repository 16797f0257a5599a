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

**Overdue, which depends on today.** ``late_counts`` (region × clause) and
``department_late_counts`` (department × region × status of its part) count the cases late
*as of a stored local day* (:data:`AS_OF_KEY`): a late state and ``due_on`` before that day.
The same triggers' writers keep them (installed by migration 0011). A reader at ``today``
sums the counts and adds the cases in a late state due in [stored day, today) (an index range
on ``ix_cases_overdue``), in one statement; first it rolls the day forward (:func:`roll`: that
range becomes counted, one day's worth normally), so the cost follows the keys and the cases
due since yesterday, not the overdue cases. A reader at a day *before* the stored one (a
preview, a test) reads the overdue cases at its day by their index instead (right, and as
slow as before). On PostgreSQL a trigger that moves a late count first takes the shared
advisory lock :data:`LATE_LOCK` and then reads the stored day; a roll takes it alone (giving
up after 200 ms): writers that read the old day commit before the roll reads the cases, and
writers after it read the new day. This needs writers at READ COMMITTED (each trigger
statement a fresh snapshot), as duban's are.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.sql.elements import TextClause
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

import models.tables  # noqa: F401  (the counters' tables, in SQLModel.metadata)

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


# -- late: overdue, counted as of a stored day ----------------------------------------------------

#: ``settings`` row with the local day the late counts are taken at (a JSON string, ISO date).
AS_OF_KEY = "counters_late_as_of"
#: The day the late counts are taken at before any roll: nothing is late as of it.
NEVER = date(1, 1, 1)
#: The states a case can be late in: ``bot.core.workflow.LATE_STATES``, copied into the
#: triggers' SQL (``models`` may not import the core; tests/test_status_late.py checks that
#: the two agree: changing them needs a migration that installs the late triggers again).
LATE_STATES = ("accepted", "closure_requested", "extension_requested", "overdue", "rectifying",
               "routed", "sealed", "shutdown_ordered")
#: PostgreSQL: the transaction-level advisory lock that writers of late counts share and that
#: a roll (or a recount) takes alone, so a writer's trigger reads the day its counts move at.
LATE_LOCK = 0x6475_6261_6E4C  # "dubanL" (the leadership's lock is "duban")

LATE_KEY = ("region_name", "clause")
DEPARTMENT_LATE_KEY = ("department_key", "region_name", "status")
LATE_VALUES = ("n",)
#: The columns of ``cases`` whether a case is late, and where it counts, depend on.
LATE_CASE_COLUMNS = ("region_name", "clause", "state", "due_on")


@dataclass(frozen=True)
class LateRow:
    region_name: str
    clause: str
    n: int


@dataclass(frozen=True)
class DepartmentLateRow:
    department_key: str
    region_name: str
    status: str
    n: int


def _stored_day(p: str, dialect: str) -> str:
    """The day in ``{p}value`` (a JSON string), as each dialect compares dates."""
    if dialect == "sqlite":
        return f"json_extract({p}value, '$')"
    return f"CAST(CAST({p}value AS json) #>> '{{}}' AS date)"


def _as_of(dialect: str) -> str:
    """The stored day, in SQL (:data:`NEVER` when none is stored)."""
    never = f"'{NEVER.isoformat()}'" if dialect == "sqlite" else f"DATE '{NEVER.isoformat()}'"
    return (f"coalesce((SELECT {_stored_day('', dialect)} FROM settings "
            f"WHERE key = '{AS_OF_KEY}'), {never})")


def _late_states(p: str) -> str:
    return f"{p}state IN ({', '.join(repr(s) for s in LATE_STATES)})"


def _late(p: str, dialect: str) -> str:
    """Case row ``p`` is late as of the stored day (``queries.overdue_condition`` at it)."""
    return f"{_late_states(p)} AND {p}due_on < {_as_of(dialect)}"


def _sqlite_late(p: str, sign: int) -> str:
    return _upsert("late_counts", LATE_KEY, LATE_VALUES, "0").format(
        rows=f"SELECT 0, {p}region_name, {p}clause, {sign} WHERE {_late(p, 'sqlite')}")


def _sqlite_department_late_of_case(p: str, sign: int) -> str:
    return _upsert("department_late_counts", DEPARTMENT_LATE_KEY, LATE_VALUES, "0").format(
        rows=f"SELECT 0, a.department_key, {p}region_name, a.status, {sign} FROM assignments a "
             f"WHERE a.case_id = {p}id AND {_counted('a.')} AND {_late(p, 'sqlite')}")


def _sqlite_department_late(a: str, sign: int) -> str:
    return _upsert("department_late_counts", DEPARTMENT_LATE_KEY, LATE_VALUES, "0").format(
        rows=f"SELECT 0, {a}department_key, c.region_name, {a}status, {sign} FROM cases c "
             f"WHERE c.id = {a}case_id AND {_counted(a)} AND {_late('c.', 'sqlite')}")


SQLITE_LATE_TRIGGERS: dict[str, str] = {
    "cases_late_insert": _sqlite_trigger(
        "cases_late_insert", "AFTER INSERT ON cases", [_sqlite_late("NEW.", 1)]),
    "cases_late_update": _sqlite_trigger(
        "cases_late_update",
        f"AFTER UPDATE OF {', '.join(LATE_CASE_COLUMNS)} ON cases "
        f"WHEN {_changed('OLD.', 'NEW.', LATE_CASE_COLUMNS, 'sqlite')}",
        [_sqlite_late("OLD.", -1), _sqlite_late("NEW.", 1),
         _sqlite_department_late_of_case("OLD.", -1),
         _sqlite_department_late_of_case("NEW.", 1)]),
    "cases_late_delete": _sqlite_trigger(
        "cases_late_delete", "AFTER DELETE ON cases", [_sqlite_late("OLD.", -1)]),
    "assignments_late_insert": _sqlite_trigger(
        "assignments_late_insert", "AFTER INSERT ON assignments",
        [_sqlite_department_late("NEW.", 1)]),
    "assignments_late_update": _sqlite_trigger(
        "assignments_late_update",
        f"AFTER UPDATE OF {', '.join(ASSIGNMENT_COLUMNS)} ON assignments "
        f"WHEN {_changed('OLD.', 'NEW.', ASSIGNMENT_COLUMNS, 'sqlite')}",
        [_sqlite_department_late("OLD.", -1), _sqlite_department_late("NEW.", 1)]),
    "assignments_late_delete": _sqlite_trigger(
        "assignments_late_delete", "AFTER DELETE ON assignments",
        [_sqlite_department_late("OLD.", -1)]),
}


def _pg_late(rows: str) -> str:
    return _pg_add("late_counts", LATE_KEY, LATE_VALUES, rows)


def _pg_department_late(rows: str) -> str:
    return _pg_add("department_late_counts", DEPARTMENT_LATE_KEY, LATE_VALUES, rows)


def _pg_late_of(p: str, sign: int, source: str, where: str = "") -> str:
    pg = "postgresql"
    return (f"SELECT {p}region_name AS region_name, {p}clause AS clause, {sign} AS n "
            f"FROM {source} WHERE {_late(p, pg)}{where}")


def _pg_department_late_of(a: str, c: str, sign: int, source: str, where: str = "") -> str:
    pg = "postgresql"
    return (f"SELECT {a}department_key AS department_key, {c}region_name AS region_name, "
            f"{a}status AS status, {sign} AS n FROM {source} "
            f"WHERE {_counted(a)} AND {_late(c, pg)}{where}")


def _pg_late_case_update() -> tuple[str, list[str]]:
    pairs = "old_rows o JOIN new_rows r ON r.id = o.id"
    moved = f" AND {_changed('o.', 'r.', LATE_CASE_COLUMNS, 'postgresql')}"
    parts = f"{pairs} JOIN assignments a ON a.case_id = o.id"
    return (f"{pairs} WHERE ({_late_states('o.')} OR {_late_states('r.')}){moved}", [
        _pg_late(f"{_pg_late_of('o.', -1, pairs, moved)} UNION ALL "
                 f"{_pg_late_of('r.', 1, pairs, moved)}"),
        _pg_department_late(f"{_pg_department_late_of('a.', 'o.', -1, parts, moved)} "
                            f"UNION ALL {_pg_department_late_of('a.', 'r.', 1, parts, moved)}"),
    ])


def _pg_late_assignment_update() -> tuple[str, list[str]]:
    pairs = "old_rows o JOIN new_rows a ON a.id = o.id"
    moved = f" AND {_changed('o.', 'a.', ASSIGNMENT_COLUMNS, 'postgresql')}"
    old = _pg_department_late_of("o.", "c.", -1, f"{pairs} JOIN cases c ON c.id = o.case_id",
                                 moved)
    new = _pg_department_late_of("a.", "c.", 1, f"{pairs} JOIN cases c ON c.id = a.case_id",
                                 moved)
    return (f"{pairs} WHERE ({_counted('o.')} OR {_counted('a.')}){moved}",
            [_pg_department_late(f"{old} UNION ALL {new}")])


# name -> (table, event, transition tables, (rows that may move a late count, statements))
_PG_LATE_TRIGGERS: dict[str, tuple[str, str, str, tuple[str, list[str]]]] = {
    "cases_late_insert": ("cases", "INSERT", "NEW TABLE AS new_rows", (
        f"new_rows r WHERE {_late_states('r.')}",
        [_pg_late(_pg_late_of("r.", 1, "new_rows r"))])),
    "cases_late_update": ("cases", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                          _pg_late_case_update()),
    "cases_late_delete": ("cases", "DELETE", "OLD TABLE AS old_rows", (
        f"old_rows o WHERE {_late_states('o.')}",
        [_pg_late(_pg_late_of("o.", -1, "old_rows o"))])),
    "assignments_late_insert": ("assignments", "INSERT", "NEW TABLE AS new_rows", (
        f"new_rows a WHERE {_counted('a.')}",
        [_pg_department_late(_pg_department_late_of(
            "a.", "c.", 1, "new_rows a JOIN cases c ON c.id = a.case_id"))])),
    "assignments_late_update": ("assignments", "UPDATE",
                                "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                                _pg_late_assignment_update()),
    "assignments_late_delete": ("assignments", "DELETE", "OLD TABLE AS old_rows", (
        f"old_rows a WHERE {_counted('a.')}",
        [_pg_department_late(_pg_department_late_of(
            "a.", "c.", -1, "old_rows a JOIN cases c ON c.id = a.case_id"))])),
}


def _postgres_late_statements() -> list[str]:
    """Each trigger, when its statement moved a row that may count, first takes the shared
    :data:`LATE_LOCK` (held to its commit), then reads the stored day in the statements
    that follow (each with a fresh snapshot: a roll that committed before is seen)."""
    statements = []
    for name, (table, event, transitions, (guard, body)) in _PG_LATE_TRIGGERS.items():
        statements.append(
            f"CREATE OR REPLACE FUNCTION duban_{name}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN IF EXISTS (SELECT 1 FROM {guard}) THEN "
            f"PERFORM pg_advisory_xact_lock_shared({LATE_LOCK}); {'; '.join(body)}; "
            f"END IF; RETURN NULL; END $$")
        statements.append(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {transitions} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION duban_{name}()")
    return statements


def late_install_statements(dialect: str) -> list[str]:
    """What creates the late counts' triggers (migration 0011; like :func:`install_statements`,
    a migration that copies ``cases`` or ``assignments`` on SQLite must run these again)."""
    if dialect == "sqlite":
        return list(SQLITE_LATE_TRIGGERS.values())
    return _postgres_late_statements()


def late_drop_statements(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_LATE_TRIGGERS]
    statements = [f"DROP TRIGGER IF EXISTS {name} ON {table}"
                  for name, (table, *_rest) in _PG_LATE_TRIGGERS.items()]
    return [*statements, *(f"DROP FUNCTION IF EXISTS duban_{name}()"
                           for name in _PG_LATE_TRIGGERS)]


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


def _day(dialect: str, name: str = "today") -> str:
    return f":{name}" if dialect == "sqlite" else f"CAST(:{name} AS date)"


def _late_reading(dialect: str, table: str, key: Sequence[str], range_rows: str,
                  region: str | None) -> TextClause:
    """Late as of ``:today`` in one statement (one snapshot: the stored day, the counts and
    the cases agree): the counts kept as of the stored day plus the cases that came due
    between it and today (an index range, normally a day's worth), or, for a day before the
    stored one, the cases late at it (the overdue cases, read by their index)."""
    as_of, today = _as_of(dialect), _day(dialect)
    keys = ", ".join(key)
    in_region = " AND region_name = :region" if region is not None else ""
    in_case_region = " AND c.region_name = :region" if region is not None else ""
    lower = f"CASE WHEN {as_of} <= {today} THEN {as_of} ELSE {_day(dialect, 'never')} END"
    came_due = (f"{_late_states('c.')} AND c.due_on < {today} AND c.due_on >= ({lower})"
                f"{in_case_region}")
    return text(
        f"SELECT {keys}, sum(n) FROM (SELECT {keys}, n FROM {table} "
        f"WHERE {as_of} <= {today}{in_region} UNION ALL "
        f"{range_rows.format(came_due=came_due)}) AS d "
        f"GROUP BY {keys} HAVING sum(n) <> 0 ORDER BY {keys}")


def _late_params(dialect: str, today: date, region: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"today": today, "never": NEVER}
    if dialect == "sqlite":  # dates as SQLite keeps them (ISO text)
        params = {"today": today.isoformat(), "never": NEVER.isoformat()}
    if region is not None:
        params["region"] = region
    return params


async def late_rows(session: AsyncSession, today: date,
                    region: str | None = None) -> list[LateRow]:
    """The overdue cases at ``today`` per region and clause (of one region or all): a read
    whose cost follows the number of keys and of the cases due since the stored day."""
    dialect = _dialect(session)
    statement = _late_reading(
        dialect, "late_counts", LATE_KEY,
        "SELECT c.region_name, c.clause, count(*) FROM cases c WHERE {came_due} "
        "GROUP BY c.region_name, c.clause", region)
    rows = await session.exec(statement,  # type: ignore[call-overload]
                              params=_late_params(dialect, today, region))
    return [LateRow(region_name, clause, int(n)) for region_name, clause, n in rows.all()]


async def department_late_rows(session: AsyncSession, today: date,
                               region: str | None = None) -> list[DepartmentLateRow]:
    """The required assignments of the overdue cases at ``today``, per department, region
    and status of its part (a case has at most one counted part per department, so these
    are cases)."""
    dialect = _dialect(session)
    statement = _late_reading(
        dialect, "department_late_counts", DEPARTMENT_LATE_KEY,
        "SELECT a.department_key, c.region_name, a.status, count(*) FROM cases c "
        f"JOIN assignments a ON a.case_id = c.id WHERE {_counted('a.')} AND {{came_due}} "
        "GROUP BY a.department_key, c.region_name, a.status", region)
    rows = await session.exec(statement,  # type: ignore[call-overload]
                              params=_late_params(dialect, today, region))
    return [DepartmentLateRow(d, r, s, int(n)) for d, r, s, n in rows.all()]


async def stored_as_of(session: AsyncSession) -> date:
    """The day the late counts are taken at (:data:`NEVER` before the first roll)."""
    value = (await session.exec(text(  # type: ignore[call-overload]
        "SELECT value FROM settings WHERE key = :key"), params={"key": AS_OF_KEY})).first()
    if value is None:
        return NEVER
    return date.fromisoformat(json.loads(value[0]))


def _roll_statements(dialect: str) -> list[str]:
    """Move the late counts from the stored day to ``:today`` (in a roll's transaction): the
    cases in a late state due in [stored day, today) become late, then the day is stored."""
    as_of, today = _as_of(dialect), _day(dialect)
    shard = "0" if dialect == "sqlite" else _SHARD
    came_due = (f"{_late_states('c.')} AND c.due_on >= {as_of} AND c.due_on < {today}")
    statements = [
        _upsert("late_counts", LATE_KEY, LATE_VALUES, shard).format(
            rows=f"SELECT {shard}, c.region_name, c.clause, count(*) FROM cases c "
                 f"WHERE {came_due} GROUP BY c.region_name, c.clause "
                 f"ORDER BY c.region_name, c.clause"),
        _upsert("department_late_counts", DEPARTMENT_LATE_KEY, LATE_VALUES, shard).format(
            rows=f"SELECT {shard}, a.department_key, c.region_name, a.status, count(*) "
                 f"FROM cases c JOIN assignments a ON a.case_id = c.id "
                 f"WHERE {_counted('a.')} AND {came_due} "
                 f"GROUP BY a.department_key, c.region_name, a.status "
                 f"ORDER BY a.department_key, c.region_name, a.status"),
        f"INSERT INTO settings (key, value) VALUES ('{AS_OF_KEY}', :value) "
        f"ON CONFLICT (key) DO UPDATE SET value = excluded.value "
        f"WHERE {_stored_day('settings.', dialect)} < {today}",
    ]
    return statements


async def roll(sessions: async_sessionmaker[AsyncSession], today: date) -> bool:
    """Take the late counts forward to ``today`` if they are at an earlier day (one
    transaction; whether they moved). Readers are right without it (they add the cases due
    since the stored day), only slower as days pass; a roll that would wait on writers more
    than a moment is given up (a later reader does it).

    PostgreSQL: the roll takes :data:`LATE_LOCK` alone, so it waits for the writers whose
    triggers read the old day to commit (and then sees their cases), and writers that come
    after read the new day; its counts go to its own shard. SQLite: one writer at a time."""
    async with sessions() as session:
        if await stored_as_of(session) >= today:
            return False
        await session.rollback()  # (the read's transaction: the roll begins its own)
        dialect = _dialect(session)
        params = {"today": today.isoformat() if dialect == "sqlite" else today,
                  "value": json.dumps(today.isoformat())}
        busy = None
        try:
            if dialect == "sqlite":  # wait a moment for a writer, not the 5 s writers do
                busy = (await session.exec(text(  # type: ignore[call-overload]
                    "PRAGMA busy_timeout"))).one()[0]
                await session.exec(text(  # type: ignore[call-overload]
                    "PRAGMA busy_timeout = 200"))
                await session.commit()
            async with session.begin():
                if dialect == "postgresql":
                    await session.exec(text(  # type: ignore[call-overload]
                        "SET LOCAL lock_timeout = '200ms'"))
                    await session.exec(text(  # type: ignore[call-overload]
                        f"SELECT pg_advisory_xact_lock({LATE_LOCK})"))
                for statement in _roll_statements(dialect):
                    await session.exec(text(statement),  # type: ignore[call-overload]
                                       params=params)
        except DBAPIError:
            return False
        finally:
            if busy is not None:
                await session.exec(text(  # type: ignore[call-overload]
                    f"PRAGMA busy_timeout = {int(busy)}"))
                await session.commit()
    return True


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
                await session.exec(text(  # type: ignore[call-overload]
                    "SET LOCAL lock_timeout = '200ms'"))  # (for the whole transaction)
                for table, key, values in (
                        ("status_counts", STATUS_KEY, STATUS_VALUES),
                        ("department_counts", DEPARTMENT_KEY, DEPARTMENT_VALUES),
                        ("late_counts", LATE_KEY, LATE_VALUES),
                        ("department_late_counts", DEPARTMENT_LATE_KEY, LATE_VALUES)):
                    await session.exec(text(_fold_statement(  # type: ignore[call-overload]
                        table, key, values)))
        except DBAPIError:
            return


@dataclass(frozen=True)
class Recount:
    status_changed: int  # counter rows (keys) that were wrong, missing or left over
    department_changed: int
    late_changed: int = 0  # of the late counts (both tables), as of the stored day

    @property
    def changed(self) -> int:
        return self.status_changed + self.department_changed + self.late_changed


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


async def kept_late(session: AsyncSession) -> list[LateRow]:
    """The late counts as kept (summed over shards), as of the stored day."""
    rows = await session.exec(_summed("late_counts", LATE_KEY, LATE_VALUES, ""))  # type: ignore[call-overload]
    return [LateRow(r, c, int(n)) for r, c, n in rows.all()]


async def kept_department_late(session: AsyncSession) -> list[DepartmentLateRow]:
    rows = await session.exec(_summed(  # type: ignore[call-overload]
        "department_late_counts", DEPARTMENT_LATE_KEY, LATE_VALUES, ""))
    return [DepartmentLateRow(d, r, s, int(n)) for d, r, s, n in rows.all()]


def _full_late(dialect: str) -> TextClause:
    return text(f"SELECT c.region_name, c.clause, count(*) FROM cases c "
                f"WHERE {_late('c.', dialect)} GROUP BY c.region_name, c.clause "
                f"ORDER BY c.region_name, c.clause")


def _full_department_late(dialect: str) -> TextClause:
    return text(f"SELECT a.department_key, c.region_name, a.status, count(*) FROM cases c "
                f"JOIN assignments a ON a.case_id = c.id "
                f"WHERE {_counted('a.')} AND {_late('c.', dialect)} "
                f"GROUP BY a.department_key, c.region_name, a.status "
                f"ORDER BY a.department_key, c.region_name, a.status")


async def full_late(session: AsyncSession) -> list[LateRow]:
    """The late counts as a full count of ``cases`` gives them at the stored day."""
    rows = await session.exec(_full_late(_dialect(session)))  # type: ignore[call-overload]
    return [LateRow(r, c, int(n)) for r, c, n in rows.all()]


async def full_department_late(session: AsyncSession) -> list[DepartmentLateRow]:
    rows = await session.exec(  # type: ignore[call-overload]
        _full_department_late(_dialect(session)))
    return [DepartmentLateRow(d, r, s, int(n)) for d, r, s, n in rows.all()]


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


async def recount(session: AsyncSession, offset: int, today: date | None = None) -> Recount:
    """Rebuild the counters and the late counts (at their stored day) from the tables (in
    the caller's transaction), with local dates at UTC ``offset`` minutes; how many counter
    rows were not what a full count gives. With ``today``, the late counts are then taken at
    it (forward, or back from a day a reader's clock had set in the future: not counted as
    wrong rows)."""
    dialect = _dialect(session)
    if dialect == "postgresql":  # writers wait until this commits: nothing slips between
        await session.exec(text(  # type: ignore[call-overload]
            "LOCK TABLE cases, assignments IN SHARE MODE"))
        await session.exec(text(  # type: ignore[call-overload]
            f"SELECT pg_advisory_xact_lock({LATE_LOCK})"))  # and no roll
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
    late, department_late = await full_late(session), await full_department_late(session)
    late_changed = (_differences(await kept_late(session), late, len(LATE_KEY))
                    + _differences(await kept_department_late(session), department_late,
                                   len(DEPARTMENT_LATE_KEY)))
    changed = Recount(
        _differences(kept_status, status, len(STATUS_KEY)),
        _differences(kept_departments, departments, len(DEPARTMENT_KEY)), late_changed)
    if changed.status_changed or changed.department_changed or before != offset:
        await _replace(session, "status_counts", STATUS_KEY, STATUS_VALUES, status)
        await _replace(session, "department_counts", DEPARTMENT_KEY, DEPARTMENT_VALUES,
                       departments)
    rebuild_late = bool(late_changed)
    if today is not None and today != await stored_as_of(session):
        await session.exec(text(  # type: ignore[call-overload]
            "DELETE FROM settings WHERE key = :key"), params={"key": AS_OF_KEY})
        await session.exec(text(  # type: ignore[call-overload]
            "INSERT INTO settings (key, value) VALUES (:key, :value)"),
            params={"key": AS_OF_KEY, "value": json.dumps(today.isoformat())})
        late, department_late = await full_late(session), await full_department_late(session)
        rebuild_late = True
    if rebuild_late:
        await _replace(session, "late_counts", LATE_KEY, LATE_VALUES, late)
        await _replace(session, "department_late_counts", DEPARTMENT_LATE_KEY, LATE_VALUES,
                       department_late)
    return changed


async def _replace(session: AsyncSession, table: str, key: Sequence[str],
                   values: Sequence[str], rows: Sequence[Any]) -> None:
    await session.exec(text(f"DELETE FROM {table}"))  # type: ignore[call-overload]
    if not rows:
        return
    target = SQLModel.metadata.tables[table]  # typed columns: capacities bind as Decimal
    params = [{"shard": 0, **row.__dict__} for row in rows]
    await session.exec(insert(target), params=params)
