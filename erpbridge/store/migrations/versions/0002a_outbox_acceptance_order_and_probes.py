"""outbox: claims in acceptance order (index by id); the semaphore's backed-off lock and its prober

Revision ID: 0002a
Revises: 0002
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0002a'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_messages') as batch:
        batch.drop_index('ix_outbox_messages_channel_state_next_run_at')
        batch.create_index('ix_outbox_messages_channel_state_id', ['channel', 'state', 'id'], unique=False)
    with op.batch_alter_table('semaphores') as batch:
        batch.add_column(sa.Column('lock_seconds', sa.Float(), nullable=True))
        batch.add_column(sa.Column('prober', sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('semaphores') as batch:
        batch.drop_column('prober')
        batch.drop_column('lock_seconds')
    with op.batch_alter_table('outbox_messages') as batch:
        batch.drop_index('ix_outbox_messages_channel_state_id')
        batch.create_index('ix_outbox_messages_channel_state_next_run_at', ['channel', 'state', 'next_run_at'],
                           unique=False)
