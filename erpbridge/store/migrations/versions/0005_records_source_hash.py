"""records: source hash, partial lookup indexes

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
#: Lookup indexes on columns that may be NULL: only rows with a value are indexed.
PARTIAL = (('product_groups', 'parent'), ('products', 'group'), ('products', 'parent_sku'), ('products', 'ean'),
           ('customers', 'email'), ('orders', 'customer'), ('orders', 'placed_at'),
           ('documents', 'order'), ('documents', 'customer'))


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column('source_hash', sa.BigInteger(), nullable=True))
    for table, column in PARTIAL:
        where = sa.column(column).is_not(None)
        op.drop_index(f'ix_{table}_{column}', table_name=table)
        op.create_index(f'ix_{table}_{column}', table, [column], sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for table, column in PARTIAL:
        op.drop_index(f'ix_{table}_{column}', table_name=table)
        op.create_index(f'ix_{table}_{column}', table, [column])
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column('source_hash')
