"""Moving money: settle a past-due balance (R04, R05, R08, R09, R13, B5) and pay
invoices (R18–R22). Both are atomic (M2) and idempotent per key (M3); a decline (R10)
changes nothing but the audit log."""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Date, delete, func, insert, literal, select, update
from sqlalchemy.orm import joinedload

from portal.billing import access, credit, notify
from portal.billing.access import Action
from portal.billing import ids
from portal.billing.balances import (SETTLEABLE, InvoiceQuote, SettlementPreview, SettlementQuote,
                                     expire_loaded, invoice_quote, recount_outstanding, settled_charges,
                                     settled_method_ids, settlement_preview, settlement_quote, settlement_total)
from portal.billing.context import Billing
from portal.errors import (AlreadyPaid, AuthenticationRequired, BalanceChanged, BillingError, CardDeclined,
                           PaymentAwaitsAuthentication,
                           GatewayUnavailable, InvalidAmount, InvalidPart, InvalidState,
                           NothingToPay, NotFound, PaymentFormReused, PaymentInProgress)
from portal.billing.gateway import (CardDetails, CardToken, GatewayError, GatewayNotReached,
                                    IdempotencyConflict, validate_card)
from portal.money import Money
from portal.billing.notify import refusals_audited
from portal.billing.transaction import lock_account, write_transaction
from portal.models import (AccountKind, AttemptAllocation, AttemptState, AuditEvent, BillingAccount, BillingProfile,
                           Charge, ChargeStatus, DisabledSpan, Invoice, InvoicePayment, InvoiceStatus, MethodKind,
                           Payment, PaymentMethod, PaymentPurpose, Subscription, SubscriptionStatus,
                           UnconfirmedPayment, User)

log = logging.getLogger(__name__)

MAX_KEY_LENGTH = 100
# B12: the least part of an invoice payment (in minor units of the account's currency:
# 100 kr). A total of less than twice this is paid whole.
MINIMUM_PART_MINOR = 100_00


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
class _Allocation:
    """What an attempt will pay, as priced under the lock: the charges a WHERE clause
    selects (each whole), and a share of the money per invoice (B12: oldest due first)."""
    charges: tuple | None = None
    invoices: list[tuple[int, int]] = dataclasses.field(default_factory=list)


@dataclass(frozen=True)
class _Applied:
    """What recording an attempt's allocation paid, and what became credit (B15)."""
    subscriptions: list[str]
    invoices: list[Invoice]
    credited_minor: int


@dataclass
class _Attempt:
    """What one payment request is about to charge: written ahead as an
    UnconfirmedPayment before the gateway is called (M5), and the audit's details."""
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
    part_of: Money | None = None  # B12: a part payment: the whole the payer saw
    taken_up: bool = False  # written by an earlier request: it may have been charged then
    allocation: _Allocation | None = None  # what it pays, set when priced
    switch_from_method_id: int | None = None  # R05 (settle): the failed card, as priced


class _Flow(Protocol):
    """One kind of payment (settle a balance, pay invoices), in the steps every payment
    takes (`_pay`)."""
    attempt: _Attempt

    def authorize_and_lock(self) -> BillingAccount:
        """The role check that counts (under the lock, the account locked)."""

    def price(self, account: BillingAccount) -> tuple[str, Money]:
        """The token to charge and the amount, filling in the attempt's method and
        allocation (what it pays); refuses a total other than the one the customer saw."""

    def record(self, account: BillingAccount, method: PaymentMethod, payment: Payment,
               applied: _Applied) -> None:
        """What else a charged payment changes once its allocation is applied (receipt,
        audit, R05's switch), in the transaction that records it."""


class _PaymentInDoubt(Exception):
    """Another attempt of the account is not finished: finish it first (M5)."""

    def __init__(self, account_id: int):
        super().__init__(account_id)
        self.account_id = account_id


# --- shared steps -------------------------------------------------------------------

def saved_card(b: Billing, account: BillingAccount, method_id: int) -> PaymentMethod:
    """A card of this account; any other id (another account's, a check/wire method,
    garbage) is NotFound, so ids of other customers reveal nothing."""
    method = ids.get(b.session, PaymentMethod, method_id)
    if (method is None or method.account_id != account.id or method.kind != MethodKind.CARD
            or method.removed_at is not None):
        raise NotFound("payment method")
    return method


def cards_of(b: Billing, account: BillingAccount) -> list[PaymentMethod]:
    return list(b.session.scalars(
        select(PaymentMethod).where(PaymentMethod.account_id == account.id,
                                    PaymentMethod.kind == MethodKind.CARD, PaymentMethod.removed_at.is_(None))
        .order_by(PaymentMethod.id)))


def _check_key(b: Billing, key: str, account_id: int) -> None:
    """A key already paid with is "already paid" — for its own account only; the key of
    another account's payment (a tampered form) is a form used up, telling nothing."""
    if not isinstance(key, str) or not 8 <= len(key) <= MAX_KEY_LENGTH:
        raise InvalidAmount("idempotency key missing or malformed")
    paid = b.session.execute(select(Payment.id, Payment.account_id).where(Payment.idempotency_key == key)).first()
    if paid is not None:
        if paid.account_id != account_id:
            raise PaymentFormReused()
        raise AlreadyPaid(paid.id)


def _check_expected(expected_minor: int, amount: Money) -> None:
    if amount.minor <= 0:
        raise NothingToPay()
    if expected_minor != amount.minor:
        raise BalanceChanged(expected_minor, amount.minor)


def prepare_new_card(b: Billing, card: CardDetails) -> CardToken:
    validate_card(card, b.clock.today())  # before the gateway is called
    return b.gateway.tokenize(card)


