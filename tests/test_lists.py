"""Lists for publication: who is on the yellow card, red card and exit lists, the three
formats, and no personal data in any of them."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot.core.commands import parse_card_list
from bot.core.i18n import DubanError, Translator
from bot.core.org import Org
from bot.render.reports.lists import (
    ListFormat,
    PublicList,
    build_list,
    parse_format,
    parse_kind,
    render_list,
    scrub,
    to_html,
)
from bot.services.reports import ListKind, list_rows
from bot.services.status import StatusService
from tests.conftest import COORDINATOR, Services
from tests.test_reports import EN, ZH, build_year, case_input, exit_case, rectifying_case

NAME, PHONE = "张三丰", "13912345678"
OTHER_NAME, LANDLINE = "李四光", "0994-2342133"
PRIVATE = (NAME, PHONE, OTHER_NAME, LANDLINE, "2342133", "王玮中", "联络员")


async def _list(services: Services, kind: ListKind, year: int = 2026) -> PublicList:
    org = await services.org.current()
    return await _load(services, org, kind, EN, year=year, today=date(2026, 12, 1))


async def _load(services: Services, org: Org, kind: ListKind, tr: Translator, *, year: int,
                today: date) -> PublicList:
    rows = await list_rows(services.cases.sessions, org, kind, year=year)
    return build_list(kind, rows, tr, prefecture=org.prefecture.name, year=year, today=today)


def _enterprises(public: PublicList) -> set[str]:
    return {str(row[1]) for row in public.rows}


async def test_who_is_on_which_list(services: Services) -> None:
    await build_year(services)
    yellow = await _list(services, ListKind.YELLOW)
    assert _enterprises(yellow) == {"玛纳斯县O-1企业", "阜康市O-2企业"}
    red = await _list(services, ListKind.RED)
    # （四）（五）（七） exits are closures after failing; （八） dismantling is not.
    assert _enterprises(red) == {"玛纳斯县C-1企业", "玛纳斯县C-2企业", "玛纳斯县G-1企业",
                                 "阜康市K-1企业"}
    exits = await _list(services, ListKind.EXIT)
    assert _enterprises(exits) == _enterprises(red) | {"玛纳斯县S-1企业", "昌吉市X-1企业"}
    assert _enterprises(await _list(services, ListKind.EXIT, 2027)) == {"玛纳斯县N-1企业"}
    assert (await _list(services, ListKind.RED, 2030)).rows == ()


async def test_the_environmental_lists(services: Services) -> None:
    """（二十一）: 环保 publishes the enterprises emitting over the standards, and the serious
    cases among them, apart from the yellow and red lists."""
    await build_year(services)  # G-1 exited under （五） this year
    await services.cases.import_cases([case_input("E-1", clause="五", description="超标排放"),
                                       case_input("E-2", clause="五", region="阜康市")],
                                      COORDINATOR)
    emitters = await _list(services, ListKind.EMITTERS)
    stored = await services.cases.find()
    assert _enterprises(emitters) == {c.enterprise for c in stored if c.clause == "五"
                                      and c.state not in ("exited", "rectified")}
    assert {"玛纳斯县E-1企业", "阜康市E-2企业"} <= _enterprises(emitters)
    assert "玛纳斯县G-1企业" not in _enterprises(emitters)  # closed: no longer emitting
    serious = await _list(services, ListKind.SERIOUS)
    assert _enterprises(serious) == {"玛纳斯县G-1企业"}  # closed by law this year
    assert EN.gettext("Closure date") in serious.headers
    assert "over the standards" in emitters.title and "serious" in serious.title
    assert not _enterprises(serious) & _enterprises(await _list(services, ListKind.YELLOW))
    # The same lists in the chat (/lists 超标排放, /lists 情节严重).
    status = StatusService(services.cases.sessions, ZoneInfo("Asia/Shanghai"))
    assert parse_card_list("超标排放") == "emitters" and parse_card_list("情节严重") == "serious"
    assert {c.enterprise for c in await status.listed("emitters")} == _enterprises(emitters)
    assert {c.enterprise for c in await status.listed("serious")} == _enterprises(serious)


async def test_exit_list_figures_match_the_database(services: Services) -> None:
    await build_year(services)
    public = await _list(services, ListKind.EXIT)
    stored = {c.enterprise: c for c in await services.cases.find(states=["exited"])}
    for row in public.rows:
        case = stored[str(row[1])]
        assert row[2] == case.region_name
        assert row[4] == case.equipment
        figure = case.exited_capacity if case.exited_capacity is not None else case.capacity
        assert row[5] == figure
        assert row[6] == case.unit
        assert isinstance(row[7], date)


async def _private_case(services: Services) -> None:
    """A case whose description and equipment carry a name and telephone numbers."""
    item = case_input(
        "P-1", clause="四",
        description=f"联系人：{NAME}，电话{PHONE}；厂长{OTHER_NAME}，座机{LANDLINE}",
        equipment=f"Φ3.2m熟料生产线1条（联系人：{OTHER_NAME}，电话：{LANDLINE}）",
    )
    await exit_case(services, item)
    await rectifying_case(services, case_input(
        "P-2", description=f"{NAME} {PHONE}", equipment=f"回转窑 负责人{NAME} 手机{PHONE}"))
    # and under （五）, for 环保's lists: one closed by law, one still emitting
    await exit_case(services, case_input(
        "P-3", clause="五", description=f"联系人：{NAME}，电话{PHONE}",
        equipment=f"熟料生产线1条（联系人：{OTHER_NAME}，电话：{LANDLINE}）"))
    await services.cases.import_cases([case_input(
        "P-4", clause="五", description=f"{NAME} {PHONE}",
        equipment=f"回转窑 负责人{NAME} 手机{PHONE}")], COORDINATOR)


@pytest.mark.parametrize("kind", list(ListKind))
@pytest.mark.parametrize("fmt", list(ListFormat))
async def test_lists_leave_out_personal_data(services: Services, kind: ListKind,
                                             fmt: ListFormat) -> None:
    await _private_case(services)
    public = await _list(services, kind)
    assert public.rows, "the private case is on the list"
    data = render_list(public, fmt, ZH)
    if fmt is ListFormat.XLSX:
        sheet = load_workbook(io.BytesIO(data)).worksheets[0]
        text = "\n".join(str(v) for row in sheet.iter_rows(values_only=True) for v in row)
    else:
        text = data.decode("utf-8-sig")
    for secret in PRIVATE:
        assert secret not in text, secret
    assert "熟料生产线" in text or "回转窑" in text  # the equipment itself is kept


def test_csv_has_a_bom_and_plain_figures() -> None:
    public = PublicList(kind=ListKind.EXIT, title="t", note="n", headers=("企业", "产能", "日期"),
                        rows=(("甲厂", Decimal("60.0000"), date(2026, 9, 1)),), lang="zh-CN",
                        empty_text="无")
    data = render_list(public, ListFormat.CSV, ZH)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == [["企业", "产能", "日期"], ["甲厂", "60", "2026-09-01"]]


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in ("meta", "br"):
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> does not close {self.open[-1:]}"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


async def test_html_page_is_static_and_accessible(services: Services) -> None:
    await build_year(services)
    org = await services.org.current()
    public = await _load(services, org, ListKind.EXIT, ZH, year=2026,
                             today=date(2026, 12, 1))
    page = to_html(public, ZH)
    parser = _Page()
    parser.feed(page)
    assert parser.open == []
    tags = [t for t, _ in parser.tags]
    assert dict(parser.tags)["html"]["lang"] == "zh-CN"
    assert "script" not in tags and "caption" in tags and "table" in tags
    scopes = [attrs.get("scope") for tag, attrs in parser.tags if tag == "th"]
    assert scopes.count("col") == len(public.headers)
    assert scopes.count("row") == len(public.rows) == 6
    assert "@media print" in page
    assert "玛纳斯县C-1企业" in "".join(parser.text)
    english = to_html(await _load(services, org, ListKind.EXIT, EN,
                                      year=2026, today=date(2026, 12, 1)), EN)
    assert '<html lang="en">' in english


def test_empty_html_list_says_so() -> None:
    public = PublicList(kind=ListKind.YELLOW, title="t", note="n", headers=("a", "b"), rows=(),
                        lang="en", empty_text="No enterprise is on this list.")
    assert '<td colspan="2">No enterprise is on this list.</td>' in to_html(public, EN)


@pytest.mark.parametrize(("text", "expected"), [
    ("中频炉2台（0.5吨）", "中频炉2台（0.5吨）"),
    ("Φ3.2×13m 回转窑", "Φ3.2×13m 回转窑"),
    (f"联系人：{NAME}，电话{PHONE}", None),
    (f"负责人{OTHER_NAME} {LANDLINE} 熟料线", "熟料线"),
    (f"宏达水泥（联系电话：{LANDLINE}）", "宏达水泥"),
    ("tel: 138 0013 8000", None),
    (f"浮法线；法定代表人 {NAME}；手机：+86 139-1234-5678", "浮法线"),
    (None, None),
])
def test_scrub(text: str | None, expected: str | None) -> None:
    assert scrub(text) == expected


def test_bad_kind_and_format_are_clear_errors() -> None:
    assert parse_kind(" Yellow ") is ListKind.YELLOW
    assert parse_format(".XLSX") is ListFormat.XLSX
    with pytest.raises(DubanError, match="use yellow, red, exit, emitters or serious"):
        parse_kind("green")
    with pytest.raises(DubanError, match="use csv, xlsx or html"):
        parse_format("pdf")
