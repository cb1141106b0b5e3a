"""Set-up: configuration, migrations, demo data and the CLI."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from portal import create_app
from portal.config import ConfigError, for_tests, from_environment
from portal.extensions import db
from portal.models import (Charge, Invoice, InvoiceStatus, PaymentMethod, Role, RoleAssignment,
                           Subscription, SubscriptionStatus, User)


def test_secret_key_is_required_outside_development():
    with pytest.raises(ConfigError):
        from_environment({"PORTAL_ENV": "production"})
    config = from_environment({"PORTAL_ENV": "production", "SECRET_KEY": "s3cret"})
    assert config["SESSION_COOKIE_SECURE"] is True


def test_defaults_are_an_sqlite_file_under_instance_and_contoso():
    config = from_environment({})
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert config["SQLALCHEMY_DATABASE_URI"].endswith("instance/portal.sqlite")
    assert config["PROVIDER_NAME"] == "Contoso Cloud"
    assert config["GRACE_PERIOD_DAYS"] == 30
    pg = from_environment({"DATABASE_URL": "postgres://u:p@h/db", "GRACE_PERIOD_DAYS": "14"})
    assert pg["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@h/db"
    assert pg["GRACE_PERIOD_DAYS"] == 14
    with pytest.raises(ConfigError):
        from_environment({"GRACE_PERIOD_DAYS": "thirty"})


@pytest.fixture
def empty_app(tmp_path, clock):
    """An app on an empty database (no create_all): for the migrations to build. Its
    clock is the tests' (a row written stamps updated_at from it)."""
    app = create_app(for_tests(tmp_path))
    app.extensions["clock"] = clock
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    app.extensions["payment_gateway"].close()


def test_migrations_build_exactly_the_models_schema(empty_app):
    """`flask db upgrade` gives the same schema as the models: no forgotten migration."""
    runner = empty_app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with empty_app.app_context():
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == []
        assert runner.invoke(args=["db", "downgrade", "base"]).exit_code == 0  # and back


def test_r07_upgrading_recounts_what_existing_subscriptions_owe(empty_app):
    """f4d99dbf0521 adds the stored outstanding figures: a database that already has
    charges gets them counted, so Settle balance shows the same total after upgrading."""
    from sqlalchemy import MetaData, Table, insert
    app, runner = empty_app, empty_app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", "8ed8e6f7b899"]).exit_code == 0
    with app.app_context(), db.engine.begin() as conn:
        old = MetaData()
        table = {name: Table(name, old, autoload_with=conn)
                 for name in ("billing_accounts", "subscriptions", "charges")}
        [account] = conn.execute(insert(table["billing_accounts"]).returning(table["billing_accounts"].c.id), [
            dict(kind="pay_as_you_go", name="Old", currency="SEK", notification_email="old@example.com",
                 created_on=date(2026, 1, 1))]).scalars()
        owing, paid_up = conn.execute(insert(table["subscriptions"]).returning(
            table["subscriptions"].c.id, sort_by_parameter_order=True), [
            dict(account_id=account, name=name, status=status, monthly_fee_minor=100_00,
                 started_on=date(2026, 1, 1)) for name, status in (("A", "past_due"), ("B", "active"))]).scalars()
        conn.execute(insert(table["charges"]), [
            dict(subscription_id=sub, amount_minor=amount, currency="SEK", period_start=date(2026, month, 1),
                 period_end=date(2026, month, 28), status=status)
            for sub, amount, month, status in ((owing, 100_00, 9, "outstanding"), (owing, 250_00, 10, "outstanding"),
                                               (owing, 100_00, 8, "paid"), (paid_up, 100_00, 10, "paid"))])
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with app.app_context():
        figures = {sub.id: (sub.outstanding_charges, sub.outstanding_minor)
                   for sub in db.session.scalars(select(Subscription))}
        assert figures == {owing: (2, 350_00), paid_up: (0, 0)}


