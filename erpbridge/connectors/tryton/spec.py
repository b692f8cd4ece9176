"""The Tryton connector's registry entry and its config (``connector: tryton``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from erpbridge.config_values import Secret

from erpbridge.connectors.base import ERP_OPERATIONS
from erpbridge.connectors.registry import FETCH_KINDS, Capabilities, ConnectorSpec
from erpbridge.systems import SystemBase


class TrytonSystem(SystemBase):
    """A Tryton ERP over JSON-RPC; ``messages.<operation>.timeout`` bounds that operation's calls."""

    connector: Literal["tryton"]
    url: str = Field(pattern=r"^https?://")
    database: str
    user: str
    password: Secret
    timeout: float = Field(default=60, gt=0, description="seconds per JSON-RPC call (confirm and post take ~1 s)")
    language: str = "en"
    warehouse: str = Field(default="WH", description="code of the Tryton warehouse that ships shop orders")
    warehouses: dict[str, str] = Field(default_factory=dict, description="Tryton warehouse code -> store warehouse code")
    shipping_methods: dict[str, str] = Field(
        default_factory=dict, description="shop shipping method -> code of the Tryton service product that bills freight")
    payment_methods: dict[str, str] = Field(default_factory=dict, description="shop payment method -> Tryton payment term name")
    fee_products: list[str] = Field(default_factory=list, description="Tryton product codes billed as fees (invoice fee...)")
    price_list: str | None = Field(default=None, description="Tryton price list whose quantity tiers are the volume prices")
    queue_worker: bool = Field(default=False, description="Tryton runs trytond-worker ([queue] worker = True), which "
                               "processes a confirmed sale a moment after confirm instead of within it")
    stuck_after_minutes: float = Field(default=10, gt=0, description="a sale still confirmed, never processed, this long "
                                       "after confirm is stuck: `erpbridge reconcile` reports it and queues its order again")


SPEC = ConnectorSpec(
    name="tryton", config=TrytonSystem, factory="erpbridge.connectors.tryton.connector:create",
    capabilities=Capabilities(deliver=frozenset(ERP_OPERATIONS) - {"update_customer"}, fetch=frozenset(FETCH_KINDS),
                              realtime=frozenset({"customer", "price", "document"})),
    roles=("erp",), message_settings=frozenset({"timeout"}),
    # Seed 004's rhythm: the catalog nightly in full, prices hourly, stock every 5 minutes, customers
    # hourly, feedback every 5 minutes, 2 minutes after stock so the two do not ask Tryton at once.
    default_flows={"catalog": {"schedule": "0 2 * * *", "mode": "full"}, "prices": {"schedule": "5 * * * *"},
                   "stock": {"schedule": "*/5 * * * *"}, "customers": {"schedule": "15 * * * *"},
                   "feedback": {"schedule": "2-59/5 * * * *"}},
    description="Tryton 8 over JSON-RPC: orders to sales, master data, shipments and invoices back, real-time prices",
)
