"""Who may do what: the one place that decides.

Services check at the moment of the change, with these functions; handlers ask the same
functions before they open a dialog (so nobody types a reason only to be refused at the end).

* Coordinators may do everything.
* A liaison acts for their own department (in its chat) or their own county or park.
* Everybody else reads what they are shown and acts on nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.i18n import N_, DubanError

COORDINATORS_ONLY = N_("Only coordinators can do this.")
NOT_ALLOWED = N_("Only the liaisons of this department or county, or coordinators, can do "
                 "this.")
OWN_DEPARTMENT_ONLY = N_("You can act only for your own department.")


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
