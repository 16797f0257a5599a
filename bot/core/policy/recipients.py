"""Whom the year's summary goes to, as the document says it: "……报工业和信息化部、国家能源局，
抄报国家发展改革委、财政部……" (（十九）, the report due by the end of January).

Read from the catalog's text, so another document of the family names its own recipients:
the first paragraph that says 报 X，抄报 Y gives the addressees (主送) and the copies (抄报,
printed in the 版记). A document that names none leaves both blank for the commission to fill.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.core.policy.catalog import Catalog

#: "，报A、B，抄报C、D。": after a comma, so that 报经…同意 and 报告 are not taken for it.
_SENT_TO = re.compile(r"[，,]报(?P<to>[^，,。；;]+)[，,]抄报(?P<copies>[^。；;]+)")


@dataclass(frozen=True)
class Recipients:
    to: tuple[str, ...] = ()  # 主送
    copies: tuple[str, ...] = ()  # 抄报


def report_recipients(catalog: Catalog | None) -> Recipients:
    """The summary's addressees and copies from the first paragraph that names them."""
    for clause in catalog.clauses if catalog is not None else ():
        for paragraph in clause.paragraphs:
            found = _SENT_TO.search(paragraph.text)
            if found:
                return Recipients(_names(found["to"]), _names(found["copies"]))
    return Recipients()


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in re.split(r"[、,，]", text) if name.strip())
