"""Apps with a Shopify system in front of the test double, for the Shopify tests."""

from __future__ import annotations

from pathlib import Path

import yaml

from erpbridge.bootstrap import bootstrap
from erpbridge.config import load_config

from shopify_double import SECRET, TOKEN

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shopify" / "erpbridge.yaml"
LOCATION = "gid://shopify/Location/1"


def shopify_system(double, **settings) -> dict:
    """The example's Shopify system, pointed at ``double``."""
    system = yaml.safe_load(EXAMPLE.read_text())["systems"]["shopify"]
    return {**system, "shop": double.url, "api_version": double.version, "access_token": TOKEN,
            "webhook_secret": SECRET, "semaphore": {"max_lock_time": 1}, **settings}


def make_app(tmp_path, db_url: str, systems: dict, **top):
    raw = {"store": {"url": db_url}, "systems": systems,
           "outbox": {"lease_seconds": 3, "heartbeat_seconds": 0.5, "poll_interval": 0.05, "backoff_base": 0.1,
                      "backoff_max": 0.5}, **top}
    path = tmp_path / f"erpbridge-{len(list(tmp_path.glob('erpbridge-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return bootstrap(load_config(path))
