"""A worker-only process (`erpbridge worker`) serves /health and /metrics on its own port: the
orchestrator probes it, Prometheus scrapes it with a `read:metrics` key like the API's."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from control_hub import free_port
from erpbridge.api.keys import create_key


def test_a_worker_serves_health_and_metrics_and_stops_cleanly(hub):
    hub.messages(2, channel="worked", prefix="WRK")  # dead: the worker leaves them, the metrics count them
    port = free_port()
    worker = subprocess.Popen([sys.executable, "-m", "erpbridge", "-c", str(hub.config), "worker",
                               "--http-port", str(port)], cwd=hub.folder, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert worker.poll() is None, worker.stdout.read()
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the worker did not answer /health"
                time.sleep(0.1)
        assert health.status_code == 200 and health.json() == {"status": "ok", "store": "ok"}
        assert httpx.get(f"http://127.0.0.1:{port}/metrics").status_code == 401
        shop_key, _ = create_key(hub.engine, ["read:catalog"], name="worker-shop")
        assert httpx.get(f"http://127.0.0.1:{port}/metrics",
                         headers={"Authorization": f"Bearer {shop_key}"}).status_code == 403
        key, _ = create_key(hub.engine, ["read:metrics"], name="worker-prometheus")
        answer = httpx.get(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 200
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for family in text_string_to_metric_families(answer.text) for s in family.samples}
        assert samples[("erpbridge_outbox_messages", (("channel", "worked"), ("state", "dead")))] == 2
        assert any(name == "process_cpu_seconds_total" for name, _ in samples)  # this process's own
        assert "WRK-" not in answer.text
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
