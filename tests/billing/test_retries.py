"""B14: failed automatic card charges are retried by the billing cycle on days 1, 3, 5
and 7 after the first failure — soft declines only, never on or after the disable day —
each retry a payment of its own (own key, written ahead, finished if its answer is
lost), visible to the customer, who can settle at once instead."""
from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal.billing import payments
from portal.billing.cycle import lifecycle, retries
from portal.billing.payments import UseSavedCard
from portal.billing.payments.sandbox import Fault, SandboxGateway
from portal.mail.render import render_email
from portal.models import (AuditEvent, Charge, ChargeStatus, OutboxMessage, Payment, Role, Subscription,
                           SubscriptionStatus, UnconfirmedPayment)
from tests import factories as f

FIRST = date(2026, 12, 1)


@pytest.fixture
def payg(b):
    acc = f.account(b)
    poor = f.card(b, acc, f.INSUFFICIENT_FUNDS)
    expired = f.card(b, acc, "4000000000000069")
    good = f.card(b, acc, f.APPROVE)
    soft = f.subscription(b, acc, poor, fee=300_00)
    hard = f.subscription(b, acc, expired, fee=200_00)
    admin = f.user(b, Role.ACCOUNT_ADMIN, acc)
    f.commit(b)
    return type("Payg", (), dict(acc=acc, poor=poor, good=good, soft=soft, hard=hard, admin=admin))


def cycle(b, clock, day):
    clock.current = day
    return lifecycle.run_billing_cycle(b)


def fresh(b, sub) -> Subscription:
    b.session.rollback()
    return b.session.get(Subscription, sub.id)


def retry_keys(b) -> list[str]:
    return [e.idempotency_key for e in b.gateway.ledger() if e.idempotency_key.startswith("auto-retry-")]


def test_b14_a_soft_decline_is_retried_on_days_1_3_5_7_and_a_hard_one_never(b, payg, clock):
    cycle(b, clock, FIRST)
    assert fresh(b, payg.soft).next_retry_on == date(2026, 12, 2)
    assert fresh(b, payg.hard).next_retry_on is None  # an expired card: retrying cannot help
    mail = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "payment_failed",
                                                         OutboxMessage.payload["subscription_id"].as_integer()
                                                         == payg.soft.id)).one()
    assert mail.payload["next_retry_on"] == "2026-12-02"
    seen = []
    for day in range(2, 12):
        summary = cycle(b, clock, date(2026, 12, day))
        seen.append((day, summary.charges_retried, fresh(b, payg.soft).next_retry_on))
    assert [(day, n) for day, n, _next in seen if n] == [(2, 1), (4, 1), (6, 1), (8, 1)]
    assert fresh(b, payg.soft).next_retry_on is None and fresh(b, payg.soft).retry_count == 4
    assert retry_keys(b) == [f"auto-retry-{payg.soft.id}-20261201-{n}" for n in (1, 2, 3, 4)]
    assert b.gateway.count_approved() == 0
    assert b.session.scalars(select(UnconfirmedPayment)).all() == []  # each closed after its decline
    failed = b.session.scalars(select(AuditEvent).where(AuditEvent.action == "charge.retry_failed")
                               .order_by(AuditEvent.id)).all()
    assert [e.details["next_retry_on"] for e in failed] == ["2026-12-04", "2026-12-06", "2026-12-08", None]


def test_b14_a_retry_that_goes_through_pays_the_charge_and_reenables_nothing_else(b, payg, clock):
    cycle(b, clock, FIRST)
    sub = fresh(b, payg.soft)
    sub.payment_method_id = payg.good.id  # the customer moved it to a card with money (B8)
    b.session.commit()
    summary = cycle(b, clock, date(2026, 12, 2))
    assert (summary.charges_retried, summary.retries_paid) == (1, 1)
    sub = fresh(b, payg.soft)
    assert (sub.status, sub.outstanding_minor, sub.next_retry_on) == (SubscriptionStatus.ACTIVE, 0, None)
    payment = b.session.scalars(select(Payment).where(Payment.idempotency_key.startswith("auto-retry-"))).one()
    assert payment.purpose == "auto_charge" and payment.amount_minor == sub.charges[0].amount_minor
    assert sub.charges[0].status == ChargeStatus.PAID and sub.charges[0].payment_id == payment.id
    assert b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "receipt")).all()
    assert fresh(b, payg.hard).status == SubscriptionStatus.PAST_DUE


def test_b14_a_retry_whose_answer_is_lost_is_finished_under_its_key(b, payg, clock, app):
    cycle(b, clock, FIRST)
    sub = fresh(b, payg.soft)
    sub.payment_method_id = payg.good.id
    b.session.commit()
    down = SandboxGateway(app.config["SANDBOX_GATEWAY_URL"], clock=b.clock.today, fault=Fault.AFTER_CHARGE)
    try:
        clock.current = date(2026, 12, 2)
        assert retries.retry_due(dataclasses.replace(b, gateway=down), clock.current) == (1, 0)
    finally:
        down.close()
    [attempt] = b.session.scalars(select(UnconfirmedPayment)).all()
    assert attempt.purpose == "auto_charge" and b.gateway.count_approved() == 1
    key = attempt.idempotency_key
    done = payments.reconcile(b, older_than=timedelta(0))
    assert [p.idempotency_key for p in done.finished] == [key]
    assert fresh(b, payg.soft).status == SubscriptionStatus.ACTIVE
    assert cycle(b, clock, date(2026, 12, 4)).charges_retried == 0  # paid: nothing more to retry


def test_b14_settling_at_once_ends_the_schedule(b, payg, clock):
    cycle(b, clock, FIRST)
    payments.settle_balance(b, payg.admin, payg.soft.id, UseSavedCard(payg.good.id), 300_00, "settle-now-0001")
    sub = fresh(b, payg.soft)
    assert sub.next_retry_on is None and sub.status == SubscriptionStatus.ACTIVE
    assert cycle(b, clock, date(2026, 12, 2)).charges_retried == 0 and retry_keys(b) == []


def test_b14_never_on_or_after_the_disable_day(b, payg):
    sub = payg.soft
    sub.past_due_since = date(2026, 11, 1)
    sub.retry_count = 0
    short = dataclasses.replace(b.policy, grace_period_days=4)
    assert retries.schedule(dataclasses.replace(b, policy=short), sub, "insufficient_funds",
                            sub.past_due_since) == date(2026, 11, 2)
    sub.retry_count = 2  # day 5 would be the disable day itself: no retry then
    assert retries.schedule(dataclasses.replace(b, policy=short), sub, "insufficient_funds",
                            date(2026, 11, 3)) is None
    assert retries.schedule(b, sub, "expired_card", sub.past_due_since) is None


def test_b14_the_charge_fails_again_next_month_without_restarting_the_schedule(b, payg, clock):
    cycle(b, clock, FIRST)
    cycle(b, clock, date(2026, 12, 2))
    assert fresh(b, payg.soft).retry_count == 1
    charges = b.session.scalars(select(Charge).where(Charge.subscription_id == payg.soft.id)).all()
    assert len(charges) == 1 and charges[0].status == ChargeStatus.OUTSTANDING


def test_b14_the_payment_failed_email_says_when_the_card_is_tried_again(b, payg, clock, app):
    cycle(b, clock, FIRST)
    mail = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "payment_failed",
                                                         OutboxMessage.payload["subscription_id"].as_integer()
                                                         == payg.soft.id)).one()
    text = render_email(app, mail).get_body(("plain",)).get_content()
    assert "Vi försöker debitera kortet igen den 2 december 2026." in text.replace("\xa0", " ")
