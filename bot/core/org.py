"""The organisation: prefecture, counties and parks, departments, people, escalation settings.

Loaded from a TOML file (see ``bot/data/demo_org.toml`` for a complete example)::

    [prefecture]
    name = "昌州"                    # required
    commission = "昌州经信委"          # default: name + "经信委"
    notice_prefix = "昌州经信督"        # default: name + "经信督"; 昌州经信督〔2026〕3号
    timezone = "Asia/Shanghai"       # default

    [[regions]]                      # counties (县/市) and parks (园区)
    name = "玛纳斯县"                  # required, unique
    kind = "county"                  # county | park
    aliases = ["玛纳斯"]              # optional, unique across regions
    leader = "…"                     # optional: the responsible leader (target of 约谈)

    [[departments]]                  # optional; omitted: every builtin department
    key = "industry"                 # a key of bot.core.departments, or a new key
    name = "州工信局"                  # required for a new key; default: the builtin name
    aliases = ["工信局"]
    leader = "…"

    [[people]]
    name = "王玮中"
    telegram_id = 10001              # positive integer, unique
    role = "coordinator"             # coordinator | liaison
    department = "industry"          # a liaison has a department key …
    region = "玛纳斯县"                # … or a region (exactly one)

    [escalation]                     # every key optional, defaults in EscalationSettings
    office_hours = ["09:00", "17:30"]

    [review]                         # optional
    before_closing = true            # default: a coordinator reviews each closing (办结复核)

    [routing.required."八"]           # optional: who must confirm, by the case's industry
    all = ["工信", "发改"]             # required in every industry
    coal = ["煤炭"]                   # … and per industry (key or 煤炭, 电力, 钢铁 …)

    Of the departments a listed clause's tag names in a required role, only those listed
    for "all" or for the case's industry must confirm; the others are told (cooperating).
    Default: :data:`DEFAULT_REQUIRED` (（八）: 工信 and 发改 always, 煤炭 for coal, 能源 for
    power, 质监 for steel, the 地条钢 products the clause names).

Validation collects every problem in the file and raises one :class:`OrgError`; either the
whole organisation loads or nothing does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import time
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.departments import DEFAULT_ALIASES, AliasTable
from bot.core.i18n import N_, DubanError, ProblemsError
from bot.core.matching import (
    DEPARTMENT_SUFFIXES,
    REGION_SUFFIXES,
    MatchResult,
    NameIndex,
    raise_for,
)
from bot.core.tomlfile import TomlTexts, parse_toml, read_toml

__all__ = [
    "COORDINATOR",
    "LIAISON",
    "ROLES",
    "EscalationSettings",
    "Org",
    "OrgDepartment",
    "OrgError",
    "Person",
    "Prefecture",
    "Region",
    "RequiredRule",
    "ReviewSettings",
    "RoutingSettings",
    "load_demo_org",
    "load_org",
    "parse_org",
]

COUNTY = "county"
PARK = "park"
REGION_KINDS = (COUNTY, PARK)
COORDINATOR = "coordinator"
LIAISON = "liaison"
ROLES = (COORDINATOR, LIAISON)


@dataclass(frozen=True)
class Prefecture:
    name: str
    commission: str
    notice_prefix: str
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True)
class Region:
    """A county (县/市) or an industrial park (园区)."""

    name: str
    kind: str
    aliases: tuple[str, ...] = ()
    leader: str | None = None


@dataclass(frozen=True)
class OrgDepartment:
    """A functional department as the prefecture calls it; ``key`` is the canonical key."""

    key: str
    name: str
    aliases: tuple[str, ...] = ()
    leader: str | None = None


@dataclass(frozen=True)
class Person:
    """A coordinator or a liaison; a liaison belongs to one department or one region."""

    name: str
    telegram_id: int
    role: str
    department: str | None = None
    region: str | None = None

    @property
    def is_coordinator(self) -> bool:
        return self.role == COORDINATOR


@dataclass(frozen=True)
class EscalationSettings:
    """How overdue work climbs the ladder; days are calendar days unless named working."""

    reminder_after_days: int = 0
    second_reminder_after_working_days: int = 3
    notice_after_working_days: int = 7
    summons_after_working_days: int = 15
    second_notice_window_days: int = 60
    unaccepted_reminder_working_days: int = 2
    unaccepted_alert_working_days: int = 5
    #: After the summons, a still-open case is reminded every this many working days.
    follow_up_every_working_days: int = 10
    #: Waits of states without a deadline of their own, in working days from entering them:
    #: a "立即" clause's stop or dismantling confirmed after acceptance (（七）（八）),
    immediate_working_days: int = 3
    #: the next decision where the text sets no date (order a restriction, set a date),
    decision_working_days: int = 10
    #: the government's approval of a closure that was submitted (（五）（六）),
    approval_working_days: int = 20
    #: and the shutdown and exit once ordered (（四）–（七）).
    shutdown_working_days: int = 60
    #: A county or park is a laggard (named in the 通报) with this many overdue cases …
    laggard_overdue_cases: int = 3
    #: … or with any case overdue by this many working days (0: that test is off).
    laggard_working_days: int = 15
    #: A 通报 and a 约谈 wait for a coordinator's 签发 / confirmation (false: issued at once).
    sign_off: bool = True
    nudge_days_before: tuple[int, ...] = (30, 14, 7, 3, 1, 0)
    office_hours: tuple[time, time] = (time(9, 0), time(17, 30))


@dataclass(frozen=True)
class ReviewSettings:
    """Whether a coordinator reviews a case before it closes (办结复核): the departments'
    confirmation of the closing step then waits for 办结 or 退回重办; off, it closes at once."""

    before_closing: bool = True


ALL_INDUSTRIES = "all"


@dataclass(frozen=True)
class RequiredRule:
    """Under ``clause``, the departments that must confirm a case of ``industry`` (an
    industry key, or :data:`ALL_INDUSTRIES`)."""

    clause: str
    industry: str
    departments: tuple[str, ...]


#: （八） 技术方面 names 工信、发改、能源、煤炭、质监 as leads; not all of them own every line.
#: 工信 and 发改 always; 煤炭 for coal mines, 能源 for power plants; 质监 where the products
#: are the concern: steel, the "地条钢" of 工频炉/中频炉 the clause names.
DEFAULT_REQUIRED: tuple[RequiredRule, ...] = (
    RequiredRule("八", ALL_INDUSTRIES, ("industry", "development_reform")),
    RequiredRule("八", "coal", ("coal",)),
    RequiredRule("八", "power", ("energy",)),
    RequiredRule("八", "steel", ("quality",)),
)


@dataclass(frozen=True)
class RoutingSettings:
    """Which departments named by a clause's tag must confirm a case, by its industry
    (``[routing.required]``); a clause without rules: every department in a required role."""

    rules: tuple[RequiredRule, ...] = DEFAULT_REQUIRED

    def required(self, clause: str, industry: str | None) -> frozenset[str] | None:
        """The departments that must confirm a case of ``industry`` under ``clause``, or
        ``None`` when the clause has no rules (its tag decides alone)."""
        rules = [r for r in self.rules if r.clause == clause]
        if not rules:
            return None
        return frozenset(d for r in rules if r.industry in (ALL_INDUSTRIES, industry)
                         for d in r.departments)


class OrgError(ProblemsError):
    """The organisation file has problems; ``problems`` lists every one of them."""

    def __init__(self, problems: Iterable[DubanError], *, source: str = "") -> None:
        super().__init__(N_("The organisation file {source} has {count} problem(s)"),
                         problems, source=source)


@dataclass(frozen=True)
class Org:
    """A loaded, valid organisation. Lookups and matching indexes are built once."""

    prefecture: Prefecture
    regions: tuple[Region, ...]
    departments: tuple[OrgDepartment, ...]
    people: tuple[Person, ...] = ()
    escalation: EscalationSettings = field(default_factory=EscalationSettings)
    review: ReviewSettings = field(default_factory=ReviewSettings)
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    _region_index: NameIndex = field(init=False, repr=False, compare=False)
    _department_index: NameIndex = field(init=False, repr=False, compare=False)
    _alias_table: AliasTable = field(init=False, repr=False, compare=False)
    _regions_by_name: dict[str, Region] = field(init=False, repr=False, compare=False)
    _departments_by_key: dict[str, OrgDepartment] = field(
        init=False, repr=False, compare=False
    )
    _people_by_id: dict[int, Person] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "_regions_by_name", {r.name: r for r in self.regions})
        setattr_(self, "_departments_by_key", {d.key: d for d in self.departments})
        setattr_(self, "_people_by_id", {p.telegram_id: p for p in self.people})
        setattr_(
            self,
            "_region_index",
            NameIndex({r.name: r.aliases for r in self.regions}, suffixes=REGION_SUFFIXES),
        )
        table = DEFAULT_ALIASES.extended(
            {d.key: (d.name, *d.aliases) for d in self.departments}
        )
        setattr_(self, "_alias_table", table.renamed({d.key: d.name for d in self.departments}))
        dept_names: dict[str, tuple[str, ...]] = {}
        for dept in self.departments:
            info = table.departments.get(dept.key)
            builtin = (info.name_zh, info.name_en, *info.aliases) if info else ()
            dept_names[dept.key] = (dept.name, *dept.aliases, *builtin)
        setattr_(
            self, "_department_index", NameIndex(dept_names, suffixes=DEPARTMENT_SUFFIXES)
        )

    # --- plain lookups -------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.prefecture.name

    def region(self, name: str) -> Region | None:
        """The region named exactly ``name`` (its canonical name), or None."""
        return self._regions_by_name.get(name)

    def department(self, key: str) -> OrgDepartment | None:
        """The department with canonical ``key``, or None."""
        return self._departments_by_key.get(key)

    def person(self, telegram_id: int) -> Person | None:
        return self._people_by_id.get(telegram_id)

    @property
    def counties(self) -> tuple[Region, ...]:
        return tuple(r for r in self.regions if r.kind == COUNTY)

    @property
    def parks(self) -> tuple[Region, ...]:
        return tuple(r for r in self.regions if r.kind == PARK)

    @property
    def coordinators(self) -> tuple[Person, ...]:
        return tuple(p for p in self.people if p.role == COORDINATOR)

    def is_coordinator(self, telegram_id: int) -> bool:
        person = self.person(telegram_id)
        return person is not None and person.role == COORDINATOR

    def liaisons_for_department(self, key: str) -> tuple[Person, ...]:
        return tuple(p for p in self.people if p.role == LIAISON and p.department == key)

    def liaisons_for_region(self, name: str) -> tuple[Person, ...]:
        return tuple(p for p in self.people if p.role == LIAISON and p.region == name)

    # --- matching ----------------------------------------------------------------

    def alias_table(self) -> AliasTable:
        """The builtin alias table plus this org's department names and aliases."""
        return self._alias_table

    @property
    def region_index(self) -> NameIndex:
        return self._region_index

    def match_region(self, query: str) -> MatchResult:
        """Match a county or park name forgivingly (see :mod:`bot.core.matching`)."""
        return self._region_index.match(query)

    def resolve_region(self, query: str) -> Region:
        """The region ``query`` means; raises a DubanError when unknown or ambiguous."""
        name = raise_for(self.match_region(query), query, what="region")
        return self._regions_by_name[name]

    def match_department(self, query: str) -> MatchResult:
        """The alias table first (工信 = 经信委 = industry), then forgiving matching."""
        key = self._alias_table.canonical(query)
        if key is not None and key in self._departments_by_key:
            return MatchResult(key, ())
        return self._department_index.match(query)

    def resolve_department(self, query: str) -> OrgDepartment:
        """The department ``query`` means; raises a DubanError when unknown or ambiguous."""
        result = self.match_department(query)
        if result.candidates:
            names = tuple(self._departments_by_key[k].name for k in result.candidates)
            result = MatchResult(None, names)
        key = raise_for(result, query, what="department")
        return self._departments_by_key[key]


