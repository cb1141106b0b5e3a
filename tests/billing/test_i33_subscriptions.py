"""Issue 33 item 1: cancel a subscription at the end of its period and undo it before
then (docs/subscriptions.md) — in the service layer and the billing cycle."""
from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from sqlalchemy import select

from portal.billing.accounts import subscriptions
from portal.billing.cycle import lifecycle
from portal.billing.provider import catalog
from portal.errors import NotAuthorized, NotFound, Refused
from portal.models import (AccountKind, AuditEvent, Charge, Invoice, InvoiceLine, OutboxMessage, Role, Subscription,
                           SubscriptionStatus)
from tests import factories as f


@pytest.fixture
def payg(b):
    acc = f.account(b)
    card = f.card(b, acc)
    sub = f.subscription(b, acc, card, fee=300_00)
    late = f.past_due(b, acc, f.card(b, acc, f.INSUFFICIENT_FUNDS))
    admin = f.user(b, Role.ACCOUNT_ADMIN, acc)
    member = f.user(b, Role.ACCOUNT_USER, acc)
    f.commit(b)
    return type("Payg", (), dict(acc=acc, sub=sub, late=late, admin=admin, member=member))


@pytest.fixture
def agreement(b):
    acc = f.account(b, AccountKind.CUSTOMER_AGREEMENT)
    profile = f.profile(b, acc, default=f.wire(b, acc), check_wire_approved=True)
    sub = f.subscription(b, acc, None, fee=620_00, profile=profile)
    kept = f.subscription(b, acc, None, fee=100_00, profile=profile)
    people = {role: f.user(b, role, acc, profile) for role in (Role.OWNER, Role.CONTRIBUTOR, Role.INVOICE_MANAGER,
                                                               Role.READER)}
    f.commit(b)
    return type("Agreement", (), dict(acc=acc, profile=profile, sub=sub, kept=kept, people=people))


def cycle(b, clock, day):
    clock.current = day
    return lifecycle.run_billing_cycle(b)


def actions(b) -> list[str]:
    return b.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()


def charges_of(b, sub) -> list[tuple[date, date, int]]:
    return [(c.period_start, c.period_end, c.amount_minor) for c in b.session.scalars(
        select(Charge).where(Charge.subscription_id == sub.id).order_by(Charge.period_start))]


def test_i33_cancel_at_period_end_runs_to_the_month_end_then_the_cycle_ends_it_and_charges_nothing_after(
        b, payg, clock):
    subscriptions.cancel_at_period_end(b, payg.admin, payg.acc.id, payg.sub.id)  # 25 November
    b.session.expire_all()
    sub = b.session.get(Subscription, payg.sub.id)
    assert sub.cancel_at == date(2026, 12, 1) and sub.status == SubscriptionStatus.ACTIVE
    event = b.session.scalars(select(AuditEvent).where(AuditEvent.action == "subscription.cancel_planned")).one()
    assert event.actor_user_id == payg.admin.id and event.details["last_day"] == "2026-11-30"
    mail = b.session.scalars(select(OutboxMessage).where(
        OutboxMessage.template == "subscription_cancel_planned")).one()
    assert mail.to_address == payg.acc.notification_email

    summary = cycle(b, clock, date(2026, 12, 1))
    assert summary.subscriptions_cancelled == 1
    b.session.expire_all()
    sub = b.session.get(Subscription, payg.sub.id)
    assert sub.status == SubscriptionStatus.CANCELLED  # not disabled: nothing is owed
    assert charges_of(b, sub) == [(date(2026, 11, 1), date(2026, 11, 30), 300_00)]  # its last month, in full
    assert sub.outstanding_minor == 0  # charged to its card as any month
    cycle(b, clock, date(2027, 1, 1))
    cycle(b, clock, date(2027, 2, 1))
    assert len(charges_of(b, sub)) == 1  # nothing after
    assert actions(b).count("subscription.cancelled") == 1


def test_i33_undo_before_the_period_ends_keeps_it_running_and_billed(b, payg, clock):
    subscriptions.cancel_at_period_end(b, payg.admin, payg.acc.id, payg.sub.id)
    clock.current = date(2026, 11, 30)  # its last day: still in time
    subscriptions.undo_cancellation(b, payg.admin, payg.acc.id, payg.sub.id)
    b.session.expire_all()
    assert b.session.get(Subscription, payg.sub.id).cancel_at is None
    assert "subscription.cancel_undone" in actions(b)
    assert b.session.scalars(select(OutboxMessage.template).where(
        OutboxMessage.template == "subscription_cancel_undone")).one()
    cycle(b, clock, date(2026, 12, 1))
    cycle(b, clock, date(2027, 1, 1))
    sub = b.session.get(Subscription, payg.sub.id)
    assert sub.status == SubscriptionStatus.ACTIVE and len(charges_of(b, sub)) == 2


