"""B23 in the live race matrix (test_live_races.py): Bankgirot's answer that Autogiro drew
an invoice, for an invoice ordered under a mandate given just before the race — the
`flask autogiro import` a second runs while Pay now of that invoice waits at the gateway;
and (issue 34 Deliver 1) that it drew a pay-as-you-go subscription's charge, while Settle
balance of that subscription waits at the gateway."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

from portal.billing.bank import autogiro, autogiro_files as files
from portal.billing.bank.autogiro_charges import charge_reference
from portal.billing.invoicing.remittance import ocr_reference
from sqlalchemy import func, select

from portal.models import (AutogiroMandate, AutogiroOrder, Charge, ChargeStatus, CreditEntry, CreditKind, DrawStatus,
                           Invoice, MandateStatus, MethodKind, Payment, PaymentMethod, PaymentPurpose, Subscription)
from tests.conftest import TODAY

NOON = datetime.combine(TODAY, time(12))
CUSTOMER_NUMBER, BANKGIRO = "123456", "50501055"   # the deployment's defaults (portal/config.py)


def _active_mandate(s, account_id: int) -> AutogiroMandate:
    """An active mandate of the account (given and approved before the race)."""
    method = PaymentMethod(account_id=account_id, kind=MethodKind.AUTOGIRO, brand="Handelsbanken", last4="7498",
                           holder_name="Handelsbanken", created_at=NOON)
    s.add(method)
    s.flush()
    mandate = AutogiroMandate(account_id=account_id, payment_method_id=method.id, payer_number="pending",
                              clearing="6000", account_number="806967498", bank_name="Handelsbanken",
                              payer_id="165560360793", status=MandateStatus.ACTIVE, created_at=NOON,
                              sent_on=TODAY - timedelta(days=20), answered_on=TODAY - timedelta(days=19))
    s.add(mandate)
    s.flush()
    mandate.payer_number = str(autogiro.PAYER_NUMBER_BASE + mandate.id)
    return mandate


def _results_file(workdir: Path, name: str, drawn: files.Order) -> Path:
    path = workdir / name
    path.write_bytes(files.write_payment_results(files.PaymentResults(
        datetime.combine(TODAY, time(6)), CUSTOMER_NUMBER, BANKGIRO, (drawn,))))
    return path


def autogiro_drew(live, invoice_id: int, workdir: Path) -> Path:
    """The invoice's account pays by an active mandate, the invoice was ordered (an export
    sent it, drawn today), and the file Bankgirot sends says it was drawn in full."""
    with live.session() as s:
        invoice = s.get(Invoice, invoice_id)
        mandate = _active_mandate(s, invoice.billing_profile.account_id)
        drawn = files.Order(mandate.payer_number, TODAY, invoice.left.minor, ocr_reference(invoice.number), files.DRAWN)
        s.add(AutogiroOrder(mandate_id=mandate.id, invoice_id=invoice.id, draw_on=TODAY, currency="SEK",
                            amount_minor=drawn.amount_minor, reference=drawn.reference, status=DrawStatus.SENT,
                            created_at=NOON, sent_on=TODAY - timedelta(days=1)))
        s.commit()
    return _results_file(workdir, "autogiro-betspec.txt", drawn)


def subscription_on_autogiro(live, subscription_id: int) -> None:
    """Issue 34 Deliver 1: the pay-as-you-go subscription pays by an active mandate of its
    account (moved to it before the race), and its oldest outstanding charge was ordered
    (an export sent it, drawn today) — the charge Settle balance of it pays too."""
    with live.session() as s:
        subscription = s.get(Subscription, subscription_id)
        mandate = _active_mandate(s, subscription.account_id)
        subscription.payment_method_id = mandate.payment_method_id
        charge = s.scalars(select(Charge).where(Charge.subscription_id == subscription_id,
                                                Charge.status == ChargeStatus.OUTSTANDING).order_by(Charge.id)).first()
        s.add(AutogiroOrder(mandate_id=mandate.id, charge_id=charge.id, draw_on=TODAY, currency=charge.currency,
                            amount_minor=charge.amount_minor, reference=charge_reference(charge.id),
                            status=DrawStatus.SENT, created_at=NOON, sent_on=TODAY - timedelta(days=1)))
        s.commit()


def autogiro_drew_charge(live, subscription_id: int, workdir: Path) -> Path:
    """The file Bankgirot sends: the charge `subscription_on_autogiro` ordered, drawn in full."""
    with live.session() as s:
        order = s.scalars(select(AutogiroOrder).join(Charge, AutogiroOrder.charge_id == Charge.id)
                          .where(Charge.subscription_id == subscription_id)).one()
        drawn = files.Order(order.mandate.payer_number, TODAY, order.amount_minor, order.reference, files.DRAWN)
    return _results_file(workdir, "autogiro-betspec-charge.txt", drawn)


def drawn_as_credit(live) -> bool:
    """The drawn money was recorded (one payment, purpose autogiro) and, as a card attempt
    paid the invoice when it came, all of it became credit (M8: the attempt records what
    it wrote ahead) — which the billing cycle may then apply to a new invoice (B15)."""
    with live.session() as s:
        [payment] = s.scalars(select(Payment).where(Payment.purpose == PaymentPurpose.AUTOGIRO,
                                                    Payment.idempotency_key.not_like("demo-%"))).all()
        credited = s.scalar(select(func.sum(CreditEntry.amount_minor)).where(
            CreditEntry.payment_id == payment.id, CreditEntry.kind == CreditKind.SURPLUS))
        return credited == payment.amount_minor
