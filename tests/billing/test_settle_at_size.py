"""Settling a reseller's balance (issue 28, item 1): recording is a handful of
set-based statements whatever the number of subscriptions, and what the receipt, its
email and the audit events carry is the first few names and counts, never every row.
Proved by what the plans read (no statement re-reads the subscriptions once per row),
not by time."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import event, func, insert, select, text

from portal.billing import payments
from portal.billing.accounts import balances, history
from portal.billing.payments import UseSavedCard
from portal.models import (AttemptAllocation, AuditEvent, Charge, ChargeStatus, OutboxMessage, Payment,
                           PaymentSubscription, Role, Subscription,
                           SubscriptionStatus)
from portal.wording import audit_text
from tests import factories as f

SUBSCRIPTIONS = 300
KEY = "key-i28-settle-at-size"


@pytest.fixture
def reseller(b):
    """SUBSCRIPTIONS past-due subscriptions on a failed card, two outstanding charges
    each, inserted in bulk; a second card that settles them; an administrator."""
    acc = f.account(b)
    failed, second = f.card(b, acc, f.INSUFFICIENT_FUNDS), f.card(b, acc, f.APPROVE)
    admin = f.user(b, Role.ACCOUNT_ADMIN, acc)
    f.commit(b)
    today = b.clock.today()
    ids = list(b.session.scalars(insert(Subscription).returning(Subscription.id, sort_by_parameter_order=True), [
        dict(account_id=acc.id, name=f"Prenumeration {n:04d}", status=SubscriptionStatus.PAST_DUE,
             payment_method_id=failed.id, monthly_fee_minor=100_00 + n, started_on=today.replace(year=today.year - 1),
             past_due_since=today) for n in range(SUBSCRIPTIONS)]))
    b.session.execute(insert(Charge), [
        dict(subscription_id=sub_id, amount_minor=100_00 + n, currency="SEK", status=ChargeStatus.OUTSTANDING,
             period_start=today.replace(year=today.year - 1, day=1, month=month),
             period_end=today.replace(year=today.year - 1, day=28, month=month))
        for n, sub_id in enumerate(ids) for month in (1, 2)])
    balances.recount_outstanding(b.session, Subscription.account_id == acc.id)
    f.commit(b)
    if b.session.get_bind().dialect.name == "postgresql":  # a large account's statistics, as autovacuum's by
        # now: the plans must not depend on a stale guess. A reseller's earlier payments' links (ten months of
        # them), so that the statistics see the table a real one has, not an empty one to scan.
        b.session.execute(insert(PaymentSubscription), [dict(payment_id=1_000_000 + month, subscription_id=sub_id)
                                                        for sub_id in ids for month in range(10)])
        b.session.execute(text("ANALYZE subscriptions, charges, payment_subscriptions"))
        f.commit(b)
    total = b.session.scalar(select(func.sum(Charge.amount_minor)).where(Charge.subscription_id.in_(ids)))
    return type("Reseller", (), dict(acc=acc, failed=failed, second=second, admin=admin, ids=ids, total=int(total)))


def _plans_of_subscription_updates(b, heads=("UPDATE SUBSCRIPTIONS",)):
    """While on: each UPDATE of `subscriptions` (each statement starting with one of
    `heads`) the session runs, with its plan — PostgreSQL's EXPLAIN (ANALYZE, FORMAT
    JSON), run in a savepoint rolled back before the statement itself runs; SQLite's
    EXPLAIN QUERY PLAN."""
    engine, found = b.session.get_bind(), []

    def explain(_conn, cursor, statement, parameters, _context, executemany):
        if executemany or not statement.lstrip().upper().startswith(heads):
            return
        other = cursor.connection.cursor()
        if engine.dialect.name == "sqlite":
            other.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            found.append((statement, [row[-1] for row in other.fetchall()]))
            return
        with other:
            other.execute("SAVEPOINT i28_explain")
            other.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
            [[plan]] = other.fetchall()
            other.execute("ROLLBACK TO SAVEPOINT i28_explain")
        found.append((statement, plan if isinstance(plan, list) else json.loads(plan)))
    event.listen(engine, "before_cursor_execute", explain)
    return found, lambda: event.remove(engine, "before_cursor_execute", explain)


def _per_row(plan) -> list[tuple[str, int]]:
    """The subqueries of a PostgreSQL plan run once per row of another (correlated:
    a SubPlan with more than one loop), as (relation, loops)."""
    found = []

    def walk(node, under_subplan=False):
        under_subplan = under_subplan or node.get("Parent Relationship") == "SubPlan"
        if under_subplan and "Relation Name" in node and node.get("Actual Loops", 0) > 1:
            found.append((node["Relation Name"], node["Actual Loops"]))
        for child in node.get("Plans", []):
            walk(child, under_subplan)
    walk(plan[0]["Plan"])
    return found


def _rows_read(plan) -> int:
    """Rows the plan's scans read, every loop counted (tests/query_plans.py's
    `rows_read` counts a loop once: a correlated subquery would hide in it)."""
    def walk(node) -> int:
        own = ((node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) * node.get("Actual Loops", 1)
               if "Scan" in node["Node Type"] and "Relation Name" in node else 0)
        return own + sum(walk(child) for child in node.get("Plans", []))
    return walk(plan[0]["Plan"])


def test_i28_settling_many_subscriptions_never_reads_them_once_per_row(b, reseller):
    """Settle SUBSCRIPTIONS past-due subscriptions at once: every UPDATE of the
    subscriptions in it is set-based — no subquery runs once per subscription (the
    correlated recount that made a reseller's settle take 30 s), and each reads a
    bounded multiple of the rows it changes — and it does it all: every charge paid
    once, every subscription active, owing nothing, on the paying card (R05, R13)."""
    plans, stop = _plans_of_subscription_updates(b)
    try:
        payment = payments.settle_balance(b, reseller.admin, reseller.ids[0], UseSavedCard(reseller.second.id),
                                          reseller.total, KEY)
    finally:
        stop()
    assert plans, "the settlement updated no subscriptions"
    if b.session.get_bind().dialect.name == "postgresql":
        for statement, plan in plans:
            assert _per_row(plan) == [], statement
            # What it reads: the charges paid (twice: which subscriptions, then their
            # figures) and each subscription a few times (its figures row, its update).
            assert _rows_read(plan) <= 8 * SUBSCRIPTIONS, (statement, _rows_read(plan))
    else:
        for statement, plan in plans:
            assert not [step for step in plan if "CORRELATED" in step], (statement, plan)
    b.session.rollback()
    paid = b.session.scalars(select(Charge).join(Subscription).where(Subscription.account_id == reseller.acc.id))
    assert {(c.status, c.payment_id) for c in paid} == {(ChargeStatus.PAID, payment.id)}
    subs = b.session.scalars(select(Subscription).where(Subscription.account_id == reseller.acc.id)).all()
    assert {(s.status, s.outstanding_charges, s.outstanding_minor, s.payment_method_id) for s in subs} == {
        (SubscriptionStatus.ACTIVE, 0, 0, reseller.second.id)}
    assert b.session.get(Payment, payment.id).amount_minor == reseller.total


def test_i28_settling_writes_an_allocation_row_per_subscription_and_reads_names_from_an_index(b, reseller):
    """Issue 28: the attempt's allocation is one row per subscription (SUBSCRIPTIONS
    rows for twice as many charges); every statement of the settlement reads a bounded
    multiple of what it pays; the first few names of what it paid, and the receipt's
    counts by status, read a few rows (an index in id order, one probe per
    subscription), not every subscription paid — at 100,000 each such query read
    200,000 rows."""
    plans, stop = _plans_of_subscription_updates(b, ("SELECT", "INSERT", "UPDATE", "DELETE"))
    try:
        payments.settle_balance(b, reseller.admin, reseller.ids[0], UseSavedCard(reseller.second.id),
                                reseller.total, KEY)
    finally:
        stop()
    [(write_ahead, plan)] = [(st, plan) for st, plan in plans if st.lstrip().startswith("INSERT INTO attempt_allocations")]
    named = [(st, plan) for st, plan in plans if st.lstrip().startswith("SELECT subscriptions.name")]
    assert len(named) >= 2, [st for st, _plan in plans]  # what it paid, what moved, the receipt's active ones
    if b.session.get_bind().dialect.name == "postgresql":
        assert plan[0]["Plan"]["Plans"][0]["Actual Rows"] == SUBSCRIPTIONS, write_ahead  # not 2 × SUBSCRIPTIONS
        for statement, plan in plans:
            assert _rows_read(plan) <= 8 * SUBSCRIPTIONS, (statement, _rows_read(plan))
        for statement, plan in named:
            # Each name: its subscription from the index, one probe of the payment's charges.
            assert _rows_read(plan) <= 2 * history.NAMES_SHOWN, (statement, _rows_read(plan))
    else:
        for statement, plan in named:  # from an index in id order, stopping at the first few
            assert not [step for step in plan if "TEMP B-TREE" in step], (statement, plan)
    b.session.rollback()
    assert b.session.scalar(select(func.count()).select_from(AttemptAllocation)) == 0  # gone with the attempt


def test_i28_a_charge_marked_paid_is_a_hot_update_that_writes_no_index_entry(b, reseller):
    """Issue 28: settling 200,000 charges wrote 3 index entries per charge (and checked a
    foreign key per charge). No index of `charges` holds a column that paying a charge
    changes (status, payment_id) — not even in a partial index's condition, which also
    rules out a HOT update — and no foreign key is checked on them; so on PostgreSQL
    every charge a settlement pays is a HOT update: a new row version in the same page
    (the table's fillfactor leaves room), no index entry at all."""
    from sqlalchemy import inspect
    inspector = inspect(b.session.get_bind())
    paying = {"status", "payment_id"}
    keys = [(ix, ix["column_names"]) for ix in inspector.get_indexes("charges")] + [
        (key, key["constrained_columns"]) for key in [inspector.get_pk_constraint("charges")]] + [
        (key, key["column_names"]) for key in inspector.get_unique_constraints("charges")]
    for ix, columns in keys:
        condition = " ".join(str(v) for k, v in ix.get("dialect_options", {}).items() if k.endswith("_where"))
        assert not paying & set(columns) and not any(c in condition for c in paying), ix
    assert not [fk for fk in inspector.get_foreign_keys("charges") if paying & set(fk["constrained_columns"])]
    if b.session.get_bind().dialect.name != "postgresql":
        return
    engine, counted = b.session.get_bind(), []

    def count(_conn, cursor, statement, _parameters, _context, _executemany):
        if statement.lstrip().upper().startswith("UPDATE CHARGES"):  # this transaction's updates so far, HOT ones
            with cursor.connection.cursor() as other:
                other.execute("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables "
                              "WHERE relname = 'charges'")
                counted.append(other.fetchone())
    event.listen(engine, "after_cursor_execute", count)
    try:
        payments.settle_balance(b, reseller.admin, reseller.ids[0], UseSavedCard(reseller.second.id),
                                reseller.total, KEY)
    finally:
        event.remove(engine, "after_cursor_execute", count)
    [(updates, hot)] = counted
    assert updates == 2 * SUBSCRIPTIONS and hot == updates, (updates, hot)


def test_i28_receipts_and_audit_events_carry_the_first_few_names_and_counts(b, reseller):
    """The payment's audit event, the card switch's and the receipt email name the
    first NAMES_SHOWN subscriptions and count them all — never every name — and read
    "…, … and 297 more"."""
    payment = payments.settle_balance(b, reseller.admin, reseller.ids[0], UseSavedCard(reseller.second.id),
                                      reseller.total, KEY)
    shown, rest = history.NAMES_SHOWN, SUBSCRIPTIONS - history.NAMES_SHOWN
    events = {e.action: e for e in b.session.scalars(select(AuditEvent).where(
        AuditEvent.account_id == reseller.acc.id, AuditEvent.action.in_(("payment.succeeded",
                                                                          "payment_method.switched"))))}
    for action in ("payment.succeeded", "payment_method.switched"):
        details = events[action].details
        assert len(details["subscriptions"]) == shown and details["subscription_count"] == SUBSCRIPTIONS, action
        assert details["subscriptions"][0] == "Prenumeration 0000"
    receipt = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "receipt").order_by(
        OutboxMessage.id)).first()  # the billing address's copy (the payer's has the same names)
    assert receipt.payload["payment_id"] == payment.id
    assert len(receipt.payload["subscriptions"]) == shown and receipt.payload["subscription_count"] == SUBSCRIPTIONS
    assert len(receipt.payload["active"]) == shown and receipt.payload["active_count"] == SUBSCRIPTIONS
    assert receipt.payload["deleted_count"] == receipt.payload["still_owing_count"] == 0
    assert len(json.dumps(receipt.payload)) < 2_000
    from flask_babel import force_locale
    with force_locale("en"):
        text_of = audit_text(events["payment.succeeded"])
    assert "Prenumeration 0000, Prenumeration 0001, Prenumeration 0002 and 297 more" in text_of, text_of
    with force_locale("sv"):
        assert f"och {rest} till" in audit_text(events["payment_method.switched"])


