"""The real oscar shop of the oscar connector's tests: the project's test shop (``shop/``) run by
the venv that .ci/setup.d/30-oscar.sh built, on a free loopback port, on a fresh copy of the
template database (a copy takes milliseconds; migrating takes a minute). One server serves a
whole test session: :meth:`OscarShop.reset` puts a fresh copy under it between tests (Django opens
its SQLite file anew for every request), which saves its start of seconds per test."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SHOP_APP = ROOT / "erpbridge" / "connectors" / "oscar" / "shop_app"
USER, PASSWORD = "erpbridge", "erpbridge"


def built() -> tuple[str, str] | None:
    """(the shop's Python, the template database), or None when the shop is not built here."""
    python, db = os.environ.get("ERPBRIDGE_TEST_OSCAR_PYTHON"), os.environ.get("ERPBRIDGE_TEST_OSCAR_DB")
    if python and db and Path(python).exists() and Path(db).exists():
        return python, db
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OscarShop:
    """One running shop; ``stop()``/``start()`` make an outage on the same port and database."""

    def __init__(self, python: str, template: str, folder: Path):
        self.python, self.template, self.db = python, template, folder / "shop.sqlite3"
        shutil.copyfile(template, self.db)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "shop.log"
        self.process: subprocess.Popen | None = None
        self.http = httpx.Client(base_url=self.url, auth=(USER, PASSWORD), timeout=30)
        self.start()

    def start(self) -> None:
        env = {**os.environ, "OSCAR_TEST_SHOP_DB": str(self.db), "PYTHONPATH": str(SHOP_APP),
               "DJANGO_SETTINGS_MODULE": "oscar_test_shop.settings"}
        with open(self.log, "ab") as log:
            command = [self.python, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload",
                       "--nothreading", "--skip-checks"]
            self.process = subprocess.Popen(command, cwd=HERE / "shop", env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.http.get("/api/").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the oscar shop did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)

    def reset(self) -> None:
        """The template's state again, running (a test may have stopped the shop)."""
        fresh = self.db.with_suffix(".fresh")
        shutil.copyfile(self.template, fresh)
        os.replace(fresh, self.db)
        if self.process is None:
            self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def close(self) -> None:
        self.stop()
        self.http.close()
