"""erpbridge between a Commerceup shop (driven here with httpx, as Commerceup calls its ERP) and the
webservice example's REST ERP; the shop system is examples/commerceup's (built by tests/ibexa's
helper, which serves both shop connectors the same way)."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ibexa"))

from ibexa_hub import Hub, RestErp, eventually, shop_app  # noqa: E402

PASSWORD = "cu-secret-0123456789"
__all__ = ["Hub", "RestErp", "eventually", "commerceup_app", "commerceup_client", "order_body"]


def commerceup_app(folder: Path, erp: RestErp, db_url: str, monkeypatch, *, shop: dict | None = None,
                   **top) -> object:
    """The example's shop; it pushes to Commerceup's API only where ``shop`` sets ``api_key`` (to a
    double: the example's default URL is the real Commerceup)."""
    monkeypatch.setenv("COMMERCEUP_PASSWORD", PASSWORD)
    shop = {"api_key": None, "project_hash": None, **(shop or {})}
    return shop_app("commerceup", folder, erp, db_url, monkeypatch, shop=shop, **top)


#: The bearer token the shop-API tests configure (``${COMMERCEUP_TOKEN}``).
TOKEN = "cu-bearer-0123456789"


@contextmanager
def token_hub(folder: Path, db_url: str, monkeypatch) -> Iterator[Hub]:
    """A served hub whose Commerceup shop takes the bearer :data:`TOKEN` (answering the customer
    id at once), with the ERP's drill in its catalog; no worker runs."""
    erp = RestErp()
    monkeypatch.setenv("COMMERCEUP_TOKEN", TOKEN)
    app = commerceup_app(folder, erp, db_url, monkeypatch, shop={"token": "${COMMERCEUP_TOKEN}", "customer_wait": 0})
    erp.add_product("A-1", "Drill", "19.90", stock={"MAIN": 7})
    hub = Hub(app, worker=False)
    hub.run_flow("catalog")
    try:
        yield hub
    finally:
        hub.close()
        app.close()
        erp.stop()


def commerceup_client(hub: Hub, **options) -> httpx.Client:
    """Commerceup calling its ERP: Basic auth, unless ``options`` say otherwise."""
    options.setdefault("auth", ("commerceup", PASSWORD))
    return httpx.Client(base_url=f"{hub.api.url}/connectors/shop", timeout=30, **options)


ADDRESS = {"name": "Jane Doe", "street": "Main St 1", "zip": "10115", "city": "Berlin", "country": "DE"}


def order_body(number: str, customer: str | None, items: list[tuple[str, int, str]], shipping: str = "4.90") -> dict:
    return {"orderId": number, "customerId": customer, "email": "jane@example.com", "currency": "EUR",
            "billingAddress": ADDRESS, "shippingAddress": {**ADDRESS, "street": "Dock 7"},
            "items": [{"sku": sku, "quantity": q, "price": p} for sku, q, p in items],
            "shippingMethod": "standard", "shippingAmount": shipping, "paymentMethod": "invoice"}
