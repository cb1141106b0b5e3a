"""Bank transfers recorded a batch at a time (B11, issue 28 item 3).

What `transfers._record` writes for one payment — the payment; for invoices each its
share, the oldest due first (B12), a covered invoice Paid by it (R22) and its notices
resolved; for a pay-as-you-go account its check/wire charges paid (`ledger.pay_charges`,
R13); the rest of the money credit (B15) with its email and audit event; the receipt
and the payment's audit event — and what waits for a person (`TransferToReview`),
written for every payment of a batch in a handful of statements, not a dozen per
payment (a transaction per payment imported ~343 a second): one INSERT per table, one
UPDATE of the invoices (their final figures, by primary key). The shares are worked
out in order on the invoices as loaded, so a payment sees what the ones before it in
the batch paid; rows are the same, in the same order, as recording one payment after
the other. The caller holds the accounts' locks, decides what each payment pays (its
charges under the lock: `matching.match_account`) and `flush`es before anything
else of the batch reads or writes what a pending payment changes."""
from __future__ import annotations

from dataclasses import dataclass, field
from uuid import uuid4

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from portal.billing import events as provider_events
from portal.billing.accounts import notify
from portal.billing.accounts.balances import IS_OUTSTANDING
from portal.billing.context import Billing
from portal.billing.payments.methods import check_wire_method
from portal.billing.payments.cards import method_summary
from portal.billing.payments.ledger import invoice_event, oldest_first_shares, parties_of, pay_charges_together
from portal.errors import CurrencyMismatch
from portal.models import (AttemptAllocation, AuditEvent, BillingAccount, Charge, CreditEntry,
                           CreditKind, Invoice, InvoicePayment, InvoiceStatus, MethodKind, OutboxMessage, Payment,
                           PaymentMethod, PaymentPurpose, PaymentRequest, Subscription, TransferToReview, WebhookDelivery,
                           WebhookEvent)


@dataclass
class _Pending:
    account: BillingAccount
    method: PaymentMethod
    profile_id: int | None
    paid: object                  # a bgmax.Payment (or a review assigned by a person)
    amount_minor: int             # the payment's: less than `paid` when a remainder waits
    rest_minor: int               # what paid nothing: credit
    shares: list[tuple[Invoice, int]] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)  # of the invoices that got some of it
    left_minor: int = 0           # what is left to pay of those
    covered: list[Invoice] = field(default_factory=list)  # Paid by it
    charge_ids: list[int] | None = None  # a pay-as-you-go account's charges it pays whole
    owed_minor: int = 0           # what that account owed
    invoice_events: list[tuple[str, dict]] = field(default_factory=list)  # for the provider, as they were paid
    request: PaymentRequest | None = None  # B22: the payment request it pays


@dataclass
class Owed:
    """What a pay-as-you-go account owes by check/wire (as `settlement_total` and
    `oldest_charges_within` read it), for the accounts of a batch at once."""
    charges: list[tuple[int, int]] = field(default_factory=list)  # outstanding (id, amount), the oldest first
    being_paid: bool = False   # an open card attempt pays some of them (issue 27)


def owed_by_account(b: Billing, account_ids: list[int]) -> dict[int, Owed]:
    """`Owed` of each account (under its lock), in three statements whatever their
    number. Charges in another currency than the account's refuse the import
    (CurrencyMismatch), as `settlement_total` does."""
    if not account_ids:
        return {}
    first_wire = dict(b.session.execute(  # each account's first, the one `TransferBatch._method` pays with
        select(PaymentMethod.account_id, PaymentMethod.id).where(
            PaymentMethod.account_id.in_(account_ids), PaymentMethod.kind == MethodKind.CHECK_WIRE)
        .order_by(PaymentMethod.id.desc())).all())
    wires = {method_id: account_id for account_id, method_id in first_wire.items()}
    owed = {account_id: Owed() for account_id in account_ids}
    on_wire = (IS_OUTSTANDING, Subscription.id == Charge.subscription_id,
               Subscription.payment_method_id.in_(list(wires)))
    for method_id, charge_id, amount_minor, currency in b.session.execute(
            select(Subscription.payment_method_id, Charge.id, Charge.amount_minor, Charge.currency)
            .where(*on_wire).order_by(Charge.period_start, Charge.id)):
        account = b.session.get(BillingAccount, wires[method_id])
        if currency != account.currency:
            raise CurrencyMismatch(account.currency, currency)
        owed[account.id].charges.append((charge_id, amount_minor))
    for method_id in b.session.scalars(select(Subscription.payment_method_id).where(
            *on_wire, AttemptAllocation.subscription_id == Subscription.id).distinct()):
        owed[wires[method_id]].being_paid = True
    return owed


