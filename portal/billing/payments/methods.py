"""Payment methods (B8, R15): what each method is used for, a card added without paying,
a card nothing uses removed, a billing profile's default, pay-as-you-go subscriptions
moved to another card (shown before it is done), and a reminder before a card expires."""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import bindparam, case, func, select, update

from portal.billing import ids
from portal.billing.accounts import access, notify
from portal.billing.accounts.access import Action, Decision
from portal.billing.accounts.overview import SubscriptionView, subscription_page
from portal.billing.context import Billing
from portal.billing.gateway import CardDetails, GatewayError, validate_expiry
from portal.billing.accounts.notify import refusals_audited
from portal.billing.paging import Page
from portal.billing.payments.attempts import refuse_while_paying
from portal.billing.payments.cards import method_summary, prepare_new_card, save_card, saved_card
from portal.billing.transaction import lock_account, reader, write_transaction
from portal.errors import (CardDeclined, CardRemoved, GatewayUnavailable, InvalidCard, InvalidInput, MethodInUse,
                           NotEligible, NotFound)
from portal.models import (AccountKind, AutogiroMandate, BillingAccount, BillingProfile, Invoice, InvoiceStatus,
                           MandateStatus, MethodKind, Payment, PaymentMethod, PaymentPurpose, Role, Subscription,
                           SubscriptionFigure, SubscriptionStatus, UnconfirmedPayment, User)
from portal.money import Money

EXPIRY_NOTICE_DAYS = 30  # B8: the reminder comes this many days before a card expires
CHECK_WIRE = "check_wire"  # the choice that makes check/wire transfer a profile's default


def expires_on(method: PaymentMethod) -> date | None:
    """A card is good through the last day of its expiry month."""
    if method.exp_year is None or method.exp_month is None:
        return None
    return date(method.exp_year, method.exp_month, calendar.monthrange(method.exp_year, method.exp_month)[1])


@dataclass(frozen=True)
class MethodUse:
    """One payment method and everything that uses it."""
    method: PaymentMethod
    default_for: tuple[str, ...]   # names of the billing profiles whose default it is
    subscriptions: int             # pay-as-you-go subscriptions (not deleted) it pays for
    outstanding: Money             # their outstanding charges
    unconfirmed: bool              # a payment with it is not finished (M5)
    expires_on: date | None
    expires_soon: bool             # within EXPIRY_NOTICE_DAYS
    expired: bool
    failed: bool = False           # ux-F4: a charge to it failed and is still owed (past-due subscriptions,
                                   # or an open invoice whose automatic charge it declined)

    @property
    def in_use(self) -> bool:
        return bool(self.default_for or self.subscriptions or self.unconfirmed)


@dataclass(frozen=True)
class ProfileDefault:
    profile: BillingProfile
    may_change: Decision            # R15 for this person (B2: the page says why not)


@dataclass(frozen=True)
class MethodsPage:
    account: BillingAccount
    methods: list[MethodUse]
    profiles: list[ProfileDefault]  # customer agreement: the profiles the person has a role on
    may_manage: Decision            # add and remove cards, move subscriptions
    movable: Page[SubscriptionView] | None  # pay-as-you-go: subscriptions (deleted ones cannot move)


# Per card: its subscriptions (not deleted) and what they owe, from the kept figures
# (a few rows per card, portal/figures.py), not from every subscription on it.
_FAILED_STATUSES = (SubscriptionStatus.PAST_DUE, SubscriptionStatus.DISABLED)  # R01: its charge failed
_USE_BY_METHOD = (select(SubscriptionFigure.payment_method_id, func.sum(SubscriptionFigure.subscriptions),
                         func.sum(SubscriptionFigure.outstanding_minor),
                         func.sum(case((SubscriptionFigure.status.in_(_FAILED_STATUSES),
                                        SubscriptionFigure.subscriptions), else_=0)))
                  .where(SubscriptionFigure.account_id == bindparam("account_id"),
                         SubscriptionFigure.payment_method_id.in_(bindparam("method_ids", expanding=True)),
                         SubscriptionFigure.status != SubscriptionStatus.DELETED)
                  .group_by(SubscriptionFigure.payment_method_id))


