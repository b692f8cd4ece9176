"""Shopify's Admin GraphQL API on the HTTP kit, within the store's cost-based rate limit.

Shopify limits an app by *calculated cost* in a leaky bucket per store (standard plans 100 points
a second, Plus 1,000): every answer says in ``extensions.cost`` what the call cost and how full
the bucket is (``throttleStatus``). The adapter keeps that state and, before each call, waits
until the bucket holds what the call is expected to cost (the cost its last call of the same kind
asked for), so calls are spaced to the restore rate instead of running into the limit. An answer
that is throttled anyway (``THROTTLED`` in a 200, or an HTTP 429) is waited out and sent again:
throttled is never failed. Only a wait longer than ``max_throttle_wait`` becomes a
:class:`GeneralError` with ``retry_after``, so the message waits without using up an attempt.
"""

from __future__ import annotations

import threading
import time

from erpbridge.connectors.base import GeneralError, MessageError
from erpbridge.connectors.kit import ApiKey, HttpAdapter, system_words

#: What a call is expected to cost before one of its kind was answered (Shopify: a mutation 10).
FIRST_GUESS = 10.0


class CostBucket:
    """Shopify's leaky bucket as its last answer described it (thread-safe: one per store)."""

    def __init__(self) -> None:
        self.maximum = self.available = 1000.0
        self.restore = 50.0
        self._at = time.monotonic()
        self._costs: dict[str, float] = {}
        self._lock = threading.Lock()

    def expected(self, point: str) -> float:
        return self._costs.get(point, FIRST_GUESS)

    def wait_for(self, cost: float) -> float:
        """Seconds until ``cost`` points are available (0: now)."""
        with self._lock:
            now = time.monotonic()
            available = min(self.maximum, self.available + self.restore * (now - self._at))
            return max(0.0, (min(cost, self.maximum) - available) / self.restore)

    def update(self, point: str, cost: dict | None) -> None:
        if not cost:
            return
        status = cost.get("throttleStatus") or {}
        with self._lock:
            if cost.get("requestedQueryCost") is not None:
                self._costs[point] = float(cost["requestedQueryCost"])
            if status:
                self.maximum = float(status.get("maximumAvailable") or self.maximum)
                self.available = float(status.get("currentlyAvailable", self.available))
                self.restore = float(status.get("restoreRate") or self.restore)
                self._at = time.monotonic()


class ShopifyAdapter(HttpAdapter):
    """One store's Admin GraphQL endpoint (``/admin/api/<version>/graphql.json``)."""

    def __init__(self, cfg, *, system: str, exchange_log=None):
        super().__init__(f"{cfg.shop.rstrip('/')}/admin/api/{cfg.api_version}", system=system, connector="shopify",
                         timeout=cfg.timeout, exchange_log=exchange_log,
                         auth=ApiKey(cfg.access_token.get_secret_value(), header="X-Shopify-Access-Token"))
        self.max_wait = cfg.max_throttle_wait
        self.bucket = CostBucket()
        #: seconds spent waiting for the bucket, and how many answers were throttled (for bench/)
        self.waited = 0.0
        self.throttled = 0

    def graphql(self, document: str, variables: dict | None = None, *, flow: str, point: str,
                read: bool = False) -> dict:
        """The ``data`` of one GraphQL call (``point``: ``shopify.<operation>``). ``read``: a query,
        which httpx may reconnect for. GraphQL errors are a :class:`MessageError` in Shopify's
        words (a mutation's ``userErrors`` are the caller's to read: they name the record)."""
        waited = 0.0
        while True:
            pause = self.bucket.wait_for(self.bucket.expected(point))
            if pause:
                if waited + pause > self.max_wait:
                    raise GeneralError(f"{self.system}: {point} would wait {waited + pause:.0f} s for Shopify's cost "
                                       f"bucket (max_throttle_wait {self.max_wait:g} s)", retry_after=pause)
                time.sleep(pause)
                waited += pause
                self.waited += pause
            response = self.request("POST", "/graphql.json", flow=flow, point=point, accept=(429,),
                                    json={"query": document, "variables": variables or {}}, idempotent=read,
                                    what=point)
            if response.status_code == 429:
                self.throttled += 1
                self.bucket.update(point, {"throttleStatus": {"currentlyAvailable": 0}})
                continue
            body = self.json(response)
            cost = (body.get("extensions") or {}).get("cost")
            self.bucket.update(point, cost)
            errors = body.get("errors") or []
            if any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors):
                if (cost or {}).get("requestedQueryCost", 0) > self.bucket.maximum:
                    raise MessageError(f"{self.system}: {point} costs {cost['requestedQueryCost']} points, more than "
                                       f"the store's bucket of {self.bucket.maximum:g} ever holds")
                self.throttled += 1
                if not (cost or {}).get("throttleStatus"):
                    self.bucket.update(point, {"throttleStatus": {"currentlyAvailable": 0}})
                continue
            if errors:
                raise MessageError(f"{self.system} refused {point}: {system_words(response)}")
            if not isinstance(body.get("data"), dict):
                raise GeneralError(f"{self.system} answered {point} without data: {response.text[:200]!r}")
            return body["data"]
