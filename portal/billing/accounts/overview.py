"""What an account looks like to the signed-in user (R06, R12, R14, R20, B3) and the
account settings they may change (R11, R15) and requests they may open (R13)."""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from datetime import date, timedelta
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import bindparam, func, inspect, select, text
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from portal.billing.accounts import access, credit, details, notify
from portal.billing.accounts.access import Action
from portal.billing import ids
from portal.billing.accounts.balances import (SETTLEABLE, InvoiceQuote, SubscriptionBalance, invoice_quote,
                                     paid_by)
from portal.billing.accounts.notify import refusals_audited
from portal.billing.context import Billing
from portal.errors import InvalidInput, NotFound
from portal.billing.paging import LIMIT, PAGE_SIZE, Keyset, Page, read_page
from portal.billing.periods import month_of
from portal.billing.usage import UsageSummary, usage_summaries
from portal.billing.transaction import reader, write_transaction
from portal.money import Money, total
from portal.models import (AccountKind, AuditEvent, BillingAccount, BillingProfile, Invoice, InvoicePayment,
                           Notice, Payment, Role, RoleAssignment,
                           Subscription, SubscriptionFigure, SubscriptionStatus, SupportRequest, User, status_ranks)


@dataclass(frozen=True)
class SubscriptionView:
    subscription: Subscription
    can_settle: bool          # R06, B1: past due or disabled
    disable_on: date | None   # R12
    delete_on: date | None    # R12
    last_day: date | None = None  # issue 33: cancelled at the end of a period, runs until then
    used: UsageSummary | None = None  # issue 32: usage posted for this month (None: none)


@dataclass(frozen=True)
class Membership:
    """R14: the agreement type and the user's role(s)."""
    account: BillingAccount
    roles: frozenset[Role]


def membership(b: Billing, user: User, account_id: int) -> Membership:
    account = access.get_account(b.session, user, account_id)
    return Membership(account, frozenset(access.roles_of(b.session, user, account.id)))


# Past-due and disabled subscriptions first (they carry the Settle balance link, B1),
# then active, then deleted; in the order they were created within each: the stored
# rank (models.STATUS_RANK_SQL), so the index (account_id, status_rank, id) serves it.
SUBSCRIPTION_ORDER = Keyset(Subscription.status_rank, Subscription.id, kinds=(int, int))


def subscription_view(b: Billing, sub: Subscription) -> SubscriptionView:
    disable_on = delete_on = None
    if sub.status == SubscriptionStatus.PAST_DUE and sub.past_due_since:
        disable_on = b.policy.disable_date(sub.past_due_since)
    if sub.status == SubscriptionStatus.DISABLED and sub.disabled_on:
        delete_on = b.policy.deletion_date(sub.disabled_on)
    return SubscriptionView(sub, sub.status in SETTLEABLE, disable_on, delete_on,
                            sub.cancel_at - timedelta(days=1) if sub.cancel_at else None)


@dataclass(frozen=True)
class StatusCount:
    """How many of an account's subscriptions have one status, and the earliest
    past-due and disabled dates among them (the banners' dates, B3)."""
    count: int
    earliest_past_due: date | None
    earliest_disabled: date | None
    outstanding_minor: int = 0  # what they owe together


# The Overview's statements are built once, values bound when they run (building
# them costs SQLAlchemy about as much as running them; see balances.py).
def _earliest(status: SubscriptionStatus, day):
    """The earliest `day` among the account's subscriptions with `status`: one row of
    its partial index (ix_subscriptions_past_due_since, …_disabled_on), whose condition
    is written as a literal so that every plan, a prepared one too, can use it."""
    return (select(day).where(Subscription.account_id == bindparam("account_id"),
                              text(f"subscriptions.status = '{status.value}'"), day.is_not(None))
            .order_by(day).limit(1).scalar_subquery())


# Counted and summed from the kept figures (a few rows per card, portal/figures.py),
# not from the account's subscriptions; the banners' dates each from one index row.
_STATUS_COUNTS = (select(SubscriptionFigure.status, func.sum(SubscriptionFigure.subscriptions),
                         _earliest(SubscriptionStatus.PAST_DUE, Subscription.past_due_since),
                         _earliest(SubscriptionStatus.DISABLED, Subscription.disabled_on),
                         func.sum(SubscriptionFigure.outstanding_minor))
                  .where(SubscriptionFigure.account_id == bindparam("account_id"))
                  .group_by(SubscriptionFigure.status))


