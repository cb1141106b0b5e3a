"""Pay-as-you-go charges and the subscription lifecycle over time (M4):
active → past due (R01) → disabled (R12) → deleted 90 days later (R12), back to active
by settling until deleted (R13) — and the billing cycle that drives it all."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from portal.billing.accounts import charge_failures, costs, credit, notify, pauses, subscriptions
from portal.billing.cycle import retries
from portal.billing.accounts.balances import (IS_OUTSTANDING, link_payments, recount_outstanding, settled_method_ids,
                                              settlement_total)
from portal.billing.context import Billing
from portal.billing.accounts.details import details_for, reverse_charge
from portal.billing.invoicing.documents import price_for
from portal.billing.cycle.invoices import generate_invoices, mark_past_due_invoices
from portal.money import Money
from portal.billing.payments.methods import remind_expiring_cards
from portal.billing.payments import method_summary, record_payment
from portal.billing.usage import usage_total
from portal.billing.periods import billed_part, enabled_parts, previous_month, prorated
from portal.billing.transaction import Progress, each_under_its_account_lock, write_transaction
from portal.models import (AccountKind, AutogiroOrder, BilledPeriod, BillingAccount, BillingProfile, Charge, ChargeStatus,
                           DisabledSpan, DisableWarning, DrawStatus, MethodKind, PaymentPurpose, Subscription,
                           SubscriptionStatus)

BILLABLE = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)
STOPPED = (SubscriptionStatus.DISABLED, SubscriptionStatus.DELETED)  # for non-payment (a cancelled one ended)
NOT_RECEIVED = "not_received"  # a check/wire payment that did not arrive by its due date
# B16: a month billed while its subscription is disabled (for the days before it was):
# owed with the rest of its balance, never charged to a card, no "payment failed".
BILLED_WHILE_DISABLED = "billed_while_disabled"


def record_failed_charge(b: Billing, charge: Charge, reason: str) -> None:
    """R01 (accounts/charge_failures.py); a card's soft decline is tried again on B14's
    schedule, said in the message."""
    method = charge.subscription.payment_method

    def next_retry(sub: Subscription) -> dict:
        next_retry_on = retries.schedule(b, sub, reason, b.clock.today())  # B14: soft declines only
        return {"next_retry_on": next_retry_on.isoformat()} if next_retry_on is not None else {}

    charge_failures.charge_failed(b, charge, reason,
                                  next_retry if method is not None and method.kind == MethodKind.CARD else None)


def disabled_stretches(b: Billing, sub: Subscription, period_start: date) -> list[tuple[date, date | None]]:
    """B16: the stretches `sub` was disabled that reach into the month from
    `period_start` on, as (disabled_on, enabled_on): those settling ended (DisabledSpan)
    and the one it is in now (enabled_on None)."""
    stretches: list[tuple[date, date | None]] = [(off, on) for off, on in b.session.execute(
        select(DisabledSpan.disabled_on, DisabledSpan.enabled_on).where(
            DisabledSpan.subscription_id == sub.id, DisabledSpan.enabled_on > period_start))]
    if sub.status not in BILLABLE and sub.disabled_on is not None:  # disabled (or deleted) now
        stretches.append((sub.disabled_on, None))
    return stretches


def bill_subscription(b: Billing, sub: Subscription, period_start: date, period_end: date) -> Charge | None:
    """The month's charge, once (unique per subscription and month), charged to the
    subscription's card at once. The key is derived from the month, so a rerun after
    a crash never charges twice. A subscription pays for the days of the month from
    its start (one that started mid-month) on which it was not disabled (B16: up to
    the day before it was disabled, from the day it was re-enabled) nor paused (B21),
    pro rata by day (periods.prorated). One that is disabled now is not charged to its
    card: what it owes for its days waits with the rest of its balance, which settling
    pays (R13)."""
    exists = b.session.scalars(select(Charge.id).where(
        Charge.subscription_id == sub.id, Charge.period_start.between(period_start, period_end))).first()
    stopped = disabled_stretches(b, sub, period_start) + pauses.paused_stretches(b, sub, period_start)  # B21
    if sub.cancel_at is not None:  # issue 33: no day from the one it ends on
        stopped.append((sub.cancel_at, None))
    parts = enabled_parts(*billed_part(sub.started_on, period_start, period_end), stopped)
    if exists is not None or not parts:
        return None
    start, end = parts[0][0], parts[-1][1]
    amount = prorated(sub.monthly_fee_minor, start, end, days=sum((last - first).days + 1 for first, last in parts))
    amount += usage_total(b.session, sub.id, period_start, period_end)  # issue 32: what it used
    # Priced for the buyer as it is when billed: a VAT-registered business in another
    # EU country pays the price without Swedish VAT, as on an invoice (docs/vat.md).
    amount = price_for(Money(amount, sub.account.currency),
                       reverse_charge(details_for(b.session, sub.account_id, None))).minor
    if amount <= 0:
        return None
    charge = Charge(subscription_id=sub.id, amount_minor=amount, currency=sub.account.currency,
                    period_start=start, period_end=end, status=ChargeStatus.OUTSTANDING)
    b.session.add(charge)
    b.session.flush()
    method = sub.payment_method
    if sub.status in STOPPED:  # its services have stopped, its balance is past due
        charge.failed_on, charge.failure_code = b.clock.today(), BILLED_WHILE_DISABLED
    elif credit.apply_to_charge(b, charge, sub.account_id):  # B15: the account's credit pays it whole
        pass
    # Not a card: paid by invoice (R03), outstanding until the transfer arrives.
    elif method is not None and method.kind == MethodKind.CARD:
        _charge_card(b, sub, method, charge)
    recount_outstanding(b.session, Subscription.id == sub.id)
    return charge


def _charge_card(b: Billing, sub: Subscription, method, charge: Charge) -> None:
    key = f"auto-charge-{sub.id}-{charge.period_start:%Y%m}"
    result = b.gateway.charge(method.gateway_token, charge.amount, key, off_session=True)  # B13
    if result.approved:
        payment = record_payment(b, sub.account, None, method, charge.amount, result.reference,
                                 key, PaymentPurpose.AUTO_CHARGE)
        charge.status = ChargeStatus.PAID
        charge.payment_id = payment.id
        link_payments(b.session, Charge.id == charge.id)
        notify.audit(b.session, b.clock, "payment.succeeded", account_id=sub.account_id,
                     purpose="auto_charge", payment_id=payment.id, method=method_summary(method),
                     amount_minor=charge.amount_minor, currency=charge.currency)
    else:
        record_failed_charge(b, charge, str(result.decline_code))


def billable_subscription_ids(b: Billing, period_start: date, period_end: date) -> list[int]:
    """The pay-as-you-go subscriptions that may owe for the month: those not disabled,
    and (B16) those disabled since a day after its first (disabled_on is set only while
    disabled or deleted)."""
    return list(b.session.scalars(
        select(Subscription.id).join(Subscription.account)
        .where(BillingAccount.kind == AccountKind.PAY_AS_YOU_GO, Subscription.started_on <= period_end,
               or_(Subscription.status.in_(BILLABLE), Subscription.disabled_on > period_start,
                   Subscription.cancel_at > period_start,  # issue 33: ended after the month began
                   Subscription.paused_on > period_start))  # B21: paused after the month began
        .order_by(Subscription.id)))


def bill_subscriptions(b: Billing, period_start: date, period_end: date,
                       progress: Progress | None = None) -> int:
    """Each subscription in its own transaction, so one failure does not undo the rest."""
    return each_under_its_account_lock(
        b.session, Subscription, billable_subscription_ids(b, period_start, period_end),
        lambda sub: bill_subscription(b, sub, period_start, period_end), progress)


def mark_unreceived_transfers(b: Billing, today: date) -> int:
    """R01 "not received": a check/wire charge with no payment by its due date (due
    `invoice_due_days` after the period is billed; past due from the day after, M7).
    A charge Autogiro is to draw (an order of it waiting or sent, B23) waits for the
    bank's answer: the money may be on its way, and the answer decides."""
    with write_transaction(b.session):
        # is_past_due(due_date(billing_day(period_end)), today), solved for period_end
        # so the database can use it: the latest period end whose charge is past due.
        last_end = today - timedelta(days=b.policy.invoice_due_days + 2)
        drawing = select(AutogiroOrder.id).where(AutogiroOrder.charge_id == Charge.id,
                                                 AutogiroOrder.status.in_((DrawStatus.WAITING, DrawStatus.SENT))).exists()
        late = b.session.scalars(
            select(Charge).join(Charge.subscription)  # those that owe, by ix_subscriptions_owing
            .where(Subscription.outstanding_charges > 0, IS_OUTSTANDING, Charge.failed_on.is_(None),
                   Charge.period_end <= last_end, ~drawing)).all()
        for charge in late:
            record_failed_charge(b, charge, NOT_RECEIVED)
        return len(late)


