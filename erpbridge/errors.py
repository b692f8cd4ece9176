"""The two kinds of failure every connector reports, as the outbox and the semaphore act on them.

They live here, below every other module, because both the connectors (which raise them) and
the exchange log, the outbox and the API (which classify by them) import them;
:mod:`erpbridge.connectors.base` documents the contract around them.

* :class:`GeneralError`: the system as a whole cannot be reached or is failing (connection
  refused, timeout, HTTP 5xx, "ERP offline"). The semaphore marks the system offline for
  ``max_lock_time`` seconds; waiting messages keep their attempts.
* :class:`MessageError`: this one message is wrong (validation, business rule, unknown
  product). Only this message fails; it is retried with backoff and goes dead after its
  configured attempts.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of the errors a connector raises."""


class GeneralError(ConnectorError):
    """The whole system is unavailable: trips the semaphore, for ``retry_after`` seconds when the
    system said how long to wait (HTTP 429 or 503 with Retry-After), else for ``max_lock_time``."""

    def __init__(self, *args, retry_after: float | None = None):
        super().__init__(*args)
        self.retry_after = retry_after


class MessageError(ConnectorError):
    """This message cannot be processed: fails only the message."""
