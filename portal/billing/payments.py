"""Moving money: settle a past-due balance (R04, R05, R08, R09, R13, B5) and pay
invoices (R18–R22). Both are atomic (M2) and idempotent per key (M3); a decline (R10)
changes nothing but the audit log."""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import joinedload

from portal.billing import access, notify
from portal.billing.access import Action
from portal.billing import ids
from portal.billing.balances import (SETTLEABLE, InvoiceQuote, SettlementPreview, SettlementQuote,
                                     expire_loaded, invoice_quote, pay_settled_charges,
                                     recount_outstanding, settled_method_ids, settlement_preview,
                                     settlement_quote, settlement_total)
from portal.billing.context import Billing
from portal.billing.errors import (AlreadyPaid, BalanceChanged, BillingError, CardDeclined,
                                   GatewayUnavailable, InvalidAmount, InvalidState,
                                   NothingToPay, NotFound, PaymentFormReused)
from portal.billing.gateway import (CardDetails, CardToken, GatewayError, GatewayNotReached,
                                    IdempotencyConflict, validate_card)
from portal.billing.money import Money
from portal.billing.notify import refusals_audited
from portal.billing.transaction import lock_account, write_transaction
from portal.models import (AccountKind, BillingAccount, BillingProfile, Charge, Invoice,
                           InvoiceStatus, MethodKind, Payment, PaymentMethod,
                           PaymentPurpose, Subscription, SubscriptionStatus,
                           UnconfirmedPayment, User)

log = logging.getLogger(__name__)

MAX_KEY_LENGTH = 100


@dataclass(frozen=True)
class UseSavedCard:
    method_id: int


@dataclass(frozen=True)
class UseNewCard:
    card: CardDetails


@dataclass(frozen=True)
class UseTokenizedCard:
    """A new card already exchanged for a gateway token: finishing an unconfirmed
    attempt charges exactly the token that was sent the first time."""
    token: CardToken


MethodChoice = UseSavedCard | UseNewCard | UseTokenizedCard


@dataclass
class _Attempt:
    """What one payment request is about to charge, kept so that an attempt the
    gateway may have charged can be recorded as unconfirmed (and finished later)."""
    purpose: PaymentPurpose
    key: str
    account_id: int | None = None
    subscription_id: int | None = None
    profile_id: int | None = None
    invoice_ids: list[int] | None = None
    method_id: int | None = None
    new_card: CardToken | None = None
    method: dict | None = None  # what the audit log names it by (brand, last four)
    amount: Money | None = None
    sent: bool = False  # the charge request has gone to the gateway


# --- shared steps -------------------------------------------------------------------

def saved_card(b: Billing, account: BillingAccount, method_id: int) -> PaymentMethod:
    """A card of this account; any other id (another account's, a check/wire method,
    garbage) is NotFound, so ids of other customers reveal nothing."""
    method = ids.get(b.session, PaymentMethod, method_id)
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


def _charge(b: Billing, account: BillingAccount, token: str, amount: Money, key: str,
            attempt: _Attempt) -> str:
    if amount.currency != account.currency:
        raise InvalidAmount("currency differs from the account's")
    attempt.amount, attempt.sent = amount, True
    try:
        result = b.gateway.charge(token, amount, key)
    except GatewayNotReached as unreachable:
        attempt.sent = False  # certainly not charged
        raise GatewayUnavailable(maybe_charged=False) from unreachable
    except GatewayError as no_answer:
        raise GatewayUnavailable(maybe_charged=True) from no_answer
    except IdempotencyConflict as conflict:
        # The key was used at the gateway for another card or amount (a declined card,
        # then the same form with another; or a tampered form): nothing is charged and
        # the customer gets a fresh form.
        attempt.sent = False
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


