"""The audit: every case's events form a hash chain whose head the case keeps; changes made
outside duban (the append-only triggers dropped or disabled) are found and named, on both
back-ends."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.cli.main import main
from bot.core.clock import ManualClock
from bot.core.i18n import DubanError
from bot.core.org import Org
from bot.core.policy.catalog import Catalog
from bot.core.workflow import Actor, StepInput
from bot.services.audit import AuditReport, Problem, verify
from bot.services.calendar import CalendarService
from bot.services.cases import CaseService
from bot.services.org import OrgService
from models import chain
from models.db import alembic_config, create_engine, session_factory, upgrade
from scheduler.workdays import WorkCalendar
from tests.conftest import COORDINATOR, Services
from tests.test_case_service import INDUSTRY, REFORM, case_input

T = TypeVar("T")


async def build_history(services: Services) -> None:
    """Three cases through the ways events are written: a bulk import (first events), workflow
    steps, a coordinator's control (the calendar's own path)."""
    cases = services.cases
    await cases.import_cases([case_input("A-1"), case_input("A-2"), case_input("A-3")],
                             COORDINATOR)
    services.clock.advance(timedelta(hours=1))
    await cases.take_step("A-1", StepInput("accept", Actor.DEPARTMENT, department="industry"),
                          INDUSTRY)
    services.clock.advance(timedelta(hours=1))
    await cases.take_step("A-1", StepInput("accept", Actor.DEPARTMENT,
                                           department="development_reform"), REFORM)
    services.clock.advance(timedelta(hours=1))
    await cases.take_step("A-1", StepInput("order_rectification", Actor.DEPARTMENT,
                                           department="industry", evidence=("doc:令-1",),
                                           note="限期整改 “三个月”"), INDUSTRY)
    calendar = CalendarService(cases.sessions, services.clock, cases.catalog, WorkCalendar(),
                               cases, services.org.current)
    services.clock.advance(timedelta(minutes=7))
    await calendar.set_paused("A-2", True, "等待环评结论", COORDINATOR)
    await calendar.set_paused("A-2", False, "结论已出", COORDINATOR)


async def rows(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(text(sql), params)).all())


async def event_of(engine: AsyncEngine, ref: str, seq: int) -> Any:
    found = await rows(engine, "SELECT e.* FROM events e JOIN cases c ON c.id = e.case_id "
                               "WHERE c.ref = :ref AND e.seq = :seq", ref=ref, seq=seq)
    return found[0]


async def event_time(services: Services, ref: str, seq: int) -> datetime:
    view = await services.cases.get(ref)
    return next(e.at for e in view.events if e.seq == seq)


async def outside_duban(engine: AsyncEngine, *statements: tuple[str, dict[str, Any]]) -> None:
    """Change the events table as someone with database access could: the append-only guard
    first dropped (SQLite) or disabled (PostgreSQL)."""
    async with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            await connection.execute(text("DROP TRIGGER IF EXISTS events_no_update"))
            await connection.execute(text("DROP TRIGGER IF EXISTS events_no_delete"))
        else:
            await connection.execute(text("ALTER TABLE events DISABLE TRIGGER ALL"))
        for statement, params in statements:
            await connection.execute(text(statement), params)
        if connection.dialect.name != "sqlite":
            await connection.execute(text("ALTER TABLE events ENABLE TRIGGER ALL"))


def rehash(row: Any, prev_hash: str | None, **changes: Any) -> str:
    """The hash a careful forger would compute for ``row`` with ``changes``."""
    values = dict(row._mapping)
    values.update(changes)
    if isinstance(values.get("payload"), str):
        values["payload"] = json.loads(values["payload"])
    if isinstance(values.get("at"), str):
        values["at"] = datetime.fromisoformat(values["at"]).replace(tzinfo=UTC)
    return chain.event_hash(chain.stored_values(values), prev_hash)


def only_break(report: AuditReport) -> Any:
    assert len(report.breaks) == 1, report.breaks
    return report.breaks[0]


# -- chains written by duban verify -----------------------------------------------------------


async def test_chains_built_by_normal_use_verify(services: Services,
                                                 engine: AsyncEngine) -> None:
    await build_history(services)
    report = await verify(services.cases.sessions)
    assert report.intact and report.first is None
    assert (report.cases, report.events) == (3, 4 + 3 + 1)
    heads = await rows(engine, "SELECT c.ref, c.chain_seq, c.chain_hash, e.hash FROM cases c "
                               "JOIN events e ON e.case_id = c.id AND e.seq = c.chain_seq "
                               "ORDER BY c.ref")
    assert [(r[0], r[1]) for r in heads] == [("A-1", 4), ("A-2", 3), ("A-3", 1)]
    assert all(r[2] == r[3] for r in heads)
    links = await rows(engine, "SELECT e.prev_hash, p.hash FROM events e LEFT JOIN events p "
                               "ON p.case_id = e.case_id AND p.seq = e.seq - 1")
    assert all(prev == before for prev, before in links)


async def test_small_pages_give_the_same_answer(services: Services) -> None:
    await build_history(services)
    whole = await verify(services.cases.sessions)
    for page in (1, 2, 3, 5):
        assert await verify(services.cases.sessions, page=page) == whole


async def test_one_case(services: Services) -> None:
    await build_history(services)
    report = await verify(services.cases.sessions, ref="A-1")
    assert (report.cases, report.events, report.intact) == (1, 4, True)
    with pytest.raises(DubanError, match="No case with reference NOPE"):
        await verify(services.cases.sessions, ref="NOPE")


async def test_the_guards_still_refuse_changes(services: Services, engine: AsyncEngine) -> None:
    await build_history(services)
    for statement in ("UPDATE events SET kind = 'x'", "DELETE FROM events"):
        with pytest.raises(DBAPIError, match="immutable"):
            async with engine.begin() as connection:
                await connection.execute(text(statement))


async def test_migration_chains_existing_events_as_duban_would(services: Services,
                                                               engine: AsyncEngine) -> None:
    """Events written before migration 0006 are chained by it exactly as they are now."""
    await build_history(services)
    written = await rows(engine, "SELECT id, hash, prev_hash FROM events ORDER BY id")
    heads = await rows(engine, "SELECT id, chain_seq, chain_hash FROM cases ORDER BY id")

    def down(connection: Connection) -> None:
        from alembic import command

        config = alembic_config(engine.url.render_as_string(hide_password=False))
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")

    async with engine.begin() as connection:
        await connection.run_sync(down)
    columns = await rows(engine, "SELECT * FROM events")
    assert "hash" not in columns[0]._mapping
    await upgrade(engine)
    assert await rows(engine, "SELECT id, hash, prev_hash FROM events ORDER BY id") == written
    assert await rows(engine, "SELECT id, chain_seq, chain_hash FROM cases ORDER BY id") == heads
    assert (await verify(services.cases.sessions)).intact
    with pytest.raises(DBAPIError, match="immutable"):  # the guards are back
        async with engine.begin() as connection:
            await connection.execute(text("DELETE FROM events"))


# -- changes made outside duban are found ------------------------------------------------------


async def test_changed_content(services: Services, engine: AsyncEngine) -> None:
    await build_history(services)
    target = await event_of(engine, "A-1", 2)
    await outside_duban(engine, ("UPDATE events SET payload = :payload WHERE id = :id",
                                 {"payload": json.dumps({"note": "早已验收"}), "id": target.id}))
    found = only_break(await verify(services.cases.sessions))
    assert (found.ref, found.problem, found.seq) == ("A-1", Problem.CONTENT_CHANGED, 2)
    assert found.at == await event_time(services, "A-1", 2)


async def test_changed_time_or_actor(services: Services, engine: AsyncEngine) -> None:
    await build_history(services)
    target = await event_of(engine, "A-2", 2)
    await outside_duban(engine, ("UPDATE events SET actor_name = 'someone else' WHERE id = :id",
                                 {"id": target.id}))
    found = only_break(await verify(services.cases.sessions))
    assert (found.ref, found.problem, found.seq) == ("A-2", Problem.CONTENT_CHANGED, 2)


async def test_rewritten_with_a_new_hash_breaks_the_next_link(services: Services,
                                                              engine: AsyncEngine) -> None:
    await build_history(services)
    target = await event_of(engine, "A-1", 2)
    forged = rehash(target, target.prev_hash, actor_name="伪造者")
    await outside_duban(engine, ("UPDATE events SET actor_name = '伪造者', hash = :hash "
                                 "WHERE id = :id", {"hash": forged, "id": target.id}))
    found = only_break(await verify(services.cases.sessions))
    assert (found.ref, found.problem, found.seq) == ("A-1", Problem.LINK_BROKEN, 3)
    assert found.at == await event_time(services, "A-1", 3)


async def test_last_event_replaced_hash_and_all(services: Services, engine: AsyncEngine) -> None:
    await build_history(services)
    target = await event_of(engine, "A-1", 4)
    forged = rehash(target, target.prev_hash, payload={"note": "无需整改"})
    await outside_duban(engine, ("UPDATE events SET payload = :payload, hash = :hash "
                                 "WHERE id = :id",
                                 {"payload": json.dumps({"note": "无需整改"}, ensure_ascii=False),
                                  "hash": forged, "id": target.id}))
    found = only_break(await verify(services.cases.sessions))
    assert (found.ref, found.problem, found.seq) == ("A-1", Problem.CONTENT_CHANGED, 4)


async def test_missing_event(services: Services, engine: AsyncEngine) -> None:
    await build_history(services)
    target = await event_of(engine, "A-1", 2)
    await outside_duban(engine, ("DELETE FROM events WHERE id = :id", {"id": target.id}))
    found = only_break(await verify(services.cases.sessions))
    assert (found.ref, found.problem, found.seq, found.until, found.kept) == \
        ("A-1", Problem.EVENT_MISSING, 2, 2, 3)
    assert found.at == await event_time(services, "A-1", 3)


async def test_last_events_removed(services: Services, engine: AsyncEngine) -> None:
    """The chain left is valid, only shorter: the case's head tells."""
    await build_history(services)
    kept_at = await event_time(services, "A-1", 2)
    await outside_duban(engine, (
        "DELETE FROM events WHERE seq > 2 AND case_id = (SELECT id FROM cases WHERE ref = 'A-1')",
        {}))
    found = only_break(await verify(services.cases.sessions))
    assert (found.ref, found.problem, found.seq, found.until, found.kept) == \
        ("A-1", Problem.LAST_REMOVED, 3, 4, 2)
    assert found.at == kept_at


