"""Orders per second into Odoo and NetSuite: each connector against a plain sequential script
making the same calls, both against the same test double with a fixed latency per call.

The doubles are tests/odoo/odoo_double.py and tests/netsuite/netsuite_double.py on 127.0.0.1, in
a process of their own, answering each call after ``--latency`` seconds. Orders are delivered in
alternating rounds so all ways meet the same load:

  baseline   a plain sequential script over one HTTP session making the calls the connector makes
             per order (Odoo jsonrpc: the look-ups of the order, the customer, its delivery address
             and the products, create, action_confirm, read; NetSuite: the look-ups of the order,
             the customer and the items, the upsert, the read back), unsigned where the double allows
             nothing unsigned: NetSuite's calls are signed the same way
  erpbridge  the orders placed in the store with their outbox messages, delivered by outbox
             Workers with the connector, channel capacity 1, then more (up to the double's limit)

The issue's bar: capacity 1 at least 0.9 of the baseline; more capacity, more orders per second.

Run: .venv/bin/python bench/erp_peers_orders.py [--system odoo|netsuite] [--orders 40] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import yaml
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
for folder in ("odoo", "netsuite"):
    sys.path.insert(0, str(ROOT / "tests" / folder))

from odoo_shop import order  # noqa: E402

from erpbridge.bootstrap import bootstrap  # noqa: E402
from erpbridge.config import load_config  # noqa: E402
from erpbridge.connectors.kit import OAuth1  # noqa: E402
from erpbridge.outbox import enqueue  # noqa: E402
from erpbridge.outbox.tables import outbox_messages  # noqa: E402
from erpbridge.outbox.worker import Worker  # noqa: E402
from erpbridge.records import Order  # noqa: E402
from erpbridge.store.db import write_transaction  # noqa: E402
from erpbridge.store.records import prepare  # noqa: E402

SERVE = """
import json, sys
sys.path.insert(0, {path!r})
if {system!r} == "odoo":
    from odoo_double import OdooDouble
    double = OdooDouble()
    double.add_customer("C-1", "Jane Doe", deliveries=({{"street": "Dock 7", "zip": "10115", "city": "Berlin"}},))
    for sku in ("A-1", "B-2"):
        double.add_product(sku, sku, "9.50", stock={{"WH": 100000}})
else:
    from netsuite_double import NetSuiteDouble
    double = NetSuiteDouble(limit=5)
    double.add_customer("C-1", "Jane Doe")
    for sku in ("A-1", "B-2"):
        double.add_product(sku, sku, "9.50", stock={{1: 100000}})
double.latency = {latency!r}
print(json.dumps(double.environment), flush=True)
sys.stdin.read()  # until the bench ends
"""
CAPACITIES = {"odoo": (1, 2, 4), "netsuite": (1, 2, 5)}


class Double:
    def __init__(self, system: str, latency: float):
        import json

        self.process = subprocess.Popen([sys.executable, "-c", SERVE.format(
            path=str(ROOT / "tests" / system), system=system, latency=latency)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True)
        self.environment = json.loads(self.process.stdout.readline())

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(10)


class PlainOdoo:
    """Bare JSON-RPC over one session: the connector's calls per order, nothing else."""

    def __init__(self, env: dict):
        self.http = httpx.Client(base_url=env["ODOO_URL"], timeout=60)
        self.auth = [env["ODOO_DATABASE"], 2, env["ODOO_API_KEY"]]

    def x(self, model, method, args, kw):
        body = {"jsonrpc": "2.0", "method": "call", "id": 1,
                "params": {"service": "object", "method": "execute_kw", "args": [*self.auth, model, method, args, kw]}}
        return self.http.post("/jsonrpc", json=body).json()["result"]

    def send(self, o: dict) -> None:
        if self.x("sale.order", "search_read", [], {"domain": [["client_order_ref", "=", o["number"]]],
                                                     "fields": ["name", "state"], "limit": 1}):
            return
        partner = self.x("res.partner", "search_read", [], {"domain": [["ref", "=", o["customer"]]],
                                                             "fields": ["name"], "limit": 1})[0]["id"]
        rows = self.x("res.partner", "search_read", [], {"domain": ["|", ["id", "=", partner],
                                                                    ["parent_id", "=", partner]],
                                                         "fields": ["street", "zip", "city", "country_id"]})
        shipping = next(r["id"] for r in rows if r["street"] == "Dock 7")
        products = {r["default_code"]: r["id"] for r in self.x("product.product", "search_read", [], {
            "domain": [["default_code", "in", ["A-1", "B-2", "FREIGHT"]]], "fields": ["default_code"]})}
        lines = [[0, 0, {"product_id": products[l["sku"]], "product_uom_qty": float(l["quantity"]),
                         "price_unit": float(l["unit_price"])}] for l in o["lines"]]
        lines.append([0, 0, {"product_id": products["FREIGHT"], "product_uom_qty": 1.0,
                             "price_unit": float(o["shipping_amount"])}])
        sale, = self.x("sale.order", "create", [], {"vals_list": [{
            "partner_id": partner, "partner_invoice_id": partner, "partner_shipping_id": shipping,
            "client_order_ref": o["number"], "warehouse_id": 1, "order_line": lines}]})
        self.x("sale.order", "action_confirm", [[sale]], {})
        self.x("sale.order", "read", [[sale]], {"fields": ["name", "state"]})


