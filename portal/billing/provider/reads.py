"""What the provider reads (issue 32): lists a page at a time by key — `id > after`,
in id order, `limit` rows, never OFFSET, so a page costs the same at any depth — and
`updated_since`: rows changed at or after then. Rows that change carry `updated_at`
(portal/models/changes.py: set by every write); rows written once (usage lines,
payments, events, transfers to review) their creation time. One invoice, the credit
balance, and issuing a period's invoices with the billing cycle's own code.

The filter is a condition beside the key's, so paging stays correct with it: each page
is the next `limit` rows in id order that fit it. It has no index of its own (a
settlement rewrites 100,000 subscriptions: issue 28); the lists of an account's rows
read within that account's rows."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from portal.billing.accounts import credit
from portal.billing.context import Billing
from portal.billing.cycle.invoices import generate_invoices
from portal.billing.cycle.lifecycle import bill_subscriptions
from portal.billing.provider.catalog import account
from portal.errors import NotFound, Refused
from portal.money import Money
from portal.models import (BillingAccount, BillingProfile, Invitation, Invoice, Payment, RoleAssignment, Subscription,
                           TransferToReview, UsageLine, WebhookDelivery, WebhookEvent)

MAX_LIMIT = 100


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_after: int | None  # pass as `after` for the next page; None: this is the last


def page(b: Billing, statement: Select, id_column, after: int | None, limit: int) -> Page:
    limit = max(1, min(limit, MAX_LIMIT))
    if after is not None:
        statement = statement.where(id_column > after)
    rows = list(b.session.scalars(statement.order_by(id_column).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, rows[-1].id if more and rows else None)


def since(statement: Select, changed_at, updated_since: datetime | None) -> Select:
    """`statement`'s rows changed (`changed_at`: updated_at, or a creation time) at or after `updated_since`."""
    return statement if updated_since is None else statement.where(changed_at >= updated_since)


def accounts(b: Billing, after: int | None, limit: int, updated_since: datetime | None = None) -> Page:
    return page(b, since(select(BillingAccount), BillingAccount.updated_at, updated_since), BillingAccount.id,
                after, limit)


def profiles(b: Billing, account_id: int, after: int | None, limit: int, updated_since: datetime | None = None) -> Page:
    account(b, account_id)
    return page(b, since(select(BillingProfile).where(BillingProfile.account_id == account_id),
                         BillingProfile.updated_at, updated_since), BillingProfile.id, after, limit)


def subscriptions(b: Billing, account_id: int, after: int | None, limit: int,
                  updated_since: datetime | None = None) -> Page:
    """An account's subscriptions; changed since: filtered within the account's rows."""
    account(b, account_id)
    return page(b, since(select(Subscription).where(Subscription.account_id == account_id),
                         Subscription.updated_at, updated_since), Subscription.id, after, limit)


def roles(b: Billing, account_id: int, after: int | None, limit: int, updated_since: datetime | None = None) -> Page:
    """Who holds which role on the account or one of its profiles (the Access page's list)."""
    account(b, account_id)
    return page(b, since(select(RoleAssignment).where(RoleAssignment.account_id == account_id),
                         RoleAssignment.updated_at, updated_since)
                .options(joinedload(RoleAssignment.user)), RoleAssignment.id, after, limit)


def role(b: Billing, account_id: int, assignment_id: int) -> RoleAssignment:
    found = b.session.get(RoleAssignment, assignment_id)
    if found is None or found.account_id != account_id:
        raise NotFound("role assignment")
    return found


def invitations(b: Billing, account_id: int, after: int | None, limit: int,
                updated_since: datetime | None = None) -> Page:
    """The account's invitations, open and closed (accepted or withdrawn)."""
    account(b, account_id)
    return page(b, since(select(Invitation).where(Invitation.account_id == account_id), Invitation.updated_at,
                         updated_since), Invitation.id, after, limit)


def usage(b: Billing, subscription_id: int, after: int | None, limit: int, updated_since: datetime | None) -> Page:
    """A subscription's usage lines: written once, so changed when posted."""
    return page(b, since(select(UsageLine).where(UsageLine.subscription_id == subscription_id),
                         UsageLine.created_at, updated_since), UsageLine.id, after, limit)


def invoices(b: Billing, after: int | None, limit: int, updated_since: datetime | None,
             account_id: int | None = None) -> Page:
    """Invoices changed since `updated_since`: issued, paid in part or whole, credited, reminded…"""
    statement = select(Invoice)
    if account_id is not None:
        statement = statement.join(BillingProfile, BillingProfile.id == Invoice.billing_profile_id).where(
            BillingProfile.account_id == account_id)
    return page(b, since(statement, Invoice.updated_at, updated_since), Invoice.id, after, limit)


def invoice(b: Billing, invoice_id: int) -> Invoice:
    found = b.session.get(Invoice, invoice_id)
    if found is None:
        raise NotFound("invoice")
    return found


def payments(b: Billing, after: int | None, limit: int, updated_since: datetime | None,
             account_id: int | None = None) -> Page:
    """Payments since `updated_since`: a payment is written once and never changed (what
    happens to its money later is a credit entry), so its creation time is its change time."""
    statement = select(Payment)
    if account_id is not None:
        statement = statement.where(Payment.account_id == account_id)
    return page(b, since(statement, Payment.created_at, updated_since), Payment.id, after, limit)


def payment(b: Billing, payment_id: int) -> Payment:
    found = b.session.get(Payment, payment_id)
    if found is None:
        raise NotFound("payment")
    return found


def transfers_to_review(b: Billing, after: int | None, limit: int, updated_since: datetime | None) -> Page:
    """Unsettled transfers (a settled one leaves the list): unchanged while listed."""
    statement = select(TransferToReview).where(TransferToReview.settled_at.is_(None))
    return page(b, since(statement, TransferToReview.created_at, updated_since), TransferToReview.id, after, limit)


def credit_balance(b: Billing, account_id: int, profile_id: int | None = None) -> Money:
    owner = account(b, account_id)
    return credit.balance(b.session, owner.id, owner.currency, profile_id)


def events(b: Billing, after: int | None, limit: int, updated_since: datetime | None) -> Page:
    return page(b, since(select(WebhookEvent), WebhookEvent.created_at, updated_since), WebhookEvent.id, after, limit)


def deliveries(b: Billing, endpoint_id: int, after: int | None, limit: int,
               updated_since: datetime | None = None) -> Page:
    """An endpoint's delivery log; changed since: made, tried, sent, or replayed."""
    return page(b, since(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id),
                         WebhookDelivery.updated_at, updated_since), WebhookDelivery.id, after, limit)


def issue_period(b: Billing, period_start: date, period_end: date) -> tuple[int, int]:
    """The billing cycle's own code for one month, now: each customer agreement's
    invoice and each pay-as-you-go subscription's charge, once (a month billed stays
    billed, so asking again does nothing). (invoices issued, charges made)."""
    if period_start.day != 1 or period_end < period_start or (period_end.year, period_end.month) != (
            period_start.year, period_start.month):
        raise Refused("invalid_period", "a period is one calendar month: its first and last day")
    if period_start > b.clock.today():
        raise Refused("period_in_future", "a month is billed once it has begun")
    return generate_invoices(b, period_start, period_end), bill_subscriptions(b, period_start, period_end)


def at_midnight(day: date) -> datetime:
    return datetime.combine(day, time())
