"""The reseller-sized data set of issue 28, built on PostgreSQL with set-based SQL
(`INSERT … SELECT … FROM generate_series`): `python3 dev.py bench --scale reseller`.

- a pay-as-you-go account with `subscriptions` subscriptions (100,000): one in ten active
  on a third card; one in fifty past due on a second card (R08: it has outstanding
  charges of its own); all others past due on one failed card (R04's worst case, as
  bench/seed.py's shape);
- ten monthly charges per subscription (1,000,000): the two newest outstanding for a
  past-due subscription (failed on the same day), every other one paid by a payment of
  its own;
- ten payments per subscription (1,000,000), one a month, in the month after the period
  they pay. A past-due subscription's two newest months failed, so its payments go two
  months further back: those two pay charges older than the ten kept here (as
  bench/seed.py's payments without charges);
- a customer agreement whose one billing profile has `invoices` monthly invoices
  (10,000): the newest due, the one before past due, all older paid by card (a payment,
  its allocation and the invoice's received amount each).

Every row is valid for the app: foreign keys, unique keys (idempotency keys, invoice
numbers, one charge per subscription and period), statuses, and the subscriptions' kept
figures (outstanding_charges, outstanding_minor), written by the same INSERT as the
subscription (the app's `recount_outstanding`, two correlated subqueries per row, took
7 s of the build; tests/test_i28_bench_reseller.py checks the figures against the charges).
Secondary indexes and keys of subscriptions, charges and payments are made after their rows. `build` ends with VACUUM ANALYZE, what
autovacuum would have done by the time anyone looks.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import date, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from bench.seed import CHEAP_HASH, PASSWORD, Seeded

SUBSCRIPTIONS = 100_000
MONTHS = 10          # charges and payments per subscription
INVOICES = 10_000
def _one(session: Session, sql: str, **params) -> int:
    return session.execute(text(sql), params).scalar_one()


def _card(session: Session, account: int, last4: str, brand: str, now: datetime) -> int:
    return _one(session, """
        INSERT INTO payment_methods (account_id, kind, brand, last4, exp_month, exp_year, holder_name,
                                     gateway_token, created_at)
        VALUES (:account, 'card', :brand, :last4, 12, 2031, 'Bench Holder', :token, :now) RETURNING id""",
                account=account, brand=brand, last4=last4, token=f"bench_tok_{last4}", now=now)


def _user(session: Session, email: str, name: str, password_hash: str) -> int:
    return _one(session, "INSERT INTO users (email, name, password_hash, locale, session_generation) "
                         "VALUES (:email, :name, :hash, 'sv', 0) RETURNING id", email=email, name=name,
                hash=password_hash)


def _account(session: Session, kind: str, name: str, email: str, created_on: date) -> int:
    return _one(session, "INSERT INTO billing_accounts (kind, name, currency, notification_email, created_on, "
                         "updated_at) VALUES (:kind, :name, 'SEK', :email, :created_on, :created_on) RETURNING id",
                kind=kind, name=name, email=email, created_on=created_on)


@contextmanager
def indexes_later(session: Session, tables: tuple[str, ...]):
    """Drop the tables' secondary indexes, unique and foreign keys, then make them again:
    a bulk load and one index build (and one validation per key) instead of a million
    index insertions and key checks. Whatever a migration adds to these tables is
    included; the same transaction, so a failure leaves nothing dropped."""
    keys = session.execute(text("""
        SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE conrelid = ANY(CAST(:tables AS regclass[])) AND contype IN ('u', 'f')"""), dict(tables=list(tables))).all()
    indexes = session.execute(text("""
        SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index
        WHERE indrelid = ANY(CAST(:tables AS regclass[])) AND NOT indisprimary
          AND indexrelid NOT IN (SELECT conindid FROM pg_constraint WHERE contype IN ('u', 'p', 'x'))"""),
                              dict(tables=list(tables))).all()
    for table, name, _kind, _definition in keys:
        session.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    for name, _definition in indexes:
        session.execute(text(f"DROP INDEX {name}"))
    yield
    session.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
    for _name, definition in indexes:
        session.execute(text(definition))
    for kind in ("u", "f"):
        for table, name, _kind, definition in (k for k in keys if k[2] == kind):
            session.execute(text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))


def _reserve(session: Session, table: str, count: int) -> int:
    """The first of `count` ids taken from the table's id sequence (none else takes them)."""
    sequence = _one(session, "SELECT pg_get_serial_sequence(:table, 'id')", table=table)
    first = _one(session, "SELECT nextval(:sequence)", sequence=sequence)
    session.execute(text("SELECT setval(:sequence, :last)"), dict(sequence=sequence, last=first + count - 1))
    return first


