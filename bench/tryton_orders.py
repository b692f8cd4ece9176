"""Orders per second into a real Tryton: erpbridge's outbox + connector against a plain script.

Starts its own Tryton 8.2 server (the tests' cached virtualenv and template database, on a
free 127.0.0.1 port), then delivers N orders two ways, in alternating rounds so that both meet the
same load, and prints both rates and their ratio:

  baseline   a plain sequential script over one HTTP session making the same JSON-RPC calls the
             connector makes per order (look up the sale by reference, the party, its addresses,
             the products and their taxes, the payment term; create, quote, confirm, read back):
             what Tryton accepts with nothing in between
  erpbridge  the same orders placed in the store with their outbox messages, delivered by an
             outbox Worker with the Tryton connector (exchange log, semaphore, leases and all),
             with --threads delivery threads

Tryton's server (werkzeug, threaded, one process under the GIL) is the limit: confirm runs the
sale's processing (shipment, invoice) inside the request. The issue's bar is ratio >= 0.9.

Run: .venv/bin/python bench/tryton_orders.py [--orders 40] [--threads 1] [--round 5]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "tryton"))

import server  # noqa: E402
from erp_user import ErpUser  # noqa: E402

from erpbridge.bootstrap import bootstrap  # noqa: E402
from erpbridge.config import Config  # noqa: E402
from erpbridge.connectors.tryton.spec import TrytonSystem  # noqa: E402
from erpbridge.connectors.tryton.adapter import decode, encode  # noqa: E402
from erpbridge.outbox import enqueue  # noqa: E402
from erpbridge.outbox.tables import outbox_messages  # noqa: E402
from erpbridge.outbox.worker import Worker  # noqa: E402
from erpbridge.records import Order  # noqa: E402
from erpbridge.store.records import prepare  # noqa: E402

ADDRESS = {"name": "Jane Doe", "street": "Main St 1", "postcode": "10115", "city": "Berlin", "country": "DE"}


def order(number: str, customer: str, skus: list[str]) -> Order:
    lines = [{"sku": sku, "quantity": "1", "unit_price": "9.50", "total": "9.50"} for sku in skus]
    return Order.model_validate({
        "number": number, "placed_at": dt.datetime.now(dt.timezone.utc), "customer": customer, "currency": "EUR",
        "billing_address": ADDRESS, "shipping_address": ADDRESS, "lines": lines, "shipping_method": "standard",
        "payment_method": "invoice", "shipping_amount": "4.90", "grand_total": str(Decimal("9.50") * len(skus) + Decimal("4.90"))})


class PlainScript:
    """The baseline: bare JSON-RPC, one session, no error handling, no log."""

    def __init__(self, tryton: server.TrytonServer):
        self.http = httpx.Client(timeout=120, headers={"Content-Type": "application/json"})
        self.endpoint = f"{tryton.url}/{tryton.database}/rpc/"
        uid, key, *_ = self._post("common.db.login", [tryton.user, {"password": tryton.password}, "en"])
        self.http.headers["Authorization"] = "Session " + base64.b64encode(f"{tryton.user}:{uid}:{key}".encode()).decode()
        self.ctx = self._post("model.res.user.get_preferences", [True, {}])
        self.warehouse, = self.m("stock.location", "search", [["code", "=", "WH"]], 0, 1, None)
        self.country, = self.m("country.country", "search", [["code", "=", "DE"]], 0, 1, None)

    def _post(self, method, params):
        body = json.dumps({"id": 1, "method": method, "params": params}, default=encode)
        return json.loads(self.http.post(self.endpoint, content=body).text, object_hook=decode)["result"]

    def m(self, model, method, *params):
        return self._post(f"model.{model}.{method}", [*params, self.ctx])

    def send(self, o: Order) -> None:
        if self.m("sale.sale", "search_read", [["reference", "=", o.number]], 0, 1, None, ["state"]):
            return
        party, = self.m("party.party", "search_read", [["code", "=", o.customer]], 0, 1, None, ["addresses"])
        addresses = self.m("party.address", "search_read", [["party", "=", party["id"]]], 0, None, None, ["street"])
        address = addresses[0]["id"]
        self.m("party.address", "search_read", [["party", "=", party["id"]]], 0, None, None, ["street"])
        products = self.m("product.product", "search_read", [["code", "in", [l.sku for l in o.lines] + ["FREIGHT"]]],
                          0, None, None, ["code", "sale_uom", "account_category"])
        taxes = {r["id"]: r["customer_taxes_used"] for r in
                 self.m("product.category", "read", sorted({p["account_category"] for p in products}), ["customer_taxes_used"])}
        term, = self.m("account.invoice.payment_term", "search", [["name", "=", "Net 30"]], 0, 1, None)
        by_code = {p["code"]: p for p in products}
        lines = [{"product": by_code[l.sku]["id"], "quantity": float(l.quantity), "unit": by_code[l.sku]["sale_uom"],
                  "unit_price": l.unit_price, "taxes": [["add", taxes[by_code[l.sku]["account_category"]]]]}
                 for l in o.lines]
        freight = by_code["FREIGHT"]
        lines.append({"product": freight["id"], "quantity": 1.0, "unit": freight["sale_uom"], "unit_price": o.shipping_amount,
                      "taxes": [["add", taxes[freight["account_category"]]]]})
        sale, = self.m("sale.sale", "create", [{"party": party["id"], "reference": o.number, "invoice_address": address,
                                                "shipment_address": address, "warehouse": self.warehouse,
                                                "payment_term": term, "lines": [["create", lines]]}])
        self.m("sale.sale", "quote", [sale])
        self.m("sale.sale", "confirm", [sale])
        self.m("sale.sale", "read", [sale], ["number", "state"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1, help="erpbridge worker delivery threads (channel capacity)")
    parser.add_argument("--round", type=int, default=5, help="orders per round; rounds alternate the two ways")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")

    with tempfile.TemporaryDirectory() as folder:
        tryton = server.TrytonServer(Path(folder) / "tryton")
        tryton.start()
        try:
            run(tryton, Path(folder), args)
        finally:
            tryton.stop()
    print(f"load average after: {os.getloadavg()}  (2 cores shared with other work: figures are indicative)")


def run(tryton: server.TrytonServer, folder: Path, args) -> None:
    rpc = tryton.rpc()
    erp = ErpUser(rpc)
    skus = []
    for i in range(3):
        sku = f"BENCH-{i}"
        erp.receive(erp.product(sku, f"Bench item {i}", "9.50"), 100_000)
        skus.append(sku)
    cfg = TrytonSystem(connector="tryton", url=tryton.url, database=tryton.database, user=tryton.user,
                       password=tryton.password, shipping_methods={"standard": "FREIGHT"},
                       payment_methods={"invoice": "Net 30"})
    config = Config(store={"url": f"sqlite:///{folder / 'store.db'}"}, systems={"erp": cfg},
                    outbox={"poll_interval": 0.02, "lease_seconds": 120, "heartbeat_seconds": 10,
                            "channels": {"erp": {"capacity": args.threads}}})
    app = bootstrap(config)
    from erpbridge.connectors.tryton.connector import create

    customer = create(app, "erp", cfg).deliver("create_customer", {"number": "BENCH", "name": "Bench customer",
                                                                   "invoice_address": ADDRESS}, "bench").external_id
    plain = PlainScript(tryton)
    plain.send(order("WARMUP-0", customer, skus))

    m = outbox_messages
    stop = threading.Event()
    thread = threading.Thread(target=Worker(app).run, args=(stop,), kwargs={"concurrency": args.threads})
    thread.start()

    def done() -> int:
        with app.engine.connect() as conn:
            return conn.execute(select(func.count()).where(m.c.state == "done")).scalar_one()

    # Rounds alternate between the two, so both see the same load on the shared machine and the
    # same growth of Tryton's tables (which slows it down a little as the run goes on).
    plain_time = hub_time = 0.0
    sent = 0
    while sent < args.orders:
        size = min(args.round, args.orders - sent)
        batch = [order(f"PLAIN-{sent + i}", customer, skus[: 1 + (sent + i) % 3]) for i in range(size)]
        started = time.perf_counter()
        for o in batch:
            plain.send(o)
        plain_time += time.perf_counter() - started

        batch = [order(f"HUB-{sent + i}", customer, skus[: 1 + (sent + i) % 3]) for i in range(size)]
        with app.engine.begin() as conn:
            for o in batch:
                app.records.write_in(conn, "orders", [prepare(o)])
                enqueue(conn, channel="erp", operation="send_order", business_key=o.number,
                        payload=o.model_dump(mode="json"), record_kind="orders", record_key=o.number)
        started = time.perf_counter()
        while done() < sent + size:
            time.sleep(0.01)
        hub_time += time.perf_counter() - started
        sent += size
        print(f"\r  {sent:>4}/{args.orders} orders each way: plain {sent / plain_time:5.2f}/s, "
              f"erpbridge {sent / hub_time:5.2f}/s", end="", flush=True)
    print()
    stop.set()
    thread.join()
    with app.engine.connect() as conn:
        states = dict(conn.execute(select(m.c.state, func.count()).group_by(m.c.state)).all())
    sales = rpc.model("sale.sale", "search_count", [["reference", "like", "HUB-%"]], 0, None)
    app.close()
    rpc.close()

    baseline, hub = args.orders / plain_time, args.orders / hub_time
    print(f"orders: {args.orders} each way in rounds of {args.round}, lines 1-3 + freight, Tryton 8.2 on SQLite, "
          f"werkzeug server")
    print(f"baseline  plain sequential JSON-RPC script : {baseline:6.2f} orders/s")
    print(f"erpbridge outbox worker, {args.threads} thread(s)        : {hub:6.2f} orders/s   "
          f"(messages {states}, sales in Tryton {sales})")
    print(f"ratio erpbridge / baseline                : {hub / baseline:6.2f}")


if __name__ == "__main__":
    main()