def warn_before_disabling(b: Billing, today: date) -> int:
    """R12: "will be disabled on …" by email and notice, `policy.disable_warning_days`
    (e.g. 7 and 1) days before a past-due subscription's disable date. Once per
    subscription, disable date and warning (a unique row), so reruns of a date warn
    no one twice; a late run sends only the most urgent warning it has reached, and
    none that the payment-failed message (which gives the date) already covered."""
    if not any(days > 0 for days in b.policy.disable_warning_days):
        return 0
    with write_transaction(b.session):
        warned = 0
        owed_on: dict[int, Money] = {}  # R04: the whole balance on the card, as Settle balance shows it
        past_due = b.session.scalars(select(Subscription).where(
            Subscription.status == SubscriptionStatus.PAST_DUE,
            Subscription.past_due_since.is_not(None)).order_by(Subscription.id)).all()
        for sub in past_due:
            disable_on = b.policy.disable_date(sub.past_due_since)
            reached = [(days, day) for days, day in b.policy.warning_dates(disable_on) if day <= today]
            if today >= disable_on or not reached:
                continue
            days_before, warn_on = reached[-1]  # the most urgent one reached
            if warn_on <= sub.past_due_since:
                continue
            given = b.session.scalars(select(DisableWarning.id).where(
                DisableWarning.subscription_id == sub.id, DisableWarning.disable_on == disable_on,
                DisableWarning.days_before == days_before)).first()
            if given is not None:
                continue
            b.session.add(DisableWarning(subscription_id=sub.id, disable_on=disable_on,
                                         days_before=days_before, warned_on=today))
            if sub.payment_method_id is not None and sub.payment_method_id not in owed_on:
                owed_on[sub.payment_method_id] = settlement_total(  # once per card
                    b.session, settled_method_ids(sub, None), sub.account.currency)
            owed = owed_on.get(sub.payment_method_id)
            payload = {"subscription_id": sub.id, "subscription": sub.name,
                       "disable_on": disable_on.isoformat(), "days_before": days_before}
            if owed is not None:
                payload.update(amount_minor=owed.minor, currency=owed.currency)
            notify.queue_email(b.session, b.clock, sub.account, "subscription_disable_warning", payload)
            notify.notify_users(b.session, b.clock, sub.account, "subscription_disable_warning", payload)
            notify.audit(b.session, b.clock, "subscription.disable_warning", account_id=sub.account_id,
                         **payload)
            warned += 1
        return warned


