"""Apps for the ops tests: a store on both databases, a Tryton-like ERP system served by the
fake connector module (``fake_erp``), and the flows a test configures."""

from __future__ import annotations

import pytest

from erpbridge.bootstrap import bootstrap
from erpbridge.config import Config, FlowConfig, StoreConfig, TrytonSystem

from . import fake_erp


@pytest.fixture
def make_app(db_url):
    apps = []

    def make(flows: dict[str, dict] | None = None, **sections):
        systems = sections.pop("systems", None) or {
            "erp": TrytonSystem(connector="tryton", url="http://127.0.0.1:9", database="test", user="u", password="p")}
        config = Config(store=StoreConfig(url=db_url), systems=systems,
                        flows={name: FlowConfig(**cfg) for name, cfg in (flows or {}).items()}, **sections)
        app = bootstrap(config)
        apps.append(app)
        return app

    fake_erp.reset()
    yield make
    fake_erp.reset()
    for app in apps:
        app.close()


@pytest.fixture
def fake():
    return lambda _connector: fake_erp
