"""Accepting orders over HTTP with the store on SQLite, each durable before its answer.

  healthz   GET /healthz of the same server (what the server does for nothing)
  baseline  POST /api/v1/orders with one commit per order (group commit off), synchronous=FULL:
            what a durable order costs without group commit
  orders    POST /api/v1/orders as erpbridge runs: a valid 3-line order with a new number per
            request; validated, its SKUs checked in the store, the order and its send_order outbox
            message committed (group commit, synchronous=FULL: it survives a power cut) before
            the 201 answer, which carries the order view

One uvicorn process, wrk with 8 connections. Afterwards the store is counted: every answered
order and its message must be there. Prints orders/s (target >= 500/s) and the ratios to the
one-commit-per-order baseline and to /healthz.

Run: .venv/bin/python bench/api_orders.py [SECONDS]
"""

from __future__ import annotations

import sys
import tempfile
import time

from api_common import count_accepted, machine, order_script, serving, small_store, wrk


def post_orders(folder: str, seconds: int, label: str, **serve) -> tuple[dict, dict | None]:
    """wrk against POST /api/v1/orders of a fresh store (and /healthz first when asked); checks the store after."""
    prefix = f"B{time.time_ns()}"
    db = small_store(folder)
    health = None
    with serving(db, **serve) as (url, token, _config):
        wrk(f"{url}/healthz", seconds=2, label="warm-up")
        if label == "orders":
            health = wrk(f"{url}/healthz", seconds=seconds, label="/healthz")
        orders = wrk(url, token=token, seconds=seconds, script=order_script(folder, prefix), label=label)
    stored, messages = count_accepted(db, prefix)
    assert orders["non_2xx"] == 0 and not orders["errors"], orders
    assert stored == messages and stored >= orders["requests"], (stored, messages, orders["requests"])
    orders["stored"], orders["messages"] = stored, messages
    return orders, health


def run(seconds: int) -> None:
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as grouped:
        base, _ = post_orders(one, seconds, "baseline", group_max=1)
        orders, health = post_orders(grouped, seconds, "orders")
    print(f"\nshop API order acceptance, SQLite (WAL, synchronous=FULL for accepted orders), 1 uvicorn process, "
          f"8 connections; {machine()}")
    print(f"  healthz   GET /healthz                  {health['rps']:>8,.0f} req/s     p50 {health['p50_ms']:6.2f} ms  "
          f"p99 {health['p99_ms']:6.2f} ms")
    print(f"  baseline  POST orders, 1 per commit     {base['rps']:>8,.0f} orders/s  p50 {base['p50_ms']:6.2f} ms  "
          f"p99 {base['p99_ms']:6.2f} ms")
    print(f"  orders    POST orders, group commit     {orders['rps']:>8,.0f} orders/s  p50 {orders['p50_ms']:6.2f} ms  "
          f"p99 {orders['p99_ms']:6.2f} ms")
    print(f"  {orders['rps'] / base['rps']:.2f}x the one-commit-per-order baseline, "
          f"{orders['rps'] / health['rps']:.0%} "
          f"of /healthz req/s; {orders['requests']:,} answered 201, {orders['stored']:,} orders and "
          f"{orders['messages']:,} messages in the store; target >= 500 orders/s: "
          f"{'OK' if orders['rps'] >= 500 else 'MISSED'}")


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
