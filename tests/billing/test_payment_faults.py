"""Faults while paying (M2, M3): the gateway unreachable, the answer lost after the
charge, a timeout, a crash before the commit. Each leaves the database consistent,
the customer is told the truth (GatewayUnavailable.maybe_charged), and neither a
retry with the same key nor a fresh form (a reload) ever charges twice."""
from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from portal.billing import payments
from portal.billing.payments import engine
from portal.errors import GatewayUnavailable, NothingToPay, NotAuthorized
from portal.billing.gateway import CardDetails
from portal.billing.payments.sandbox import FAULT_CARDS, Fault, SandboxGateway
from portal.money import Money
from portal.billing.payments import UseNewCard, UseSavedCard
from portal.models import (AuditEvent, Charge, ChargeStatus, Invoice, InvoiceStatus, OutboxMessage,
                           Payment, PaymentMethod, Role, Subscription, UnconfirmedPayment)
from tests import factories as f
from tests.billing import test_settle
from tests.billing.test_settle import KEY
from tests.conftest import ledger_drift

scene = test_settle.scene  # the same scene: two past-due subscriptions on one failed card

TIMEOUT_CARD, AFTER_CHARGE_CARD, BEFORE_CHARGE_CARD = (c.number for c in FAULT_CARDS)
TOTAL = 1_750_00  # the scene's failed card: 1 000 + 500 + 250
BUSINESS = (Charge, Subscription, Payment, PaymentMethod, OutboxMessage)


@pytest.fixture
def faulty(b, app):
    """The same sandbox (same ledger) told to fail: b with a gateway that is down."""
    gateways = []

    def make(fault: Fault):
        gw = SandboxGateway(app.config["SANDBOX_GATEWAY_URL"], clock=b.clock.today, fault=fault,
                            timeout_seconds=0.01)
        gateways.append(gw)
        return dataclasses.replace(b, gateway=gw)
    yield make
    for gw in gateways:
        gw.close()


