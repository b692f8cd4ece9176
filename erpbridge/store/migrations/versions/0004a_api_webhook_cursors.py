"""api webhook cursors

Revision ID: 0004a
Revises: 0004
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa


revision = '0004a'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('webhook_cursors',
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.PrimaryKeyConstraint('kind', name=op.f('pk_webhook_cursors'))
    )


def downgrade() -> None:
    op.drop_table('webhook_cursors')
