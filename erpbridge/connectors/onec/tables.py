"""The 1C exchange's tables (migration 0007a): its sessions, its imports, its orders.

Kept in the store, not in a process, so that every API process answers 1C alike: a repeat
``import`` call may reach another process than the one importing, and ``success`` another one
than the ``query`` it confirms.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Integer, String, Table, Text, UniqueConstraint

from erpbridge.store.tables import metadata

#: One row per checkauth: the SHA-256 of the cookie 1C carries from then on.
onec_sessions = Table(
    "onec_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("system", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

#: One row per file an exchange imports: running (``heartbeat`` renewed while it works), done or
#: failed (``detail`` the answer's reason).
onec_imports = Table(
    "onec_imports",
    metadata,
    Column("session", String(64), primary_key=True),
    Column("filename", String(255), primary_key=True),
    Column("system", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("detail", Text),
    Column("heartbeat", DateTime(timezone=True), nullable=False),
)

#: The orders 1C takes on sale&query, one row per order: ``revision`` counts its versions (a
#: cancellation is one), ``queried_*`` what a query sent and to which session, and
#: ``exported_revision`` what 1C confirmed with sale&success.
onec_orders = Table(
    "onec_orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("system", String(64), nullable=False),
    Column("order", String(128), nullable=False),
    Column("payload", Text, nullable=False),
    Column("cancelled", Boolean, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("queried_session", String(64)),
    Column("queried_revision", Integer),
    Column("exported_revision", Integer),
    Column("exported_at", DateTime(timezone=True)),
    UniqueConstraint("system", "order"),
)
