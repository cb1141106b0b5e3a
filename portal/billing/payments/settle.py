"""Settle a past-due balance, pay-as-you-go (R02, R04, R05, R07, R08, R09, R13, B5):
everything outstanding on the failed card plus the chosen card's own, paid with the
chosen card, which becomes the method of every subscription of the failed one."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from portal.billing.accounts import access, notify
from portal.billing.accounts.access import Action
from portal.billing import ids
from portal.billing.accounts.balances import (SettlementPreview, SettlementQuote, expire_loaded, settled_charges,
                                     settled_method_ids, settlement_preview, settlement_quote,
                                     settlement_total)
from portal.billing.context import Billing
from portal.billing.accounts.history import NAMES_SHOWN
from portal.errors import InvalidState, NotFound
from portal.money import Money
from portal.billing.accounts.notify import refusals_audited
from portal.billing.transaction import lock_account
from portal.models import (BillingAccount, Charge, Payment, PaymentMethod, PaymentPurpose, Subscription,
                           SubscriptionStatus, UnconfirmedPayment, User)
from portal.billing.payments.cards import MethodChoice, method_summary, saved_card
from portal.billing.payments.attempts import Allocation, Attempt, resolve_choice
from portal.billing.payments.ledger import Applied, receipt_details
from portal.billing.payments.engine import FLOWS, check_expected, pay


_SUBSCRIPTION = ids.by_id(Subscription, joinedload(Subscription.account))


@refusals_audited
def settleable_subscription(b: Billing, user: User, subscription_id: int,
                            account_id: int | None = None) -> Subscription:
    """The subscription, if the user may settle it (R02). With `account_id` (the
    account in the address), a subscription of any other account is NotFound, before
    any role is looked at."""
    subscription = ids.get_by(b.session, _SUBSCRIPTION, Subscription, subscription_id, [joinedload(Subscription.account)])
    if subscription is None or account_id is not None and subscription.account_id != account_id:
        raise NotFound("subscription")
    access.require(b.session, user, subscription.account, Action.SETTLE)  # R02
    return subscription


def last_payment_of(b: Billing, subscription: Subscription) -> int | None:
    """The payment that last paid a charge of the subscription (its receipt), if any."""
    return b.session.scalar(select(Charge.payment_id).where(
        Charge.subscription_id == subscription.id, Charge.payment_id.is_not(None))
        .order_by(Charge.payment_id.desc()).limit(1))


@refusals_audited
def quote_settlement(b: Billing, user: User, subscription_id: int,
                     chosen_method_id: int | None = None) -> SettlementQuote:
    """What settling this subscription's balance would charge (read only)."""
    subscription = settleable_subscription(b, user, subscription_id)
    chosen = saved_card(b, subscription.account, chosen_method_id) if chosen_method_id is not None else None
    return settlement_quote(b.session, subscription, chosen)


def preview_settlement(b: Billing, subscription: Subscription, method_id: int | None = None,
                       page: int | None = 1, chosen_page: int | None = 1) -> SettlementPreview:
    """The settle page, for a subscription `settleable_subscription` gave (R02 checked
    once, for the page): the same total as `quote_settlement`, summed by the database,
    with the subscriptions it covers a page at a time (read only)."""
    chosen = saved_card(b, subscription.account, method_id) if method_id is not None else None
    return settlement_preview(b.session, subscription, chosen, page, chosen_page)


@refusals_audited
def settle_balance(b: Billing, user: User, subscription_id: int, choice: MethodChoice,
                   expected_total_minor: int, idempotency_key: str) -> Payment:
    """R09: pay everything outstanding on the subscription's failed method (R04, R07)
    plus the chosen method's own outstanding charges (R08) with the chosen method;
    it becomes the method of every subscription that used the failed one (R05);
    paid subscriptions that were past due or disabled are active again (R13).

    An unfinished attempt of the account (any tab, user or instance) is finished
    first (M5), so a reload and a new key can never charge twice."""
    return pay(b, user, _Settlement(b, user, subscription_id, choice, expected_total_minor,
                                     Attempt(PaymentPurpose.SETTLE, idempotency_key,
                                              subscription_id=subscription_id)))


@dataclass
class _Settlement:
    """Settling a balance, in the steps of `pay`."""
    b: Billing
    user: User
    subscription_id: int
    choice: MethodChoice
    expected_total_minor: int
    attempt: Attempt

    def authorize_and_lock(self) -> BillingAccount:
        subscription = settleable_subscription(self.b, self.user, self.subscription_id)  # R02
        return lock_account(self.b.session, subscription.account_id)

    def price(self, account: BillingAccount) -> tuple[str, Money]:
        b = self.b
        subscription = b.session.get(Subscription, self.subscription_id)
        if subscription.status == SubscriptionStatus.DELETED:
            raise InvalidState("subscription deleted")
        method, token, _new_card = resolve_choice(b, account, self.choice, self.attempt)
        method_ids = settled_method_ids(subscription, method)
        total = settlement_total(b.session, method_ids, account.currency)
        check_expected(self.expected_total_minor, total)
        self.attempt.allocation = Allocation(charges=settled_charges(method_ids))
        self.attempt.switch_from_method_id = subscription.payment_method_id
        return token, total

    def record(self, account: BillingAccount, method: PaymentMethod, payment: Payment, applied: Applied) -> None:
        b = self.b
        # R05, for the failed card as priced. Set-based: settling 10,000 subscriptions
        # must not load them as objects.
        failed_method = b.session.get(PaymentMethod, self.attempt.switch_from_method_id or method.id)
        # Those it paid were moved with their figures (apply_allocation); the rest here.
        on_failed = (Subscription.account_id == account.id, Subscription.payment_method_id == failed_method.id)
        rest = notify.some_names(b.session, on_failed)
        if rest.count:
            b.session.execute(update(Subscription).where(*on_failed)  # R05
                              .values(payment_method_id=method.id).execution_options(synchronize_session=False))
            expire_loaded(b.session, Subscription, ["payment_method_id"])
        moved = applied.switched or notify.SomeNames([], 0)
        switched = notify.SomeNames((moved.names + rest.names)[:NAMES_SHOWN], moved.count + rest.count)
        details = receipt_details(payment, method, applied, **applied.subscriptions.details())
        notify.queue_receipt(b.session, b.clock, account, self.user, details)
        notify.audit(b.session, b.clock, "payment.succeeded", account_id=account.id,
                     actor=self.user, purpose="settle", **details)
        if failed_method.id != method.id:
            notify.audit(b.session, b.clock, "payment_method.switched", account_id=account.id,
                         actor=self.user, from_method_id=failed_method.id, to_method_id=method.id,
                         from_method=method_summary(failed_method),
                         method=method_summary(method), **switched.details())


def _from_attempt(b: Billing, row: UnconfirmedPayment, owner: User | None, choice: MethodChoice) -> _Settlement:
    return _Settlement(b, owner, row.subscription_id, choice, row.amount_minor,
                       Attempt(row.purpose, row.idempotency_key, subscription_id=row.subscription_id))


FLOWS[PaymentPurpose.SETTLE] = _from_attempt
