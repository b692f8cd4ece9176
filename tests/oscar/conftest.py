"""The oscar connector's tests run against the real django-oscar shop of ``shop/`` (built by
.ci/setup.d/30-oscar.sh), started for each test on a copy of its template database. Without the
built shop they skip, except in CI (``CI=true``), where they fail.

``oscar_app(shop, db_url, erp=..., **top)`` is erpbridge as examples/oscar/erpbridge.yaml has it
(its ``shop`` system) with the webservice-rest example's ERP (tests/webservice/rest_erp.py), the
test's store, fast outbox timings and a one-second semaphore, written to a file a worker process
can load too."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "webservice"))  # its REST ERP and hub

from oscar_shop_server import OscarShop, built  # noqa: E402
from rest_erp import RestErp  # noqa: E402

from erpbridge.bootstrap import bootstrap  # noqa: E402
from erpbridge.config import load_config  # noqa: E402

EXAMPLES = HERE.parents[1] / "examples"


@pytest.fixture(scope="session")
def _oscar_server(tmp_path_factory):
    found = built()
    if found is None:
        reason = ("the oscar test shop is not built: source .ci/setup.d/30-oscar.sh (it exports "
                  "ERPBRIDGE_TEST_OSCAR_PYTHON and ERPBRIDGE_TEST_OSCAR_DB)")
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    shop = OscarShop(*found, tmp_path_factory.mktemp("oscar-shop"))
    yield shop
    shop.close()


@pytest.fixture
def oscar_shop(_oscar_server):
    """The running shop, on a fresh copy of the template database."""
    _oscar_server.reset()
    return _oscar_server


@pytest.fixture
def rest_erp():
    erp = RestErp()
    yield erp
    try:
        erp.stop()
    except OSError:
        pass


@pytest.fixture
def oscar_app(tmp_path, monkeypatch):
    apps = []

    def make(shop: OscarShop, db_url: str, erp: RestErp, *, shop_settings: dict | None = None, **top):
        monkeypatch.setenv("OSCAR_URL", shop.url)
        monkeypatch.setenv("OSCAR_PASSWORD", "erpbridge")
        monkeypatch.setenv("ERP_URL", erp.url)
        for variable, value in erp.environment.items():
            monkeypatch.setenv(variable, value)
        raw = yaml.safe_load((EXAMPLES / "webservice-rest" / "erpbridge.yaml").read_text())
        oscar = yaml.safe_load((EXAMPLES / "oscar" / "erpbridge.yaml").read_text())
        raw["systems"] = {"shop": {**oscar["systems"]["shop"], "semaphore": {"max_lock_time": 1},
                                   **(shop_settings or {})},
                          "erp": {**raw["systems"]["erp"], "semaphore": {"max_lock_time": 1}}}
        raw["store"] = {"url": db_url}
        # The store takes orders of products it holds enabled; in oscar they arrive disabled all the
        # same, and the merchant's switch there is what the shop's customers see.
        raw["catalog"] = {**raw.get("catalog", {}), "new_products_enabled": True}
        raw["outbox"] = {"lease_seconds": 3, "heartbeat_seconds": 0.5, "poll_interval": 0.05, "backoff_base": 0.1,
                         "backoff_max": 0.5}
        raw.update(top)
        path = tmp_path / f"oscar-{len(apps)}.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        app = bootstrap(load_config(path))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()
