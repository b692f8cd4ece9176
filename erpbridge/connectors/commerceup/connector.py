"""The ``commerceup`` connector: the ERP APIs Commerceup calls, under ``/connectors/<system>``.

* ``POST|GET /createcustomer``: answers ``customerId``, the ERP's customer number when the ERP
  gives it within ``customer_wait`` seconds, else **provisionally Commerceup's own id** (the
  ``customerId`` it sent) with ``"provisional": true``. erpbridge binds the ERP's number to that
  id when the ERP answers; the shop learns it from ``GET /customers/{customerId}`` (and may
  keep using its own id meanwhile: orders carry it as the customer, as they would anyway).
* ``POST|GET /createorder``: committed with its outbox message before the answer, idempotent on
  ``orderId``; answers ``orderId``: the ERP's id when it is known (a repeat after delivery),
  else Commerceup's own order number, which stays valid: every call here takes either.
* ``POST|GET /cancelorder`` and ``/returnorder``: answer ``success`` (and the id of the
  cancellation or return); ``GET /orders/{orderId}``: statuses, shipments with tracking,
  invoices, credit memos, cancellations and returns, for the way back. With ``api_key``, stock
  and order statuses are also pushed to Commerceup's own API (:mod:`.push`).

Bad bodies are answered ``{"success": false, "message", "errors": [{field, reason}]}`` with
422 (409 for a number reused with other content, 401 for credentials): never a 500.

Every call is in the exchange log: measuring point ``commerceup.<call>`` (``createorder``,
``orders``...), direction ``in``, the business key (``key: {order, customer}``), the body as
read (its personal data masked by the log) with the credential headers as ``***``, the status
and answer, and the outcome (``ok`` below 400, ``error`` for a failure inside erpbridge,
``message_error`` otherwise). A body that cannot be read is logged by its size only. The log
is written in the background (buffered), so a call waits for no log transaction.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
import time

from fastapi import APIRouter, Request
from pydantic import ValidationError
from sqlalchemy import select
from starlette.responses import Response

from erpbridge.api.schemas import CancelRequest, CustomerCreate, ReturnRequest
from erpbridge.connectors.base import MessageError
from erpbridge.connectors.commerceup import contract
from erpbridge.connectors.commerceup.contract import BadRequest
from erpbridge.connectors.commerceup.spec import CommerceupSystem
from erpbridge.exchange import ExchangeLog
from erpbridge.records import Order
from erpbridge.services import customers as customer_service
from erpbridge.services import orders as order_service
from erpbridge.services.errors import Conflict, NotFound, Rejected
from erpbridge.store.tables import bindings, orders

logger = logging.getLogger(__name__)


class Refused(Exception):
    def __init__(self, status: int, message: str, errors: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.status, self.errors = status, errors or []


class CommerceupConnector:
    def __init__(self, app, name: str, config: CommerceupSystem):
        self.app, self.name, self.config = app, name, config
        self.log = ExchangeLog.for_app(app, buffered=True)
        self._pusher = None
        if config.api_key is not None:
            from erpbridge.connectors.commerceup.push import Pusher

            self._pusher = Pusher(app, name, config)

    def deliver(self, operation: str, payload: dict, idempotency_key: str):
        """Stock and order statuses to Commerceup's open API (:mod:`.push`), with ``api_key`` set."""
        if self._pusher is None:
            raise MessageError(f"commerceup {self.name}: no api_key is configured: nothing is pushed to Commerceup")
        return self._pusher.deliver(operation, payload, idempotency_key)

    def close(self) -> None:
        if self._pusher is not None:
            self._pusher.close()
        self.log.close()

    # -- wiring --------------------------------------------------------------------------------

    def router(self) -> APIRouter:
        router = APIRouter(tags=[f"commerceup {self.name}"])
        for path, handler in (("/createcustomer", self.create_customer), ("/createorder", self.create_order),
                              ("/cancelorder", self.cancel_order), ("/returnorder", self.return_order)):
            # The seed's sample says POST, its widget GET (with a body): both are served.
            router.add_api_route(path, self._endpoint(handler, body=True), methods=["POST", "GET"])
        router.add_api_route("/orders/{order_id}", self._endpoint(self.order, body=False), methods=["GET"])
        router.add_api_route("/customers/{reference}", self._endpoint(self.customer, body=False), methods=["GET"])
        return router

    def _endpoint(self, handler, *, body: bool):
        async def endpoint(request: Request) -> Response:
            xml = contract.is_xml(request.headers.get("content-type")) or contract.is_xml(request.headers.get("accept"))
            what = f"commerceup {self.name}: {request.url.path.rsplit('/', 1)[-1] if body else request.url.path}"
            started, data, raw, failed = time.perf_counter(), None if body else dict(request.path_params), b"", False
            try:
                self._check_credentials(request)
                if body:
                    raw = await request.body()
                    data = contract.read_body(raw, request.headers.get("content-type"), what)
                    status, answer = await handler(data, what)
                else:
                    status, answer = await handler(request.path_params, what)
            except BadRequest as exc:
                status, answer = 422, _refusal(str(exc), exc.errors)
            except Refused as exc:
                status, answer = exc.status, _refusal(str(exc), exc.errors)
            except Exception:
                logger.exception("%s failed", what)
                failed = True
                status, answer = 503, _refusal(f"{what}: failed inside erpbridge (see its log); nothing was stored "
                                               "half; call again")
            await self._record(request, handler.__name__, data, len(raw), started, status, answer, failed)
            content, media_type = contract.render(answer, xml)
            headers = {"WWW-Authenticate": 'Basic realm="erpbridge"'} if status == 401 else None
            return Response(content, status_code=status, media_type=media_type, headers=headers)
        return endpoint

    async def _record(self, request: Request, call: str, data, size: int, started: float, status: int,
                      answer: dict, failed: bool) -> None:
        """The call in the exchange log (see the module docstring); never raises."""
        try:
            call = call.replace("_", "")  # create_order -> createorder, as the path names it
            body = data if isinstance(data, dict) else {"bytes": size}
            keys = {"order": body.get("orderId") or body.get("order_id"),
                    "customer": body.get("customerId") or body.get("reference")}
            headers = {name: request.headers.get(name) for name in ("authorization", "username", "password")
                       if request.headers.get(name) is not None}
            request_entry = {"method": request.method, "path": request.url.path,
                             "key": {k: str(v) for k, v in keys.items() if v}, "headers": headers, "body": body}
            outcome = "ok" if status < 400 else "error" if failed else "message_error"
            error = None if outcome == "ok" else f"{status}: {answer.get('message')}"
            flow = {"createcustomer": "customers", "customer": "customers", "createorder": "orders", "order": "orders",
                    "cancelorder": "cancellations", "returnorder": "returns"}.get(call, "commerceup")
            await asyncio.to_thread(self.log.record, self.name, flow, f"commerceup.{call}", "in",
                                    duration_ms=(time.perf_counter() - started) * 1000, outcome=outcome, error=error,
                                    request=request_entry, response={"status": status, "body": answer})
        except Exception:
            logger.warning("commerceup %s: the exchange log entry of a call could not be made", self.name,
                           exc_info=True)

    def _check_credentials(self, request: Request) -> None:
        """Basic (RFC 7617), the ``username``/``password`` headers of the seed, or a bearer token;
        compared in constant time."""
        headers, config = request.headers, self.config
        scheme, _, value = (headers.get("authorization") or "").partition(" ")
        user, password, token = headers.get("username"), headers.get("password"), None
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise Refused(401, f"commerceup {self.name}: the Basic credentials are not base64 'user:password'")
        elif scheme.lower() == "bearer":
            token = value.strip()
        if token is not None and config.token is not None:
            if hmac.compare_digest(token.encode(), config.token.get_secret_value().encode()):
                return
        elif user is not None and password is not None and config.username and config.password is not None:
            ok_user = hmac.compare_digest(user.encode(), config.username.encode())
            ok_password = hmac.compare_digest(password.encode(), config.password.get_secret_value().encode())
            if ok_user and ok_password:
                return
        raise Refused(401, f"commerceup {self.name}: the credentials are missing or wrong")

    # -- customers -----------------------------------------------------------------------------

    async def create_customer(self, body: dict, what: str) -> tuple[int, dict]:
        try:
            fields = CustomerCreate.model_validate(contract.customer_fields(body, what)).model_dump(exclude_none=True)
        except ValidationError as exc:
            raise _invalid(what, exc) from None
        reference = fields["reference"]
        try:
            await asyncio.to_thread(customer_service.create_customer, self.app, fields, shop=self.name)
        except Conflict as exc:
            raise Refused(409, f"{what}: {exc}") from None
        deadline = time.monotonic() + self.config.customer_wait
        while True:
            view = await asyncio.to_thread(customer_service.customer_request, self.app, reference, shop=self.name)
            if view["status"] != "pending" or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.05)
        return 200, _customer_answer(view)

    async def customer(self, params: dict, what: str) -> tuple[int, dict]:
        try:
            view = await asyncio.to_thread(customer_service.customer_request, self.app, params["reference"],
                                         shop=self.name)
        except NotFound as exc:
            raise Refused(404, f"{what}: {exc}") from None
        return 200, _customer_answer(view)

    # -- orders --------------------------------------------------------------------------------

    @property
    def _erp(self) -> str:
        return self.app.config.erp_for(self.name)

    def _resolve(self, order_id: str, what: str) -> str:
        """Commerceup's order number for ``order_id``, which is that number or the ERP's id."""
        with self.app.engine.connect() as conn:
            if conn.execute(select(orders.c.key).where(orders.c.key == order_id)).scalar() is not None:
                return order_id
            number = conn.execute(select(bindings.c.key).where(
                bindings.c.kind == "orders", bindings.c.system == self._erp,
                bindings.c.external_id == order_id)).scalar()
        if number is None:
            raise Refused(404, f"{what}: no order {order_id!r}", [("orderId", "unknown")])
        return number

    async def create_order(self, body: dict, what: str) -> tuple[int, dict]:
        defaults = {"currency": self.app.config.catalog.default_currency,
                    "shipping_method": self.config.shipping_method, "payment_method": self.config.payment_method}
        fields = contract.order_fields(body, defaults, what)
        if "placed_at" not in fields:  # a repeat without placedAt must be the same order, not a conflict
            fields["placed_at"] = await asyncio.to_thread(order_service.placed_at_or_now, self.app, fields["number"])
        try:
            order = Order.model_validate(fields)
        except ValidationError as exc:
            raise _invalid(f"{what}: order {fields['number']}", exc) from None
        try:
            state, created, _view = await asyncio.to_thread(order_service.place_order, self.app, order, shop=self.name)
        except Rejected as exc:
            raise Refused(422, f"{what}: {exc}", [(contract.field_name(f.split(".")), why) for f, why in exc.errors])
        except Conflict as exc:
            raise Refused(409, f"{what}: {exc}") from None
        view = None if created else await asyncio.to_thread(order_service.order_view, self.app, order.number)
        erp_id = view["erp_id"] if view else None
        return (201 if created else 200), {"success": True, "orderId": erp_id or order.number,
                                           "erpOrderId": erp_id, "shopOrderId": order.number, "status": state}

    async def cancel_order(self, body: dict, what: str) -> tuple[int, dict]:
        order_id = contract.text(body, "orderId", what, required=True)
        number = await asyncio.to_thread(self._resolve, order_id, what)
        try:
            request = CancelRequest.model_validate({"reason": contract.text(body, "reason", what),
                                                    "lines": contract.item_lines(body, what)})
            cancel_id, state, _created = await asyncio.to_thread(
                order_service.cancel_order, self.app, number, request.reason, request.lines, None)
        except ValidationError as exc:
            raise _invalid(what, exc) from None
        except Rejected as exc:
            raise Refused(422, f"{what}: {exc}", [(contract.field_name(f.split(".")), why) for f, why in exc.errors])
        except Conflict as exc:
            raise Refused(409, f"{what}: {exc}") from None
        return 200, {"success": True, "orderId": order_id, "cancellationId": cancel_id, "status": state}

    async def return_order(self, body: dict, what: str) -> tuple[int, dict]:
        order_id = contract.text(body, "orderId", what, required=True)
        number = await asyncio.to_thread(self._resolve, order_id, what)
        try:
            request = ReturnRequest.model_validate({"id": contract.text(body, "returnId", what),
                                                    "lines": contract.item_lines(body, what)})
            return_id, _created = await asyncio.to_thread(order_service.request_return, self.app, number,
                                                          request.lines, request.id)
        except ValidationError as exc:
            raise _invalid(what, exc) from None
        except Rejected as exc:
            raise Refused(422, f"{what}: {exc}", [(contract.field_name(f.split(".")), why) for f, why in exc.errors])
        except Conflict as exc:
            raise Refused(409, f"{what}: {exc}") from None
        return 200, {"success": True, "orderId": order_id, "returnId": return_id}

    async def order(self, params: dict, what: str) -> tuple[int, dict]:
        number = await asyncio.to_thread(self._resolve, params["order_id"], what)
        view = await asyncio.to_thread(order_service.order_view, self.app, number)
        return 200, {
            "success": True, "orderId": view["erp_id"] or number, "erpOrderId": view["erp_id"], "shopOrderId": number,
            "state": view["state"], "status": view["status"],
            "shipments": [{"id": s["id"], "carrier": s.get("carrier"), "trackingNumbers": s["tracking_numbers"],
                           "items": [{"sku": l["sku"], "quantity": l["quantity"]} for l in s["lines"]]}
                          for s in view["shipments"]],
            "invoices": [{"id": i["id"], "shipmentId": i.get("shipment"), "date": i["issued_at"],
                          "total": i["total"], "freight": i.get("freight_amount")} for i in view["invoices"]],
            "creditMemos": [{"id": c["id"], "date": c["issued_at"], "total": c["total"]} for c in view["credit_memos"]],
            "cancellations": [{"id": c["id"], "reason": c.get("reason")} for c in view["cancellations"]],
            "returns": [{"id": r["id"]} for r in view["returns"]],
        }


def _refusal(message: str, errors: list[tuple[str, str]] | None = None) -> dict:
    return {"success": False, "message": message, "errors": [{"field": f, "reason": r} for f, r in errors or []]}


def _invalid(what: str, exc: ValidationError) -> Refused:
    errors = [(contract.field_name(e["loc"]), e["msg"]) for e in exc.errors()]
    return Refused(422, f"{what}: " + "; ".join(f"{f}: {r}" for f, r in errors), errors)


def _customer_answer(view: dict) -> dict:
    created = view["status"] == "created"
    return {"success": view["status"] != "failed", "customerId": view["number"] if created else view["reference"],
            "provisional": not created, "reference": view["reference"], "status": view["status"]}


def create(app, name: str, config: CommerceupSystem) -> CommerceupConnector:
    return CommerceupConnector(app, name, config)
