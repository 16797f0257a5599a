"""The coordinators are asked for a year's holiday notice whatever the sweep happens to read:
a sweep reads only the cases due, so a process stopped after its first sweep recorded the
cases' next due days, and before the warning, must not leave the warning unsent for good
(found by the nudge-kill trial: the 2028 notice was never asked for in one run of three)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.services.calendar import CalendarService
from bot.services.outbox import OutboxStore
from scheduler.workdays import UNCOVERED_YEAR_MESSAGE, WorkCalendar
from tests.conftest import Services
from tests.test_calendar import at, bind_chats, clock, rectifying

__all__ = ["clock"]  # the fixture: these stories start in January


def _process(services: Services) -> CalendarService:
    """The calendar of a (new) bot process."""
    cases = services.cases
    return CalendarService(cases.sessions, services.clock, cases.catalog, WorkCalendar(), cases,
                           services.org.current)


async def _asked(services: Services) -> list[int]:
    rows = await OutboxStore(services.cases.sessions).due(
        services.clock.now() + timedelta(days=400), limit=1000)
    return [r.payload["params"]["year"] for r in rows
            if r.payload.get("message") == UNCOVERED_YEAR_MESSAGE]


async def test_a_year_is_asked_for_after_a_sweep_stopped_before_asking(
        services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    await bind_chats(services)
    services.clock.set(at(date(2026, 8, 3)))
    # due in February 2027, its ladder into 2028: a year nothing else of the sweep brings
    await rectifying(services, "Y-1", date(2026, 8, 3))
    first = _process(services)

    async def stopped(*_args: object) -> None:
        raise SystemExit  # the process ends here, its next due days already recorded

    monkeypatch.setattr(first, "_warn_uncovered_years", stopped)
    with pytest.raises(SystemExit):
        await first.sweep()
    assert await _asked(services) == []
    monkeypatch.undo()

    services.clock.set(at(date(2026, 8, 4)))  # nothing of the case is due now
    again = _process(services)
    report = await again.sweep()
    assert report.items == ()
    assert (await _asked(services)).count(2028) == 1
    await again.sweep()
    await _process(services).sweep()  # a third process: asked once all the same
    assert (await _asked(services)).count(2028) == 1