def _charge(b: Billing, token: str, amount: Money, attempt: _Attempt, user: User) -> str:
    """Step 2 of `_pay`: ask the gateway, with no transaction open (the attempt is
    committed, the account's lock released). Every outcome but approval ends here:
    the attempt is closed (declined, never sent, key conflict) or left in doubt."""
    try:
        # The billing cycle's retries (B14) charge with nobody there to authenticate (B13).
        result = b.gateway.charge(token, amount, attempt.key, off_session=attempt.purpose == PaymentPurpose.AUTO_CHARGE)
    except GatewayNotReached as unreachable:
        if attempt.taken_up:  # this call was not sent; the first one may have been charged
            raise GatewayUnavailable(maybe_charged=True) from unreachable
        _close_attempt(b, attempt, user, "payment.gateway_unavailable")  # certainly not charged
        raise GatewayUnavailable(maybe_charged=False) from unreachable
    except GatewayError as no_answer:
        _attempt_in_doubt(b, attempt, user)
        raise GatewayUnavailable(maybe_charged=True) from no_answer
    except IdempotencyConflict as conflict:
        # The key was used at the gateway for another card or amount (a declined card,
        # then the same form with another; or a tampered form): nothing is charged and
        # the customer gets a fresh form.
        _close_attempt(b, attempt, user, "payment.form_reused")
        raise PaymentFormReused() from conflict
    if result.requires_action:  # B13: nothing charged yet; the attempt waits for the cardholder
        _awaiting_action(b, attempt, user, result.challenge)
        raise AuthenticationRequired(attempt.account_id, attempt.key, result.challenge)
    if not result.approved:
        reason = str(result.decline_code or "generic_decline")
        # What was being paid, so the decline can be shown again, by its own address
        # (issue 20 item 5: the page in the other language), with its way back.
        target = {"subscription_id": attempt.subscription_id, "invoice_ids": attempt.invoice_ids}
        attempt_id = _close_attempt(b, attempt, user, "payment.declined", reason=reason,
                                    **{name: value for name, value in target.items() if value})
        raise CardDeclined(reason, attempt_id)
    assert result.reference is not None
    return result.reference


def save_card(b: Billing, account: BillingAccount, token: CardToken) -> PaymentMethod:
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
    token = choice.token if isinstance(choice, UseTokenizedCard) else prepare_new_card(b, choice.card)
    attempt.new_card = token
    attempt.method = {"kind": str(MethodKind.CARD), "brand": token.brand, "last4": token.last4}
    return None, token.token, token


def record_payment(b: Billing, account: BillingAccount, user: User | None,
                    method: PaymentMethod, amount: Money, reference: str, key: str,
                    purpose: PaymentPurpose, profile_id: int | None = None) -> Payment:
    payment = Payment(idempotency_key=key, account_id=account.id, billing_profile_id=profile_id,
                      user_id=user.id if user else None, payment_method_id=method.id,
                      purpose=purpose, amount_minor=amount.minor, currency=amount.currency,
                      gateway_reference=reference, created_at=b.clock.now())
    b.session.add(payment)
    b.session.flush()
    return payment


def _attempt_details(attempt: _Attempt) -> dict:
    amount = {"amount_minor": attempt.amount.minor, "currency": attempt.amount.currency} if attempt.amount else {}
    return {**amount, "method": attempt.method}


def _close_attempt(b: Billing, attempt: _Attempt, user: User | None, action: str, **extra) -> int:
    """A decline (R10), a charge that certainly never reached the gateway, or a key
    the gateway knows for another charge: nothing was charged, nothing changes but the
    audit log; the attempt is gone. Its audit event (the id returned) is what is left."""
    with write_transaction(b.session):
        lock_account(b.session, attempt.account_id)  # always the account first, then its attempt
        _forget_unconfirmed(b, attempt.key)
        event = notify.audit(b.session, b.clock, action, account_id=attempt.account_id, actor=user,
                             profile_id=attempt.profile_id, purpose=str(attempt.purpose),
                             idempotency_key=attempt.key, **extra, **_attempt_details(attempt))
        b.session.flush()
        event_id = event.id
    return event_id


def _awaiting_action(b: Billing, attempt: _Attempt, user: User | None, challenge: str) -> None:
    """B13: the bank asked for the cardholder. The attempt keeps its key, card and
    amount while they authenticate, and blocks any other payment of the account (as
    one in doubt does) until it is finished or its challenge expires."""
    with write_transaction(b.session):
        lock_account(b.session, attempt.account_id)  # always the account first, then its attempt
        marked = b.session.execute(update(UnconfirmedPayment).where(
            UnconfirmedPayment.idempotency_key == attempt.key,
            UnconfirmedPayment.state != AttemptState.AWAITING_ACTION)
            .values(state=AttemptState.AWAITING_ACTION, challenge=challenge)).rowcount
        if marked:
            notify.audit(b.session, b.clock, "payment.authentication_requested", account_id=attempt.account_id,
                         actor=user, profile_id=attempt.profile_id, purpose=str(attempt.purpose),
                         idempotency_key=attempt.key, **_attempt_details(attempt))


def _attempt_in_doubt(b: Billing, attempt: _Attempt, user: User | None) -> None:
    """The gateway did not answer: it may have charged. The attempt (already written)
    waits to be finished under its key; nothing else is charged for the account first."""
    with write_transaction(b.session):
        lock_account(b.session, attempt.account_id)  # always the account first, then its attempt
        marked = b.session.execute(update(UnconfirmedPayment).where(
            UnconfirmedPayment.idempotency_key == attempt.key).values(state=AttemptState.IN_DOUBT)).rowcount
        if not marked:
            return  # finished by another request while we waited
        notify.audit(b.session, b.clock, "payment.unconfirmed", account_id=attempt.account_id, actor=user,
                     profile_id=attempt.profile_id, purpose=str(attempt.purpose),
                     idempotency_key=attempt.key, **_attempt_details(attempt))


