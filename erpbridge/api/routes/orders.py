"""Order writes and the order view (scope ``write:orders``).

These are plain ``def`` endpoints: they commit to the store, which may wait for the write lock,
so they run in the thread pool and never hold up the event loop that serves the reads.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Request

from erpbridge.api.auth import require
from erpbridge.api.responses import json_response
from erpbridge.api.schemas import CancelRequest, OrderView, PaymentAck, ReturnRequest
from erpbridge.api.services_http import service_errors
from erpbridge.records import Order
from erpbridge.services import orders as service

router = APIRouter(prefix="/api/v1/orders", tags=["orders"], dependencies=[Depends(require("write:orders"))])

_WRITE_RESPONSES = {409: {"description": "the same number was used for different content, or the order's state "
                                         "forbids it"},
                    422: {"description": "invalid fields, named in `errors`"}}


@router.post("", status_code=201, response_model=OrderView, responses=_WRITE_RESPONSES,
             summary="Place an order (durable before the answer; idempotent on its number)")
def place_order(request: Request, order: Annotated[Order, Body()]):
    hub = request.app.state.hub
    with service_errors():
        _state, created, view = service.place_order(hub, order)
        view = view or service.order_view(hub, order.number)
    return json_response(view, status=201 if created else 200,
                         headers={"Location": f"/api/v1/orders/{quote(order.number, safe='')}",
                                  **({} if created else {"Idempotent-Replay": "true"})})


@router.get("/{number}", response_model=OrderView,
            summary="An order with its ERP id, status, shipments, invoices, credit memos and messages")
def get_order(request: Request, number: str):
    with service_errors():
        return json_response(service.order_view(request.app.state.hub, number))


@router.post("/{number}/payment", response_model=OrderView, responses=_WRITE_RESPONSES,
             summary="Acknowledge the payment: an order waiting for it is sent to the ERP")
def acknowledge_payment(request: Request, number: str, ack: PaymentAck):
    hub = request.app.state.hub
    with service_errors():
        service.acknowledge_payment(hub, number, ack.model_dump(mode="json", exclude_none=True))
        return json_response(service.order_view(hub, number))


@router.post("/{number}/cancellations", status_code=201, response_model=OrderView, responses=_WRITE_RESPONSES,
             summary="Cancel the whole order (no lines) or some of its items")
def cancel_order(request: Request, number: str, cancel: CancelRequest):
    hub = request.app.state.hub
    with service_errors():
        _id, _state, created = service.cancel_order(hub, number, cancel.reason, cancel.lines, cancel.id)
        return json_response(service.order_view(hub, number), status=201 if created else 200)


@router.post("/{number}/returns", status_code=201, response_model=OrderView, responses=_WRITE_RESPONSES,
             summary="Request a return of some items")
def request_return(request: Request, number: str, ret: ReturnRequest):
    hub = request.app.state.hub
    with service_errors():
        _id, created = service.request_return(hub, number, ret.lines, ret.id)
        return json_response(service.order_view(hub, number), status=201 if created else 200)
