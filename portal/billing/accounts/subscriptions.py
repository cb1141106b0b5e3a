"""A subscription as its customer sees and manages it (issue 33 item 1): its page's
read model (status, price, what it used this month, its card, its R12 dates) and
**cancel at the end of the period** / **undo the cancellation**, each refused with a
reason where it is not allowed — the person's role, a past-due balance, the
provider's setting. How a cancellation is stored and ended: docs/subscriptions.md.

A cancellation is `Subscription.cancel_at`, the first day it is no longer in service;
the billing cycle ends it that day (`end_cancelled`: status cancelled — not disabled,
nothing is owed for it) and bills no day from it on (cycle/lifecycle.py,
cycle/invoices.py). The provider's API plans one through `schedule_cancel` too."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from portal.billing import ids
from portal.billing.accounts import access, notify
from portal.billing.accounts.access import Action, Decision
from portal.billing.accounts.notify import refusals_audited
from portal.billing.periods import month_of
from portal.billing.context import Billing
from portal.billing.transaction import lock_account, write_transaction
from portal.billing.usage import usage_summaries
from portal.errors import NotFound, Refused
from portal.money import Money
from portal.models import Subscription, SubscriptionStatus, User

# Why the state refuses an action (the roles' reasons are access.decide's); the words
# are portal/wording/subscriptions.py's SUBSCRIPTION_REFUSAL.
PAST_DUE = "past_due"                  # settle the balance first
NOT_RUNNING = "not_running"            # disabled, deleted or ended already
ALREADY_CANCELLED = "already_cancelled"
NOT_CANCELLED = "not_cancelled"        # nothing to undo (or it has ended)
PROVIDER_SETTING = "provider_setting"  # SUBSCRIPTION_CANCEL=0
PAUSED = "paused"                      # B21: resume it first
STATE_REASONS = frozenset({PAST_DUE, NOT_RUNNING, ALREADY_CANCELLED, NOT_CANCELLED, PROVIDER_SETTING, PAUSED})


@dataclass(frozen=True)
class SubscriptionDetail:
    subscription: Subscription
    fee: Money                 # a month's price
    used: Money                # usage posted for this month so far (issue 32)
    used_lines: int            # … in so many lines (usage.lines_page lists them)
    month: tuple[date, date]   # this month
    disable_on: date | None    # R12, while past due
    delete_on: date | None     # R12, while disabled
    last_day: date | None      # the last day in service of a cancelled one (planned or done)
    ends_on: date              # the last day in service of one cancelled today
    cancel: Decision
    undo: Decision


def subscription_of(b: Billing, user: User, account_id: int, subscription_id: int) -> Subscription:
    """A subscription of an account the user is a member of; any other id is NotFound."""
    account = access.get_account(b.session, user, account_id)
    sub = ids.get(b.session, Subscription, subscription_id)
    if sub is None or sub.account_id != account.id:
        raise NotFound("subscription")
    return sub


def _role(b: Billing, user: User, sub: Subscription) -> Decision:
    return access.decide(b.session, user, sub.account, Action.MANAGE_SUBSCRIPTIONS, sub.billing_profile_id)


def why_not_cancel(b: Billing, sub: Subscription) -> str | None:
    """The state's reason against cancelling at the end of the period, or None."""
    if not b.policy.customer_may_cancel:
        return PROVIDER_SETTING
    if sub.status == SubscriptionStatus.PAST_DUE:
        return PAST_DUE
    if sub.status == SubscriptionStatus.PAUSED:
        return PAUSED
    if sub.status != SubscriptionStatus.ACTIVE:
        return NOT_RUNNING
    if sub.cancel_at is not None:
        return ALREADY_CANCELLED
    return None


def why_not_undo(b: Billing, sub: Subscription) -> str | None:
    """The state's reason against undoing a cancellation, or None: possible until the
    day it takes effect, past due or not (keeping a subscription needs no settling)."""
    if not b.policy.customer_may_cancel:
        return PROVIDER_SETTING
    if (sub.cancel_at is None or sub.cancel_at <= b.clock.today()
            or sub.status not in (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)):
        return NOT_CANCELLED
    return None


def _decision(role: Decision, reason: str | None) -> Decision:
    return role if not role else Decision(reason is None, reason)


