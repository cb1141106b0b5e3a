"""Issue 33 item 2: what it costs and why, before the bill — the costs per subscription
and month (billing/accounts/costs.py) and the spending alerts the billing cycle sends."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select, text

from portal.billing.accounts import costs
from portal.billing.cycle.lifecycle import run_billing_cycle
from portal.billing.provider.catalog import Usage, post_usage
from portal.errors import InvalidAmount, NotAuthorized, NotFound
from portal.money import Money
from portal.models import (AuditEvent, Charge, InvoiceLine, Notice, OutboxMessage, Role, SpendingAlert, Subscription,
                           SubscriptionStatus)
from tests import factories as f
from tests.query_plans import rows_read

NOVEMBER = date(2026, 11, 1)


def used(b, sub, amount_minor: int, day: date) -> None:
    post_usage(b, sub.id, [Usage(day, day, Decimal(1), "GB", amount_minor, "Storage")])
    f.commit(b)


@pytest.fixture
def payg(b):
    """A pay-as-you-go account paying by card: one subscription since last year (100 kr),
    one started on 10 November (50 kr a month, 21 of November's 30 days: 35 kr)."""
    acc = f.account(b)
    card = f.card(b, acc)
    admin = f.user(b, Role.ACCOUNT_ADMIN, acc)
    reader = f.user(b, Role.READER, acc)
    old = f.subscription(b, acc, card, fee=100_00, name="Webbshop")
    new = f.subscription(b, acc, card, fee=50_00, name="Arkiv", started_on=date(2026, 11, 10))
    f.commit(b)
    return type("Payg", (), {"acc": acc, "admin": admin, "reader": reader, "old": old, "new": new})


def by_subscription(found: costs.Costs) -> dict[int, list[int]]:
    return {row.id: row.amounts for row in found.rows}


def test_b21_costs_before_the_bill_are_what_the_bill_charges(b, clock, payg):
    used(b, payg.old, 30_00, date(2026, 11, 12))
    before = costs.costs(b, payg.admin, payg.acc.id)
    assert before.months[-1] == NOVEMBER and before.billed[-1] is False
    assert by_subscription(before)[payg.old.id][-1] == 130_00  # the fee and the usage posted
    assert by_subscription(before)[payg.new.id][-1] == 35_00   # from its start, pro rata by day
    assert before.totals[-1] == before.this_month == 165_00
    clock.current = date(2026, 12, 1)
    run_billing_cycle(b)  # bills November
    b.session.expire_all()
    charged = dict(b.session.execute(select(Charge.subscription_id, Charge.amount_minor)
                                     .where(Charge.period_start >= NOVEMBER)).all())
    after = costs.costs(b, payg.admin, payg.acc.id)
    november = after.months.index(NOVEMBER)
    assert after.billed[november] is True
    assert {sub_id: amounts[november] for sub_id, amounts in by_subscription(after).items()} == charged
    assert charged == {payg.old.id: 130_00, payg.new.id: 35_00}  # what the page said before the bill
    assert after.totals[november] == sum(charged.values())
    assert after.this_month == 150_00  # December so far: both fees, no usage yet


def test_i33_a_billed_month_shows_the_charges_even_where_they_differ_from_the_fee(b, clock, payg):
    """The sums are the charges' own (a disabled stretch, a changed price), not a recount."""
    clock.current = date(2026, 12, 5)
    b.session.execute(insert(Charge), [{"subscription_id": payg.old.id, "amount_minor": 77_77, "currency": "SEK",
                                        "period_start": NOVEMBER, "period_end": date(2026, 11, 30),
                                        "status": "paid"}])
    f.commit(b)
    run_billing_cycle(b)  # November is recorded billed; the existing charge is kept
    b.session.expire_all()
    found = costs.costs(b, payg.admin, payg.acc.id)
    november = found.months.index(NOVEMBER)
    assert by_subscription(found)[payg.old.id][november] == 77_77
    assert found.totals[november] == b.session.scalar(
        select(func.sum(Charge.amount_minor)).where(Charge.period_start.between(NOVEMBER, date(2026, 11, 30))))


def test_i33_a_customer_agreements_costs_are_its_invoice_lines(b, clock):
    acc = f.account(b, kind=f.AccountKind.CUSTOMER_AGREEMENT)
    profile = f.profile(b, acc)
    owner = f.user(b, Role.OWNER, acc, profile)
    sub = f.subscription(b, acc, None, fee=400_00, profile=profile, name="Intranät")
    f.commit(b)
    used(b, sub, 12_50, date(2026, 11, 3))
    assert costs.costs(b, owner, acc.id).this_month == 412_50
    clock.current = date(2026, 12, 1)
    run_billing_cycle(b)
    b.session.expire_all()
    lines = b.session.scalar(select(func.sum(InvoiceLine.amount_minor)).where(InvoiceLine.subscription_id == sub.id))
    found = costs.costs(b, owner, acc.id)
    assert lines == 412_50 and by_subscription(found)[sub.id][found.months.index(NOVEMBER)] == lines


def test_i33_the_csv_rows_are_the_tables_numbers(b, payg):
    used(b, payg.old, 30_00, date(2026, 11, 12))
    found, rows = costs.export_rows(b, payg.admin, payg.acc.id)
    rows = list(rows)
    table = by_subscription(found)
    assert [(row[1], row[3]) for row in rows] == [
        (sub_id, amounts[index]) for index, first in enumerate(found.months)
        for sub_id, amounts in sorted(table.items()) if amounts[index]]
    # A portal that has never billed bills October next (lifecycle.periods_to_bill): not billed yet.
    assert [(row[0], row[1], row[3], row[4]) for row in rows] == [
        (date(2026, 10, 1), payg.old.id, 100_00, False),
        (NOVEMBER, payg.old.id, 130_00, False), (NOVEMBER, payg.new.id, 35_00, False)]


def warnings(b) -> list[tuple[str, int]]:
    return [(e.details["month"], e.details["percent"]) for e in b.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "spending_alert.reached").order_by(AuditEvent.id))]


