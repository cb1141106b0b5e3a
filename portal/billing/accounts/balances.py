"""What is owed: the outstanding balance per payment method (R04, R07, R08) and the
open invoices of a billing profile (R20)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import bindparam, case, func, insert, literal_column, select, update
from sqlalchemy.orm import Session, contains_eager

from portal.errors import CurrencyMismatch, NotFound
from portal.money import Money, total
from portal.billing.paging import LIMIT, PAGE_SIZE, Keyset, Page, read_page
from portal.billing.transaction import reader
from portal.models import (BillingProfile, Charge, ChargeStatus, Invoice, InvoiceStatus, PaymentMethod,
                           PaymentSubscription, Subscription, SubscriptionFigure, SubscriptionStatus)

SETTLEABLE = (SubscriptionStatus.PAST_DUE, SubscriptionStatus.DISABLED)  # B1
# A charge is outstanding: written as a literal, so that every plan (a prepared one, and
# SQLite's) sees the value.
IS_OUTSTANDING = Charge.status == literal_column(f"'{ChargeStatus.OUTSTANDING.value}'")


def recount_outstanding(session: Session, which, when_settled: dict | None = None, also: dict | None = None) -> None:
    """Recount `Subscription.outstanding_charges` and `.outstanding_minor` from the
    charges, for the subscriptions `which` selects (a WHERE clause on Subscription).
    Call it in every transaction that adds charges or changes their status, after
    those writes and under the account's lock (transaction.lock_account), which
    serialises writers, so the recount sees every committed charge.

    One set-based statement whatever their number (issue 28): their charges counted
    and summed grouped, once, joined to the subscriptions (`UPDATE … FROM`), never
    counted again per subscription. `when_settled`: more columns the same statement
    sets on those of them that are settleable (B1) and owe nothing now (R13: what
    re-enables them after a payment). `also`: more columns the same statement sets
    on all of them (each a value or SQL expression, of the row as it was)."""
    figures = _outstanding_figures(select(Subscription.id).where(which))
    _update_figures(session, figures, figures.c.charges, figures.c.minor, when_settled, also)


def link_payments(session: Session, *which) -> None:
    """`PaymentSubscription` rows for the charges `which` selects (WHERE terms on
    Charge) that a payment paid: how a payment's charges are found (charges have no
    index on `payment_id`, so that paying one is a HOT update). Call it in the
    transaction that sets `Charge.payment_id`, after those writes (pending ones are
    flushed first); a row there already is left alone."""
    session.flush()
    linked = select(PaymentSubscription.payment_id).where(PaymentSubscription.payment_id == Charge.payment_id,
                                                          PaymentSubscription.subscription_id == Charge.subscription_id)
    session.execute(insert(PaymentSubscription).from_select(
        ["payment_id", "subscription_id"],
        select(Charge.payment_id, Charge.subscription_id).where(*which, Charge.payment_id.is_not(None),
                                                                ~linked.exists()).distinct()))


def charges_of(payment_id: int) -> tuple:
    """WHERE terms on Charge: the charges `payment_id` paid — its subscriptions from
    `PaymentSubscription`'s primary key, then theirs by `uq_charges_subscription_period`."""
    return (Charge.subscription_id == PaymentSubscription.subscription_id,
            PaymentSubscription.payment_id == payment_id, Charge.payment_id == payment_id)


def paid_per_subscription(payment_id: int):
    """What `payment_id` paid, per subscription: (subscription_id, charges, minor)."""
    return (select(Charge.subscription_id.label("subscription_id"), func.count().label("charges"),
                   func.sum(Charge.amount_minor).label("minor"))
            .where(*charges_of(payment_id)).group_by(Charge.subscription_id).subquery("paid"))


