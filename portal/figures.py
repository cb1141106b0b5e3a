"""Kept figures (issue 28): each account's subscriptions counted and their outstanding
charges summed per payment method, status and whether they owe anything, in the table
`subscription_figures`, kept by database triggers on `subscriptions`.

Why triggers: the Overview's status counts, the Payment methods page's per-card figures
and the Settle balance page's per-card sums each summed 100,000 rows per view for a
reseller. Kept figures read a few rows instead (a handful per card). A trigger keeps
them in the statement that changes a subscription, whoever writes it — the billing
cycle, settling, moves between cards, retries, bank transfers, the lifecycle, the demo
and bench seeds, a hand-written UPDATE — so no writer can forget them and they cannot
drift from a recount (tests/billing/test_i28_figures.py proves it for each writer).

- PostgreSQL: statement-level triggers with transition tables: one grouped upsert per
  statement, however many rows it changed (a 100,000-row settle stays set-based; see
  bench/figures_cost.py for what it costs), its rows taken in key order so two
  statements never wait on each other's rows in opposite orders. TRUNCATE empties them.
- SQLite (small accounts): row-level triggers, the only kind it has; an UPDATE that
  changes none of the counted columns does not fire them.

A figure whose count falls to zero is deleted, so the table holds exactly what a recount
(`RECOUNT`) gives. No subscription (`payment_method_id` NULL) is kept as method 0, since
a key column must not be NULL for ON CONFLICT to find the row.

Earliest past-due and disabled dates (the Overview's banners) are not kept here: an
index on subscriptions gives each with one row read (accounts.status_counts).
"""
from __future__ import annotations

TABLE = "subscription_figures"
KEY = "account_id, payment_method_id, status, owing"
VALUES = "subscriptions, outstanding_charges, outstanding_minor"

# What the table must always equal: the subscriptions counted and summed. Also how the
# migration fills it from the rows already there.
RECOUNT = ("SELECT account_id, coalesce(payment_method_id, 0) AS payment_method_id, status, "
           "outstanding_charges > 0 AS owing, count(*) AS subscriptions, "
           "sum(outstanding_charges) AS outstanding_charges, sum(outstanding_minor) AS outstanding_minor "
           "FROM subscriptions GROUP BY 1, 2, 3, 4")

_ADD = (f"ON CONFLICT ({KEY}) DO UPDATE SET "
        f"subscriptions = {TABLE}.subscriptions + excluded.subscriptions, "
        f"outstanding_charges = {TABLE}.outstanding_charges + excluded.outstanding_charges, "
        f"outstanding_minor = {TABLE}.outstanding_minor + excluded.outstanding_minor")

# --- PostgreSQL: one function, three statement-level triggers (a trigger with
# transition tables has one event) and one for TRUNCATE.


def _pg_rows(table: str, sign: str) -> str:
    return (f"SELECT account_id, coalesce(payment_method_id, 0) AS payment_method_id, status, "
            f"outstanding_charges > 0 AS owing, {sign}1 AS subscriptions, "
            f"{sign}outstanding_charges::bigint AS outstanding_charges, {sign}outstanding_minor AS outstanding_minor "
            f"FROM {table}")


def _pg_upsert(changes: str) -> str:
    """The changed rows summed per key and added in key order; `touched` is set to the
    accounts whose figures changed."""
    return (f"WITH added AS (INSERT INTO {TABLE} ({KEY}, {VALUES}) "
            f"SELECT {KEY}, sum(subscriptions), sum(outstanding_charges), sum(outstanding_minor) "
            f"FROM ({changes}) AS changes GROUP BY {KEY} "
            f"HAVING sum(subscriptions) <> 0 OR sum(outstanding_charges) <> 0 OR sum(outstanding_minor) <> 0 "
            f"ORDER BY {KEY} {_ADD} RETURNING account_id) "
            f"SELECT array_agg(DISTINCT account_id) INTO touched FROM added;")


_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION keep_subscription_figures() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched integer[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_pg_upsert(_pg_rows("new_rows", ""))}
    ELSIF TG_OP = 'DELETE' THEN
        {_pg_upsert(_pg_rows("old_rows", "-"))}
    ELSIF TG_OP = 'UPDATE' THEN
        {_pg_upsert(_pg_rows("new_rows", "") + " UNION ALL " + _pg_rows("old_rows", "-"))}
    ELSE
        DELETE FROM {TABLE};
        RETURN NULL;
    END IF;
    -- Only the accounts this statement changed: never waits on another account's writer.
    DELETE FROM {TABLE} WHERE account_id = ANY(touched) AND subscriptions = 0;
    RETURN NULL;
