"""Slow clients cannot hold the API (issue 10, item 12): against a real `erpbridge serve` and
`erpbridge run` process, hundreds of connections that send their request head a byte at a time
(slowloris), or nothing at all, are closed once ``api.header_timeout`` has passed, and a normal
client is answered all the while."""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import sys
import time

import httpx
import pytest
import yaml

from .test_serve import free_port

SLOW = 200
HEADER_TIMEOUT = 2.0


def start(tmp_path, db_url, command: str) -> tuple[subprocess.Popen, str]:
    config = tmp_path / "erpbridge.yaml"
    config.write_text(yaml.safe_dump({
        "store": {"url": db_url},
        "systems": {"erp": {"connector": "files", "inbox": str(tmp_path / "in"), "outbox": str(tmp_path / "out")}},
        "api": {"header_timeout": HEADER_TIMEOUT, "keep_alive_timeout": 1, "max_connections": 1000}}))
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "erpbridge", "-c", str(config), command, "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "ERPBRIDGE_CONFIG": ""})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, f"erpbridge {command} did not start"
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["serve", "run"])
def test_slow_connections_are_closed_after_the_header_timeout_while_others_are_served(tmp_path, db_url, command):
    process, url = start(tmp_path, db_url, command)
    port = int(url.rsplit(":", 1)[1])
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 10_000  # never ends in time
    selector = selectors.DefaultSelector()
    opened: dict[socket.socket, float] = {}
    silent: set[socket.socket] = set()  # every tenth connection sends nothing at all
    closed: dict[socket.socket, tuple[float, bytes]] = {}
    answered = 0
    try:
        for i in range(SLOW):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.setblocking(False)
            opened[sock] = time.monotonic()
            selector.register(sock, selectors.EVENT_READ, bytearray())
            if i % 10 == 0:
                silent.add(sock)
        deadline = time.monotonic() + HEADER_TIMEOUT * 15
        for sent in range(len(head)):
            if len(closed) == SLOW:
                break
            assert time.monotonic() < deadline, f"{SLOW - len(closed)} slow connections are still open"
            for sock in opened.keys() - silent - closed.keys():  # one more byte of the head on each
                try:
                    sock.send(head[sent:sent + 1])
                except OSError:
                    pass
            for key, _ in selector.select(timeout=0.1):
                try:
                    data = key.fileobj.recv(65536)
                except OSError:
                    data = b""
                key.data.extend(data)
                if not data:
                    closed[key.fileobj] = (time.monotonic(), bytes(key.data))
                    selector.unregister(key.fileobj)
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:  # the server answers meanwhile
                answered += 1
        assert len(closed) == SLOW and answered > 0
        # None was closed before its time; those that had begun a head were told why.
        assert all(at - opened[sock] >= HEADER_TIMEOUT * 0.95 for sock, (at, _) in closed.items())
        assert {answer for sock, (_, answer) in closed.items() if sock in silent} == {b""}
        begun = {answer[:24] for sock, (_, answer) in closed.items() if sock not in silent}
        assert begun == {b"HTTP/1.1 408 Request Tim"}
    finally:
        for sock in opened:
            sock.close()
        process.terminate()
        process.wait(timeout=30)
