"""The sweep's overdue step in batches writes what taking it case by case writes.

Random workflow histories are played on two databases in step; then, days later, one
database marks its overdue cases one case at a time (``take_step``, as before batches) and
the other in batches (``take_system_step``, what the sweep does now). Every row of the cases,
their events (hash chain included) and the outbox must then be the same in both, on SQLite
and PostgreSQL. Also: a case changed by another writer between the batch's read and its write
makes the batch read again, so the change is neither lost nor overwritten.
"""

from __future__ import annotations

import asyncio
import os
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.casefile import CaseInput
from bot.core.clock import ManualClock
from bot.core.i18n import DubanError
from bot.core.org import load_demo_org
from bot.core.policy.catalog import load_default_catalog
from bot.core.workflow import CASE_CLAUSES, Actor, StepInput, workflow_for
from bot.services.access import SYSTEM
from bot.services.cases import CaseService
from bot.services.org import OrgService
from models import queries
from models.db import create_engine, session_factory
from models.queries import read_as
from models.tables import Case, Event, Outbox
from tests.conftest import COORDINATOR, template_copies
from tests.test_next_due import START, WORKDAYS, at
from tests.test_supervision_property import Move, moves, play_move

CATALOG = load_default_catalog()
MARK = StepInput("mark_overdue", Actor.SYSTEM)


async def _world(url: str, clock: ManualClock, clauses: list[str]
                 ) -> tuple[AsyncEngine, CaseService, list[str]]:
    engine = create_engine(url)
    sessions = session_factory(engine)
    org = OrgService(sessions)
    await org.load(load_demo_org())
    cases = CaseService(sessions, CATALOG, clock, WORKDAYS, org.current)
    refs = [f"B-{i:02d}" for i in range(len(clauses))]
    await cases.import_cases([
        CaseInput(ref=ref, region="玛纳斯县", enterprise=f"{ref}企业", industry="cement",
                  clauses=(clause,), capacity=Decimal(10), unit="万吨/年", equipment=None,
                  registered_on=START, description="", row=i + 2)
        for i, (ref, clause) in enumerate(zip(refs, clauses, strict=True))], COORDINATOR)
    return engine, cases, refs


