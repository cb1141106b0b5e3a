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
from portal.billing.balances import settlement_total
from portal.billing.payments import mark_invoices_paid, method_summary, pay_charges, record_payment
from portal.billing.remittance import ocr_target
from portal.billing.transaction import lock_account, write_transaction
from portal.models import (AccountKind, BillingAccount, Invoice, MethodKind, Payment, PaymentMethod,
                           PaymentPurpose, TransferToReview)
from portal.money import Money

HOME_CURRENCY = "SEK"  # invoices are in kronor; money in another currency waits for a person

# Why a transfer waits for a person (the review list says it in these words).
REASONS = {
    "currency": "not in SEK",
    "no_reference": "no OCR reference",
    "invalid_reference": "the reference is not a valid OCR number",
    "unknown_reference": "no invoice or pay-as-you-go account has this OCR number",
    "already_paid": "the invoice is already paid, or the account owes nothing by transfer",
    "several_profiles": "the references name invoices of different billing profiles, or an account too",
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


@dataclass
class _Match:
    """What a payment's references name, and whether it pays that whole."""
    reason: str | None = None          # None: it pays exactly what is owed
    invoices: list[Invoice] = field(default_factory=list)
    account: BillingAccount | None = None   # a pay-as-you-go account's check/wire charges

    @property
    def account_id(self) -> int | None:
        if self.account is not None:
            return self.account.id
        return self.invoices[0].billing_profile.account_id if self.invoices else None


def _apply(b: Billing, paid: bgmax.Payment) -> str:
    """'recorded', 'duplicate', or the reason it waits for a person."""
    try:
        with write_transaction(b.session):
            if _seen(b, paid.key):
                return "duplicate"
            match = _match(b, paid)
            if match.reason is None:
                account = lock_account(b.session, match.account_id)
                # Again under the lock: another import of this file, or a card payment, may
                # have recorded it or paid what it names meanwhile (PostgreSQL; SQLite's
                # write transaction held the lock from its start).
                if _seen(b, paid.key):
                    return "duplicate"
                match = _match(b, paid)
            if match.reason is not None:
                b.session.add(TransferToReview(
                    key=paid.key, reason=match.reason,
                    reference=" ".join((paid.reference,) + paid.extra_references)[:200],
                    amount_minor=paid.amount_minor, currency=paid.currency, sender_bankgiro=paid.sender_bankgiro,
                    payer_name=paid.payer_name[:100], paid_on=paid.paid_on,
                    invoice_id=match.invoices[0].id if match.invoices else None, created_at=b.clock.now()))
                return match.reason
            if match.invoices:
                _record_invoices(b, account, match.invoices, paid)
            else:
                _record_charges(b, account, paid)
            return "recorded"
    except IntegrityError:  # the same payment, applied by another import at this moment
        b.session.rollback()
        if _seen(b, paid.key):
            return "duplicate"
        raise


def _seen(b: Billing, key: str) -> bool:
    return (b.session.scalar(select(Payment.id).where(Payment.idempotency_key == key)) is not None
            or b.session.scalar(select(TransferToReview.id).where(TransferToReview.key == key)) is not None)


def _match(b: Billing, paid: bgmax.Payment) -> _Match:
    if paid.currency != HOME_CURRENCY:
        return _Match("currency")
    references = [r for r in ((paid.reference,) + paid.extra_references) if r]
    if not references:
        return _Match("no_reference")
    targets = [ocr_target(r) for r in references]
    if None in targets:
        return _Match("invalid_reference")
    accounts = {value for kind, value in targets if kind == "account"}
    if accounts:
        if len(set(targets)) > 1:
            return _Match("several_profiles")
        return _match_account(b, paid, accounts.pop())
    return _match_invoices(b, paid, list(dict.fromkeys(value for _kind, value in targets)))


def _match_invoices(b: Billing, paid: bgmax.Payment, numbers: list[str]) -> _Match:
    invoices = list(b.session.scalars(select(Invoice).where(Invoice.number.in_(numbers)).order_by(Invoice.id)
                                      .execution_options(populate_existing=True)))
    if len(invoices) != len(numbers):
        return _Match("unknown_reference", invoices)
    if any(not invoice.is_open for invoice in invoices):
        return _Match("already_paid", invoices)
    if len({invoice.billing_profile_id for invoice in invoices}) > 1:
        return _Match("several_profiles", invoices)
    return _Match(_compare(paid.amount_minor, sum(invoice.amount_due.minor for invoice in invoices)), invoices)


def _match_account(b: Billing, paid: bgmax.Payment, account_id: int) -> _Match:
    """A pay-as-you-go account's reference pays what its check/wire subscriptions owe."""
    account = b.session.get(BillingAccount, account_id)
    if account is None or account.kind != AccountKind.PAY_AS_YOU_GO:
        return _Match("unknown_reference")
    wire = b.session.scalar(select(PaymentMethod.id).where(PaymentMethod.account_id == account.id,
                                                           PaymentMethod.kind == MethodKind.CHECK_WIRE))
    owed = settlement_total(b.session, [wire], account.currency).minor if wire is not None else 0
    if owed == 0:
        return _Match("already_paid", account=account)
    return _Match(_compare(paid.amount_minor, owed), account=account)


def _compare(amount_minor: int, owed_minor: int) -> str | None:
    if amount_minor < owed_minor:
        return "underpaid"
    if amount_minor > owed_minor:
        return "overpaid"
    return None


def _record_invoices(b: Billing, account: BillingAccount, invoices: list[Invoice], paid: bgmax.Payment) -> None:
    """As Pay now records (M2): payment, invoices Paid, receipt, audit — one commit."""
    profile_id = invoices[0].billing_profile_id
    payment = _payment(b, account, check_wire_method(b, account), paid, profile_id)
    mark_invoices_paid(b, invoices, payment)
    _tell(b, account, payment, paid, {"invoices": [i.number for i in invoices]}, {"profile_id": profile_id})


def _record_charges(b: Billing, account: BillingAccount, paid: bgmax.Payment) -> None:
    """As Settle balance records (M2): the check/wire charges paid, their subscriptions
    active again (R13) — and the "not received" rule (R01) no longer has anything to find."""
    method = check_wire_method(b, account)
    payment = _payment(b, account, method, paid, None)
    names = pay_charges(b, [method.id], payment, first_method_id=method.id)
    _tell(b, account, payment, paid, {"subscriptions": names})


def _payment(b: Billing, account: BillingAccount, method, paid: bgmax.Payment, profile_id: int | None) -> Payment:
    return record_payment(b, account, None, method, Money(paid.amount_minor, paid.currency),
                          f"bgmax:{paid.deposit_serial}-{paid.serial}", paid.key, PaymentPurpose.TRANSFER, profile_id)


def _tell(b: Billing, account: BillingAccount, payment: Payment, paid: bgmax.Payment, what: dict,
          audit_only: dict | None = None) -> None:
    """The receipt (what was paid) and the audit event (and, for invoices, the profile)."""
    details = {"payment_id": payment.id, "amount_minor": payment.amount_minor, "currency": payment.currency,
               "method": method_summary(payment.payment_method), **what}
    notify.queue_receipt(b.session, b.clock, account, None, details)
    notify.audit(b.session, b.clock, "payment.succeeded", account_id=account.id, actor=None,
                 purpose="transfer", paid_on=paid.paid_on.isoformat(), **(audit_only or {}), **details)


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
