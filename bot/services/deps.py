"""The services a running bot or a command uses, as one typed value.

Built in order by :func:`bot.app.build_deps` (the composition root); handlers reach it through
the typed context (``context.deps``), never through module globals.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.buttons import ButtonCodec
from bot.core.clock import Clock
from bot.core.org import Org
from bot.core.policy.catalog import Catalog
from bot.core.uploads import DEFAULT_MAX_UPLOAD_BYTES
from bot.services.answers import AnswerStore
from bot.services.board import BoardService
from bot.services.calendar import CalendarService
from bot.services.cases import CaseService
from bot.services.chats import ChatService
from bot.services.delivery import DeliveryStore
from bot.services.dialogs import DialogService
from bot.services.evidence import EvidenceStore
from bot.services.health import HealthService
from bot.services.inbox import InboxStore
from bot.services.inspections import InspectionService
from bot.services.ledger import LedgerService
from bot.services.metrics import Metrics
from bot.services.org import OrgService
from bot.services.outbox import OutboxStore
from bot.services.reports import ReportService
from bot.services.status import StatusService
from bot.services.tasks import TaskService


@dataclass
class Deps:
    """Everything handlers and commands need, built once."""

    clock: Clock
    tz: ZoneInfo
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    catalog: Catalog
    codec: ButtonCodec
    org_service: OrgService
    cases: CaseService
    chats: ChatService
    calendar: CalendarService
    dialogs: DialogService
    outbox: OutboxStore
    deliveries: DeliveryStore
    status: StatusService
    #: The 红黄绿灯 board (``bot.services.board``).
    board: BoardService
    #: The ledger (台账) of a year (``bot.services.ledger``).
    ledger: LedgerService
    reports: ReportService
    health: HealthService
    evidence: EvidenceStore
    #: Updates stored before they are acknowledged (``bot.services.inbox``).
    inbox: InboxStore
    #: Answers committed with the change they report (``bot.services.answers``).
    answers: AnswerStore
    #: Tasks (督办任务): the document's duties and the measures that follow cases.
    tasks: TaskService
    #: Joint and commission inspections (``bot.services.inspections``).
    inspections: InspectionService
    #: Set when something was queued: the delivery task wakes at once instead of polling.
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    #: The application's Prometheus metrics (its own registry).
    metrics: Metrics = field(default_factory=Metrics)
    #: The largest file people may send (``DUBAN_MAX_UPLOAD_MB``).
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES

    async def org(self) -> Org:
        """The organisation, read once from the database (again after it is loaded)."""
        return await self.org_service.cached()
