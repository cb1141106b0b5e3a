"""B21 (issue 33 item 1): pause and resume a subscription where the provider allows it
(SUBSCRIPTION_PAUSE) — not billed for its paused days, on both account kinds, billed
again from the day it resumes (pro rata by day, as B16), what was owed before staying
owed, audited and emailed, refused with the reason (docs/subscriptions.md)."""
from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from sqlalchemy import select

from portal.billing.accounts import overview, pauses, subscriptions
from portal.billing.provider import catalog
from portal.errors import NotAuthorized, Refused
from portal.models import (AuditEvent, Invoice, InvoiceLine, OutboxMessage, PausedSpan, Role, Subscription,
                           SubscriptionStatus)
from tests import factories as f
from tests.billing import test_i33_subscriptions as i33
from tests.billing.test_i33_subscriptions import actions, charges_of, cycle

payg, agreement = i33.payg, i33.agreement  # the cancellation tests' accounts, as fixtures here


@pytest.fixture
def allowed(b):
    b.policy = dataclasses.replace(b.policy, customer_may_pause=True)
    return b


def fresh(b, sub) -> Subscription:
    b.session.expire_all()
    return b.session.get(Subscription, sub.id)


def test_b21_a_paused_subscription_is_not_billed_for_its_paused_days_and_is_billed_from_the_day_it_resumes(
        allowed, payg, clock):
    b = allowed
    pauses.pause(b, payg.admin, payg.acc.id, payg.sub.id)  # 25 November
    sub = fresh(b, payg.sub)
    assert sub.status == SubscriptionStatus.PAUSED and sub.paused_on == date(2026, 11, 25)
    event = b.session.scalars(select(AuditEvent).where(AuditEvent.action == "subscription.paused")).one()
    assert event.actor_user_id == payg.admin.id and event.details["paused_on"] == "2026-11-25"
    mail = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "subscription_paused")).one()
    assert mail.to_address == payg.acc.notification_email

    cycle(b, clock, date(2026, 12, 1))
    assert charges_of(b, sub) == [(date(2026, 11, 1), date(2026, 11, 24), 240_00)]  # 24 of 30 days: still owed
    assert fresh(b, payg.sub).outstanding_minor == 0  # charged to its card as any month
    clock.current = date(2026, 12, 10)
    pauses.resume(b, payg.admin, payg.acc.id, payg.sub.id)
    sub = fresh(b, payg.sub)
    assert sub.status == SubscriptionStatus.ACTIVE and sub.paused_on is None
    assert [(s.paused_on, s.resumed_on) for s in b.session.scalars(select(PausedSpan))] == [
        (date(2026, 11, 25), date(2026, 12, 10))]
    assert "subscription.resumed" in actions(b)
    assert b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "subscription_resumed")).one()
    cycle(b, clock, date(2027, 1, 1))
    cycle(b, clock, date(2027, 2, 1))
    assert charges_of(b, sub)[1:] == [(date(2026, 12, 10), date(2026, 12, 31), 212_90),  # 22 of 31 days
                                      (date(2027, 1, 1), date(2027, 1, 31), 300_00)]


def test_b21_a_month_paused_throughout_has_no_charge_and_the_status_is_counted_as_paused(allowed, payg, clock):
    b = allowed
    clock.current = date(2026, 11, 1)
    pauses.pause(b, payg.admin, payg.acc.id, payg.sub.id)
    for day in (date(2026, 12, 1), date(2027, 1, 1)):
        cycle(b, clock, day)
    sub = fresh(b, payg.sub)
    assert charges_of(b, sub) == [] and sub.status == SubscriptionStatus.PAUSED  # no R12 step touched it
    counts = overview.status_counts(b, sub.account)  # the kept figures (issue 28) count it as paused
    assert counts[SubscriptionStatus.PAUSED].count == 1 and SubscriptionStatus.ACTIVE not in counts


