"""Orders per second into a custom REST ERP: the webservice connector (the REST example's config)
against a plain sequential script, both against the same test ERP with a fixed latency per call.

The test ERP is tests/webservice/rest_erp.py on 127.0.0.1 (threaded), in a process of its own,
answering each call after ``--latency`` seconds, as a remote ERP does. Orders are delivered three ways, in alternating
rounds so all meet the same load:

  baseline   a plain sequential script over one HTTP session making the calls the example makes
             per order (the lookup by shop order number, then the create)
  erpbridge  the orders placed in the store with their outbox messages, delivered by an outbox
             Worker with the webservice connector (mapping, exchange log, semaphore, leases), with
             channel capacity 1, and with capacity 2 (two deliveries at once)

The issue's bar: capacity 1 at least 0.9 of the baseline, capacity 2 above it.

Run: .venv/bin/python bench/webservice_orders.py [--orders 200] [--latency 0.05] [--round 20]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import yaml
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "webservice"))

from webservice_fixtures import order  # noqa: E402
from rest_erp import TOKEN  # noqa: E402

from erpbridge.bootstrap import bootstrap  # noqa: E402
from erpbridge.config import load_config  # noqa: E402
from erpbridge.outbox import enqueue  # noqa: E402
from erpbridge.outbox.tables import outbox_messages  # noqa: E402
from erpbridge.outbox.worker import Worker  # noqa: E402
from erpbridge.records import Order  # noqa: E402
from erpbridge.store.db import write_transaction  # noqa: E402
from erpbridge.store.records import prepare  # noqa: E402


SERVE = """
import sys, time
sys.path.insert(0, {path!r})
from rest_erp import RestErp
erp = RestErp()
for sku in ("A-1", "B-2"):
    erp.add_product(sku, sku, "9.50")
erp.latency = {latency!r}
print(erp.port, flush=True)
sys.stdin.read()  # until the bench ends
"""


class Erp:
    """The test ERP in a process of its own (so it does not share the bench's interpreter)."""

    def __init__(self, latency: float):
        import subprocess

        self.process = subprocess.Popen([sys.executable, "-c", SERVE.format(path=str(ROOT / "tests" / "webservice"),
                                                                            latency=latency)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.url = f"http://127.0.0.1:{int(self.process.stdout.readline())}"
        self.token = TOKEN

    def created(self, prefix: str) -> int:
        with httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}) as http:
            return sum(1 for o in http.get("/orders").json()["orders"] if o["order_no"].startswith(prefix))

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(10)


class PlainScript:
    """The baseline: bare HTTP, one session, no mapping, no error handling, no log."""

    def __init__(self, erp: Erp):
        self.http = httpx.Client(base_url=erp.url, headers={"Authorization": f"Bearer {erp.token}"}, timeout=60)

    def send(self, o: dict) -> None:
        if self.http.get("/orders", params={"order_no": o["number"]}).json()["orders"]:
            return
        self.http.post("/createorder", json={"body": {
            "order_no": o["number"], "currency": o["currency"], "grand_total": o["grand_total"],
            "items": [{"sku": l["sku"], "qty": l["quantity"], "price": l["unit_price"], "total": l["total"]}
                      for l in o["lines"]], "shipping": {"method": "DHL", "amount": o["shipping_amount"]}}}).json()


def hub(folder: Path, erp: Erp, capacity: int):
    raw = yaml.safe_load((ROOT / "examples" / "webservice-rest" / "erpbridge.yaml").read_text())
    raw["store"] = {"url": f"sqlite:///{folder / f'store-{capacity}.db'}"}
    raw["outbox"] = {"poll_interval": 0.02, "lease_seconds": 120, "heartbeat_seconds": 10,
                     "channels": {"erp": {"capacity": capacity}}}
    path = folder / f"erpbridge-{capacity}.yaml"
    path.write_text(yaml.safe_dump(raw))
    os.environ.update(ERP_URL=erp.url, ERP_TOKEN=erp.token)
    return bootstrap(load_config(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the ERP takes per call")
    parser.add_argument("--round", type=int, default=20, help="orders per round; rounds alternate the ways")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    erp = Erp(args.latency)
    with tempfile.TemporaryDirectory() as folder:
        apps = {capacity: hub(Path(folder), erp, capacity) for capacity in (1, 2)}
        plain = PlainScript(erp)
        stops, threads = {}, []
        for capacity, app in apps.items():
            stops[capacity] = threading.Event()
            thread = threading.Thread(target=Worker(app).run, args=(stops[capacity],), kwargs={"concurrency": capacity})
            thread.start()
            threads.append(thread)
        times = {"plain": 0.0, 1: 0.0, 2: 0.0}
        sent = 0
        while sent < args.orders:
            size = min(args.round, args.orders - sent)
            batch = [order(f"PLAIN-{sent + i}", None, [("A-1", 1, "9.50"), ("B-2", 2, "9.50")]) for i in range(size)]
            started = time.perf_counter()
            for o in batch:
                plain.send(o)
            times["plain"] += time.perf_counter() - started
            for capacity, app in apps.items():
                records = [Order.model_validate(order(f"HUB{capacity}-{sent + i}", None,
                                                      [("A-1", 1, "9.50"), ("B-2", 2, "9.50")])) for i in range(size)]
                started = time.perf_counter()
                with write_transaction(app.engine) as conn:
                    for o in records:
                        app.records.write_in(conn, "orders", [prepare(o)])
                        enqueue(conn, channel="erp", operation="send_order", business_key=o.number,
                                payload=o.model_dump(mode="json"), record_kind="orders", record_key=o.number)
                while done(app) < sent + size:
                    time.sleep(0.005)
                times[capacity] += time.perf_counter() - started
            sent += size
        for capacity in apps:
            stops[capacity].set()
        for thread in threads:
            thread.join()
        created = erp.created("HUB")
        for app in apps.values():
            app.close()
    erp.stop()
    baseline = args.orders / times["plain"]
    print(f"orders: {args.orders} each way in rounds of {args.round}, 2 lines, ERP latency {args.latency * 1000:g} ms "
          f"per call (lookup + create per order)")
    print(f"baseline  plain sequential script        : {baseline:7.2f} orders/s")
    for capacity in (1, 2):
        rate = args.orders / times[capacity]
        target = 0.9 if capacity == 1 else 1.0
        verdict = "ok" if rate / baseline >= target else "MISSED"
        print(f"erpbridge outbox worker, capacity {capacity}      : {rate:7.2f} orders/s   ratio {rate / baseline:5.2f} "
              f"(target >= {target:g}: {verdict})")
    print(f"orders created in the ERP by erpbridge: {created} of {2 * args.orders}")
    print(f"load average after: {os.getloadavg()}  (2 cores shared with other work: figures are indicative)")


def done(app) -> int:
    m = outbox_messages
    with app.engine.connect() as conn:
        return conn.execute(select(func.count()).where(m.c.state == "done")).scalar_one()


if __name__ == "__main__":
    main()
