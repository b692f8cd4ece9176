"""Apps for the ops tests: a store on both databases, an ERP system (of the test connector
package's ``testerp``) served by the fake connector (``fake_erp``), and the flows a test configures."""

from __future__ import annotations

import pytest

from erpbridge.bootstrap import bootstrap
from erpbridge.config import Config, FlowConfig, StoreConfig

from . import fake_erp


@pytest.fixture
def make_app(db_url):
    apps = []

    def make(flows: dict[str, dict] | None = None, **sections):
        systems = sections.pop("systems", None)
        config = Config(store=StoreConfig(url=db_url), systems=systems or {"erp": {"connector": "testerp"}},
                        flows={name: FlowConfig(**cfg) for name, cfg in (flows or {}).items()}, **sections)
        app = bootstrap(config)
        if systems is None:
            fake_erp.use(app)
        apps.append(app)
        return app

    fake_erp.reset()
    yield make
    fake_erp.reset()
    for app in apps:
        app.close()