def methods_page(b: Billing, user: User, account_id: int, page: int | None = 1) -> MethodsPage:
    """Every method the account keeps, with what uses it, and one page of the
    subscriptions that could move: a constant number of queries whatever the number
    of cards, profiles or subscriptions."""
    account = access.get_account(b.session, user, account_id, profiles=True)
    mine = set(access.profiles_with_role(b.session, user, account))
    profiles = [ProfileDefault(p, access.decide(b.session, user, account, Action.MANAGE_PAYMENT_METHODS, p.id))
                for p in account.profiles if p.id in mine]
    # Pay-as-you-go: the subscriptions to choose from, a page at a time as on the Overview.
    movable = (subscription_page(b, account, page, usage=False)  # the list names them, shows no usage
               if account.kind == AccountKind.PAY_AS_YOU_GO else None)
    return MethodsPage(account, method_uses(b, account), profiles,
                       access.decide(b.session, user, account, Action.MANAGE_PAYMENT_METHODS), movable)


# Payment methods asks on every view: built once (issue 28).
_METHODS = select(PaymentMethod).where(PaymentMethod.account_id == bindparam("account_id"),
                                       PaymentMethod.removed_at.is_(None)).order_by(PaymentMethod.id)
_UNCONFIRMED = select(UnconfirmedPayment.payment_method_id).where(
    UnconfirmedPayment.account_id == bindparam("account_id"), UnconfirmedPayment.payment_method_id.is_not(None))


def method_uses(b: Billing, account: BillingAccount) -> list[MethodUse]:
    """The account's methods (removed cards aside), each with what uses it."""
    methods = list(b.session.scalars(_METHODS, {"account_id": account.id}))
    uses = {method_id: (int(n), int(minor), int(failing)) for method_id, n, minor, failing in reader(b.session).execute(
        _USE_BY_METHOD, {"account_id": account.id, "method_ids": [m.id for m in methods]})}
    unconfirmed = set(reader(b.session).scalars(_UNCONFIRMED, {"account_id": account.id}))
    failed = {method_id for method_id, (_, _, failing) in uses.items() if failing} | failed_defaults(b, account)
    today = b.clock.today()
    return [_use(method, [p.name for p in account.profiles if p.default_payment_method_id == method.id],
                 uses.get(method.id, (0, 0, 0)), method.id in unconfirmed, method.id in failed, account.currency,
                 today)
            for method in methods]


def failed_defaults(b: Billing, account: BillingAccount) -> set[int]:
    """ux-F4, customer agreement: the default cards of profiles with an open invoice whose
    automatic charge was declined (R18) — the card that failed, until that is paid."""
    if account.kind != AccountKind.CUSTOMER_AGREEMENT:
        return set()
    failing = set(b.session.scalars(select(Invoice.billing_profile_id).distinct().where(
        Invoice.billing_profile_id.in_([p.id for p in account.profiles]), Invoice.status != InvoiceStatus.PAID,
        Invoice.auto_charge_failure_code.is_not(None))))
    return {p.default_payment_method_id for p in account.profiles
            if p.id in failing and p.default_payment_method_id is not None}


def _use(method: PaymentMethod, default_for: list[str], use: tuple[int, int, int], unconfirmed: bool, failed: bool,
         currency: str, today: date) -> MethodUse:
    ends = expires_on(method)
    return MethodUse(method, tuple(default_for), use[0], Money(use[1], currency), unconfirmed, ends,
                     ends is not None and today <= ends < today + timedelta(days=EXPIRY_NOTICE_DAYS),
                     ends is not None and ends < today, failed)


def _managed_account(b: Billing, user: User, account_id: int, profile_id: int | None = None) -> BillingAccount:
    account = access.get_account(b.session, user, account_id)
    access.require(b.session, user, account, Action.MANAGE_PAYMENT_METHODS, profile_id)
    return account


@refusals_audited
def add_card(b: Billing, user: User, account_id: int, card: CardDetails) -> PaymentMethod:
    """A card saved without paying: the issuer is asked whether it can be charged
    (nothing is), and a declined card is not saved."""
    account = _managed_account(b, user, account_id)
    token = prepare_new_card(b, card)  # InvalidCard before the gateway is asked
    try:
        declined = b.gateway.verify(token.token)
    except GatewayError as no_answer:
        raise GatewayUnavailable(maybe_charged=False) from no_answer
    summary = {"kind": str(MethodKind.CARD), "brand": token.brand, "last4": token.last4}
    with write_transaction(b.session):
        if declined is not None:
            notify.audit(b.session, b.clock, "payment_method.declined", account_id=account.id, actor=user,
                         method=summary, reason=str(declined))
        else:
            method = save_card(b, lock_account(b.session, account.id), token)
            notify.audit(b.session, b.clock, "payment_method.added", account_id=account.id, actor=user,
                         method=summary)
    if declined is not None:
        raise CardDeclined(str(declined))
    return method


