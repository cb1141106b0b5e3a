"""Money that arrives by bank (B11): a Bankgirot BgMax file is checked whole, then its
payments are applied IMPORT_BATCH to a transaction, under one lock per account they pay
(issue 28), each as it would be alone. A payment whose OCR reference (or
references, when one transfer pays several invoices) names open invoices that it pays
exactly, or in part, is recorded like a card payment — purpose `transfer`, invoices Paid
(or partly paid, the oldest due first: B12), a receipt email and an audit event, all in
one commit. Less than a pay-as-you-go account owes pays its oldest charges whole; what
pays no whole charge waits for a person. Money for what is already paid, and more than
is owed, is recorded and becomes the account's credit (B15). Money for what a card
payment is paying at this moment (an open attempt's allocation, issue 27) waits for a
person, as does anything else, in the review list (`TransferToReview`), with its reason. Each payment's key in the file is
unique among payments and among reviewed transfers, so importing a file again — or the
same file twice at once — records nothing new."""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal.billing import events
from portal.billing.accounts import credit, notify
from portal.billing.bank import bgmax, matching
from portal.billing.context import Billing
from portal.billing.payments.methods import check_wire_method
from portal.billing.payments import apply_to_invoices, method_summary, pay_charges, record_payment
from portal.billing.invoicing import payment_requests
from portal.billing.invoicing.remittance import account_reference, ocr_reference
from portal.billing.transaction import lock_account, lock_accounts, write_transaction
from portal.billing.bank.transfer_batch import Owed, TransferBatch, owed_by_account, review_row
from portal.models import (BillingAccount, BillingProfile, Charge, Invoice, Payment,
                           PaymentPurpose, PaymentRequest, TransferToReview)
from portal.money import Money

# Why a transfer waits for a person (the review list says it in these words).
REASONS = {
    "currency": "not in SEK",
    "no_reference": "no OCR reference",
    "invalid_reference": "the reference is not a valid OCR number",
    "unknown_reference": "no invoice or pay-as-you-go account has this OCR number",
    "being_paid": "a card payment of it is at the payment service: look again once it is finished",
    "several_profiles": "the references name invoices of different billing profiles, or an account too",
    "underpaid": "less than the oldest charge the account owes",
    "remainder": "the part of a partial payment that pays no whole charge",
    "no_amount": "no amount (0 kr): nothing to record",
    "repeated": "the same payment (deposit and serial number) a second time in this file",
    # B22: a payment request's reference (one OCR for several invoices).
    "request_paid": "the payment request of this OCR number was paid already",
    "request_replaced": "the payment request of this OCR number was replaced by a newer one",
    "request_changed": "an invoice of the payment request of this OCR number was paid otherwise since",
    "request_with_others": "a payment request's OCR number with other references",
}


@dataclass
class ImportSummary:
    payments: int = 0
    recorded: int = 0
    duplicates: int = 0
    to_review: int = 0
    recorded_minor: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


IMPORT_BATCH = 500  # payments applied in one transaction, under one lock per account named


def import_bgmax(b: Billing, open_file: Callable[[], Iterable[bytes | str]], our_bankgiro: str) -> ImportSummary:
    """Import one BgMax file for `our_bankgiro`. `open_file()` gives its lines anew each
    time: the file is read once to check it whole (BgMaxRejected: nothing applied) and
    once to apply it, IMPORT_BATCH payments at a time (issue 28: a transaction per
    payment recorded ~343 a second). Each batch commits whole or not at all, so a
    failure half-way keeps the batches before it and a second import records the rest."""
    summary = ImportSummary(payments=bgmax.check(open_file(), our_bankgiro))
    once: set[bytes] = set()          # digests of the keys met so far: 16 bytes a payment
    again: dict[bytes, int] = {}      # how often the few repeated ones came
    batch: list[tuple[bgmax.Payment, int]] = []
    for payment in bgmax.payments(open_file()):
        digest = hashlib.blake2b(payment.key.encode(), digest_size=16).digest()
        # A line the file repeats is not "already imported" (that is another file's
        # payment): a person decides whether the bank sent one payment or two.
        times = 1
        if digest in once:
            times = again[digest] = again.get(digest, 1) + 1
        once.add(digest)
        batch.append((payment, times))
        if len(batch) == IMPORT_BATCH:
            _count(summary, batch, _apply_batch(b, batch))
            batch = []
    if batch:
        _count(summary, batch, _apply_batch(b, batch))
    return summary