def _resolve_choice(b: Billing, account: BillingAccount, choice: MethodChoice, attempt: _Attempt):
    """(saved method or None, token to charge, new-card token or None)."""
    if isinstance(choice, UseSavedCard):
        method = saved_card(b, account, choice.method_id)
        attempt.method_id, attempt.method = method.id, method_summary(method)
        return method, method.gateway_token, None
    token = choice.token if isinstance(choice, UseTokenizedCard) else _prepare_new_card(b, choice.card)
    attempt.new_card = token
    attempt.method = {"kind": str(MethodKind.CARD), "brand": token.brand, "last4": token.last4}
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


def _record_decline(b: Billing, attempt: _Attempt, user: User, reason: str,
                    expected_total_minor: int) -> None:
    """A decline changes nothing (R10); only the attempt is kept for the audit log
    (and an unconfirmed attempt it answers is settled)."""
    with write_transaction(b.session):
        _forget_unconfirmed(b, attempt.key)
        details = {"amount_minor": expected_total_minor, **_attempt_details(attempt)}
        notify.audit(b.session, b.clock, "payment.declined", account_id=attempt.account_id,
                     actor=user, profile_id=attempt.profile_id, reason=reason,
                     purpose=str(attempt.purpose), **details)


def _attempt_details(attempt: _Attempt) -> dict:
    amount = {"amount_minor": attempt.amount.minor, "currency": attempt.amount.currency} if attempt.amount else {}
    return {**amount, "method": attempt.method}


def _record_gateway_failure(b: Billing, attempt: _Attempt, user: User, maybe_charged: bool) -> None:
    """In a transaction of its own (the payment's was rolled back): the audit event,
    and — when the gateway may have charged — the unconfirmed attempt, so that it is
    settled under the same key before anything else is charged for the account."""
    with write_transaction(b.session):
        if maybe_charged and attempt.amount is not None:
            _keep_unconfirmed(b, attempt, user)
        notify.audit(b.session, b.clock,
                     "payment.unconfirmed" if maybe_charged else "payment.gateway_unavailable",
                     account_id=attempt.account_id, actor=user, profile_id=attempt.profile_id,
                     purpose=str(attempt.purpose), idempotency_key=attempt.key,
                     **_attempt_details(attempt))


def _keep_unconfirmed(b: Billing, attempt: _Attempt, user: User) -> None:
    if b.session.scalars(select(UnconfirmedPayment.id).where(
            UnconfirmedPayment.idempotency_key == attempt.key)).first() is not None:
        return  # a retry of the same attempt: already kept
    card = dataclasses.asdict(attempt.new_card) if attempt.new_card is not None else None
    b.session.add(UnconfirmedPayment(
        idempotency_key=attempt.key, account_id=attempt.account_id, user_id=user.id,
        purpose=attempt.purpose, subscription_id=attempt.subscription_id,
        billing_profile_id=attempt.profile_id, invoice_ids=attempt.invoice_ids,
        payment_method_id=attempt.method_id, new_card=card, amount_minor=attempt.amount.minor,
        currency=attempt.amount.currency, created_at=b.clock.now()))


def _forget_unconfirmed(b: Billing, key: str) -> None:
    b.session.execute(delete(UnconfirmedPayment).where(UnconfirmedPayment.idempotency_key == key))


def _guarded(b: Billing, user: User, attempt: _Attempt, expected_total_minor: int, pay):
    """Run one payment transaction; record what must outlive its rollback: a decline
    (R10), a gateway failure, or a charge that may have gone through before the
    transaction failed (a crash between the charge and the commit)."""
    try:
        return pay()
    except CardDeclined as declined:
        _record_decline(b, attempt, user, declined.reason, expected_total_minor)
        raise
    except GatewayUnavailable as unavailable:
        _record_gateway_failure(b, attempt, user, unavailable.maybe_charged)
        raise
    except BillingError:
        raise  # refused before anything was charged
    except Exception:
        if attempt.sent:
            try:
                b.session.rollback()
                _record_gateway_failure(b, attempt, user, maybe_charged=True)
            except Exception:  # the database itself is failing: the same key still recovers
                log.exception("could not keep the unconfirmed payment %s", attempt.key)
        raise


