"""What the shop-API benchmarks share: a store seeded with N products (built once, cached under
bench/data/), one uvicorn process serving the API over it, and wrk as the load generator.

The server runs in its own process, started as ``python -m uvicorn api_common:app_from_env
--factory`` so the benchmark can give it a real-time ERP (:class:`BenchErp`, an in-process
stand-in that answers after ``BENCH_ERP_DELAY`` seconds) the way a connector would.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
CUSTOMER = "C1"
#: Every CUSTOMER_EVERY-th product has a price of its own for CUSTOMER.
CUSTOMER_EVERY = 10


def sku(i: int) -> str:
    return f"SKU-{i:07d}"


def _config(db: Path, folder: Path, shops: dict | None = None, **api) -> Path:
    import yaml

    cfg = {"store": {"url": f"sqlite:///{db}"},
           "systems": {"erp": {"connector": "files", "inbox": str(folder / "in"), "outbox": str(folder / "out")},
                       **(shops or {})},
           "api": api}
    path = folder / "erpbridge.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def seeded_store(n: int) -> Path:
    """A SQLite store with n enabled products, a list price each and a customer price for every
    tenth; written once by bulk insert into the store's tables and reused from bench/data/."""
    path = DATA / f"api-store-{n}.db"
    if path.exists():
        print(f"store: reusing {path.relative_to(HERE.parent)}", flush=True)
        return path
    from sqlalchemy import insert

    from erpbridge.records import Price, Product
    from erpbridge.store import make_engine, upgrade
    from erpbridge.store.records import prepare
    from erpbridge.store.tables import prices, products

    DATA.mkdir(exist_ok=True)
    partial = path.with_suffix(".partial")
    for leftover in DATA.glob(partial.name + "*"):
        leftover.unlink()
    engine = make_engine(f"sqlite:///{partial}")
    upgrade(engine)
    now = dt.datetime.now(dt.timezone.utc)
    # Each row is the prepared row of a template record with its SKU swapped in, hashed again:
    # byte for byte what RecordStore.write would store, without a pydantic model per row.
    p_tpl = prepare(Product(sku="@SKU@", name="Product @SKU@", group="G1", list_price=Decimal("19.90"),
                            currency="EUR")).data
    list_price = Price(sku="@SKU@", amount=Decimal("19.90"), currency="EUR")
    own_price = Price(sku="@SKU@", amount=Decimal("17.50"), currency="EUR", customer=CUSTOMER)
    l_tpl, c_tpl = prepare(list_price).data, prepare(own_price).data

    def row(tpl: str, key: str, s: str) -> dict:
        data = tpl.replace("@SKU@", s)
        return {"key": key, "data": data, "content_hash": hashlib.blake2b(data.encode(), digest_size=16).hexdigest(),
                "created_at": now, "updated_at": now}

    started = time.perf_counter()
    chunk = 50_000
    for start in range(0, n, chunk):
        batch = [sku(i) for i in range(start, min(n, start + chunk))]
        product_rows = [{**row(p_tpl, s, s), "group": "G1", "parent_sku": None, "ean": None, "enabled": True}
                        for s in batch]
        price_rows = [{**row(l_tpl, list_price.key.replace("@SKU@", s), s), "sku": s, "customer": None, "currency": "EUR",
                       "min_quantity": Decimal(1), "valid_from": None, "valid_to": None, "amount": Decimal("19.90")}
                      for s in batch]
        price_rows += [{**row(c_tpl, own_price.key.replace("@SKU@", s), s), "sku": s, "customer": CUSTOMER, "currency": "EUR",
                        "min_quantity": Decimal(1), "valid_from": None, "valid_to": None, "amount": Decimal("17.50")}
                       for i, s in enumerate(batch, start) if i % CUSTOMER_EVERY == 0]
        with engine.begin() as conn:
            conn.execute(insert(products), product_rows)
            conn.execute(insert(prices), price_rows)
        done = start + len(batch)
        print(f"\rseeding {done:,}/{n:,} products ({done / (time.perf_counter() - started):,.0f}/s)",
              end="", flush=True)
    engine.dispose()
    partial.rename(path)
    print(f"\nstore: {path.relative_to(HERE.parent)} seeded in {time.perf_counter() - started:.0f} s", flush=True)
    return path


class BenchErp:
    """A real-time ERP stand-in: answers a customer's price after ``delay`` seconds."""

    def __init__(self, delay: float):
        self.delay = delay

    def get_price(self, query):
        from erpbridge.records import Price

        time.sleep(self.delay)
        return Price(sku=query.sku, customer=query.customer, currency="EUR", amount=Decimal("17.00"))

    def get_customer(self, number):
        time.sleep(self.delay)
        return None

    def get_document(self, doc_type, number):
        time.sleep(self.delay)
        return None


