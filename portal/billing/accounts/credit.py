"""B15: the account's credit balance ("tillgodohavande"). Money that arrives for
something already paid — a card payment whose charges or invoices a bank transfer paid
meanwhile, a transfer larger than owed or for a paid invoice — is never lost and never
blocks the account: it is recorded as a payment and its rest becomes credit. The balance
is a ledger (`CreditEntry`): each row moves part of one payment's money in (surplus) or
out (applied to a later charge or invoice, or refunded by a person), so what is left of
each payment is known and a refund goes back the way the money came.

Customer agreement: the credit belongs to the billing profile whose invoices the money
was for, and pays that profile's next invoices (as R16's credits do, before anything is
charged). Pay-as-you-go: it belongs to the account and pays its next charges whole (a
charge is never half paid, B12)."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import func, select

from portal.billing.accounts import notify
from portal.billing.accounts.balances import link_payments, recount_outstanding
from portal.billing.context import Billing
from portal.billing.gateway import GatewayError
from portal.billing.transaction import lock_account, write_transaction
from portal.errors import GatewayUnavailable
from portal.models import (BillingAccount, Charge, ChargeStatus, CreditEntry, CreditKind, Invoice,
                           InvoicePayment, InvoiceStatus, Payment, PaymentPurpose, Subscription, User)
from portal.money import Money

log = logging.getLogger(__name__)

# Why money became credit (the audit log and `reconcile` say it in these words).
REASONS = {
    "already_paid": "what it was for had been paid meanwhile",
    "overpaid": "more than was owed",
    "allocation_changed": "part of what it was for had been paid meanwhile",
}


def _scope(account_id: int, profile_id: int | None):
    where = [CreditEntry.account_id == account_id]
    if profile_id is not None:
        where.append(CreditEntry.billing_profile_id == profile_id)
    return where


def balance(session, account_id: int, currency: str, profile_id: int | None = None) -> Money:
    """The credit balance of the account (or of one billing profile of it)."""
    minor = session.scalar(select(func.coalesce(func.sum(CreditEntry.amount_minor), 0))
                           .where(*_scope(account_id, profile_id)))
    return Money(int(minor), currency)


def credited_by(session, payment: Payment) -> Money:
    """How much of `payment` became credit when it was recorded (its receipt says so)."""
    minor = session.scalar(select(func.coalesce(func.sum(CreditEntry.amount_minor), 0)).where(
        CreditEntry.payment_id == payment.id, CreditEntry.kind == CreditKind.SURPLUS))
    return Money(int(minor), payment.currency)


def add_surplus(b: Billing, account: BillingAccount, payment: Payment, amount_minor: int, reason: str,
                profile_id: int | None = None) -> CreditEntry | None:
    """`amount_minor` of `payment` paid nothing: it becomes credit, the customer (and the
    billing address) told, audited. In the transaction that records the payment."""
    if amount_minor <= 0:
        return None
    entry = CreditEntry(account_id=account.id, billing_profile_id=profile_id, payment_id=payment.id,
                        kind=CreditKind.SURPLUS, reason=reason, amount_minor=amount_minor,
                        currency=payment.currency, created_at=b.clock.now())
    b.session.add(entry)
    details = {"payment_id": payment.id, "amount_minor": amount_minor, "currency": payment.currency,
               "reason": reason}
    notify.queue_email(b.session, b.clock, account, "credit_added", details)
    notify.audit(b.session, b.clock, "credit.added", account_id=account.id, profile_id=profile_id, **details)
    return entry


def _sources(session, account_id: int, profile_id: int | None) -> list[tuple[int, int]]:
    """(payment id, what is left of its credit), oldest payment first."""
    rows = session.execute(select(CreditEntry.payment_id, func.sum(CreditEntry.amount_minor))
                           .where(*_scope(account_id, profile_id))
                           .group_by(CreditEntry.payment_id).order_by(CreditEntry.payment_id))
    return [(payment_id, int(left)) for payment_id, left in rows if left > 0]


def _take(b: Billing, account_id: int, profile_id: int | None, amount_minor: int, currency: str,
          **applied_to) -> list[tuple[int, int]]:
    """Move up to `amount_minor` out of the balance, oldest payment first: the
    (payment id, amount) taken."""
    taken, wanted = [], amount_minor
    for payment_id, left in _sources(b.session, account_id, profile_id):
        if wanted <= 0:
            break
        use = min(left, wanted)
        b.session.add(CreditEntry(account_id=account_id, billing_profile_id=profile_id, payment_id=payment_id,
                                  kind=CreditKind.APPLIED, reason="applied", amount_minor=-use, currency=currency,
                                  created_at=b.clock.now(), **applied_to))
        taken.append((payment_id, use))
        wanted -= use
    return taken


def apply_to_invoice(b: Billing, invoice: Invoice, account_id: int) -> int:
    """R16/B15: the profile's credit balance pays what is left of a new invoice, before
    anything is charged — as money received from the payments it came from (the
    invoice's allocations), so it is partly paid or Paid. The minor units applied.
    The caller holds the account's lock."""
    if not invoice.is_open or invoice.left.minor <= 0:
        return 0
    applied = 0
    for payment_id, use in _take(b, account_id, invoice.billing_profile_id, invoice.left.minor,
                                 invoice.currency, invoice_id=invoice.id):
        b.session.add(InvoicePayment(invoice_id=invoice.id, payment_id=payment_id, amount_minor=use))
        invoice.paid_minor = (invoice.paid_minor or 0) + use
        applied += use
        if invoice.left.minor == 0:
            invoice.status, invoice.paid_on, invoice.payment_id = InvoiceStatus.PAID, b.clock.today(), payment_id
    b.session.flush()
    return applied


def apply_to_charge(b: Billing, charge: Charge, account_id: int) -> bool:
    """B15: a new pay-as-you-go charge is paid from the account's credit when the
    balance covers it whole (a charge is never half paid); nothing is charged to a card
    then. Whether it was. The caller holds the account's lock. The subscription's kept
    figures are recounted here, with the charge's new status, not left to the caller."""
    if balance(b.session, account_id, charge.currency).minor < charge.amount_minor:
        return False
    taken = _take(b, account_id, None, charge.amount_minor, charge.currency, charge_id=charge.id)
    charge.status, charge.payment_id = ChargeStatus.PAID, taken[-1][0]
    b.session.flush()
    link_payments(b.session, Charge.id == charge.id)
    recount_outstanding(b.session, Subscription.id == charge.subscription_id)
    return True


@dataclass(frozen=True)
class Refund:
    payment_id: int
    amount: Money
    how: str                 # "card" (through the gateway) or "bank" (sent by a person)
    reference: str | None    # the gateway's refund reference


def refund(b: Billing, account_id: int, amount_minor: int | None = None, profile_id: int | None = None,
           by_bank: bool = False, user: User | None = None) -> list[Refund]:
    """B15: pay credit back to the customer (all of it, or `amount_minor`), newest
    payment first, the way it came: a card payment's credit through the gateway's
    `refund` (idempotent per payment and refund number, so a rerun after a crash never
    refunds twice); a bank transfer's only with `by_bank` (a person has sent it back by
    bank). Each refund in its own transaction, the customer told, audited."""
    done: list[Refund] = []
    while amount_minor is None or amount_minor > sum(r.amount.minor for r in done):
        with write_transaction(b.session):
            account = lock_account(b.session, account_id)
            wanted = None if amount_minor is None else amount_minor - sum(r.amount.minor for r in done)
            source = _refundable(b, account, profile_id, by_bank, {r.payment_id for r in done})
            if source is None:
                break
            payment, left = source
            use = left if wanted is None else min(left, wanted)
            entry = _refund_entry(b, account, payment, use, user)
            done.append(Refund(payment.id, Money(use, payment.currency), entry.reason, entry.refund_reference))
    return done


# Money that came by bank goes back by bank: no card behind it (B15; Autogiro, B23).
BY_BANK = (PaymentPurpose.TRANSFER, PaymentPurpose.AUTOGIRO)


def _refundable(b: Billing, account: BillingAccount, profile_id: int | None, by_bank: bool,
                skip: set[int]) -> tuple[Payment, int] | None:
    for payment_id, left in reversed(_sources(b.session, account.id, profile_id)):
        payment = b.session.get(Payment, payment_id)
        if payment_id in skip or (payment.purpose in BY_BANK and not by_bank):
            continue
        return payment, left
    return None


def _refund_entry(b: Billing, account: BillingAccount, payment: Payment, amount_minor: int,
                  user: User | None) -> CreditEntry:
    amount = Money(amount_minor, payment.currency)
    reference, how = None, "bank"
    if payment.purpose not in BY_BANK:
        number = 1 + (b.session.scalar(select(func.count()).where(
            CreditEntry.payment_id == payment.id, CreditEntry.kind == CreditKind.REFUNDED)) or 0)
        try:
            reference = b.gateway.refund(payment.gateway_reference, amount, f"refund-{payment.id}-{number}")
        except GatewayError as no_answer:  # nothing recorded: the same key is asked again next time
            raise GatewayUnavailable(maybe_charged=True) from no_answer
        how = "card"
    entry = CreditEntry(account_id=account.id, billing_profile_id=_profile_of(b, payment), payment_id=payment.id,
                        kind=CreditKind.REFUNDED, reason=how, amount_minor=-amount_minor, currency=payment.currency,
                        refund_reference=reference, user_id=user.id if user else None, created_at=b.clock.now())
    b.session.add(entry)
    details = {"payment_id": payment.id, "amount_minor": amount_minor, "currency": payment.currency, "how": how,
               "method": {"kind": str(payment.payment_method.kind), "brand": payment.payment_method.brand,
                          "last4": payment.payment_method.last4}}
    notify.queue_email(b.session, b.clock, account, "credit_refunded", details)
    notify.audit(b.session, b.clock, "credit.refunded", account_id=account.id, actor=user,
                 profile_id=entry.billing_profile_id, refund_reference=reference, **details)
    b.session.flush()
    return entry


def _profile_of(b: Billing, payment: Payment) -> int | None:
    return b.session.scalar(select(CreditEntry.billing_profile_id).where(
        CreditEntry.payment_id == payment.id, CreditEntry.kind == CreditKind.SURPLUS).limit(1))
