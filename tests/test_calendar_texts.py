"""The calendar's words: due today, most urgent first, one line for many parties, a meeting-day
reminder that does not say "tomorrow"; the 通报 laid out as an official document."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from itertools import permutations
from typing import Any
from zoneinfo import ZoneInfo

from docx import Document

from bot.core.buttons import ButtonCodec
from bot.core.departments import DEFAULT_ALIASES
from bot.core.i18n import get_translator
from bot.render.calendar_texts import (
    DigestContext,
    NoticeFacts,
    digest,
    notice_document,
    summons_reply,
)
from bot.render.reports import Paragraph
from bot.render.reports.docx_util import docx_bytes
from bot.render.reports.official import OfficialDocument
from models.tables import Notice, Summons

TZ = ZoneInfo("Asia/Shanghai")
ZH, EN = get_translator("zh_CN"), get_translator("en")
TODAY = date(2026, 12, 1)


def ctx(tr: Any = ZH) -> DigestContext:
    return DigestContext(-1001, tr, DEFAULT_ALIASES, ButtonCodec.from_token("1:T"), TODAY,
                         {"CZ-1": "宏达水泥", "CZ-2": "金山钢铁"})


def entry(step: str, *, kind: str = "nudge", ref: str | None = "CZ-1",
          deadline: str = "2026-12-01", party: str = "environment",
          party_kind: str = "department", obligation: str | None = None) -> dict[str, Any]:
    return {"key": f"{kind}:{ref or obligation}:{party}:{step}", "kind": kind, "step": step,
            "case_refs": [ref] if ref else [], "obligation": obligation, "party": party,
            "party_kind": party_kind, "deadline": deadline, "obligation_id": None}


def test_a_deadline_today_says_so() -> None:
    text = digest([entry("T-0")], ctx(), for_party=True).text
    assert "今日到期" in text and "还剩 0 天" not in text
    assert "due today" in digest([entry("T-0")], ctx(EN), for_party=True).text
    assert "还剩 3 天" in digest([entry("T-3", deadline="2026-12-04")], ctx(),
                               for_party=True).text


def test_most_urgent_first() -> None:
    lines = digest([entry("T-7", deadline="2026-12-08", ref="CZ-2"),
                    entry("reminder", kind="reminder", deadline="2026-11-20"),
                    entry("T-1", deadline="2026-12-02")], ctx(), for_party=True).text.splitlines()
    assert "再次提醒" in lines[1]
    assert "还剩 1 天" in lines[2] and "还剩 7 天" in lines[3]


def test_the_same_line_for_many_parties_is_one_line_naming_them() -> None:
    counties = ["玛纳斯县", "阜康市", "呼图壁县"]
    entries = [entry("overdue", kind="obligation_overdue", ref=None, party=c,
                     party_kind="region", obligation="county_report/2026",
                     deadline="2026-11-30") for c in counties]
    text = digest(entries, ctx(), for_party=False).text
    lines = text.splitlines()[1:]
    assert len(lines) == 1 and all(c in lines[0] for c in counties), text
    assert any("、".join(names) in lines[0] for names in permutations(counties))
    english = digest(entries, ctx(EN), for_party=False).text.splitlines()[1:]
    assert len(english) == 1 and english[0].count(", ") >= 2


def summons(meets: datetime) -> Summons:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    return Summons(id=3, key="s", party="environment", party_kind="department", case_refs=[],
                   obligation="department_letter/2026", meets_at=meets, place="会议室",
                   created_at=now, updated_at=now)


def test_the_day_before_reminder_sent_on_the_day_says_today() -> None:
    meeting = summons(datetime(2026, 12, 2, 2, tzinfo=UTC))  # 10:00 in Shanghai
    before = summons_reply(meeting, party="州生态环境局", tr=ZH, tz=TZ, codec=None, chat_id=0,
                           reminder="day", today=TODAY)
    assert "明天" in before.text
    late = summons_reply(meeting, party="州生态环境局", tr=ZH, tz=TZ, codec=None, chat_id=0,
                         reminder="day", today=date(2026, 12, 2))
    assert "明天" not in late.text and "今天" in late.text and "10:00" in late.text


def test_the_notice_is_an_official_document_with_its_code() -> None:
    """The 通报 as GB/T 9704 wants it: the commission's name, the notice's code as its
    发文字号, "XX关于…的通报", the source cited, tables numbered, signed, dated, 版记."""
    from tests.test_documents_pdf import notice

    document = notice(ZH)
    assert isinstance(document, OfficialDocument) and document.masthead is not None
    assert document.masthead.issuer == "昌州经信委"
    assert document.masthead.number == "昌州经信督〔2026〕3号"
    assert not document.masthead.upward  # sent down: the number centred, no 签发人
    assert document.title == ZH.gettext(
        "{issuer}: notice on overdue work on backward production capacity", issuer="昌州经信委")
    texts = [b.text for b in document.blocks if isinstance(b, Paragraph)]
    assert texts[0] == ZH.gettext("To every county, park and department:")
    assert "关于利用综合标准依法依规推动落后产能退出的指导意见" in texts[1]
    assert "工信部联产业〔2017〕30号" in texts[1]
    assert [t.caption for t in document.tables()] == [ZH.gettext(
        "Table {number}. {caption}", number=1,
        caption=ZH.gettext("Overdue work of {party}", party="玛纳斯县"))]
    assert texts[-2:] == ["昌州经信委", "2026年12月3日"]  # 署名 over 成文日期
    assert document.imprint is not None and "2026年12月3日" in document.imprint.printed

    docx = Document(io.BytesIO(docx_bytes(document, ZH)))
    assert [p.text for p in docx.paragraphs[:2]] == ["昌州经信委", "昌州经信督〔2026〕3号"]


def test_an_unsigned_notice_says_it_is_a_draft() -> None:
    draft = notice_document(
        Notice(id=8, key="d", status="draft", created_at=datetime(2026, 12, 3, tzinfo=UTC)),
        [], commission="昌州经信委", tr=ZH, facts=NoticeFacts("指导意见", "某〔2017〕1号"))
    assert draft.masthead is not None
    assert draft.masthead.number == ZH.gettext("(draft, not yet signed off)")


def test_a_digest_too_long_for_a_message_counts_what_it_leaves_out() -> None:
    """Thousands of items for one chat (an import whose cases share a deadline): the most
    urgent lines that fit, each whole, then how many more and where to see them all."""
    entries = [entry("T-7", deadline="2026-12-08", ref=f"CZ-{n}") for n in range(3, 2003)]
    entries.append(entry("reminder", kind="reminder", deadline="2026-11-20"))
    for tr, more in ((ZH, "……本群另有 {n} 项，发送 /mine 查看全部在办事项。"),
                     (EN, "…and {n} more items for this chat: /mine lists all its open work.")):
        text = digest(entries, ctx(tr), for_party=True).text
        lines = text.splitlines()
        assert len(text) <= 4096
        shown = lines[1:-2]
        assert "CZ-1" in shown[0], "the most urgent first"
        assert all("CZ-" in line for line in shown)
        assert lines[-2] == more.format(n=len(entries) - len(shown))
        assert lines[-1].startswith(("详情", "Details"))
    few = digest(entries[:3], ctx(), for_party=True).text
    assert "/mine" not in few and len(few.splitlines()) == 5
