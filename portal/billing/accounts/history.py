"""Payments and what they paid (B9): the Payments page, a period and a page at a time,
and the rows of the invoice and payment exports. Who sees a payment: every member of a
pay-as-you-go account; on a customer agreement, those with a role on the billing
profile it paid for."""
from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import ARRAY, Integer, Row, String, any_, bindparam, cast, func, select, tuple_
from sqlalchemy.orm import joinedload

from portal.billing.accounts import access
from portal.billing.context import Billing
from portal.billing.paging import LIMIT, PAGE_SIZE, Keyset, Page, read_page
from portal.billing.transaction import reader
from portal.errors import InvalidInput, NotFound
from portal.models import (AccountKind, BillingAccount, BillingProfile, Invoice, InvoicePayment, Payment,
                           PaymentMethod, PaymentSubscription, Subscription, User)


@dataclass(frozen=True)
class Period:
    """Days in a time zone (the reader's; the portal's when None), both included;
    either end may be open."""
    first: date | None = None
    last: date | None = None
    zone: ZoneInfo | None = None

    def __post_init__(self) -> None:
        if self.first and self.last and self.first > self.last:
            raise InvalidInput("period")


@dataclass(frozen=True)
class PaymentRow:
    payment: Payment
    invoices: list[str]          # numbers of the invoices it paid
    subscriptions: list[str]     # names of the subscriptions whose charges it paid (first few)
    subscription_count: int


NAMES_SHOWN = 3  # a settlement of 10,000 subscriptions names the first few and counts the rest


def _instant(day: date, zone: ZoneInfo) -> datetime:
    """The start of `day` in `zone`, as the naive UTC the database keeps."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(timezone.utc).replace(tzinfo=None)


def _visible(b: Billing, user: User, account: BillingAccount, period: Period) -> list:
    where = [Payment.account_id == account.id]
    if account.kind == AccountKind.CUSTOMER_AGREEMENT:
        where.append(Payment.billing_profile_id.in_(access.profiles_with_role(b.session, user, account)))
    zone = period.zone or b.clock.tz
    if period.first:
        where.append(Payment.created_at >= _instant(period.first, zone))
    if period.last:
        where.append(Payment.created_at < _instant(period.last + timedelta(days=1), zone))
    return where


def _visible_values(b: Billing, user: User, account: BillingAccount, period: Period) -> tuple[tuple, dict]:
    """`_visible` as a shape (which conditions: by profile, from, until) and the values
    to bind, for the statements built once per shape (`_payment_page`)."""
    agreement = account.kind == AccountKind.CUSTOMER_AGREEMENT
    zone = period.zone or b.clock.tz
    values = {"account_id": account.id,
              "profile_ids": access.profiles_with_role(b.session, user, account) if agreement else [],
              "from": _instant(period.first, zone) if period.first else None,
              "until": _instant(period.last + timedelta(days=1), zone) if period.last else None}
    return (agreement, bool(period.first), bool(period.last)), values


def _visible_where(shape: tuple) -> list:
    agreement, first, last = shape
    return [Payment.account_id == bindparam("account_id"),
            *([Payment.billing_profile_id.in_(bindparam("profile_ids", expanding=True))] if agreement else []),
            *([Payment.created_at >= bindparam("from")] if first else []),
            *([Payment.created_at < bindparam("until")] if last else [])]


@functools.cache
def _payment_page(shape: tuple, mode: str):
    """Payments' page statement, built once per shape and mode (issue 28)."""
    return page_of_payments(_visible_where(shape), mode).options(joinedload(Payment.payment_method))


@functools.cache
def _payment_count(shape: tuple, mode: str | None):
    return PAYMENT_ORDER.bounded_count(select(Payment.id).where(*_visible_where(shape)), mode)


# B9: newest first, served by the index (account_id, created_at, id) in either direction.
PAYMENT_ORDER = Keyset(Payment.created_at, Payment.id, kinds=(datetime, int), descending=True)


def page_of_payments(where: list, mode: str):
    """The statement of a page of payments (`mode`: first, last, after or before the key)."""
    return (select(Payment).where(*where, *PAYMENT_ORDER.where(mode))
            .order_by(*PAYMENT_ORDER.order_by(mode)).limit(LIMIT))


