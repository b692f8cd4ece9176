"""Recovery after an ERP outage with workers killed all along: how long from the ERP back to the
backlog drained, against the least time the ERP's rate allows (issue 17: goal <= 1.2x).

The test ERP (a real HTTP server, the delivery tests') takes LIMIT requests per second and answers
429 with Retry-After: 1 beyond it; an order costs two requests (look-up by number, create), a
cancellation one. The channel is configured at 90% of that rate. The outbox runs with its
defaults (short leases kept alive by heartbeats, probes backed off from 1 s up to
``max_lock_time`` 60 s):

  minimum   the backlog's requests / LIMIT: the ERP's rate, nothing lost to the outage or the kills
  erpbridge 2 worker processes x 2 threads; one of them killed with SIGKILL (and replaced) every
            KILL_EVERY seconds from the outage to the end; the ERP refuses connections while the
            orders are accepted and OUTAGE seconds more, then comes back

Prints the time from the ERP back to the last message done, its ratio to the minimum, when the
first probe got through, the kills, and checks that none is dead, doubled or out of per-order
order, and how far the creates stray from acceptance order.

Run: .venv/bin/python bench/recovery_outage.py [--orders 1200] [--limit 40] [--outage 10] [--kill-every 4]
     [--store sqlite|postgres]
"""

from __future__ import annotations

import argparse
import os
import random
import threading
import time
from pathlib import Path

from backlog_outage import GROUP, accept, counts
from outbox_common import TestErp, Workers, make_app, store, temporary_folder
from sqlalchemy import func, select

from erpbridge.outbox.semaphore import Semaphore
from erpbridge.outbox.tables import outbox_messages as m


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1200)
    parser.add_argument("--limit", type=int, default=40, help="requests per second the test ERP allows")
    parser.add_argument("--outage", type=float, default=10, help="seconds the ERP stays down after the orders are in")
    parser.add_argument("--kill-every", type=float, default=4, help="seconds between two killed workers (0: none)")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    rate = 0.9 * args.limit / 2  # messages per second: 90% of the ERP's limit, two requests per order

    with temporary_folder() as tmp, store(args.store, Path(tmp)) as url:
        folder = Path(tmp)
        app = make_app(url, folder, {"channels": {"erp": {"rate_limit": rate, "batch_size": 5}}}, max_lock_time=60)
        erp = TestErp(rate_limit=args.limit)
        erp.stop()  # the outage: connections refused
        workers = Workers(app, erp.port, processes=2, concurrency=2)
        workers.go()
        kills = 0
        killing = threading.Event()

        def kill_workers() -> None:
            nonlocal kills
            while not killing.wait(args.kill_every):
                workers.kill(random.randrange(len(workers.processes)))
                kills += 1

        killer = threading.Thread(target=kill_workers, daemon=True)
        if args.kill_every > 0:
            killer.start()
        numbers = [f"{100000 + i}" for i in range(args.orders)]
        for start in range(0, len(numbers), GROUP):
            accept(app, numbers[start:start + GROUP])
        semaphore = Semaphore(app.engine, "erp", 60)
        deadline = time.monotonic() + 30
        while not semaphore.is_tripped() and time.monotonic() < deadline:
            time.sleep(0.1)
        total = sum(counts(app).values())
        cancels = total - args.orders
        print(f"outage: {args.orders:,} orders and {cancels} cancellations accepted, the ERP offline "
              f"({semaphore.state()['reason']}); down {args.outage:g} s more, a worker killed every "
              f"{args.kill_every:g} s", flush=True)
        time.sleep(args.outage)
        erp.start()
        back = time.monotonic()
        minimum = (2 * args.orders + cancels) / args.limit
        print(f"ERP back: {total:,} messages; the ERP's rate allows them in {minimum:.1f} s at best", flush=True)
        while erp.creates == 0 and time.monotonic() - back < 120:
            time.sleep(0.01)
        probe = time.monotonic() - back
        while ((state := counts(app)).get("done", 0) + state.get("dead", 0) < total
               and time.monotonic() - back < 1800):
            time.sleep(0.1)
        elapsed = time.monotonic() - back
        killing.set()
        if killer.is_alive():
            killer.join()
        workers.stop()
        final = counts(app)
        with app.engine.connect() as conn:
            most_attempts = conn.execute(select(func.max(m.c.attempts))).scalar()
        app.close()
        erp.stop()

    position = {}
    for index, (what, number) in enumerate(erp.events):
        position.setdefault((what, number), index)
    out_of_order = sum(1 for (what, number), i in position.items()
                       if what == "cancelled" and position.get(("created", number), 1 << 60) > i)
    created = [int(number) for what, number in erp.events if what == "created"]
    # How far behind its place in acceptance order a create came (parallel workers and kills shuffle a little).
    late = max((seen - place for place, seen in enumerate(sorted(range(len(created)), key=created.__getitem__))),
               default=0)
    ratio = elapsed / minimum
    print(f"\nrecovery after an outage, {args.store}, {args.orders:,} orders + {cancels} cancellations, ERP limit "
          f"{args.limit} requests/s, {kills} workers killed (every {args.kill_every:g} s); load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (shared machine)")
    print(f"  minimum   the ERP's rate                       {minimum:7.1f} s")
    print(f"  erpbridge ERP back -> backlog drained          {elapsed:7.1f} s   {ratio:.2f}x the minimum "
          f"(goal <= 1.2x: {'ok' if ratio <= 1.2 else 'MISSED'}); first probe through after {probe:.1f} s")
    print(f"  dead {final.get('dead', 0)}, ERP creates {erp.creates:,} for {args.orders:,} orders, ERP 429s "
          f"{erp.too_many}, cancellations before their order {out_of_order}, most attempts {most_attempts}, "
          f"a create at most {late} places later than in acceptance order")
    ok = (final.get("dead", 0) == 0 and final.get("done", 0) == total and erp.creates == args.orders
          and out_of_order == 0)
    print("  result: " + ("none dead, none doubled, none out of order" if ok else "FAILED"))
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
