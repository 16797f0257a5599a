"""Faults the emulator injects into the bot's calls, and Telegram's limits it checks.

* :class:`FaultPlan` and :class:`FaultInjector`: a seeded share of the bot's sending calls (or
  of the methods named) fails with a 429 and ``retry_after``, a 500, a 502 (nginx's HTML page,
  as Telegram's front end answers), a **timeout** (the answer is held past the client's read
  timeout, then the connection is closed) or a **drop** (the connection is closed at once,
  without an answer). Each fault strikes either **before** the call takes effect (nothing is
  recorded) or **after** it (the message is recorded, the edit applied, and then the error or
  the silence): the second kind is what leaves the bot not knowing whether its message
  arrived. A 429 is always "before": Telegram refuses the request, it never half-takes it.
* :class:`LimitWatch`: every message the emulator accepts is counted against Telegram's limits
  (30 a second overall, 20 a minute per group, 1 a second per private chat: the last is a soft
  limit, reported apart) in sliding windows. The watch refuses nothing (the emulator's
  ``RateLimiter`` does, when configured); it records the violations for tests and trials.

Both are plain objects owned by a :class:`~bot.devtools.emulator.state.World`; the server
applies the faults (:meth:`FaultInjector.draw` before each call) and the control API reads
and sets them (``/_emulator/faults``, ``/_emulator/limits``).
"""

from __future__ import annotations

import random
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

#: Methods that send or change what a chat shows (lower case, as the server matches them).
SENDING_METHODS = frozenset({
    "sendmessage", "sendphoto", "senddocument", "editmessagetext", "editmessagecaption",
    "editmessagereplymarkup",
})
FAULT_KINDS = ("429", "500", "502", "timeout", "drop")
#: Faults that can strike after the call took effect (a 429 never does).
AFTER_KINDS = frozenset({"500", "502", "timeout", "drop"})
_METHOD_NAME = re.compile(r"[A-Za-z]{2,64}")
FAULT_LOG_SIZE = 10_000


class FaultPlanError(ValueError):
    """A fault plan that cannot be applied; the message says which value is wrong."""


