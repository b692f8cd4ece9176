"""The ``ibexa`` connector: the Web.Connector's one endpoint, ``/connectors/<system>``.

``GET ?wsdl`` serves ``webconnector.wsdl`` with this endpoint as its address; ``POST`` takes a
SOAP call, checks the Web-Connector user and password the shop sends in it, and answers with
the operation's handler (:mod:`.messages`). The connector delivers and fetches nothing: the
shop calls, erpbridge answers from its store, and the outbox carries the shop's orders to the
shop's ERP (``erp:`` of the system).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.responses import Response

from erpbridge.connectors.ibexa import soap
from erpbridge.connectors.ibexa.messages import HANDLERS, Shop
from erpbridge.connectors.ibexa.spec import IbexaSystem

logger = logging.getLogger(__name__)

XML = "text/xml; charset=utf-8"


class IbexaConnector:
    def __init__(self, app, name: str, config: IbexaSystem):
        self.app, self.name, self.config = app, name, config

    def router(self) -> APIRouter:
        router = APIRouter(tags=[f"ibexa {self.name}"])
        router.add_api_route("", self.wsdl, methods=["GET"], summary="The Web.Connector's WSDL (?wsdl)")
        router.add_api_route("", self.call, methods=["POST"], summary="A Web.Connector SOAP call")
        return router

    async def wsdl(self, request: Request) -> Response:
        return Response(soap.wsdl(str(request.url.replace(query=""))), media_type=XML)

    async def call(self, request: Request) -> Response:
        try:
            call = soap.parse_call(self.name, await request.body())
            soap.check_credentials(self.name, call, self.config.username, self.config.password.get_secret_value())
            handler = HANDLERS.get(call.operation)
            if handler is None:
                raise soap.Fault(f"ibexa {self.name}: no operation {call.operation!r}; the Web.Connector serves "
                                 f"{', '.join(HANDLERS)}")
            shop = Shop(self.app, self.name, self.config, request.app.state.reads, request.app.state.realtime)
            data, status, erp_status = await handler(shop, call.data)
        except soap.Fault as fault:
            return Response(soap.fault(fault), status_code=fault.http_status, media_type=XML)
        except Exception:
            logger.exception("ibexa %s: a Web.Connector call failed", self.name)
            fault = soap.Fault(f"ibexa {self.name}: the call failed inside erpbridge (see its log); nothing was "
                               "stored half", http_status=500, code="Server")
            return Response(soap.fault(fault), status_code=500, media_type=XML)
        return Response(soap.answer(call.operation, data, status, erp_status), media_type=XML)


def create(app, name: str, config: IbexaSystem) -> IbexaConnector:
    return IbexaConnector(app, name, config)
