"""The reseller data set of issue 28 (bench/reseller.py), built at a tiny scale on
PostgreSQL: its rows are what the app itself would have written — kept figures equal to
the charges, every paid charge and invoice paid by a payment of its amount, keys and
indexes back in place — and every page of the bench shows it."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from bench import reseller
from bench.run import urls
from portal.extensions import db
from portal.services import policy
from tests.conftest import outstanding_drift
from tests.web.test_performance import signed_in

SUBSCRIPTIONS, INVOICES = 200, 30


@pytest.fixture
def built(app, clock):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the reseller data set is built with PostgreSQL's generate_series")
        keys = constraints()
        db.session.rollback()  # no lock held while the build drops and makes keys
        built = reseller.build(db.engine, clock.today(), policy(), SUBSCRIPTIONS, INVOICES, verbose=False)
    return built, keys  # outside the context: each request of the test client pushes its own


def constraints() -> set[tuple]:
    return set(db.session.execute(text(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE connamespace = 'public'::regnamespace "
        "UNION SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'")).all())


def one(sql: str, **params):
    return db.session.execute(text(sql), params).one()


def test_i28_reseller_rows_are_what_the_app_would_have_written(app, built):
    s, keys_before = built
    with app.app_context():
        check_rows(s, keys_before)


def check_rows(s, keys_before) -> None:
    assert constraints() == keys_before  # every index and key made again after the bulk load
    assert one("SELECT count(*) FROM subscriptions WHERE account_id = :a", a=s.payg_account) == (SUBSCRIPTIONS,)
    assert one("SELECT count(*) FROM payments WHERE account_id = :a", a=s.payg_account) == (SUBSCRIPTIONS * 10,)
    assert one("SELECT count(*) FROM charges") == (SUBSCRIPTIONS * 10,)
    assert outstanding_drift() == []
    # Most past due on the failed card, some on the second, one in ten active on the third.
    by_method = dict(db.session.execute(text(
        "SELECT status || ':' || payment_method_id, count(*) FROM subscriptions WHERE account_id = :a "
        "GROUP BY 1"), dict(a=s.payg_account)).all())
    failed = one("SELECT payment_method_id FROM subscriptions WHERE id = :id", id=s.settle_subscription)[0]
    assert by_method == {f"past_due:{failed}": 176, f"past_due:{s.second_card}": 4,
                         f"active:{s.second_card + 1}": 20}
    # A past-due subscription owes its two newest months; every other charge is paid by
    # a payment of its own, of its amount, on its account.
    assert one("""SELECT count(*) FILTER (WHERE c.status = 'outstanding' AND c.payment_id IS NOT NULL),
                         count(*) FILTER (WHERE c.status = 'paid' AND (p.id IS NULL OR p.amount_minor <> c.amount_minor
                                                                       OR p.account_id <> s.account_id)),
                         count(*) FILTER (WHERE c.status = 'outstanding' AND s.status <> 'past_due'),
                         count(DISTINCT c.payment_id) = count(c.payment_id)
                  FROM charges c JOIN subscriptions s ON s.id = c.subscription_id
                  LEFT JOIN payments p ON p.id = c.payment_id""") == (0, 0, 0, True)
    assert one("SELECT min(outstanding_charges), max(outstanding_charges) FROM subscriptions "
               "WHERE status = 'past_due'") == (2, 2)
    # Invoices: paid ones by a payment of their amount, allocated and received in full.
    assert one("""SELECT count(*), count(*) FILTER (WHERE i.status = 'paid'),
                         count(*) FILTER (WHERE i.status = 'paid' AND (i.paid_minor <> i.subtotal_minor
                                          OR ip.amount_minor <> i.subtotal_minor OR p.amount_minor <> i.subtotal_minor
                                          OR ip.payment_id <> i.payment_id)),
                         count(*) FILTER (WHERE i.status <> 'paid' AND (i.paid_minor <> 0 OR ip.id IS NOT NULL))
                  FROM invoices i LEFT JOIN invoice_payments ip ON ip.invoice_id = i.id
                  LEFT JOIN payments p ON p.id = i.payment_id
                  WHERE i.billing_profile_id = :profile""", profile=s.profile) == (INVOICES, INVOICES - 2, 0, 0)
    assert one("SELECT count(*) FROM invoice_lines") == (INVOICES * 3,)


def test_i28_every_bench_page_shows_the_reseller(app, built):
    s, _ = built
    for name, (email, path, headers) in urls(s).items():
        if name == "baseline":  # only with PORTAL_BENCHMARK on
            continue
        response = signed_in(app, email).get(path, headers=headers)
        assert response.status_code == 200, (name, path, response.get_data(as_text=True)[:300])
    page = signed_in(app, s.payg_email).get(urls(s)["settle"][1]).get_data(as_text=True)
    with app.app_context():
        owed = int(one("SELECT sum(outstanding_minor) FROM subscriptions WHERE payment_method_id = "
                       "(SELECT payment_method_id FROM subscriptions WHERE id = :id)", id=s.settle_subscription)[0])
    digits = "".join(page.split()).replace("\u00a0", "").replace("\u202f", "")
    assert f"{owed // 100},{owed % 100:02d}" in digits, (owed, "the failed card's total is not on Settle balance")
