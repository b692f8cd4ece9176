"""Accepting orders over HTTP with the store on SQLite, each durable before its answer.

  baseline  GET /healthz of the same server (what the server does for nothing)
  orders    POST /api/v1/orders: a valid 3-line order with a new number per request; validated,
            its SKUs checked in the store, the order and its send_order outbox message committed
            in one transaction (WAL) before the 201 answer, which carries the order view

One uvicorn process, wrk with 8 connections. Afterwards the store is counted: every answered
order and its message must be there. Prints orders/s (target >= 500/s) and the ratio to the
baseline's req/s.

Run: .venv/bin/python bench/api_orders.py [SECONDS]
"""

from __future__ import annotations

import sys
import tempfile
import time

from api_common import count_accepted, machine, order_script, serving, small_store, wrk


def run(seconds: int) -> None:
    prefix = f"B{time.time_ns()}"
    with tempfile.TemporaryDirectory() as folder:
        db = small_store(folder)
        with serving(db) as (url, token, _config):
            wrk(f"{url}/healthz", seconds=2, label="warm-up")
            base = wrk(f"{url}/healthz", seconds=seconds, label="baseline /healthz")
            orders = wrk(url, token=token, seconds=seconds, script=order_script(folder, prefix), label="POST orders")
        stored, messages = count_accepted(db, prefix)
    assert orders["non_2xx"] == 0 and not orders["errors"], orders
    assert stored == messages and stored >= orders["requests"], (stored, messages, orders["requests"])
    print(f"\nshop API order acceptance, SQLite (WAL), 1 uvicorn process, 8 connections; {machine()}")
    print(f"  baseline  GET /healthz        {base['rps']:>8,.0f} req/s     p50 {base['p50_ms']:6.2f} ms  "
          f"p99 {base['p99_ms']:6.2f} ms")
    print(f"  orders    POST /api/v1/orders {orders['rps']:>8,.0f} orders/s  p50 {orders['p50_ms']:6.2f} ms  "
          f"p99 {orders['p99_ms']:6.2f} ms")
    print(f"  {orders['rps'] / base['rps']:.0%} of baseline req/s; {orders['requests']:,} answered 201, "
          f"{stored:,} orders and {messages:,} messages in the store; target >= 500 orders/s: "
          f"{'OK' if orders['rps'] >= 500 else 'MISSED'}")


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