def test_i28_upgrading_fills_the_kept_figures_from_the_subscriptions_there(empty_app):
    """e9c4a7b1d3f2 adds the kept figures (portal/figures.py): a database that already
    has subscriptions gets them counted, and from then on its triggers keep them;
    downgrading takes the triggers away with the table."""
    from sqlalchemy import MetaData, Table, insert, inspect, text
    from tests.conftest import figures_drift
    app, runner = empty_app, empty_app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", "b2d6f0a8c4e1"]).exit_code == 0
    with app.app_context(), db.engine.begin() as conn:
        old = MetaData()
        table = {name: Table(name, old, autoload_with=conn)
                 for name in ("billing_accounts", "payment_methods", "subscriptions")}
        [account] = conn.execute(insert(table["billing_accounts"]).returning(table["billing_accounts"].c.id), [
            dict(kind="pay_as_you_go", name="Old", currency="SEK", notification_email="old@example.com",
                 created_on=date(2026, 1, 1))]).scalars()
        [card] = conn.execute(insert(table["payment_methods"]).returning(table["payment_methods"].c.id), [
            dict(account_id=account, kind="card", created_at=datetime(2026, 1, 1))]).scalars()
        conn.execute(insert(table["subscriptions"]), [
            dict(account_id=account, name=name, status=status, payment_method_id=method, monthly_fee_minor=100_00,
                 started_on=date(2026, 1, 1), outstanding_charges=charges, outstanding_minor=charges * 100_00)
            for name, status, method, charges in (("A", "past_due", card, 2), ("B", "past_due", card, 1),
                                                  ("C", "active", card, 0), ("D", "active", None, 0))])
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with app.app_context():
        kept = {tuple(row) for row in db.session.execute(text(
            "SELECT account_id, payment_method_id, status, owing, subscriptions, outstanding_charges, "
            "outstanding_minor FROM subscription_figures"))}
        assert kept == {(account, card, "past_due", True, 2, 3, 300_00), (account, card, "active", False, 1, 0, 0),
                        (account, 0, "active", False, 1, 0, 0)}
        db.session.execute(text("UPDATE subscriptions SET status = 'active', outstanding_charges = 0, "
                                "outstanding_minor = 0"))
        assert figures_drift() == []
        db.session.commit()
    assert runner.invoke(args=["db", "downgrade", "b2d6f0a8c4e1"]).exit_code == 0
    with app.app_context(), db.engine.begin() as conn:
        assert "subscription_figures" not in inspect(conn).get_table_names()
        conn.execute(text("UPDATE subscriptions SET status = 'past_due'"))  # no trigger left behind


def test_i27_upgrading_keeps_every_amount_and_then_holds_amounts_above_32_bits(empty_app):
    """4e42e2d6a59b makes the money columns 64-bit. On SQLite that copies tables other rows
    refer to (subscriptions, invoices…), which runs with foreign keys off: they are on again after."""
    from sqlalchemy import MetaData, Table, insert
    from sqlalchemy.exc import IntegrityError
    app, runner = empty_app, empty_app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", "f8b3d5e7a9c1"]).exit_code == 0
    with app.app_context(), db.engine.begin() as conn:
        old = MetaData()
        accounts, subscriptions, charges = (Table(name, old, autoload_with=conn)
                                            for name in ("billing_accounts", "subscriptions", "charges"))
        [account] = conn.execute(insert(accounts).returning(accounts.c.id), [dict(
            kind="pay_as_you_go", name="Old", currency="SEK", notification_email="old@example.com",
            created_on=date(2026, 1, 1))]).scalars()
        [sub] = conn.execute(insert(subscriptions).returning(subscriptions.c.id), [dict(
            account_id=account, name="A", status="active", monthly_fee_minor=2**31 - 1,
            started_on=date(2026, 1, 1))]).scalars()
        conn.execute(insert(charges), [dict(subscription_id=sub, amount_minor=2**31 - 1, currency="SEK",
                                            period_start=date(2026, 9, 1), period_end=date(2026, 9, 30),
                                            status="outstanding")])
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with app.app_context():
        charge = db.session.scalars(select(Charge)).one()
        assert (charge.amount_minor, charge.subscription.monthly_fee_minor) == (2**31 - 1, 2**31 - 1)
        charge.amount_minor = charge.subscription.monthly_fee_minor = 25_000_000_00
        db.session.commit()
        db.session.expire_all()
        assert db.session.scalars(select(Charge.amount_minor)).one() == 25_000_000_00
        db.session.add(Charge(subscription_id=sub + 1, amount_minor=1, currency="SEK",
                              period_start=date(2026, 10, 1), period_end=date(2026, 10, 31), status="outstanding"))
        with pytest.raises(IntegrityError):  # a charge of no subscription: foreign keys are enforced
            db.session.commit()
        db.session.rollback()


