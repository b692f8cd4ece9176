"""Read and order latency with the ERP online vs offline (semaphore tripped), same server, same run.

The server has a real-time ERP (an in-process stand-in that answers a customer's price after
20 ms) and a store of 1,000,000 products. Each endpoint is measured with wrk (8 connections)
while the ERP is online, then again after the semaphore marks it offline:

  product   GET /api/v1/products/{sku}               from the store (never asks the ERP)
  stock     GET /api/v1/stock/{sku}                  from the store
  price     GET /api/v1/prices/{sku}?customer=C1     product_page context, real time: online the
            &context=product_page                    ERP's answer (cached for 60 s), offline the
                                                     store's, marked erp_offline (another SKU,
                                                     one the cache does not hold)
  order     POST /api/v1/orders                      committed with its outbox message (which
                                                     waits while the ERP is offline)

Prints p50/p99 and req/s per endpoint in both states and the offline/online ratio of p99
(the target: reads and orders keep the same latency, i.e. a ratio near 1 or below).

Run: .venv/bin/python bench/api_erp_offline.py [PRODUCTS] [SECONDS]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx

from api_common import CUSTOMER, count_accepted, machine, order_script, seeded_store, serving, sku, wrk

ERP_DELAY = 0.02


def run(n: int, seconds: int) -> None:
    from erpbridge.bootstrap import bootstrap
    from erpbridge.config import load_config
    from erpbridge.outbox.semaphore import Semaphore

    with tempfile.TemporaryDirectory() as folder:
        # Orders are written: serve a private copy, not the cached store.
        db = Path(folder) / "store.db"
        print("copying the seeded store...", flush=True)
        shutil.copyfile(seeded_store(n), db)
        results: dict[str, dict[str, dict]] = {}
        with serving(db, erp_delay=ERP_DELAY, realtime={"cache_ttl": 60}) as (url, token, config):
            hub = bootstrap(load_config(config), migrate=False)
            semaphore = Semaphore(hub.engine, "erp", 600)
            auth = {"Authorization": f"Bearer {token}"}
            for state in ("online", "offline"):
                # Another SKU when offline: the online run's answer is still in the price cache.
                price = f"/api/v1/prices/{sku(7 if state == 'online' else 8)}?customer={CUSTOMER}&context=product_page"
                if state == "offline":
                    semaphore.trip("benchmark: the ERP is offline", seconds=600)
                answer = httpx.get(url + price, headers=auth).json()
                expected = ("erp", None) if state == "online" else ("store", "erp_offline")
                assert (answer["source"], answer["fallback"]) == expected, answer
                print(f"ERP {state}:", flush=True)
                prefix = f"O{state}{time.time_ns()}"
                results[state] = {
                    "product": wrk(f"{url}/api/v1/products/{sku(42)}", token=token, seconds=seconds, label="product"),
                    "stock": wrk(f"{url}/api/v1/stock/{sku(42)}", token=token, seconds=seconds, label="stock"),
                    "price": wrk(url + price, token=token, seconds=seconds, label="price (real time)"),
                    "order": wrk(url, token=token, seconds=seconds, script=order_script(folder, prefix),
                                 label="POST orders"),
                }
                stored, messages = count_accepted(db, prefix)
                assert stored == messages >= results[state]["order"]["requests"], (stored, messages)
            semaphore.reset()
            hub.close()
    for state in results.values():
        for r in state.values():
            assert r["non_2xx"] == 0 and not r["errors"], r
    print(f"\nshop API latency, ERP online vs offline, {n:,} products, 1 uvicorn process, 8 connections; {machine()}")
    print(f"  {'endpoint':<9}{'online p50/p99 ms':>20}{'req/s':>8}   {'offline p50/p99 ms':>20}{'req/s':>8}   "
          f"offline/online p99")
    for name in ("product", "stock", "price", "order"):
        on, off = results["online"][name], results["offline"][name]
        print(f"  {name:<9}{on['p50_ms']:>10.2f} /{on['p99_ms']:>7.2f}{on['rps']:>8,.0f}   "
              f"{off['p50_ms']:>10.2f} /{off['p99_ms']:>7.2f}{off['rps']:>8,.0f}   {off['p99_ms'] / on['p99_ms']:.2f}")


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000, int(sys.argv[2]) if len(sys.argv) > 2 else 5)
