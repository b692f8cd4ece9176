"""`erpbridge run` as a user starts it, in its own process: a config file in a folder with the
store, the inbox and the outbox, an API key made with `erpbridge keys create`, a catalog
imported through the inbox; then orders over HTTP, CLI commands beside it, SIGKILL and restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from .test_serve import free_port

ADDRESS = {"name": "Erika Muster", "street": "Hauptstr. 5", "postcode": "80331", "city": "München", "country": "DE"}


def wait_for(condition, what: str, timeout: float = 60.0, process: subprocess.Popen | None = None):
    """Wait until ``condition()`` is truthy (and return it), failing with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert process is None or process.poll() is None, f"erpbridge run died (exit code {process.returncode})"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


class Hub:
    """``erpbridge run`` on the store ``db_url``, in ``folder``."""

    def __init__(self, folder: Path, db_url: str):
        self.folder = folder
        self.inbox = folder / "in"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = folder / "erpbridge.yaml"
        self.config.write_text(yaml.safe_dump({
            "store": {"url": db_url},
            "systems": {"erp": {"connector": "files", "inbox": "in", "outbox": "out", "settle_time": 0,
                                "poll_interval": 0.1}},
            "catalog": {"new_products_enabled": True},
            "orders": {"send_order_to_erp": False},
            "order_history": {"use_local_documents": True},
            "api": {"port": self.port},
        }))
        self.process: subprocess.Popen | None = None
        self.log = folder / "run.log"
        self.cli("db", "upgrade")
        created = self.cli("keys", "create", "--scopes", "write:orders,read:customers", "--json")
        self.token = json.loads(created.stdout)["token"]

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "erpbridge", "-c", str(self.config), *args], check=check,
                              capture_output=True, text=True, cwd=self.folder)

    def start(self) -> "Hub":
        with open(self.log, "a") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "erpbridge", "-c", str(self.config), "run"],
                                            stdout=log, stderr=subprocess.STDOUT, cwd=self.folder)
        wait_for(self.healthy, "erpbridge run to answer /healthz", process=self.process)
        return self

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        assert self.process.wait(30) == -signal.SIGKILL

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def handled(self, name: str) -> Path | None:
        """Where a file dropped into the inbox ended (``done/`` or ``failed/``), once it has."""
        for outcome in ("done", "failed"):
            folder = self.inbox / outcome
            for path in folder.iterdir() if folder.exists() else ():
                if path.name.split("-", 1)[1] == name:
                    return path
        return None

    def drop_catalog(self) -> None:
        """Products DRILL-1 and SAW-1 through the inbox, enabled (new_products_enabled)."""
        self.inbox.mkdir(exist_ok=True)
        (self.inbox / "products.csv").write_text("sku,name,list_price,currency\nDRILL-1,Drill,99,EUR\n"
                                                 "SAW-1,Saw,25,EUR\n")
        wait_for(lambda: self.handled("products.csv"), "the catalog's import", process=self.process)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def order(number: str) -> dict:
    return {"number": number, "placed_at": "2026-11-23T10:00:00Z", "customer": "C100", "currency": "EUR",
            "billing_address": ADDRESS, "shipping_address": ADDRESS,
            "lines": [{"sku": "DRILL-1", "quantity": "1", "unit_price": "99.00", "total": "99.00"}],
            "shipping_method": "dhl", "payment_method": "invoice", "shipping_amount": "0", "grand_total": "99.00"}


def store_path(db_url: str) -> Path | None:
    return Path(db_url.removeprefix("sqlite:///")) if db_url.startswith("sqlite:///") else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
