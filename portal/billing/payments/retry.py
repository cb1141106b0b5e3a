"""B14: the billing cycle charges a past-due subscription's card again, as a payment
of its own (its own key, written ahead, off-session), for the charges it owes."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from portal.billing.accounts import notify
from portal.billing.context import Billing
from portal.errors import NothingToPay, PaymentInProgress
from portal.money import Money
from portal.billing.accounts.balances import IS_OUTSTANDING
from portal.billing.transaction import lock_account
from portal.models import (BillingAccount, Charge, MethodKind, Payment, PaymentMethod,
                           PaymentPurpose, Subscription, SubscriptionStatus, UnconfirmedPayment, User)
from portal.billing.payments.cards import method_summary
from portal.billing.payments.attempts import Allocation, Attempt, PaymentInDoubt
from portal.billing.payments.ledger import Applied, receipt_details
from portal.billing.payments.engine import FLOWS, pay
from portal.billing.payments.cards import MethodChoice


def retry_subscription(b: Billing, subscription_id: int) -> Payment:
    """B14 (the billing cycle, no person): charge what one past-due subscription owes to
    its card again, as a payment of its own — its own key (the subscription, the day it
    went past due, which retry), written ahead and finished under that key if the answer
    is lost (M5), off-session (B13). Paid: its charges paid, the subscription active
    again (R13), receipt and audit. Declined: CardDeclined, nothing changed."""
    sub = b.session.get(Subscription, subscription_id, populate_existing=True)
    if sub.past_due_since is None:  # paid meanwhile (settled, another cycle's retry): nothing to retry
        b.session.rollback()
        raise NothingToPay()
    key = f"auto-retry-{sub.id}-{sub.past_due_since:%Y%m%d}-{(sub.retry_count or 0) + 1}"
    b.session.rollback()
    try:
        return pay(b, None, _Retry(b, subscription_id, Attempt(PaymentPurpose.AUTO_CHARGE, key,
                                                                 subscription_id=subscription_id)),
                    finish_others=False)  # another attempt of the account is reconcile's to finish
    except PaymentInDoubt as open_attempt:
        raise PaymentInProgress(open_attempt.account_id) from None


@dataclass
class _Retry:
    """Retrying a subscription's failed charges, in the steps of `pay`."""
    b: Billing
    subscription_id: int
    attempt: Attempt
    user: User | None = None

    def authorize_and_lock(self) -> BillingAccount:  # the billing cycle: no role to check
        sub = self.b.session.get(Subscription, self.subscription_id)
        return lock_account(self.b.session, sub.account_id)

    def price(self, account: BillingAccount) -> tuple[str, Money]:
        sub = self.b.session.get(Subscription, self.subscription_id, populate_existing=True)
        method = sub.payment_method
        if sub.status != SubscriptionStatus.PAST_DUE or method is None or method.kind != MethodKind.CARD \
                or method.removed_at is not None:
            raise NothingToPay()
        owed = (Charge.subscription_id == self.subscription_id, IS_OUTSTANDING)
        owed_minor = self.b.session.scalar(select(func.coalesce(func.sum(Charge.amount_minor), 0)).where(*owed))
        if not owed_minor:
            raise NothingToPay()
        self.attempt.method_id, self.attempt.method = method.id, method_summary(method)
        self.attempt.allocation = Allocation(charges=owed)
        return method.gateway_token, Money(int(owed_minor), account.currency)

    def record(self, account: BillingAccount, method: PaymentMethod, payment: Payment, applied: Applied) -> None:
        details = receipt_details(payment, method, applied, **applied.subscriptions.details())
        notify.queue_receipt(self.b.session, self.b.clock, account, None, details)
        notify.audit(self.b.session, self.b.clock, "payment.succeeded", account_id=account.id, actor=None,
                     purpose="auto_charge_retry", **details)


def _from_attempt(b: Billing, row: UnconfirmedPayment, _owner: User | None, _choice: MethodChoice) -> _Retry:
    return _Retry(b, row.subscription_id, Attempt(row.purpose, row.idempotency_key, subscription_id=row.subscription_id))


FLOWS[PaymentPurpose.AUTO_CHARGE] = _from_attempt
