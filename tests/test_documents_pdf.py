"""The documents a county, a department or the commission stamps, as they print: the county
report, a year-end letter, the annual summary and the 通报 are written as .docx, converted to
PDF by LibreOffice, and checked there: the page count, a Chinese font embedded, the masthead,
the title and the page numbers ("— 1 —") on the pages. The first page of each is saved as a
PNG under ``build/documents/`` for people to look at.

Needs ``soffice`` (Debian: libreoffice-writer-nogui, or libreoffice-writer) and pdftoppm,
pdffonts, pdfinfo and pdftotext (Debian: poppler-utils). Without them the test is skipped,
unless ``DUBAN_REQUIRE_LIBREOFFICE=1`` (as in CI), which turns the skip into a failure.

The documents are built from rows, not from a database: this is about the layout; the figures
are checked against the database in tests/test_reports.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from bot.core.i18n import Translator, get_translator
from bot.core.org import Region, load_demo_org
from bot.render.calendar_texts import NoticeFacts, NoticeSection, notice_document
from bot.render.reports import Document
from bot.render.reports.county import county_document, county_issuer
from bot.render.reports.docx_util import write_docx
from bot.render.reports.letters import letter_document, summary_document
from bot.render.reports.official import OfficialDocument, default_sources
from bot.services.reports import AnnualSummary, CaseRow, CountyReport, Letter
from models.tables import Case, Notice, NoticeEntry

REQUIRE = os.environ.get("DUBAN_REQUIRE_LIBREOFFICE") == "1"
PREVIEWS = Path(__file__).resolve().parent.parent / "build" / "documents"
ZH = get_translator("zh")
EN = get_translator("en")
TOOLS = {
    "soffice": "libreoffice-writer-nogui, or libreoffice-writer",
    "pdftoppm": "poppler-utils",
    "pdffonts": "poppler-utils",
    "pdfinfo": "poppler-utils",
    "pdftotext": "poppler-utils",
}
# Families of Chinese fonts LibreOffice may embed in place of 仿宋_GB2312 and 小标宋.
CJK_FONT = re.compile(r"wqy|wenquanyi|noto\s*(sans|serif)\s*cjk|source\s*han|droid\s*sans\s*"
                      r"fallback|ukai|uming|ar\s*pl|fang|song|hei|kai|sim|cjk", re.IGNORECASE)


def _missing_tools() -> list[str]:
    """"soffice (Debian: libreoffice-writer-nogui …)", one entry per package."""
    by_package: dict[str, list[str]] = {}
    for tool, package in TOOLS.items():
        if shutil.which(tool) is None:
            by_package.setdefault(package, []).append(tool)
    return [f"{', '.join(tools)} (Debian: apt-get install {package})"
            for package, tools in by_package.items()]


@pytest.fixture(scope="module")
def tools() -> None:
    missing = _missing_tools()
    if not missing:
        return
    reason = "not installed: " + "; ".join(missing)
    if REQUIRE:
        pytest.fail(f"DUBAN_REQUIRE_LIBREOFFICE=1 but {reason}")
    pytest.skip(f"PDF test skipped, {reason} (set DUBAN_REQUIRE_LIBREOFFICE=1 to fail instead)")


# -- the documents, from rows ------------------------------------------------------------------


def row(ref: str, region: str, enterprise: str, industry: str, clause: str, capacity: str | None,
        unit: str | None, equipment: str | None, *, state: str = "exited",
        closed: date | None = date(2026, 9, 18), exited: str | None = None,
        due: date | None = None) -> CaseRow:
    return CaseRow(
        ref=ref, region=region, enterprise=enterprise, industry=industry, clause=clause,
        state=state, capacity=Decimal(capacity) if capacity else None,
        exited_capacity=Decimal(exited) if exited else None, unit=unit, equipment=equipment,
        registered_on=date(2026, 1, 12), deadline=due, due_on=due,
        closed_on=closed if state == "exited" else None)


EXITED = (
    row("CZ-2026-001", "玛纳斯县", "玛纳斯县恒达钢铁有限公司", "steel", "八", "30", "万吨/年",
        "中频炉2台（0.5吨）", exited="28.5"),
    row("CZ-2026-002", "玛纳斯县", "玛纳斯县鑫源水泥有限公司", "cement", "四", "60", "万吨/年",
        "Φ3.2m水泥熟料生产线1条", closed=date(2026, 10, 9)),
    row("CZ-2026-006", "玛纳斯县", "玛纳斯县天山建材有限责任公司", "cement", "七", "12",
        "万吨/年", "Φ2.5m水泥粉磨机1台"),
    row("CZ-2026-003", "玛纳斯县", "玛纳斯县宏远玻璃有限公司", "flat_glass", "五", "120",
        "万重量箱/年", "浮法玻璃生产线1条", closed=date(2026, 6, 30)),
)
OTHERS = (
    row("CZ-2026-004", "阜康市", "阜康市金山煤业有限公司", "coal", "七", "45", "万吨/年", None),
    row("CZ-2026-009", "昌吉市", "昌吉市盛达化工有限公司", "chemicals", "八", None, None,
        "电石炉1台"),
)
OPEN = (
    row("CZ-2026-011", "玛纳斯县", "玛纳斯县金利铸造有限公司", "steel", "四", "20", "万吨/年",
        "冲天炉1座", state="rectifying", due=date(2026, 8, 31)),
    row("CZ-2026-012", "玛纳斯县", "玛纳斯县北庭建材有限公司", "cement", "五", "15", "万吨/年",
        "立窑1座", state="routed", due=date(2026, 12, 15)),
)
TODAY = date(2026, 11, 20)


def county(tr: Translator) -> Document:
    report = CountyReport(region=Region("玛纳斯县", "county"), year=2026,
                          commission="昌州经信委", today=TODAY, exited=EXITED, open=OPEN)
    return county_document(report, tr)


def letter(tr: Translator) -> Document:
    org = load_demo_org()
    department = next(d for d in org.departments if d.key == "development_reform")
    recipients = tuple(d.name for d in org.departments if d.key in ("industry", "energy", "coal"))
    return letter_document(Letter(department=department, recipients=recipients, year=2026,
                                  today=date(2026, 12, 25), exited=EXITED + OTHERS), tr)


def summary(tr: Translator) -> Document:
    org = load_demo_org()
    return summary_document(AnnualSummary(
        prefecture=org.prefecture.name, commission=org.prefecture.commission,
        regions=org.regions, year=2026, today=date(2027, 1, 20), exited=EXITED + OTHERS,
        open=OPEN), tr)


def notice(tr: Translator) -> Document:
    created = datetime(2026, 12, 3, 2, tzinfo=UTC)
    signed = Notice(id=7, key="n", status="signed", year=2026, number=3,
                    code="昌州经信督〔2026〕3号", issued_on=date(2026, 12, 3),
                    created_at=created)
    cases = [Case(ref=r.ref, region_name=r.region, enterprise=r.enterprise, industry=r.industry,
                  clause=r.clause, state=r.state, registered_on=r.registered_on,
                  due_on=r.due_on, created_at=created, updated_at=created) for r in OPEN]
    first = NoticeEntry(notice_id=7, key="a", party="玛纳斯县", party_kind="region",
                        case_refs=[c.ref for c in cases], deadline=date(2026, 8, 31))
    second = NoticeEntry(notice_id=7, key="b", party="environment", party_kind="department",
                         obligation="department_letter/2026", deadline=date(2026, 12, 1))
    source = default_sources()[0]
    return notice_document(signed, [
        NoticeSection("玛纳斯县", first, cases, 62),
        NoticeSection("州生态环境局", second, [], 2),
    ], commission="昌州经信委", tr=tr, facts=NoticeFacts(source.title, source.number))


BUILDERS = {"county-report": county, "year-end-letter": letter, "annual-summary": summary,
            "notice": notice}
#: The documents converted: each in Chinese, and the county report in English too.
CONVERTED = {**{name: (build, ZH) for name, build in BUILDERS.items()},
             "county-report-en": (county, EN)}
#: Pages each document takes, with the fonts LibreOffice finds on a Debian server (4, 4, 6
#: and 2 when measured); a range, since the fonts that stand in for 仿宋_GB2312 differ a
#: little in width, and a text gets shorter once its translation is in the catalog.
PAGES = {"county-report": (3, 5), "year-end-letter": (3, 5), "annual-summary": (5, 7),
         "notice": (2, 3), "county-report-en": (3, 6)}


# -- converting and reading back ---------------------------------------------------------------


@dataclass(frozen=True)
class Printed:
    document: Document
    pdf: Path
    pages: int
    fonts: list[dict[str, str]]
    page_texts: list[str]


def _run(*command: str, timeout: float = 120) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{command[0]} failed: {done.stderr or done.stdout}"
    return done.stdout


def _fonts(pdf: Path) -> list[dict[str, str]]:
    """pdffonts' table: name, type, encoding, emb, sub, uni."""
    lines = _run("pdffonts", str(pdf)).splitlines()[2:]
    found = []
    for line in lines:
        parts = line.split()
        if len(parts) < 7:
            continue
        # name type… encoding emb sub uni object-id generation
        found.append({"name": parts[0], "type": " ".join(parts[1:-6]), "encoding": parts[-6],
                      "emb": parts[-5], "sub": parts[-4], "uni": parts[-3]})
    return found