def subtract_paid(session: Session, payment_id: int, when_settled: dict | None = None,
                  also: dict | None = None, paid=None) -> int:
    """`recount_outstanding` for the subscriptions whose charges `payment_id` has just
    paid (issue 28: a reseller's settlement pays 200,000): their figures less what it
    paid — `paid` (subscription_id, charges, minor per subscription, as
    `paid_per_subscription` gives by default) — in one UPDATE, without reading their
    other charges. The figures are kept by every writer under the account's lock, so
    the difference is the recount; the same rule (`when_settled`, `also`) as
    `recount_outstanding`. How many subscriptions it paid (the rows the UPDATE
    changed: no count of its own)."""
    paid = paid_per_subscription(payment_id) if paid is None else paid
    return _update_figures(session, paid, Subscription.outstanding_charges - paid.c.charges,
                           Subscription.outstanding_minor - paid.c.minor, when_settled, also)


def _update_figures(session: Session, rows, charges, minor, when_settled: dict | None, also: dict | None) -> int:
    """One UPDATE … FROM `rows` (a subquery with a subscription_id per subscription):
    the figures `charges` and `minor` (expressions of it), and the rule of what owing
    nothing re-enables (`when_settled`), and `also` — every value of the row as it was."""
    values = {"outstanding_charges": charges, "outstanding_minor": minor, **(also or {})}
    if when_settled:
        settled = Subscription.status.in_(SETTLEABLE) & (charges == 0)  # B1, R13: settleable, owing nothing
        for column, value in when_settled.items():
            values[column] = case((settled, value), else_=getattr(Subscription, column))
    # Joined by id only: the subquery holds just the subscriptions to update (a plan
    # that filters the join again can rescan it once per subscription).
    changed = session.execute(update(Subscription).where(Subscription.id == rows.c.subscription_id)
                              .values(**values).execution_options(synchronize_session=False)).rowcount
    # Cheaper than synchronize_session="fetch", which matches rows one by one.
    expire_loaded(session, Subscription, ["outstanding_charges", "outstanding_minor", *(when_settled or {}),
                                          *(also or {})])
    return changed


def _outstanding_figures(subscription_ids):
    """Per subscription of `subscription_ids` (a SELECT) that has charges: its
    outstanding ones counted and summed, in one grouped pass over its charges. (One
    without any charge keeps its figures: zero, as it was created.)"""
    outstanding = Charge.status == ChargeStatus.OUTSTANDING
    return (select(Charge.subscription_id.label("subscription_id"),
                   func.sum(case((outstanding, 1), else_=0)).label("charges"),
                   func.sum(case((outstanding, Charge.amount_minor), else_=0)).label("minor"))
            .where(Charge.subscription_id.in_(subscription_ids))
            .group_by(Charge.subscription_id).subquery("figures"))


def outstanding_charges(session: Session, method_id: int) -> list[Charge]:
    """R07: the outstanding charges of every subscription that uses the method."""
    return list(session.scalars(
        select(Charge).join(Charge.subscription).options(contains_eager(Charge.subscription))
        .where(Subscription.payment_method_id == method_id, IS_OUTSTANDING)
        .order_by(Subscription.id, Charge.period_start)))


@dataclass(frozen=True)
class SettlementQuote:
    """Everything the customer must see before pressing Pay (R08, WCAG 3.3.4)."""
    failed_method: PaymentMethod
    chosen_method: PaymentMethod | None
    failed_method_charges: list[Charge]   # R04/R07: all of them, at once
    chosen_method_charges: list[Charge]   # R08: the chosen method's own, added
    currency: str

    @property
    def charges(self) -> list[Charge]:
        return self.failed_method_charges + self.chosen_method_charges

    @property
    def failed_method_total(self) -> Money:
        return total((c.amount for c in self.failed_method_charges), self.currency)

    @property
    def chosen_method_total(self) -> Money:
        return total((c.amount for c in self.chosen_method_charges), self.currency)

    @property
    def total(self) -> Money:
        return self.failed_method_total + self.chosen_method_total

    @property
    def subscriptions(self) -> list[Subscription]:
        """Each subscription whose charges are in the total, once, in order."""
        return list({c.subscription.id: c.subscription for c in self.charges}.values())


