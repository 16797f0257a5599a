"""What is due when: nudges, the escalation ladder, catch-up, exactly-once keys.

Every test injects ``now``; a "sweep" is one call of ``due_items``; the simulated sender
sends the items whose ``send_after`` has come and records their ``done_keys``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.org import EscalationSettings, load_demo_org
from bot.core.policy.catalog import Catalog, Clause, Deadline, Paragraph, load_default_catalog
from scheduler.rules import (
    AnnualRule,
    CaseSnapshot,
    DeptStatus,
    DueItem,
    NoticeHistory,
    ObligationSnapshot,
    Recipient,
    annual_rules,
    due_items,
    format_notice_number,
    group_by_recipient,
    is_step_name,
    nudge_step,
    obligations_for_year,
    parse_notice_number,
    years_in_view,
)
from scheduler.workdays import WorkCalendar, in_office_hours

TZ = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()
# The ladder of one party; the counties as laggards are tested on their own.
SETTINGS = EscalationSettings(laggard_overdue_cases=0, laggard_working_days=0)
HOURS = SETTINGS.office_hours
FAR_YEAR = 2031  # a year chinesecalendar does not cover


def d(text: str) -> date:
    return date.fromisoformat(text)


def at(text: str) -> datetime:
    """A local Shanghai time: ``at("2026-06-29 10:00")``; a bare date means 10:00."""
    if len(text) == 10:
        text += " 10:00"
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def case(
    ref: str = "CZ-001",
    deadline: str | None = "2026-06-30",
    *departments: str | DeptStatus,
    routed_on: str = "2026-01-05",
    kind: str = "rectification",
    state: str = "rectifying",
    **changes: object,
) -> CaseSnapshot:
    required = tuple(
        DeptStatus(x, accepted=True) if isinstance(x, str) else x
        for x in (departments or ("industry",))
    )
    snapshot = CaseSnapshot(
        ref=ref, region="玛纳斯县", clause="四", state=state,
        deadline=None if deadline is None else d(deadline), deadline_kind=kind,
        routed_on=d(routed_on), required=required,
    )
    return replace(snapshot, **changes)  # type: ignore[arg-type]


def sweep(
    cases: Iterable[CaseSnapshot] = (),
    now: str | datetime = "2026-06-29",
    sent: Iterable[str] = (),
    obligations: Iterable[ObligationSnapshot] = (),
    notices: Iterable[NoticeHistory] = (),
    calendar: WorkCalendar = CAL,
    escalation: EscalationSettings = SETTINGS,
) -> list[DueItem]:
    moment = at(now) if isinstance(now, str) else now
    return due_items(list(cases), list(obligations), list(notices), frozenset(sent),
                     moment, calendar, escalation, TZ)


def keys(items: Iterable[DueItem]) -> list[str]:
    return [i.key for i in items]


@dataclass
class Sender:
    """Runs sweeps in time order and plays the sending job: exactly once, by key."""

    done: set[str] = field(default_factory=set)
    log: list[tuple[datetime, DueItem]] = field(default_factory=list)
    superseded: set[str] = field(default_factory=set)

    def run(
        self,
        times: Iterable[datetime],
        cases: Callable[[datetime], Sequence[CaseSnapshot]] | Sequence[CaseSnapshot] = (),
        obligations: Sequence[ObligationSnapshot] = (),
        notices: Sequence[NoticeHistory] = (),
        calendar: WorkCalendar = CAL,
    ) -> list[tuple[datetime, DueItem]]:
        sent_now: list[tuple[datetime, DueItem]] = []
        for now in times:
            snapshot = cases(now) if callable(cases) else cases
            items = due_items(snapshot, obligations, notices, frozenset(self.done), now,
                              calendar, SETTINGS, TZ)
            for item in items:
                assert item.send_after >= now
                assert in_office_hours(item.send_after, calendar, HOURS, TZ)
                if item.send_after > now:
                    continue  # a preview: a later sweep recomputes it
                assert item.key not in self.done, f"sent twice: {item.key}"
                self.done.update(item.done_keys)
                self.superseded.update(item.supersedes)
                sent_now.append((now, item))
        self.log.extend(sent_now)
        return sent_now


def daily(first: str, last: str, clock: str = "10:00") -> list[datetime]:
    """One sweep a day at ``clock`` (every day, holidays included)."""
    start, end = d(first), d(last)
    return [at(f"{(start + timedelta(days=i)).isoformat()} {clock}")
            for i in range((end - start).days + 1)]


def sent_steps(log: Iterable[tuple[datetime, DueItem]]) -> list[tuple[str, str, str]]:
    """(local send date, recipient, step) of each sent item."""
    return [(now.astimezone(TZ).date().isoformat(), i.recipient, i.step) for now, i in log]


# --- keys and names --------------------------------------------------------------------------


def test_key_format() -> None:
    items = sweep([case()], "2026-06-23")
    assert keys(items) == ["nudge:case:CZ-001:industry:2026-06-30:T-7"]
    item = items[0]
    assert (item.kind, item.recipient_kind, item.recipient) == ("nudge", "department", "industry")
    assert (item.case_refs, item.obligation, item.step) == (("CZ-001",), None, "T-7")
    assert (item.due_at, item.deadline, item.party) == (d("2026-06-23"), d("2026-06-30"),
                                                        "industry")
    assert item.send_after == at("2026-06-23 10:00")
    # The first sweep ever: T-30 and T-14 were missed and are superseded.
    assert item.supersedes == ("nudge:case:CZ-001:industry:2026-06-30:T-30",
                               "nudge:case:CZ-001:industry:2026-06-30:T-14")
    assert item.done_keys == (item.key, *item.supersedes)


def test_step_names() -> None:
    assert nudge_step(7) == "T-7"
    assert all(is_step_name(s) for s in ("T-0", "T-30", "notice", "summons", "reminder",
                                         "overdue", "unaccepted_alert", "credit_flag"))
    assert not is_step_name("T-") and not is_step_name("notices")


def test_bad_snapshots_are_refused() -> None:
    with pytest.raises(ValueError):
        case(kind="someday")
    with pytest.raises(ValueError):
        ObligationSnapshot("party", 2026, d("2026-03-31"), "industry", "department")
    with pytest.raises(ValueError):
        ObligationSnapshot("work_plan", 2026, d("2026-03-31"), "industry", "person")
    with pytest.raises(ValueError):
        sweep([case()], datetime(2026, 6, 29, 10, 0))  # naive


# --- nudges before a deadline ----------------------------------------------------------------


def test_nudges_on_an_ordinary_deadline() -> None:
    # 30 June 2026 is a Tuesday. T-30 = Sun 31 May -> Fri 29 May; T-3 = Sat 27 June -> Fri 26.
    sender = Sender()
    sender.run(daily("2026-05-01", "2026-06-30"), [case()])
    assert sent_steps(sender.log) == [
        ("2026-05-29", "industry", "T-30"),
        ("2026-06-16", "industry", "T-14"),
        ("2026-06-23", "industry", "T-7"),
        ("2026-06-26", "industry", "T-3"),
        ("2026-06-29", "industry", "T-1"),
        ("2026-06-30", "industry", "T-0"),
    ]
    assert sender.superseded == set()


def test_deadline_on_a_holiday_gets_its_last_nudge_the_working_day_before() -> None:
    # 3 October 2026 is inside the National Day holiday; T-3, T-1 and T-0 all fall back to
    # Wednesday 30 September: one nudge (T-0), the others superseded. T-7 (Sat 26 Sept) is
    # Mid-Autumn: back to Thursday 24 Sept. T-14 (Sat 19 Sept) back to Friday 18 Sept.
    sender = Sender()
    sender.run(daily("2026-08-25", "2026-10-03"), [case(deadline="2026-10-03")])
    assert sent_steps(sender.log) == [
        ("2026-09-03", "industry", "T-30"),
        ("2026-09-18", "industry", "T-14"),
        ("2026-09-24", "industry", "T-7"),
        ("2026-09-30", "industry", "T-0"),
    ]
    last = sender.log[-1][1]
    assert last.due_at == d("2026-09-30")
    assert set(last.supersedes) == {
        "nudge:case:CZ-001:industry:2026-10-03:T-3",
        "nudge:case:CZ-001:industry:2026-10-03:T-1",
    }


def test_spring_festival_make_up_saturday_carries_the_nudges() -> None:
    # Deadline Tue 24 Feb 2026, the first day back. T-7, T-3 and T-1 fall in the holiday and
    # go back to Saturday 14 February, a make-up working day (调休).
    sender = Sender()
    sender.run(daily("2026-01-20", "2026-02-24"), [case(deadline="2026-02-24")])
    assert sent_steps(sender.log) == [
        ("2026-01-23", "industry", "T-30"),
        ("2026-02-10", "industry", "T-14"),
        ("2026-02-14", "industry", "T-1"),
        ("2026-02-24", "industry", "T-0"),
    ]
    assert sender.log[2][1].supersedes == (
        "nudge:case:CZ-001:industry:2026-02-24:T-7",
        "nudge:case:CZ-001:industry:2026-02-24:T-3",
    )


def test_national_day_make_up_days_are_working_days() -> None:
    # Deadline Sat 10 October 2026, a make-up working day: T-0 goes out on that Saturday.
    # Deadline Tue 20 October: T-30 is Sunday 20 September, also a make-up working day.
    sender = Sender()
    sender.run(daily("2026-09-01", "2026-10-20"),
               [case("A", "2026-10-10"), case("B", "2026-10-20")])
    nudges = [(now, i) for now, i in sender.log if i.kind == "nudge"]
    a = [(day, step) for day, _, step in sent_steps(n for n in nudges if n[1].case_refs == ("A",))]
    b = [(day, step) for day, _, step in sent_steps(n for n in nudges if n[1].case_refs == ("B",))]
    # A: T-14 (Sat 26 Sept, Mid-Autumn) back to Thu 24 Sept; T-7 and T-3 (3 and 7 Oct)
    # back to Wed 30 Sept, where T-3 supersedes T-7.
    assert a == [("2026-09-10", "T-30"), ("2026-09-24", "T-14"), ("2026-09-30", "T-3"),
                 ("2026-10-09", "T-1"), ("2026-10-10", "T-0")]
    assert b[0] == ("2026-09-20", "T-30")
    assert ("2026-10-19", "T-1") in b and ("2026-10-20", "T-0") in b


def test_no_nudge_points_before_routing() -> None:
    # Routed 25 June for 30 June: T-30, T-14 and T-7 do not exist; T-3 (Sat 27 -> Fri 26).
    sender = Sender()
    sender.run(daily("2026-06-20", "2026-06-30"), [case(routed_on="2026-06-25")])
    assert sent_steps(sender.log) == [
        ("2026-06-26", "industry", "T-3"),
        ("2026-06-29", "industry", "T-1"),
        ("2026-06-30", "industry", "T-0"),
    ]
    assert sender.superseded == set()


def test_point_moved_back_before_routing_stays_on_the_routing_day() -> None:
    # Routed Saturday 27 June (a case can be registered at the weekend): T-3 falls on the
    # Saturday, its working day before is the 26th, before routing: it stays on the 27th and
    # goes out at the first send time, Monday 09:00 — together with T-1 of that Monday, so
    # only T-1 is sent.
    items = sweep([case(routed_on="2026-06-27")], "2026-06-27 11:00")
    assert keys(items) == ["nudge:case:CZ-001:industry:2026-06-30:T-1"]
    assert items[0].supersedes == ("nudge:case:CZ-001:industry:2026-06-30:T-3",)
    assert items[0].send_after == at("2026-06-29 09:00")


def test_departments_added_later_count_from_their_own_routing_day() -> None:
    late = DeptStatus("environment", accepted=True, routed_on=d("2026-06-25"))
    items = sweep([case("CZ-001", "2026-06-30", "industry", late)], "2026-06-23")
    assert keys(items) == ["nudge:case:CZ-001:industry:2026-06-30:T-7"]


def test_only_departments_that_have_not_confirmed_are_nudged() -> None:
    statuses = (DeptStatus("industry", True, confirmed=True),
                DeptStatus("development_reform", True, confirmed=False))
    items = sweep([case("CZ-001", "2026-06-30", *statuses)], "2026-06-23")
    assert [i.recipient for i in items] == ["development_reform"]


def test_confirmation_between_sweeps_stops_the_nudges() -> None:
    def cases(now: datetime) -> list[CaseSnapshot]:
        confirmed = now >= at("2026-06-24 15:00")
        return [case("CZ-001", "2026-06-30", "development_reform",
                     DeptStatus("industry", True, confirmed=confirmed), routed_on="2026-06-20")]

    sender = Sender()
    sender.run(daily("2026-06-17", "2026-07-20"), cases)
    industry = [step for _, who, step in sent_steps(sender.log) if who == "industry"]
    reform = [step for _, who, step in sent_steps(sender.log) if who == "development_reform"]
    assert industry == ["T-7"]
    assert reform[:5] == ["T-7", "T-3", "T-1", "T-0", "overdue"]


def test_closed_and_paused_cases_have_nothing_due() -> None:
    assert sweep([case(state="rectified")], "2026-06-30") == []
    assert sweep([case(state="exited")], "2026-08-30") == []
    assert sweep([case(paused=True)], "2026-06-30") == []
    assert sweep([case(deadline=None)], "2026-06-30") == []


# --- office hours ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "send_after", "expected"),
    [
        # Before opening: due today, sent at 09:00.
        ("2026-06-29 07:00", "2026-06-29 09:00", ["T-1"]),
        # After closing on the deadline day: evaluated for the next morning -> overdue.
        ("2026-06-30 18:00", "2026-07-01 09:00", ["overdue"]),
        # Saturday before a Monday deadline: evaluated for Monday 09:00 -> T-0.
        ("2026-06-27 10:00", "2026-06-29 09:00", ["T-0"]),
    ],
)
def test_items_carry_the_next_send_time(now: str, send_after: str, expected: list[str]) -> None:
    deadline = "2026-06-30" if "06-27" not in now else "2026-06-29"
    items = sweep([case(deadline=deadline)], now)
    assert [i.step for i in items] == expected
    assert {i.send_after for i in items} == {at(send_after)}


def test_nothing_is_sent_on_a_holiday_even_if_swept() -> None:
    sender = Sender()
    sender.run(daily("2026-10-01", "2026-10-07"), [case(deadline="2026-10-08")])
    assert sender.log == []
    sender.run([at("2026-10-08 09:00")], [case(deadline="2026-10-08")])
    assert sent_steps(sender.log) == [("2026-10-08", "industry", "T-0")]


# --- catch-up after downtime -------------------------------------------------------------------


def test_downtime_gives_one_catch_up_per_chat() -> None:
    cases = [
        case("CZ-001", "2026-06-30", "industry", "development_reform"),
        case("CZ-002", "2026-06-30", "industry"),
    ]
    sender = Sender()
    sender.run(daily("2026-06-01", "2026-06-10"), cases)  # nothing due (T-30 was 29 May)
    sender.run([at("2026-06-29 09:30")], cases)  # the bot was down from 11 to 28 June
    catch_up = [i for now, i in sender.log if now == at("2026-06-29 09:30")]
    digests = group_by_recipient(catch_up)
    assert set(digests) == {Recipient("department", "industry"),
                            Recipient("department", "development_reform")}
    assert [i.case_refs for i in digests[Recipient("department", "industry")]] == [
        ("CZ-001",), ("CZ-002",)]
    for item in catch_up:
        assert item.step == "T-1"
        assert [k.rsplit(":", 1)[1] for k in item.supersedes] == ["T-14", "T-7", "T-3"]
    # The superseded nudges are never sent afterwards.
    sender.run(daily("2026-06-29", "2026-06-30", "15:00"), cases)
    later = [i.step for now, i in sender.log if now > at("2026-06-29 09:30")]
    assert later == ["T-0", "T-0", "T-0"]


def test_downtime_over_the_deadline_sends_the_ladder_not_the_nudges() -> None:
    sender = Sender()
    sender.run(daily("2026-06-15", "2026-06-20"), [case()])
    sender.run([at("2026-07-03 10:00")], [case()])  # down 21 June to 2 July
    sent = [(i.recipient, i.step) for now, i in sender.log if now == at("2026-07-03 10:00")]
    # Overdue fell due 1 July, the second reminder (D + 3 working days) on 3 July: only the
    # latter goes to the department, with its copy to the coordinators.
    assert sent == [("coordinators", "reminder_cc"), ("industry", "reminder")]
    reminder = sender.log[-1][1]
    assert {k.rsplit(":", 1)[1] for k in reminder.supersedes} == {
        "T-7", "T-3", "T-1", "T-0", "overdue"}


def test_long_downtime_makes_every_formal_step_due_once() -> None:
    items = sweep([case()], "2026-08-03")
    assert [(i.recipient, i.step) for i in items] == [
        ("coordinators", "reminder_cc"), ("industry", "reminder"), ("industry", "notice"),
        ("industry", "summons"),
    ]
    later = sweep([case()], "2026-08-04", sent=[k for i in items for k in i.done_keys])
    # Nothing of the ladder again; ten working days after the summons, the first follow-up.
    assert [(i.recipient, i.step) for i in later] == [("industry", "follow_up")]


def test_after_the_summons_a_still_open_case_is_followed_up_every_ten_working_days() -> None:
    sender = Sender()
    sender.run(daily("2026-07-01", "2026-10-30"), [case()])
    follow_ups = [day for day, party, step in sent_steps(sender.log) if step == "follow_up"]
    assert len(follow_ups) >= 4 and all(party == "industry" for _, party, step in
                                        sent_steps(sender.log) if step == "follow_up")
    days = [d(day) for day in follow_ups]
    assert all(CAL.working_days_between(a, b) == 10 for a, b in pairwise(days))
    paused = Sender()
    paused.run(daily("2026-07-01", "2026-10-30"), [case(skipped_steps=("follow_up",))])
    assert "follow_up" not in {step for _, _, step in sent_steps(paused.log)}


# --- the escalation ladder ------------------------------------------------------------------


def test_escalation_ladder_dates() -> None:
    # Deadline Thu 8 October 2026, just after National Day; Sat 10 October is worked.
    sender = Sender()
    sender.run(daily("2026-10-08", "2026-11-10"), [case(deadline="2026-10-08",
                                                       routed_on="2026-10-05")])
    assert sent_steps(sender.log) == [
        ("2026-10-08", "industry", "T-0"),
        ("2026-10-09", "industry", "overdue"),
        ("2026-10-12", "coordinators", "reminder_cc"),  # 9, 10 (Sat, worked), 12
        ("2026-10-12", "industry", "reminder"),
        ("2026-10-16", "industry", "notice"),  # + 7 working days
        ("2026-10-28", "industry", "summons"),  # + 15 working days
    ]


def test_deadline_on_a_holiday_counts_working_days_after_it() -> None:
    items = sweep([case(deadline="2026-10-03")], "2026-10-08 09:00")
    assert [(i.step, i.due_at) for i in items] == [("overdue", d("2026-10-04"))]
    items = sweep([case(deadline="2026-10-03")], "2026-10-12 09:00",
                  sent=[k for i in items for k in i.done_keys])
    assert [(i.step, i.due_at) for i in items] == [
        ("reminder_cc", d("2026-10-10")), ("reminder", d("2026-10-10"))]


def test_reminder_after_days_delays_the_overdue_reminder() -> None:
    escalation = replace(SETTINGS, reminder_after_days=1)
    assert sweep([case()], "2026-07-01", escalation=escalation) == []
    items = sweep([case()], "2026-07-02", escalation=escalation)
    assert [i.step for i in items] == ["overdue"]


def test_second_notice_within_the_window_goes_straight_to_summons() -> None:
    recent = [NoticeHistory("industry", d("2026-06-01"))]
    items = sweep([case()], "2026-07-09", notices=recent)  # D + 7 working days
    summons = [i for i in items if i.kind == "summons"]
    assert [i.kind for i in items if i.kind in ("notice", "summons")] == ["notice", "summons"]
    assert summons[0].reason == "second_notice"
    assert summons[0].key == "summons:case:CZ-001:industry:2026-06-30:summons"
    assert summons[0].due_at == d("2026-07-09")
    # The D + 15 working days summons is the same key: not sent again.
    done = [k for i in items for k in i.done_keys]
    assert not [i for i in sweep([case()], "2026-07-22", sent=done, notices=recent)
                if i.kind == "summons"]


@pytest.mark.parametrize(
    ("issued", "summons"),
    [("2026-05-10", True), ("2026-05-09", False), ("2026-07-09", True), ("2025-07-09", False)],
)
def test_second_notice_window_is_60_days(issued: str, summons: bool) -> None:
    notices = [NoticeHistory("industry", d(issued)), NoticeHistory("environment", d("2026-07-01"))]
    items = sweep([case()], "2026-07-09", notices=notices)
    assert any(i.kind == "summons" for i in items) is summons


def test_notices_for_one_party_in_one_sweep_are_one_notice() -> None:
    cases = [case("CZ-002"), case("CZ-001"), case("CZ-003", "2026-06-30", "environment")]
    items = sweep(cases, "2026-07-09", sent=[])
    notices = [i for i in items if i.kind == "notice"]
    assert [(i.recipient, i.case_refs) for i in notices] == [
        ("environment", ("CZ-003",)), ("industry", ("CZ-001", "CZ-002"))]
    industry = notices[1]
    assert industry.key == "notice:case:CZ-001:industry:2026-06-30:notice"
    assert industry.covers == ("notice:case:CZ-002:industry:2026-06-30:notice",)
    # Two notices in one sweep are not each other's "second notice".
    assert not [i for i in items if i.kind == "summons"]
    done = [k for i in items for k in i.done_keys]
    assert not [i for i in sweep(cases, "2026-07-10", sent=done) if i.kind == "notice"]


def test_skipped_steps() -> None:
    skip_notice = case(skipped_steps=frozenset({"notice"}))
    items = sweep([skip_notice], "2026-07-09")
    assert "notice" not in [i.step for i in items]
    items = sweep([skip_notice], "2026-07-21")
    assert "summons" in [i.step for i in items]  # the ladder is not held up

    skip_reminder = case(skipped_steps=frozenset({"reminder"}))
    items = sweep([skip_reminder], "2026-07-03")
    assert [i.step for i in items] == ["overdue"]  # not superseded by a skipped step

    skip_t7 = case(skipped_steps=frozenset({"T-7"}), routed_on="2026-06-10")
    sender = Sender()
    sender.run(daily("2026-06-10", "2026-06-30"), [skip_t7])
    assert [s for _, _, s in sent_steps(sender.log)] == ["T-14", "T-3", "T-1", "T-0"]


def test_paused_then_resumed_catches_up_from_the_real_dates() -> None:
    def cases(now: datetime) -> list[CaseSnapshot]:
        return [case(paused=at("2026-06-20") <= now < at("2026-07-14"))]

    sender = Sender()
    sender.run(daily("2026-05-25", "2026-07-20"), cases)
    assert sent_steps(sender.log) == [
        ("2026-05-29", "industry", "T-30"),
        ("2026-06-16", "industry", "T-14"),
        ("2026-07-14", "coordinators", "reminder_cc"),
        ("2026-07-14", "industry", "reminder"),
        ("2026-07-14", "industry", "notice"),
    ]


def test_extension_moves_the_deadline_and_the_keys() -> None:
    def cases(now: datetime) -> list[CaseSnapshot]:
        if now < at("2026-06-26"):
            return [case(routed_on="2026-06-10")]
        return [case(deadline="2026-09-30", kind="extension", routed_on="2026-06-10")]

    sender = Sender()
    sender.run(daily("2026-06-10", "2026-10-08"), cases)  # overdue waits for National Day
    old = [i for now, i in sender.log if i.deadline == d("2026-06-30")]
    new = [i for now, i in sender.log if i.deadline == d("2026-09-30")]
    assert [i.step for i in old] == ["T-14", "T-7"]
    assert all(now < at("2026-06-26") for now, i in sender.log if i in old)
    assert [i.step for i in new] == ["T-30", "T-14", "T-7", "T-3", "T-1", "T-0", "overdue"]
    assert all(":2026-09-30:" in i.key for i in new)


def test_a_case_imported_after_its_deadline_is_not_escalated_retroactively() -> None:
    imported = case(deadline="2026-03-31", routed_on="2026-06-29")
    items = sweep([imported], "2026-06-29")
    assert [(i.step, i.due_at) for i in items] == [("overdue", d("2026-06-29"))]
    assert items[0].key == "overdue:case:CZ-001:industry:2026-03-31:overdue"
    done = [k for i in items for k in i.done_keys]
    items = sweep([imported], "2026-07-08", sent=done)  # the notice fell due on 7 July
    assert [i.step for i in items] == ["reminder_cc", "reminder", "notice"]


# --- acceptance and credit ---------------------------------------------------------------------


def test_unaccepted_case_reminder_then_alert() -> None:
    unaccepted = DeptStatus("environment", accepted=False)
    sender = Sender()
    sender.run(daily("2026-03-02", "2026-03-20"),
               [case("CZ-009", "2026-09-01", unaccepted, routed_on="2026-03-02")])
    assert sent_steps(sender.log) == [
        ("2026-03-04", "environment", "unaccepted_reminder"),
        ("2026-03-09", "coordinators", "unaccepted_alert"),
    ]
    alert = sender.log[1][1]
    assert alert.key == "unaccepted:case:CZ-009:environment:2026-03-02:unaccepted_alert"
    assert alert.party == "environment"


def test_unaccepted_clock_counts_working_days_over_the_spring_festival() -> None:
    pending = case("CZ-009", None, DeptStatus("environment"), routed_on="2026-02-13",
                   state="routed")
    sender = Sender()
    sender.run(daily("2026-02-13", "2026-03-05"), [pending])
    assert sent_steps(sender.log) == [
        ("2026-02-24", "environment", "unaccepted_reminder"),
        ("2026-02-27", "coordinators", "unaccepted_alert"),
    ]
    accepted = replace(pending, required=(DeptStatus("environment", accepted=True),))
    assert sweep([accepted], "2026-02-27") == []


@pytest.mark.parametrize(
    ("kind", "failing_exit", "flagged"),
    [("exit", False, True), ("dismantling", False, True),
     ("rectification", True, True), ("rectification", False, False),
     ("extension", False, False)],
)
def test_credit_flag_for_a_missed_exit_deadline(kind: str, failing_exit: bool,
                                                flagged: bool) -> None:
    snapshot = case(kind=kind, failing_exit=failing_exit, state="shutdown_ordered")
    items = sweep([snapshot], "2026-07-01")
    flags = [i for i in items if i.kind == "credit_flag"]
    assert bool(flags) is flagged
    if flags:
        assert flags[0].recipient_kind == "coordinators"
        assert flags[0].key == "credit_flag:case:CZ-001:enterprise:2026-06-30:credit_flag"
        done = [k for i in items for k in i.done_keys]
        assert not [i for i in sweep([snapshot], "2026-07-02", sent=done)
                    if i.kind == "credit_flag"]
    exited = replace(snapshot, state="exited")
    assert sweep([exited], "2026-07-01") == []


# --- yearly obligations -----------------------------------------------------------------------


def test_obligations_for_year_from_the_catalog_and_the_demo_org() -> None:
    org = load_demo_org()
    duties = obligations_for_year(2026, load_default_catalog(), org.regions, org.departments)
    by_kind: dict[str, list[ObligationSnapshot]] = {}
    for duty in duties:
        by_kind.setdefault(duty.kind, []).append(duty)
    assert {k: {o.due for o in v} for k, v in by_kind.items()} == {
        "work_plan": {d("2026-03-31")},
        "region_work_plan": {d("2026-03-31")},  # the cover letter gives no date: (19)'s
        "county_report": {d("2026-11-30")},
        "department_letter": {d("2026-12-31")},
        "annual_report": {d("2027-01-31")},
    }
    assert [(o.party, o.role) for o in by_kind["work_plan"]] == [
        ("industry", "lead"), ("energy", "lead"), ("coal", "lead"),
        ("development_reform", "cooperate"), ("environment", "cooperate"),
        ("quality", "cooperate"), ("safety", "cooperate")]
    assert {o.party for o in by_kind["county_report"]} == {r.name for r in org.regions}
    assert all(o.party_kind == "region" for o in by_kind["county_report"])
    assert [o.party for o in by_kind["region_work_plan"]] == [r.name for r in org.regions]
    assert all(o.party_kind == "region" for o in by_kind["region_work_plan"])
    assert [o.party for o in by_kind["department_letter"]] == [
        "development_reform", "environment", "quality", "safety"]
    assert [o.party for o in by_kind["annual_report"]] == ["industry", "energy", "coal"]
    assert by_kind["annual_report"][0].id == "annual_report/2026"
    assert [o.due for o in duties] == sorted(o.due for o in duties)


def test_obligations_only_for_departments_the_org_has() -> None:
    regions = ["玛纳斯县", "准东开发区"]
    duties = obligations_for_year(2026, None, regions, ["industry", "environment"])
    assert [(o.kind, o.party) for o in duties] == [
        ("work_plan", "industry"), ("work_plan", "environment"),
        ("region_work_plan", "玛纳斯县"), ("region_work_plan", "准东开发区"),
        ("county_report", "玛纳斯县"), ("county_report", "准东开发区"),
        ("department_letter", "environment"), ("annual_report", "industry"),
    ]


def test_annual_dates_come_from_the_catalog() -> None:
    paragraph = Paragraph(
        text="每年3月15日前，各地工业和信息化主管部门研究制定工作方案。",
        deadlines=(Deadline("annual", "每年3月15日前", month=3, day=15),),
    )
    other = Paragraph(text="每年2月底前报送。",
                      deadlines=(Deadline("annual", "", month=2, day=28),))
    catalog = Catalog(clauses=(Clause(path=("十九",), paragraphs=(paragraph, other)),))
    rules = annual_rules(catalog)
    assert rules[0] == AnnualRule("work_plan", 3, 15)
    assert rules[1:] == (AnnualRule("county_report", 11, 30),
                         AnnualRule("department_letter", 12, 31),
                         AnnualRule("annual_report", 1, 31, next_year=True),
                         AnnualRule("region_work_plan", 3, 15))  # with the work plan
    duties = obligations_for_year(2026, catalog, [], ["industry"])
    assert duties[0].due == d("2026-03-15")
    duties = obligations_for_year(2026, [AnnualRule("work_plan", 2, 29)], ["玛纳斯县"],
                                  ["industry"])
    assert duties[0].due == d("2026-02-28")  # clamped in a common year
    assert duties[1].kind == "region_work_plan" and duties[1].due == d("2026-02-28")


def test_county_report_nudges_and_ladder_go_to_the_region() -> None:
    duty = ObligationSnapshot("county_report", 2026, d("2026-11-30"), "玛纳斯县", "region")
    sender = Sender()
    sender.run(daily("2026-10-25", "2026-12-31"), obligations=[duty])
    assert sent_steps(sender.log) == [
        ("2026-10-30", "玛纳斯县", "T-30"),  # 31 Oct is a Saturday
        ("2026-11-16", "玛纳斯县", "T-14"),
        ("2026-11-23", "玛纳斯县", "T-7"),
        ("2026-11-27", "玛纳斯县", "T-1"),  # T-3 (Fri 27) and T-1 (Sun 29 -> Fri 27): one
        ("2026-11-30", "玛纳斯县", "T-0"),
        ("2026-12-01", "玛纳斯县", "overdue"),
        ("2026-12-03", "coordinators", "reminder_cc"),
        ("2026-12-03", "玛纳斯县", "reminder"),
        ("2026-12-09", "玛纳斯县", "notice"),
        ("2026-12-21", "玛纳斯县", "summons"),
    ]
    first = sender.log[0][1]
    assert first.kind == "obligation_nudge"
    assert first.key == "obligation_nudge:obligation:county_report/2026:玛纳斯县:2026-11-30:T-30"
    assert first.obligation == "county_report/2026" and first.recipient_kind == "region"
    notice = next(i for _, i in sender.log if i.kind == "notice")
    assert (notice.recipient_kind, notice.recipient, notice.case_refs) == (
        "region", "玛纳斯县", ())


def test_confirmed_obligation_has_nothing_due() -> None:
    duty = ObligationSnapshot("work_plan", 2026, d("2026-03-31"), "industry", "department",
                              confirmed=True)
    assert sweep(obligations=[duty], now="2026-03-31") == []


def test_obligation_nudges_start_at_opened_on() -> None:
    duty = ObligationSnapshot("work_plan", 2026, d("2026-03-31"), "industry", "department",
                              opened_on=d("2026-03-20"))
    items = sweep(obligations=[duty], now="2026-03-24")
    assert [i.step for i in items] == ["T-7"]
    assert items[0].supersedes == ()


def test_uncovered_year_keeps_statutory_holidays_in_the_ladder() -> None:
    # A year the library does not know: 1 January is still New Year's Day (from the holidays
    # package), so the overdue reminder waits for the morning of the 2nd.
    duty = ObligationSnapshot("department_letter", FAR_YEAR - 1, d(f"{FAR_YEAR - 1}-12-31"),
                              "environment", "department")
    items = sweep(obligations=[duty], now=f"{FAR_YEAR}-01-01")
    assert [(i.step, i.send_after) for i in items] == [
        ("overdue", datetime(FAR_YEAR, 1, 2, 9, tzinfo=TZ))]
    assert CAL.uncovered_years(years_in_view([], [duty], at(f"{FAR_YEAR}-01-01"))) == (
        FAR_YEAR - 1, FAR_YEAR)


def test_years_in_view() -> None:
    cases = [case(deadline="2026-12-31"), case("X", "2030-03-01", state="exited")]
    assert years_in_view(cases, [], at("2026-06-01")) == (2026, 2027)


# --- notice numbers -------------------------------------------------------------------------


def test_notice_numbers() -> None:
    assert format_notice_number("昌州经信督", 2026, 3) == "昌州经信督〔2026〕3号"
    assert parse_notice_number("昌州经信督〔2026〕12号") == ("昌州经信督", 2026, 12)
    for bad in (("", 2026, 1), ("昌州经信督", 26, 1), ("昌州经信督", 2026, 0)):
        with pytest.raises(ValueError):
            format_notice_number(*bad)
    with pytest.raises(ValueError):
        parse_notice_number("昌州经信督2026-3")


# --- the property: exactly once, or superseded ---------------------------------------------------

NUDGE_DAYS = SETTINGS.nudge_days_before


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[CaseSnapshot, list[datetime], dict[str, datetime | None]]:
    year = draw(st.sampled_from([2026, 2026, 2026, FAR_YEAR]))
    deadline = date(year, 1, 20) + timedelta(days=draw(st.integers(0, 320)))
    routed = deadline - timedelta(days=draw(st.integers(0, 70)))
    departments = draw(st.lists(st.sampled_from(["industry", "environment", "quality"]),
                                min_size=1, max_size=3, unique=True))
    skipped = draw(st.frozensets(st.sampled_from([nudge_step(n) for n in NUDGE_DAYS]),
                                 max_size=2))
    # Sweeps: a gap of 0 to 9 days (a long one now and then: downtime), at a time of day
    # that is mostly within office hours.
    office_minute = st.integers(9 * 60, 17 * 60 + 29)
    steps = draw(st.lists(
        st.tuples(st.one_of(st.integers(0, 2), st.integers(0, 9)),
                  st.one_of(office_minute, office_minute, st.integers(0, 24 * 60 - 1))),
        min_size=1, max_size=80,
    ))
    day, moments = routed, set()
    for gap, minute in steps:
        day += timedelta(days=gap)
        moments.add(datetime.combine(day, time(0, 0), tzinfo=TZ) + timedelta(minutes=minute))
    times = sorted(moments)
    confirm_at: dict[str, datetime | None] = {
        dept: draw(st.one_of(st.none(), st.sampled_from(times))) for dept in departments
    }
    snapshot = CaseSnapshot(
        ref="P-1", region="玛纳斯县", clause="四", state="rectifying", deadline=deadline,
        deadline_kind="rectification", routed_on=routed,
        required=tuple(DeptStatus(dept, accepted=True) for dept in departments),
        skipped_steps=skipped,
    )
    return snapshot, times, confirm_at


def _confirmed(confirmed_at: datetime | None, now: datetime) -> bool:
    return confirmed_at is not None and now >= confirmed_at


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_every_nudge_point_is_sent_once_or_superseded(
    scenario: tuple[CaseSnapshot, list[datetime], dict[str, datetime | None]],
) -> None:
    snapshot, times, confirm_at = scenario
    assert snapshot.deadline is not None
    deadline = snapshot.deadline

    def cases(now: datetime) -> list[CaseSnapshot]:
        required = tuple(
            replace(s, confirmed=_confirmed(confirm_at[s.department], now))
            for s in snapshot.required
        )
        return [replace(snapshot, required=required)]

    sender = Sender()
    sender.run(times, cases)  # asserts: never twice, never outside office hours

    sent_at: dict[str, datetime] = {}
    for now, item in sender.log:
        sent_at[item.key] = now
        local_day = now.astimezone(TZ).date()
        assert CAL.is_working_day(local_day)
        assert in_office_hours(now, CAL, HOURS, TZ)
        confirmed = confirm_at.get(item.party)
        assert confirmed is None or now < confirmed, "sent after the department confirmed"
        if item.kind == "nudge":
            assert local_day <= deadline, "a nudge after the deadline"
            assert local_day >= item.due_at
        for key in item.supersedes:
            assert key not in sent_at or sent_at[key] == now

    sending_days = [t for t in times if in_office_hours(t, CAL, HOURS, TZ)]
    for status in snapshot.required:
        dept = status.department
        for n in NUDGE_DAYS:
            step = nudge_step(n)
            raw = deadline - timedelta(days=n)
            if raw < snapshot.routed_on or step in snapshot.skipped_steps:
                continue
            on = max(CAL.previous_working_day(raw), snapshot.routed_on)
            key = f"nudge:case:P-1:{dept}:{deadline.isoformat()}:{step}"
            confirmed = confirm_at[dept]
            should = any(
                on <= t.astimezone(TZ).date() <= deadline
                and (confirmed is None or t < confirmed)
                for t in sending_days
            )
            if should:
                assert (key in sent_at) != (key in sender.superseded), key
            else:
                assert key not in sent_at, key
        # The formal steps: each sent once, on or after its day, if anyone swept by then.
        formal = {
            f"reminder:case:P-1:{dept}:{deadline.isoformat()}:reminder_cc":
                CAL.add_working_days(deadline, SETTINGS.second_reminder_after_working_days),
            f"notice:case:P-1:{dept}:{deadline.isoformat()}:notice":
                CAL.add_working_days(deadline, SETTINGS.notice_after_working_days),
            f"summons:case:P-1:{dept}:{deadline.isoformat()}:summons":
                CAL.add_working_days(deadline, SETTINGS.summons_after_working_days),
        }
        confirmed = confirm_at[dept]
        for key, on in formal.items():
            should = any(t.astimezone(TZ).date() >= on and (confirmed is None or t < confirmed)
                         for t in sending_days)
            assert (key in sent_at) is should, key
            if should:
                assert sent_at[key].astimezone(TZ).date() >= on


# --- a shape's items worked out once (rules._Shapes) -----------------------------------------


@st.composite
def look_alike_cases(draw: st.DrawFn) -> tuple[list[CaseSnapshot], datetime, list[datetime]]:
    """Cases of a few shapes, several cases each (only their references differ), a sweep's
    moment, and earlier and later moments whose items may already have been sent. The
    shapes differ from the first in one field each, so that a field left out of the
    shape's key would mix them up."""
    today = date(2026, 6, 1) + timedelta(days=draw(st.integers(0, 200)))
    routed = today - timedelta(days=draw(st.integers(0, 90)))

    def required() -> st.SearchStrategy[tuple[DeptStatus, ...]]:
        status = st.builds(
            DeptStatus, st.sampled_from(["industry", "environment", "quality"]),
            accepted=st.booleans(), confirmed=st.sampled_from([False, False, True]),
            routed_on=st.one_of(
                st.none(), st.integers(0, 30).map(lambda n: routed + timedelta(days=n))))
        return st.lists(status, min_size=1, max_size=3,
                        unique_by=lambda s: s.department).map(tuple) | st.just(())

    fields: dict[str, st.SearchStrategy[object]] = {
        "region": st.sampled_from(["玛纳斯县", "呼图壁县"]),
        "clause": st.sampled_from(["四", "八", "九"]),
        # mostly a state with work due, so that the other fields matter
        "state": st.sampled_from(["rectifying"] * 4 + [
            "routed", "accepted", "overdue", "review", "extension_requested", "exited"]),
        "deadline": st.one_of(st.none(), st.integers(-60, 40).map(
            lambda n: today + timedelta(days=n)), st.integers(0, 31).map(  # nudges due
            lambda n: today + timedelta(days=n))),
        "routed_on": st.integers(0, 30).map(lambda n: routed - timedelta(days=n)),
        "required": required(),
        "deadline_kind": st.sampled_from(["rectification", "extension", "dismantling",
                                          "exit", "immediate", "review"]),
        "paused": st.sampled_from([False, False, False, True]),
        "skipped_steps": st.frozensets(st.sampled_from(
            [nudge_step(n) for n in NUDGE_DAYS] + ["notice", "reminder"]), min_size=1,
            max_size=3) | st.just(frozenset()),
        "failing_exit": st.booleans(),
    }
    first = CaseSnapshot(ref="", **{name: draw(strategy)  # type: ignore[arg-type]
                                    for name, strategy in fields.items()})
    shapes = [first] + [
        replace(first, **{name: draw(fields[name])})  # type: ignore[arg-type]
        for name in draw(st.lists(st.sampled_from(sorted(fields)), min_size=1, max_size=3))]
    cases = [replace(draw(st.sampled_from(shapes)), ref=f"CZ-{i:03d}")
             for i in range(draw(st.integers(1, 24)))]
    now = at(f"{today.isoformat()} 10:00")
    others = [now + timedelta(days=n) for n in draw(st.lists(st.integers(-40, 40), max_size=4))]
    return cases, now, others


