"""What it costs and why, before the bill (issue 33 item 2; docs/costs.md): an account's
costs per subscription and calendar month, and the spending alerts the billing cycle
sends at 80 % and 100 % of a monthly amount.

A month the billing cycle has billed (`BilledPeriod`) costs what was billed: the
pay-as-you-go charges, or the customer agreement's invoice lines, of each subscription.
A month not billed yet (this month) costs what its bill will say so far: the monthly
fee for the days from the subscription's start (as `bill_subscription` prices it) and
the usage the provider has posted (priced when posted, billing/usage.py). Sums are made
in SQL per subscription and month; the page lists the first SUBSCRIPTIONS_SHOWN
subscriptions (by id, read by key), the CSV every one."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import Session

from portal.billing.accounts import access, notify
from portal.billing.accounts.access import Action
from portal.billing.context import Billing
from portal.billing.periods import billed_part, enabled_parts, month_end, previous_month, prorated
from portal.billing.transaction import lock_account, write_transaction
from portal.errors import InvalidAmount, NotFound
from portal.money import MAX_MINOR, Money
from portal.models import (AccountKind, BilledPeriod, BillingAccount, Charge, Invoice, InvoiceLine, PausedSpan,
                           SpendingAlert, Subscription, SubscriptionStatus, UsageLine, User)

MONTHS_SHOWN = 6
SUBSCRIPTIONS_SHOWN = 50
THRESHOLDS = (80, 100)  # per cent of the monthly amount; each warned once a month
# What a month not yet billed counts the fee of (as the cycle bills: bill_subscription).
BILLABLE = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)


def months_to(today: date, count: int = MONTHS_SHOWN) -> list[date]:
    """The first days of the `count` months up to today's, oldest first."""
    found = [today.replace(day=1)]
    while len(found) < count:
        found.append(previous_month(found[-1])[0])
    return found[::-1]


@dataclass(frozen=True)
class SubscriptionCosts:
    id: int
    name: str
    amounts: list[int]  # minor units, one per month of Costs.months

    @property
    def total(self) -> int:
        return sum(self.amounts)


@dataclass(frozen=True)
class Costs:
    account: BillingAccount
    months: list[date]           # oldest first; the last is this month
    billed: list[bool]           # per month: billed (else: so far, before the bill)
    rows: list[SubscriptionCosts]  # the first SUBSCRIPTIONS_SHOWN subscriptions
    more: int                    # subscriptions with costs in the window not listed
    totals: list[int]            # per month, every subscription the person may see
    alert: SpendingAlert | None  # the whole account's
    can_set_alert: bool
    # Alerts of single subscriptions the person sees: (alert, subscription's name, how
    # many per cent of the alert's amount its costs this month have reached).
    subscription_alerts: list[tuple[SpendingAlert, str, int]] = ()

    @property
    def currency(self) -> str:
        return self.account.currency

    def money(self, minor: int) -> Money:
        return Money(minor, self.currency)

    @property
    def this_month(self) -> int:
        return self.totals[-1]

    @property
    def percent_of_alert(self) -> int | None:
        if self.alert is None or self.alert.amount_minor <= 0:
            return None
        return self.this_month * 100 // self.alert.amount_minor


def _scope(session: Session, user: User | None, account: BillingAccount):
    """The subscriptions a person sees the costs of: all of a pay-as-you-go account's;
    of a customer agreement's, those on the billing profiles they have a role on."""
    if user is None or account.kind == AccountKind.PAY_AS_YOU_GO:
        return Subscription.account_id == account.id
    profiles = access.profiles_with_role(session, user, account)
    return and_(Subscription.account_id == account.id, Subscription.billing_profile_id.in_(profiles))


def _month_index(column, months: list[date]):
    """Which of `months` a date column falls in (0 = oldest), as SQL: one CASE, the same
    on SQLite and PostgreSQL."""
    return case(*((column.between(first, month_end(first)), literal(i)) for i, first in enumerate(months)),
                else_=literal(-1))


class Listed(list):
    """The subscriptions of a page, by id: their rows are found by each one's key
    (subscription_id, period_start), without the subscriptions' table."""


def _where(scope, key):
    """`scope` as a condition on a row whose subscription is `key`: a Listed page of ids
    on the row's own column (an index range per subscription), else through the join."""
    return key.in_(scope) if isinstance(scope, Listed) else scope


