"""The service layer: what the shop's API does to the store and the outbox, without HTTP.

Each write happens in one transaction together with its outbox message(s), and is idempotent on
the shop's number for it, so a shop that retries after a lost answer never creates twice.
"""

from erpbridge.services.errors import Conflict, NotFound, Rejected

__all__ = ["Conflict", "NotFound", "Rejected"]
