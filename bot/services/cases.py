"""Case services: create and import cases, route them, take workflow steps, hand back, re-route.

Every public method is one transaction: it either writes the case, its assignments and its
event together, or raises a :class:`DubanError` and writes nothing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.casefile import CaseInput
from bot.core.clock import Clock, local_today
from bot.core.i18n import N_, DubanError
from bot.core.matching import search_names
from bot.core.org import EscalationSettings, Org, ReviewSettings, RoutingSettings
from bot.core.policy.catalog import Catalog
from bot.core.routing import ACTIVE_STATUSES, AssignmentStatus, PlannedAssignment, route
from bot.core.workflow import (
    CLOSED_STATES,
    LATE_STATES,
    Actor,
    CaseFacts,
    Measure,
    Outcome,
    Review,
    State,
    StepInput,
    Terms,
    clause_terms,
    confirmations,
    decide,
    under_review,
)
from bot.services.access import (
    SYSTEM,
    Reader,
    Who,
    may_read_case,
    reader_of,
    require_coordinator,
    require_department,
)
from bot.services.outbox import Kind, enqueue, enqueue_many
from bot.services.tasks import open_measures
from models import queries
from models.db import in_transaction, transaction, update_in_hand
from models.tables import Assignment, Case, Event
from scheduler import rules
from scheduler.workdays import WorkCalendar

IMPORT_BATCH = 500
#: How many cases one transaction of :meth:`CaseService.take_system_step` writes, and the
#: steps it takes so (those that write the case row, an event and a card refresh only).
SYSTEM_BATCH = 500
SYSTEM_BATCH_STEPS = frozenset({"mark_overdue"})


@dataclass(frozen=True)
class CaseView:
    case: Case
    assignments: tuple[Assignment, ...]
    events: tuple[Event, ...]

    @property
    def required_departments(self) -> frozenset[str]:
        return required_departments(self.assignments)

    @property
    def unresolved_groups(self) -> tuple[Assignment, ...]:
        return tuple(a for a in self.assignments if a.status == AssignmentStatus.UNRESOLVED)

    @property
    def returned(self) -> tuple[Assignment, ...]:
        return tuple(a for a in self.assignments if a.status == AssignmentStatus.RETURNED)

    @property
    def needs_coordinator(self) -> bool:
        """In the coordinators' queue: a group to resolve, a hand-back, or nobody to act."""
        if State(self.case.state) in CLOSED_STATES:
            return False
        return bool(self.unresolved_groups or self.returned or not self.required_departments)


@dataclass(frozen=True)
class ImportReport:
    created: tuple[str, ...]
    unchanged: tuple[str, ...]  # refs already present: importing again changes nothing


@dataclass(frozen=True)
class HeldCards:
    """A case's cards for the handler of a press to edit to ``view``; their outbox row
    (``key``) is queued claimed by this process (``CaseService._refresh_cards``)."""

    key: str
    view: CaseView


@dataclass(frozen=True)
class StepResult:
    view: CaseView
    outcome: Outcome


def required_departments(assignments: Sequence[Assignment]) -> frozenset[str]:
    return frozenset(
        a.department_key for a in assignments
        if a.required and a.department_key and a.status in ACTIVE_STATUSES
    )