def billed_statement(account: BillingAccount, scope, months: list[date], by_subscription: bool):
    """(subscription id or None, month index, minor units) of what was billed in `months`:
    pay-as-you-go charges (found by uq_charges_subscription_period per subscription) or
    the customer agreement's invoice lines."""
    if account.kind == AccountKind.PAY_AS_YOU_GO:
        key, amount, day = Charge.subscription_id, Charge.amount_minor, Charge.period_start
        query = select(Charge)
        if not isinstance(scope, Listed):
            query = query.join(Subscription, Subscription.id == Charge.subscription_id)
    else:
        key, amount, day = InvoiceLine.subscription_id, InvoiceLine.amount_minor, Invoice.period_start
        query = select(InvoiceLine).join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        if not isinstance(scope, Listed):
            query = query.join(Subscription, Subscription.id == InvoiceLine.subscription_id)
    month = _month_index(day, months)
    return query.with_only_columns(key if by_subscription else literal(None), month,
                                   func.coalesce(func.sum(amount), 0)).where(
        _where(scope, key), day.between(months[0], month_end(months[-1]))).group_by(
        *((key,) if by_subscription else ()), month)


def _usage_sums(session: Session, scope, months: list[date], by_subscription: bool):
    month = _month_index(UsageLine.period_start, months)
    query = select(UsageLine.subscription_id if by_subscription else literal(None), month,
                   func.coalesce(func.sum(UsageLine.amount_minor), 0))
    if not isinstance(scope, Listed):
        query = query.join(Subscription, Subscription.id == UsageLine.subscription_id)
    query = query.where(_where(scope, UsageLine.subscription_id),
                        UsageLine.period_start.between(months[0], month_end(months[-1])))
    return session.execute(query.group_by(*((UsageLine.subscription_id,) if by_subscription else ()), month)).all()


def _fees(session: Session, scope, first: date, by_subscription: bool) -> dict[int | None, int]:
    """The monthly fees a month not billed yet will bill (from each subscription's start,
    pro rata by day): those that started before the month summed in SQL, the few that
    started in it priced one by one."""
    last = month_end(first)
    billable = and_(_where(scope, Subscription.id), Subscription.status.in_(BILLABLE))
    found: dict[int | None, int] = {}
    if by_subscription:
        whole = select(Subscription.id, func.sum(Subscription.monthly_fee_minor)).where(
            billable, Subscription.started_on <= first).group_by(Subscription.id)
    else:
        whole = select(literal(None), func.coalesce(func.sum(Subscription.monthly_fee_minor), 0)).where(
            billable, Subscription.started_on <= first)
    for key, minor in session.execute(whole):
        found[key] = found.get(key, 0) + int(minor or 0)
    for sub_id, fee, started in session.execute(select(Subscription.id, Subscription.monthly_fee_minor,
                                                       Subscription.started_on).where(
            billable, Subscription.started_on > first, Subscription.started_on <= last)):
        key = sub_id if by_subscription else None
        found[key] = found.get(key, 0) + prorated(fee, started, last)
    for key, minor in _pause_corrections(session, scope, first, by_subscription).items():
        found[key] = found.get(key, 0) + minor
    return found


def _pause_corrections(session: Session, scope, first: date, by_subscription: bool) -> dict[int | None, int]:
    """B21: what `_fees` counted wrong for the few subscriptions paused in the month — a
    paused one (not counted) owes its days before the pause, a resumed one (counted whole)
    only its days out of pause — as bill_subscription will price them."""
    last = month_end(first)
    columns = (Subscription.id, Subscription.monthly_fee_minor, Subscription.started_on, Subscription.status,
               Subscription.paused_on)
    # Each from a few rows at any size: the paused ones by ix_subscriptions_paused (partial),
    # the resumed ones from the month's pauses (ix_paused_spans_resumed), then by key.
    subs = session.execute(select(*columns).where(
        _where(scope, Subscription.id), Subscription.started_on <= last,
        Subscription.paused_on > first, Subscription.status == SubscriptionStatus.PAUSED)).all()
    subs += session.execute(select(*columns).distinct().join(PausedSpan, PausedSpan.subscription_id == Subscription.id)
                            .where(_where(scope, Subscription.id), Subscription.started_on <= last,
                                   PausedSpan.resumed_on > first, Subscription.status.in_(BILLABLE))).all()
    if not subs:
        return {}
    spans: dict[int, list[tuple[date, date | None]]] = {}
    for sub_id, off, on in session.execute(select(PausedSpan.subscription_id, PausedSpan.paused_on,
                                                  PausedSpan.resumed_on).where(
            PausedSpan.subscription_id.in_([s.id for s in subs]), PausedSpan.resumed_on > first)):
        spans.setdefault(sub_id, []).append((off, on))
    found: dict[int | None, int] = {}
    for sub_id, fee, started, status, paused_on in subs:
        start, end = billed_part(started, first, last)
        counted = prorated(fee, start, end) if status in BILLABLE else 0
        parts = enabled_parts(start, end, spans.get(sub_id, []) + ([(paused_on, None)] if paused_on else []))
        owed = prorated(fee, parts[0][0], parts[-1][1], days=sum((b - a).days + 1 for a, b in parts)) if parts else 0
        key = sub_id if by_subscription else None
        found[key] = found.get(key, 0) + owed - counted
    return found


