"""How long the control center's reads take on a big store: N outbox messages and N exchange log
entries in a SQLite file, then each page's reads timed in this process (no HTTP), 5 times each,
the median printed as JSON lines.

    .venv/bin/python bench/control_pages.py [N]     # default 1,000,000
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

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


def timed(name: str, call) -> None:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    print(json.dumps({"read": name, "median_ms": round(statistics.median(times), 1)}), flush=True)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    folder = Path(tempfile.mkdtemp(prefix="erpbridge-bench-"))
    hub = bootstrap(Config.model_validate({"store": {"url": f"sqlite:///{folder / 'store.db'}"}}))
    started = time.perf_counter()
    fill(hub, n)
    print(json.dumps({"filled": n, "seconds": round(time.perf_counter() - started, 1)}), flush=True)
    timed("messages page, no filter", lambda: msgs.page_of(hub.engine, msgs.Filter()))
    timed("messages page, dead", lambda: msgs.page_of(hub.engine, msgs.Filter(state="dead", channel="erp")))
    timed("messages preview, retry all dead", lambda: msgs.preview(hub.engine, "retry", msgs.Filter(channel="erp")))
    timed("overview: systems, channels, flows", lambda: overview.overview(hub))
    timed("KPIs (uncached)", lambda: kpis.compute(hub))
    timed("exchange log page, no filter", lambda: exchanges.page_of(hub, exchanges.Search()))
    timed("exchange log page, point and outcome", lambda: exchanges.page_of(
        hub, exchanges.Search(point="erp.order.create", outcome="message_error")))
    hub.close()


if __name__ == "__main__":
    main()
