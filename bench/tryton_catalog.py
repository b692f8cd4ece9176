"""Importing Tryton's catalog of 10,000 products: erpbridge's flows against a plain script.

Starts its own Tryton 8.2 server (the tests' cached virtualenv and template database, on a free
127.0.0.1 port) on a database with N products in 20 categories and stock in two warehouses
(built once, about 4 minutes for 10,000, then cached like the template), then measures
for each flow (catalog = product groups + products, prices, stock) two ways and prints the
times and their ratio:

  baseline   a plain script making the same JSON-RPC reads the connector makes (the same
             search_read/read pages, the same context), keeping the answers in a list: what it
             costs to get the data out of Tryton with nothing in between
  erpbridge  ``run_flow`` of a full flow: the Tryton connector (exchange log, mapping to canonical
             records) writing into an empty SQLite store, then a second full run that finds
             everything unchanged (the daily full import on a quiet day)

Run: .venv/bin/python bench/tryton_catalog.py [--products 10000]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "tryton"))

import server  # noqa: E402
from erp_user import ErpUser  # noqa: E402

from erpbridge.bootstrap import bootstrap  # noqa: E402
from erpbridge.config import Config  # noqa: E402
from erpbridge.flows.scheduler import run_flow  # noqa: E402

#: Templates per ``create`` call while filling Tryton (Tryton 8.2 on SQLite fails calls of a few hundred).
CREATE_BATCH = 50
PAGE = 1000


#: Products with stock (in both warehouses); Tryton's stock moves get slow in a big catalog, so
#: they are made while it is small. The stock flow reads every product's quantity either way.
STOCKED = 200


def fill(erp: ErpUser, count: int) -> None:
    """N salable goods in 20 categories, the first :data:`STOCKED` with stock in WH and WH2."""
    rpc = erp.rpc
    categories = [erp.category(f"CAT-{i:02d}", f"Category {i}") for i in range(20)]
    started = time.perf_counter()

    def create(first: int, last: int) -> None:
        for start in range(first, last, CREATE_BATCH):
            rpc.model("product.template", "create", [{
                "name": f"Product {i}", "code": f"SKU-{i:05d}", "type": "goods", "default_uom": erp.unit,
                "sale_uom": erp.unit, "salable": True, "list_price": Decimal(10 + i % 90) + Decimal("0.99"),
                "account_category": erp.goods, "categories": [["add", [categories[i % 20]]]],
                "products": [["create", [{"description": f"Product {i}\nA longer description of product {i}."}]]]}
                for i in range(start, min(start + CREATE_BATCH, last))])
            done = min(start + CREATE_BATCH, last)
            print(f"\r  created {done:>6}/{count} products ({time.perf_counter() - started:5.1f} s)", end="",
                  flush=True)

    stocked = min(STOCKED, count)
    create(0, stocked)
    ids = rpc.model("product.product", "search", [["code", "like", "SKU-%"]], 0, None, [["id", "ASC"]])
    moves = [{"product": product, "quantity": float(1 + n % 50), "unit": erp.unit,
              "from_location": erp.supplier_location, "to_location": erp.warehouses[warehouse]["storage_location"],
              "unit_price": Decimal("1.00"), "currency": erp.currency()}
             for n, product in enumerate(ids) for warehouse in ("WH", "WH2")]
    for start in range(0, len(moves), CREATE_BATCH):
        rpc.model("stock.move", "do", rpc.model("stock.move", "create", moves[start:start + CREATE_BATCH]))
        print(f"\r  created {stocked:>6}/{count} products, {min(start + CREATE_BATCH, len(moves)):>5}/{len(moves)} "
              f"stock moves ({time.perf_counter() - started:5.1f} s)", end="", flush=True)
    create(stocked, count)
    print()


class PlainScript:
    """The baseline: the connector's reads over one bare JSON-RPC session, answers kept as is."""

    def __init__(self, rpc):
        self.m = rpc.model

    def pages(self, model: str, domain: list, fields: list[str], context: dict | None = None) -> list[dict]:
        rows, offset = [], 0
        while True:
            page = self.m(model, "search_read", domain, offset, PAGE, [["id", "ASC"]], fields, context=context)
            rows += page
            if len(page) < PAGE:
                return rows
            offset += PAGE

    def salable(self, fields: list[str]) -> list[dict]:
        return self.pages("product.product", [["salable", "=", True], ["code", "!=", None],
                                              ["code", "not in", ["FREIGHT"]]], fields)

    def catalog(self) -> int:
        groups = self.pages("product.category", [["accounting", "=", False]], ["code", "name", "parent", "write_date"])
        self.pages("product.category", [["accounting", "=", False]], ["code", "name", "parent", "write_date"])
        products = self.salable(["code", "name", "description", "list_price_used", "categories", "salable", "active",
                                 "type", "write_date"])
        return len(groups) + len(products)

    def prices(self) -> int:
        products = self.salable(["code", "list_price_used"])
        self.pages("party.party", [["code", "!=", None]], ["code", "sale_price_list"])
        return len(products)

    def stock(self) -> int:
        products = self.pages("product.product", [["type", "=", "goods"], ["salable", "=", True], ["code", "!=", None]],
                              ["code"])
        ids = [p["id"] for p in products]
        rows = 0
        warehouses = [w["id"] for w in self.m("stock.location", "search_read", [["type", "=", "warehouse"]], 0, None,
                                              None, ["code"])]
        for warehouse in warehouses:
            for start in range(0, len(ids), PAGE):
                rows += len(self.m("product.product", "read", ids[start:start + PAGE], ["quantity"],
                                   context={"locations": [warehouse], "stock_date_end": None}))
        return rows


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