def settlement_quote(session: Session, subscription: Subscription,
                     chosen_method: PaymentMethod | None) -> SettlementQuote:
    failed_method = subscription.payment_method
    if failed_method is None:
        raise NotFound("payment method")
    failed = outstanding_charges(session, failed_method.id)
    chosen: list[Charge] = []
    if chosen_method is not None and chosen_method.id != failed_method.id:
        chosen = outstanding_charges(session, chosen_method.id)
    return SettlementQuote(failed_method, chosen_method, failed, chosen,
                           subscription.account.currency)


# --- settling, set-based: the same charges as settlement_quote, never loaded one by one

def settled_method_ids(subscription: Subscription, chosen_method: PaymentMethod | None) -> list[int]:
    """R04/R07/R08: the methods whose outstanding charges settling pays: the
    subscription's (failed) method, and the chosen method for its own."""
    if subscription.payment_method_id is None:
        raise NotFound("payment method")
    chosen = [chosen_method.id] if chosen_method is not None else []
    return list(dict.fromkeys([subscription.payment_method_id, *chosen]))


def settled_charges(method_ids: list[int]):
    """The WHERE clause of the charges settling pays: outstanding, on these methods."""
    return (IS_OUTSTANDING,
            Charge.subscription_id.in_(select(Subscription.id).where(Subscription.payment_method_id.in_(method_ids))))


def settlement_total(session: Session, method_ids: list[int], currency: str) -> Money:
    """What settling charges (the methods of `settled_method_ids`), summed from the
    charges themselves (not the stored figures): the amount the gateway is asked for."""
    rows = session.execute(select(Charge.currency, func.sum(Charge.amount_minor))
                           .where(*settled_charges(method_ids)).group_by(Charge.currency)).all()
    if any(charge_currency != currency for charge_currency, _amount in rows):
        raise CurrencyMismatch(currency, rows[0][0])
    return Money(int(rows[0][1]) if rows else 0, currency)


def oldest_charges_within(session: Session, method_ids: list[int], amount_minor: int) -> list[int]:
    """B12: the outstanding charges on these methods that `amount_minor` pays whole,
    the oldest first, stopping at the first it cannot pay (a charge is never half paid)."""
    chosen, money_left = [], amount_minor
    for charge_id, charge_minor in session.execute(select(Charge.id, Charge.amount_minor).where(
            *settled_charges(method_ids)).order_by(Charge.period_start, Charge.id)):
        if charge_minor > money_left:
            break
        chosen.append(charge_id)
        money_left -= charge_minor
    return chosen


def expire_loaded(session: Session, model, attributes: list[str]) -> None:
    """After a set-based UPDATE: loaded rows of `model` read these afresh."""
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, model):
            session.expire(loaded, attributes)


@dataclass(frozen=True)
class SubscriptionBalance:
    """One subscription's outstanding charges on a method, summed (the settle page
    lists one row per subscription, however many periods it owes)."""
    subscription_id: int
    name: str
    charges: int
    period_start: date   # of the oldest outstanding charge
    period_end: date     # of the newest
    amount: Money


@dataclass(frozen=True)
class MethodBalance:
    """What is outstanding on one payment method (R07), counted and summed in the
    database, with one page of it per subscription."""
    method: PaymentMethod
    subscriptions: int
    charges: int
    total: Money
    rows: Page[SubscriptionBalance]


@dataclass(frozen=True)
class SettlementPreview:
    """The settle page's read model: the same charges and total as `settlement_quote`
    (R04, R07, R08), summed by the database, with the subscriptions a page at a time,
    so the page stays complete (every subscription can be seen, the total is whole)
    and fast at any size."""
    failed_method: PaymentMethod
    chosen_method: PaymentMethod | None
    failed: MethodBalance
    chosen: MethodBalance | None
    currency: str

    @property
    def failed_method_total(self) -> Money:
        return self.failed.total

    @property
    def chosen_method_total(self) -> Money:
        return self.chosen.total if self.chosen else Money.zero(self.currency)

    @property
    def total(self) -> Money:
        return self.failed_method_total + self.chosen_method_total


