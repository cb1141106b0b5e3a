"""B23 with M8: money Autogiro drew for an invoice that an open card attempt pays (Pay now
at the gateway while Bankgirot's answer is imported) goes on no invoice: the card payment
records exactly what it wrote ahead, and the drawn money — taken from the payer's account
on its mandate, so recorded at once, never sent to a person — is credit (B15). The same
race on two real servers: tests/server/test_live_races.py (paynow-autogiro+paynow+cycle)."""
from __future__ import annotations

from datetime import date, datetime

from portal.billing import payments
from portal.billing.accounts import credit
from portal.billing.bank import autogiro, autogiro_files as files
from portal.billing.invoicing.remittance import ocr_reference
from portal.billing.payments import UseSavedCard
from portal.models import AutogiroOrder, DrawStatus, Invoice, InvoiceStatus, MandateStatus
from tests import factories as f
from tests.billing.test_autogiro import PAYEE
from tests.billing.test_money_across_flows import holding, other  # noqa: F401 - holding: a fixture
from tests.billing.test_transfers import wire  # noqa: F401 - the Bankgirot scene, as a fixture

DRAW_DAY = date(2026, 11, 25)


def test_b23_money_drawn_for_an_invoice_a_card_attempt_pays_is_credit_and_the_card_records_its_allocation(
        b, wire, holding):
    gateway, held = holding
    card = f.card(b, wire.acc)
    mandate = autogiro.give_mandate(b, None, wire.acc.id, "6000", "806967498", "556036-0793")
    mandate.status = MandateStatus.ACTIVE
    reference = ocr_reference(wire.first.number)
    b.session.add(AutogiroOrder(mandate_id=mandate.id, invoice_id=wire.first.id, draw_on=DRAW_DAY, amount_minor=8_640_00,
                                currency="SEK", reference=reference, status=DrawStatus.SENT, created_at=b.clock.now(),
                                sent_on=date(2026, 11, 24)))
    f.commit(b)
    answer = files.write_payment_results(files.PaymentResults(datetime(2026, 11, 25, 6), PAYEE.customer_number,
                                                              PAYEE.bankgiro_digits, (files.Order(
                                                                  mandate.payer_number, DRAW_DAY, 8_640_00, reference,
                                                                  files.DRAWN),)))
    outcomes = []

    def bankgirot_answers():  # while the card charge is at the gateway
        with other(b) as importer:
            outcomes.append(autogiro.import_file(importer, PAYEE, lambda: answer.splitlines(keepends=True)).outcomes)
    gateway.during = bankgirot_answers
    payment = payments.pay_invoices(held, wire.owner, wire.profile.id, [wire.first.id], UseSavedCard(card.id),
                                    8_640_00, "b23-pay-000001")
    assert outcomes == [{"drawn": 1}]
    b.session.rollback()
    paid = b.session.get(Invoice, wire.first.id)
    assert paid.status == InvoiceStatus.PAID and paid.payment_id == payment.id and paid.paid_minor == 8_640_00
    assert credit.balance(b.session, wire.acc.id, "SEK").minor == 8_640_00   # what Autogiro drew
    # (M6 with the Autogiro money in it: the conftest's ledger check after every test.)