def advance_lifecycle(b: Billing, today: date) -> tuple[int, int]:
    """R12: past due beyond the grace period → disabled; disabled for 90 days →
    deleted. Dates are the scheduled ones, not the run's, so running late or twice
    gives the same result."""
    with write_transaction(b.session):
        disabled = 0
        for sub in b.session.scalars(select(Subscription).where(
                Subscription.status == SubscriptionStatus.PAST_DUE)):
            disable_on = b.policy.disable_date(sub.past_due_since)
            if disable_on <= today:
                sub.status = SubscriptionStatus.DISABLED
                sub.disabled_on = disable_on
                disabled += 1
                payload = {"subscription_id": sub.id, "subscription": sub.name,
                           "delete_on": b.policy.deletion_date(disable_on).isoformat()}
                notify.queue_email(b.session, b.clock, sub.account, "subscription_disabled", payload)
                notify.notify_users(b.session, b.clock, sub.account, "subscription_disabled", payload)
                notify.audit(b.session, b.clock, "subscription.disabled", account_id=sub.account_id, **payload)
        deleted = 0
        for sub in b.session.scalars(select(Subscription).where(
                Subscription.status == SubscriptionStatus.DISABLED)):
            delete_on = b.policy.deletion_date(sub.disabled_on)
            if delete_on <= today:
                sub.status = SubscriptionStatus.DELETED
                sub.deleted_on = delete_on
                deleted += 1
                notify.audit(b.session, b.clock, "subscription.deleted", account_id=sub.account_id,
                             subscription_id=sub.id, subscription=sub.name)
        return disabled, deleted


