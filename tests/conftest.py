"""flaskr-style fixtures: a real SQLite file per test (or PostgreSQL when
DATABASE_URL is set), the sandbox gateway with its own ledger, a fixed clock."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import date

import pytest

from portal import create_app
from portal.billing.clock import FixedClock
from portal.billing.context import Billing
from portal.config import for_tests
from portal.extensions import db
from portal.services import policy

TODAY = date(2026, 11, 25)
FAST_HASH = "pbkdf2:sha256:1000"  # demo passwords hashed cheaply: tests seed often


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogs():
    """The .mo files the portal reads, built from the committed .po files."""
    from portal.catalogs import compile_all
    assert compile_all() == []


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(TODAY)


@pytest.fixture
def app(tmp_path, clock):
    app = create_app(for_tests(tmp_path, PASSWORD_HASH_METHOD=FAST_HASH))
    app.extensions["clock"] = clock
    with app.app_context():
        fresh_schema()
    yield app
    with app.app_context():
        db.session.remove()
        assert outstanding_drift() == [], "Subscription.outstanding_* not recounted after a write"
        assert ledger_drift(app.extensions["payment_gateway"]) == [], "the gateway's ledger and ours disagree"
        db.session.remove()
        db.engine.dispose()  # SQLite files go with tmp_path; PostgreSQL is reset at setup
    app.extensions["payment_gateway"].close()


def fresh_schema() -> None:
    """Empty tables for this test (in an application context): a new SQLite file, or on
    PostgreSQL whatever an earlier test or run left behind dropped."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    db.create_all()


@contextmanager
def separate_app(tmp_path, **config):
    """An application of its own (other settings than the `app` fixture's), on a fresh
    schema, its connections closed afterwards."""
    app = create_app(for_tests(tmp_path, **config))
    try:
        with app.app_context():
            fresh_schema()
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        app.extensions["payment_gateway"].close()


def outstanding_drift() -> list[tuple]:
    """Subscriptions whose stored outstanding figures differ from their charges:
    checked after every test, so a write path that forgets to recount fails."""
    from sqlalchemy import func, inspect, select
    from portal.models import Charge, ChargeStatus, Subscription
    if "subscriptions" not in inspect(db.engine).get_table_names():
        return []
    owed = (select(Charge.subscription_id, func.count().label("n"), func.sum(Charge.amount_minor).label("minor"))
            .where(Charge.status == ChargeStatus.OUTSTANDING).group_by(Charge.subscription_id).subquery())
    return [tuple(row) for row in db.session.execute(
        select(Subscription.id, Subscription.outstanding_charges, Subscription.outstanding_minor,
               owed.c.n, owed.c.minor)
        .outerjoin(owed, owed.c.subscription_id == Subscription.id)
        .where((Subscription.outstanding_charges != func.coalesce(owed.c.n, 0))
               | (Subscription.outstanding_minor != func.coalesce(owed.c.minor, 0))))]


def ledger_drift(gateway) -> list[tuple]:
    """M6, checked after every test: each charge the gateway approved is a recorded
    payment of the same amount, or an attempt still open (to be finished under its
    key); no payment stands for a charge the gateway declined or made for another
    amount. (Payments a test writes by hand, with no charge behind them, are not
    in the ledger and not compared.)"""
    from sqlalchemy import select
    from portal.models import Payment, UnconfirmedPayment
    recorded = {key: (minor, currency) for key, minor, currency in db.session.execute(
        select(Payment.idempotency_key, Payment.amount_minor, Payment.currency))}
    open_keys = set(db.session.scalars(select(UnconfirmedPayment.idempotency_key)))
    problems = []
    for entry in gateway.ledger():
        payment = recorded.get(entry.idempotency_key)
        if entry.approved and payment != (entry.amount.minor, entry.amount.currency) \
                and entry.idempotency_key not in open_keys:
            problems.append(("charged, not recorded", entry.idempotency_key, entry.amount.minor, payment))
        if not entry.approved and payment is not None:
            problems.append(("recorded, but declined", entry.idempotency_key, payment))
    return problems


@pytest.fixture
def b(app, clock):
    """The service layer's collaborators, inside an application context."""
    with app.app_context():
        yield Billing(db.session(), app.extensions["payment_gateway"], clock, policy())


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
