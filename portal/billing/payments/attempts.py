"""The attempt: what one payment request is about to charge and what it will pay
(its allocation), written ahead and committed before the gateway is called (M5), and
its states until it is recorded or closed: pending → in doubt (no answer) or awaiting
action (the bank wants the cardholder, B13) → gone (recorded, declined, never sent).
While one is open, nothing else may change what it pays (issue 27)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, literal, select, update

from portal.billing.accounts import notify
from portal.billing.context import Billing
from portal.errors import PaymentInProgress
from portal.billing.gateway import CardToken
from portal.money import Money
from portal.billing.transaction import lock_account, write_transaction
from portal.models import (AttemptAllocation, AttemptState, BillingAccount, Charge, MethodKind, PaymentMethod,
                           PaymentPurpose, UnconfirmedPayment, User)
from portal.billing.payments.cards import (MethodChoice, UseSavedCard, UseTokenizedCard, method_summary,
                                           prepare_new_card, saved_card)


MAX_KEY_LENGTH = 100
DOUBT_REASON_LENGTH = 200


@dataclass
class Allocation:
    """What an attempt will pay, as priced under the lock: the charges a WHERE clause
    selects (each whole) — every outstanding charge of each subscription it selects
    any of, since it is written ahead per subscription, up to its highest charge id —
    and a share of the money per invoice (B12: oldest due first)."""
    charges: tuple | None = None
    invoices: list[tuple[int, int]] = dataclasses.field(default_factory=list)


@dataclass
class Attempt:
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
    allocation: Allocation | None = None  # what it pays, set when priced
    switch_from_method_id: int | None = None  # R05 (settle): the failed card, as priced


class PaymentInDoubt(Exception):
    """Another attempt of the account is not finished: finish it first (M5)."""

    def __init__(self, account_id: int):
        super().__init__(account_id)
        self.account_id = account_id


def _attempt_details(attempt: Attempt) -> dict:
    amount = {"amount_minor": attempt.amount.minor, "currency": attempt.amount.currency} if attempt.amount else {}
    return {**amount, "method": attempt.method}


def close_attempt(b: Billing, attempt: Attempt, user: User | None, action: str, **extra) -> int:
    """A decline (R10), a charge that certainly never reached the gateway, or a key
    the gateway knows for another charge: nothing was charged, nothing changes but the
    audit log; the attempt is gone. Its audit event (the id returned) is what is left."""
    with write_transaction(b.session):
        lock_account(b.session, attempt.account_id)  # always the account first, then its attempt
        forget(b, attempt.key)
        event = notify.audit(b.session, b.clock, action, account_id=attempt.account_id, actor=user,
                             profile_id=attempt.profile_id, purpose=str(attempt.purpose),
                             idempotency_key=attempt.key, **extra, **_attempt_details(attempt))
        b.session.flush()
        event_id = event.id
    return event_id


def awaiting_action(b: Billing, attempt: Attempt, user: User | None, challenge: str) -> None:
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


def mark_in_doubt(b: Billing, attempt: Attempt, user: User | None, reason: str = "no answer from the gateway") -> None:
    """The gateway did not answer (it may have charged), or it charged and recording
    failed (`reason` says what): the attempt (already written) waits to be finished
    under its key; nothing else is charged for the account first."""
    reason = reason[:DOUBT_REASON_LENGTH]
    with write_transaction(b.session):
        lock_account(b.session, attempt.account_id)  # always the account first, then its attempt
        marked = b.session.execute(update(UnconfirmedPayment).where(
            UnconfirmedPayment.idempotency_key == attempt.key).values(state=AttemptState.IN_DOUBT,
                                                                      doubt_reason=reason)).rowcount
        if not marked:
            return  # finished by another request while we waited
        notify.audit(b.session, b.clock, "payment.unconfirmed", account_id=attempt.account_id, actor=user,
                     profile_id=attempt.profile_id, purpose=str(attempt.purpose), reason=reason,
                     idempotency_key=attempt.key, **_attempt_details(attempt))


def write_ahead(b: Billing, attempt: Attempt, user: User) -> None:
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
    allocation = attempt.allocation or Allocation()
    if allocation.charges is not None:  # set-based: a reseller's settlement covers 200,000 charges
        # One row per subscription, not per charge (issue 28): its charges up to the
        # highest id priced (AttemptAllocation says why that is exactly what was priced).
        b.session.execute(insert(AttemptAllocation).from_select(
            ["attempt_id", "subscription_id", "up_to_charge_id", "charges", "amount_minor"],
            select(literal(row.id), Charge.subscription_id, func.max(Charge.id), func.count(),
                   func.sum(Charge.amount_minor))
            .where(*allocation.charges).group_by(Charge.subscription_id)))
    if allocation.invoices:
        b.session.execute(insert(AttemptAllocation), [
            {"attempt_id": row.id, "invoice_id": invoice_id, "amount_minor": share}
            for invoice_id, share in allocation.invoices])
    allocated = b.session.scalar(select(func.coalesce(func.sum(AttemptAllocation.amount_minor), 0))
                                 .where(AttemptAllocation.attempt_id == row.id))
    if allocated != attempt.amount.minor:  # nothing is charged yet: refuse rather than guess
        raise RuntimeError(f"attempt {attempt.key}: {allocated} allocated, {attempt.amount.minor} priced")


def take_up(b: Billing, attempt: Attempt, row: UnconfirmedPayment) -> tuple[str, Money]:
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


def open_attempts(b: Billing, account_id: int) -> list[str]:
    return list(b.session.scalars(select(UnconfirmedPayment.idempotency_key)
                                  .where(UnconfirmedPayment.account_id == account_id)))


def forget(b: Billing, key: str) -> None:
    """The attempt is finished (recorded, declined, never sent): it and its allocation go."""
    attempt = select(UnconfirmedPayment.id).where(UnconfirmedPayment.idempotency_key == key).scalar_subquery()
    # Not synchronised with the session (no RETURNING of a settlement's 100,000 ids): never loaded as objects.
    b.session.execute(delete(AttemptAllocation).where(AttemptAllocation.attempt_id == attempt)
                      .execution_options(synchronize_session=False))
    b.session.execute(delete(UnconfirmedPayment).where(UnconfirmedPayment.idempotency_key == key))


def any_in_doubt(b: Billing, account_id: int) -> bool:
    found = b.session.scalar(select(UnconfirmedPayment.id).where(
        UnconfirmedPayment.account_id == account_id, UnconfirmedPayment.state == AttemptState.IN_DOUBT).limit(1))
    b.session.rollback()
    return found is not None


def refuse_while_paying(b: Billing, account_id: int) -> None:
    """Issue 27: a writer that would change what an open attempt pays (move
    subscriptions, a profile's default) waits until it is finished: PaymentInProgress.
    Call it holding the account's lock (attempts are written under it)."""
    if open_attempts(b, account_id):
        raise PaymentInProgress(account_id)


def resolve_choice(b: Billing, account: BillingAccount, choice: MethodChoice, attempt: Attempt):
    """(saved method or None, token to charge, new-card token or None)."""
    if isinstance(choice, UseSavedCard):
        method = saved_card(b, account, choice.method_id)
        attempt.method_id, attempt.method = method.id, method_summary(method)
        return method, method.gateway_token, None
    token = choice.token if isinstance(choice, UseTokenizedCard) else prepare_new_card(b, choice.card)
    attempt.new_card = token
    attempt.method = {"kind": str(MethodKind.CARD), "brand": token.brand, "last4": token.last4}
    return None, token.token, token
