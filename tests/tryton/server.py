"""A real Tryton 8.2 server for tests and benchmarks, on SQLite and 127.0.0.1 only.

Three slow steps are cached under ``~/.cache/erpbridge-tests`` (or ``$ERPBRIDGE_TEST_CACHE``) so
only the first run on a machine pays for them:

1. the virtualenv with the pinned Tryton packages (:data:`PACKAGES`), about 10 s;
2. a template database: ``trytond-admin`` activating the modules (30-45 s) and
   ``examples/tryton/tryton_setup.py`` (company, accounts, taxes, warehouses...: the README's
   setup), keyed by a hash of the pins and of the setup script, so changing either rebuilds it;
3. nothing else: each :class:`TrytonServer` copies the template into its own folder and starts
   ``trytond`` on a free port, which takes about 3 s.

It is a plain module (no pytest), so ``bench/tryton_*.py`` start servers the same way.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx

#: Exact pins: the template database is only valid for the versions that built it.
PACKAGES = (
    "trytond==8.2.1", "trytond-sale==8.2.0", "trytond-stock==8.2.1", "trytond-sale-price-list==8.2.0",
    "trytond-account-invoice==8.2.0", "trytond-account-invoice-stock==8.2.0", "trytond-sale-invoice-grouping==8.2.0",
    "proteus==8.2.0",
)
#: sale_invoice_grouping puts the freight (a service, invoiced when the sale is confirmed) and the
#: first shipment on one invoice, as seed 002 wants it; without it freight is an invoice of its own.
MODULES = ("sale", "sale_price_list", "stock", "account_invoice", "account_invoice_stock", "sale_invoice_grouping")
DATABASE = "shop"
USER = "admin"
PASSWORD = "admin-secret-pw"
#: The README's setup of a fresh database, so the tests check the example config against what it makes.
SETUP_SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "tryton" / "tryton_setup.py"


def cache_dir() -> Path:
    return Path(os.environ.get("ERPBRIDGE_TEST_CACHE", Path.home() / ".cache" / "erpbridge-tests"))


def _run(cmd: list, **kwargs) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if result.returncode:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")


def ensure_venv() -> Path:
    """The cached virtualenv with the pinned packages; built in a temporary folder and renamed,
    so an interrupted install never leaves a half-built venv that looks finished."""
    venv = cache_dir() / "tryton-8.2-venv"
    marker = venv / "erpbridge-packages.txt"
    if marker.exists() and marker.read_text() == "\n".join(PACKAGES):
        return venv
    building = venv.with_name(venv.name + f".building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    building.parent.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "venv", str(building)])
    _run([str(building / "bin" / "pip"), "install", "--quiet", *PACKAGES], timeout=900)
    (building / "erpbridge-packages.txt").write_text("\n".join(PACKAGES))
    shutil.rmtree(venv, ignore_errors=True)
    building.rename(venv)
    # A venv's scripts name their interpreter by absolute path: rewrite them after the rename.
    for script in (venv / "bin").iterdir():
        if script.is_file() and not script.is_symlink():
            head = script.read_bytes()[:200]
            if head.startswith(b"#!") and str(building).encode() in head:
                script.write_bytes(script.read_bytes().replace(str(building).encode(), str(venv).encode()))
    return venv


def _write_config(folder: Path, port: int = 0, queue_worker: bool = False) -> Path:
    """``queue_worker``: ``[queue] worker = True``, with no ``trytond-worker`` running: a request
    commits its queued tasks (``sale.sale.process`` after ``confirm``) and leaves them unrun."""
    (folder / "db").mkdir(parents=True, exist_ok=True)
    conf = folder / "trytond.conf"
    conf.write_text(
        "[database]\nuri = sqlite://\npath = {db}\n"
        "[web]\nlisten = 127.0.0.1:{port}\n"
        "[session]\ntimeout = 3600\nmax_attempt = 50\n".format(db=folder / "db", port=port)
        + ("[queue]\nworker = True\n" if queue_worker else "")
    )
    return conf


def ensure_template(venv: Path) -> Path:
    """The cached template database file with modules activated and the accounting set up."""
    digest = hashlib.sha256(("\n".join(PACKAGES) + SETUP_SCRIPT.read_text()).encode()).hexdigest()[:12]
    template = cache_dir() / f"tryton-8.2-template-{digest}.sqlite"
    if template.exists():
        return template
    work = cache_dir() / f"tryton-template-build-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    conf = _write_config(work)
    db_file = work / "db" / f"{DATABASE}.sqlite"
    db_file.touch()  # trytond's SQLite backend needs the file to exist
    passfile = work / "admin.pass"
    passfile.write_text(PASSWORD)
    env = {**os.environ, "TRYTONPASSFILE": str(passfile)}
    _run([str(venv / "bin" / "trytond-admin"), "-c", str(conf), "-d", DATABASE, "-u", *MODULES,
          "--activate-dependencies", "--email", "admin@example.com", "-p", "--administrator"],
         env=env, stdin=subprocess.DEVNULL, timeout=900)
    _run([str(venv / "bin" / "python"), str(SETUP_SCRIPT), str(conf), DATABASE], env=env, timeout=900)
    tmp = template.with_suffix(f".tmp-{os.getpid()}")
    shutil.copyfile(db_file, tmp)
    tmp.rename(template)
    shutil.rmtree(work, ignore_errors=True)
    return template


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TrytonServer:
    """One ``trytond`` process on its own copy of the template database.

    :meth:`stop` (or :meth:`kill`) and :meth:`start` may be called again (outage tests); the port
    stays the same.
    """

    def __init__(self, folder: Path, venv: Path | None = None, template: Path | None = None):
        self.venv = venv or ensure_venv()
        template = template or ensure_template(self.venv)
        self.folder = folder
        self.port = free_port()
        self.conf = _write_config(folder, self.port)
        shutil.copyfile(template, folder / "db" / f"{DATABASE}.sqlite")
        self.process: subprocess.Popen | None = None
        self.database, self.user, self.password = DATABASE, USER, PASSWORD

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60, *, queue_worker: bool = False) -> None:
        """Start ``trytond``; with ``queue_worker``, one that leaves queued tasks to a worker that
        is not running (see :func:`_write_config`)."""
        self.conf = _write_config(self.folder, self.port, queue_worker)
        log = open(self.folder / "trytond.log", "ab")
        self.process = subprocess.Popen(
            [str(self.venv / "bin" / "trytond"), "-c", str(self.conf), "-d", DATABASE],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"trytond exited with {self.process.returncode}; see {self.folder / 'trytond.log'}")
            try:
                httpx.post(f"{self.url}/{DATABASE}/rpc/", json={"id": 0, "method": "common.server.version", "params": []},
                           timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError(f"trytond did not answer on {self.url} within {timeout} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL, as a crash or a power cut stops it: no request finishes."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def rpc(self) -> "Rpc":
        return Rpc(self.url, DATABASE, USER, PASSWORD)


class Rpc:
    """A plain JSON-RPC client for tests: plays the ERP user's part (shipping, posting, counting)
    and checks what the connector did, independent of the connector's own adapter."""

    def __init__(self, url: str, database: str, user: str, password: str):
        self.endpoint = f"{url}/{database}/rpc/"
        self.http = httpx.Client(timeout=120)
        uid, key, *_ = self._post("common.db.login", [user, {"password": password}, "en"])
        token = base64.b64encode(f"{user}:{uid}:{key}".encode()).decode()
        self.http.headers["Authorization"] = f"Session {token}"
        self.context = self._post("model.res.user.get_preferences", [True, {}])

    def _encode(self, value):
        if isinstance(value, Decimal):
            return {"__class__": "Decimal", "decimal": str(value)}
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
        raise TypeError(type(value))

    def _decode(self, obj):
        cls = obj.get("__class__")
        if cls == "Decimal":
            return Decimal(obj["decimal"])
        if cls == "date":
            return dt.date(obj["year"], obj["month"], obj["day"])
        if cls == "datetime":
            return dt.datetime(obj["year"], obj["month"], obj["day"], obj["hour"], obj["minute"], obj["second"])
        if cls == "bytes":
            return base64.b64decode(obj["base64"])
        return obj

    def _post(self, method, params):
        body = json.dumps({"id": 1, "method": method, "params": params}, default=self._encode)
        response = self.http.post(self.endpoint, content=body, headers={"Content-Type": "application/json"})
        response.raise_for_status()
        data = json.loads(response.text, object_hook=self._decode)
        if data.get("error"):
            raise RuntimeError(f"{method}: {data['error']}")
        return data["result"]

    def __call__(self, method: str, *params, context: dict | None = None):
        return self._post(method, [*params, {**self.context, **(context or {})}])

    def model(self, model: str, method: str, *params, context: dict | None = None):
        return self(f"model.{model}.{method}", *params, context=context)

    def wizard(self, name: str, state: str, data: dict, active_model: str, ids: list[int]) -> dict:
        context = {"active_model": active_model, "active_id": ids[0], "active_ids": ids}
        sid, *_ = self(f"wizard.{name}.create")
        try:
            return self(f"wizard.{name}.execute", sid, data, state, context=context)
        finally:
            self(f"wizard.{name}.delete", sid)

    def close(self) -> None:
        self.http.close()