def method_summary(method: PaymentMethod) -> dict:
    return {"kind": str(method.kind), "brand": method.brand, "last4": method.last4}


# --- settle a past-due balance (pay-as-you-go) ----------------------------------------

@refusals_audited
def settleable_subscription(b: Billing, user: User, subscription_id: int,
                            account_id: int | None = None) -> Subscription:
    """The subscription, if the user may settle it (R02). With `account_id` (the
    account in the address), a subscription of any other account is NotFound, before
    any role is looked at."""
    subscription = ids.get(b.session, Subscription, subscription_id, [joinedload(Subscription.account)])
    if subscription is None or account_id is not None and subscription.account_id != account_id:
        raise NotFound("subscription")
    access.require(b.session, user, subscription.account, Action.SETTLE)  # R02
    return subscription


@refusals_audited
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


@refusals_audited
def settle_balance(b: Billing, user: User, subscription_id: int, choice: MethodChoice,
                   expected_total_minor: int, idempotency_key: str) -> Payment:
    """R09: pay everything outstanding on the subscription's failed method (R04, R07)
    plus the chosen method's own outstanding charges (R08) with the chosen method;
    it becomes the method of every subscription that used the failed one (R05);
    paid subscriptions that were past due or disabled are active again (R13).

    An earlier attempt for this account that the gateway may have charged is settled
    first (M3), so a reload and a new key can never charge twice."""
    account_id = settleable_subscription(b, user, subscription_id).account_id
    _finish_unconfirmed(b, user, account_id, PaymentPurpose.SETTLE, skip_key=idempotency_key)
    return _settle(b, user, subscription_id, choice, expected_total_minor, idempotency_key)


def _settle(b: Billing, user: User, subscription_id: int, choice: MethodChoice,
            expected_total_minor: int, idempotency_key: str) -> Payment:
    attempt = _Attempt(PaymentPurpose.SETTLE, idempotency_key, subscription_id=subscription_id)

    def pay() -> Payment:
        with write_transaction(b.session):
            subscription = settleable_subscription(b, user, subscription_id)
            attempt.account_id = subscription.account_id
            lock_account(b.session, subscription.account_id)
            account = subscription.account
            _check_key(b, idempotency_key)
            if subscription.status == SubscriptionStatus.DELETED:
                raise InvalidState("subscription deleted")
            method, token, new_card = _resolve_choice(b, account, choice, attempt)
            # Set-based from here on: settling 10,000 subscriptions must not load
            # 18,000 charges and 10,000 subscriptions as objects.
            method_ids = settled_method_ids(subscription, method)
            failed_method = subscription.payment_method
            total = settlement_total(b.session, method_ids, account.currency)
            _check_expected(expected_total_minor, total)
            reference = _charge(b, account, token, total, idempotency_key, attempt)
            if method is None:
                method = _save_card(b, account, new_card)
                # A new card has no charges of its own: the total stands as computed.
            payment = record_payment(b, account, user, method, total, reference,
                                      idempotency_key, PaymentPurpose.SETTLE)
            pay_settled_charges(b.session, method_ids, payment)
            paid = Subscription.id.in_(select(Charge.subscription_id).where(Charge.payment_id == payment.id))
            # The failed method's subscriptions first, then the chosen method's own.
            paid_names = list(b.session.scalars(select(Subscription.name).where(paid).order_by(
                Subscription.payment_method_id != failed_method.id, Subscription.id)))
            on_failed = (Subscription.account_id == account.id, Subscription.payment_method_id == failed_method.id)
            switched_names = list(b.session.scalars(select(Subscription.name).where(*on_failed)
                                                    .order_by(Subscription.id)))
            b.session.execute(update(Subscription).where(*on_failed)  # R05
                              .values(payment_method_id=method.id).execution_options(synchronize_session=False))
            b.session.execute(update(Subscription)  # R13: re-enabled until deleted
                              .where(paid, Subscription.status.in_(SETTLEABLE))
                              .values(status=SubscriptionStatus.ACTIVE, past_due_since=None, disabled_on=None)
                              .execution_options(synchronize_session=False))
            expire_loaded(b.session, Subscription, ["payment_method_id", "status", "past_due_since", "disabled_on"])
            recount_outstanding(b.session, paid)
            details = {
                "payment_id": payment.id, "amount_minor": payment.amount_minor,
                "currency": payment.currency, "method": method_summary(method),
                "subscriptions": paid_names,
            }
            _forget_unconfirmed(b, idempotency_key)
            notify.queue_email(b.session, b.clock, account, "receipt", details)
            notify.audit(b.session, b.clock, "payment.succeeded", account_id=account.id,
                         actor=user, purpose="settle", **details)
            if failed_method.id != method.id:
                notify.audit(b.session, b.clock, "payment_method.switched", account_id=account.id,
                             actor=user, from_method_id=failed_method.id, to_method_id=method.id,
                             from_method=method_summary(failed_method),
                             method=method_summary(method),
                             subscriptions=switched_names)
            return payment

    return _guarded(b, user, attempt, expected_total_minor, pay)


