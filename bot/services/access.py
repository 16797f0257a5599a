"""Who may do what, and who may read what: the one place that decides.

Services check at the moment of the change, with these functions; handlers ask the same
functions before they open a dialog (so nobody types a reason only to be refused at the end).

Acting:

* Coordinators may do everything.
* A liaison acts for their own department (in its chat) or their own county or park.
* Everybody else acts on nothing.

Reading (``/case``, ``/overdue``, ``/status``, ``/report``, ``/summons``) is decided for a
:class:`Reader`: the person (a :class:`Who`) and the bound group chat they read in, if any.

* Coordinators read everything.
* A department's liaisons read the cases their department has an assignment in (any: to act,
  to be informed, handed back); a county's or park's liaisons read the cases of their county
  or park, and its figures (``/status 玛纳斯县``, ``/report 玛纳斯县``).
* A bound group chat is its party's own room: whoever speaks in a department's chat reads
  that department's cases, in a county's or park's chat that county's cases and figures, and
  in the coordination group everything (the bot posts every coordinators' notice there
  already; coordinators bind the chats and manage who is in them).
* In a private or an unbound chat only registered people read, by their role; an outsider
  there reads nothing and is told whom to ask.
* ``/status`` without a county shows the prefecture (with the ranking) only to those who read
  everything; a county's liaison (or its room) gets their own county; a department's
  liaison is refused (``/overdue`` lists their department's overdue cases).
* ``/board`` and ``/ledger`` (the prefecture's 红黄绿灯 board and 台账) are read like the
  prefecture's ``/status``: only by those who read everything.
* ``/overdue`` lists, in a department's or county's room, that party's overdue cases; elsewhere
  everything for coordinators, the liaison's own department's or county's for a liaison.
* A summons (``/summons N``) is read like its party: a department's or a county's.
* ``/lists`` (the yellow and red card lists) stays public, as it always was: the lists exist
  to name who is on them.
* ``/duties`` stays public: it names only which departments and counties have submitted their
  yearly duties, never a case or an enterprise; it is the accountability overview the
  commission circulates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.core.i18n import N_, DubanError

COORDINATORS_ONLY = N_("Only coordinators can do this.")
NOT_ALLOWED = N_("Only the liaisons of this department or county, or coordinators, can do "
                 "this.")
OWN_DEPARTMENT_ONLY = N_("You can act only for your own department.")
NOT_VISIBLE = N_("This is visible to the coordinators and to the liaisons of the department or "
                 "county concerned; ask the coordinators of {commission} for access.")
REGION_NOT_VISIBLE = N_("The figures of {region} are visible to the coordinators and to the "
                        "liaisons of {region}; ask the coordinators of {commission} for "
                        "access.")
PREFECTURE_NOT_VISIBLE = N_("The whole prefecture's figures are visible to the coordinators "
                            "only; /overdue lists the cases you may read. Ask the "
                            "coordinators of {commission} for access.")


@dataclass(frozen=True)
class Who:
    """The person (or the system) behind an action, and where it came from."""

    role: str  # coordinator | liaison | outsider | system | console
    name: str | None = None
    telegram_id: int | None = None
    department: str | None = None
    region: str | None = None
    chat_id: int | None = None

    @property
    def is_coordinator(self) -> bool:
        return self.role in ("coordinator", "console")


SYSTEM = Who(role="system", name="duban")


def require_coordinator(who: Who) -> None:
    if not who.is_coordinator:
        raise DubanError(COORDINATORS_ONLY)


def require_department(who: Who, department: str) -> None:
    """``who`` may act for ``department``: a coordinator, or one of its liaisons."""
    if who.is_coordinator:
        return
    if who.department is None and who.region is None:
        raise DubanError(NOT_ALLOWED)
    if who.department != department:
        raise DubanError(OWN_DEPARTMENT_ONLY)


def may_act_for(who: Who, *, department: str | None = None, region: str | None = None) -> bool:
    """Coordinators act anywhere; a liaison only for their own department or county."""
    if who.is_coordinator:
        return True
    if department is not None:
        return who.department == department
    if region is not None:
        return who.region == region
    return False


def require_party(who: Who, *, department: str | None = None,
                  region: str | None = None) -> None:
    """``who`` speaks for this department or county (or is a coordinator)."""
    if not may_act_for(who, department=department, region=region):
        raise DubanError(NOT_ALLOWED)


# -- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Room:
    """The bound group chat someone reads in: ``coordination``, ``department`` or ``region``."""

    kind: str
    department: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class Reader:
    """Someone reading, and the bound group chat (if any) they read in."""

    who: Who
    room: Room | None = None

    @property
    def everything(self) -> bool:
        return self.who.is_coordinator or (self.room is not None
                                           and self.room.kind == "coordination")

    @property
    def departments(self) -> frozenset[str]:
        """The departments whose cases this reader reads (besides ``everything``)."""
        found = {self.who.department} if self.who.role == "liaison" else set()
        if self.room is not None and self.room.kind == "department":
            found.add(self.room.department)
        return frozenset(d for d in found if d)

    @property
    def regions(self) -> frozenset[str]:
        """The counties and parks whose cases and figures this reader reads."""
        found = {self.who.region} if self.who.role == "liaison" else set()
        if self.room is not None and self.room.kind == "region":
            found.add(self.room.region)
        return frozenset(r for r in found if r)

    @property
    def reads_anything(self) -> bool:
        return self.everything or bool(self.departments or self.regions)


@dataclass(frozen=True)
class Scope:
    """What a list (``/overdue``) is narrowed to; neither set: everything."""

    department: str | None = None
    region: str | None = None


def reader_of(reader: Who | Reader) -> Reader:
    """A bare :class:`Who` reads as themselves, outside any bound group chat."""
    return reader if isinstance(reader, Reader) else Reader(reader)


def may_read_case(reader: Who | Reader, region: str | None,
                  departments: Iterable[str | None]) -> bool:
    """A case of ``region`` in which ``departments`` have assignments."""
    found = reader_of(reader)
    if found.everything:
        return True
    if region is not None and region in found.regions:
        return True
    return not found.departments.isdisjoint(d for d in departments if d)


def may_read_region(reader: Who | Reader, region: str) -> bool:
    """A county's or park's figures and report."""
    found = reader_of(reader)
    return found.everything or region in found.regions


def may_read_party(reader: Who | Reader, *, department: str | None = None,
                   region: str | None = None) -> bool:
    """What concerns one department or one county or park (a summons, say)."""
    found = reader_of(reader)
    if found.everything:
        return True
    if department is not None:
        return department in found.departments
    return region is not None and region in found.regions


def require_reader(reader: Who | Reader, *, commission: str) -> None:
    """``reader`` may read something at all; an outsider in a private chat may not (asked
    before looking anything up, so a refusal tells nothing about what exists)."""
    if not reader_of(reader).reads_anything:
        raise DubanError(NOT_VISIBLE, commission=commission)


def require_case_reader(reader: Who | Reader, region: str | None,
                        departments: Iterable[str | None], *, commission: str) -> None:
    if not may_read_case(reader, region, departments):
        raise DubanError(NOT_VISIBLE, commission=commission)


def require_region_reader(reader: Who | Reader, region: str, *, commission: str) -> None:
    require_reader(reader, commission=commission)
    if not may_read_region(reader, region):
        raise DubanError(REGION_NOT_VISIBLE, region=region, commission=commission)


def require_party_reader(reader: Who | Reader, *, commission: str,
                         department: str | None = None, region: str | None = None) -> None:
    if not may_read_party(reader, department=department, region=region):
        raise DubanError(NOT_VISIBLE, commission=commission)


def status_place(reader: Who | Reader, *, commission: str) -> str | None:
    """What ``/status`` without a county shows: ``None`` for the whole prefecture (to those
    who read everything), else the reader's county or park (its room's first); a department's
    liaison is refused."""
    found = reader_of(reader)
    if found.everything:
        return None
    room = found.room
    if room is not None and room.kind == "region" and room.region:
        return room.region
    if found.who.role == "liaison" and found.who.region:
        return found.who.region
    require_reader(found, commission=commission)
    raise DubanError(PREFECTURE_NOT_VISIBLE, commission=commission)


def require_prefecture_reader(reader: Who | Reader, *, commission: str) -> None:
    """The whole prefecture's board (``/board``) and ledger (``/ledger``): like ``/status``
    without a county, only to those who read everything; anyone else is told whom to ask."""
    found = reader_of(reader)
    if not found.everything:
        require_reader(found, commission=commission)
        raise DubanError(PREFECTURE_NOT_VISIBLE, commission=commission)


def overdue_scope(reader: Who | Reader, *, commission: str) -> Scope:
    """What ``/overdue`` lists: in a department's or county's room that party's cases (for
    coordinators too); elsewhere everything for coordinators, the liaison's own party's
    cases for a liaison; an outsider is refused."""
    found = reader_of(reader)
    room = found.room
    if room is not None and room.kind == "department" and room.department:
        return Scope(department=room.department)
    if room is not None and room.kind == "region" and room.region:
        return Scope(region=room.region)
    if found.everything:
        return Scope()
    if found.who.role == "liaison" and found.who.department:
        return Scope(department=found.who.department)
    if found.who.role == "liaison" and found.who.region:
        return Scope(region=found.who.region)
    raise DubanError(NOT_VISIBLE, commission=commission)
