"""B14: failed automatic card charges are tried again on a schedule the customer can
see (Overview, the payment-failed email): days 1, 3, 5 and 7 after the first failure,
never on or after the day the subscription would be disabled. Only soft declines — the
bank may say yes tomorrow — are retried; a hard decline (expired, blocked or wrong card,
a bank that wants the cardholder) never is: retrying cannot change the answer. Each
retry is a payment of its own (payments.retry_subscription: its own key, written ahead,
finished under that key if the answer is lost) run by the billing cycle; the customer
can settle at once instead, which ends the schedule."""
from __future__ import annotations

import logging
from datetime import date, timedelta

from sqlalchemy import select

from portal.billing.accounts import notify
from portal.billing.context import Billing
from portal.billing.payments import retry_subscription
from portal.billing.transaction import lock_account, write_transaction
from portal.errors import BillingError, CardDeclined, GatewayUnavailable, PaymentInProgress
from portal.models import MethodKind, PaymentMethod, Subscription, SubscriptionStatus

log = logging.getLogger(__name__)

RETRY_DAYS = (1, 3, 5, 7)  # after the first failure (Subscription.past_due_since)
SOFT_DECLINES = frozenset({"insufficient_funds", "credit_limit_exceeded", "processing_error"})


def schedule(b: Billing, sub: Subscription, reason: str, today: date) -> date | None:
    """Set `sub.next_retry_on` after a failed charge or retry (`sub.retry_count` retries
    done): the next day of RETRY_DAYS after today, before the disable day — or none."""
    sub.next_retry_on = None
    if reason not in SOFT_DECLINES or sub.past_due_since is None:
        return None
    disable_on = b.policy.disable_date(sub.past_due_since)
    for offset in RETRY_DAYS[sub.retry_count or 0:]:
        day = sub.past_due_since + timedelta(days=offset)
        if today < day < disable_on:
            sub.next_retry_on = day
            break
    return sub.next_retry_on


def retry_due(b: Billing, today: date) -> tuple[int, int]:
    """The billing cycle's step: each past-due subscription whose retry day has come is
    charged again, on its card, for what it owes. (retried, paid)."""
    due = list(b.session.scalars(
        select(Subscription.id).join(PaymentMethod, Subscription.payment_method_id == PaymentMethod.id)
        .where(Subscription.status == SubscriptionStatus.PAST_DUE, Subscription.next_retry_on <= today,
               PaymentMethod.kind == MethodKind.CARD).order_by(Subscription.id)))
    b.session.rollback()
    paid = 0
    for sub_id in due:
        try:
            retry_subscription(b, sub_id)
            paid += 1
        except CardDeclined as declined:
            _declined_again(b, sub_id, declined.reason, today)
        except GatewayUnavailable:
            pass  # the attempt waits under its key: finished by reconcile or the next cycle
        except PaymentInProgress:
            pass  # another payment of the account is open: this retry waits for the next cycle
        except BillingError as nothing:  # paid meanwhile, or no card to charge: no more retries
            log.info("retry of subscription %s not made: %r", sub_id, nothing)
            with write_transaction(b.session):
                sub = b.session.get(Subscription, sub_id)
                lock_account(b.session, sub.account_id)
                sub.next_retry_on = None
    return len(due), paid


def _declined_again(b: Billing, sub_id: int, reason: str, today: date) -> None:
    with write_transaction(b.session):
        sub = b.session.get(Subscription, sub_id)
        lock_account(b.session, sub.account_id)
        sub.retry_count = (sub.retry_count or 0) + 1
        next_day = schedule(b, sub, reason, today)
        notify.audit(b.session, b.clock, "charge.retry_failed", account_id=sub.account_id,
                     subscription_id=sub.id, subscription=sub.name, reason=reason, retries=sub.retry_count,
                     next_retry_on=next_day.isoformat() if next_day else None)