def _case_by_case(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rules without the shapes: each case worked out on its own."""
    import scheduler.rules as rules
    monkeypatch.setattr(rules._Shapes, "case_items",
                        lambda _self, case, sweep: rules._case_items(case, sweep))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(look_alike_cases(), st.randoms(use_true_random=False))
def test_a_shape_worked_out_once_gives_every_case_its_own_items(
    scenario: tuple[list[CaseSnapshot], datetime, list[datetime]], rng: object,
) -> None:
    cases, now, others = scenario
    notices = [NoticeHistory("industry", now.date() - timedelta(days=20))]
    with pytest.MonkeyPatch.context() as monkeypatch:
        _case_by_case(monkeypatch)
        # Keys a sweep then or at other moments would discharge; a random part of them sent.
        known = sorted({key for moment in (now, *others)
                        for item in due_items(cases, [], notices, frozenset(), moment, CAL,
                                              SETTINGS, TZ)
                        for key in item.done_keys})
        sent = frozenset(key for key in known if rng.random() < 0.4)  # type: ignore[attr-defined]
        expected = due_items(cases, [], notices, sent, now, CAL, SETTINGS, TZ)
    assert due_items(cases, [], notices, sent, now, CAL, SETTINGS, TZ) == expected


def test_cases_of_one_shape_with_different_histories_each_get_their_own_items() -> None:
    """Three look-alike cases: one never swept, one whose T-7 went out, one whose T-1 went
    out to one department already."""
    alike = [case(ref, "2026-06-30", "industry", "environment") for ref in ("A", "B", "C")]
    sent = {"nudge:case:B:industry:2026-06-30:T-7", "nudge:case:C:environment:2026-06-30:T-1"}
    items = sweep(alike, now="2026-06-29", sent=sent)
    assert sorted(keys(items)) == sorted([
        "nudge:case:A:industry:2026-06-30:T-1", "nudge:case:A:environment:2026-06-30:T-1",
        "nudge:case:B:industry:2026-06-30:T-1", "nudge:case:B:environment:2026-06-30:T-1",
        "nudge:case:C:industry:2026-06-30:T-1"])
    by_key = {i.key: i for i in items}
    b = by_key["nudge:case:B:industry:2026-06-30:T-1"]
    assert b.case_refs == ("B",)
    assert b.supersedes == tuple(f"nudge:case:B:industry:2026-06-30:{step}"
                                 for step in ("T-30", "T-14", "T-3"))
    assert by_key["nudge:case:A:industry:2026-06-30:T-1"].supersedes == tuple(
        f"nudge:case:A:industry:2026-06-30:{step}" for step in ("T-30", "T-14", "T-7", "T-3"))


_BASE = case("base", "2026-06-30", "industry", DeptStatus("environment", accepted=True),
             routed_on="2026-05-04")
_VARIANTS = {  # a value of each field that changes the base case's items on 2026-06-29
    "region": "呼图壁县",  # the counties' laggards read it, not a case's own items
    "clause": "八",
    "state": "review",
    "deadline": d("2026-07-10"),
    "deadline_kind": "immediate",
    "routed_on": d("2026-06-29"),
    "required": (DeptStatus("industry", accepted=False),),
    "paused": True,
    "skipped_steps": frozenset({"T-1"}),
    "failing_exit": True,  # (after the deadline: see below)
}


@pytest.mark.parametrize("field_name", sorted(_VARIANTS))
def test_look_alike_cases_that_differ_in_one_field_each_get_their_own_items(
        field_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever field two cases differ in, neither gets the other's items."""
    other = replace(_BASE, ref="other",
                    **{field_name: _VARIANTS[field_name]})  # type: ignore[arg-type]
    now = "2026-07-02" if field_name == "failing_exit" else "2026-06-29"
    cases = [_BASE, other, replace(_BASE, ref="third")]
    got = sweep(cases, now=now)
    _case_by_case(monkeypatch)
    assert got == sweep(cases, now=now)
    if field_name not in ("region", "clause"):  # read by no item of a case of its own
        assert _as_anyone(sweep([other], now=now)) != _as_anyone(sweep([_BASE], now=now))


def _as_anyone(items: list[DueItem]) -> list[DueItem]:
    """``items`` of one case, its reference taken out."""
    def out(text: str) -> str:
        return text.replace(":base:", ":").replace(":other:", ":")
    return [replace(i, key=out(i.key), case_refs=(), supersedes=tuple(map(out, i.supersedes)))
            for i in items]
