"""issue 31: the second factor and single-use sign-in links

The TOTP key, recovery codes and remembered browsers' generation; the links sent by
email for a password reset or to unlock sign-in.

Revision ID: b7e1f3a9c5d2
Revises: a31c5e7f9b20
Create Date: 2026-12-07 09:45:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b7e1f3a9c5d2'
down_revision = 'a31c5e7f9b20'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('totp_secret', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('totp_enabled_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('factor_generation', sa.Integer(), server_default='0', nullable=False))
    op.create_table(
        'recovery_codes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_recovery_codes_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_codes')))
    with op.batch_alter_table('recovery_codes') as batch:
        batch.create_index(batch.f('ix_recovery_codes_user_id'), ['user_id'], unique=False)
    op.create_table(
        'sign_in_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.String(length=20), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sign_in_tokens_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_tokens')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_sign_in_tokens_token_hash')))
    with op.batch_alter_table('sign_in_tokens') as batch:
        batch.create_index(batch.f('ix_sign_in_tokens_user_id'), ['user_id'], unique=False)


def downgrade():
    op.drop_table('sign_in_tokens')
    op.drop_table('recovery_codes')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('factor_generation')
        batch.drop_column('totp_last_step')
        batch.drop_column('totp_enabled_at')
        batch.drop_column('totp_secret')