@dataclass
class CycleSummary:
    day: date
    charges_created: int = 0
    invoices_created: int = 0
    transfers_not_received: int = 0
    invoices_past_due: int = 0
    disable_warnings: int = 0
    subscriptions_disabled: int = 0
    subscriptions_deleted: int = 0
    subscriptions_cancelled: int = 0
    cards_reminded: int = 0
    charges_retried: int = 0   # B14
    retries_paid: int = 0
    spending_alerts: int = 0   # issue 33 item 2


def periods_to_bill(b: Billing, today: date) -> list[tuple[date, date]]:
    """M7: the calendar months that ended since the last month billed in full, oldest
    first: the month before `today`'s on a run that comes on time, every month missed
    on a run that comes late, none on a second run. A portal that has never billed
    starts with the month before `today`'s."""
    last = b.session.scalar(select(func.max(BilledPeriod.period_start)))
    periods = [previous_month(today)]
    while last is not None and periods[0][0] > last:
        start, _end = periods[0]
        periods.insert(0, previous_month(start))
    return [period for period in periods if last is None or period[0] > last]


def _record_billed(b: Billing, period: tuple[date, date], today: date) -> None:
    """The month is billed — once, even when two cycles run at once (machines, a cron
    job and a person): the second finds it recorded, or loses the insert to the first."""
    try:
        with write_transaction(b.session):
            if b.session.get(BilledPeriod, period[0]) is None:
                b.session.add(BilledPeriod(period_start=period[0], period_end=period[1], billed_on=today))
    except IntegrityError:  # another cycle recorded it a moment ago: it is billed
        b.session.rollback()
        if b.session.get(BilledPeriod, period[0]) is None:
            raise


def cycle_size(b: Billing) -> int:
    """How many subscriptions and billing profiles the cycle works through on the
    clock's date (for a progress bar)."""
    periods = periods_to_bill(b, b.clock.today())
    profiles = b.session.scalar(select(func.count()).select_from(BillingProfile)) or 0
    return sum(len(billable_subscription_ids(b, start, end)) + profiles for start, end in periods)


def run_billing_cycle(b: Billing, progress: Progress | None = None) -> CycleSummary:
    """Everything the billing day does, for the clock's date. Idempotent per date:
    what exists is not made again and the gateway is asked with derived keys. Each
    month is recorded once billed in full; a run that crashed half-way bills the rest
    of it next time (the per-subscription and per-profile checks skip what is done).
    The months are billed after the lifecycle has caught up (B16): on a run that comes
    late, a subscription disabled on a day of the month it missed is charged only for
    the days before, as on a run that comes on time."""
    today = b.clock.today()
    summary = CycleSummary(day=today)
    summary.transfers_not_received = mark_unreceived_transfers(b, today)
    summary.invoices_past_due = mark_past_due_invoices(b, today)
    summary.charges_retried, summary.retries_paid = retries.retry_due(b, today)  # B14, before disabling
    summary.disable_warnings = warn_before_disabling(b, today)
    summary.subscriptions_disabled, summary.subscriptions_deleted = advance_lifecycle(b, today)
    summary.subscriptions_cancelled = subscriptions.end_cancelled(b, today)  # issue 33
    for period_start, period_end in periods_to_bill(b, today):
        summary.charges_created += bill_subscriptions(b, period_start, period_end, progress)
        summary.invoices_created += generate_invoices(b, period_start, period_end, progress)
        _record_billed(b, (period_start, period_end), today)
    summary.cards_reminded = remind_expiring_cards(b, today)
    summary.spending_alerts = costs.check_alerts(b, today)  # after billing: a billed month counts its bills
    return summary