# --- pay invoices (customer agreement) ----------------------------------------------

@refusals_audited
def payable_profile(b: Billing, user: User, profile_id: int, account_id: int | None = None) -> BillingProfile:
    """The billing profile, if the user may pay its invoices (R19); with `account_id`,
    a profile of any other account is NotFound before any role is looked at."""
    profile = ids.get(b.session, BillingProfile, profile_id)
    if profile is None or account_id is not None and profile.account_id != account_id:
        raise NotFound("billing profile")
    access.require(b.session, user, profile.account, Action.PAY_INVOICES, profile.id)  # R19
    return profile


@refusals_audited
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
    if not all(ids.is_id(i) for i in invoice_ids):
        raise NotFound("invoice")
    paid = b.session.scalars(select(Invoice.id).where(
        Invoice.id.in_(invoice_ids), Invoice.billing_profile_id == profile.id,
        Invoice.status == InvoiceStatus.PAID)).first()
    if paid is not None:
        raise NothingToPay()


@refusals_audited
def pay_invoices(b: Billing, user: User, profile_id: int, invoice_ids: list[int] | None,
                 choice: MethodChoice, expected_total_minor: int, idempotency_key: str) -> Payment:
    """R21/R22: pay the profile's open invoices (or the given ones) with a saved or a
    new card; each becomes Paid with its payment date and method (B4). An earlier
    attempt the gateway may have charged is settled first (M3)."""
    payable_profile(b, user, profile_id)
    _finish_unconfirmed(b, user, profile_id, PaymentPurpose.INVOICE, skip_key=idempotency_key)
    return _pay_invoices(b, user, profile_id, invoice_ids, choice, expected_total_minor, idempotency_key)


def _pay_invoices(b: Billing, user: User, profile_id: int, invoice_ids: list[int] | None,
                  choice: MethodChoice, expected_total_minor: int, idempotency_key: str) -> Payment:
    attempt = _Attempt(PaymentPurpose.INVOICE, idempotency_key, profile_id=profile_id,
                       invoice_ids=list(invoice_ids) if invoice_ids else None)

    def pay() -> Payment:
        with write_transaction(b.session):
            profile = payable_profile(b, user, profile_id)
            attempt.account_id = profile.account_id
            lock_account(b.session, profile.account_id)
            account = profile.account
            _check_key(b, idempotency_key)
            _refuse_paid(b, profile, invoice_ids)
            quote = invoice_quote(b.session, profile, invoice_ids)
            _check_expected(expected_total_minor, quote.total)
            method, token, new_card = _resolve_choice(b, account, choice, attempt)
            reference = _charge(b, account, token, quote.total, idempotency_key, attempt)
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
            _forget_unconfirmed(b, idempotency_key)
            notify.queue_email(b.session, b.clock, account, "receipt", details)
            notify.audit(b.session, b.clock, "payment.succeeded", account_id=account.id,
                         actor=user, profile_id=profile.id, purpose="invoice", **details)
            return payment

    return _guarded(b, user, attempt, expected_total_minor, pay)


