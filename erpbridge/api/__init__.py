"""The shop's HTTP API (FastAPI): fast reads from the store, writes through the outbox.

``create_api(app)`` builds it; ``erpbridge serve`` runs it alone, ``erpbridge run`` next to the
workers. Endpoints live under ``/api/v1`` (see ``/docs`` and ``/openapi.json`` of a running server).
"""

from erpbridge.api.app import create_api

__all__ = ["create_api"]
