"""The account statement (kontoutdrag, issue 30): for a billing profile (customer
agreement) or a pay-as-you-go account and a period of days, what was owed at its start,
what was invoiced or charged, paid and refunded in it, what is owed at its end, the open
items at its end aged by days past due, and the credit balance (B15) beside it.

The balance is what the customer owes, net of their credit: invoices (their amount
due, after R16's credits) and charges add to it, payments take from it, refunds of
credit add back. So, at any moment, balance = open items − credit balance, and
opening + movements = closing (tests/billing/test_i30_statement.py proves both).

Every figure is a sum in SQL; the rows (movements, open items) are read a bounded
number at a time: the page and the PDF show the first STATEMENT_ROWS of each, the CSV
streams them all in batches (docs/statements.md says why). When things count:
an invoice on its issue day, a charge on the last day of the period it is for (the day
it falls due), a payment and a credit movement at their instant, on the day it falls
on in the period's time zone. An invoice or charge is open at an instant when the
money that paid it (a payment, or credit applied to it) had not arrived by then."""
from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, exists, func, literal, or_, select

from portal.billing.accounts import access, credit_history
from portal.billing.accounts.credit_history import CreditRow
from portal.billing.accounts.history import Period, _instant
from portal.billing.clock import day_in_zone
from portal.billing.context import Billing
from portal.billing.ids import payment_reference
from portal.errors import InvalidInput, NotFound
from portal.models import (AccountKind, BillingAccount, BillingProfile, Charge, ChargeStatus, CreditEntry,
                           CreditKind, Invoice, InvoicePayment, Payment, Subscription, User)
from portal.money import Money

STATEMENT_ROWS = 200   # movements and open items a page or PDF lists; the CSV has every one
BATCH = 1_000          # rows the CSV reads at a time

# Ageing of what is open at the period's end, by days past the due date on its last
# day: not yet due (due after it), 0–30 (due on it counts as 0), 31–60, 61–90, over 90.
AGEING = ("not_due", "0_30", "31_60", "61_90", "over_90")


def bucket_of(days_past_due: int) -> str:
    """The ageing bucket of an item `days_past_due` days past its due date (negative:
    not yet due)."""
    if days_past_due < 0:
        return "not_due"
    if days_past_due <= 30:
        return "0_30"
    if days_past_due <= 60:
        return "31_60"
    if days_past_due <= 90:
        return "61_90"
    return "over_90"


class Movement(NamedTuple):
    """A line of the statement: + adds to what is owed (invoice, charge, refund of
    credit), − takes from it (payment)."""
    day: date
    order: int           # within a day: invoices and charges, then payments, then refunds
    id: int
    kind: str            # invoice, charge, payment, refund
    reference: str       # invoice number, subscription name, payment id
    due_on: date | None
    amount_minor: int


class OpenItem(NamedTuple):
    kind: str            # invoice, charge
    id: int
    reference: str
    day: date            # issued (invoice), period end (charge)
    due_on: date
    left_minor: int      # still to pay at the period's end
    days_past_due: int

    @property
    def bucket(self) -> str:
        return bucket_of(self.days_past_due)


@dataclass(frozen=True)
class Statement:
    account: BillingAccount
    profile: BillingProfile | None
    first: date
    last: date
    zone: ZoneInfo
    currency: str
    opening: Money
    invoiced: Money          # invoices (customer agreement) or charges (pay-as-you-go) of the period
    received: Money          # payments of the period
    refunded: Money          # credit paid back in the period
    closing: Money
    open_total: Money        # open items at the end
    ageing: dict[str, Money]
    open_items: list[OpenItem]
    open_count: int
    movements: list[Movement]   # the first STATEMENT_ROWS, oldest first, each with the balance after it
    balances: list[Money]
    movement_count: int
    credit_opening: Money
    credit_added: Money
    credit_used: Money       # applied to invoices or charges
    credit_closing: Money
    credit_movements: list[CreditRow] = ()   # issue 33: the first STATEMENT_ROWS, oldest first
    credit_movement_count: int = 0

    @property
    def more_credit_movements(self) -> int:
        return self.credit_movement_count - len(self.credit_movements)

    @property
    def is_agreement(self) -> bool:
        return self.profile is not None

    @property
    def more_movements(self) -> int:
        return self.movement_count - len(self.movements)

    @property
    def more_open_items(self) -> int:
        return self.open_count - len(self.open_items)


@dataclass(frozen=True)
class Scope:
    """Whose statement and when: the account, the profile (None: pay-as-you-go), the
    first and last day, and the instants (naive UTC) those days start and end at."""
    account: BillingAccount
    profile: BillingProfile | None
    first: date
    last: date
    zone: ZoneInfo
    start: datetime
    end: datetime


