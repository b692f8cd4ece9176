"""Helpers of the Magento tests: a hub (the store, a test ERP, the Magento shop) as a user
configures it, written to a file that a worker process can open too."""

from __future__ import annotations

from pathlib import Path

import yaml

from erpbridge.bootstrap import bootstrap
from erpbridge.config import load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "magento" / "erpbridge.yaml"


def make_app(path: Path, db_url: str, magento, *, shop: dict | None = None, **top):
    """The example's config with the test ERP (``testerp``) in place of Tryton, its shop at the
    double, its store at ``db_url`` and outbox timings for tests."""
    raw = yaml.safe_load(EXAMPLE.read_text())
    system = raw["systems"]["magento"]
    for key in ("consumer_key", "consumer_secret", "access_token", "access_token_secret"):
        system.pop(key, None)
    system.update({"url": magento.url, "token": magento.token, "semaphore": {"max_lock_time": 1}, **(shop or {})})
    if system["token"] is None:
        del system["token"]
    raw["systems"]["erp"] = {"connector": "testerp"}
    raw["store"] = {"url": db_url}
    raw["outbox"] = {"lease_seconds": 3, "heartbeat_seconds": 0.5, "poll_interval": 0.05, "backoff_base": 0.1,
                     "backoff_max": 0.5}
    raw.update(top)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return bootstrap(load_config(path))