def billed_months(session: Session, months: list[date]) -> list[date]:
    """Which of `months` the billing cycle has billed: those up to the last it recorded
    billed (M7: it bills the months in order; one before the first it ever billed is
    never billed, so it counts its charges: none). A portal that has never billed bills
    the month before today's first (lifecycle.periods_to_bill): it and this month are
    still to come."""
    last = session.scalar(select(func.max(BilledPeriod.period_start)))
    if last is None:
        before = months_to(months[-1], 3)[0]  # two months before this one
        return [first for first in months if first <= before]
    return [first for first in months if first <= last]


def _sums(session: Session, account: BillingAccount, scope, months: list[date],
          by_subscription: bool) -> dict[int | None, list[int]]:
    """Minor units per subscription (None: all of them) and month."""
    billed = set(billed_months(session, months))
    found: dict[int | None, list[int]] = {}

    def add(key, index: int, minor: int) -> None:
        if index >= 0:
            found.setdefault(key, [0] * len(months))[index] += int(minor)
    for key, index, minor in session.execute(billed_statement(account, scope, months, by_subscription)):
        if months[index] in billed:
            add(key, index, minor)
    for key, index, minor in _usage_sums(session, scope, months, by_subscription):
        if months[index] not in billed:
            add(key, index, minor)
    for index, first in enumerate(months):
        if first not in billed:
            for key, minor in _fees(session, scope, first, by_subscription).items():
                add(key, index, minor)
    return found


def costs(b: Billing, user: User, account_id: int) -> Costs:
    """The Costs page: this month and the MONTHS_SHOWN - 1 before it."""
    account = access.get_account(b.session, user, account_id)
    access.require(b.session, user, account, Action.VIEW)
    months = months_to(b.clock.today())
    scope = _scope(b.session, user, account)
    shown = b.session.execute(select(Subscription.id, Subscription.name).where(scope)
                              .order_by(Subscription.id).limit(SUBSCRIPTIONS_SHOWN + 1)).all()
    listed = shown[:SUBSCRIPTIONS_SHOWN]
    ids = [sub_id for sub_id, _name in listed]
    per_subscription = _sums(b.session, account, Listed(ids), months, True) if ids else {}
    totals = _sums(b.session, account, scope, months, False).get(None, [0] * len(months))
    more = 0
    if len(shown) > SUBSCRIPTIONS_SHOWN:
        more = (b.session.scalar(select(func.count()).select_from(Subscription).where(scope)) or 0) - len(listed)
    billed = set(billed_months(b.session, months))
    return Costs(account=account, months=months, billed=[m in billed for m in months],
                 rows=[SubscriptionCosts(sub_id, name, per_subscription.get(sub_id, [0] * len(months)))
                       for sub_id, name in listed],
                 more=more, totals=totals, alert=alert_of(b.session, account.id),
                 can_set_alert=bool(access.decide(b.session, user, account, Action.MANAGE_NOTIFICATIONS)),
                 subscription_alerts=_subscription_alerts(b, account, scope, months[-1]))


