"""Routing: a case's clauses decide which departments get it, and in which role.

Departments tagged ``responsible`` or ``lead`` must confirm; ``cooperate`` and ``guide``
departments are informed; a ``by_duty`` group (相关部门, 各参与部门 …) is resolved to departments
by a coordinator, and until then the case waits in the coordinators' queue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from bot.core.policy.catalog import Catalog


class AssignmentStatus(StrEnum):
    PENDING = "pending"  # routed, not yet accepted
    ACCEPTED = "accepted"
    INFORMED = "informed"  # cooperating or guiding: told, need not confirm
    RETURNED = "returned"  # handed back as misrouted, waiting for a coordinator
    UNRESOLVED = "unresolved"  # a by-duty group a coordinator must resolve
    RESOLVED = "resolved"  # a group resolved into departments


# Stronger roles first: a department named twice keeps its strongest part.
ROLE_ORDER = ("responsible", "lead", "by_duty", "cooperate", "guide")
REQUIRED_ROLES = frozenset({"responsible", "lead", "by_duty"})
ACTIVE_STATUSES = frozenset({AssignmentStatus.PENDING, AssignmentStatus.ACCEPTED})


@dataclass(frozen=True)
class PlannedAssignment:
    target: str  # department key, or "group:<name>" for an unresolved group
    department: str | None
    as_written: str
    role: str
    required: bool
    status: AssignmentStatus
    clause: str
    tag_raw: str


def group_target(as_written: str) -> str:
    return f"group:{as_written}"


def route(catalog: Catalog, clauses: Iterable[str]) -> list[PlannedAssignment]:
    """Plan the assignments for a case under ``clauses`` (refs such as "四")."""
    planned: dict[str, PlannedAssignment] = {}
    for ref in clauses:
        clause = catalog.find_clause(ref)
        for paragraph in clause.paragraphs:
            for tag in paragraph.tags:
                for item in tag.assignments:
                    candidate = _plan(item.role, item.department, item.as_written, clause.ref,
                                      tag.raw)
                    current = planned.get(candidate.target)
                    if current is None or _stronger(candidate.role, current.role):
                        planned[candidate.target] = candidate
    return list(planned.values())


def _plan(role: str, department: str | None, as_written: str, clause: str,
          tag_raw: str) -> PlannedAssignment:
    if department is None:
        return PlannedAssignment(group_target(as_written), None, as_written, role,
                                 required=False, status=AssignmentStatus.UNRESOLVED,
                                 clause=clause, tag_raw=tag_raw)
    required = role in REQUIRED_ROLES
    status = AssignmentStatus.PENDING if required else AssignmentStatus.INFORMED
    return PlannedAssignment(department, department, as_written, role, required, status,
                             clause, tag_raw)


def _stronger(role: str, than: str) -> bool:
    order = {name: i for i, name in enumerate(ROLE_ORDER)}
    return order.get(role, len(order)) < order.get(than, len(order))
