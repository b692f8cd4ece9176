"""records: source hash

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0001'
branch_labels = None
depends_on = None

TABLES = ('product_groups', 'products', 'prices', 'stock', 'customers', 'orders', 'cancellations', 'returns',
          'order_statuses', 'shipments', 'invoices', 'credit_memos', 'documents')


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column('source_hash', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column('source_hash')
