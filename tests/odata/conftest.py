"""The OData connector's test ERP (one CAP server for the folder) and apps built from its two
examples (examples/odata-s4/, examples/odata-business-central/) as a user would load them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from odata_fixtures import PROFILES  # noqa: E402

from odata_erp import BC_CLIENT, COMPANY, S4_USER, CapErp  # noqa: E402

from erpbridge.bootstrap import bootstrap  # noqa: E402
from erpbridge.config import load_config  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="session")
def cap_erp(tmp_path_factory):
    erp = CapErp(tmp_path_factory.mktemp("cap"))
    yield erp
    erp.close()


@pytest.fixture
def odata_app(tmp_path, monkeypatch, cap_erp):
    """``odata_app(profile, db_url, outbox=..., env=..., erp=..., **top)``: the profile's example config pointed at
    the test ERP, its store at ``db_url``, written to a file a worker process can load too."""
    apps = []

    def make(profile: str, db_url: str, *, outbox: dict | None = None, env: dict | None = None,
             erp: dict | None = None, **top):
        example, root, version = PROFILES[profile]
        url = cap_erp.url
        for name, value in {"SAP_URL": url + root, "SAP_USER": S4_USER[0], "SAP_PASSWORD": S4_USER[1],
                            "BC_URL": url + root, "BC_TOKEN_URL": url + "/oauth2/token", "BC_CLIENT_ID": BC_CLIENT[0],
                            "BC_CLIENT_SECRET": BC_CLIENT[1], "BC_COMPANY": COMPANY, **(env or {})}.items():
            monkeypatch.setenv(name, value)
        raw = yaml.safe_load((EXAMPLES / example / "erpbridge.yaml").read_text())
        system = raw["systems"]["erp"]
        if system["flavour"] == "s4":
            system["version"] = version
        system["semaphore"] = {"max_lock_time": 1}
        system.update(erp or {})  # the ERP system's own settings beyond the example's
        raw["store"] = {"url": db_url}
        raw["catalog"] = {**raw.get("catalog", {}), "new_products_enabled": True}
        channels = raw.get("outbox", {}).get("channels", {})
        raw["outbox"] = {"lease_seconds": 3, "heartbeat_seconds": 0.5, "poll_interval": 0.05, "backoff_base": 0.1,
                         "backoff_max": 0.5, "channels": channels, **(outbox or {})}
        raw.update(top)
        path = tmp_path / f"{profile}-{len(apps)}.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        app = bootstrap(load_config(path))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()