async def test_all_events_of_a_case_removed(services: Services, engine: AsyncEngine) -> None:
    await build_history(services)
    await outside_duban(engine, (
        "DELETE FROM events WHERE case_id = (SELECT id FROM cases WHERE ref = 'A-3')", {}))
    report = await verify(services.cases.sessions)
    found = only_break(report)
    assert (found.ref, found.problem, found.until, found.kept, found.at) == \
        ("A-3", Problem.LAST_REMOVED, 1, 0, None)
    assert (report.cases, report.events) == (3, 7)


async def test_event_added_outside_duban(services: Services, engine: AsyncEngine) -> None:
    """INSERT is not guarded: a forged last event with a correct hash and link is still found,
    by the case's head."""
    await build_history(services)
    last = await event_of(engine, "A-3", 1)
    at = datetime(2026, 6, 2, 1, 0, tzinfo=UTC)
    values = chain.stored_values({"case_id": last.case_id, "seq": 2, "at": at,
                                  "kind": "closed", "actor_role": "coordinator",
                                  "payload": {"note": "已关停"}})
    digest = chain.event_hash(values, last.hash)
    async with engine.begin() as connection:
        await connection.execute(text(
            "INSERT INTO events (case_id, seq, at, kind, actor_role, payload, hash, prev_hash) "
            "VALUES (:case_id, 2, :at, 'closed', 'coordinator', :payload, :hash, :prev)"),
            {"case_id": last.case_id, "at": _stored_at(connection, at),
             "payload": json.dumps({"note": "已关停"}, ensure_ascii=False), "hash": digest,
             "prev": last.hash})
    found = only_break(await verify(services.cases.sessions))
    assert (found.ref, found.problem, found.seq, found.kept, found.at) == \
        ("A-3", Problem.EVENT_ADDED, 2, 1, at)


