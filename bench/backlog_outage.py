"""The backlog after an ERP outage: 10,000 orders (and a cancellation for every 20th) accepted while
the ERP refused connections, then drained at the rate the ERP allows, none dead, none out of order.

The test ERP (a real HTTP server, the delivery tests') enforces LIMIT requests per second and
answers 429 with Retry-After: 1 beyond it (the workers then pause a second); an order costs two requests (look-up by number, create), a cancellation
one. The outbox channel is configured at 90% of that (`outbox.channels.erp.rate_limit`).

  baseline  a plain script sending 500 orders one after another as fast as the ERP lets it
            (sleeping and retrying on 429): what the ERP's limit allows, measured
  erpbridge worker processes (2 x 4 threads) drain the backlog after the outage

The outage is shortened: the ERP refuses connections while the orders are accepted (the workers
meet it, the semaphore takes it offline; `max_lock_time` 5 s instead of 60 s), the accepted
orders are then dated 10 minutes back, reconciliation runs (it must find them all already
queued), and the ERP comes back. The backlog and the rate limit are real.

Run: .venv/bin/python bench/backlog_outage.py [--orders 10000] [--limit 200] [--store sqlite|postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import threading
import time
from pathlib import Path

from outbox_common import ErpConnector, TestErp, Workers, make_app, make_order, store, temporary_folder
from sqlalchemy import func, select, update

from erpbridge.connectors.base import GeneralError
from erpbridge.outbox import NewMessage, enqueue_many
from erpbridge.outbox.reconcile import reconcile
from erpbridge.outbox.semaphore import Semaphore
from erpbridge.outbox.tables import outbox_messages as m
from erpbridge.records import Cancellation
from erpbridge.store.db import write_transaction
from erpbridge.store.records import prepare
from erpbridge.store.tables import orders

GROUP = 100  # orders per accepting transaction (the API under load commits what arrived together)


def baseline(limit: int, n: int = 500) -> float:
    """Orders per second a plain sequential client gets through the ERP's limit."""
    erp = TestErp(rate_limit=limit)
    connector = ErpConnector(erp.port)
    started = time.perf_counter()
    for i in range(n):
        order = make_order(f"B{i}").model_dump(mode="json")
        while True:
            try:
                connector.deliver("send_order", order, f"B{i}")
                break
            except GeneralError:  # 429: too many requests this second
                time.sleep(0.01)
    rate = n / (time.perf_counter() - started)
    erp.stop()
    return rate


def accept(app, numbers: list[str]) -> None:
    """Store the orders and their messages, and a cancellation for every 20th, in one transaction."""
    records, messages = [], []
    for number in numbers:
        order = make_order(number)
        records.append(order)
        messages.append(NewMessage("erp", "send_order", number, order.model_dump(mode="json"),
                                   record_kind="orders", record_key=number))
    cancels = [Cancellation(id=f"C-{n}", order=n) for n in numbers if int(n) % 20 == 0]
    messages += [NewMessage("erp", "cancel_order", c.order, c.model_dump(mode="json"), record_kind="cancellations",
                            record_key=c.id) for c in cancels]
    with write_transaction(app.engine) as conn:
        app.records.write_in(conn, "orders", [prepare(o) for o in records])
        app.records.write_in(conn, "cancellations", [prepare(c) for c in cancels])
        enqueue_many(conn, messages)