def _count(summary: ImportSummary, batch: list[tuple[bgmax.Payment, int]], outcomes: list[str]) -> None:
    for (payment, _times), outcome in zip(batch, outcomes):
        if outcome == "recorded":
            summary.recorded += 1
            summary.recorded_minor += payment.amount_minor
        elif outcome == "duplicate":
            summary.duplicates += 1
        else:
            summary.to_review += 1
            summary.reasons[outcome] = summary.reasons.get(outcome, 0) + 1


def _apply_batch(b: Billing, batch: list[tuple[bgmax.Payment, int]]) -> list[str]:
    """Each payment's outcome ('recorded', 'duplicate', or why it waits for a person),
    the batch in one transaction. The same file imported at this very moment by
    another process makes a key collide: the batch is undone and applied again a
    payment at a time, as before, where the collision reads as "already imported"."""
    try:
        with write_transaction(b.session):
            return _batch_outcomes(b, batch)
    except IntegrityError:
        b.session.rollback()
        return [_apply(b, paid) if times == 1 else _repeated(b, paid, times) for paid, times in batch]


def _batch_key(paid: bgmax.Payment, times: int) -> str:
    return paid.key if times == 1 else f"{paid.key}-again-{times}"


def _batch_outcomes(b: Billing, batch: list[tuple[bgmax.Payment, int]]) -> list[str]:
    """As `_apply` and `_repeated` decide one payment, for a batch: the accounts its
    references name locked once each (in id order: two imports never wait for each
    other in a circle), then what was imported before and what the references name read
    under the locks, set-based (a few queries a batch). Recording keeps the file's
    order and every rule: a payment sees what the ones before it in the batch paid."""
    keys = [_batch_key(paid, times) for paid, times in batch]
    first = [paid for paid, times in batch if times == 1]
    locked = lock_accounts(b.session, _accounts_named(b, first))
    # Under the locks: another import or a card payment may have been first.
    seen = _seen_keys(b, keys)
    matches = matching.match_batch(b, [paid for paid in first if paid.key not in seen])
    owed = owed_by_account(b, sorted({m.account.id for m in matches.values() if m.account is not None}))
    outcomes, recorder = [], TransferBatch(b, locked.values())
    for (paid, times), key in zip(batch, keys):
        if key in seen:
            outcomes.append("duplicate")
        elif times > 1:
            recorder.review(paid, "repeated", key, paid.amount_minor, None)
            outcomes.append("repeated")
        else:
            outcomes.append(_decide(b, paid, matches[key], locked, owed, recorder))
    recorder.flush()
    return outcomes


def _decide(b: Billing, paid: bgmax.Payment, match: matching.Match, locked: dict[int, BillingAccount],
            owed: dict[int, Owed], recorder: TransferBatch) -> str:
    if match.account is not None:  # what the account owes: as read for the batch, unless paid since
        if recorder.pays_account(match.account.id):
            recorder.flush()
            owed[match.account.id] = owed_by_account(b, [match.account.id])[match.account.id]
        match = matching.match_owed(paid, match.account, owed[match.account.id])
    if match.request is not None and payment_requests.why_not_payable(match.request) is not None:
        # B22: paid, or one of its invoices paid, by a payment before it in the batch
        match = matching.Match(payment_requests.why_not_payable(match.request), match.invoices)
    if match.reason is None and match.account_id not in locked:
        recorder.flush()
        locked[match.account_id] = lock_account(b.session, match.account_id)
        match = matching.match(b, paid)
    if match.reason is not None:
        recorder.review(paid, match.reason, paid.key, paid.amount_minor,
                        match.invoices[0].id if match.invoices else None)
        return match.reason
    # Written with the batch's others (transfer_batch.py), in this order.
    if match.invoices:
        recorder.add(locked[match.account_id], match.invoices, paid, match.request)
    else:
        recorder.add_charges(locked[match.account_id], paid, match.owed_minor, match.charge_ids)
    return "recorded"


def _accounts_named(b: Billing, batch: list[bgmax.Payment]) -> list[int]:
    """The accounts the batch's references name (whose invoices, or which account),
    in id order: the locks a batch takes, all before it reads anything it decides on."""
    targets = [t for paid in batch for t in matching.targets_of(paid)]
    numbers = {value for kind, value in targets if kind == "invoice"}
    named = {value for kind, value in targets if kind == "account"}
    requested = {value for kind, value in targets if kind == "request"}
    if requested:
        named |= set(b.session.scalars(select(PaymentRequest.account_id).where(PaymentRequest.id.in_(requested))))
    if numbers:
        named |= set(b.session.scalars(select(BillingProfile.account_id).join(
            Invoice, Invoice.billing_profile_id == BillingProfile.id).where(Invoice.number.in_(numbers)).distinct()))
    return sorted(named)


