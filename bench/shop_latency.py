"""How long a change takes to cross the hub with the shop connector running as `erpbridge run`
runs it (scheduler and worker threads), against the Magento test double (tests/magento, which
checks every request against Adobe's schema):

  stock   a stock level written into the store (as an ERP pull writes it) -> the quantity at the
          double's MSI source item: the shop's `stock` flow runs on change (issue 12: p95 < 5 s)
  orders  an order placed in Magento -> its send_order message done (the ERP has it): the `orders`
          flow polls each minute (issue 12: p95 < the poll interval + 2 s, here 62 s)

Prints p50, p95 and the worst of each, with their targets.

Run: .venv/bin/python bench/shop_latency.py [--seconds 150] [--stock-every 0.5] [--orders 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path[:0] = [str(TESTS / "magento"), str(TESTS / "connector_package")]

from magento_double import MagentoDouble  # noqa: E402
from magento_hub import make_app  # noqa: E402
from sqlalchemy import select  # noqa: E402

from erpbridge.flows.scheduler import Scheduler, run_flow  # noqa: E402
from erpbridge.outbox.tables import outbox_messages as m  # noqa: E402
from erpbridge.outbox.worker import Worker  # noqa: E402
from erpbridge.records import Product, StockLevel  # noqa: E402
from erpbridge.store.db import write_transaction  # noqa: E402
from erpbridge.store.records import prepare  # noqa: E402

SKUS = [f"LAT-{i:03d}" for i in range(50)]


def store(app, records) -> None:
    with write_transaction(app.engine) as conn:
        for record in records:
            app.records.write_in(conn, record.kind, [prepare(record)])


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1] if len(values) > 1 else values[0]


def report(what: str, values: list[float], target: float) -> None:
    p50, p95 = quantile(values, 0.50), quantile(values, 0.95)
    verdict = "ok" if p95 < target else "MISSED"
    print(f"  {what:<8} n={len(values):<4} p50 {p50:6.2f} s   p95 {p95:6.2f} s   worst {max(values):6.2f} s"
          f"   target p95 < {target:g} s: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=150, help="how long changes and orders keep coming")
    parser.add_argument("--stock-every", type=float, default=0.5, help="seconds between two stock changes")
    parser.add_argument("--orders", type=int, default=20, help="orders placed at random times")
    args = parser.parse_args()
    magento = MagentoDouble()
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Path(tmp) / "erpbridge.yaml", f"sqlite:///{tmp}/latency.db", magento,
                       catalog={"new_products_enabled": True})
        store(app, [Product(sku=sku, name=sku) for sku in SKUS])
        store(app, [StockLevel(sku=sku, warehouse="main", quantity=100) for sku in SKUS])
        time.sleep(2.1)  # the change feed settles
        for flow in ("catalog", "stock"):
            run_flow(app, flow)
        Worker(app).drain()

        stop = threading.Event()
        threads = [threading.Thread(target=Scheduler(app).run, args=(stop,), daemon=True),
                   threading.Thread(target=Worker(app).run, args=(stop,), kwargs={"concurrency": 2}, daemon=True)]
        for thread in threads:
            thread.start()
        stored: dict[tuple[str, int], float] = {}
        arrived: dict[tuple[str, int], float] = {}
        placed: dict[str, float] = {}

        def watch() -> None:  # the double's source items, looked at every 20 ms
            while not stop.is_set():
                now = time.time()
                for (sku, _source), item in list(magento.source_items.items()):
                    key = (sku, int(item["quantity"]))
                    if key in stored and key not in arrived:
                        arrived[key] = now
                time.sleep(0.02)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        order_times = sorted(random.uniform(0, args.seconds) for _ in range(args.orders))
        started = time.time()
        quantity = 100
        print(f"shop latency, SQLite: stock changes every {args.stock_every:g} s and {args.orders} orders "
              f"over {args.seconds:g} s, Magento double, scheduler + worker (2 threads)", flush=True)
        while time.time() - started < args.seconds:
            quantity += 1
            sku = random.choice(SKUS)
            stored[(sku, quantity)] = time.time()
            store(app, [StockLevel(sku=sku, warehouse="main", quantity=quantity)])
            while order_times and time.time() - started >= order_times[0]:
                order_times.pop(0)
                number = f"9{len(placed):05d}"
                magento.place_order(number, [(random.choice(SKUS), 1)])
                placed[number] = time.time()
            time.sleep(args.stock_every)
        deadline = time.time() + 90  # the last orders wait for the next poll
        while time.time() < deadline:
            with app.engine.connect() as conn:
                done = dict(conn.execute(select(m.c.business_key, m.c.done_at).where(
                    m.c.operation == "send_order", m.c.state == "done")).all())
            if len(done) >= len(placed) and len(arrived) >= len(stored):
                break
            time.sleep(0.5)
        stop.set()
        for thread in (*threads, watcher):
            thread.join(15)
        # A level overwritten by the next change of its SKU before a push read it never reaches the
        # double as such: only the levels that were the SKU's last before the next push count.
        stock = [arrived[key] - at for key, at in stored.items() if key in arrived]
        superseded = len(stored) - len(stock)
        orders = [(done[n].replace(tzinfo=dt.timezone.utc).timestamp() if done[n].tzinfo is None
                   else done[n].timestamp()) - at for n, at in placed.items() if n in done]
        print(f"  stock levels stored {len(stored)}, reached Magento {len(stock)} ({superseded} overwritten "
              f"in the store before they were pushed); orders placed {len(placed)}, at the ERP {len(orders)}")
        report("stock", stock, 5)
        if orders:
            report("orders", orders, 62)
        app.close()
    magento.stop()
    if magento.violations:
        print("schema violations:", *magento.violations[:5], sep="\n  ")


if __name__ == "__main__":
    main()
