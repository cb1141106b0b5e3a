"""Pause and resume a subscription (B21, issue 33 item 1), where the provider allows it
(SUBSCRIPTION_PAUSE=1). docs/subscriptions.md.

A pause stops the subscription's services from today on, without R12's countdown — so
it is refused while anything is past due (a pause must not stop the countdown on money
owed) — and nothing is billed for its days: the pause it is in now is
`Subscription.paused_on` (status paused), a past one a `PausedSpan`, both kept out of the
bill as B16's disabled stretches are (`paused_stretches`, read by the billing cycle on
both account kinds). What was owed from before stays owed: the month it paused in is
billed for the days before, as any month; a charge for them that fails makes it past due
(R01), which ends the pause that day (`end_pause`). Resuming makes it active again,
billed from that day, pro rata by day (B16's rule)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from collections import defaultdict

from sqlalchemy import select

from portal.billing.accounts import access, notify
from portal.billing.accounts.access import Action, Decision
from portal.billing.accounts.notify import refusals_audited
from portal.billing.accounts.subscriptions import subscription_of
from portal.billing.context import Billing
from portal.billing.transaction import lock_account, write_transaction
from portal.errors import Refused
from portal.models import PausedSpan, Subscription, SubscriptionStatus, User

# Why the state refuses a pause or a resume (the words: portal/wording/subscriptions.py).
PAUSE_OFF = "pause_off"                    # SUBSCRIPTION_PAUSE=0: the provider's setting
PAUSE_PAST_DUE = "pause_past_due"          # settle first: R12's countdown must run on
ALREADY_PAUSED = "already_paused"
PAUSE_NOT_RUNNING = "pause_not_running"    # disabled, deleted or ended
PAUSE_CANCEL_PLANNED = "pause_cancel_planned"  # cancelled at the period's end: undo that first
NOT_PAUSED = "not_paused"                  # nothing to resume
PAUSE_REASONS = frozenset({PAUSE_OFF, PAUSE_PAST_DUE, ALREADY_PAUSED, PAUSE_NOT_RUNNING, PAUSE_CANCEL_PLANNED,
                           NOT_PAUSED})


@dataclass(frozen=True)
class PauseChoice:
    pause: Decision
    resume: Decision
    today: date              # the day a pause or a resume takes effect


def why_not_pause(b: Billing, sub: Subscription) -> str | None:
    """The state's reason against pausing `sub` today, or None."""
    if not b.policy.customer_may_pause:
        return PAUSE_OFF
    if sub.status == SubscriptionStatus.PAST_DUE:
        return PAUSE_PAST_DUE
    if sub.status == SubscriptionStatus.PAUSED:
        return ALREADY_PAUSED
    if sub.status != SubscriptionStatus.ACTIVE:
        return PAUSE_NOT_RUNNING
    if sub.cancel_at is not None:
        return PAUSE_CANCEL_PLANNED
    return None


def why_not_resume(b: Billing, sub: Subscription) -> str | None:
    """The state's reason against resuming, or None. Not the provider's setting: one
    paused before the setting was turned off can always be resumed (never stuck)."""
    return None if sub.status == SubscriptionStatus.PAUSED else NOT_PAUSED


def choice(b: Billing, user: User, sub: Subscription) -> PauseChoice:
    role = access.decide(b.session, user, sub.account, Action.MANAGE_SUBSCRIPTIONS, sub.billing_profile_id)

    def decided(reason: str | None) -> Decision:
        return role if not role else Decision(reason is None, reason)

    return PauseChoice(pause=decided(why_not_pause(b, sub)), resume=decided(why_not_resume(b, sub)),
                       today=b.clock.today())


def _payload(sub: Subscription, **days: date) -> dict:
    return {"subscription_id": sub.id, "subscription": sub.name, **{k: v.isoformat() for k, v in days.items()}}