def audit_actions(b) -> list[str]:
    b.session.rollback()
    return list(b.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def unconfirmed(b) -> list[UnconfirmedPayment]:
    b.session.rollback()
    return list(b.session.scalars(select(UnconfirmedPayment)))


def new_card(number: str) -> UseNewCard:
    return UseNewCard(CardDetails(number, 12, 2031, "123", "Greta Garbo"))


def test_m2_gateway_unreachable_nothing_charged_nothing_changed(b, scene, faulty):
    before = f.snapshot(b, *BUSINESS)
    with pytest.raises(GatewayUnavailable) as down:
        payments.settle_balance(faulty(Fault.BEFORE_CHARGE), scene.admin, scene.web.id,
                                UseSavedCard(scene.spare.id), TOTAL, KEY)
    assert down.value.maybe_charged is False  # the page may say "nothing was charged"
    assert f.snapshot(b, *BUSINESS) == before
    assert unconfirmed(b) == [] and b.gateway.charges_for() == []
    assert audit_actions(b)[-1] == "payment.gateway_unavailable"
    # When the gateway is back, the same form pays, once.
    payments.settle_balance(b, scene.admin, scene.web.id, UseSavedCard(scene.spare.id), TOTAL, KEY)
    assert b.gateway.count_approved() == 1


@pytest.mark.parametrize("fault", [Fault.AFTER_CHARGE, Fault.TIMEOUT])
def test_m3_charged_but_unanswered_a_retry_with_the_same_key_never_charges_again(b, scene, faulty, fault):
    before = f.snapshot(b, *BUSINESS)
    with pytest.raises(GatewayUnavailable) as lost:
        payments.settle_balance(faulty(fault), scene.admin, scene.web.id,
                                UseSavedCard(scene.spare.id), TOTAL, KEY)
    assert lost.value.maybe_charged is True  # the page must say "we could not confirm"
    assert f.snapshot(b, *BUSINESS) == before  # nothing half-recorded (M2)
    assert b.gateway.count_approved() == 1     # …but the money did move
    [kept] = unconfirmed(b)
    assert (kept.idempotency_key, kept.payment_method_id, kept.amount_minor) == (KEY, scene.spare.id, TOTAL)
    assert audit_actions(b)[-1] == "payment.unconfirmed"
    # The customer presses Pay again on the same page: the ledger's first answer.
    payment = payments.settle_balance(b, scene.admin, scene.web.id, UseSavedCard(scene.spare.id), TOTAL, KEY)
    assert b.gateway.count_approved() == 1
    assert payment.gateway_reference == b.gateway.charges_for(KEY)[0].reference
    assert unconfirmed(b) == []
    assert {c.status for c in b.session.get(Subscription, scene.web.id).charges} == {ChargeStatus.PAID}


def test_m3_after_an_unconfirmed_charge_a_reload_with_a_new_key_charges_nothing_more(b, scene, faulty):
    with pytest.raises(GatewayUnavailable):
        payments.settle_balance(faulty(Fault.AFTER_CHARGE), scene.admin, scene.web.id,
                                UseSavedCard(scene.spare.id), TOTAL, KEY)
    # A reload gives a fresh form (a new key): the earlier attempt is settled first,
    # so this one finds nothing left to pay.
    with pytest.raises(NothingToPay):
        payments.settle_balance(b, scene.admin, scene.web.id, UseSavedCard(scene.spare.id),
                                TOTAL, "key-0000000099")
    assert b.gateway.count_approved() == 1
    assert b.session.scalar(select(func.count()).select_from(Payment)) == 1
    assert b.session.scalars(select(Payment.idempotency_key)).one() == KEY
    assert unconfirmed(b) == []


def test_m3_a_new_card_charged_without_answer_is_saved_only_once_confirmed(b, scene):
    cards_before = b.session.scalar(select(func.count()).select_from(PaymentMethod))
    with pytest.raises(GatewayUnavailable) as lost:
        payments.settle_balance(b, scene.admin, scene.web.id, new_card(AFTER_CHARGE_CARD), TOTAL, KEY)
    assert lost.value.maybe_charged
    [kept] = unconfirmed(b)
    assert kept.new_card["last4"] == "0515" and kept.payment_method_id is None
    # Never the number or the CVC ("123"; the random token may contain those digits).
    assert AFTER_CHARGE_CARD not in str(kept.new_card) and "cvc" not in kept.new_card
    assert all(str(value) != "123" for value in kept.new_card.values())
    assert b.session.scalar(select(func.count()).select_from(PaymentMethod)) == cards_before
    # "Check the payment" on the 503 page.
    result = payments.check_unconfirmed(b, scene.admin, scene.acc.id)
    assert (len(result.paid), result.declined, result.checked) == (1, 0, 1)
    b.session.rollback()
    saved = b.session.get(PaymentMethod, result.paid[0].payment_method_id)
    assert saved.last4 == "0515" and b.session.get(Subscription, scene.shop.id).payment_method_id == saved.id
    assert b.gateway.count_approved() == 1
    assert payments.check_unconfirmed(b, scene.admin, scene.acc.id).checked == 0


def test_m3_while_the_gateway_cannot_tell_nothing_new_is_charged(b, scene, faulty):
    with pytest.raises(GatewayUnavailable):
        payments.settle_balance(faulty(Fault.AFTER_CHARGE), scene.admin, scene.web.id,
                                UseSavedCard(scene.spare.id), TOTAL, KEY)
    with pytest.raises(GatewayUnavailable) as still:
        payments.settle_balance(faulty(Fault.BEFORE_CHARGE), scene.admin, scene.web.id,
                                UseSavedCard(scene.second.id), TOTAL + 75_00, "key-0000000098")
    assert still.value.maybe_charged  # the earlier one may have gone through: say so
    assert b.gateway.count_approved() == 1 and len(unconfirmed(b)) == 1


def test_m2_a_crash_between_the_charge_and_the_commit_keeps_the_attempt(b, scene):
    """The commit itself fails after the gateway charged: nothing of the payment is
    written, the attempt is kept (in doubt, with the reason: issue 27, never a 500), and
    the same key records it without a new charge."""
    before = f.snapshot(b, *BUSINESS)
    state = {"payment_written": False, "crashed": False}

    def note(session, _context):
        state["payment_written"] |= any(isinstance(o, Payment) for o in session.new)

    def crash(_session):
        if state["payment_written"] and not state["crashed"]:
            state["crashed"] = True
            raise RuntimeError("the database went away")
    event.listen(b.session, "after_flush", note)
    event.listen(b.session, "before_commit", crash)
    try:
        with pytest.raises(GatewayUnavailable) as unconfirmed_answer:
            payments.settle_balance(b, scene.admin, scene.web.id, UseSavedCard(scene.spare.id), TOTAL, KEY)
    finally:
        event.remove(b.session, "after_flush", note)
        event.remove(b.session, "before_commit", crash)
    assert state["crashed"] and unconfirmed_answer.value.maybe_charged
    assert "the database went away" in unconfirmed(b)[0].doubt_reason
    assert f.snapshot(b, *BUSINESS) == before
    assert b.gateway.count_approved() == 1 and len(unconfirmed(b)) == 1
    payments.settle_balance(b, scene.admin, scene.web.id, UseSavedCard(scene.spare.id), TOTAL, KEY)
    assert b.gateway.count_approved() == 1
    assert b.session.scalar(select(func.count()).select_from(Payment)) == 1


def test_m2_a_payment_commits_everything_together(b, scene):
    """Charge, settled charges, method switch (R05), receipt email and audit events
    are one commit: all present afterwards, with the payment's id."""
    payment = payments.settle_balance(b, scene.admin, scene.web.id, UseSavedCard(scene.spare.id), TOTAL, KEY)
    b.session.rollback()
    charges = b.session.scalars(select(Charge).where(Charge.payment_id == payment.id)).all()
    assert sum(c.amount_minor for c in charges) == TOTAL
    assert {s.payment_method_id for s in (b.session.get(Subscription, scene.web.id),
                                          b.session.get(Subscription, scene.shop.id))} == {scene.spare.id}
    receipts = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "receipt")).all()
    assert {r.to_address for r in receipts} == {scene.acc.notification_email, scene.admin.email}  # B10: payer too
    assert {r.payload["payment_id"] for r in receipts} == {payment.id}
    assert audit_actions(b)[-2:] == ["payment.succeeded", "payment_method.switched"]


