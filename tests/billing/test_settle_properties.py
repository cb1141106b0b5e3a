"""Property-based: for any generated account — subscriptions on several methods, with
outstanding and paid charges — settling pays exactly the charges R04/R07/R08 name,
changes nothing else, and a declined charge changes nothing at all (M2)."""
from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings, strategies as st

from portal.billing import payments
from portal.errors import CardDeclined
from portal.billing.payments import UseSavedCard
from portal.models import (Charge, ChargeStatus, Payment, PaymentMethod, Role, Subscription,
                           SubscriptionStatus)
from tests import factories as f
from tests.conftest import examples

CARD_NUMBERS = [f.APPROVE, "5555555555554444", f.DECLINE, f.INSUFFICIENT_FUNDS]

subscription_plan = st.tuples(
    st.integers(0, 3),                                   # which method it uses
    st.sampled_from([SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE, SubscriptionStatus.DISABLED]),
    st.lists(st.tuples(st.integers(1, 10**7), st.booleans()), max_size=3),  # (amount, outstanding?)
)


def build(b, plans):
    acc = f.account(b)
    methods = [f.card(b, acc, n) for n in CARD_NUMBERS]
    subs = []
    for method_index, status, charges in plans:
        sub = f.subscription(b, acc, methods[method_index], status)
        for months, (amount, outstanding) in enumerate(charges):
            f.charge(b, sub, amount, months_ago=months + 1,
                     status=ChargeStatus.OUTSTANDING if outstanding else ChargeStatus.PAID)
        subs.append(sub)
    admin = f.user(b, Role.ACCOUNT_ADMIN, acc)
    f.commit(b)
    return acc, methods, subs, admin


def state(b):
    return f.snapshot(b, Charge, Subscription, Payment, PaymentMethod)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plans=st.lists(subscription_plan, min_size=1, max_size=6), settled=st.integers(0, 5),
       chosen=st.integers(0, 3))
def test_r04_r07_r08_settling_pays_exactly_the_named_charges(b, plans, settled, chosen):
    f.empty_database(b)
    acc, methods, subs, admin = build(b, plans)
    target = subs[settled % len(subs)]
    failed, chooser = target.payment_method, methods[chosen]
    named = {c.id for s in subs if s.payment_method_id in {failed.id, chooser.id}
             for c in s.charges if c.status == ChargeStatus.OUTSTANDING}
    expected_total = sum(c.amount_minor for s in subs for c in s.charges if c.id in named)
    quote = payments.quote_settlement(b, admin, target.id, chooser.id)
    assert {c.id for c in quote.charges} == named
    assert quote.total.minor == expected_total
    page = payments.preview_settlement(b, payments.settleable_subscription(b, admin, target.id), chooser.id)
    assert page.total.minor == expected_total  # the Settle page shows what Pay charges
    if expected_total == 0:
        return
    before = state(b)
    key = f"prop-{uuid.uuid4().hex}"  # the gateway's ledger outlives each example
    declines = chooser.last4 in ("0002", "9995")
    try:
        payments.settle_balance(b, admin, target.id, UseSavedCard(chooser.id), expected_total, key)
    except CardDeclined:
        assert declines
        assert state(b) == before  # a decline changes nothing at all
        return
    assert not declines
    after = state(b)
    old_charges = {c["id"]: c for c in before["charges"]}
    for c in after["charges"]:
        was = old_charges[c["id"]]
        if c["id"] in named:
            assert c["status"] == ChargeStatus.PAID and c["payment_id"] is not None
        else:
            assert c == was  # nothing else changes
    old_subs = {s["id"]: s for s in before["subscriptions"]}
    paid_subs = {s.id for s in subs for c in s.charges if c.id in named}
    for s in after["subscriptions"]:
        was = old_subs[s["id"]]
        expected_method = chooser.id if was["payment_method_id"] == failed.id else was["payment_method_id"]
        assert s["payment_method_id"] == expected_method                  # R05
        if s["id"] in paid_subs and was["status"] != SubscriptionStatus.ACTIVE:
            assert s["status"] == SubscriptionStatus.ACTIVE               # R09, R13
        elif s["id"] not in paid_subs:
            assert s["status"] == was["status"]
    assert len(after["payments"]) == len(before["payments"]) + 1
    assert after["payments"][-1]["amount_minor"] == expected_total
