"""control center: users, the audit of their actions, the session signing key, alert incidents

Revision ID: 0006c
Revises: 0005b
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0006c'
down_revision = '0005b'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('control_users',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_control_users')),
    sa.UniqueConstraint('name', name=op.f('uq_control_users_name'))
    )
    op.create_table('control_audit',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('target', sa.String(length=128), nullable=False),
    sa.Column('selection', sa.Text(), nullable=True),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('ids', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_control_audit'))
    )
    op.create_index(op.f('ix_control_audit_at'), 'control_audit', ['at'], unique=False)
    op.create_table('control_keys',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('key', sa.LargeBinary(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_control_keys'))
    )
    op.create_table('control_alerts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('rule', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=128), nullable=False),
    sa.Column('open_key', sa.String(length=200), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=128), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_open_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_control_alerts')),
    sa.UniqueConstraint('open_key', name=op.f('uq_control_alerts_open_key'))
    )
    op.create_index(op.f('ix_control_alerts_opened_at'), 'control_alerts', ['opened_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_control_alerts_opened_at'), table_name='control_alerts')
    op.drop_table('control_alerts')
    op.drop_table('control_keys')
    op.drop_index(op.f('ix_control_audit_at'), table_name='control_audit')
    op.drop_table('control_audit')
    op.drop_table('control_users')
