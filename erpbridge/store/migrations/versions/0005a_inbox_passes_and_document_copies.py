"""records: inbox passes; documents name their local copy by content id, not by path

Revision ID: 0005a
Revises: 0005
Create Date: 2026-12-02
"""
import hashlib
import json

from alembic import op
import sqlalchemy as sa


revision = '0005a'
down_revision = '0005'
branch_labels = None
depends_on = None

documents = sa.table('documents', sa.column('key', sa.String), sa.column('data', sa.Text),
                     sa.column('content_hash', sa.String))


def upgrade() -> None:
    op.create_table('inbox_passes',
    sa.Column('system', sa.String(length=64), nullable=False),
    sa.Column('passed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('files', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('system', name=op.f('pk_inbox_passes'))
    )
    # A stored document named any file by `path`; it now names a copy in the documents folder
    # by the copy's id, made when its feedback file is imported. A path from before is dropped
    # (the document answers 404 until the ERP sends it again): it was never checked.
    _rewrite(lambda data: {**{k: v for k, v in data.items() if k != 'path'}, 'content': None})


def downgrade() -> None:
    _rewrite(lambda data: {**{k: v for k, v in data.items() if k != 'content'}, 'path': None})
    op.drop_table('inbox_passes')


def _rewrite(change) -> None:
    """Each document's stored JSON changed, and its content hash with it (as the record computes it)."""
    conn = op.get_bind()
    for key, data in conn.execute(sa.select(documents.c.key, documents.c.data)).all():
        canonical = json.dumps(change(json.loads(data)), separators=(',', ':'), ensure_ascii=False)
        conn.execute(documents.update().where(documents.c.key == key).values(
            data=canonical, content_hash=hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()))
