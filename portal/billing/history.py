"""Payments and what they paid (B9): the Payments page, a period and a page at a time,
and the rows of the invoice and payment exports. Who sees a payment: every member of a
pay-as-you-go account; on a customer agreement, those with a role on the billing
profile it paid for."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select, tuple_
from sqlalchemy.orm import joinedload, selectinload

from portal.billing import access
from portal.billing.context import Billing
from portal.billing.paging import LIMIT, PAGE_SIZE, Keyset, Page, read_page
from portal.errors import InvalidInput
from portal.models import (AccountKind, BillingAccount, Charge, Invoice, Payment, Subscription, User)


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
    where = _visible(b, user, account, period)

    def fetch(mode: str, binds: dict) -> list[Payment]:
        return list(b.session.scalars(page_of_payments(where, mode).options(
            joinedload(Payment.payment_method), selectinload(Payment.invoices).load_only(Invoice.number)), binds))

    def count(mode: str | None, binds: dict) -> int:
        return b.session.scalar(PAYMENT_ORDER.bounded_count(select(Payment.id).where(*where), mode), binds) or 0

    found = read_page(PAYMENT_ORDER, PAYMENT_ORDER.parse(page), fetch, lambda p: (p.created_at, p.id),
                      per_page, count)

    def rows(payments: list[Payment]) -> list[PaymentRow]:
        names = _paid_subscriptions(b, [p.id for p in payments])
        return [PaymentRow(p, [i.number for i in p.invoices], *names.get(p.id, ([], 0))) for p in payments]
    return found.map(rows)


def _paid_subscriptions(b: Billing, payment_ids: list[int]) -> dict[int, tuple[list[str], int]]:
    """Per payment, the first NAMES_SHOWN subscriptions it paid charges of, and how many."""
    if not payment_ids:
        return {}
    result: dict[int, tuple[list[str], int]] = {}
    rows = b.session.execute(
        select(Charge.payment_id, Subscription.name, Subscription.id).join(Subscription)
        .where(Charge.payment_id.in_(payment_ids)).distinct().order_by(Charge.payment_id, Subscription.id))
    for payment_id, name, _sub_id in rows:
        shown, count = result.get(payment_id, ([], 0))
        if len(shown) < NAMES_SHOWN:
            shown.append(name)
        result[payment_id] = (shown, count + 1)
    return result


# --- exports ----------------------------------------------------------------------------

EXPORT_BATCH = 500


def export_batch(where: list, after: tuple[datetime, int] | None):
    """The next EXPORT_BATCH payments after `after` (created_at, id), oldest first. The
    row-value comparison is one range of the index (account_id, created_at, id) — an OR
    of the two parts is none to PostgreSQL, which then re-read every earlier row for each
    batch (issue 28: a million payments exported at ~1,000 rows/s)."""
    query = select(Payment).where(*where)
    if after is not None:
        query = query.where(tuple_(Payment.created_at, Payment.id) > tuple_(*after))
    return query.order_by(Payment.created_at, Payment.id).limit(EXPORT_BATCH)


def payments_for_export(b: Billing, user: User, account_id: int, period: Period) -> Iterator[PaymentRow]:
    """Every payment of the period, oldest first, read a batch at a time (an export of
    100,000 payments does not hold them all in memory)."""
    account = access.get_account(b.session, user, account_id)
    where = _visible(b, user, account, period)
    after: tuple[datetime, int] | None = None
    while True:
        batch = list(b.session.scalars(export_batch(where, after).options(
            joinedload(Payment.payment_method), selectinload(Payment.invoices).load_only(Invoice.number))))
        if not batch:
            return
        names = _paid_subscriptions(b, [p.id for p in batch])
        for p in batch:
            yield PaymentRow(p, [i.number for i in p.invoices], *names.get(p.id, ([], 0)))
        after = (batch[-1].created_at, batch[-1].id)
        _forget(b, batch + [i for p in batch for i in p.invoices])


def invoices_for_export(b: Billing, user: User, account_id: int, period: Period) -> Iterator[Invoice]:
    """Every invoice issued in the period on the profiles the person has a role on,
    oldest first, with its profile and payment."""
    account = access.get_account(b.session, user, account_id)
    where = [Invoice.billing_profile_id.in_(access.profiles_with_role(b.session, user, account))]
    if period.first:
        where.append(Invoice.issued_on >= period.first)
    if period.last:
        where.append(Invoice.issued_on <= period.last)
    after = 0
    while True:
        batch = list(b.session.scalars(
            select(Invoice).where(*where, Invoice.id > after)
            .options(joinedload(Invoice.billing_profile), joinedload(Invoice.payment).joinedload(Payment.payment_method))
            .order_by(Invoice.id).limit(EXPORT_BATCH)))
        if not batch:
            return
        yield from batch
        after = batch[-1].id
        _forget(b, batch)


def _forget(b: Billing, done: list) -> None:
    """Rows already written out leave the session: memory stays flat at any size."""
    for row in done:
        if row in b.session:
            b.session.expunge(row)
