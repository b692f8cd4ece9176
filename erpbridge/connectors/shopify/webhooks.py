"""Shopify's order webhooks, served at ``/connectors/<system>/webhooks`` (subscribe ``orders/create``
and ``orders/updated`` to it).

Each delivery is checked before anything is read from it: ``X-Shopify-Hmac-SHA256`` must be the
base64 HMAC-SHA256 of the raw body under the app's client secret (``webhook_secret``), compared
in constant time; otherwise 401 and nothing happens. A delivery whose ``X-Shopify-Webhook-Id``
was handled before (Shopify retries with the same id) is answered 200 at once. Otherwise the
order is read again through the Admin API by its GID (the webhook body is the REST shape; the
GraphQL answer is the one the mapper and the schema tests know) and placed through the order
service, which dedupes on the order number too: an order that arrives by webhook and by the poll
goes in once. An ``orders/updated`` of an order the merchant cancelled or refunded in Shopify
takes that to the ERP (:meth:`ShopifyConnector.made_in_shop`). When Shopify cannot be asked, the
answer is 503 and Shopify delivers again later.
Handled ids are kept as bindings of kind ``shopify_webhooks`` (id -> topic).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from erpbridge.connectors.base import ConnectorError
from erpbridge.store.tables import bindings

TOPICS = ("orders/create", "orders/updated")
#: The bindings kind under which handled webhook ids are kept.
SEEN = "shopify_webhooks"


def signature(secret: str, body: bytes) -> str:
    """``X-Shopify-Hmac-SHA256`` of ``body``."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verified(secret: str, body: bytes, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(signature(secret, body), given.strip())


def router(connector) -> APIRouter:
    api = APIRouter()

    @api.post("/webhooks", include_in_schema=False)
    async def webhook(request: Request):
        body = await request.body()
        status, answer = await asyncio.to_thread(handle, connector, body, request.headers)
        return JSONResponse(answer, status_code=status)

    return api


def handle(connector, body: bytes, headers) -> tuple[int, dict]:
    """(HTTP status, answer) for one webhook delivery."""
    from erpbridge.ingest import ingest_fetched
    from erpbridge.outbox.binder import bind

    system, cfg = connector.name, connector.cfg
    if cfg.webhook_secret is None:
        return 401, {"error": f"{system}: no webhook_secret is configured, so no webhook can be verified"}
    if not verified(cfg.webhook_secret.get_secret_value(), body, headers.get("X-Shopify-Hmac-SHA256")):
        return 401, {"error": f"{system}: X-Shopify-Hmac-SHA256 does not match the body"}
    topic, webhook_id = headers.get("X-Shopify-Topic", ""), headers.get("X-Shopify-Webhook-Id", "").strip()
    if not webhook_id:
        return 400, {"error": f"{system}: the X-Shopify-Webhook-Id header is missing"}
    if topic not in TOPICS:
        return 200, {"ignored": topic}
    with connector.app.engine.connect() as conn:
        if conn.execute(select(bindings.c.id).where(bindings.c.kind == SEEN, bindings.c.key == webhook_id,
                                                    bindings.c.system == system)).first():
            return 200, {"duplicate": webhook_id}
    try:
        gid = orjson.loads(body).get("admin_graphql_api_id")
    except (orjson.JSONDecodeError, AttributeError):
        gid = None
    if not isinstance(gid, str) or not gid.startswith("gid://shopify/Order/"):
        return 400, {"error": f"{system}: webhook {webhook_id} ({topic}): admin_graphql_api_id: not an order GID"}
    try:
        node = connector.order(gid, "orders")
    except ConnectorError as exc:
        return 503, {"error": str(exc)}
    report = None
    if node is not None:  # a new order, or one cancelled or refunded in Shopify (orders/updated)
        try:
            raws = [connector.raw_order(node, f"webhook {webhook_id} ({topic})")] if node.get("cancelledAt") is None else []
            raws += connector.made_in_shop([node])
        except ConnectorError as exc:
            return 503, {"error": str(exc)}
        report = ingest_fetched(connector.app, system, "orders", raws, flow="orders")
    with connector.app.engine.begin() as conn:
        bind(conn, [(SEEN, webhook_id, system, webhook_id)])
    return 200, {"order": node and node.get("name"), "new": report.new if report else 0,
                 "rejected": [str(r) for r in report.rejections] if report else []}
