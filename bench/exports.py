"""The payments export (B9, issue 28 item 3): rows per second and memory of streaming a
large account's whole CSV file.

`python -m bench.exports [--database-url URL] [--payments N]` (default 1,000,000 on
PostgreSQL, 100,000 on SQLite). The database is WIPED and built by `flask db upgrade`;
the payments are made set-based (`generate_series`, or a recursive CTE on SQLite): one
account, two cards, payments four to a second (ties in created_at), every tenth paying a
charge of one of 1,000 subscriptions and every tenth an invoice. Measured in one run:
- the baseline: reading the same rows by the same index range, a batch at a time,
  and nothing else (what the database gives at best);
- the export: every line of the file as the download streams it (the generator
  the view returns, in Swedish: semicolons, decimal comma), its rows/s as a ratio to
  the baseline's, and how much the process's peak resident memory grew meanwhile.
"""
from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select, text, tuple_

from bench.run import own_environment

BUDGET_ROWS_PER_S = 20_000
START = datetime(2025, 1, 1)


def _series(dialect: str, n: int) -> str:
    if dialect == "postgresql":
        return f"generate_series(1, {n}) AS s(i)"
    return f"(WITH RECURSIVE t(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM t WHERE i < {n}) SELECT i FROM t) AS s"


def _at(dialect: str, seconds: str) -> str:
    """START + `seconds` as the column stores it (SQLite: SQLAlchemy's text form)."""
    if dialect == "postgresql":
        return f"TIMESTAMP '{START:%Y-%m-%d %H:%M:%S}' + ({seconds}) * INTERVAL '1 second'"
    return f"datetime('{START:%Y-%m-%d %H:%M:%S}', '+' || ({seconds}) || ' seconds') || '.000000'"


def _day(dialect: str, days: str) -> str:
    if dialect == "postgresql":
        return f"DATE '2020-01-01' + ({days})"
    return f"date('2020-01-01', '+' || ({days}) || ' days')"


def seed(session, payments: int) -> tuple[int, int]:
    """The account and its administrator: (account id, user id)."""
    from portal.models import (AccountKind, BillingAccount, BillingProfile, MethodKind, PaymentMethod, Role,
                               RoleAssignment, Subscription, SubscriptionStatus, User)

    dialect = session.get_bind().dialect.name
    user = User(email="export@bench.example", name="Export", password_hash="-", locale="sv")
    account = BillingAccount(kind=AccountKind.PAY_AS_YOU_GO, name="Export", currency="SEK",
                             notification_email="export@bench.example", created_on=date(2024, 1, 1))
    session.add_all([user, account])
    session.flush()
    session.add(RoleAssignment(user_id=user.id, account_id=account.id, role=Role.ACCOUNT_ADMIN))
    cards = [PaymentMethod(account_id=account.id, kind=MethodKind.CARD, brand=brand, last4=last4, exp_month=12,
                           exp_year=2031, holder_name="Bench", gateway_token=f"tok_{last4}", created_at=START)
             for brand, last4 in (("visa", "4242"), ("mastercard", "4444"))]
    profile = BillingProfile(account_id=account.id, name="Export")
    session.add_all(cards + [profile])
    session.flush()
    session.add_all([Subscription(account_id=account.id, name=f"Prenumeration {n:04d}", monthly_fee_minor=100_00,
                                  status=SubscriptionStatus.ACTIVE, payment_method_id=cards[0].id,
                                  started_on=date(2024, 1, 1)) for n in range(1_000)])
    session.flush()
    first_sub = session.scalar(text("SELECT min(id) FROM subscriptions WHERE account_id = :a"), {"a": account.id})
    first_payment = (session.scalar(text("SELECT coalesce(max(id), 0) FROM payments")) or 0) + 1
    series = _series(dialect, payments)
    session.execute(text(
        "INSERT INTO payments (id, idempotency_key, account_id, payment_method_id, purpose, amount_minor, currency,"
        " gateway_reference, created_at) "
        f"SELECT {first_payment - 1} + i, 'export-' || i, {account.id}, "
        f"CASE WHEN i % 3 = 0 THEN {cards[1].id} ELSE {cards[0].id} END, "
        "CASE WHEN i % 10 = 0 THEN 'invoice' WHEN i % 2 = 0 THEN 'settle' ELSE 'auto_charge' END, "
        f"10000 + i % 9000, 'SEK', 'bench', {_at(dialect, 'i / 4')} FROM {series}"))
    session.execute(text(
        "INSERT INTO charges (subscription_id, amount_minor, currency, period_start, period_end, status, payment_id) "
        f"SELECT {first_sub} + (i / 10) % 1000, 10000, 'SEK', {_day(dialect, 'i / 10000')}, "
        f"{_day(dialect, 'i / 10000')}, 'paid', {first_payment - 1} + i FROM {series} WHERE i % 10 = 5"))
    session.execute(text(
        "INSERT INTO invoices (billing_profile_id, number, currency, period_start, period_end, issued_on, due_on,"
        " status, subtotal_minor, credits_applied_minor, paid_minor, paid_on, payment_id, updated_at) "
        f"SELECT {profile.id}, '7' || i, 'SEK', {_day(dialect, 'i')}, {_day(dialect, 'i')}, {_day(dialect, 'i')}, "
        f"{_day(dialect, 'i')}, 'paid', 10000, 0, 10000, {_day(dialect, 'i')}, {first_payment - 1} + i, "
        f"{_at(dialect, 'i / 4')} "
        f"FROM {series} WHERE i % 10 = 0"))
    session.execute(text(
        "INSERT INTO invoice_payments (invoice_id, payment_id, amount_minor) "
        "SELECT id, payment_id, 10000 FROM invoices WHERE billing_profile_id = :p"), {"p": profile.id})
    if dialect == "postgresql":
        session.execute(text("SELECT setval('payments_id_seq', (SELECT max(id) FROM payments))"))
    session.commit()
    if dialect == "postgresql":
        session.execute(text("ANALYZE"))
        session.commit()
    return account.id, user.id