#: Bump when :func:`fill` changes, so the cached database is built again.
FILL_VERSION = 2


def filled_database(count: int) -> Path:
    """The template database with :func:`fill` applied, cached beside the tests' template (filling
    10,000 products takes a few minutes; only the first run on a machine pays for it)."""
    venv = server.ensure_venv()
    template = server.ensure_template(venv)
    cached = template.with_name(f"{template.stem}-catalog-{count}-v{FILL_VERSION}.sqlite")
    if cached.exists():
        print(f"using the cached Tryton database with {count} products ({cached})")
        return cached
    print(f"filling Tryton with {count} products (cached for later runs)...")
    with tempfile.TemporaryDirectory() as folder:
        tryton = server.TrytonServer(Path(folder) / "tryton", venv, template)
        tryton.start()
        try:
            rpc = tryton.rpc()
            fill(ErpUser(rpc), count)
            rpc.close()
        finally:
            tryton.stop()
        tmp = cached.with_suffix(f".tmp-{os.getpid()}")
        # SQLite's backup reads through the write-ahead log, which a copy of the file would miss.
        with sqlite3.connect(Path(folder) / "tryton" / "db" / f"{tryton.database}.sqlite") as source, \
                sqlite3.connect(tmp) as target:
            source.backup(target)
        tmp.rename(cached)
    return cached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=10_000)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    database = filled_database(args.products)
    with tempfile.TemporaryDirectory() as folder:
        tryton = server.TrytonServer(Path(folder) / "tryton", template=database)
        tryton.start()
        try:
            run(tryton, Path(folder))
        finally:
            tryton.stop()
    print(f"load average after: {os.getloadavg()}  (2 cores shared with other work: figures are indicative)")


def run(tryton: server.TrytonServer, folder: Path) -> None:
    rpc = tryton.rpc()
    config = Config.model_validate({
        "store": {"url": f"sqlite:///{folder / 'store.db'}"},
        "systems": {"erp": {"connector": "tryton", "url": tryton.url, "database": tryton.database, "user": tryton.user,
                            "password": tryton.password, "shipping_methods": {"standard": "FREIGHT"},
                            "warehouses": {"WH": "main", "WH2": "south"}}},
        "flows": {name: {"mode": "full"} for name in ("catalog", "prices", "stock")},
    })
    app = bootstrap(config)
    plain = PlainScript(rpc)
    plain.catalog()  # warm Tryton's caches for both sides alike
    print(f"{'flow':8} {'records':>8} {'plain script':>13} {'erpbridge':>10} {'ratio':>6} {'unchanged re-run':>17}")
    for flow, baseline in (("catalog", plain.catalog), ("prices", plain.prices), ("stock", plain.stock)):
        base_time, _ = timed(baseline)
        first_time, first = timed(lambda: run_flow(app, flow))
        again_time, again = timed(lambda: run_flow(app, flow))
        assert first["outcome"] == "ok" and again["outcome"] == "ok", (first, again)
        records = first["summary"]["fetched"]
        assert again["summary"]["unchanged"] == records, again["summary"]
        print(f"{flow:8} {records:>8} {base_time:>11.1f} s {first_time:>8.1f} s {base_time / first_time:>6.2f} "
              f"{again_time:>15.1f} s")
    counts = app.records.counts()
    print(f"store: {counts['products']} products, {counts['product_groups']} groups, {counts['prices']} prices, "
          f"{counts['stock']} stock levels")
    print("ratio = plain script time / erpbridge time (1.00: erpbridge adds nothing to what Tryton costs)")
    app.close()
    rpc.close()


if __name__ == "__main__":
    main()
