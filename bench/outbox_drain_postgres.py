"""Draining the outbox on PostgreSQL with 1, 2 and 4 worker processes: does adding workers help?

Each run fills the outbox with N messages, starts P worker processes (each one `Worker.drain()`,
one thread: claims with FOR UPDATE SKIP LOCKED, leases, exchange log and all), lets them go at
the same moment and times until the last one finishes. Two kinds of delivery:

  no-op     a connector that does nothing (the outbox's own cost: claims, acknowledgements, log)
  erp-2ms   a connector whose call takes 2 ms (a fast ERP on the same network): I/O-bound work,
            what extra workers are for

The baseline is 1 process in the same run; the scaling is each rate over it. On a 2-core machine
with PostgreSQL on the same cores, no-op draining is CPU-bound and can gain little.

Run: .venv/bin/python bench/outbox_drain_postgres.py [--messages 20000] [--slow-messages 3000]
     (PostgreSQL from $ERPBRIDGE_BENCH_POSTGRES_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/test)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from outbox_common import make_app, store, temporary_folder
from sqlalchemy import delete

from erpbridge.connectors.base import DeliveryResult
from erpbridge.exchange.tables import exchange_log
from erpbridge.outbox import NewMessage, enqueue_many
from erpbridge.outbox.tables import outbox_messages

DONE = DeliveryResult()
KINDS = {"no-op": (0.0, 100), "erp-2ms": (0.002, 10)}  # call time, batch size


class Delivery:
    def __init__(self, seconds: float):
        self.seconds = seconds

    def deliver(self, operation, payload, idempotency_key):
        if self.seconds:
            time.sleep(self.seconds)
        return DONE


def fill(app, n: int) -> None:
    with app.engine.begin() as conn:
        conn.execute(delete(outbox_messages))
        conn.execute(delete(exchange_log))
    payload = {"number": "0", "lines": [{"sku": "SKU-1", "quantity": "2", "unit_price": "19.9"}], "total": "39.8"}
    for start in range(0, n, 1000):
        with app.engine.begin() as conn:
            enqueue_many(conn, [NewMessage("erp", "send_order", str(i), payload) for i in range(start, min(n, start + 1000))])


def run(app, processes: int, kind: str, n: int) -> float:
    fill(app, n)
    command = [sys.executable, __file__, "--worker", str(app.config.source), kind]
    children = [subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                for _ in range(processes)]
    for child in children:
        assert child.stdout.readline().strip() == "ready"
    started = time.perf_counter()
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    delivered = sum(int(child.stdout.readline()) for child in children)
    elapsed = time.perf_counter() - started
    for child in children:
        child.wait(30)
    assert delivered == n, (delivered, n)
    return n / elapsed


def worker(config: str, kind: str) -> None:
    from erpbridge.bootstrap import bootstrap
    from erpbridge.config import load_config
    from erpbridge.outbox.worker import Worker

    app = bootstrap(load_config(config), migrate=False)
    w = Worker(app, connectors={"erp": Delivery(KINDS[kind][0])})
    print("ready", flush=True)
    sys.stdin.readline()
    print(w.drain(), flush=True)
    app.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000, help="messages per no-op run")
    parser.add_argument("--slow-messages", type=int, default=3_000, help="messages per erp-2ms run")
    args = parser.parse_args()
    rates: dict[tuple[str, int], float] = {}
    with temporary_folder() as tmp, store("postgres", Path(tmp)) as url:
        for kind, n in (("no-op", args.messages), ("erp-2ms", args.slow_messages)):
            app = make_app(url, Path(tmp), {"channels": {"erp": {"batch_size": KINDS[kind][1]}}})
            for processes in (1, 2, 4):
                rates[kind, processes] = run(app, processes, kind, n)
                print(f"  {kind:<8} {processes} process(es): {rates[kind, processes]:>8,.0f} messages/s", flush=True)
            app.close()
    print(f"\noutbox drain, PostgreSQL, worker processes sharing one outbox, load average {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} cores (shared machine, PostgreSQL on the same cores)")
    for kind, n in (("no-op", args.messages), ("erp-2ms", args.slow_messages)):
        base = rates[kind, 1]
        cells = "   ".join(f"{p} proc {rates[kind, p]:>7,.0f}/s ({rates[kind, p] / base:.2f}x)" for p in (1, 2, 4))
        print(f"  {kind:<8} {n:>6,} messages, batch {KINDS[kind][1]:>3}:   {cells}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3])
    else:
        main()