@refusals_audited
def remove_card(b: Billing, user: User, account_id: int, method_id: int) -> None:
    """Only a card nothing uses can be removed; MethodInUse says what uses it. The card
    stays on record (its payments name it) but is never offered again. Removing one
    already removed (two tabs at once) is done: nothing more happens."""
    with write_transaction(b.session):
        account = access.get_account(b.session, user, account_id)
        try:
            method = saved_card(b, account, method_id)  # another account's id: NotFound, whoever asks
        except CardRemoved:
            access.require(b.session, user, account, Action.MANAGE_PAYMENT_METHODS)
            return
        access.require(b.session, user, account, Action.MANAGE_PAYMENT_METHODS)
        lock_account(b.session, account.id)
        b.session.refresh(method)  # again under the lock: another tab may have removed it meanwhile
        if method.removed_at is not None:
            return
        use = next(u for u in method_uses(b, account) if u.method.id == method.id)
        if use.in_use:
            raise MethodInUse(list(use.default_for), use.subscriptions, use.unconfirmed)
        method.removed_at = b.clock.now()
        method.gateway_token = None  # a real processor: detach the card
        notify.audit(b.session, b.clock, "payment_method.removed", account_id=account.id, actor=user,
                     method=method_summary(method))


def card_use(b: Billing, user: User, account_id: int, method_id: int) -> MethodUse:
    """One saved card of the account and what uses it (the page that updates it)."""
    account = access.get_account(b.session, user, account_id)
    method = saved_card(b, account, method_id)
    return next(u for u in method_uses(b, account) if u.method.id == method.id)


HOLDER_MAX = 200  # as the card form's field


@refusals_audited
def update_card(b: Billing, user: User, account_id: int, method_id: int, exp_month: int, exp_year: int,
                holder: str) -> PaymentMethod:
    """Issue 33 item 3: the bank sent a new card with the same number — the saved card
    gets its new expiry and holder name in place, so everything that used it (profile
    defaults, subscriptions, an open attempt) keeps using it. Checked on the server
    (InvalidCard 'expiry' / 'expired' / 'holder'), then with the issuer, charging nothing
    (the gateway's zero-amount check; a declined card is left as it was); audited and
    told to the billing address like the other changes of method."""
    account = _managed_account(b, user, account_id)
    method = saved_card(b, account, method_id)  # another account's: NotFound; removed: CardRemoved
    validate_expiry(exp_month, exp_year, b.clock.today())
    holder = holder.strip() if isinstance(holder, str) else ""
    if not holder or len(holder) > HOLDER_MAX:
        raise InvalidCard("holder")
    summary = method_summary(method)
    try:
        declined = b.gateway.verify(method.gateway_token)
    except GatewayError as no_answer:
        raise GatewayUnavailable(maybe_charged=False) from no_answer
    with write_transaction(b.session):
        if declined is not None:
            notify.audit(b.session, b.clock, "payment_method.update_declined", account_id=account.id, actor=user,
                         method=summary, reason=str(declined))
        else:
            lock_account(b.session, account.id)
            b.session.refresh(method)
            if method.removed_at is not None:  # removed in another tab meanwhile
                raise CardRemoved("payment method")
            before = expires_on(method)
            method.exp_month, method.exp_year, method.holder_name = exp_month, exp_year, holder
            method.expiry_reminded_on = None  # the new expiry gets its own reminder (B8)
            ends = expires_on(method)
            notify.audit(b.session, b.clock, "payment_method.updated", account_id=account.id, actor=user,
                         method=summary, expires_on=ends.isoformat(),
                         from_expires_on=before.isoformat() if before else None)
            notify.queue_email(b.session, b.clock, account, "payment_method_updated",
                               {"method": summary, "method_id": method.id, "expires_on": ends.isoformat(),
                                "holder": holder})
    if declined is not None:
        raise CardDeclined(str(declined))
    return method


