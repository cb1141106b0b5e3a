"""A payment's subscriptions (issue 28): `payment_subscriptions` says which
subscriptions' charges a payment paid, and is how a payment's charges are found —
charges have no index on `payment_id`, so that paying one changes no indexed column
and PostgreSQL writes it as a HOT update (one new row version in the same page, no
index entry: a reseller's settlement pays 200,000). docs/money-across-flows.md.

Who writes the rows:
- a charge **inserted** already paid (the demo, the benches' seeds, tests' fixtures):
  the database, by the triggers below, whoever inserts it;
- a charge **marked** paid (`UPDATE`: settling, Pay now, retries, the billing cycle,
  the credit, bank transfers): the code that marks it, in the same transaction —
  `balances.link_payments`, or a settlement's allocation copied when it paid exactly
  what it priced (`payments.ledger`). Not a trigger: on PostgreSQL one on UPDATE
  would capture every row a statement changes (a settlement's 200,000) to find them.

tests/billing/test_money_across_flows.py (`assert_money_adds_up`) checks that every
charge paid has its row.
"""
from __future__ import annotations

TABLE = "payment_subscriptions"

_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION link_paid_charges() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO {TABLE} (payment_id, subscription_id)
        SELECT DISTINCT payment_id, subscription_id FROM new_rows WHERE payment_id IS NOT NULL
        ORDER BY 1, 2 ON CONFLICT DO NOTHING;
    ELSE
        DELETE FROM {TABLE};
    END IF;
    RETURN NULL;
END
$$"""

POSTGRESQL = [
    _PG_FUNCTION,
    "DROP TRIGGER IF EXISTS payment_links_insert ON charges",
    "CREATE TRIGGER payment_links_insert AFTER INSERT ON charges REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION link_paid_charges()",
    "DROP TRIGGER IF EXISTS payment_links_truncate ON charges",
    "CREATE TRIGGER payment_links_truncate AFTER TRUNCATE ON charges FOR EACH STATEMENT "
    "EXECUTE FUNCTION link_paid_charges()",
]

SQLITE = [
    "DROP TRIGGER IF EXISTS payment_links_insert",
    f"CREATE TRIGGER payment_links_insert AFTER INSERT ON charges WHEN NEW.payment_id IS NOT NULL "
    f"BEGIN INSERT OR IGNORE INTO {TABLE} (payment_id, subscription_id) VALUES (NEW.payment_id, NEW.subscription_id); END",
]

DROP = {
    "postgresql": ["DROP TRIGGER IF EXISTS payment_links_insert ON charges",
                   "DROP TRIGGER IF EXISTS payment_links_truncate ON charges",
                   "DROP FUNCTION IF EXISTS link_paid_charges()"],
    "sqlite": ["DROP TRIGGER IF EXISTS payment_links_insert"],
}


def create_triggers(connection) -> None:
    """Create (or replace) the triggers, on `connection`'s dialect."""
    for statement in {"postgresql": POSTGRESQL, "sqlite": SQLITE}[connection.dialect.name]:
        connection.exec_driver_sql(statement)
