"""The calendar's database side: snapshots for the pure rules, and recording what is due.

A sweep (run by the APScheduler job in ``scheduler/jobs.py``, or by ``duban preview`` without
writing anything):

1. marks cases whose deadline passed as overdue (a system step, with its event);
2. opens the yearly duties of the years in view (idempotent);
3. reads snapshots with indexed queries limited to the window in which anything can be due,
   so the cost follows what is due, not how many cases are stored;
4. asks :func:`scheduler.rules.due_items` what is due at ``now``;
5. in **one transaction** records every key the due items discharge (``sent_keys``; a key
   already there aborts the transaction, so two overlapping sweeps cannot both send), numbers
   the notices, creates the summonses with their numbers (约谈〔2026〕3号: the next of the
   year, see :meth:`CalendarService._summon`), writes the cases' events, and queues one digest
   per chat, plus the notice documents and the summons invitations, in the outbox.

A reminder for a department or county without a bound chat is left out of 5: nothing is
recorded, so it stays due; the coordinators see who waits (:meth:`CalendarService.
waiting_for_chats`), and binding the chat queues what is due then (:meth:`CalendarService.
catch_up`).

The outbox then delivers (see ``bot.services.outbox`` for the claim/send/record protocol).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from functools import cached_property, lru_cache
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import func, insert, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.clock import Clock
from bot.core.commands import SummonsNumber
from bot.core.i18n import N_, DubanError
from bot.core.org import Org
from bot.core.policy.catalog import Catalog
from bot.core.routing import ACTIVE_STATUSES, AssignmentStatus
from bot.core.workflow import CLOSED_STATES, State, fold_confirmation
from bot.services.access import Who, require_coordinator, require_party
from bot.services.cases import CaseService
from bot.services.metrics import Metrics
from bot.services.outbox import Kind, enqueue, enqueue_many
from bot.services.tasks import TaskService, open_measures
from models import counters, queries
from models.db import transaction
from models.tables import (
    DUE_NOW,
    Assignment,
    Case,
    ChatBinding,
    Event,
    Notice,
    NoticeEntry,
    Obligation,
    SentKey,
    Setting,
    Summons,
)
from models.types import RawJSON, json_text
from scheduler import rules
from scheduler.rules import CaseSnapshot, DeptStatus, DueItem, NoticeHistory, ObligationSnapshot
from scheduler.workdays import (
    UNCOVERED_YEAR_MESSAGE,
    WorkCalendar,
    next_send_time,
    uncovered_year_key,
)

log = logging.getLogger(__name__)

# Yearly duties stay in view this long after their day (cases are chased until closed).
WINDOW_BACK = timedelta(days=60)
WINDOW_AHEAD = timedelta(days=35)  # the first nudge is 30 days before
OPEN = [s.value for s in State if s not in CLOSED_STATES]
OVERDUE_FROM = (State.RECTIFYING, State.SEALED, State.SHUTDOWN_ORDERED)
COMPLETING_STEPS = frozenset({"confirm_rectified", "confirm_exit", "confirm_dismantled"})
ACCEPTED = AssignmentStatus.ACCEPTED.value
#: Cases per statement writing their next due day (three parameters each).
NEXT_DUE_BATCH = 2000
#: Cases a snapshot reads and converts at a time (the raw rows live at once).
SNAPSHOT_CHUNK = 1000
#: Sent keys recorded per statement.
SENT_KEYS_BATCH = 2000
#: Digest entries (at least) built and queued per statement (each digest whole).
DIGEST_BATCH = 2000
_ACTIVE = frozenset(s.value for s in ACTIVE_STATUSES)
SUMMONS_HOUR = time(10, 0)
SUMMONS_AFTER_WORKING_DAYS = 3
SUMMONS_REMINDERS = (("day", timedelta(days=1)), ("hour", timedelta(hours=1)))
DUTY_SUBMITTED = N_("✅ {party} has submitted {duty} ({year}); the duty is confirmed and its "
                    "reminders stop.")
NOTICE_DRAFT, NOTICE_HELD, NOTICE_SIGNED = "draft", "held", "signed"
SUMMONS_PROPOSED, SUMMONS_CONFIRMED = "proposed", "confirmed"
#: A summons named by its number that does not exist (约谈〔2026〕3号 in English: 2026-3).
NO_SUMMONS = N_("No summons {year}-{number}.")
UNKNOWN_SUMMONS = N_("This summons is unknown.")
#: From this many days before a year, coordinators are asked for its holiday schedule.
YEAR_AHEAD_DAYS = 30
#: Where the sweep notes the parties whose reminders wait for a bound chat (a setting, so
#: ``duban doctor`` in another process reads it too).
WAITING_KEY = "calendar.waiting_for_chats"
RULES_KEY = "calendar.next_due_rules"


@dataclass(frozen=True)
class SweepReport:
    marked_overdue: tuple[str, ...]
    items: tuple[DueItem, ...]  # recorded and queued (none outside office hours)
    notices: tuple[str, ...]  # codes issued
    #: due, but for a department or county without a bound chat: not recorded, so they wait
    #: (see :meth:`CalendarService.catch_up`)
    held: tuple[DueItem, ...] = ()


@dataclass(frozen=True)
class WaitingParty:
    """A department or county with no bound chat, and how many of its reminders wait for it."""

    party_kind: str
    party: str
    items: int


@dataclass(frozen=True)
class Snapshot:
    cases: list[CaseSnapshot]
    obligations: list[ObligationSnapshot]
    notices: list[NoticeHistory]
    sent: set[str]
    obligation_ids: dict[str, int]  # "kind/year:party" -> row id
    bound: frozenset[tuple[str, str]] = frozenset()  # parties with a bound chat (kind, key)
    #: each case read, as the rules saw it and as the row was (to write its next due day
    #: only if nobody changed it meanwhile)
    read: tuple[tuple[CaseSnapshot, int, int, int], ...] = ()  # (snapshot, id, version, seq)


T = TypeVar("T")

@dataclass
class CalendarService:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    catalog: Catalog
    calendar: WorkCalendar
    cases: CaseService
    org: Callable[[], Awaitable[Org]]
    #: Counts the notices signed (once their transaction is committed).
    metrics: Metrics = field(default_factory=Metrics, repr=False)
    _warned_years: set[int] = field(default_factory=set, repr=False)
    _years_read: tuple[date, set[int]] | None = field(default=None, repr=False)
    _days: dict[datetime, date] = field(default_factory=dict, repr=False)
    #: The tasks (督办任务): their report rows are opened before each sweep; None: no tasks.
    tasks: TaskService | None = field(default=None, repr=False)

    @cached_property
    def _immediate(self) -> frozenset[str]:
        return rules.immediate_clauses(self.catalog)

    # -- the sweep --------------------------------------------------------------------------

    async def preview(self, at: datetime, *, full: bool = False) -> list[DueItem]:
        """What a sweep at ``at`` would send, from the database as it is; writes nothing.
        ``full``: from every open case rather than those whose next due day has come (what
        the stored days are checked against)."""
        org = await self.org()
        today = at.astimezone(self.clock.tz).date()
        snap = await self._snapshot(today, org, create=False, overdue_as_of=today, at=at,
                                    full=full)
        items = await self._due_items(snap, at, org)
        return [i for i in items if i.send_after <= at]  # as the sweep: the rest waits

    async def sweep(self) -> SweepReport:
        """Record and queue everything due now; safe to run twice or concurrently."""
        now = self.clock.now()
        org = await self.org()
        today = now.astimezone(self.clock.tz).date()
        await self._fill_due_days()
        await self._recheck_if_rules_changed(org)
        marked = await self._mark_overdue(today)
        # the day's overdue counted in the /status counters now, not by the day's first reader
        await counters.roll(self.sessions, today)
        send_after = next_send_time(now, self.calendar, org.escalation.office_hours,
                                    self.clock.tz)
        # Outside office hours (evenings, nights, weekends, holidays) nothing may be sent, so
        # nothing is recorded and the due cases are not even read: the first sweep of office
        # hours reads them (what it would send: ``preview``). Thousands of due cases were read
        # and computed every few minutes all night, and their working set stayed with the
        # process.
        sending = send_after <= now
        for attempt in range(3):
            snap = await self._snapshot(today, org, create=True, cases=sending)
            items = await self._due_items(snap, now, org) if sending else []
            held = [i for i in items if _waits_for_chat(i, snap.bound)]
            ready = [i for i in items if not _waits_for_chat(i, snap.bound)]
            checks = self._next_checks(snap, held, org, today) if sending else []
            try:
                codes = await self._record(ready, snap, org, now, checks)
            except IntegrityError:
                log.info("sweep raced another sweep (attempt %d); reading again", attempt + 1)
                continue
            await self._note_waiting(held, await self._letters_waiting(org, today, snap.bound))
            await self._warn_uncovered_years(snap, now)
            await self._remind_summonses(now)
            return SweepReport(tuple(marked), tuple(ready), tuple(codes), tuple(held))
        raise DubanError(N_("The calendar could not record its sweep; it will try again."))

    async def _due_items(self, snap: Snapshot, at: datetime, org: Org) -> list[DueItem]:
        """What the rules say is due at ``at``, computed in a worker thread: thousands of due
        cases take a second or more of pure Python, during which the event loop would not
        turn (no press or message handled). In the thread it keeps turning; the two share the
        interpreter, so a press meanwhile is slower, not held up. The rules read only the
        snapshot."""
        return await asyncio.to_thread(
            rules.due_items, snap.cases, snap.obligations, snap.notices, snap.sent, at,
            self.calendar, org.escalation, self.clock.tz)

    # -- reminders waiting for a chat -------------------------------------------------------

    async def catch_up(self, party_kind: str, party: str) -> tuple[DueItem, ...]:
        """A chat was just bound for ``party`` (a department key or a county's name): queue
        now what the sweeps held back for want of it.

        The sweep records nothing for a party without a bound chat, so its reminders are not
        used up: here they are computed again, as the rules have them now. The chat gets one
        digest with the latest step of each chain (the steps that step supersedes are recorded
        as superseded, never sent, as after downtime), and nothing whose deadline was met or
        changed meanwhile. Only this party's reminders, from what the sweeps have read and
        opened; outside office hours nothing is due and the next sweep sends them."""
        now = self.clock.now()
        org = await self.org()
        today = now.astimezone(self.clock.tz).date()
        for _attempt in range(3):
            snap = await self._snapshot(today, org, create=False, unopened=False)
            items = await self._due_items(snap, now, org)
            theirs = [i for i in items if i.send_after <= now
                      and (i.recipient_kind, i.recipient) == (party_kind, party)
                      and _to_party_chat(i)]
            try:
                await self._record(theirs, snap, org, now)
            except IntegrityError:  # a sweep recorded them meanwhile: read again
                continue
            return tuple(theirs)
        raise DubanError(N_("The calendar could not record its sweep; it will try again."))

    def _next_checks(self, snap: Snapshot, held: Sequence[DueItem], org: Org,
                     today: date) -> list[NextCheck]:
        """The day each case read must be read again (``cases.next_due``): today for a case
        with reminders held for a chat, else the next day a step of it falls
        (:func:`rules.next_check`, memoised per distinct case shape: thousands of cases share
        a deadline)."""
        if not snap.read:
            return []
        waiting = {ref for item in held for ref in item.case_refs}
        memo: dict[tuple[Any, ...], date | None] = {}
        rows = []
        for case, case_id, version, seq in snap.read:
            if case.ref in waiting:
                day: date | None = today
            else:  # what next_check reads of a case (its reference and county do not count)
                shape = (case.clause, case.state, case.deadline, case.deadline_kind,
                         case.routed_on, case.required, case.paused, case.skipped_steps,
                         case.failing_exit)
                if shape not in memo:
                    memo[shape] = rules.next_check(case, today, self.calendar, org.escalation)
                day = memo[shape]
            rows.append(NextCheck(case_id, version, seq, day))
        return rows

    async def _note_waiting(self, held: Sequence[DueItem],
                            letters: Counter[tuple[str, str]] | None = None) -> None:
        """Keep, for ``/mine`` and ``duban doctor``, which parties the sweep held items for
        (and the year-end letters that wait for a recipient's chat, ``letters``)."""
        counts = Counter((i.recipient_kind, i.recipient) for i in held) + (letters or Counter())
        value = [{"kind": kind, "party": party, "items": n}
                 for (kind, party), n in sorted(counts.items())]
        async with transaction(self.sessions) as session:
            if await queries.setting(session, key=WAITING_KEY) != value:
                await session.merge(Setting(key=WAITING_KEY, value=value))

    async def waiting_for_chats(self) -> list[WaitingParty]:
        """The departments and counties whose reminders the last sweep held back because they
        have no bound chat (those bound since are left out: their chat has them)."""
        async with self.sessions() as session:
            stored = await queries.setting(session, key=WAITING_KEY)
            bound = await _bound_parties(session)
        found = [WaitingParty(str(row["kind"]), str(row["party"]), int(row["items"]))
                 for row in (stored if isinstance(stored, list) else [])
                 if isinstance(row, dict)]
        return [w for w in found if (w.party_kind, w.party) not in bound]

    def rules_fingerprint(self, org: Org) -> str:
        """What the stored next due days were computed with: the escalation settings and the
        working-day calendar (a holiday notice loaded later moves days). Stored by the sweep;
        a different one makes the next sweep read every open case once."""
        overrides = sorted(self.calendar.overrides.items())
        text = f"{org.escalation!r}|{overrides!r}|{self.calendar!r}|{sorted(self._immediate)}"
        return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()

    async def _recheck_if_rules_changed(self, org: Org) -> None:
        """Another ladder or calendar: every open case's next due day is read again."""
        fingerprint = self.rules_fingerprint(org)
        async with transaction(self.sessions) as session:
            if await queries.setting(session, key=RULES_KEY) == fingerprint:
                return
            await session.exec(update(Case).where(col(Case.state).in_(OPEN))
                               .values(next_due=DUE_NOW))
            await session.merge(Setting(key=RULES_KEY, value=fingerprint))

    async def _fill_due_days(self) -> None:
        """Give a due day to open cases that have none (cases from before due days were kept:
        their wait counts from the day they entered their state)."""
        async with self.sessions() as session:
            found = (await session.exec(select(Case).where(
                col(Case.state).in_([s for s in OPEN if s != State.ROUTED.value]),
                col(Case.due_on).is_(None)))).all()
            if not found:
                return
            entered = dict((await session.exec(  # type: ignore[call-overload]
                sa_select(col(Event.case_id), func.max(col(Event.at)))
                .where(col(Event.case_id).in_([c.id for c in found]),
                       col(Event.to_state).is_not(None))
                .group_by(col(Event.case_id)))).all())
        async with transaction(self.sessions) as session:
            for case in found:
                since = entered.get(case.id) or case.updated_at
                due = await self.cases.due_on(case.clause, case.state, case.deadline,
                                              since.astimezone(self.clock.tz).date())
                await session.exec(update(Case).where(
                    col(Case.id) == case.id, col(Case.due_on).is_(None)).values(
                    due_on=due, next_due=DUE_NOW))

    async def _mark_overdue(self, today: date) -> list[str]:
        async with self.sessions() as session:
            # Ids only: the index (state, due_on) covers them, so the planner keeps to it even
            # when ANALYZE finds one state holds most cases (with the refs it scanned them all).
            rows = await session.exec(
                select(col(Case.id)).where(
                    col(Case.state).in_([s.value for s in OVERDUE_FROM]),
                    col(Case.due_on) < today))
            ids = [case_id for case_id in rows.all() if case_id is not None]
        # in batches: a case the step does not apply to (a clause without an overdue step
        # in this state) is left as it is
        return await self.cases.take_system_step(ids, "mark_overdue")

    # -- snapshots --------------------------------------------------------------------------

    async def _snapshot(self, today: date, org: Org, *, create: bool,
                        overdue_as_of: date | None = None, unopened: bool = True,
                        at: datetime | None = None, full: bool = False,
                        cases: bool = True) -> Snapshot:
        """What the rules read. ``create``: open the years' duties first; else (a preview)
        add the duties a sweep would open, unless ``unopened`` is False. ``cases`` False:
        no case is read (a sweep outside office hours)."""
        if create:
            await self._open_years(today, org)
            if self.tasks is not None:
                await self.tasks.open_periods(today)
                await self.tasks.load_titles()
        async with self.sessions() as session:
            # the day the rules answer for: the first moment the bot may send (a sweep on
            # Saturday answers for Monday)
            rules_day = next_send_time(at or self.clock.now(), self.calendar,
                                       org.escalation.office_hours,
                                       self.clock.tz).astimezone(self.clock.tz).date()
            ids: list[int] = []
            if cases:
                ids = await self._window_ids(
                    session, rules_day,
                    everything=full or await queries.setting(session, key=RULES_KEY)
                    != self.rules_fingerprint(org),
                    notified=await _laggards_notified(session, org, rules_day))
            # A chunk at a time: its rows, assignments and events become snapshots at once
            # and are dropped, so raw rows of one chunk at most are live (thousands of due
            # cases read at once stayed with the process as the allocator's arenas).
            snapshots: list[CaseSnapshot] = []
            read: list[tuple[CaseSnapshot, int, int, int]] = []
            shared: dict[Any, Any] = {}  # equal values the snapshots share (see _shared)
            for start in range(0, len(ids), SNAPSHOT_CHUNK):
                chunk = ids[start:start + SNAPSHOT_CHUNK]
                rows = await _case_rows(session, chunk)
                assignments = await _assignments(session, chunk)
                events = await _event_facts(session, chunk)
                made = await asyncio.to_thread(  # pure Python for thousands: off the loop
                    self._case_snapshots, rows, assignments, events, overdue_as_of, shared)
                snapshots += made
                read += [(snapshot, c.id, c.version, c.chain_seq)
                         for snapshot, c in zip(made, rows, strict=True)]
                del rows, assignments, events, made
            obligations = (await session.exec(select(Obligation).where(
                col(Obligation.due) >= today - WINDOW_BACK,
                col(Obligation.due) <= today + WINDOW_AHEAD))).all()
            notices = (await session.exec(  # type: ignore[call-overload]
                sa_select(col(NoticeEntry.party), col(Notice.issued_on))
                .join(Notice, col(Notice.id) == col(NoticeEntry.notice_id))
                .where(col(Notice.status) == NOTICE_SIGNED,
                       col(Notice.issued_on) >= today - timedelta(
                           days=org.escalation.second_notice_window_days)))).all()
            subjects = ([c.ref for c in snapshots]
                        + [f"{o.kind}/{o.year}" for o in obligations]
                        + sorted({c.region for c in snapshots}))
            sent = await _sent_keys(session, subjects)
            bound = await _bound_parties(session)
        duties = [ObligationSnapshot(
            kind=o.kind, year=o.year, due=o.due, party=o.party, party_kind=o.party_kind,
            confirmed=o.confirmed_at is not None, role=o.role, opened_on=o.opened_on)
            for o in obligations]
        if not create and unopened:  # a preview: the duties a sweep would open, unwritten
            known = {(o.kind, o.year, o.party) for o in obligations}
            duties += [spec for spec in self._duties(today, org)
                       if (spec.kind, spec.year, spec.party) not in known
                       and today - WINDOW_BACK <= spec.due <= today + WINDOW_AHEAD]
        return Snapshot(
            cases=snapshots,
            obligations=duties,
            notices=[NoticeHistory(party, issued_on) for party, issued_on in notices],
            sent=sent,
            obligation_ids={f"{o.kind}/{o.year}:{o.party}": o.id or 0 for o in obligations},
            bound=bound,
            read=tuple(read),
        )

    async def _window_ids(self, session: AsyncSession, today: date, *,
                          everything: bool = False,
                          notified: Sequence[str] = ()) -> list[int]:
        """The ids of the cases a sweep on ``today`` must read: those whose next due day
        (``cases.next_due``) has come, changed ones included, and every open overdue case that
        is not paused (clause （二十）'s laggards count them, whatever else is due) outside
        the counties and parks ``notified`` (named for their laggards this month already:
        nothing more is due for them, and their overdue cases are not read every sweep).
        ``everything``: every open case (the ladder or the calendar changed since the days
        were stored; the next sweep stores new ones). In the order the rows used to be read
        (the due ones first); the ids alone, from the indexes."""
        table = Case.__table__  # type: ignore[attr-defined]
        due = await session.exec(sa_select(table.c.id).where(  # type: ignore[call-overload]
            table.c.state.in_(OPEN) if everything else table.c.next_due <= today))
        found = dict.fromkeys(due.scalars().all())
        late = await session.exec(sa_select(table.c.id).where(  # type: ignore[call-overload]
            table.c.state.in_(OPEN), table.c.due_on < today, table.c.paused.is_(False),
            *([table.c.region_name.not_in(list(notified))] if notified else [])))
        found.update(dict.fromkeys(late.scalars().all()))
        return list(found)

    def _case_snapshots(self, rows: Sequence[Any], assignments: dict[int, list[Any]],
                        events: dict[int, EventFacts], overdue_as_of: date | None,
                        shared: dict[Any, Any]) -> list[CaseSnapshot]:
        """The snapshots of ``rows``; cases whose columns, assignments and events are alike
        but for their reference (an import's thousands) are worked out once (kept in
        ``shared``) and given their own reference."""
        made: list[CaseSnapshot] = []
        day = self._local_day
        for c in rows:
            theirs = assignments.get(c.id, ())
            facts = events.get(c.id, NO_EVENTS)
            alike = (_ALIKE, c.region_name, c.clause, c.state, c.deadline, c.due_on,
                     day(c.created_at), c.paused, tuple(c.skipped_steps or ()), facts,
                     tuple((a.department_key, a.status, a.required, day(a.created_at))
                           for a in theirs))
            found = shared.get(alike)
            if found is None:
                found = shared[alike] = self._case_snapshot(c, theirs, facts, overdue_as_of,
                                                            shared)
            made.append(found if found.ref == c.ref else replace(found, ref=c.ref))
        return made

    def _case_snapshot(self, case: Any, assignments: Sequence[Any],
                       events: EventFacts, overdue_as_of: date | None,
                       shared: dict[Any, Any] | None = None) -> CaseSnapshot:
        """The rules' view of a case row; ``shared``: equal values (counties, clauses,
        states, days, departments' statuses) are taken from there, one object for the
        thousands of cases that have them, and added to it."""
        same = _shared({} if shared is None else shared)
        day = self._local_day
        confirmed = events.confirmed
        routed_on = day(case.created_at)
        required = same(tuple(
            same(DeptStatus(same(a.department_key), accepted=a.status == ACCEPTED,
                            confirmed=a.department_key in confirmed,
                            routed_on=max(routed_on, day(a.created_at))))
            for a in assignments
            if a.required and a.department_key and a.status in _ACTIVE))
        state = case.state
        if (overdue_as_of is not None and case.due_on is not None
                and case.due_on < overdue_as_of and State(state) in OVERDUE_FROM):
            state = State.OVERDUE.value  # what the sweep would mark first
        wait = rules.wait_kind(case.clause, case.state, case.deadline, self._immediate)
        return CaseSnapshot(
            ref=case.ref, region=same(case.region_name), clause=same(case.clause),
            state=same(state), deadline=same(case.due_on),
            deadline_kind=wait or _deadline_kind(case, events),
            routed_on=routed_on, required=required, paused=case.paused,
            skipped_steps=same(frozenset(case.skipped_steps or ())),
            failing_exit=False)

    def _local_day(self, at: datetime) -> date:
        """The local day of ``at`` (memoised: the cases of an import share their times)."""
        found = self._days.get(at)
        if found is None:
            if len(self._days) > 100_000:
                self._days.clear()
            found = self._days[at] = at.astimezone(self.clock.tz).date()
        return found

    def _duties(self, today: date, org: Org) -> list[ObligationSnapshot]:
        """This year's duties and last year's (whose annual report is due this January)."""
        specs: list[ObligationSnapshot] = []
        for year in (today.year - 1, today.year):
            for spec in rules.obligations_for_year(year, self.catalog, org.regions,
                                                   org.departments):
                opened = max(date(spec.year, 1, 1), min(today, spec.due))
                specs.append(replace(spec, opened_on=spec.opened_on or opened))
        return specs

    async def _open_years(self, today: date, org: Org) -> None:
        """Create the yearly duties of this year and of last year's annual report."""
        specs = self._duties(today, org)
        async with transaction(self.sessions) as session:
            existing = {(o.kind, o.year, o.party) for o in (await session.exec(
                select(Obligation).where(col(Obligation.year).in_(
                    [today.year - 1, today.year])))).all()}
            for spec in specs:
                if (spec.kind, spec.year, spec.party) not in existing:
                    session.add(Obligation(kind=spec.kind, year=spec.year, party=spec.party,
                                           party_kind=spec.party_kind, role=spec.role,
                                           due=spec.due, opened_on=spec.opened_on or spec.due))

    # -- recording --------------------------------------------------------------------------

    async def _record(self, items: Sequence[DueItem], snap: Snapshot, org: Org,
                      now: datetime, checks: Sequence[NextCheck] = ()) -> list[str]:
        if not items:
            if checks:
                async with transaction(self.sessions) as session:
                    await _write_next_due(session, checks)
            return []
        codes: list[str] = []
        async with transaction(self.sessions) as session:
            await _write_next_due(session, checks)
            # A few thousand keys a statement: the statement's text (one JSON parameter on
            # SQLite) stays with SQLAlchemy's compiled cache, so one of tens of thousands of
            # keys would keep megabytes for the life of the process.
            keys = [key for item in items for key in item.done_keys]
            for start in range(0, len(keys), SENT_KEYS_BATCH):
                await queries.add_sent_keys(session, [
                    (key, _subject_of(key)) for key in keys[start:start + SENT_KEYS_BATCH]],
                    now)
            del keys
            digests: dict[tuple[str, str], list[DueItem]] = defaultdict(list)
            notices = [item for item in items if item.kind == rules.KIND_NOTICE]
            if notices:
                notice = await self._draft_notice(session, notices, now)
                if not org.escalation.sign_off:
                    codes.append(await self._sign(session, notice, None, "duban", org, now))
            for item in items:
                if item.kind == rules.KIND_NOTICE:
                    continue
                if item.kind == rules.KIND_SUMMONS:
                    await self._summon(session, item, org, now)
                else:
                    if item.kind == rules.KIND_CREDIT_FLAG:
                        await self._case_event(session, item.case_refs, "credit_flag", now,
                                               {"deadline": _iso(item.deadline)})
                        await self._exit_missed(session, item.case_refs, org, now)
                    digests[(item.recipient_kind, item.recipient)].append(item)
            # queued a few thousand entries at a time (with their JSON), in the digests' order
            batch: list[tuple[tuple[str, str], list[DueItem]]] = []
            size = 0
            for party, theirs in digests.items():
                batch.append((party, theirs))
                size += len(theirs)
                if size >= DIGEST_BATCH:
                    await _queue_digests(session, batch, snap, now)
                    batch, size = [], 0
            await _queue_digests(session, batch, snap, now)
        self.metrics.notices.inc(len(codes))  # signed in the sweep (no sign-off asked)
        return codes

    async def _draft_notice(self, session: AsyncSession, items: Sequence[DueItem],
                            now: datetime) -> Notice:
        """One 通报 for the round, naming every laggard; the coordinators sign it off."""
        notice = Notice(key=f"round:{items[0].key}", status=NOTICE_DRAFT,
                        year=now.astimezone(self.clock.tz).year, created_at=now,
                        updated_at=now)
        session.add(notice)
        await session.flush()
        assert notice.id is not None
        await session.exec(insert(NoticeEntry), params=[
            {"notice_id": notice.id, "key": item.key, "party": item.party,
             "party_kind": item.party_kind, "step": item.step,
             "case_refs": item.case_refs, "obligation": item.obligation,  # a JSON array
             "deadline": item.deadline} for item in items])
        await enqueue(session, key=f"notice-draft:{notice.id}", kind=Kind.NOTICE_DRAFT,
                      recipient_kind="coordinators", recipient="*", now=now,
                      payload={"notice_id": notice.id})
        return notice

    async def _sign(self, session: AsyncSession, notice: Notice, signer_id: int | None,
                    signer: str, org: Org, now: datetime) -> str:
        """Number the notice (the next of the year, no gaps), record it on its cases and
        circulate it: the coordinators and every department, county and park."""
        today = now.astimezone(self.clock.tz).date()
        highest = (await session.exec(select(func.max(col(Notice.number))).where(
            col(Notice.year) == today.year, col(Notice.status) == NOTICE_SIGNED))).one()
        number = int(highest or 0) + 1
        code = rules.format_notice_number(org.prefecture.notice_prefix, today.year, number)
        notice.status, notice.year, notice.number, notice.code = NOTICE_SIGNED, today.year, \
            number, code
        notice.issued_on, notice.signed_by, notice.signed_by_name = today, signer_id, signer
        notice.updated_at = now
        session.add(notice)
        await session.flush()
        entries = (await session.exec(select(NoticeEntry).where(
            col(NoticeEntry.notice_id) == notice.id))).all()
        for entry in entries:
            await self._case_event(session, entry.case_refs, "notice", now,
                                   {"code": code, "deadline": _iso(entry.deadline)})
        recipients = [("coordinators", "*")]
        recipients += [("department", d.key) for d in org.departments]
        recipients += [("region", r.name) for r in org.regions]
        await enqueue_many(session, [
            {"key": f"notice:{notice.id}:{kind}:{name}", "kind": Kind.NOTICE,
             "recipient_kind": kind, "recipient": name, "payload": {"notice_id": notice.id}}
            for kind, name in recipients], now)
        return code

    # -- signing off (签发) ---------------------------------------------------------------------

    async def sign_notice(self, notice_id: int, who: Who) -> Notice:
        """A coordinator signs the draft 通报 off: it gets its number and goes out."""
        require_coordinator(who)
        org = await self.org()
        now = self.clock.now()
        async with transaction(self.sessions) as session:
            notice = await self._draft(session, notice_id)
            await self._sign(session, notice, who.telegram_id, who.name or "", org, now)
        self.metrics.notices.inc()
        return notice

    async def hold_notice(self, notice_id: int, who: Who) -> Notice:
        """暂缓: the draft is kept, unnumbered, until a coordinator signs it."""
        require_coordinator(who)
        async with transaction(self.sessions) as session:
            notice = await self._draft(session, notice_id)
            notice.status, notice.updated_at = NOTICE_HELD, self.clock.now()
            notice.signed_by_name = who.name
            session.add(notice)
        return notice

    async def revise_notice(self, notice_id: int, remark: str, who: Who) -> Notice:
        """修改: a coordinator's wording for the notice's opening; the draft comes again."""
        require_coordinator(who)
        text = remark.strip()
        if not text:
            raise DubanError(N_("Give the new wording; it replaces the notice's opening."))
        now = self.clock.now()
        async with transaction(self.sessions) as session:
            notice = await self._draft(session, notice_id)
            notice.remark, notice.updated_at = text[:2000], now
            session.add(notice)
            await enqueue(session, key=f"notice-draft:{notice.id}:{now.isoformat()}",
                          kind=Kind.NOTICE_DRAFT, recipient_kind="coordinators",
                          recipient="*", now=now, payload={"notice_id": notice.id})
        return notice

    async def _draft(self, session: AsyncSession, notice_id: int) -> Notice:
        notice = await session.get(Notice, notice_id)
        if notice is None:
            raise DubanError(N_("No notice number {id}."), id=notice_id)
        if notice.status == NOTICE_SIGNED:
            raise DubanError(N_("This notice is already signed off as {code}."),
                             code=notice.code or "")
        return notice

    async def awaiting_sign_off(self) -> tuple[list[Notice], list[Summons]]:
        """Draft or held notices, and proposed summonses: what waits for a coordinator."""
        async with self.sessions() as session:
            notices = (await session.exec(select(Notice).where(
                col(Notice.status).in_([NOTICE_DRAFT, NOTICE_HELD])).order_by(
                col(Notice.id)))).all()
            summonses = (await session.exec(select(Summons).where(
                col(Summons.status) == SUMMONS_PROPOSED, col(Summons.outcome).is_(None))
                .order_by(col(Summons.id)))).all()
        return list(notices), list(summonses)

    async def notice_entries(self, notice_id: int) -> list[NoticeEntry]:
        async with self.sessions() as session:
            return list((await session.exec(select(NoticeEntry).where(
                col(NoticeEntry.notice_id) == notice_id).order_by(col(NoticeEntry.id)))).all())

    async def confirm_summons(self, summons_id: int, who: Who) -> Summons:
        """A coordinator confirms a proposed summons's time and place: it goes out."""
        require_coordinator(who)
        now = self.clock.now()
        async with transaction(self.sessions) as session:
            summons = await self._locate(session, summons_id)
            if summons.status != SUMMONS_PROPOSED:
                raise DubanError(N_("This summons is already confirmed."))
            if summons.meets_at <= now:
                raise DubanError(N_("The proposed time has passed; set a new one with "
                                    "/reschedule {year}-{number} DATE TIME first."),
                                 year=summons.year, number=summons.number)
            summons.status, summons.updated_at = SUMMONS_CONFIRMED, now
            session.add(summons)
            await self._case_event(session, summons.case_refs, "summons", now,
                                   {**_numbered(summons),
                                    "meets_at": summons.meets_at.isoformat()})
            await enqueue(session, key=f"summons:{summons.id}:{summons.party_kind}:"
                                       f"{summons.party}", kind=Kind.SUMMONS,
                          recipient_kind=summons.party_kind, recipient=summons.party, now=now,
                          payload={"summons_id": summons.id})
        return summons

    async def _summon(self, session: AsyncSession, item: DueItem, org: Org,
                      now: datetime) -> None:
        """Create the summons with its number: the next of this year (``max(number) + 1``
        under the unique ``(year, number)``), in the sweep's transaction, so a sweep that
        rolls back takes its number with it and a racing sweep is retried on fresh data.

        A proposed summons holds its number from the start, unlike a draft 通报 (numbered at
        签发): the coordinators read it on the proposal and type it (``/reschedule 3 …``)
        before they confirm, and a summons is never deleted (one whose duty is submitted in
        the meantime is kept as cancelled, and ``/summons N`` still shows it), so every
        number people have read exists and the numbers run 1, 2, 3 … within a year."""
        today = now.astimezone(self.clock.tz).date()
        day = self.calendar.add_working_days(today, SUMMONS_AFTER_WORKING_DAYS)
        meets_at = datetime.combine(day, SUMMONS_HOUR, self.clock.tz)
        leader = None
        if item.party_kind == rules.REGION:
            region = org.region(item.party)
            leader = region.leader if region else None
        else:
            department = org.department(item.party)
            leader = department.leader if department else None
        latest_notice = (await session.exec(select(col(NoticeEntry.notice_id)).where(
            col(NoticeEntry.party) == item.party).order_by(
            col(NoticeEntry.notice_id).desc()))).first()
        proposed = org.escalation.sign_off
        year = today.year
        highest = (await session.exec(select(func.max(col(Summons.number))).where(
            col(Summons.year) == year))).one()
        summons = Summons(year=year, number=int(highest or 0) + 1,
                          key=item.key, party=item.party, party_kind=item.party_kind,
                          leader=leader, case_refs=list(item.case_refs),
                          obligation=item.obligation, notice_id=latest_notice,
                          status=SUMMONS_PROPOSED if proposed else SUMMONS_CONFIRMED,
                          meets_at=meets_at, place=org.prefecture.commission + "会议室",
                          created_at=now, updated_at=now)
        session.add(summons)
        await session.flush()
        recipients = [("coordinators", "*")]
        if not proposed:  # else the party hears of it once a coordinator confirms it
            await self._case_event(session, item.case_refs, "summons", now,
                                   {**_numbered(summons), "meets_at": meets_at.isoformat()})
            recipients.append((item.party_kind, item.party))
        for kind, name in recipients:
            await enqueue(session, key=f"summons:{summons.id}:{kind}:{name}",
                          kind=Kind.SUMMONS, recipient_kind=kind, recipient=name, now=now,
                          payload={"summons_id": summons.id})

    async def _exit_missed(self, session: AsyncSession, refs: Sequence[str], org: Org,
                           now: datetime) -> None:
        """An exit deadline passed without the exit: the measures that follow (（十三） credit,
        （十七） the credit platform), in the sweep's transaction."""
        today = now.astimezone(self.clock.tz).date()
        for ref in refs:
            case = await queries.case_by_ref(session, ref=ref)
            if case is not None:
                await open_measures(session, self.catalog, org, case, "exit_missed", today, now)

    async def _case_event(self, session: AsyncSession, refs: Sequence[str], kind: str,
                          now: datetime, payload: dict[str, Any]) -> None:
        for ref in refs:
            case = await queries.case_by_ref(session, ref=ref)
            if case is not None and case.id is not None:
                await queries.append_event(session, case_id=case.id, at=now, kind=kind,
                                           actor_role="system", actor_name="duban",
                                           payload=payload)

    async def _remind_summonses(self, now: datetime) -> None:
        """The day before and one hour before a summons, remind both sides (once each; a
        new time gives new keys)."""
        async with self.sessions() as session:
            upcoming = (await session.exec(select(Summons).where(
                col(Summons.outcome).is_(None), col(Summons.status) == SUMMONS_CONFIRMED,
                col(Summons.meets_at) > now,
                col(Summons.meets_at) <= now + SUMMONS_REMINDERS[0][1]))).all()
        for summons in upcoming:
            if summons.rsvp == "decline":
                continue
            for name, before in SUMMONS_REMINDERS:
                if now < summons.meets_at - before:
                    continue
                key = f"summons_reminder:summons:{summons.id}:{summons.party}:" \
                      f"{summons.meets_at.isoformat()}:{name}"
                try:
                    async with transaction(self.sessions) as session:
                        session.add(SentKey(key=key, subject=f"summons/{summons.id}",
                                            created_at=now))
                        await session.flush()
                        for kind, party in (("coordinators", "*"),
                                            (summons.party_kind, summons.party)):
                            await enqueue(session, key=f"{key}:{kind}", kind=Kind.SUMMONS,
                                          recipient_kind=kind, recipient=party, now=now,
                                          payload={"summons_id": summons.id, "reminder": name})
                except IntegrityError:  # already reminded (another sweep)
                    continue

    async def _warn_uncovered_years(self, snap: Snapshot, now: datetime) -> None:
        years = set(rules.years_in_view(snap.cases, snap.obligations, now, self.clock.tz))
        today = now.astimezone(self.clock.tz).date()
        # A sweep reads only the cases due: the years of every open case's deadline come from
        # the database (once a day), or a sweep stopped before this warning would leave it
        # unsent for good once the cases of that year are no longer due.
        years |= await self._deadline_years(today)
        if (date(today.year + 1, 1, 1) - today).days <= YEAR_AHEAD_DAYS:
            years.add(today.year + 1)  # time to import next year's notice
        for year in self.calendar.uncovered_years(years):
            if year in self._warned_years:
                continue
            async with transaction(self.sessions) as session:
                await enqueue(session, key=uncovered_year_key(year), kind=Kind.TEXT,
                              recipient_kind="coordinators", recipient="*", now=now,
                              payload={"message": UNCOVERED_YEAR_MESSAGE,
                                       "params": {"year": year}})
            self._warned_years.add(year)

    async def _deadline_years(self, today: date) -> set[int]:
        """The years of the open cases' due days, with each next year (see
        :func:`rules.years_in_view`), read once a day."""
        if self._years_read is not None and self._years_read[0] == today:
            return self._years_read[1]
        async with self.sessions() as session:
            first, last = (await session.exec(  # type: ignore[call-overload]
                sa_select(func.min(col(Case.due_on)), func.max(col(Case.due_on)))
                .where(col(Case.state).in_(OPEN)))).one()
        years = set() if first is None else set(range(first.year, last.year + 2))
        self._years_read = (today, years)
        return years

    # -- coordinators' controls -----------------------------------------------------------------

    async def set_paused(self, ref: str, paused: bool, reason: str, who: Who) -> Case:
        return await self._control(ref, who, "paused" if paused else "resumed", reason,
                                   paused=paused)

    async def skip(self, ref: str, step: str, reason: str, who: Who) -> Case:
        if not rules.is_step_name(step):
            raise DubanError(N_("Unknown escalation step {step}; use one of {steps}."),
                             step=step, steps="T-30 … T-0, overdue, reminder, notice, summons")
        return await self._control(ref, who, "skipped", reason, skip=step)

    async def _control(self, ref: str, who: Who, kind: str, reason: str, *,
                       paused: bool | None = None, skip: str | None = None) -> Case:
        require_coordinator(who)
        if not reason.strip():
            raise DubanError(N_("Give a reason; it is recorded."))
        now = self.clock.now()
        async with transaction(self.sessions) as session:
            case = (await session.exec(select(Case).where(col(Case.ref) == ref))).one_or_none()
            if case is None:
                raise DubanError(N_("No case with reference {ref}."), ref=ref)
            if paused is not None:
                case.paused = paused
            if skip is not None:
                case.skipped_steps = sorted({*(case.skipped_steps or ()), skip})
            case.updated_at, case.version = now, case.version + 1
            session.add(case)
            await queries.append_event(session, case_id=case.id or 0, at=now, kind=kind,
                                       actor_id=who.telegram_id, actor_name=who.name,
                                       actor_role=who.role, chat_id=who.chat_id,
                                       payload={"reason": reason.strip(), "step": skip})
        return case

    # -- yearly duties ------------------------------------------------------------------------

    async def confirm_obligation(self, obligation_id: int, evidence: Sequence[str],
                                 who: Who) -> Obligation:
        """A department or county confirms its yearly duty with the document it sent."""
        if not evidence:
            raise DubanError(N_("This step needs evidence: a photo or a document."))
        now = self.clock.now()
        async with transaction(self.sessions) as session:
            obligation = await session.get(Obligation, obligation_id)
            if obligation is None:
                raise DubanError(N_("This duty is unknown."))
            require_party(who, **_party(obligation.party_kind, obligation.party))
            if obligation.confirmed_at is not None:
                raise DubanError(N_("This duty is already confirmed."))
            obligation.confirmed_at, obligation.confirmed_by = now, who.telegram_id
            obligation.evidence = list(evidence)
            session.add(obligation)
            subject = f"{obligation.kind}/{obligation.year}"
            # Summonses about it that have not taken place no longer have a reason.
            for summons in (await session.exec(select(Summons).where(
                    col(Summons.obligation) == subject, col(Summons.party) == obligation.party,
                    col(Summons.outcome).is_(None), col(Summons.meets_at) > now))).all():
                summons.outcome = {"cancelled": True, "reason": "duty_submitted",
                                   "at": now.isoformat()}
                summons.updated_at = now
                session.add(summons)
            org = await self.org()
            party = obligation.party
            if obligation.party_kind == "department":
                found = org.department(party)
                party = found.name if found else party
            await enqueue(session, key=f"duty-submitted:{obligation.id}", kind=Kind.TEXT,
                          recipient_kind="coordinators", recipient="*", now=now,
                          payload={"message": DUTY_SUBMITTED,
                                   "params": {"party": party, "year": obligation.year},
                                   "translate": {"duty": rules.OBLIGATION_LABELS.get(
                                       obligation.kind, obligation.kind)}})
            if obligation.kind == rules.DEPARTMENT_LETTER:
                await _queue_letter(session, obligation, self.letter_recipients(org, obligation),
                                    await _bound_parties(session), now)
        return obligation

    def letter_recipients(self, org: Org, letter: Obligation) -> tuple[str, ...]:
        """The departments a year-end letter goes to (工信、能源、煤炭 in the seed: the
        catalog's tag, :func:`rules.duty_owners`), those the organisation has, not its
        writer."""
        return tuple(key for key in rules.duty_owners(self.catalog).letter_recipients
                     if key != letter.party and org.department(key) is not None)

    async def _letters_waiting(self, org: Org, today: date,
                               bound: frozenset[tuple[str, str]]) -> Counter[tuple[str, str]]:
        """The confirmed year-end letters (this year's and last year's) whose recipient has
        no bound chat, per recipient: they wait for it, as reminders do."""
        async with self.sessions() as session:
            letters = (await session.exec(select(Obligation).where(
                col(Obligation.kind) == rules.DEPARTMENT_LETTER,
                col(Obligation.year).in_([today.year - 1, today.year]),
                col(Obligation.confirmed_at).is_not(None)))).all()
        return Counter((rules.DEPARTMENT, key) for letter in letters
                       for key in self.letter_recipients(org, letter)
                       if (rules.DEPARTMENT, key) not in bound)

    async def queue_letters(self, department: str) -> int:
        """A chat was just bound for ``department``: queue the year-end letters confirmed for
        it (this year's and last year's) that could not go out for want of a chat. Each file
        goes once (the outbox key); returns how many were queued now."""
        org = await self.org()
        now = self.clock.now()
        year = now.astimezone(self.clock.tz).year
        queued = 0
        async with transaction(self.sessions) as session:
            letters = (await session.exec(select(Obligation).where(
                col(Obligation.kind) == rules.DEPARTMENT_LETTER,
                col(Obligation.year).in_([year - 1, year]),
                col(Obligation.confirmed_at).is_not(None)).order_by(col(Obligation.id)))).all()
            for letter in letters:
                if department in self.letter_recipients(org, letter):
                    queued += await _queue_letter(
                        session, letter, (department,),
                        frozenset({(rules.DEPARTMENT, department)}), now)
        return queued

    async def obligations(self, *, party: str | None = None,
                          year: int | None = None) -> list[Obligation]:
        """The yearly duties (a task's report rows are the task's: ``bot.services.tasks``)."""
        async with self.sessions() as session:
            statement = select(Obligation).where(~col(Obligation.kind).startswith("task-"))
            if party is not None:
                statement = statement.where(col(Obligation.party) == party)
            if year is not None:
                statement = statement.where(col(Obligation.year) == year)
            return list((await session.exec(statement.order_by(col(Obligation.due)))).all())

    # -- summonses ----------------------------------------------------------------------------

    async def notice(self, notice_id: int) -> Notice:
        return await self._get(Notice, notice_id, N_("No notice number {id}."))

    async def obligation(self, obligation_id: int) -> Obligation:
        return await self._get(Obligation, obligation_id, N_("This duty is unknown."))

    async def summons(self, summons_id: int) -> Summons:
        """The summons of row ``summons_id`` (a button's or an outbox row's: never typed)."""
        return await self._get(Summons, summons_id, UNKNOWN_SUMMONS)

    async def numbered_summons(self, wanted: SummonsNumber) -> Summons:
        """The summons people name by its number (this year's when no year is given)."""
        async with self.sessions() as session:
            return await self._locate(session, wanted)

    async def _locate(self, session: AsyncSession, which: int | SummonsNumber) -> Summons:
        """A summons by its row id (buttons, the outcome dialog) or by its number (commands);
        a clear error when there is none."""
        if isinstance(which, int):
            found = await session.get(Summons, which)
            if found is None:
                raise DubanError(UNKNOWN_SUMMONS)
            return found
        year = which.year or self.clock.now().astimezone(self.clock.tz).year
        found = (await session.exec(select(Summons).where(
            col(Summons.year) == year, col(Summons.number) == which.number))).one_or_none()
        if found is None:
            raise DubanError(NO_SUMMONS, year=year, number=which.number)
        return found

    async def _get(self, table: type[T], row_id: int, missing: str) -> T:
        """The row ``row_id`` of ``table``, or a clear error (``missing``, with ``{id}``)."""
        async with self.sessions() as session:
            found = await session.get(table, row_id)
        if found is None:
            raise DubanError(missing, id=row_id)
        return found

    async def rsvp(self, summons_id: int, answer: str, who: Who) -> Summons:
        """The summoned side's answer (a button: ``summons_id`` is the row)."""
        if answer not in ("accept", "decline"):
            raise DubanError(N_("Answer accept or decline."))
        return await self._update_summons(summons_id, who, summoned=True, rsvp=answer,
                                          rsvp_by=who.telegram_id)

    async def reschedule(self, which: int | SummonsNumber, meets_at: datetime,
                         place: str | None, who: Who) -> Summons:
        if meets_at <= self.clock.now():
            raise DubanError(N_("The new time must be in the future."))
        values: dict[str, Any] = {"meets_at": meets_at, "rsvp": None}
        if place:
            values["place"] = place.strip()[:200]
        return await self._update_summons(which, who, summoned=False, **values)

    async def record_outcome(self, summons_id: int, attendees: str, summary: str,
                             commitments: str, who: Who) -> Summons:
        outcome = {"attendees": attendees, "summary": summary, "commitments": commitments,
                   "recorded_by": who.name}
        return await self._update_summons(summons_id, who, summoned=False, outcome=outcome)

    async def _update_summons(self, which: int | SummonsNumber, who: Who, *, summoned: bool,
                              **values: Any) -> Summons:
        now = self.clock.now()
        async with transaction(self.sessions) as session:
            summons = await self._locate(session, which)
            summons_id = summons.id or 0
            if summoned:
                require_party(who, **_party(summons.party_kind, summons.party))
                if summons.status != SUMMONS_CONFIRMED:  # not sent to them (yet)
                    raise DubanError(NO_SUMMONS, year=summons.year, number=summons.number)
            else:
                require_coordinator(who)
            if summons.outcome is not None:
                raise DubanError(N_("This summons has already taken place."))
            for key, value in values.items():
                setattr(summons, key, value)
            summons.updated_at = now
            session.add(summons)
            await self._case_event(session, summons.case_refs, "summons_updated", now,
                                   {**_numbered(summons), **{k: str(v) for k, v in
                                                             values.items()}})
            await enqueue(session, key=f"summons-update:{summons_id}:{now.isoformat()}",
                          kind=Kind.SUMMONS, recipient_kind="coordinators", recipient="*",
                          now=now, payload={"summons_id": summons_id})
            if not summoned and summons.status == SUMMONS_CONFIRMED:
                await enqueue(session, key=f"summons-update:{summons_id}:{now.isoformat()}:p",
                              kind=Kind.SUMMONS, recipient_kind=summons.party_kind,
                              recipient=summons.party, now=now,
                              payload={"summons_id": summons_id})
        return summons


class NextCheck(NamedTuple):
    """A case read by the sweep, as it was (id, version, chain position), and the day it is
    to be read again (``cases.next_due``)."""

    case_id: int
    version: int
    seq: int
    day: date | None


class EventFacts(NamedTuple):
    """What the rules need of a case's events, folded as they are read (a sweep reads the
    events of thousands of cases: none is kept)."""

    #: departments that confirmed a completing step since the case entered its state
    confirmed: frozenset[str] = frozenset()
    #: an extension was approved (the deadline is an extended one)
    extended: bool = False


async def _event_facts(session: AsyncSession, ids: Sequence[int]) -> dict[int, EventFacts]:
    """Each case's :class:`EventFacts`, from its events in order: the confirmations count
    within the current state only (``workflow.confirmations``: a change of state clears
    them)."""
    found: dict[int, EventFacts] = {}
    connection = await session.connection()
    for start in range(0, len(ids), 500):
        chunk = list(ids[start:start + 500])
        rows = await connection.execute(
            _EVENT_COLUMNS.where(col(Event.case_id).in_(chunk))
            .order_by(col(Event.case_id), col(Event.seq)))
        case_id: int | None = None
        confirmed: set[tuple[str, str]] = set()
        extended = False
        for row in map(_EventRow._make, rows):
            if row.case_id != case_id:
                if case_id is not None:
                    found[case_id] = _folded(confirmed, extended)
                case_id, confirmed, extended = row.case_id, set(), False
            fold_confirmation(confirmed, row)
            extended = extended or row.kind == "approve_extension"
        if case_id is not None:
            found[case_id] = _folded(confirmed, extended)
    return found


def _folded(confirmed: set[tuple[str, str]], extended: bool) -> EventFacts:
    if not confirmed:  # most cases: one object for all of them
        return _EXTENDED_ONLY if extended else NO_EVENTS
    return EventFacts(frozenset(department for kind, department in confirmed
                                if kind in COMPLETING_STEPS), extended)


NO_EVENTS = EventFacts()
_EXTENDED_ONLY = EventFacts(extended=True)
#: Marks a key of :meth:`CalendarService._case_snapshots` among the values it shares.
_ALIKE = object()
_EVENT_COLUMNS = sa_select(col(Event.case_id), col(Event.kind), col(Event.from_state),
                           col(Event.to_state), col(Event.department_key))


class _EventRow(NamedTuple):
    case_id: int
    kind: str
    from_state: str | None
    to_state: str | None
    department_key: str | None


def _to_party_chat(item: DueItem) -> bool:
    """A reminder for a department's or county's own chat. Notices and summonses are
    records, not chatter: they are made on their day whoever has a chat."""
    return (item.recipient_kind in (rules.DEPARTMENT, rules.REGION)
            and item.kind not in (rules.KIND_NOTICE, rules.KIND_SUMMONS))


def _waits_for_chat(item: DueItem, bound: frozenset[tuple[str, str]]) -> bool:
    """A reminder for a party's chat, which it does not have: it is not recorded, so it is
    still due when the chat is bound (and dropped by the rules if by then a later step
    superseded it or the work was done)."""
    return _to_party_chat(item) and (item.recipient_kind, item.recipient) not in bound


async def _laggards_notified(session: AsyncSession, org: Org, today: date) -> list[str]:
    """The counties and parks already named in a 通报 for their laggards in ``today``'s
    month."""
    keys = {rules.laggard_notice_key(r.name, today): r.name for r in org.regions}
    rows = await session.exec(select(col(SentKey.key)).where(col(SentKey.key).in_(list(keys))))
    return sorted(keys[key] for key in rows.all())


async def _bound_parties(session: AsyncSession) -> frozenset[tuple[str, str]]:
    """The departments and counties or parks with an active bound chat, as ``(kind, key)``
    in the rules' words (``department``/key, ``region``/name)."""
    rows = (await session.exec(  # type: ignore[call-overload]
        sa_select(col(ChatBinding.kind), col(ChatBinding.department_key),
                  col(ChatBinding.region_name))
        .where(col(ChatBinding.active).is_(True),
               col(ChatBinding.kind).in_([rules.DEPARTMENT, rules.REGION])))).all()
    return frozenset((kind, department if kind == rules.DEPARTMENT else region)
                     for kind, department, region in rows)


async def _queue_letter(session: AsyncSession, letter: Obligation, recipients: Sequence[str],
                        bound: frozenset[tuple[str, str]], now: datetime) -> int:
    """Queue each file of a confirmed year-end letter for each recipient with a bound chat,
    once (the key names the duty, the recipient and the file). A recipient without a chat
    waits, as reminders do: nothing is queued, and binding its chat queues it
    (:meth:`CalendarService.queue_letters`). Returns how many rows were queued now."""
    files = list(letter.evidence or [])
    queued = 0
    for recipient in recipients:
        if (rules.DEPARTMENT, recipient) not in bound:
            continue
        for number in range(1, len(files) + 1):
            queued += await enqueue(
                session, key=f"duty-letter:{letter.id}:{recipient}:{number}",
                kind=Kind.DUTY_LETTER, recipient_kind=rules.DEPARTMENT, recipient=recipient,
                now=now, payload={"obligation_id": letter.id, "file": number,
                                  "files": len(files)})
    return queued


def _numbered(summons: Summons) -> dict[str, Any]:
    """A summons on its cases' events: the row (internal) and the number people read."""
    return {"summons": summons.id, "summons_year": summons.year,
            "summons_number": summons.number}


def _party(kind: str, party: str) -> dict[str, str]:
    """A notice's, summons's or duty's party as the keyword ``require_party`` takes."""
    return {"department": party} if kind == "department" else {"region": party}


def _deadline_kind(case: Any, events: EventFacts) -> str:
    if case.clause == "九":
        return "exit"
    if case.state == State.SEALED or (case.clause == "八" and case.deadline is not None):
        return "dismantling"
    if events.extended:
        return "extension"
    return "rectification"


async def _queue_digests(session: AsyncSession,
                         digests: Sequence[tuple[tuple[str, str], Sequence[DueItem]]],
                         snap: Snapshot, now: datetime) -> None:
    """Queue one digest per chat (``(kind, name)`` and its items), their payloads written in
    a worker thread (thousands of entries: off the event loop)."""
    if not digests:
        return
    payloads = await asyncio.to_thread(
        lambda: [_digest_payload(items, snap) for _party, items in digests])
    stamp = now.isoformat()
    await enqueue_many(session, [
        {"key": f"digest:{kind}:{name}:{stamp}:{fingerprint}", "kind": Kind.DIGEST,
         "recipient_kind": kind, "recipient": name, "payload": payload}
        for ((kind, name), _items), (payload, fingerprint) in zip(digests, payloads,
                                                                  strict=True)], now)


def _digest_payload(items: Sequence[DueItem], snap: Snapshot) -> tuple[RawJSON, str]:
    """A digest's payload, ``{"items": [entry, …]}``, as its JSON text, and the fingerprint
    of its keys. Written an entry at a time: the entries of a digest of 10,000 items as dicts
    were ~6 MB of the sweep's peak, beside their text."""
    parts: dict[tuple[Any, ...], tuple[str, str]] = {}
    text = ", ".join(_entry_text(item, snap, parts) for item in items)
    return RawJSON(f'{{"items": [{text}]}}'), _fingerprint([item.key for item in items])


def _entry_text(item: DueItem, snap: Snapshot,
                parts: dict[tuple[Any, ...], tuple[str, str]]) -> str:
    """``json_text(_entry(item, snap))``, byte for byte, from the text of the fields
    thousands of entries share (kept in ``parts``): only the key and the references are
    written for each. The fields in ``json_text``'s order: case_refs, deadline, due_at,
    key, then the rest."""
    shared = (item.deadline, item.due_at, item.kind, item.obligation, item.party,
              item.party_kind, item.step, item.wait)
    found = parts.get(shared)
    if found is None:
        entry = _entry(item, snap)
        days = json_text({"deadline": entry["deadline"], "due_at": entry["due_at"]})
        rest = json_text({name: value for name, value in entry.items()
                          if name not in ("case_refs", "deadline", "due_at", "key")})
        found = parts[shared] = (f", {days[1:-1]}, \"key\": ", f", {rest[1:]}")
    days, rest = found
    return (f'{{"case_refs": {json_text(list(item.case_refs))}{days}'
            f'{json_text(item.key)}{rest}')


def _entry(item: DueItem, snap: Snapshot) -> dict[str, Any]:
    obligation_id = None
    if item.obligation:
        obligation_id = snap.obligation_ids.get(f"{item.obligation}:{item.party}")
    return {"key": item.key, "kind": item.kind, "step": item.step,
            "case_refs": item.case_refs, "obligation": item.obligation,  # a JSON array
            "obligation_id": obligation_id, "party": item.party,
            "party_kind": item.party_kind, "deadline": _iso(item.deadline),
            "due_at": _iso(item.due_at), "wait": item.wait}


def _fingerprint(keys: Sequence[str]) -> str:
    """Digests of two sweeps at the same simulated instant must not share a key."""
    return hashlib.sha1("\n".join(sorted(keys)).encode(),
                        usedforsecurity=False).hexdigest()[:12]


@lru_cache(maxsize=4096)  # a sweep's thousands of entries share a few dozen days
def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _subject_of(key: str) -> str:
    """The case ref or obligation id a key is about (its third field)."""
    parts = key.split(":")
    return parts[2] if len(parts) > 2 else key


async def _sent_keys(session: AsyncSession, subjects: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(subjects), 500):
        chunk = list(subjects[start:start + 500])
        rows = await session.exec(select(col(SentKey.key)).where(
            col(SentKey.subject).in_(chunk)))
        found.update(rows.all())
    return found


class _CaseRow(NamedTuple):
    """The columns of a case the rules need (read without building ORM objects: a sweep
    reads thousands), and those that tell whether the row changed since. Plain tuples: the
    snapshots read a dozen columns of each case by name, about a microsecond each on
    SQLAlchemy's rows (~200 ms of a sweep of 10,000 due cases), tens of nanoseconds here."""

    id: int
    ref: str
    region_name: str
    clause: str
    state: str
    deadline: date | None
    due_on: date | None
    created_at: datetime
    paused: bool
    skipped_steps: list[str] | None
    version: int
    chain_seq: int


class _AssignmentRow(NamedTuple):
    id: int
    case_id: int
    department_key: str | None
    status: str
    required: bool
    created_at: datetime


_CASE_COLUMNS = _CaseRow._fields
_ASSIGNMENT_COLUMNS = _AssignmentRow._fields


def _shared(values: dict[Any, Any]) -> Callable[[T], T]:
    """``value`` itself the first time, later the first object equal to it (for immutable
    values: strings, dates, frozen snapshots and their tuples)."""
    def same(value: T) -> T:
        return values.setdefault(value, value)
    return same


async def _case_rows(session: AsyncSession, ids: Sequence[int]) -> list[Any]:
    """The cases' columns (by primary key), in the order of ``ids``."""
    table = Case.__table__  # type: ignore[attr-defined]
    columns = [table.c[name] for name in _CASE_COLUMNS]
    found: dict[int, Any] = {}
    for start in range(0, len(ids), 500):
        rows = await session.exec(sa_select(*columns).where(  # type: ignore[call-overload]
            table.c.id.in_(list(ids[start:start + 500]))))
        found.update((row.id, row) for row in map(_CaseRow._make, rows.all()))
    return [found[case_id] for case_id in ids if case_id in found]


async def _assignments(session: AsyncSession, ids: Sequence[int]) -> dict[int, list[Any]]:
    """The cases' assignments (columns only), in the order they were made."""
    table = Assignment.__table__  # type: ignore[attr-defined]
    columns = [table.c[name] for name in _ASSIGNMENT_COLUMNS]
    grouped: dict[int, list[Any]] = defaultdict(list)
    for start in range(0, len(ids), 500):
        chunk = list(ids[start:start + 500])
        rows = await session.exec(sa_select(*columns)  # type: ignore[call-overload]
                                  .where(table.c.case_id.in_(chunk)).order_by(table.c.id))
        for row in map(_AssignmentRow._make, rows.all()):
            grouped[row.case_id].append(row)
    return grouped


async def _write_next_due(session: AsyncSession, checks: Sequence[NextCheck]) -> None:
    """Each case's next due day, unless the case changed since it was read (a change resets
    the day to "now" in its own transaction; that reset must win)."""
    await session.flush()  # as the ORM's execution would, before the Core statements
    for start in range(0, len(checks), NEXT_DUE_BATCH):
        await queries.set_next_due(session, [
            (check.case_id, check.version, check.seq, check.day)
            for check in checks[start:start + NEXT_DUE_BATCH]])

