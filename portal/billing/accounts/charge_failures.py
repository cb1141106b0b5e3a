"""R01: a pay-as-you-go charge that was not paid — its card declined, its transfer not
received, Autogiro not drawn (B23) — makes its subscription past due, and the account
administrator is told by email and by a notice. Shared by the billing cycle (cards,
transfers: cycle/lifecycle.py) and the Autogiro import (bank/autogiro_charges.py); who
tries again, and when, is the caller's (B14's card schedule, Autogiro's one retry)."""
from __future__ import annotations

from collections.abc import Callable

from portal.billing.accounts import notify, pauses
from portal.billing.context import Billing
from portal.models import Charge, ChargeStatus, Subscription, SubscriptionStatus


def charge_failed(b: Billing, charge: Charge, reason: str,
                  next_try: Callable[[Subscription], dict] | None = None) -> None:
    """R01: the charge is outstanding, its subscription past due, and the account
    administrator told by email and by a notice in the portal. `next_try(sub)`, called
    once the subscription is past due, gives what the message says of the next attempt
    (e.g. {"next_retry_on": …}). The charge was outstanding already (created so, or
    unpaid since), so the stored figures stand."""
    today = b.clock.today()
    charge.status = ChargeStatus.OUTSTANDING
    charge.failed_on = today
    charge.failure_code = reason
    sub = charge.subscription
    if sub.status == SubscriptionStatus.PAUSED:  # B21: owed from before the pause; R12's countdown runs
        pauses.end_pause(b, sub, today)
        sub.status = SubscriptionStatus.ACTIVE
    if sub.status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.CANCELLED):  # a cancelled one owes its last
        sub.status = SubscriptionStatus.PAST_DUE
        sub.past_due_since = today
        sub.retry_count = 0
    account = sub.account
    payload = {"subscription_id": sub.id, "subscription": sub.name, "reason": reason,
               "amount_minor": charge.amount_minor, "currency": charge.currency,
               "disable_on": b.policy.disable_date(sub.past_due_since or today).isoformat()}
    if next_try is not None:
        payload.update(next_try(sub))
    notify.queue_email(b.session, b.clock, account, "payment_failed", payload)
    notify.notify_users(b.session, b.clock, account, "payment_failed", payload)
    notify.audit(b.session, b.clock, "charge.failed", account_id=account.id,
                 charge_id=charge.id, **payload)
