"""Side effects that belong to the same transaction as the event that causes them
(M2): the outbox email, the in-portal notice and the audit event."""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import uuid4

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.billing import events
from portal.billing.clock import Clock
from portal.billing.accounts.history import NAMES_SHOWN
from portal.errors import NotAuthorized
from portal.billing.transaction import in_write_transaction, write_transaction
from portal.models import (AuditEvent, BillingAccount, Notice, OutboxMessage, Payment, PaymentSubscription, Role,
                           RoleAssignment, Subscription, SubscriptionStatus, User, status_ranks)

CONTACT_ROLES = (Role.ACCOUNT_ADMIN, Role.OWNER)
ACTING_ROLES = (Role.ACCOUNT_ADMIN, Role.OWNER, Role.CONTRIBUTOR, Role.INVOICE_MANAGER)


def users_with_roles(session: Session, account_id: int, roles) -> list[User]:
    return list(session.scalars(
        select(User).join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(RoleAssignment.account_id == account_id, RoleAssignment.role.in_(roles))
        .distinct().order_by(User.id)))


def contact_locale(session: Session, account: BillingAccount, to_address: str | None = None) -> str:
    """Billing email goes out in the language of the person it is addressed to, if
    they have signed in; else of the account's administrator or owner; else Swedish."""
    return contact_locales(session, {account.id: to_address or account.notification_email})[account.id]


def contact_locales(session: Session, addresses: dict[int, str]) -> dict[int, str]:
    """`contact_locale` of several accounts at once (account id: the address written
    to), in two statements whatever their number (a BgMax batch's accounts)."""
    wanted = {account_id: address.strip().lower() for account_id, address in addresses.items()}
    addressees: dict[str, str] = {}
    for email, locale in session.execute(select(func.lower(User.email), User.locale).where(
            func.lower(User.email).in_(set(wanted.values()))).order_by(User.id)):
        addressees.setdefault(email, locale)
    found = {account_id: addressees[email] for account_id, email in wanted.items() if email in addressees}
    rest = [account_id for account_id in wanted if account_id not in found]
    if rest:  # the first administrator or owner of each, as `users_with_roles` orders them
        for account_id, locale in session.execute(
                select(RoleAssignment.account_id, User.locale).join(RoleAssignment, RoleAssignment.user_id == User.id)
                .where(RoleAssignment.account_id.in_(rest), RoleAssignment.role.in_(CONTACT_ROLES))
                .order_by(RoleAssignment.account_id, User.id)):
            found.setdefault(account_id, locale)
    return {account_id: found.get(account_id, "sv") for account_id in wanted}


def queue_email(session: Session, clock: Clock, account: BillingAccount, template: str,
                payload: dict[str, Any], to_address: str | None = None, locale: str | None = None) -> OutboxMessage:
    """The email is a row in the outbox, committed with the event or not at all (M2).
    The payload always carries the account, so the message can link to its pages (B1).
    `locale`: the language the customer chose for this mail (an invoice recipient's)."""
    address = to_address or account.notification_email
    message = OutboxMessage(
        template=template, to_address=address, locale=locale or contact_locale(session, account, address),
        payload={**payload, "account_id": account.id}, message_key=uuid4().hex,
        created_at=clock.now())
    session.add(message)
    return message


def queue_receipt(session: Session, clock: Clock, account: BillingAccount, payer: User | None,
                  details: dict[str, Any]) -> None:
    """A receipt goes to the billing address and, in their own language (B10), to the
    person who paid, unless that is the same address. A receipt that paid charges of
    subscriptions says which of them are not active now (issue 20 item 4): deleted ones
    (their charges are still owed, R12, but they are never re-enabled) and, after a
    partial payment, those that still owe (B12)."""
    if details.get("subscriptions") and details.get("payment_id"):
        details = {**details, **paid_but_not_active(session, details["payment_id"])}
    queue_email(session, clock, account, "receipt", details)
    if payer is not None and payer.email.strip().lower() != account.notification_email.strip().lower():
        queue_email(session, clock, account, "receipt", {**details, "payer_copy": True},
                    to_address=payer.email, locale=payer.locale)


