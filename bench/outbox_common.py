"""What the outbox benchmarks share: a throw-away store (SQLite file or a PostgreSQL schema of its
own), an app over it from a config file (so worker processes open exactly the same), worker
processes started from this module, and the delivery tests' real HTTP test ERP and connector.

A worker process (``python bench/outbox_common.py CONFIG PORT CONCURRENCY``) prints ``ready``,
waits for a line on stdin, then runs an outbox Worker against the test ERP on PORT until its
stdin is closed.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import threading
import uuid
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "delivery"))

from erp_connector import ErpConnector  # noqa: E402  (the delivery tests' connector: idempotent by order number)
from erp_server import TestErp  # noqa: E402,F401  (a real HTTP ERP: rate limit, latency, failures)

from erpbridge.bootstrap import bootstrap  # noqa: E402
from erpbridge.config import load_config  # noqa: E402
from erpbridge.records import Address, Order, OrderLine  # noqa: E402

#: The PostgreSQL server the benchmarks may use (each run makes and drops a schema of its own).
POSTGRES_URL = os.environ.get("ERPBRIDGE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ADDRESS = Address(name="Jane Doe", street="Hauptstr. 1", postcode="10115", city="Berlin", country="DE")


def make_order(number: str) -> Order:
    return Order(number=number, placed_at=dt.datetime.now(dt.timezone.utc), currency="EUR", billing_address=ADDRESS,
                 shipping_address=ADDRESS, shipping_method="dhl", payment_method="invoice", grand_total=Decimal("39.8"),
                 lines=[OrderLine(sku="SKU-1", quantity=Decimal(2), unit_price=Decimal("19.9"), total=Decimal("39.8"))])


@contextmanager
def store(kind: str, folder: Path) -> Iterator[str]:
    """A store URL: ``sqlite`` (a file in ``folder``) or ``postgres`` (a fresh schema, dropped after)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'store.db'}"
        return
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def make_app(url: str, folder: Path, outbox: dict, max_lock_time: float = 60):
    path = folder / f"erpbridge-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump({
        "store": {"url": url}, "outbox": outbox,
        "systems": {"erp": {"connector": "files", "inbox": str(folder / "in"), "outbox": str(folder / "out"),
                            "semaphore": {"max_lock_time": max_lock_time}}}}))
    return bootstrap(load_config(path))


class Workers:
    """Worker processes against the test ERP; :meth:`go` starts them all at once, :meth:`kill`
    replaces one by a new one the hard way, :meth:`stop` ends them."""

    def __init__(self, app, port: int, processes: int, concurrency: int = 1):
        self.command = [sys.executable, __file__, str(app.config.source), str(port), str(concurrency)]
        self.processes = [self._spawn() for _ in range(processes)]
        for process in self.processes:
            assert process.stdout.readline().strip() == "ready"

    def _spawn(self) -> subprocess.Popen:
        return subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def go(self) -> None:
        for process in self.processes:
            self._go(process)

    @staticmethod
    def _go(process: subprocess.Popen) -> None:
        process.stdin.write("go\n")
        process.stdin.flush()

    def kill(self, index: int) -> None:
        """SIGKILL worker ``index`` (whatever it holds stays claimed until its lease runs out) and
        start a new one in its place."""
        old = self.processes[index]
        old.kill()
        old.wait(10)
        old.stdin.close()
        old.stdout.close()
        new = self._spawn()
        assert new.stdout.readline().strip() == "ready"
        self._go(new)
        self.processes[index] = new

    def stop(self) -> None:
        for process in self.processes:
            process.stdin.close()
        for process in self.processes:
            process.wait(60)


def _worker_main(config: str, port: int, concurrency: int) -> None:
    from erpbridge.outbox.worker import Worker

    app = bootstrap(load_config(config), migrate=False)
    worker = Worker(app, connectors={"erp": ErpConnector(port, timeout=10)})
    print("ready", flush=True)
    sys.stdin.readline()
    stop = threading.Event()

    def stop_at_eof() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=stop_at_eof, daemon=True).start()
    worker.run(stop, concurrency=concurrency)
    app.close()


def temporary_folder():
    return tempfile.TemporaryDirectory(prefix="erpbridge-bench-")


if __name__ == "__main__":
    _worker_main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
