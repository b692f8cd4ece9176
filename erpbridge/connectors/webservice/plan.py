"""Each configured message compiled once: what it sends where, and what it reads from the answer.

Pure (no I/O): the config compiles the plans to find mistakes when it loads, the connector
compiles them again to use them. A plan renders a call's target (its endpoint, a template
with each value percent-encoded) and its body (the request mapping's fields and constants, or
its template) from *names*: ``record`` (the canonical record as Python values) and the
message's context values, which a mapping or template may use like fields:

=====================================  ==============================================================
``idempotency_key``                    every delivery: the message's key (the same on each redelivery)
``erp_order``                          ``cancel_order``, ``send_return``: the ERP's id of the order
                                       (what ``send_order``'s ``response.id`` found)
``since``                              fetches: the time of the last successful run (absent: all)
the paging parameters                  fetches: ``offset``/``page``/``limit``/the cursor's ``param``
                                       (SOAP: the operation gets them as parameters)
``type``, ``number``                   ``document``: the document's type and number
=====================================  ==============================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from erpbridge.connectors.base import ERP_OPERATIONS
from erpbridge.connectors.registry import FETCH_KINDS
from erpbridge.mapping.mapper import MappingError
from erpbridge.mapping.templates import Template, TemplateError, is_template
from erpbridge.mapping.writer import Writer, WriteError
from erpbridge.records import RECORD_KINDS, Record

if TYPE_CHECKING:
    from erpbridge.connectors.webservice.config import Call, Errors, Message, Paging, ResponseMapping, WebserviceSystem

#: Real-time lookups a message can configure, with the names they give.
REALTIME = {"document": ("type", "number")}
#: Operations whose calls know the ERP's id of the order.
ABOUT_AN_ORDER = ("cancel_order", "send_return")


class PlanError(ValueError):
    """A message that cannot work as configured (its key path and why)."""


@dataclass(frozen=True)
class CallPlan:
    """One call of a message (the message's own, or its lookup)."""

    where: str
    soap: bool
    method: str
    format: str
    operation: str | None
    wsdl: str | None
    endpoint: str | None
    headers: dict[str, str]
    response: "ResponseMapping"
    errors: "Errors"
    timeout: float | None
    writer: Writer | None = None
    constants: dict[str, Any] = field(default_factory=dict)
    template: Template | None = None
    root: str | None = None
    send: str | None = None
    endpoint_template: Template | None = None

    def uses(self, name: str) -> bool:
        """Does the call's endpoint or request use this name (so it cannot be sent without it)?"""
        texts = [self.endpoint or "", self.template.source if self.template else ""]
        return any(name in text for text in texts) or (
            self.writer is not None and any(op.source[0] == name for op in self.writer.ops))

    @property
    def sends_query(self) -> bool:
        """A REST call sends what its request writes as query parameters (GET and DELETE unless
        ``request.send`` says body)."""
        return not self.soap and (self.send == "query" or (self.send is None and self.method in ("GET", "DELETE")))

    def target(self, names: dict) -> str | None:
        """The endpoint, with the names filled in (a template), or None (SOAP: the WSDL's address)."""
        if self.endpoint_template is None:
            return self.endpoint
        try:
            return self.endpoint_template.render(**names)
        except TemplateError as exc:
            raise PlanError(f"{self.where}.endpoint: {exc}") from None

    def body(self, names: dict) -> Any:
        """What the request carries: a dict (fields and constants, or a JSON template's result), a
        string (an XML template's), or None (no request mapping)."""
        try:
            if self.template is not None:
                return self.template.render_data(**names) if self.format == "json" or self.soap \
                    else self.template.render(**names)
            if self.writer is None and not self.constants:
                return None
            values = {**names.get("record", {}), **{k: v for k, v in names.items() if k != "record"}}
            written = self.writer.write(values) if self.writer is not None else {}
        except (TemplateError, WriteError) as exc:
            raise PlanError(f"{self.where}.request: {exc}") from None
        for path, value in self.constants.items():
            node = written
            *parents, last = path.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node.setdefault(last, value)
        return written


@dataclass(frozen=True)
class MessagePlan:
    name: str
    call: CallPlan
    record: type[Record] | None
    lookup: CallPlan | None = None
    idempotency_header: str | None = None
    items: str | None = None
    item_id: str | None = None
    paging: "Paging | None" = None
    since_format: str = "iso"
    also: tuple[tuple[str, Any], ...] = ()  # (kind, its own MappingSpec or None)

    @property
    def delivers(self) -> bool:
        return self.name in ERP_OPERATIONS

    @property
    def fetches(self) -> bool:
        return self.name in FETCH_KINDS


def context_names(name: str, message: "Message") -> tuple[str, ...]:
    """The names besides ``record`` that a message's mappings and templates may use."""
    if name in ERP_OPERATIONS:
        return ("idempotency_key", "erp_order") if name in ABOUT_AN_ORDER else ("idempotency_key",)
    if name in REALTIME:
        return REALTIME[name]
    paging = message.paging
    params = [] if paging is None else [p for p in (paging.offset, paging.page, paging.param) if p]
    if paging is not None and (paging.offset or paging.page):
        params.append(paging.limit)
    return ("since", *params)


def compile_plans(system: "WebserviceSystem") -> dict[str, MessagePlan]:
    """Every message of the system, compiled; :class:`PlanError` names the first that cannot work."""
    return {name: compile_message(system, name, message) for name, message in system.messages.items()}


def compile_message(system: "WebserviceSystem", name: str, message: "Message") -> MessagePlan:
    where = f"messages.{name}"
    known = (*ERP_OPERATIONS, *FETCH_KINDS, *REALTIME)
    if name not in known:
        raise PlanError(f"{where}: the webservice connector has no such message; its messages are: {', '.join(known)}")
    delivers, fetches = name in ERP_OPERATIONS, name in FETCH_KINDS
    if not delivers:
        for key in ("lookup", "idempotency_header"):
            if getattr(message, key) is not None:
                raise PlanError(f"{where}.{key}: only a message that delivers has one")
    if not fetches:
        for key in ("items", "item_id", "paging"):
            if getattr(message, key) is not None:
                raise PlanError(f"{where}.{key}: only a message that fetches has one")
        if message.also:
            raise PlanError(f"{where}.also: only a message that fetches has one")
    unknown = [kind for kind in message.also if kind not in RECORD_KINDS]
    if unknown:
        raise PlanError(f"{where}.also: unknown record kind {unknown[0]!r}, expected some of: {', '.join(RECORD_KINDS)}")
    record = RECORD_KINDS[ERP_OPERATIONS[name]] if delivers else None
    names = context_names(name, message)
    call = compile_call(system, where, message, record, names, default_method="POST" if delivers else "GET")
    lookup = compile_call(system, f"{where}.lookup", message.lookup, record, names, default_method="GET") \
        if message.lookup is not None else None
    if lookup is not None and lookup.response.id is None:
        raise PlanError(f"{where}.lookup.response.id: required: where the ERP's id is when it has the record")
    return MessagePlan(name, call, record, lookup, message.idempotency_header, message.items, message.item_id,
                       message.paging, message.since_format, tuple(message.also.items()))


def compile_call(system: "WebserviceSystem", where: str, call: "Call", record: type[Record] | None,
                 names: tuple[str, ...], *, default_method: str) -> CallPlan:
    soap = call.operation is not None
    wsdl = call.wsdl or system.wsdl
    if soap and wsdl is None:
        raise PlanError(f"{where}.operation: a SOAP operation needs a WSDL: set wsdl here or for the system")
    if not soap and not call.endpoint:
        raise PlanError(f"{where}.endpoint: required (or operation, for a SOAP operation of the WSDL)")
    if not soap and system.url is None and not (call.endpoint or "").startswith(("http://", "https://")):
        raise PlanError(f"{where}.endpoint: {call.endpoint!r} is relative, but the system has no url")
    endpoint_template = None
    if is_template(call.endpoint):
        try:
            endpoint_template = Template(call.endpoint, "url")
        except TemplateError as exc:
            raise PlanError(f"{where}.endpoint: {exc}") from None
    request = call.request
    writer = template = None
    if request is not None and request.template is not None:
        try:
            template = Template(request.template, "json" if soap else call.format or system.format)
        except TemplateError as exc:
            raise PlanError(f"{where}.request.template: {exc}") from None
    elif request is not None and (request.fields or request.same_names):
        try:
            writer = Writer(record, request.fields, same_names=request.same_names, context=names,
                            where=f"{where}.request.fields.")
        except MappingError as exc:
            raise PlanError(str(exc)) from None
    return CallPlan(where=where, soap=soap, method=call.method or default_method, format=call.format or system.format,
                    operation=call.operation, wsdl=wsdl, endpoint=call.endpoint, headers=dict(call.headers),
                    response=call.response, errors=system.errors.plus(call.errors), timeout=call.timeout,
                    writer=writer, constants=dict(request.constants) if request else {}, template=template,
                    root=request.root if request else None, send=request.send if request else None,
                    endpoint_template=endpoint_template)
