"""outbox: messages, operator actions, semaphores, channel pacing

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = ('outbox',)
depends_on = None


def upgrade() -> None:
    op.create_table('outbox_channels',
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('next_slot_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('channel', name=op.f('pk_outbox_channels'))
    )
    op.create_table('outbox_messages',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('business_key', sa.String(length=512), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=640), nullable=False),
    sa.Column('operation', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_run_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_owner', sa.String(length=128), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('record_kind', sa.String(length=32), nullable=True),
    sa.Column('record_key', sa.String(length=512), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_messages')),
    sa.UniqueConstraint('channel', 'business_key', 'sequence', name=op.f('uq_outbox_messages_channel_business_key_sequence')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_outbox_messages_idempotency_key'))
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_messages_channel_state_next_run_at'), ['channel', 'state', 'next_run_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_messages_record_kind_record_key'), ['record_kind', 'record_key'], unique=False)

    op.create_table('semaphores',
    sa.Column('system', sa.String(length=64), nullable=False),
    sa.Column('offline_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('tripped_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('system', name=op.f('pk_semaphores'))
    )
    op.create_table('outbox_actions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['outbox_messages.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_actions'))
    )
    with op.batch_alter_table('outbox_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_actions_message_id'), ['message_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_actions_message_id'))
    op.drop_table('outbox_actions')
    op.drop_table('semaphores')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_messages_record_kind_record_key'))
        batch_op.drop_index(batch_op.f('ix_outbox_messages_channel_state_next_run_at'))
    op.drop_table('outbox_messages')
    op.drop_table('outbox_channels')
