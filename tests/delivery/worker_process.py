"""A worker in its own process, for the tests that kill it or run several at once.

usage: worker_process.py CONFIG ERP_PORT [--kill-at before|after] [--run] [--name NAME]
Without ``--run`` it drains what is due and exits; with ``--run`` it runs ``Worker.run`` until no
message is pending or running.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from erp_connector import ErpConnector  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from erpbridge.bootstrap import bootstrap  # noqa: E402
from erpbridge.config import load_config  # noqa: E402
from erpbridge.outbox.tables import outbox_messages as m  # noqa: E402
from erpbridge.outbox.worker import Worker  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("config")
    parser.add_argument("port", type=int)
    parser.add_argument("--kill-at")
    parser.add_argument("--run", action="store_true")
    parser.add_argument("--name", default="")
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    app = bootstrap(load_config(args.config), migrate=False)
    worker = Worker(app, connectors={"erp": ErpConnector(args.port, kill_at=args.kill_at, worker=args.name)})
    if not args.run:
        worker.drain()
        return
    stop = threading.Event()

    def stop_when_idle() -> None:
        while not stop.is_set():
            time.sleep(0.2)
            with app.engine.connect() as conn:
                left = conn.execute(select(func.count()).where(m.c.state.in_(("pending", "running")))).scalar_one()
            if not left:
                stop.set()

    threading.Thread(target=stop_when_idle, daemon=True).start()
    worker.run(stop, concurrency=args.concurrency)


if __name__ == "__main__":
    main()