@functools.cache
def page_of_subscriptions(mode: str):
    """The statement of a page of the Overview's subscriptions (`mode`: first, last,
    after or before the key; :account_id bound), built once per mode: a page of the
    index (account_id, status_rank, id), then those rows only."""
    return (select(Subscription).where(Subscription.account_id == bindparam("account_id"),
                                       *SUBSCRIPTION_ORDER.where(mode))
            .order_by(*SUBSCRIPTION_ORDER.order_by(mode)).limit(LIMIT)
            .options(joinedload(Subscription.payment_method)))


def status_counts(b: Billing, account: BillingAccount) -> dict[SubscriptionStatus, StatusCount]:
    """The account's subscriptions counted per status, from the kept figures in one query:
    the Overview's page count and its banners share it."""
    return {status: StatusCount(int(n), past_due_since if status == SubscriptionStatus.PAST_DUE else None,
                                disabled_on if status == SubscriptionStatus.DISABLED else None, int(owed))
            for status, n, past_due_since, disabled_on, owed
            in reader(b.session).execute(_STATUS_COUNTS, {"account_id": account.id})}


def total_outstanding(account: BillingAccount, counts: dict[SubscriptionStatus, StatusCount]) -> Money:
    """R06/B2: what the account's subscriptions owe together, shown to every role that
    sees the account (one who may not settle still needs the sum to ask for it).
    A deleted subscription's charges are still owed, so they count too."""
    return Money(sum(c.outstanding_minor for c in counts.values()), account.currency)


def credited_by(b: Billing, payment: Payment) -> Money:
    """B15: how much of a payment became credit (its receipt says so)."""
    return credit.credited_by(b.session, payment)


def subscription_page(b: Billing, account: BillingAccount, page: str | None = None,
                      per_page: int = PAGE_SIZE,
                      counts: dict[SubscriptionStatus, StatusCount] | None = None,
                      usage: bool = True) -> Page[SubscriptionView]:  # usage False: none read (Payment methods)
    """R06: one page of the account's subscriptions with their status, those with a
    Settle balance link first (B1), each with its payment method (in the same query),
    read by key (`page`: a paging token): about a page of rows whichever page it is.
    The total is the status counts' (kept by the caller), never counted here."""
    counts = status_counts(b, account) if counts is None else counts

    def fetch(mode: str, binds: dict) -> list[Subscription]:
        return list(b.session.scalars(page_of_subscriptions(mode), {**binds, "account_id": account.id}).unique())

    def count(mode: str | None, binds: dict) -> int:
        return reader(b.session).scalar(SUBSCRIPTION_ORDER.bounded_count(
            select(Subscription.id).where(Subscription.account_id == account.id), mode), binds) or 0

    found = read_page(SUBSCRIPTION_ORDER, SUBSCRIPTION_ORDER.parse(page), fetch,
                      lambda sub: (sub.status_rank, sub.id), per_page, count,
                      total=sum(c.count for c in counts.values()))
    month = month_of(b.clock.today())

    def views(subs: list[Subscription]) -> list[SubscriptionView]:
        used = usage_summaries(b.session, [sub.id for sub in subs], *month, account.currency) if usage else {}
        return [replace(subscription_view(b, sub), used=used.get(sub.id)) for sub in subs]
    return found.map(views)


@dataclass(frozen=True)
class Banner:
    """B3: level is 'info', 'warning' or 'error'; kind says which message. Past-due
    and disabled subscriptions get a banner each, up to BANNER_LIMIT of a kind; past
    that, one banner says how many and gives the earliest date (kind '…_many')."""
    level: str
    kind: str
    subscription: Subscription | None = None
    day: date | None = None      # the date ahead: disabled on (past due), deleted on (disabled)
    count: int = 1
    since: date | None = None    # R12: the day it was disabled (kind 'disabled')
    profile: BillingProfile | None = None  # kinds 'invoice_past_due' and 'bill_ready'
    # ux-F5, kind 'invoice_past_due': the oldest past-due invoice (named, with its due
    # date and what is left of it); `count` past-due invoices owe `amount` in all.
    invoice: Invoice | None = None
    amount: Money | None = None


