"""Money that arrives by bank (B11): a Bankgirot BgMax file is checked whole, then each
payment in it is applied in a transaction of its own. A payment whose OCR reference (or
references, when one transfer pays several invoices) names open invoices that it pays
exactly is recorded like a card payment — purpose `transfer`, invoices Paid, a receipt
email and an audit event, all in one commit. Anything else waits in the review list
(`TransferToReview`) for a person, with its reason. Each payment's key in the file is
unique among payments and among reviewed transfers, so importing a file again — or the
same file twice at once — records nothing new."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.billing import bgmax, notify
from portal.billing.context import Billing
from portal.billing.methods import check_wire_method
from portal.billing.payments import mark_invoices_paid, method_summary, record_payment
from portal.billing.remittance import is_valid_ocr
from portal.billing.transaction import lock_account, write_transaction
from portal.models import BillingProfile, Invoice, Payment, PaymentPurpose, TransferToReview
from portal.money import Money

HOME_CURRENCY = "SEK"  # invoices are in kronor; money in another currency waits for a person

# Why a transfer waits for a person (the review list says it in these words).
REASONS = {
    "currency": "not in SEK",
    "no_reference": "no OCR reference",
    "invalid_reference": "the reference is not a valid OCR number",
    "unknown_reference": "no invoice has this OCR number",
    "already_paid": "the invoice is already paid",
    "several_profiles": "the references name invoices of different billing profiles",
    "underpaid": "less than the invoices' amount due",
    "overpaid": "more than the invoices' amount due",
}


@dataclass
class ImportSummary:
    payments: int = 0
    recorded: int = 0
    duplicates: int = 0
    to_review: int = 0
    recorded_minor: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def import_bgmax(b: Billing, open_file: Callable[[], Iterable[bytes | str]], our_bankgiro: str) -> ImportSummary:
    """Import one BgMax file for `our_bankgiro`. `open_file()` gives its lines anew each
    time: the file is read once to check it whole (BgMaxRejected: nothing applied) and
    once to apply it."""
    summary = ImportSummary(payments=bgmax.check(open_file(), our_bankgiro))
    for payment in bgmax.payments(open_file()):
        outcome = _apply(b, payment)
        if outcome == "recorded":
            summary.recorded += 1
            summary.recorded_minor += payment.amount_minor
        elif outcome == "duplicate":
            summary.duplicates += 1
        else:
            summary.to_review += 1
            summary.reasons[outcome] = summary.reasons.get(outcome, 0) + 1
    return summary


def _apply(b: Billing, paid: bgmax.Payment) -> str:
    """'recorded', 'duplicate', or the reason it waits for a person."""
    try:
        with write_transaction(b.session):
            if _seen(b, paid.key):
                return "duplicate"
            invoices, reason = _match(b, paid)
            if reason is None:
                profile = b.session.get(BillingProfile, invoices[0].billing_profile_id)
                account = lock_account(b.session, profile.account_id)
                # Again under the lock: another import of this file, or Pay now, may have
                # recorded it or paid the invoices meanwhile (PostgreSQL; SQLite's write
                # transaction held the lock from its start).
                if _seen(b, paid.key):
                    return "duplicate"
                invoices, reason = _match(b, paid)
            if reason is not None:
                b.session.add(TransferToReview(
                    key=paid.key, reason=reason, reference=" ".join((paid.reference,) + paid.extra_references)[:200],
                    amount_minor=paid.amount_minor, currency=paid.currency, sender_bankgiro=paid.sender_bankgiro,
                    payer_name=paid.payer_name[:100], paid_on=paid.paid_on,
                    invoice_id=invoices[0].id if invoices else None, created_at=b.clock.now()))
                return reason
            _record(b, account, profile, invoices, paid)
            return "recorded"
    except IntegrityError:  # the same payment, applied by another import at this moment
        b.session.rollback()
        if _seen(b, paid.key):
            return "duplicate"
        raise


def _seen(b: Billing, key: str) -> bool:
    return (b.session.scalar(select(Payment.id).where(Payment.idempotency_key == key)) is not None
            or b.session.scalar(select(TransferToReview.id).where(TransferToReview.key == key)) is not None)


def _match(b: Billing, paid: bgmax.Payment) -> tuple[list[Invoice], str | None]:
    """The open invoices the payment's references name, or why it cannot pay them whole."""
    if paid.currency != HOME_CURRENCY:
        return [], "currency"
    references = [r for r in ((paid.reference,) + paid.extra_references) if r]
    if not references:
        return [], "no_reference"
    digits = ["".join(r.split()) for r in references]
    if not all(is_valid_ocr(d) for d in digits):
        return [], "invalid_reference"
    numbers = list(dict.fromkeys(d[:-2] for d in digits))  # OCR = invoice number + length + check digit
    invoices = list(b.session.scalars(select(Invoice).where(Invoice.number.in_(numbers)).order_by(Invoice.id)
                                      .execution_options(populate_existing=True)))
    if len(invoices) != len(numbers):
        return invoices, "unknown_reference"
    if any(not invoice.is_open for invoice in invoices):
        return invoices, "already_paid"
    if len({invoice.billing_profile_id for invoice in invoices}) > 1:
        return invoices, "several_profiles"
    due = sum(invoice.amount_due.minor for invoice in invoices)
    if paid.amount_minor < due:
        return invoices, "underpaid"
    if paid.amount_minor > due:
        return invoices, "overpaid"
    return invoices, None


def _record(b: Billing, account, profile: BillingProfile, invoices: list[Invoice], paid: bgmax.Payment) -> None:
    """As a card payment is recorded (M2): payment, invoices Paid, receipt, audit — one commit."""
    method = check_wire_method(b, account)
    payment = record_payment(b, account, None, method, Money(paid.amount_minor, paid.currency),
                             f"bgmax:{paid.deposit_serial}-{paid.serial}", paid.key, PaymentPurpose.TRANSFER,
                             profile.id)
    mark_invoices_paid(b, invoices, payment)
    details = {"payment_id": payment.id, "amount_minor": payment.amount_minor, "currency": payment.currency,
               "method": method_summary(method), "invoices": [i.number for i in invoices]}
    notify.queue_receipt(b.session, b.clock, account, None, details)
    notify.audit(b.session, b.clock, "payment.succeeded", account_id=account.id, actor=None,
                 profile_id=profile.id, purpose="transfer", paid_on=paid.paid_on.isoformat(), **details)


def waiting_for_review(b: Billing) -> list[TransferToReview]:
    return list(b.session.scalars(select(TransferToReview).where(TransferToReview.settled_at.is_(None))
                                  .order_by(TransferToReview.id)))


def settle_review(b: Billing, review_id: int, note: str) -> TransferToReview:
    """A person has dealt with a transfer (assigned by hand, refunded): noted, and it
    leaves the list. The note says what was done."""
    note = note.strip()
    if not note:
        raise ValueError("say what was done with the transfer")
    with write_transaction(b.session):
        row = b.session.get(TransferToReview, review_id)
        if row is None or row.settled_at is not None:
            raise LookupError(f"no transfer {review_id} waits for review")
        row.settled_at, row.settled_note = b.clock.now(), note[:500]
        return row