def pay_as_you_go(session: Session, today: date, policy, subscriptions: int, log) -> dict:
    now = datetime.combine(today, datetime.min.time())
    email = "payg-reseller@bench.example"
    user = _user(session, email, "Bench reseller admin",
                 generate_password_hash(PASSWORD, method=CHEAP_HASH))
    account = _account(session, "pay_as_you_go", "Bench reseller", email, today - timedelta(days=400))
    session.execute(text("INSERT INTO role_assignments (user_id, account_id, role, updated_at) "
                         "VALUES (:user, :account, 'account_admin', :now)"), dict(user=user, account=account, now=now))
    failed, second, spare = (_card(session, account, "9995", "visa", now),
                             _card(session, account, "4444", "mastercard", now),
                             _card(session, account, "4242", "visa", now))
    since = today - timedelta(days=12)
    # Subscription i (1…n) has id s0 + i - 1 and payment k (0…9) of it id p0 + 10 (i - 1) + k,
    # both reserved from their sequences: charges name their payment without a join.
    s0, p0 = _reserve(session, "subscriptions", subscriptions), _reserve(session, "payments", subscriptions * MONTHS)
    params = dict(account=account, spare=spare, second=second, failed=failed, n=subscriptions, s0=s0, p0=p0,
                  months=MONTHS, since=since, first=today.replace(day=1))
    active, method = "i % 10 = 0", "CASE WHEN i % 10 = 0 THEN :spare WHEN i % 50 = 2 THEN :second ELSE :failed END"
    with indexes_later(session, ("subscriptions", "payments", "charges")):
        began = time.perf_counter()
        # Kept figures as the charges below make them: past due, two outstanding charges.
        session.execute(text(f"""
            INSERT INTO subscriptions (id, account_id, name, status, payment_method_id, monthly_fee_minor, started_on,
                                       past_due_since, outstanding_charges, outstanding_minor, retry_count,
                                       updated_at)
            SELECT :s0 + i - 1, :account, 'Prenumeration ' || lpad(i::text, 6, '0'),
                   CASE WHEN {active} THEN 'active' ELSE 'past_due' END, {method}, 10000 + i % 900, :started,
                   CASE WHEN {active} THEN NULL ELSE CAST(:since AS date) END,
                   CASE WHEN {active} THEN 0 ELSE 2 END,
                   CASE WHEN {active} THEN 0 ELSE 2 * (10000 + i % 900) END, 0, :now
            FROM generate_series(1, :n) AS i"""), dict(params, started=today - timedelta(days=31 * (MONTHS + 3)),
                                                       now=now))
        log(f"subscriptions {subscriptions:,}", began)
        began = time.perf_counter()
        # A payment a month (k), made on the first of the month after the period m it
        # pays (month m starts m + 1 months before this one; a second apart per
        # subscription: 100,000 take a day); past-due subscriptions skip their two
        # failed months, so their payments are for months 2…11.
        session.execute(text(f"""
            INSERT INTO payments (id, idempotency_key, account_id, payment_method_id, purpose, amount_minor,
                                  currency, gateway_reference, created_at)
            SELECT :p0 + 10 * (i - 1) + k, 'bench-reseller-' || i || '-' || m, :account, {method}, 'auto_charge',
                   10000 + i % 900, 'SEK', 'bench',
                   CAST(:first AS timestamp) - m * interval '1 month' + (i % 86400) * interval '1 second'
            FROM generate_series(1, :n) AS i
            CROSS JOIN generate_series(0, :months - 1) AS k
            CROSS JOIN LATERAL (SELECT CASE WHEN {active} THEN k ELSE k + 2 END AS m) AS month"""), params)
        log(f"payments {subscriptions * MONTHS:,}", began)
        began = time.perf_counter()
        session.execute(text(f"""
            INSERT INTO charges (subscription_id, amount_minor, currency, period_start, period_end, status,
                                 failed_on, failure_code, payment_id)
            SELECT :s0 + i - 1, 10000 + i % 900, 'SEK',
                   CAST(CAST(:first AS date) - (m + 1) * interval '1 month' AS date),
                   CAST(CAST(:first AS date) - m * interval '1 month' - interval '1 day' AS date),
                   CASE WHEN owed THEN 'outstanding' ELSE 'paid' END,
                   CASE WHEN owed THEN CAST(:since AS date) END,
                   CASE WHEN owed THEN 'insufficient_funds' END,
                   CASE WHEN {active} THEN :p0 + 10 * (i - 1) + m WHEN NOT owed THEN :p0 + 10 * (i - 1) + m - 2 END
            FROM generate_series(1, :n) AS i
            CROSS JOIN generate_series(0, :months - 1) AS m
            CROSS JOIN LATERAL (SELECT NOT ({active}) AND m < 2 AS owed) AS o"""), params)
        log(f"charges {subscriptions * MONTHS:,}", began)
        began = time.perf_counter()
    log("indexes and keys of subscriptions, payments and charges made", began)
    settle = _one(session, "SELECT min(id) FROM subscriptions WHERE payment_method_id = :failed", failed=failed)
    session.execute(text("""
        INSERT INTO notices (user_id, account_id, kind, payload, created_at)
        SELECT :user, :account, 'payment_failed',
               json_build_object('subscription_id', id, 'subscription', name, 'reason', 'insufficient_funds',
                                 'disable_on', CAST(:disable_on AS text)), :now
        FROM subscriptions WHERE id = :settle"""),
                    dict(user=user, account=account, settle=settle, now=now,
                         disable_on=policy.disable_date(since).isoformat()))
    return dict(email=email, account=account, settle=settle, second=second)