BANNER_LIMIT = 3


def banners(b: Billing, account: BillingAccount, quotes: dict[int, InvoiceQuote] | None = None,
            counts: dict[SubscriptionStatus, StatusCount] | None = None) -> list[Banner]:
    """B3: a warning per past-due subscription (with its disable date), an error per
    disabled one (with its deletion date), information when a bill is ready; none
    when the account is in good standing. Two queries whatever the number of
    subscriptions; `quotes` (invoice quotes by profile) and `counts` (status_counts)
    are what the caller already has."""
    result: list[Banner] = []
    if account.kind == AccountKind.PAY_AS_YOU_GO:
        result += _subscription_banners(b, account, status_counts(b, account) if counts is None else counts)
    else:
        for profile in account.profiles:
            quote = (quotes or {}).get(profile.id) or invoice_quote(b.session, profile)
            past_due = [i for i in quote.invoices if i.status == "past_due"]  # oldest due first
            if past_due:
                result.append(Banner("warning", "invoice_past_due", profile=profile, invoice=past_due[0],
                                     count=len(past_due),
                                     amount=total((i.left for i in past_due), account.currency)))
            elif quote.invoices:
                result.append(Banner("info", "bill_ready", profile=profile))
    return sorted(result, key=lambda banner: ("error", "warning", "info").index(banner.level))


def subscription_banner(b: Billing, sub: Subscription) -> Banner | None:
    """B3, R12: the banner of one past-due (disable date) or disabled (the day it was
    disabled and the deletion date) subscription — on Overview and its Settle balance page."""
    view = subscription_view(b, sub)
    if view.disable_on:
        return Banner("warning", "past_due", sub, view.disable_on)
    if view.delete_on:
        return Banner("error", "disabled", sub, view.delete_on, since=sub.disabled_on)
    return None


def _subscription_banners(b: Billing, account: BillingAccount,
                          counts: dict[SubscriptionStatus, StatusCount]) -> list[Banner]:
    few = [status for status in SETTLEABLE if 0 < counts.get(status, StatusCount(0, None, None)).count <= BANNER_LIMIT]
    result: list[Banner] = []
    if few:
        for sub in b.session.scalars(select(Subscription).where(
                Subscription.account_id == account.id, Subscription.status_rank.in_(status_ranks(few)),
                Subscription.status.in_(few)).order_by(Subscription.id)):
            banner = subscription_banner(b, sub)
            if banner is not None:
                result.append(banner)
    many_past_due = counts.get(SubscriptionStatus.PAST_DUE)
    if many_past_due and many_past_due.count > BANNER_LIMIT and many_past_due.earliest_past_due:
        result.append(Banner("warning", "past_due_many", None,
                             b.policy.disable_date(many_past_due.earliest_past_due), many_past_due.count))
    many_disabled = counts.get(SubscriptionStatus.DISABLED)
    if many_disabled and many_disabled.count > BANNER_LIMIT and many_disabled.earliest_disabled:
        result.append(Banner("error", "disabled_many", None,
                             b.policy.deletion_date(many_disabled.earliest_disabled), many_disabled.count))
    return result


def profile_summaries(b: Billing, user: User, account: BillingAccount) -> list[InvoiceQuote]:
    """R20: per billing profile the user has a role on, the open invoices and their
    total due (the Summary tab). Pay-as-you-go accounts have no billing profiles."""
    if account.kind != AccountKind.CUSTOMER_AGREEMENT:
        return []
    mine = set(access.profiles_with_role(b.session, user, account))
    return [invoice_quote(b.session, profile) for profile in account.profiles if profile.id in mine]


def viewable_profile(b: Billing, user: User, profile_id: int) -> BillingProfile:
    profile = ids.get(b.session, BillingProfile, profile_id)
    if profile is None or not access.roles_of(b.session, user, profile.account_id, profile.id):
        raise NotFound("billing profile")
    return profile


def normalized_email(raw: str) -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except (EmailNotValidError, TypeError, AttributeError) as exc:
        raise InvalidInput("email") from exc


