"""Data access: small async functions on a session, keyword arguments, no Telegram."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.tables import Assignment, Case, Department, Event, Person, Region, Setting


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


def overdue_condition(open_states: Sequence[str], today: date) -> ColumnElement[bool]:
    """The one definition of overdue in SQL (see ``scheduler.rules.is_overdue``): an open
    case whose due day has passed."""
    return and_(col(Case.state).in_(list(open_states)), col(Case.due_on) < today)


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


async def assignments_for(session: AsyncSession, *, case_id: int) -> list[Assignment]:
    rows = await session.exec(
        select(Assignment).where(col(Assignment.case_id) == case_id)
        .order_by(col(Assignment.id))
    )
    return list(rows.all())


async def events_for(session: AsyncSession, *, case_id: int) -> list[Event]:
    rows = await session.exec(
        select(Event).where(col(Event.case_id) == case_id).order_by(col(Event.seq))
    )
    return list(rows.all())


async def next_event_seq(session: AsyncSession, *, case_id: int) -> int:
    current = await session.exec(
        select(func.max(col(Event.seq))).where(col(Event.case_id) == case_id)
    )
    return int(current.one_or_none() or 0) + 1


async def append_event(session: AsyncSession, *, case_id: int, seq: int | None = None,
                       **fields: Any) -> Event:
    """Add the case's next event (``seq`` when the caller already knows it)."""
    if seq is None:
        seq = await next_event_seq(session, case_id=case_id)
    event = Event(case_id=case_id, seq=seq, **fields)
    session.add(event)
    await session.flush()
    return event


async def bump_case_version(session: AsyncSession, *, case: Case,
                            values: dict[str, object]) -> bool:
    """Write ``values`` to ``case`` only if nobody changed it since it was read.

    Returns False when another writer got there first (the caller retries or reports).
    """
    result = await session.exec(
        update(Case)
        .where(col(Case.id) == case.id, col(Case.version) == case.version)
        .values(**values, version=case.version + 1)
    )
    return bool(result.rowcount)


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
