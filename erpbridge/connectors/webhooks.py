"""The shop's webhooks: events pushed to subscribers, signed, through the outbox.

What it is: a *system* with ``connector: webhooks`` lists subscribers (a URL, a secret and the
events it wants). :func:`publish` turns one event into one outbox message per subscriber, in the
caller's transaction (so an event is never announced for a change that rolled back); the outbox's
workers deliver them by calling :meth:`WebhooksConnector.deliver`, retry them with backoff like
any message, and record every POST in the exchange log.

Signature (like Stripe's): the header ``Erpbridge-Signature: t=<unix time>,v1=<hex>`` where
``v1`` is HMAC-SHA256 of ``"<t>.<raw body>"`` under the subscriber's secret. The receiver
recomputes it and rejects a signature older than a few minutes (:func:`verify_signature`), so a
captured request cannot be replayed later. The time is taken at each attempt, so a retry carries
a fresh signature.

Config::

    systems:
      erp: {connector: tryton, ...}
      shop_hooks:
        connector: webhooks
        subscribers:
          - name: shop
            url: https://shop.example.com/erpbridge/webhook
            secret: ${SHOP_WEBHOOK_SECRET}
            events: [order.status, order.shipment, stock.changed]

A subscriber that is down fails its own messages (a *message* error, retried with backoff), not
the whole system: one broken endpoint must not hold back the others' events.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
import uuid
from typing import Literal

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from erpbridge.connectors.base import DeliveryResult, MessageError
from erpbridge.connectors.registry import Capabilities, ConnectorSpec
from erpbridge.systems import SystemBase

#: The events a subscriber may ask for ("*" means all).
EVENTS = (
    "order.accepted", "order.status", "order.cancelled", "order.shipment", "order.invoice", "order.credit_memo",
    "product.changed", "price.changed", "stock.changed",
)
OPERATION = "webhook"
SIGNATURE_HEADER = "Erpbridge-Signature"
#: Seconds a receiver should accept a signature for (:func:`verify_signature`).
DEFAULT_TOLERANCE = 300


class Subscriber(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    url: str = Field(pattern=r"^https?://")
    secret: SecretStr = Field(description="HMAC key; give it as ${VAR} or ${file:...}, never in clear")
    events: list[Literal[EVENTS + ("*",)]] = Field(default_factory=lambda: ["*"])  # type: ignore[valid-type]

    def wants(self, event: str) -> bool:
        return "*" in self.events or event in self.events


class WebhooksSystem(SystemBase):
    """A ``systems:`` entry with ``connector: webhooks``: the shop that calls erpbridge's API learns
    of changes through it."""

    connector: Literal["webhooks"]
    subscribers: list[Subscriber] = Field(min_length=1)
    timeout: float = Field(default=10, gt=0, description="seconds per POST")
    scan_interval: float = Field(default=5, gt=0, description="seconds between passes of the change publisher "
                                                              "(feedback and catalog events)")
    settle: float = Field(default=2, ge=0, description="the publisher leaves changes younger than this for the "
                                                       "next pass (a transaction may still be committing)")


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value for a body at a time."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, header: str, body: bytes, *, tolerance: float = DEFAULT_TOLERANCE,
                     now: float | None = None) -> bool:
    """What a receiver does: True when ``header`` signs ``body`` under ``secret`` and is recent."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        parts.setdefault(name, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, candidate) for candidate in parts.get("v1", []))


def webhook_systems(config) -> dict[str, WebhooksSystem]:
    return {name: cfg for name, cfg in config.systems.items() if isinstance(cfg, WebhooksSystem)}


def publish(conn, config, event: str, key: str, data: dict, *, event_id: str | None = None) -> list[int]:
    """Enqueue ``event`` for every subscriber that wants it, in the caller's transaction.

    ``key`` is the business key (e.g. the order number): a subscriber gets the events of one key
    in the order they were published. ``event_id`` (default: a new one) is the ``id`` receivers
    deduplicate by; a caller that may publish the same change again passes a stable one, and the
    outbox refuses the repeat (its idempotency key is unique). Returns the message ids.
    """
    from erpbridge.outbox import enqueue

    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}, expected one of {', '.join(EVENTS)}")
    ids = []
    created_at = dt.datetime.now(dt.timezone.utc).isoformat()
    event_id = event_id or f"evt_{uuid.uuid4().hex}"
    for system, cfg in webhook_systems(config).items():
        for subscriber in cfg.subscribers:
            if subscriber.wants(event):
                ids.append(enqueue(conn, channel=system, operation=OPERATION, business_key=f"{subscriber.name}:{key}",
                                   idempotency_key=f"{system}:{subscriber.name}:{event_id}",
                                   payload={"subscriber": subscriber.name, "id": event_id, "type": event,
                                            "created_at": created_at, "data": data}))
    return ids


class WebhooksConnector:
    """Delivers one event to one subscriber per call. The outbox's worker records each delivery
    (request, answer, duration, outcome) in the exchange log, redacted like any other."""

    def __init__(self, name: str, cfg: WebhooksSystem):
        self.name = name
        self.cfg = cfg
        self.client = httpx.Client(timeout=cfg.timeout, follow_redirects=False)
        self.subscribers = {s.name: s for s in cfg.subscribers}

    def deliver(self, operation: str, payload: dict, idempotency_key: str) -> DeliveryResult:
        if operation != OPERATION:
            raise MessageError(f"the webhooks connector only delivers {OPERATION!r}, not {operation!r}")
        subscriber = self.subscribers.get(payload.get("subscriber"))
        if subscriber is None:
            raise MessageError(f"no subscriber {payload.get('subscriber')!r} in system {self.name!r}")
        event = {k: payload[k] for k in ("id", "type", "created_at", "data")}
        body = orjson.dumps(event)
        headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key,
                   "Erpbridge-Event": event["type"],
                   SIGNATURE_HEADER: sign(subscriber.secret.get_secret_value(), body, int(time.time()))}
        try:
            response = self.client.post(subscriber.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise MessageError(f"subscriber {subscriber.name}: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 300:
            raise MessageError(f"subscriber {subscriber.name} answered HTTP {response.status_code}")
        return DeliveryResult(response={"subscriber": subscriber.name, "status": response.status_code})

    def close(self) -> None:
        self.client.close()


def create(app, name: str, cfg: WebhooksSystem) -> WebhooksConnector:
    """The connector module's entry point, as the outbox's workers call it."""
    return WebhooksConnector(name, cfg)


SPEC = ConnectorSpec(
    name="webhooks", config=WebhooksSystem, factory="erpbridge.connectors.webhooks:create",
    capabilities=Capabilities(deliver=frozenset({OPERATION})), roles=("shop",),
    description="signed webhook events (order feedback, catalog changes) for a shop that calls erpbridge's API",
)