def counts(app) -> dict[str, int]:
    with app.engine.connect() as conn:
        return dict(conn.execute(select(m.c.state, func.count()).group_by(m.c.state)).all())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=200, help="requests per second the test ERP allows")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    rate = 0.9 * args.limit / 2  # messages per second: 90% of the ERP's limit, two requests per order

    print(f"baseline: a plain client sends 500 orders through the ERP's limit of {args.limit} requests/s", flush=True)
    plain = baseline(args.limit)
    print(f"  {plain:,.1f} orders/s", flush=True)

    with temporary_folder() as tmp, store(args.store, Path(tmp)) as url:
        folder = Path(tmp)
        app = make_app(url, folder, {"lease_seconds": 60, "heartbeat_seconds": 15, "poll_interval": 0.5,
                                     "channels": {"erp": {"rate_limit": rate, "batch_size": 5}}}, max_lock_time=5)
        erp = TestErp(rate_limit=args.limit)
        erp.stop()  # the outage: connections refused
        workers = Workers(app, erp.port, processes=2, concurrency=4)
        workers.go()
        numbers = [f"{100000 + i}" for i in range(args.orders)]
        print(f"outage: accepting {args.orders:,} orders ({GROUP} per transaction) while the ERP refuses connections",
              flush=True)
        for start in range(0, len(numbers), GROUP):
            accept(app, numbers[start:start + GROUP])
        semaphore = Semaphore(app.engine, "erp", 5)
        deadline = time.monotonic() + 30
        while not semaphore.is_tripped() and time.monotonic() < deadline:
            time.sleep(0.1)
        state = semaphore.state()
        print(f"  the workers met the outage: ERP offline ({state['reason']}); messages {counts(app)}", flush=True)
        with app.engine.begin() as conn:  # ten minutes have passed
            conn.execute(update(orders).values(created_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10)))
        report = reconcile(app, older_than_minutes=9)
        print(f"  reconciliation after 10 minutes: {len(report.found):,} without an ERP id, "
              f"{len(report.already_queued):,} already queued, {len(report.requeued)} re-queued", flush=True)
        assert not report.requeued and len(report.already_queued) == args.orders

        total = sum(counts(app).values())
        erp.start()  # the ERP is back; the first claim after the lock time is the probe
        back = time.monotonic()
        print(f"ERP back: draining {total:,} messages at {rate:g}/s (ERP limit {args.limit} requests/s)", flush=True)
        done = threading.Event()

        def progress() -> None:
            while not done.wait(10):
                state = counts(app)
                print(f"  {time.monotonic() - back:5.0f}s  done {state.get('done', 0):,}/{total:,}  "
                      f"pending {state.get('pending', 0):,}  dead {state.get('dead', 0)}  "
                      f"ERP 429s {erp.too_many}", flush=True)

        threading.Thread(target=progress, daemon=True).start()
        while erp.creates == 0 and time.monotonic() - back < 120:
            time.sleep(0.01)
        probe = time.monotonic()
        print(f"  the probe got through {probe - back:.1f}s after the ERP came back (the rest of the lock time)",
              flush=True)
        while ((state := counts(app)).get("done", 0) + state.get("dead", 0) < total
               and time.monotonic() - back < 3600):
            time.sleep(0.2)
        elapsed = time.monotonic() - probe
        done.set()
        workers.stop()
        final = counts(app)
        with app.engine.connect() as conn:
            most_attempts = conn.execute(select(func.max(m.c.attempts))).scalar()
        app.close()
        erp.stop()

    # Per-key order: each cancellation after its order's create; and how the ERP saw the orders overall.
    position = {}
    for index, (what, number) in enumerate(erp.events):
        position.setdefault((what, number), index)
    out_of_order = sum(1 for (what, number), i in position.items()
                       if what == "cancelled" and position.get(("created", number), 1 << 60) > i)
    unknown = sum(1 for what, _ in erp.events if what == "cancel_unknown")
    created = [int(number) for what, number in erp.events if what == "created"]
    inversions = sum(1 for a, b in zip(created, created[1:]) if b < a)
    drained = final.get("done", 0) / elapsed
    print(f"\nbacklog after an outage, {args.store}, {args.orders:,} orders + {total - args.orders:,} cancellations, "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (shared machine)")
    print(f"  baseline  plain client through the ERP's limit     {plain:8.1f} orders/s")
    print(f"  erpbridge drained {final.get('done', 0):,} messages in {elapsed:.1f}s after the probe   "
          f"{drained:8.1f} messages/s   "
          f"{drained / rate:.2f}x the configured rate, {drained / plain:.2f}x baseline (orders + cancellations)")
    print(f"  dead {final.get('dead', 0)}, ERP creates {erp.creates:,} for {args.orders:,} orders, ERP 429s "
          f"{erp.too_many}, cancellations before their order {out_of_order + unknown}, most attempts "
          f"{most_attempts}, creates not in acceptance order {inversions} of {len(created):,} (parallel workers)")
    ok = (final.get("dead", 0) == 0 and final.get("done", 0) == total and erp.creates == args.orders
          and out_of_order + unknown == 0)
    print("  result: " + ("none dead, none doubled, none out of order" if ok else "FAILED"))
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
