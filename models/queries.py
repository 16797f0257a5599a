"""Data access: small async functions on a session, keyword arguments, no Telegram."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    String,
    and_,
    bindparam,
    func,
    insert,
    null,
    or_,
    tuple_,
    update,
)
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import SQLModel, col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import chain
from models.tables import (
    DUE_NOW,
    Assignment,
    Case,
    Department,
    Event,
    InboxUpdate,
    Person,
    ProcessedUpdate,
    Region,
    SentKey,
    Setting,
)
from models.types import UTCDateTime


async def case_by_ref(session: AsyncSession, *, ref: str, for_update: bool = False) -> Case | None:
    statement = select(Case).where(col(Case.ref) == ref)
    if for_update:
        statement = statement.with_for_update()
    return (await session.exec(statement)).one_or_none()


async def existing_refs(session: AsyncSession, *, refs: Sequence[str]) -> set[str]:
    found: set[str] = set()
    # Chunked so a large import does not exceed the back-ends' parameter limits.
    for start in range(0, len(refs), 500):
        chunk = list(refs[start:start + 500])
        rows = await session.exec(select(col(Case.ref)).where(col(Case.ref).in_(chunk)))
        found.update(rows.all())
    return found


async def case_ids(session: AsyncSession, *, refs: Sequence[str]) -> dict[str, int]:
    """Map refs to case ids (chunked like :func:`existing_refs`)."""
    found: dict[str, int] = {}
    for start in range(0, len(refs), 500):
        chunk = list(refs[start:start + 500])
        rows = await session.exec(
            select(col(Case.ref), col(Case.id)).where(col(Case.ref).in_(chunk))
        )
        found.update({ref: case_id for ref, case_id in rows.all() if case_id is not None})
    return found


async def cases_by_refs(session: AsyncSession, *, refs: Sequence[str]) -> list[Case]:
    rows = await session.exec(select(Case).where(col(Case.ref).in_(list(refs)))
                              .order_by(col(Case.ref)))
    return list(rows.all())


async def enterprise_names(session: AsyncSession, refs: Sequence[str]) -> dict[str, str]:
    """Each case's enterprise by reference (a digest names thousands: the two columns, 500
    references a statement, never whole cases: 10,000 of those were 36 MB and a second of
    the event loop)."""
    found: dict[str, str] = {}
    for start in range(0, len(refs), 500):
        rows = await session.exec(_ENTERPRISE_NAMES, params={  # type: ignore[call-overload]
            "refs": list(refs[start:start + 500])})
        found.update(rows.tuples().all())
    return found


_ENTERPRISE_NAMES = sa_select(col(Case.ref), col(Case.enterprise)).where(
    col(Case.ref).in_(bindparam("refs", expanding=True)))


def overdue_condition(late_states: Sequence[str], today: date) -> ColumnElement[bool]:
    """The one definition of overdue in SQL (see ``scheduler.rules.is_overdue``): a case in
    one of ``late_states`` (``bot.core.workflow.LATE_STATES``) whose due day has passed."""
    return and_(col(Case.state).in_(list(late_states)), col(Case.due_on) < today)


async def list_cases(
    session: AsyncSession,
    *,
    region: str | None = None,
    states: Sequence[str] | None = None,
    clause: str | None = None,
    department: str | None = None,
    limit: int | None = None,
    overdue: ColumnElement[bool] | None = None,
) -> list[Case]:
    """Cases by region, clause, department, and state; ``overdue`` (from
    :func:`overdue_condition`) adds the overdue cases to the states asked for."""
    statement = select(Case).order_by(col(Case.registered_on), col(Case.ref))
    if region is not None:
        statement = statement.where(col(Case.region_name) == region)
    if states and overdue is not None:
        statement = statement.where(or_(col(Case.state).in_(list(states)), overdue))
    elif overdue is not None:
        statement = statement.where(overdue)
    elif states:
        statement = statement.where(col(Case.state).in_(list(states)))
    if clause is not None:
        statement = statement.where(col(Case.clause) == clause)
    if department is not None:
        statement = statement.where(
            col(Case.id).in_(
                select(col(Assignment.case_id))
                .where(col(Assignment.department_key) == department)
            )
        )
    if limit is not None:
        statement = statement.limit(limit)
    return list((await session.exec(statement)).all())


async def queue_case_ids(session: AsyncSession, *, states: Sequence[str],
                         waiting: Sequence[str], active: Sequence[str]) -> list[int]:
    """Cases in ``states`` with an assignment in a ``waiting`` status (a group to resolve,
    a hand-back), or with no required department in an ``active`` status; by registration."""
    waiting_ids = select(col(Assignment.case_id)).where(col(Assignment.status).in_(waiting))
    staffed_ids = select(col(Assignment.case_id)).where(
        col(Assignment.required).is_(True), col(Assignment.department_key).is_not(None),
        col(Assignment.status).in_(active))
    rows = await session.exec(
        select(col(Case.id)).where(
            col(Case.state).in_(list(states)),
            col(Case.id).in_(waiting_ids) | col(Case.id).not_in(staffed_ids))
        .order_by(col(Case.registered_on), col(Case.ref)))
    return [case_id for case_id in rows.all() if case_id is not None]


# A press reads and writes a case with these: built once, not per call (issue 13).
_ASSIGNMENTS_FOR = (select(Assignment).where(col(Assignment.case_id) == bindparam("case_id"))
                    .order_by(col(Assignment.id)))
_EVENTS_FOR = (select(Event).where(col(Event.case_id) == bindparam("case_id"))
               .order_by(col(Event.seq)))
_EVENT_HASH = select(col(Event.hash)).where(col(Event.case_id) == bindparam("case_id"),
                                            col(Event.seq) == bindparam("seq"))
_MOVE_HEAD = (update(Case.__table__)  # type: ignore[attr-defined]
              .where(Case.__table__.c.id == bindparam("head_case"))  # type: ignore[attr-defined]
              .values(chain_seq=bindparam("head_seq"), chain_hash=bindparam("head_hash"),
                      next_due=DUE_NOW))


async def assignments_for(session: AsyncSession, *, case_id: int) -> list[Assignment]:
    rows = await session.exec(_ASSIGNMENTS_FOR, params={"case_id": case_id})
    return list(rows.all())


async def events_for(session: AsyncSession, *, case_id: int) -> list[Event]:
    rows = await session.exec(_EVENTS_FOR, params={"case_id": case_id})
    return list(rows.all())


async def next_event_seq(session: AsyncSession, *, case_id: int) -> int:
    current = await session.exec(
        select(func.max(col(Event.seq))).where(col(Event.case_id) == case_id)
    )
    return int(current.one_or_none() or 0) + 1


async def append_event(session: AsyncSession, *, case_id: int, seq: int | None = None,
                       **fields: Any) -> Event:
    """Add the case's next event (``seq`` when the caller already knows it), linked into the
    case's hash chain (models.chain), and move the chain's head on the case row."""
    unknown = set(fields) - set(chain.FIELDS)
    if unknown:  # everything an event holds is in its hash: nothing may slip past it
        raise TypeError(f"not an event's field: {', '.join(sorted(unknown))}")
    if seq is None:
        last = (await session.exec(
            select(col(Event.seq), col(Event.hash)).where(col(Event.case_id) == case_id)
            .order_by(col(Event.seq).desc()).limit(1))).one_or_none()
        seq, prev_hash = (1, None) if last is None else (last[0] + 1, last[1])
    else:
        prev_hash = await _event_hash(session, case_id=case_id, seq=seq - 1)
    values = chain.stored_values({**fields, "case_id": case_id, "seq": seq})
    event = Event(**values, prev_hash=prev_hash, hash=chain.event_hash(values, prev_hash))
    session.add(event)
    await session.flush()
    await _move_heads(session, [(case_id, seq, event.hash)])
    return event


async def insert_events(session: AsyncSession, rows: Sequence[Mapping[str, Any]], *,
                        heads: Mapping[int, tuple[int, str | None]] | None = None) -> None:
    """Add several events at once (one INSERT; a batch of new cases' first events), each
    linked into its case's chain, and move the heads. ``heads``: each case's chain head as
    the caller read it (its last event's number and hash), so it is not read again."""
    chained: list[dict[str, Any]] = []
    last: dict[int, tuple[int, str | None]] = dict(heads or {})
    moved: dict[int, tuple[int, str]] = {}
    for row in sorted(rows, key=lambda r: (int(r["case_id"]), int(r["seq"]))):
        values = chain.stored_values(row)
        case_id, seq = values["case_id"], values["seq"]
        prev_hash: str | None
        if case_id in last and last[case_id][0] == seq - 1:
            prev_hash = last[case_id][1]
        else:
            prev_hash = await _event_hash(session, case_id=case_id, seq=seq - 1)
        digest = chain.event_hash(values, prev_hash)
        chained.append({**values, "prev_hash": prev_hash, "hash": digest})
        last[case_id] = (seq, digest)
        moved[case_id] = (seq, digest)
    if chained:
        await session.flush()  # as the ORM's execution would, before the Core statement
        connection = await session.connection()
        await connection.execute(insert(Event.__table__), chained)  # type: ignore[attr-defined]
        await _move_heads(session, [(case_id, seq, digest)
                                    for case_id, (seq, digest) in moved.items()])


async def _event_hash(session: AsyncSession, *, case_id: int, seq: int) -> str | None:
    if seq < 1:
        return None
    found = await session.exec(_EVENT_HASH, params={"case_id": case_id, "seq": seq})
    return found.one_or_none()


async def _move_heads(session: AsyncSession, heads: Sequence[tuple[int, int, str]]) -> None:
    """Each case's chain head: its last event's number and hash (same transaction). A new
    event may change what falls due: the next sweep looks at the case again."""
    await session.exec(
        _MOVE_HEAD,
        params=[{"head_case": case_id, "head_seq": seq, "head_hash": digest}
                for case_id, seq, digest in heads])


async def bump_case_version(session: AsyncSession, *, case: Case,
                            values: dict[str, object]) -> bool:
    """Write ``values`` to ``case`` only if nobody changed it since it was read.

    Returns False when another writer got there first (the caller retries or reports). The
    next sweep looks at the changed case again (``next_due``).
    """
    result = await session.exec(
        update(Case)
        .where(col(Case.id) == case.id, col(Case.version) == case.version)
        .values(**values, version=case.version + 1, next_due=DUE_NOW)
    )
    return bool(result.rowcount)


async def step_case(session: AsyncSession, *, case: Case, values: Mapping[str, object],
                    event: Mapping[str, Any], prev_hash: str | None) -> Event | None:
    """A step's writes on one case in two statements: ``values``, the version and the chain's
    head moved on to ``event`` in one UPDATE, only if nobody changed the case since it was
    read (None otherwise: nothing written, the caller retries or reports), then the event.

    ``prev_hash``: the hash of the case's last event as read with it. Should another writer
    have added an event meanwhile without changing the case, the event's number is taken
    (unique per case) and the unit of work fails, as with :func:`append_event`. Core
    statements: the in-memory ``case`` is brought up to date as the ORM's own UPDATE would."""
    stored = chain.stored_values(event)
    digest = chain.event_hash(stored, prev_hash)
    written = {**values, "version": case.version + 1, "chain_seq": stored["seq"],
               "chain_hash": digest, "next_due": DUE_NOW}
    await session.flush()  # as the ORM's execution would, before the Core statements
    connection = await session.connection()
    result = await connection.execute(_step_update(tuple(written)), {
        **{f"new_{name}": value for name, value in written.items()},
        "step_id": case.id, "step_version": case.version})
    if not result.rowcount:
        return None
    for name, value in written.items():
        set_committed_value(case, name, value)
    row = {**stored, "prev_hash": prev_hash, "hash": digest}
    new_id = (await connection.execute(_INSERT_EVENT, row)).scalar_one()
    return Event(id=new_id, **row)


_STEP_UPDATES: dict[tuple[str, ...], Any] = {}
_INSERT_EVENT = (insert(Event.__table__)  # type: ignore[attr-defined]
                 .returning(Event.__table__.c.id))  # type: ignore[attr-defined]


def _step_update(names: tuple[str, ...]) -> Any:
    """:func:`step_case`'s UPDATE for these columns, built once per set of columns."""
    found = _STEP_UPDATES.get(names)
    if found is None:
        table = Case.__table__  # type: ignore[attr-defined]
        found = _STEP_UPDATES[names] = (
            update(table).where(table.c.id == bindparam("step_id"),
                                table.c.version == bindparam("step_version"))
            .values({name: bindparam(f"new_{name}") for name in names}))
    return found


async def bump_case_versions(session: AsyncSession, *, cases: Sequence[Case],
                             values: Mapping[str, object]) -> bool:
    """Write the same ``values`` to several cases in one statement, only if nobody changed
    any of them since they were read (:func:`bump_case_version` for many: False when one
    was changed meanwhile; the caller rolls back and reads again)."""
    table = Case.__table__  # type: ignore[attr-defined]
    result = await session.exec(
        update(table).where(read_as(table, [(c.id, c.version) for c in cases]))
        .values(**values, version=table.c.version + 1, next_due=DUE_NOW))
    return result.rowcount == len(cases)


def read_as(table: Any, rows: Sequence[tuple[Any, ...]],
            columns: Sequence[str] = ("id", "version")) -> ColumnElement[bool]:
    """The rows of ``table`` whose ``columns`` are still as read (``rows``: their values, the
    id first), found by their primary key: the row values alone make SQLite scan the table."""
    return and_(table.c.id.in_([row[0] for row in rows]),
                tuple_(*(table.c[name] for name in columns)).in_(list(rows)))


async def cases_with_records(session: AsyncSession, *, ids: Sequence[int]
                             ) -> tuple[dict[int, Any], dict[int, list[Any]], dict[int, list[Any]]]:
    """Several cases (by id), their assignments in the order made and their events in
    order: three reads, whatever the number of cases. Rows with the tables' columns as
    attributes, not ORM objects (building those cost ~0.2 ms each): to read, never to add
    to a session."""
    connection = await session.connection()
    cases, assignments, events = (SQLModel.metadata.tables[name]
                                  for name in ("cases", "assignments", "events"))
    found = {row.id: row for row in await connection.execute(
        sa_select(cases).where(cases.c.id.in_(list(ids))))}
    by_case: dict[int, list[Any]] = defaultdict(list)
    for row in await connection.execute(sa_select(assignments).where(
            assignments.c.case_id.in_(list(found))).order_by(assignments.c.id)):
        by_case[row.case_id].append(row)
    chained: dict[int, list[Any]] = defaultdict(list)
    for row in await connection.execute(sa_select(events).where(
            events.c.case_id.in_(list(found))).order_by(events.c.case_id, events.c.seq)):
        chained[row.case_id].append(row)
    return found, dict(by_case), dict(chained)


async def departments(session: AsyncSession) -> list[Department]:
    return list((await session.exec(select(Department).order_by(col(Department.key)))).all())


async def regions(session: AsyncSession) -> list[Region]:
    return list((await session.exec(select(Region).order_by(col(Region.name)))).all())


async def people(session: AsyncSession) -> list[Person]:
    return list((await session.exec(select(Person).order_by(col(Person.id)))).all())


async def setting(session: AsyncSession, *, key: str) -> object | None:
    row = await session.get(Setting, key)
    return None if row is None else row.value


async def count_cases(session: AsyncSession) -> int:
    return int((await session.exec(select(func.count()).select_from(Case))).one())


async def cases_due_by(session: AsyncSession, *, day: date, states: Sequence[str]) -> list[Case]:
    """Open cases whose deadline is on or before ``day`` (uses ix_cases_state_deadline)."""
    rows = await session.exec(
        select(Case)
        .where(col(Case.state).in_(list(states)), col(Case.deadline) <= day)
        .order_by(col(Case.deadline))
    )
    return list(rows.all())


async def add_sent_keys(session: AsyncSession, keys: Sequence[tuple[str, str]],
                        at: datetime) -> None:
    """Record many sent keys, each ``(key, subject)`` (a sweep records tens of thousands),
    in one statement: they go as one parameter (a JSON array on SQLite, two arrays on
    PostgreSQL), so the cost is the database's rather than one bound row per key. The
    statement is built once and the keys given at execution: a value built into a statement
    stays in SQLAlchemy's compiled cache with it (the first sweep's 60,000 keys, 12 MB, kept
    for good)."""
    if not keys:
        return
    if _dialect(session) == "postgresql":
        params: dict[str, Any] = {"keys": [k for k, _ in keys],
                                  "subjects": [s for _, s in keys], "at": at}
    else:
        params = {"keys": json.dumps(list(keys), ensure_ascii=False), "at": at}
    await session.exec(_ADD_SENT_KEYS[_dialect(session) == "postgresql"], params=params)


def _add_sent_keys(postgres: bool) -> Any:
    table = SentKey.__table__  # type: ignore[attr-defined]
    stamp = bindparam("at", type_=UTCDateTime())
    if postgres:
        pairs = func.unnest(bindparam("keys", type_=ARRAY(String)),
                            bindparam("subjects", type_=ARRAY(String))
                            ).table_valued("key", "subject").render_derived()
        rows = sa_select(pairs.c.key, pairs.c.subject, null(), stamp)
    else:
        each = func.json_each(bindparam("keys", type_=String)).table_valued("value")
        rows = sa_select(func.json_extract(each.c.value, "$[0]"),
                         func.json_extract(each.c.value, "$[1]"), null(), stamp)
    return insert(table).from_select(["key", "subject", "outbox_key", "created_at"], rows)


#: :func:`add_sent_keys`'s statement (by "is PostgreSQL")
_ADD_SENT_KEYS = {postgres: _add_sent_keys(postgres) for postgres in (False, True)}


async def set_next_due(session: AsyncSession,
                       rows: Sequence[tuple[int, int, int, date | None]]) -> None:
    """Each case's next due day, ``(id, version, chain_seq, day)``, where the case is still
    as read (same version and chain position): one statement joining the rows given as one
    parameter (four arrays on PostgreSQL, a JSON array on SQLite), by primary key. A
    list of row values in the statement cost PostgreSQL ~25 ms to plan and ~15 µs a row to
    filter per 2,000 cases, and one statement per day."""
    if not rows:
        return
    postgres = _dialect(session) == "postgresql"
    if postgres:
        params: dict[str, Any] = {name: [row[i] for row in rows] for i, name in enumerate(
            ("ids", "versions", "seqs", "days"))}
    else:
        params = {"rows": json.dumps([(i, v, s, d and d.isoformat()) for i, v, s, d in rows])}
    await session.exec(_SET_NEXT_DUE[postgres], params=params)


def _set_next_due(postgres: bool) -> Any:
    table = Case.__table__  # type: ignore[attr-defined]
    id_: Any
    version: Any
    seq: Any
    day: Any
    if postgres:
        given = func.unnest(
            bindparam("ids", type_=ARRAY(Integer)), bindparam("versions", type_=ARRAY(Integer)),
            bindparam("seqs", type_=ARRAY(Integer)), bindparam("days", type_=ARRAY(Date)),
        ).table_valued("id", "version", "chain_seq", "day").render_derived()
        id_, version, seq, day = given.c.id, given.c.version, given.c.chain_seq, given.c.day
    else:
        each = func.json_each(bindparam("rows", type_=String)).table_valued("value")
        id_, version, seq, day = (func.json_extract(each.c.value, f"$[{i}]") for i in range(4))
    return (update(table)
            .where(table.c.id == id_, table.c.version == version, table.c.chain_seq == seq)
            .values(next_due=day))


#: :func:`set_next_due`'s statement (by "is PostgreSQL")
_SET_NEXT_DUE = {postgres: _set_next_due(postgres) for postgres in (False, True)}


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind else "sqlite"


async def record_handled(session: AsyncSession, *, update_id: int, at: datetime) -> None:
    """Record a Telegram update as handled (again is a no-op) and take it out of the inbox."""
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    upsert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.exec(upsert(ProcessedUpdate).values(
        update_id=update_id, processed_at=at).on_conflict_do_nothing())
    await session.exec(delete(InboxUpdate).where(
        col(InboxUpdate.update_id) == update_id))