def test_sqlite_uses_wal_and_a_busy_timeout(app):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite settings; PostgreSQL locks rows instead")
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_demo_seed_shows_every_state(runner, app):
    result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    assert "anna@example.com" in result.output and "rasmus@example.com" in result.output
    with app.app_context():
        statuses = set(db.session.scalars(select(Subscription.status)))
        assert {SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE, SubscriptionStatus.DISABLED} <= statuses
        assert set(db.session.scalars(select(Invoice.status))) == set(InvoiceStatus)
        roles = set(db.session.scalars(select(RoleAssignment.role)))
        assert roles == set(Role)
        # Several past-due subscriptions share one failed card (R04).
        shared = db.session.execute(
            select(Subscription.payment_method_id, func.count()).where(
                Subscription.status == SubscriptionStatus.PAST_DUE)
            .group_by(Subscription.payment_method_id)).all()
        assert max(n for _, n in shared) >= 2
        cards = db.session.scalars(select(PaymentMethod).where(PaymentMethod.kind == "card")).all()
        assert len(cards) >= 4 and all(m.gateway_token and len(m.last4) == 4 for m in cards)
        assert db.session.scalar(select(func.count()).select_from(Charge)) > 0
    again = runner.invoke(args=["demo", "seed"])
    assert "left as it is" in again.output
    with app.app_context():
        # jonas, an EU business (B17); sara, Autogiro (B23)
        assert db.session.scalar(select(func.count()).select_from(User)) == 8


