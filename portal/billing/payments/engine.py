"""Every card payment in the same three steps (`pay`): price and write ahead under
the account's lock; charge with no lock held; record under the lock. Atomic (M2),
idempotent per key (M3), an unfinished attempt finished under its own key before
anything else is charged (M5). A kind of payment is a `Flow` (settle.py, invoices.py,
retry.py) registered in FLOWS, so an attempt left behind can be finished as written."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import select

from portal.billing.context import Billing
from portal.errors import (AlreadyPaid, AuthenticationRequired, BalanceChanged, BillingError, CardDeclined,
                           PaymentAwaitsAuthentication, GatewayUnavailable, InvalidAmount, NothingToPay,
                           PaymentFormReused, PaymentInProgress)
from portal.billing.gateway import CardToken, GatewayError, GatewayNotReached, IdempotencyConflict
from portal.money import Money
from portal.billing.transaction import lock_account, write_transaction
from portal.models import (AttemptState, BillingAccount, Payment, PaymentMethod, PaymentPurpose,
                           UnconfirmedPayment, User)
from portal.billing.payments.cards import MethodChoice, UseSavedCard, UseTokenizedCard, save_card, saved_card
from portal.billing.payments.attempts import (Attempt, MAX_KEY_LENGTH, PaymentInDoubt, any_in_doubt,
                                              awaiting_action, close_attempt, forget, mark_in_doubt,
                                              open_attempts, take_up, write_ahead)
from portal.billing.payments.ledger import Applied, apply_allocation, record_payment

log = logging.getLogger(__name__)


class Flow(Protocol):
    """One kind of payment (settle a balance, pay invoices), in the steps every payment
    takes (`pay`)."""
    attempt: Attempt

    def authorize_and_lock(self) -> BillingAccount:
        """The role check that counts (under the lock, the account locked)."""

    def price(self, account: BillingAccount) -> tuple[str, Money]:
        """The token to charge and the amount, filling in the attempt's method and
        allocation (what it pays); refuses a total other than the one the customer saw."""

    def record(self, account: BillingAccount, method: PaymentMethod, payment: Payment,
               applied: Applied) -> None:
        """What else a charged payment changes once its allocation is applied (receipt,
        audit, R05's switch), in the transaction that records it."""


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


def check_expected(expected_minor: int, amount: Money) -> None:
    if amount.minor <= 0:
        raise NothingToPay()
    if expected_minor != amount.minor:
        raise BalanceChanged(expected_minor, amount.minor)


def _charge(b: Billing, token: str, amount: Money, attempt: Attempt, user: User) -> str:
    """Step 2 of `pay`: ask the gateway, with no transaction open (the attempt is
    committed, the account's lock released). Every outcome but approval ends here:
    the attempt is closed (declined, never sent, key conflict) or left in doubt."""
    try:
        # The billing cycle's retries (B14) charge with nobody there to authenticate (B13).
        result = b.gateway.charge(token, amount, attempt.key, off_session=attempt.purpose == PaymentPurpose.AUTO_CHARGE)
    except GatewayNotReached as unreachable:
        if attempt.taken_up:  # this call was not sent; the first one may have been charged
            raise GatewayUnavailable(maybe_charged=True) from unreachable
        close_attempt(b, attempt, user, "payment.gateway_unavailable")  # certainly not charged
        raise GatewayUnavailable(maybe_charged=False) from unreachable
    except GatewayError as no_answer:
        mark_in_doubt(b, attempt, user)
        raise GatewayUnavailable(maybe_charged=True) from no_answer
    except IdempotencyConflict as conflict:
        # The key was used at the gateway for another card or amount (a declined card,
        # then the same form with another; or a tampered form): nothing is charged and
        # the customer gets a fresh form.
        close_attempt(b, attempt, user, "payment.form_reused")
        raise PaymentFormReused() from conflict
    if result.requires_action:  # B13: nothing charged yet; the attempt waits for the cardholder
        awaiting_action(b, attempt, user, result.challenge)
        raise AuthenticationRequired(attempt.account_id, attempt.key, result.challenge)
    if not result.approved:
        reason = str(result.decline_code or "generic_decline")
        # What was being paid, so the decline can be shown again, by its own address
        # (issue 20 item 5: the page in the other language), with its way back.
        target = {"subscription_id": attempt.subscription_id, "invoice_ids": attempt.invoice_ids}
        attempt_id = close_attempt(b, attempt, user, "payment.declined", reason=reason,
                                    **{name: value for name, value in target.items() if value})
        raise CardDeclined(reason, attempt_id)
    assert result.reference is not None
    return result.reference


def pay(b: Billing, user: User, flow: Flow, finish_others: bool = True) -> Payment:
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
    except PaymentInDoubt as in_doubt:
        if not finish_others:
            raise
        try:
            finish_unconfirmed(b, in_doubt.account_id)
            token, amount = _begin(b, user, flow)
        except (GatewayUnavailable, PaymentInDoubt) as unfinished:
            if isinstance(unfinished, GatewayUnavailable) and any_in_doubt(b, in_doubt.account_id):
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
    try:
        return _record(b, flow, amount, reference)
    except (AlreadyPaid, PaymentInProgress):
        raise
    except Exception as failed:  # charged, not recorded: never a 500, never lost (issue 27)
        log.exception("payment %s was charged but could not be recorded", attempt.key)
        b.session.rollback()
        mark_in_doubt(b, attempt, user, reason=f"recording failed: {failed!r}")
        raise GatewayUnavailable(maybe_charged=True) from failed


def _record(b: Billing, flow: Flow, amount: Money, reference: str) -> Payment:
    """Step 3 of `pay`: under the lock, the payment and exactly its allocation, and the
    attempt deleted — unless someone finished it meanwhile (AlreadyPaid)."""
    attempt = flow.attempt
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
        applied = apply_allocation(b, account, row.id if row is not None else None, payment,  # R05 with it
                                   first_method_id=attempt.switch_from_method_id or method.id,
                                   switch_to=method.id if attempt.switch_from_method_id is not None else None)
        flow.record(account, method, payment, applied)
        forget(b, attempt.key)
        return payment


def _begin(b: Billing, user: User, flow: Flow) -> tuple[str, Money]:
    """Step 1 of `pay`: the token and amount to charge, the attempt committed."""
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
            return take_up(b, attempt, row)
        if open_attempts(b, account.id):
            raise PaymentInDoubt(account.id)
        token, amount = flow.price(account)
        if amount.currency != account.currency:
            raise InvalidAmount("currency differs from the account's")
        attempt.amount = amount
        write_ahead(b, attempt, user)
        return token, amount


@dataclass(frozen=True)
class CheckResult:
    """What checking the unconfirmed attempts found."""
    paid: list[Payment]     # went through: now recorded, with receipt and email
    declined: int           # were declined after all: nothing was charged
    checked: int            # how many there were


def finish_unconfirmed(b: Billing, account_id: int, older_than: datetime | None = None) -> CheckResult:
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
    pending = [unfinished_flow(b, row) for row in b.session.scalars(query.order_by(UnconfirmedPayment.id))]
    b.session.rollback()  # end the read: each attempt is finished in its own transactions
    paid, declined = [], 0
    for flow in pending:
        key = flow.attempt.key
        try:
            paid.append(pay(b, flow.user, flow, finish_others=False))
        except AlreadyPaid:
            with write_transaction(b.session):
                forget(b, key)
        except CardDeclined:
            declined += 1  # closed and audited by the decline itself
        except AuthenticationRequired as waiting:  # B13: its cardholder has not come back yet
            raise PaymentAwaitsAuthentication(waiting.account_id, waiting.key, waiting.challenge) from None
        except (GatewayUnavailable, PaymentInDoubt):
            raise GatewayUnavailable(maybe_charged=True) from None
        except BillingError as mismatch:
            log.warning("unconfirmed payment %s cannot be finished: %r", key, mismatch)
            raise GatewayUnavailable(maybe_charged=True) from mismatch
    return CheckResult(paid, declined, len(pending))


# How each kind of payment is rebuilt from its attempt (settle.py, invoices.py, retry.py
# register theirs): the attempt exactly as it was written — same key, card token,
# amount and person — ready to run through `pay` again.
FLOWS: dict[PaymentPurpose, Callable[[Billing, UnconfirmedPayment, User | None, MethodChoice], Flow]] = {}


def unfinished_flow(b: Billing, row: UnconfirmedPayment) -> Flow:
    choice = (UseSavedCard(row.payment_method_id) if row.payment_method_id is not None
              else UseTokenizedCard(CardToken(**row.new_card)))
    owner = b.session.get(User, row.user_id) if row.user_id is not None else None
    return FLOWS[row.purpose](b, row, owner, choice)