def scope_of(b: Billing, user: User, account_id: int, profile_id: int | None, period: Period) -> Scope:
    """Whose statement the user may read (NotFound otherwise: never revealed): a
    profile they have a role on, or a pay-as-you-go account they are a member of. The
    period must have both ends, the last no later than today (InvalidInput)."""
    account = access.get_account(b.session, user, account_id)
    profile = None
    if account.kind == AccountKind.CUSTOMER_AGREEMENT:
        if profile_id is None or profile_id not in access.profiles_with_role(b.session, user, account):
            raise NotFound("billing profile")
        profile = next(p for p in account.profiles if p.id == profile_id)
    elif profile_id is not None:
        raise NotFound("billing profile")
    if period.first is None or period.last is None or period.last > b.clock.today():
        raise InvalidInput("period")
    zone = period.zone or b.clock.tz
    return Scope(account, profile, period.first, period.last, zone,
                 _instant(period.first, zone), _instant(period.last + timedelta(days=1), zone))


# --- the sums -------------------------------------------------------------------------

def _sum(b: Billing, column, *where) -> int:
    return int(b.session.scalar(select(func.coalesce(func.sum(column), 0)).where(*where)) or 0)


def _payments(s: Scope) -> list:
    where = [Payment.account_id == s.account.id]
    where.append(Payment.billing_profile_id == s.profile.id if s.profile else Payment.billing_profile_id.is_(None))
    return where


def _credit(s: Scope) -> list:
    where = [CreditEntry.account_id == s.account.id]
    where.append(CreditEntry.billing_profile_id == s.profile.id if s.profile
                 else CreditEntry.billing_profile_id.is_(None))
    return where


def _charges(s: Scope) -> list:
    return [Charge.subscription_id == Subscription.id, Subscription.account_id == s.account.id]


def _owed_by_day(b: Billing, s: Scope, first: date | None, last: date) -> int:
    """Invoiced (amount due) or charged on the days first..last (first None: from the start)."""
    if s.profile:
        where = [Invoice.billing_profile_id == s.profile.id, Invoice.issued_on <= last]
        if first:
            where.append(Invoice.issued_on >= first)
        return _sum(b, Invoice.subtotal_minor - Invoice.credits_applied_minor, *where)
    where = [*_charges(s), Charge.period_end <= last]
    if first:
        where.append(Charge.period_end >= first)
    return _sum(b, Charge.amount_minor, *where)


def _between(column, start: datetime | None, end: datetime) -> list:
    return [column < end] if start is None else [column >= start, column < end]


def received_query(s: Scope, start: datetime | None, end: datetime):
    """The sum of the payments from `start` (None: the first) to `end`: one range of
    the index payments(account_id, created_at, id)."""
    return select(func.coalesce(func.sum(Payment.amount_minor), 0)).where(
        *_payments(s), *_between(Payment.created_at, start, end))


def _received(b: Billing, s: Scope, start: datetime | None, end: datetime) -> int:
    return int(b.session.scalar(received_query(s, start, end)) or 0)


def _credit_moved(b: Billing, s: Scope, kind: CreditKind | None, start: datetime | None, end: datetime) -> int:
    where = [*_credit(s), *_between(CreditEntry.created_at, start, end)]
    if kind is not None:
        where.append(CreditEntry.kind == kind)
    return _sum(b, CreditEntry.amount_minor, *where)


def balance_before(b: Billing, s: Scope, instant: datetime, day: date) -> int:
    """What is owed, net of credit, before `instant` (the start of `day`)."""
    return (_owed_by_day(b, s, None, day - timedelta(days=1)) - _received(b, s, None, instant)
            - _credit_moved(b, s, CreditKind.REFUNDED, None, instant))


# --- open items at the end --------------------------------------------------------------

def _applied_later(s: Scope):
    """Credit applied to the charge at or after the period's end: it was not paid then."""
    return exists().where(CreditEntry.charge_id == Charge.id, CreditEntry.kind == CreditKind.APPLIED,
                          CreditEntry.created_at >= s.end)


def _open_invoices(s: Scope):
    """(id, number, issued_on, due_on, left at the end) of the profile's invoices open then."""
    received = (select(func.coalesce(func.sum(InvoicePayment.amount_minor), 0))
                .join(Payment, Payment.id == InvoicePayment.payment_id)
                .where(InvoicePayment.invoice_id == Invoice.id, Payment.created_at < s.end,
                       ~exists().where(CreditEntry.invoice_id == Invoice.id,
                                       CreditEntry.payment_id == InvoicePayment.payment_id,
                                       CreditEntry.kind == CreditKind.APPLIED, CreditEntry.created_at >= s.end))
                .scalar_subquery())
    left = (Invoice.subtotal_minor - Invoice.credits_applied_minor - received).label("left")
    rows = (select(Invoice.id.label("id"), Invoice.number.label("reference"), Invoice.issued_on.label("day"),
                   Invoice.due_on.label("due_on"), left)
            .where(Invoice.billing_profile_id == s.profile.id, Invoice.issued_on <= s.last).subquery())
    return select(rows).where(rows.c.left > 0)


