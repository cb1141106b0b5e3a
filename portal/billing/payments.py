"""Moving money: settle a past-due balance (R04, R05, R08, R09, R13, B5) and pay
invoices (R18–R22). Both are atomic (M2) and idempotent per key (M3); a decline (R10)
changes nothing but the audit log."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from portal.billing import access, notify
from portal.billing.access import Action
from portal.billing.balances import (SETTLEABLE, InvoiceQuote, SettlementPreview, SettlementQuote,
                                     invoice_quote, settlement_preview, settlement_quote)
from portal.billing.context import Billing
from portal.billing.errors import (AlreadyPaid, BalanceChanged, CardDeclined, InvalidAmount,
                                   InvalidState, NothingToPay, NotFound, PaymentFormReused)
from portal.billing.gateway import CardDetails, CardToken, IdempotencyConflict, validate_card
from portal.billing.money import Money
from portal.billing.transaction import lock_account, write_transaction
from portal.models import (BillingAccount, BillingProfile, ChargeStatus, Invoice,
                           InvoiceStatus, MethodKind, Payment, PaymentMethod,
                           PaymentPurpose, Subscription, SubscriptionStatus, User)

MAX_KEY_LENGTH = 100


@dataclass(frozen=True)
class UseSavedCard:
    method_id: int


@dataclass(frozen=True)
class UseNewCard:
    card: CardDetails


MethodChoice = UseSavedCard | UseNewCard


# --- shared steps -------------------------------------------------------------------

def saved_card(b: Billing, account: BillingAccount, method_id: int) -> PaymentMethod:
    """A card of this account; any other id (another account's, a check/wire method,
    garbage) is NotFound, so ids of other customers reveal nothing."""
    method = b.session.get(PaymentMethod, method_id) if isinstance(method_id, int) else None
    if method is None or method.account_id != account.id or method.kind != MethodKind.CARD:
        raise NotFound("payment method")
    return method


def cards_of(b: Billing, account: BillingAccount) -> list[PaymentMethod]:
    return list(b.session.scalars(
        select(PaymentMethod).where(PaymentMethod.account_id == account.id,
                                    PaymentMethod.kind == MethodKind.CARD)
        .order_by(PaymentMethod.id)))


def _check_key(b: Billing, key: str) -> None:
    if not isinstance(key, str) or not 8 <= len(key) <= MAX_KEY_LENGTH:
        raise InvalidAmount("idempotency key missing or malformed")
    paid = b.session.scalars(select(Payment.id).where(Payment.idempotency_key == key)).first()
    if paid is not None:
        raise AlreadyPaid(paid)


def _check_expected(expected_minor: int, amount: Money) -> None:
    if amount.minor <= 0:
        raise NothingToPay()
    if expected_minor != amount.minor:
        raise BalanceChanged(expected_minor, amount.minor)


def _prepare_new_card(b: Billing, card: CardDetails) -> CardToken:
    validate_card(card, b.clock.today())  # before the gateway is called
    return b.gateway.tokenize(card)


def _charge(b: Billing, account: BillingAccount, token: str, amount: Money, key: str) -> str:
    if amount.currency != account.currency:
        raise InvalidAmount("currency differs from the account's")
    try:
        result = b.gateway.charge(token, amount, key)
    except IdempotencyConflict as conflict:
        raise PaymentFormReused() from conflict
    if not result.approved:
        raise CardDeclined(str(result.decline_code or "generic_decline"))
    assert result.reference is not None
    return result.reference


def _save_card(b: Billing, account: BillingAccount, token: CardToken) -> PaymentMethod:
    method = PaymentMethod(
        account_id=account.id, kind=MethodKind.CARD, brand=token.brand, last4=token.last4,
        exp_month=token.exp_month, exp_year=token.exp_year, holder_name=token.holder,
        gateway_token=token.token, created_at=b.clock.now())
    b.session.add(method)
    b.session.flush()
    return method


def _resolve_choice(b: Billing, account: BillingAccount, choice: MethodChoice):
    """(saved method or None, token to charge, new-card token or None)."""
    if isinstance(choice, UseSavedCard):
        method = saved_card(b, account, choice.method_id)
        return method, method.gateway_token, None
    token = _prepare_new_card(b, choice.card)
    return None, token.token, token


def record_payment(b: Billing, account: BillingAccount, user: User | None,
                    method: PaymentMethod, amount: Money, reference: str, key: str,
                    purpose: PaymentPurpose) -> Payment:
    payment = Payment(idempotency_key=key, account_id=account.id,
                      user_id=user.id if user else None, payment_method_id=method.id,
                      purpose=purpose, amount_minor=amount.minor, currency=amount.currency,
                      gateway_reference=reference, created_at=b.clock.now())
    b.session.add(payment)
    b.session.flush()
    return payment


def _record_decline(b: Billing, account_id: int, user: User, reason: str, amount_minor: int,
                    purpose: PaymentPurpose) -> None:
    """A decline changes nothing (R10); only the attempt is kept for the audit log."""
    with write_transaction(b.session):
        notify.audit(b.session, b.clock, "payment.declined", account_id=account_id, actor=user,
                     reason=reason, amount_minor=amount_minor, purpose=str(purpose))


def method_summary(method: PaymentMethod) -> dict:
    return {"kind": str(method.kind), "brand": method.brand, "last4": method.last4}


# --- settle a past-due balance (pay-as-you-go) ----------------------------------------

def settleable_subscription(b: Billing, user: User, subscription_id: int) -> Subscription:
    subscription = b.session.get(Subscription, subscription_id) if isinstance(subscription_id, int) else None
    if subscription is None:
        raise NotFound("subscription")
    access.require(b.session, user, subscription.account, Action.SETTLE)  # R02
    return subscription


def quote_settlement(b: Billing, user: User, subscription_id: int,
                     chosen_method_id: int | None = None) -> SettlementQuote:
    """What settling this subscription's balance would charge (read only)."""
    subscription = settleable_subscription(b, user, subscription_id)
    chosen = saved_card(b, subscription.account, chosen_method_id) if chosen_method_id is not None else None
    return settlement_quote(b.session, subscription, chosen)


