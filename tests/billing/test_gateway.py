"""Sandbox payment gateway: card validation, test-card outcomes (R10) and
idempotent charging (M3), including under concurrency."""
from __future__ import annotations

import datetime as dt
import multiprocessing
import re
import threading
import uuid
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.errors import InvalidAmount, InvalidCard
from portal.billing.gateway import (CardDetails, ChargeResult, DeclineCode, IdempotencyConflict, card_brand,
                                    luhn_valid, normalize_card_number, validate_card)
from portal.billing.payments.sandbox import TEST_CARDS, SandboxGateway
from portal.money import Money
from tests.conftest import examples

TODAY = dt.date(2030, 6, 15)
SEK_100 = Money(10_000, "SEK")


def card(number: str = "4242424242424242", *, month: int = 12, year: int = 2031,
         cvc: str = "123", holder: str = "Astrid Lindgren") -> CardDetails:
    return CardDetails(number=number, exp_month=month, exp_year=year, cvc=cvc, holder=holder)


def ledger_url(path) -> str:
    return f"sqlite:///{path / 'ledger.db'}"


@pytest.fixture
def gateway(tmp_path):
    gw = SandboxGateway(ledger_url(tmp_path), clock=lambda: TODAY)
    yield gw
    gw.close()


def key() -> str:
    return f"test-{uuid.uuid4()}"


# --- test cards ---------------------------------------------------------------------

@pytest.mark.parametrize("test_card", TEST_CARDS, ids=lambda c: c.number)
def test_test_card_numbers_are_luhn_valid(test_card):
    assert luhn_valid(test_card.number)
    assert 12 <= len(test_card.number) <= 19


def test_test_cards_cover_every_decline_code_once():
    outcomes = [c.outcome for c in TEST_CARDS if c.outcome != "approved"]
    # B13's two are the challenge cards' (tests/billing/test_gateway_challenges.py).
    assert sorted(outcomes) == sorted(set(DeclineCode) - {DeclineCode.AUTHENTICATION_REQUIRED,
                                                           DeclineCode.AUTHENTICATION_FAILED})
    assert len({c.number for c in TEST_CARDS}) == len(TEST_CARDS)


@pytest.mark.parametrize("test_card", TEST_CARDS, ids=lambda c: f"{c.number}-{c.outcome}")
def test_r10_each_test_card_gives_its_outcome(gateway, test_card):
    cvc = "1234" if card_brand(test_card.number) == "amex" else "123"
    token = gateway.tokenize(card(test_card.number, cvc=cvc))
    result = gateway.charge(token.token, SEK_100, key())
    if test_card.outcome == "approved":
        assert result.approved
        assert result.reference is not None and result.reference.startswith("sbx_ch_")
        assert result.decline_code is None
    else:
        assert result == ChargeResult(False, None, DeclineCode(test_card.outcome))


def test_r10_unknown_token_is_a_generic_decline(gateway):
    result = gateway.charge("tok_not_ours", SEK_100, key())
    assert result == ChargeResult(False, None, DeclineCode.GENERIC_DECLINE)


# --- pure helpers -------------------------------------------------------------------

def test_normalize_card_number_drops_spaces_and_dashes():
    assert normalize_card_number(" 4242 4242-4242 4242 ") == "4242424242424242"


@pytest.mark.parametrize(("digits", "brand"), [
    ("4242424242424242", "visa"),
    ("5555555555554444", "mastercard"),
    ("2223003122003222", "mastercard"),
    ("378282246310005", "amex"),
    ("6011111111111117", "unknown"),
])
def test_card_brand(digits, brand):
    assert card_brand(digits) == brand


@pytest.mark.parametrize(("digits", "valid"), [
    ("4242424242424242", True),
    ("4242424242424241", False),
    ("", False),
    ("4242x42424242424", False),
])
def test_luhn_valid(digits, valid):
    assert luhn_valid(digits) is valid


# --- validate_card ------------------------------------------------------------------

