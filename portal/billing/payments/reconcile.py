"""Attempts the gateway may have charged (M5, M6, B13): the customer's "check the
payment", the cardholder back from the bank, the decline page again by its address,
and `reconcile` — every unfinished attempt driven to its end under its own key, and
charges the gateway approved that nothing here knows of."""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from portal.billing.accounts import access, credit
from portal.billing.accounts.access import Action
from portal.billing import ids
from portal.billing.context import Billing
from portal.errors import AlreadyPaid, AuthenticationRequired, CardDeclined, GatewayUnavailable, NotFound
from portal.money import Money
from portal.billing.accounts.notify import refusals_audited
from portal.models import (AccountKind, AttemptState, AuditEvent, Payment, PaymentPurpose, UnconfirmedPayment,
                           User)
from portal.billing.payments.attempts import MAX_KEY_LENGTH
from portal.billing.payments.engine import CheckResult, unfinished_flow, finish_unconfirmed, pay

log = logging.getLogger(__name__)


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
    flow = unfinished_flow(b, row)
    b.session.rollback()  # end the read: `pay` takes the lock itself
    return pay(b, user, flow, finish_others=False)


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
    return finish_unconfirmed(b, account.id)


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
            result = finish_unconfirmed(b, account_id, older_than=cutoff)
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
            rows = b.session.execute(select(UnconfirmedPayment.idempotency_key, UnconfirmedPayment.doubt_reason)
                                     .where(UnconfirmedPayment.account_id == account_id)).all()
            done.waiting += [key for key, _ in rows]
            # what the attempt itself says went wrong (a charge that could not be recorded) first
            done.why.update({key: reason if reason and reason.startswith("recording failed") else why
                             for key, reason in rows})
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
