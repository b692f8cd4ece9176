"""The NetSuite double (:mod:`netsuite_double`) and apps built from ``examples/netsuite/erpbridge.yaml``.

``netsuite`` is a fresh double per test; ``netsuite_app(signing, double, db_url, **system)`` loads the example
as a user would (its secrets from the environment) against that double, signed by token-based
authentication (``tba``) or OAuth 2 (``oauth2``), with the test's store and fast outbox timings.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from netsuite_double import NetSuiteDouble  # noqa: E402

from erpbridge.bootstrap import bootstrap  # noqa: E402
from erpbridge.config import load_config  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "netsuite" / "erpbridge.yaml"


@pytest.fixture
def netsuite():
    double = NetSuiteDouble(limit=5)
    yield double
    try:
        double.stop()
    except OSError:
        pass


@pytest.fixture(params=["tba", "oauth2"])
def auth(request):
    return request.param


@pytest.fixture
def netsuite_app(tmp_path, monkeypatch):
    apps = []

    def make(signing: str, double: NetSuiteDouble, db_url: str, *, outbox: dict | None = None, **system) -> object:
        for variable, value in double.environment.items():
            monkeypatch.setenv(variable, value)
        raw = yaml.safe_load(EXAMPLE.read_text())
        if signing == "oauth2":
            raw["systems"]["erp"]["auth"] = {"type": "oauth2", "client_id": "${NETSUITE_CLIENT_ID}",
                                             "client_secret": "${NETSUITE_CLIENT_SECRET}"}
        raw["systems"]["erp"].update({"semaphore": {"max_lock_time": 1}, **system})
        raw["store"] = {"url": db_url}
        raw["catalog"] = {**raw.get("catalog", {}), "new_products_enabled": True}
        raw["outbox"] = {**raw.get("outbox", {}), "lease_seconds": 3, "heartbeat_seconds": 0.5, "poll_interval": 0.05,
                         "backoff_base": 0.1, "backoff_max": 0.5, **(outbox or {})}
        path = tmp_path / f"netsuite-{len(apps)}.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        app = bootstrap(load_config(path))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()