@pytest.fixture
def invoices(b):
    acc = f.account(b, kind="customer_agreement")
    card = f.card(b, acc)
    profile = f.profile(b, acc, default=card)
    from datetime import date
    for month in (9, 10):
        b.session.add(Invoice(billing_profile_id=profile.id, number=f"INV{month:02d}{profile.id:04d}",
                              currency="SEK", period_start=date(2026, month, 1), period_end=date(2026, month, 28),
                              issued_on=date(2026, month + 1, 1), due_on=date(2026, month + 1, 28),
                              status=InvoiceStatus.DUE, subtotal_minor=1_000_00))
    manager = f.user(b, Role.INVOICE_MANAGER, acc, profile)
    reader = f.user(b, Role.READER, acc, profile)
    f.commit(b)
    return type("Invoices", (), dict(acc=acc, card=card, profile=profile, manager=manager, reader=reader))


def test_m3_invoice_payment_after_a_lost_answer_is_paid_once(b, invoices, faulty):
    with pytest.raises(GatewayUnavailable):
        payments.pay_invoices(faulty(Fault.TIMEOUT), invoices.manager, invoices.profile.id, None,
                              UseSavedCard(invoices.card.id), 2_000_00, KEY)
    b.session.rollback()
    assert {i.status for i in b.session.scalars(select(Invoice))} == {InvoiceStatus.DUE}
    with pytest.raises(NothingToPay):  # a second tab, after a reload
        payments.pay_invoices(b, invoices.manager, invoices.profile.id, None,
                              UseSavedCard(invoices.card.id), 2_000_00, "key-0000000097")
    b.session.rollback()
    assert {i.status for i in b.session.scalars(select(Invoice))} == {InvoiceStatus.PAID}
    assert b.gateway.count_approved() == 1


def test_checking_is_for_those_who_may_pay(b, invoices, faulty):
    with pytest.raises(GatewayUnavailable):
        payments.pay_invoices(faulty(Fault.AFTER_CHARGE), invoices.manager, invoices.profile.id, None,
                              UseSavedCard(invoices.card.id), 2_000_00, KEY)
    assert payments.check_unconfirmed(b, invoices.reader, invoices.acc.id).checked == 0
    assert len(unconfirmed(b)) == 1
    with pytest.raises(NotAuthorized):
        payments.pay_invoices(b, invoices.reader, invoices.profile.id, None,
                              UseSavedCard(invoices.card.id), 2_000_00, "key-0000000096")
    assert len(unconfirmed(b)) == 1 and b.gateway.count_approved() == 1


