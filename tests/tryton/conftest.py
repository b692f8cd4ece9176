"""A real Tryton server for the connector tests (issue 5).

``tryton_server`` (once per session) installs the pinned Tryton packages into a cached
virtualenv, builds or reuses the cached template database (company, accounts, taxes, warehouses
WH and WH2, freight product) and starts ``trytond`` on a free 127.0.0.1 port; see
:mod:`server`. The first run on a machine takes about a minute, later ones a few seconds.
When Tryton cannot be set up, the tests fail in CI (``CI=true``) and are skipped elsewhere.

Every test shares that one database, so each one names its products, customers and orders with
a fresh ``prefix``.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from tryton_config import system_config  # noqa: E402

import server  # noqa: E402
from erp_user import ErpUser  # noqa: E402

from erpbridge.bootstrap import bootstrap  # noqa: E402
from erpbridge.config import Config, load_config  # noqa: E402


@pytest.fixture(scope="session")
def tryton_server(tmp_path_factory):
    try:
        tryton = server.TrytonServer(tmp_path_factory.mktemp("tryton"))
        tryton.start()
    except Exception as exc:  # install, template or start-up failed
        if os.environ.get("CI"):
            pytest.fail(f"could not set up the Tryton server: {exc}")
        pytest.skip(f"could not set up the Tryton server: {exc}")
    yield tryton
    tryton.stop()


@pytest.fixture(scope="session")
def erp(tryton_server) -> ErpUser:
    """The people working in Tryton (over their own JSON-RPC session)."""
    rpc = tryton_server.rpc()
    yield ErpUser(rpc)
    rpc.close()


@pytest.fixture
def app(tmp_path, tryton_server):
    config = Config(store={"url": f"sqlite:///{tmp_path / 'store.db'}"}, systems={"erp": system_config(tryton_server)})
    app = bootstrap(config)
    yield app
    app.close()


@pytest.fixture
def make_app(tmp_path, tryton_server, monkeypatch):
    """``make_app(tryton=None, outbox={...}, **system_settings)``: an app from a YAML file (a worker
    process or the CLI opens the same one) on the test's one store, its ERP ``tryton`` (by default
    the session's). The password comes from the environment, as it should in production."""
    apps = []

    def make(tryton=None, outbox: dict | None = None, **settings):
        tryton = tryton or tryton_server
        monkeypatch.setenv("TRYTON_TEST_PASSWORD", tryton.password)
        erp = system_config(tryton, semaphore={"max_lock_time": 1}, **settings).model_dump(mode="json")
        erp["password"] = "${TRYTON_TEST_PASSWORD}"
        path = tmp_path / f"erpbridge-{len(apps)}.yaml"
        path.write_text(yaml.safe_dump({
            "store": {"url": f"sqlite:///{tmp_path / 'store.db'}"}, "systems": {"erp": erp},
            "outbox": {"lease_seconds": 3, "heartbeat_seconds": 0.5, "poll_interval": 0.05, "backoff_base": 0.1,
                       "backoff_max": 0.5, **(outbox or {})}}))
        app = bootstrap(load_config(path))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


@pytest.fixture
def connector(app):
    return app.connector("erp")  # closed with the app


@pytest.fixture
def prefix() -> str:
    return uuid.uuid4().hex[:6].upper()