def _subscription_alerts(b: Billing, account: BillingAccount, scope, first: date) -> list:
    """(alert, subscription name, per cent reached this month) of each subscription alert
    in `scope`."""
    found = b.session.execute(select(SpendingAlert, Subscription.name).join(
        Subscription, Subscription.id == SpendingAlert.subscription_id).where(
        SpendingAlert.account_id == account.id, scope).order_by(Subscription.id)).all()
    if not found:
        return []
    spent = _sums(b.session, account, Listed([a.subscription_id for a, _name in found]), [first], True)
    return [(alert, name, spent.get(alert.subscription_id, [0])[0] * 100 // alert.amount_minor)
            for alert, name in found]


def export_rows(b: Billing, user: User, account_id: int) -> tuple[Costs, Iterator[tuple]]:
    """Every subscription's costs of the months shown, a line per subscription and month
    with a cost: (month, subscription id, name, minor units, billed)."""
    found = costs(b, user, account_id)
    scope = _scope(b.session, user, found.account)
    per_subscription = _sums(b.session, found.account, scope, found.months, True)
    names = dict(b.session.execute(select(Subscription.id, Subscription.name).where(
        Subscription.id.in_(list(per_subscription)))).all()) if per_subscription else {}

    def rows():
        for index, first in enumerate(found.months):
            for sub_id in sorted(per_subscription):
                minor = per_subscription[sub_id][index]
                if minor:
                    yield first, sub_id, names.get(sub_id, ""), minor, found.billed[index]
    return found, rows()


# --- spending alerts ------------------------------------------------------------------------

def alert_of(session: Session, account_id: int, subscription_id: int | None = None) -> SpendingAlert | None:
    """The account's alert (the whole account's costs), or one subscription's."""
    which = (SpendingAlert.subscription_id.is_(None) if subscription_id is None
             else SpendingAlert.subscription_id == subscription_id)
    return session.scalars(select(SpendingAlert).where(SpendingAlert.account_id == account_id, which)
                           .order_by(SpendingAlert.id)).first()


@notify.refusals_audited
def set_alert(b: Billing, user: User, account_id: int, amount: Money | None,
              subscription_id: int | None = None) -> SpendingAlert | None:
    """Set (or with None, remove) the monthly amount of the account's costs, or of one
    subscription's it shows the person. Those who change the billing settings may
    (MANAGE_NOTIFICATIONS). A new amount warns afresh this month."""
    with write_transaction(b.session):
        account = lock_account(b.session, account_id)
        if account is None:
            raise NotFound("billing account")
        access.require(b.session, user, account, Action.MANAGE_NOTIFICATIONS)
        if amount is not None and (amount.currency != account.currency or not 0 < amount.minor <= MAX_MINOR):
            raise InvalidAmount("a spending alert's amount must be positive, in the account's currency")
        named = {}
        if subscription_id is not None:
            name = b.session.scalar(select(Subscription.name).where(
                Subscription.id == subscription_id, _scope(b.session, user, account)))
            if name is None:
                raise NotFound("subscription")
            named = {"subscription_id": subscription_id, "subscription": name}
        alert = alert_of(b.session, account.id, subscription_id)
        if amount is None:
            if alert is not None:
                notify.audit(b.session, b.clock, "spending_alert.removed", account_id=account.id, actor=user,
                             amount_minor=alert.amount_minor, currency=alert.currency, **named)
                b.session.delete(alert)
            return None
        if alert is None:
            alert = SpendingAlert(account_id=account.id, subscription_id=subscription_id, currency=account.currency)
            b.session.add(alert)
        alert.amount_minor, alert.set_by_user_id, alert.set_at = amount.minor, user.id, b.clock.now()
        alert.warned_month, alert.warned_percent = None, 0
        notify.audit(b.session, b.clock, "spending_alert.set", account_id=account.id, actor=user,
                     amount_minor=amount.minor, currency=amount.currency, **named)
        return alert


def check_alerts(b: Billing, today: date) -> int:
    """The billing cycle's step: each alert whose costs this month (the account's, or its
    one subscription's) have reached a threshold not yet warned about this month emails
    the person who set it
    (and the account's billing address) and tells the account's people on Overview —
    the highest threshold reached only (a late run does not send 80 % and 100 % at
    once). Each account in its own transaction. Returns the warnings sent."""
    first = today.replace(day=1)
    sent = 0
    for alert_id, account_id in b.session.execute(select(SpendingAlert.id, SpendingAlert.account_id)
                                                  .order_by(SpendingAlert.id)).all():
        with write_transaction(b.session):
            account = lock_account(b.session, account_id)
            alert = b.session.get(SpendingAlert, alert_id)
            if account is None or alert is None or alert.amount_minor <= 0:
                continue
            one = alert.subscription_id
            scope = _scope(b.session, None, account) if one is None else Listed([one])
            spent = _sums(b.session, account, scope, [first], False).get(None, [0])[0]
            reached = [t for t in THRESHOLDS if spent * 100 >= t * alert.amount_minor]
            already = alert.warned_percent if alert.warned_month == first else 0
            if not reached or reached[-1] <= already:
                continue
            alert.warned_month, alert.warned_percent = first, reached[-1]
            _warn(b, account, alert, reached[-1], spent, first)
            sent += 1
    return sent


def _warn(b: Billing, account: BillingAccount, alert: SpendingAlert, percent: int, spent: int, first: date) -> None:
    payload = {"percent": percent, "spent_minor": spent, "amount_minor": alert.amount_minor,
               "currency": alert.currency, "month": first.isoformat()}
    if alert.subscription_id is not None:
        payload |= {"subscription_id": alert.subscription_id,
                    "subscription": b.session.get(Subscription, alert.subscription_id).name}
    setter = b.session.get(User, alert.set_by_user_id) if alert.set_by_user_id else None
    addresses = {account.notification_email.strip().lower(): account.notification_email}
    if setter is not None:
        addresses.setdefault(setter.email.strip().lower(), setter.email)
    for address in addresses.values():
        notify.queue_email(b.session, b.clock, account, "spending_alert", payload, to_address=address)
    notify.notify_users(b.session, b.clock, account, "spending_alert", payload)
    notify.audit(b.session, b.clock, "spending_alert.reached", account_id=account.id, **payload)