def test_b21_a_customer_agreement_invoice_leaves_out_the_paused_days(allowed, agreement, clock):
    b = allowed
    pauses.pause(b, agreement.people[Role.CONTRIBUTOR], agreement.acc.id, agreement.sub.id)  # 25 November
    cycle(b, clock, date(2026, 12, 1))
    cycle(b, clock, date(2027, 1, 1))
    clock.current = date(2027, 1, 17)
    pauses.resume(b, agreement.people[Role.OWNER], agreement.acc.id, agreement.sub.id)
    cycle(b, clock, date(2027, 2, 1))
    lines = {(i.period_start, line.subscription_id): line.amount_minor for i in b.session.scalars(select(Invoice))
             for line in b.session.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id == i.id))}
    assert lines == {(date(2026, 11, 1), agreement.sub.id): 496_00,  # 24 of 30 days
                     (date(2026, 11, 1), agreement.kept.id): 100_00,
                     (date(2026, 12, 1), agreement.kept.id): 100_00,  # paused all December: no line
                     (date(2027, 1, 1), agreement.sub.id): 300_00,  # from the 17th: 15 of 31 days
                     (date(2027, 1, 1), agreement.kept.id): 100_00}


def test_b21_a_failed_charge_for_the_days_before_the_pause_makes_it_past_due_and_ends_the_pause(b, clock):
    b.policy = dataclasses.replace(b.policy, customer_may_pause=True)
    acc = f.account(b)
    sub = f.subscription(b, acc, f.card(b, acc, f.INSUFFICIENT_FUNDS), fee=300_00)
    admin = f.user(b, Role.ACCOUNT_ADMIN, acc)
    f.commit(b)
    pauses.pause(b, admin, acc.id, sub.id)
    cycle(b, clock, date(2026, 12, 1))
    sub = fresh(b, sub)
    # R01: the money owed from before the pause runs R12's course; the pause ends that day.
    assert sub.status == SubscriptionStatus.PAST_DUE and sub.past_due_since == date(2026, 12, 1)
    assert sub.paused_on is None and sub.outstanding_minor == 240_00
    assert [(s.paused_on, s.resumed_on) for s in b.session.scalars(select(PausedSpan))] == [
        (date(2026, 11, 25), date(2026, 12, 1))]


def test_b21_pausing_is_refused_with_the_reason(allowed, payg, clock):
    b = allowed

    def refused(sub_id, service=pauses.pause) -> str:
        with pytest.raises(Refused) as caught:
            service(b, payg.admin, payg.acc.id, sub_id)
        return caught.value.code

    assert refused(payg.late.id) == pauses.PAUSE_PAST_DUE  # a pause must not stop R12's countdown
    assert refused(payg.sub.id, pauses.resume) == pauses.NOT_PAUSED
    subscriptions.cancel_at_period_end(b, payg.admin, payg.acc.id, payg.sub.id)
    assert refused(payg.sub.id) == pauses.PAUSE_CANCEL_PLANNED
    subscriptions.undo_cancellation(b, payg.admin, payg.acc.id, payg.sub.id)
    pauses.pause(b, payg.admin, payg.acc.id, payg.sub.id)
    assert refused(payg.sub.id) == pauses.ALREADY_PAUSED
    with pytest.raises(Refused) as caught:  # cancelling a paused one: resume it first
        subscriptions.cancel_at_period_end(b, payg.admin, payg.acc.id, payg.sub.id)
    assert caught.value.code == subscriptions.PAUSED
    page = pauses.choice(b, payg.admin, fresh(b, payg.sub))
    assert not page.pause and page.pause.reason == pauses.ALREADY_PAUSED and page.resume
    gone = f.subscription(b, payg.acc, None, SubscriptionStatus.DISABLED, disabled_on=date(2026, 11, 2))
    f.commit(b)
    assert refused(gone.id) == pauses.PAUSE_NOT_RUNNING
    b.policy = dataclasses.replace(b.policy, customer_may_pause=False)
    assert refused(payg.late.id) == pauses.PAUSE_OFF  # the provider's setting first
    pauses.resume(b, payg.admin, payg.acc.id, payg.sub.id)  # never stuck paused: resuming needs no setting
    assert fresh(b, payg.sub).status == SubscriptionStatus.ACTIVE