def _open_charges(s: Scope):
    """(id, subscription name, period end, due (= period end), amount) of the account's
    charges open at the end: outstanding now, or paid by money that came later."""
    paid_later = exists().where(Payment.id == Charge.payment_id, Payment.created_at >= s.end)
    return (select(Charge.id.label("id"), Subscription.name.label("reference"), Charge.period_end.label("day"),
                   Charge.period_end.label("due_on"), Charge.amount_minor.label("left"))
            .where(*_charges(s), Charge.period_end <= s.last,
                   or_(Charge.status == ChargeStatus.OUTSTANDING, paid_later, _applied_later(s))))


def _open(s: Scope):
    return (_open_invoices(s) if s.profile else _open_charges(s)).subquery()


def ageing(b: Billing, s: Scope) -> dict[str, int]:
    """What is open at the end, summed per ageing bucket in SQL (due dates against
    the edges of each bucket counted back from the last day)."""
    rows = _open(s)
    edge = {days: s.last - timedelta(days=days) for days in (0, 30, 60, 90)}
    bucket = case((rows.c.due_on > edge[0], literal("not_due")), (rows.c.due_on >= edge[30], literal("0_30")),
                  (rows.c.due_on >= edge[60], literal("31_60")), (rows.c.due_on >= edge[90], literal("61_90")),
                  else_=literal("over_90"))
    found = dict(b.session.execute(select(bucket, func.sum(rows.c.left)).group_by(bucket)).all())
    return {name: int(found.get(name) or 0) for name in AGEING}


def open_items(b: Billing, s: Scope, limit: int | None = STATEMENT_ROWS) -> tuple[list[OpenItem], int]:
    """The open items at the end, oldest due first (the first `limit`), and how many."""
    rows = _open(s)
    count = b.session.scalar(select(func.count()).select_from(rows)) or 0
    query = select(rows).order_by(rows.c.due_on, rows.c.id).limit(limit)
    kind = "invoice" if s.profile else "charge"
    return [OpenItem(kind, r.id, r.reference, r.day, r.due_on, int(r.left), (s.last - r.due_on).days)
            for r in b.session.execute(query)], count


# --- the movements ----------------------------------------------------------------------

def _batches(b: Billing, query, key) -> Iterator:
    """The rows of `query`, BATCH at a time by key (its order: key columns, then id)."""
    after = None
    while True:
        q = query if after is None else query.where(key(after))
        batch = b.session.execute(q.limit(BATCH)).all()
        yield from batch
        if len(batch) < BATCH:
            return
        after = batch[-1]


def payment_rows(s: Scope):
    """The period's payments, oldest first: (id, instant, amount)."""
    return (select(Payment.id, Payment.created_at, Payment.amount_minor)
            .where(*_payments(s), Payment.created_at >= s.start, Payment.created_at < s.end)
            .order_by(Payment.created_at, Payment.id))


def movements(b: Billing, s: Scope, rows: int | None = None) -> Iterator[Movement]:
    """The period's movements, oldest first (by day; within one, invoices and charges,
    then payments, then refunds), each source read a batch at a time and merged."""
    if s.profile:
        owed = _batches(b, select(Invoice.id, Invoice.number, Invoice.issued_on, Invoice.due_on,
                                  Invoice.subtotal_minor - Invoice.credits_applied_minor)
                        .where(Invoice.billing_profile_id == s.profile.id, Invoice.issued_on >= s.first,
                               Invoice.issued_on <= s.last).order_by(Invoice.issued_on, Invoice.id),
                        lambda r: or_(Invoice.issued_on > r[2], and_(Invoice.issued_on == r[2], Invoice.id > r[0])))
        debits = (Movement(r[2], 0, r[0], "invoice", r[1], r[3], int(r[4])) for r in owed)
    else:
        owed = _batches(b, select(Charge.id, Subscription.name, Charge.period_end, Charge.amount_minor)
                        .where(*_charges(s), Charge.period_end >= s.first, Charge.period_end <= s.last)
                        .order_by(Charge.period_end, Charge.id),
                        lambda r: or_(Charge.period_end > r[2], and_(Charge.period_end == r[2], Charge.id > r[0])))
        debits = (Movement(r[2], 0, r[0], "charge", r[1], r[2], int(r[3])) for r in owed)
    paid = _batches(b, payment_rows(s),
                    lambda r: or_(Payment.created_at > r[1], and_(Payment.created_at == r[1], Payment.id > r[0])))
    payments = (Movement(day_in_zone(r[1], s.zone), 1, r[0], "payment", payment_reference(r[0]), None, -int(r[2]))
                for r in paid)
    back = _batches(b, select(CreditEntry.id, CreditEntry.created_at, CreditEntry.payment_id, CreditEntry.amount_minor)
                    .where(*_credit(s), CreditEntry.kind == CreditKind.REFUNDED, CreditEntry.created_at >= s.start,
                           CreditEntry.created_at < s.end).order_by(CreditEntry.created_at, CreditEntry.id),
                    lambda r: or_(CreditEntry.created_at > r[1],
                                  and_(CreditEntry.created_at == r[1], CreditEntry.id > r[0])))
    refunds = (Movement(day_in_zone(r[1], s.zone), 2, r[0], "refund", payment_reference(r[2]), None, -int(r[3]))
               for r in back)
    merged = heapq.merge(debits, payments, refunds, key=lambda m: (m.day, m.order, m.id))
    for number, movement in enumerate(merged):
        if rows is not None and number >= rows:
            return
        yield movement


