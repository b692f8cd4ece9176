"""outbox: the control center's indexes (overview counts and oldest pending, KPI latencies, backlog normal)

Revision ID: 0002b
Revises: 0002a
Create Date: 2026-12-03
"""
from alembic import op


revision = '0002b'
down_revision = '0002a'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_outbox_messages_state_channel_created_at', 'outbox_messages',
                    ['state', 'channel', 'created_at'], unique=False)
    op.create_index('ix_outbox_messages_state_done_at', 'outbox_messages', ['state', 'done_at'], unique=False)
    op.create_index('ix_outbox_messages_channel_created_at', 'outbox_messages', ['channel', 'created_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_outbox_messages_channel_created_at', table_name='outbox_messages')
    op.drop_index('ix_outbox_messages_state_done_at', table_name='outbox_messages')
    op.drop_index('ix_outbox_messages_state_channel_created_at', table_name='outbox_messages')
