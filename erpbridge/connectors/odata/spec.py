"""The OData connector's registry entry and its config (``connector: odata``).

One connector, two flavours chosen by ``flavour:``: ``s4`` (SAP S/4HANA's A2X APIs, OData v2 on
premises or v4, Basic auth and SAP Gateway's CSRF token) and ``business_central`` (Business
Central's API v2.0, OData v4, OAuth 2 client credentials, company-scoped). Each flavour does a
different set of things (:func:`configured`), and the hub wires each system by its own.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from erpbridge.config_values import Secret
from erpbridge.connectors.registry import Capabilities, ConnectorSpec
from erpbridge.systems import Section, SystemBase

#: What each flavour does. S/4's product API has no price or stock (those are pricing conditions
#: and material stock, other APIs); Business Central's items carry both.
FLAVOURS: dict[str, Capabilities] = {
    "s4": Capabilities(deliver=frozenset({"create_customer", "send_order", "cancel_order", "send_return"}),
                       fetch=frozenset({"products", "customers", "order_statuses", "shipments", "invoices",
                                        "credit_memos"}),
                       realtime=frozenset({"document"})),
    "business_central": Capabilities(deliver=frozenset({"send_order", "cancel_order", "send_return"}),
                                     deliver_batch=True,
                                     fetch=frozenset({"products", "prices", "stock", "customers", "order_statuses",
                                                      "shipments", "invoices", "credit_memos"}),
                                     realtime=frozenset({"document"})),
}


class SalesArea(Section):
    """Where S/4 books shop orders: its sales document type and sales area."""

    order_type: str = Field(default="OR", description="SalesOrderType (OR: standard order)")
    organization: str = Field(default="1010", description="SalesOrganization")
    distribution_channel: str = Field(default="10", description="DistributionChannel")
    division: str = Field(default="00", description="OrganizationDivision")


class ODataSystem(SystemBase):
    """An ERP over OData: SAP S/4HANA (``flavour: s4``) or Business Central (``business_central``)."""

    connector: Literal["odata"]
    flavour: Literal["s4", "business_central"]
    url: str = Field(pattern=r"^https?://", description="s4: the services' root (…/sap/opu/odata/sap); "
                     "business_central: …/v2.0/<tenant>/<environment>/api/v2.0")
    version: Literal["v2", "v4"] = Field(default="v2", description="s4 only: OData v2 (on premises) or v4")
    timeout: float = Field(default=60, gt=0, description="seconds per call")
    # S/4: Basic auth of a communication user
    user: str | None = None
    password: Secret | None = None
    sales_area: SalesArea = SalesArea()
    language: str = Field(default="EN", description="s4: the language of product descriptions")
    rejection_reason: str = Field(default="10", min_length=1, max_length=2,
                                  description="s4: the reason for rejection (SalesDocumentRjcnReason) that cancels "
                                  "an item; one of your system's rejection reasons")
    partner_grouping: str | None = Field(default=None, max_length=4, description="s4: the business partner "
                                         "grouping (number range) of new customers; S/4's default when unset")
    return_type: str = Field(default="CBAR", description="s4: the customer return's document type (CBAR: "
                             "advanced returns)")
    return_reason: str | None = Field(default=None, max_length=3, description="s4: the order reason "
                                      "(SDDocumentReason) of customer returns, where your return type needs one")
    # Business Central: an Entra app's client credentials, one company
    token_url: str | None = Field(default=None,
                                  description="https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token")
    client_id: str | None = None
    client_secret: Secret | None = None
    scope: str = "https://api.businesscentral.dynamics.com/.default"
    company: str | None = Field(default=None, description="business_central: the company's id (a GUID)")
    ship_and_invoice: bool = Field(default=False, description="business_central: post each order at once "
                                   "(shipAndInvoice), for shops that ship the goods themselves")
    # both
    guest_customer: str | None = Field(default=None, description="the ERP customer of orders without a customer number")
    freight: str | None = Field(default=None, description="s4: the material, business_central: the G/L account "
                                "that bills an order's shipping amount")
    currency: str = Field(default="EUR", min_length=3, max_length=3,
                          description="business_central: the company's local currency (of item prices)")
    warehouse: str = Field(default="MAIN", description="business_central: the store warehouse of an item's inventory")

    @model_validator(mode="after")
    def _credentials_of_the_flavour(self) -> "ODataSystem":
        needed = (("user", "password") if self.flavour == "s4"
                  else ("token_url", "client_id", "client_secret", "company"))
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"flavour {self.flavour} needs {', '.join(missing)}")
        if self.flavour == "business_central" and self.version != "v2" and "version" in self.model_fields_set:
            raise ValueError("business_central speaks OData v4 only: leave version out")
        return self


def configured(system: ODataSystem) -> Capabilities:
    return FLAVOURS[system.flavour]


SPEC = ConnectorSpec(
    name="odata", config=ODataSystem, factory="erpbridge.connectors.odata.connector:create",
    capabilities=Capabilities(deliver=FLAVOURS["s4"].deliver | FLAVOURS["business_central"].deliver,
                              deliver_batch=True, fetch=FLAVOURS["s4"].fetch | FLAVOURS["business_central"].fetch,
                              realtime=frozenset({"document"})),
    configured=configured, roles=("erp",),
    default_flows={"catalog": {"schedule": "0 2 * * *", "mode": "full"}, "prices": {"schedule": "5 * * * *"},
                   "stock": {"schedule": "*/5 * * * *"}, "customers": {"schedule": "15 * * * *"},
                   "feedback": {"schedule": "2-59/5 * * * *"}},
    description="SAP S/4HANA (OData v2/v4, CSRF) and Business Central (API v2.0, OAuth 2, $batch) over OData",
)