def _usable_card(b: Billing, account: BillingAccount, method_id: int) -> PaymentMethod:
    """A saved card that can still be charged: an expired one is never chosen for
    future payments (the pages do not offer it; a forced request is refused)."""
    method = saved_card(b, account, method_id)
    ends = expires_on(method)
    if ends is not None and ends < b.clock.today():
        raise InvalidInput("expired")
    return method


def _move_target(b: Billing, account: BillingAccount, method_id: int) -> PaymentMethod:
    """What subscriptions can move to: a usable card, or an Autogiro mandate of the
    account once Bankgirot has approved it (B23: its charges are drawn, not charged)."""
    method = ids.get(b.session, PaymentMethod, method_id)
    if (method is not None and method.account_id == account.id and method.kind == MethodKind.AUTOGIRO
            and method.removed_at is None):
        if b.session.scalar(select(AutogiroMandate.status).where(
                AutogiroMandate.payment_method_id == method.id)) == MandateStatus.ACTIVE:
            return method
        raise NotFound("payment method")
    return _usable_card(b, account, method_id)


def profile_of(b: Billing, user: User, account_id: int, profile_id: int) -> BillingProfile:
    """A billing profile of this account (a member's); any other id is NotFound."""
    account = access.get_account(b.session, user, account_id)
    profile = ids.get(b.session, BillingProfile, profile_id)
    if profile is None or profile.account_id != account.id:
        raise NotFound("billing profile")
    return profile


@refusals_audited
def set_profile_default(b: Billing, user: User, account_id: int, profile_id: int, choice: int | str) -> PaymentMethod:
    """R15: a saved card, or check/wire transfer (CHECK_WIRE) once the profile is
    approved for it (NotEligible otherwise). Open invoices are not charged again: the
    default pays the invoices issued from now on (R18)."""
    with write_transaction(b.session):
        profile = profile_of(b, user, account_id, profile_id)
        account = lock_account(b.session, _managed_account(b, user, account_id, profile_id).id)
        refuse_while_paying(b, account.id)  # the open attempt's R05 switch and card stay as priced
        if choice == CHECK_WIRE:
            if not profile.check_wire_approved:
                raise NotEligible()
            method = check_wire_method(b, account)
        elif isinstance(choice, int):
            method = _usable_card(b, account, choice)
        else:
            raise InvalidInput("method")
        if profile.default_payment_method_id != method.id:
            before = profile.default_payment_method
            profile.default_payment_method = method
            notify.audit(b.session, b.clock, "payment_method.default_changed", account_id=account.id, actor=user,
                         profile_id=profile.id, profile=profile.name, method=method_summary(method),
                         from_method=method_summary(before) if before else None)
        return method


def offer_as_default(b: Billing, user: User, payment: Payment) -> BillingProfile | None:
    """B5: after Pay now with a card that is not the profile's default, the receipt
    offers "Use this card for future invoices" — otherwise the next automatic charge
    goes to the card that already failed. The profile, when the offer applies."""
    profile, method = payment.billing_profile, payment.payment_method
    if (payment.purpose != PaymentPurpose.INVOICE or profile is None or not method.is_card
            or method.removed_at is not None or profile.default_payment_method_id == method.id):
        return None
    if not access.decide(b.session, user, profile.account, Action.MANAGE_PAYMENT_METHODS, profile.id):
        return None
    _ = profile.default_payment_method  # the offer names it: loaded here, not while rendering
    return profile


def check_wire_method(b: Billing, account: BillingAccount) -> PaymentMethod:
    method = b.session.scalars(select(PaymentMethod).where(
        PaymentMethod.account_id == account.id, PaymentMethod.kind == MethodKind.CHECK_WIRE)).first()
    if method is None:
        method = PaymentMethod(account_id=account.id, kind=MethodKind.CHECK_WIRE, created_at=b.clock.now())
        b.session.add(method)
        b.session.flush()
    return method


@dataclass(frozen=True)
class MovePreview:
    """What moving subscriptions to a card changes, shown before it is done (R08's
    "show before you act"): which subscriptions, and the outstanding charges that go
    with them (not charged now; paid when that card's balance is settled)."""
    account: BillingAccount
    target: PaymentMethod
    subscriptions: list[Subscription]
    outstanding: Money

    @property
    def past_due(self) -> list[Subscription]:
        return [s for s in self.subscriptions if s.status != SubscriptionStatus.ACTIVE]