def customer_agreement(session: Session, today: date, policy, invoices: int, log) -> dict:
    now = datetime.combine(today, datetime.min.time())
    email = "agreement-reseller@bench.example"
    user = _user(session, email, "Bench reseller owner", generate_password_hash(PASSWORD, method=CHEAP_HASH))
    account = _account(session, "customer_agreement", "Bench reseller agreement", email,
                       today - timedelta(days=500))
    wire = _one(session, "INSERT INTO payment_methods (account_id, kind, created_at) "
                         "VALUES (:account, 'check_wire', :now) RETURNING id", account=account, now=now)
    card = _card(session, account, "4242", "visa", now)
    profile = _one(session, "INSERT INTO billing_profiles (account_id, name, default_payment_method_id, "
                            "check_wire_approved, updated_at) VALUES (:account, 'Bench reseller profile', :wire, "
                            "true, :now) RETURNING id", account=account, wire=wire, now=now)
    session.execute(text("INSERT INTO role_assignments (user_id, account_id, billing_profile_id, role, updated_at) "
                         "VALUES (:user, :account, :profile, 'owner', :now)"),
                    dict(user=user, account=account, profile=profile, now=now))
    lines = (("Lagersystem", 4_500_00), ("Ruttplanering", 2_750_00), ("Kundportal", 1_390_00))
    subtotal = sum(amount for _, amount in lines)
    began = time.perf_counter()
    # Invoice k (0 = the newest) is for the k+1-th month before this one.
    session.execute(text("""
        INSERT INTO invoices (billing_profile_id, number, currency, period_start, period_end, issued_on, due_on,
                              status, subtotal_minor, credits_applied_minor, paid_on, paid_minor, updated_at)
        SELECT :profile, '7' || lpad(k::text, 9, '0'), 'SEK', start, finish, issued, issued + :due_days,
               CASE k WHEN 0 THEN 'due' WHEN 1 THEN 'past_due' ELSE 'paid' END, :subtotal, 0,
               CASE WHEN k > 1 THEN issued + 7 END, CASE WHEN k > 1 THEN :subtotal ELSE 0 END,
               CAST(CASE WHEN k > 1 THEN issued + 7 ELSE issued END AS timestamp)
        FROM generate_series(0, :n - 1) AS k
        CROSS JOIN LATERAL (SELECT CAST(CAST(:first AS date) - (k + 1) * interval '1 month' AS date) AS start,
                                   CAST(CAST(:first AS date) - k * interval '1 month' - interval '1 day' AS date)
                                   AS finish,
                                   CAST(CAST(:first AS date) - k * interval '1 month' AS date) AS issued) AS d
        ORDER BY k"""), dict(profile=profile, due_days=policy.invoice_due_days, subtotal=subtotal, n=invoices,
                             first=today.replace(day=1)))
    session.execute(text("""
        INSERT INTO invoice_lines (invoice_id, description, amount_minor)
        SELECT i.id, l.description, l.amount FROM invoices i
        CROSS JOIN (VALUES (1, :d1, :a1), (2, :d2, :a2), (3, :d3, :a3)) AS l (n, description, amount)
        WHERE i.billing_profile_id = :profile ORDER BY i.id, l.n"""),
                    dict(profile=profile, d1=lines[0][0], a1=lines[0][1], d2=lines[1][0], a2=lines[1][1],
                         d3=lines[2][0], a3=lines[2][1]))
    session.execute(text("""
        INSERT INTO payments (idempotency_key, account_id, billing_profile_id, user_id, payment_method_id, purpose,
                              amount_minor, currency, gateway_reference, created_at)
        SELECT 'bench-' || number, :account, :profile, :user, :card, 'invoice', subtotal_minor, 'SEK', 'bench',
               CAST(paid_on AS timestamp) + interval '9 hours'
        FROM invoices WHERE billing_profile_id = :profile AND status = 'paid' ORDER BY id"""),
                    dict(account=account, profile=profile, user=user, card=card))
    session.execute(text("""
        UPDATE invoices i SET payment_id = p.id FROM payments p
        WHERE i.billing_profile_id = :profile AND i.status = 'paid' AND p.idempotency_key = 'bench-' || i.number"""),
                    dict(profile=profile))
    session.execute(text("""
        INSERT INTO invoice_payments (invoice_id, payment_id, amount_minor)
        SELECT id, payment_id, subtotal_minor FROM invoices
        WHERE billing_profile_id = :profile AND status = 'paid' ORDER BY id"""), dict(profile=profile))
    log(f"invoices {invoices:,} (lines, payments, allocations)", began)
    newest = _one(session, "SELECT id FROM invoices WHERE billing_profile_id = :profile AND number = :number",
                  profile=profile, number="7" + "0" * 9)
    return dict(email=email, account=account, profile=profile, invoice=newest)


def build(engine, today: date, policy, subscriptions: int = SUBSCRIPTIONS, invoices: int = INVOICES,
          verbose: bool = True) -> Seeded:
    """Insert the data set into the (migrated) PostgreSQL database behind `engine` in one
    transaction, then VACUUM ANALYZE; returns what the bench needs to find its pages."""
    assert engine.dialect.name == "postgresql", "the reseller data set is built with PostgreSQL's generate_series"

    def log(what: str, began: float) -> None:
        if verbose:
            print(f"    {what}: {time.perf_counter() - began:.1f} s", flush=True)

    with Session(engine) as session:
        payg = pay_as_you_go(session, today, policy, subscriptions, log)
        agreement = customer_agreement(session, today, policy, invoices, log)
        session.commit()
    began = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # Every table, not a list: rows the data set's inserts make through triggers
        # (payment_subscriptions) need statistics as much as those it inserts itself.
        conn.exec_driver_sql("VACUUM ANALYZE")
    log("VACUUM ANALYZE", began)
    return Seeded(subscriptions, payg["email"], agreement["email"], payg["account"], agreement["account"],
                  payg["settle"], payg["second"], agreement["profile"], agreement["invoice"])
