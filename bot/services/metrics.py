"""The bot's Prometheus metrics, one registry per application.

Built once in ``bot.app.build_deps`` and reached through ``Deps.metrics``; the counters move
where things happen (updates in ``handlers/observe.py``, the sweep in ``bot.app``, deliveries in
``handlers/delivery.py``, Telegram's 429s in the rate limiter, signed notices in
``bot.services.calendar``), the gauges are read from the database when ``/metrics`` is scraped
(``bot.services.monitor``). A registry of its own, never prometheus_client's global one, so
several applications in one process (the tests) count apart.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.services.health import DeliveryHealth

#: Update kinds counted apart.
MESSAGE, COMMAND, BUTTON, OTHER = "message", "command", "button", "other"
KINDS = (MESSAGE, COMMAND, BUTTON, OTHER)
# A press is answered in tens of milliseconds; seconds mean the database or Telegram is slow.
PRESS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Updates received whose end was never seen (dropped as already handled) are forgotten beyond
# this many, oldest first.
_MAX_OPEN = 1000


class Metrics:
    """The counters, the press latency histogram and the scrape-time gauges."""

    def __init__(self, timer: Callable[[], float] = time.perf_counter) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._timer = timer
        self._started: OrderedDict[int, float] = OrderedDict()
        r = self.registry
        self.updates = Counter("duban_updates_handled", "Updates handled, by kind "
                               "(message, command, button, other)", ["kind"], registry=r)
        for kind in KINDS:
            self.updates.labels(kind)
        self.press_seconds = Histogram(
            "duban_button_press_seconds", "Time from a button press received to handled",
            buckets=PRESS_BUCKETS, registry=r)
        self.sweeps = Counter("duban_sweeps", "Calendar sweeps run", registry=r)
        self.sweeps_failed = Counter("duban_sweeps_failed", "Calendar sweeps that failed",
                                     registry=r)
        self.sent = Counter("duban_messages_sent", "Outbox items delivered", registry=r)
        self.failed = Counter("duban_messages_failed",
                              "Outbox items given up (refused, no chat, bot removed)",
                              registry=r)
        self.retried = Counter("duban_messages_retried",
                               "Outbox items put back to be tried again", registry=r)
        self.retry_after = Counter("duban_telegram_retry_after",
                                   "429 Too Many Requests (RetryAfter) answers from Telegram",
                                   registry=r)
        self.notices = Counter("duban_notices_issued", "Notices (通报) signed and issued",
                               registry=r)
        self.outbox = Gauge("duban_outbox_items", "Outbox items by state, read at scrape "
                            "time: waiting (not yet tried), retrying, given_up", ["state"],
                            registry=r)
        self.database_up = Gauge("duban_database_up",
                                 "1 if the database answered the scrape's query", registry=r)
        self.sweep_age = Gauge("duban_last_sweep_age_seconds",
                               "Seconds since the last successful sweep (NaN: none yet)",
                               registry=r)

    # -- updates ------------------------------------------------------------------------------

    def update_received(self, update_id: int) -> None:
        self._started[update_id] = self._timer()
        while len(self._started) > _MAX_OPEN:
            self._started.popitem(last=False)

    def update_handled(self, update_id: int, kind: str) -> None:
        self.updates.labels(kind if kind in KINDS else OTHER).inc()
        started = self._started.pop(update_id, None)
        if kind == BUTTON and started is not None:
            self.press_seconds.observe(max(0.0, self._timer() - started))

    # -- scraping -----------------------------------------------------------------------------

    def observe_state(self, deliveries: DeliveryHealth | None, last_sweep: datetime | None,
                      now: datetime) -> None:
        """The gauges as of a scrape; ``deliveries`` None: the database did not answer."""
        if deliveries is None:
            self.database_up.set(0)
            self.outbox.clear()  # no figures rather than stale ones
        else:
            self.database_up.set(1)
            self.outbox.labels("waiting").set(deliveries.queued - deliveries.retrying)
            self.outbox.labels("retrying").set(deliveries.retrying)
            self.outbox.labels("given_up").set(deliveries.failed)
        self.sweep_age.set(float("nan") if last_sweep is None
                           else max(0.0, (now - last_sweep).total_seconds()))

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)