def _pages(pdf: Path) -> int:
    match = re.search(r"^Pages:\s+(\d+)", _run("pdfinfo", str(pdf)), re.MULTILINE)
    assert match, pdf
    return int(match.group(1))


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def printed(tools: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        dict[str, Printed]]:
    folder = tmp_path_factory.mktemp("documents")
    documents = {name: build(tr) for name, (build, tr) in CONVERTED.items()}
    for name, document in documents.items():
        write_docx(document, CONVERTED[name][1], folder / f"{name}.docx")
    profile = folder / "profile"  # LibreOffice's own profile: no clash with a running one
    started = time.monotonic()
    _run("soffice", f"-env:UserInstallation={profile.as_uri()}", "--headless",
         "--convert-to", "pdf", "--outdir", str(folder),
         *(str(folder / f"{name}.docx") for name in documents), timeout=300)
    print(f"LibreOffice converted {len(documents)} documents in "
          f"{time.monotonic() - started:.1f} s")
    PREVIEWS.mkdir(parents=True, exist_ok=True)
    result = {}
    for name, document in documents.items():
        pdf = folder / f"{name}.pdf"
        assert pdf.exists(), f"LibreOffice wrote no {pdf.name}"
        pages = _pages(pdf)
        texts = [_run("pdftotext", "-layout", "-f", str(p), "-l", str(p), str(pdf), "-")
                 for p in range(1, pages + 1)]
        _run("pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(pdf),
             str(PREVIEWS / name))
        shutil.copy(pdf, PREVIEWS / pdf.name)
        result[name] = Printed(document, pdf, pages, _fonts(pdf), texts)
    yield result


