"""The database tables.

The organisation (departments, regions, people, settings) is loaded from the org file; cases,
their assignments and their events are duban's own records. Events are append-only: the
migration installs triggers that refuse UPDATE and DELETE on ``events``. Each case's events form
a hash chain (``models.chain``) whose head the case row keeps.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlmodel import Field, SQLModel

from models.types import JSONText, UTCDateTime

#: ``cases.next_due`` of a case that changed: the next sweep looks at it (any day works that
#: is before every sweep; this one reads as what it is).
DUE_NOW = date(1970, 1, 1)


class Department(SQLModel, table=True):
    __tablename__ = "departments"

    key: str = Field(sa_column=Column(String(64), primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    name_en: str | None = Field(default=None, sa_column=Column(String(200)))
    aliases: list[str] = Field(default_factory=list, sa_column=Column(JSONText, nullable=False))
    leader: str | None = Field(default=None, sa_column=Column(String(200)))


class Region(SQLModel, table=True):
    """A county (县/市) or an industrial park (园区)."""

    __tablename__ = "regions"

    name: str = Field(sa_column=Column(String(100), primary_key=True))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    aliases: list[str] = Field(default_factory=list, sa_column=Column(JSONText, nullable=False))
    leader: str | None = Field(default=None, sa_column=Column(String(200)))


class Person(SQLModel, table=True):
    __tablename__ = "people"

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    role: str = Field(sa_column=Column(String(32), nullable=False))
    department_key: str | None = Field(
        default=None, sa_column=Column(String(64), ForeignKey("departments.key"))
    )
    region_name: str | None = Field(
        default=None, sa_column=Column(String(100), ForeignKey("regions.name"))
    )
    locale: str | None = Field(default=None, sa_column=Column(String(16)))


class Setting(SQLModel, table=True):
    """Organisation-wide settings: the prefecture, notice prefix, escalation ladder."""

    __tablename__ = "settings"

    key: str = Field(sa_column=Column(String(64), primary_key=True))
    value: Any = Field(default=None, sa_column=Column(JSONText))


class Case(SQLModel, table=True):
    """An enterprise or production line under a clause, in a county or park."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_state_deadline", "state", "deadline"),
        Index("ix_cases_region_state", "region_name", "state"),
        Index("ix_cases_state_due_on", "state", "due_on"),
        # Covers the overdue reads per region and clause (models.counters: the late counts'
        # roll and the cases due since their day, and a day before it).
        Index("ix_cases_overdue", "state", "due_on", "region_name", "clause"),
        Index("ix_cases_next_due", "next_due"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    region_name: str = Field(
        sa_column=Column(String(100), ForeignKey("regions.name"), nullable=False)
    )
    enterprise: str = Field(sa_column=Column(String(200), nullable=False))
    industry: str = Field(sa_column=Column(String(32), nullable=False))
    clause: str = Field(sa_column=Column(String(8), nullable=False))
    clauses: list[str] = Field(default_factory=list, sa_column=Column(JSONText, nullable=False))
    capacity: Decimal | None = Field(default=None, sa_column=Column(Numeric(16, 4)))
    unit: str | None = Field(default=None, sa_column=Column(String(40)))
    equipment: str | None = Field(default=None, sa_column=Column(String(500)))
    registered_on: date
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    state: str = Field(sa_column=Column(String(32), nullable=False))
    deadline: date | None = Field(default=None)
    #: The day the current step is due: the deadline, or the end of the state's wait
    #: (scheduler.rules.due_on). Kept when the case closes (for the on-time rate).
    due_on: date | None = Field(default=None)
    pending_extension_months: int | None = Field(default=None)
    # Coordinators' controls over the escalation ladder.
    paused: bool = Field(default=False,
                         sa_column=Column(Boolean, nullable=False, server_default=false()))
    skipped_steps: list[str] = Field(default_factory=list,
                                     sa_column=Column(JSONText, nullable=False,
                                                      server_default="[]"))
    exited_capacity: Decimal | None = Field(default=None, sa_column=Column(Numeric(16, 4)))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    version: int = Field(default=1, nullable=False)
    #: The head of the case's event chain (models.chain): the number and hash of its last
    #: event, written with each event in the same transaction.
    chain_seq: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0,
                                                       server_default="0"))
    chain_hash: str | None = Field(default=None, sa_column=Column(String(64)))
    #: The first day the calendar's sweep must look at the case again (scheduler.rules.
    #: next_check): set by the sweep, reset to DUE_NOW by every change to the case (an
    #: event, a new version), NULL once nothing can fall due (closed, paused). The sweep
    #: reads only cases with ``next_due <= today`` (and the overdue ones, for clause （二十）).
    next_due: date | None = Field(default=DUE_NOW, sa_column=Column(
        Date, default=DUE_NOW, server_default=DUE_NOW.isoformat()))