@refusals_audited
def require_allowed(b: Billing, user: User, account_id: int, action: Action,
                    profile_id: int | None = None) -> BillingAccount:
    """For a view that must refuse before it calls a service (a forced POST): the
    refusal is audited like every other."""
    account = access.get_account(b.session, user, account_id)
    access.require(b.session, user, account, action, profile_id)
    return account


@refusals_audited
def change_notification_email(b: Billing, user: User, account_id: int, new_email: str) -> str:
    """R11: the account administrator sets where billing notifications go. Both the
    old and the new address are told, so a hijack does not go unnoticed."""
    email = normalized_email(new_email)
    with write_transaction(b.session):
        account = access.get_account(b.session, user, account_id)
        access.require(b.session, user, account, Action.MANAGE_NOTIFICATIONS)
        old = account.notification_email
        if email == old:
            return email
        account.notification_email = email
        payload = {"old": old, "new": email}
        notify.queue_email(b.session, b.clock, account, "notification_email_changed", payload, to_address=old)
        notify.queue_email(b.session, b.clock, account, "notification_email_changed", payload, to_address=email)
        notify.audit(b.session, b.clock, "notification_email.changed", account_id=account.id, actor=user, **payload)
        return email


TIME_ZONES = frozenset(available_timezones())


def change_personal_settings(b: Billing, user: User, locale: str, zone: str) -> None:
    """B10: the language of the person's emails and documents, and the time zone their
    times are shown in. Each person's own; no account role is needed."""
    if locale not in details.LANGUAGES:
        raise InvalidInput("locale")
    if zone not in TIME_ZONES:
        raise InvalidInput("timezone")
    with write_transaction(b.session):
        me = b.session.get(User, user.id)
        if (me.locale, me.timezone) != (locale, zone):
            notify.audit(b.session, b.clock, "settings.changed", account_id=None, actor=me,
                         before={"locale": me.locale, "timezone": me.timezone},
                         after={"locale": locale, "timezone": zone})
            me.locale, me.timezone = locale, zone


SUBJECT_MAX, BODY_MAX = 200, 5000


def open_support_request(b: Billing, user: User, account_id: int, subscription_id: int | None,
                         subject: str, body: str) -> SupportRequest:
    """R13: e.g. "I paid but my subscription is still disabled"."""
    subject, body = (subject or "").strip(), (body or "").strip()
    if not subject or len(subject) > SUBJECT_MAX:
        raise InvalidInput("subject")
    if not body or len(body) > BODY_MAX:
        raise InvalidInput("body")
    with write_transaction(b.session):
        account = access.get_account(b.session, user, account_id)
        access.require(b.session, user, account, Action.OPEN_SUPPORT_REQUEST)
        if subscription_id is not None:
            sub = ids.get(b.session, Subscription, subscription_id)
            if sub is None or sub.account_id != account.id:
                raise NotFound("subscription")
        request = SupportRequest(account_id=account.id, user_id=user.id, subscription_id=subscription_id,
                                 subject=subject, body=body, created_at=b.clock.now())
        b.session.add(request)
        b.session.flush()
        notify.queue_email(b.session, b.clock, account, "support_request_received",
                           {"request_id": request.id, "subject": subject}, to_address=user.email)
        return request


def support_requests_of(b: Billing, user: User, account_id: int) -> list[SupportRequest]:
    account = access.get_account(b.session, user, account_id)
    return list(b.session.scalars(select(SupportRequest).where(
        SupportRequest.account_id == account.id, SupportRequest.user_id == user.id)
        .order_by(SupportRequest.created_at.desc(), SupportRequest.id.desc())))


# Newest first, by the indexes (billing_profile_id[, status], period_start, id).
INVOICE_ORDER = Keyset(Invoice.period_start, Invoice.id, kinds=(date, int), descending=True)


def page_of_invoices(where: list, mode: str):
    """The statement of a page of invoices (`mode`: first, last, after or before the key)."""
    return select(Invoice).where(*where, *INVOICE_ORDER.where(mode)).order_by(*INVOICE_ORDER.order_by(mode)).limit(LIMIT)


