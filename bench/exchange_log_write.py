"""How much the exchange log costs per exchange, on SQLite (and PostgreSQL if a URL is given).

Writes N exchanges of a typical order payload three ways and prints each rate and its ratio:
  baseline  raw INSERT of an already-serialized row, one transaction each (the floor for a
            log that commits every entry on its own)
  measure   ExchangeLog.measure(): timing, redaction, JSON, size, its own transaction
  buffered  ExchangeLog(buffered=True): the same work, written by a background thread in batches
  query     `erpbridge log --point P --from D` style query over the rows (ms)
  prune     deleting them all in chunks (rows/s)

Run: .venv/bin/python bench/exchange_log_write.py [N] [postgresql+psycopg://...]
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import time

import uuid

import orjson
from sqlalchemy import create_engine, insert, text

from erpbridge.exchange import ExchangeLog
from erpbridge.exchange.tables import exchange_log
from erpbridge.store import make_engine, upgrade

ORDER = {
    "number": "100001234", "customer": {"number": "C-1001", "name": "Jane Doe", "email": "jane@example.com",
                                        "phone": "+49 30 123456"},
    "invoice_address": {"name": "Jane Doe", "street": "Hauptstr. 1", "postcode": "10115", "city": "Berlin",
                        "country": "DE"},
    "lines": [{"sku": f"SKU-{i}", "quantity": 2, "price": "19.90"} for i in range(5)],
    "payment_method": "paypal", "shipping_method": "dhl", "auth": {"password": "secret", "token": "abc"},
}


def run(url: str, n: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    log = ExchangeLog(engine)
    row = {"system": "erp", "flow": "orders", "point": "baseline", "direction": "out", "duration_ms": 1.0,
           "outcome": "ok", "size": 100, "error": None, "request": orjson.dumps(ORDER).decode(),
           "response": '{"id": 1}'}

    started = time.perf_counter()
    for _ in range(n):
        with engine.begin() as conn:
            conn.execute(insert(exchange_log), {**row, "at": dt.datetime.now(dt.timezone.utc)})
    baseline = n / (time.perf_counter() - started)

    started = time.perf_counter()
    for i in range(n):
        with log.measure("erp", "orders", "tryton.sale.create", request=ORDER) as exchange:
            exchange.response = {"id": i}
    measured = n / (time.perf_counter() - started)

    buffered_log = ExchangeLog(engine, buffered=True)
    started = time.perf_counter()
    for i in range(n):
        with buffered_log.measure("erp", "orders", "buffered", request=ORDER) as exchange:
            exchange.response = {"id": i}
    buffered_log.close()
    buffered = n / (time.perf_counter() - started)

    started = time.perf_counter()
    found = log.query(point="tryton.sale.create", since=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1))
    query_ms = (time.perf_counter() - started) * 1000
    assert len(found) == 100

    started = time.perf_counter()
    pruned = log.prune(0)
    prune_rate = pruned / (time.perf_counter() - started)

    print(f"{engine.dialect.name:<10} n={n}  baseline {baseline:8.0f}/s  measure {measured:8.0f}/s  "
          f"ratio {measured / baseline:.2f}  buffered {buffered:8.0f}/s  ratio {buffered / baseline:.2f}  "
          f"query(100 newest of {3 * n}) {query_ms:.1f} ms  prune {prune_rate:.0f} rows/s")
    engine.dispose()


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    print(f"load average {os.getloadavg()} (shared 2-core machine)")
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{tmp}/bench.db", n)
    if len(sys.argv) > 2:  # in a schema of its own, dropped afterwards
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(sys.argv[2], isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            run(f"{sys.argv[2]}{'&' if '?' in sys.argv[2] else '?'}options=-csearch_path%3D{schema}", n)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
