"""Stock reconciliation's memory and time on a big store: N stock rows, an ERP that answers all N
(1% of them different, generated as they are read, as a paged ERP answer would arrive).

Prints, for N and for N/10 in the same run:

  baseline   reading every stock row's key and quantity from the store into a dict (what a
             naive comparison holding the whole store in memory would start with)
  erpbridge  ``reconcile_stock`` (report only): the ERP's answer read in batches of 1,000 and
             each compared with the store's rows, then the store's rows no ERP listed

with each one's time (untraced) and its peak of Python memory (tracemalloc, a second run) beyond
what was allocated before. Memory-bounded means the peak grows by the one hash per row the check keeps (to find
the rows no ERP listed), not by the rows.

Run: .venv/bin/python bench/reconcile_stock.py [--rows 200000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from erpbridge.bootstrap import bootstrap
from erpbridge.config import Config
from erpbridge.ingest.reconcile_stock import reconcile_stock
from erpbridge.records import StockLevel
from erpbridge.store.records import prepare
from erpbridge.store.tables import stock


class GeneratedErp:
    """An ERP whose whole stock is generated while it is read: row i is i % 50, every 100th one
    more (a change the store missed)."""

    def __init__(self, rows: int):
        self.rows = rows

    def fetch(self, kind: str, since=None):
        for i in range(self.rows):
            yield StockLevel(sku=f"SKU-{i:07}", warehouse="MAIN", quantity=i % 50 + (1 if i % 100 == 0 else 0))


def measure(label: str, work) -> tuple[float, float]:
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    work()
    peak = (tracemalloc.get_traced_memory()[1] - before) / 2**20
    tracemalloc.stop()
    print(f"  {label:<10} {seconds:7.2f} s   peak {peak:7.1f} MiB   {result}")
    return seconds, peak


def run(rows: int, folder: Path) -> None:
    app = bootstrap(Config(store={"url": f"sqlite:///{folder / f'store-{rows}.db'}"},
                           systems={"erp": {"connector": "testerp"}}))
    try:
        for start in range(0, rows, 10_000):
            app.records.write("stock", [prepare(StockLevel(sku=f"SKU-{i:07}", warehouse="MAIN", quantity=i % 50))
                                        for i in range(start, min(rows, start + 10_000))])
        app.use_connector("erp", GeneratedErp(rows))
        print(f"{rows:,} stock rows, {rows // 100:,} different")

        def baseline():
            with app.engine.connect() as conn:
                held = {key: Decimal(q) for key, q in conn.execute(select(stock.c.key, stock.c.quantity))}
            return f"{len(held):,} rows held"

        def erpbridge():
            report = reconcile_stock(app, in_flight_minutes=0)
            return f"{report.compared:,} compared, {report.differing:,} differ"

        base, base_peak = measure("baseline", baseline)
        ours, ours_peak = measure("erpbridge", erpbridge)
        print(f"  ratio      {ours / base:7.2f}x time, {ours_peak / base_peak:.2f}x memory of the baseline; "
              f"{ours_peak * 2**20 / rows:.0f} bytes per row")
    finally:
        app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for rows in (args.rows // 10, args.rows):
            run(rows, Path(folder))


if __name__ == "__main__":
    main()