@dataclass(frozen=True)
class FaultPlan:
    """Which calls fail, how often and how.

    ``rate`` is the share of matching calls that fail; ``kinds`` weighs the kinds of failure;
    ``after`` is the share of the failures (other than 429) that strike after the call took
    effect; ``retry_after`` is the 429's wait in seconds; ``hang`` how long a timeout holds
    the answer (longer than the client waits: python-telegram-bot's read timeout is 5 s) before
    it closes the connection. ``methods`` limits the faults to those Bot API methods (any
    spelling of case); empty means every sending method (:data:`SENDING_METHODS`).
    """

    rate: float = 0.0
    seed: int = 0
    methods: tuple[str, ...] = ()
    kinds: Mapping[str, float] = field(
        default_factory=lambda: dict.fromkeys(FAULT_KINDS, 1.0))
    after: float = 0.5
    retry_after: int = 1
    hang: float = 6.0

    def __post_init__(self) -> None:
        problems = []
        if not 0.0 <= self.rate <= 1.0:
            problems.append(f"rate must be between 0 and 1, got {self.rate}")
        if not 0.0 <= self.after <= 1.0:
            problems.append(f"after must be between 0 and 1, got {self.after}")
        unknown = sorted(set(self.kinds) - set(FAULT_KINDS))
        if unknown:
            problems.append(f"unknown fault kinds {unknown}; known: {', '.join(FAULT_KINDS)}")
        if any(weight < 0 for weight in self.kinds.values()):
            problems.append("fault weights must not be negative")
        if self.rate > 0 and sum(self.kinds.values()) <= 0:
            problems.append("a plan with a rate needs at least one fault kind with a weight")
        if self.retry_after < 1:
            problems.append(f"retry_after must be at least 1 second, got {self.retry_after}")
        if self.hang < 0:
            problems.append(f"hang must not be negative, got {self.hang}")
        bad = [m for m in self.methods if not _METHOD_NAME.fullmatch(m)]
        if bad:
            problems.append(f"not Bot API method names: {bad}")
        if problems:
            raise FaultPlanError("; ".join(problems))

    @property
    def targets(self) -> frozenset[str]:
        return frozenset(m.lower() for m in self.methods) or SENDING_METHODS

    def applies_to(self, method: str) -> bool:
        return self.rate > 0 and method.lower() in self.targets

    def to_json(self) -> JSON:
        return {"rate": self.rate, "seed": self.seed, "methods": list(self.methods),
                "kinds": dict(self.kinds), "after": self.after,
                "retry_after": self.retry_after, "hang": self.hang}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FaultPlan:
        """A plan from the control API's JSON (missing fields keep their defaults)."""
        known = {"rate", "seed", "methods", "kinds", "after", "retry_after", "hang"}
        extra = sorted(set(data) - known)
        if extra:
            raise FaultPlanError(f"unknown fault plan fields {extra}")
        try:
            methods = data.get("methods") or ()
            if isinstance(methods, str):
                methods = [m for m in methods.split(",") if m.strip()]
            kinds = data.get("kinds")
            if isinstance(kinds, str):
                kinds = parse_kinds(kinds)
            elif isinstance(kinds, list | tuple):
                kinds = dict.fromkeys((str(k) for k in kinds), 1.0)
            return cls(rate=float(data.get("rate", 0.0)), seed=int(data.get("seed", 0)),
                       methods=tuple(str(m).strip() for m in methods),
                       kinds={str(k): float(v) for k, v in kinds.items()} if kinds is not None
                       else dict.fromkeys(FAULT_KINDS, 1.0),
                       after=float(data.get("after", 0.5)),
                       retry_after=int(data.get("retry_after", 1)),
                       hang=float(data.get("hang", 6.0)))
        except (TypeError, ValueError, AttributeError) as error:
            if isinstance(error, FaultPlanError):
                raise
            raise FaultPlanError(f"bad fault plan: {error}") from None


def parse_kinds(text: str) -> dict[str, float]:
    """``"429=2,500,timeout=0.5"``: kinds with weights (a kind without one weighs 1)."""
    kinds: dict[str, float] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, _, weight = part.partition("=")
        try:
            kinds[name.strip()] = float(weight) if weight else 1.0
        except ValueError:
            raise FaultPlanError(f"bad weight in {part!r}") from None
    return kinds


@dataclass(frozen=True)
class Fault:
    """One injected failure: its kind and whether the call took effect first."""

    kind: str
    after: bool

    @property
    def phase(self) -> str:
        return "after" if self.after else "before"


class FaultInjector:
    """Draws the faults of a :class:`FaultPlan`, reproducibly, and keeps a log of them.

    Every matching call draws the same three numbers whether or not it fails, so the faults a
    seed gives depend only on the order of the calls.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.configure(FaultPlan())

    def configure(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._random = random.Random(plan.seed)
        self.calls = 0
        self.log: deque[JSON] = deque(maxlen=FAULT_LOG_SIZE)
        self.counts: dict[str, int] = {}

    def draw(self, method: str) -> Fault | None:
        """The fault for this call of ``method``, or None (most calls)."""
        plan = self.plan
        if not plan.applies_to(method):
            return None
        self.calls += 1
        hit, pick, phase = (self._random.random() for _ in range(3))
        if hit >= plan.rate:
            return None
        weights = [(kind, plan.kinds.get(kind, 0.0)) for kind in FAULT_KINDS]
        total = sum(weight for _, weight in weights)
        point, kind = pick * total, FAULT_KINDS[-1]
        for name, weight in weights:
            if weight > 0 and point < weight:
                kind = name
                break
            point -= weight
        return Fault(kind, kind in AFTER_KINDS and phase < plan.after)

    def record(self, fault: Fault, method: str, chat_id: Any = None,
               message_id: int | None = None) -> JSON:
        """Log an injected fault; ``message_id`` is the message an "after" fault let through."""
        self.counts[f"{fault.kind}/{fault.phase}"] = (
            self.counts.get(f"{fault.kind}/{fault.phase}", 0) + 1)
        entry = {"n": sum(self.counts.values()), "method": method, "chat_id": chat_id,
                 "kind": fault.kind, "phase": fault.phase, "message_id": message_id,
                 "date": self._clock()}
        self.log.append(entry)
        return entry

    def report(self) -> JSON:
        return {"plan": self.plan.to_json(), "calls": self.calls,
                "injected": sum(self.counts.values()), "counts": dict(self.counts),
                "faults": list(self.log)}


# --------------------------------------------------------------------------- limits


@dataclass(frozen=True)
class Limit:
    """At most ``count`` messages in any ``seconds``-long window, over ``scope``: ``all`` the
    bot's messages, each ``group`` (groups, supergroups, channels) or each ``private`` chat."""

    name: str
    count: int
    seconds: float
    scope: str
    soft: bool = False