def _seen_keys(b: Billing, keys: list[str]) -> set[str]:
    """Which of these keys a payment or a reviewed transfer already has."""
    return (set(b.session.scalars(select(Payment.idempotency_key).where(Payment.idempotency_key.in_(keys))))
            | set(b.session.scalars(select(TransferToReview.key).where(TransferToReview.key.in_(keys)))))


def _apply(b: Billing, paid: bgmax.Payment) -> str:
    """'recorded', 'duplicate', or the reason it waits for a person."""
    try:
        with write_transaction(b.session):
            if _seen(b, paid.key):
                return "duplicate"
            match = matching.match(b, paid)
            if match.reason is None:
                account = lock_account(b.session, match.account_id)
                # Again under the lock: another import of this file, or a card payment, may
                # have recorded it or paid what it names meanwhile (PostgreSQL; SQLite's
                # write transaction held the lock from its start).
                if _seen(b, paid.key):
                    return "duplicate"
                match = matching.match(b, paid)
            if match.reason is not None:
                _to_review(b, paid, match.reason, paid.key, paid.amount_minor,
                           match.invoices[0].id if match.invoices else None)
                return match.reason
            _record(b, account, match, paid)
            return "recorded"
    except IntegrityError:  # the same payment, applied by another import at this moment
        b.session.rollback()
        if _seen(b, paid.key):
            return "duplicate"
        raise


def _repeated(b: Billing, paid: bgmax.Payment, times: int) -> str:
    """The `times`-th appearance of a payment in one file: to review, under a key of its
    own, so importing the file again still records nothing new."""
    key = f"{paid.key}-again-{times}"
    with write_transaction(b.session):
        if _seen(b, key):
            return "duplicate"
        _to_review(b, paid, "repeated", key, paid.amount_minor, None)
        return "repeated"


def _seen(b: Billing, key: str) -> bool:
    return (b.session.scalar(select(Payment.id).where(Payment.idempotency_key == key)) is not None
            or b.session.scalar(select(TransferToReview.id).where(TransferToReview.key == key)) is not None)


def _record(b: Billing, account: BillingAccount, match: matching.Match, paid: bgmax.Payment) -> Payment:
    if match.invoices:
        return _record_invoices(b, account, match.invoices, paid, match.request)
    return _record_charges(b, account, match, paid)


def _record_invoices(b: Billing, account: BillingAccount, invoices: list[Invoice], paid: bgmax.Payment,
                     request: PaymentRequest | None = None) -> Payment:
    """As Pay now records (M2): payment, invoices Paid, receipt, audit — one commit; a
    payment request it pays is closed, paid by it (B22)."""
    profile_id = invoices[0].billing_profile_id
    payment = _payment(b, account, check_wire_method(b, account), paid.amount_minor, paid, profile_id)
    if request is not None:
        payment_requests.mark_paid(request, payment.id, b.clock.now())
    applied, rest = apply_to_invoices(b, invoices, payment, paid.amount_minor)
    credit.add_surplus(b, account, payment, rest, "overpaid" if applied else "already_paid", profile_id)
    left = sum(invoice.left.minor for invoice in applied)
    _tell(b, account, payment, paid, {"invoices": [i.number for i in applied], "left_minor": left,
                                      **({"payment_request_id": request.id} if request is not None else {}),
                                      **({"credited_minor": rest} if rest else {})}, {"profile_id": profile_id})
    return payment