def detail(b: Billing, user: User, account_id: int, subscription_id: int) -> SubscriptionDetail:
    sub = subscription_of(b, user, account_id, subscription_id)
    today, currency = b.clock.today(), sub.account.currency
    month = month_of(today)
    role = _role(b, user, sub)
    summary = usage_summaries(b.session, [sub.id], *month, currency).get(sub.id)
    return SubscriptionDetail(
        subscription=sub, fee=Money(sub.monthly_fee_minor, currency),
        used=summary.amount if summary else Money(0, currency), used_lines=summary.lines if summary else 0,
        month=month,
        disable_on=b.policy.disable_date(sub.past_due_since)
        if sub.status == SubscriptionStatus.PAST_DUE and sub.past_due_since else None,
        delete_on=b.policy.deletion_date(sub.disabled_on)
        if sub.status == SubscriptionStatus.DISABLED and sub.disabled_on else None,
        last_day=sub.cancel_at - timedelta(days=1) if sub.cancel_at else None,
        ends_on=b.policy.cancel_date(today) - timedelta(days=1),
        cancel=_decision(role, why_not_cancel(b, sub)), undo=_decision(role, why_not_undo(b, sub)))


def _payload(sub: Subscription) -> dict:
    return {"subscription_id": sub.id, "subscription": sub.name, "cancel_at": sub.cancel_at.isoformat(),
            "last_day": (sub.cancel_at - timedelta(days=1)).isoformat()}


def schedule_cancel(b: Billing, sub: Subscription, day: date, actor: User | None = None) -> None:
    """Plan the end of `sub` on `day` (its first day out of service), in the caller's
    transaction under the account's lock: audited and told to the billing address."""
    sub.cancel_at = day
    payload = _payload(sub)
    notify.audit(b.session, b.clock, "subscription.cancel_planned", account_id=sub.account_id, actor=actor,
                 profile_id=sub.billing_profile_id, **payload)
    notify.queue_email(b.session, b.clock, sub.account, "subscription_cancel_planned", payload)


def _locked_and_allowed(b: Billing, user: User, sub: Subscription, why_not) -> None:
    """Under the account's lock, the subscription as it is now: the role may manage it
    (NotAuthorized) and `why_not` finds no reason against it (Refused, 409)."""
    lock_account(b.session, sub.account_id)
    b.session.refresh(sub)
    access.require(b.session, user, sub.account, Action.MANAGE_SUBSCRIPTIONS, sub.billing_profile_id)
    reason = why_not(b, sub)
    if reason is not None:
        raise Refused(reason, status=409)


@refusals_audited
def cancel_at_period_end(b: Billing, user: User, account_id: int, subscription_id: int) -> Subscription:
    """Cancel at the end of this month: it runs, and is billed, through its last day,
    then ends (Refused with the state's reason; NotAuthorized for the role's)."""
    sub = subscription_of(b, user, account_id, subscription_id)
    with write_transaction(b.session):
        _locked_and_allowed(b, user, sub, why_not_cancel)
        schedule_cancel(b, sub, b.policy.cancel_date(b.clock.today()), user)
    return sub


@refusals_audited
def undo_cancellation(b: Billing, user: User, account_id: int, subscription_id: int) -> Subscription:
    """The subscription keeps running (and being billed) as if never cancelled."""
    sub = subscription_of(b, user, account_id, subscription_id)
    with write_transaction(b.session):
        _locked_and_allowed(b, user, sub, why_not_undo)
        payload = _payload(sub)
        sub.cancel_at = None
        notify.audit(b.session, b.clock, "subscription.cancel_undone", account_id=sub.account_id, actor=user,
                     profile_id=sub.billing_profile_id, **payload)
        notify.queue_email(b.session, b.clock, sub.account, "subscription_cancel_undone", payload)
    return sub


def end_cancelled(b: Billing, today: date) -> int:
    """The billing cycle: each running subscription whose cancel_at has come ends
    (status cancelled). One past due keeps R12's course until settled, then ends on
    the next run (its balance is owed either way)."""
    with write_transaction(b.session):
        ended = 0
        for sub in b.session.scalars(select(Subscription).where(
                Subscription.status == SubscriptionStatus.ACTIVE, Subscription.cancel_at <= today)):
            sub.status = SubscriptionStatus.CANCELLED
            ended += 1
            notify.audit(b.session, b.clock, "subscription.cancelled", account_id=sub.account_id,
                         profile_id=sub.billing_profile_id, **_payload(sub))
        return ended
