"""The OData connector: the flavour of each system (:mod:`.s4`, :mod:`.business_central`) on one
OData adapter (:mod:`.adapter`).

What both flavours share, and why:

* ``deliver("send_order")`` is idempotent because the outbox delivers at least once: before it
  creates, it looks the shop order number up where the ERP keeps it (S/4's
  ``PurchaseOrderByCustomer``, Business Central's ``externalDocumentNumber``), so a redelivery
  after a lost answer or a killed worker finds the order its first attempt created and answers
  that order's number. The order goes in as one deep insert (header and items in one POST), so
  there is never half an order to complete.
* ``fetch(kind, since)`` asks the server for what changed since then with ``$filter`` on the
  entity's change timestamp and walks the server's pages; each entity goes to ingest as a
  :class:`~erpbridge.ingest.Raw` that the flavour's mapper builds (a bad field is then a
  rejection naming the system, the entity and the field).
* ``cancel_order`` and ``send_return`` are idempotent the same way: a cancellation finds the
  order and changes only what is not cancelled yet (S/4: the items' rejection reason; Business
  Central: the order deleted, as BC cancels a document not yet shipped), a return looks for the
  return document it created under the shop's return id first. What the ERP no longer allows
  (goods already shipped) is a message error saying so.
* Every update and delete sends the ETag it read (``If-Match``); see :meth:`.adapter.ODataAdapter.change`.
* Errors are the kit's: an OData error body is a :class:`MessageError` in the system's words,
  401/408/429/5xx and broken connections a :class:`GeneralError` (429's ``Retry-After`` pauses
  the channel exactly that long).
"""

from __future__ import annotations

import datetime as dt
from typing import Callable, Iterable

from erpbridge.connectors.base import ERP_OPERATIONS, DeliveryResult, MessageError, payload_record
from erpbridge.connectors.odata.adapter import ODataAdapter
from erpbridge.ingest import Raw
from erpbridge.records import Order


class ODataConnector:
    """The base of the flavours: what the hub calls, dispatched to the flavour's own methods
    (``_send_order(order)``, ``_fetch_<kind>(since)``)."""

    flavour = ""

    def __init__(self, name: str, cfg, adapter: ODataAdapter):
        self.name, self.cfg, self.adapter = name, cfg, adapter

    def close(self) -> None:
        self.adapter.close()

    def deliver(self, operation: str, payload: dict, idempotency_key: str) -> DeliveryResult:
        handler = getattr(self, f"_{operation}", None) if operation in ERP_OPERATIONS else None
        if handler is None:
            raise MessageError(f"{self.name}: the odata connector ({self.flavour}) does not take {operation!r}")
        return handler(payload_record(operation, ERP_OPERATIONS[operation], payload))

    def _order(self, operation: str, payload: dict) -> Order:
        if operation != "send_order":
            raise MessageError(f"{self.name}: the odata connector ({self.flavour}) does not take {operation!r}")
        return payload_record(operation, "orders", payload)

    def _customer_of(self, order: Order) -> str:
        customer = order.customer or self.cfg.guest_customer
        if not customer:
            raise MessageError(f"order {order.number}: it has no customer number and systems.{self.name}."
                               "guest_customer is not set, so the ERP has no customer to book it on")
        return customer

    def fetch(self, kind: str, since: dt.datetime | None = None) -> Iterable[Raw]:
        method: Callable | None = getattr(self, f"_fetch_{kind}", None)
        if method is None:
            raise ValueError(f"systems.{self.name}: the odata connector ({self.flavour}) does not fetch {kind!r}")
        return method(since)

    def _send_order(self, order: Order) -> DeliveryResult:
        raise NotImplementedError


def create(app, name: str, cfg) -> ODataConnector:
    """The connector of system ``name``: its flavour's, on an adapter with the flavour's auth."""
    from erpbridge.exchange.log import ExchangeLog

    log = ExchangeLog.for_app(app)
    if cfg.flavour == "s4":
        from erpbridge.connectors.kit import Basic
        from erpbridge.connectors.odata.s4 import S4Connector

        adapter = ODataAdapter(cfg.url, version=cfg.version, csrf=True, system=name, timeout=cfg.timeout,
                               exchange_log=log, auth=Basic(cfg.user, cfg.password.get_secret_value()))
        return S4Connector(name, cfg, adapter)
    from erpbridge.connectors.kit import OAuth2ClientCredentials
    from erpbridge.connectors.odata.business_central import BusinessCentralConnector

    auth = OAuth2ClientCredentials(cfg.token_url, cfg.client_id, cfg.client_secret.get_secret_value(), scope=cfg.scope)
    adapter = ODataAdapter(cfg.url, version="v4", csrf=False, system=name, timeout=cfg.timeout, exchange_log=log,
                           auth=auth)
    return BusinessCentralConnector(name, cfg, adapter)