def _write_ahead(b: Billing, attempt: _Attempt, user: User) -> None:
    """M5: the attempt and its allocation, committed with the caller's transaction
    before any charge. Recording applies exactly this allocation (issue 27)."""
    card = dataclasses.asdict(attempt.new_card) if attempt.new_card is not None else None
    row = UnconfirmedPayment(
        idempotency_key=attempt.key, account_id=attempt.account_id, user_id=user.id if user else None,
        purpose=attempt.purpose, subscription_id=attempt.subscription_id,
        billing_profile_id=attempt.profile_id, invoice_ids=attempt.invoice_ids,
        payment_method_id=attempt.method_id, new_card=card, amount_minor=attempt.amount.minor,
        part_of_minor=attempt.part_of.minor if attempt.part_of is not None else None,
        currency=attempt.amount.currency, state=AttemptState.PENDING, created_at=b.clock.now(),
        switch_from_method_id=attempt.switch_from_method_id)
    b.session.add(row)
    b.session.flush()
    allocation = attempt.allocation or _Allocation()
    if allocation.charges is not None:  # set-based: a reseller's settlement covers 200,000 charges
        b.session.execute(insert(AttemptAllocation).from_select(
            ["attempt_id", "charge_id", "amount_minor"],
            select(literal(row.id), Charge.id, Charge.amount_minor).where(*allocation.charges)))
    if allocation.invoices:
        b.session.execute(insert(AttemptAllocation), [
            {"attempt_id": row.id, "invoice_id": invoice_id, "amount_minor": share}
            for invoice_id, share in allocation.invoices])
    allocated = b.session.scalar(select(func.coalesce(func.sum(AttemptAllocation.amount_minor), 0))
                                 .where(AttemptAllocation.attempt_id == row.id))
    if allocated != attempt.amount.minor:  # nothing is charged yet: refuse rather than guess
        raise RuntimeError(f"attempt {attempt.key}: {allocated} allocated, {attempt.amount.minor} priced")


def _take_up(b: Billing, attempt: _Attempt, row: UnconfirmedPayment) -> tuple[str, Money]:
    """The same form again (a double click, a retry, Pay pressed after "we could not
    confirm"): charge exactly what its attempt was written with — key, card token,
    amount — even for a new card, which is not tokenised again."""
    amount = Money(row.amount_minor, row.currency)
    attempt.amount, attempt.taken_up = amount, True
    if row.payment_method_id is not None:
        method = b.session.get(PaymentMethod, row.payment_method_id)
        attempt.method_id, attempt.method = method.id, method_summary(method)
        return method.gateway_token, amount
    attempt.new_card = CardToken(**row.new_card)
    attempt.method = {"kind": str(MethodKind.CARD), "brand": attempt.new_card.brand,
                      "last4": attempt.new_card.last4}
    return attempt.new_card.token, amount


def _open_attempts(b: Billing, account_id: int) -> list[str]:
    return list(b.session.scalars(select(UnconfirmedPayment.idempotency_key)
                                  .where(UnconfirmedPayment.account_id == account_id)))


def _pay(b: Billing, user: User, flow: _Flow, finish_others: bool = True) -> Payment:
    """Every payment, in three steps (M2, M3, M5):
    1. under the account's lock, after the role check that counts: refuse a key
       already paid; while another attempt of the account is unfinished, finish it
       first (under its own key: never a second charge; `finish_others`) or refuse;
       price the payment; write the attempt ahead and commit (or take up this key's own);
    2. with no lock held: charge, under the attempt's key;
    3. under the lock again: record the payment and all it changes, and delete the
       attempt, in one transaction — unless someone finished this attempt meanwhile.
       No role check here: the money has moved, so it is recorded.
    A crash between 2 and 3 leaves the attempt, so the charge is found again."""
    attempt = flow.attempt
    try:
        token, amount = _begin(b, user, flow)
    except _PaymentInDoubt as in_doubt:
        if not finish_others:
            raise
        try:
            _finish_unconfirmed(b, in_doubt.account_id)
            token, amount = _begin(b, user, flow)
        except (GatewayUnavailable, _PaymentInDoubt) as unfinished:
            if isinstance(unfinished, GatewayUnavailable) and _in_doubt(b, in_doubt.account_id):
                raise  # an earlier payment the gateway cannot confirm: "check the payment"
            # Another request's attempt is at the gateway right now (or yet another began):
            # this one has charged nothing, and says so (issue 27: not "could not confirm").
            raise PaymentInProgress(in_doubt.account_id) from None
    try:
        reference = _charge(b, token, amount, attempt, user)
    except GatewayUnavailable as unanswered:
        finished = b.session.scalars(select(Payment).where(Payment.idempotency_key == attempt.key)).first()
        if unanswered.maybe_charged and finished is not None:
            raise AlreadyPaid(finished.id) from None  # another request finished it while we waited
        raise
    with write_transaction(b.session):
        account = lock_account(b.session, attempt.account_id)
        done = b.session.scalars(select(Payment).where(Payment.idempotency_key == attempt.key)).first()
        if done is not None:  # finished by another request (the same form twice, a second tab)
            raise AlreadyPaid(done.id)
        method = (saved_card(b, account, attempt.method_id) if attempt.method_id is not None
                  else save_card(b, account, attempt.new_card))
        row = b.session.scalars(select(UnconfirmedPayment).where(
            UnconfirmedPayment.idempotency_key == attempt.key)).first()
        attempt.switch_from_method_id = row.switch_from_method_id if row is not None else None
        payment = record_payment(b, account, flow.user, method, amount, reference, attempt.key, attempt.purpose,
                                 attempt.profile_id)
        applied = apply_allocation(b, account, row.id if row is not None else None, payment,
                                   first_method_id=attempt.switch_from_method_id or method.id)
        flow.record(account, method, payment, applied)
        _forget_unconfirmed(b, attempt.key)
        return payment


