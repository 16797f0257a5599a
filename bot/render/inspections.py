"""Inspections as people read them: ``/inspections`` and the answer to ``/inspection plan``.

Places and departments by their names, days in the reader's date style, never an id or a key.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.core.i18n import N_, Translator
from bot.core.inspections import CASE, COMMISSION, JOINT, PLANNED
from bot.core.org import Org
from bot.render import texts
from bot.services.inspections import InspectionView
from models.tables import Inspection, InspectionProblem

KIND_LABELS = {
    JOINT: N_("joint inspection"),
    COMMISSION: N_("commission inspection"),
}
TITLE = N_("🔎 Inspections in {year}")
TITLE_REGION = N_("🔎 Inspections of {region} in {year}")
NONE = N_("No inspection is recorded or scheduled.")
OVERDUE = N_("⚠️ Scheduled commission inspections whose day has passed without a record:")
SCHEDULED = N_("scheduled")
DEPARTMENTS = N_("Departments: {names}")
ENTERPRISES = N_("Enterprises checked: {count}")
ENTERPRISES_NAMED = N_("Enterprises checked: {count} ({names})")
PROBLEMS_NONE = N_("No problems found")
PROBLEM = N_("Problem: {enterprise}: {text} — {action}")
FED_BACK = N_("fed back to the commission")
FINDING = N_("the commission's finding, sent to the county or park")
CASE_OPENED = N_("case {ref} opened")
EVIDENCE = N_("Evidence: {names}")
PLANNED_REPLY = N_("The commission inspection of {date} is scheduled; {regions} are told in "
                   "their chats. Record it after it is held with /inspection.")


def _departments(org: Org, keys: Sequence[str], tr: Translator) -> str:
    return texts.separator(tr).join(texts.party_name(org, "department", key, tr.locale)
                                    for key in keys)


def _day(inspection: Inspection) -> date | None:
    return inspection.held_on or inspection.scheduled_on


def headline(inspection: Inspection, tr: Translator) -> str:
    """``2026年11月28日 · 联合检查 · 玛纳斯县`` (· 计划 while only scheduled)."""
    parts = [texts.fmt_date(_day(inspection), tr), tr.gettext(KIND_LABELS[inspection.kind]),
             texts.separator(tr).join(inspection.regions)]
    if inspection.status == PLANNED:
        parts.append(tr.gettext(SCHEDULED))
    return " · ".join(parts)


def listing(views: Sequence[InspectionView], overdue: Sequence[Inspection], org: Org,
            tr: Translator, *, year: int, region: str | None) -> str:
    lines = [tr.gettext(TITLE_REGION, region=region, year=year) if region
             else tr.gettext(TITLE, year=year)]
    if overdue:
        lines += ["", tr.gettext(OVERDUE)]
        lines += ["· " + headline(i, tr) for i in overdue]
    if not views:
        lines += ["", tr.gettext(NONE)]
    for number, view in enumerate(views, start=1):
        inspection = view.inspection
        lines += ["", f"{number}. " + headline(inspection, tr)]
        if inspection.departments:
            lines.append("   " + tr.gettext(DEPARTMENTS, names=_departments(
                org, inspection.departments, tr)))
        if inspection.enterprises:
            lines.append("   " + tr.gettext(ENTERPRISES_NAMED, count=len(
                inspection.enterprises), names=texts.separator(tr).join(inspection.enterprises)))
        elif inspection.enterprise_count:
            lines.append("   " + tr.gettext(ENTERPRISES, count=inspection.enterprise_count))
        if inspection.status != PLANNED and not view.problems:
            lines.append("   " + tr.gettext(PROBLEMS_NONE))
        for problem in view.problems:
            lines.append("   · " + problem_line(inspection, problem, tr))
            if problem.evidence:
                lines.append("     " + tr.gettext(EVIDENCE, names=texts.separator(tr).join(
                    texts.evidence_label(ref, tr) for ref in problem.evidence)))
    return "\n".join(lines)


def problem_line(inspection: Inspection, problem: InspectionProblem, tr: Translator) -> str:
    """``宏达水泥：窑尾除尘设施未运行 — 已反馈州经信委`` (or the case it was opened as)."""
    if problem.disposition == CASE:
        action = tr.gettext(CASE_OPENED, ref=problem.case_ref or "")
    else:
        action = tr.gettext(FED_BACK if inspection.kind == JOINT else FINDING)
    return tr.gettext(PROBLEM, enterprise=problem.enterprise or "—", text=problem.text,
                      action=action)


def planned_reply(inspection: Inspection, tr: Translator) -> str:
    return tr.gettext(PLANNED_REPLY, date=texts.fmt_date(inspection.scheduled_on, tr),
                      regions=texts.separator(tr).join(inspection.regions))
