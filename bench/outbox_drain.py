"""Draining the outbox on SQLite with a connector that does nothing: the outbox's own cost.

  baseline  batch_size 1, a connector with deliver() only: one claim, one call and one
            acknowledgement transaction per message
  claimed   batch_size B, a connector with deliver() only: B messages per claim and
            acknowledgement, one call (and exchange-log entry) per message
  batched   batch_size B, a connector with deliver_batch(): B messages per claim, call and
            acknowledgement (one exchange-log entry per call, as for a real bulk API)

Prints messages/s and the ratio batched/baseline (target: >= 10,000 messages/s).

Run: .venv/bin/python bench/outbox_drain.py [N] [B]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from erpbridge.bootstrap import bootstrap
from erpbridge.config import Config, StoreConfig
from erpbridge.connectors.base import DeliveryResult
from erpbridge.outbox import NewMessage, enqueue_many
from erpbridge.outbox.config import ChannelConfig, OutboxConfig
from erpbridge.outbox.worker import Worker

DONE = DeliveryResult()


class NoOp:
    def deliver(self, operation, payload, idempotency_key):
        return DONE


class NoOpBatch(NoOp):
    def deliver_batch(self, operation, items):
        return [DONE] * len(items)


def fill(app, n: int) -> None:
    payload = {"number": "0", "lines": [{"sku": "SKU-1", "quantity": "2", "unit_price": "19.9"}], "total": "39.8"}
    for start in range(0, n, 1000):
        with app.engine.begin() as conn:
            enqueue_many(conn, [NewMessage("erp", "send_order", str(i), payload) for i in range(start, min(n, start + 1000))])


def drain(url: str, n: int, batch: int, connector) -> float:
    config = Config(store=StoreConfig(url=url),
                    outbox=OutboxConfig(channels={"erp": ChannelConfig(batch_size=batch)}))
    app = bootstrap(config)
    fill(app, n)
    worker = Worker(app, connectors={"erp": connector})
    started = time.perf_counter()
    delivered = worker.drain()
    elapsed = time.perf_counter() - started
    assert delivered == n, delivered
    app.close()
    return n / elapsed


def main(n: int, batch: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        baseline = drain(f"sqlite:///{folder}/baseline.db", max(1000, n // 10), 1, NoOp())
        claimed = drain(f"sqlite:///{folder}/claimed.db", n, batch, NoOp())
        batched = drain(f"sqlite:///{folder}/batched.db", n, batch, NoOpBatch())
    print(f"outbox drain, SQLite, no-op deliveries, load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
          f"(shared machine)")
    print(f"  baseline  1 message/claim, deliver()       {baseline:>9,.0f} messages/s  ({max(1000, n // 10)} messages)")
    print(f"  claimed   {batch} messages/claim, deliver()       {claimed:>9,.0f} messages/s  ({n} messages)  "
          f"{claimed / baseline:.1f}x baseline")
    print(f"  batched   {batch} messages/claim, deliver_batch() {batched:>9,.0f} messages/s  ({n} messages)  "
          f"{batched / baseline:.1f}x baseline")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000, int(sys.argv[2]) if len(sys.argv) > 2 else 500)