@dataclass(frozen=True)
class SomeNames:
    """The first few names (NAMES_SHOWN) of some subscriptions and how many there are:
    what emails, audit events and receipts carry — never every row (issue 28: a
    settlement of 100,000 subscriptions is not 2.4 MB of names)."""
    names: list[str]
    count: int

    def details(self, key: str = "subscriptions", count_key: str = "subscription_count") -> dict[str, Any]:
        return {key: self.names, count_key: self.count}


def some_names(session: Session, where, *order_by) -> SomeNames:
    """The subscriptions `where` selects (WHERE terms on Subscription): the first
    NAMES_SHOWN names in `order_by` (then id) order, and how many — two statements
    that read no more than the rows counted, whatever their number."""
    count = session.scalar(select(func.count()).select_from(Subscription).where(*where)) or 0
    names = list(session.scalars(select(Subscription.name).where(*where)
                                 .order_by(*order_by, Subscription.id).limit(NAMES_SHOWN))) if count else []
    return SomeNames(names, count)


def paid_by(payment_id: int):
    """WHERE term on Subscription: `payment_id` paid a charge of it — asked per
    subscription (one probe of PaymentSubscription's primary key), so a query that
    stops after a few (`first_names`) or reads a few by status reads a few, not all
    that the payment paid. A scalar subquery, not EXISTS: the planner would turn EXISTS
    into a join driven by the payment's rows, which it guesses are one (the statistics
    predate the payment) when a reseller's settlement paid 100,000 subscriptions."""
    return select(PaymentSubscription.subscription_id).where(
        PaymentSubscription.payment_id == payment_id, PaymentSubscription.subscription_id == Subscription.id) \
        .limit(1).scalar_subquery().is_not(None)


def first_names(session: Session, where, limit: int = NAMES_SHOWN) -> list[str]:
    """The first `limit` names, by id, of the subscriptions `where` selects: give it
    an equality the index serves in id order (an account and status rank, a payment
    method), and it reads about `limit` rows."""
    return list(session.scalars(select(Subscription.name).where(*where).order_by(Subscription.id).limit(limit)))


def paid_but_not_active(session: Session, payment_id: int) -> dict[str, Any]:
    """The subscriptions a payment paid charges of, by what they are after it — each
    the first few names and how many (`some_names`): {"active": [...], "active_count":
    n, "deleted": [...], "deleted_count": n, "still_owing": [...], "still_owing_count": n}.
    Issue 28: a settlement pays 100,000, nearly all active after it: the others are
    counted from the account's index by status (few), the active ones are all of them
    less those (the payment's subscriptions counted from its own index range)."""
    account_id, paid_count = session.execute(
        select(Payment.account_id, select(func.count()).select_from(PaymentSubscription)
               .where(PaymentSubscription.payment_id == payment_id).scalar_subquery())
        .where(Payment.id == payment_id)).one()
    paid = paid_by(payment_id)
    mine = Subscription.account_id == account_id
    others = {kind: [s for s in SubscriptionStatus if _kind_of(s) == kind] for kind in ("deleted", "still_owing")}
    found: dict[str, Any] = {}
    rest = paid_count or 0
    for kind, statuses in others.items():
        where = (mine, Subscription.status_rank.in_(status_ranks(statuses)), Subscription.status.in_(statuses), paid)
        count = session.scalar(select(func.count()).select_from(Subscription).where(*where)) or 0
        found.update(SomeNames(first_names(session, where) if count else [], count).details(kind, f"{kind}_count"))
        rest -= count
    # In id order from the index (account_id, status_rank, id): active is rank 1.
    active = (mine, Subscription.status_rank == 1, Subscription.status == SubscriptionStatus.ACTIVE, paid)
    return {**SomeNames(first_names(session, active) if rest else [], rest).details("active", "active_count"),
            **found}


