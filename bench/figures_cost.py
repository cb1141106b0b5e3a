"""What keeping the subscription figures costs a set-based write (issue 28,
portal/figures.py): each statement below is run on 100,000 subscriptions of one account
on PostgreSQL, with the triggers and with them disabled, alternately, and rolled back;
the medians and their ratio are printed. Not a test: figures to read, on this machine.

    python -m bench.figures_cost postgresql://postgres@127.0.0.1:54330/figures_bench [rows] [rounds]

The database is emptied and rebuilt (create_all, as the tests make it).
"""
from __future__ import annotations

import statistics
import sys
import time

from sqlalchemy import create_engine, text

from portal.models import db  # the models' tables, with the triggers' after_create

SEED = """
INSERT INTO billing_accounts (id, kind, name, currency, notification_email, created_on, updated_at)
VALUES (1, 'pay_as_you_go', 'Reseller', 'SEK', 'r@example.com', '2026-01-01', '2026-01-01');
INSERT INTO payment_methods (id, account_id, kind, brand, last4, exp_month, exp_year, created_at)
SELECT n, 1, 'card', 'visa', lpad(n::text, 4, '0'), 12, 2031, '2026-01-01' FROM generate_series(1, 3) AS n;
INSERT INTO subscriptions (account_id, name, status, payment_method_id, monthly_fee_minor, started_on,
                           past_due_since, outstanding_charges, outstanding_minor, retry_count, updated_at)
SELECT 1, 'Prenumeration ' || n, CASE WHEN n % 10 = 0 THEN 'active' ELSE 'past_due' END, 1 + n % 2, 10000,
       '2026-01-01', CASE WHEN n % 10 = 0 THEN NULL ELSE DATE '2026-11-10' END,
       CASE WHEN n % 10 = 0 THEN 0 ELSE 2 END, CASE WHEN n % 10 = 0 THEN 0 ELSE 20000 END, 0, '2026-11-10' 
FROM generate_series(1, :rows) AS n;
"""

STATEMENTS = {
    "settle: past due → active, nothing owed": (
        "UPDATE subscriptions SET status = 'active', past_due_since = NULL, outstanding_charges = 0, "
        "outstanding_minor = 0 WHERE payment_method_id IN (1, 2) AND status = 'past_due'"),
    "move to another card": "UPDATE subscriptions SET payment_method_id = 3 WHERE account_id = 1",
    "nothing counted changes (retry_count)": "UPDATE subscriptions SET retry_count = retry_count + 1",
    "insert as many again": (
        "INSERT INTO subscriptions (account_id, name, status, payment_method_id, monthly_fee_minor, started_on, "
        "outstanding_charges, outstanding_minor, retry_count, updated_at) SELECT account_id, name || ' b', status, "
        "payment_method_id, monthly_fee_minor, started_on, outstanding_charges, outstanding_minor, 0, updated_at "
        "FROM subscriptions"),
    "delete them all": "DELETE FROM subscriptions",
}


def timed(engine, statement: str, triggers: bool) -> float:
    with engine.connect() as conn:
        with conn.begin() as transaction:
            if not triggers:
                conn.execute(text("ALTER TABLE subscriptions DISABLE TRIGGER USER"))
            start = time.perf_counter()
            conn.execute(text(statement))
            elapsed = time.perf_counter() - start
            transaction.rollback()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM subscriptions, subscription_figures"))
    return elapsed


def main(url: str, rows: int = 100_000, rounds: int = 5) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    db.metadata.create_all(engine)
    with engine.begin() as conn:
        for statement in SEED.split(";\n"):
            if statement.strip():
                conn.execute(text(statement), {"rows": rows})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        load = open("/proc/loadavg").read().split()[:3]
    print(f"{rows:,} subscriptions, PostgreSQL, {rounds} rounds each, load average {' '.join(load)}")
    print(f"{'statement':42} {'without':>9} {'with':>9} {'ratio':>6} {'added':>8}")
    for name, statement in STATEMENTS.items():
        bare, kept = [], []
        for _ in range(rounds):
            bare.append(timed(engine, statement, triggers=False))
            kept.append(timed(engine, statement, triggers=True))
        b, k = statistics.median(bare), statistics.median(kept)
        print(f"{name:42} {b * 1000:7.0f}ms {k * 1000:7.0f}ms {k / b:5.2f}× {(k - b) * 1000:6.0f}ms")


if __name__ == "__main__":
    main(sys.argv[1], *(int(arg) for arg in sys.argv[2:]))