@dataclass
class CaseService:
    sessions: async_sessionmaker[AsyncSession]
    catalog: Catalog
    clock: Clock
    #: Working days and the org's waits, for each case's due day (``Case.due_on``).
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    org: Callable[[], Awaitable[Org]] | None = None
    _max_retries: int = field(default=3, repr=False)
    _immediate: frozenset[str] | None = field(default=None, repr=False)
    _terms: dict[str, Terms] = field(default_factory=dict, repr=False)

    # -- creating -------------------------------------------------------------------------

    async def import_cases(
        self,
        inputs: Sequence[CaseInput],
        who: Who,
        progress: Callable[[int], None] | None = None,
        *,
        own_region: bool = False,
    ) -> ImportReport:
        """Create the cases in ``inputs`` that do not exist yet, all in one transaction.

        Rows are written in batches (cases first, for their ids; then their assignments and
        first events), so a large file costs a few statements per batch, not per row.
        """
        if not (own_region and who.role == "liaison" and who.region
                and all(item.region == who.region for item in inputs)):
            require_coordinator(who)
        settings = await self._routing()
        by_kind = {(c, industry): route(self.catalog, c, industry, settings)
                   for c, industry in {(item.clauses, item.industry) for item in inputs}}
        plans = {item.ref: by_kind[(item.clauses, item.industry)] for item in inputs}
        created: list[str] = []
        async with transaction(self.sessions) as session:
            existing = await queries.existing_refs(session, refs=[i.ref for i in inputs])
            fresh: list[CaseInput] = []
            for item in inputs:
                if item.ref not in existing:
                    fresh.append(item)
                    existing.add(item.ref)
            done = len(inputs) - len(fresh)
            for start in range(0, len(fresh), IMPORT_BATCH):
                batch = fresh[start:start + IMPORT_BATCH]
                await self._create_batch(session, batch, plans, who)
                created.extend(item.ref for item in batch)
                done += len(batch)
                if progress is not None:
                    progress(done)
        made = set(created)
        return ImportReport(created=tuple(created),
                            unchanged=tuple(i.ref for i in inputs if i.ref not in made))

    async def create_case(self, item: CaseInput, who: Who, *,
                          own_region: bool = False) -> CaseView:
        """``own_region``: a liaison of the case's county or park may open it too (a problem
        its joint inspection found, ``bot.services.inspections``); else coordinators only."""
        report = await self.import_cases([item], who, own_region=own_region)
        if not report.created:
            raise DubanError(N_("A case with reference {ref} already exists."), ref=item.ref)
        return await self.get(item.ref)

    async def _create_batch(self, session: AsyncSession, items: Sequence[CaseInput],
                            plans: Mapping[str, Sequence[PlannedAssignment]], who: Who) -> None:
        """Bulk-insert the cases, read their ids back by ref, bulk-insert the rest.

        (ORM unit-of-work inserts would go row by row on SQLite, which cannot return ids for
        a multi-row INSERT in a guaranteed order.)
        """
        now = self.clock.now()
        deadlines = {item.ref: self.terms(item.clauses[0]).initial_deadline(item.registered_on)
                     for item in items}
        await session.exec(insert(Case), params=[
            {
                "ref": item.ref, "region_name": item.region, "enterprise": item.enterprise,
                "industry": item.industry, "clause": item.clauses[0],
                "clauses": list(item.clauses), "capacity": item.capacity, "unit": item.unit,
                "equipment": item.equipment, "registered_on": item.registered_on,
                "description": item.description, "state": State.ROUTED.value,
                "deadline": deadlines[item.ref], "due_on": deadlines[item.ref],
                "created_at": now, "updated_at": now, "version": 1,
            }
            for item in items
        ])
        ids = await queries.case_ids(session, refs=[item.ref for item in items])
        assignments: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for item in items:
            plan = plans[item.ref]
            assignments.extend(
                {"case_id": ids[item.ref], "target": p.target, "department_key": p.department,
                 "as_written": p.as_written, "role": p.role, "required": p.required,
                 "status": p.status.value, "clause": p.clause, "tag_raw": p.tag_raw,
                 "created_at": now}
                for p in plan
            )
            deadline = deadlines[item.ref]
            events.append({
                "case_id": ids[item.ref], "seq": 1, "at": now, "kind": "created",
                "from_state": None, "to_state": State.ROUTED.value, "actor_id": who.telegram_id,
                "actor_name": who.name, "actor_role": who.role, "department_key": None,
                "chat_id": who.chat_id,
                "payload": {"row": item.row,
                            "deadline": deadline.isoformat() if deadline else None,
                            "routed_to": sorted(p.target for p in plan),
                            **({"evidence": list(item.evidence)} if item.evidence else {})},
            })
        if assignments:
            await session.exec(insert(Assignment), params=assignments)
        await queries.insert_events(session, events)  # chained (models.chain)
        messages: list[dict[str, Any]] = []
        for item in items:
            case_id = ids[item.ref]
            messages.append(_card_row(case_id, "region", item.region))
            for p in plans[item.ref]:
                if p.department:
                    messages.append(_card_row(case_id, "department", p.department))
                elif p.status is AssignmentStatus.UNRESOLVED:
                    messages.append({"key": f"group:{case_id}:{p.as_written}", "kind": Kind.GROUP,
                                     "recipient_kind": "coordinators", "recipient": "*",
                                     "payload": {"case_id": case_id, "group": p.as_written}})
        await enqueue_many(session, messages, now)

    def terms(self, clause: str) -> Terms:
        """The periods of ``clause`` as the loaded catalog states them (6 months to rectify,
        an extension of at most 3 months, unless a reviewed catalog says otherwise)."""
        if clause not in self._terms:
            self._terms[clause] = clause_terms(self.catalog, clause)
        return self._terms[clause]

    # -- reading --------------------------------------------------------------------------

    async def get(self, ref: str) -> CaseView:
        async with self.sessions() as session:
            return await self._view(session, ref)

    async def find(self, *, region: str | None = None, states: Sequence[str] | None = None,
                   clause: str | None = None, department: str | None = None,
                   overdue_on: date | None = None) -> list[Case]:
        """Cases by region, states, clause and department; with ``overdue_on``, the cases
        overdue on that day as well (whatever their state)."""
        overdue = (queries.overdue_condition([s.value for s in LATE_STATES], overdue_on)
                   if overdue_on is not None else None)
        async with self.sessions() as session:
            return await queries.list_cases(session, region=region, states=states,
                                            clause=clause, department=department,
                                            overdue=overdue)

    async def find_refs(self, refs: Sequence[str]) -> list[Case]:
        """The cases with these references (in reference order)."""
        async with self.sessions() as session:
            return await queries.cases_by_refs(session, refs=refs)

    async def enterprise_names(self, refs: Sequence[str]) -> dict[str, str]:
        """Each case's enterprise by reference (the cases a digest names)."""
        async with self.sessions() as session:
            return await queries.enterprise_names(session, refs)

    async def search(self, query: str, reader: Who | Reader) -> list[Case]:
        """The cases whose enterprise ``query`` could mean (part of the name, its pinyin, a
        near miss: :func:`bot.core.matching.search_names`), among the cases ``reader`` may
        read (:func:`bot.services.access.may_read_case`); best match first, then by
        registration. Cases the reader may not read are never looked at for a match, so
        the answer tells nothing about them."""
        found = reader_of(reader)
        async with self.sessions() as session:
            if found.everything:
                candidates = await queries.list_cases(session)
            else:
                by_id: dict[int | None, Case] = {}
                for department in sorted(found.departments):
                    for case in await queries.list_cases(session, department=department):
                        by_id[case.id] = case
                for region in sorted(found.regions):
                    for case in await queries.list_cases(session, region=region):
                        by_id[case.id] = case
                candidates = sorted(by_id.values(), key=lambda c: (c.registered_on, c.ref))
            names = search_names(query, (c.enterprise for c in candidates))
            rank = {name: i for i, name in enumerate(names)}
            readable: list[Case] = []
            for case in candidates:
                if case.enterprise not in rank or case.id is None:
                    continue
                assignments = await queries.assignments_for(session, case_id=case.id)
                if may_read_case(found, case.region_name,
                                 (a.department_key for a in assignments)):
                    readable.append(case)
        return sorted(readable, key=lambda c: rank[c.enterprise])  # stable: registration order

    async def coordinator_queue(self) -> list[CaseView]:
        """Open cases that wait for a coordinator (groups to resolve, hand-backs)."""
        async with self.sessions() as session:
            ids = await queries.queue_case_ids(
                session, states=open_states(),
                waiting=[AssignmentStatus.UNRESOLVED.value, AssignmentStatus.RETURNED.value],
                active=[s.value for s in ACTIVE_STATUSES])
            views = [await self._view(session, case_id) for case_id in ids]
        return [v for v in views if v.needs_coordinator]

    async def get_by_id(self, case_id: int) -> CaseView:
        async with self.sessions() as session:
            return await self._view(session, case_id)

    async def _view(self, session: AsyncSession, key: str | int) -> CaseView:
        """A case with its assignments and events, by reference or (from a button) by id."""
        case = (await session.get(Case, key) if isinstance(key, int)
                else await queries.case_by_ref(session, ref=key))
        if case is None:
            raise DubanError(N_("No case with reference {ref}."),
                             ref=f"#{key}" if isinstance(key, int) else key)
        assert case.id is not None
        return CaseView(
            case=case,
            assignments=tuple(await queries.assignments_for(session, case_id=case.id)),
            events=tuple(await queries.events_for(session, case_id=case.id)),
        )

    # -- workflow -------------------------------------------------------------------------

    async def take_step(self, ref: str | int, action: StepInput, who: Who, *,
                        read: CaseView | None = None) -> StepResult:
        """Take one workflow step on the case (by reference, or id); records an event whether
        it completes or waits for other departments.

        ``read``: the case as the caller has just read it in the unit of work this step joins
        (a button's press), so it is not read again; outside a unit of work it is ignored (the
        step reads the case in its own transaction, and again on each retry)."""
        known = read if in_transaction() else None
        return await self._retrying(
            lambda session: self._take_step(session, ref, action, who, known))

    async def _take_step(self, session: AsyncSession, ref: str | int, action: StepInput,
                         who: Who, known: CaseView | None = None) -> StepResult:
        view = known if known is not None else await self._view(session, ref)
        case = view.case
        if action.actor is Actor.DEPARTMENT:
            require_department(who, action.department or "")
        if action.actor is Actor.COORDINATOR:
            require_coordinator(who)
        facts = self._facts(view, await self._reviews_closings())
        outcome = decide(facts, action, local_today(self.clock))
        values = self._step_values(view, action, outcome)
        if outcome.step.name == "accept" and action.department is not None:
            for assignment in view.assignments:
                if assignment.department_key == action.department:
                    assignment.status = AssignmentStatus.ACCEPTED.value
                    session.add(assignment)
        # the case row and its event in two statements, the previous event's hash as read
        # with the case; a concurrent writer fails the version check or the unique (case, seq)
        event = await queries.step_case(
            session, case=case, values=self._with_due_day(
                case, values, local_today(self.clock), await self._escalation()),
            event={"case_id": case.id, "seq": len(view.events) + 1, "at": self.clock.now(),
                   **_event_fields(
                       who, kind=outcome.step.name, from_state=outcome.from_state,
                       to_state=outcome.to_state if outcome.completes else None,
                       department=action.department, payload=_step_payload(action, outcome))},
            prev_hash=view.events[-1].hash if view.events else None)
        if event is None:
            raise _Conflict()
        stepped = CaseView(case, view.assignments, (*view.events, event))
        await self._refresh_cards(session, case, stepped)
        if outcome.completes and outcome.step.name == "request_extension":
            await enqueue(session, key=f"extension:{case.id}:{event.seq}", kind=Kind.EXTENSION,
                          recipient_kind="coordinators", recipient="*", now=self.clock.now(),
                          payload={"case_id": case.id, "department": action.department,
                                   "months": action.months, "reason": action.reason})
        if outcome.completes and outcome.step.name in ("approve_extension", "deny_extension"):
            await enqueue(session, key=f"extension-decided:{case.id}:{event.seq}",
                          kind=Kind.EXTENSION_DECIDED, recipient_kind="case",
                          recipient=str(case.id), now=self.clock.now(),
                          payload={"case_id": case.id,
                                   "approved": outcome.step.name == "approve_extension",
                                   "reason": action.reason,
                                   "deadline": outcome.deadline.isoformat()
                                   if outcome.deadline else None})
        await self._announce_review(session, case, outcome, action, event)
        await self._open_measures(session, case, outcome)
        return StepResult(stepped, outcome)

    def _step_values(self, view: CaseView, action: StepInput,
                     outcome: Outcome) -> dict[str, Any]:
        """What a step writes to the case row (before its due day, :meth:`_write_case`)."""
        values: dict[str, Any] = {"updated_at": self.clock.now()}
        if outcome.completes:
            values.update(state=outcome.to_state.value, deadline=outcome.deadline)
            if outcome.step.name == "request_extension":
                values["pending_extension_months"] = action.months
            if outcome.step.name in ("approve_extension", "deny_extension"):
                values["pending_extension_months"] = None
            if outcome.to_state in CLOSED_STATES:
                values["closed_at"] = self.clock.now()
            capacity = (_reviewed_capacity(view) if outcome.step.review is Review.CLOSE
                        else action.capacity)
            if outcome.to_state is State.EXITED and capacity is not None:
                values["exited_capacity"] = Decimal(str(capacity))
        return values

    async def take_system_step(self, ids: Sequence[int], name: str) -> list[str]:
        """The system's step ``name`` (``mark_overdue``) on many cases, as :meth:`take_step`
        takes it on each (the same decision, row values, event and card refresh), written
        in one transaction per :data:`SYSTEM_BATCH` cases: on the day a batch's deadline
        passes the sweep marks thousands of cases, and a transaction each cost ~40 ms a
        case. A case the step does not apply to is left as it is (take_step refuses it); a
        batch another writer changed meanwhile is read again, and after the last attempt
        its cases take the step one by one. The references of the cases stepped."""
        if name not in SYSTEM_BATCH_STEPS:
            raise ValueError(f"not a step taken in batches: {name}")
        action = StepInput(name, Actor.SYSTEM)
        stepped: list[str] = []
        if not ids:
            return stepped
        review, settings = await self._reviews_closings(), await self._escalation()
        for start in range(0, len(ids), SYSTEM_BATCH):
            chunk = list(ids[start:start + SYSTEM_BATCH])
            for _attempt in range(self._max_retries):
                try:
                    async with transaction(self.sessions) as session:
                        stepped += await self._system_steps(session, chunk, action, review,
                                                            settings)
                    break
                except (_Conflict, IntegrityError):
                    continue
            else:  # contended every time: one case at a time, each with its own retries
                for case_id in chunk:
                    try:
                        done = await self.take_step(case_id, action, SYSTEM)
                    except DubanError:
                        continue
                    stepped.append(done.view.case.ref)
        return stepped

    async def _system_steps(self, session: AsyncSession, ids: Sequence[int],
                            action: StepInput, review: bool,
                            settings: EscalationSettings) -> list[str]:
        views = await self._views(session, ids)
        today, now = local_today(self.clock), self.clock.now()
        groups: dict[tuple[tuple[str, Any], ...], list[Case]] = defaultdict(list)
        events: list[dict[str, Any]] = []
        heads: dict[int, tuple[int, str | None]] = {}
        refreshed: list[dict[str, Any]] = []
        stepped: list[Any] = []  # in the order asked for
        for view in views:
            case = view.case
            assert case.id is not None
            try:
                outcome = decide(self._facts(view, review), action, today)
            except DubanError:  # not this case's step now (take_step would refuse it)
                continue
            if not outcome.completes:  # a system step never waits for departments
                continue
            values = self._with_due_day(case, self._step_values(view, action, outcome),
                                        today, settings)
            groups[tuple(sorted(values.items()))].append(case)
            stepped.append(case)
            seq = len(view.events) + 1
            heads[case.id] = (seq - 1, view.events[-1].hash if view.events else None)
            events.append({"case_id": case.id, "seq": seq, "at": now, **_event_fields(
                SYSTEM, kind=outcome.step.name, from_state=outcome.from_state,
                to_state=outcome.to_state, department=None,
                payload=_step_payload(action, outcome))})
            refreshed.append(_refresh_row(case.id, case.version + 1))
        for items, cases in groups.items():
            if not await queries.bump_case_versions(session, cases=cases, values=dict(items)):
                raise _Conflict()
        await queries.insert_events(session, events, heads=heads)
        await enqueue_many(session, refreshed, now)
        return [case.ref for case in stepped]

    async def _views(self, session: AsyncSession, ids: Sequence[int]) -> list[CaseView]:
        """Several cases with their assignments and events (three reads), in ``ids``' order;
        an id with no case is left out."""
        cases, assignments, events = await queries.cases_with_records(session, ids=ids)
        return [CaseView(cases[i], tuple(assignments.get(i, ())), tuple(events.get(i, ())))
                for i in ids if i in cases]

    async def _open_measures(self, session: AsyncSession, case: Case, outcome: Outcome) -> None:
        """The measures that follow the step (the catalog's ``measures``): accepted failing
        capacity, an exit, still failing after rectifying."""
        if not outcome.completes or self.org is None:
            return
        event = ("exited" if outcome.to_state is State.EXITED
                 else "failing" if outcome.step.name == "report_failed"
                 else "accepted" if outcome.step.name == "accept" else None)
        if event is not None:
            await open_measures(session, self.catalog, await self.org(), case, event,
                                local_today(self.clock), self.clock.now())

    async def _announce_review(self, session: AsyncSession, case: Case, outcome: Outcome,
                               action: StepInput, event: Event) -> None:
        """A closing confirmed goes to the coordinators to review (办结 or 退回重办); work sent
        back goes to the departments' chats with the reason."""
        if not outcome.completes:
            return
        if outcome.to_state is State.REVIEW and outcome.from_state is not State.REVIEW:
            await enqueue(session, key=f"review:{case.id}:{event.seq}", kind=Kind.REVIEW,
                          recipient_kind="coordinators", recipient="*", now=self.clock.now(),
                          payload={"case_id": case.id, "step": outcome.step.name})
        if outcome.step.review is Review.SEND_BACK:
            await enqueue(session, key=f"sent-back:{case.id}:{event.seq}", kind=Kind.SENT_BACK,
                          recipient_kind="case", recipient=str(case.id), now=self.clock.now(),
                          payload={"case_id": case.id, "reason": action.reason})

    async def _routing(self) -> RoutingSettings:
        """Who must confirm by industry (``[routing]`` in the org file); the defaults without
        an organisation."""
        if self.org is None:
            return RoutingSettings()
        try:
            return (await self.org()).routing
        except DubanError:  # no organisation loaded yet: the defaults
            return RoutingSettings()

    async def _reviews_closings(self) -> bool:
        """Whether the organisation reviews closings (``[review] before_closing``, on by
        default). A service without an organisation (tools, tests of other parts) closes at
        once, as before reviews existed."""
        if self.org is None:
            return False
        try:
            return (await self.org()).review.before_closing
        except DubanError:  # no organisation loaded yet: the default
            return ReviewSettings().before_closing

    async def _refresh_cards(self, session: AsyncSession, case: Case,
                             stepped: CaseView | None = None) -> None:
        """Queue the edit of every card of ``case`` to its current version. During a button's
        press (whose handler edits the cards itself, from ``stepped``, the view the step
        holds), the row is queued claimed and held for the handler; should it not get to the
        edit, the claim is given back or expires, and the delivery edits them."""
        now, hand = self.clock.now(), update_in_hand()
        held = stepped is not None and hand is not None and hand.sends_cards
        row = _refresh_row(case.id, case.version)
        if await enqueue(session, now=now, claimed_at=now if held else None, **row) and held:
            assert hand is not None and stepped is not None
            hand.hold(HeldCards(str(row["key"]), stepped))

    def _facts(self, view: CaseView, review: bool = False) -> CaseFacts:
        """What the workflow needs, derived from the case and its events since it entered
        its current state (``review``: the organisation reviews closings)."""
        state = State(view.case.state)
        measures: set[Measure] = set()
        counts: Counter[str] = Counter()
        for event in view.events:
            counts[event.kind] += 1
            if event.kind.startswith("measure:"):
                measures.add(Measure(event.kind.split(":", 1)[1]))
        return CaseFacts(
            clause=view.case.clause, state=state, deadline=view.case.deadline,
            required_departments=view.required_departments,
            confirmed=confirmations(view.events),
            measures_done=frozenset(measures), step_counts=dict(counts),
            pending_extension_months=view.case.pending_extension_months,
            extension_max_months=self.terms(view.case.clause).extension_max_months,
            review_before_closing=review,
            under_review=under_review(view.events) if state is State.REVIEW else None,
        )

    # -- hand-back, re-routing, group resolution -------------------------------------------

    async def add_note(self, ref: str | int, note: str, who: Who) -> CaseView:
        """A note on the case's record (a reply to its card): who wrote what, when."""
        note = note.strip()
        if not note:
            raise DubanError(N_("The note is empty."))
        if len(note) > 1000:
            raise DubanError(N_("The text is too long: at most {limit} characters."), limit=1000)
        if who.role not in ("coordinator", "console", "liaison"):
            raise DubanError(N_("Only coordinators and liaisons can add notes to a case."))

        async def run(session: AsyncSession) -> CaseView:
            view = await self._view(session, ref)
            await self._touch(session, view.case)
            await self._record(session, view.case, who, kind="note", department=who.department,
                               payload={"note": note})
            return await self._view(session, view.case.id or 0)

        return await self._retrying(run)

    async def hand_back(self, ref: str, department: str, reason: str, who: Who) -> CaseView:
        """A department says the case is not its to handle (非本部门职责)."""
        reason = reason.strip()
        if not reason:
            raise DubanError(N_("Say why the case is not your department's."))
        if len(reason) > 1000:
            raise DubanError(N_("The text is too long: at most {limit} characters."), limit=1000)
        require_department(who, department)

        async def run(session: AsyncSession) -> CaseView:
            view = await self._view(session, ref)
            assignment = _active_assignment(view, department)
            if State(view.case.state) in CLOSED_STATES:
                raise DubanError(N_("The case is closed."))
            assignment.status = AssignmentStatus.RETURNED.value
            assignment.reason = reason
            session.add(assignment)
            await self._touch(session, view.case)
            event = await self._record(session, view.case, who, kind="handed_back",
                                       department=department, payload={"reason": reason})
            await self._settle_acceptance(session, ref)
            await self._refresh_cards(session, view.case)
            await enqueue(session, key=f"handed-back:{view.case.id}:{event.seq}",
                          kind=Kind.HANDED_BACK, recipient_kind="coordinators", recipient="*",
                          now=self.clock.now(), payload={"case_id": view.case.id,
                                                         "department": department,
                                                         "reason": reason})
            return await self._view(session, ref)

        return await self._retrying(run)

    async def reroute_to(self, case_id: int, department: str, who: Who) -> CaseView:
        """A coordinator's re-route button: the case goes to ``department``, resolving the
        first by-duty group of its tags if one still waits."""
        require_coordinator(who)
        view = await self.get_by_id(case_id)
        group = next((g.as_written for g in view.unresolved_groups), None)
        return await self.reroute(view.case.ref, [department], who, group=group)

    async def reroute(self, ref: str, departments: Sequence[str], who: Who,
                      *, group: str | None = None, reason: str | None = None) -> CaseView:
        """A coordinator routes the case to ``departments`` (all required from now on).

        With ``group``, resolves that by-duty group of the case's tags into the departments.
        """
        require_coordinator(who)
        wanted = list(dict.fromkeys(d for d in departments if d))
        if not wanted:
            raise DubanError(N_("Name at least one department."))

        async def run(session: AsyncSession) -> CaseView:
            view = await self._view(session, ref)
            if State(view.case.state) in CLOSED_STATES:
                raise DubanError(N_("The case is closed."))
            assert view.case.id is not None
            source = None
            if group is not None:
                source = next((a for a in view.unresolved_groups if a.as_written == group), None)
                if source is None:
                    raise DubanError(N_("The case has no unresolved group {group}."),
                                     group=group)
                source.status = AssignmentStatus.RESOLVED.value
                session.add(source)
            now = self.clock.now()
            by_target = {a.target: a for a in view.assignments}
            for key in wanted:
                existing = by_target.get(key)
                if existing is not None:
                    if existing.status in ACTIVE_STATUSES and existing.required:
                        continue
                    existing.status = AssignmentStatus.PENDING.value
                    existing.required = True
                    existing.reason = None
                    session.add(existing)
                    continue
                session.add(Assignment(
                    case_id=view.case.id, target=key, department_key=key, as_written=key,
                    role=source.role if source else "responsible", required=True,
                    status=AssignmentStatus.PENDING.value,
                    clause=source.clause if source else view.case.clause,
                    tag_raw=source.tag_raw if source else "", created_at=now,
                ))
            await self._touch(session, view.case)
            await self._record(session, view.case, who,
                               kind="group_resolved" if group else "rerouted",
                               payload={"departments": wanted, "group": group,
                                        "reason": reason})
            await enqueue_many(session, [_card_row(view.case.id, "department", key)
                                         for key in wanted], self.clock.now())
            await self._refresh_cards(session, view.case)
            return await self._view(session, ref)

        return await self._retrying(run)

    async def _settle_acceptance(self, session: AsyncSession, ref: str) -> None:
        """When a hand-back leaves only departments that have all accepted, the case moves on
        (the joint acceptance would otherwise wait for a department that has left)."""
        view = await self._view(session, ref)
        if view.case.state != State.ROUTED:
            return
        active = [a for a in view.assignments
                  if a.required and a.department_key and a.status in ACTIVE_STATUSES]
        if active and all(a.status == AssignmentStatus.ACCEPTED for a in active):
            await self._write_case(session, view.case, {"state": State.ACCEPTED.value,
                                                         "updated_at": self.clock.now()})
            await self._record(session, view.case, SYSTEM, kind="accept",
                               from_state=State.ROUTED, to_state=State.ACCEPTED,
                               payload={"settled_after": "handed_back"})

    # -- plumbing -------------------------------------------------------------------------

    async def _touch(self, session: AsyncSession, case: Case) -> None:
        await self._write_case(session, case, {"updated_at": self.clock.now()})

    async def _write_case(self, session: AsyncSession, case: Case,
                          values: dict[str, Any]) -> None:
        values = self._with_due_day(case, values, local_today(self.clock),
                                    await self._escalation())
        if not await queries.bump_case_version(session, case=case, values=values):
            raise _Conflict()

    def _with_due_day(self, case: Case, values: dict[str, Any], today: date,
                      settings: EscalationSettings) -> dict[str, Any]:
        """``values`` with the case's new due day when its state or deadline changes (a
        closed case keeps its last due day)."""
        if "state" not in values and "deadline" not in values:
            return values
        state = values.get("state", case.state)
        due = self._due_on(case.clause, state, values.get("deadline", case.deadline), today,
                           settings)
        if due is not None or State(state) not in CLOSED_STATES:
            return {**values, "due_on": due}
        return values

    async def due_on(self, clause: str, state: str, deadline: date | None,
                     since: date) -> date | None:
        """The day a case in ``state`` since ``since`` is due (see :func:`rules.due_on`)."""
        return self._due_on(clause, state, deadline, since, await self._escalation())

    def _due_on(self, clause: str, state: str, deadline: date | None, since: date,
                settings: EscalationSettings) -> date | None:
        if self._immediate is None:
            self._immediate = rules.immediate_clauses(self.catalog)
        return rules.due_on(clause, state, deadline, since, self.calendar, settings,
                            self._immediate)

    async def _escalation(self) -> EscalationSettings:
        """The organisation's escalation settings; the defaults before one is loaded."""
        if self.org is not None:
            try:
                return (await self.org()).escalation
            except DubanError:  # no organisation loaded yet: the defaults
                pass
        return EscalationSettings()

    async def _record(self, session: AsyncSession, case: Case, who: Who, *, kind: str,
                      from_state: State | None = None, to_state: State | None = None,
                      department: str | None = None, payload: dict[str, Any] | None = None,
                      seq: int | None = None) -> Event:
        """Append the case's next event (``seq`` when the caller knows it)."""
        assert case.id is not None
        return await queries.append_event(
            session, case_id=case.id, seq=seq, at=self.clock.now(), **_event_fields(
                who, kind=kind, from_state=from_state, to_state=to_state,
                department=department, payload=payload))

    async def _retrying(self, work: Callable[[AsyncSession], Any]) -> Any:
        """Run ``work`` in a transaction; on a concurrent write, start over on fresh data."""
        attempts = 1 if in_transaction() else self._max_retries  # joined: cannot start over
        for attempt in range(attempts):
            try:
                async with transaction(self.sessions) as session:
                    return await work(session)
            except (_Conflict, IntegrityError):
                if attempt == attempts - 1:
                    raise DubanError(
                        N_("The case changed while you were acting on it; try again.")
                    ) from None
        raise AssertionError("unreachable")