def _record_charges(b: Billing, account: BillingAccount, match: matching.Match, paid: bgmax.Payment) -> Payment:
    """As Settle balance records (M2): the check/wire charges paid, their subscriptions
    active again (R13) — and the "not received" rule (R01) no longer has anything to find.
    Less than is owed (B12) pays the oldest charges whole (`matching.match_owed` chose them);
    the rest of the money, too little for the next charge, waits for a person (never
    half a charge)."""
    method = check_wire_method(b, account)
    owed, charge_ids = match.owed_minor, match.charge_ids
    if paid.amount_minor >= owed:  # all of it paid; the rest, if any, is credit (B15)
        payment = _payment(b, account, method, paid.amount_minor, paid, None)
        names = (pay_charges(b, payment, charge_ids, first_method_id=method.id) if charge_ids
                 else notify.SomeNames([], 0))
        rest = paid.amount_minor - owed
        credit.add_surplus(b, account, payment, rest, "overpaid" if owed else "already_paid")
        _tell(b, account, payment, paid, {**names.details(), **({"credited_minor": rest} if rest else {})})
        return payment
    applied = b.session.scalar(select(func.sum(Charge.amount_minor)).where(Charge.id.in_(charge_ids)))
    payment = _payment(b, account, method, applied, paid, None)
    names = pay_charges(b, payment, charge_ids, first_method_id=method.id)
    if applied < paid.amount_minor:
        _to_review(b, paid, "remainder", f"{paid.key}-rest", paid.amount_minor - applied, None)
    _tell(b, account, payment, paid, names.details())
    return payment


def _payment(b: Billing, account: BillingAccount, method, amount_minor: int, paid: bgmax.Payment,
             profile_id: int | None) -> Payment:
    return record_payment(b, account, None, method, Money(amount_minor, paid.currency),
                          f"bgmax:{paid.deposit_serial}-{paid.serial}", paid.key, PaymentPurpose.TRANSFER, profile_id)


def _to_review(b: Billing, paid: bgmax.Payment, reason: str, key: str, amount_minor: int,
               invoice_id: int | None) -> None:
    row = review_row(b, paid, reason, key, amount_minor, invoice_id)
    review = TransferToReview(**row)
    b.session.add(review)
    b.session.flush()
    events.emit(b.session, b.clock, *events.transfer_to_review(review.id, row))


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


@dataclass(frozen=True)
class _Assigned:
    """A waiting transfer as a person has placed it: the payment it was, with the
    reference of where it belongs (what `matching.match` and `_record` read of a bgmax.Payment)."""
    key: str
    reference: str
    amount_minor: int
    currency: str
    paid_on: date
    sender_bankgiro: str
    payer_name: str
    serial: str                        # the review row's id: its gateway reference is bgmax:review-ID
    deposit_serial: str = "review"
    extra_references: tuple[str, ...] = ()


def assign_review(b: Billing, review_id: int, invoice_number: str | None = None,
                  account_id: int | None = None) -> Payment:
    """A person has found where a waiting transfer belongs — an invoice (by its number)
    or a pay-as-you-go account: it is applied there as a matching payment would have
    been (the invoice in full or in part; the account's oldest charges, the rest
    waiting again) and leaves the list, noted. Refused, nothing changed, when it cannot
    go there (more than is owed, a paid invoice…): ValueError with the reason."""
    if (invoice_number is None) == (account_id is None):
        raise ValueError("say either the invoice or the account it belongs to")
    reference = ocr_reference(invoice_number) if invoice_number is not None else account_reference(account_id)
    with write_transaction(b.session):
        row = _waiting(b, review_id)
        paid = _Assigned(row.key, reference, row.amount_minor, row.currency, row.paid_on, row.sender_bankgiro,
                         row.payer_name, str(row.id))
        match = matching.match(b, paid)
        if match.reason is None:
            account = lock_account(b.session, match.account_id)
            row = _waiting(b, review_id)  # again under the lock: another person may have placed it
            match = matching.match(b, paid)
        if match.reason is not None:
            raise ValueError(f"it cannot go there: {REASONS[match.reason]}")
        payment = _record(b, account, match, paid)
        where = f"invoice {invoice_number}" if invoice_number is not None else f"account {account_id}"
        row.settled_at, row.settled_note = b.clock.now(), f"Assigned to {where}: payment {payment.id}"
        return payment


def _waiting(b: Billing, review_id: int) -> TransferToReview:
    row = b.session.get(TransferToReview, review_id, with_for_update=True, populate_existing=True)
    if row is None or row.settled_at is not None:
        raise LookupError(f"no transfer {review_id} waits for review")
    return row


def settle_review(b: Billing, review_id: int, note: str) -> TransferToReview:
    """A person has dealt with a transfer (assigned by hand, refunded): noted, and it
    leaves the list. The note says what was done."""
    note = note.strip()
    if not note:
        raise ValueError("say what was done with the transfer")
    with write_transaction(b.session):
        row = _waiting(b, review_id)
        row.settled_at, row.settled_note = b.clock.now(), note[:500]
        return row
