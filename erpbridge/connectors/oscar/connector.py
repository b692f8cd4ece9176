"""The oscar connector: a django-oscar shop kept in step with the store.

* ``push_products``: each product upserted by its UPC (the SKU) through oscarapi (PATCH without
  a pk finds it by UPC; a 404 means it is new and is created), with its category (the store
  group's path of names, ``Tools > Drills``: oscarapi creates missing categories) and a stock
  record of the configured partner (partner SKU = SKU) holding its list price. A new product is
  created with ``is_public: false`` and its current stock; later pushes never send ``is_public``,
  so the merchant's switch stays as the merchant set it (seed 001).
* ``push_prices``: a SKU's base price (no customer, from quantity 1, in the shop's currency, valid
  today) is its stock record's price; other prices have no place in oscar's stock records.
* ``push_stock``: a SKU's stock record holds the sum over the warehouses the shop receives, read
  from the store when the message is delivered (a stock message names one warehouse; oscar has
  one number per partner), so the latest level is sent whatever the order of deliveries.
* ``fetch("orders", since)``: the orders placed or changed since then (less ``poll_overlap``),
  from the shop app; each goes in like an API order, idempotent on oscar's order number.
* ``send_order_status`` / ``send_shipment`` / ``send_invoice`` / ``send_credit_memo``: through
  the shop app, each idempotent on its key: a status already set is a success, a shipment is one
  shipping event found again by the ERP shipment's id, an invoice or credit memo one payment
  event found again by the document's id. A retry after a lost answer changes nothing.

A product push goes on after a product the shop refuses (the others are upserted), then fails
the message naming each refused SKU and the shop's words; its retry upserts the others again,
which changes nothing. A shop that cannot be reached fails at once (a general error: the
semaphore takes the shop offline, the messages wait).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterator

from sqlalchemy import func, select

from erpbridge.connectors.base import DeliveryResult, MessageError, payload_record
from erpbridge.connectors.oscar import mapper
from erpbridge.connectors.oscar.adapter import OscarAdapter
from erpbridge.ingest import Raw
from erpbridge.records import RECORD_KINDS
from erpbridge.store.tables import product_groups, stock

#: Orders one poll asks for at a time (the shop app answers at most 500).
PAGE = 200
#: Deepest category path followed (a loop in the store's groups stops here).
MAX_DEPTH = 20
FEEDBACK = {"send_order_status": "order_statuses", "send_shipment": "shipments", "send_invoice": "invoices",
            "send_credit_memo": "credit_memos"}


class OscarConnector:
    def __init__(self, app, name: str, cfg, adapter: OscarAdapter):
        self.app, self.name, self.cfg, self.adapter = app, name, cfg, adapter

    def close(self) -> None:
        self.adapter.close()

    # -- deliver -------------------------------------------------------------------------------

    def deliver(self, operation: str, payload: dict, idempotency_key: str) -> DeliveryResult:
        if operation in ("push_products", "push_prices", "push_stock"):
            return getattr(self, f"_{operation}")(payload.get("records") or [])
        if operation in FEEDBACK:
            record = self._record(FEEDBACK[operation], payload, operation)
            return getattr(self, f"_{operation}")(record)
        raise MessageError(f"{self.name}: the oscar connector does not deliver {operation}")

    def _record(self, kind: str, data: dict, operation: str):
        return payload_record(f"{self.name}: {operation}", kind, data)

    def _push_products(self, records: list[dict]) -> DeliveryResult:
        flow = "catalog"
        partner = self.adapter.partner_url(flow)
        self.adapter.ensure_product_class(flow)
        refused, done = [], []
        for data in records:
            sku = data.get("sku")
            try:
                product = self._record("products", {k: v for k, v in data.items() if k != "enabled"}, "push_products")
                body = mapper.product_update(product, self._category(product.group))
                if product.list_price is not None and (product.currency or self.cfg.currency) == self.cfg.currency:
                    body["stockrecords"] = [mapper.stock_record(partner, product.sku, price=str(product.list_price),
                                                                price_currency=self.cfg.currency)]
                if self.adapter.update_product(flow, body) is None:
                    record = body.get("stockrecords", [mapper.stock_record(partner, product.sku)])[0]
                    record["num_in_stock"] = self._stock_of([product.sku]).get(product.sku, 0)
                    self.adapter.create_product(flow, {
                        **body, "slug": mapper.slug(product.sku), "product_class": self.cfg.product_class,
                        "structure": "standalone", "is_public": False, "stockrecords": [record]})
                done.append(product.sku)
            except MessageError as exc:
                refused.append(f"product {sku}: {exc}")
        if refused:
            raise MessageError(f"{self.name} refused {len(refused)} of {len(records)} products: " + "; ".join(refused))
        return DeliveryResult(response={"upserted": done})

    def _push_prices(self, records: list[dict]) -> DeliveryResult:
        today = dt.date.today()
        prices: dict[str, Any] = {}
        for data in records:
            price = self._record("prices", data, "push_prices")
            if (price.customer is None and price.min_quantity == 1 and price.currency == self.cfg.currency
                    and (price.valid_from is None or price.valid_from <= today)
                    and (price.valid_to is None or price.valid_to >= today)):
                prices[price.sku] = price.amount
        partner = self.adapter.partner_url("prices")
        return self._update_stock_records("prices", {sku: {"price": str(amount), "price_currency": self.cfg.currency}
                                                     for sku, amount in prices.items()}, partner)

    def _push_stock(self, records: list[dict]) -> DeliveryResult:
        skus = sorted({self._record("stock", data, "push_stock").sku for data in records})
        partner = self.adapter.partner_url("stock")
        levels = self._stock_of(skus)
        return self._update_stock_records("stock", {sku: {"num_in_stock": levels.get(sku, 0)} for sku in skus}, partner)

    def _update_stock_records(self, flow: str, values: dict[str, dict], partner: str) -> DeliveryResult:
        """Each SKU's stock record updated; a SKU the shop has no product of yet is skipped (its
        product push creates it with the current values)."""
        updated, missing = [], []
        for sku, fields in values.items():
            body = {"upc": sku, "stockrecords": [mapper.stock_record(partner, sku, **fields)]}
            (updated if self.adapter.update_product(flow, body) is not None else missing).append(sku)
        return DeliveryResult(response={"updated": updated, "not_in_shop": missing})

    def _stock_of(self, skus: list[str]) -> dict[str, int]:
        """The store's stock of each SKU over the warehouses the shop receives (oscar counts whole items)."""
        warehouses = self.app.system(self.name).receives.warehouses
        query = select(stock.c.sku, func.sum(stock.c.quantity)).where(stock.c.sku.in_(skus)).group_by(stock.c.sku)
        if warehouses is not None:
            query = query.where(stock.c.warehouse.in_(list(warehouses)))
        with self.app.engine.connect() as conn:
            return {sku: max(int(total or 0), 0) for sku, total in conn.execute(query)}

    def _category(self, group: str | None) -> str | None:
        """The group's path of names from the top (oscarapi's category breadcrumbs), or None."""
        names, seen = [], set()
        with self.app.engine.connect() as conn:
            while group and group not in seen and len(names) < MAX_DEPTH:
                seen.add(group)
                row = conn.execute(select(product_groups.c.data).where(product_groups.c.key == group)).scalar()
                if row is None:
                    break
                record = RECORD_KINDS["product_groups"].model_validate_json(row)
                names.append(record.name.replace(">", "-"))
                group = record.parent
        return " > ".join(reversed(names)) or None

    def _send_order_status(self, record) -> DeliveryResult:
        status = self.cfg.statuses.get(record.status)
        if status is None:
            return DeliveryResult(response={"not_sent": record.status})
        answer = self.adapter.set_status("feedback", record.order, status)
        return DeliveryResult(external_id=f"{record.order}:{answer['status']}")

    def _send_shipment(self, record) -> DeliveryResult:
        answer = self.adapter.ship("feedback", record.order, {
            "id": record.id, "carrier": record.carrier, "tracking_numbers": record.tracking_numbers,
            "lines": [{"sku": line.sku, "quantity": str(line.quantity)} for line in record.lines]})
        return DeliveryResult(external_id=str(answer["event_id"]), response=answer)

    def _send_invoice(self, record) -> DeliveryResult:
        return self._payment("invoice", record)

    def _send_credit_memo(self, record) -> DeliveryResult:
        return self._payment("credit_memo", record)

    def _payment(self, kind: str, record) -> DeliveryResult:
        answer = self.adapter.pay("feedback", record.order,
                                  {"type": kind, "id": record.id, "amount": str(record.total)})
        return DeliveryResult(external_id=str(answer["id"]), response=answer)

    # -- fetch ---------------------------------------------------------------------------------

    def fetch(self, kind: str, since: dt.datetime | None = None) -> Iterator[Raw]:
        if kind != "orders":
            raise MessageError(f"{self.name}: the oscar connector takes in orders, not {kind}")
        after = since - dt.timedelta(seconds=self.cfg.poll_overlap) if since is not None else None
        while True:
            page = self.adapter.orders_changed("orders", after, PAGE)
            for data in page:
                yield Raw(data, location=f"order {data.get('number')}", build=self._order,
                          external_id=str(data.get("number")))
            if len(page) < PAGE:
                return
            # The next page starts after the last change seen (oscar stamps microseconds: two orders
            # changed in the same one, across a page boundary, are the risk, and the overlap of the
            # next poll reads them again).
            after = dt.datetime.fromisoformat(page[-1]["changed_at"])

    def _order(self, data: dict):
        return mapper.order(self.cfg, data)


def create(app, name: str, cfg) -> OscarConnector:
    from erpbridge.exchange.log import ExchangeLog

    return OscarConnector(app, name, cfg, OscarAdapter(cfg, name, ExchangeLog.for_app(app)))