@pytest.mark.parametrize(("details", "reason"), [
    (card("4242424242424241"), "number"),          # Luhn fails
    (card("42424242424"), "number"),               # 11 digits
    (card("4" + "0" * 18 + "4"), "number"),        # 20 digits
    (card("4242-4242-abcd-4242"), "number"),
    (card(month=0), "expiry"),
    (card(month=13), "expiry"),
    (card(year=31), "expiry"),                     # two-digit year
    (card(year=TODAY.year + 51), "expiry"),
    (card(month=5, year=2030), "expired"),         # month before the injected today
    (card(month=12, year=2029), "expired"),
    (card(cvc="12"), "cvc"),
    (card(cvc="1234"), "cvc"),                     # 4 digits only for amex
    (card(cvc="12a"), "cvc"),
    (card("378282246310005", cvc="123"), "cvc"),   # amex needs 4
    (card(holder="   "), "holder"),
])
def test_validate_card_rejects_with_reason(details, reason):
    with pytest.raises(InvalidCard) as exc:
        validate_card(details, TODAY)
    assert exc.value.reason == reason


def test_validate_card_current_month_is_still_valid():
    validate_card(card(month=TODAY.month, year=TODAY.year), TODAY)
    # ...through its last day.
    validate_card(card(month=6, year=2030), dt.date(2030, 6, 30))


def test_validate_card_accepts_spaced_number_and_amex_cvc():
    validate_card(card("3782 822463 10005", cvc="1234"), TODAY)


def test_tokenize_uses_injected_clock(tmp_path):
    gw = SandboxGateway(ledger_url(tmp_path), clock=lambda: dt.date(2032, 1, 1))
    try:
        with pytest.raises(InvalidCard) as exc:
            gw.tokenize(card(month=12, year=2031))
        assert exc.value.reason == "expired"
    finally:
        gw.close()


# --- tokens -------------------------------------------------------------------------

@pytest.mark.parametrize("test_card", TEST_CARDS, ids=lambda c: c.number)
def test_token_never_contains_number_or_cvc(gateway, test_card):
    details = card(test_card.number, cvc="987")
    token = gateway.tokenize(details)
    assert test_card.number not in token.token
    assert test_card.number not in repr(token)
    # Only the outcome and 16 random hex digits: no room for the number or the CVC
    # (a substring test for "987" would fail by chance on random hex).
    assert re.fullmatch(rf"sbx_{test_card.outcome}_[0-9a-f]{{16}}", token.token)
    assert token.last4 == test_card.number[-4:]
    assert token.brand == card_brand(test_card.number)
    assert (token.exp_month, token.exp_year, token.holder) == (12, 2031, "Astrid Lindgren")


def test_tokens_are_random(gateway):
    assert gateway.tokenize(card()).token != gateway.tokenize(card()).token


def test_card_details_repr_masks_number_and_cvc():
    details = card("4242 4242 4242 4242", cvc="987")
    for text in (repr(details), str(details), f"{details}"):
        assert "4242424242424242" not in text
        assert "4242 4242 4242 4242" not in text
        assert "987" not in text
        assert "4242" in text  # last four stay visible for support


# --- charges ------------------------------------------------------------------------

@pytest.mark.parametrize("minor", [0, -1, -10_000])
def test_charge_rejects_non_positive_amount(gateway, minor):
    token = gateway.tokenize(card()).token
    with pytest.raises(InvalidAmount):
        gateway.charge(token, Money(minor, "SEK"), key())
    assert gateway.charges_for() == []


def test_m3_same_key_twice_charges_once_with_same_reference(gateway):
    token = gateway.tokenize(card()).token
    k = key()
    first = gateway.charge(token, SEK_100, k)
    second = gateway.charge(token, SEK_100, k)
    assert first.approved and first == second
    rows = gateway.charges_for(k)
    assert len(rows) == 1
    assert rows[0].reference == first.reference
    assert rows[0].amount == SEK_100
    assert gateway.count_approved() == 1


def test_m3_decline_is_recorded_and_replayed_for_the_same_key(gateway):
    token = gateway.tokenize(card("4000000000009995")).token
    k = key()
    first = gateway.charge(token, SEK_100, k)
    assert first == gateway.charge(token, SEK_100, k)
    assert first.decline_code is DeclineCode.INSUFFICIENT_FUNDS
    [row] = gateway.charges_for(k)
    assert not row.approved and row.decline_code is DeclineCode.INSUFFICIENT_FUNDS
    assert gateway.count_approved() == 0


