"""The shop's HTTP API (FastAPI): fast reads from the store, writes through the outbox.

``create_api(app)`` builds it; ``erpbridge serve`` runs it alone, ``erpbridge run`` next to the
workers. Endpoints live under ``/api/v1`` (see ``/docs`` and ``/openapi.json`` of a running server).

Importing this package does not import FastAPI: the config reads :mod:`.config` and the CLI
:mod:`.keys`, and neither needs the web framework (it costs a second at every CLI call).
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_api"]


def __getattr__(name: str) -> Any:
    if name == "create_api":
        from erpbridge.api.app import create_api

        return create_api
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
