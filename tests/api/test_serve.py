"""`erpbridge serve` as a user starts it: its own process on 127.0.0.1, a key made with
`erpbridge keys create`, the interactive docs and the OpenAPI document, then SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time

import httpx
import yaml


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_in_its_own_process(tmp_path, db_url):
    config = tmp_path / "erpbridge.yaml"
    config.write_text(yaml.safe_dump({"store": {"url": db_url},
                                      "systems": {"erp": {"connector": "files", "inbox": str(tmp_path / "in"),
                                                          "outbox": str(tmp_path / "out")}}}))
    erpbridge = [sys.executable, "-m", "erpbridge", "-c", str(config)]
    subprocess.run(erpbridge + ["db", "upgrade"], check=True, capture_output=True)
    created = subprocess.run(erpbridge + ["keys", "create", "--scopes", "read:catalog", "--json"], check=True,
                             capture_output=True, text=True)
    token = json.loads(created.stdout)["token"]
    port = free_port()
    server = subprocess.Popen(erpbridge + ["serve", "--port", str(port)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                assert server.poll() is None and time.monotonic() < deadline, "erpbridge serve did not start"
                time.sleep(0.1)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as c:
            assert c.get("/api/v1/products").json() == {"items": [], "next_cursor": None}
            assert c.get("/api/v1/orders/SO-1").status_code == 403
            docs = c.get("/docs")
            assert docs.status_code == 200 and "swagger" in docs.text.lower()
            document = c.get("/openapi.json").json()
            assert document["info"]["title"] == "erpbridge shop API"
            assert "/api/v1/orders/{number}/payment" in document["paths"]
            assert c.get("/readyz").json()["status"] == "ready"
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=15)
    # uvicorn shuts down gracefully, then re-raises the signal it got.
    assert server.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output and "Traceback" not in output