def paid_but_not_active_of(session: Session, payment_ids: list[int]) -> dict[int, dict[str, Any]]:
    """`paid_but_not_active` of several payments (a BgMax batch's), in two statements
    whatever their number: counted grouped by payment and status, and the first few
    names of each status picked by a window (so of each kind: its statuses' first few)."""
    if not payment_ids:
        return {}
    paid = (select(PaymentSubscription.payment_id, PaymentSubscription.subscription_id)
            .where(PaymentSubscription.payment_id.in_(payment_ids)).subquery("paid"))
    counts: dict[int, dict[str, int]] = {payment_id: {} for payment_id in payment_ids}
    for payment_id, status, n in session.execute(
            select(paid.c.payment_id, Subscription.status, func.count())
            .where(Subscription.id == paid.c.subscription_id)
            .group_by(paid.c.payment_id, Subscription.status)):
        counts[payment_id][_kind_of(status)] = counts[payment_id].get(_kind_of(status), 0) + n
    names: dict[tuple[int, str], list[tuple[int, str]]] = {}
    if any(counts.values()):
        ranked = (select(paid.c.payment_id, Subscription.status, Subscription.id, Subscription.name,
                         func.row_number().over(partition_by=(paid.c.payment_id, Subscription.status),
                                                order_by=Subscription.id).label("n"))
                  .where(Subscription.id == paid.c.subscription_id).subquery("ranked"))
        for payment_id, status, subscription_id, name in session.execute(
                select(ranked.c.payment_id, ranked.c.status, ranked.c.id, ranked.c.name)
                .where(ranked.c.n <= NAMES_SHOWN)):
            names.setdefault((payment_id, _kind_of(status)), []).append((subscription_id, name))
    found: dict[int, dict[str, Any]] = {}
    for payment_id in payment_ids:
        found[payment_id] = {}
        for kind in ("active", "deleted", "still_owing"):
            first = [name for _id, name in sorted(names.get((payment_id, kind), []))[:NAMES_SHOWN]]
            found[payment_id].update(SomeNames(first, counts[payment_id].get(kind, 0)).details(kind, f"{kind}_count"))
    return found


def _kind_of(status: SubscriptionStatus) -> str:
    """What a receipt says of a subscription a payment paid, by its status now (one
    rule for `paid_but_not_active` and its batch form)."""
    return ("active" if status == SubscriptionStatus.ACTIVE else "deleted" if status == SubscriptionStatus.DELETED
            else "still_owing")


def notify_users(session: Session, clock: Clock, account: BillingAccount, kind: str,
                 payload: dict[str, Any], roles=ACTING_ROLES) -> None:
    for user in users_with_roles(session, account.id, roles):
        session.add(Notice(user_id=user.id, account_id=account.id, kind=kind,
                           payload=payload, created_at=clock.now()))


# Issue 20 item 1: notices that are about something that can stop being true.
SUBSCRIPTION_NOTICES = ("payment_failed", "subscription_disable_warning", "subscription_disabled")
INVOICE_NOTICES = ("invoice_ready", "invoice_past_due", "auto_charge_failed")


def resolve_notices(session: Session, clock: Clock, account_id: int | list[int], *, subscription_ids=None,
                    invoice_ids=None) -> None:
    """A notice whose cause is gone goes away by itself: the subscriptions are paid
    and active again, or the invoices are paid. `subscription_ids` / `invoice_ids`: a
    list or a SELECT of ids. Set-based (a settlement may cover thousands). `account_id`:
    one account, or a list (a BgMax batch pays several)."""
    accounts = Notice.account_id.in_(account_id) if isinstance(account_id, list) else Notice.account_id == account_id
    for kinds, key, ids in ((SUBSCRIPTION_NOTICES, "subscription_id", subscription_ids),
                            (INVOICE_NOTICES, "invoice_id", invoice_ids)):
        if ids is None:
            continue
        session.execute(update(Notice).where(
            accounts, Notice.dismissed_at.is_(None), Notice.kind.in_(kinds),
            Notice.payload[key].as_integer().in_(ids)).values(dismissed_at=clock.now())
            .execution_options(synchronize_session=False))