def review_row(b: Billing, paid, reason: str, key: str, amount_minor: int, invoice_id: int | None) -> dict:
    """A transfer that waits for a person, as a row of `TransferToReview`."""
    return dict(key=key, reason=reason, reference=" ".join((paid.reference,) + paid.extra_references)[:200],
                amount_minor=amount_minor, currency=paid.currency, sender_bankgiro=paid.sender_bankgiro,
                payer_name=paid.payer_name[:100], paid_on=paid.paid_on, invoice_id=invoice_id,
                created_at=b.clock.now())


class TransferBatch:
    def __init__(self, b: Billing, accounts=()) -> None:
        self.b = b
        self.accounts = list(accounts)  # those the batch names: their methods and locales read at once
        self.pending: list[_Pending] = []
        self.reviews: list[dict] = []
        self.invoices: dict[int, Invoice] = {}   # those the pending payments changed
        self._methods: dict[int, PaymentMethod] = {}
        self._locales: dict[int, str] = {}
        self._parties: dict[tuple[int, int], dict] = {}  # kept with each payment (B17), per profile

    def pays_account(self, account_id: int) -> bool:
        """Whether a pending payment pays this account's charges (what it owes is then
        asked again after a `flush`)."""
        return any(p.charge_ids is not None and p.account.id == account_id for p in self.pending)

    def add(self, account: BillingAccount, invoices: list[Invoice], paid, request: PaymentRequest | None = None) -> None:
        """`paid` to these invoices of one billing profile, as `apply_to_invoices` shares it
        (those of `request`, which it closes: a later payment of the batch sees it paid)."""
        by_id = {invoice.id: invoice for invoice in invoices}
        wanted, _left = oldest_first_shares(invoices, paid.amount_minor)
        entry = _Pending(account, self._method(account), invoices[0].billing_profile_id, paid, paid.amount_minor, 0)
        received = 0
        for invoice_id, want in wanted:
            invoice = by_id[invoice_id]
            share = min(invoice.left.minor, want) if invoice.is_open else 0
            if share <= 0:
                continue
            # Kept on the loaded invoice, not flushed by the unit of work a row at a
            # time: `flush` writes every changed invoice's figures in one statement.
            set_committed_value(invoice, "paid_minor", (invoice.paid_minor or 0) + share)
            received += share
            if invoice.left.minor == 0:
                set_committed_value(invoice, "status", InvoiceStatus.PAID)
                set_committed_value(invoice, "paid_on", self.b.clock.today())
                entry.covered.append(invoice)
            entry.shares.append((invoice, share))
            # As the ledger reports it (B12, R22), its figures as this payment left them.
            entry.invoice_events.append(("invoice.paid" if invoice.left.minor == 0 else "invoice.partly_paid",
                                         invoice_event(invoice, None)))
            self.invoices[invoice.id] = invoice
        entry.numbers = [invoice.number for invoice, _share in entry.shares]
        entry.left_minor = sum(invoice.left.minor for invoice, _share in entry.shares)
        entry.rest_minor = paid.amount_minor - received
        if request is not None:
            entry.request = request
            set_committed_value(request, "closed_at", self.b.clock.now())
            set_committed_value(request, "closed_reason", "paid")
        self.pending.append(entry)

    def add_charges(self, account: BillingAccount, paid, owed_minor: int, charge_ids: list[int]) -> None:
        """`paid` to a pay-as-you-go account that owed `owed_minor` by check/wire:
        `charge_ids` (the oldest it pays whole, `matching.match_account`) paid. More than is
        owed: the rest is credit (B15); less: the payment is what those charges come to,
        and the rest waits for a person (never half a charge, B12)."""
        entry = _Pending(account, self._method(account), None, paid, paid.amount_minor, 0,
                         charge_ids=charge_ids, owed_minor=owed_minor)
        if paid.amount_minor >= owed_minor:
            entry.rest_minor = paid.amount_minor - owed_minor
        else:
            entry.amount_minor = sum(self._charge_amounts(charge_ids))
            if entry.amount_minor < paid.amount_minor:
                self.review(paid, "remainder", f"{paid.key}-rest", paid.amount_minor - entry.amount_minor, None)
        self.pending.append(entry)

    def _charge_amounts(self, charge_ids: list[int]) -> list[int]:
        return list(self.b.session.scalars(select(Charge.amount_minor).where(Charge.id.in_(charge_ids))))

    def review(self, paid, reason: str, key: str, amount_minor: int, invoice_id: int | None) -> None:
        self.reviews.append(review_row(self.b, paid, reason, key, amount_minor, invoice_id))

    def _method(self, account: BillingAccount) -> PaymentMethod:
        if account.id not in self._methods:  # the wire methods of the batch's accounts, read at once
            ids = {account.id, *(a.id for a in self.accounts)} - set(self._methods)
            self._methods.update({m.account_id: m for m in self.b.session.scalars(select(PaymentMethod).where(
                PaymentMethod.account_id.in_(ids), PaymentMethod.kind == MethodKind.CHECK_WIRE)
                .order_by(PaymentMethod.id.desc()))})  # the first of each last: it stays
            if account.id not in self._methods:
                self._methods[account.id] = check_wire_method(self.b, account)  # made now
        return self._methods[account.id]

    def _parties_of(self, pending: list[_Pending]) -> list[dict]:
        """Each pending payment's parties to keep (B17), those not yet known read at once."""
        missing = {(p.account.id, p.profile_id) for p in pending} - self._parties.keys()
        if missing:
            accounts = {p.account.id: p.account for p in pending}
            self._parties.update(parties_of(self.b, [(accounts[a], profile_id) for a, profile_id in missing]))
        return [self._parties[p.account.id, p.profile_id] for p in pending]

    def _locale(self, account: BillingAccount) -> str:
        if account.id not in self._locales:  # those of the batch's accounts, read at once
            wanted = {a.id: a.notification_email for a in (account, *self.accounts) if a.id not in self._locales}
            self._locales.update(notify.contact_locales(self.b.session, wanted))
        return self._locales[account.id]

    def flush(self) -> None:
        """Write what was added: one INSERT per table, one UPDATE of the invoices, one
        of the notices per account; a pay-as-you-go payment's charges as the ledger pays them."""
        if not self.pending and not self.reviews:
            return
        b, now, pending, reviews, changed = self.b, self.b.clock.now(), self.pending, self.reviews, self.invoices
        self.pending, self.reviews, self.invoices = [], [], {}
        ids = self._payments(pending, now) if pending else []
        names = self._pay_charges([(i, p) for i, p in zip(ids, pending) if p.charge_ids is not None])
        not_active = notify.paid_but_not_active_of(b.session, [i for i in names if names[i].count])
        shares, credits, mails, events, reported, requests = [], [], [], [], [], []
        covered: dict[int, list[int]] = {}
        for payment_id, p in zip(ids, pending):
            profile, currency = p.profile_id, p.paid.currency
            details = {"payment_id": payment_id, "amount_minor": p.amount_minor, "currency": currency,
                       "method": method_summary(p.method)}
            if p.charge_ids is None:
                shares += [dict(invoice_id=invoice.id, payment_id=payment_id, amount_minor=share)
                           for invoice, share in p.shares]
                for invoice in p.covered:
                    set_committed_value(invoice, "payment_id", payment_id)
                covered.setdefault(p.account.id, []).extend(invoice.id for invoice in p.covered)
                reason = "overpaid" if p.shares else "already_paid"
                details.update(invoices=p.numbers, left_minor=p.left_minor)
                if p.request is not None:
                    details["payment_request_id"] = p.request.id
                    set_committed_value(p.request, "payment_id", payment_id)
                    requests.append(p.request)
            else:
                reason = "overpaid" if p.owed_minor else "already_paid"
                details.update(names.get(payment_id, notify.SomeNames([], 0)).details())
            if p.rest_minor > 0:
                credits.append(dict(account_id=p.account.id, billing_profile_id=profile, payment_id=payment_id,
                                    kind=CreditKind.SURPLUS, reason=reason, amount_minor=p.rest_minor,
                                    currency=currency, created_at=now))
                added = {"payment_id": payment_id, "amount_minor": p.rest_minor, "currency": currency,
                         "reason": reason}
                mails.append(self._mail(p.account, "credit_added", added, now))
                events.append(_event(now, "credit.added", p.account.id, profile, added))
                details["credited_minor"] = p.rest_minor
            receipt = details
            if details.get("subscriptions"):  # as notify.queue_receipt says it (issue 20 item 4)
                receipt = {**details, **not_active[payment_id]}
            mails.append(self._mail(p.account, "receipt", receipt, now))
            events.append(_event(now, "payment.succeeded", p.account.id, profile,
                                 {"purpose": "transfer", "paid_on": p.paid.paid_on.isoformat(), **details}))
            reported += [(type_, {**data, "payment_id": payment_id}) for type_, data in p.invoice_events]
        if changed:
            _update_invoices(b, list(changed.values()))
        if requests:  # B22: closed, paid by their payment
            _update_requests(b, requests)
        for model, rows in ((InvoicePayment, shares), (CreditEntry, credits), (OutboxMessage, mails),
                            (AuditEvent, events), (TransferToReview, reviews)):
            if rows:
                _insert(b, model, rows)
        # The provider's events (issue 32) of the same facts, as notify.audit and the
        # ledger write them one at a time: each audit row's, each invoice's, each review's.
        reported = [event for row in events for event in provider_events.reported_by(
            row["action"], row["account_id"], row["details"])] + reported
        if reviews:
            ids = dict(b.session.execute(select(TransferToReview.key, TransferToReview.id).where(
                TransferToReview.key.in_([row["key"] for row in reviews]))).all())
            reported += [provider_events.transfer_to_review(ids[row["key"]], row) for row in reviews]
        for model, rows in zip((WebhookEvent, WebhookDelivery), provider_events.rows_of(b.session, b.clock, reported)):
            if rows:
                _insert(b, model, rows)
        if any(covered.values()):  # issue 20 item 1
            notify.resolve_notices(b.session, b.clock, [a for a, ids in covered.items() if ids],
                                   invoice_ids=[i for ids in covered.values() for i in ids])
        b.session.flush()

    def _pay_charges(self, paying: list[tuple[int, _Pending]]) -> dict[int, notify.SomeNames]:
        """The pay-as-you-go payments' charges, as Settle balance pays them (R13), all
        of the batch together by the ledger's set-based path: the names each paid."""
        if not paying:
            return {}
        loaded = {payment.id: payment for payment in self.b.session.scalars(
            select(Payment).where(Payment.id.in_([payment_id for payment_id, _p in paying])))}
        names = pay_charges_together(self.b, [(loaded[payment_id], p.charge_ids, p.method.id)
                                              for payment_id, p in paying])
        return {payment_id: some for (payment_id, _p), some in zip(paying, names)}

    def _payments(self, pending: list[_Pending], now) -> list[int]:
        """The payments, one INSERT in the file's order; their ids, in that order."""
        b = self.b
        _insert(b, Payment, [dict(
            idempotency_key=p.paid.key, account_id=p.account.id, billing_profile_id=p.profile_id, user_id=None,
            payment_method_id=p.method.id, purpose=PaymentPurpose.TRANSFER, amount_minor=p.amount_minor,
            currency=p.paid.currency, gateway_reference=f"bgmax:{p.paid.deposit_serial}-{p.paid.serial}",
            created_at=now, parties=parties) for p, parties in zip(pending, self._parties_of(pending))])
        # Their ids by key (RETURNING in order is a row at a time on SQLite).
        by_key = dict(b.session.execute(select(Payment.idempotency_key, Payment.id).where(
            Payment.idempotency_key.in_([p.paid.key for p in pending]))).all())
        return [by_key[p.paid.key] for p in pending]

    def _mail(self, account: BillingAccount, template: str, payload: dict, now) -> dict:
        """A row of the outbox as `notify.queue_email` writes it, to the billing address."""
        return dict(template=template, to_address=account.notification_email, locale=self._locale(account),
                    payload={**payload, "account_id": account.id}, message_key=uuid4().hex, created_at=now)


