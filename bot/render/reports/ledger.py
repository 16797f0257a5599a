"""The ledger (台账) as an .xlsx workbook: one sheet per kind (cases, yearly duties, notices,
summonses), each a plain table with a frozen, filtered header row.

Everything in words, in the reader's language: departments and counties by their names,
states, roles and statuses as labels, dates as dates (the reader's date style), evidence by
its file names, notices and summonses by their numbers. A cell with several items holds one
per line. Columns are as wide as their widest line (Chinese counts double), within limits.
The cases arrive in chunks (:attr:`bot.services.ledger.Ledger.cases`) and are written as
they come. This module imports openpyxl: callers import it when they write a ledger.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, tzinfo
from pathlib import Path
from typing import IO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from bot.core.i18n import N_, Translator
from bot.core.org import Org
from bot.core.tasks import STATUS_LABELS as TASK_STATUS_LABELS
from bot.render import inspections as inspection_texts
from bot.render import tasks as task_texts
from bot.render import texts
from bot.render.calendar_texts import duty_words
from bot.render.reports import Cell
from bot.render.reports.cells import display_width
from bot.render.reports.xlsx_util import date_format, excel_value, sheet_title
from bot.services.inspections import InspectionView
from bot.services.ledger import (
    Ledger,
    LedgerCase,
    LedgerDuty,
    LedgerNotice,
    LedgerPart,
    LedgerSummons,
    Summoned,
)
from bot.services.tasks import TaskView

_HEADER_FILL = PatternFill("solid", fgColor="D9D9D9")
_MIN_WIDTH, _MAX_WIDTH = 8, 60

CASE_HEADERS = (N_("Reference"), N_("County or park"), N_("Enterprise"), N_("Industry"),
                N_("Clause"), N_("Capacity"), N_("Unit"), N_("Registered"), N_("Deadline"),
                N_("Due day"), N_("Closed"), N_("State"), N_("Overdue"),
                N_("Departments (role, status)"), N_("Evidence"), N_("Notices"),
                N_("Summonses"))
DUTY_HEADERS = (N_("Duty"), N_("Department, county or park"), N_("Role"), N_("Opened"),
                N_("Due"), N_("Submitted"), N_("State"), N_("Evidence"), N_("Notices"),
                N_("Summonses"))
NOTICE_HEADERS = (N_("Number"), N_("Issued"), N_("Signed off by"), N_("Named"), N_("Cases"))
SUMMONS_HEADERS = (N_("Number"), N_("Summoned"), N_("Leader"), N_("Time"), N_("Place"),
                   N_("Status"), N_("Reply"), N_("Held"), N_("After notice"), N_("Cases"))

DUTY_STATES = {"submitted": N_("submitted"), "overdue": N_("overdue"),
               "open": N_("not yet submitted")}
SUMMONS_STATUSES = {"proposed": N_("proposed, waiting for confirmation"),
                    "confirmed": N_("confirmed")}
RSVP_WORDS = {"accept": N_("will attend"), "decline": N_("declined")}
PART = N_("{department} ({role}, {status})")
INSPECTION_HEADERS = (N_("Day"), N_("Inspection"), N_("County or park"), N_("Status"),
                      N_("Departments"), N_("Enterprises checked"), N_("Problems found"),
                      N_("Cases opened"), N_("Evidence"))
INSPECTION_STATUSES = {"planned": N_("scheduled, not yet recorded"), "recorded": N_("recorded")}
TASK_HEADERS = (N_("Task"), N_("Clause"), N_("Title"), N_("Status"), N_("Lead"),
                N_("With"), N_("Reports due"), N_("Live since"), N_("Next report due"),
                N_("Not yet reported"), N_("Reports"), N_("Evidence"), N_("Case"),
                N_("Carried out on"))


def ledger_file_name(year: int, tr: Translator) -> str:
    return tr.gettext(N_("ledger-{year}.xlsx"), year=year)


class _Sheet:
    """One table on its own sheet: a bold, filled, frozen header row with a filter, the
    rows as they come, and the widths of what was written."""

    def __init__(self, book: Workbook, title: str, headers: Sequence[str],
                 tr: Translator, *, first: bool = False) -> None:
        sheet = book.active if first else book.create_sheet()
        assert sheet is not None
        self.sheet: Worksheet = sheet
        self.sheet.title = sheet_title(title)
        self.tr = tr
        self.widths = [display_width(header) for header in headers]
        self.sheet.append(list(headers))
        for cell in self.sheet[1]:
            cell.font = Font(bold=True)
            cell.fill = _HEADER_FILL
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        self.sheet.freeze_panes = "A2"

    def add(self, values: Sequence[Cell]) -> None:
        self.sheet.append([excel_value(value, self.tr) for value in values])
        for index, cell in enumerate(self.sheet[self.sheet.max_row]):
            value = values[index]
            cell.alignment = Alignment(vertical="top", wrap_text=True)
            if isinstance(value, date):
                cell.number_format = date_format(self.tr)
                width = 14
            else:
                shown = "" if cell.value is None else str(cell.value)
                width = max((display_width(line) for line in shown.split("\n")), default=0)
            self.widths[index] = max(self.widths[index], width)

    def finish(self) -> None:
        last = get_column_letter(len(self.widths))
        self.sheet.auto_filter.ref = f"A1:{last}{max(self.sheet.max_row, 1)}"
        for index, width in enumerate(self.widths, start=1):
            self.sheet.column_dimensions[get_column_letter(index)].width = min(
                max(width + 2, _MIN_WIDTH), _MAX_WIDTH)


class _Words:
    """How the ledger's values read, for one reader."""

    def __init__(self, tr: Translator, org: Org, tz: tzinfo) -> None:
        self.tr, self.org, self.tz = tr, org, tz

    @staticmethod
    def lines(items: Iterable[str]) -> str | None:
        joined = "\n".join(items)
        return joined or None

    def party(self, kind: str, key: str) -> str:
        return texts.party_name(self.org, kind, key, self.tr.locale)

    def part(self, part: LedgerPart) -> str:
        name = (self.party("department", part.department) if part.department
                else part.as_written)
        tr = self.tr
        return tr.gettext(PART, department=name,
                          role=tr.gettext(texts.ROLE_LABELS.get(part.role, part.role)),
                          status=tr.gettext(texts.STATUS_LABELS.get(part.status, part.status)))

    def evidence(self, refs: Sequence[str]) -> str | None:
        return self.lines(texts.evidence_label(ref, self.tr) for ref in refs)

    def summonses(self, found: Sequence[Summoned]) -> str | None:
        return self.lines(texts.summons_code(s, self.tr) for s in found)


