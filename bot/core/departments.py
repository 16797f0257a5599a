"""Canonical departments and the alias table that folds their many spellings.

The policy documents name the same ministry in several ways (工业和信息化 / 工业信息化 / 工信 /
经信委 locally; 质量技术监督 / 质监; 安全生产监管 / 安监). Routing works on the canonical key.
The organisation file may add aliases; :class:`AliasTable` merges them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class DepartmentInfo:
    key: str
    name_zh: str
    name_en: str
    aliases: tuple[str, ...] = ()


# The departments the seed document names, with the spellings found in it and in local use.
BUILTIN_DEPARTMENTS: tuple[DepartmentInfo, ...] = (
    DepartmentInfo(
        "industry", "工业和信息化", "Industry and Information Technology",
        ("工业和信息化", "工业信息化", "工信", "经信委", "经信", "经济和信息化",
         "经济和信息化委员会",
         "工业和信息化部", "工信部", "经济和信息化委"),
    ),
    DepartmentInfo(
        "development_reform", "发展改革", "Development and Reform",
        ("发展改革", "发展和改革", "发改", "发改委", "国家发展改革委", "发展改革委"),
    ),
    DepartmentInfo("finance", "财政", "Finance", ("财政", "财政部")),
    DepartmentInfo(
        "human_resources", "人力资源社会保障", "Human Resources and Social Security",
        ("人力资源社会保障", "人力资源和社会保障", "人社", "人力资源社会保障部",
         "人力资源和社会保障部"),
    ),
    DepartmentInfo(
        "land", "国土资源", "Land and Resources",
        ("国土资源", "国土", "国土资源部", "自然资源"),
    ),
    DepartmentInfo(
        "environment", "环境保护", "Environmental Protection",
        ("环境保护", "环保", "生态环境", "环境保护部", "环保局"),
    ),
    DepartmentInfo("agriculture", "农业", "Agriculture", ("农业", "农业部", "农业农村")),
    DepartmentInfo("commerce", "商务", "Commerce", ("商务", "商务部")),
    DepartmentInfo(
        "state_assets", "国资", "State-owned Assets",
        ("国资", "国资委", "国务院国资委", "国有资产监督管理"),
    ),
    DepartmentInfo("tax", "税务", "Taxation", ("税务", "税务总局", "税务局")),
    DepartmentInfo(
        "market_regulation", "工商", "Industry and Commerce Administration",
        ("工商", "工商总局", "工商局", "工商行政管理", "市场监管", "市场监督管理"),
    ),
    DepartmentInfo(
        "quality", "质量技术监督", "Quality and Technical Supervision",
        ("质量技术监督", "质监", "质检", "质检总局", "质量监督", "质量技术监督局",
         "国家质检总局"),
    ),
    DepartmentInfo(
        "safety", "安全生产监管", "Work Safety Supervision",
        ("安全生产监管", "安全生产监督管理", "安监", "安全监管总局", "安监局", "应急管理",
         "国家安全监管总局"),
    ),
    DepartmentInfo("energy", "能源", "Energy", ("能源", "国家能源局", "能源局")),
    DepartmentInfo("coal", "煤炭", "Coal", ("煤炭", "煤炭管理", "煤炭工业")),
    DepartmentInfo(
        "pboc", "中国人民银行分支机构", "People's Bank of China branches",
        ("中国人民银行分支机构", "中国人民银行", "人民银行", "人行", "中国人民银行各分支机构",
         "人民银行分支机构"),
    ),
    DepartmentInfo(
        "banking_regulator", "银监局", "Banking Regulatory Bureau",
        ("银监局", "银监", "银监会", "各银监局", "银保监"),
    ),
    DepartmentInfo("pricing", "价格", "Pricing", ("价格", "物价", "物价局")),
)

# Suffixes that do not change which body is meant.
_SUFFIXES = ("主管部门", "行政主管部门", "部门", "管理部门", "委员会", "局", "厅", "委")
_SPACE = re.compile(r"\s+")


def _clean(name: str) -> str:
    return _SPACE.sub("", name).strip("、，,。；;：: ")


@dataclass
class AliasTable:
    """Maps a department's name as written to its canonical key."""

    departments: dict[str, DepartmentInfo] = field(default_factory=dict)
    _aliases: dict[str, str] = field(default_factory=dict)

    @classmethod
    def builtin(cls) -> AliasTable:
        table = cls()
        for info in BUILTIN_DEPARTMENTS:
            table.add_department(info)
        return table

    def add_department(self, info: DepartmentInfo) -> None:
        self.departments[info.key] = info
        for alias in (info.key, info.name_zh, *info.aliases):
            self._aliases[_clean(alias)] = info.key

    def add_aliases(self, key: str, aliases: Iterable[str]) -> None:
        """Add spellings for an existing department (or a new one, named by its key)."""
        if key not in self.departments:
            first = next(iter(aliases), key)
            self.departments[key] = DepartmentInfo(key, first, key)
        for alias in aliases:
            self._aliases[_clean(alias)] = key
        self._aliases[_clean(key)] = key

    def extended(self, extra: Mapping[str, Iterable[str]]) -> AliasTable:
        """A copy with the organisation file's aliases added."""
        table = AliasTable(dict(self.departments), dict(self._aliases))
        for key, aliases in extra.items():
            table.add_aliases(key, list(aliases))
        return table

    def renamed(self, names: Mapping[str, str]) -> AliasTable:
        """A copy that shows each department by the organisation's own Chinese name (州发改委)
        rather than the tag's (发展改革); the tag's name stays an alias."""
        table = AliasTable(dict(self.departments), dict(self._aliases))
        for key, name in names.items():
            info = table.departments.get(key)
            if info is None or not name:
                continue
            table.departments[key] = DepartmentInfo(key, name, info.name_en,
                                                    (*info.aliases, info.name_zh))
            table._aliases[_clean(name)] = key
        return table

    def canonical(self, name: str) -> str | None:
        """The canonical key for ``name``, or None if it is not a known department.

        Leading "各地"/"各"/"同级" and trailing "主管部门"/"部门"/"局" are ignored.
        """
        text = _clean(name)
        for prefix in ("各地", "各级", "同级", "各", "地方", "省级", "本级"):
            if text.startswith(prefix) and len(text) > len(prefix):
                candidate = self._lookup(text[len(prefix):])
                if candidate:
                    return candidate
        return self._lookup(text)

    def _lookup(self, text: str) -> str | None:
        if text in self._aliases:
            return self._aliases[text]
        for suffix in _SUFFIXES:
            if text.endswith(suffix) and len(text) > len(suffix):
                stem = text[: -len(suffix)]
                if stem in self._aliases:
                    return self._aliases[stem]
        return None

    def name(self, key: str, locale: str = "zh_CN") -> str:
        info = self.departments.get(key)
        if info is None:
            return key
        return info.name_en if locale.startswith("en") else info.name_zh


DEFAULT_ALIASES = AliasTable.builtin()