def test_i33_undo_is_refused_once_the_cancellation_took_effect(b, payg, clock):
    subscriptions.cancel_at_period_end(b, payg.admin, payg.acc.id, payg.sub.id)
    clock.current = date(2026, 12, 1)  # the day it ends, before the cycle has run too
    with pytest.raises(Refused) as refused:
        subscriptions.undo_cancellation(b, payg.admin, payg.acc.id, payg.sub.id)
    assert refused.value.code == subscriptions.NOT_CANCELLED
    with pytest.raises(Refused) as again:  # and a second cancellation is not a new one
        subscriptions.cancel_at_period_end(b, payg.admin, payg.acc.id, payg.sub.id)
    assert again.value.code == subscriptions.ALREADY_CANCELLED


def test_i33_cancel_is_refused_while_past_due(b, payg):
    with pytest.raises(Refused) as refused:
        subscriptions.cancel_at_period_end(b, payg.admin, payg.acc.id, payg.late.id)
    assert refused.value.code == subscriptions.PAST_DUE
    b.session.expire_all()
    assert b.session.get(Subscription, payg.late.id).cancel_at is None
    page = subscriptions.detail(b, payg.admin, payg.acc.id, payg.late.id)
    assert not page.cancel and page.cancel.reason == "past_due"  # the page says why (B2)


def test_i33_cancel_is_refused_by_the_providers_setting(b, payg):
    b.policy = dataclasses.replace(b.policy, customer_may_cancel=False)
    with pytest.raises(Refused) as refused:
        subscriptions.cancel_at_period_end(b, payg.admin, payg.acc.id, payg.sub.id)
    assert refused.value.code == subscriptions.PROVIDER_SETTING


def test_i33_only_an_administrator_owner_or_contributor_cancels_and_refusals_are_audited(b, payg, agreement):
    with pytest.raises(NotAuthorized) as refused:
        subscriptions.cancel_at_period_end(b, payg.member, payg.acc.id, payg.sub.id)
    assert refused.value.reason == "not_account_admin"
    for role in (Role.INVOICE_MANAGER, Role.READER):
        with pytest.raises(NotAuthorized) as refused:
            subscriptions.cancel_at_period_end(b, agreement.people[role], agreement.acc.id, agreement.sub.id)
        assert refused.value.reason == "cannot_manage_subscriptions"
    assert actions(b).count("access.refused") == 3
    with pytest.raises(NotFound):  # another account's subscription, through one's own account
        subscriptions.cancel_at_period_end(b, payg.admin, payg.acc.id, agreement.sub.id)
    subscriptions.cancel_at_period_end(b, agreement.people[Role.CONTRIBUTOR], agreement.acc.id, agreement.sub.id)
    subscriptions.undo_cancellation(b, agreement.people[Role.OWNER], agreement.acc.id, agreement.sub.id)
    subscriptions.cancel_at_period_end(b, agreement.people[Role.OWNER], agreement.acc.id, agreement.sub.id)
    assert b.session.get(Subscription, agreement.sub.id).cancel_at == date(2026, 12, 1)


def test_i33_a_cancelled_subscription_is_on_its_last_invoice_and_on_none_after(b, agreement, clock):
    subscriptions.cancel_at_period_end(b, agreement.people[Role.OWNER], agreement.acc.id, agreement.sub.id)
    cycle(b, clock, date(2026, 12, 1))
    cycle(b, clock, date(2027, 1, 1))
    lines = {(i.period_start, line.subscription_id): line.amount_minor for i in b.session.scalars(select(Invoice))
             for line in b.session.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id == i.id))}
    assert lines == {(date(2026, 11, 1), agreement.sub.id): 620_00, (date(2026, 11, 1), agreement.kept.id): 100_00,
                     (date(2026, 12, 1), agreement.kept.id): 100_00}
    assert b.session.get(Subscription, agreement.sub.id).status == SubscriptionStatus.CANCELLED


def test_i33_the_providers_planned_end_mid_month_bills_the_days_before_it_and_nothing_after(b, payg, clock):
    """The provider's API plans an end through the same service (catalog.change_subscription)."""
    catalog.change_subscription(b, payg.sub.id, catalog.SubscriptionChange(cancel_at=date(2026, 12, 16)))
    f.commit(b)
    assert "subscription.cancel_planned" in actions(b)
    for day in (date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1)):
        cycle(b, clock, day)
    sub = b.session.get(Subscription, payg.sub.id)
    assert sub.status == SubscriptionStatus.CANCELLED
    assert charges_of(b, sub) == [(date(2026, 11, 1), date(2026, 11, 30), 300_00),
                                  (date(2026, 12, 1), date(2026, 12, 15), 145_16)]  # 15 of 31 days, rounded