def _case_row(case: LedgerCase, words: _Words) -> list[Cell]:
    tr = words.tr
    return [case.ref, case.region, case.enterprise, texts.industry_label(case.industry, tr),
            texts.clause_label(case.clause, tr), case.capacity, case.unit, case.registered_on,
            case.deadline, case.due_on, case.closed_on, texts.state_label(case.state, tr),
            case.overdue, words.lines(words.part(p) for p in case.parts),
            words.evidence(case.evidence), words.lines(case.notices),
            words.summonses(case.summonses)]


def _duty_row(duty: LedgerDuty, today: date, words: _Words) -> list[Cell]:
    tr = words.tr
    state = ("submitted" if duty.confirmed_on else "overdue" if duty.due < today else "open")
    return [duty_words(duty.kind, tr),
            words.party(duty.party_kind, duty.party),
            tr.gettext(texts.ROLE_LABELS.get(duty.role, duty.role)), duty.opened_on,
            duty.due, duty.confirmed_on, tr.gettext(DUTY_STATES[state]),
            words.evidence(duty.evidence), words.lines(duty.notices),
            words.summonses(duty.summonses)]


def _notice_row(notice: LedgerNotice, words: _Words) -> list[Cell]:
    return [notice.code, notice.issued_on, notice.signed_by,
            words.lines(words.party(kind, party) for kind, party in notice.parties),
            words.lines(notice.case_refs)]