class PlainNetSuite:
    """Bare REST with the same signing: the connector's calls per order, nothing else."""

    def __init__(self, env: dict):
        self.http = httpx.Client(base_url=env["NETSUITE_URL"] + "/services/rest", timeout=60)
        self.auth = OAuth1(env["NETSUITE_CONSUMER_KEY"], env["NETSUITE_CONSUMER_SECRET"], env["NETSUITE_TOKEN"],
                           env["NETSUITE_TOKEN_SECRET"], realm=env["NETSUITE_ACCOUNT"])

    def call(self, method, path, **options):
        request = self.http.build_request(method, path, **options)
        self.auth.apply(request, None, None)
        return self.http.send(request)

    def send(self, o: dict) -> None:
        if self.call("GET", f"/record/v1/salesOrder/eid:{o['number']}").status_code == 200:
            return
        entity = self.call("GET", f"/record/v1/customer/eid:{o['customer']}").json()["id"]
        q = "SELECT i.id, i.itemid FROM item i WHERE i.itemid IN ('A-1', 'B-2') AND i.id > -1 ORDER BY i.id"
        items = {r["itemid"]: r["id"] for r in self.call("POST", "/query/v1/suiteql", params={"limit": 1000, "offset": 0},
                                                         json={"q": q}, headers={"Prefer": "transient"}).json()["items"]}
        self.call("PUT", f"/record/v1/salesOrder/eid:{o['number']}", json={
            "entity": {"id": entity}, "shippingCost": float(o["shipping_amount"]),
            "item": {"items": [{"item": {"id": items[l["sku"]]}, "quantity": float(l["quantity"]),
                                "rate": float(l["unit_price"])} for l in o["lines"]]}})
        self.call("GET", f"/record/v1/salesOrder/eid:{o['number']}")


def hub(system: str, folder: Path, env: dict, capacity: int):
    raw = yaml.safe_load((ROOT / "examples" / system / "erpbridge.yaml").read_text())
    raw["store"] = {"url": f"sqlite:///{folder / f'store-{capacity}.db'}"}
    raw["outbox"] = {"poll_interval": 0.02, "lease_seconds": 120, "heartbeat_seconds": 10,
                     "channels": {"erp": {"capacity": capacity}}}
    path = folder / f"erpbridge-{capacity}.yaml"
    path.write_text(yaml.safe_dump(raw))
    os.environ.update(env)
    return bootstrap(load_config(path))


def done(app) -> int:
    m = outbox_messages
    with app.engine.connect() as conn:
        return conn.execute(select(func.count()).where(m.c.state == "done")).scalar_one()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", choices=("odoo", "netsuite"), default="odoo")
    parser.add_argument("--orders", type=int, default=40)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the double takes per call")
    parser.add_argument("--round", type=int, default=10, help="orders per round; rounds alternate the ways")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    double = Double(args.system, args.latency)
    capacities = CAPACITIES[args.system]
    with tempfile.TemporaryDirectory() as folder:
        apps = {capacity: hub(args.system, Path(folder), double.environment, capacity) for capacity in capacities}
        plain = (PlainOdoo if args.system == "odoo" else PlainNetSuite)(double.environment)
        stops, threads = {}, []
        for capacity, app in apps.items():
            stops[capacity] = threading.Event()
            thread = threading.Thread(target=Worker(app).run, args=(stops[capacity],), kwargs={"concurrency": capacity})
            thread.start()
            threads.append(thread)
        times = {"plain": 0.0, **{c: 0.0 for c in capacities}}
        lines = [("A-1", 1, "9.50"), ("B-2", 2, "9.50")]
        sent = 0
        while sent < args.orders:
            size = min(args.round, args.orders - sent)
            started = time.perf_counter()
            for i in range(size):
                plain.send(order(f"PLAIN-{sent + i}", "C-1", lines))
            times["plain"] += time.perf_counter() - started
            for capacity, app in apps.items():
                records = [Order.model_validate(order(f"HUB{capacity}-{sent + i}", "C-1", lines)) for i in range(size)]
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
        for app in apps.values():
            app.close()
    double.stop()
    baseline = args.orders / times["plain"]
    print(f"{args.system}: {args.orders} orders each way in rounds of {args.round}, 2 lines, latency "
          f"{args.latency * 1000:g} ms per call")
    print(f"baseline  plain sequential script        : {baseline:7.2f} orders/s")
    for capacity in capacities:
        rate = args.orders / times[capacity]
        target = 0.9 if capacity == 1 else None
        verdict = "" if target is None else f" (target >= {target:g}: {'ok' if rate / baseline >= target else 'MISSED'})"
        print(f"erpbridge outbox worker, capacity {capacity}      : {rate:7.2f} orders/s   ratio "
              f"{rate / baseline:5.2f}{verdict}")
    print(f"load average after: {os.getloadavg()}  (2 cores shared with other work: figures are indicative)")


if __name__ == "__main__":
    main()