def _stored_at(connection: AsyncConnection, at: datetime) -> Any:
    """How the events table keeps an instant (SQLite: UTC text; PostgreSQL: timestamptz)."""
    if connection.dialect.name == "sqlite":
        return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return at


async def test_first_break_in_case_order_and_the_rest_counted(services: Services,
                                                              engine: AsyncEngine) -> None:
    await build_history(services)
    late, early = await event_of(engine, "A-3", 1), await event_of(engine, "A-2", 3)
    await outside_duban(
        engine, ("UPDATE events SET kind = 'forged' WHERE id IN (:a, :b)",
                 {"a": late.id, "b": early.id}))
    report = await verify(services.cases.sessions)
    assert [(b.ref, b.seq, b.problem) for b in report.breaks] == [
        ("A-2", 3, Problem.CONTENT_CHANGED), ("A-3", 1, Problem.CONTENT_CHANGED)]
    assert (report.cases, report.events) == (3, 8)


# -- the command line ----------------------------------------------------------------------------


@pytest.fixture
def cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    for name in ("DUBAN_LOCALE", "DUBAN_CONFIG", "DUBAN_TIMEZONE", "TELEGRAM_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    def invoke(*args: str, lang: str = "zh") -> Any:
        return CliRunner().invoke(main, ["--database", database_url, "--lang", lang, *args],
                                  catch_exceptions=False)

    return invoke


def history(database_url: str, catalog: Catalog, demo_org: Org,
            then: Callable[[Services, AsyncEngine], Awaitable[T]] | None = None) -> T | None:
    """:func:`build_history` on the database (outside any test's event loop: the command line
    runs its own), then ``then``."""

    async def work() -> T | None:
        engine = create_engine(database_url)
        try:
            sessions = session_factory(engine)
            org = OrgService(sessions)
            await org.load(demo_org)
            clock = ManualClock(datetime(2026, 6, 1, 2, 0, tzinfo=UTC))
            services = Services(CaseService(sessions, catalog, clock), org, clock)
            await build_history(services)
            return await then(services, engine) if then is not None else None
        finally:
            await engine.dispose()

    return asyncio.run(work())


def test_cli_reports_intact_chains(database_url: str, catalog: Catalog, demo_org: Org,
                                   cli) -> None:
    history(database_url, catalog, demo_org)
    result = cli("audit", "verify")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "3 个案件、8 条记录，链条完整。"
    one = cli("audit", "verify", "A-1", lang="en")
    assert one.exit_code == 0
    assert one.output.strip() == "Cases checked: 1, events: 4. The chains are intact."


def test_cli_names_the_first_broken_link(database_url: str, catalog: Catalog, demo_org: Org,
                                         cli) -> None:
    async def tamper(services: Services, engine: AsyncEngine) -> tuple[datetime, datetime]:
        changed = await event_of(engine, "A-1", 3)
        removed = await event_of(engine, "A-2", 2)
        await outside_duban(engine,
                            ("UPDATE events SET department_key = 'environment' WHERE id = :id",
                             {"id": changed.id}),
                            ("DELETE FROM events WHERE id = :id", {"id": removed.id}))
        return (await event_time(services, "A-1", 3), await event_time(services, "A-2", 3))

    times = history(database_url, catalog, demo_org, tamper)
    assert times is not None
    changed_at, next_at = (t.astimezone(ZoneInfo("Asia/Shanghai")) for t in times)
    result = cli("audit", "verify")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "已核对 3 个案件、7 条记录；第一处断裂：",
        f"案件 A-1 第 3 条记录（2026年6月1日 {changed_at:%H:%M}）：记录后内容被改动。",
        "另有 1 个案件的链条断裂。",
    ]
    english = cli("audit", "verify", "A-2", lang="en")
    assert english.exit_code == 1
    assert english.output.strip().splitlines() == [
        "Cases checked: 1, events: 2. The first broken link:",
        f"Case A-2: event 2 is missing (removed before event 3 of Jun 1, 2026 "
        f"{next_at:%H:%M}).",
    ]
    assert cli("audit", "verify", "A-3").exit_code == 0


