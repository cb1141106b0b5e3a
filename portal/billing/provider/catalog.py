"""What the provider feeds the portal (issue 32): billing accounts (both kinds), billing
profiles, billing details, subscriptions and their usage. Each function runs inside
the caller's write transaction (idempotency.once opens it, with the stored answer)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import insert, select

from portal.billing.accounts import notify, pauses, plans, subscriptions
from portal.billing.accounts.details import DetailsInput, checked, details_for
from portal.billing.context import Billing
from portal.billing.periods import month_end
from portal.billing.transaction import lock_account
from portal.billing.usage import rated
from portal.errors import NotFound, Refused
from portal.money import MAX_MINOR
from portal.models import (AccountKind, BillingAccount, BillingDetails, BillingProfile, Charge, Invoice,
                           Subscription, SubscriptionStatus, UsageLine)

MAX_USAGE_LINES = 1000  # a request's batch
MAX_SUBSCRIPTIONS = 1000  # a request's batch


def account(b: Billing, account_id: int) -> BillingAccount:
    found = b.session.get(BillingAccount, account_id)
    if found is None:
        raise NotFound("account")
    return found


def subscription(b: Billing, subscription_id: int) -> Subscription:
    found = b.session.get(Subscription, subscription_id)
    if found is None:
        raise NotFound("subscription")
    return found


def profile_of(b: Billing, account_id: int, profile_id: int) -> BillingProfile:
    found = b.session.get(BillingProfile, profile_id)
    if found is None or found.account_id != account_id:
        raise NotFound("billing_profile")
    return found


def create_account(b: Billing, kind: AccountKind, name: str, notification_email: str,
                   currency: str | None = None) -> BillingAccount:
    currency = currency or b.policy.currency
    if currency != b.policy.currency:
        raise Refused("unsupported_currency", f"this portal bills in {b.policy.currency}")
    created = BillingAccount(kind=kind, name=name, currency=currency, notification_email=notification_email,
                             created_on=b.clock.today())
    b.session.add(created)
    b.session.flush()
    return created


def create_profile(b: Billing, account_id: int, name: str) -> BillingProfile:
    owner = account(b, account_id)
    if owner.kind != AccountKind.CUSTOMER_AGREEMENT:
        raise Refused("wrong_account_kind", "billing profiles belong to customer-agreement accounts")
    created = BillingProfile(account_id=owner.id, name=name)
    b.session.add(created)
    b.session.flush()
    return created


def put_details(b: Billing, account_id: int, profile_id: int | None, values: DetailsInput) -> BillingDetails:
    """B7's details, checked by the same rules as the page (details.checked); audited
    with no person as the actor."""
    owner = account(b, account_id)
    if (profile_id is None) != (owner.kind == AccountKind.PAY_AS_YOU_GO):
        raise Refused("wrong_account_kind", "pay-as-you-go accounts have details per account, customer "
                                            "agreements per billing profile")
    if profile_id is not None:
        profile_of(b, account_id, profile_id)
    clean = checked(values)
    lock_account(b.session, owner.id)
    details = details_for(b.session, owner.id, profile_id)
    if details is None:
        details = BillingDetails(account_id=owner.id, billing_profile_id=profile_id, **clean, updated_at=b.clock.now())
        b.session.add(details)
    else:
        for name, value in clean.items():
            setattr(details, name, value)
        details.updated_at = b.clock.now()
    b.session.flush()
    notify.audit(b.session, b.clock, "billing_details.changed", account_id=owner.id, profile_id=profile_id,
                 changed=sorted(clean), company_name=clean["company_name"])
    return details


def _check_profile_rule(owner: BillingAccount, billing_profile_id: int | None) -> None:
    """R14: a customer agreement's subscription belongs to one of its profiles; a
    pay-as-you-go one to none."""
    if owner.kind == AccountKind.CUSTOMER_AGREEMENT and billing_profile_id is None:
        raise Refused("billing_profile_required", "a customer agreement's subscription belongs to a profile")
    if owner.kind != AccountKind.CUSTOMER_AGREEMENT and billing_profile_id is not None:
        raise Refused("wrong_account_kind", "a pay-as-you-go subscription has no billing profile")


def create_subscription(b: Billing, account_id: int, name: str, monthly_fee_minor: int, started_on: date,
                        billing_profile_id: int | None = None) -> Subscription:
    return create_subscriptions(b, account_id, [NewSubscription(name, monthly_fee_minor, started_on,
                                                                billing_profile_id)])[0]


@dataclass(frozen=True)
class NewSubscription:
    name: str
    monthly_fee_minor: int
    started_on: date
    billing_profile_id: int | None = None


def create_subscriptions(b: Billing, account_id: int, wanted: list[NewSubscription]) -> list[Subscription]:
    """Subscriptions of one account, in the order given, in one INSERT whatever their
    number (up to MAX_SUBSCRIPTIONS a request: a reseller's 100,000 in a minute). The
    rules are checked for all before any is written: one refused, none created."""
    if not 1 <= len(wanted) <= MAX_SUBSCRIPTIONS:
        raise Refused("batch_size", f"1 to {MAX_SUBSCRIPTIONS:,} subscriptions a request")
    owner = account(b, account_id)
    for new in wanted:
        _check_profile_rule(owner, new.billing_profile_id)
        _check_minor(new.monthly_fee_minor)
    named = {new.billing_profile_id for new in wanted} - {None}
    if named - set(b.session.scalars(select(BillingProfile.id).where(
            BillingProfile.account_id == owner.id, BillingProfile.id.in_(named)))):
        raise NotFound("billing_profile")
    return list(b.session.scalars(insert(Subscription).returning(Subscription, sort_by_parameter_order=True), [
        {"account_id": owner.id, "billing_profile_id": new.billing_profile_id, "name": new.name,
         "status": SubscriptionStatus.ACTIVE, "monthly_fee_minor": new.monthly_fee_minor,
         "started_on": new.started_on} for new in wanted]))


@dataclass(frozen=True)
class SubscriptionChange:
    name: str | None = None
    monthly_fee_minor: int | None = None
    price_from: date | None = None      # the first day of a month not billed yet
    cancel_on: date | None = None       # disabled from this day (R12: deleted after DELETION_AFTER_DAYS)
    cancel_at: date | None = None       # B21: a planned end, a later day (accounts/subscriptions.py)


def change_subscription(b: Billing, subscription_id: int, change: SubscriptionChange) -> Subscription:
    sub = subscription(b, subscription_id)
    lock_account(b.session, sub.account_id)
    if sub.status == SubscriptionStatus.DELETED:
        raise Refused("subscription_deleted", "a deleted subscription cannot change", status=409)
    if change.name is not None:
        sub.name = change.name
    if change.monthly_fee_minor is not None:
        _check_minor(change.monthly_fee_minor)
        plans.check_price_from(b, sub, change.price_from or plans.price_from(b))  # the customer's rule too
        sub.monthly_fee_minor = change.monthly_fee_minor
    if change.cancel_on is not None:
        _cancel(b, sub, change.cancel_on)
    if change.cancel_at is not None:
        if change.cancel_at <= b.clock.today():
            raise Refused("cancel_at_not_in_future", "plan an end on a later day; cancel_on ends it now")
        if sub.status not in (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE):
            raise Refused("subscription_not_running", "only a running subscription can be cancelled", status=409)
        subscriptions.schedule_cancel(b, sub, change.cancel_at)  # as the customer's Cancel at period end
    b.session.flush()
    return sub


def _cancel(b: Billing, sub: Subscription, day: date) -> None:
    """Cancelled on `day` (today or earlier): disabled from it, its deletion date
    following by R12 (the billing cycle deletes it then). Its balance stays owed."""
    if day > b.clock.today():
        raise Refused("cancel_on_in_future", "cancel on today or an earlier day; ask again on the day")
    if day < sub.started_on:
        raise Refused("cancel_before_start", "a subscription cannot end before it started")
    if sub.status == SubscriptionStatus.DISABLED:
        return
    if sub.paused_on is not None:  # B21: the pause ends where the disabled days begin
        pauses.end_pause(b, sub, max(day, sub.paused_on))
    sub.status, sub.disabled_on = SubscriptionStatus.DISABLED, day
    payload = {"subscription_id": sub.id, "subscription": sub.name,
               "delete_on": b.policy.deletion_date(day).isoformat()}
    notify.queue_email(b.session, b.clock, sub.account, "subscription_disabled", payload)
    notify.audit(b.session, b.clock, "subscription.disabled", account_id=sub.account_id, **payload)


@dataclass(frozen=True)
class Usage:
    period_start: date
    period_end: date
    quantity: Decimal
    unit: str
    unit_price_minor: int
    description: str


def post_usage(b: Billing, subscription_id: int, lines: list[Usage]) -> list[dict]:
    """What the subscription used, rated now; billed with its month (a month already
    billed is refused: its charge or invoice is final)."""
    sub = subscription(b, subscription_id)
    if not 1 <= len(lines) <= MAX_USAGE_LINES:
        raise Refused("batch_size", f"1 to {MAX_USAGE_LINES} lines a request")
    lock_account(b.session, sub.account_id)
    now, checked_months = b.clock.now(), set()
    rows = []
    for line in lines:
        if not line.period_start <= line.period_end <= month_end(line.period_start):
            raise Refused("period_not_in_one_month", "a usage line's period lies within one calendar month")
        if line.quantity <= 0 or line.quantity.as_tuple().exponent < -6:
            raise Refused("invalid_quantity", "a positive quantity with at most 6 decimals")
        _check_minor(line.unit_price_minor)
        month = line.period_start.replace(day=1)
        if month not in checked_months:
            if _billed_month(b, sub, month):
                raise Refused("period_billed", f"the month of {month} is billed already", status=409)
            checked_months.add(month)
        amount = rated(line.quantity, line.unit_price_minor)
        _check_minor(amount)
        rows.append({"subscription_id": sub.id, "period_start": line.period_start, "period_end": line.period_end,
                     "quantity": str(line.quantity), "unit": line.unit, "unit_price_minor": line.unit_price_minor,
                     "amount_minor": amount, "description": line.description, "created_at": now})
    # One INSERT … RETURNING for the batch (no ORM object a line: a batch of 1,000 is the bulk path).
    ids = b.session.scalars(insert(UsageLine).returning(UsageLine.id, sort_by_parameter_order=True), rows).all()
    return [{**row, "id": id_} for row, id_ in zip(rows, ids)]


def _billed_month(b: Billing, sub: Subscription, month: date) -> bool:
    if sub.billing_profile_id is None:
        return b.session.scalar(select(Charge.id).where(Charge.subscription_id == sub.id,
                                                        Charge.period_start.between(month, month_end(month)))
                                .limit(1)) is not None
    return b.session.scalar(select(Invoice.id).where(Invoice.billing_profile_id == sub.billing_profile_id,
                                                     Invoice.period_start == month).limit(1)) is not None


def _check_minor(value: int) -> None:
    if not 0 <= value <= MAX_MINOR:
        raise Refused("invalid_amount", f"an amount of 0 to {MAX_MINOR} minor units")
