"""The Odoo connector's registry entry and its config (``connector: odoo``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from erpbridge.config_values import Secret
from erpbridge.connectors.base import ERP_OPERATIONS
from erpbridge.connectors.registry import FETCH_KINDS, Capabilities, ConnectorSpec
from erpbridge.systems import SystemBase


class OdooSystem(SystemBase):
    """An Odoo 17-19 database over ``jsonrpc`` (execute_kw) or ``json2`` (Odoo 19, bearer API key)."""

    connector: Literal["odoo"]
    url: str = Field(pattern=r"^https?://")
    database: str
    api: Literal["jsonrpc", "json2"] = Field(default="jsonrpc", description="jsonrpc (/jsonrpc execute_kw, Odoo 17-19) "
                                             "or json2 (/json/2/<model>/<method>, Odoo 19)")
    login: str | None = Field(default=None, description="the Odoo user's login (jsonrpc only)")
    api_key: Secret = Field(description="the user's API key (Preferences > Account Security), or its password")
    timeout: float = Field(default=60, gt=0, description="seconds per call")
    concurrency_retries: int = Field(default=3, ge=0, description="times a call is sent again after Odoo's own "
                                     "retries on a concurrency error ran out")
    warehouse: str = Field(default="WH", description="code of the Odoo warehouse that ships shop orders")
    warehouses: dict[str, str] = Field(default_factory=dict, description="Odoo warehouse code -> store warehouse code")
    shipping_methods: dict[str, str] = Field(
        default_factory=dict,
        description="shop shipping method -> internal reference of the Odoo product billing freight")
    fee_products: list[str] = Field(default_factory=list, description="Odoo product references billed as fees")
    pricelist: str | None = Field(default=None, description="Odoo pricelist whose fixed prices per minimum quantity "
                                  "are the volume prices")

    @model_validator(mode="after")
    def _login_for_jsonrpc(self):
        if self.api == "jsonrpc" and not self.login:
            raise ValueError("login: the jsonrpc API needs the Odoo user's login")
        return self


SPEC = ConnectorSpec(
    name="odoo", config=OdooSystem, factory="erpbridge.connectors.odoo.connector:create",
    capabilities=Capabilities(deliver=frozenset(ERP_OPERATIONS) - {"update_customer"}, fetch=frozenset(FETCH_KINDS),
                              realtime=frozenset({"customer", "document"})),
    roles=("erp",),
    default_flows={"catalog": {"schedule": "0 2 * * *", "mode": "full"}, "prices": {"schedule": "5 * * * *"},
                   "stock": {"schedule": "*/5 * * * *"}, "customers": {"schedule": "15 * * * *"},
                   "feedback": {"schedule": "2-59/5 * * * *"}},
    description="Odoo 17-19 over JSON-RPC or JSON-2: orders to sale orders, master data, deliveries and invoices back",
)