def test_b21_an_alert_is_sent_once_at_80_and_once_at_100_percent_a_month(b, clock, payg):
    costs.set_alert(b, payg.admin, payg.acc.id, Money(180_00, "SEK"))
    clock.current = date(2026, 11, 12)
    assert costs.check_alerts(b, clock.today()) == 0  # 135 kr of 180: 75 %
    used(b, payg.old, 9_00, date(2026, 11, 12))  # 144 kr: 80 %
    assert costs.check_alerts(b, clock.today()) == 1
    clock.current = date(2026, 11, 13)
    assert costs.check_alerts(b, clock.today()) == 0  # once a month
    used(b, payg.old, 35_99, date(2026, 11, 13))  # 179,99 kr: still below 100 %
    assert costs.check_alerts(b, clock.today()) == 0
    used(b, payg.old, 1, date(2026, 11, 13))  # 180 kr
    assert costs.check_alerts(b, clock.today()) == 1
    assert costs.check_alerts(b, clock.today()) == 0
    clock.current = date(2026, 12, 1)
    run_billing_cycle(b)  # December: 150 kr of fees, 83 %
    clock.current = date(2026, 12, 2)
    used(b, payg.new, 10_00, date(2026, 12, 2))  # 160 kr: 88 %, warned already
    run_billing_cycle(b)
    run_billing_cycle(b)
    assert warnings(b) == [("2026-11-01", 80), ("2026-11-01", 100), ("2026-12-01", 80)]
    mail = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "spending_alert")).all()
    # to the account's billing address and to the person who set the alert, each time
    assert sorted({m.to_address for m in mail}) == sorted({payg.acc.notification_email, payg.admin.email})
    assert len(mail) == 6 and {m.payload["percent"] for m in mail} == {80, 100}
    notices = b.session.scalars(select(Notice).where(Notice.kind == "spending_alert")).all()
    assert {n.user_id for n in notices} == {payg.admin.id}  # acting roles; the reader is not told


def test_i33_a_late_run_sends_only_the_highest_threshold_reached(b, clock, payg):
    costs.set_alert(b, payg.admin, payg.acc.id, Money(100_00, "SEK"))
    used(b, payg.old, 10_00, date(2026, 11, 12))  # 145 kr of 100
    assert costs.check_alerts(b, clock.today()) == 1
    assert warnings(b) == [("2026-11-01", 100)]


def test_i33_a_new_amount_warns_afresh(b, clock, payg):
    costs.set_alert(b, payg.admin, payg.acc.id, Money(180_00, "SEK"))
    used(b, payg.old, 10_00, date(2026, 11, 12))  # 145 kr of 180: 80 %
    assert costs.check_alerts(b, clock.today()) == 1
    costs.set_alert(b, payg.admin, payg.acc.id, Money(160_00, "SEK"))  # 145 of 160: 90 %
    assert costs.check_alerts(b, clock.today()) == 1
    assert len(b.session.scalars(select(SpendingAlert)).all()) == 1  # changed, not added
    costs.set_alert(b, payg.admin, payg.acc.id, None)
    assert b.session.scalars(select(SpendingAlert)).all() == []
    assert costs.check_alerts(b, clock.today()) == 0
    actions = b.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("spending_alert.%"))
                                .order_by(AuditEvent.id)).all()
    assert actions == ["spending_alert.set", "spending_alert.reached", "spending_alert.set",
                       "spending_alert.reached", "spending_alert.removed"]


