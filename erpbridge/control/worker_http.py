"""``/health`` and ``/metrics`` of a worker-only process (``erpbridge worker`` with
``outbox.worker_port``), for the orchestrator's liveness probe and the company's monitoring.

``/health`` answers 200 while the worker runs and the store answers, 503 otherwise (stopping,
or the store unreachable: the worker cannot deliver either way). ``/metrics`` is the API's
(:mod:`erpbridge.control.metrics`): the store's figures and this process's, behind the same API
key scope ``read:metrics``, checked against the keys in the store.
"""

from __future__ import annotations

import threading
from typing import Callable

import uvicorn
from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from erpbridge.api import problems
from erpbridge.api.auth import require
from erpbridge.api.keys import KeyRing
from erpbridge.control.metrics import store_registry


def worker_app(hub, running: Callable[[], bool]) -> FastAPI:
    """The worker's small HTTP app; ``running`` says whether the worker still delivers."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.hub = hub
    app.state.keys = KeyRing(hub.engine, hub.config.api.key_cache_seconds)
    problems.install(app)
    registry = store_registry(hub)

    @app.get("/health")
    def health() -> Response:
        if not running():
            return JSONResponse({"status": "stopping"}, status_code=503)
        try:
            with hub.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            return JSONResponse({"status": "unhealthy", "store": f"not reachable: {type(exc).__name__}"},
                                status_code=503)
        return JSONResponse({"status": "ok", "store": "ok"})

    @app.get("/metrics", dependencies=[Depends(require("read:metrics"))])
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


def serve(hub, stop: threading.Event, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    """Start serving ``worker_app`` on ``outbox.worker_host`` and ``port`` in a daemon thread (off
    the main thread uvicorn leaves the signals to the worker command)."""
    app = worker_app(hub, lambda: not stop.is_set())
    server = uvicorn.Server(uvicorn.Config(app, host=hub.config.outbox.worker_host, port=port, log_level="warning",
                                           server_header=False))
    thread = threading.Thread(target=server.run, name="worker-http", daemon=True)
    thread.start()
    return server, thread
