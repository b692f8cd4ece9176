"""The services' own table: how far the webhook change publisher (:mod:`.webhook_events`) has
announced each kind (migration 0004a, on the migration branch ``api``)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, String, Table

from erpbridge.store.tables import metadata

webhook_cursors = Table(
    "webhook_cursors",
    metadata,
    # The (updated_at, key) of the last row the publisher announced, per kind.
    Column("kind", String(64), primary_key=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("key", String(512), nullable=False),
)
