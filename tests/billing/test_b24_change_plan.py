"""B24 (issue 33 item 1): change a subscription's plan where the provider allows it —
the new price from the first day of the month not billed yet (the rule the provider's
API shares), audited and emailed, refused with the reason (docs/subscriptions.md)."""
from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from sqlalchemy import select

from portal.billing.accounts import plans
from portal.billing.provider import catalog
from portal.errors import NotAuthorized, Refused
from portal.models import AuditEvent, Invoice, InvoiceLine, OutboxMessage, Role, Subscription
from tests.billing import test_i33_subscriptions as i33
from tests.billing.test_i33_subscriptions import actions, charges_of, cycle

payg, agreement = i33.payg, i33.agreement  # the cancellation tests' accounts, as fixtures here

PLANS = (("Small", 300_00), ("Large", 500_00), ("Huge", 620_00))


@pytest.fixture
def offered(b):
    b.policy = dataclasses.replace(b.policy, customer_may_change_plan=True, plans=PLANS)
    return b


def test_b24_a_changed_plan_bills_the_new_price_from_the_month_not_billed_yet(offered, payg, clock):
    b = offered
    cycle(b, clock, date(2026, 11, 1))  # October billed at the old price
    clock.current = date(2026, 11, 25)
    choice = plans.choice(b, payg.admin, payg.sub)
    assert choice.current.name == "Small" and [p.name for p in choice.offered] == ["Large", "Huge"]
    assert choice.price_from == date(2026, 11, 1) and choice.decision
    plans.change_plan(b, payg.admin, payg.acc.id, payg.sub.id, "Large")
    b.session.expire_all()
    assert b.session.get(Subscription, payg.sub.id).monthly_fee_minor == 500_00
    event = b.session.scalars(select(AuditEvent).where(AuditEvent.action == "subscription.plan_changed")).one()
    assert event.actor_user_id == payg.admin.id
    assert {k: event.details[k] for k in ("old_plan", "plan", "old_amount_minor", "amount_minor", "price_from")} == {
        "old_plan": "Small", "plan": "Large", "old_amount_minor": 300_00, "amount_minor": 500_00,
        "price_from": "2026-11-01"}
    mail = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "subscription_plan_changed")).one()
    assert mail.to_address == payg.acc.notification_email
    cycle(b, clock, date(2026, 12, 1))
    assert charges_of(b, payg.sub) == [(date(2026, 10, 1), date(2026, 10, 31), 300_00),
                                       (date(2026, 11, 1), date(2026, 11, 30), 500_00)]
    with pytest.raises(Refused) as billed:  # the API's price change: the same rule, in one place
        catalog.change_subscription(b, payg.sub.id, catalog.SubscriptionChange(
            monthly_fee_minor=100_00, price_from=date(2026, 11, 1)))
    assert billed.value.code == plans.PERIOD_BILLED


def test_b24_a_customer_agreements_changed_plan_is_on_its_invoice_from_that_month(offered, agreement, clock):
    b = offered
    plans.change_plan(b, agreement.people[Role.CONTRIBUTOR], agreement.acc.id, agreement.kept.id, "Small")
    cycle(b, clock, date(2026, 12, 1))
    lines = {line.subscription_id: line.amount_minor for line in b.session.scalars(
        select(InvoiceLine).join(Invoice).where(Invoice.period_start == date(2026, 11, 1)))}
    assert lines == {agreement.sub.id: 620_00, agreement.kept.id: 300_00}


def test_b24_refused_with_the_reason(offered, payg, clock):
    b = offered

    def refusal(sub_id, plan="Large"):
        with pytest.raises(Refused) as refused:
            plans.change_plan(b, payg.admin, payg.acc.id, sub_id, plan)
        return refused.value.code

    assert refusal(payg.late.id) == "past_due"
    assert refusal(payg.sub.id, "Small") == plans.PLAN_NOT_OFFERED  # its own plan
    assert refusal(payg.sub.id, "Gold") == plans.PLAN_NOT_OFFERED
    cycle(b, clock, date(2026, 10, 1))  # September billed, October not yet
    clock.current = date(2026, 11, 25)
    assert refusal(payg.sub.id) == plans.LAST_MONTH_NOT_BILLED  # October would get the new price too
    b.policy = dataclasses.replace(b.policy, customer_may_change_plan=False)
    assert refusal(payg.sub.id) == plans.PLAN_CHANGES_OFF
    assert not plans.choice(b, payg.admin, payg.sub).decision
    b.policy = dataclasses.replace(b.policy, customer_may_change_plan=True, plans=(("Small", 300_00),))
    assert refusal(payg.sub.id) == plans.PLAN_CHANGES_OFF  # no other plan to choose
    b.session.expire_all()
    assert b.session.get(Subscription, payg.sub.id).monthly_fee_minor == 300_00
    assert "subscription.plan_changed" not in actions(b)


def test_b24_only_an_administrator_owner_or_contributor_changes_a_plan_and_refusals_are_audited(
        offered, payg, agreement):
    b = offered
    with pytest.raises(NotAuthorized):
        plans.change_plan(b, payg.member, payg.acc.id, payg.sub.id, "Large")
    with pytest.raises(NotAuthorized) as refused:
        plans.change_plan(b, agreement.people[Role.READER], agreement.acc.id, agreement.kept.id, "Large")
    assert refused.value.reason == "cannot_manage_subscriptions"
    assert actions(b).count("access.refused") == 2
    assert not plans.choice(b, payg.member, payg.sub).decision
    plans.change_plan(b, agreement.people[Role.OWNER], agreement.acc.id, agreement.kept.id, "Large")
    assert b.session.get(Subscription, agreement.kept.id).monthly_fee_minor == 500_00


def test_b24_the_providers_plans_are_read_as_name_and_monthly_price_and_checked_at_start_up():
    from portal.config import ConfigError, from_environment
    config = from_environment({"SUBSCRIPTION_PLANS": "Bas=290, Premium = 990.50"})
    assert config["SUBSCRIPTION_PLANS"] == (("Bas", 290_00), ("Premium", 990_50))
    assert config["SUBSCRIPTION_PLAN_CHANGES"] is False  # off unless the provider turns it on
    for bad in ("Bas", "Bas=", "=290", "Bas=0", "Bas=1.005", "Bas=290,Bas=390", "Bas=290,Plus=290", "Bas=Infinity", "Bas=NaN"):
        with pytest.raises(ConfigError):
            from_environment({"SUBSCRIPTION_PLANS": bad})
