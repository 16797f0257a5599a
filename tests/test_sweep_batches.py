"""The sweep reads, records and queues in batches (issue 13's memory goals), and the batches
change nothing: one history played on two databases in step, one sweeping with tiny batches
(two cases per snapshot chunk, three sent keys per statement, one digest per statement), the
other with the defaults. Every sweep must record and hold the same items, and in the end both
databases must hold the same outbox rows (keys, recipients, payloads), sent keys and next due
days. Then: the snapshot's cases share their equal values (one object each), and a digest's
payload written an entry at a time is the JSON of its entries."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

import bot.services.calendar as calendar_module
from bot.core.clock import ManualClock
from bot.services.calendar import SweepReport, _digest_payload, _entry
from models.types import JSONText, json_text
from scheduler.rules import DueItem
from tests.conftest import template_copies
from tests.test_next_due import START, WORKDAYS, World, at
from tests.test_supervision_property import Move

CLAUSES = ["四", "四", "九", "八", "五", "四", "六", "九", "四", "八", "七", "五", "四"]
HISTORY = [Move(wait=1 + n % 4, case=n, choice=n * 5 % 13, who=n % 3, future=10 + n * 7 % 50)
           for n in range(24)]
TINY = {"SNAPSHOT_CHUNK": 2, "SENT_KEYS_BATCH": 3, "DIGEST_BATCH": 1}


@contextmanager
def batches(sizes: dict[str, int]) -> Iterator[None]:
    saved = {name: getattr(calendar_module, name) for name in sizes}
    for name, size in sizes.items():
        setattr(calendar_module, name, size)
    try:
        yield
    finally:
        for name, size in saved.items():
            setattr(calendar_module, name, size)


def _keys(report: SweepReport) -> tuple[list[str], list[str]]:
    return [i.key for i in report.items], [i.key for i in report.held]


async def _stored(world: World) -> dict[str, list[tuple[object, ...]]]:
    queries = {
        "outbox": "SELECT key, kind, recipient_kind, recipient, payload FROM outbox ORDER BY id",
        "sent": "SELECT key, subject FROM sent_keys ORDER BY key",
        "cases": "SELECT ref, state, next_due, version FROM cases ORDER BY ref",
    }
    async with world.engine.connect() as connection:
        return {name: [tuple(row) for row in (await connection.execute(text(sql))).all()]
                for name, sql in queries.items()}


async def _in_step(urls: list[str]) -> None:
    clock = ManualClock(at(START))
    tiny, plain = World(urls[0], clock, full=False), World(urls[1], clock, full=False)
    try:
        refs = await tiny.start(CLAUSES)
        assert refs == await plain.start(CLAUSES)
        day, recorded = START, 0

        async def both_sweep(day: date) -> None:
            nonlocal recorded
            clock.set(at(day))
            with batches(TINY):
                ours = await tiny.sweep()
            theirs = await plain.sweep()
            assert _keys(ours) == _keys(theirs), f"the sweeps of {day} differ"
            assert ours.marked_overdue == theirs.marked_overdue
            recorded += len(ours.items)

        for move in HISTORY:
            day = WORKDAYS.add_working_days(day, move.wait)
            await both_sweep(day)
            for world in (tiny, plain):
                await world.move(refs[move.case % len(refs)], move, day)
        for _ in range(40):
            day = WORKDAYS.add_working_days(day, 1)
            await both_sweep(day)
        assert recorded > 20  # the history did reach nudges, reminders and digests
        ours, theirs = await _stored(tiny), await _stored(plain)
        assert len(ours["outbox"]) > 5
        assert ours == theirs
    finally:
        await tiny.engine.dispose()
        await plain.engine.dispose()


def test_batched_sweeps_record_what_one_batch_records_sqlite(sqlite_template: Path) -> None:
    with template_copies(["tiny", "plain"], sqlite=sqlite_template) as urls:
        asyncio.run(_in_step(urls))


def test_batched_sweeps_record_what_one_batch_records_postgres(postgres_template: str) -> None:
    with template_copies(["sb_tiny", "sb_plain"], postgres=postgres_template) as urls:
        asyncio.run(_in_step(urls))


def test_snapshot_cases_share_equal_values(sqlite_template: Path) -> None:
    async def run(url: str) -> None:
        clock = ManualClock(at(START))
        world = World(url, clock, full=False)
        try:
            await world.start(["四"] * 5)
            org = await world.org.current()
            with batches({"SNAPSHOT_CHUNK": 2}):  # values are shared across chunks too
                snap = await world.calendar._snapshot(START, org, create=False)
        finally:
            await world.engine.dispose()
        cases = snap.cases
        assert len(cases) == 5
        first = cases[0]
        for case in cases[1:]:
            assert case.region is first.region and case.clause is first.clause
            assert case.state is first.state and case.required is first.required
            assert case.skipped_steps is first.skipped_steps
        assert [r[0] for r in snap.read] == cases  # as the rules saw them, in order
        assert len({r[1] for r in snap.read}) == 5

    with template_copies(["shared"], sqlite=sqlite_template) as urls:
        asyncio.run(run(urls[0]))


def test_a_digest_payload_is_the_json_of_its_entries() -> None:
    """Written an entry at a time (a digest of 10,000 entries as dicts was ~6 MB of the
    sweep's peak), the payload is byte for byte what the column writes for the dict, and
    reads back as it."""
    send_after = datetime(2026, 12, 1, 2, tzinfo=UTC)
    items = [DueItem(key="nudge:case:C-0:industry:2026-12-08:T-7", kind="nudge",
                     recipient_kind="department", recipient="industry", case_refs=("C-0",),
                     obligation=None, due_at=date(2026, 12, 1), step="T-7",
                     send_after=send_after, party="industry", party_kind="department",
                     deadline=date(2026, 12, 8), wait="“立即”"),
             DueItem(key="nudge:obligation:county_report/2026:玛纳斯县:2026-12-31:T-30",
                     kind="obligation_nudge", recipient_kind="region", recipient="玛纳斯县",
                     case_refs=(), obligation="county_report/2026", due_at=date(2026, 12, 1),
                     step="T-30", send_after=send_after, party="玛纳斯县",
                     party_kind="region", deadline=date(2026, 12, 31))]
    items = [items[0], items[1], *(replace_key(items[0], n) for n in range(2, 5))]
    snap: Any = SimpleNamespace(obligation_ids={"county_report/2026:玛纳斯县": 7})
    payload, fingerprint = _digest_payload(items, snap)
    column = JSONText()
    expected = {"items": [_entry(item, snap) for item in items]}
    assert column.process_bind_param(payload, DIALECT) == column.process_bind_param(
        expected, DIALECT)
    assert column.process_result_value(payload, DIALECT) == json_round_trip(expected)
    assert len(fingerprint) == 12 and fingerprint == _digest_payload(items[::-1], snap)[1]


_WORDS = st.text(st.sampled_from('ab"\\\n玛纳斯县“立即”\x00/:'), max_size=6)


@st.composite
def due_items(draw: st.DrawFn) -> DueItem:
    """Items whose words are anything, whose shared fields come from a few values (so a
    digest's entries share some and differ in others)."""
    day = st.sampled_from([date(2026, 12, 1), date(2026, 12, 8), date(2027, 1, 4)])
    return DueItem(
        key=draw(_WORDS), kind=draw(st.sampled_from(["nudge", "reminder"])),
        recipient_kind="department", recipient="industry",
        case_refs=tuple(draw(st.lists(_WORDS, max_size=3))),
        obligation=draw(st.one_of(st.none(), st.just("county_report/2026"))),
        due_at=draw(day), step=draw(st.sampled_from(["T-7", '"立即"'])),
        send_after=datetime(2026, 12, 1, 2, tzinfo=UTC),
        party=draw(st.sampled_from(["industry", "玛纳斯县"])),
        party_kind=draw(st.sampled_from(["department", "region"])),
        deadline=draw(st.one_of(st.none(), day)), wait=draw(st.sampled_from(["", "“立即”"])))


@settings(max_examples=150, deadline=None)
@given(st.lists(due_items(), max_size=30))
def test_a_digest_payload_written_from_shared_parts_is_the_entries_json(
        items: list[DueItem]) -> None:
    """The entries' text is put together from the parts entries share; it stays byte for
    byte the JSON of the entries' dicts, whatever their words."""
    snap: Any = SimpleNamespace(obligation_ids={"county_report/2026:玛纳斯县": 7})
    payload, _fingerprint = _digest_payload(items, snap)
    assert payload == json_text({"items": [_entry(item, snap) for item in items]})


def replace_key(item: DueItem, n: int) -> DueItem:
    return dataclasses.replace(item, key=item.key.replace("C-0", f"C-{n}"),
                               case_refs=(f"C-{n}",))


def json_round_trip(value: object) -> object:
    return json.loads(json.dumps(value))


DIALECT: Any = SimpleNamespace(name="sqlite")


_CASE_FIELDS = (
    st.sampled_from(["玛纳斯县", "呼图壁县"]), st.sampled_from(["四", "八", "九"]),
    st.sampled_from(["routed", "rectifying", "sealed", "review"]),
    st.sampled_from([None, date(2026, 12, 8)]),
    st.sampled_from([datetime(2026, 11, 2, 3, tzinfo=UTC), datetime(2026, 11, 2, 17, tzinfo=UTC)]),
    st.sampled_from([None, ["T-7"]]),
    st.lists(st.tuples(st.sampled_from(["industry", "environment", None]),
                       st.sampled_from(["routed", "accepted", "declined"]), st.booleans(),
                       st.sampled_from([datetime(2026, 11, 3, 1, tzinfo=UTC),
                                        datetime(2026, 11, 1, 20, tzinfo=UTC)])),
             max_size=3),
    st.sampled_from([calendar_module.NO_EVENTS,
                     calendar_module.EventFacts(frozenset({"industry"}), False),
                     calendar_module.EventFacts(frozenset(), True)]),
    st.sampled_from([None, datetime(2026, 11, 4, 2, tzinfo=UTC)]),  # all assigned later
    # the first assignment's department, status and "required" changed (None: not)
    st.sampled_from([None, "quality"]), st.sampled_from([None, "declined", "accepted"]),
    st.sampled_from([None, False]),
    st.sampled_from([None, date(2026, 12, 20)]),  # the deadline column, when not due_on
    st.booleans())  # paused


@st.composite
def look_alike_rows(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    """Cases of a few kinds, each a copy of one kind with at most one field drawn anew."""
    kinds = draw(st.lists(st.tuples(*_CASE_FIELDS), min_size=1, max_size=3))
    cases = []
    for _ in range(draw(st.integers(1, 20))):
        fields = list(draw(st.sampled_from(kinds)))
        changed = draw(st.one_of(st.none(), st.integers(0, len(_CASE_FIELDS) - 1)))
        if changed is not None:
            fields[changed] = draw(_CASE_FIELDS[changed])
        cases.append(tuple(fields))
    return cases


@settings(max_examples=100, deadline=None)
@given(look_alike_rows())
def test_snapshots_of_look_alike_cases_are_the_ones_made_case_by_case(
        cases: list[tuple[Any, ...]]) -> None:
    """The sweep works a snapshot out once for cases alike but for their reference; each
    case still gets the snapshot made from its own row."""
    service: Any = calendar_module.CalendarService(
        None, ManualClock(datetime(2026, 12, 1, 2, tzinfo=UTC)), None,  # type: ignore[arg-type]
        None, None, None)  # type: ignore[arg-type]
    service.__dict__["_immediate"] = frozenset({"八"})
    rows, assignments, events = [], {}, {}
    for i, (region, clause, state, due, created, skipped, theirs, facts, later, department,
            status, required, deadline, paused) in enumerate(cases):
        rows.append(calendar_module._CaseRow(
            id=i, ref=f"C-{i}", region_name=region, clause=clause, state=state,
            deadline=deadline or due, due_on=due, created_at=created, paused=paused,
            skipped_steps=skipped, version=1, chain_seq=1))
        assignments[i] = [calendar_module._AssignmentRow(n, i, *a[:3], later or a[3])
                          for n, a in enumerate(theirs)]
        if assignments[i]:
            first = assignments[i][0]
            assignments[i][0] = first._replace(
                department_key=department or first.department_key,
                status=status or first.status,
                required=first.required if required is None else required)
        events[i] = facts
    made = service._case_snapshots(rows, assignments, events, date(2026, 12, 1), {})
    assert made == [service._case_snapshot(row, assignments[row.id], events[row.id],
                                           date(2026, 12, 1)) for row in rows]


_ROW = calendar_module._CaseRow(
    id=0, ref="C-0", region_name="玛纳斯县", clause="四", state="rectifying",
    deadline=date(2026, 12, 8), due_on=date(2026, 12, 8),
    created_at=datetime(2026, 11, 2, 3, tzinfo=UTC), paused=False, skipped_steps=None,
    version=1, chain_seq=1)
_ASSIGNED = (calendar_module._AssignmentRow(0, 0, "industry", "accepted", True,
                                            datetime(2026, 11, 2, 3, tzinfo=UTC)),)
_ROW_VARIANTS: dict[str, tuple[dict[str, Any], dict[str, Any], Any]] = {
    # a value of each column a snapshot reads: (case columns, first assignment's, events)
    "region": ({"region_name": "呼图壁县"}, {}, None),
    "clause": ({"clause": "九"}, {}, None),
    "state": ({"state": "review"}, {}, None),
    "deadline": ({"deadline": None}, {}, None),  # the wait reads it
    "due_on": ({"due_on": date(2026, 12, 9)}, {}, None),
    "created": ({"created_at": datetime(2026, 11, 4, 3, tzinfo=UTC)}, {}, None),
    "paused": ({"paused": True}, {}, None),
    "skipped": ({"skipped_steps": ["T-7"]}, {}, None),
    "events": ({}, {}, calendar_module.EventFacts(frozenset({"industry"}), False)),
    "department": ({}, {"department_key": "environment"}, None),
    "status": ({}, {"status": "routed"}, None),
    "required": ({}, {"required": False}, None),
    "assigned": ({}, {"created_at": datetime(2026, 11, 5, 3, tzinfo=UTC)}, None),
}


@pytest.mark.parametrize("name", sorted(_ROW_VARIANTS))
def test_a_case_that_differs_from_its_look_alikes_in_one_column_gets_its_own_snapshot(
        name: str) -> None:
    columns, assigned, facts = _ROW_VARIANTS[name]
    service: Any = calendar_module.CalendarService(
        None, ManualClock(datetime(2026, 12, 1, 2, tzinfo=UTC)), None,  # type: ignore[arg-type]
        None, None, None)  # type: ignore[arg-type]
    service.__dict__["_immediate"] = frozenset({"八"})
    other = _ROW._replace(id=1, ref="C-1", **columns)
    rows = [_ROW, other, _ROW._replace(id=2, ref="C-2")]
    assignments = {row.id: [_ASSIGNED[0]._replace(case_id=row.id)] for row in rows}
    assignments[1] = [assignments[1][0]._replace(**assigned)]
    events = {1: facts or calendar_module.NO_EVENTS}
    made = service._case_snapshots(rows, assignments, events, date(2026, 12, 1), {})
    one_by_one = [service._case_snapshot(row, assignments[row.id],
                                         events.get(row.id, calendar_module.NO_EVENTS),
                                         date(2026, 12, 1)) for row in rows]
    assert made == one_by_one
    assert dataclasses.replace(one_by_one[1], ref="C-0") != one_by_one[0]  # a variant