# The settle page's and the receipt's queries are built once, here, with their
# values bound when they run: building a statement like these costs SQLAlchemy more
# (~0.15 ms) than SQLite takes to answer it.
_OWING = Subscription.outstanding_charges > 0  # R07: owes something on its method

# Per method: how many subscriptions owe, how many charges, how much in all — from the
# kept figures (a few rows per card, portal/figures.py), not from every subscription.
_METHOD_SUMS = (
    select(SubscriptionFigure.payment_method_id, func.sum(SubscriptionFigure.subscriptions),
           func.sum(SubscriptionFigure.outstanding_charges), func.sum(SubscriptionFigure.outstanding_minor))
    .where(SubscriptionFigure.account_id == bindparam("account_id"),
           SubscriptionFigure.payment_method_id.in_(bindparam("method_ids", expanding=True)),
           SubscriptionFigure.owing.is_(True))
    .group_by(SubscriptionFigure.payment_method_id))


def _balance_rows(page_ids, charges, mode: str):
    """One row per subscription in `page_ids` (a page of ids, from an index): its
    `charges` counted and summed, with the first and last period, in `mode`'s order."""
    return (select(Subscription.id, Subscription.name, func.count(Charge.id), func.min(Charge.period_start),
                   func.max(Charge.period_end), func.sum(Charge.amount_minor))
            .join(Charge, Charge.subscription_id == Subscription.id)
            .where(Subscription.id.in_(page_ids), charges)
            .group_by(Subscription.id, Subscription.name)
            .order_by(*BALANCE_ORDER.order_by(mode)))


# Both lists are in subscription id order, read by key: a page of an index, then only
# those subscriptions' charges.
BALANCE_ORDER = Keyset(Subscription.id, kinds=(int,))
_PAID_ORDER = Keyset(PaymentSubscription.subscription_id, kinds=(int,))


@dataclass(frozen=True)
class _BalanceList:
    """One of the two lists: which subscriptions (`ids`, a select of their ids, in
    `order`) and which of their charges are summed."""
    ids: object
    order: Keyset
    charges: object
    _built: dict = field(default_factory=dict, compare=False, repr=False)

    def statement(self, mode: str):
        """Built once per mode, values bound when it runs (see below)."""
        if mode not in self._built:
            page_ids = self.ids.where(*self.order.where(mode)).order_by(*self.order.order_by(mode)).limit(LIMIT)
            self._built[mode] = _balance_rows(page_ids, self.charges, mode)
        return self._built[mode]

    def bounded_count(self, mode: str | None):
        return self.order.bounded_count(self.ids, mode)


_OWING_ROWS = _BalanceList(
    select(Subscription.id).where(Subscription.payment_method_id == bindparam("method_id"), _OWING),
    BALANCE_ORDER, IS_OUTSTANDING)
_PAID_ROWS = _BalanceList(
    select(PaymentSubscription.subscription_id).where(PaymentSubscription.payment_id == bindparam("payment_id")),
    _PAID_ORDER, Charge.payment_id == bindparam("payment_id"))


def _page_of_balances(session: Session, rows: _BalanceList, params: dict, currency: str, count: int | None,
                      page: str | None, per_page: int) -> Page[SubscriptionBalance]:
    """A page of `rows`, by key (`page`: a paging token); `count`: the list's length
    when the caller keeps it (None: counted, up to paging.COUNT_BOUND)."""
    def fetch(mode: str, binds: dict) -> list[SubscriptionBalance]:
        return [SubscriptionBalance(sub_id, name, n, start, end, Money(int(amount), currency))
                for sub_id, name, n, start, end, amount in reader(session).execute(rows.statement(mode),
                                                                                    {**params, **binds})]

    def bounded(mode: str | None, binds: dict) -> int:
        return reader(session).scalar(rows.bounded_count(mode), {**params, **binds}) or 0

    return read_page(rows.order, rows.order.parse(page), fetch, lambda row: (row.subscription_id,),
                     per_page, bounded, total=count)