def _locked(b: Billing, user: User, sub: Subscription, why_not) -> None:
    lock_account(b.session, sub.account_id)
    b.session.refresh(sub)
    access.require(b.session, user, sub.account, Action.MANAGE_SUBSCRIPTIONS, sub.billing_profile_id)
    reason = why_not(b, sub)
    if reason is not None:
        raise Refused(reason, status=409)


@refusals_audited
def pause(b: Billing, user: User, account_id: int, subscription_id: int) -> Subscription:
    """Pause from today: services stop, nothing is billed from today until resumed;
    audited and told to the billing address (Refused with the state's reason,
    NotAuthorized for the role's)."""
    sub = subscription_of(b, user, account_id, subscription_id)
    with write_transaction(b.session):
        _locked(b, user, sub, why_not_pause)
        today = b.clock.today()
        sub.status, sub.paused_on = SubscriptionStatus.PAUSED, today
        payload = _payload(sub, paused_on=today)
        notify.audit(b.session, b.clock, "subscription.paused", account_id=sub.account_id, actor=user,
                     profile_id=sub.billing_profile_id, **payload)
        notify.queue_email(b.session, b.clock, sub.account, "subscription_paused", payload)
    return sub


def end_pause(b: Billing, sub: Subscription, day: date) -> None:
    """The pause `sub` is in ends on `day` (its first day billed again): written down as
    a PausedSpan. The caller sets the status (active when resumed, past due when a
    charge for the days before failed, disabled by the provider)."""
    if sub.paused_on is not None:
        b.session.add(PausedSpan(subscription_id=sub.id, paused_on=sub.paused_on, resumed_on=day))
        sub.paused_on = None


@refusals_audited
def resume(b: Billing, user: User, account_id: int, subscription_id: int) -> Subscription:
    """Active again from today, and billed from today (pro rata by day)."""
    sub = subscription_of(b, user, account_id, subscription_id)
    with write_transaction(b.session):
        _locked(b, user, sub, why_not_resume)
        today = b.clock.today()
        payload = _payload(sub, paused_on=sub.paused_on or today, resumed_on=today)
        end_pause(b, sub, today)
        sub.status = SubscriptionStatus.ACTIVE
        notify.audit(b.session, b.clock, "subscription.resumed", account_id=sub.account_id, actor=user,
                     profile_id=sub.billing_profile_id, **payload)
        notify.queue_email(b.session, b.clock, sub.account, "subscription_resumed", payload)
    return sub


def paused_stretches(b: Billing, sub: Subscription, period_start: date) -> list[tuple[date, date | None]]:
    """B21: the pauses of `sub` that reach into the month from `period_start` on, as
    (paused_on, resumed_on) — the shape of lifecycle.disabled_stretches, for
    periods.enabled_parts: past ones (PausedSpan) and the one it is in now (None)."""
    stretches: list[tuple[date, date | None]] = [(off, on) for off, on in b.session.execute(
        select(PausedSpan.paused_on, PausedSpan.resumed_on).where(
            PausedSpan.subscription_id == sub.id, PausedSpan.resumed_on > period_start))]
    if sub.paused_on is not None:
        stretches.append((sub.paused_on, None))
    return stretches


def profile_pauses(b: Billing, profile_id: int, period_start: date,
                   subs: list[Subscription]) -> dict[int, list[tuple[date, date | None]]]:
    """`paused_stretches` of a billing profile's subscriptions `subs`, in one query for
    them all (an invoice's many subscriptions: no query per subscription)."""
    found: dict[int, list[tuple[date, date | None]]] = defaultdict(list)
    for sub_id, off, on in b.session.execute(
            select(PausedSpan.subscription_id, PausedSpan.paused_on, PausedSpan.resumed_on)
            .join(Subscription, Subscription.id == PausedSpan.subscription_id)
            .where(Subscription.billing_profile_id == profile_id, PausedSpan.resumed_on > period_start)):
        found[sub_id].append((off, on))
    for sub in subs:
        if sub.paused_on is not None:
            found[sub.id].append((sub.paused_on, None))
    return found
