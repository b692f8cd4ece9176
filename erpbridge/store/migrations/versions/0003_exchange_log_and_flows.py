"""exchange log and flow runs

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0001'
branch_labels = ('ops',)
depends_on = None


def upgrade() -> None:
    op.create_table('exchange_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('system', sa.String(length=64), nullable=False),
    sa.Column('flow', sa.String(length=64), nullable=False),
    sa.Column('point', sa.String(length=128), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('duration_ms', sa.Float(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('request', sa.Text(), nullable=True),
    sa.Column('response', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_log'))
    )
    with op.batch_alter_table('exchange_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exchange_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_exchange_log_point_at'), ['point', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_exchange_log_system_at'), ['system', 'at'], unique=False)

    op.create_table('flow_runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('flow', sa.String(length=64), nullable=False),
    sa.Column('slot', sa.DateTime(timezone=True), nullable=True),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('owner', sa.String(length=128), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flow_runs')),
    sa.UniqueConstraint('flow', 'slot', name=op.f('uq_flow_runs_flow_slot'))
    )
    with op.batch_alter_table('flow_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flow_runs_flow_outcome'), ['flow', 'outcome'], unique=False)
        batch_op.create_index(batch_op.f('ix_flow_runs_flow_started_at'), ['flow', 'started_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('flow_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flow_runs_flow_started_at'))
        batch_op.drop_index(batch_op.f('ix_flow_runs_flow_outcome'))

    op.drop_table('flow_runs')
    with op.batch_alter_table('exchange_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exchange_log_system_at'))
        batch_op.drop_index(batch_op.f('ix_exchange_log_point_at'))
        batch_op.drop_index(batch_op.f('ix_exchange_log_at'))

    op.drop_table('exchange_log')
