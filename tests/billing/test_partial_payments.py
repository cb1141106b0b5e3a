"""B12 by card — Azure's split payment: after a failed Pay now, pay part of the invoices
now (at least the minimum, less than the whole) and the rest later with another card.
The part goes to the oldest due invoice first; an invoice is Paid only when all of it
is; a double click, a lost answer or a second tab never charge twice (M3, M5)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.billing import payments
from portal.billing.payments import MINIMUM_PART_MINOR, UseSavedCard
from portal.billing.payments.sandbox import Fault
from portal.errors import AlreadyPaid, BalanceChanged, CardDeclined, GatewayUnavailable, InvalidPart
from portal.models import Invoice, InvoiceStatus, OutboxMessage, Payment, UnconfirmedPayment
from tests import factories as f
from tests.billing.test_payment_faults import faulty, invoices  # noqa: F401 - fixtures

WHOLE = 2_000_00  # the fixture's two invoices, 1 000 kr each, September's due first


def pay(b, invoices, card, part, key, expected=WHOLE):
    return payments.pay_invoices(b, invoices.manager, invoices.profile.id, None, UseSavedCard(card.id),
                                 expected, key, part_minor=part)


def states(b) -> list[tuple[str, InvoiceStatus, int]]:
    b.session.rollback()
    return [(i.number[:5], i.status, i.left.minor) for i in b.session.scalars(select(Invoice).order_by(Invoice.due_on))]


def test_b12_after_a_declined_pay_now_part_now_and_the_rest_with_another_card(b, invoices):
    declining = f.card(b, invoices.acc, f.DECLINE)
    other = f.card(b, invoices.acc)
    f.commit(b)
    with pytest.raises(CardDeclined):
        pay(b, invoices, declining, None, "split-key-0001")
    part = pay(b, invoices, other, 1_200_00, "split-key-0002")
    assert part.amount_minor == 1_200_00
    # The oldest due first: September's paid whole, October's 200 kr of 1 000.
    assert states(b) == [("INV09", InvoiceStatus.PAID, 0), ("INV10", InvoiceStatus.DUE, 800_00)]
    receipt = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "receipt")
                                .order_by(OutboxMessage.id)).first()
    assert receipt.payload["left_minor"] == 800_00 and len(receipt.payload["invoices"]) == 2
    assert payments.quote_invoices(b, invoices.manager, invoices.profile.id).total.minor == 800_00
    rest = pay(b, invoices, invoices.card, None, "split-key-0003", expected=800_00)
    assert states(b) == [("INV09", InvoiceStatus.PAID, 0), ("INV10", InvoiceStatus.PAID, 0)]
    october = b.session.scalars(select(Invoice).where(Invoice.number.startswith("INV10"))).one()
    assert october.payment_id == rest.id
    assert [p.amount_minor for p in october.payments_received] == [200_00, 800_00]
    assert b.gateway.count_approved() == 2


@pytest.mark.parametrize("part", [MINIMUM_PART_MINOR - 1, WHOLE, WHOLE + 1, 0])
def test_b12_a_part_below_the_minimum_or_not_less_than_the_whole_is_refused_and_nothing_charged(b, invoices, part):
    with pytest.raises(InvalidPart) as refused:
        pay(b, invoices, invoices.card, part, "split-key-0004")
    assert (refused.value.minimum_minor, refused.value.total_minor) == (MINIMUM_PART_MINOR, WHOLE)
    assert b.gateway.count_approved() == 0 and states(b)[0][2] == 1_000_00
    assert b.session.scalars(select(UnconfirmedPayment)).all() == []


def test_b12_no_part_is_offered_for_less_than_twice_the_minimum(b, invoices):
    pay(b, invoices, invoices.card, WHOLE - MINIMUM_PART_MINOR - 50_00, "split-key-0005")  # leaves 150 kr
    quote = payments.quote_invoices(b, invoices.manager, invoices.profile.id)
    assert quote.total.minor == 150_00 and not payments.can_pay_part(quote)
    with pytest.raises(InvalidPart):
        pay(b, invoices, invoices.card, MINIMUM_PART_MINOR, "split-key-0006", expected=150_00)


def test_b12_m3_the_same_part_form_twice_charges_once_and_a_stale_second_tab_is_told(b, invoices):
    first = pay(b, invoices, invoices.card, 500_00, "split-key-0007")
    with pytest.raises(AlreadyPaid) as again:
        pay(b, invoices, invoices.card, 500_00, "split-key-0007")
    assert again.value.payment_id == first.id
    with pytest.raises(BalanceChanged):  # the other tab still shows the whole
        pay(b, invoices, invoices.card, 500_00, "split-key-0008")
    assert b.gateway.count_approved() == 1 and states(b)[0] == ("INV09", InvoiceStatus.DUE, 500_00)


def test_b12_m5_a_part_whose_answer_was_lost_is_recorded_as_the_part_it_was(b, invoices, faulty):
    with pytest.raises(GatewayUnavailable):
        pay(faulty(Fault.AFTER_CHARGE), invoices, invoices.card, 300_00, "split-key-0009")
    [attempt] = b.session.scalars(select(UnconfirmedPayment)).all()
    assert (attempt.amount_minor, attempt.part_of_minor) == (300_00, WHOLE)
    b.session.rollback()
    result = payments.check_unconfirmed(b, invoices.manager, invoices.acc.id)
    assert [p.amount_minor for p in result.paid] == [300_00]
    assert states(b)[0] == ("INV09", InvoiceStatus.DUE, 700_00)
    assert b.session.scalars(select(Payment)).one().idempotency_key == "split-key-0009"
