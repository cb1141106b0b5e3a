"""Set-up: configuration, migrations, demo data and the CLI."""
from __future__ import annotations


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


def test_migrations_build_exactly_the_models_schema(tmp_path):
    """`flask db upgrade` gives the same schema as the models: no forgotten migration."""
    app = create_app(for_tests(tmp_path))
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    try:
        with app.app_context():
            with db.engine.connect() as conn:
                diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
            assert diff == []
            assert runner.invoke(args=["db", "downgrade", "base"]).exit_code == 0  # and back
    finally:
        with app.app_context():
            db.engine.dispose()
        app.extensions["payment_gateway"].close()


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
        assert db.session.scalar(select(func.count()).select_from(User)) == 6


def test_billing_cycle_command_runs_a_range_and_rejects_bad_dates(runner, app):
    runner.invoke(args=["demo", "seed"])
    result = runner.invoke(args=["billing", "cycle", "--date", "2026-12-01", "--until", "2026-12-02"])
    assert result.exit_code == 0, result.output
    assert result.output.count("\n") == 2 and result.output.startswith("2026-12-01:")
    again = runner.invoke(args=["billing", "cycle", "--date", "2026-12-01"])
    assert "0 charges, 0 invoices" in again.output
    bad = runner.invoke(args=["billing", "cycle", "--date", "1 december"])
    assert bad.exit_code != 0 and "not a date" in bad.output


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