def app_from_env():
    """The uvicorn factory: the API over the config in ``BENCH_CONFIG``, with :class:`BenchErp`
    when ``BENCH_ERP_DELAY`` is set, and at most ``BENCH_GROUP_MAX`` writes per commit when set
    (1: one commit per order, the baseline of group commit)."""
    from erpbridge.api import create_api
    from erpbridge.bootstrap import bootstrap
    from erpbridge.config import load_config
    from erpbridge.services.transaction import GroupWriter

    if os.environ.get("BENCH_GROUP_MAX"):
        GroupWriter.MAX_GROUP = int(os.environ["BENCH_GROUP_MAX"])

    hub = bootstrap(load_config(os.environ["BENCH_CONFIG"]), migrate=False)
    delay = os.environ.get("BENCH_ERP_DELAY")
    return create_api(hub, erp=BenchErp(float(delay)) if delay else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(db: Path, *, erp_delay: float | None = None, shops: dict | None = None, group_max: int | None = None,
            **api):
    """One uvicorn process (one worker, no access log) serving the API over ``db`` (and the
    endpoints of the ``shops`` systems); yields (base URL, admin token, config path)."""
    from erpbridge.api.keys import create_key
    from erpbridge.bootstrap import bootstrap
    from erpbridge.config import load_config

    with tempfile.TemporaryDirectory() as folder:
        config = _config(db, Path(folder), shops, **api)
        hub = bootstrap(load_config(config))
        token, _ = create_key(hub.engine, ["admin"], name=f"bench-{time.time_ns()}")
        hub.close()
        port = free_port()
        env = {**os.environ, "BENCH_CONFIG": str(config)}
        if erp_delay is not None:
            env["BENCH_ERP_DELAY"] = str(erp_delay)
        if group_max is not None:
            env["BENCH_GROUP_MAX"] = str(group_max)
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api_common:app_from_env", "--factory", "--app-dir", str(HERE),
             "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--log-level", "warning",
             "--no-access-log"], env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the API server did not start")
                time.sleep(0.1)
            yield url, token, config
        finally:
            proc.terminate()
            proc.wait(10)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(url: str, *, token: str | None = None, seconds: int = 10, connections: int = 8, threads: int = 2,
        script: Path | None = None, label: str = "") -> dict:
    """Run wrk; returns {"rps", "p50_ms", "p99_ms", "requests", "non_2xx", "errors"}."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency", "--timeout", "5s"]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    if script:
        cmd += ["-s", str(script)]
    print(f"  wrk {label or url} ({seconds} s, {connections} connections)...", end="", flush=True)
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout

    def latency(pct: str) -> float:
        value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * _UNITS[unit]

    result = {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": latency("50"), "p99_ms": latency("99"),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "non_2xx": int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0,
        "errors": sum(int(x) for x in m.groups()) if (m := re.search(
            r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)) else 0,
    }
    print(f" {result['rps']:,.0f} req/s, p99 {result['p99_ms']:.2f} ms", flush=True)
    return result


def machine() -> str:
    return f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (shared machine)"


def small_store(folder: Path, n: int = 10_000) -> Path:
    """A private copy of a seeded store of n products, for benchmarks that write (orders)."""
    copy = Path(folder) / "store.db"
    shutil.copyfile(seeded_store(n), copy)
    return copy


def order_body(number: str) -> dict:
    """A valid order of three seeded products (amounts add up)."""
    address = {"name": "Erika Muster", "street": "Hauptstr. 5", "postcode": "80331", "city": "Berlin", "country": "DE"}
    lines = [{"sku": sku(i), "quantity": "2", "unit_price": "19.90", "total": "39.80"} for i in (1, 2, 3)]
    return {"number": number, "placed_at": "2026-11-23T10:00:00Z", "customer": CUSTOMER, "currency": "EUR",
            "billing_address": address, "shipping_address": address, "lines": lines, "shipping_method": "dhl",
            "payment_method": "invoice", "shipping_amount": "4.90", "grand_total": "124.30"}


def order_script(folder: Path, prefix: str) -> Path:
    """A wrk script POSTing orders with numbers unique per run, thread and request."""
    import json

    body = json.dumps(order_body("@NUMBER@"))
    head, tail = body.split("@NUMBER@")
    script = Path(folder) / "orders.lua"
    script.write_text(f"""
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
local headers = nil
request = function()
  if headers == nil then  -- wrk.format replaces wrk.headers (Host, the -H key) with what it is given
    headers = {{["Content-Type"] = "application/json"}}
    for k, v in pairs(wrk.headers) do headers[k] = v end
  end
  n = n + 1
  local body = [[{head}]] .. "{prefix}-" .. tid .. "-" .. n .. [[{tail}]]
  return wrk.format("POST", "/api/v1/orders", headers, body)
end
""")
    return script


def count_accepted(db: Path, prefix: str) -> tuple[int, int]:
    """(orders, send_order messages) whose number starts with ``prefix``, read from the store."""
    import sqlite3

    with sqlite3.connect(db) as con:
        orders = con.execute("SELECT count(*) FROM orders WHERE key LIKE ?", (prefix + "%",)).fetchone()[0]
        messages = con.execute("SELECT count(*) FROM outbox_messages WHERE operation = 'send_order' "
                               "AND business_key LIKE ?", (prefix + "%",)).fetchone()[0]
    return orders, messages