def preview_settlement(b: Billing, user: User, subscription_id: int, chosen_method_id: int | None = None,
                       page: int | None = 1, chosen_page: int | None = 1) -> SettlementPreview:
    """The settle page: the same total as `quote_settlement`, summed by the database,
    with the subscriptions it covers a page at a time (read only)."""
    subscription = settleable_subscription(b, user, subscription_id)
    chosen = saved_card(b, subscription.account, chosen_method_id) if chosen_method_id is not None else None
    return settlement_preview(b.session, subscription, chosen, page, chosen_page)


def settle_balance(b: Billing, user: User, subscription_id: int, choice: MethodChoice,
                   expected_total_minor: int, idempotency_key: str) -> Payment:
    """R09: pay everything outstanding on the subscription's failed method (R04, R07)
    plus the chosen method's own outstanding charges (R08) with the chosen method;
    it becomes the method of every subscription that used the failed one (R05);
    paid subscriptions that were past due or disabled are active again (R13)."""
    account_id = None
    try:
        with write_transaction(b.session):
            subscription = settleable_subscription(b, user, subscription_id)
            account = subscription.account
            account_id = account.id
            lock_account(b.session, account.id)
            _check_key(b, idempotency_key)
            if subscription.status == SubscriptionStatus.DELETED:
                raise InvalidState("subscription deleted")
            method, token, new_card = _resolve_choice(b, account, choice)
            quote = settlement_quote(b.session, subscription, method)
            _check_expected(expected_total_minor, quote.total)
            reference = _charge(b, account, token, quote.total, idempotency_key)
            if method is None:
                method = _save_card(b, account, new_card)
                # A new card has no charges of its own: the quote stands as computed.
            payment = record_payment(b, account, user, method, quote.total, reference,
                                      idempotency_key, PaymentPurpose.SETTLE)
            for charge in quote.charges:
                charge.status = ChargeStatus.PAID
                charge.payment_id = payment.id
            failed_method_id = quote.failed_method.id
            for sub in account.subscriptions:
                if sub.payment_method_id == failed_method_id:
                    sub.payment_method_id = method.id  # R05
            for sub in quote.subscriptions:
                if sub.status in SETTLEABLE:  # R13: re-enabled until deleted
                    sub.status = SubscriptionStatus.ACTIVE
                    sub.past_due_since = None
                    sub.disabled_on = None
            details = {
                "payment_id": payment.id, "amount_minor": payment.amount_minor,
                "currency": payment.currency, "method": method_summary(method),
                "subscriptions": [s.name for s in quote.subscriptions],
            }
            notify.queue_email(b.session, b.clock, account, "receipt", details)
            notify.audit(b.session, b.clock, "payment.succeeded", account_id=account.id,
                         actor=user, purpose="settle", **details)
            if failed_method_id != method.id:
                notify.audit(b.session, b.clock, "payment_method.switched", account_id=account.id,
                             actor=user, from_method_id=failed_method_id, to_method_id=method.id)
            return payment
    except CardDeclined as declined:
        _record_decline(b, account_id, user, declined.reason, expected_total_minor, PaymentPurpose.SETTLE)
        raise


