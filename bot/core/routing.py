"""Routing: a case's clauses decide which departments get it, and in which role.

Departments tagged ``responsible`` or ``lead`` must confirm; ``cooperate`` and ``guide``
departments are informed; a ``by_duty`` group (相关部门, 各参与部门 …) is resolved to departments
by a coordinator, and until then the case waits in the coordinators' queue.

Where the organisation says so by industry (``[routing.required]``, by default for （八）: 工信
and 发改 always, 煤炭 for coal, 能源 for power, 质监 for steel), a department the tag names in a
required role must confirm only when it is listed for the case's industry; the others keep
their part as the tag writes it but are informed, as cooperating departments are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from bot.core.org import RoutingSettings
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


def route(catalog: Catalog, clauses: Iterable[str], industry: str | None = None,
          settings: RoutingSettings | None = None) -> list[PlannedAssignment]:
    """Plan the assignments for a case of ``industry`` under ``clauses`` (refs such as
    "四"); ``settings`` say who must confirm by industry (default: :class:`RoutingSettings`)."""
    settings = settings or RoutingSettings()
    planned: dict[str, PlannedAssignment] = {}
    for ref in clauses:
        clause = catalog.find_clause(ref)
        wanted = settings.required(clause.ref, industry)
        for paragraph in clause.paragraphs:
            for tag in paragraph.tags:
                for item in tag.assignments:
                    candidate = _plan(item.role, item.department, item.as_written, clause.ref,
                                      tag.raw, wanted)
                    current = planned.get(candidate.target)
                    if current is None or _better(candidate, current):
                        planned[candidate.target] = candidate
    return list(planned.values())


def _better(candidate: PlannedAssignment, current: PlannedAssignment) -> bool:
    """A required part beats an informed one; then the stronger role."""
    if candidate.required != current.required:
        return candidate.required
    return _stronger(candidate.role, current.role)


def _plan(role: str, department: str | None, as_written: str, clause: str,
          tag_raw: str, wanted: frozenset[str] | None = None) -> PlannedAssignment:
    if department is None:
        return PlannedAssignment(group_target(as_written), None, as_written, role,
                                 required=False, status=AssignmentStatus.UNRESOLVED,
                                 clause=clause, tag_raw=tag_raw)
    required = role in REQUIRED_ROLES and (wanted is None or department in wanted)
    status = AssignmentStatus.PENDING if required else AssignmentStatus.INFORMED
    return PlannedAssignment(department, department, as_written, role, required, status,
                             clause, tag_raw)


def _stronger(role: str, than: str) -> bool:
    order = {name: i for i, name in enumerate(ROLE_ORDER)}
    return order.get(role, len(order)) < order.get(than, len(order))
