"""Customers and their documents (scope ``read:customers``; creating one needs ``write:orders``).

Seed 000: at login the shop asks for the customer by number with ``context=login``; erpbridge
fetches it from the ERP (when the connector offers real time), stores it and answers; when the
ERP is offline or slow, the store answers at once, marked ``"source": "store"``.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import quote
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select
from starlette.responses import Response

from erpbridge.api.auth import require
from erpbridge.api.problems import Problem
from erpbridge.api.responses import decode_cursor, encode_cursor, json_response, store_response
from erpbridge.api.schemas import CustomerCreate, CustomerOut, CustomerRequestView, DocumentList
from erpbridge.api.services_http import service_errors
from erpbridge.documents import copy_path, download_headers, served_media_type
from erpbridge.records import Customer, Document, key_of
from erpbridge.services import customers as service
from erpbridge.store.tables import customers, documents

router = APIRouter(prefix="/api/v1", tags=["customers"])
read = [Depends(require("read:customers"))]


@router.get("/customers/{number}", response_model=CustomerOut, dependencies=read,
            summary="A customer by number; `context=login` fetches it from the ERP first (ETag)")
async def get_customer(request: Request, number: str, context: Literal["login"] | None = None):
    hub = request.app.state.hub
    realtime = request.app.state.realtime
    fallback = None
    if context == "login" and realtime.available and hub.config.api.realtime.customer_at_login:
        answer = await realtime.customer(number)
        if answer.from_erp and isinstance(answer.value, Customer):
            await asyncio.to_thread(hub.records.put, [answer.value])
            body = {**orjson.loads(answer.value.canonical_json()), "source": "erp", "fallback": None}
            return json_response(body, headers={"X-Erpbridge-Source": "erp"})
        fallback = answer.fallback or "erp_not_found"
    with hub.engine.connect() as conn:
        data = conn.execute(select(customers.c.data).where(customers.c.key == number)).scalar()
    if data is None:
        raise Problem(404, f"no customer with number {number!r}")
    return store_response(request, {**orjson.loads(data), "source": "store", "fallback": fallback}, fallback)


def _poll_link(reference: str) -> str:
    return f"/api/v1/customer-requests/{quote(reference, safe='')}"


@router.post("/customers", status_code=201, response_model=CustomerRequestView,
             dependencies=[Depends(require("write:orders"))],
             responses={202: {"description": "accepted; the ERP has not answered the customer number yet"},
                        409: {"description": "the reference was used for different content"}},
             summary="Create a customer in the ERP; answers its number if the ERP answers in time")
async def create_customer(request: Request, body: CustomerCreate):
    hub = request.app.state.hub
    with service_errors():
        await asyncio.to_thread(service.create_customer, hub, body.model_dump(exclude_none=True))
        deadline = time.monotonic() + hub.config.api.realtime.customer_create_wait
        while True:
            view = await asyncio.to_thread(service.customer_request, hub, body.reference)
            if view["status"] != "pending" or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.05)
    view["poll"] = _poll_link(body.reference)
    status = 201 if view["status"] == "created" else 202
    return json_response(view, status=status, headers={"Location": view["poll"]})


@router.get("/customer-requests/{reference}", response_model=CustomerRequestView,
            dependencies=[Depends(require("write:orders"))], summary="Where a customer creation stands")
def customer_request(request: Request, reference: str):
    with service_errors():
        view = service.customer_request(request.app.state.hub, reference)
    view["poll"] = _poll_link(reference)
    return json_response(view)


def _document_out(doc: dict) -> dict:
    return {**{k: doc.get(k) for k in ("type", "number", "order", "customer", "issued_at", "media_type")},
            "href": f"/api/v1/documents/{doc['type']}/{quote(doc['number'], safe='')}"}


@router.get("/customers/{number}/documents", response_model=DocumentList, dependencies=read,
            summary="The customer's order-history documents known to the store")
def list_documents(request: Request, number: str, cursor: Annotated[str | None, Query(max_length=1024)] = None,
                   limit: Annotated[int | None, Query(ge=1, le=1000)] = None):
    hub = request.app.state.hub
    limit = limit or hub.config.api.page_size
    after = decode_cursor(cursor)
    stmt = select(documents.c.key, documents.c.data).where(documents.c.customer == number) \
        .order_by(documents.c.key).limit(limit + 1)
    if after is not None:
        stmt = stmt.where(documents.c.key > after)
    with hub.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    items = [_document_out(orjson.loads(r.data)) for r in rows[:limit]]
    return json_response({"items": items, "next_cursor": encode_cursor(rows[limit - 1].key) if len(rows) > limit else None})


DocType = Literal["invoice", "order", "delivery_note", "credit_memo"]


@router.get("/documents/{doc_type}/{number:path}", dependencies=read,  # Odoo numbers: INV/2026/00001
            responses={200: {"content": {"application/pdf": {}}, "description": "the document, as an attachment"},
                       404: {"description": "no such document, or its local copy is missing"},
                       503: {"description": "the ERP cannot be asked now and there is no local copy"}},
            summary="A document's content: from the ERP in real time, or the local copy (use_local_documents)")
async def get_document(request: Request, doc_type: DocType, number: str,
                       customer: Annotated[str | None, Query(max_length=128,
                                                             description="refuse unless the document is this customer's")] = None):
    hub = request.app.state.hub
    realtime = request.app.state.realtime
    local = await asyncio.to_thread(_local_document, hub, doc_type, number)
    if customer is not None and local is not None and local.customer not in (None, customer):
        raise Problem(404, f"no {doc_type} {number!r} for customer {customer!r}")
    fallback = None
    if not hub.config.order_history.use_local_documents and realtime.available:
        answer = await realtime.document(doc_type, number)
        if answer.from_erp and answer.value is not None:
            content, media_type = answer.value
            return _document_response(content, media_type, doc_type, number, {"X-Erpbridge-Source": "erp"})
        fallback = answer.fallback or "erp_not_found"
        if answer.from_erp and local is None:
            raise Problem(404, f"no {doc_type} {number!r}")
    if local is None or local.content is None:
        if fallback:
            raise Problem(503, f"the ERP cannot deliver {doc_type} {number!r} now ({fallback}) and there is no "
                               f"local copy", headers={"Retry-After": "60"})
        raise Problem(404, f"no {doc_type} {number!r}")
    try:
        content = await asyncio.to_thread(copy_path(hub.config, local.content).read_bytes)
    except OSError:
        raise Problem(404, f"the local copy of {doc_type} {number!r} ({local.content}) is missing from the "
                           "documents folder") from None
    headers = {"X-Erpbridge-Source": "store", **({"X-Erpbridge-Fallback": fallback} if fallback else {})}
    return _document_response(content, local.media_type, doc_type, number, headers)


def _document_response(content: bytes, media_type: str | None, doc_type: str, number: str,
                       headers: dict[str, str]) -> Response:
    """A document as a download, whatever its source: see :mod:`erpbridge.documents`."""
    served = served_media_type(media_type)
    return Response(content, media_type=served, headers={**headers, **download_headers(doc_type, number, served)})


def _local_document(hub, doc_type: str, number: str) -> Document | None:
    return hub.records.get("documents", key_of((doc_type, number)))