def _update_invoices(b: Billing, invoices: list[Invoice]) -> None:
    """The invoices' final figures in one statement, the driver's executemany: a loop in
    C on SQLite; pipelined on psycopg, measured as fast as `UPDATE … FROM (VALUES …)`
    (which needs casts for a column all NULL) at a batch's few hundred rows."""
    table = Invoice.__table__
    names = ("paid_minor", "status", "paid_on", "payment_id")
    b.session.execute(update(table).where(table.c.id == bindparam("invoice_id")), [
        dict(invoice_id=i.id, **{n: getattr(i, n) for n in names}) for i in invoices])


def _update_requests(b: Billing, requests: list[PaymentRequest]) -> None:
    table = PaymentRequest.__table__
    names = ("closed_at", "closed_reason", "payment_id")
    b.session.execute(update(table).where(table.c.id == bindparam("request_id")), [
        dict(request_id=r.id, **{n: getattr(r, n) for n in names}) for r in requests])


def _insert(b: Billing, model, rows: list[dict]) -> None:
    """Rows of `model` in one statement. PostgreSQL: COPY (`_copy`). SQLite: Core, not
    the ORM's bulk insert (no per-row bookkeeping of objects never loaded), the
    driver's executemany (a loop in C)."""
    if b.session.get_bind().dialect.name == "postgresql":
        _copy(b, model.__table__, rows)
    else:
        b.session.execute(insert(model.__table__), rows)


