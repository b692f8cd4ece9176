"""Building the FastAPI application from an erpbridge :class:`~erpbridge.bootstrap.App`."""

from __future__ import annotations

import asyncio
import gc
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from erpbridge import __version__
from erpbridge.api import problems
from erpbridge.api.keys import KeyRing
from erpbridge.api.limits import BodySizeLimit
from erpbridge.api.realtime import RealTimeGateway
from erpbridge.api.routes import catalog, customers, health, orders, releases
from erpbridge.api.store_reads import StoreReads
from erpbridge.connectors.base import RealTime
from erpbridge.connectors.webhooks import webhook_systems
from erpbridge.control.alerts import watch as watch_alerts
from erpbridge.control import metrics
from erpbridge.control.app import control_app
from erpbridge.services.webhook_events import publish_changes

logger = logging.getLogger(__name__)

DESCRIPTION = """The shop's API of erpbridge.

Reads (catalog, prices, stock, customers) are answered from erpbridge's store, whatever state
the ERP is in; writes (customers, orders, payments, cancellations, returns) are committed with
their outbox message before the answer and reach the ERP through the outbox.

Authenticate with `Authorization: Bearer <key>` (create keys with `erpbridge keys create`).
Errors are `application/problem+json` with the failing field paths in `errors`.
"""


def erp_realtime(hub) -> RealTime | None:
    """The connector of the API's ERP when it offers real-time lookups (customer, price,
    document), else None (e.g. the file exchange). A connector that fails to build is logged and
    the store answers alone."""
    name = hub.config.erp_for()
    if not hub.capabilities(name).realtime:
        return None
    try:
        return hub.connector(name)
    except Exception:
        logger.exception("the connector of %s cannot be built: real-time lookups answer from the store", name)
        return None


async def publish_webhook_changes(hub) -> None:
    """Run the webhook change publisher (:mod:`erpbridge.services.webhook_events`) every
    ``scan_interval`` seconds while the server runs; a failed pass is logged and retried."""
    interval = min(s.scan_interval for s in webhook_systems(hub.config).values())
    while True:
        try:
            await asyncio.to_thread(publish_changes, hub)
        except Exception:
            logger.exception("webhook change publisher: the pass failed; retrying in %s s", interval)
        await asyncio.sleep(interval)


_UNSET = object()


def create_api(hub, *, erp: RealTime | None | object = _UNSET) -> FastAPI:
    """The API over ``hub`` (the bootstrapped App). ``erp`` is the seam for real-time lookups:
    by default the ERP system's connector (when it offers them); tests pass their own."""
    config = hub.config.api

    @asynccontextmanager
    async def lifespan(api: FastAPI):
        publisher = asyncio.create_task(publish_webhook_changes(hub)) if webhook_systems(hub.config) else None
        alerts = asyncio.create_task(watch_alerts(hub))
        # Everything built so far lives as long as the server: keep it out of the collector's full
        # passes, which otherwise walk it all and stall every request in flight (the p99).
        gc.freeze()
        yield
        if publisher is not None:
            publisher.cancel()
        alerts.cancel()
        api.state.realtime.close()
        api.state.reads.close()

    api = FastAPI(title="erpbridge shop API", version=__version__, description=DESCRIPTION,
                  openapi_url="/openapi.json", docs_url="/docs", redoc_url=None, lifespan=lifespan)
    api.state.hub = hub
    api.state.keys = KeyRing(hub.engine, config.key_cache_seconds)
    api.state.reads = StoreReads(hub.engine)
    api.state.semaphore = hub.semaphore(hub.config.erp_for())
    api.state.realtime = RealTimeGateway(erp_realtime(hub) if erp is _UNSET else erp, api.state.semaphore,
                                         config.realtime)
    problems.install(api)
    for module in (health, catalog, customers, orders, releases):
        api.include_router(module.router)
    api.router.routes.insert(0, catalog.price_route())
    # A shop connector that is called as the shop's ERP (Capabilities.inbound: Ibexa's
    # Web.Connector, Commerceup's ERP API, Shopify's webhooks) serves its own endpoint under its system's name.
    for name in hub.systems_that(lambda capabilities: capabilities.inbound):
        api.include_router(hub.connector(name).router(), prefix=f"/connectors/{name}")

    api.mount("/control", control_app(hub))  # the operators' pages: their own sign-in, no API key
    metrics.install(api, hub)  # /metrics (scope read:metrics) and the request timer
    if config.cors_origins:
        api.add_middleware(CORSMiddleware, allow_origins=config.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", "If-None-Match"],
                           expose_headers=["ETag", "Location", "X-Erpbridge-Source", "X-Erpbridge-Fallback"])
    api.add_middleware(BodySizeLimit, max_bytes=config.max_body_bytes)

    return api
