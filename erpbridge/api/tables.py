"""The API's own tables: API keys, stored hashed (migration 0004), and how far the webhook change
publisher has got (migration 0004a); both on the migration branch ``api``."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, String, Table, Text

from erpbridge.store.tables import metadata

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # Public part of the token, used to find the row; the secret part is only ever stored hashed.
    Column("prefix", String(32), nullable=False, unique=True),
    Column("name", String(128), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

webhook_cursors = Table(
    "webhook_cursors",
    metadata,
    # How far the change publisher (erpbridge.services.webhook_events) has announced each kind:
    # the (updated_at, key) of the last row it published.
    Column("kind", String(64), primary_key=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("key", String(512), nullable=False),
)