def apply_allocation(b: Billing, account: BillingAccount, attempt_id: int | None, payment: Payment,
                     first_method_id: int) -> _Applied:
    """Step 3 of `_pay`: apply exactly what the attempt wrote ahead — its charges paid,
    each invoice its share — set-based, never re-derived from the state of the moment.
    What finds its charge or invoice paid meanwhile (a bank transfer, another writer)
    becomes the account's credit (B15): the money is recorded whole, never refused,
    since it has been taken. The caller holds the account's lock."""
    mine = (AttemptAllocation.attempt_id == attempt_id,)
    charges = select(AttemptAllocation.charge_id).where(*mine, AttemptAllocation.charge_id.is_not(None))
    names = pay_charges(b, payment, charges, first_method_id)
    charged = b.session.scalar(select(func.coalesce(func.sum(Charge.amount_minor), 0))
                               .where(Charge.payment_id == payment.id))
    shares = list(b.session.execute(select(AttemptAllocation.invoice_id, AttemptAllocation.amount_minor)
                                    .where(*mine, AttemptAllocation.invoice_id.is_not(None))
                                    .order_by(AttemptAllocation.id)))
    invoices = {i.id: i for i in b.session.scalars(select(Invoice).where(
        Invoice.id.in_([invoice_id for invoice_id, _ in shares])).execution_options(populate_existing=True))}
    applied, received = apply_shares(b, [(invoices[invoice_id], share) for invoice_id, share in shares], payment)
    surplus = payment.amount_minor - charged - received
    if surplus < 0:  # more paid than the money: a bug, never a state to commit
        raise RuntimeError(f"payment {payment.id}: {charged + received} applied of {payment.amount_minor}")
    credit.add_surplus(b, account, payment, surplus, "already_paid" if charged + received == 0
                       else "allocation_changed", payment.billing_profile_id)
    return _Applied(names, applied, surplus)


def _begin(b: Billing, user: User, flow: _Flow) -> tuple[str, Money]:
    """Step 1 of `_pay`: the token and amount to charge, the attempt committed."""
    attempt = flow.attempt
    with write_transaction(b.session):
        account = flow.authorize_and_lock()
        attempt.account_id = account.id
        _check_key(b, attempt.key, account.id)
        row = b.session.scalars(select(UnconfirmedPayment).where(
            UnconfirmedPayment.idempotency_key == attempt.key)).first()
        if row is not None and row.account_id != account.id:
            raise PaymentFormReused()  # another account's attempt: not ours to take up
        if row is not None:
            return _take_up(b, attempt, row)
        if _open_attempts(b, account.id):
            raise _PaymentInDoubt(account.id)
        token, amount = flow.price(account)
        if amount.currency != account.currency:
            raise InvalidAmount("currency differs from the account's")
        attempt.amount = amount
        _write_ahead(b, attempt, user)
        return token, amount


def _forget_unconfirmed(b: Billing, key: str) -> None:
    """The attempt is finished (recorded, declined, never sent): it and its allocation go."""
    attempt = select(UnconfirmedPayment.id).where(UnconfirmedPayment.idempotency_key == key).scalar_subquery()
    b.session.execute(delete(AttemptAllocation).where(AttemptAllocation.attempt_id == attempt))
    b.session.execute(delete(UnconfirmedPayment).where(UnconfirmedPayment.idempotency_key == key))


def _in_doubt(b: Billing, account_id: int) -> bool:
    found = b.session.scalar(select(UnconfirmedPayment.id).where(
        UnconfirmedPayment.account_id == account_id, UnconfirmedPayment.state == AttemptState.IN_DOUBT).limit(1))
    b.session.rollback()
    return found is not None


def refuse_while_paying(b: Billing, account_id: int) -> None:
    """Issue 27: a writer that would change what an open attempt pays (move
    subscriptions, a profile's default) waits until it is finished: PaymentInProgress.
    Call it holding the account's lock (attempts are written under it)."""
    if _open_attempts(b, account_id):
        raise PaymentInProgress(account_id)


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
    return _pay(b, user, _Settlement(b, user, subscription_id, choice, expected_total_minor,
                                     _Attempt(PaymentPurpose.SETTLE, idempotency_key,
                                              subscription_id=subscription_id)))


@dataclass
class _Settlement:
    """Settling a balance, in the steps of `_pay`."""
    b: Billing
    user: User
    subscription_id: int
    choice: MethodChoice
    expected_total_minor: int
    attempt: _Attempt

    def authorize_and_lock(self) -> BillingAccount:
        subscription = settleable_subscription(self.b, self.user, self.subscription_id)  # R02
        return lock_account(self.b.session, subscription.account_id)

    def price(self, account: BillingAccount) -> tuple[str, Money]:
        b = self.b
        subscription = b.session.get(Subscription, self.subscription_id)
        if subscription.status == SubscriptionStatus.DELETED:
            raise InvalidState("subscription deleted")
        method, token, _new_card = _resolve_choice(b, account, self.choice, self.attempt)
        method_ids = settled_method_ids(subscription, method)
        total = settlement_total(b.session, method_ids, account.currency)
        _check_expected(self.expected_total_minor, total)
        self.attempt.allocation = _Allocation(charges=settled_charges(method_ids))
        self.attempt.switch_from_method_id = subscription.payment_method_id
        return token, total

    def record(self, account: BillingAccount, method: PaymentMethod, payment: Payment, applied: _Applied) -> None:
        b = self.b
        # R05, for the failed card as priced. Set-based: settling 10,000 subscriptions
        # must not load them as objects.
        failed_method = b.session.get(PaymentMethod, self.attempt.switch_from_method_id or method.id)
        on_failed = (Subscription.account_id == account.id, Subscription.payment_method_id == failed_method.id)
        switched_names = list(b.session.scalars(select(Subscription.name).where(*on_failed)
                                                .order_by(Subscription.id)))
        b.session.execute(update(Subscription).where(*on_failed)  # R05
                          .values(payment_method_id=method.id).execution_options(synchronize_session=False))
        expire_loaded(b.session, Subscription, ["payment_method_id"])
        details = _receipt_details(payment, method, applied, subscriptions=applied.subscriptions)
        notify.queue_receipt(b.session, b.clock, account, self.user, details)
        notify.audit(b.session, b.clock, "payment.succeeded", account_id=account.id,
                     actor=self.user, purpose="settle", **details)
        if failed_method.id != method.id:
            notify.audit(b.session, b.clock, "payment_method.switched", account_id=account.id,
                         actor=self.user, from_method_id=failed_method.id, to_method_id=method.id,
                         from_method=method_summary(failed_method),
                         method=method_summary(method),
                         subscriptions=switched_names)