END
$$"""

POSTGRESQL = [
    _PG_FUNCTION,
    "DROP TRIGGER IF EXISTS subscription_figures_insert ON subscriptions",
    "CREATE TRIGGER subscription_figures_insert AFTER INSERT ON subscriptions "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION keep_subscription_figures()",
    "DROP TRIGGER IF EXISTS subscription_figures_update ON subscriptions",
    "CREATE TRIGGER subscription_figures_update AFTER UPDATE ON subscriptions "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION keep_subscription_figures()",
    "DROP TRIGGER IF EXISTS subscription_figures_delete ON subscriptions",
    "CREATE TRIGGER subscription_figures_delete AFTER DELETE ON subscriptions "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION keep_subscription_figures()",
    "DROP TRIGGER IF EXISTS subscription_figures_truncate ON subscriptions",
    "CREATE TRIGGER subscription_figures_truncate AFTER TRUNCATE ON subscriptions "
    "FOR EACH STATEMENT EXECUTE FUNCTION keep_subscription_figures()",
]

# --- SQLite: row-level triggers.


def _sqlite_add(row: str, sign: str) -> str:
    return (f"INSERT INTO {TABLE} ({KEY}, {VALUES}) VALUES ({row}.account_id, coalesce({row}.payment_method_id, 0), "
            f"{row}.status, {row}.outstanding_charges > 0, {sign}1, {sign}{row}.outstanding_charges, "
            f"{sign}{row}.outstanding_minor) {_ADD};")


_SQLITE_PRUNE = (f"DELETE FROM {TABLE} WHERE account_id = OLD.account_id "
                 f"AND payment_method_id = coalesce(OLD.payment_method_id, 0) AND status = OLD.status "
                 f"AND owing = (OLD.outstanding_charges > 0) AND subscriptions = 0;")
_COUNTED = ("account_id", "payment_method_id", "status", "outstanding_charges", "outstanding_minor")

SQLITE = [
    "DROP TRIGGER IF EXISTS subscription_figures_insert",
    f"CREATE TRIGGER subscription_figures_insert AFTER INSERT ON subscriptions BEGIN {_sqlite_add('NEW', '')} END",
    "DROP TRIGGER IF EXISTS subscription_figures_update",
    f"CREATE TRIGGER subscription_figures_update AFTER UPDATE OF {', '.join(_COUNTED)} ON subscriptions "
    f"WHEN {' OR '.join(f'OLD.{c} IS NOT NEW.{c}' for c in _COUNTED)} "
    f"BEGIN {_sqlite_add('OLD', '-')} {_sqlite_add('NEW', '')} {_SQLITE_PRUNE} END",
    "DROP TRIGGER IF EXISTS subscription_figures_delete",
    f"CREATE TRIGGER subscription_figures_delete AFTER DELETE ON subscriptions "
    f"BEGIN {_sqlite_add('OLD', '-')} {_SQLITE_PRUNE} END",
]

DROP = {
    "postgresql": ["DROP TRIGGER IF EXISTS subscription_figures_insert ON subscriptions",
                   "DROP TRIGGER IF EXISTS subscription_figures_update ON subscriptions",
                   "DROP TRIGGER IF EXISTS subscription_figures_delete ON subscriptions",
                   "DROP TRIGGER IF EXISTS subscription_figures_truncate ON subscriptions",
                   "DROP FUNCTION IF EXISTS keep_subscription_figures()"],
    "sqlite": ["DROP TRIGGER IF EXISTS subscription_figures_insert",
               "DROP TRIGGER IF EXISTS subscription_figures_update",
               "DROP TRIGGER IF EXISTS subscription_figures_delete"],
}


def create_triggers(connection) -> None:
    """Create (or replace) the triggers that keep the figures, on `connection`'s dialect."""
    for statement in {"postgresql": POSTGRESQL, "sqlite": SQLITE}[connection.dialect.name]:
        connection.exec_driver_sql(statement)


def refill(connection) -> None:
    """Set the figures to a recount (the migration, on rows written before the triggers)."""
    connection.exec_driver_sql(f"DELETE FROM {TABLE}")
    connection.exec_driver_sql(f"INSERT INTO {TABLE} ({KEY}, {VALUES}) {RECOUNT}")
