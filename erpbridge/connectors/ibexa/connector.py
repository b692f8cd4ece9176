"""The ``ibexa`` connector: the Web.Connector's one endpoint, ``/connectors/<system>``.

``GET ?wsdl`` serves ``webconnector.wsdl`` with this endpoint as its address; ``POST`` takes a
SOAP call, checks the Web-Connector user and password the shop sends in it, and answers with
the operation's handler (:mod:`.messages`). The connector delivers and fetches nothing: the
shop calls, erpbridge answers from its store, and the outbox carries the shop's orders and
customers to the shop's ERP (``erp:`` of the system).

Every call is in the exchange log (Ibexa's own ``ses_log_erp`` has the same purpose): measuring
point ``ibexa.<operation>``, direction ``in``, the business key (order, customer, document) the
operators search by, the request's parameters and ``data`` as a structure (so the log's masks
hide names, addresses and e-mails element by element) with the password replaced by ``***``, the
answer's status and data, and the outcome: ``ok`` (0), ``message_error`` (11, or a fault of the
shop's request), ``general_error`` (12 and 21: the ERP behind erpbridge could not answer),
``error`` (a failure inside erpbridge). A body that is not SOAP is logged by its size only: it
may hold the password in clear where no parser found it. The log is written in the background
(buffered), so a call waits for no log transaction.
"""

from __future__ import annotations

import asyncio
import logging
import time

from fastapi import APIRouter, Request
from lxml import etree
from starlette.responses import Response

from erpbridge.connectors.ibexa import soap, ubl
from erpbridge.connectors.ibexa.messages import FLOWS, HANDLERS, Shop
from erpbridge.connectors.ibexa.spec import IbexaSystem
from erpbridge.connectors.webservice.answers import xml_data
from erpbridge.exchange import ExchangeLog

logger = logging.getLogger(__name__)

XML = "text/xml; charset=utf-8"
#: The exchange log's outcome of each answered status.
OUTCOMES = {soap.Status.OK: "ok", soap.Status.ERP_ERROR: "message_error", soap.Status.ERP_TIMEOUT: "general_error",
            soap.Status.SERVICE_ERROR: "general_error", soap.Status.CONNECTION_ERROR: "general_error"}


class IbexaConnector:
    def __init__(self, app, name: str, config: IbexaSystem):
        self.app, self.name, self.config = app, name, config
        self.log = ExchangeLog.for_app(app, buffered=True)

    def close(self) -> None:
        self.log.close()

    def router(self) -> APIRouter:
        router = APIRouter(tags=[f"ibexa {self.name}"])
        router.add_api_route("", self.wsdl, methods=["GET"], summary="The Web.Connector's WSDL (?wsdl)")
        router.add_api_route("", self.call, methods=["POST"], summary="A Web.Connector SOAP call")
        return router

    async def wsdl(self, request: Request) -> Response:
        return Response(soap.wsdl(str(request.url.replace(query=""))), media_type=XML)

    async def call(self, request: Request) -> Response:
        started, body, call = time.perf_counter(), await request.body(), None
        try:
            call = soap.parse_call(self.name, body)
            soap.check_credentials(self.name, call, self.config.username, self.config.password.get_secret_value())
            handler = HANDLERS.get(call.operation)
            if handler is None:
                raise soap.Fault(f"ibexa {self.name}: no operation {call.operation!r}; the Web.Connector serves "
                                 f"{', '.join(HANDLERS)}")
            shop = Shop(self.app, self.name, self.config, request.app.state.reads, request.app.state.realtime)
            data, status, erp_status = await handler(shop, call.data)
        except soap.Fault as fault:
            await self._record(call, len(body), started, "message_error" if fault.code == "Client" else "error",
                               error=str(fault))
            return Response(soap.fault(fault), status_code=fault.http_status, media_type=XML)
        except Exception as exc:
            logger.exception("ibexa %s: a Web.Connector call failed", self.name)
            fault = soap.Fault(f"ibexa {self.name}: the call failed inside erpbridge (see its log); nothing was "
                               "stored half", http_status=500, code="Server")
            await self._record(call, len(body), started, "error", error=f"{type(exc).__name__}: {exc}")
            return Response(soap.fault(fault), status_code=500, media_type=XML)
        await self._record(call, len(body), started, OUTCOMES[status], answer=(data, status, erp_status))
        return Response(soap.answer(call.operation, data, status, erp_status), media_type=XML)

    async def _record(self, call: soap.Call | None, size: int, started: float, outcome: str, *,
                      error: str | None = None, answer: tuple | None = None) -> None:
        """The call in the exchange log (see the module docstring); never raises."""
        try:
            if call is None:  # not SOAP we could read: its size only, never its text
                point, flow, request = "ibexa.request", "webconnector", {"bytes": size}
            else:
                point, flow = f"ibexa.{call.operation}", FLOWS.get(call.operation, "webconnector")
                request = {"operation": call.operation, "key": ubl.business_key(call.data), "user": call.user,
                           "password": call.password, "erp_parameters": {"timeout": call.timeout_ms},
                           "data": _structure(call.data)}
            response = None
            if answer is not None:
                data, status, erp_status = answer
                response = {"status": {"code": int(status), "erp_status": erp_status or status.name},
                            "data": _structure(data)}
            if outcome != "ok" and error is None and answer is not None:
                error = f"status {int(answer[1])} ({answer[1].name}): {answer[2]}"
            await asyncio.to_thread(self.log.record, self.name, flow, point, "in",
                                    duration_ms=(time.perf_counter() - started) * 1000, outcome=outcome,
                                    error=error, request=request, response=response)
        except Exception:
            logger.warning("ibexa %s: the exchange log entry of a call could not be made", self.name, exc_info=True)


def _structure(element: etree._Element) -> dict:
    """A message's XML as data (element names as keys, namespaces dropped), what the log's masks read."""
    return xml_data(etree.tostring(element))


def create(app, name: str, config: IbexaSystem) -> IbexaConnector:
    return IbexaConnector(app, name, config)
