"""Test peers of the webservice connector and apps built from its two examples.

``rest_erp`` is the Commerceup-shaped REST ERP (:mod:`rest_erp`), ``soap_erp`` the SOAP ERP
served from the example's WSDL (:mod:`soap_erp`); each starts in a few milliseconds, so every
test has its own. ``example_app(name, erp, db_url)`` loads ``examples/<name>/erpbridge.yaml`` as
a user would (its secrets from the environment), with the test's store and fast outbox timings,
written to a file a worker process can open too.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))


from rest_erp import RestErp  # noqa: E402

from erpbridge.bootstrap import bootstrap  # noqa: E402
from erpbridge.config import load_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@pytest.fixture
def rest_erp():
    erp = RestErp()
    yield erp
    if erp.server is not None:
        try:
            erp.stop()
        except OSError:
            pass


@pytest.fixture
def soap_erp():
    from soap_erp import SoapErp

    erp = SoapErp()
    yield erp
    try:
        erp.stop()
    except OSError:
        pass


@pytest.fixture
def example_app(tmp_path, monkeypatch):
    """``example_app("webservice-rest", erp, db_url, **settings)``: the example's config, its
    ERP at ``erp.url``, its store at ``db_url``, written to ``tmp_path`` (``app.config.source``)."""
    apps = []

    def make(name: str, erp, db_url: str, *, outbox: dict | None = None, **top) -> object:
        monkeypatch.setenv("ERP_URL", erp.url)
        for variable, value in erp.environment.items():
            monkeypatch.setenv(variable, value)
        example = EXAMPLES / name / "erpbridge.yaml"
        raw = yaml.safe_load(example.read_text())
        system = raw["systems"]["erp"]
        if system.get("wsdl") and "://" not in system["wsdl"]:
            system["wsdl"] = str(example.parent / system["wsdl"])  # the copy lives elsewhere
        system["semaphore"] = {"max_lock_time": 1}
        raw["store"] = {"url": db_url}
        raw["catalog"] = {**raw.get("catalog", {}), "new_products_enabled": True}
        raw["outbox"] = {"lease_seconds": 3, "heartbeat_seconds": 0.5, "poll_interval": 0.05, "backoff_base": 0.1,
                         "backoff_max": 0.5, **(outbox or {})}
        raw.update(top)
        path = tmp_path / f"{name}-{len(apps)}.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        app = bootstrap(load_config(path))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()
