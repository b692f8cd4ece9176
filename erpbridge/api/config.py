"""The ``api:`` section of the config: where the shop's API listens, what it accepts, and when it
asks the ERP in real time. Kept beside the API and added to :class:`erpbridge.config.Config` by one
line; it imports nothing from the config module so either can be imported first."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PriceContext = Literal["product_page", "basket", "checkout", "listing"]


class RealTimeConfig(BaseModel):
    """Seed 000: customers are fetched from the ERP at login, individual prices in the contexts the
    project names. Used only when the ERP's connector offers real-time lookups."""

    model_config = ConfigDict(extra="forbid")

    customer_at_login: bool = Field(default=True, description="GET /customers/{n}?context=login asks the ERP")
    price_contexts: list[PriceContext] = Field(
        default_factory=lambda: ["product_page", "basket", "checkout"],
        description="contexts in which a customer's price is asked of the ERP")
    timeout: float = Field(default=1.5, gt=0, description="seconds the shop waits for the ERP before the store answers")
    cache_ttl: float = Field(default=60, ge=0, description="seconds an ERP answer is reused (0: never cached)")
    customer_create_wait: float = Field(
        default=2.0, ge=0, description="seconds POST /customers waits for the ERP's customer number before "
                                       "answering `pending`")


class ApiConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="`erpbridge run` serves the API (false: workers and flows only)")
    erp: str | None = Field(default=None, description="the ERP that receives what shops place through the API "
                                                      "(default: the only ERP)")
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    cors_origins: list[str] = Field(default_factory=list, description="origins allowed by CORS (empty: CORS closed)")
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="larger request bodies are refused (413)")
    page_size: int = Field(default=100, ge=1, le=1000, description="default page size of list endpoints")
    key_cache_seconds: float = Field(default=5, ge=0, description="how long a looked-up API key is trusted before "
                                                                   "it is read again (bounds how late a revocation "
                                                                   "takes effect)")
    keep_alive_timeout: float = Field(default=5, gt=0, description="seconds an idle kept-alive connection stays open")
    header_timeout: float = Field(default=10, gt=0, description="seconds a client has to send a whole request head, "
                                                                "from connecting or from its first byte; a slower "
                                                                "one gets 408 and is closed (slowloris)")
    max_connections: int = Field(default=1000, ge=1, description="connections served at once; beyond, requests are "
                                                                 "answered 503 until some close")
    realtime: RealTimeConfig = RealTimeConfig()