@functools.cache
def _invoice_statements(filtered: bool, mode: str | None) -> tuple:
    """The Invoices list's page (payments and methods joined) and count, built once."""
    where = [Invoice.billing_profile_id.in_(bindparam("profile_ids", expanding=True)),
             *([Invoice.status == bindparam("status")] if filtered else [])]
    return (page_of_invoices(where, mode).options(joinedload(Invoice.payment).joinedload(Payment.payment_method)),
            INVOICE_ORDER.bounded_count(select(Invoice.id).where(*where), mode))


def invoices_of(b: Billing, user: User, account_id: int, status: str | None = None,
                page: str | None = None, per_page: int = PAGE_SIZE) -> Page[Invoice]:
    """One page of the invoices of every billing profile the user has a role on,
    newest first, each with its payment and payment method (B4), read by key (`page`:
    a paging token): a constant number of queries whatever the number of invoices or
    profiles, and about a page of index entries whichever page it is."""
    account = access.get_account(b.session, user, account_id)
    values = {"profile_ids": access.profiles_with_role(b.session, user, account), "status": status}
    filtered = status is not None

    def fetch(mode: str, binds: dict) -> list[Invoice]:
        return list(b.session.scalars(_invoice_statements(filtered, mode)[0], {**values, **binds}))

    def count(mode: str | None, binds: dict) -> int:
        return reader(b.session).scalar(_invoice_statements(filtered, mode)[1], {**values, **binds}) or 0

    return read_page(INVOICE_ORDER, INVOICE_ORDER.parse(page), fetch, lambda i: (i.period_start, i.id),
                     per_page, count)


_INVOICE = {whole: select(Invoice).where(Invoice.id == bindparam("invoice_id")).options(  # built once
    joinedload(Invoice.billing_profile), *([selectinload(Invoice.lines), joinedload(Invoice.payment).joinedload(
        Payment.payment_method), selectinload(Invoice.payments_received).joinedload(InvoicePayment.payment)
        .joinedload(Payment.payment_method)] if whole else [])) for whole in (False, True)}


def invoice_of(b: Billing, user: User, account_id: int, invoice_id: int, whole: bool = True) -> Invoice:
    """An invoice the user may see; `whole` False: only the row (a stored document's
    download needs no lines, however many there are — issue 28)."""
    account = access.get_account(b.session, user, account_id)
    invoice = b.session.scalars(_INVOICE[whole], {"invoice_id": invoice_id}).first() if ids.is_id(invoice_id) else None
    if (invoice is None or invoice.billing_profile.account_id != account.id
            or not access.roles_of(b.session, user, account.id, invoice.billing_profile_id)):
        raise NotFound("invoice")
    if "account" not in inspect(invoice.billing_profile).dict:  # the one just read: no second read of it
        set_committed_value(invoice.billing_profile, "account", account)
    return invoice


def payment_of(b: Billing, user: User, account_id: int, payment_id: int) -> Payment:
    """A receipt: the payment of an account the user may see."""
    account = access.get_account(b.session, user, account_id)
    payment = b.session.get(Payment, payment_id, options=[joinedload(Payment.payment_method), selectinload(Payment.invoices)]) \
        if ids.is_id(payment_id) else None
    if (payment is None or payment.account_id != account.id or payment.billing_profile_id is not None
            and not access.roles_of(b.session, user, account.id, payment.billing_profile_id)):
        raise NotFound("payment")
    return payment


def invoices_paid_by(b: Billing, payment: Payment) -> list[tuple[Invoice, Money]]:
    """A receipt's invoices, each with what this payment paid of it, in number order:
    what the payment did, not the invoice's state today (a part payment's receipt says
    "1 000,00 kr of 7 140,00 kr", never the "Paid" of a later payment)."""
    rows = b.session.execute(select(Invoice, InvoicePayment.amount_minor)
                             .join(InvoicePayment, InvoicePayment.invoice_id == Invoice.id)
                             .where(InvoicePayment.payment_id == payment.id).order_by(Invoice.id))
    return [(invoice, Money(minor, invoice.currency)) for invoice, minor in rows]


def paid_subscriptions(b: Billing, payment: Payment, page: str | None = None) -> Page[SubscriptionBalance]:
    """A receipt's settled charges, summed per subscription, a page at a time by key
    (`page`: a paging token)."""
    return paid_by(b.session, payment, page, PAGE_SIZE)


