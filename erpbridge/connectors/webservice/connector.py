"""The webservice connector: a custom ERP, configured per message (REST or SOAP), without code.

* ``deliver``: ``create_customer``, ``update_customer``, ``send_order``, ``cancel_order``,
  ``send_return``, each as its message says. Delivery is at least once, so a creating message is made idempotent by its
  ``lookup`` (asked first, by the shop's number: an answer with an id means an earlier attempt
  created it, and its id is the answer) and, for an ERP that honours one, an
  ``idempotency_header`` carrying the message's key. The lookup is what makes it safe: it finds
  what an attempt created whatever became of its answer (lost, or the worker killed before it
  was recorded) and however long ago, while an ERP keeps idempotency keys for a while only and
  many ERPs have none. ``errors.done`` says which answers mean "done before" (a cancellation
  answered "already cancelled").
* ``fetch``: each configured master-data and feedback kind, all or changed since a time (the
  ``since`` value in the request), page by page through the kit's paging; each record goes to
  ingest as a :class:`~erpbridge.ingest.Raw` built by the system's ``mappings.<kind>`` (and by
  ``mappings.<also>`` for each kind in ``also``: an invoice's document).
* ``get_document``: the ``document`` message, in real time for the order history.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from pathlib import Path
from typing import Any, Iterable, Iterator

from sqlalchemy import select

from erpbridge.connectors.base import DeliveryResult, GeneralError, MessageError, payload_record
from erpbridge.connectors.kit import cursor_pages, next_links, offset_pages
from erpbridge.connectors.webservice.adapter import WebserviceAdapter, query_of
from erpbridge.connectors.webservice.answers import at, items_at
from erpbridge.connectors.webservice.plan import ABOUT_AN_ORDER, MessagePlan, PlanError, compile_plans
from erpbridge.ingest import Raw
from erpbridge.ingest.rules import with_config_defaults
from erpbridge.mapping.mapper import Mapper
from erpbridge.mapping.spec import MappingSpec
from erpbridge.mapping.templates import text_value
from erpbridge.records import RECORD_KINDS, Record
from erpbridge.store.tables import bindings


class WebserviceConnector:
    def __init__(self, app, name: str, cfg, adapter: WebserviceAdapter):
        self.app, self.name, self.cfg, self.adapter = app, name, cfg, adapter
        self.plans: dict[str, MessagePlan] = compile_plans(cfg)
        self._mappers: dict[tuple[str, str], Mapper] = {}

    def close(self) -> None:
        self.adapter.close()

    def _plan(self, name: str) -> MessagePlan:
        plan = self.plans.get(name)
        if plan is None:
            raise MessageError(f"systems.{self.name}.messages.{name} is not configured: this ERP does not take it")
        return plan

    def _call(self, call, names: dict, **options: Any):
        try:
            return self.adapter.call(call, names, **options)
        except PlanError as exc:  # a value the mapping cannot write, a template that cannot render it
            raise MessageError(str(exc)) from None

    # -- deliver: shop -> ERP ---------------------------------------------------------------

    def deliver(self, operation: str, payload: dict, idempotency_key: str) -> DeliveryResult:
        plan = self._plan(operation)
        record = payload_record(operation, plan.record.kind, payload)
        names: dict[str, Any] = {"record": record.model_dump(), "idempotency_key": idempotency_key}
        if operation in ABOUT_AN_ORDER:
            names["erp_order"] = self._erp_order(record.order)
            if names["erp_order"] is None and any(c is not None and c.uses("erp_order") for c in (plan.call, plan.lookup)):
                raise MessageError(f"{operation}: order {record.order} has no id in {self.name} (its send_order "
                                   "answer named none), which this message needs")
        point = f"webservice.{operation}"
        if plan.lookup is not None:
            response, data = self._call(plan.lookup, names, flow=operation, point=f"{point}.lookup", accept=(404,))
            found = None if response.status_code == 404 else at(data, plan.lookup.response.id)
            if found not in (None, ""):
                return self._result(record, plan, text_value(found), data, existed=True)
        headers = {plan.idempotency_header: idempotency_key} if plan.idempotency_header else None
        response, data = self._call(plan.call, names, flow=operation, point=point, headers=headers)
        found = at(data, plan.call.response.id) if plan.call.response.id else None
        if plan.call.response.id and found in (None, "") and not self.adapter.done_before(response):
            raise MessageError(f"{self.name} answered {operation} without its id at {plan.call.response.id!r}: "
                               f"{str(data)[:200]}")
        return self._result(record, plan, text_value(found) if found not in (None, "") else None, data)

    def _result(self, record: Record, plan: MessagePlan, external_id: str | None, data: Any,
                existed: bool = False) -> DeliveryResult:
        status = at(data, plan.call.response.status) if plan.call.response.status and not existed else None
        response = {"id": external_id, "existed": existed, **({"status": status} if status is not None else {})}
        records: tuple[Record, ...] = ()
        if plan.name == "create_customer" and external_id:  # the customer under the number the ERP gave it
            records = (record.model_copy(update={"number": external_id}),)
        elif plan.name == "update_customer":  # the change is the ERP's data now (under its number, if it answers one)
            records = (record.model_copy(update={"number": external_id or record.number}),)
        return DeliveryResult(external_id=external_id, records=records, response=response)

    def _erp_order(self, number: str) -> str | None:
        """The ERP's id of a shop order: the binding its ``send_order`` delivery left."""
        with self.app.engine.connect() as conn:
            return conn.execute(select(bindings.c.external_id).where(
                bindings.c.kind == "orders", bindings.c.key == number, bindings.c.system == self.name)).scalar()

    # -- fetch: ERP -> store ----------------------------------------------------------------

    def fetch(self, kind: str, since: dt.datetime | None = None) -> Iterable[Raw]:
        plan = self.plans.get(kind)
        if plan is None or not plan.fetches:
            raise ValueError(f"systems.{self.name}: the webservice connector is not configured to fetch {kind!r}")
        return self._fetch(plan, since)

    def _fetch(self, plan: MessagePlan, since: dt.datetime | None) -> Iterator[Raw]:
        build = self._mapper(plan.name).build
        also = [self._mapper(kind, spec).build for kind, spec in plan.also]
        names = {"since": since_value(since, plan.since_format)} if since is not None else {}
        for position, item in enumerate(self._items(plan, names), 1):
            external = at(item, plan.item_id) if plan.item_id else None
            external = text_value(external) if external not in (None, "") else None
            location = f"item {position}" + (f" ({plan.item_id} {external})" if external else "")
            yield Raw(item, location, build=build, external_id=external)
            for other in also:
                yield Raw(item, location, build=other)

    def _items(self, plan: MessagePlan, names: dict) -> Iterator[Any]:
        call, paging, flow, point = plan.call, plan.paging, plan.name, f"webservice.{plan.name}"
        items = (lambda answer: items_at(answer, plan.items))
        if paging is None:
            _, data = self._call(call, names, flow=flow, point=point)
            yield from items(data)
            return
        if call.soap:
            pages: Any = _SoapPages(self, call, names)
            target, options = call.operation, {}
        else:
            target = call.target(names)
            try:
                query = query_of(call.body(names))
            except PlanError as exc:
                raise MessageError(str(exc)) from None
            options = {"params": query, "reading": self.adapter.reading(call),
                       "headers": {"Accept": "application/json" if call.format == "json" else "application/xml",
                                   **call.headers}, **({"timeout": call.timeout} if call.timeout else {})}
            pages = self.adapter
        if paging.next:
            if call.soap:
                raise MessageError(f"{call.where}.paging.next: a SOAP operation pages by offset, page or cursor")
            link = None if paging.next == "Link" else (lambda answer: at(answer, paging.next))
            yield from next_links(pages, target, flow=flow, point=point, items=items, link=link, **options)
        elif paging.cursor:
            yield from cursor_pages(pages, target, flow=flow, point=point, items=items, param=paging.param,
                                    cursor=lambda answer: at(answer, paging.cursor), **options)
        else:
            total = (lambda answer: at(answer, paging.total)) if paging.total else None
            yield from offset_pages(pages, target, flow=flow, point=point, items=items, limit=paging.size,
                                    limit_param=paging.limit, offset_param=paging.offset or "offset",
                                    page_param=paging.page, first_page=paging.first_page, total=total, **options)

    def _mapper(self, kind: str, spec: MappingSpec | None = None) -> Mapper:
        """A kind's mapper: by ``spec`` (an ``also`` kind's own), else the system's ``mappings.<kind>``,
        else the canonical field names."""
        spec = spec or self.cfg.mappings.get(kind) or MappingSpec()
        key = (kind, spec.model_dump_json())
        if key not in self._mappers:
            self._mappers[key] = Mapper(RECORD_KINDS[kind], with_config_defaults(self.app.config, kind, spec))
        return self._mappers[key]

    # -- real time --------------------------------------------------------------------------

    def get_document(self, doc_type: str, number: str) -> tuple[bytes, str] | None:
        """A document of the order history as the ERP renders it (None: it has no such document)."""
        plan = self._plan("document")
        call = plan.call
        options = {"accept": (404,)} if call.soap else {"accept": (404,), "content": True}
        response, data = self._call(call, {"type": doc_type, "number": number}, flow="documents",
                                    point="webservice.document", **options)
        if response.status_code == 404:
            return None
        if call.response.content is None:
            return response.content, response.headers.get("Content-Type", "application/octet-stream")
        content = at(data, call.response.content)
        if content in (None, ""):
            return None
        media_type = at(data, call.response.media_type) if call.response.media_type else None
        if isinstance(content, str):
            try:
                content = base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError):
                raise GeneralError(f"{self.name} answered document {number} with content that is not base64") from None
        return bytes(content), text_value(media_type) if media_type else "application/pdf"


