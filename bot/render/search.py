"""``/case 宏达``: the cases a search by enterprise name found, one button per case."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.buttons import ButtonCodec, ShowCase
from bot.core.i18n import N_, Translator
from bot.render import texts
from bot.render.cards import Button, Reply
from models.tables import Case

#: At most this many cases are offered; more means the query should say more.
MAX_RESULTS = 10
_MAX_LABEL = 48

NO_CASE_FOUND = N_("No case found for “{query}”: it is neither a case reference nor part of "
                   "the name of an enterprise among the cases you may read.")
TOO_MANY = N_("Only the first {shown} are listed; add more of the name to narrow it down.")


def _label(case: Case) -> str:
    label = f"{case.ref} · {case.enterprise}"
    return label if len(label) <= _MAX_LABEL else label[:_MAX_LABEL - 1] + "…"


def search_reply(cases: Sequence[Case], query: str, tr: Translator, codec: ButtonCodec,
                 chat_id: int) -> Reply:
    """Several cases matched: one line and one button (showing the case) for each."""
    shown = list(cases[:MAX_RESULTS])
    lines = [tr.ngettext("{n} case matches “{query}”; choose one:",
                         "{n} cases match “{query}”; choose one:", len(cases), query=query)]
    lines.extend(texts.case_line(case, tr) for case in shown)
    if len(shown) < len(cases):
        lines.append(tr.gettext(TOO_MANY, shown=len(shown)))
    buttons = tuple((Button(_label(case), codec.pack(chat_id, ShowCase(case.id or 0))),)
                    for case in shown)
    return Reply("\n".join(lines), buttons)
