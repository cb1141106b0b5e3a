"""kept subscription figures: each account's subscriptions counted and their outstanding
charges summed per payment method, status and owing, kept by triggers on subscriptions
(portal/figures.py) — issue 28

The Overview, Payment methods and Settle balance pages read a few rows of these instead
of summing every subscription of the account; the Overview's banner dates (earliest
past due, earliest disabled) come from two partial indexes, one row each. The table is filled from the rows already
there in the same transaction that creates the triggers (PostgreSQL: with subscriptions
locked against writes meanwhile), so no write falls between.

The trigger SQL is imported from portal/figures.py (one definition for this migration
and for schemas made by create_all); a later change to it comes with its own migration,
which re-creates the triggers (each statement replaces what is there).

Revision ID: e9c4a7b1d3f2
Revises: b2d6f0a8c4e1
Create Date: 2026-12-07 03:40:00

"""
from alembic import op
import sqlalchemy as sa

from portal import figures

revision = 'e9c4a7b1d3f2'
down_revision = 'b2d6f0a8c4e1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'subscription_figures',
        sa.Column('account_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('payment_method_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('status', sa.Enum('active', 'past_due', 'disabled', 'deleted', name='subscriptionstatus',
                                    native_enum=False, length=32), nullable=False),
        sa.Column('owing', sa.Boolean(), nullable=False),
        sa.Column('subscriptions', sa.Integer(), nullable=False),
        sa.Column('outstanding_charges', sa.BigInteger(), nullable=False),
        sa.Column('outstanding_minor', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('account_id', 'payment_method_id', 'status', 'owing',
                                name=op.f('pk_subscription_figures')),
    )
    op.create_index('ix_subscription_figures_empty', 'subscription_figures', ['account_id'], unique=False,
                    postgresql_where=sa.text('subscriptions = 0'), sqlite_where=sa.text('subscriptions = 0'))
    for day, status in (('past_due_since', 'past_due'), ('disabled_on', 'disabled')):
        op.create_index(f'ix_subscriptions_{day}', 'subscriptions', ['account_id', day], unique=False,
                        postgresql_where=sa.text(f"status = '{status}'"), sqlite_where=sa.text(f"status = '{status}'"))
    connection = op.get_bind()
    if connection.dialect.name == 'postgresql':
        connection.exec_driver_sql('LOCK TABLE subscriptions IN SHARE MODE')
    figures.create_triggers(connection)
    figures.refill(connection)


def downgrade():
    connection = op.get_bind()
    for statement in figures.DROP[connection.dialect.name]:
        connection.exec_driver_sql(statement)
    op.drop_index('ix_subscriptions_disabled_on', table_name='subscriptions')
    op.drop_index('ix_subscriptions_past_due_since', table_name='subscriptions')
    op.drop_index('ix_subscription_figures_empty', table_name='subscription_figures')
    op.drop_table('subscription_figures')