class _SoapPages:
    """The kit's paging walks pages through an adapter's ``request`` and ``json``; a SOAP
    operation's page is one call with the paging parameters among its names (the request mapping
    writes them as the operation's parameters), so this stands in for the adapter there."""

    def __init__(self, connector: WebserviceConnector, call, names: dict):
        self.connector, self.call, self.names = connector, call, names
        self.system = connector.name

    def request(self, method: str, path: str, *, flow: str, point: str, params: dict | None = None, **_: Any):
        return self.connector._call(self.call, {**self.names, **(params or {})}, flow=flow, point=point)[1]

    @staticmethod
    def json(answer: Any) -> Any:
        return answer


def since_value(since: dt.datetime, form: str) -> Any:
    """The time of a delta as the ERP wants it (UTC)."""
    since = since.astimezone(dt.timezone.utc) if since.tzinfo else since.replace(tzinfo=dt.timezone.utc)
    if form == "date":
        return since.date().isoformat()
    if form == "epoch":
        return int(since.timestamp())
    if form == "epoch_ms":
        return int(since.timestamp() * 1000)
    return since.isoformat().replace("+00:00", "Z")


def create(app, name: str, cfg) -> WebserviceConnector:
    """The connector for system ``name``; a WSDL that is a file is found relative to the config file."""
    from erpbridge.config import ConfigError
    from erpbridge.exchange.log import ExchangeLog

    def locate(wsdl: str) -> str:
        if wsdl.startswith(("http://", "https://")):
            return wsdl
        path = app.config.resolve(Path(wsdl))
        if not path.is_file():
            raise ConfigError(f"systems.{name}: the WSDL {wsdl} is not a file ({path})")
        return str(path)

    for wsdl in {p.call.wsdl for p in compile_plans(cfg).values() if p.call.soap}:
        locate(wsdl)
    adapter = WebserviceAdapter(cfg, system=name, exchange_log=ExchangeLog.for_app(app), locate=locate)
    return WebserviceConnector(app, name, cfg, adapter)
