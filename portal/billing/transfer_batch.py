"""Bank transfers that pay invoices, recorded a batch at a time (B11, issue 28 item 3).

What `transfers._record_invoices` writes for one payment — the payment, each invoice
its share, the oldest due first (B12), a covered invoice Paid by it (R22) and its
notices resolved, the rest of the money credit (B15) with its email and audit event,
the receipt and the payment's audit event — written for every payment of a batch in a
handful of statements, not a dozen per payment (a transaction per payment imported
~343 a second). The shares are worked out in order on the invoices as loaded, so a
payment sees what the ones before it in the batch paid; rows are the same, in the
same order, as recording one payment after the other. The caller holds the accounts'
locks and `flush`es before anything else of the batch writes payments."""
from __future__ import annotations

from dataclasses import dataclass, field
from uuid import uuid4

from sqlalchemy import insert, select

from portal.billing import notify
from portal.billing.context import Billing
from portal.billing.methods import check_wire_method
from portal.billing.payments.cards import method_summary
from portal.billing.payments.ledger import oldest_first_shares, parties_now
from portal.models import (AuditEvent, BillingAccount, CreditEntry, CreditKind, Invoice, InvoicePayment,
                           InvoiceStatus, OutboxMessage, Payment, PaymentMethod, PaymentPurpose)


@dataclass
class _Pending:
    account: BillingAccount
    method: PaymentMethod
    profile_id: int
    paid: object                  # a bgmax.Payment (or a review assigned by a person)
    shares: list[tuple[Invoice, int]]
    numbers: list[str]            # of the invoices that got some of it
    left_minor: int               # what is left to pay of those
    rest_minor: int               # what paid nothing: credit
    covered: list[Invoice] = field(default_factory=list)  # Paid by it


class InvoiceBatch:
    def __init__(self, b: Billing) -> None:
        self.b = b
        self.pending: list[_Pending] = []
        self._methods: dict[int, PaymentMethod] = {}
        self._locales: dict[int, str] = {}
        self._parties: dict[tuple[int, int], dict] = {}  # kept with each payment (B17), per profile

    def add(self, account: BillingAccount, invoices: list[Invoice], paid) -> None:
        """`paid` to these invoices of one billing profile, as `apply_to_invoices` shares it."""
        by_id = {invoice.id: invoice for invoice in invoices}
        wanted, _left = oldest_first_shares(invoices, paid.amount_minor)
        entry = _Pending(account, self._method(account), invoices[0].billing_profile_id, paid, [], [], 0, 0)
        received = 0
        for invoice_id, want in wanted:
            invoice = by_id[invoice_id]
            share = min(invoice.left.minor, want) if invoice.is_open else 0
            if share <= 0:
                continue
            invoice.paid_minor = (invoice.paid_minor or 0) + share
            received += share
            if invoice.left.minor == 0:
                invoice.status, invoice.paid_on = InvoiceStatus.PAID, self.b.clock.today()
                entry.covered.append(invoice)
            entry.shares.append((invoice, share))
        entry.numbers = [invoice.number for invoice, _share in entry.shares]
        entry.left_minor = sum(invoice.left.minor for invoice, _share in entry.shares)
        entry.rest_minor = paid.amount_minor - received
        self.pending.append(entry)

    def _method(self, account: BillingAccount) -> PaymentMethod:
        if account.id not in self._methods:
            self._methods[account.id] = check_wire_method(self.b, account)
        return self._methods[account.id]

    def _parties_of(self, account: BillingAccount, profile_id: int) -> dict:
        key = (account.id, profile_id)
        if key not in self._parties:
            self._parties[key] = parties_now(self.b, account, profile_id)
        return self._parties[key]

    def _locale(self, account: BillingAccount) -> str:
        if account.id not in self._locales:
            self._locales[account.id] = notify.contact_locale(self.b.session, account)
        return self._locales[account.id]

    def flush(self) -> None:
        """Write what was added: one INSERT per table, one UPDATE of the notices per account."""
        if not self.pending:
            return
        b, now, pending = self.b, self.b.clock.now(), self.pending
        self.pending = []
        b.session.execute(insert(Payment), [dict(
            idempotency_key=p.paid.key, account_id=p.account.id, billing_profile_id=p.profile_id, user_id=None,
            payment_method_id=p.method.id, purpose=PaymentPurpose.TRANSFER, amount_minor=p.paid.amount_minor,
            currency=p.paid.currency, gateway_reference=f"bgmax:{p.paid.deposit_serial}-{p.paid.serial}",
            created_at=now, parties=self._parties_of(p.account, p.profile_id)) for p in pending])
        # Their ids by key (RETURNING in order is a row at a time on SQLite).
        by_key = dict(b.session.execute(select(Payment.idempotency_key, Payment.id).where(
            Payment.idempotency_key.in_([p.paid.key for p in pending]))).all())
        ids = [by_key[p.paid.key] for p in pending]
        shares, credits, mails, events = [], [], [], []
        covered: dict[int, list[int]] = {}
        for payment_id, p in zip(ids, pending):
            shares += [dict(invoice_id=invoice.id, payment_id=payment_id, amount_minor=share)
                       for invoice, share in p.shares]
            for invoice in p.covered:
                invoice.payment_id = payment_id
            covered.setdefault(p.account.id, []).extend(invoice.id for invoice in p.covered)
            profile, currency = p.profile_id, p.paid.currency
            if p.rest_minor > 0:
                reason = "overpaid" if p.shares else "already_paid"
                credits.append(dict(account_id=p.account.id, billing_profile_id=profile, payment_id=payment_id,
                                    kind=CreditKind.SURPLUS, reason=reason, amount_minor=p.rest_minor,
                                    currency=currency, created_at=now))
                details = {"payment_id": payment_id, "amount_minor": p.rest_minor, "currency": currency,
                           "reason": reason}
                mails.append(self._mail(p.account, "credit_added", details, now))
                events.append(_event(now, "credit.added", p.account.id, profile, details))
            details = {"payment_id": payment_id, "amount_minor": p.paid.amount_minor, "currency": currency,
                       "method": method_summary(p.method), "invoices": p.numbers, "left_minor": p.left_minor,
                       **({"credited_minor": p.rest_minor} if p.rest_minor else {})}
            mails.append(self._mail(p.account, "receipt", details, now))
            events.append(_event(now, "payment.succeeded", p.account.id, profile,
                                 {"purpose": "transfer", "paid_on": p.paid.paid_on.isoformat(), **details}))
        for model, rows in ((InvoicePayment, shares), (CreditEntry, credits), (OutboxMessage, mails),
                            (AuditEvent, events)):
            if rows:
                b.session.execute(insert(model), rows)
        for account_id, invoice_ids in covered.items():  # issue 20 item 1
            if invoice_ids:
                notify.resolve_notices(b.session, b.clock, account_id, invoice_ids=invoice_ids)
        b.session.flush()

    def _mail(self, account: BillingAccount, template: str, payload: dict, now) -> dict:
        """A row of the outbox as `notify.queue_email` writes it, to the billing address."""
        return dict(template=template, to_address=account.notification_email, locale=self._locale(account),
                    payload={**payload, "account_id": account.id}, message_key=uuid4().hex, created_at=now)


def _event(now, action: str, account_id: int, profile_id: int, details: dict) -> dict:
    """An audit event as `notify.audit` writes it: the billing cycle's (no actor)."""
    if action not in notify.AUDIT_ACTIONS:
        raise ValueError(f"{action!r} is not in notify.AUDIT_ACTIONS")
    return dict(at=now, actor_user_id=None, account_id=account_id, billing_profile_id=profile_id, action=action,
                details=details)
