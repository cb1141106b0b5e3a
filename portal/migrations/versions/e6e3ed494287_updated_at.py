"""updated_at (issue 32): when a row last changed, for the API's `updated_since`, on the
rows that change — billing accounts, billing profiles, subscriptions, invoices, role
assignments, invitations, webhook deliveries (portal/models/changes.py sets it on every
write)

Backfilled with the latest time each row already records: its creation time where it
has one (accounts, invitations — or when an invitation was closed or sent again — and
role assignments, by their grant; a delivery by its last attempt or its event), otherwise the latest day it records (a
subscription's start or lifecycle dates, an invoice's issue or payment day, a profile's
account's creation). No index: a settlement rewrites 100,000 subscriptions' rows, and
an index on the column would have to be updated too (issue 28); lists filter it within
an account's rows.

SQLite adds a NOT NULL column only with a default: a constant one, never used (every
write names the column); a table rebuilt by batch mode would lose the subscriptions'
triggers (portal/figures.py).

Revision ID: e6e3ed494287
Revises: e5b91c3f7a26
Create Date: 2026-12-07 19:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'e6e3ed494287'
down_revision = 'e5b91c3f7a26'
branch_labels = None
depends_on = None

_ACCOUNT_CREATED = "(SELECT a.created_on FROM billing_accounts a WHERE a.id = {table}.account_id)"
_SUBSCRIPTION_DAYS = ("past_due_since", "disabled_on", "deleted_on")


def _backfill(sqlite: bool) -> dict[str, str]:
    """Each table's backfill, as an SQL expression of a day or a time."""
    if sqlite:
        latest = "max(" + ", ".join(["started_on", *(f"coalesce({c}, started_on)" for c in _SUBSCRIPTION_DAYS)]) + ")"
        paid_or_issued = "max(issued_on, coalesce(paid_on, issued_on))"
    else:
        latest = "greatest(" + ", ".join(["started_on", *_SUBSCRIPTION_DAYS]) + ")"
        paid_or_issued = "greatest(issued_on, paid_on)"
    return {
        "billing_accounts": "created_on",
        "billing_profiles": _ACCOUNT_CREATED.format(table="billing_profiles"),
        "subscriptions": latest,
        "invoices": paid_or_issued,
        "role_assignments": "coalesce(granted_at, {})".format(
            _as_time(_ACCOUNT_CREATED.format(table="role_assignments"), sqlite)),
        "invitations": "coalesce(closed_at, sent_at, created_at)",
        "webhook_deliveries": "coalesce(sent_at, claimed_at, "
                              "(SELECT e.created_at FROM webhook_events e WHERE e.id = webhook_deliveries.event_id))",
    }


def _as_time(expression: str, sqlite: bool) -> str:
    """A day as midnight, stored as SQLAlchemy stores a DateTime on each database."""
    return f"({expression}) || ' 00:00:00.000000'" if sqlite else f"CAST(({expression}) AS timestamp)"


_TIMES = {"role_assignments", "invitations", "webhook_deliveries"}  # already a time; the rest are days


def upgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, expression in _backfill(sqlite).items():
        value = expression if table in _TIMES else _as_time(expression, sqlite)
        if sqlite:
            op.execute(f"ALTER TABLE {table} ADD COLUMN updated_at DATETIME NOT NULL "
                       f"DEFAULT '1970-01-01 00:00:00.000000'")
            op.execute(f"UPDATE {table} SET updated_at = {value}")
        else:
            op.add_column(table, sa.Column('updated_at', sa.DateTime(), nullable=True))
            op.execute(f"UPDATE {table} SET updated_at = {value}")
            op.alter_column(table, 'updated_at', nullable=False)


def downgrade():
    for table in reversed(list(_backfill(False))):
        op.drop_column(table, 'updated_at')