# --- pay invoices (customer agreement) ----------------------------------------------

def payable_profile(b: Billing, user: User, profile_id: int) -> BillingProfile:
    profile = b.session.get(BillingProfile, profile_id) if isinstance(profile_id, int) else None
    if profile is None:
        raise NotFound("billing profile")
    access.require(b.session, user, profile.account, Action.PAY_INVOICES, profile.id)  # R19
    return profile


def quote_invoices(b: Billing, user: User, profile_id: int,
                   invoice_ids: list[int] | None = None) -> InvoiceQuote:
    profile = payable_profile(b, user, profile_id)
    _refuse_paid(b, profile, invoice_ids)
    return invoice_quote(b.session, profile, invoice_ids)


def _refuse_paid(b: Billing, profile: BillingProfile, invoice_ids: list[int] | None) -> None:
    """Paying an invoice of this profile that is already paid is NothingToPay, not
    NotFound: the customer (second tab) should hear 'already paid'."""
    if not invoice_ids:
        return
    paid = b.session.scalars(select(Invoice.id).where(
        Invoice.id.in_(invoice_ids), Invoice.billing_profile_id == profile.id,
        Invoice.status == InvoiceStatus.PAID)).first()
    if paid is not None:
        raise NothingToPay()


def pay_invoices(b: Billing, user: User, profile_id: int, invoice_ids: list[int] | None,
                 choice: MethodChoice, expected_total_minor: int, idempotency_key: str) -> Payment:
    """R21/R22: pay the profile's open invoices (or the given ones) with a saved or a
    new card; each becomes Paid with its payment date and method (B4)."""
    account_id = None
    try:
        with write_transaction(b.session):
            profile = payable_profile(b, user, profile_id)
            account = profile.account
            account_id = account.id
            lock_account(b.session, account.id)
            _check_key(b, idempotency_key)
            _refuse_paid(b, profile, invoice_ids)
            quote = invoice_quote(b.session, profile, invoice_ids)
            _check_expected(expected_total_minor, quote.total)
            method, token, new_card = _resolve_choice(b, account, choice)
            reference = _charge(b, account, token, quote.total, idempotency_key)
            if method is None:
                method = _save_card(b, account, new_card)
            payment = record_payment(b, account, user, method, quote.total, reference,
                                      idempotency_key, PaymentPurpose.INVOICE)
            mark_invoices_paid(b, quote.invoices, payment)
            details = {
                "payment_id": payment.id, "amount_minor": payment.amount_minor,
                "currency": payment.currency, "method": method_summary(method),
                "invoices": [i.number for i in quote.invoices],
            }
            notify.queue_email(b.session, b.clock, account, "receipt", details)
            notify.audit(b.session, b.clock, "payment.succeeded", account_id=account.id,
                         actor=user, purpose="invoice", **details)
            return payment
    except CardDeclined as declined:
        _record_decline(b, account_id, user, declined.reason, expected_total_minor, PaymentPurpose.INVOICE)
        raise


def mark_invoices_paid(b: Billing, invoices: list[Invoice], payment: Payment | None) -> None:
    for invoice in invoices:
        invoice.status = InvoiceStatus.PAID  # R22
        invoice.paid_on = b.clock.today()
        invoice.payment_id = payment.id if payment else None
