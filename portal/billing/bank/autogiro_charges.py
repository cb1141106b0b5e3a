"""Autogiro for pay-as-you-go (issue 34 Deliver 1, B23): a subscription whose payment
method is an Autogiro mandate has its period charges drawn from the payer's bank
account instead of charged to a card.

    order_charges_due   the export's orders for charges falling due by the next banking
                        day (the charge's due day, as a check/wire charge's: R03)
    record_drawn        money drawn: the charge paid as settling pays it (`pay_charges`:
                        the subscription re-enabled when it owes nothing more, R13), the
                        rest credit (B15), receipt, audit — in the import's transaction
    not_drawn           R01: the subscription past due, the customer told why (the
                        `payment_failed` message with Autogiro's reason and next draw);
                        insufficient funds ordered once more for the next banking day

A charge is drawn whole: the amount ordered is the charge's. Its reference on the
payer's statement is `charge_reference` (stable: the charge's id). The billing cycle
leaves a charge alone while an order of it is on its way (cycle/lifecycle.py:
`mark_unreceived_transfers`), and never retries it on the card schedule (B14 retries
cards only). Decisions: docs/autogiro.md."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from portal.billing.accounts import charge_failures, credit, notify
from portal.billing.accounts.balances import IS_OUTSTANDING
from portal.billing.bank import autogiro_files as files
from portal.billing.bank.matching import being_paid
from portal.billing.context import Billing
from portal.billing.payments import method_summary, pay_charges, record_payment
from portal.billing.periods import billing_day
from portal.models import (AttemptAllocation, AutogiroMandate, AutogiroOrder, BillingAccount, Charge, ChargeStatus,
                           MandateStatus, Payment, PaymentPurpose, Subscription)
from portal.money import Money

CHARGE_PREFIX = "AG"   # "AG" + the charge's id: never an invoice's OCR (digits only)


def charge_reference(charge_id: int) -> str:
    """The reference Bankgirot shows on the payer's statement for a charge's draw: AG
    and the charge's id in ten digits (16 characters at most: the layout's field)."""
    return f"{CHARGE_PREFIX}{charge_id:010d}"


def due_on(b: Billing, charge: Charge) -> date:
    """When a charge paid otherwise than by card is due: its billing day plus the days
    to pay (as a check/wire charge, `mark_unreceived_transfers`)."""
    return b.policy.due_date(billing_day(charge.period_end))


def order_charges_due(b: Billing, today: date, draw_on: date) -> None:
    """A waiting order for each outstanding charge falling due after `today` and by
    `draw_on` whose subscription pays by an active mandate, unless it has one already."""
    days = b.policy.invoice_due_days + 1   # due_on = period_end + days
    due = b.session.execute(
        select(Charge, AutogiroMandate).join(Subscription, Charge.subscription_id == Subscription.id)
        .join(AutogiroMandate, AutogiroMandate.payment_method_id == Subscription.payment_method_id)
        .where(AutogiroMandate.status == MandateStatus.ACTIVE, IS_OUTSTANDING, Charge.failed_on.is_(None),
               Charge.period_end > today - timedelta(days=days), Charge.period_end <= draw_on - timedelta(days=days),
               ~select(AutogiroOrder.id).where(AutogiroOrder.charge_id == Charge.id).exists())
        .order_by(Charge.id)).all()
    for charge, mandate in due:
        b.session.add(AutogiroOrder(mandate_id=mandate.id, charge_id=charge.id, draw_on=draw_on,
                                    amount_minor=charge.amount_minor, currency=charge.currency,
                                    reference=charge_reference(charge.id), created_at=b.clock.now()))
    b.session.flush()


def record_drawn(b: Billing, account: BillingAccount, order: AutogiroOrder, charge: Charge,
                 result: files.Order) -> Payment:
    """The money drawn, recorded as settling records it: the charge paid (its
    subscription re-enabled when it owes nothing more, R13), the rest credit (B15),
    receipt and audit — one commit, under the account's lock (the caller's). A charge
    an open card attempt pays (Settle balance at the gateway) gets none of it: that
    attempt records what it wrote ahead (M8); this is credit. Less than the charge
    (Bankgirot drew another amount than ordered) pays no charge: credit too."""
    method = order.mandate.payment_method
    payment = record_payment(b, account, None, method, Money(result.amount_minor, order.currency),
                             f"autogiro:{order.mandate.payer_number}-{order.id}", f"autogiro-{order.id}",
                             PaymentPurpose.AUTOGIRO)
    busy = being_paid(b, (AttemptAllocation.subscription_id == charge.subscription_id)
                      & (AttemptAllocation.up_to_charge_id >= charge.id))
    pays = not busy and charge.status == ChargeStatus.OUTSTANDING and result.amount_minor >= charge.amount_minor
    names = pay_charges(b, payment, [charge.id], method.id) if pays else notify.SomeNames([], 0)
    rest = result.amount_minor - (charge.amount_minor if pays else 0)
    credit.add_surplus(b, account, payment, rest, "overpaid" if pays else "already_paid")
    details = {"payment_id": payment.id, "amount_minor": payment.amount_minor, "currency": payment.currency,
               "method": method_summary(method), **names.details(), **({"credited_minor": rest} if rest else {})}
    notify.queue_receipt(b.session, b.clock, account, None, details)
    notify.audit(b.session, b.clock, "payment.succeeded", account_id=account.id, actor=None, purpose="autogiro",
                 paid_on=result.draw_on.isoformat(), charge_id=charge.id, **details)
    return payment


def not_drawn(b: Billing, order: AutogiroOrder, charge: Charge, again: date | None) -> None:
    """R01: the subscription past due, the customer told why — and, when `again` (the
    caller's B14 for Autogiro: insufficient funds, the first draw, an active mandate),
    that Autogiro draws once more that day (ordered here). Paid meanwhile (Settle
    balance): nothing more to say."""
    if charge.status != ChargeStatus.OUTSTANDING:
        return
    if again is not None:
        b.session.add(AutogiroOrder(mandate_id=order.mandate_id, charge_id=charge.id, draw_on=again, attempt=2,
                                    amount_minor=charge.amount_minor, currency=charge.currency,
                                    reference=order.reference, created_at=b.clock.now()))
    said = {"autogiro": True, **({"next_draw_on": again.isoformat()} if again else {})}
    charge_failures.charge_failed(b, charge, order.reason, lambda _sub: said)
