"""A full catalog sync to Shopify: bulk operations against one ``productSet`` call per product,
erpbridge's own CPU per variant and the cost points each way spends, in one run.

A stand-in Shopify runs in a child process (its CPU is not counted here) and answers at once:
SKU look-ups find nothing, every ``productSet`` makes a product, a bulk operation is COMPLETED
when first asked and its result file answers each uploaded line. Each answer charges the cost a
call asks for (a mutation 10 points, a look-up of n SKUs 2 + n, as Shopify's calculated cost
counts a connection's nodes) to a bucket that never runs short, so erpbridge's CPU is measured,
not the wait; the points say how long the cost limit would make each way at least (points /
1,000 per second, a Plus store; 100 on a standard plan). The store holds N variants in families
of 10 (one parent each: one Shopify product with 10 variants). Two ways, in the same run, each
the catalog flow in full mode and one worker draining the outbox:

  one by one  push messages of 100 records: a look-up and one productSet per Shopify product
  bulk        bulk_from 1, push_batch 5,000: a look-up per 250 SKUs, then one bulk operation per
              message (staged upload, bulkOperationRunMutation, poll, result file)

Run: .venv/bin/python bench/shopify_catalog.py [--variants 10000 100000]
Target (issue 13): a 100,000-variant sync within 1.2x of the time the cost limit allows (not
judged here: the stand-in neither throttles nor takes time to run a bulk operation; the points
give each way's floor, the CPU erpbridge's own share).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

from erpbridge.bootstrap import bootstrap
from erpbridge.config import Config
from erpbridge.flows import push
from erpbridge.flows.scheduler import run_flow
from erpbridge.outbox.worker import Worker
from erpbridge.records import Product
from erpbridge.store.db import write_transaction
from erpbridge.store.records import prepare

FAMILY = 10

SERVER = r'''
import json, re, socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
state = {"points": 0, "calls": {}, "lines": {}, "n": 0}
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def setup(self):  # headers and body are two writes: without this, each answer waits for a delayed ACK
        super().setup(); self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    def _send(self, data, kind="application/json"):
        self.send_response(200)
        self.send_header("Content-Type", kind); self.send_header("Content-Length", str(len(data)))
        self.end_headers(); self.wfile.write(data)
    def do_GET(self):
        if self.path == "/count":
            return self._send(json.dumps(state).encode())
        lines = state["lines"][self.path.rsplit("/", 1)[1]]
        self._send(b"".join(b'{"data":{"productSet":{"product":{"id":"gid://shopify/Product/%d"},"userErrors":[]}},'
                            b'"__lineNumber":%d}\n' % (i, i) for i in range(lines)), "application/jsonl")
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        host = self.headers["Host"]
        if self.path == "/upload":
            state["n"] += 1
            state["lines"][str(state["n"])] = body.count(b'{"input":')
            self.send_response(201); self.send_header("Content-Length", "0"); self.end_headers()
            return
        request = json.loads(body)
        name = re.match(r"\s*(?:query|mutation)\s+(\w+)", request["query"]).group(1)
        state["calls"][name] = state["calls"].get(name, 0) + 1
        cost = 10 if request["query"].lstrip().startswith("mutation") else 2 + int(request["variables"].get("first") or 0)
        state["points"] += cost
        if name == "VariantsBySku":
            data = {"productVariants": {"nodes": []}}
        elif name == "ProductSet":
            data = {"productSet": {"product": {"id": "gid://shopify/Product/1", "status": "DRAFT",
                                               "variants": {"nodes": []}}, "userErrors": []}}
        elif name == "CurrentBulk":
            data = {"currentBulkOperation": None}
        elif name == "StagedUpload":
            data = {"stagedUploadsCreate": {"stagedTargets": [{"url": f"http://{host}/upload", "resourceUrl": None,
                    "parameters": [{"name": "key", "value": "tmp/bulk.jsonl"}]}], "userErrors": []}}
        elif name == "BulkRun":
            data = {"bulkOperationRunMutation": {"bulkOperation": {"id": f"gid://shopify/BulkOperation/{state['n']}",
                                                                   "status": "CREATED"}, "userErrors": []}}
        elif name == "BulkOperation":
            n = request["variables"]["id"].rsplit("/", 1)[1]
            data = {"bulkOperation": {"id": request["variables"]["id"], "status": "COMPLETED", "errorCode": None,
                                      "objectCount": str(state["lines"][n]), "url": f"http://{host}/result/{n}",
                                      "partialDataUrl": None}}
        else:
            raise SystemExit(f"unexpected {name}")
        self._send(json.dumps({"data": data, "extensions": {"cost": {"requestedQueryCost": cost, "actualQueryCost": cost,
                   "throttleStatus": {"maximumAvailable": 1e9, "currentlyAvailable": 1e9, "restoreRate": 1000}}}}).encode())
server = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
'''


def catalog(variants: int) -> list[Product]:
    records = []
    for parent in range(variants // FAMILY):
        sku = f"P-{parent:06d}"
        records.append(Product(sku=sku, name=f"Shirt {parent}", description="A good shirt", group="WEAR"))
        records += [Product(sku=f"{sku}-{n:02d}", name=f"Shirt {parent} {n}", parent_sku=sku, list_price="19.90",
                            ean=f"{400000000000 + parent * FAMILY + n}", attributes={"size": f"S{n}"})
                    for n in range(FAMILY)]
    return records


def sync(url: str, records: list[Product], folder: str, **shopify) -> dict:
    import httpx

    app = bootstrap(Config.model_validate({
        "store": {"url": f"sqlite:///{folder}/store-{len(shopify)}.db"},
        "systems": {"erp": {"connector": "files", "inbox": f"{folder}/in", "outbox": f"{folder}/out"},
                    "shopify": {"connector": "shopify", "shop": url, "access_token": "t", "bulk_poll_seconds": 0.01,
                                **shopify}},
        "flows": {"catalog": {"system": "shopify", "mode": "full", "kinds": ["products"]}},
        "outbox": {"poll_interval": 0.01}}))  # a kind's messages go one after another: no idle wait between
    try:
        for start in range(0, len(records), 5000):
            with write_transaction(app.engine) as conn:
                app.records.write_in(conn, "products", [prepare(p) for p in records[start:start + 5000]])
        before = httpx.get(f"{url}/count").json()
        started, cpu = time.perf_counter(), time.process_time()
        assert run_flow(app, "catalog")["outcome"] == "ok"
        Worker(app).drain()
        wall, used = time.perf_counter() - started, time.process_time() - cpu
        after = httpx.get(f"{url}/count").json()
    finally:
        app.close()
    calls = {k: v - before["calls"].get(k, 0) for k, v in after["calls"].items() if v - before["calls"].get(k, 0)}
    return {"cpu_s": round(used, 2), "wall_s": round(wall, 2), "calls": calls,
            "points": after["points"] - before["points"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", type=int, nargs="+", default=[10_000, 100_000])
    push.SETTLE = 0
    child = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{child.stdout.readline().strip()}"
        for count in parser.parse_args().variants:
            records = catalog(count)
            with tempfile.TemporaryDirectory() as folder:
                single = sync(url, records, folder)
                bulk = sync(url, records, folder, bulk_from=1, push_batch=5000)
            result = {"variants": count, "products": count // FAMILY, "one_by_one": single, "bulk": bulk,
                      "cpu_us_per_variant": {"one_by_one": round(single["cpu_s"] / count * 1e6, 1),
                                             "bulk": round(bulk["cpu_s"] / count * 1e6, 1)},
                      "cpu_ratio_bulk_to_one_by_one": round(bulk["cpu_s"] / single["cpu_s"], 3),
                      "cost_limited_s_at_1000_points": {"one_by_one": single["points"] / 1000,
                                                        "bulk": bulk["points"] / 1000}}
            print(json.dumps(result), flush=True)
            floor = single["points"] / 1000
            print(f"{count:,} variants: one by one {single['cpu_s']:.1f} s CPU, {single['points']:,} points "
                  f"(>= {floor:,.0f} s at 1,000 points/s); bulk {bulk['cpu_s']:.1f} s CPU "
                  f"({bulk['cpu_s'] / single['cpu_s']:.2f}x), {bulk['points']:,} points "
                  f"(>= {bulk['points'] / 1000:,.1f} s); erpbridge's wall time {single['wall_s']:.1f} s / "
                  f"{bulk['wall_s']:.1f} s (Shopify's own run of a bulk operation is not modelled)", flush=True)
    finally:
        child.kill()


if __name__ == "__main__":
    main()