# --- attempts the gateway may have charged ------------------------------------------

@dataclass(frozen=True)
class CheckResult:
    """What checking the unconfirmed attempts found."""
    paid: list[Payment]     # went through: now recorded, with receipt and email
    declined: int           # were declined after all: nothing was charged
    checked: int            # how many there were


def _unconfirmed(b: Billing, scope_id: int, purpose: PaymentPurpose,
                 skip_key: str | None = None) -> list[UnconfirmedPayment]:
    column = (UnconfirmedPayment.account_id if purpose == PaymentPurpose.SETTLE
              else UnconfirmedPayment.billing_profile_id)
    query = select(UnconfirmedPayment).where(column == scope_id, UnconfirmedPayment.purpose == purpose)
    if skip_key is not None:
        query = query.where(UnconfirmedPayment.idempotency_key != skip_key)
    return list(b.session.scalars(query.order_by(UnconfirmedPayment.id)))


def _finish_unconfirmed(b: Billing, user: User, scope_id: int, purpose: PaymentPurpose,
                        skip_key: str | None = None) -> CheckResult:
    """Repeat each unconfirmed attempt exactly as it was sent — same key, same card
    token, same amount. The gateway answers from its ledger (never a second charge):
    approved → recorded as paid now; declined → forgotten. While the gateway still
    cannot tell, or the attempt no longer matches what is owed, nothing new is
    charged (GatewayUnavailable(maybe_charged=True)): better refused than twice."""
    pending = [(p.idempotency_key, p.subscription_id, p.billing_profile_id, p.invoice_ids,
                UseSavedCard(p.payment_method_id) if p.payment_method_id is not None
                else UseTokenizedCard(CardToken(**p.new_card)), p.amount_minor)
               for p in _unconfirmed(b, scope_id, purpose, skip_key)]
    b.session.rollback()  # end the read: each repeat runs in its own write transaction
    paid, declined = [], 0
    for key, subscription_id, profile_id, invoice_ids, choice, amount in pending:
        try:
            if purpose == PaymentPurpose.SETTLE:
                paid.append(_settle(b, user, subscription_id, choice, amount, key))
            else:
                paid.append(_pay_invoices(b, user, profile_id, invoice_ids, choice, amount, key))
        except AlreadyPaid:
            with write_transaction(b.session):
                _forget_unconfirmed(b, key)
        except CardDeclined:
            declined += 1  # forgotten and audited by the decline itself
        except GatewayUnavailable:
            raise GatewayUnavailable(maybe_charged=True)
        except BillingError as mismatch:
            log.warning("unconfirmed payment %s cannot be finished: %r", key, mismatch)
            raise GatewayUnavailable(maybe_charged=True) from mismatch
    return CheckResult(paid, declined, len(pending))


@refusals_audited
def check_unconfirmed(b: Billing, user: User, account_id: int) -> CheckResult:
    """The customer's "check the payment" after a gateway failure: settle every
    unconfirmed attempt of the account that this user may pay."""
    account = access.get_account(b.session, user, account_id)
    if account.kind == AccountKind.PAY_AS_YOU_GO:
        access.require(b.session, user, account, Action.SETTLE)
        return _finish_unconfirmed(b, user, account.id, PaymentPurpose.SETTLE)
    results = []
    for profile in account.profiles:
        if access.decide(b.session, user, account, Action.PAY_INVOICES, profile.id):
            results.append(_finish_unconfirmed(b, user, profile.id, PaymentPurpose.INVOICE))
    return CheckResult([p for r in results for p in r.paid], sum(r.declined for r in results),
                       sum(r.checked for r in results))


def mark_invoices_paid(b: Billing, invoices: list[Invoice], payment: Payment | None) -> None:
    for invoice in invoices:
        invoice.status = InvoiceStatus.PAID  # R22
        invoice.paid_on = b.clock.today()
        invoice.payment_id = payment.id if payment else None
