"""The Odoo double (:mod:`odoo_double`) and apps built from ``examples/odoo/erpbridge.yaml``.

``odoo`` is a fresh double per test (it starts in milliseconds); ``odoo_app(api, db_url)`` loads
the example as a user would (its secrets from the environment) against that double over ``api``
(``jsonrpc`` or ``json2``), with the test's store and fast outbox timings, written to a file a
worker process can open too.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from odoo_double import OdooDouble  # noqa: E402

from erpbridge.bootstrap import bootstrap  # noqa: E402
from erpbridge.config import load_config  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "odoo" / "erpbridge.yaml"


@pytest.fixture
def odoo():
    double = OdooDouble()
    yield double
    try:
        double.stop()
    except OSError:
        pass


@pytest.fixture(params=["jsonrpc", "json2"])
def api(request):
    return request.param


@pytest.fixture
def odoo_app(tmp_path, monkeypatch):
    apps = []

    def make(api: str, odoo: OdooDouble, db_url: str, **system) -> object:
        for variable, value in {**odoo.environment, "ODOO_API": api}.items():
            monkeypatch.setenv(variable, value)
        raw = yaml.safe_load(EXAMPLE.read_text())
        raw["systems"]["erp"].update({"semaphore": {"max_lock_time": 1}, **system})
        raw["store"] = {"url": db_url}
        raw["catalog"] = {**raw.get("catalog", {}), "new_products_enabled": True}
        raw["outbox"] = {"lease_seconds": 3, "heartbeat_seconds": 0.5, "poll_interval": 0.05, "backoff_base": 0.1,
                         "backoff_max": 0.5}
        path = tmp_path / f"odoo-{len(apps)}.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        app = bootstrap(load_config(path))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()