def _receipt_details(payment: Payment, method: PaymentMethod, applied: _Applied, **what) -> dict:
    """The receipt's and the audit event's details of a recorded payment."""
    details = {"payment_id": payment.id, "amount_minor": payment.amount_minor, "currency": payment.currency,
               "method": method_summary(method), **what}
    if applied.credited_minor:
        details["credited_minor"] = applied.credited_minor  # B15: "… kr har blivit ett tillgodohavande"
    return details


def pay_charges(b: Billing, payment: Payment, charge_ids, first_method_id: int) -> list[str]:
    """The outstanding ones of these charges (ids, or a SELECT of ids) marked paid by
    `payment`, set-based (settling 10,000 subscriptions must not load 18,000 charges
    as objects); their subscriptions re-enabled until deleted (R13) — when they owe
    nothing more — and recounted; each one re-enabled keeps the stretch it was
    disabled (B16: those days are not billed, today's are). The names of the
    subscriptions paid, `first_method_id`'s first. The caller checks the sum against
    the money."""
    b.session.execute(update(Charge).where(Charge.id.in_(charge_ids), Charge.status == ChargeStatus.OUTSTANDING)
                      .values(status=ChargeStatus.PAID, payment_id=payment.id)
                      .execution_options(synchronize_session=False))
    expire_loaded(b.session, Charge, ["status", "payment_id"])
    paid = Subscription.id.in_(select(Charge.subscription_id).where(Charge.payment_id == payment.id))
    paid_names = list(b.session.scalars(select(Subscription.name).where(paid).order_by(
        Subscription.payment_method_id != first_method_id, Subscription.id)))
    owes_nothing = ~select(Charge.id).where(Charge.subscription_id == Subscription.id,
                                            Charge.status == ChargeStatus.OUTSTANDING).exists()
    reenabled = (paid, Subscription.status.in_(SETTLEABLE), owes_nothing)
    b.session.execute(insert(DisabledSpan).from_select(  # B16
        ["subscription_id", "disabled_on", "enabled_on"],
        select(Subscription.id, Subscription.disabled_on, literal(b.clock.today(), Date)).where(
            *reenabled, Subscription.disabled_on.is_not(None))))
    b.session.execute(update(Subscription)  # R13: re-enabled until deleted; B14: no more retries
                      .where(*reenabled)
                      .values(status=SubscriptionStatus.ACTIVE, past_due_since=None, disabled_on=None,
                              retry_count=0, next_retry_on=None)
                      .execution_options(synchronize_session=False))
    expire_loaded(b.session, Subscription, ["status", "past_due_since", "disabled_on", "retry_count",
                                            "next_retry_on"])
    recount_outstanding(b.session, paid)
    # Issue 20 item 1: "payment failed", "will be disabled" and "disabled" notices of the
    # subscriptions now active go away by themselves.
    notify.resolve_notices(b.session, b.clock, payment.account_id, subscription_ids=select(Subscription.id).where(
        paid, Subscription.status == SubscriptionStatus.ACTIVE))
    return paid_names


# --- retry a failed automatic charge (B14) ---------------------------------------------

def retry_subscription(b: Billing, subscription_id: int) -> Payment:
    """B14 (the billing cycle, no person): charge what one past-due subscription owes to
    its card again, as a payment of its own — its own key (the subscription, the day it
    went past due, which retry), written ahead and finished under that key if the answer
    is lost (M5), off-session (B13). Paid: its charges paid, the subscription active
    again (R13), receipt and audit. Declined: CardDeclined, nothing changed."""
    sub = b.session.get(Subscription, subscription_id)
    key = f"auto-retry-{sub.id}-{sub.past_due_since:%Y%m%d}-{(sub.retry_count or 0) + 1}"
    b.session.rollback()
    try:
        return _pay(b, None, _Retry(b, subscription_id, _Attempt(PaymentPurpose.AUTO_CHARGE, key,
                                                                 subscription_id=subscription_id)),
                    finish_others=False)  # another attempt of the account is reconcile's to finish
    except _PaymentInDoubt as open_attempt:
        raise PaymentInProgress(open_attempt.account_id) from None


@dataclass
class _Retry:
    """Retrying a subscription's failed charges, in the steps of `_pay`."""
    b: Billing
    subscription_id: int
    attempt: _Attempt
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
        owed = (Charge.subscription_id == self.subscription_id, Charge.status == ChargeStatus.OUTSTANDING)
        owed_minor = self.b.session.scalar(select(func.coalesce(func.sum(Charge.amount_minor), 0)).where(*owed))
        if not owed_minor:
            raise NothingToPay()
        self.attempt.method_id, self.attempt.method = method.id, method_summary(method)
        self.attempt.allocation = _Allocation(charges=owed)
        return method.gateway_token, Money(int(owed_minor), account.currency)

    def record(self, account: BillingAccount, method: PaymentMethod, payment: Payment, applied: _Applied) -> None:
        details = _receipt_details(payment, method, applied, subscriptions=applied.subscriptions)
        notify.queue_receipt(self.b.session, self.b.clock, account, None, details)
        notify.audit(self.b.session, self.b.clock, "payment.succeeded", account_id=account.id, actor=None,
                     purpose="auto_charge_retry", **details)


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
    return invoices_to_pay(b, payable_profile(b, user, profile_id), invoice_ids)


def invoices_to_pay(b: Billing, profile: BillingProfile, invoice_ids: list[int] | None = None) -> InvoiceQuote:
    """The Pay now page, for a profile `payable_profile` gave (R19 checked once, for
    the page): what paying would charge (read only)."""
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


def can_pay_part(quote: InvoiceQuote) -> bool:
    """B12: whether paying only part now is offered: the whole is at least twice the minimum."""
    return quote.total.minor >= 2 * MINIMUM_PART_MINOR


def part_to_pay(quote: InvoiceQuote, part_minor: int) -> Money:
    """B12 (Azure's split payment): a part of the quote's total, paid now — the rest
    later, with this or another card. At least MINIMUM_PART_MINOR, less than the whole."""
    if not can_pay_part(quote) or not MINIMUM_PART_MINOR <= part_minor < quote.total.minor:
        raise InvalidPart(MINIMUM_PART_MINOR, quote.total.minor)
    return Money(part_minor, quote.currency)


