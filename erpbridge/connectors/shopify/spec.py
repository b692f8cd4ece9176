"""The Shopify connector's registry entry (``connector: shopify``)."""

from __future__ import annotations

from erpbridge.connectors.registry import Capabilities, ConnectorSpec
from erpbridge.connectors.shopify.config import ShopifySystem

SPEC = ConnectorSpec(
    name="shopify", config=ShopifySystem, factory="erpbridge.connectors.shopify.connector:create",
    capabilities=Capabilities(intake=frozenset({"orders"}), push=frozenset({"products", "prices", "stock"}),
                              feedback=frozenset({"order_statuses", "shipments", "invoices", "credit_memos"}),
                              inbound=True),
    roles=("shop",),
    default_flows={"orders": {"schedule": "* * * * *"}, "catalog": {"schedule": "0 2 * * *", "mode": "full"},
                   "prices": {"schedule": "*/15 * * * *"}, "stock": {"schedule": "*/5 * * * *", "on_change": True},
                   "feedback": {"schedule": "* * * * *"}},
    description="a Shopify store by its Admin GraphQL API (productSet with variants, bulk operations, B2B price "
                "lists, inventorySetQuantities, orders and webhooks, fulfilments, captures, refunds)",
)
