"""Button data: one schema per action, signed for its chat, steps and regions by stable codes."""

from __future__ import annotations

import pytest

from bot.core.buttons import (
    MAX_BYTES,
    PAYLOADS,
    STEP_CODES,
    BindChat,
    ButtonCodec,
    ButtonError,
    CancelDialog,
    ConfirmDuty,
    ConfirmSummons,
    DialogChoice,
    ExtensionDecision,
    HandBack,
    NoticeDecision,
    Payload,
    Reroute,
    ReviewDecision,
    Rsvp,
    SendEvidence,
    ShowCase,
    StaleButton,
    StepPress,
    TaskPress,
    region_code,
)
from bot.core.workflow import WORKFLOWS, Actor

CODEC = ButtonCodec.from_token("123456:TEST")
CHAT = -1001234567890
BIG_ID = 2 ** 63 - 1

EXAMPLES: list[Payload] = [
    StepPress(BIG_ID, "四", "request_extension"),
    StepPress(7, "八", "measure:website_announcement"),
    HandBack(12),
    ExtensionDecision(3, approve=True),
    ExtensionDecision(3, approve=False),
    ReviewDecision(3, close=True),
    ReviewDecision(3, close=False),
    Reroute(BIG_ID, "development_reform"),
    DialogChoice("electrolytic_aluminium"),
    DialogChoice("四"),
    CancelDialog(),
    ConfirmDuty(9),
    Rsvp(4, accept=True),
    Rsvp(4, accept=False),
    BindChat(department="market_regulation"),
    BindChat(region=region_code("准东经济技术开发区")),
    NoticeDecision(BIG_ID, "sign"),
    NoticeDecision(5, "edit"),
    NoticeDecision(5, "hold"),
    ConfirmSummons(BIG_ID),
    ShowCase(BIG_ID),
    SendEvidence(BIG_ID, 1),
    SendEvidence(7, 999),
    TaskPress(BIG_ID, "accept"),
    TaskPress(5, "merge", BIG_ID),
    TaskPress(5, "close"),
    TaskPress(5, "show"),
]


@pytest.mark.parametrize("payload", EXAMPLES, ids=lambda p: type(p).__name__)
def test_every_action_round_trips_within_64_bytes(payload: Payload) -> None:
    data = CODEC.pack(CHAT, payload)
    assert len(data.encode()) <= MAX_BYTES
    assert data.startswith("d2:")
    assert CODEC.unpack(CHAT, data) == payload


def test_every_action_has_a_schema() -> None:
    assert {type(p) for p in EXAMPLES} == set(PAYLOADS.values())


def test_every_step_a_department_can_press_has_a_code_and_codes_are_unique() -> None:
    for workflow in WORKFLOWS.values():
        for step in workflow.steps:
            if step.actor is Actor.DEPARTMENT:
                assert step.name in STEP_CODES, step.name
    assert len(set(STEP_CODES.values())) == len(STEP_CODES)


def test_a_step_is_packed_by_its_code_not_its_position() -> None:
    data = CODEC.pack(CHAT, StepPress(5, "四", "accept"))
    assert data.split(":")[2:5] == ["5", "四", STEP_CODES["accept"]]


def test_regions_are_packed_by_a_stable_code() -> None:
    assert region_code("玛纳斯县") == region_code("玛纳斯县")
    assert region_code("玛纳斯县") != region_code("阜康市")
    assert len(region_code("准东经济技术开发区")) == 8


def test_data_for_another_chat_or_tampered_is_refused_not_stale() -> None:
    data = CODEC.pack(CHAT, HandBack(12))
    with pytest.raises(ButtonError) as moved:
        CODEC.unpack(CHAT + 1, data)
    assert not isinstance(moved.value, StaleButton)
    with pytest.raises(ButtonError) as tampered:
        CODEC.unpack(CHAT, data.replace(":12:", ":13:"))
    assert not isinstance(tampered.value, StaleButton)
    other = ButtonCodec.from_token("654321:OTHER")
    with pytest.raises(ButtonError):
        other.unpack(CHAT, data)


def test_a_button_of_the_old_layout_is_out_of_date() -> None:
    old = CODEC.sign(CHAT, "d1:s:12:四:0")  # steps by index, as the first version packed them
    with pytest.raises(StaleButton):
        CODEC.unpack(CHAT, old)
    with pytest.raises(ButtonError) as forged:  # … but only when it is genuine
        CODEC.unpack(CHAT, old[:-1] + ("A" if old[-1] != "A" else "B"))
    assert not isinstance(forged.value, StaleButton)


def test_a_step_that_no_longer_exists_is_out_of_date() -> None:
    with pytest.raises(StaleButton):
        CODEC.unpack(CHAT, CODEC.sign(CHAT, "d2:s:12:四:zz"))  # an unknown code
    with pytest.raises(StaleButton):  # a code of a step clause （四） does not have
        CODEC.unpack(CHAT, CODEC.sign(CHAT, f"d2:s:12:四:{STEP_CODES['confirm_dismantled']}"))


@pytest.mark.parametrize("body", [
    "d2:s:²:四:ac", "d2:s:99999999999999999999:四:ac", "d2:s:-1:四:ac", "d2:s:12:十:ac",
    "d2:s:12:四", "d2:r", "d2:r:1:2", "d2:x:1:y", "d2:t:1:Bad-Key", "d2:c:a b",
    "d2:v:1:maybe", "d2:b:q:x", "d2:b:r:not-a-code", "d2:z:1", "d3:r:1",
    "d2:q:1:a", "d2:q:1:z:0", "d2:q:1:m:0", "d2:q:1:a:5", "d2:q:²:a:0",
])
def test_malformed_fields_are_refused(body: str) -> None:
    with pytest.raises(ButtonError) as refused:
        CODEC.unpack(CHAT, CODEC.sign(CHAT, body))
    assert not isinstance(refused.value, StaleButton)


@pytest.mark.parametrize("data", [None, "", "x" * 65, "no-mac", "d2:r:1"])
def test_missing_or_unsigned_data_is_refused(data: str | None) -> None:
    with pytest.raises(ButtonError):
        CODEC.unpack(CHAT, data)
