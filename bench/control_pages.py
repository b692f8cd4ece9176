"""How long the control center's reads take on a big store: N outbox messages and N exchange log
entries in a SQLite file (or the PostgreSQL database of ``--store``), then each page's reads timed
in this process (no HTTP), 5 times each, the median printed as JSON lines; then, as the baseline
of the same run, the same reads once more without the control center's indexes (migrations 0002b
and 0006d dropped), so each line shows both and their ratio. Target: every read < 200 ms.

    .venv/bin/python bench/control_pages.py [N] [--store postgresql+psycopg://...]   # N: 1,000,000
"""

from __future__ import annotations

import datetime as dt
import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, insert, text

from erpbridge.bootstrap import bootstrap
from erpbridge.config import Config
from erpbridge.control import exchanges, kpis, overview
from erpbridge.control import messages as msgs
from erpbridge.exchange.tables import exchange_log
from erpbridge.outbox.tables import outbox_messages

STATES = ("done",) * 97 + ("pending", "dead", "discarded")


def fill(hub, n: int) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    for start in range(0, n, 50_000):
        rows, logs = [], []
        for i in range(start, min(n, start + 50_000)):
            at = now - dt.timedelta(seconds=(n - i) * 2)
            state = STATES[i % len(STATES)]
            rows.append({"channel": "erp", "business_key": f"SO-{i}", "sequence": 1, "idempotency_key": f"k{i}",
                         "operation": "send_order", "payload": "{}", "state": state, "attempts": 1,
                         "next_run_at": at, "last_error": "ERP refused" if state == "dead" else None,
                         "created_at": at, "updated_at": at, "done_at": at + dt.timedelta(seconds=30)
                         if state == "done" else None})
            logs.append({"at": at, "system": "erp", "flow": "orders", "point": "erp.order.create", "direction": "out",
                         "duration_ms": 20.0, "outcome": "ok" if i % 50 else "message_error", "size": 100,
                         "request": f'{{"number": "SO-{i}"}}', "response": "{}"})
        with hub.engine.begin() as conn:
            conn.execute(insert(outbox_messages), rows)
            conn.execute(insert(exchange_log), logs)


#: The indexes of migrations 0002b (outbox) and 0006d (exchange log): dropped for the baseline.
INDEXES = {"outbox_messages": ("ix_outbox_messages_state_channel_created_at", "ix_outbox_messages_state_done_at",
                               "ix_outbox_messages_channel_created_at"),
           "exchange_log": ("ix_exchange_log_point_id", "ix_exchange_log_system_id", "ix_exchange_log_outcome_id")}


def reads(hub) -> dict:
    return {
        "messages page, no filter": lambda: msgs.page_of(hub.engine, msgs.Filter()),
        "messages page, dead": lambda: msgs.page_of(hub.engine, msgs.Filter(state="dead", channel="erp")),
        "messages preview, retry all dead": lambda: msgs.preview(hub.engine, "retry", msgs.Filter(channel="erp")),
        "overview: systems, channels, flows": lambda: overview.overview(hub),
        "KPIs (uncached, backlog normals too)": lambda: (kpis._normals.clear(), kpis.compute(hub)),
        "KPIs (uncached, backlog normals of this 5 minutes reused)": lambda: kpis.compute(hub),
        "exchange log page, no filter": lambda: exchanges.page_of(hub, exchanges.Search()),
        "exchange log page, point": lambda: exchanges.page_of(hub, exchanges.Search(point="erp.order.create")),
        "exchange log page, system": lambda: exchanges.page_of(hub, exchanges.Search(system="erp")),
        "exchange log page, outcome": lambda: exchanges.page_of(hub, exchanges.Search(outcome="message_error")),
        "exchange log page, point and outcome": lambda: exchanges.page_of(
            hub, exchanges.Search(point="erp.order.create", outcome="message_error")),
    }


def timed(call) -> float:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("n", type=int, nargs="?", default=1_000_000)
    args.add_argument("--store", help="a PostgreSQL URL (its tables are emptied first); default: a new SQLite file")
    options = args.parse_args()
    schema = f"bench_control_{os.getpid()}"
    if options.store:  # a schema of its own, dropped at the end
        admin = create_engine(options.store, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{options.store}{'&' if '?' in options.store else '?'}options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='erpbridge-bench-')) / 'store.db'}"
    hub = bootstrap(Config.model_validate({"store": {"url": url}}))
    started = time.perf_counter()
    fill(hub, options.n)
    if options.store:  # what autovacuum does for a live store soon after such a fill
        with hub.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    print(json.dumps({"filled": options.n, "store": hub.engine.dialect.name,
                      "seconds": round(time.perf_counter() - started, 1)}), flush=True)
    with_indexes = {name: timed(call) for name, call in reads(hub).items()}
    with hub.engine.begin() as conn:
        for names in INDEXES.values():
            for name in names:
                conn.execute(text(f"DROP INDEX {name}"))
    for name, call in reads(hub).items():
        without = timed(call)
        print(json.dumps({"read": name, "median_ms": round(with_indexes[name], 1),
                          "without_control_indexes_ms": round(without, 1),
                          "ratio": round(without / max(with_indexes[name], 0.01), 1),
                          "target_200ms": "ok" if with_indexes[name] < 200 else "MISSED"}), flush=True)
    hub.close()
    if options.store:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