def payments_of(b: Billing, user: User, account_id: int, period: Period = Period(),
                page: str | None = None, per_page: int = PAGE_SIZE) -> Page[PaymentRow]:
    """One page of the account's payments, newest first, each with its method and
    what it paid, read by key (`page`: a paging token; first, last, after or before a
    payment): the same few queries, and about a page of index entries, whatever the
    number of payments, charges or invoices and whichever page it is."""
    account = access.get_account(b.session, user, account_id)
    shape, values = _visible_values(b, user, account, period)

    def fetch(mode: str, binds: dict) -> list[Payment]:
        return list(b.session.scalars(_payment_page(shape, mode), {**values, **binds}))

    def count(mode: str | None, binds: dict) -> int:
        return reader(b.session).scalar(_payment_count(shape, mode), {**values, **binds}) or 0

    found = read_page(PAYMENT_ORDER, PAYMENT_ORDER.parse(page), fetch, lambda p: (p.created_at, p.id),
                      per_page, count)

    def rows(payments: list[Payment]) -> list[PaymentRow]:
        ids = [p.id for p in payments]
        names, numbers = _paid_subscriptions(b, ids), _paid_invoices(b, ids)
        return [PaymentRow(p, numbers.get(p.id, []), *names.get(p.id, ([], 0))) for p in payments]
    return found.map(rows)


# What the payments of a page paid: built once (issue 28).
_PAID_INVOICES = (select(InvoicePayment.payment_id, Invoice.number).join(Invoice, Invoice.id == InvoicePayment.invoice_id)
                  .where(InvoicePayment.payment_id.in_(bindparam("payment_ids", expanding=True)))
                  .order_by(InvoicePayment.payment_id, Invoice.id))
_PAID_SUBSCRIPTIONS = (select(PaymentSubscription.payment_id, Subscription.name, Subscription.id)
                       .join(Subscription, Subscription.id == PaymentSubscription.subscription_id)
                       .where(PaymentSubscription.payment_id.in_(bindparam("payment_ids", expanding=True)))
                       .order_by(PaymentSubscription.payment_id, Subscription.id))


def _paid_invoices(b: Billing, payment_ids: list[int]) -> dict[int, list[str]]:
    """Per payment, the numbers of the invoices it paid (Payment.invoices' order): plain
    rows, not an Invoice object each (a third of the page's loading time)."""
    if not payment_ids:
        return {}
    result: dict[int, list[str]] = {}
    for payment_id, number in reader(b.session).execute(_PAID_INVOICES, {"payment_ids": payment_ids}):
        result.setdefault(payment_id, []).append(number)
    return result


def _paid_subscriptions(b: Billing, payment_ids: list[int]) -> dict[int, tuple[list[str], int]]:
    """Per payment, the first NAMES_SHOWN subscriptions it paid charges of, and how many."""
    if not payment_ids:
        return {}
    result: dict[int, tuple[list[str], int]] = {}
    rows = reader(b.session).execute(_PAID_SUBSCRIPTIONS, {"payment_ids": payment_ids})
    for payment_id, name, _sub_id in rows:
        shown, count = result.get(payment_id, ([], 0))
        if len(shown) < NAMES_SHOWN:
            shown.append(name)
        result[payment_id] = (shown, count + 1)
    return result


# --- exports ----------------------------------------------------------------------------

EXPORT_BATCH = 1_000

# What the payments export writes of a payment: plain rows, never ORM objects (issue 28:
# building, loading and forgetting a million objects was most of an export's time).
EXPORT_COLUMNS = (Payment.id, Payment.created_at, Payment.purpose, Payment.amount_minor, Payment.currency,
                  Payment.payment_method_id)


class ExportRow(NamedTuple):
    """A payment as the export writes it: `payment` has the EXPORT_COLUMNS."""
    payment: Row
    method: PaymentMethod | None
    invoices: list[str]          # numbers of the invoices it paid
    subscription_count: int      # subscriptions whose charges it paid


def export_batch(where: list, after: tuple[datetime, int] | None):
    """The next EXPORT_BATCH payments after `after` (created_at, id), oldest first. The
    row-value comparison is one range of the index (account_id, created_at, id) — an OR
    of the two parts is none to PostgreSQL, which then re-read every earlier row for each
    batch (issue 28: a million payments exported at ~1,000 rows/s)."""
    query = select(*EXPORT_COLUMNS).where(*where)
    if after is not None:
        query = query.where(tuple_(Payment.created_at, Payment.id) > tuple_(*after))
    return query.order_by(Payment.created_at, Payment.id).limit(EXPORT_BATCH)


def payments_for_export(b: Billing, user: User, account_id: int, period: Period) -> Iterator[ExportRow]:
    """Every payment of the period, oldest first, read a batch at a time (memory stays
    flat at any size): per batch, one query for the payments, one for the invoices
    they paid and one for how many subscriptions; the account's few payment methods
    are read once each."""
    account = access.get_account(b.session, user, account_id)
    where = _visible(b, user, account, period)
    methods: dict[int, PaymentMethod | None] = {}
    after: tuple[datetime, int] | None = None
    rows = b.session.connection().execute  # plain rows: the ORM's result handling costs per row
    while True:
        batch = rows(export_batch(where, after)).all()
        if not batch:
            return
        ids = among_ids(b, [p.id for p in batch])
        missing = {p.payment_method_id for p in batch} - methods.keys()
        if missing:
            methods.update({m.id: m for m in b.session.scalars(
                select(PaymentMethod).where(PaymentMethod.id.in_(missing)))})
        invoices: dict[int, list[str]] = {}
        for payment_id, _id, number in rows(paid_invoices(ids)):
            invoices.setdefault(payment_id, []).append(number)
        counts = dict(rows(subscriptions_paid(ids)).all())
        for p in batch:
            yield ExportRow(p, methods.get(p.payment_method_id), invoices.get(p.id, []), counts.get(p.id, 0))
        after = (batch[-1].created_at, batch[-1].id)


