"""Issue 32 (events to the provider), checked against its list: the events no other test
followed from the fact they report — a failed charge (`payment.failed` and
`subscription.past_due`), the cycle disabling and deleting the subscription
(`subscription.disabled`, `subscription.deleted`), a payment the gateway left unanswered
(`payment.in_doubt`) and a billing profile's new default (`payment_method.changed`) —
each written with a pending delivery to every active endpoint, by the service that
records the fact; and a sender that died mid-post loses no event (at least once). The
others: tests/web/test_i32_api.py, tests/billing/test_bulk.py."""
from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from sqlalchemy import select

from portal.billing import events, payments
from portal.billing.accounts import pauses, plans, subscriptions
from portal.billing.payments import UseSavedCard
from portal.billing.payments.methods import set_profile_default
from portal.billing.payments.sandbox import Fault
from portal.billing.provider import webhooks
from portal.billing.transaction import write_transaction
from portal.errors import GatewayUnavailable
from portal.models import AccountKind, OutboxStatus, Role, WebhookDelivery, WebhookEvent
from tests import factories as f
from tests.billing import test_i33_subscriptions as i33, test_lifecycle, test_payment_faults
from tests.billing.test_settle import KEY
from tests.i32_api import SECRET, Receiver
from tests.web.test_i31_sign_in_security import MinuteClock

payg, cycle = test_lifecycle.payg, test_lifecycle.cycle
customer = i33.payg  # an account whose people cancel, pause and change plans
scene, faulty = test_payment_faults.scene, test_payment_faults.faulty


@pytest.fixture
def endpoint(b):
    with write_transaction(b.session):
        made = webhooks.add_endpoint(b.session, b.clock, "http://127.0.0.1:9/hooks", SECRET)
    return made


def written(b, endpoint) -> list[tuple[str, dict]]:
    """The events written so far, each with its pending delivery to the endpoint."""
    b.session.rollback()
    found = list(b.session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)))
    deliveries = {(d.event_id, d.endpoint_id, d.status) for d in b.session.scalars(select(WebhookDelivery))}
    assert {(e.id, endpoint.id, OutboxStatus.PENDING) for e in found} <= deliveries
    return [(e.type, e.data) for e in found]


def test_b20_every_event_type_has_a_writer():
    """The twelve types of issue 32 and the six of issue 33's self-service, and no other:
    each is written by the audit action that records the same fact (FROM_AUDIT) or by its
    own writer (the invoices, the ledger, the bank import), so no type is listed that
    nothing sends."""
    own_writers = {"invoice.issued", "invoice.paid", "invoice.partly_paid", "subscription.past_due",
                   "transfer.needs_review"}
    assert set(events.FROM_AUDIT.values()) | own_writers == set(events.EVENT_TYPES)
    assert len(events.EVENT_TYPES) == 18
    assert [t for t, _ in events.reported_by("charge.failed", 1, {"subscription_id": 8})] == [
        "payment.failed", "subscription.past_due"]


def test_i32_a_failed_charge_reports_payment_failed_past_due_then_disabled_and_deleted(b, payg, clock, endpoint):
    cycle(b, clock, date(2026, 12, 1))
    about_risky = [(t, d) for t, d in written(b, endpoint) if d.get("subscription_id") == payg.risky.id]
    assert [t for t, _ in about_risky] == ["payment.failed", "subscription.past_due"]
    failed, past_due = (d for _, d in about_risky)
    assert (failed["account_id"], failed["reason"]) == (payg.acc.id, "insufficient_funds")
    assert past_due["disable_on"] == "2026-12-31"
    cycle(b, clock, date(2026, 12, 31))
    [(_, disabled)] = [(t, d) for t, d in written(b, endpoint) if t == "subscription.disabled"]
    assert (disabled["subscription_id"], disabled["delete_on"]) == (payg.risky.id, "2027-03-31")
    cycle(b, clock, date(2027, 3, 31))
    [(_, deleted)] = [(t, d) for t, d in written(b, endpoint) if t == "subscription.deleted"]
    assert deleted["account_id"] == payg.acc.id


def test_i32_a_payment_left_unanswered_reports_payment_in_doubt(b, scene, faulty, endpoint):
    with pytest.raises(GatewayUnavailable):
        payments.settle_balance(faulty(Fault.TIMEOUT), scene.admin, scene.web.id,
                                UseSavedCard(scene.spare.id), test_payment_faults.TOTAL, KEY)
    [(type_, data)] = [(t, d) for t, d in written(b, endpoint) if t.startswith("payment.")]
    assert type_ == "payment.in_doubt" and data["amount_minor"] == test_payment_faults.TOTAL


