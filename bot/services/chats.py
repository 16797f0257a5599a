"""Chats and people: binding group chats, invites, joining, who someone is, languages.

Transport-neutral: chat and user ids are plain integers; nothing here imports Telegram.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core import buttons
from bot.core.buttons import StaleButton
from bot.core.clock import Clock
from bot.core.i18n import DEFAULT_LOCALE, N_, DubanError, normalize_locale
from bot.core.matching import MatchResult
from bot.core.org import Org
from bot.services.access import (
    NOT_ALLOWED,
    Reader,
    Room,
    Who,
    may_act_for,
    require_coordinator,
)
from bot.services.outbox import enqueue
from models import queries
from models.db import (
    AlreadyHandled,
    done_with_update,
    handling_update,
    transaction,
    update_in_hand,
)
from models.tables import ChatBinding, ChatSetting, InboxUpdate, Invite, Person, ProcessedUpdate

__all__ = ["AlreadyHandled", "ChatService", "Identity"]

INVITE_TTL = timedelta(hours=48)
SEEN_TTL = timedelta(days=7)
BINDING_CACHE_SECONDS = 30.0
COORDINATION_WORDS = frozenset({"coordination", "协调", "协调组", "协调群", "督办", "经信委"})


class ChatKind(StrEnum):
    COORDINATION = "coordination"
    DEPARTMENT = "department"
    REGION = "region"

    @classmethod
    def of_party(cls, party_kind: str) -> ChatKind:
        """The chat a notice's, summons's, card's or duty's party sits in: ``department``
        parties in department chats, counties and parks in region chats."""
        return cls.DEPARTMENT if party_kind == "department" else cls.REGION


@dataclass(frozen=True)
class BindTarget:
    kind: ChatKind
    department: str | None = None
    region: str | None = None

    def label(self, org: Org) -> str:
        if self.kind is ChatKind.DEPARTMENT and self.department:
            found = org.department(self.department)
            return found.name if found else self.department
        if self.kind is ChatKind.REGION and self.region:
            return self.region
        return org.prefecture.commission


@dataclass(frozen=True)
class Ambiguous:
    """A name that matched several places; the caller offers them as choices."""

    query: str
    candidates: tuple[BindTarget, ...]


#: A chat's binding (its kind, department or region) as the services hand it out; read-only for
#: callers, changed only through :class:`ChatService`.
Binding = ChatBinding


@dataclass(frozen=True)
class Identity:
    """Who a Telegram user is, in a given chat."""

    user_id: int
    name: str
    person: Person | None
    binding: ChatBinding | None
    coordinator: bool

    def who(self, chat_id: int) -> Who:
        if self.coordinator:
            return Who(role="coordinator", name=self.name, telegram_id=self.user_id,
                       chat_id=chat_id)
        person = self.person
        return Who(role="liaison" if person else "outsider", name=self.name,
                   telegram_id=self.user_id, chat_id=chat_id,
                   department=person.department_key if person else None,
                   region=person.region_name if person else None)

    def reader(self, chat_id: int) -> Reader:
        """This person reading in this chat: a bound group chat is its party's own room (see
        :mod:`bot.services.access`)."""
        binding = self.binding
        room = (Room(binding.kind, department=binding.department_key,
                     region=binding.region_name) if binding is not None else None)
        return Reader(self.who(chat_id), room)

    def may_act_for(self, binding: ChatBinding | None) -> bool:
        """Coordinators act anywhere; a liaison only for their own department or county."""
        if self.coordinator:
            return True
        if binding is None or binding.kind == ChatKind.COORDINATION:
            return False
        return may_act_for(self.who(binding.chat_id), department=binding.department_key,
                           region=binding.region_name)

    def require_coordinator(self) -> None:
        require_coordinator(self.who(0))

    @property
    def role(self) -> str:
        """coordinator, liaison or outsider."""
        if self.coordinator:
            return "coordinator"
        return "liaison" if self.person is not None else "outsider"

    def belongs_to(self) -> BindTarget | None:
        """The department or county this person is a liaison of, if any."""
        person = self.person
        if person is not None and person.department_key:
            return BindTarget(ChatKind.DEPARTMENT, department=person.department_key)
        if person is not None and person.region_name:
            return BindTarget(ChatKind.REGION, region=person.region_name)
        return None

    def chat_target(self) -> BindTarget | None:
        """What the chat this person spoke in is bound to, if anything."""
        binding = self.binding
        if binding is None:
            return None
        return BindTarget(ChatKind(binding.kind), department=binding.department_key,
                          region=binding.region_name)

    def department_here(self) -> str:
        """The department of this chat, if the person may act for it; else a refusal."""
        binding = self.binding
        if binding is None or binding.kind != ChatKind.DEPARTMENT or not self.may_act_for(
                binding):
            raise DubanError(NOT_ALLOWED)
        assert binding.department_key is not None
        return binding.department_key


@dataclass
class ChatService:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    extra_coordinators: frozenset[int] = frozenset()
    # Chat languages change only through set_locale in this process: safe to keep here.
    _locales: dict[int, str | None] = field(default_factory=dict, repr=False)
    # Bindings change through this service (bind, unbind, removal), which clears the cache;
    # entries also expire, in case another process changed one.
    _bindings: dict[int, tuple[float, ChatBinding | None]] = field(default_factory=dict,
                                                                   repr=False)
    # People found, kept as bindings are (cleared by join and bootstrap here, expiring for
    # changes made elsewhere: an org file loaded, another process's /join). Only people found
    # are kept: someone who joins through another process is known there at once.
    _people: dict[int, tuple[float, Person]] = field(default_factory=dict, repr=False)
    _high_water: int | None = field(default=None, repr=False)
    _marked: int = field(default=0, repr=False)

    # -- identity --------------------------------------------------------------------------

    async def identify(self, chat_id: int, user_id: int, name: str) -> Identity:
        person = await self._known(user_id)
        coordinator = user_id in self.extra_coordinators or (
            person is not None and person.role == "coordinator")
        return Identity(user_id, name, person, await self.binding(chat_id), coordinator)

    async def _known(self, user_id: int) -> Person | None:
        cached = self._people.get(user_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with self.sessions() as session:
            person = await _person(session, user_id)
        if person is not None:
            self._people[user_id] = (time.monotonic() + BINDING_CACHE_SECONDS, person)
        else:
            self._people.pop(user_id, None)
        return person

    async def bootstrap_coordinators(self, names: dict[int, str] | None = None) -> None:
        """Make the coordinators named in the settings people with the coordinator role."""
        self._people.clear()
        async with transaction(self.sessions) as session:
            for user_id in sorted(self.extra_coordinators):
                person = await _person(session, user_id)
                if person is None:
                    session.add(Person(telegram_id=user_id, role="coordinator",
                                       name=(names or {}).get(user_id, str(user_id))))
                elif person.role != "coordinator":
                    person.role = "coordinator"
                    session.add(person)

    async def coordinator_chats(self) -> list[int]:
        """Where coordinators are told things: the coordination group, or else each
        coordinator's private chat."""
        chat = await self.chat_for(kind=ChatKind.COORDINATION)
        return [chat] if chat is not None else await self.coordinator_ids()

    async def coordinator_ids(self) -> list[int]:
        async with self.sessions() as session:
            rows = await session.exec(
                select(col(Person.telegram_id)).where(col(Person.role) == "coordinator"))
            return sorted(set(rows.all()) | self.extra_coordinators)

    # -- binding ---------------------------------------------------------------------------

    def target_of(self, org: Org, *, department: str | None = None,
                  region_code: str | None = None) -> BindTarget:
        """The target a /bind choice button names (a region by its code); a place that is no
        longer in the organisation makes the button out of date."""
        if department is not None:
            if org.department(department) is None:
                raise StaleButton(f"unknown department {department}")
            return BindTarget(ChatKind.DEPARTMENT, department=department)
        for region in org.regions:
            if buttons.region_code(region.name) == region_code:
                return BindTarget(ChatKind.REGION, region=region.name)
        raise StaleButton(f"no region with code {region_code}")

    def resolve_target(self, org: Org, query: str) -> BindTarget | Ambiguous:
        """Match ``/bind <query>``: the coordination group, a department, or a county/park."""
        text = query.strip()
        if not text:
            raise DubanError(N_("Say what this chat is: /bind coordination, /bind <department> "
                                "or /bind <county or park>."))
        if text.lower() in COORDINATION_WORDS:
            return BindTarget(ChatKind.COORDINATION)
        department = org.match_department(text)
        region = org.match_region(text)
        if department.ok and not region.ok:
            return BindTarget(ChatKind.DEPARTMENT, department=department.value)
        if region.ok and not department.ok:
            return BindTarget(ChatKind.REGION, region=region.value)
        candidates = _candidates(department, ChatKind.DEPARTMENT) + _candidates(
            region, ChatKind.REGION)
        if department.ok and region.ok:
            candidates = (BindTarget(ChatKind.DEPARTMENT, department=department.value),
                          BindTarget(ChatKind.REGION, region=region.value))
        if candidates:
            return Ambiguous(text, candidates)
        raise DubanError(N_("“{query}” is neither a department nor a county or park I know."),
                         query=text)

    async def bind(self, chat_id: int, title: str | None, target: BindTarget,
                   identity: Identity) -> ChatBinding:
        """Bind the chat; a department or county has one active chat, so an older one is
        unbound. Queues the cases already waiting for this department or county."""
        identity.require_coordinator()
        now = self.clock.now()
        async with transaction(self.sessions) as session:
            for old in await _active_bindings(session, target):
                if old.chat_id != chat_id:
                    old.active, old.updated_at = False, now
                    session.add(old)
            binding = await session.get(ChatBinding, chat_id) or ChatBinding(
                chat_id=chat_id, kind=target.kind.value, bound_at=now, updated_at=now)
            binding.kind = target.kind.value
            binding.department_key, binding.region_name = target.department, target.region
            binding.title, binding.active = title, True
            binding.bound_by, binding.bound_at, binding.updated_at = identity.user_id, now, now
            session.add(binding)
            self._bindings.clear()
            if target.kind is not ChatKind.COORDINATION:
                await enqueue(session, key=f"deliver:{target.kind.value}:"
                              f"{target.department or target.region}:{now.isoformat()}",
                              kind="deliver_cards", recipient_kind="chat",
                              recipient=str(chat_id), now=now, payload={})
        return binding

    async def unbind(self, chat_id: int, identity: Identity) -> ChatBinding:
        identity.require_coordinator()
        return await self._deactivate(chat_id, notify=False)

    async def bot_removed(self, chat_id: int) -> ChatBinding | None:
        """The bot was removed from a group: the binding goes inactive, coordinators are told."""
        try:
            return await self._deactivate(chat_id, notify=True)
        except DubanError:
            return None

    async def _deactivate(self, chat_id: int, *, notify: bool) -> ChatBinding:
        now = self.clock.now()
        async with transaction(self.sessions) as session:
            binding = await session.get(ChatBinding, chat_id)
            if binding is None or not binding.active:
                raise DubanError(N_("This chat is not bound."))
            binding.active, binding.updated_at = False, now
            session.add(binding)
            self._bindings.clear()
            if notify:
                await enqueue(session, key=f"removed:{chat_id}:{now.isoformat()}",
                              kind="bot_removed", recipient_kind="coordinators", recipient="*",
                              now=now, payload={"chat_id": chat_id, "title": binding.title,
                                                "kind": binding.kind,
                                                "department": binding.department_key,
                                                "region": binding.region_name})
            return binding

    async def binding(self, chat_id: int) -> ChatBinding | None:
        cached = self._bindings.get(chat_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with self.sessions() as session:
            found = await session.get(ChatBinding, chat_id)
        active = found if found and found.active else None
        self._bindings[chat_id] = (time.monotonic() + BINDING_CACHE_SECONDS, active)
        return active

    async def chat_for(self, *, kind: ChatKind, key: str | None = None) -> int | None:
        async with self.sessions() as session:
            found = await _active_bindings(session, BindTarget(
                kind, department=key if kind is ChatKind.DEPARTMENT else None,
                region=key if kind is ChatKind.REGION else None))
        return found[0].chat_id if found else None

    # -- invites and joining ---------------------------------------------------------------

    async def invite(self, chat_id: int, identity: Identity) -> Invite:
        identity.require_coordinator()
        binding = await self.binding(chat_id)
        if binding is None or binding.kind == ChatKind.COORDINATION:
            raise DubanError(N_("Invite codes are made in a bound department or county chat."))
        now = self.clock.now()
        invite = Invite(code=secrets.token_urlsafe(6).replace("-", "x").replace("_", "y"),
                        chat_id=chat_id, department_key=binding.department_key,
                        region_name=binding.region_name, created_by=identity.user_id,
                        created_at=now, expires_at=now + INVITE_TTL)
        async with transaction(self.sessions) as session:
            session.add(invite)
        return invite

    async def join(self, chat_id: int, user_id: int, name: str, code: str) -> Person:
        """Register the sender as a liaison of the invite's department or county."""
        now = self.clock.now()
        async with transaction(self.sessions) as session:
            invite = await session.get(Invite, code.strip(), with_for_update=True)
            if invite is None or invite.used_at is not None:
                raise DubanError(N_("This invite code is unknown or already used."))
            if invite.expires_at <= now:
                raise DubanError(N_("This invite code has expired; ask a coordinator for a "
                                    "new one."))
            if invite.chat_id != chat_id:
                raise DubanError(N_("Use the invite code in the chat it was made for."))
            person = await _person(session, user_id)
            if person is not None and person.role == "coordinator":
                raise DubanError(N_("You are a coordinator already."))
            person = person or Person(telegram_id=user_id, name=name, role="liaison")
            person.name, person.role = name, "liaison"
            person.department_key, person.region_name = invite.department_key, invite.region_name
            session.add(person)
            invite.used_by, invite.used_at = user_id, now
            session.add(invite)
        self._people.pop(user_id, None)
        return person

    # -- updates already handled -----------------------------------------------------------

    async def seen(self, update_id: int) -> bool:
        """Whether the update was handled before (Telegram redelivers after a restart).

        Update ids only grow, so an id above the highest one handled is new without asking
        the database; only ids at or below it (redeliveries) are looked up.
        """
        if self._high_water is None:
            async with self.sessions() as session:
                highest = (await session.exec(
                    select(func.max(col(ProcessedUpdate.update_id))))).one()
            self._high_water = int(highest or 0)
        if update_id > self._high_water:
            return False
        async with self.sessions() as session:
            return await session.get(ProcessedUpdate, update_id) is not None

    async def begin_update(self, update_id: int) -> bool:
        """Start handling an update: False when it was handled before (nothing to do). From
        here on, the first transaction of this task that commits also records it as handled
        (see ``models.db``)."""
        if await self.seen(update_id):
            async with transaction(self.sessions) as session:  # a redelivery: drop its row
                await session.exec(delete(InboxUpdate).where(
                    col(InboxUpdate.update_id) == update_id))
            return False
        handling_update(update_id, self.clock.now())
        return True

    async def finish_update(self, update_id: int) -> None:
        """After the handlers: record the update if nothing did (it was stopped early)."""
        hand = update_in_hand()
        if hand is not None and hand.update_id == update_id:
            await self.mark_seen(update_id)

    @staticmethod
    def drop_update() -> None:
        """Forget the update in hand (its handling ended, however it ended)."""
        done_with_update()

    async def mark_seen(self, update_id: int) -> None:
        """The update is handled: record it (if no transaction did already) and take it out of
        the inbox."""
        hand = update_in_hand()
        done_with_update()
        now = self.clock.now()
        self._high_water = max(self._high_water or 0, update_id)
        if hand is not None and hand.update_id == update_id and hand.recorded:
            return
        async with transaction(self.sessions) as session:
            await queries.record_handled(session, update_id=update_id, at=now)
            self._marked += 1
            if self._marked % 500 == 1:  # forget old ids now and then, not on every update
                await session.exec(delete(ProcessedUpdate).where(
                    col(ProcessedUpdate.processed_at) < now - SEEN_TTL))

    # -- languages -------------------------------------------------------------------------

    async def set_locale(self, chat_id: int, locale: str) -> str:
        code = normalize_locale(locale)
        now = self.clock.now()
        async with transaction(self.sessions) as session:
            setting = await session.get(ChatSetting, chat_id) or ChatSetting(
                chat_id=chat_id, updated_at=now)
            setting.locale, setting.updated_at = code, now
            session.add(setting)
        self._locales[chat_id] = code
        return code

    async def locale_for(self, chat_id: int, user_id: int | None = None) -> str:
        """The chat's language; for a person (an alert), their own private choice first."""
        if user_id is not None:
            personal = await self._locale(user_id)
            if personal:
                return personal
        return await self._locale(chat_id) or DEFAULT_LOCALE

    async def _locale(self, chat_id: int) -> str | None:
        if chat_id not in self._locales:
            async with self.sessions() as session:
                setting = await session.get(ChatSetting, chat_id)
            self._locales[chat_id] = setting.locale if setting else None
        return self._locales[chat_id]


async def _person(session: AsyncSession, user_id: int) -> Person | None:
    rows = await session.exec(select(Person).where(col(Person.telegram_id) == user_id))
    return rows.one_or_none()


async def _active_bindings(session: AsyncSession, target: BindTarget) -> list[ChatBinding]:
    statement = select(ChatBinding).where(col(ChatBinding.kind) == target.kind.value,
                                          col(ChatBinding.active).is_(True))
    if target.kind is ChatKind.DEPARTMENT:
        statement = statement.where(col(ChatBinding.department_key) == target.department)
    if target.kind is ChatKind.REGION:
        statement = statement.where(col(ChatBinding.region_name) == target.region)
    rows = await session.exec(statement.order_by(col(ChatBinding.bound_at).desc()))
    return list(rows.all())


def _candidates(result: MatchResult, kind: ChatKind) -> tuple[BindTarget, ...]:
    if kind is ChatKind.DEPARTMENT:
        return tuple(BindTarget(kind, department=c) for c in result.candidates)
    return tuple(BindTarget(kind, region=c) for c in result.candidates)
