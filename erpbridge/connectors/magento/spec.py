"""The Magento connector's registry entry and its config (``connector: magento``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from erpbridge.config_values import Secret
from erpbridge.connectors.registry import Capabilities, ConnectorSpec
from erpbridge.systems import SystemBase


class MagentoSystem(SystemBase):
    """A Magento 2.4 shop over its admin REST API, as an Integration (OAuth 1.0a, HMAC-SHA256) or
    with a bearer token (an integration's access token where Magento allows it as a bearer, or an
    admin token)."""

    connector: Literal["magento"]
    url: str = Field(pattern=r"^https?://", description="the shop's base URL (without /rest)")
    store_code: str = Field(default="all", pattern=r"^[a-z0-9_]+$",
                            description="the store code of /rest/<code>/: 'all' writes catalog data for every "
                                        "store view")
    token: Secret | None = Field(default=None, description="a bearer token (instead of the four OAuth values)")
    consumer_key: str | None = None
    consumer_secret: Secret | None = None
    access_token: str | None = None
    access_token_secret: Secret | None = None
    timeout: float = Field(default=60, gt=0, description="seconds per call (a product save takes about 1 s)")
    page_size: int = Field(default=100, ge=1, le=300, description="orders, shipments... per search page")
    max_list_entries: int = Field(default=20, ge=1, le=5000, description="list entries per synchronous request "
                                  "(Magento's webapi/validation/complex_array_limit, 20 when input limits are on)")
    bulk_from: int = Field(default=0, ge=0, description="a push of at least this many products goes through "
                           "Magento's asynchronous bulk API, one request per message (0: never; Magento must run "
                           "its consumers: queue:consumers:start async.operations.all)")
    bulk_wait_seconds: float = Field(default=600, gt=0, description="how long a bulk push waits for Magento to "
                                     "finish it before the message is retried")
    order_overlap_minutes: float = Field(default=10, ge=0, description="each order search starts this long before "
                                         "the last run: orders stamped late or across a clock shift are not missed")
    attribute_set_id: int = Field(default=4, description="the attribute set of new products (4: Default)")
    visibility: int = Field(default=4, ge=1, le=4, description="visibility of new products (4: catalog and search)")
    website_ids: list[int] = Field(default_factory=lambda: [1], description="the websites new products are assigned to")
    new_products_enabled: bool = Field(default=False, description="create new products enabled (status 1); by "
                                       "default they are created disabled for the merchant to finish and enable")
    root_category_id: int = Field(default=2, description="the category the top product groups are created under")
    tax_classes: dict[str, int] = Field(default_factory=dict, description="store tax class -> Magento tax_class_id")
    sources: dict[str, str] = Field(default_factory=dict,
                                    description="store warehouse -> MSI source_code (default: the same code)")
    tier_price_customer_group: str = Field(default="ALL GROUPS", description="the customer group of volume prices")
    customer_groups: dict[str, int] = Field(default_factory=dict, description="ERP customer number -> Magento "
                                            "customer group id: the customer's prices become tier prices of that "
                                            "group (Magento prices per group, not per customer); customer prices "
                                            "of customers not listed do not reach Magento")
    variant_attributes: dict[str, str] = Field(default_factory=dict, description="a variant's attribute (its "
                                               "axis, e.g. color) -> the Magento attribute code of the parent's "
                                               "configurable option (default: the same code)")
    shipping_methods: dict[str, str] = Field(default_factory=dict, description="Magento shipping method "
                                             "(flatrate_flatrate) -> the store's code; empty: codes as Magento "
                                             "has them")
    payment_methods: dict[str, str] = Field(default_factory=dict, description="Magento payment method (checkmo) -> "
                                            "the store's code; empty: codes as Magento has them")
    paid_states: list[str] = Field(default_factory=lambda: ["processing", "complete"], description="order states that "
                                   "mean paid: an order waiting for payment (orders.wait_for_payment) is released then")
    skipped_states: list[str] = Field(default_factory=lambda: ["canceled"], description="order states never taken in")
    carriers: dict[str, str] = Field(default_factory=dict, description="store carrier -> Magento carrier_code "
                                     "(default: custom)")
    statuses: dict[str, str] = Field(default_factory=dict, description="store order status -> Magento order status "
                                     "set with the status comment (default: the comment only)")

    @model_validator(mode="after")
    def _credentials(self) -> "MagentoSystem":
        oauth = (self.consumer_key, self.consumer_secret, self.access_token, self.access_token_secret)
        if self.token is None and not all(value is not None for value in oauth):
            raise ValueError("give token, or all of consumer_key, consumer_secret, access_token and "
                             "access_token_secret")
        if self.token is not None and any(value is not None for value in oauth):
            raise ValueError("give token or the OAuth values, not both")
        return self


SPEC = ConnectorSpec(
    name="magento", config=MagentoSystem, factory="erpbridge.connectors.magento.connector:create",
    capabilities=Capabilities(intake=frozenset({"orders"}),
                              push=frozenset({"product_groups", "products", "prices", "stock"}),
                              feedback=frozenset({"order_statuses", "shipments", "invoices", "credit_memos"})),
    roles=("shop",),
    # Seed 004's rhythm: orders every minute, stock every 5 minutes, prices hourly, the catalog
    # every 15 minutes as deltas (an unchanged product costs no call), feedback every 5 minutes.
    default_flows={"orders": {"schedule": "* * * * *"}, "stock": {"schedule": "*/5 * * * *", "on_change": True},
                   "prices": {"schedule": "7 * * * *"}, "catalog": {"schedule": "*/15 * * * *"},
                   "feedback": {"schedule": "1-59/5 * * * *"}},
    description="Magento 2 / Adobe Commerce REST: catalog, prices and MSI stock out, orders in, feedback back",
)
