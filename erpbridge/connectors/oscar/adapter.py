"""The HTTP calls of the oscar connector, on the adapter kit: oscarapi's admin API (``/api/admin/``)
for the catalog, erpbridge's shop app (``/api/erpbridge/``) for orders and their feedback.

Every call is one exchange, its measuring point ``oscar.<what>``. Writes are sent once (the outbox
retries them); each is an upsert or finds what an earlier attempt created, so a retry after a lost
answer changes nothing.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any
from urllib.parse import quote

from erpbridge.connectors.kit import Basic, HttpAdapter


class OscarAdapter(HttpAdapter):
    def __init__(self, cfg, system: str, exchange_log):
        super().__init__(cfg.url.rstrip("/") + "/api/", system=system, connector="oscar", timeout=cfg.timeout,
                         exchange_log=exchange_log, auth=Basic(cfg.user, cfg.password.get_secret_value()),
                         headers={"Accept": "application/json"})
        self.cfg = cfg
        self._lock = threading.Lock()
        self._partner: str | None = None
        self._product_class = False

    # -- catalog (oscarapi) -------------------------------------------------------------------

    def partner_url(self, flow: str) -> str:
        """The URL of the configured partner, created when the shop has none of that name."""
        with self._lock:
            if self._partner is None:
                partners = self.json(self.request("GET", "admin/partners/", flow=flow, point="oscar.partner.list"))
                found = next((p["url"] for p in partners if p["name"] == self.cfg.partner), None)
                if found is None:
                    found = self.json(self.request("POST", "admin/partners/", flow=flow, point="oscar.partner.create",
                                                   json={"name": self.cfg.partner}))["url"]
                self._partner = found
            return self._partner

    def ensure_product_class(self, flow: str) -> None:
        with self._lock:
            if self._product_class:
                return
            slug = self.cfg.product_class
            found = self.request("GET", f"admin/productclasses/{quote(slug, safe='')}/", flow=flow,
                                 point="oscar.productclass.get", accept=(404,))
            if found.status_code == 404:
                self.request("POST", "admin/productclasses/", flow=flow, point="oscar.productclass.create",
                             json={"name": slug.replace("-", " ").capitalize(), "slug": slug,
                                   "requires_shipping": True, "track_stock": True})
            self._product_class = True

    def update_product(self, flow: str, body: dict) -> dict | None:
        """oscarapi's upsert: PATCH without a pk finds the product by its UPC (None: there is none)."""
        response = self.request("PATCH", "admin/products/", flow=flow, point="oscar.product.update", json=body,
                                accept=(404,))
        return None if response.status_code == 404 else self.json(response)

    def create_product(self, flow: str, body: dict) -> dict:
        return self.json(self.request("POST", "admin/products/", flow=flow, point="oscar.product.create", json=body))

    # -- orders and feedback (erpbridge_oscar) --------------------------------------------------

    def orders_changed(self, flow: str, since: dt.datetime | None, limit: int) -> list[dict]:
        params: dict[str, Any] = {"limit": limit}
        if since is not None:
            params["since"] = since.astimezone(dt.timezone.utc).isoformat()
        return self.json(self.request("GET", "erpbridge/orders/", flow=flow, point="oscar.order.changed",
                                      params=params))

    def order(self, flow: str, number: str) -> dict | None:
        response = self.request("GET", f"erpbridge/orders/{quote(number, safe='')}/", flow=flow,
                                point="oscar.order.get", accept=(404,))
        return None if response.status_code == 404 else self.json(response)

    def set_status(self, flow: str, number: str, status: str) -> dict:
        return self.json(self.request("POST", f"erpbridge/orders/{quote(number, safe='')}/status/", flow=flow,
                                      point="oscar.order.status", json={"status": status}))

    def ship(self, flow: str, number: str, shipment: dict) -> dict:
        return self.json(self.request("POST", f"erpbridge/orders/{quote(number, safe='')}/shipments/", flow=flow,
                                      point="oscar.order.ship", json=shipment))

    def pay(self, flow: str, number: str, payment: dict) -> dict:
        return self.json(self.request("POST", f"erpbridge/orders/{quote(number, safe='')}/payments/", flow=flow,
                                      point="oscar.order.payment", json=payment))
