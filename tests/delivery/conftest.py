"""Apps and a real HTTP ERP for the delivery tests, on SQLite and PostgreSQL (``db_url``).

An app is built from a YAML file written into the test's folder, so a worker in another process
(the kill tests) opens exactly the same store and settings.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import yaml

from erpbridge.bootstrap import bootstrap
from erpbridge.config import load_config
from erpbridge.outbox import enqueue
from erpbridge.records import Address, Cancellation, Order, OrderLine
from erpbridge.store.records import prepare

from .erp_server import TestErp


@pytest.fixture
def erp():
    server = TestErp()
    yield server
    server.release.set()
    server.stop()


@pytest.fixture
def make_app(db_url, tmp_path):
    """``make_app(outbox={...}, max_lock_time=...)`` -> app (its config file is ``app.config.source``);
    ``url_options`` are added to the store URL (e.g. ``application_name=...`` to find its connections)."""
    apps = []

    def make(*, outbox: dict | None = None, max_lock_time: float = 60, erp_connector: dict | None = None,
             url_options: str | None = None):
        settings = {"lease_seconds": 30, "heartbeat_seconds": 10, "poll_interval": 0.1, "backoff_base": 0.05,
                    "backoff_max": 0.2, **(outbox or {})}
        erp_system = {"connector": "files", "inbox": str(tmp_path / "erp" / "inbox"),
                      "outbox": str(tmp_path / "erp" / "outbox"), "semaphore": {"max_lock_time": max_lock_time},
                      **(erp_connector or {})}
        path = tmp_path / f"erpbridge-{len(apps)}.yaml"
        path.write_text(yaml.safe_dump({"store": {"url": _with(db_url, url_options)}, "systems": {"erp": erp_system}, "outbox": settings}))
        app = bootstrap(load_config(path))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


def _with(url: str, options: str | None) -> str:
    return url if not options else url + ("&" if "?" in url else "?") + options


def order(number: str) -> Order:
    address = Address(name="Jane Doe", street="1 Main St", postcode="10115", city="Berlin", country="DE")
    return Order(number=number, placed_at=dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.timezone.utc), currency="EUR",
                 billing_address=address, shipping_address=address, shipping_method="DHL", payment_method="invoice",
                 lines=[OrderLine(sku="SKU-1", quantity=Decimal(2), unit_price=Decimal("9.5"), total=Decimal(19))],
                 grand_total=Decimal(19))


def place_order(app, number: str, *, channel: str = "erp") -> int:
    """What the shop API does: store the order and its message in one transaction."""
    record = order(number)
    with app.engine.begin() as conn:
        app.records.write_in(conn, "orders", [prepare(record)])
        return enqueue(conn, channel=channel, operation="send_order", business_key=number,
                       payload=record.model_dump(mode="json"), record_kind="orders", record_key=number)


def cancel_order(app, number: str, *, channel: str = "erp") -> int:
    record = Cancellation(id=f"C-{number}", order=number)
    with app.engine.begin() as conn:
        app.records.write_in(conn, "cancellations", [prepare(record)])
        return enqueue(conn, channel=channel, operation="cancel_order", business_key=number,
                       payload=record.model_dump(mode="json"), record_kind="cancellations", record_key=record.id)