@refusals_audited
def pay_invoices(b: Billing, user: User, profile_id: int, invoice_ids: list[int] | None,
                 choice: MethodChoice, expected_total_minor: int, idempotency_key: str,
                 part_minor: int | None = None) -> Payment:
    """R21/R22: pay the profile's open invoices (or the given ones) with a saved or a
    new card; each becomes Paid with its payment date and method (B4). With
    `part_minor`, only that much of `expected_total_minor` now, the oldest due first
    (B12). An unfinished attempt of the account is finished first (M5)."""
    invoice_ids = list(invoice_ids) if invoice_ids else None
    return _pay(b, user, _InvoicePayment(b, user, profile_id, invoice_ids, choice, expected_total_minor,
                                         _Attempt(PaymentPurpose.INVOICE, idempotency_key,
                                                  profile_id=profile_id, invoice_ids=invoice_ids),
                                         part_minor))


@dataclass
class _InvoicePayment:
    """Paying invoices, in the steps of `_pay`."""
    b: Billing
    user: User
    profile_id: int
    invoice_ids: list[int] | None
    choice: MethodChoice
    expected_total_minor: int
    attempt: _Attempt
    part_minor: int | None = None  # B12: only this much of the total, now

    def authorize_and_lock(self) -> BillingAccount:
        profile = payable_profile(self.b, self.user, self.profile_id)  # R19
        return lock_account(self.b.session, profile.account_id)

    def price(self, account: BillingAccount) -> tuple[str, Money]:
        quote = invoices_to_pay(self.b, self.b.session.get(BillingProfile, self.profile_id), self.invoice_ids)
        _check_expected(self.expected_total_minor, quote.total)
        amount = quote.total
        if self.part_minor is not None:
            amount, self.attempt.part_of = part_to_pay(quote, self.part_minor), quote.total
        _method, token, _new_card = _resolve_choice(self.b, account, self.choice, self.attempt)
        self.attempt.allocation = _Allocation(invoices=oldest_first_shares(quote.invoices, amount.minor)[0])
        return token, amount

    def record(self, account: BillingAccount, method: PaymentMethod, payment: Payment, applied: _Applied) -> None:
        b = self.b
        details = _receipt_details(payment, method, applied, invoices=[i.number for i in applied.invoices])
        if self.part_minor is not None:  # B12: what is left of what the payer saw
            details["left_minor"] = _left_to_pay(b, self.profile_id, self.invoice_ids)
        notify.queue_receipt(b.session, b.clock, account, self.user, details)
        notify.audit(b.session, b.clock, "payment.succeeded", account_id=account.id,
                     actor=self.user, profile_id=self.profile_id, purpose="invoice", **details)


def _left_to_pay(b: Billing, profile_id: int, invoice_ids: list[int] | None) -> int:
    """What is left to pay of the profile's open invoices (or of these)."""
    which = [Invoice.id.in_(invoice_ids)] if invoice_ids else []
    return int(b.session.scalar(select(func.coalesce(func.sum(
        Invoice.subtotal_minor - Invoice.credits_applied_minor - Invoice.paid_minor), 0)).where(
        Invoice.billing_profile_id == profile_id, Invoice.status != InvoiceStatus.PAID, *which)))


# --- attempts the gateway may have charged ------------------------------------------

@dataclass(frozen=True)
class CheckResult:
    """What checking the unconfirmed attempts found."""
    paid: list[Payment]     # went through: now recorded, with receipt and email
    declined: int           # were declined after all: nothing was charged
    checked: int            # how many there were


def _finish_unconfirmed(b: Billing, account_id: int, older_than: datetime | None = None) -> CheckResult:
    """Finish each unfinished attempt of the account (`older_than`: only those written
    before then) exactly as it was written — same key, same card token, same amount,
    as the person who made it. The gateway answers from its ledger, never charging
    twice: approved → recorded as paid now (receipt, email, method switch, audit);
    declined → closed. While the gateway still cannot tell, or the attempt no longer
    matches what is owed, nothing new is charged (GatewayUnavailable(maybe_charged=True)):
    better refused than twice."""
    query = select(UnconfirmedPayment).where(UnconfirmedPayment.account_id == account_id)
    if older_than is not None:  # a young pending attempt may still be on its way
        query = query.where((UnconfirmedPayment.state == AttemptState.IN_DOUBT)
                            | (UnconfirmedPayment.created_at <= older_than))
    pending = [_unfinished_flow(b, row) for row in b.session.scalars(query.order_by(UnconfirmedPayment.id))]
    b.session.rollback()  # end the read: each attempt is finished in its own transactions
    paid, declined = [], 0
    for flow in pending:
        key = flow.attempt.key
        try:
            paid.append(_pay(b, flow.user, flow, finish_others=False))
        except AlreadyPaid:
            with write_transaction(b.session):
                _forget_unconfirmed(b, key)
        except CardDeclined:
            declined += 1  # closed and audited by the decline itself
        except AuthenticationRequired as waiting:  # B13: its cardholder has not come back yet
            raise PaymentAwaitsAuthentication(waiting.account_id, waiting.key, waiting.challenge) from None
        except (GatewayUnavailable, _PaymentInDoubt):
            raise GatewayUnavailable(maybe_charged=True) from None
        except BillingError as mismatch:
            log.warning("unconfirmed payment %s cannot be finished: %r", key, mismatch)
            raise GatewayUnavailable(maybe_charged=True) from mismatch
    return CheckResult(paid, declined, len(pending))


