"""The sandbox gateway's faults (README: "Sandbox faults"): unreachable (nothing
charged), connection lost after the charge, timeout — and, whatever happened, the
same key asked again returns the first result and never charges again (M3)."""
from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest

from portal import create_app
from portal.billing.gateway import CardDetails, GatewayNoAnswer, GatewayNotReached, luhn_valid
from portal.billing.payments.sandbox import FAULT_CARDS, TEST_CARDS, Fault, SandboxGateway
from portal.money import Money
from portal.config import ConfigError, for_tests, from_environment

TODAY = dt.date(2030, 6, 15)
SEK_100 = Money(10_000, "SEK")
TIMEOUT_CARD, AFTER_CHARGE_CARD, BEFORE_CHARGE_CARD = (c.number for c in FAULT_CARDS)


@pytest.fixture
def ledger(tmp_path):
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def gateway(ledger):
    gw = SandboxGateway(ledger, clock=lambda: TODAY, timeout_seconds=0.05)
    yield gw
    gw.close()


def token_for(gateway, number: str) -> str:
    return gateway.tokenize(CardDetails(number, 12, 2031, "123", "Greta Garbo")).token


def key() -> str:
    return f"fault-{uuid.uuid4()}"


def test_fault_cards_are_luhn_valid_and_distinct_from_the_outcome_cards():
    assert all(luhn_valid(c.number) for c in FAULT_CARDS)
    assert not {c.number for c in FAULT_CARDS} & {c.number for c in TEST_CARDS}
    assert [c.outcome for c in FAULT_CARDS] == [f"fault_{f}" for f in Fault]


def test_unreachable_gateway_charges_nothing(gateway):
    token, k = token_for(gateway, BEFORE_CHARGE_CARD), key()
    with pytest.raises(GatewayNotReached):
        gateway.charge(token, SEK_100, k)
    with pytest.raises(GatewayNotReached):  # asked again: still down, still nothing
        gateway.charge(token, SEK_100, k)
    assert gateway.charges_for() == []


@pytest.mark.parametrize("number", [AFTER_CHARGE_CARD, TIMEOUT_CARD], ids=["after_charge", "timeout"])
def test_m3_lost_answer_the_charge_stands_and_the_same_key_returns_it(gateway, number):
    token, k = token_for(gateway, number), key()
    started = time.monotonic()
    with pytest.raises(GatewayNoAnswer):
        gateway.charge(token, SEK_100, k)
    if number == TIMEOUT_CARD:
        assert time.monotonic() - started >= 0.05  # the caller waited its timeout out
    [entry] = gateway.charges_for(k)
    assert entry.approved and entry.reference.startswith("sbx_ch_")
    again = gateway.charge(token, SEK_100, k)  # the retry: the ledger's first answer
    assert again.approved and again.reference == entry.reference
    assert gateway.count_approved() == 1


@pytest.mark.parametrize("fault", list(Fault))
def test_a_deployment_wide_fault_applies_to_every_card(ledger, fault):
    down = SandboxGateway(ledger, clock=lambda: TODAY, fault=fault, timeout_seconds=0.01)
    try:
        token, k = token_for(down, "4242424242424242"), key()
        expected = GatewayNotReached if fault == Fault.BEFORE_CHARGE else GatewayNoAnswer
        with pytest.raises(expected):
            down.charge(token, SEK_100, k)
        assert down.count_approved() == (0 if fault == Fault.BEFORE_CHARGE else 1)
        if fault != Fault.BEFORE_CHARGE:  # what was charged is answered, not charged again
            assert down.charge(token, SEK_100, k).approved and down.count_approved() == 1
    finally:
        down.close()


def test_latency_delays_new_charges_only(ledger):
    slow = SandboxGateway(ledger, clock=lambda: TODAY, latency_seconds=0.1)
    try:
        token, k = token_for(slow, "4242424242424242"), key()
        started = time.monotonic()
        slow.charge(token, SEK_100, k)
        assert time.monotonic() - started >= 0.1
    finally:
        slow.close()


@pytest.mark.wall_clock  # an app of its own, on the system clock
def test_the_fault_is_configured_from_the_environment(tmp_path):
    config = from_environment({"SANDBOX_GATEWAY_FAULT": "After_Charge", "SANDBOX_GATEWAY_TIMEOUT_SECONDS": "2.5",
                               "SANDBOX_GATEWAY_LATENCY_MS": "40"})
    assert (config["SANDBOX_GATEWAY_FAULT"], config["SANDBOX_GATEWAY_TIMEOUT_SECONDS"],
            config["SANDBOX_GATEWAY_LATENCY_MS"]) == ("after_charge", 2.5, 40)
    assert from_environment({"SANDBOX_GATEWAY_FAULT": "none"})["SANDBOX_GATEWAY_FAULT"] is None
    with pytest.raises(ConfigError):
        from_environment({"SANDBOX_GATEWAY_FAULT": "sometimes"})
    with pytest.raises(ConfigError):
        from_environment({"SANDBOX_GATEWAY_TIMEOUT_SECONDS": "soon"})
    app = create_app(for_tests(tmp_path, SANDBOX_GATEWAY_FAULT="before_charge"))
    gw = app.extensions["payment_gateway"]
    try:
        with pytest.raises(GatewayNotReached):
            gw.charge(token_for(gw, "4242424242424242"), SEK_100, key())
    finally:
        gw.close()
