"""The way back to Commerceup: stock and order statuses through its open API (seed 002).

``https://api.commerceup.io/v1/:projecthash/...`` with the header ``x-api-key``:
``POST /bulkinventory {"inventory": [{sku, quantity}]}`` sets absolute quantities, and
``POST /orderstatus {orderId, status, items}`` an order's status (In Process, Shipped,
Delivered, Cancelled...). Both set a state, so a redelivered message changes nothing.

A ``push_stock`` message names the SKUs whose stock changed; the quantity sent is each SKU's
salable total read from the store at delivery (the warehouses the shop ``receives``, never
below zero), so a message retried after a newer one can never put older stock back.
Commerceup's increment endpoint is not used: it is not idempotent.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from erpbridge.connectors.base import DeliveryResult, MessageError
from erpbridge.connectors.commerceup.spec import CommerceupSystem
from erpbridge.connectors.kit import ApiKey, HttpAdapter
from erpbridge.exchange.log import ExchangeLog
from erpbridge.records.base import canonical_decimal
from erpbridge.store.tables import stock

#: erpbridge's order status -> Commerceup's (its /orderstatus list).
STATUSES = {"received": "In Process", "processing": "In Process", "partially_shipped": "In Process",
            "shipped": "Shipped", "completed": "Delivered", "cancelled": "Cancelled"}


class CommerceupApi(HttpAdapter):
    def __init__(self, app, name: str, cfg: CommerceupSystem):
        super().__init__(f"{cfg.api_url.rstrip('/')}/{cfg.project_hash}", system=name, connector="commerceup",
                         timeout=cfg.timeout, exchange_log=ExchangeLog.for_app(app),
                         auth=ApiKey(cfg.api_key.get_secret_value(), header="x-api-key"))

    def post(self, path: str, body: dict, *, flow: str, point: str) -> dict:
        return self.json(self.request("POST", path, json=body, flow=flow, point=point))


class Pusher:
    """``deliver`` for ``push_stock`` and ``send_order_status``."""

    def __init__(self, app, name: str, cfg: CommerceupSystem):
        self.app, self.name, self.cfg = app, name, cfg
        self.api = CommerceupApi(app, name, cfg)

    def deliver(self, operation: str, payload: dict, idempotency_key: str) -> DeliveryResult:
        if operation == "push_stock":
            inventory = self._totals(sorted({r["sku"] for r in payload.get("records", [])}))
            answer = self.api.post("/bulkinventory", {"inventory": inventory}, flow="stock",
                                   point="commerceup.bulkinventory")
            return DeliveryResult(response=answer)
        if operation == "send_order_status":
            status = STATUSES.get(payload.get("status"))
            if status is None:
                raise MessageError(f"commerceup {self.name}: order {payload.get('order')}: status "
                                   f"{payload.get('status')!r} has no Commerceup status")
            answer = self.api.post("/orderstatus", {"orderId": payload["order"], "status": status, "items": []},
                                   flow="feedback", point="commerceup.orderstatus")
            return DeliveryResult(external_id=payload["order"], response=answer)
        raise MessageError(f"commerceup {self.name}: does not deliver {operation}")

    def _totals(self, skus: list[str]) -> list[dict]:
        warehouses = self.app.config.systems[self.name].receives.warehouses
        query = select(stock.c.sku, stock.c.warehouse, stock.c.quantity).where(stock.c.sku.in_(skus))
        with self.app.engine.connect() as conn:
            rows = conn.execute(query).all() if skus else []
        totals = {sku: Decimal(0) for sku in skus}
        for sku, warehouse, quantity in rows:
            if warehouses is None or warehouse in warehouses:
                totals[sku] += quantity
        return [{"sku": sku, "quantity": _number(max(total, Decimal(0)))} for sku, total in totals.items()]

    def close(self) -> None:
        self.api.close()


def _number(value: Decimal) -> int | float:
    value = canonical_decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)
