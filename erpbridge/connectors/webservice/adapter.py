"""The webservice adapter: a custom ERP's REST calls and SOAP operations, on the adapter kit.

Every call goes through :class:`~erpbridge.connectors.kit.HttpAdapter` (its auth, its pool, one
exchange in the log per call, without secrets) and is read and judged inside that exchange:
:meth:`WebserviceAdapter.classify` parses the answer (JSON, XML, or the SOAP reply as zeep reads
it against the WSDL), keeps it on the response for the caller, and decides by the message's
``errors`` what it is (:mod:`.answers`), so the exchange log shows each call's true outcome.

SOAP: zeep (the ``webservice`` extra) reads the WSDL (a file, or a URL fetched through the kit
with the system's auth), builds each operation's envelope from the request mapping's result,
validated against the WSDL's types, and reads the reply; the envelope goes out as any other
call does. A WSDL is read once per process, on the first call that needs it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any, Callable, Collection, Unpack

import httpx

from erpbridge.connectors.base import ConnectorError, GeneralError, MessageError
from erpbridge.connectors.kit import ApiKey, Auth, Basic, BearerToken, HttpAdapter, OAuth2ClientCredentials
from erpbridge.connectors.kit.errors import retry_after, system_words
from erpbridge.connectors.kit.http import CallOptions
from erpbridge.connectors.webservice import answers
from erpbridge.connectors.webservice.plan import CallPlan
from erpbridge.mapping.templates import json_value, text_value

_READING, _DATA, _DONE = "erpbridge.webservice.reading", "erpbridge.webservice.data", "erpbridge.webservice.done"
MEDIA_TYPES = {"json": "application/json", "xml": "application/xml"}


class SoapFault(Exception):
    def __init__(self, code: str, text: str):
        super().__init__(f"{code}: {text}")
        self.code, self.text = code, text


@dataclass(frozen=True)
class Reading:
    """How one call's answer is read and judged: ``parse`` (None: the answer is content, a
    document) and the message's ``errors``."""

    errors: Any
    parse: Callable[[httpx.Response], Any] | None


def auth_of(config) -> Auth | None:
    """The kit's auth for a system's ``auth:``."""
    if config is None:
        return None
    secret = {"basic": "password", "bearer": "token", "api_key": "key", "oauth2": "client_secret"}[config.type]
    value = getattr(config, secret).get_secret_value()
    if config.type == "basic":
        return Basic(config.user, value)
    if config.type == "bearer":
        return BearerToken(value, header=config.header, scheme=config.scheme)
    if config.type == "api_key":
        return ApiKey(value, header=config.header, query=config.query)
    return OAuth2ClientCredentials(config.token_url, config.client_id, value, scope=config.scope,
                                   client_auth=config.client_auth)


