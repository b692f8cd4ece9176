"""records: the shop an order came from; when the merchant released or withdrew a product

Revision ID: 0005b
Revises: 0005a
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0005b'
down_revision = '0005a'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('orders', sa.Column('shop', sa.String(length=64), nullable=True))
    op.add_column('products', sa.Column('released_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('products') as batch:
        batch.drop_column('released_at')
    with op.batch_alter_table('orders') as batch:
        batch.drop_column('shop')
