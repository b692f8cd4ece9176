"""Fixtures of the API tests: a real uvicorn server on a free 127.0.0.1 port, over the store of
the `db_url` fixture (so every test runs on SQLite and on PostgreSQL), with API keys and a
small catalog."""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal

import httpx
import pytest
import uvicorn

from erpbridge.api import create_api
from erpbridge.api.keys import create_key
from erpbridge.bootstrap import bootstrap
from erpbridge.config import Config
from erpbridge.records import Address, Customer, Price, Product, ProductGroup, StockLevel
from erpbridge.services.products import set_enabled


class ServerThread:
    """uvicorn serving an ASGI app in a thread, on a port the OS picked."""

    def __init__(self, api):
        self.server = uvicorn.Server(uvicorn.Config(api, host="127.0.0.1", port=0, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API server did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@dataclass
class Running:
    url: str
    hub: object
    keys: dict[str, str] = field(default_factory=dict)

    def client(self, scope: str | None = "admin", **kwargs) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[scope]}"} if scope else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10, **kwargs)


def seed_catalog(hub) -> None:
    today = dt.date.today()
    hub.records.put([
        ProductGroup(code="tools", name="Tools"),
        ProductGroup(code="drills", name="Drills", parent="tools", position=2),
        ProductGroup(code="saws", name="Saws", parent="tools", position=1),
        Product(sku="DRILL-1", name="Drill", group="drills", list_price=Decimal("99.00"), currency="EUR"),
        Product(sku="SAW-1", name="Saw", group="saws", list_price=Decimal("25.00"), currency="EUR"),
        Product(sku="OLD-1", name="Old saw", group="saws"),
        Price(sku="DRILL-1", amount=Decimal("99.00"), currency="EUR"),
        Price(sku="DRILL-1", amount=Decimal("90.00"), currency="EUR", min_quantity=Decimal(10)),
        Price(sku="DRILL-1", amount=Decimal("80.00"), currency="EUR", customer="C100"),
        Price(sku="DRILL-1", amount=Decimal("50.00"), currency="EUR", valid_from=today - dt.timedelta(days=10),
              valid_to=today - dt.timedelta(days=1), min_quantity=Decimal(2)),
        Price(sku="SAW-1", amount=Decimal("25.00"), currency="EUR"),
        StockLevel(sku="DRILL-1", warehouse="MAIN", quantity=Decimal(7)),
        StockLevel(sku="DRILL-1", warehouse="EAST", quantity=Decimal(-2)),
        StockLevel(sku="SAW-1", warehouse="MAIN", quantity=Decimal(-3)),
        Customer(number="C100", name="Acme GmbH", email="buyer@acme.example", group="B2B",
                 invoice_address=Address(name="Acme", street="Main St 1", postcode="10115", city="Berlin",
                                         country="DE")),
    ])
    set_enabled(hub, enabled=True, skus=["DRILL-1", "SAW-1"])


def config_for(db_url: str, **sections) -> Config:
    return Config.model_validate({"store": {"url": db_url}, **sections})


@pytest.fixture
def start_api(db_url, tmp_path):
    """``start_api(erp=..., **config sections)`` -> a :class:`Running` server with keys per scope."""
    stack = []

    def start(*, erp=None, seed=True, **sections) -> Running:
        sections.setdefault("systems", {"erp": {"connector": "files", "inbox": str(tmp_path / "in"),
                                                "outbox": str(tmp_path / "out")}})
        hub = bootstrap(config_for(db_url, **sections))
        if seed:
            seed_catalog(hub)
        api = create_api(hub, erp=erp)
        server = ServerThread(api)
        url = server.__enter__()
        stack.append((server, hub))
        running = Running(url, hub)
        for scope in ("read:catalog", "read:customers", "write:orders", "admin"):
            running.keys[scope], _ = create_key(hub.engine, [scope], name=scope)
        return running

    yield start
    for server, hub in reversed(stack):
        server.__exit__(None)
        hub.close()


@pytest.fixture
def api(start_api) -> Running:
    return start_api()


def address(**overrides) -> dict:
    return {"name": "Erika Muster", "street": "Hauptstr. 5", "postcode": "80331", "city": "München", "country": "DE",
            **overrides}


def order_payload(number: str = "SO-1", **overrides) -> dict:
    body = {
        "number": number, "placed_at": "2026-11-23T10:00:00Z", "customer": "C100", "currency": "EUR",
        "billing_address": address(), "shipping_address": address(),
        "lines": [{"sku": "DRILL-1", "quantity": "2", "unit_price": "99.00", "total": "198.00"},
                  {"sku": "SAW-1", "quantity": "1", "unit_price": "25.00", "total": "25.00"}],
        "shipping_method": "dhl", "payment_method": "invoice", "shipping_amount": "5.00", "grand_total": "228.00",
    }
    body.update(overrides)
    return body