def test_cli_unknown_case(database_url: str, catalog: Catalog, demo_org: Org, cli) -> None:
    history(database_url, catalog, demo_org)
    result = cli("audit", "verify", "NOPE")
    assert result.exit_code == 1
    assert "没有编号为 NOPE 的案件" in result.output


def test_who_is_recorded_is_part_of_the_content() -> None:
    """The canonical content: every column but id and hash, sorted keys, the link included."""
    values = chain.stored_values({
        "case_id": 7, "seq": 2, "at": datetime(2026, 6, 1, 10, 0, tzinfo=UTC) + timedelta(0),
        "kind": "accept", "from_state": None, "to_state": "accepted", "actor_id": 5,
        "actor_name": "王", "actor_role": "liaison", "department_key": "industry",
        "chat_id": -100, "payload": {"b": [1, (2, 3)], "a": "中"}})
    content = chain.canonical(values, "ab" * 32)
    assert content == (
        b'{"actor_id":5,"actor_name":"\\u738b","actor_role":"liaison","at":'
        b'"2026-06-01T10:00:00.000000Z","case_id":7,"chat_id":-100,"department_key":"industry",'
        b'"from_state":null,"kind":"accept","payload":{"a":"\\u4e2d","b":[1,[2,3]]},'
        b'"prev_hash":"' + b"ab" * 32 + b'","seq":2,"to_state":"accepted","v":1}')
    other = chain.event_hash({**values, "actor_name": "李"}, "ab" * 32)
    assert other != chain.event_hash(values, "ab" * 32) != chain.event_hash(values, None)
