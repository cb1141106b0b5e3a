"""B13, strong customer authentication (3-D Secure) against the sandbox: a charge the
bank wants authenticated waits for the cardholder under its key, charges once when they
come back (however often they come back), charges nothing when the challenge fails, is
cancelled or abandoned, blocks a second payment meanwhile, and an automatic charge that
needs the cardholder tells them so."""
from __future__ import annotations

import dataclasses
import threading
import time
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.billing import payments
from portal.billing.cycle import lifecycle
from portal.billing.context import Billing
from portal.billing.gateway import CardDetails
from portal.billing.payments import UseNewCard
from portal.billing.payments.sandbox import SandboxGateway
from portal.errors import (AlreadyPaid, AuthenticationRequired, CardDeclined, NotFound,
                           PaymentAwaitsAuthentication)
from portal.models import (AttemptState, AuditEvent, Charge, ChargeStatus, Notice, OutboxMessage, Payment,
                           Role, Subscription, SubscriptionStatus, UnconfirmedPayment, User)
from tests import factories as f
from tests.billing import test_settle

scene = test_settle.scene  # two past-due subscriptions on one failed card: 1 750 kr
TOTAL = 1_750_00
SCA = "4000002760003184"        # the bank asks; approved once confirmed
SCA_FAILS = "4000008400001629"  # the bank asks, and fails it


def sca_card(number=SCA) -> UseNewCard:
    return UseNewCard(CardDetails(number, 12, 2031, "123", "Greta Garbo"))


def start(b, scene, number=SCA, key="sca-key-0001") -> AuthenticationRequired:
    with pytest.raises(AuthenticationRequired) as asked:
        payments.settle_balance(b, scene.admin, scene.web.id, sca_card(number), TOTAL, key)
    return asked.value


def attempts(b) -> list[UnconfirmedPayment]:
    b.session.rollback()
    return list(b.session.scalars(select(UnconfirmedPayment)))


