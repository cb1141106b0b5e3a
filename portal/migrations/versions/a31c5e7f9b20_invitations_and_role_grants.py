"""people and access (issue 31): invitations by email to a role, and who granted each
role assignment when

- role_assignments: granted_at and granted_by_user_id, NULL for the rows there before
  (the demo's seed: nobody recorded it).
- invitations: a person invited to a role on an account or a billing profile; only a
  hash of the link's token.

Revision ID: a31c5e7f9b20
Revises: d39a5c7e1f02
Create Date: 2026-12-07 09:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a31c5e7f9b20'
down_revision = 'd39a5c7e1f02'
branch_labels = None
depends_on = None

ROLES = ('account_admin', 'account_user', 'owner', 'contributor', 'invoice_manager', 'reader')


def upgrade():
    with op.batch_alter_table('role_assignments') as batch:
        batch.add_column(sa.Column('granted_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('granted_by_user_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_role_assignments_granted_by_user_id_users', 'users',
                                 ['granted_by_user_id'], ['id'])
    op.create_table(
        'invitations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('billing_profile_id', sa.Integer(), nullable=True),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('role', sa.Enum(*ROLES, name='role', native_enum=False, length=32), nullable=False),
        sa.Column('locale', sa.String(length=8), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('invited_by_user_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('sent_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('closed_at', sa.DateTime(), nullable=True),
        sa.Column('accepted_by_user_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['account_id'], ['billing_accounts.id'],
                                name='fk_invitations_account_id_billing_accounts'),
        sa.ForeignKeyConstraint(['billing_profile_id'], ['billing_profiles.id'],
                                name='fk_invitations_billing_profile_id_billing_profiles'),
        sa.ForeignKeyConstraint(['invited_by_user_id'], ['users.id'],
                                name='fk_invitations_invited_by_user_id_users'),
        sa.ForeignKeyConstraint(['accepted_by_user_id'], ['users.id'],
                                name='fk_invitations_accepted_by_user_id_users'),
        sa.PrimaryKeyConstraint('id', name='pk_invitations'),
        sa.UniqueConstraint('token_hash', name='uq_invitations_token_hash'))
    op.create_index('ix_invitations_account_id', 'invitations', ['account_id'])


def downgrade():
    op.drop_index('ix_invitations_account_id', table_name='invitations')
    op.drop_table('invitations')
    with op.batch_alter_table('role_assignments') as batch:
        batch.drop_constraint('fk_role_assignments_granted_by_user_id_users', type_='foreignkey')
        batch.drop_column('granted_by_user_id')
        batch.drop_column('granted_at')