# --- M5, M6: write-ahead attempts and reconciliation -----------------------------------

def test_m5_the_attempt_is_written_before_the_gateway_is_called(b, scene):
    """Whatever the gateway is asked, the attempt was committed first: seen from
    another session at the moment of the charge."""
    seen = []
    real = b.gateway.charge

    def charge(token, amount, key, off_session=False):
        with Session(b.session.get_bind()) as other:  # another process looking
            seen.append(other.scalars(select(UnconfirmedPayment.state).where(
                UnconfirmedPayment.idempotency_key == key)).all())
        return real(token, amount, key, off_session)
    b.gateway.charge = charge
    try:
        payments.settle_balance(b, scene.admin, scene.web.id, UseSavedCard(scene.spare.id), TOTAL, KEY)
    finally:
        del b.gateway.charge
    assert seen == [["pending"]] and unconfirmed(b) == []


def test_m3_pay_again_after_an_unconfirmed_new_card_finishes_it_with_the_first_token(b, scene, faulty):
    """The same form sent again (new card: tokenised anew by the form) is the same
    attempt: charged with the token it was written with, so no conflict, no 409."""
    with pytest.raises(GatewayUnavailable):
        payments.settle_balance(b, scene.admin, scene.web.id, new_card(AFTER_CHARGE_CARD), TOTAL, KEY)
    payment = payments.settle_balance(b, scene.admin, scene.web.id, new_card(AFTER_CHARGE_CARD), TOTAL, KEY)
    assert payment.amount_minor == TOTAL and b.gateway.count_approved() == 1 and unconfirmed(b) == []


def test_m6_reconcile_records_a_charge_whose_request_died(b, scene):
    """The process dies after the charge (here: the recording step fails): the
    attempt stays pending; reconcile finishes it under its key, charging nothing more."""
    def die(*args, **kwargs):
        raise SystemExit("killed")  # not an exception any handler of ours catches
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "record_payment", die)  # where the payment step looks it up
        with pytest.raises(SystemExit):
            payments.settle_balance(b, scene.admin, scene.web.id, UseSavedCard(scene.spare.id), TOTAL, KEY)
    b.session.rollback()
    [attempt] = unconfirmed(b)
    assert attempt.state == "pending" and b.gateway.count_approved() == 1
    young = payments.reconcile(b)  # written a moment ago: perhaps still on its way
    assert (young.finished, young.waiting) == ([], []) and len(unconfirmed(b)) == 1
    done = payments.reconcile(b, older_than=timedelta(0))
    assert [p.idempotency_key for p in done.finished] == [KEY] and not done.needs_a_person
    assert unconfirmed(b) == [] and b.gateway.count_approved() == 1
    assert ledger_drift(b.gateway) == []


def test_m6_reconcile_and_the_after_test_check_find_a_charge_nothing_recorded(b, scene, runner):
    token = scene.spare.gateway_token
    b.gateway.charge(token, Money(123_00, "SEK"), "stray-charge-0001")
    assert ledger_drift(b.gateway) == [("charged, not recorded", "stray-charge-0001", 123_00, None)]
    done = payments.reconcile(b, older_than=timedelta(0))
    assert done.unrecorded == ["stray-charge-0001"] and done.needs_a_person
    result = runner.invoke(args=["payments", "reconcile"])
    assert result.exit_code == 1 and "charged by the gateway, not recorded: stray-charge-0001" in result.stderr
    b.gateway.clear_ledger()  # what a person would sort out by hand


def test_m6_the_billing_cycle_finishes_unfinished_payments_first(b, scene, faulty, runner):
    with pytest.raises(GatewayUnavailable):
        payments.settle_balance(faulty(Fault.AFTER_CHARGE), scene.admin, scene.web.id,
                                UseSavedCard(scene.spare.id), TOTAL, KEY)
    assert [a.state for a in unconfirmed(b)] == ["in_doubt"]
    result = runner.invoke(args=["billing", "cycle", "--date", "2026-11-26"])
    assert result.exit_code == 0 and "1 unfinished payments recorded" in result.stderr
    assert result.stdout.count("\n") == 1  # stdout: one summary line per day
    assert unconfirmed(b) == [] and len(b.gateway.charges_for(KEY)) == 1
    assert b.session.scalars(select(Payment.amount_minor).where(Payment.idempotency_key == KEY)).one() == TOTAL