class Assignment(SQLModel, table=True):
    """A department's (or a not yet resolved group's) part in a case, and why it has it."""

    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("case_id", "target", name="uq_assignments_case_target"),
        Index("ix_assignments_department_status", "department_key", "status"),
        Index("ix_assignments_status_created", "status", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(sa_column=Column(ForeignKey("cases.id"), nullable=False, index=True))
    # The department key, or "group:<name as written>" for a by-duty group not yet resolved.
    target: str = Field(sa_column=Column(String(120), nullable=False))
    department_key: str | None = Field(
        default=None, sa_column=Column(String(64), ForeignKey("departments.key"))
    )
    as_written: str = Field(sa_column=Column(String(120), nullable=False))
    role: str = Field(sa_column=Column(String(16), nullable=False))
    required: bool = Field(default=False, nullable=False)
    # pending | accepted | informed | returned | unresolved | resolved
    status: str = Field(sa_column=Column(String(16), nullable=False))
    clause: str = Field(sa_column=Column(String(8), nullable=False))
    tag_raw: str = Field(sa_column=Column(Text, nullable=False))
    reason: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class StatusCount(SQLModel, table=True):
    """How many cases (and how much capacity) share one key: region, clause, state, industry,
    unit, the local year they closed in (0: open) and whether they closed by their due day.

    Kept true by triggers on ``cases`` (``models.counters``) in the writer's own transaction;
    ``duban db recount`` rebuilds it. On PostgreSQL each transaction adds its own rows
    (``shard``: its transaction id) so writers never wait on each other; readers sum the shards
    and fold them into shard 0. SQLite has one writer at a time and keeps only shard 0.
    """

    __tablename__ = "status_counts"

    shard: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    region_name: str = Field(sa_column=Column(String(100), primary_key=True))
    clause: str = Field(sa_column=Column(String(8), primary_key=True))
    state: str = Field(sa_column=Column(String(32), primary_key=True))
    industry: str = Field(sa_column=Column(String(32), primary_key=True))
    unit: str = Field(sa_column=Column(String(40), primary_key=True))  # "" for none
    closed_year: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    on_time: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    n: int = Field(sa_column=Column(BigInteger, nullable=False))
    #: coalesce(exited_capacity, capacity, 0) summed, and how many cases gave one
    capacity: Decimal = Field(sa_column=Column(Numeric(20, 4), nullable=False))
    capacity_n: int = Field(sa_column=Column(BigInteger, nullable=False))


class DepartmentCount(SQLModel, table=True):
    """Required assignments of a department by the status of its part and its case's region,
    state and on-time flag (as :class:`StatusCount`), kept by the same triggers."""

    __tablename__ = "department_counts"

    shard: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    department_key: str = Field(sa_column=Column(String(64), primary_key=True))
    region_name: str = Field(sa_column=Column(String(100), primary_key=True))
    state: str = Field(sa_column=Column(String(32), primary_key=True))
    status: str = Field(sa_column=Column(String(16), primary_key=True))
    on_time: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    n: int = Field(sa_column=Column(BigInteger, nullable=False))


class LateCount(SQLModel, table=True):
    """How many cases of a region and clause are late (a late state, due day passed) as of
    the local day stored in ``settings`` (``models.counters.AS_OF_KEY``). Kept by triggers as
    :class:`StatusCount` is (shards alike); readers move the day forward
    (``models.counters.roll``) and add the cases due since it."""

    __tablename__ = "late_counts"

    shard: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    region_name: str = Field(sa_column=Column(String(100), primary_key=True))
    clause: str = Field(sa_column=Column(String(8), primary_key=True))
    n: int = Field(sa_column=Column(BigInteger, nullable=False))


class DepartmentLateCount(SQLModel, table=True):
    """The required assignments of the late cases (as :class:`LateCount`) per department,
    region and status of the part."""

    __tablename__ = "department_late_counts"

    shard: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    department_key: str = Field(sa_column=Column(String(64), primary_key=True))
    region_name: str = Field(sa_column=Column(String(100), primary_key=True))
    status: str = Field(sa_column=Column(String(16), primary_key=True))
    n: int = Field(sa_column=Column(BigInteger, nullable=False))


class Event(SQLModel, table=True):
    """An immutable record of one thing that happened to a case."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_events_case_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(sa_column=Column(ForeignKey("cases.id"), nullable=False, index=True))
    seq: int = Field(nullable=False)
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    kind: str = Field(sa_column=Column(String(64), nullable=False))
    from_state: str | None = Field(default=None, sa_column=Column(String(32)))
    to_state: str | None = Field(default=None, sa_column=Column(String(32)))
    actor_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    actor_name: str | None = Field(default=None, sa_column=Column(String(200)))
    actor_role: str = Field(sa_column=Column(String(32), nullable=False))
    department_key: str | None = Field(default=None, sa_column=Column(String(64)))
    chat_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONText))
    #: SHA-256 of the canonical content (models.chain), which includes ``prev_hash``, the
    #: hash of the case's previous event (None for its first).
    hash: str = Field(sa_column=Column(String(64), nullable=False))
    prev_hash: str | None = Field(default=None, sa_column=Column(String(64)))



# -- chat operations (the Telegram layer's state; no Telegram types here) -------------------------


class ChatBinding(SQLModel, table=True):
    """A group chat bound to the coordination group, a department or a county/park."""

    __tablename__ = "chats"
    __table_args__ = (
        Index("ix_chats_target", "kind", "department_key", "region_name", "active"),
    )

    chat_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    # coordination | department | region
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    department_key: str | None = Field(
        default=None, sa_column=Column(String(64), ForeignKey("departments.key"))
    )
    region_name: str | None = Field(
        default=None, sa_column=Column(String(100), ForeignKey("regions.name"))
    )
    title: str | None = Field(default=None, sa_column=Column(String(255)))
    active: bool = Field(default=True, nullable=False)
    bound_by: int | None = Field(default=None, sa_column=Column(BigInteger))
    bound_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class ChatSetting(SQLModel, table=True):
    """Per-chat preferences (a private chat's id is its user's id: per-person language)."""

    __tablename__ = "chat_settings"

    chat_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    locale: str | None = Field(default=None, sa_column=Column(String(16)))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class Invite(SQLModel, table=True):
    """A one-time code that registers its user as a liaison of the chat's department/county."""

    __tablename__ = "invites"

    code: str = Field(sa_column=Column(String(32), primary_key=True))
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    department_key: str | None = Field(default=None, sa_column=Column(String(64)))
    region_name: str | None = Field(default=None, sa_column=Column(String(100)))
    created_by: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    used_by: int | None = Field(default=None, sa_column=Column(BigInteger))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class Dialog(SQLModel, table=True):
    """A conversation in progress: one per (chat, user), written whenever it changes."""

    __tablename__ = "dialogs"

    chat_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    user_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    flow: str = Field(sa_column=Column(String(32), nullable=False))
    step: str = Field(sa_column=Column(String(32), nullable=False))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONText, nullable=False))
    # The last Telegram update applied: a redelivered update is not taken as a new answer.
    last_update_id: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class Card(SQLModel, table=True):
    """The message that shows a case in a chat; edited in place as the case moves."""

    __tablename__ = "cards"
    __table_args__ = (UniqueConstraint("case_id", "chat_id", name="uq_cards_case_chat"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(sa_column=Column(ForeignKey("cases.id"), nullable=False, index=True))
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    message_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    department_key: str | None = Field(default=None, sa_column=Column(String(64)))
    region_name: str | None = Field(default=None, sa_column=Column(String(100)))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class Outbox(SQLModel, table=True):
    """Messages to send, written in the same transaction as the change that causes them.

    ``key`` makes each message unique (what, for whom, which deadline, which step); the
    dispatcher claims, sends and records; see docs/outbox.md for the protocol.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "sent_at", "not_before"),
        # The dispatcher reads the few unsent rows among millions sent: a partial index no
        # ANALYZE can turn into a scan of the sent ones (one run's plan once flipped so).
        Index("ix_outbox_unsent", "id", sqlite_where=text("sent_at IS NULL"),
              postgresql_where=text("sent_at IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(255), nullable=False, unique=True))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    # Who receives it: "chat" (chat_id), "department", "region" or "coordinators".
    recipient_kind: str = Field(sa_column=Column(String(16), nullable=False))
    recipient: str = Field(sa_column=Column(String(120), nullable=False))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONText))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    not_before: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    attempts: int = Field(default=0, nullable=False)
    error: str | None = Field(default=None, sa_column=Column(Text))


class ProcessedUpdate(SQLModel, table=True):
    """Telegram update ids already handled: a redelivered update changes nothing."""

    __tablename__ = "processed_updates"

    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    processed_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))


class InboxUpdate(SQLModel, table=True):
    """An update from Telegram, stored before it is acknowledged (the ``getUpdates`` offset moved
    on, or the webhook answered 200) and removed in the transaction that marks it handled: a
    crash in between leaves it here, to be handled when the bot starts again."""

    __tablename__ = "inbox"

    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    payload: dict[str, Any] = Field(default_factory=dict,
                                    sa_column=Column(JSONText, nullable=False))
    received_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    #: set by the process handling it; another process takes it over after the lease
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    attempts: int = Field(default=0, nullable=False)


# -- the calendar: yearly duties, what the scheduler has sent, notices and summonses ------------


class Obligation(SQLModel, table=True):
    """A yearly duty of one department or county/park (work plan, report, letter)."""

    __tablename__ = "obligations"
    __table_args__ = (
        UniqueConstraint("kind", "year", "party", name="uq_obligations_kind_year_party"),
        Index("ix_obligations_due", "due", "confirmed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    year: int = Field(nullable=False)
    party: str = Field(sa_column=Column(String(100), nullable=False))
    party_kind: str = Field(sa_column=Column(String(16), nullable=False))
    role: str = Field(sa_column=Column(String(16), nullable=False))
    due: date
    opened_on: date
    confirmed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    confirmed_by: int | None = Field(default=None, sa_column=Column(BigInteger))
    evidence: list[str] = Field(default_factory=list, sa_column=Column(JSONText, nullable=False))


class Task(SQLModel, table=True):
    """A supervised task (督办任务, ``bot.core.tasks``): a tagged duty of the document, or a
    measure a case's event opened. Each report period of a live task is an
    :class:`Obligation` row per owner (kind ``task-<id>-<period>``)."""

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_status", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    #: what people call it: 督办任务5 (``/task 5``)
    number: int = Field(sa_column=Column(Integer, nullable=False, unique=True))
    #: where it comes from (never shown): ``doc1:三/十六:p0``, ``measure:十四:CZ-2026-001``
    source: str = Field(sa_column=Column(String(255), nullable=False, unique=True))
    clause: str = Field(sa_column=Column(String(8), nullable=False))
    title: str = Field(sa_column=Column(String(200), nullable=False))
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    case_id: int | None = Field(default=None, sa_column=Column(ForeignKey("cases.id"),
                                                               index=True))
    lead: list[str] = Field(default_factory=list, sa_column=Column(JSONText, nullable=False))
    participants: list[str] = Field(default_factory=list,
                                    sa_column=Column(JSONText, nullable=False))
    unowned: list[str] = Field(default_factory=list, sa_column=Column(JSONText, nullable=False))
    schedule: str = Field(sa_column=Column(String(32), nullable=False))
    linked: bool = Field(default=False, sa_column=Column(Boolean, nullable=False,
                                                         server_default=false()))
    merged_into: int | None = Field(default=None)
    live_on: date | None = Field(default=None)
    #: the date the measure was carried out, as its owner reported it (（十七）: the entry)
    done_on: date | None = Field(default=None)
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    note: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class TaskReport(SQLModel, table=True):
    """A department's progress report (进展反馈) on a task, for one period."""

    __tablename__ = "task_reports"

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(sa_column=Column(ForeignKey("tasks.id"), nullable=False, index=True))
    period: int = Field(nullable=False)
    department_key: str = Field(sa_column=Column(String(64), nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    evidence: list[str] = Field(default_factory=list, sa_column=Column(JSONText, nullable=False))
    final: bool = Field(default=False, nullable=False)
    done_on: date | None = Field(default=None)
    reported_by: int | None = Field(default=None, sa_column=Column(BigInteger))
    reported_by_name: str | None = Field(default=None, sa_column=Column(String(200)))
    reported_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class SentKey(SQLModel, table=True):
    """A nudge or escalation step already sent, superseded or covered: never sent again."""

    __tablename__ = "sent_keys"

    key: str = Field(sa_column=Column(String(255), primary_key=True))
    subject: str = Field(sa_column=Column(String(120), nullable=False, index=True))
    outbox_key: str | None = Field(default=None, sa_column=Column(String(255)))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class Notice(SQLModel, table=True):
    """A notice (通报) of one round: drafted by the sweep, numbered when a coordinator signs
    it off (签发), per year with no gaps and no reuse. Its laggards are its entries."""

    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("year", "number", name="uq_notices_year_number"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(255), nullable=False, unique=True))
    status: str = Field(default="signed", sa_column=Column(
        String(16), nullable=False, server_default="signed"))  # draft | held | signed
    year: int | None = Field(default=None)
    number: int | None = Field(default=None)
    code: str | None = Field(default=None, sa_column=Column(String(64)))
    issued_on: date | None = Field(default=None)
    #: A coordinator's wording for the opening paragraph (修改), else the standard one.
    remark: str | None = Field(default=None, sa_column=Column(Text))
    signed_by: int | None = Field(default=None, sa_column=Column(BigInteger))
    signed_by_name: str | None = Field(default=None, sa_column=Column(String(200)))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class NoticeEntry(SQLModel, table=True):
    """One laggard of a notice: a department or region and its overdue cases or duty."""

    __tablename__ = "notice_entries"
    __table_args__ = (Index("ix_notice_entries_party", "party", "notice_id"),)

    id: int | None = Field(default=None, primary_key=True)
    notice_id: int = Field(sa_column=Column(ForeignKey("notices.id"), nullable=False))
    key: str = Field(sa_column=Column(String(255), nullable=False, unique=True))
    party: str = Field(sa_column=Column(String(100), nullable=False))
    party_kind: str = Field(sa_column=Column(String(16), nullable=False))
    step: str = Field(default="notice", sa_column=Column(String(32), nullable=False,
                                                         server_default="notice"))
    case_refs: list[str] = Field(default_factory=list, sa_column=Column(JSONText, nullable=False))
    obligation: str | None = Field(default=None, sa_column=Column(String(64)))
    deadline: date | None = Field(default=None)


class Summons(SQLModel, table=True):
    """An interview summons (约谈) of a county's or department's responsible leader."""

    __tablename__ = "summonses"
    __table_args__ = (UniqueConstraint("year", "number", name="uq_summonses_year_number"),)

    id: int | None = Field(default=None, primary_key=True)
    #: the summons number people read (约谈〔year〕number号), gapless within a year
    year: int | None = Field(default=None)
    number: int | None = Field(default=None)
    key: str = Field(sa_column=Column(String(255), nullable=False, unique=True))
    party: str = Field(sa_column=Column(String(100), nullable=False))
    party_kind: str = Field(sa_column=Column(String(16), nullable=False))
    leader: str | None = Field(default=None, sa_column=Column(String(200)))
    case_refs: list[str] = Field(default_factory=list, sa_column=Column(JSONText, nullable=False))
    obligation: str | None = Field(default=None, sa_column=Column(String(64)))
    notice_id: int | None = Field(default=None, sa_column=Column(ForeignKey("notices.id")))
    #: proposed (waits for a coordinator to confirm time and place) | confirmed
    status: str = Field(default="confirmed", sa_column=Column(
        String(16), nullable=False, server_default="confirmed"))
    meets_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    place: str = Field(sa_column=Column(String(200), nullable=False))
    rsvp: str | None = Field(default=None, sa_column=Column(String(16)))  # accept | decline
    rsvp_by: int | None = Field(default=None, sa_column=Column(BigInteger))
    outcome: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONText))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class Inspection(SQLModel, table=True):
    """A joint inspection of a county or park (联合检查) or one of the commission's own
    (督促检查): scheduled (planned) and recorded once held (recorded)."""

    __tablename__ = "inspections"
    __table_args__ = (Index("ix_inspections_status_scheduled", "status", "scheduled_on"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_column=Column(String(16), nullable=False))  # joint | commission
    status: str = Field(sa_column=Column(String(16), nullable=False))  # planned | recorded
    #: the regions inspected (a joint inspection: its own county or park)
    regions: list[str] = Field(default_factory=list, sa_column=Column(JSONText, nullable=False))
    scheduled_on: date | None = Field(default=None)
    held_on: date | None = Field(default=None)
    #: the keys of the departments that took part
    departments: list[str] = Field(default_factory=list,
                                   sa_column=Column(JSONText, nullable=False))
    enterprises: list[str] = Field(default_factory=list,
                                   sa_column=Column(JSONText, nullable=False))
    enterprise_count: int | None = Field(default=None)
    planned_by: int | None = Field(default=None, sa_column=Column(BigInteger))
    planned_by_name: str | None = Field(default=None, sa_column=Column(String(200)))
    recorded_by: int | None = Field(default=None, sa_column=Column(BigInteger))
    recorded_by_name: str | None = Field(default=None, sa_column=Column(String(200)))
    chat_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class InspectionProblem(SQLModel, table=True):
    """A problem an inspection found: fed back to the commission, or opened as a case."""

    __tablename__ = "inspection_problems"
    __table_args__ = (UniqueConstraint("inspection_id", "seq", name="uq_inspection_problems_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    inspection_id: int = Field(sa_column=Column(ForeignKey("inspections.id"), nullable=False))
    seq: int
    enterprise: str | None = Field(default=None, sa_column=Column(String(200)))
    text: str = Field(sa_column=Column(Text, nullable=False))
    disposition: str = Field(sa_column=Column(String(16), nullable=False))  # fed_back | case
    case_ref: str | None = Field(default=None, sa_column=Column(String(40)))
    #: the names of the photos and documents attached (the evidence store keeps the files)
    evidence: list[str] = Field(default_factory=list, sa_column=Column(JSONText, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