# -- the checks ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CONVERTED))
def test_page_count_and_page_numbers(printed: dict[str, Printed], name: str) -> None:
    found = printed[name]
    low, high = PAGES[name]
    assert low <= found.pages <= high, f"{name}: {found.pages} pages"
    for number, text in enumerate(found.page_texts, start=1):
        assert f"—{number}—" in _flat(text), f"{name}: no page number on page {number}"


@pytest.mark.parametrize("name", list(CONVERTED))
def test_a_chinese_font_is_embedded(printed: dict[str, Printed], name: str) -> None:
    fonts = printed[name].fonts
    cjk = [f for f in fonts if f["emb"] == "yes" and (CJK_FONT.search(f["name"])
                                                       or f["type"].startswith("CID"))]
    assert cjk, f"{name}: no Chinese font embedded: {fonts}"
    assert all(f["emb"] == "yes" for f in fonts), f"{name}: a font is not embedded: {fonts}"


@pytest.mark.parametrize("name", list(CONVERTED))
def test_masthead_title_and_imprint_are_printed(printed: dict[str, Printed], name: str) -> None:
    found = printed[name]
    document = found.document
    tr = CONVERTED[name][1]
    assert isinstance(document, OfficialDocument) and document.masthead is not None
    first, last = _flat(found.page_texts[0]), _flat(found.page_texts[-1])
    assert _flat(document.masthead.issuer) in first
    assert _flat(document.masthead.number) in first
    assert _flat(document.title) in first
    assert document.imprint is not None
    assert _flat(document.imprint.printed) in last
    # Every table caption is numbered, 表1, 表2, … without a gap.
    everything = _flat("".join(found.page_texts))
    for number, table in enumerate(document.tables(), start=1):
        assert _flat(table.caption) in everything
        assert _flat(tr.gettext("Table {number}. {caption}", number=number,
                                caption="")) in _flat(table.caption)


def test_the_county_report_names_its_sources_and_government(printed: dict[str, Printed]) -> None:
    text = _flat("".join(printed["county-report"].page_texts))
    assert "工信部联产业〔2017〕30号" in text and "昌州经信〔2017〕185号" in text
    assert "《关于利用综合标准依法依规推动落后产能退出的指导意见》" in text
    report = CountyReport(region=Region("玛纳斯县", "county"), year=2026, commission="昌州经信委",
                          today=TODAY, exited=(), open=())
    assert _flat(county_issuer(report, ZH)) in _flat(printed["county-report"].page_texts[0])


def test_previews_are_saved(printed: dict[str, Printed]) -> None:
    for name in CONVERTED:
        preview = PREVIEWS / f"{name}.png"
        assert preview.exists() and preview.stat().st_size > 5_000, preview