def _peak_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB on Linux


def measure(database_url: str | None = None, payments: int | None = None) -> dict:
    """The figures of one run (see the module's doc). `database_url` is WIPED."""
    workdir = Path(tempfile.mkdtemp(prefix="portal-export-"))
    try:
        env = own_environment(workdir, database_url)
        from portal import create_app, exports
        from portal.billing.accounts import history
        from portal.billing.accounts.history import Period
        from portal.extensions import db
        from portal.models import Payment, User
        from portal.services import billing

        app = create_app()
        postgres = env["DATABASE_URL"].startswith("postgres")
        payments = payments or (1_000_000 if postgres else 100_000)
        result: dict = {"payments": payments, "database": "PostgreSQL" if postgres else "SQLite"}
        with app.app_context():
            began = time.perf_counter()
            account_id, user_id = seed(db.session, payments)
            result["seed_s"] = time.perf_counter() - began
        with app.test_request_context("/sv/"):
            b = billing()
            where, after, read = [Payment.account_id == account_id], None, 0
            began = time.perf_counter()
            while True:  # the baseline: the index range alone
                batch = b.session.execute(select(Payment.created_at, Payment.id).where(*where).where(
                    *([tuple_(Payment.created_at, Payment.id) > tuple_(*after)] if after else []))
                    .order_by(Payment.created_at, Payment.id).limit(history.EXPORT_BATCH)).all()
                if not batch:
                    break
                read += len(batch)
                after = tuple(batch[-1])
            result["baseline_rows_per_s"] = read / (time.perf_counter() - began)
            b.session.rollback()
            user = b.session.get(User, user_id)
            dialect = exports.DIALECTS["sv"]
            before_kb = _peak_kb()
            rows = history.payments_for_export(b, user, account_id, Period())
            lines = exports.csv_lines(exports.PAYMENT_COLUMNS, rows, exports.payment_cells(b.clock.tz, dialect),
                                      dialect)
            began, size, newlines = time.perf_counter(), 0, 0
            for piece in lines:
                data = piece.encode("utf-8")  # as the view sends it
                size += len(data)
                newlines += piece.count("\n")
            result["export_s"] = time.perf_counter() - began
            result["export_rows"] = newlines - 1
            result["export_rows_per_s"] = (newlines - 1) / result["export_s"]
            result["bytes"] = size
            result["peak_growth_kb"] = _peak_kb() - before_kb
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def report(r: dict) -> bool:
    print(f"Payments export (B9), {r['payments']:,} payments on {r['database']} (made in {r['seed_s']:.1f} s)")
    print(f"  baseline: the index range alone   {r['baseline_rows_per_s']:>10,.0f} rows/s")
    print(f"  the CSV file, streamed            {r['export_rows_per_s']:>10,.0f} rows/s "
          f"({r['export_rows_per_s'] / r['baseline_rows_per_s']:.2f}× the baseline; {r['export_rows']:,} lines, "
          f"{r['bytes'] / 1e6:,.1f} MB in {r['export_s']:.1f} s)")
    whole = r["export_rows"] == r["payments"]
    fast = r["export_rows_per_s"] >= BUDGET_ROWS_PER_S
    flat = r["peak_growth_kb"] < 50 * 1024
    print(f"{'PASS' if whole else 'FAIL'}  every payment in the file ({r['export_rows']:,} of {r['payments']:,})")
    print(f"{'PASS' if fast else 'FAIL'}  export {r['export_rows_per_s']:,.0f} rows/s, budget {BUDGET_ROWS_PER_S:,}")
    print(f"{'PASS' if flat else 'FAIL'}  peak memory grew {r['peak_growth_kb'] / 1024:,.1f} MB streaming "
          f"{r['bytes'] / 1e6:,.0f} MB (budget: under 50 MB, whatever the size)")
    return whole and fast and flat


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.exports", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a PostgreSQL database the benchmark may WIPE (default: SQLite)")
    parser.add_argument("--payments", type=int, help="payments in the account (default 1,000,000; SQLite 100,000)")
    args = parser.parse_args(argv)
    return 0 if report(measure(args.database_url, args.payments)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