# Every action the audit log records. Each has a sentence in both languages
# (portal/wording/audit.py audit_text, tests/web/test_issue35_audit_wordings.py), so a screen
# reader never reads a code aloud (issue 35 a11y-1): an action not listed here cannot be
# recorded.
AUDIT_ACTIONS = frozenset({
    "access.refused", "api.request", "billing_details.changed", "charge.failed", "charge.retry_failed", "credit.added",
    "credit.refunded", "invitation.accepted", "invitation.sent", "invitation.withdrawn",
    "notification_email.changed", "payment.authentication_requested", "payment.declined",
    "payment.form_reused", "payment.gateway_unavailable", "payment.succeeded", "payment.unconfirmed",
    "payment_method.added", "payment_method.declined", "payment_method.default_changed",
    "payment_method.expiry_reminded", "payment_method.removed", "payment_method.switched",
    "payment_method.update_declined", "payment_method.updated", "role.changed", "role.granted", "role.removed",
    "settings.changed",
    "subscription.deleted", "subscription.disable_warning", "subscription.disabled", "subscriptions.moved",
})
# Issue 33: a subscription cancelled at the end of its period, the undo, and its end.
AUDIT_ACTIONS |= {"subscription.cancel_planned", "subscription.cancel_undone", "subscription.cancelled",
                  "subscription.plan_changed"}
# B21: paused and resumed by the customer.
AUDIT_ACTIONS |= {"subscription.paused", "subscription.resumed"}
# Issue 31: a person's own sign-in security (account_id None: no account's log shows it).
AUDIT_ACTIONS |= {"password.reset", "second_factor.enabled", "second_factor.reset"}
# Issue 33 item 2: spending alerts (billing/accounts/costs.py).
AUDIT_ACTIONS |= {"spending_alert.set", "spending_alert.removed", "spending_alert.reached"}
# Issue 33 item 5: one OCR reference for several invoices (billing/invoicing/payment_requests.py).
AUDIT_ACTIONS |= {"payment_request.created"}


def audit(session: Session, clock: Clock, action: str, *, account_id: int | None,
          actor: User | None = None, profile_id: int | None = None, **details: Any) -> AuditEvent:
    """Who (actor; None for the billing cycle), when, what (action + details; never
    card numbers or CVCs). `profile_id` lets that profile's owners see the event."""
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"{action!r} is not in notify.AUDIT_ACTIONS: give it a wording in portal/wording/audit.py")
    event = AuditEvent(at=clock.now(), actor_user_id=actor.id if actor else None,
                       account_id=account_id, billing_profile_id=profile_id,
                       action=action, details=details)
    session.add(event)
    events.from_audit(session, clock, action, account_id, details)  # issue 32: the provider hears it too
    return event


F = TypeVar("F", bound=Callable[..., Any])


def refusals_audited(service: F) -> F:
    """For service functions `service(b, user, …)`: a role refusal (NotAuthorized,
    raised by access.require) is written to the audit log in a transaction of its own
    — after the refused one has been rolled back, so the record survives it — and is
    then raised on. Inside a write transaction the outermost decorated caller writes
    it instead; each refusal is written once."""

    @functools.wraps(service)
    def audited(b, user, *args, **kwargs):
        try:
            return service(b, user, *args, **kwargs)
        except NotAuthorized as refused:
            if not refused.audited and not in_write_transaction(b.session):
                refused.audited = True
                with write_transaction(b.session):
                    audit(b.session, b.clock, "access.refused", account_id=refused.account_id,
                          actor=user, profile_id=refused.profile_id, attempted=refused.action,
                          reason=refused.reason)
            raise

    return audited  # type: ignore[return-value]
