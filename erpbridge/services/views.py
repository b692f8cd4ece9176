"""How a service shows an outbox message to the shop (the ``messages`` of an order view)."""

from __future__ import annotations

from sqlalchemy import Select, select

from erpbridge.outbox.tables import outbox_messages as m
from erpbridge.store.db import as_utc


def message_query() -> Select:
    return select(m.c.id, m.c.operation, m.c.state, m.c.attempts, m.c.last_error, m.c.updated_at)


def message_view(row) -> dict:
    """A message row as JSON-able fields; times in UTC with their offset (SQLite hands them back
    without one)."""
    view = {str(k): v for k, v in row.items()}
    view["updated_at"] = as_utc(view["updated_at"])
    return view