def test_i28_the_receipt_email_names_a_few_and_counts_the_rest(b, reseller):
    """The email itself, rendered: "Prenumeration 0000, …, … and 297 more" — in both
    languages, the count in the language's digits."""
    from portal.mail.messages import Payload, receipt
    from flask_babel import force_locale
    payments.settle_balance(b, reseller.admin, reseller.ids[0], UseSavedCard(reseller.second.id),
                            reseller.total, KEY)
    message = b.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "receipt")).first()
    for locale, more in (("en", "and 297 more"), ("sv", "och 297 till")):
        with force_locale(locale):
            body = " ".join(receipt(Payload(message.payload, message.to_address), "Portal").paragraphs)
        assert f"Prenumeration 0002 {more}" in body, body


def test_i28_a_recount_gives_each_subscription_its_own_figures(b, reseller):
    """recount_outstanding, grouped: each subscription gets the count and sum of its
    own outstanding charges (not a neighbour's), and one whose charges were paid
    otherwise drops to zero."""
    first, second = reseller.ids[:2]
    b.session.execute(text("UPDATE charges SET status = 'paid' WHERE subscription_id = :s"), {"s": first})
    b.session.execute(text("UPDATE subscriptions SET outstanding_charges = 99, outstanding_minor = 99"))
    balances.recount_outstanding(b.session, Subscription.account_id == reseller.acc.id)
    f.commit(b)
    one, two = b.session.get(Subscription, first), b.session.get(Subscription, second)
    assert (one.outstanding_charges, one.outstanding_minor) == (0, 0)
    assert (two.outstanding_charges, two.outstanding_minor) == (2, 2 * (100_00 + 1))


def test_i28_a_settlements_receipt_pdf_names_a_page_and_sums_the_rest(app, b, reseller, monkeypatch):
    """The receipt PDF of a settlement of many subscriptions lists the first
    RECEIPT_LINES (monkeypatched to 40 here) and one line for the rest, whose amount
    makes the lines add up to what was paid — not a table of every subscription."""
    from portal import document_store
    monkeypatch.setattr(document_store, "RECEIPT_LINES", 40)
    payment = payments.settle_balance(b, reseller.admin, reseller.ids[0], UseSavedCard(reseller.second.id),
                                      reseller.total, KEY)
    with app.test_request_context("/sv/"):
        doc = document_store.receipt_document_of(b, payment)
    assert [row[0] for row in doc.subscriptions] == [f"Prenumeration {n:04d}" for n in range(40)]
    assert doc.more_subscriptions == SUBSCRIPTIONS - 40
    assert sum(row[3].minor for row in doc.subscriptions) + doc.more_amount.minor == reseller.total