@refusals_audited
def preview_move(b: Billing, user: User, account_id: int, subscription_ids: list[int], to_method_id: int) -> MovePreview:
    account = _managed_account(b, user, account_id)
    if account.kind != AccountKind.PAY_AS_YOU_GO:
        raise NotFound("subscription")
    target = _move_target(b, account, to_method_id)
    if not subscription_ids or len(subscription_ids) > 1000:
        raise InvalidInput("subscriptions")
    subs = list(b.session.scalars(select(Subscription).where(
        Subscription.id.in_(set(subscription_ids)), Subscription.account_id == account.id,
        Subscription.status != SubscriptionStatus.DELETED).order_by(Subscription.id)))
    if len(subs) != len(set(subscription_ids)):
        raise NotFound("subscription")
    moving = [s for s in subs if s.payment_method_id != target.id]
    if not moving:
        raise InvalidInput("subscriptions")  # all of them already use that card
    return MovePreview(account, target, moving, Money(sum(s.outstanding_minor for s in moving), account.currency))


@refusals_audited
def move_subscriptions(b: Billing, user: User, account_id: int, subscription_ids: list[int], to_method_id: int,
                       expected_outstanding_minor: int) -> MovePreview:
    """Do what `preview_move` showed; if the outstanding charges that would move are
    no longer what the person saw, nothing moves (BalanceChanged-like InvalidInput)."""
    with write_transaction(b.session):
        lock_account(b.session, account_id)
        preview = preview_move(b, user, account_id, subscription_ids, to_method_id)
        refuse_while_paying(b, account_id)  # issue 27: a settlement prices by card
        if preview.outstanding.minor != expected_outstanding_minor:
            raise InvalidInput("changed")
        b.session.execute(update(Subscription).where(Subscription.id.in_([s.id for s in preview.subscriptions]))
                          .values(payment_method_id=preview.target.id).execution_options(synchronize_session="fetch"))
        notify.audit(b.session, b.clock, "subscriptions.moved", account_id=preview.account.id, actor=user,
                     method=method_summary(preview.target), subscriptions=[s.name for s in preview.subscriptions],
                     outstanding_minor=preview.outstanding.minor, currency=preview.outstanding.currency)
        return preview


EXPIRY_CONTACTS = (Role.ACCOUNT_ADMIN, Role.OWNER, Role.CONTRIBUTOR)


def remind_expiring_cards(b: Billing, today: date) -> int:
    """B8: once per card, EXPIRY_NOTICE_DAYS before it expires, an email to the billing
    address and a notice to those who can replace it. Idempotent per card."""
    last_day_soon = today + timedelta(days=EXPIRY_NOTICE_DAYS)
    # Cards whose expiry month has begun by then; the exact day is checked below.
    candidates = b.session.scalars(select(PaymentMethod.id).where(
        PaymentMethod.kind == MethodKind.CARD, PaymentMethod.removed_at.is_(None),
        PaymentMethod.expiry_reminded_on.is_(None),
        PaymentMethod.exp_year * 100 + PaymentMethod.exp_month <= last_day_soon.year * 100 + last_day_soon.month,
        PaymentMethod.exp_year * 100 + PaymentMethod.exp_month >= today.year * 100 + today.month)
        .order_by(PaymentMethod.id)).all()
    reminded = 0
    for method_id in candidates:
        with write_transaction(b.session):
            method = b.session.get(PaymentMethod, method_id)
            ends = expires_on(method)
            if method.expiry_reminded_on is not None or ends is None or not today <= ends < last_day_soon:
                continue
            method.expiry_reminded_on = today
            payload = {"method": method_summary(method), "method_id": method.id, "expires_on": ends.isoformat()}
            notify.queue_email(b.session, b.clock, method.account, "card_expiring", payload)
            notify.notify_users(b.session, b.clock, method.account, "card_expiring", payload, roles=EXPIRY_CONTACTS)
            notify.audit(b.session, b.clock, "payment_method.expiry_reminded", account_id=method.account_id,
                         method=method_summary(method), expires_on=ends.isoformat())
            reminded += 1
    return reminded
