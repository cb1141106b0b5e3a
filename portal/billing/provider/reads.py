"""What the provider reads (issue 32): lists a page at a time by key — `id > after`,
in id order, `limit` rows, never OFFSET, so a page costs the same at any depth — with
`updated_since` where the rows carry a time; one invoice, the credit balance, and
issuing a period's invoices with the billing cycle's own code."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Select, or_, select
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


def _since(day_or_time: datetime | None) -> datetime | None:
    return day_or_time


def accounts(b: Billing, after: int | None, limit: int, updated_since: datetime | None) -> Page:
    statement = select(BillingAccount)
    if updated_since is not None:
        statement = statement.where(BillingAccount.created_on >= updated_since.date())
    return page(b, statement, BillingAccount.id, after, limit)


def profiles(b: Billing, account_id: int, after: int | None, limit: int) -> Page:
    account(b, account_id)
    return page(b, select(BillingProfile).where(BillingProfile.account_id == account_id), BillingProfile.id,
                after, limit)


def subscriptions(b: Billing, account_id: int, after: int | None, limit: int) -> Page:
    account(b, account_id)
    return page(b, select(Subscription).where(Subscription.account_id == account_id), Subscription.id,
                after, limit)


def roles(b: Billing, account_id: int, after: int | None, limit: int) -> Page:
    """Who holds which role on the account or one of its profiles (the Access page's list)."""
    account(b, account_id)
    return page(b, select(RoleAssignment).where(RoleAssignment.account_id == account_id)
                .options(joinedload(RoleAssignment.user)), RoleAssignment.id, after, limit)


def role(b: Billing, account_id: int, assignment_id: int) -> RoleAssignment:
    found = b.session.get(RoleAssignment, assignment_id)
    if found is None or found.account_id != account_id:
        raise NotFound("role assignment")
    return found


def invitations(b: Billing, account_id: int, after: int | None, limit: int) -> Page:
    """The account's invitations, open and closed (accepted or withdrawn)."""
    account(b, account_id)
    return page(b, select(Invitation).where(Invitation.account_id == account_id), Invitation.id, after, limit)


def usage(b: Billing, subscription_id: int, after: int | None, limit: int, updated_since: datetime | None) -> Page:
    statement = select(UsageLine).where(UsageLine.subscription_id == subscription_id)
    if updated_since is not None:
        statement = statement.where(UsageLine.created_at >= updated_since)
    return page(b, statement, UsageLine.id, after, limit)


def invoices(b: Billing, after: int | None, limit: int, updated_since: datetime | None,
             account_id: int | None = None) -> Page:
    """Invoices issued or paid since `updated_since` (their days are what changes)."""
    statement = select(Invoice)
    if account_id is not None:
        statement = statement.join(BillingProfile, BillingProfile.id == Invoice.billing_profile_id).where(
            BillingProfile.account_id == account_id)
    if updated_since is not None:
        day = updated_since.date()
        statement = statement.where(or_(Invoice.issued_on >= day, Invoice.paid_on >= day))
    return page(b, statement, Invoice.id, after, limit)


def invoice(b: Billing, invoice_id: int) -> Invoice:
    found = b.session.get(Invoice, invoice_id)
    if found is None:
        raise NotFound("invoice")
    return found


def payments(b: Billing, after: int | None, limit: int, updated_since: datetime | None,
             account_id: int | None = None) -> Page:
    statement = select(Payment)
    if account_id is not None:
        statement = statement.where(Payment.account_id == account_id)
    if updated_since is not None:
        statement = statement.where(Payment.created_at >= updated_since)
    return page(b, statement, Payment.id, after, limit)


def payment(b: Billing, payment_id: int) -> Payment:
    found = b.session.get(Payment, payment_id)
    if found is None:
        raise NotFound("payment")
    return found


def transfers_to_review(b: Billing, after: int | None, limit: int, updated_since: datetime | None) -> Page:
    statement = select(TransferToReview).where(TransferToReview.settled_at.is_(None))
    if updated_since is not None:
        statement = statement.where(TransferToReview.created_at >= updated_since)
    return page(b, statement, TransferToReview.id, after, limit)


def credit_balance(b: Billing, account_id: int, profile_id: int | None = None) -> Money:
    owner = account(b, account_id)
    return credit.balance(b.session, owner.id, owner.currency, profile_id)


def events(b: Billing, after: int | None, limit: int, updated_since: datetime | None) -> Page:
    statement = select(WebhookEvent)
    if updated_since is not None:
        statement = statement.where(WebhookEvent.created_at >= updated_since)
    return page(b, statement, WebhookEvent.id, after, limit)


def deliveries(b: Billing, endpoint_id: int, after: int | None, limit: int) -> Page:
    return page(b, select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id), WebhookDelivery.id,
                after, limit)


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