def _unfinished_flow(b: Billing, row: UnconfirmedPayment) -> _Flow:
    """The attempt exactly as it was written — same key, card token, amount and
    person — ready to run through `_pay` again."""
    choice = (UseSavedCard(row.payment_method_id) if row.payment_method_id is not None
              else UseTokenizedCard(CardToken(**row.new_card)))
    owner = b.session.get(User, row.user_id) if row.user_id is not None else None
    if row.purpose == PaymentPurpose.AUTO_CHARGE:
        return _Retry(b, row.subscription_id, _Attempt(row.purpose, row.idempotency_key,
                                                       subscription_id=row.subscription_id))
    if row.purpose == PaymentPurpose.SETTLE:
        return _Settlement(b, owner, row.subscription_id, choice, row.amount_minor,
                           _Attempt(row.purpose, row.idempotency_key, subscription_id=row.subscription_id))
    is_part = row.part_of_minor is not None
    return _InvoicePayment(b, owner, row.billing_profile_id, row.invoice_ids, choice,
                           row.part_of_minor if is_part else row.amount_minor,
                           _Attempt(row.purpose, row.idempotency_key, profile_id=row.billing_profile_id,
                                    invoice_ids=row.invoice_ids),
                           row.amount_minor if is_part else None)


@refusals_audited
def finish_authenticated(b: Billing, user: User, account_id: int, key: str) -> Payment:
    """B13: the cardholder is back from the bank's challenge: finish their attempt under
    its key — the gateway now answers approved (recorded, with receipt) or declined
    (closed), or the same challenge again while it is not done. A return replayed or
    arriving twice finds the payment (AlreadyPaid). Only the person who started it."""
    account = access.get_account(b.session, user, account_id)
    if not isinstance(key, str) or not 8 <= len(key) <= MAX_KEY_LENGTH:
        raise NotFound("payment")
    done = b.session.scalar(select(Payment.id).where(Payment.idempotency_key == key,
                                                     Payment.account_id == account.id))
    if done is not None:
        raise AlreadyPaid(done)
    row = b.session.scalars(select(UnconfirmedPayment).where(
        UnconfirmedPayment.idempotency_key == key, UnconfirmedPayment.account_id == account.id,
        UnconfirmedPayment.user_id == user.id)).first()
    if row is None:
        declined = _declined_under(b, account.id, user, key)
        if declined is not None:  # the decline page reloaded (issue 27): the same decline again
            raise CardDeclined(declined.details.get("reason") or "generic_decline", declined.id)
        raise NotFound("payment")
    flow = _unfinished_flow(b, row)
    b.session.rollback()  # end the read: `_pay` takes the lock itself
    return _pay(b, user, flow, finish_others=False)


DECLINES_LOOKED_AT = 20  # a reload comes soon after its decline: the person's latest few


def _declined_under(b: Billing, account_id: int, user: User, key: str) -> AuditEvent | None:
    """The decline of this person's attempt `key`, if it was declined (its audit event)."""
    recent = b.session.scalars(select(AuditEvent).where(
        AuditEvent.account_id == account_id, AuditEvent.actor_user_id == user.id,
        AuditEvent.action == "payment.declined").order_by(AuditEvent.id.desc()).limit(DECLINES_LOOKED_AT))
    return next((event for event in recent if (event.details or {}).get("idempotency_key") == key), None)


@dataclass(frozen=True)
class WaitingAttempt:
    """What a payment waiting for its cardholder pays for (kept after the attempt is gone)."""
    purpose: PaymentPurpose
    subscription_id: int | None
    billing_profile_id: int | None
    invoice_ids: list[int] | None


def awaiting_purpose(b: Billing, user: User, account_id: int, key: str) -> WaitingAttempt | None:
    """What a return from the bank is about (where to send a declined payer back to)."""
    row = b.session.execute(select(UnconfirmedPayment.purpose, UnconfirmedPayment.subscription_id,
                                   UnconfirmedPayment.billing_profile_id, UnconfirmedPayment.invoice_ids).where(
        UnconfirmedPayment.idempotency_key == key, UnconfirmedPayment.account_id == account_id,
        UnconfirmedPayment.user_id == user.id)).first()
    return WaitingAttempt(*row) if row is not None else None


@dataclass(frozen=True)
class DeclinedAttempt:
    """A declined payment as its decline page shows it again (issue 20 item 5): why,
    and what it paid for (where "Try again" leads)."""
    reason: str
    purpose: PaymentPurpose | None
    subscription_id: int | None
    billing_profile_id: int | None
    invoice_ids: list[int] | None


def declined_attempt(b: Billing, user: User, account_id: int, attempt_id: int) -> DeclinedAttempt:
    """The decline `attempt_id` (its audit event), for the person whose payment it was
    only: anyone else's, another account's or anything else is NotFound. Read only."""
    account = access.get_account(b.session, user, account_id)
    event = ids.get(b.session, AuditEvent, attempt_id)
    if (event is None or event.action != "payment.declined" or event.account_id != account.id
            or event.actor_user_id != user.id):
        raise NotFound("payment attempt")
    d = event.details or {}
    purpose = d.get("purpose")
    invoice_ids = [i for i in d.get("invoice_ids") or [] if ids.is_id(i)]
    return DeclinedAttempt(
        reason=str(d.get("reason") or "generic_decline"),
        purpose=PaymentPurpose(purpose) if purpose in {str(p) for p in PaymentPurpose} else None,
        subscription_id=d.get("subscription_id") if ids.is_id(d.get("subscription_id")) else None,
        billing_profile_id=event.billing_profile_id, invoice_ids=invoice_ids or None)


@refusals_audited
def check_unconfirmed(b: Billing, user: User, account_id: int) -> CheckResult:
    """The customer's "check the payment" after a gateway failure: finish every
    unfinished attempt of the account, if this user may pay for it."""
    account = access.get_account(b.session, user, account_id)
    if account.kind == AccountKind.PAY_AS_YOU_GO:
        access.require(b.session, user, account, Action.SETTLE)
    elif not any(access.decide(b.session, user, account, Action.PAY_INVOICES, profile.id)
                 for profile in account.profiles):
        return CheckResult([], 0, 0)  # a reader: nothing of theirs to check
    return _finish_unconfirmed(b, account.id)