def paid_by(session: Session, payment, page: str | None = None, per_page: int = PAGE_SIZE) -> Page[SubscriptionBalance]:
    """A receipt: what a settlement paid, per subscription, a page at a time by key
    (how many it paid is counted up to paging.COUNT_BOUND, not over every charge)."""
    return _page_of_balances(session, _PAID_ROWS, {"payment_id": payment.id}, payment.currency, None, page, per_page)


def paid_in_part(session: Session, payment, shown: int) -> tuple[list[SubscriptionBalance], int, Money]:
    """A settlement's receipt PDF: the first `shown` subscriptions it paid, then how many
    more and for how much together — a receipt of 100,000 subscriptions names a page of
    them and sums the rest, instead of 2,000 pages nobody reads (issue 28; the receipt
    page in the portal lists every one, a page at a time)."""
    rows = list(paid_by(session, payment, None, shown))
    count, minor = session.execute(select(func.count(func.distinct(Charge.subscription_id)),
                                          func.coalesce(func.sum(Charge.amount_minor), 0))
                                   .where(*charges_of(payment.id))).one()
    rest = int(minor) - sum(row.amount.minor for row in rows)
    return rows, count - len(rows), Money(rest, payment.currency)


def settlement_preview(session: Session, subscription: Subscription, chosen_method: PaymentMethod | None,
                       page: str | None = None, chosen_page: str | None = None,
                       per_page: int = PAGE_SIZE) -> SettlementPreview:
    """What settling would charge (read only), in a constant number of queries."""
    failed_method = subscription.payment_method
    if failed_method is None:
        raise NotFound("payment method")
    currency = subscription.account.currency
    methods = [failed_method] + ([chosen_method] if chosen_method is not None
                                 and chosen_method.id != failed_method.id else [])
    # Summed from the kept figures, not from every subscription or charge.
    sums = {method_id: (int(subs), int(charges), int(amount)) for method_id, subs, charges, amount
            in reader(session).execute(_METHOD_SUMS, {"account_id": subscription.account_id,
                                              "method_ids": [m.id for m in methods]})}
    balances = []
    for method, number in zip(methods, (page, chosen_page)):
        subs, charges, amount = sums.get(method.id, (0, 0, 0))
        rows = _page_of_balances(session, _OWING_ROWS, {"method_id": method.id}, currency, subs, number, per_page)
        balances.append(MethodBalance(method, subs, charges, Money(amount, currency), rows))
    return SettlementPreview(failed_method, chosen_method, balances[0],
                             balances[1] if len(balances) > 1 else None, currency)


@dataclass(frozen=True)
class InvoiceQuote:
    profile: BillingProfile
    invoices: list[Invoice]
    currency: str

    @property
    def total(self) -> Money:
        """What is left to pay of them (B12: an invoice may be partly paid)."""
        return total((i.left for i in self.invoices), self.currency)


def open_invoices(session: Session, profile_id: int) -> list[Invoice]:
    return list(session.scalars(
        select(Invoice).where(Invoice.billing_profile_id == profile_id,
                              Invoice.status.in_((InvoiceStatus.DUE, InvoiceStatus.PAST_DUE)))
        .order_by(Invoice.due_on, Invoice.id)))


def invoice_quote(session: Session, profile: BillingProfile,
                  invoice_ids: list[int] | None = None) -> InvoiceQuote:
    """R20: the open invoices of the profile (or the given ones: B4's per-invoice Pay
    now). An id that is not an open invoice of this profile is NotFound."""
    invoices = open_invoices(session, profile.id)
    if invoice_ids is not None:
        by_id = {i.id: i for i in invoices}
        if not invoice_ids or any(i not in by_id for i in invoice_ids):
            raise NotFound("invoice")
        invoices = [by_id[i] for i in sorted(set(invoice_ids))]
    return InvoiceQuote(profile, invoices, profile.account.currency)
