"""A case with its evidence: the full text and one button per file kept, to send it again.

The numbers are those of :func:`bot.services.evidence.case_evidence` (and of the case's text),
so a button keeps naming the same file however many are added later.
"""

from __future__ import annotations

from datetime import tzinfo

from bot.core.buttons import ButtonCodec, SendEvidence
from bot.core.departments import AliasTable
from bot.core.i18n import N_, Translator
from bot.render import texts
from bot.render.cards import Button, Reply
from bot.services.cases import CaseView
from bot.services.evidence import CaseEvidence, case_evidence

#: At most this many buttons under a case (the latest files); the text lists them all.
MAX_EVIDENCE_BUTTONS = 20
_MAX_LABEL = 40

EVIDENCE_CAPTION = N_("Evidence {number} of case {ref}: {name}\nSent by {who}, {when}")
MORE_EVIDENCE = N_("Buttons for the latest {shown} files; the list above has all {total}.")


def evidence_button_label(item: CaseEvidence, tr: Translator) -> str:
    name = texts.evidence_label(item.ref.ref(), tr)
    label = f"📎{item.number} {name}"
    return label if len(label) <= _MAX_LABEL else label[:_MAX_LABEL - 1] + "…"


def case_reply(view: CaseView, tr: Translator, aliases: AliasTable, tz: tzinfo,
               codec: ButtonCodec, chat_id: int) -> Reply:
    """``/case REF``: the case in full, and a button for each evidence file kept."""
    text = texts.case_detail(view, tr, aliases, tz)
    kept = [item for item in case_evidence(view) if item.ref.stored]
    shown = kept[-MAX_EVIDENCE_BUTTONS:]
    if len(shown) < len(kept):
        text += "\n" + tr.gettext(MORE_EVIDENCE, shown=len(shown), total=len(kept))
    case_id = view.case.id or 0
    buttons = tuple((Button(evidence_button_label(item, tr),
                            codec.pack(chat_id, SendEvidence(case_id, item.number))),)
                    for item in shown)
    return Reply(text, buttons)


def evidence_caption(view: CaseView, item: CaseEvidence, tr: Translator, aliases: AliasTable,
                     tz: tzinfo) -> str:
    """The caption of a file sent again: which case, which file, who sent it and when."""
    who = item.actor_name or tr.gettext(N_("system"))
    if item.department_key:
        who = tr.gettext(N_("{who} ({department})"), who=who,
                         department=aliases.name(item.department_key, tr.locale))
    return tr.gettext(EVIDENCE_CAPTION, number=item.number, ref=view.case.ref,
                      name=texts.evidence_label(item.ref.ref(), tr), who=who,
                      when=texts.fmt_datetime(item.at, tr, tz))