#: Telegram's published limits for bots; the private one is advice ("avoid more than one
#: message per second in a chat"), not a hard refusal, so it is reported apart.
TELEGRAM_LIMITS = (
    Limit("overall", 30, 1.0, "all"),
    Limit("group", 20, 60.0, "group"),
    Limit("private", 1, 1.0, "private", soft=True),
)
EXAMPLES = 50


class LimitWatch:
    """Counts accepted messages against :data:`TELEGRAM_LIMITS` and records violations.

    A message violates a limit when, with it, more than ``count`` messages fall within the
    last ``seconds × (1 − slack)``: arrival times carry a few milliseconds of network jitter,
    so a sender that paces exactly 30 a second may show 31 in a strict second now and then.
    """

    def __init__(self, monotonic: Callable[[], float],
                 limits: Iterable[Limit] = TELEGRAM_LIMITS, slack: float = 0.05) -> None:
        self._monotonic = monotonic
        self.limits = tuple(limits)
        self.slack = slack
        self.reset()

    def reset(self) -> None:
        self.messages = 0
        self._windows: dict[tuple[str, int | None], deque[float]] = {}
        self.peaks: dict[str, int] = {limit.name: 0 for limit in self.limits}
        self.violations: dict[str, int] = {limit.name: 0 for limit in self.limits}
        self.examples: list[JSON] = []

    def observe(self, chat_id: int, private: bool) -> list[JSON]:
        """Count one accepted message to ``chat_id``; returns the violations it makes."""
        now = self._monotonic()
        self.messages += 1
        found = []
        for limit in self.limits:
            if (limit.scope == "group" and private) or (limit.scope == "private"
                                                        and not private):
                continue
            key = (limit.name, None if limit.scope == "all" else chat_id)
            window = self._windows.setdefault(key, deque())
            window.append(now)
            span = limit.seconds * (1 - self.slack)
            while window and window[0] <= now - span:
                window.popleft()
            self.peaks[limit.name] = max(self.peaks[limit.name], len(window))
            if len(window) > limit.count:
                self.violations[limit.name] += 1
                violation = {"limit": limit.name, "count": len(window), "allowed": limit.count,
                             "seconds": limit.seconds, "soft": limit.soft,
                             "chat_id": None if limit.scope == "all" else chat_id}
                found.append(violation)
                if len(self.examples) < EXAMPLES:
                    self.examples.append(violation)
        return found

    def hard_violations(self) -> int:
        return sum(self.violations[limit.name] for limit in self.limits if not limit.soft)

    def report(self) -> JSON:
        """What was checked, the busiest windows seen and the violations (hard and soft)."""
        return {
            "messages": self.messages, "slack": self.slack,
            "limits": [{"name": limit.name, "count": limit.count, "seconds": limit.seconds,
                        "scope": limit.scope, "soft": limit.soft} for limit in self.limits],
            "peaks": dict(self.peaks), "violations": dict(self.violations),
            "hard_violations": self.hard_violations(), "examples": list(self.examples),
        }