def test_billing_cycle_command_runs_a_range_and_rejects_bad_dates(runner, app):
    runner.invoke(args=["demo", "seed"])
    result = runner.invoke(args=["billing", "cycle", "--date", "2026-12-01", "--until", "2026-12-02"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line[:11] for line in lines[:2]] == ["2026-12-01:", "2026-12-02:"]
    # November: the four subscriptions not disabled, and Arkiv (disabled on 15 November)
    # for the 1st to the 14th (B16); and the EU business's Cloud hosting (issue 30).
    # One invoice for each customer agreement (Fjällström, Sjöberg).
    assert lines[2].startswith("2026-12-01 – 2026-12-02 in all: 6 charges, 2 invoices") and len(lines) == 3
    assert result.stderr == ""  # a handful of accounts: no progress bar
    again = runner.invoke(args=["billing", "cycle", "--date", "2026-12-01"])
    assert "0 charges, 0 invoices" in again.output
    bad = runner.invoke(args=["billing", "cycle", "--date", "1 december"])
    assert bad.exit_code != 0 and "not a date" in bad.output


def test_mail_settings_default_to_files_in_development_and_smtp_elsewhere():
    dev = from_environment({})
    assert dev["MAIL_BACKEND"] == "file" and dev["MAIL_DIR"].endswith("instance/mail")
    assert dev["PORTAL_BASE_URL"] == "http://127.0.0.1:5000" and dev["DISABLE_WARNING_DAYS"] == (7, 1)
    prod = from_environment({"PORTAL_ENV": "production", "SECRET_KEY": "s", "MAIL_SMTP_SECURITY": "ssl",
                             "PORTAL_BASE_URL": "https://billing.example.com/", "DISABLE_WARNING_DAYS": "1, 14"})
    assert (prod["MAIL_BACKEND"], prod["MAIL_SMTP_PORT"]) == ("smtp", 465)
    assert prod["PORTAL_BASE_URL"] == "https://billing.example.com"
    assert prod["DISABLE_WARNING_DAYS"] == (14, 1)
    for bad in ({"MAIL_BACKEND": "pigeon"}, {"MAIL_SMTP_SECURITY": "tls1"}, {"PORTAL_BASE_URL": "billing.example.com"},
                {"DISABLE_WARNING_DAYS": "seven"}, {"DISABLE_WARNING_DAYS": "0"}, {"MAIL_SMTP_PORT": "x"}):
        with pytest.raises(ConfigError):
            from_environment(bad)


def test_billing_cycle_shows_a_progress_bar_on_stderr_for_many_accounts(runner, app):
    from datetime import date

    from portal.billing.clock import FixedClock
    from portal.billing.context import Billing
    from portal.services import policy
    from tests import factories as f

    with app.app_context():
        b = Billing(db.session(), app.extensions["payment_gateway"], FixedClock(date(2026, 11, 25)), policy())
        account = f.account(b)
        card = f.card(b, account)
        for _ in range(60):
            f.subscription(b, account, card, fee=10_00)
        db.session.commit()
    result = runner.invoke(args=["billing", "cycle", "--date", "2026-12-01"])
    assert result.exit_code == 0
    assert result.stdout.startswith("2026-12-01: 60 charges") and result.stdout.count("\n") == 1
    assert "2026-12-01" in result.stderr  # the bar's label (the bar itself only on a terminal)
def test_browser_tests_skip_loudly_without_chromium_and_fail_under_require_browser(tmp_path):
    """On a machine without Chromium the browser tests skip and say why; with
    REQUIRE_BROWSER=1 (as .ci/run sets) the same run fails instead."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    test = "tests/browser/test_helpers.py::test_a_sound_page_passes_every_check"
    env = {k: v for k, v in os.environ.items() if k != "REQUIRE_BROWSER"}
    env["CHROMIUM_PATH"] = str(tmp_path / "no-chromium-here")

    def run(**extra):
        return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", test],
                              cwd=root, env={**env, **extra}, capture_output=True, text=True, timeout=120)

    skipped = run()
    assert skipped.returncode == 0, skipped.stdout[-2000:]
    assert "1 skipped" in skipped.stdout and "BROWSER TESTS NOT RUN" in skipped.stdout
    assert "browser tests skipped" in skipped.stdout  # the summary section at the end
    required = run(REQUIRE_BROWSER="1")
    assert required.returncode != 0
    assert "REQUIRE_BROWSER=1, so this is a failure" in required.stdout


def test_i28_upgrading_keeps_an_open_attempts_allocation_one_row_per_subscription(empty_app):
    """d39a5c7e1f02 writes an attempt's allocation per subscription (its charges up to
    the highest id priced): an attempt open while the database is upgraded keeps what
    it pays — a subscription's charge rows become one with their sum, invoice shares
    stay — and downgrading gives the charge rows back."""
    from sqlalchemy import MetaData, Table, insert, text
    app, runner = empty_app, empty_app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", "d30a1b7c5e42"]).exit_code == 0
    with app.app_context(), db.engine.begin() as conn:
        old = MetaData()
        table = {name: Table(name, old, autoload_with=conn) for name in (
            "billing_accounts", "subscriptions", "charges", "unconfirmed_payments", "attempt_allocations")}

        def add(name, rows):
            return list(conn.execute(insert(table[name]).returning(table[name].c.id), rows).scalars())
        [account] = add("billing_accounts", [dict(kind="pay_as_you_go", name="Old", currency="SEK",
                                                  notification_email="old@example.com", created_on=date(2026, 1, 1))])
        subs = add("subscriptions", [dict(account_id=account, name=name, status="past_due", monthly_fee_minor=100_00,
                                          started_on=date(2026, 1, 1)) for name in ("A", "B")])
        charges = add("charges", [dict(subscription_id=sub, amount_minor=minor, currency="SEK", status=status,
                                       period_start=date(2026, month, 1), period_end=date(2026, month, 28))
                                  for sub, month, minor, status in ((subs[0], 1, 100_00, "outstanding"),
                                                                    (subs[0], 2, 150_00, "outstanding"),
                                                                    (subs[1], 1, 70_00, "outstanding"),
                                                                    (subs[1], 2, 90_00, "paid"))])
        [attempt] = add("unconfirmed_payments", [dict(idempotency_key="k", account_id=account, purpose="settle",
                                                      amount_minor=320_00, currency="SEK", state="pending",
                                                      created_at=datetime(2026, 3, 1))])
        add("attempt_allocations", [dict(attempt_id=attempt, charge_id=charge, amount_minor=minor)
                                    for charge, minor in ((charges[0], 100_00), (charges[1], 150_00),
                                                          (charges[2], 70_00))])
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with app.app_context():
        rows = db.session.execute(text("SELECT attempt_id, subscription_id, up_to_charge_id, invoice_id, amount_minor "
                                       "FROM attempt_allocations ORDER BY subscription_id")).all()
        assert [tuple(row) for row in rows] == [(attempt, subs[0], charges[1], None, 250_00),
                                                (attempt, subs[1], charges[2], None, 70_00)]
        db.session.rollback()
    assert runner.invoke(args=["db", "downgrade", "d30a1b7c5e42"]).exit_code == 0
    with app.app_context():
        rows = db.session.execute(text("SELECT attempt_id, charge_id, amount_minor FROM attempt_allocations "
                                       "ORDER BY charge_id")).all()
        assert [tuple(row) for row in rows] == [(attempt, charges[0], 100_00), (attempt, charges[1], 150_00),
                                                (attempt, charges[2], 70_00)]
        db.session.rollback()