def _refresh_row(case_id: int | None, version: int) -> dict[str, Any]:
    """The outbox row that edits every card of a case to its ``version``."""
    return {"key": f"refresh:{case_id}:{version}", "kind": Kind.REFRESH,
            "recipient_kind": "case", "recipient": str(case_id),
            "payload": {"case_id": case_id}}


def _event_fields(who: Who, *, kind: str, from_state: State | None, to_state: State | None,
                  department: str | None, payload: dict[str, Any] | None) -> dict[str, Any]:
    """An event's columns besides its case, number and time (who took the step, and what)."""
    return {"kind": kind, "from_state": from_state.value if from_state else None,
            "to_state": to_state.value if to_state else None,
            "actor_id": who.telegram_id, "actor_name": who.name, "actor_role": who.role,
            "department_key": department, "chat_id": who.chat_id, "payload": payload or {}}


def _card_row(case_id: int | None, recipient_kind: str, recipient: str) -> dict[str, Any]:
    return {"key": f"card:{case_id}:{recipient_kind}:{recipient}", "kind": Kind.CARD,
            "recipient_kind": recipient_kind, "recipient": recipient,
            "payload": {"case_id": case_id}}


class _Conflict(Exception):
    """Another writer changed the case between our read and our write."""


def _active_assignment(view: CaseView, department: str) -> Assignment:
    for assignment in view.assignments:
        if assignment.department_key == department and assignment.status in ACTIVE_STATUSES:
            return assignment
    raise DubanError(N_("Department {department} has no active part in case {ref}."),
                     department=department, ref=view.case.ref, departments=("department",))


def _reviewed_capacity(view: CaseView) -> float | None:
    """The capacity figure of the confirmation a case in review waits on (its exit closes
    with it)."""
    for event in reversed(view.events):
        if event.to_state == State.REVIEW and event.from_state != State.REVIEW:
            value = (event.payload or {}).get("capacity")
            return float(value) if value is not None else None
    return None


def _step_payload(action: StepInput, outcome: Outcome) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    if action.evidence:
        payload["evidence"] = list(action.evidence)
    if action.on is not None:
        payload["date"] = action.on.isoformat()
    if action.capacity is not None:
        payload["capacity"] = action.capacity
    for key in ("note", "reason", "months"):
        value = getattr(action, key)
        if value is not None:
            payload[key] = value
    if outcome.deadline is not None:
        payload["deadline"] = outcome.deadline.isoformat()
    if not outcome.completes:
        payload["waiting_for"] = sorted(outcome.waiting_for)
    return payload


def open_states() -> list[str]:
    return [s.value for s in State if s not in CLOSED_STATES]


def is_overdue(case: Case, today: date) -> bool:
    """Whether the case is overdue (the one definition: :func:`rules.is_overdue`)."""
    return rules.is_overdue(case.state, case.due_on, today)
