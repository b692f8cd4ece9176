"""ops: how far each push flow has sent each kind to its system

Revision ID: 0003b
Revises: 0003
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0003b'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('flow_cursors',
    sa.Column('system', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.PrimaryKeyConstraint('system', 'kind', name=op.f('pk_flow_cursors'))
    )


def downgrade() -> None:
    op.drop_table('flow_cursors')
