"""Failed charges and the subscription lifecycle over time: R01, R12, R13, M4, B16 (no
charge for the days a subscription is disabled), and the billing cycle's idempotency
per date."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from portal.billing import payments
from portal.billing.accounts import overview
from portal.billing.cycle import lifecycle
from portal.billing.payments import UseSavedCard
from portal.billing.periods import enabled_parts, prorated
from portal.models import (AccountKind, AuditEvent, Charge, ChargeStatus, DisabledSpan, Invoice, InvoiceStatus,
                           Notice, OutboxMessage, Payment, Role, SubscriptionStatus)
from tests import factories as f


@pytest.fixture
def payg(b):
    acc = f.account(b)
    failing = f.card(b, acc, f.INSUFFICIENT_FUNDS)
    good = f.card(b, acc, f.APPROVE)
    risky = f.subscription(b, acc, failing, fee=300_00)
    fine = f.subscription(b, acc, good, fee=200_00)
    admin = f.user(b, Role.ACCOUNT_ADMIN, acc)
    f.commit(b)
    return type("Payg", (), dict(acc=acc, failing=failing, good=good, risky=risky, fine=fine, admin=admin))


def cycle(b, clock, day):
    clock.current = day
    return lifecycle.run_billing_cycle(b)


def counts(b):
    return {m.__tablename__: b.session.scalar(select(func.count()).select_from(m))
            for m in (Charge, Invoice, Payment, OutboxMessage, Notice, AuditEvent)}


def test_r01_failed_charge_makes_the_subscription_past_due_and_tells_the_admin(b, payg, clock):
    summary = cycle(b, clock, date(2026, 12, 1))
    assert summary.charges_created == 2
    b.session.expire_all()
    assert payg.risky.status == SubscriptionStatus.PAST_DUE
    assert payg.risky.past_due_since == date(2026, 12, 1)
    assert payg.fine.status == SubscriptionStatus.ACTIVE
    [failed] = [c for c in payg.risky.charges]
    assert (failed.status, failed.failure_code) == (ChargeStatus.OUTSTANDING, "insufficient_funds")
    mail = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "payment_failed")).one()
    assert mail.to_address == payg.acc.notification_email
    assert mail.payload["disable_on"] == "2026-12-31"
    notice = b.session.scalars(select(Notice)).one()
    assert (notice.user_id, notice.kind) == (payg.admin.id, "payment_failed")


def test_r01_transfer_not_received_by_its_due_date_makes_it_past_due(b, clock):
    acc = f.account(b)
    by_invoice = f.subscription(b, acc, f.wire(b, acc), fee=100_00)
    f.commit(b)
    cycle(b, clock, date(2026, 12, 1))
    b.session.refresh(by_invoice)
    assert by_invoice.status == SubscriptionStatus.ACTIVE  # not due yet
    cycle(b, clock, date(2027, 1, 1))
    b.session.refresh(by_invoice)
    assert by_invoice.status == SubscriptionStatus.PAST_DUE
    assert by_invoice.charges[0].failure_code == lifecycle.NOT_RECEIVED


def test_r12_disabled_after_the_grace_period_and_deleted_90_days_later(b, payg, clock):
    cycle(b, clock, date(2026, 12, 1))
    [view] = [v for v in overview.subscription_page(b, payg.acc) if v.subscription.id == payg.risky.id]
    assert view.disable_on == date(2026, 12, 31) and view.can_settle
    cycle(b, clock, date(2026, 12, 30))
    b.session.refresh(payg.risky)
    assert payg.risky.status == SubscriptionStatus.PAST_DUE
    cycle(b, clock, date(2026, 12, 31))
    b.session.refresh(payg.risky)
    assert (payg.risky.status, payg.risky.disabled_on) == (SubscriptionStatus.DISABLED, date(2026, 12, 31))
    [view] = [v for v in overview.subscription_page(b, payg.acc) if v.subscription.id == payg.risky.id]
    assert view.delete_on == date(2027, 3, 31) and view.can_settle  # B1: still settleable
    cycle(b, clock, date(2027, 3, 30))
    b.session.refresh(payg.risky)
    assert payg.risky.status == SubscriptionStatus.DISABLED
    cycle(b, clock, date(2027, 3, 31))
    b.session.refresh(payg.risky)
    assert (payg.risky.status, payg.risky.deleted_on) == (SubscriptionStatus.DELETED, date(2027, 3, 31))


def test_r12_grace_period_is_configurable(b, payg, clock):
    from dataclasses import replace
    b.policy = replace(b.policy, grace_period_days=7)
    cycle(b, clock, date(2026, 12, 1))
    cycle(b, clock, date(2026, 12, 8))
    b.session.refresh(payg.risky)
    assert payg.risky.status == SubscriptionStatus.DISABLED


def test_r12_a_late_run_uses_the_scheduled_dates(b, payg, clock):
    cycle(b, clock, date(2026, 12, 1))
    cycle(b, clock, date(2027, 6, 1))  # nobody ran the cycle for months
    b.session.refresh(payg.risky)
    assert payg.risky.disabled_on == date(2026, 12, 31)
    assert payg.risky.deleted_on == date(2027, 3, 31)


def test_m4_settling_returns_to_active_until_deleted(b, payg, clock):
    cycle(b, clock, date(2026, 12, 1))
    cycle(b, clock, date(2027, 1, 5))
    b.session.expire_all()
    assert payg.risky.status == SubscriptionStatus.DISABLED
    quote = payments.quote_settlement(b, payg.admin, payg.risky.id)
    payments.settle_balance(b, payg.admin, payg.risky.id, UseSavedCard(payg.good.id),
                            quote.total.minor, "settle-key-01")
    b.session.expire_all()
    assert payg.risky.status == SubscriptionStatus.ACTIVE
    assert payg.risky.payment_method_id == payg.good.id


def test_billing_cycle_twice_for_a_date_changes_nothing_the_second_time(b, payg, clock):
    agreement = f.account(b, AccountKind.CUSTOMER_AGREEMENT)
    profile = f.profile(b, agreement, default=f.card(b, agreement, f.APPROVE))
    f.subscription(b, agreement, None, profile=profile, fee=1_000_00)
    f.commit(b)
    first = cycle(b, clock, date(2026, 12, 1))
    assert (first.charges_created, first.invoices_created) == (2, 1)
    after_first = counts(b)
    ledger = len(b.gateway.charges_for())
    second = cycle(b, clock, date(2026, 12, 1))
    assert (second.charges_created, second.invoices_created, second.subscriptions_disabled) == (0, 0, 0)
    assert counts(b) == after_first
    assert len(b.gateway.charges_for()) == ledger


def test_invoice_past_due_after_its_due_date(b, clock):
    agreement = f.account(b, AccountKind.CUSTOMER_AGREEMENT)
    profile = f.profile(b, agreement, default=f.wire(b, agreement), check_wire_approved=True)
    f.subscription(b, agreement, None, profile=profile, fee=1_000_00)
    f.commit(b)
    cycle(b, clock, date(2026, 12, 1))
    invoice = b.session.scalars(select(Invoice)).one()
    assert invoice.due_on == date(2026, 12, 31) and invoice.status == InvoiceStatus.DUE
    cycle(b, clock, date(2026, 12, 31))
    b.session.refresh(invoice)
    assert invoice.status == InvoiceStatus.DUE
    cycle(b, clock, date(2027, 1, 1))
    b.session.refresh(invoice)
    assert invoice.status == InvoiceStatus.PAST_DUE


def test_crash_between_gateway_and_commit_does_not_charge_twice(b, payg, clock, monkeypatch):
    """The automatic charge's key comes from the period: the rerun asks the gateway
    again under the same key and gets the first answer back."""
    calls = {"n": 0}
    real = lifecycle.record_payment

    def crash_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("power cut")
        return real(*args, **kwargs)
    monkeypatch.setattr(lifecycle, "record_payment", crash_once)
    clock.current = date(2026, 12, 1)
    with pytest.raises(RuntimeError):
        lifecycle.run_billing_cycle(b)
    lifecycle.run_billing_cycle(b)
    b.session.expire_all()
    assert [c.status for c in payg.fine.charges] == [ChargeStatus.PAID]
    approved = [e for e in b.gateway.charges_for() if e.approved]
    assert len(approved) == 1


# --- R12: "will be disabled on …" warnings -------------------------------------------------

def warnings_sent(b):
    return [(m.created_at.date(), m.payload["days_before"]) for m in b.session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == "subscription_disable_warning")
        .order_by(OutboxMessage.id))]


def test_r12_warned_7_and_1_days_before_the_disable_date_once_however_often_the_cycle_runs(b, payg, clock):
    cycle(b, clock, date(2026, 12, 1))  # the charge fails: disabled on 31 December
    for day in range(2, 32):
        cycle(b, clock, date(2026, 12, day))
        cycle(b, clock, date(2026, 12, day))  # a second cron run the same day
    assert warnings_sent(b) == [(date(2026, 12, 24), 7), (date(2026, 12, 30), 1)]
    notices = b.session.scalars(select(Notice).where(Notice.kind == "subscription_disable_warning")).all()
    assert [n.user_id for n in notices] == [payg.admin.id] * 2
    mail = b.session.scalars(select(OutboxMessage).where(
        OutboxMessage.template == "subscription_disable_warning")).first()
    assert mail.payload == {"subscription_id": payg.risky.id, "subscription": payg.risky.name,
                            "disable_on": "2026-12-31", "days_before": 7, "amount_minor": 300_00,
                            "currency": "SEK", "account_id": payg.acc.id}


def test_r12_a_late_run_sends_only_the_most_urgent_warning(b, payg, clock):
    cycle(b, clock, date(2026, 12, 1))
    cycle(b, clock, date(2026, 12, 30))  # nobody ran the cycle for four weeks
    cycle(b, clock, date(2026, 12, 30))
    assert warnings_sent(b) == [(date(2026, 12, 30), 1)]


def test_r12_no_warning_once_the_balance_is_settled(b, payg, clock):
    cycle(b, clock, date(2026, 12, 1))
    quote = payments.quote_settlement(b, payg.admin, payg.risky.id, payg.good.id)
    payments.settle_balance(b, payg.admin, payg.risky.id, UseSavedCard(payg.good.id),
                            quote.total.minor, "settle-before-warning")
    for day in (24, 30, 31):
        cycle(b, clock, date(2026, 12, day))
    assert warnings_sent(b) == []


def test_r12_warning_days_are_configurable(b, payg, clock):
    from dataclasses import replace
    b.policy = replace(b.policy, disable_warning_days=(3,))
    cycle(b, clock, date(2026, 12, 1))
    for day in (24, 27, 28, 30):
        cycle(b, clock, date(2026, 12, day))
    assert warnings_sent(b) == [(date(2026, 12, 28), 3)]


# --- B16: a disabled subscription is not charged for the days it is disabled ------------

def december_charge(b, sub):
    b.session.expire_all()
    return b.session.scalars(select(Charge).where(
        Charge.subscription_id == sub.id, Charge.period_start.between(date(2026, 12, 1), date(2026, 12, 31)))).first()


@pytest.fixture
def nordic(b):
    """A subscription of 310 kr a month (10 kr a day in December) whose card fails,
    past due since 24 November: disabled on 24 December (30 days' grace)."""
    acc = f.account(b)
    failing, good = f.card(b, acc, f.INSUFFICIENT_FUNDS), f.card(b, acc, f.APPROVE)
    sub = f.past_due(b, acc, failing, charges=(310_00,), past_due_since=date(2026, 11, 24), fee=310_00)
    admin = f.user(b, Role.ACCOUNT_ADMIN, acc)
    f.commit(b)
    return type("Nordic", (), dict(acc=acc, failing=failing, good=good, sub=sub, admin=admin))


def settle_on(b, clock, day, admin, sub, card, key):
    clock.current = day
    quote = payments.quote_settlement(b, admin, sub.id, card.id)
    payments.settle_balance(b, admin, sub.id, UseSavedCard(card.id), quote.total.minor, key)


def test_b16_a_subscription_disabled_on_24_december_is_charged_only_to_the_23rd(b, nordic, clock):
    cycle(b, clock, date(2026, 12, 1))
    cycle(b, clock, date(2026, 12, 24))
    b.session.expire_all()
    assert (nordic.sub.status, nordic.sub.disabled_on) == (SubscriptionStatus.DISABLED, date(2026, 12, 24))
    owed_before = nordic.sub.outstanding_minor
    mails_before = counts(b)["outbox"]
    ledger = len(b.gateway.charges_for())
    summary = cycle(b, clock, date(2027, 1, 1))
    charge = december_charge(b, nordic.sub)
    assert (charge.period_start, charge.period_end, charge.amount_minor) == (date(2026, 12, 1), date(2026, 12, 23),
                                                                             230_00)
    assert summary.charges_created == 1 and charge.status == ChargeStatus.OUTSTANDING
    assert nordic.sub.outstanding_minor == owed_before + 230_00
    # Its services have stopped: no card is tried and no "payment failed" is sent; the
    # 230 kr wait with the rest of the balance, for Settle balance (R13).
    assert len(b.gateway.charges_for()) == ledger and counts(b)["outbox"] == mails_before
    assert charge.failed_on == date(2027, 1, 1) and nordic.sub.status == SubscriptionStatus.DISABLED


def test_b16_a_late_run_charges_a_subscription_disabled_on_24_december_only_to_the_23rd(b, nordic, clock):
    """Issue 27's finding: nobody ran the cycle between 1 December and 1 January. It
    disables the subscription from its scheduled day first, then bills December."""
    cycle(b, clock, date(2026, 12, 1))
    b.session.expire_all()
    owed_before = nordic.sub.outstanding_minor
    summary = cycle(b, clock, date(2027, 1, 1))
    assert summary.subscriptions_disabled == 1
    charge = december_charge(b, nordic.sub)
    assert (charge.period_end, charge.amount_minor) == (date(2026, 12, 23), 230_00)
    assert nordic.sub.disabled_on == date(2026, 12, 24)
    assert nordic.sub.outstanding_minor == owed_before + 230_00  # not a whole month's 310 kr


def test_b16_disabled_the_whole_month_is_not_charged(b, clock):
    acc = f.account(b)
    off = f.subscription(b, acc, f.card(b, acc, f.APPROVE), SubscriptionStatus.DISABLED, fee=300_00,
                         past_due_since=date(2026, 10, 21), disabled_on=date(2026, 11, 20))
    f.commit(b)
    cycle(b, clock, date(2026, 12, 1))  # November: the 1st to the 19th, 19 of 30 days
    b.session.expire_all()
    [november] = off.charges
    assert (november.period_start, november.period_end, november.amount_minor) == (
        date(2026, 11, 1), date(2026, 11, 19), 190_00)
    assert b.gateway.charges_for() == []  # disabled: its card is not charged
    summary = cycle(b, clock, date(2027, 1, 1))
    assert summary.charges_created == 0 and december_charge(b, off) is None
    cycle(b, clock, date(2027, 2, 1))
    b.session.expire_all()
    assert len(off.charges) == 1


def test_b16_reenabled_on_the_10th_is_charged_from_the_10th(b, clock):
    acc = f.account(b)
    good = f.card(b, acc, f.APPROVE)
    sub = f.subscription(b, acc, f.card(b, acc, f.INSUFFICIENT_FUNDS), SubscriptionStatus.DISABLED, fee=310_00,
                         past_due_since=date(2026, 10, 21), disabled_on=date(2026, 11, 20))
    f.charge(b, sub, 310_00)
    admin = f.user(b, Role.ACCOUNT_ADMIN, acc)
    f.commit(b)
    settle_on(b, clock, date(2026, 12, 10), admin, sub, good, "settle-on-the-10th")
    b.session.expire_all()
    assert sub.status == SubscriptionStatus.ACTIVE and sub.disabled_on is None
    assert [(s.disabled_on, s.enabled_on) for s in b.session.scalars(select(DisabledSpan))] == [
        (date(2026, 11, 20), date(2026, 12, 10))]
    cycle(b, clock, date(2027, 1, 1))
    charge = december_charge(b, sub)
    assert (charge.period_start, charge.period_end, charge.amount_minor) == (date(2026, 12, 10), date(2026, 12, 31),
                                                                             220_00)
    assert charge.status == ChargeStatus.PAID  # active again: charged to its card as usual
    cycle(b, clock, date(2027, 2, 1))  # January: a whole month again
    b.session.expire_all()
    assert [c.amount_minor for c in sub.charges if c.period_start.year == 2027] == [310_00]


def test_b16_two_spans_in_one_month(b, nordic, clock):
    """Disabled from 4 December, re-enabled on the 10th, past due again on the 15th and
    disabled on the 18th: December is charged for the 1st–3rd and 10th–17th, 11 days."""
    from dataclasses import replace
    b.policy = replace(b.policy, grace_period_days=3)
    sub = nordic.sub
    sub.past_due_since = date(2026, 12, 1)
    f.commit(b)
    cycle(b, clock, date(2026, 12, 4))
    b.session.expire_all()
    assert sub.disabled_on == date(2026, 12, 4)
    settle_on(b, clock, date(2026, 12, 10), nordic.admin, sub, nordic.good, "settle-the-first-stretch")
    clock.current = date(2026, 12, 15)  # a payment fails again, and the card cannot be retried
    again = f.charge(b, sub, 50_00, months_ago=3)
    lifecycle.record_failed_charge(b, again, "generic_decline")
    f.commit(b)
    cycle(b, clock, date(2026, 12, 18))
    b.session.expire_all()
    assert (sub.status, sub.disabled_on) == (SubscriptionStatus.DISABLED, date(2026, 12, 18))
    cycle(b, clock, date(2027, 1, 1))
    charge = december_charge(b, sub)
    assert (charge.period_start, charge.period_end, charge.amount_minor) == (date(2026, 12, 1), date(2026, 12, 17),
                                                                             110_00)
    assert [(s.disabled_on, s.enabled_on) for s in b.session.scalars(select(DisabledSpan))] == [
        (date(2026, 12, 4), date(2026, 12, 10))]


@pytest.mark.parametrize("stretches, parts", [
    ([], [(1, 31)]),
    ([(date(2026, 11, 20), None)], []),                                   # disabled before the month, still
    ([(date(2026, 11, 20), date(2026, 12, 1))], [(1, 31)]),               # re-enabled on the 1st: no day off
    ([(date(2026, 12, 31), None)], [(1, 30)]),
    ([(date(2026, 12, 1), date(2026, 12, 2))], [(2, 31)]),                # one day off
    ([(date(2026, 12, 5), date(2026, 12, 5))], [(1, 31)]),                # re-enabled the day it was disabled
    ([(date(2026, 12, 4), date(2026, 12, 10)), (date(2026, 12, 18), None)], [(1, 3), (10, 17)]),
    ([(date(2027, 1, 3), None)], [(1, 31)]),                              # disabled after the month
])
def test_b16_the_days_of_a_month_a_subscription_was_not_disabled(stretches, parts):
    got = enabled_parts(date(2026, 12, 1), date(2026, 12, 31), stretches)
    assert [(first.day, last.day) for first, last in got] == parts
    assert prorated(310_00, date(2026, 12, 1), date(2026, 12, 31),
                    days=sum((last - first).days + 1 for first, last in got)) == 10_00 * sum(
        last - first + 1 for first, last in parts)


def test_m7_two_billing_cycles_at_once_record_the_month_once(b, monkeypatch):
    """Found by the race matrix: a second cycle that looked before the first recorded the
    month loses the insert — it is billed, not an error that stops the second cycle."""
    from sqlalchemy.orm import Session
    from portal.models import BilledPeriod
    november = (date(2026, 11, 1), date(2026, 11, 30))
    with Session(b.session.get_bind()) as first_cycle:
        first_cycle.add(BilledPeriod(period_start=november[0], period_end=november[1], billed_on=date(2026, 12, 1)))
        first_cycle.commit()
    looked = []
    real_get = b.session.get

    def looked_before_the_first_cycle_recorded(model, key, **kwargs):
        if model is BilledPeriod and not looked:
            looked.append(key)
            return None
        return real_get(model, key, **kwargs)
    monkeypatch.setattr(b.session, "get", looked_before_the_first_cycle_recorded)
    lifecycle._record_billed(b, november, date(2026, 12, 1))
    assert looked == [november[0]]
    assert b.session.scalar(select(func.count()).select_from(BilledPeriod)) == 1