def movement_count(b: Billing, s: Scope) -> int:
    if s.profile:
        owed = b.session.scalar(select(func.count()).where(Invoice.billing_profile_id == s.profile.id,
                                                            Invoice.issued_on >= s.first, Invoice.issued_on <= s.last))
    else:
        owed = b.session.scalar(select(func.count()).select_from(Charge).where(
            *_charges(s), Charge.period_end >= s.first, Charge.period_end <= s.last))
    paid = b.session.scalar(select(func.count()).where(*_payments(s), Payment.created_at >= s.start,
                                                      Payment.created_at < s.end))
    back = b.session.scalar(select(func.count()).where(*_credit(s), CreditEntry.kind == CreditKind.REFUNDED,
                                                      CreditEntry.created_at >= s.start, CreditEntry.created_at < s.end))
    return int(owed or 0) + int(paid or 0) + int(back or 0)


# --- the statement ----------------------------------------------------------------------

def statement(b: Billing, user: User, account_id: int, profile_id: int | None, period: Period,
              rows: int = STATEMENT_ROWS) -> Statement:
    """The statement of a profile (customer agreement) or an account (pay-as-you-go)
    for `period` (both ends given, the last no later than today), as the user may see."""
    s = scope_of(b, user, account_id, profile_id, period)
    currency = s.account.currency

    def money(minor: int) -> Money:
        return Money(minor, currency)
    opening = balance_before(b, s, s.start, s.first)
    invoiced = _owed_by_day(b, s, s.first, s.last)
    received = _received(b, s, s.start, s.end)
    refunded = -_credit_moved(b, s, CreditKind.REFUNDED, s.start, s.end)
    closing = opening + invoiced - received + refunded
    aged = ageing(b, s)
    items, open_count = open_items(b, s, rows)
    shown = list(movements(b, s, rows))
    credit_rows, credit_count = credit_history.movements(b, _credit(s), s.start, s.end, rows)
    balances, running = [], opening
    for movement in shown:
        running += movement.amount_minor
        balances.append(money(running))
    return Statement(
        account=s.account, profile=s.profile, first=s.first, last=s.last, zone=s.zone, currency=currency,
        opening=money(opening), invoiced=money(invoiced), received=money(received), refunded=money(refunded),
        closing=money(closing), open_total=money(sum(aged.values())),
        ageing={name: money(minor) for name, minor in aged.items()}, open_items=items, open_count=open_count,
        movements=shown, balances=balances, movement_count=movement_count(b, s),
        credit_opening=money(_credit_moved(b, s, None, None, s.start)),
        credit_added=money(_credit_moved(b, s, CreditKind.SURPLUS, s.start, s.end)),
        credit_used=money(-_credit_moved(b, s, CreditKind.APPLIED, s.start, s.end)),
        credit_closing=money(_credit_moved(b, s, None, None, s.end)),
        credit_movements=credit_rows, credit_movement_count=credit_count)


def rows_for_export(b: Billing, user: User, account_id: int, profile_id: int | None,
                    period: Period) -> tuple[Statement, Iterator[tuple[Movement, int]]]:
    """The statement (its figures and first rows) and every movement of the period
    with the balance after it, read a batch at a time (the CSV)."""
    found = statement(b, user, account_id, profile_id, period, rows=0)
    s = scope_of(b, user, account_id, profile_id, period)

    def each() -> Iterator[tuple[Movement, int]]:
        running = found.opening.minor
        for movement in movements(b, s):
            running += movement.amount_minor
            yield movement, running
    return found, each()