def test_b21_pausing_is_off_by_default(b, payg):
    with pytest.raises(Refused) as caught:
        pauses.pause(b, payg.admin, payg.acc.id, payg.sub.id)
    assert caught.value.code == pauses.PAUSE_OFF
    assert fresh(b, payg.sub).status == SubscriptionStatus.ACTIVE


def test_b21_only_an_administrator_owner_or_contributor_pauses_and_refusals_are_audited(allowed, payg, agreement):
    b = allowed
    with pytest.raises(NotAuthorized):
        pauses.pause(b, payg.member, payg.acc.id, payg.sub.id)
    for role in (Role.INVOICE_MANAGER, Role.READER):
        with pytest.raises(NotAuthorized) as refused:
            pauses.pause(b, agreement.people[role], agreement.acc.id, agreement.sub.id)
        assert refused.value.reason == "cannot_manage_subscriptions"
    assert actions(b).count("access.refused") == 3
    pauses.pause(b, agreement.people[Role.OWNER], agreement.acc.id, agreement.sub.id)
    with pytest.raises(NotAuthorized):
        pauses.resume(b, agreement.people[Role.READER], agreement.acc.id, agreement.sub.id)
    assert fresh(b, agreement.sub).status == SubscriptionStatus.PAUSED


def test_b21_the_provider_disabling_a_paused_subscription_ends_the_pause_where_the_disabled_days_begin(
        allowed, payg, clock):
    b = allowed
    clock.current = date(2026, 11, 10)
    pauses.pause(b, payg.admin, payg.acc.id, payg.sub.id)
    clock.current = date(2026, 11, 25)
    catalog.change_subscription(b, payg.sub.id, catalog.SubscriptionChange(cancel_on=date(2026, 11, 20)))
    f.commit(b)
    sub = fresh(b, payg.sub)
    assert sub.status == SubscriptionStatus.DISABLED and sub.paused_on is None
    assert [(s.paused_on, s.resumed_on) for s in b.session.scalars(select(PausedSpan))] == [
        (date(2026, 11, 10), date(2026, 11, 20))]
    cycle(b, clock, date(2026, 12, 1))
    assert charges_of(b, sub) == [(date(2026, 11, 1), date(2026, 11, 9), 90_00)]  # 9 of 30 days


def test_b21_the_costs_of_a_month_not_billed_yet_leave_out_the_paused_days_as_the_bill_will(allowed, clock, payg):
    from portal.billing.accounts import costs
    from portal.models import Charge
    b = allowed
    other = f.subscription(b, payg.acc, f.card(b, payg.acc), fee=310_00, name="Resumed")
    f.commit(b)
    clock.current = date(2026, 11, 3)
    pauses.pause(b, payg.admin, payg.acc.id, other.id)
    clock.current = date(2026, 11, 25)
    pauses.pause(b, payg.admin, payg.acc.id, payg.sub.id)  # paused: its days before the 25th only
    pauses.resume(b, payg.admin, payg.acc.id, other.id)  # resumed: all but its 22 paused days
    found = {row.id: row.amounts[-1] for row in costs.costs(b, payg.admin, payg.acc.id).rows}
    assert found[payg.sub.id] == 240_00 and found[other.id] == 82_67  # 24 and 8 of 30 days
    cycle(b, clock, date(2026, 12, 1))
    charged = dict(b.session.execute(select(Charge.subscription_id, Charge.amount_minor)
                                     .where(Charge.period_start >= date(2026, 11, 1))).all())
    assert charged[payg.sub.id] == found[payg.sub.id] and charged[other.id] == found[other.id]