def among_ids(b: Billing, ids: list[int]):
    """`column IN ids` for a batch's thousand ids: on PostgreSQL one array parameter
    (`= ANY`), read by the column's index, not a thousand parameters compiled per batch."""
    if b.session.get_bind().dialect.name == "postgresql":  # as text: the driver's array dumper costs per id
        array = cast(bindparam("ids", "{" + ",".join(map(str, ids)) + "}", type_=String), ARRAY(Integer))
        return lambda column: column == any_(array)
    return lambda column: column.in_(ids)


def paid_invoices(among):
    """(payment id, invoice id, number) of the invoices the payments `among` selects paid
    (an invoice once per payment: unique in invoice_payments). Each number is looked up
    by its invoice's id: a join may read every invoice of the account to merge."""
    number = select(Invoice.number).where(Invoice.id == InvoicePayment.invoice_id).scalar_subquery()
    return (select(InvoicePayment.payment_id, InvoicePayment.invoice_id, number)
            .where(among(InvoicePayment.payment_id)).order_by(InvoicePayment.payment_id, InvoicePayment.invoice_id))


def subscriptions_paid(among):
    """(payment id, how many subscriptions it paid charges of) for the payments `among` selects."""
    return (select(PaymentSubscription.payment_id, func.count())
            .where(among(PaymentSubscription.payment_id)).group_by(PaymentSubscription.payment_id)
            .order_by(PaymentSubscription.payment_id))


# What the invoices export writes of an invoice (with its profile's name).
INVOICE_EXPORT_COLUMNS = (Invoice.id, Invoice.number, Invoice.issued_on, Invoice.period_start, Invoice.period_end,
                          Invoice.due_on, Invoice.subtotal_minor, Invoice.credits_applied_minor, Invoice.currency,
                          Invoice.status, Invoice.paid_on, Invoice.payment_id)


class InvoiceExportRow(NamedTuple):
    invoice: Row                 # the INVOICE_EXPORT_COLUMNS
    profile_name: str


def invoice_export_batch(profile_id: int, where: list, after: date | None):
    """A profile's next EXPORT_BATCH invoices after the period that began `after`: one
    range of the unique index (billing_profile_id, period_start), whatever came before."""
    query = select(*INVOICE_EXPORT_COLUMNS).where(Invoice.billing_profile_id == profile_id, *where)
    if after is not None:
        query = query.where(Invoice.period_start > after)
    return query.order_by(Invoice.period_start).limit(EXPORT_BATCH)


def invoices_for_export(b: Billing, user: User, account_id: int, period: Period) -> Iterator[InvoiceExportRow]:
    """Every invoice issued in the period on the profiles the person has a role on:
    profile by profile, each one's oldest period first, a batch at a time."""
    account = access.get_account(b.session, user, account_id)
    where = []
    if period.first:
        where.append(Invoice.issued_on >= period.first)
    if period.last:
        where.append(Invoice.issued_on <= period.last)
    profiles = b.session.execute(select(BillingProfile.id, BillingProfile.name).where(
        BillingProfile.id.in_(access.profiles_with_role(b.session, user, account))).order_by(BillingProfile.id)).all()
    for profile_id, name in profiles:
        after: date | None = None
        while True:
            batch = b.session.connection().execute(invoice_export_batch(profile_id, where, after)).all()
            if not batch:
                break
            for invoice in batch:
                yield InvoiceExportRow(invoice, name)
            after = batch[-1].period_start


# --- bulk download (issue 30) -------------------------------------------------------------

def invoices_to_download(b: Billing, user: User, account_id: int, first: date,
                         last: date) -> list[tuple[int, str, date]]:
    """(id, number, issue day) of the invoices issued on the days first..last on the profiles the
    person has a role on (every role may see its invoices: R02), in number order. Ids
    only: the zip loads one invoice at a time."""
    account = access.get_account(b.session, user, account_id)
    if account.kind != AccountKind.CUSTOMER_AGREEMENT:
        raise NotFound("invoices")
    rows = b.session.execute(select(Invoice.id, Invoice.number, Invoice.issued_on).where(
        Invoice.billing_profile_id.in_(access.profiles_with_role(b.session, user, account)),
        Invoice.issued_on >= first, Invoice.issued_on <= last)).all()
    return sorted((tuple(row) for row in rows), key=lambda row: (len(row[1]), row[1]))
