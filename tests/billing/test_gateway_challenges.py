"""B13 at the gateway boundary: the sandbox's 3-D Secure cards. On-session a charge
answers `requires_action` (nothing in the ledger) until the challenge is passed,
failed, cancelled or abandoned — then it is decided once, under its key; off-session
it is declined `authentication_required`."""
from __future__ import annotations

import pytest

from portal.billing.payments import sandbox
from portal.billing.clock import epoch_seconds
from portal.billing.gateway import ChargeResult, DeclineCode, IdempotencyConflict, luhn_valid
from portal.billing.payments.sandbox import CHALLENGE_CARDS, FAULT_CARDS, TEST_CARDS, SandboxGateway
from portal.money import Money
from tests.billing.test_gateway import SEK_100, TODAY, card, gateway, key, ledger_url  # noqa: F401 - fixture

SCA, SCA_FAILS = (c.number for c in CHALLENGE_CARDS)


def test_b13_challenge_cards_are_luhn_valid_and_their_own():
    assert all(luhn_valid(c.number) for c in CHALLENGE_CARDS)
    assert not {c.number for c in CHALLENGE_CARDS} & {c.number for c in TEST_CARDS + FAULT_CARDS}


def test_b13_on_session_the_bank_asks_then_approves_once_confirmed(gateway):
    token, k = gateway.tokenize(card(SCA)).token, key()
    first = gateway.charge(token, SEK_100, k)
    assert first.requires_action and not first.approved and first.decline_code is None
    assert gateway.charge(token, SEK_100, k).challenge == first.challenge  # the same, until done
    assert gateway.ledger() == []
    assert gateway.challenge(first.challenge) == (SEK_100, "waiting")
    assert gateway.complete_challenge(first.challenge, confirmed=True)
    assert not gateway.complete_challenge(first.challenge, confirmed=False)  # done once
    approved = gateway.charge(token, SEK_100, k)
    assert approved.approved and approved.reference.startswith("sbx_ch_")
    assert gateway.charge(token, SEK_100, k) == approved and gateway.count_approved() == 1


@pytest.mark.parametrize("number, confirmed", [(SCA_FAILS, True), (SCA, False)])
def test_b13_a_failed_or_cancelled_challenge_is_declined_once(gateway, number, confirmed):
    token, k = gateway.tokenize(card(number)).token, key()
    asked = gateway.charge(token, SEK_100, k)
    gateway.complete_challenge(asked.challenge, confirmed=confirmed)
    assert gateway.charge(token, SEK_100, k) == ChargeResult(False, None, DeclineCode.AUTHENTICATION_FAILED)
    assert [e.approved for e in gateway.ledger()] == [False]


def test_b13_an_abandoned_challenge_expires_as_a_decline(tmp_path, monkeypatch):
    hurried = SandboxGateway(ledger_url(tmp_path), clock=lambda: TODAY, challenge_seconds=0.2)
    try:
        token, k = hurried.tokenize(card(SCA)).token, key()
        asked = hurried.charge(token, SEK_100, k)
        later = epoch_seconds() + 0.3  # the challenge has waited longer than it may
        monkeypatch.setattr(sandbox, "epoch_seconds", lambda: later)
        assert hurried.challenge(asked.challenge)[1] == "failed"
        assert not hurried.complete_challenge(asked.challenge, confirmed=True)  # too late
        assert hurried.charge(token, SEK_100, k).decline_code == DeclineCode.AUTHENTICATION_FAILED
    finally:
        hurried.close()


def test_b13_off_session_there_is_nobody_to_ask(gateway):
    token = gateway.tokenize(card(SCA)).token
    assert gateway.charge(token, SEK_100, key(), off_session=True) == ChargeResult(
        False, None, DeclineCode.AUTHENTICATION_REQUIRED)


def test_b13_a_key_waiting_for_its_challenge_is_not_reused_for_another_charge(gateway):
    token, k = gateway.tokenize(card(SCA)).token, key()
    gateway.charge(token, SEK_100, k)
    with pytest.raises(IdempotencyConflict):
        gateway.charge(token, Money(99_00, "SEK"), k)
    assert gateway.challenge("sbx_3ds_unknown") is None