def test_i32_a_new_default_payment_method_reports_payment_method_changed(b, endpoint):
    acc = f.account(b, AccountKind.CUSTOMER_AGREEMENT)
    profile = f.profile(b, acc)
    owner = f.user(b, Role.OWNER, acc)
    card = f.card(b, acc)
    f.commit(b)
    set_profile_default(b, owner, acc.id, profile.id, card.id)
    [(type_, data)] = written(b, endpoint)
    assert type_ == "payment_method.changed" and data["account_id"] == acc.id
    assert data["method"]["last4"] == card.last4


def test_b20_a_sender_that_died_mid_post_loses_no_event(b, endpoint):
    """At least once: a delivery claimed by a sender that then died (no answer marked)
    is left alone while the claim is fresh, and sent — signed — once it is older than
    the sending timeout (5 minutes)."""
    with Receiver(SECRET) as receiver:
        with write_transaction(b.session):
            endpoint.url = receiver.url
            events.emit(b.session, b.clock, "credit.created", {"account_id": 1, "amount_minor": 100})
        assert webhooks.WebhookSender(b.session, b.clock).claim_next() is not None  # …and the sender dies
        later = MinuteClock(b.clock.today(), minutes=4)
        assert webhooks.WebhookSender(b.session, later).send().delivered == 0  # the claim is fresh
        later.minutes = 6
        assert webhooks.WebhookSender(b.session, later).send().delivered == 1
        assert receiver.types() == ["credit.created"] and receiver.refused == []
    b.session.rollback()
    [delivery] = b.session.scalars(select(WebhookDelivery)).all()
    assert (delivery.status, delivery.attempts) == (OutboxStatus.SENT, 2)


def test_b20_what_a_customer_does_to_a_subscription_and_its_end_are_reported(b, customer, clock, endpoint):
    """Issue 33's self-service reaches the provider as it happens, not only by polling
    the API's status: a cancellation planned, undone, planned again and carried out by
    the cycle; a pause and its end; a plan changed — each event with the subscription
    and the days or prices the customer was told."""
    b.policy = dataclasses.replace(b.policy, customer_may_pause=True, customer_may_change_plan=True,
                                   plans=(("Small", 300_00), ("Large", 500_00)))
    kept = f.subscription(b, customer.acc, f.card(b, customer.acc), fee=300_00)
    f.commit(b)
    acc, sub, admin = customer.acc.id, customer.sub.id, customer.admin
    subscriptions.cancel_at_period_end(b, admin, acc, sub)
    subscriptions.undo_cancellation(b, admin, acc, sub)
    subscriptions.cancel_at_period_end(b, admin, acc, sub)
    pauses.pause(b, admin, acc, kept.id)
    clock.current = date(2026, 11, 28)
    pauses.resume(b, admin, acc, kept.id)
    plans.change_plan(b, admin, acc, kept.id, "Large")
    i33.cycle(b, clock, date(2026, 12, 1))
    reported = [(t, d) for t, d in written(b, endpoint)
                if t.startswith("subscription.") and t != "subscription.past_due"]
    assert [t for t, _ in reported] == [
        "subscription.cancellation_scheduled", "subscription.cancellation_undone",
        "subscription.cancellation_scheduled", "subscription.paused", "subscription.resumed",
        "subscription.plan_changed", "subscription.cancelled"]
    assert {d["account_id"] for _, d in reported} == {acc}
    assert [d["subscription_id"] for _, d in reported] == [sub, sub, sub, kept.id, kept.id, kept.id, sub]
    scheduled, cancelled = reported[0][1], reported[-1][1]
    assert (scheduled["cancel_at"], scheduled["last_day"]) == ("2026-12-01", "2026-11-30") == (
        cancelled["cancel_at"], cancelled["last_day"])
    assert (reported[4][1]["paused_on"], reported[4][1]["resumed_on"]) == ("2026-11-25", "2026-11-28")
    changed = reported[5][1]
    assert (changed["old_plan"], changed["plan"], changed["amount_minor"], changed["price_from"]) == (
        "Small", "Large", 500_00, "2026-11-01")
