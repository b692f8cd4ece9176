"""The NetSuite connector's registry entry and its config (``connector: netsuite``)."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, field_validator

from erpbridge.config_values import Secret
from erpbridge.connectors.base import ERP_OPERATIONS
from erpbridge.connectors.registry import Capabilities, ConnectorSpec
from erpbridge.systems import Section, SystemBase


class TokenBasedAuth(Section):
    """Token-based authentication: OAuth 1.0a signed with HMAC-SHA256, ``realm`` the account id."""

    type: Literal["tba"]
    consumer_key: str
    consumer_secret: Secret
    token: str
    token_secret: Secret


class OAuth2Auth(Section):
    """OAuth 2 client credentials at the account's token endpoint (scope ``rest_webservices``)."""

    type: Literal["oauth2"]
    client_id: str
    client_secret: Secret
    token_url: str | None = Field(default=None, description="default: <url>/services/rest/auth/oauth2/v1/token")
    scope: str = "rest_webservices"


class NetSuiteSystem(SystemBase):
    """A NetSuite account over REST web services (record API v1 and SuiteQL)."""

    connector: Literal["netsuite"]
    account: str = Field(pattern=r"^[0-9A-Za-z_]+$", description="the account id, e.g. 1234567 or 1234567_SB1")
    url: str | None = Field(default=None, pattern=r"^https?://",
                            description="default: https://<account id, _ as ->.suitetalk.api.netsuite.com")
    auth: Annotated[Union[TokenBasedAuth, OAuth2Auth], Field(discriminator="type")]
    concurrency: int = Field(default=5, ge=1, description="the account's concurrency limit: calls in flight at once "
                             "(give outbox.channels.<system>.capacity no more than this)")
    timeout: float = Field(default=60, gt=0, description="seconds per call")
    page_size: int = Field(default=1000, ge=1, le=1000, description="SuiteQL rows per page (at most 1000)")
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$", description="the currency of the base price level")
    locations: dict[str, str] = Field(default_factory=dict, description="NetSuite location id -> store warehouse code")

    @field_validator("url", mode="before")
    @classmethod
    def _empty_is_default(cls, value):
        return value or None

    @property
    def base_url(self) -> str:
        return (self.url or f"https://{self.account.lower().replace('_', '-')}.suitetalk.api.netsuite.com").rstrip("/")


FETCH = frozenset({"products", "prices", "stock", "customers", "order_statuses", "shipments", "invoices",
                   "credit_memos"})

SPEC = ConnectorSpec(
    name="netsuite", config=NetSuiteSystem, factory="erpbridge.connectors.netsuite.connector:create",
    capabilities=Capabilities(deliver=frozenset(ERP_OPERATIONS) - {"update_customer"}, fetch=FETCH,
                              realtime=frozenset({"customer"})),
    roles=("erp",),
    default_flows={"catalog": {"schedule": "0 2 * * *", "mode": "full"}, "prices": {"schedule": "5 * * * *"},
                   "stock": {"schedule": "*/5 * * * *"}, "customers": {"schedule": "15 * * * *"},
                   "feedback": {"schedule": "2-59/5 * * * *"}},
    description="Oracle NetSuite over REST web services: orders by external id, SuiteQL deltas, fulfilments back",
)
