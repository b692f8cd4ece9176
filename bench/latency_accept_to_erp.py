"""Latency from accepting an order to the ERP's call, with the ERP up and idle (target: p95 < 1 s).

  baseline  the order is stored, then the shop's process calls the ERP itself, at once (what a
            shop does without an outbox): the floor, one look-up and one create over HTTP
  outbox    the order and its message are committed together (what the shop API does); a
            separate `erpbridge worker`-like process with the default settings delivers it
            (SQLite: it polls every 0.5 s; PostgreSQL: NOTIFY wakes it at once)

Orders arrive one at a time at RATE per second; the time runs from the commit to the ERP receiving
the order's create (wall clock, same host). Prints p50/p95/max per store and the gap to the baseline.

Run: .venv/bin/python bench/latency_accept_to_erp.py [--orders 100] [--rate 10] [--stores sqlite,postgres]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from outbox_common import ErpConnector, TestErp, Workers, make_app, make_order, store, temporary_folder

from erpbridge.outbox import enqueue
from erpbridge.store.db import write_transaction
from erpbridge.store.records import prepare


class TimedErp(TestErp):
    """The test ERP, noting when each order's create arrived."""

    def __init__(self):
        self.created_at: dict[str, float] = {}
        super().__init__()

    def handle(self, method, path, body):
        if method == "POST" and path == "/orders":
            self.created_at.setdefault(body["number"], time.time())
        return super().handle(method, path, body)


def accept(app, number: str) -> None:
    order = make_order(number)
    with write_transaction(app.engine) as conn:
        app.records.write_in(conn, "orders", [prepare(order)])
        enqueue(conn, channel="erp", operation="send_order", business_key=number,
                payload=order.model_dump(mode="json"), record_kind="orders", record_key=number)


def paced(n: int, rate: float):
    start = time.monotonic()
    for i in range(n):
        time.sleep(max(0.0, start + i / rate - time.monotonic()))
        yield i


def percentiles(latencies: list[float]) -> tuple[float, float, float]:
    ordered = sorted(latencies)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95 + 0.5) - 1)], ordered[-1]


def baseline(folder: Path, n: int, rate: float) -> list[float]:
    erp = TimedErp()
    with store("sqlite", folder / "baseline") as url:
        (folder / "baseline").mkdir()
        app = make_app(url, folder / "baseline", {})
        connector, accepted = ErpConnector(erp.port), {}
        for i in paced(n, rate):
            number = f"B{i}"
            order = make_order(number)
            app.records.write("orders", [prepare(order)])
            accepted[number] = time.time()
            connector.deliver("send_order", order.model_dump(mode="json"), number)
        app.close()
    erp.stop()
    return [erp.created_at[k] - accepted[k] for k in accepted]


def outbox(kind: str, folder: Path, n: int, rate: float) -> list[float]:
    erp = TimedErp()
    (folder / kind).mkdir()
    with store(kind, folder / kind) as url:
        app = make_app(url, folder / kind, {})  # the default settings
        workers = Workers(app, erp.port, processes=1)
        workers.go()
        time.sleep(1.0)  # idle and listening
        accepted = {}
        for i in paced(n, rate):
            number = f"{kind}-{i}"
            accept(app, number)
            accepted[number] = time.time()
            if i and i % 25 == 0:
                print(f"  {kind}: {i}/{n} accepted", flush=True)
        deadline = time.monotonic() + 30
        while len(erp.created_at) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        workers.stop()
        app.close()
    erp.stop()
    missing = set(accepted) - set(erp.created_at)
    assert not missing, f"{len(missing)} orders never reached the ERP"
    return [erp.created_at[k] - accepted[k] for k in accepted]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--rate", type=float, default=10.0, help="orders accepted per second")
    parser.add_argument("--stores", default="sqlite,postgres")
    args = parser.parse_args()
    results = {}
    with temporary_folder() as tmp:
        folder = Path(tmp)
        print(f"baseline: {args.orders} orders at {args.rate:g}/s, the shop calling the ERP itself", flush=True)
        results["baseline"] = baseline(folder, args.orders, args.rate)
        for kind in args.stores.split(","):
            print(f"outbox on {kind}: {args.orders} orders at {args.rate:g}/s", flush=True)
            results[kind] = outbox(kind, folder, args.orders, args.rate)
    print(f"\nlatency accept -> ERP create, {args.orders} orders at {args.rate:g}/s, ERP idle, load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (shared machine)")
    base_p95 = percentiles(results["baseline"])[1]
    for label, latencies in results.items():
        p50, p95, worst = percentiles(latencies)
        gap = "" if label == "baseline" else f"   +{(p95 - base_p95) * 1000:,.0f} ms over baseline p95"
        verdict = "" if label == "baseline" else ("   (target p95 < 1 s: met)" if p95 < 1 else "   (target p95 < 1 s: MISSED)")
        print(f"  {label:<9} p50 {p50 * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   max {worst * 1000:7.1f} ms{gap}{verdict}")


if __name__ == "__main__":
    main()