@pytest.mark.parametrize("amount", [Money(0, "SEK"), Money(-1, "SEK"), Money(100_00, "EUR"), Money(10**15, "SEK")])
def test_i33_an_alert_amount_must_be_positive_in_the_accounts_currency(b, payg, amount):
    with pytest.raises(InvalidAmount):
        costs.set_alert(b, payg.admin, payg.acc.id, amount)
    assert b.session.scalars(select(SpendingAlert)).all() == []


def test_i33_a_reader_cannot_set_an_alert_and_the_refusal_is_audited(b, payg):
    with pytest.raises(NotAuthorized):
        costs.set_alert(b, payg.reader, payg.acc.id, Money(100_00, "SEK"))
    assert b.session.scalars(select(SpendingAlert)).all() == []
    assert b.session.scalars(select(AuditEvent.action)).all() == ["access.refused"]
    assert costs.costs(b, payg.reader, payg.acc.id).can_set_alert is False  # they see the costs


def test_i33_the_page_reads_its_subscriptions_charges_not_the_accounts(b, clock):
    """A large account: the table's sums read the listed subscriptions' charges of the
    months shown, by uq_charges_subscription_period — not every charge of the account."""
    acc = f.account(b)
    admin = f.user(b, Role.ACCOUNT_ADMIN, acc)
    f.commit(b)
    count, months = 400, costs.months_to(clock.today())
    b.session.execute(insert(Subscription), [
        {"account_id": acc.id, "name": f"Sub {n:04}", "status": SubscriptionStatus.ACTIVE, "monthly_fee_minor": 100,
         "started_on": date(2025, 1, 1)} for n in range(count)])
    ids = b.session.scalars(select(Subscription.id).where(Subscription.account_id == acc.id)).all()
    b.session.execute(insert(Charge), [
        {"subscription_id": sub_id, "amount_minor": 100, "currency": "SEK", "period_start": first,
         "period_end": costs.month_end(first), "status": "paid"}
        for sub_id in ids for first in [date(2026, m, 1) for m in range(1, 11)]])
    f.commit(b)
    found = costs.costs(b, admin, acc.id)
    assert len(found.rows) == costs.SUBSCRIPTIONS_SHOWN and found.more == count - costs.SUBSCRIPTIONS_SHOWN
    if b.session.get_bind().dialect.name != "postgresql":
        return
    b.session.execute(text("ANALYZE charges, subscriptions"))
    f.commit(b)
    listed = [row.id for row in found.rows]
    statement = costs.billed_statement(acc, costs.Listed(listed), months, True)
    assert rows_read(b, statement) <= len(listed) * (len(months) + 1)


def test_i33_a_subscriptions_alert_counts_its_costs_alone_beside_the_accounts(b, clock, payg):
    """Issue 33 item 2: a monthly amount per account *or subscription*."""
    costs.set_alert(b, payg.admin, payg.acc.id, Money(40_00, "SEK"), payg.new.id)  # Arkiv: 35 kr of 40 = 87 %
    costs.set_alert(b, payg.admin, payg.acc.id, Money(1_000_00, "SEK"))  # the account: 135 kr of 1 000
    clock.current = date(2026, 11, 12)
    assert costs.check_alerts(b, clock.today()) == 1  # Arkiv's 80 %, not the account's
    used(b, payg.new, 5_00, date(2026, 11, 12))  # Arkiv 40 kr: 100 %
    assert costs.check_alerts(b, clock.today()) == 1
    used(b, payg.old, 200_00, date(2026, 11, 12))  # Webbshop's usage: not Arkiv's
    assert costs.check_alerts(b, clock.today()) == 0
    mail = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "spending_alert")
                             .order_by(OutboxMessage.id)).all()
    assert {(m.payload["percent"], m.payload["subscription"], m.payload["subscription_id"]) for m in mail} == {
        (80, "Arkiv", payg.new.id), (100, "Arkiv", payg.new.id)}
    found = costs.costs(b, payg.admin, payg.acc.id)
    assert found.alert.amount_minor == 1_000_00
    assert [(a.subscription_id, name, percent) for a, name, percent in found.subscription_alerts] == [
        (payg.new.id, "Arkiv", 100)]
    costs.set_alert(b, payg.admin, payg.acc.id, None, payg.new.id)  # removes Arkiv's only
    assert b.session.scalars(select(SpendingAlert.subscription_id)).all() == [None]
    audited = b.session.scalars(select(AuditEvent.details).where(AuditEvent.action == "spending_alert.removed")).one()
    assert audited["subscription"] == "Arkiv"


def test_i33_an_alert_names_a_subscription_the_person_sees_or_none(b, payg):
    other = f.subscription(b, f.account(b), None, fee=10_00, name="Someone else's")
    f.commit(b)
    with pytest.raises(NotFound):
        costs.set_alert(b, payg.admin, payg.acc.id, Money(100_00, "SEK"), other.id)
    assert b.session.scalars(select(SpendingAlert)).all() == []
