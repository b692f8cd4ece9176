"""Pushing a large catalog to Magento through its asynchronous bulk API: requests per product and
erpbridge's own CPU per product, against a Magento that answers at once.

A stand-in Magento runs in a child process (so its CPU is not counted here): it answers product
and category searches with nothing found, accepts every bulk and reports it complete. The store
holds N products; the catalog flow (``mode: full``) queues them, :data:`erpbridge.flows.push.BATCH`
per message, and one worker drains the outbox. Two ways, in the same run:

  baseline   the same number of bulk requests, each posting the same JSON bodies (built once)
             over one httpx client: what it costs to put the bytes on the wire
  erpbridge  the flow run and the worker: change feed, selection, messages, the connector's look-ups,
             product bodies, the bulk request, its status and the exchange log

Then a nightly re-run with 1% of the products changed: only those are sent (counted).

Run: .venv/bin/python bench/magento_catalog.py [--products 100000]
Targets (issue 12): at most 1,000 bulk requests for 100,000 products; CPU <= 50 us per product.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

import httpx
import orjson

from erpbridge.bootstrap import bootstrap
from erpbridge.config import Config
from erpbridge.flows import push
from erpbridge.flows.scheduler import run_flow
from erpbridge.outbox.worker import Worker
from erpbridge.records import Product
from erpbridge.store.db import write_transaction
from erpbridge.store.records import prepare

SERVER = r'''
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
count = {"bulk": 0}
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def _answer(self, body):
        data = json.dumps(body).encode()
        self.send_response(200 if self.command == "GET" else 202)
        self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(data)))
        self.end_headers(); self.wfile.write(data)
    def do_GET(self):
        if "/bulk/" in self.path:
            return self._answer({"operations_list": [{"id": 0, "status": 1, "result_message": "", "error_code": 0}],
                                 "bulk_id": "b", "user_type": 2, "user_id": 1, "description": "", "start_time": "",
                                 "operation_count": 1})
        if self.path.startswith("/count"):
            return self._answer(count)
        self._answer({"items": [], "search_criteria": {"filter_groups": []}, "total_count": 0})
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        count["bulk"] += 1
        self._answer({"bulk_uuid": "b", "request_items": [], "errors": False})
server = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
'''


def products(count: int, version: str = "") -> list[Product]:
    return [Product(sku=f"SKU-{i:06d}", name=f"Product {i}{version}", list_price="12.90", ean=f"{400000000000 + i}",
                    short_description="A good product", description="A long description of a good product")
            for i in range(count)]


def store(app, records: list[Product]) -> None:
    for start in range(0, len(records), 5000):
        with write_transaction(app.engine) as conn:
            app.records.write_in(conn, "products", [prepare(p) for p in records[start:start + 5000]])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=100_000)
    count = parser.parse_args().products
    push.SETTLE = 0
    child = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{child.stdout.readline().strip()}"
        with tempfile.TemporaryDirectory() as folder:
            app = bootstrap(Config.model_validate({
                "store": {"url": f"sqlite:///{folder}/store.db"},
                "systems": {"erp": {"connector": "files", "inbox": f"{folder}/in", "outbox": f"{folder}/out"},
                            "magento": {"connector": "magento", "url": url, "token": "t", "bulk_from": 1}},
                "flows": {"catalog": {"system": "magento", "mode": "full", "kinds": ["products"]}}}))
            store(app, products(count))
            body = orjson.dumps([{"product": {"sku": f"SKU-{i:06d}", "name": f"Product {i}", "price": 12.9,
                                              "status": 2, "custom_attributes": []}} for i in range(push.BATCH)])
            batches = -(-count // push.BATCH)
            with httpx.Client(base_url=url) as client:
                started, cpu = time.perf_counter(), time.process_time()
                for _ in range(batches):
                    client.post("/rest/all/async/bulk/V1/products", content=body,
                                headers={"Content-Type": "application/json"})
                base_wall, base_cpu = time.perf_counter() - started, time.process_time() - cpu
                before = client.get("/count").json()["bulk"]
                started, cpu = time.perf_counter(), time.process_time()
                assert run_flow(app, "catalog")["outcome"] == "ok"
                Worker(app).drain()
                wall, used = time.perf_counter() - started, time.process_time() - cpu
                requests = client.get("/count").json()["bulk"] - before
                changed = products(count // 100, version=" v2")
                store(app, changed)
                app.config.flows["catalog"] = app.config.flows["catalog"].model_copy(update={"mode": "delta"})
                nightly = run_flow(app, "catalog")["summary"]["sent"]
            app.close()
    finally:
        child.kill()
    per = used / count * 1e6
    print(json.dumps({"products": count, "bulk_requests": requests, "baseline_cpu_s": round(base_cpu, 2),
                      "baseline_wall_s": round(base_wall, 2), "erpbridge_cpu_s": round(used, 2),
                      "erpbridge_wall_s": round(wall, 2), "cpu_us_per_product": round(per, 1),
                      "cpu_ratio_to_baseline": round(used / base_cpu, 2), "nightly_1pct_sent": nightly}))
    print(f"bulk requests {requests} for {count:,} products: {'ok' if requests <= count / 100 else 'MISSED'} "
          f"(target <= {count // 100:,})")
    print(f"CPU {per:.1f} us per product ({used / base_cpu:.1f}x the baseline's): "
          f"{'ok' if per <= 50 else 'MISSED'} (target <= 50 us)")
    print(f"nightly re-run with 1% changed sent {nightly:,}: {'ok' if nightly == count // 100 else 'MISSED'}")


if __name__ == "__main__":
    main()
