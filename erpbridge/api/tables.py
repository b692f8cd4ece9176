"""The API's own table: API keys, stored hashed (migration 0004, on the migration branch ``api``)."""

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