class WebserviceAdapter(HttpAdapter):
    """One custom ERP's calls; safe to share between threads."""

    def __init__(self, cfg, *, system: str, exchange_log=None, locate: Callable[[str], str] = str):
        """``locate`` turns a configured WSDL (a URL, or a file relative to the config) into what zeep loads."""
        super().__init__(cfg.url or "http://localhost", system=system, connector="webservice", timeout=cfg.timeout,
                         exchange_log=exchange_log, auth=auth_of(cfg.auth), headers=cfg.headers)
        self.url, self.locate = cfg.url, locate
        self._services: dict[str, SoapService] = {}
        self._lock = threading.Lock()

    # -- the kit's hooks ------------------------------------------------------------------

    def build(self, method: str, path: str | httpx.URL, *, reading: Reading | None = None,
              **options: Unpack[CallOptions]) -> httpx.Request:
        request = super().build(method, path, **options)
        request.extensions[_READING] = reading
        return request

    def classify(self, response: httpx.Response, what: str) -> ConnectorError | None:
        """Parse the answer (kept for :meth:`json`) and judge it: the message's ``errors``, a SOAP
        fault, then the kit's reading of the HTTP status."""
        reading: Reading | None = response.request.extensions.get(_READING)
        if reading is None:
            return super().classify(response, what)
        status, fault, data = response.status_code, None, None
        if reading.parse is not None and response.content:
            try:
                data = reading.parse(response)
            except SoapFault as exc:
                fault = exc
            except answers.NotData as exc:
                if status < 400:
                    return GeneralError(f"{self.system} answered {what} with something it cannot read: {exc}: "
                                        f"{' '.join(response.text.split())[:80]!r}")
        response.extensions[_DATA] = data
        decided = answers.outcome(reading.errors, status=status, fault=fault.code if fault else None, data=data)
        said = answers.words(reading.errors, data) or (fault.text if fault else None)
        if decided == "done":
            response.extensions[_DONE] = True
            return None
        if decided is None and fault is not None:
            decided = answers.fault_outcome(fault.code)
            said = f"SOAP fault {fault.code}: {fault.text}"
        if decided is None:
            error = super().classify(response, what)
            if error is None or not said:
                return error
            decided = "general" if isinstance(error, GeneralError) else "message"
        text = f"{self.system} answered {what}" + (f" with HTTP {status}" if status >= 400 else "") + \
            f": {said or system_words(response)}"
        if decided == "message":
            return MessageError(text)
        seconds = retry_after(response)
        return GeneralError(text if seconds is None else f"{text} (retry after {seconds:g} s)", retry_after=seconds)

    def json(self, response: httpx.Response) -> Any:
        """The answer as data: what :meth:`classify` read (JSON, XML or a SOAP reply)."""
        if _DATA in response.extensions:
            return response.extensions[_DATA]
        return super().json(response)

    # -- calls ----------------------------------------------------------------------------

    def reading(self, call: CallPlan, *, content: bool = False) -> Reading:
        """How the answers to ``call`` are read (``content``: a document's bytes, unless the answer
        carries it in a field)."""
        if content and call.response.content is None:
            return Reading(call.errors, None)
        return Reading(call.errors, _parse_json if call.format == "json" else _parse_xml)

    def rest(self, call: CallPlan, names: dict, *, flow: str, point: str, headers: dict[str, str] | None = None,
             accept: Collection[int] = (), content: bool = False) -> httpx.Response:
        """One REST call as the plan says, its body or query written from ``names``."""
        target, body = call.target(names), call.body(names)
        options: dict[str, Any] = {"headers": {"Accept": MEDIA_TYPES[call.format] if not content else "*/*",
                                               **call.headers, **(headers or {})}}
        if call.timeout:
            options["timeout"] = call.timeout
        if call.sends_query:
            options["params"] = query_of(body)
        elif isinstance(body, str):
            options["content"] = body.encode()
            options["headers"]["Content-Type"] = f"{MEDIA_TYPES[call.format]}; charset=utf-8"
        elif body is not None and call.format == "json":
            options["json"] = json.loads(json.dumps(body, default=json_value))
        elif body is not None:
            options["content"] = answers.xml_body(body, call.root)
            options["headers"]["Content-Type"] = "application/xml; charset=utf-8"
        return self.request(call.method, target, flow=flow, point=point, accept=accept,
                            reading=self.reading(call, content=content), **options)

    def soap(self, call: CallPlan, names: dict, *, flow: str, point: str, headers: dict[str, str] | None = None,
             accept: Collection[int] = ()) -> httpx.Response:
        """One SOAP operation as the plan says, its parameters written from ``names``."""
        service = self.service(call.wsdl, flow)
        parameters = call.body(names) or {}
        if not isinstance(parameters, dict):
            raise MessageError(f"{call.where}.request: a SOAP operation's parameters are an object, got "
                               f"{type(parameters).__name__}")
        envelope, soap_headers = service.envelope(call.operation, parameters, call.where)
        address = call.target(names) or self.url or service.address
        options: dict[str, Any] = {"headers": {**soap_headers, **call.headers, **(headers or {})}}
        if call.timeout:
            options["timeout"] = call.timeout
        return self.request("POST", address, flow=flow, point=point, accept=accept, content=envelope,
                            what=f"SOAP {call.operation}",
                            reading=Reading(call.errors, lambda response: service.reply(call.operation, response)),
                            **options)

    def call(self, call: CallPlan, names: dict, *, flow: str, point: str, **options: Any) -> tuple[httpx.Response, Any]:
        """:meth:`soap` or :meth:`rest`; the answer and its data."""
        response = (self.soap if call.soap else self.rest)(call, names, flow=flow, point=point, **options)
        return response, response.extensions.get(_DATA)

    @staticmethod
    def done_before(response: httpx.Response) -> bool:
        """Did the answer say the message had been done before (the config's ``errors.done``)?"""
        return bool(response.extensions.get(_DONE))

    # -- SOAP services --------------------------------------------------------------------

    def service(self, wsdl: str, flow: str) -> "SoapService":
        """The WSDL's service, read on first use (once per process, by one thread)."""
        with self._lock:
            service = self._services.get(wsdl)
            if service is None:
                service = self._services[wsdl] = SoapService(self, self.locate(wsdl), flow)
            return service


