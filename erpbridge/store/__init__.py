"""The store: erpbridge's own database, the shop's cache of the ERP and the outbox's home."""

from erpbridge.store.db import is_sqlite, make_engine
from erpbridge.store.migrate import upgrade

__all__ = ["make_engine", "is_sqlite", "upgrade"]