def test_b13_the_bank_asks_nothing_is_charged_and_the_payment_completes_on_return(b, scene):
    asked = start(b, scene)
    [attempt] = attempts(b)
    assert (attempt.state, attempt.challenge) == (AttemptState.AWAITING_ACTION, asked.challenge)
    assert b.gateway.count_approved() == 0 and b.gateway.challenge(asked.challenge)[1] == "waiting"
    assert b.gateway.challenge_url(asked.challenge, f"/sv/accounts/{scene.acc.id}/payments/authenticated/k") \
        .startswith(f"/sv/sandbox/challenge/{asked.challenge}?return_to=/sv/accounts/")
    # Back without confirming (the browser's Back): the same challenge again, nothing charged.
    with pytest.raises(AuthenticationRequired) as again:
        payments.finish_authenticated(b, scene.admin, scene.acc.id, asked.key)
    assert again.value.challenge == asked.challenge
    assert b.gateway.complete_challenge(asked.challenge, confirmed=True)
    payment = payments.finish_authenticated(b, scene.admin, scene.acc.id, asked.key)
    assert payment.amount_minor == TOTAL and payment.idempotency_key == "sca-key-0001"
    b.session.rollback()
    assert b.session.get(Subscription, scene.web.id).status == SubscriptionStatus.ACTIVE
    assert attempts(b) == [] and b.gateway.count_approved() == 1
    with pytest.raises(AlreadyPaid) as replayed:  # the return arriving again
        payments.finish_authenticated(b, scene.admin, scene.acc.id, asked.key)
    assert replayed.value.payment_id == payment.id
    actions = list(b.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert "payment.authentication_requested" in actions and actions[-2:] == [
        "payment.succeeded", "payment_method.switched"]


@pytest.mark.parametrize("number, confirmed", [(SCA_FAILS, True), (SCA, False)])
def test_b13_a_failed_or_cancelled_challenge_charges_nothing(b, scene, number, confirmed):
    asked = start(b, scene, number)
    b.gateway.complete_challenge(asked.challenge, confirmed=confirmed)
    with pytest.raises(CardDeclined) as declined:
        payments.finish_authenticated(b, scene.admin, scene.acc.id, asked.key)
    assert declined.value.reason == "authentication_failed"
    assert attempts(b) == [] and b.gateway.count_approved() == 0
    assert b.session.get(Subscription, scene.web.id).status == SubscriptionStatus.PAST_DUE


def test_b13_an_abandoned_challenge_expires_charges_nothing_and_frees_the_account(b, scene, app):
    hurried = SandboxGateway(app.config["SANDBOX_GATEWAY_URL"], clock=b.clock.today, challenge_seconds=0.5)
    try:
        asked = start(dataclasses.replace(b, gateway=hurried), scene)
        time.sleep(0.6)  # the cardholder never comes back
        # A second payment finds the first one first: expired, it is declined and closed.
        payment = payments.settle_balance(dataclasses.replace(b, gateway=hurried), scene.admin, scene.web.id,
                                          UseNewCard(CardDetails(f.APPROVE, 12, 2031, "123", "G")), TOTAL,
                                          "sca-key-0002")
    finally:
        hurried.close()
    assert payment.idempotency_key == "sca-key-0002" and b.gateway.count_approved() == 1
    assert [e.idempotency_key for e in b.gateway.ledger() if not e.approved] == [asked.key]


def test_b13_while_one_waits_for_the_cardholder_no_second_payment_is_charged(b, scene):
    asked = start(b, scene)
    with pytest.raises(PaymentAwaitsAuthentication) as blocked:
        payments.settle_balance(b, scene.admin, scene.web.id, UseNewCard(CardDetails(f.APPROVE, 12, 2031, "123", "G")),
                                TOTAL, "sca-key-0003")
    assert blocked.value.key == asked.key and blocked.value.challenge == asked.challenge
    assert b.gateway.count_approved() == 0 and [a.idempotency_key for a in attempts(b)] == [asked.key]
    with pytest.raises(PaymentAwaitsAuthentication):  # "check the payment" says the same
        payments.check_unconfirmed(b, scene.admin, scene.acc.id)


def test_b13_a_return_arriving_twice_at_once_charges_once(b, scene):
    asked = start(b, scene)
    b.gateway.complete_challenge(asked.challenge, confirmed=True)
    engine, outcomes = b.session.get_bind(), []
    barrier = threading.Barrier(2)
    admin_id, account_id = scene.admin.id, scene.acc.id

    def come_back():
        with Session(engine) as session:
            other = Billing(session, b.gateway, b.clock, b.policy)
            admin = session.get(User, admin_id)
            barrier.wait(10)
            try:
                outcomes.append(payments.finish_authenticated(other, admin, account_id, asked.key).id)
            except AlreadyPaid as paid:
                outcomes.append(paid.payment_id)

    threads = [threading.Thread(target=come_back) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(outcomes) == 2 and len(set(outcomes)) == 1
    assert b.gateway.count_approved() == 1
    b.session.rollback()
    assert len(b.session.scalars(select(Payment)).all()) == 1


def test_b13_only_the_person_who_started_it_finishes_it(b, scene):
    asked = start(b, scene)
    other_admin = f.user(b, Role.ACCOUNT_ADMIN, scene.acc)
    f.commit(b)
    b.gateway.complete_challenge(asked.challenge, confirmed=True)
    with pytest.raises(NotFound):
        payments.finish_authenticated(b, other_admin, scene.acc.id, asked.key)
    with pytest.raises(NotFound):
        payments.finish_authenticated(b, scene.admin, scene.acc.id, "no-such-key-000")
    assert b.gateway.count_approved() == 0


def test_b13_an_automatic_charge_that_needs_the_cardholder_tells_them_with_a_link_to_pay(b, clock):
    acc = f.account(b)
    card = f.card(b, acc, SCA)
    sub = f.subscription(b, acc, card, fee=300_00)
    admin = f.user(b, Role.ACCOUNT_ADMIN, acc)
    f.commit(b)
    clock.current = date(2026, 12, 1)
    lifecycle.run_billing_cycle(b)
    b.session.rollback()
    [charge] = b.session.scalars(select(Charge).where(Charge.subscription_id == sub.id)).all()
    assert (charge.status, charge.failure_code) == (ChargeStatus.OUTSTANDING, "authentication_required")
    assert b.gateway.count_approved() == 0
    mail = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "payment_failed")).one()
    assert mail.payload["reason"] == "authentication_required"
    notice = b.session.scalars(select(Notice).where(Notice.user_id == admin.id)).one()
    assert notice.kind == "payment_failed" and notice.payload["subscription_id"] == sub.id
