"""B15: the credit balance's own history (issue 33 item 4) — how much there is now and,
entry by entry, where it came from (which payment's surplus) and where it went (the
invoice or charge it paid, or the refund), newest first, a page at a time by key
(portal/billing/paging.py), each with the balance after it. Also the credit movements
of a statement's period (portal/billing/accounts/statement.py).

Who sees it: those who see Payments — every member of a pay-as-you-go account; on a
customer agreement, the credit of the billing profiles the person has a role on (the
credit belongs to a profile, as the payments that made it do). Credit does not expire
(SPEC B15 names no expiry; docs/money-across-flows.md)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, func, select, tuple_

from portal.billing.accounts import access
from portal.billing.context import Billing
from portal.billing.paging import LIMIT, PAGE_SIZE, Keyset, Page, read_page
from portal.billing.transaction import reader
from portal.models import (AccountKind, BillingAccount, Charge, CreditEntry, Invoice, Subscription,
                           User)
from portal.money import Money


@dataclass(frozen=True)
class CreditRow:
    """One entry of the ledger as a person reads it."""
    id: int
    created_at: datetime
    kind: str                   # surplus (in), applied (out, to an invoice or a charge), refunded (out)
    reason: str                 # surplus: why; refunded: "card" or "bank"
    amount: Money               # signed: + into the balance, − out of it
    payment_id: int             # the payment whose money it is (its receipt)
    invoice_id: int | None      # applied to this invoice
    invoice_number: str | None
    charge_period: tuple[date, date] | None   # applied to this pay-as-you-go charge (its period) …
    subscription_name: str | None            # … of this subscription
    balance_after: Money | None = None


@dataclass(frozen=True)
class CreditHistory:
    balance: Money
    rows: Page[CreditRow]


# Newest first, read by the index credit_entries(account_id, created_at, id) either way.
CREDIT_ORDER = Keyset(CreditEntry.created_at, CreditEntry.id, kinds=(datetime, int), descending=True)


def visible(b: Billing, user: User, account: BillingAccount) -> list:
    """The entries `user` may see (as Payments shows payments)."""
    where = [CreditEntry.account_id == account.id]
    if account.kind == AccountKind.CUSTOMER_AGREEMENT:
        where.append(CreditEntry.billing_profile_id.in_(access.profiles_with_role(b.session, user, account)))
    return where


def balance_seen_by(b: Billing, user: User, account: BillingAccount) -> Money:
    """The credit balance `user` sees — on Overview, Payments and this history alike:
    the whole account's on pay-as-you-go, their profiles' on a customer agreement."""
    agreement, values = _visible_values(b, user, account)
    return Money(int(reader(b.session).scalar(_SUM_SEEN[agreement], values) or 0), account.currency)


def had_credit(b: Billing, user: User, account: BillingAccount) -> bool:
    """Whether there is or ever was credit the user may see: the history is linked then."""
    agreement, values = _visible_values(b, user, account)
    return reader(b.session).scalar(_ANY_SEEN[agreement], values) is not None


def _visible_values(b: Billing, user: User, account: BillingAccount) -> tuple[bool, dict]:
    """`visible` for the statements built once (Overview and Payments ask on every view):
    whether the profiles count (a customer agreement), and the values to bind."""
    agreement = account.kind == AccountKind.CUSTOMER_AGREEMENT
    return agreement, {"account_id": account.id,
                       "profile_ids": access.profiles_with_role(b.session, user, account) if agreement else []}


_SEEN = {agreement: [CreditEntry.account_id == bindparam("account_id"),
                     *([CreditEntry.billing_profile_id.in_(bindparam("profile_ids", expanding=True))]
                       if agreement else [])]
         for agreement in (False, True)}
_SUM_SEEN = {agreement: select(func.coalesce(func.sum(CreditEntry.amount_minor), 0)).where(*where)
             for agreement, where in _SEEN.items()}
_ANY_SEEN = {agreement: select(CreditEntry.id).where(*where).limit(1) for agreement, where in _SEEN.items()}


def _sum(b: Billing, where: list) -> int:
    return int(reader(b.session).scalar(select(func.coalesce(func.sum(CreditEntry.amount_minor), 0)).where(*where)) or 0)


def _columns():
    return (select(CreditEntry.id, CreditEntry.created_at, CreditEntry.kind, CreditEntry.reason,
                   CreditEntry.amount_minor, CreditEntry.currency, CreditEntry.payment_id, CreditEntry.invoice_id,
                   Invoice.number, Charge.period_start, Charge.period_end, Subscription.name)
            .outerjoin(Invoice, Invoice.id == CreditEntry.invoice_id)
            .outerjoin(Charge, Charge.id == CreditEntry.charge_id)
            .outerjoin(Subscription, Subscription.id == Charge.subscription_id))


def _row(r) -> CreditRow:
    period = (r.period_start, r.period_end) if r.period_start is not None else None
    return CreditRow(r.id, r.created_at, str(r.kind), r.reason, Money(int(r.amount_minor), r.currency),
                     r.payment_id, r.invoice_id, r.number, period, r.name)


def page_query(where: list, mode: str):
    """The statement of a page of entries (`mode`: first, last, after or before the key)."""
    return _columns().where(*where, *CREDIT_ORDER.where(mode)).order_by(*CREDIT_ORDER.order_by(mode)).limit(LIMIT)


def history(b: Billing, user: User, account_id: int, page: str | None = None,
            per_page: int = PAGE_SIZE) -> CreditHistory:
    """The credit the user may see now, and one page of its entries, newest first,
    each with what it came from or paid (in the same query) and the balance after it
    (one sum up to the page's newest entry, then back down the page)."""
    account = access.get_account(b.session, user, account_id)
    where = visible(b, user, account)

    def fetch(mode: str, binds: dict) -> list:
        return list(b.session.execute(page_query(where, mode), binds))

    def count(mode: str | None, binds: dict) -> int:
        return b.session.scalar(CREDIT_ORDER.bounded_count(select(CreditEntry.id).where(*where), mode), binds) or 0

    found = read_page(CREDIT_ORDER, CREDIT_ORDER.parse(page), fetch, lambda r: (r.created_at, r.id),
                      per_page, count)

    def rows(found_rows: list) -> list[CreditRow]:
        if not found_rows:
            return []
        newest = found_rows[0]
        after = _sum(b, [*where, tuple_(CreditEntry.created_at, CreditEntry.id) <= tuple_(newest.created_at,
                                                                                          newest.id)])
        result = []
        for r in found_rows:
            row = _row(r)
            result.append(CreditRow(**{**row.__dict__, "balance_after": Money(after, row.amount.currency)}))
            after -= row.amount.minor
        return result
    return CreditHistory(Money(_sum(b, where), account.currency), found.map(rows))


def movements(b: Billing, where: list, start: datetime, end: datetime, limit: int | None) -> tuple[list[CreditRow], int]:
    """A statement's credit movements: the entries `where` selects from `start` to
    `end` (naive UTC), oldest first (the first `limit`), and how many there are."""
    period = [*where, CreditEntry.created_at >= start, CreditEntry.created_at < end]
    count = b.session.scalar(select(func.count()).select_from(CreditEntry).where(*period)) or 0
    query = _columns().where(*period).order_by(CreditEntry.created_at, CreditEntry.id).limit(limit)
    return [_row(r) for r in b.session.execute(query)], int(count)
