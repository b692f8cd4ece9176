"""The webservice connector's config (``connector: webservice``): a custom ERP described per message.

Each entry of ``messages:`` is one service of the ERP: an operation erpbridge delivers
(``create_customer``, ``update_customer``, ``send_order``, ``cancel_order``, ``send_return``), a kind it fetches
(``products``, ``prices``, ``stock``, ``customers``, ``product_groups``, ``order_statuses``,
``shipments``, ``invoices``, ``credit_memos``) or the real-time lookup of a
``document``. A message is a REST call (``endpoint`` and ``method``, a JSON or XML body) or a
SOAP operation of a WSDL (``operation``, zeep builds the envelope); ``request`` maps the
canonical record to the ERP's structure (the declarative field spec read the other way, or a
template), ``response`` says where the ERP's id and status are in its answer, ``errors`` what in
an answer is which error. What is not configured, the system does not do
(:func:`erpbridge.connectors.webservice.spec.configured`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator, model_validator

from erpbridge.config_values import Secret
from erpbridge.mapping.spec import FieldSpec, MappingSpec
from erpbridge.systems import MessageSettings, Section, SystemBase

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
Format = Literal["json", "xml"]
_URL = r"^https?://"


class BasicAuth(Section):
    """HTTP Basic (seed 002's minimum; most SOAP web connectors)."""

    type: Literal["basic"]
    user: str
    password: Secret


class BearerAuth(Section):
    """A static token: ``Authorization: Bearer <token>``, or in a header of the ERP's own (``scheme: ""``)."""

    type: Literal["bearer"]
    token: Secret
    header: str = "Authorization"
    scheme: str = "Bearer"


class ApiKeyAuth(Section):
    """An API key in a header, or (where the ERP insists) in a query parameter."""

    type: Literal["api_key"]
    key: Secret
    header: str = "X-Api-Key"
    query: str | None = None


class OAuth2Auth(Section):
    """OAuth 2 client credentials: a token from ``token_url``, renewed before it expires."""

    type: Literal["oauth2"]
    token_url: str = Field(pattern=_URL)
    client_id: str
    client_secret: Secret
    scope: str | None = None
    client_auth: Literal["header", "body"] = "header"


AuthConfig = Annotated[Union[BasicAuth, BearerAuth, ApiKeyAuth, OAuth2Auth], Field(discriminator="type")]


class Condition(Section):
    """What in an answer means one outcome; any one of these does."""

    status: list[int | str] = Field(default_factory=list, description="HTTP statuses: 409, or a class like \"5xx\"")
    faults: list[str] = Field(default_factory=list, description="SOAP fault codes, shell-style (\"*Client*\")")
    fields: dict[str, Any] = Field(default_factory=dict, description="answer path -> the value (or list of values) "
                                                                     "that means it: {success: false}")
    present: list[str] = Field(default_factory=list, description="answer paths whose presence means it: [errorCode]")

    @field_validator("status")
    @classmethod
    def _statuses(cls, values: list) -> list:
        for value in values:
            if not (isinstance(value, int) and 100 <= value <= 599) and not (
                    isinstance(value, str) and re.fullmatch(r"[1-5]xx", value)):
                raise ValueError(f"expected an HTTP status (100-599) or a class such as \"4xx\", got {value!r}")
        return values

    def __bool__(self) -> bool:
        return bool(self.status or self.faults or self.fields or self.present)

    def plus(self, other: "Condition") -> "Condition":
        return Condition(status=[*self.status, *other.status], faults=[*self.faults, *other.faults],
                         fields={**self.fields, **other.fields}, present=[*self.present, *other.present])


class Errors(Section):
    """What in an answer is which outcome, checked in this order before the defaults (HTTP 5xx,
    408, 429, 401: general, other 4xx: message; a SOAP fault ``*Client*``/``*Sender*``: message,
    any other fault: general)."""

    done: Condition = Field(default_factory=Condition, description="the message was done before (\"already "
                                                                   "cancelled\"): delivered")
    message: Condition = Field(default_factory=Condition, description="this message is wrong: it fails alone")
    general: Condition = Field(default_factory=Condition, description="the ERP is unavailable: it goes offline")
    text: str | None = Field(default=None, description="where the ERP's own words are in an error answer")

    def plus(self, other: "Errors") -> "Errors":
        """The system's errors with a message's own."""
        return Errors(done=self.done.plus(other.done), message=self.message.plus(other.message),
                      general=self.general.plus(other.general), text=other.text or self.text)


class RequestMapping(Section):
    """How the canonical record becomes the ERP's request: ``fields`` (the declarative field spec
    read the other way: canonical field -> where in the ERP's structure), ``constants`` (fixed
    values by ERP path), or a ``template`` for the whole body. A GET (and a lookup) sends what it
    writes as query parameters; a SOAP operation gets it as its parameters."""

    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    same_names: bool = Field(default=False, description="also write the fields `fields` does not name, under their "
                                                        "own names (default: only what it names)")
    constants: dict[str, Any] = Field(default_factory=dict, description="ERP path -> fixed value (an order type)")
    template: str | None = Field(default=None, description="the whole body as a template (JSON or XML, by the "
                                                           "message's format; SOAP: JSON of the parameters)")
    root: str | None = Field(default=None, description="XML: the body's root element (default: the only key written)")
    send: Literal["query", "body"] | None = Field(default=None, description="REST: as query parameters or as the "
                                                                            "body (default: query for GET and DELETE)")

    @model_validator(mode="after")
    def _one_way(self) -> "RequestMapping":
        if self.template is not None and (self.fields or self.constants or self.same_names):
            raise ValueError("a request has either a template or fields and constants, not both")
        return self


class ResponseMapping(Section):
    """Where things are in the ERP's answer (dotted paths; a number indexes a list: ``orders.0.id``)."""

    id: str | None = Field(default=None, description="the ERP's id of the record (its new customer number, order id)")
    status: str | None = Field(default=None, description="the ERP's status of it, kept with the delivery's answer")
    content: str | None = Field(default=None, description="document: the content (base64) in a SOAP or JSON answer")
    media_type: str | None = Field(default=None, description="document: its media type (default: the answer's)")


class Paging(Section):
    """How the ERP hands out a long list, one of: ``next`` (a link to the next page in the answer,
    or ``Link`` for the HTTP header), ``cursor`` + ``param``, ``offset`` or ``page`` (query
    parameters, with ``limit`` the page size's and ``total`` where the answer says how many)."""

    next: str | None = None
    cursor: str | None = None
    param: str | None = None
    offset: str | None = None
    page: str | None = None
    first_page: int = 1
    limit: str = "limit"
    size: int = Field(default=100, ge=1)
    total: str | None = None

    @model_validator(mode="after")
    def _one_way(self) -> "Paging":
        ways = [name for name in ("next", "cursor", "offset", "page") if getattr(self, name)]
        if len(ways) != 1:
            raise ValueError("name one of next, cursor, offset, page")
        if self.cursor and not self.param:
            raise ValueError("cursor needs param: the query parameter the cursor goes back in")
        return self


class Call(MessageSettings):
    """One call to the ERP: REST (``endpoint`` relative to the system's ``url``, or absolute;
    ``method``) or SOAP (``operation`` of the ``wsdl``; ``endpoint`` overrides the WSDL's address).
    ``endpoint`` may be a template (``/orders/{{ erp_order }}/cancel``)."""

    method: Method | None = Field(default=None, description="default: POST to deliver, GET to fetch and look up")
    format: Format | None = Field(default=None, description="JSON or XML body and answer (default: the system's)")
    wsdl: str | None = Field(default=None, description="this message's WSDL (a URL or a file), else the system's")
    headers: dict[str, str] = Field(default_factory=dict)
    request: RequestMapping | None = None
    response: ResponseMapping = Field(default_factory=ResponseMapping)
    errors: Errors = Field(default_factory=Errors)


class Message(Call):
    """A message: the call, and what idempotency and fetching need around it."""

    lookup: Call | None = Field(default=None, description="deliver: asked first; an answer with an id means it exists")
    idempotency_header: str | None = Field(default=None, description="deliver: send the idempotency key in this "
                                                                     "header (an ERP that honours one)")
    items: str | None = Field(default=None, description="fetch: where the records are in the answer (default: it is "
                                                        "the list)")
    item_id: str | None = Field(default=None, description="fetch: each record's id in the ERP (kept as its binding)")
    paging: Paging | None = None
    since_format: Literal["iso", "date", "epoch", "epoch_ms"] = Field(
        default="iso", description="fetch: how `since` is written (ISO 8601 UTC, a date, Unix seconds or ms)")
    also: dict[str, MappingSpec | None] = Field(
        default_factory=dict, description="fetch: kinds each record is also (an invoice: a document), each by its "
                                          "mapping here or else the system's mappings.<kind>")


class WebserviceSystem(SystemBase):
    """A custom ERP configured per message (REST or SOAP)."""

    connector: Literal["webservice"]
    url: str | None = Field(default=None, pattern=_URL, description="the base of relative endpoints (REST), or "
                                                                      "the SOAP address instead of the WSDL's")
    wsdl: str | None = Field(default=None, description="the WSDL of SOAP messages: a URL, or a file (relative to "
                                                       "the config file)")
    auth: AuthConfig | None = None
    format: Format = "json"
    headers: dict[str, str] = Field(default_factory=dict, description="sent with every call (no secrets: use auth)")
    timeout: float = Field(default=30, gt=0, description="seconds per call (messages.<name>.timeout for one)")
    errors: Errors = Field(default_factory=Errors, description="what in an answer is which error, for every message")
    messages: dict[str, Message] = Field(default_factory=dict, description="per message: its call, mapping, errors")

    @model_validator(mode="after")
    def _messages_work(self) -> "WebserviceSystem":
        """Every configured message compiles (its mappings, templates, paths), so a mistake is
        found at start-up with its key path, not at the first order."""
        from erpbridge.connectors.webservice.plan import PlanError, compile_plans

        try:
            compile_plans(self)
        except PlanError as exc:
            raise ValueError(str(exc)) from None
        return self
