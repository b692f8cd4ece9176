"""The control center's test harness: `erpbridge serve` in its own process on a free loopback
port, over the store of the `db_url` fixture, with one user per role made by `erpbridge users
create`; signed-in httpx clients; messages and exchanges written straight into the store."""

from __future__ import annotations

import datetime as dt
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml
from sqlalchemy import select, update

from erpbridge.outbox.messages import enqueue
from erpbridge.outbox.tables import outbox_messages
from erpbridge.control.users import create_user
from erpbridge.store import make_engine, upgrade

PASSWORD = "correct horse battery staple"
ROLES = ("viewer", "operator", "admin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ControlHub:
    def __init__(self, folder: Path, db_url: str, **sections):
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = folder / "erpbridge.yaml"
        self.config.write_text(yaml.safe_dump({
            "store": {"url": db_url},
            "systems": {"erp": {"connector": "files", "inbox": "in", "outbox": "out"}},
            "api": {"port": self.port},
            **sections,
        }))
        self.engine = make_engine(db_url)
        upgrade(self.engine)
        for role in ROLES:  # in this process: each CLI command costs seconds of imports on a busy machine
            create_user(self.engine, role, role, PASSWORD)
        self.log = folder / "serve.log"
        with open(self.log, "w") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "erpbridge", "-c", str(self.config), "serve"],
                                            stdout=log, stderr=subprocess.STDOUT, cwd=folder)
        deadline = time.monotonic() + 60
        while not self._up():
            assert self.process.poll() is None, f"erpbridge serve died: {self.log.read_text()}"
            assert time.monotonic() < deadline, "erpbridge serve did not answer /healthz"
            time.sleep(0.05)

    def _up(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def cli(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "erpbridge", "-c", str(self.config), *args], input=input,
                              capture_output=True, text=True, cwd=self.folder)
        assert not check or done.returncode == 0, done.stderr
        return done

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.engine.dispose()

    # -- clients ------------------------------------------------------------------------------

    def anonymous(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def sign_in(self, name: str, password: str = PASSWORD) -> "Operator":
        client = self.anonymous()
        form = client.get("/control/login")
        pre = form.cookies["erpbridge_control_pre"]
        answer = client.post("/control/login", data={"name": name, "password": password, "csrf": token_in(form.text)},
                             headers={"Cookie": f"erpbridge_control_pre={pre}"})
        assert answer.status_code == 303, answer.text
        return Operator(self.anonymous(headers={"Cookie": f"erpbridge_control={answer.cookies['erpbridge_control']}"}))

    # -- the store ----------------------------------------------------------------------------

    def messages(self, count: int, *, state: str = "dead", channel: str = "erp", operation: str = "send_order",
                 error: str | None = "ERP refused: customer C9 unknown", prefix: str = "SO") -> list[int]:
        ids = []
        with self.engine.begin() as conn:
            for n in range(count):
                ids.append(enqueue(conn, channel=channel, operation=operation, business_key=f"{prefix}-{n}",
                                   payload={"number": f"{prefix}-{n}"}))
            conn.execute(update(outbox_messages).where(outbox_messages.c.id.in_(ids)).values(
                state=state, last_error=error, attempts=8 if state == "dead" else 0,
                updated_at=dt.datetime.now(dt.timezone.utc)))
        return ids

    def states(self, ids: list[int]) -> list[str]:
        m = outbox_messages
        with self.engine.connect() as conn:
            found = dict(conn.execute(select(m.c.id, m.c.state).where(m.c.id.in_(ids))).all())
        return [found[i] for i in ids]


class Operator:
    """A signed-in browser: a session cookie, and the CSRF token of the page it last read."""

    def __init__(self, client: httpx.Client):
        self.client = client
        self.csrf = ""

    def get(self, path: str, **kwargs) -> httpx.Response:
        answer = self.client.get(path, **kwargs)
        found = TOKEN.search(answer.text)
        if found:
            self.csrf = found.group(1)
        return answer

    def post(self, path: str, data: dict, *, csrf: bool = True) -> httpx.Response:
        if not self.csrf:
            self.get("/control/")
        return self.client.post(path, data={**data, **({"csrf": self.csrf} if csrf else {})})


TOKEN = re.compile(r'name="csrf" value="([^"]+)"')


def token_in(html: str) -> str:
    return TOKEN.search(html).group(1)