def _summons_row(summons: LedgerSummons, words: _Words) -> list[Cell]:
    tr = words.tr
    return [texts.summons_code(summons.summoned, tr),
            words.party(summons.party_kind, summons.party), summons.leader,
            texts.fmt_datetime(summons.meets_at, tr, words.tz), summons.place,
            tr.gettext(SUMMONS_STATUSES.get(summons.status, summons.status)),
            tr.gettext(RSVP_WORDS[summons.rsvp]) if summons.rsvp in RSVP_WORDS else None,
            summons.held, summons.notice, words.lines(summons.case_refs)]


def _inspection_row(view: InspectionView, words: _Words) -> list[Cell]:
    tr, inspection = words.tr, view.inspection
    enterprises: Cell = (words.lines(inspection.enterprises) if inspection.enterprises
                         else inspection.enterprise_count)
    return [inspection.held_on or inspection.scheduled_on,
            tr.gettext(inspection_texts.KIND_LABELS.get(inspection.kind, inspection.kind)),
            words.lines(inspection.regions),
            tr.gettext(INSPECTION_STATUSES.get(inspection.status, inspection.status)),
            words.lines(words.party("department", key) for key in inspection.departments),
            enterprises,
            words.lines(inspection_texts.problem_line(inspection, p, tr) for p in view.problems),
            words.lines(p.case_ref for p in view.problems if p.case_ref),
            words.evidence([ref for p in view.problems for ref in p.evidence])]


def _task_row(view: TaskView, words: _Words) -> list[Cell]:
    tr, task = words.tr, view.task
    pending = sorted((d for d in view.duties if d.confirmed_at is None), key=lambda d: d.due)
    return [task.number, f"（{task.clause}）", task.title,
            tr.gettext(TASK_STATUS_LABELS.get(task.status, task.status)),
            words.lines(words.party("department", key) for key in task.lead),
            words.lines(words.party("department", key) for key in task.participants),
            task_texts.schedule_words(view.schedule, tr), task.live_on,
            pending[0].due if pending else None,
            words.lines(words.party("department", d.party) for d in pending),
            words.lines(task_texts.report_line(r, tr, words.org.alias_table(), words.tz)
                        for r in view.reports),
            words.evidence([ref for r in view.reports for ref in r.evidence]),
            view.case_ref, task.done_on]


async def write_ledger(ledger: Ledger, tr: Translator, org: Org, tz: tzinfo,
                       target: Path | IO[bytes]) -> int:
    """Write the ledger to ``target``; how many cases it holds."""
    words = _Words(tr, org, tz)
    book = Workbook()
    cases = _Sheet(book, tr.gettext(N_("Cases")), [tr.gettext(h) for h in CASE_HEADERS], tr,
                   first=True)
    count = 0
    async for chunk in ledger.cases():
        for case in chunk:
            cases.add(_case_row(case, words))
        count += len(chunk)
    sheets = [cases]
    for title, headers, rows in (
            (N_("Yearly duties"), DUTY_HEADERS,
             (_duty_row(d, ledger.today, words) for d in ledger.duties)),
            (N_("Notices"), NOTICE_HEADERS, (_notice_row(n, words) for n in ledger.notices)),
            (N_("Summonses"), SUMMONS_HEADERS,
             (_summons_row(s, words) for s in ledger.summonses)),
            (N_("Inspections"), INSPECTION_HEADERS,
             (_inspection_row(i, words) for i in ledger.inspections)),
            (N_("Tasks"), TASK_HEADERS, (_task_row(t, words) for t in ledger.tasks))):
        sheet = _Sheet(book, tr.gettext(title), [tr.gettext(h) for h in headers], tr)
        for values in rows:
            sheet.add(values)
        sheets.append(sheet)
    for sheet in sheets:
        sheet.finish()
    book.save(target)
    return count
