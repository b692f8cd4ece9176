"""control center: exchange log indexes for its page (newest first by point, system or outcome);
when each alert was mailed; the KPIs over time

The exchange log's table is on the ops branch (0003): this revision depends on it.

Revision ID: 0006d
Revises: 0006c
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa


revision = '0006d'
down_revision = '0006c'
branch_labels = None
depends_on = '0003'


def upgrade() -> None:
    op.create_index('ix_exchange_log_point_id', 'exchange_log', ['point', 'id'], unique=False)
    op.create_index('ix_exchange_log_system_id', 'exchange_log', ['system', 'id'], unique=False)
    op.create_index('ix_exchange_log_outcome_id', 'exchange_log', ['outcome', 'id'], unique=False)
    with op.batch_alter_table('control_alerts') as batch:
        batch.add_column(sa.Column('mailed_open_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('mailed_resolved_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table('control_kpi_samples',
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kpi', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('at', 'kpi', name=op.f('pk_control_kpi_samples'))
    )


def downgrade() -> None:
    op.drop_table('control_kpi_samples')
    with op.batch_alter_table('control_alerts') as batch:
        batch.drop_column('mailed_resolved_at')
        batch.drop_column('mailed_open_at')
    op.drop_index('ix_exchange_log_outcome_id', table_name='exchange_log')
    op.drop_index('ix_exchange_log_system_id', table_name='exchange_log')
    op.drop_index('ix_exchange_log_point_id', table_name='exchange_log')