def mark_invoices_paid(b: Billing, invoices: list[Invoice], payment: Payment | None) -> None:
    """R22: these invoices paid in full — by `payment`, or (None) by credits alone."""
    if payment is None:
        for invoice in invoices:
            invoice.status, invoice.paid_on = InvoiceStatus.PAID, b.clock.today()
        return
    apply_to_invoices(b, invoices, payment, sum(invoice.left.minor for invoice in invoices))


def oldest_first_shares(invoices: list[Invoice], amount_minor: int) -> tuple[list[tuple[int, int]], int]:
    """B12: `amount_minor` over these open invoices, the oldest due first: each gets
    what is left of it, or what is left of the money. ([(invoice id, share)], money left)."""
    shares, money_left = [], amount_minor
    for invoice in sorted(invoices, key=lambda i: (i.due_on, i.id)):
        share = min(invoice.left.minor, money_left) if invoice.is_open else 0
        if share > 0:
            shares.append((invoice.id, share))
            money_left -= share
    return shares, money_left


def apply_to_invoices(b: Billing, invoices: list[Invoice], payment: Payment, amount_minor: int) -> tuple[list[Invoice], int]:
    """B12: `amount_minor` of `payment` to these open invoices, the oldest due first.
    (The invoices that got some of it, the money left over.) The caller holds the
    account's lock and says where the rest goes (B15: credit)."""
    by_id = {invoice.id: invoice for invoice in invoices}
    shares, _left = oldest_first_shares(invoices, amount_minor)
    applied, received = apply_shares(b, [(by_id[invoice_id], share) for invoice_id, share in shares], payment)
    return applied, amount_minor - received


def apply_shares(b: Billing, shares: list[tuple[Invoice, int]], payment: Payment) -> tuple[list[Invoice], int]:
    """Each invoice gets its share of `payment` — no more than is left of it, nothing
    once it is paid. One that is covered becomes Paid (R22) by this payment; the others
    keep their state, partly paid (B12). (The invoices that got some, how much in all.)"""
    applied: list[Invoice] = []
    received = 0
    for invoice, wanted in shares:
        share = min(invoice.left.minor, wanted) if invoice.is_open else 0
        if share <= 0:
            continue
        b.session.add(InvoicePayment(invoice_id=invoice.id, payment_id=payment.id, amount_minor=share))
        invoice.paid_minor = (invoice.paid_minor or 0) + share
        received += share
        if invoice.left.minor == 0:
            invoice.status, invoice.paid_on, invoice.payment_id = InvoiceStatus.PAID, b.clock.today(), payment.id
        applied.append(invoice)
    notify.resolve_notices(b.session, b.clock, payment.account_id,  # issue 20 item 1
                           invoice_ids=[i.id for i in applied if i.status == InvoiceStatus.PAID])
    b.session.flush()
    b.session.expire(payment, ["invoices"])
    return applied, received


# --- reconciliation (M6) -------------------------------------------------------------

@dataclass
class Reconciliation:
    """What `reconcile` did, and what it leaves for a person."""
    finished: list[Payment] = dataclasses.field(default_factory=list)  # charged: now recorded
    declined: int = 0                                                  # closed, nothing charged
    waiting: list[str] = dataclasses.field(default_factory=list)       # keys not finished (why: `why`)
    why: dict[str, str] = dataclasses.field(default_factory=dict)      # key → what is really wrong
    unrecorded: list[str] = dataclasses.field(default_factory=list)    # charged, no attempt, no payment
    for_the_cycle: list[str] = dataclasses.field(default_factory=list)  # automatic charges, rebilled by the cycle
    credited: list[tuple[str, Money]] = dataclasses.field(default_factory=list)  # B15: recorded, part or all credit

    @property
    def needs_a_person(self) -> bool:
        return bool(self.waiting or self.unrecorded)


AUTO_CHARGE_KEYS = ("auto-charge-", "auto-invoice-")  # the billing cycle's derived keys


def reconcile(b: Billing, older_than: timedelta = timedelta(minutes=2)) -> Reconciliation:
    """M6: drive every unfinished attempt written before `older_than` ago (and every
    one in doubt) to its end under its own key, then look for charges the gateway
    approved that nothing here knows of. Safe to run anywhere at once: each attempt is
    finished under its account's lock, and the gateway answers a key once."""
    done = Reconciliation()
    cutoff = b.clock.now() - older_than
    accounts = sorted(set(b.session.scalars(select(UnconfirmedPayment.account_id).where(
        (UnconfirmedPayment.state == AttemptState.IN_DOUBT) | (UnconfirmedPayment.created_at <= cutoff)))))
    b.session.rollback()
    for account_id in accounts:
        try:
            result = _finish_unconfirmed(b, account_id, older_than=cutoff)
            done.finished += result.paid
            done.declined += result.declined
            done.credited += [(p.idempotency_key, credited) for p in result.paid
                              if (credited := credit.credited_by(b.session, p)).minor]
        except Exception as failed:  # the gateway cannot tell, or recording failed: a person looks
            why = ("the gateway cannot tell yet whether it charged" if isinstance(failed, GatewayUnavailable)
                   else "its cardholder has not authenticated yet" if isinstance(failed, AuthenticationRequired)
                   else f"it could not be recorded: {failed!r}")
            if not isinstance(failed, (GatewayUnavailable, AuthenticationRequired)):
                log.exception("reconciling the payments of account %s failed", account_id)
            b.session.rollback()
            keys = list(b.session.scalars(select(UnconfirmedPayment.idempotency_key).where(
                UnconfirmedPayment.account_id == account_id)))
            done.waiting += keys
            done.why.update(dict.fromkeys(keys, why))
            b.session.rollback()
    recorded = set(b.session.scalars(select(Payment.idempotency_key)))
    open_keys = set(b.session.scalars(select(UnconfirmedPayment.idempotency_key)))
    b.session.rollback()
    for entry in b.gateway.ledger():
        if not entry.approved or entry.idempotency_key in recorded or entry.idempotency_key in open_keys:
            continue
        (done.for_the_cycle if entry.idempotency_key.startswith(AUTO_CHARGE_KEYS)
         else done.unrecorded).append(entry.idempotency_key)
    return done