async def _rows(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the step may write, in a stable order."""
    tables = {"cases": (Case, "id"), "events": (Event, "id"), "outbox": (Outbox, "key")}
    found = {}
    async with engine.connect() as connection:
        for name, (model, order) in tables.items():
            table = model.__table__  # type: ignore[attr-defined]
            columns = [c for c in table.c if not (name == "outbox" and c.name == "id")]
            rows = await connection.execute(select(*columns).order_by(table.c[order]))
            found[name] = [tuple(row) for row in rows]
    return found


async def _late_ids(engine: AsyncEngine, today: date) -> list[int]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(Case.__table__.c.id).where(  # type: ignore[attr-defined]
                Case.__table__.c.due_on < today)  # type: ignore[attr-defined]
            .order_by(Case.__table__.c.id))  # type: ignore[attr-defined]
        return [row[0] for row in rows]


def _late_state(clause: str, index: int) -> str:
    """A state of ``clause``'s workflow the overdue step leaves."""
    sources = sorted(s.value for step in workflow_for(clause).steps
                     if step.name == "mark_overdue" for s in step.sources)
    return sources[index % len(sources)]


async def _in_step(clauses: list[str], history: list[Move], later: int, forced: set[int],
                   urls: list[str]) -> None:
    clock = ManualClock(at(START))
    one, one_cases, refs = await _world(urls[0], clock, clauses)
    batch, batch_cases, _ = await _world(urls[1], clock, clauses)
    try:
        day = START
        for move in history:
            day = WORKDAYS.add_working_days(day, move.wait)
            clock.set(at(day))
            for cases in (one_cases, batch_cases):
                await play_move(cases, refs[move.case % len(refs)], move, day)
        day += timedelta(days=later)
        clock.set(at(day))
        for engine in (one, batch):  # and some cases late in a state with an overdue step
            async with engine.begin() as connection:
                for index in sorted({i % len(refs) for i in forced}):
                    table = Case.__table__  # type: ignore[attr-defined]
                    await connection.execute(update(table).where(
                        table.c.ref == refs[index]).values(
                        state=_late_state(clauses[index], index),
                        deadline=day - timedelta(days=index + 1),
                        due_on=day - timedelta(days=index + 1)))
        ids = await _late_ids(one, day)
        assert ids == await _late_ids(batch, day)
        stepped = []
        for case_id in ids:  # as the sweep did before batches
            try:
                stepped.append((await one_cases.take_step(case_id, MARK, SYSTEM)).view.case.ref)
            except DubanError:
                continue
        assert await batch_cases.take_system_step(ids, "mark_overdue") == stepped
        assert await _rows(one) == await _rows(batch)
    finally:
        await one.dispose()
        await batch.dispose()


histories = st.tuples(
    st.lists(st.sampled_from(CASE_CLAUSES), min_size=1, max_size=6),
    st.lists(moves, min_size=0, max_size=12),
    st.integers(0, 400),
    st.sets(st.integers(0, 11), min_size=1, max_size=6),
)
EXAMPLES = int(os.environ.get("DUBAN_PROPERTY_EXAMPLES", "6"))


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(histories)
def test_batches_write_what_steps_one_by_one_write_sqlite(
        sqlite_template: Path, history: tuple[list[str], list[Move], int, set[int]]) -> None:
    with template_copies(["one", "batch"], sqlite=sqlite_template) as urls:
        asyncio.run(_in_step(*history, urls))


@settings(max_examples=max(2, EXAMPLES // 2), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(histories)
def test_batches_write_what_steps_one_by_one_write_postgres(
        postgres_template: str, history: tuple[list[str], list[Move], int, set[int]]) -> None:
    with template_copies(["ss_one", "ss_batch"], postgres=postgres_template) as urls:
        asyncio.run(_in_step(*history, urls))


async def test_a_case_changed_meanwhile_is_read_again(services: Any, database_url: str) -> None:
    """Another writer moves one of the batch's cases between its read and its write: the
    batch's write finds that case's version changed, rolls back, reads again and marks it
    from what is there now."""
    cases, clock = services.cases, services.clock
    await cases.import_cases([
        CaseInput(ref=f"C-{i}", region="玛纳斯县", enterprise=f"企业{i}", industry="cement",
                  clauses=("四",), capacity=Decimal(5), unit="万吨/年", equipment=None,
                  registered_on=clock.now().date(), description="", row=i + 2)
        for i in range(3)], COORDINATOR)
    ids = []
    for i in range(3):
        view = await cases.get(f"C-{i}")
        async with cases.sessions.begin() as session:  # rectifying, its deadline passed
            await session.execute(update(Case).where(Case.id == view.case.id).values(
                state="rectifying", deadline=clock.now().date() - timedelta(days=3)))
        ids.append(view.case.id)
    views = cases._views
    interfered: list[bool] = []

    async def read_then_interfere(session: Any, wanted: Any) -> Any:
        found = await views(session, wanted)
        if not interfered:  # once: a concurrent note moves case C-1's version on
            interfered.append(True)
            async with other.begin() as connection:
                await connection.execute(text("UPDATE cases SET version = version + 1, "
                                              "description = '另一人改过' WHERE ref = 'C-1'"))
        return found

    other = create_engine(database_url)  # another process's connection
    cases._views = read_then_interfere
    try:
        assert sorted(await cases.take_system_step(ids, "mark_overdue")) == [
            "C-0", "C-1", "C-2"]
    finally:
        cases._views = views
        await other.dispose()
    assert interfered
    for i in range(3):
        view = await cases.get(f"C-{i}")
        assert view.case.state == "overdue"
        assert [e.kind for e in view.events].count("mark_overdue") == 1
    assert (await cases.get("C-1")).case.description == "另一人改过"


async def test_batched_writes_find_their_rows_by_primary_key(engine: AsyncEngine) -> None:
    """The batches' conditions (cases still as read: the overdue step's version check, the
    sweep's next due days) use the primary key: the row values alone made SQLite scan every
    case once per statement."""
    table = Case.__table__  # type: ignore[attr-defined]
    postgres = engine.dialect.name == "postgresql"
    next_due = ({"ids": [1, 2], "versions": [3, 5], "seqs": [2, 4],
                 "days": [date(2026, 12, 10), None]} if postgres
                else {"rows": '[[1, 3, 2, "2026-12-10"], [2, 5, 4, null]]'})
    statements = [
        (update(table).where(read_as(table, [(1, 3), (2, 5)])).values(state="overdue"), {}),
        (queries._SET_NEXT_DUE[postgres], next_due),
    ]
    async with engine.begin() as connection:
        for statement, params in statements:
            compiled = statement.compile(engine.sync_engine,
                                         compile_kwargs={"render_postcompile": True})
            given = compiled.construct_params(params)
            values = tuple(given[name] for name in compiled.positiontup or ())
            if engine.dialect.name == "sqlite":
                plan = " ".join(str(row[-1]) for row in (await connection.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {compiled}", values)).all())
                assert "PRIMARY KEY" in plan and "SCAN cases" not in plan, plan
            else:  # an empty table is scanned unless scans are priced out
                await connection.execute(text("SET LOCAL enable_seqscan = off"))
                plan = " ".join(row[0] for row in (await connection.exec_driver_sql(
                    f"EXPLAIN {compiled}", values)).all())
                assert "cases_pkey" in plan, plan
