"""Change a subscription's plan (issue 33 item 1, B24) — and the price-change rule the
provider's API shares with it: a subscription's monthly price changes from the first
day of a month not billed yet (`check_price_from`).

A month is billed at the price its subscription has when the cycle bills it (after the
month has ended), so a new price set today is the price of every month from the first
one not billed yet: this month. The customer's plans are the provider's setting
SUBSCRIPTION_PLANS (name and monthly price); a subscription is on the plan whose price it
has. Allowed only with SUBSCRIPTION_PLAN_CHANGES=1. docs/subscriptions.md."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from portal.billing.accounts import access, notify
from portal.billing.accounts.access import Action, Decision
from portal.billing.accounts.notify import refusals_audited
from portal.billing.accounts.subscriptions import PAST_DUE, NOT_RUNNING, subscription_of
from portal.billing.context import Billing
from portal.billing.periods import previous_month
from portal.billing.transaction import lock_account, write_transaction
from portal.errors import Refused
from portal.money import Money
from portal.models import BilledPeriod, Charge, Invoice, Subscription, SubscriptionStatus, User

# Why the state refuses a plan change (the words: portal/wording/subscriptions.py).
PLAN_CHANGES_OFF = "plan_changes_off"       # SUBSCRIPTION_PLAN_CHANGES=0, or no other plan listed
PLAN_NOT_OFFERED = "plan_not_offered"       # a name not among SUBSCRIPTION_PLANS, or its own plan
LAST_MONTH_NOT_BILLED = "last_month_not_billed"  # the cycle has not billed last month yet
PERIOD_BILLED = "period_billed"             # the month is billed already (the API's rule)
PLAN_REASONS = frozenset({PLAN_CHANGES_OFF, PLAN_NOT_OFFERED, LAST_MONTH_NOT_BILLED, PERIOD_BILLED})


def billed_from(b: Billing, sub: Subscription, start: date) -> bool:
    """Has a charge or invoice for `sub` been made for a month from `start` on?"""
    if sub.billing_profile_id is None:
        return b.session.scalar(select(Charge.id).where(Charge.subscription_id == sub.id,
                                                        Charge.period_end >= start).limit(1)) is not None
    return b.session.scalar(select(Invoice.id).where(Invoice.billing_profile_id == sub.billing_profile_id,
                                                     Invoice.period_end >= start).limit(1)) is not None


def check_price_from(b: Billing, sub: Subscription, start: date) -> None:
    """The price-change rule, for the API and the customer alike: a new price applies
    from the first day of a month, and only to months not billed yet."""
    if start.day != 1:
        raise Refused("price_from_not_month_start", "a price changes from the first day of a month")
    if billed_from(b, sub, start):
        raise Refused(PERIOD_BILLED, f"the month of {start} is billed already", status=409)


@dataclass(frozen=True)
class Plan:
    name: str
    fee: Money


@dataclass(frozen=True)
class PlanChoice:
    current: Plan | None     # the listed plan with the subscription's price, if any
    offered: list[Plan]      # the others
    price_from: date         # the first day the new price applies
    decision: Decision


def _plans(b: Billing, currency: str) -> list[Plan]:
    return [Plan(name, Money(minor, currency)) for name, minor in b.policy.plans]


def price_from(b: Billing) -> date:
    """The first day of the first month not billed yet: this month (billed after it ends)."""
    return b.clock.today().replace(day=1)


def why_not_change(b: Billing, sub: Subscription, plan: str | None = None) -> str | None:
    """The state's reason against changing to `plan` (any offered one when None), or None."""
    others = [name for name, minor in b.policy.plans if minor != sub.monthly_fee_minor]
    if not b.policy.customer_may_change_plan or not others:
        return PLAN_CHANGES_OFF
    if sub.status == SubscriptionStatus.PAST_DUE:
        return PAST_DUE
    if sub.status != SubscriptionStatus.ACTIVE:
        return NOT_RUNNING
    if plan is not None and plan not in others:
        return PLAN_NOT_OFFERED
    last = b.session.scalar(select(func.max(BilledPeriod.period_start)))
    if last is not None and last < previous_month(b.clock.today())[0]:
        return LAST_MONTH_NOT_BILLED  # last month would be billed at the new price too
    if billed_from(b, sub, price_from(b)):
        return PERIOD_BILLED
    return None


def choice(b: Billing, user: User, sub: Subscription) -> PlanChoice:
    role = access.decide(b.session, user, sub.account, Action.MANAGE_SUBSCRIPTIONS, sub.billing_profile_id)
    plans = _plans(b, sub.account.currency)
    reason = why_not_change(b, sub)
    return PlanChoice(current=next((p for p in plans if p.fee.minor == sub.monthly_fee_minor), None),
                      offered=[p for p in plans if p.fee.minor != sub.monthly_fee_minor],
                      price_from=price_from(b), decision=role if not role else Decision(reason is None, reason))


@refusals_audited
def change_plan(b: Billing, user: User, account_id: int, subscription_id: int, plan: str) -> Subscription:
    """Move the subscription to `plan`: its price from the first day of this month,
    audited and told to the billing address (Refused with the state's reason,
    NotAuthorized for the role's)."""
    sub = subscription_of(b, user, account_id, subscription_id)
    with write_transaction(b.session):
        lock_account(b.session, sub.account_id)
        b.session.refresh(sub)
        access.require(b.session, user, sub.account, Action.MANAGE_SUBSCRIPTIONS, sub.billing_profile_id)
        reason = why_not_change(b, sub, plan)
        if reason is not None:
            raise Refused(reason, status=409)
        start = price_from(b)
        check_price_from(b, sub, start)
        old = next((name for name, minor in b.policy.plans if minor == sub.monthly_fee_minor), "")
        new_minor = dict(b.policy.plans)[plan]
        payload = {"subscription_id": sub.id, "subscription": sub.name, "old_plan": old, "plan": plan,
                   "old_amount_minor": sub.monthly_fee_minor, "amount_minor": new_minor,
                   "currency": sub.account.currency, "price_from": start.isoformat()}
        sub.monthly_fee_minor = new_minor
        notify.audit(b.session, b.clock, "subscription.plan_changed", account_id=sub.account_id, actor=user,
                     profile_id=sub.billing_profile_id, **payload)
        notify.queue_email(b.session, b.clock, sub.account, "subscription_plan_changed", payload)
    return sub