def paid_but_not_active(b: Billing, payment: Payment) -> dict:
    """A receipt's subscriptions by what they are now (issue 20 item 4), each the first
    few names and how many (issue 28): {"deleted": [...], "deleted_count": n,
    "still_owing": [...], …}; none for a payment of invoices."""
    if payment.billing_profile_id is not None:  # it paid invoices
        return {kind: value for name in ("active", "deleted", "still_owing")
                for kind, value in ((name, []), (f"{name}_count", 0))}
    return notify.paid_but_not_active(b.session, payment.id)


# Issue 20 item 3: notices that only repeat what the banner says while their cause
# lasts (they go away with it, notify.resolve_notices); news stays a notice.
NOTICES_THE_BANNER_COVERS = frozenset({"payment_failed", "subscription_disable_warning", "subscription_disabled",
                                       "invoice_past_due"})


def notices_for(b: Billing, user: User, account_id: int, banners: list[Banner] | None = None) -> list[Notice]:
    """The user's notices, newest first; with `banners` (the page shows them), without
    the notices those banners already say."""
    return list(b.session.scalars(_NOTICES[bool(banners)], {"user_id": user.id, "account_id": account_id}))


_NOTICES = {with_banners: select(Notice).where(  # True: without those the banners say
    Notice.user_id == bindparam("user_id"), Notice.account_id == bindparam("account_id"), Notice.dismissed_at.is_(None),
    *([Notice.kind.not_in(sorted(NOTICES_THE_BANNER_COVERS))] if with_banners else [])
).order_by(Notice.created_at.desc(), Notice.id.desc()) for with_banners in (False, True)}


def dismiss_notice(b: Billing, user: User, account_id: int, notice_id: int) -> None:
    """Per user: dismissing hides it for this user only; unknown ids, and notices of
    another account than the one in the address, are NotFound."""
    with write_transaction(b.session):
        account = access.get_account(b.session, user, account_id)
        notice = ids.get(b.session, Notice, notice_id)
        if notice is None or notice.user_id != user.id or notice.account_id != account.id:
            raise NotFound("notice")
        if notice.dismissed_at is None:
            notice.dismissed_at = b.clock.now()


AUDIT_PAGE_SIZE = 50
# Newest first, by the index (account_id, id).
AUDIT_ORDER = Keyset(AuditEvent.id, kinds=(int,), descending=True)


@refusals_audited
def audit_log(b: Billing, user: User, account_id: int, page: str | None = None,
              page_size: int = AUDIT_PAGE_SIZE) -> Page[AuditEvent]:
    """Who did what, when: payments and their attempts, declines, method changes,
    role refusals, notification-address changes, the billing cycle's doings — newest
    first, a page at a time by key (`page`: a paging token). For the account
    administrator; for a customer agreement, a billing profile's owner sees that
    profile's events and the account-wide ones."""
    account = access.get_account(b.session, user, account_id)
    access.require(b.session, user, account, Action.VIEW_AUDIT)
    where = [AuditEvent.account_id == account.id]
    assignments = list(b.session.scalars(select(RoleAssignment).where(
        RoleAssignment.user_id == user.id, RoleAssignment.account_id == account.id)))
    sees_all = any(a.role == Role.ACCOUNT_ADMIN or (a.role == Role.OWNER and a.billing_profile_id is None)
                   for a in assignments)
    if not sees_all:
        owned = [a.billing_profile_id for a in assignments if a.role == Role.OWNER]
        where.append(AuditEvent.billing_profile_id.is_(None) | AuditEvent.billing_profile_id.in_(owned))

    def fetch(mode: str, binds: dict) -> list[AuditEvent]:
        return list(b.session.scalars(
            select(AuditEvent).where(*where, *AUDIT_ORDER.where(mode)).options(selectinload(AuditEvent.actor))
            .order_by(*AUDIT_ORDER.order_by(mode)).limit(LIMIT), binds))

    def count(mode: str | None, binds: dict) -> int:
        return b.session.scalar(AUDIT_ORDER.bounded_count(select(AuditEvent.id).where(*where), mode), binds) or 0

    return read_page(AUDIT_ORDER, AUDIT_ORDER.parse(page), fetch, lambda event: (event.id,), page_size, count)
