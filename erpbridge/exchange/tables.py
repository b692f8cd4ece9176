"""The exchange log's tables: one row per request/response with a system (see :mod:`.log`), and the
key its masks are made with."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Float, Index, Integer, LargeBinary, String, Table, Text

from erpbridge.store.tables import metadata

exchange_log = Table(
    "exchange_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("system", String(64), nullable=False),
    Column("flow", String(64), nullable=False),
    Column("point", String(128), nullable=False),
    Column("direction", String(3), nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("size", Integer, nullable=False),
    Column("error", Text),
    Column("request", Text),
    Column("response", Text),
)
# The filters of `erpbridge log` (seed 000: a date range and a measuring point).
Index(None, exchange_log.c.point, exchange_log.c.at)
Index(None, exchange_log.c.system, exchange_log.c.at)
# The control center's exchange log page (migration 0006d): newest first by id, filtered by
# measuring point, system or outcome (failures are rare: found without reading the ok ones).
Index(None, exchange_log.c.point, exchange_log.c.id)
Index(None, exchange_log.c.system, exchange_log.c.id)
Index(None, exchange_log.c.outcome, exchange_log.c.id)

#: The store's masking key (one row): the HMAC key of the personal data masks in the log (see
#: :mod:`.mask_key`). Kept in the store, so every process masks alike and no log holds it.
mask_keys = Table(
    "mask_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("key", LargeBinary(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