# --- loading ----------------------------------------------------------------------


_TEXTS = TomlTexts(
    not_found=N_("Organisation file not found: {path}"),
    not_utf8=N_("The organisation file {path} is not UTF-8 text"),
    unreadable=N_("Cannot read the organisation file {path}: {reason}"),
)


def load_org(path: str | Path) -> Org:
    """Read and validate an organisation file; raises :class:`OrgError` or DubanError."""
    return _Builder(read_toml(path, _TEXTS, OrgError), Path(path).name).build()


def load_demo_org() -> Org:
    """The demo organisation for 昌州 shipped in ``bot/data/demo_org.toml``."""
    text = resources.files("bot.data").joinpath("demo_org.toml").read_text(encoding="utf-8")
    return parse_org(text, source="demo_org.toml")


_HHMM = re.compile(r"\s*(\d{1,2}):(\d{2})\s*")


def parse_org(text: str, *, source: str = "") -> Org:
    """Parse and validate the TOML text of an organisation file."""
    return _Builder(parse_toml(text, _TEXTS, OrgError, source=source), source).build()


class _Builder:
    """Validates the parsed TOML, collecting every problem before giving up."""

    def __init__(self, data: dict[str, Any], source: str) -> None:
        self.data = data
        self.source = source
        self.problems: list[DubanError] = []

    def problem(self, message: str, where: str, **params: Any) -> None:
        self.problems.append(DubanError(message, where=where, **params))

    # generic field readers ------------------------------------------------------

    def _unknown_keys(self, table: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
        allowed_set = set(allowed)
        for key in table:
            if key not in allowed_set:
                self.problem(N_("{where}: unknown key “{key}”"), where, key=key)

    def _text(
        self, table: Mapping[str, Any], key: str, where: str, *, required: bool = False
    ) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                self.problem(N_("{where}: “{key}” is required"), where, key=key)
            return None
        if not isinstance(value, str):
            self.problem(N_("{where}: “{key}” must be text"), where, key=key)
            return None
        value = value.strip()
        if not value:
            if required:
                self.problem(N_("{where}: “{key}” must not be empty"), where, key=key)
            return None
        return value

    def _text_list(self, table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(N_("{where}: “{key}” must be a list of texts"), where, key=key)
            return ()
        seen: dict[str, None] = {}
        for item in value:
            if item.strip():
                seen.setdefault(item.strip(), None)
        return tuple(seen)

    def _tables(self, key: str) -> list[tuple[str, dict[str, Any]]]:
        value = self.data.get(key, [])
        if not isinstance(value, list):
            self.problem(N_("{where}: must be a list of tables ([[{where}]])"), key)
            return []
        result = []
        for i, item in enumerate(value, start=1):
            where = f"{key}[{i}]"
            if not isinstance(item, dict):
                self.problem(N_("{where}: must be a table"), where)
                continue
            name = item.get("name")
            if isinstance(name, str) and name.strip():
                where = f"{where} ({name.strip()})"
            result.append((where, item))
        return result

    # sections -----------------------------------------------------------------

    def build(self) -> Org:
        self._unknown_keys(
            self.data, ("prefecture", "regions", "departments", "people", "escalation",
                        "review", "routing"), "org"
        )
        prefecture = self._prefecture()
        regions = self._regions()
        departments = self._departments()
        people = self._people(regions, departments)
        escalation = self._escalation()
        review = self._review()
        routing = self._routing(departments)
        if self.problems or prefecture is None:
            raise OrgError(self.problems, source=self.source)
        return Org(prefecture, regions, departments, people, escalation, review, routing)

    def _prefecture(self) -> Prefecture | None:
        table = self.data.get("prefecture")
        if not isinstance(table, dict):
            self.problem(N_("{where}: the [prefecture] table is required"), "prefecture")
            return None
        where = "prefecture"
        self._unknown_keys(table, ("name", "commission", "notice_prefix", "timezone"), where)
        name = self._text(table, "name", where, required=True)
        commission = self._text(table, "commission", where)
        prefix = self._text(table, "notice_prefix", where)
        timezone = self._text(table, "timezone", where) or "Asia/Shanghai"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            self.problem(N_("{where}: unknown time zone “{value}”"), where, value=timezone)
        if name is None:
            return None
        return Prefecture(
            name=name,
            commission=commission or f"{name}经信委",
            notice_prefix=prefix or f"{name}经信督",
            timezone=timezone,
        )

    def _regions(self) -> tuple[Region, ...]:
        regions: list[Region] = []
        spellings: dict[str, str] = {}  # every name and alias -> the region's where
        for where, table in self._tables("regions"):
            self._unknown_keys(table, ("name", "kind", "aliases", "leader"), where)
            name = self._text(table, "name", where, required=True)
            kind = self._text(table, "kind", where) or COUNTY
            if kind not in REGION_KINDS:
                self.problem(
                    N_("{where}: kind must be “county” or “park”, not “{value}”"),
                    where,
                    value=kind,
                )
            aliases = self._text_list(table, "aliases", where)
            leader = self._text(table, "leader", where)
            if name is None:
                continue
            for spelling in (name, *aliases):
                other = spellings.get(spelling)
                if other is not None:
                    if spelling == name and any(r.name == name for r in regions):
                        self.problem(
                            N_("{where}: the region name “{name}” is used twice"),
                            where,
                            name=name,
                        )
                    else:
                        self.problem(
                            N_("{where}: “{name}” is already used by {other}"),
                            where,
                            name=spelling,
                            other=other,
                        )
                else:
                    spellings[spelling] = where
            aliases = tuple(a for a in aliases if a != name)
            regions.append(Region(name, kind, aliases, leader))
        return tuple(regions)

    def _departments(self) -> tuple[OrgDepartment, ...]:
        if "departments" not in self.data:
            return tuple(
                OrgDepartment(info.key, info.name_zh)
                for info in DEFAULT_ALIASES.departments.values()
            )
        departments: list[OrgDepartment] = []
        keys: set[str] = set()
        spellings: dict[str, str] = {}
        for where, table in self._tables("departments"):
            self._unknown_keys(table, ("key", "name", "aliases", "leader"), where)
            key = self._text(table, "key", where, required=True)
            if key is None:
                continue
            builtin = DEFAULT_ALIASES.departments.get(key)
            name = self._text(table, "name", where, required=builtin is None)
            if name is None:
                if builtin is None:
                    continue
                name = builtin.name_zh
            if not re.fullmatch(r"[a-z][a-z0-9_]*", key):
                self.problem(
                    N_("{where}: key “{key}” must be lower-case letters, digits and _"),
                    where,
                    key=key,
                )
            if key in keys:
                self.problem(
                    N_("{where}: the department key “{key}” is used twice"), where, key=key
                )
                continue
            keys.add(key)
            aliases = self._text_list(table, "aliases", where)
            for spelling in (name, *aliases):
                # A spelling that the builtin table gives to another department would
                # silently reroute cases: refuse it.
                meant = DEFAULT_ALIASES.canonical(spelling)
                if meant is not None and meant != key:
                    self.problem(
                        N_("{where}: “{name}” already means the department “{other}”"),
                        where,
                        name=spelling,
                        other=meant,
                    )
                other = spellings.setdefault(spelling, where)
                if other != where:
                    self.problem(
                        N_("{where}: “{name}” is already used by {other}"),
                        where,
                        name=spelling,
                        other=other,
                    )
            leader = self._text(table, "leader", where)
            aliases = tuple(a for a in aliases if a != name)
            departments.append(OrgDepartment(key, name, aliases, leader))
        return tuple(departments)

    def _people(
        self, regions: tuple[Region, ...], departments: tuple[OrgDepartment, ...]
    ) -> tuple[Person, ...]:
        region_names = {r.name: r.name for r in regions}
        for entry in regions:
            for alias in entry.aliases:
                region_names.setdefault(alias, entry.name)
        dept_keys = {d.key for d in departments}
        table_for_aliases = DEFAULT_ALIASES.extended(
            {d.key: (d.name, *d.aliases) for d in departments}
        )
        people: list[Person] = []
        ids: dict[int, str] = {}
        for where, table in self._tables("people"):
            self._unknown_keys(
                table, ("name", "telegram_id", "role", "department", "region"), where
            )
            name = self._text(table, "name", where, required=True)
            raw_id = table.get("telegram_id")
            telegram_id: int | None = None
            if raw_id is None:
                self.problem(N_("{where}: “{key}” is required"), where, key="telegram_id")
            elif isinstance(raw_id, bool) or not isinstance(raw_id, int) or raw_id <= 0:
                self.problem(N_("{where}: telegram_id must be a positive integer"), where)
            else:
                telegram_id = raw_id
                if raw_id in ids:
                    self.problem(
                        N_("{where}: telegram_id {id} is already used by {other}"),
                        where,
                        id=raw_id,
                        other=ids[raw_id],
                    )
                else:
                    ids[raw_id] = where
            role = self._text(table, "role", where, required=True)
            if role is not None and role not in ROLES:
                self.problem(
                    N_("{where}: role must be “coordinator” or “liaison”, not “{value}”"),
                    where,
                    value=role,
                )
            dept_text = self._text(table, "department", where)
            region_text = self._text(table, "region", where)
            department: str | None = None
            region: str | None = None
            if dept_text is not None:
                department = dept_text if dept_text in dept_keys else None
                if department is None:
                    meant = table_for_aliases.canonical(dept_text)
                    department = meant if meant in dept_keys else None
                if department is None:
                    self.problem(
                        N_("{where}: unknown department “{value}”"), where, value=dept_text
                    )
            if region_text is not None:
                region = region_names.get(region_text)
                if region is None:
                    self.problem(
                        N_("{where}: unknown county or park “{value}”"), where, value=region_text
                    )
            if role == LIAISON:
                if dept_text is None and region_text is None:
                    self.problem(
                        N_("{where}: a liaison needs a department or a county/park"), where
                    )
                elif dept_text is not None and region_text is not None:
                    self.problem(
                        N_("{where}: a liaison has a department or a county/park, not both"),
                        where,
                    )
            if name is not None and telegram_id is not None and role in ROLES:
                people.append(Person(name, telegram_id, role, department, region))
        return tuple(people)

    def _escalation(self) -> EscalationSettings:
        table = self.data.get("escalation", {})
        where = "escalation"
        if not isinstance(table, dict):
            self.problem(N_("{where}: must be a table"), where)
            return EscalationSettings()
        names = [f.name for f in fields(EscalationSettings)]
        self._unknown_keys(table, names, where)
        values: dict[str, Any] = {}
        for name in names:
            if name in ("nudge_days_before", "office_hours", "sign_off") or name not in table:
                continue
            value = table[name]
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3650:
                self.problem(
                    N_("{where}: {key} must be a whole number of days from 0 to 3650"),
                    where,
                    key=name,
                )
            else:
                values[name] = value
        if "nudge_days_before" in table:
            nudges = table["nudge_days_before"]
            if not isinstance(nudges, list) or not all(
                isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= 3650
                for n in nudges
            ):
                self.problem(
                    N_("{where}: nudge_days_before must be a list of whole numbers of days"),
                    where,
                )
            else:
                values["nudge_days_before"] = tuple(sorted(set(nudges), reverse=True))
        if "sign_off" in table:
            if isinstance(table["sign_off"], bool):
                values["sign_off"] = table["sign_off"]
            else:
                self.problem(N_("{where}: sign_off must be true or false"), where)
        if "office_hours" in table:
            hours = self._office_hours(table["office_hours"], where)
            if hours is not None:
                values["office_hours"] = hours
        settings = EscalationSettings(**values)
        if settings.notice_after_working_days >= settings.summons_after_working_days:
            self.problem(
                N_("{where}: notice_after_working_days must be less than "
                   "summons_after_working_days"),
                where,
            )
        if settings.unaccepted_reminder_working_days > settings.unaccepted_alert_working_days:
            self.problem(
                N_("{where}: unaccepted_reminder_working_days must not exceed "
                   "unaccepted_alert_working_days"),
                where,
            )
        return settings

    def _review(self) -> ReviewSettings:
        table = self.data.get("review", {})
        where = "review"
        if not isinstance(table, dict):
            self.problem(N_("{where}: must be a table"), where)
            return ReviewSettings()
        self._unknown_keys(table, [f.name for f in fields(ReviewSettings)], where)
        value = table.get("before_closing", ReviewSettings.before_closing)
        if not isinstance(value, bool):
            self.problem(N_("{where}: before_closing must be true or false"), where)
            return ReviewSettings()
        return ReviewSettings(before_closing=value)

    def _routing(self, departments: tuple[OrgDepartment, ...]) -> RoutingSettings:
        """``[routing.required."八"]``: per case clause, industry -> departments. A clause
        listed replaces its defaults; clauses not listed keep theirs."""
        from bot.core.casefile import CASE_CLAUSES, parse_clauses, parse_industry

        table = self.data.get("routing", {})
        if not isinstance(table, dict):
            self.problem(N_("{where}: must be a table"), "routing")
            return RoutingSettings()
        self._unknown_keys(table, ("required",), "routing")
        required = table.get("required", {})
        if not isinstance(required, dict):
            self.problem(N_("{where}: must be a table"), "routing.required")
            return RoutingSettings()
        dept_keys = {d.key for d in departments}
        aliases = DEFAULT_ALIASES.extended({d.key: (d.name, *d.aliases) for d in departments})
        rules: list[RequiredRule] = []
        listed: set[str] = set()
        for clause_text, by_industry in required.items():
            where = f"routing.required.{clause_text}"
            found = parse_clauses(clause_text)
            if found is None or len(found) != 1 or found[0] not in CASE_CLAUSES:
                self.problem(N_("{where}: “{value}” is not a clause of a case; use one of "
                                "{clauses}"), where, value=clause_text,
                             clauses="、".join(CASE_CLAUSES))
                continue
            clause = found[0]
            if not isinstance(by_industry, dict):
                self.problem(N_("{where}: must be a table"), where)
                continue
            if clause in listed:
                self.problem(N_("{where}: clause {clause} is listed twice"), where,
                             clause=f"（{clause}）")
                continue
            listed.add(clause)
            for industry_text in by_industry:
                industry = (ALL_INDUSTRIES if industry_text == ALL_INDUSTRIES
                            else parse_industry(industry_text))
                if industry is None:
                    self.problem(N_("{where}: unknown industry “{value}”: use all, 钢铁, 煤炭, "
                                    "水泥, 电解铝, 平板玻璃, 电力 or 其他"), where,
                                 value=industry_text)
                    continue
                keys: list[str] = []
                for name in self._text_list(by_industry, industry_text, where):
                    key = name if name in dept_keys else aliases.canonical(name)
                    if key is None or key not in dept_keys:
                        self.problem(N_("{where}: unknown department “{value}”"), where,
                                     value=name)
                        continue
                    keys.append(key)
                rules.append(RequiredRule(clause, industry, tuple(keys)))
        kept = tuple(r for r in DEFAULT_REQUIRED if r.clause not in listed)
        return RoutingSettings(kept + tuple(rules))

    def _office_hours(self, value: object, where: str) -> tuple[time, time] | None:
        bad = N_("{where}: office_hours must be two times like [\"09:00\", \"17:30\"], "
                 "the first before the second")
        if not isinstance(value, list) or len(value) != 2:
            self.problem(bad, where)
            return None
        parsed: list[time] = []
        for item in value:
            if isinstance(item, time):
                parsed.append(item)
                continue
            match = _HHMM.fullmatch(item) if isinstance(item, str) else None
            if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
                self.problem(bad, where)
                return None
            parsed.append(time(int(match.group(1)), int(match.group(2))))
        if parsed[0] >= parsed[1]:
            self.problem(bad, where)
            return None
        return parsed[0], parsed[1]
