"""B23 with M8: money Autogiro drew for an invoice that an open card attempt pays (Pay now
at the gateway while Bankgirot's answer is imported) goes on no invoice: the card payment
records exactly what it wrote ahead, and the drawn money — taken from the payer's account
on its mandate, so recorded at once, never sent to a person — is credit (B15). The same
race on two real servers: tests/server/test_live_races.py (paynow-autogiro+paynow+cycle). And a
pay-as-you-go charge Settle balance pays (settle-paygautogiro+settle+cycle)."""
from __future__ import annotations

from datetime import date, datetime

from portal.billing import payments
from portal.billing.accounts import credit
from portal.billing.accounts.balances import recount_outstanding
from portal.billing.bank import autogiro, autogiro_charges, autogiro_files as files
from portal.billing.invoicing.remittance import ocr_reference
from portal.billing.payments import UseSavedCard
from portal.models import (AutogiroOrder, Charge, ChargeStatus, DrawStatus, Invoice, InvoiceStatus, MandateStatus, Role,
                           Subscription, SubscriptionStatus)
from tests import factories as f
from tests.billing.test_autogiro import PAYEE
from tests.billing.test_money_across_flows import holding, other  # noqa: F401 - holding: a fixture
from tests.billing.test_transfers import wire  # noqa: F401 - the Bankgirot scene, as a fixture

DRAW_DAY = date(2026, 11, 25)


def answered_while_at_the_gateway(b, gateway, mandate, order: AutogiroOrder) -> list[dict]:
    """The order (sent) and Bankgirot's answer that it was drawn, imported by another
    session while the card charge the test makes next is held at the gateway: the
    import's outcomes, filled in once the charge has been made."""
    b.session.add(order)
    f.commit(b)
    answer = files.write_payment_results(files.PaymentResults(datetime(2026, 11, 25, 6), PAYEE.customer_number,
                                                              PAYEE.bankgiro_digits, (files.Order(
                                                                  mandate.payer_number, DRAW_DAY, order.amount_minor,
                                                                  order.reference, files.DRAWN),)))
    outcomes = []

    def bankgirot_answers():
        with other(b) as importer:
            outcomes.append(autogiro.import_file(importer, PAYEE, lambda: answer.splitlines(keepends=True)).outcomes)
    gateway.during = bankgirot_answers
    return outcomes


def test_b23_money_drawn_for_an_invoice_a_card_attempt_pays_is_credit_and_the_card_records_its_allocation(
        b, wire, holding):
    gateway, held = holding
    card = f.card(b, wire.acc)
    mandate = autogiro.give_mandate(b, None, wire.acc.id, "6000", "806967498", "556036-0793")
    mandate.status = MandateStatus.ACTIVE
    outcomes = answered_while_at_the_gateway(b, gateway, mandate, AutogiroOrder(
        mandate_id=mandate.id, invoice_id=wire.first.id, draw_on=DRAW_DAY, amount_minor=8_640_00, currency="SEK",
        reference=ocr_reference(wire.first.number), status=DrawStatus.SENT, created_at=b.clock.now(),
        sent_on=date(2026, 11, 24)))
    payment = payments.pay_invoices(held, wire.owner, wire.profile.id, [wire.first.id], UseSavedCard(card.id),
                                    8_640_00, "b23-pay-000001")
    assert outcomes == [{"drawn": 1}]
    b.session.rollback()
    paid = b.session.get(Invoice, wire.first.id)
    assert paid.status == InvoiceStatus.PAID and paid.payment_id == payment.id and paid.paid_minor == 8_640_00
    assert credit.balance(b.session, wire.acc.id, "SEK").minor == 8_640_00   # what Autogiro drew
    # (M6 with the Autogiro money in it: the conftest's ledger check after every test.)


def test_b23_money_drawn_for_a_charge_settle_balance_pays_at_the_gateway_is_credit_and_the_card_records_its_allocation(
        b, holding, tmp_path):
    """Issue 34 Deliver 1, M8 for pay-as-you-go: Bankgirot's answer that a subscription's
    charge was drawn, imported while Settle balance of that subscription waits at the
    gateway — the settlement pays the charge (what it wrote ahead), the drawn money is credit."""
    gateway, held = holding
    acc = f.account(b)
    admin = f.user(b, Role.ACCOUNT_ADMIN, acc)
    card = f.card(b, acc)
    mandate = autogiro.give_mandate(b, None, acc.id, "6000", "806967498", "556036-0793")
    mandate.status = MandateStatus.ACTIVE
    sub = f.subscription(b, acc, mandate.payment_method, SubscriptionStatus.PAST_DUE, past_due_since=DRAW_DAY)
    charge = Charge(subscription_id=sub.id, amount_minor=450_00, currency="SEK", period_start=date(2026, 10, 1),
                    period_end=date(2026, 10, 31), status=ChargeStatus.OUTSTANDING)
    b.session.add(charge)
    b.session.flush()
    recount_outstanding(b.session, Subscription.id == sub.id)
    outcomes = answered_while_at_the_gateway(b, gateway, mandate, AutogiroOrder(
        mandate_id=mandate.id, charge_id=charge.id, draw_on=DRAW_DAY, amount_minor=450_00, currency="SEK",
        reference=autogiro_charges.charge_reference(charge.id), status=DrawStatus.SENT, created_at=b.clock.now(),
        sent_on=date(2026, 11, 24)))
    quote = payments.quote_settlement(held, admin, sub.id, card.id)
    payment = payments.settle_balance(held, admin, sub.id, UseSavedCard(card.id), quote.total.minor, "b23-settle-0001")
    assert outcomes == [{"drawn": 1}]
    b.session.rollback()
    paid = b.session.get(Charge, charge.id)
    assert paid.status == ChargeStatus.PAID and paid.payment_id == payment.id
    assert credit.balance(b.session, acc.id, "SEK").minor == 450_00   # what Autogiro drew
