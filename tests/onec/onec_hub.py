"""erpbridge as the site of a 1C exchange: examples/onec's config on the test's store, the API
served by uvicorn on 127.0.0.1 with an outbox worker in a thread (tests/webservice/hub.py), and
the 1C simulator (onec_simulator.py) driving it over HTTP."""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path

import yaml

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
FILES = Path(__file__).with_name("files")
sys.path.insert(0, str(TESTS / "webservice"))

from hub import Hub, eventually  # noqa: E402

from erpbridge.bootstrap import bootstrap  # noqa: E402
from erpbridge.config import load_config  # noqa: E402

from onec_simulator import OneC  # noqa: E402

PASSWORD = "1c-secret-0123456789"
USER = "1c-exchange"
__all__ = ["Hub", "eventually", "onec_app", "simulator", "api_order", "FILES", "ROOT", "PASSWORD", "USER"]


def onec_app(folder: Path, db_url: str, monkeypatch, **system) -> object:
    """examples/onec's systems on ``db_url``, with ``system``'s settings over the 1C system's."""
    monkeypatch.setenv("ONEC_PASSWORD", PASSWORD)
    example = yaml.safe_load((ROOT / "examples/onec/erpbridge.yaml").read_text())
    raw = {**example, "store": {"url": db_url},
           "systems": {"erp": {**example["systems"]["erp"], "exchange_dir": str(folder / "exchange"), **system}},
           "outbox": {"lease_seconds": 3, "heartbeat_seconds": 0.5, "poll_interval": 0.05, "backoff_base": 0.1,
                      "backoff_max": 0.5}}
    path = folder / "onec.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    return bootstrap(load_config(path))


def simulator(hub: Hub, *, password: str = PASSWORD) -> OneC:
    return OneC(f"{hub.api.url}/connectors/erp", USER, password)


ADDRESS = {"name": "Иван Петров", "street": "ул. Ленина, 1", "postcode": "101000", "city": "Москва", "country": "RU",
           "phone": "+7 495 000-00-00"}


def api_order(number: str, lines: list[tuple[str, int, str]], shipping: str = "300") -> dict:
    rows = [{"sku": sku, "quantity": str(q), "unit_price": price, "total": str(Decimal(price) * q)}
            for sku, q, price in lines]
    total = sum(Decimal(r["total"]) for r in rows) + Decimal(shipping)
    return {"number": number, "placed_at": dt.datetime.now(dt.timezone.utc).isoformat(), "customer": "C-1",
            "email": "ivan@example.ru", "currency": "RUB", "billing_address": ADDRESS,
            "shipping_address": {**ADDRESS, "street": "ул. Мира, 5"}, "lines": rows, "shipping_method": "standard",
            "payment_method": "invoice", "shipping_amount": shipping, "grand_total": str(total)}