def _parse_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise answers.NotData("not JSON") from None


def _parse_xml(response: httpx.Response) -> Any:
    return answers.xml_data(response.content)


def query_of(written: Any) -> dict[str, Any]:
    """What a GET's request wrote, as query parameters (lists repeat the parameter)."""
    if written is None:
        return {}
    if not isinstance(written, dict) or any(isinstance(v, dict) for v in written.values()):
        raise MessageError(f"a query is a flat set of parameters, got {written!r}")
    return {key: [_query_value(v) for v in value] if isinstance(value, list) else _query_value(value)
            for key, value in written.items()}


def _query_value(value: Any) -> str:
    return text_value(value)


class SoapService:
    """A WSDL's SOAP service, read by zeep; its envelopes go out through the adapter."""

    def __init__(self, adapter: WebserviceAdapter, location: str, flow: str):
        import zeep
        from zeep.transports import Transport

        class KitTransport(Transport):
            """zeep reads the WSDL and its imports through the kit (auth, timeouts, the exchange log)."""

            def _load_remote_data(self, url: str) -> bytes:
                return adapter.request("GET", url, flow=flow, point="webservice.wsdl", idempotent=True).content

        settings = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, xml_huge_tree=False)
        self.client = zeep.Client(location, transport=KitTransport(), settings=settings)
        service = next(iter(self.client.wsdl.services.values()))
        port = next(iter(service.ports.values()))
        self.binding, self.address = port.binding, port.binding_options["address"]
        self._options = dict(port.binding_options)

    def envelope(self, operation: str, parameters: dict, where: str) -> tuple[bytes, dict[str, str]]:
        """The operation's envelope for these parameters (zeep checks them against the WSDL's types)."""
        from zeep.exceptions import Error as ZeepError
        from zeep.wsdl.utils import etree_to_string

        if operation not in self.binding.all():
            known = ", ".join(sorted(self.binding.all())) or "none"
            raise MessageError(f"{where}.operation: the WSDL has no operation {operation!r}; it has: {known}")
        try:
            envelope, headers = self.binding._create(operation, (), parameters, client=self.client, options=self._options)
        except (ZeepError, TypeError, ValueError) as exc:  # a parameter the operation's schema does not take
            raise MessageError(f"{where}.request: the WSDL's {operation} refuses the parameters: {exc}") from None
        return etree_to_string(envelope), dict(headers)

    def reply(self, operation: str, response: httpx.Response) -> Any:
        """The operation's result as data, or :class:`SoapFault`; a body that is no SOAP reply is
        :class:`~erpbridge.connectors.webservice.answers.NotData`."""
        from zeep.exceptions import Fault, TransportError, XMLParseError
        from zeep.helpers import serialize_object

        try:
            result = self.binding.process_reply(self.client, self.binding.get(operation), response)
        except Fault as fault:
            raise SoapFault(str(fault.code or "Fault"), fault.message or "") from None
        except (TransportError, XMLParseError) as exc:
            raise answers.NotData(str(exc).splitlines()[0]) from None
        return serialize_object(result, dict)
