"""records, bindings and imported files

Revision ID: 0001
Revises: 
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('bindings',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('system', sa.String(length=64), nullable=False),
    sa.Column('external_id', sa.String(length=256), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bindings')),
    sa.UniqueConstraint('kind', 'key', 'system', name=op.f('uq_bindings_kind_key_system')),
    sa.UniqueConstraint('system', 'kind', 'external_id', name=op.f('uq_bindings_system_kind_external_id'))
    )
    op.create_table('cancellations',
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('order', sa.String(length=128), nullable=False),
    sa.Column('content_hash', sa.String(length=32), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_cancellations'))
    )
    with op.batch_alter_table('cancellations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cancellations_order'), ['order'], unique=False)
        batch_op.create_index(batch_op.f('ix_cancellations_updated_at'), ['updated_at'], unique=False)

    op.create_table('credit_memos',
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('order', sa.String(length=128), nullable=False),
    sa.Column('content_hash', sa.String(length=32), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_credit_memos'))
    )
    with op.batch_alter_table('credit_memos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_memos_order'), ['order'], unique=False)
        batch_op.create_index(batch_op.f('ix_credit_memos_updated_at'), ['updated_at'], unique=False)

    op.create_table('customers',
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('group', sa.String(length=128), nullable=True),
    sa.Column('content_hash', sa.String(length=32), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_customers'))
    )
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customers_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_customers_updated_at'), ['updated_at'], unique=False)

    op.create_table('documents',
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('order', sa.String(length=128), nullable=True),
    sa.Column('customer', sa.String(length=128), nullable=True),
    sa.Column('content_hash', sa.String(length=32), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_documents'))
    )
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_documents_customer'), ['customer'], unique=False)
        batch_op.create_index(batch_op.f('ix_documents_order'), ['order'], unique=False)
        batch_op.create_index(batch_op.f('ix_documents_updated_at'), ['updated_at'], unique=False)

    op.create_table('imported_files',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=1024), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('report', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_imported_files'))
    )
    op.create_table('invoices',
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('order', sa.String(length=128), nullable=False),
    sa.Column('content_hash', sa.String(length=32), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_invoices'))
    )
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoices_order'), ['order'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoices_updated_at'), ['updated_at'], unique=False)

    op.create_table('order_statuses',
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('content_hash', sa.String(length=32), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_order_statuses'))
    )
    with op.batch_alter_table('order_statuses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_statuses_updated_at'), ['updated_at'], unique=False)

    op.create_table('orders',
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('customer', sa.String(length=128), nullable=True),
    sa.Column('placed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('content_hash', sa.String(length=32), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_orders'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orders_customer'), ['customer'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_placed_at'), ['placed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_state_created_at'), ['state', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_updated_at'), ['updated_at'], unique=False)

    op.create_table('prices',
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('sku', sa.String(length=128), nullable=False),
    sa.Column('customer', sa.String(length=128), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('min_quantity', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('amount', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('content_hash', sa.String(length=32), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_prices'))
    )
    with op.batch_alter_table('prices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_prices_sku_customer'), ['sku', 'customer'], unique=False)
        batch_op.create_index(batch_op.f('ix_prices_updated_at'), ['updated_at'], unique=False)

    op.create_table('product_groups',
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('parent', sa.String(length=128), nullable=True),
    sa.Column('content_hash', sa.String(length=32), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_product_groups'))
    )
    with op.batch_alter_table('product_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_groups_parent'), ['parent'], unique=False)
        batch_op.create_index(batch_op.f('ix_product_groups_updated_at'), ['updated_at'], unique=False)

    op.create_table('products',
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('group', sa.String(length=128), nullable=True),
    sa.Column('parent_sku', sa.String(length=128), nullable=True),
    sa.Column('ean', sa.String(length=128), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('content_hash', sa.String(length=32), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_products'))
    )
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_products_ean'), ['ean'], unique=False)
        batch_op.create_index(batch_op.f('ix_products_group'), ['group'], unique=False)
        batch_op.create_index(batch_op.f('ix_products_parent_sku'), ['parent_sku'], unique=False)
        batch_op.create_index(batch_op.f('ix_products_updated_at'), ['updated_at'], unique=False)

    op.create_table('returns',
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('order', sa.String(length=128), nullable=False),
    sa.Column('content_hash', sa.String(length=32), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_returns'))
    )
    with op.batch_alter_table('returns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_returns_order'), ['order'], unique=False)
        batch_op.create_index(batch_op.f('ix_returns_updated_at'), ['updated_at'], unique=False)

    op.create_table('shipments',
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('order', sa.String(length=128), nullable=False),
    sa.Column('content_hash', sa.String(length=32), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_shipments'))
    )
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shipments_order'), ['order'], unique=False)
        batch_op.create_index(batch_op.f('ix_shipments_updated_at'), ['updated_at'], unique=False)

    op.create_table('stock',
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('sku', sa.String(length=128), nullable=False),
    sa.Column('warehouse', sa.String(length=128), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('content_hash', sa.String(length=32), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_stock'))
    )
    with op.batch_alter_table('stock', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_sku'), ['sku'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_updated_at'), ['updated_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('stock', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_updated_at'))
        batch_op.drop_index(batch_op.f('ix_stock_sku'))

    op.drop_table('stock')
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipments_updated_at'))
        batch_op.drop_index(batch_op.f('ix_shipments_order'))

    op.drop_table('shipments')
    with op.batch_alter_table('returns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_returns_updated_at'))
        batch_op.drop_index(batch_op.f('ix_returns_order'))

    op.drop_table('returns')
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_products_updated_at'))
        batch_op.drop_index(batch_op.f('ix_products_parent_sku'))
        batch_op.drop_index(batch_op.f('ix_products_group'))
        batch_op.drop_index(batch_op.f('ix_products_ean'))

    op.drop_table('products')
    with op.batch_alter_table('product_groups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_product_groups_updated_at'))
        batch_op.drop_index(batch_op.f('ix_product_groups_parent'))

    op.drop_table('product_groups')
    with op.batch_alter_table('prices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prices_updated_at'))
        batch_op.drop_index(batch_op.f('ix_prices_sku_customer'))

    op.drop_table('prices')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_updated_at'))
        batch_op.drop_index(batch_op.f('ix_orders_state_created_at'))
        batch_op.drop_index(batch_op.f('ix_orders_placed_at'))
        batch_op.drop_index(batch_op.f('ix_orders_customer'))

    op.drop_table('orders')
    with op.batch_alter_table('order_statuses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_statuses_updated_at'))

    op.drop_table('order_statuses')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoices_updated_at'))
        batch_op.drop_index(batch_op.f('ix_invoices_order'))

    op.drop_table('invoices')
    op.drop_table('imported_files')
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_documents_updated_at'))
        batch_op.drop_index(batch_op.f('ix_documents_order'))
        batch_op.drop_index(batch_op.f('ix_documents_customer'))

    op.drop_table('documents')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customers_updated_at'))
        batch_op.drop_index(batch_op.f('ix_customers_email'))

    op.drop_table('customers')
    with op.batch_alter_table('credit_memos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_memos_updated_at'))
        batch_op.drop_index(batch_op.f('ix_credit_memos_order'))

    op.drop_table('credit_memos')
    with op.batch_alter_table('cancellations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cancellations_updated_at'))
        batch_op.drop_index(batch_op.f('ix_cancellations_order'))

    op.drop_table('cancellations')
    op.drop_table('bindings')
