"""flaskr-style fixtures: a real SQLite file per test (or PostgreSQL when
DATABASE_URL is set), the sandbox gateway with its own ledger, a fixed clock.

Under pytest-xdist (`python3 dev.py test` runs `-n auto`) every worker has
databases of its own (see `pytest_configure`); ports and temporary folders are
already per test. What else keeps CI inside its budget: README, "Continuous
integration"."""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from datetime import date

import pytest
from hypothesis import settings

from portal import create_app
from portal.billing.clock import FixedClock
from portal.billing.context import Billing
from portal.config import for_tests
from portal.extensions import db
from portal.services import policy
from tests import databases

TODAY = date(2026, 11, 25)
FAST_HASH = "pbkdf2:sha256:1000"  # demo passwords hashed cheaply: tests seed often

# Hypothesis profiles, chosen by HYPOTHESIS_PROFILE: `ci` (.ci/run sets it) runs each
# property with the examples it asks for — enough to matter — and `dev` (the default)
# with a quarter of them, for a quick run while working. No deadline in either: a busy
# machine is not a slow property.
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "dev")
settings.register_profile("ci", max_examples=100, deadline=None, print_blob=True)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.load_profile(HYPOTHESIS_PROFILE)


def examples(wanted: int) -> int:
    """A property's own number of examples under the `ci` profile; a quarter (at least
    5) under `dev`."""
    return wanted if HYPOTHESIS_PROFILE == "ci" else max(5, wanted // 4)


def pytest_configure(config):
    """Each xdist worker (and a run without xdist) gets PostgreSQL databases of its own,
    created when missing: one for in-process tests (DATABASE_URL) and another for the
    live deployments (TEST_POSTGRES_URL), so no two processes reset the same one. The
    xdist controller runs no tests and keeps the URLs as given."""
    if not hasattr(config, "workerinput"):  # the run itself, with or without xdist
        os.environ["PORTAL_TEST_RUN_STARTED"] = repr(time.time())  # xdist workers inherit it
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    for variable, purpose in (("DATABASE_URL", ""), ("TEST_POSTGRES_URL", "live")):
        url = os.environ.get(variable, "")
        if url.startswith(("postgres://", "postgresql")):
            os.environ[variable] = databases.own_postgres_database(url, purpose, worker)


# Tests that start servers of their own and choose their database themselves, whatever
# DATABASE_URL says: the browser's server is always SQLite, the live deployments run on
# both databases as parameters. The PostgreSQL run of .ci/run leaves them out
# (`-m "not fixed_backend"`): they would only repeat themselves.
FIXED_BACKEND = ("tests/browser/", "tests/server/")
# Tests whose every assertion is about something no database changes — the catalogs and
# rendered wording, the docs, the code's shape, PDF tags, HTML attributes, emails'
# accessibility — even where they seed a database on the way. The PostgreSQL run of
# .ci/run leaves them out too (`-m "not database_independent"`; two minutes of it).
DATABASE_INDEPENDENT = ("tests/i18n/", "tests/test_docs.py", "tests/test_architecture.py",
                        "tests/web/test_i30_pdf_tags.py", "tests/web/test_i28_fast_widgets.py",
                        "tests/billing/test_remittance.py", "tests/billing/test_i30_seller_and_xml.py",
                        "tests/mail/test_accessibility.py")


def pytest_collection_modifyitems(config, items):
    root = config.rootpath
    for item in items:
        path = item.path.relative_to(root).as_posix()
        if path.startswith(FIXED_BACKEND):
            item.add_marker(pytest.mark.fixed_backend)
        if path.startswith(DATABASE_INDEPENDENT):
            item.add_marker(pytest.mark.database_independent)
        if path.startswith("tests/browser/"):  # every test there drives Chromium
            item.add_marker(pytest.mark.chromium)


def xdist_group(nodeid: str) -> str:
    """The unit of work xdist hands to one worker. Every browser test is in one unit:
    Chromium keeps more than one core busy by itself, so two browser tests side by
    side only slow each other down (measured: 2.2 times slower each), while an
    in-process test beside one costs it little. The live deployments are a unit per
    database, so each is started once. Every other test is a unit of its own, for
    whichever worker is free."""
    if nodeid.startswith("tests/browser/"):
        return "browser"
    if nodeid.startswith("tests/server/"):
        return "live-postgresql" if "[postgresql" in nodeid else "live-sqlite"
    return nodeid


def pytest_xdist_make_scheduler(config, log):
    """xdist's `loadscope` with the groups above (its `loadgroup` marks cannot be used:
    it renames test ids, which pytest 9.2 no longer lets a plugin do). The biggest
    groups are handed out first."""
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_group(nodeid)

    return GroupScheduling(config, log)


@pytest.fixture(autouse=True)
def wall_clock_check(request, monkeypatch):
    """M7: a test that reads the system clock's day or time through the portal
    (portal.billing.clock.wall_clock: SystemClock, PinnedDayClock, the sandbox's own
    calendar) must say so with @pytest.mark.wall_clock: those tests run again at each
    moved-clock moment of .ci/run, the rest once. (Servers in processes of their own
    are not seen here: their tests run in the whole moved-clock run.)"""
    from portal.billing import clock as clock_module
    reads, real = [], clock_module.wall_clock

    def counted():
        reads.append(1)
        return real()

    monkeypatch.setattr(clock_module, "wall_clock", counted)
    yield
    if reads and request.node.get_closest_marker("wall_clock") is None:
        pytest.fail(f"{request.node.nodeid} read the system clock ({len(reads)} times) without the "
                    "`wall_clock` marker: add @pytest.mark.wall_clock, so the moved-clock runs of "
                    ".ci/run try it on every hard day (or give it a fixed clock).", pytrace=False)


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
        assert figures_drift() == [], "the kept subscription figures differ from a recount"
        assert ledger_drift(app.extensions["payment_gateway"]) == [], "the gateway's ledger and ours disagree"
        db.session.remove()
        db.engine.dispose()  # SQLite files go with tmp_path; PostgreSQL is emptied at setup
    app.extensions["payment_gateway"].close()


def fresh_schema() -> None:
    """Empty tables for this test (in an application context): a new SQLite file, or on
    PostgreSQL the rows an earlier test left behind deleted (tests/databases.py)."""
    databases.fresh_schema(db.engine, db.metadata)


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


def figures_drift() -> list[tuple]:
    """Issue 28, checked after every test: the figures the triggers keep
    (portal/figures.py) against a recount of the subscriptions — each row that is in
    one and not the other, so whatever a test wrote, they still agree."""
    from sqlalchemy import inspect, text
    from portal import figures
    if "subscription_figures" not in inspect(db.engine).get_table_names():
        return []  # a migration test's schema from before them
    kept = f"SELECT {figures.KEY}, {figures.VALUES} FROM {figures.TABLE}"
    recount = f"SELECT * FROM ({figures.RECOUNT}) AS recount"
    return [tuple(row) for row in db.session.execute(text(
        f"SELECT 'kept', * FROM ({kept} EXCEPT {recount}) AS only_kept "
        f"UNION ALL SELECT 'recount', * FROM ({recount} EXCEPT {kept}) AS only_recounted"))]


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
