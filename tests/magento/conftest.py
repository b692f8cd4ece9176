"""Fixtures of the Magento tests: the double (failing the test on any request or answer that
breaks Adobe's schema) and hubs built from examples/magento."""

from __future__ import annotations

import pytest

from magento_double import MagentoDouble
from magento_hub import make_app


@pytest.fixture
def magento():
    double = MagentoDouble()
    yield double
    double.stop()
    assert not double.violations, "requests or answers broke Magento's schema:\n" + "\n".join(double.violations)


@pytest.fixture
def magento_app(tmp_path, magento, db_url):
    """``magento_app(**settings)``: a hub of the example config on the test's store."""
    from erpbridge_testconnectors import peers

    peers.reset()
    apps = []

    def make(**settings):
        app = make_app(tmp_path / f"erpbridge-{len(apps)}.yaml", db_url, magento, **settings)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()
    peers.reset()