def test_m3_different_keys_are_different_charges(gateway):
    token = gateway.tokenize(card()).token
    a = gateway.charge(token, SEK_100, key())
    b = gateway.charge(token, SEK_100, key())
    assert a.reference != b.reference
    assert gateway.count_approved() == 2


@pytest.mark.parametrize("other", [Money(10_001, "SEK"), Money(10_000, "EUR")],
                         ids=["amount", "currency"])
def test_m3_same_key_different_amount_conflicts(gateway, other):
    token = gateway.tokenize(card()).token
    k = key()
    gateway.charge(token, SEK_100, k)
    with pytest.raises(IdempotencyConflict):
        gateway.charge(token, other, k)
    assert len(gateway.charges_for(k)) == 1


def test_m3_same_key_different_token_conflicts(gateway):
    k = key()
    gateway.charge(gateway.tokenize(card()).token, SEK_100, k)
    with pytest.raises(IdempotencyConflict):
        gateway.charge(gateway.tokenize(card()).token, SEK_100, k)


def test_m3_ledger_commits_independently_of_the_caller(tmp_path, gateway):
    # A second gateway on the same ledger (another worker) sees the committed charge.
    token = gateway.tokenize(card()).token
    k = key()
    first = gateway.charge(token, SEK_100, k)
    other = SandboxGateway(ledger_url(tmp_path), clock=lambda: TODAY)
    try:
        assert other.charge(token, SEK_100, k) == first
        assert len(other.charges_for(k)) == 1
    finally:
        other.close()


def test_m3_twenty_threads_same_key_charge_once(gateway):
    token = gateway.tokenize(card()).token
    k = key()
    n = 20
    barrier = threading.Barrier(n)

    def pay() -> ChargeResult:
        barrier.wait()
        return gateway.charge(token, SEK_100, k)

    with ThreadPoolExecutor(max_workers=n) as pool:
        results = list(pool.map(lambda _: pay(), range(n)))

    rows = gateway.charges_for(k)
    assert len(rows) == 1 and rows[0].approved
    assert gateway.count_approved() == 1
    assert {r.reference for r in results} == {rows[0].reference}
    assert all(r.approved for r in results)


def _charge_in_child(url: str, token: str, idempotency_key: str) -> ChargeResult:
    gw = SandboxGateway(url)
    try:
        return gw.charge(token, SEK_100, idempotency_key)
    finally:
        gw.close()


def test_m3_processes_same_key_charge_once(tmp_path, gateway):
    token = gateway.tokenize(card()).token
    k = key()
    url = ledger_url(tmp_path)
    ctx = multiprocessing.get_context("spawn")  # engines must not cross a fork
    with ProcessPoolExecutor(max_workers=4, mp_context=ctx) as pool:
        results = list(pool.map(_charge_in_child, [url] * 8, [token] * 8, [k] * 8))
    rows = gateway.charges_for(k)
    assert len(rows) == 1
    assert {r.reference for r in results} == {rows[0].reference}


# --- property -----------------------------------------------------------------------

def _with_check_digit(body: str) -> str:
    for d in "0123456789":
        if luhn_valid(body + d):
            return body + d
    raise AssertionError("unreachable: one check digit always fits")


_TEST_NUMBERS = {c.number for c in TEST_CARDS}
luhn_numbers = (
    st.text(alphabet="0123456789", min_size=11, max_size=18)
    .map(_with_check_digit)
    .filter(lambda n: n not in _TEST_NUMBERS)
)


@pytest.fixture(scope="module")
def shared_gateway(tmp_path_factory):
    gw = SandboxGateway(ledger_url(tmp_path_factory.mktemp("prop")), clock=lambda: TODAY)
    yield gw
    gw.close()


@settings(max_examples=examples(75), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(number=luhn_numbers)
def test_r10_other_luhn_valid_numbers_approve(shared_gateway, number):
    cvc = "1234" if card_brand(number) == "amex" else "123"
    token = shared_gateway.tokenize(card(number, cvc=cvc))
    assert number not in token.token
    result = shared_gateway.charge(token.token, SEK_100, key())
    assert result.approved and result.decline_code is None
