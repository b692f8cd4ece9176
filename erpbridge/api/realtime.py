"""Real-time lookups in the ERP (seed 000), bounded so the shop never waits on a slow or dead ERP.

A lookup (a customer at login, a customer's price, a document) goes to the ERP only when its
connector offers them (:class:`erpbridge.connectors.base.RealTime`) and the config asks for it.
Then, in this order:

* the semaphore says the ERP is offline: no call at all, the store answers (``erp_offline``);
* a cached answer younger than ``api.realtime.cache_ttl`` (prices only) is reused;
* the call runs in a small thread pool and is awaited for ``api.realtime.timeout`` seconds;
  past that the store answers (``erp_timeout``) while the call finishes in the background;
* a :class:`~erpbridge.connectors.base.GeneralError` trips the semaphore (every process then
  fails fast), any other failure answers from the store (``erp_error``).

A timeout of ours does not trip the semaphore: the shop's budget is far shorter than the ERP's
own timeout, and a slow answer is not an outage; the connector raises GeneralError for those.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

from erpbridge.api.config import RealTimeConfig
from erpbridge.connectors.base import GeneralError, PriceQuery, RealTime
from erpbridge.outbox.semaphore import Semaphore

logger = logging.getLogger(__name__)


@dataclass
class Answer:
    """What the ERP said (``value``), or why the store must answer (``fallback``)."""

    value: Any = None
    fallback: str | None = None

    @property
    def from_erp(self) -> bool:
        return self.fallback is None


class TtlCache:
    def __init__(self, ttl: float, max_entries: int = 50_000):
        self.ttl = ttl
        self.max_entries = max_entries
        self._data: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key) -> tuple[bool, Any]:
        with self._lock:
            hit = self._data.get(key)
        if hit and time.monotonic() < hit[0]:
            return True, hit[1]
        return False, None

    def put(self, key, value) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._data) >= self.max_entries:
                self._data.clear()
            self._data[key] = (time.monotonic() + self.ttl, value)


class RealTimeGateway:
    def __init__(self, erp: RealTime | None, semaphore: Semaphore | None, config: RealTimeConfig):
        self.erp = erp
        self.semaphore = semaphore
        self.config = config
        self.prices = TtlCache(config.cache_ttl)
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="erp-realtime") if erp else None

    @property
    def available(self) -> bool:
        return self.erp is not None

    def wants_price(self, customer: str | None, context: str) -> bool:
        return self.erp is not None and bool(customer) and context in self.config.price_contexts

    async def price(self, query: PriceQuery) -> Answer:
        cache_key = (query.sku, query.customer, str(query.quantity), query.context)
        hit, value = self.prices.get(cache_key)
        if hit:
            return Answer(value)
        answer = await self._call(lambda: self.erp.get_price(query))
        if answer.from_erp:
            self.prices.put(cache_key, answer.value)
        return answer

    async def customer(self, number: str) -> Answer:
        return await self._call(lambda: self.erp.get_customer(number))

    async def document(self, doc_type: str, number: str) -> Answer:
        return await self._call(lambda: self.erp.get_document(doc_type, number))

    async def _call(self, fn: Callable[[], Any]) -> Answer:
        if self.erp is None:
            return Answer(fallback="no_realtime")
        if self.semaphore is not None and await asyncio.to_thread(self.semaphore.is_offline):
            return Answer(fallback="erp_offline")
        future = asyncio.wrap_future(self._pool.submit(fn))
        try:
            return Answer(await asyncio.wait_for(asyncio.shield(future), self.config.timeout))
        except asyncio.TimeoutError:
            return Answer(fallback="erp_timeout")
        except GeneralError as exc:
            if self.semaphore is not None:
                await asyncio.to_thread(self.semaphore.trip, f"real-time lookup: {exc}")
            return Answer(fallback="erp_offline")
        except Exception:
            logger.warning("real-time lookup failed; answering from the store", exc_info=True)
            return Answer(fallback="erp_error")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
