"""exchange log: the store's masking key

Revision ID: 0003a
Revises: 0003
Create Date: 2026-12-10
"""
from alembic import op
import sqlalchemy as sa


revision = '0003a'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mask_keys',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('key', sa.LargeBinary(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mask_keys'))
    )


def downgrade() -> None:
    op.drop_table('mask_keys')
