"""Paying a bill (customer agreement): R15–R22, B4."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from portal.billing import payments
from portal.billing.accounts import overview
from portal.billing.cycle import invoices
from portal.errors import (AlreadyPaid, CardDeclined, NotAuthorized,
                           NothingToPay, NotFound)
from portal.billing.gateway import CardDetails
from portal.billing.payments import UseNewCard, UseSavedCard
from portal.models import (AccountKind, Credit, Invoice, InvoiceStatus, OutboxMessage, Payment,
                           Role)
from tests import factories as f

OCT = (date(2026, 10, 1), date(2026, 10, 31))


@pytest.fixture
def agreement(b):
    acc = f.account(b, AccountKind.CUSTOMER_AGREEMENT)
    wire = f.wire(b, acc)
    card = f.card(b, acc)
    profile = f.profile(b, acc, default=wire, check_wire_approved=True)
    f.subscription(b, acc, wire, fee=3_000_00, profile=profile)
    f.subscription(b, acc, wire, fee=1_000_00, profile=profile)
    people = {role: f.user(b, role, acc, profile) for role in
              (Role.OWNER, Role.CONTRIBUTOR, Role.INVOICE_MANAGER, Role.READER)}
    f.commit(b)
    return type("Agreement", (), dict(acc=acc, wire=wire, card=card, profile=profile, people=people))


def generate(b, profile, period=OCT):
    from portal.billing.transaction import write_transaction
    with write_transaction(b.session):
        return invoices.generate_invoice(b, profile, *period)


def test_r16_credits_are_applied_before_anything_is_charged(b, agreement):
    b.session.add_all([
        Credit(billing_profile_id=agreement.profile.id, description="late", currency="SEK",
               original_minor=900_00, remaining_minor=900_00, expires_on=date(2027, 6, 1)),
        Credit(billing_profile_id=agreement.profile.id, description="soon", currency="SEK",
               original_minor=500_00, remaining_minor=500_00, expires_on=date(2026, 12, 31)),
    ])
    f.commit(b)
    invoice = generate(b, agreement.profile)
    assert invoice.subtotal_minor == 4_000_00
    assert invoice.credits_applied_minor == 1_400_00
    assert invoice.amount_due.minor == 2_600_00
    applied = {a.credit.description: a.amount_minor for a in invoice.credit_applications}
    assert applied == {"soon": 500_00, "late": 900_00}  # soonest-expiring first


def test_r16_credits_covering_everything_leave_nothing_due(b, agreement):
    b.session.add(Credit(billing_profile_id=agreement.profile.id, description="big", currency="SEK",
                         original_minor=10_000_00, remaining_minor=10_000_00, expires_on=None))
    f.commit(b)
    invoice = generate(b, agreement.profile)
    assert invoice.amount_due.minor == 0 and invoice.status == InvoiceStatus.PAID
    assert b.gateway.charges_for() == []
    credit = b.session.scalars(select(Credit)).one()
    assert credit.remaining_minor == 6_000_00


def test_r18_default_card_is_charged_when_the_invoice_is_generated(b, agreement):
    agreement.profile.default_payment_method_id = agreement.card.id
    f.commit(b)
    invoice = generate(b, agreement.profile)
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.payment.amount_minor == 4_000_00
    assert b.gateway.count_approved() == 1
    assert b.session.scalars(select(OutboxMessage.template)).all() == ["invoice_ready", "auto_charge_succeeded"]


def test_r18_failed_automatic_charge_leaves_the_invoice_due_and_payable_online(b, agreement):
    bad = f.card(b, agreement.acc, "4000000000000168")
    agreement.profile.default_payment_method_id = bad.id
    f.commit(b)
    invoice = generate(b, agreement.profile)
    assert invoice.status == InvoiceStatus.DUE
    assert invoice.auto_charge_failure_code == "recurring_not_enabled"
    owner = agreement.people[Role.OWNER]
    payment = payments.pay_invoices(b, owner, agreement.profile.id, None,
                                    UseSavedCard(agreement.card.id), 4_000_00, "pay-key-0001")
    assert [i.id for i in payment.invoices] == [invoice.id]


def test_r18_generation_is_once_per_period(b, agreement):
    assert generate(b, agreement.profile) is not None
    assert generate(b, agreement.profile) is None
    assert len(b.session.scalars(select(Invoice)).all()) == 1


def test_r17_check_wire_customer_may_pay_online_with_a_card(b, agreement):
    invoice = generate(b, agreement.profile)
    assert agreement.profile.default_payment_method.kind == "check_wire"
    assert invoice.status == InvoiceStatus.DUE  # nothing charged automatically
    new_card = UseNewCard(CardDetails("5555555555554444", 3, 2030, "123", "Olivia Holm"))
    payment = payments.pay_invoices(b, agreement.people[Role.CONTRIBUTOR], agreement.profile.id,
                                    None, new_card, 4_000_00, "pay-key-0002")
    assert payment.payment_method.last4 == "4444"


@pytest.mark.parametrize("role", [Role.OWNER, Role.CONTRIBUTOR, Role.INVOICE_MANAGER])
def test_r19_owner_contributor_and_invoice_manager_may_pay(b, agreement, role):
    generate(b, agreement.profile)
    payment = payments.pay_invoices(b, agreement.people[role], agreement.profile.id, None,
                                    UseSavedCard(agreement.card.id), 4_000_00, f"pay-key-{role}")
    assert payment.user_id == agreement.people[role].id


def test_r19_reader_may_not_pay(b, agreement):
    generate(b, agreement.profile)
    reader = agreement.people[Role.READER]
    with pytest.raises(NotAuthorized) as refused:
        payments.pay_invoices(b, reader, agreement.profile.id, None,
                              UseSavedCard(agreement.card.id), 4_000_00, "pay-key-0003")
    assert refused.value.reason == "reader_cannot_pay"
    assert b.gateway.charges_for() == []


def test_r20_summary_shows_the_total_due(b, agreement):
    generate(b, agreement.profile)
    generate(b, agreement.profile, (date(2026, 9, 1), date(2026, 9, 30)))
    [summary] = overview.profile_summaries(b, agreement.people[Role.READER], agreement.acc)
    assert summary.total.minor == 8_000_00
    assert len(summary.invoices) == 2


def test_r21_pay_now_with_an_existing_or_a_new_card(b, agreement):
    generate(b, agreement.profile)
    generate(b, agreement.profile, (date(2026, 9, 1), date(2026, 9, 30)))
    owner = agreement.people[Role.OWNER]
    sep, octo = b.session.scalars(select(Invoice).order_by(Invoice.period_start)).all()
    payments.pay_invoices(b, owner, agreement.profile.id, [sep.id], UseSavedCard(agreement.card.id),
                          4_000_00, "pay-key-0004")
    card = UseNewCard(CardDetails("4242424242424242", 1, 2029, "321", "Olivia Holm"))
    payments.pay_invoices(b, owner, agreement.profile.id, [octo.id], card, 4_000_00, "pay-key-0005")
    assert b.gateway.count_approved() == 2


def test_r22_paid_invoice_shows_paid_with_date_and_method(b, agreement, clock):
    invoice = generate(b, agreement.profile)
    payments.pay_invoices(b, agreement.people[Role.OWNER], agreement.profile.id, [invoice.id],
                          UseSavedCard(agreement.card.id), 4_000_00, "pay-key-0006")
    b.session.refresh(invoice)
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.paid_on == clock.today()
    assert invoice.payment.payment_method.last4 == "4242"


def test_b4_each_invoice_can_be_paid_alone(b, agreement):
    generate(b, agreement.profile)
    sep = generate(b, agreement.profile, (date(2026, 9, 1), date(2026, 9, 30)))
    quote = payments.quote_invoices(b, agreement.people[Role.OWNER], agreement.profile.id, [sep.id])
    assert [i.id for i in quote.invoices] == [sep.id] and quote.total.minor == 4_000_00


def test_b4_paying_a_paid_invoice_again_says_already_paid(b, agreement):
    invoice = generate(b, agreement.profile)
    owner = agreement.people[Role.OWNER]
    payments.pay_invoices(b, owner, agreement.profile.id, [invoice.id], UseSavedCard(agreement.card.id),
                          4_000_00, "pay-key-0007")
    with pytest.raises(AlreadyPaid):
        payments.pay_invoices(b, owner, agreement.profile.id, [invoice.id],
                              UseSavedCard(agreement.card.id), 4_000_00, "pay-key-0007")
    with pytest.raises(NothingToPay):
        payments.pay_invoices(b, owner, agreement.profile.id, [invoice.id],
                              UseSavedCard(agreement.card.id), 4_000_00, "pay-key-0008")
    assert len(b.session.scalars(select(Payment)).all()) == 1


def test_r10_declined_invoice_payment_changes_nothing(b, agreement):
    invoice = generate(b, agreement.profile)
    declining = f.card(b, agreement.acc, f.DECLINE)
    f.commit(b)
    before = f.snapshot(b, Invoice, Payment)
    with pytest.raises(CardDeclined):
        payments.pay_invoices(b, agreement.people[Role.OWNER], agreement.profile.id, [invoice.id],
                              UseSavedCard(declining.id), 4_000_00, "pay-key-0009")
    assert f.snapshot(b, Invoice, Payment) == before


def test_invoice_of_another_profile_is_not_found(b, agreement):
    other_acc = f.account(b, AccountKind.CUSTOMER_AGREEMENT)
    other_profile = f.profile(b, other_acc)
    f.subscription(b, other_acc, None, profile=other_profile)
    f.commit(b)
    foreign = generate(b, other_profile)
    with pytest.raises(NotFound):
        payments.quote_invoices(b, agreement.people[Role.OWNER], agreement.profile.id, [foreign.id])
    with pytest.raises(NotFound):  # and the other profile itself is invisible
        payments.quote_invoices(b, agreement.people[Role.OWNER], other_profile.id)