def _copy(b: Billing, table, rows: list[dict]) -> None:
    """`COPY table (…) FROM STDIN` on the session's connection, in its transaction: rows
    streamed in one statement, each value as SQLAlchemy binds it (its type's bind
    processor) and a column's scalar default where the row has none. Measured on
    psycopg: the executemany pipeline spent ~40 µs of Python per row (dumping each
    parameter, a round of the pipeline), and RETURNING's multi-row VALUES more."""
    dialect = b.session.get_bind().dialect
    columns = [c for c in table.columns if c.name in rows[0] or (c.default is not None and c.default.is_scalar)]
    if any(c.default is not None and not c.default.is_scalar and c.name not in rows[0] for c in table.columns):
        b.session.execute(insert(table), rows)  # a default only SQLAlchemy can make: insert as usual
        return
    bind = [(c.name, c.default.arg if c.default is not None and c.default.is_scalar else None,
             c.type._cached_bind_processor(dialect)) for c in columns]
    quote = dialect.identifier_preparer.quote
    b.session.flush()  # what the ORM has pending goes first, as before any statement
    statement = f"COPY {quote(table.name)} ({', '.join(quote(c.name) for c in columns)}) FROM STDIN"
    try:
        with b.session.connection().connection.driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                values = [row.get(name, default) for name, default, _process in bind]
                copy.write_row([process(v) if process else v for v, (_n, _d, process) in zip(values, bind)])
    except dialect.loaded_dbapi.IntegrityError as error:  # a key another import wrote: as SQLAlchemy says it
        raise IntegrityError(statement, None, error) from error


def _event(now, action: str, account_id: int, profile_id: int | None, details: dict) -> dict:
    """An audit event as `notify.audit` writes it: the billing cycle's (no actor)."""
    if action not in notify.AUDIT_ACTIONS:
        raise ValueError(f"{action!r} is not in notify.AUDIT_ACTIONS")
    return dict(at=now, actor_user_id=None, account_id=account_id, billing_profile_id=profile_id, action=action,
                details=details)
