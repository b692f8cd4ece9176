"""The SOAP side of the Web.Connector: an envelope in, an answer or a fault out, and the WSDL.

Every operation of ``webconnector.wsdl`` (document/literal, wrapped) takes
``user, password, erp_parameters{timeout}, data`` and answers ``data, status{code, erp_status}``,
the shape Ibexa's ``WebConnectorErpTransport`` sends and reads. ``data`` is the message's XML
as a string; this module parses it as untrusted (no entities, no DTD, no network) and hands the
handler its root element.

A request that cannot be answered (not SOAP, an unknown operation, a bad password, ``data``
that is not the message's XML or misses a field) gets a SOAP 1.1 ``Client`` fault that names
the system, the record and the field, with HTTP 400 (401 for the credentials): never a 500,
which the shop would take for the ERP failing. Everything else is an answer with a status code
(:class:`Status`), which is how the Web.Connector tells the shop what happened.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import IntEnum
from functools import cache
from importlib.resources import files

from lxml import etree

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
NS = "urn:erpbridge:ibexa:webconnector"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"

_PARSER = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False,
                          remove_blank_text=True)


class Status(IntEnum):
    """The Web.Connector's response codes, as Ibexa reads them (-1, "not sent", is the shop's own)."""

    OK = 0
    ERP_ERROR = 11  # the ERP answered, but with an error (or does not know what was asked)
    ERP_TIMEOUT = 12  # the ERP did not answer within the real-time budget
    SERVICE_ERROR = 21  # the ERP cannot be reached (offline: the semaphore is open)
    CONNECTION_ERROR = 22  # the shop could not reach the Web.Connector (never answered by us)


#: A real-time fallback (:class:`erpbridge.api.realtime.Answer`) as the status the shop is told.
FALLBACK_STATUS = {None: Status.OK, "no_realtime": Status.OK, "erp_offline": Status.SERVICE_ERROR,
                   "erp_timeout": Status.ERP_TIMEOUT, "erp_error": Status.ERP_ERROR,
                   "erp_not_found": Status.ERP_ERROR, "erp_no_price": Status.ERP_ERROR}


class Fault(Exception):
    """A request the service refuses; ``code`` is ``Client`` (the shop's fault) or ``Server``."""

    def __init__(self, message: str, *, http_status: int = 400, code: str = "Client"):
        super().__init__(message)
        self.http_status, self.code = http_status, code


@dataclass
class Call:
    """One SOAP call: its operation, credentials, ERP parameters and the ``data`` root."""

    operation: str
    user: str
    password: str
    timeout_ms: int | None
    data: etree._Element


def parse_xml(content: bytes | str, what: str) -> etree._Element:
    """``content`` as an element tree, parsed as untrusted input; a :class:`Fault` naming ``what``."""
    if isinstance(content, str):
        content = content.encode()
    try:
        root = etree.fromstring(content, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise Fault(f"{what} is not well-formed XML: {exc}") from None
    if root is None:
        raise Fault(f"{what} is empty")
    return root


def local(element: etree._Element) -> str:
    """An element's name without its namespace ("" for comments and processing instructions).
    Plain string work: it runs for every element of every message, and QName costs 6x more."""
    tag = element.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def parse_call(system: str, body: bytes) -> Call:
    """The call in a SOAP 1.1 request ``body``."""
    envelope = parse_xml(body, f"ibexa {system}: the SOAP request")
    if envelope.tag != f"{{{SOAP_ENV}}}Envelope":
        raise Fault(f"ibexa {system}: the request is not a SOAP 1.1 envelope (root {envelope.tag})")
    soap_body = envelope.find(f"{{{SOAP_ENV}}}Body")
    operation = next((child for child in soap_body if isinstance(child.tag, str)), None) \
        if soap_body is not None else None
    if operation is None:
        raise Fault(f"ibexa {system}: the SOAP Body names no operation")
    params = {local(child): child for child in operation if isinstance(child.tag, str)}
    name = local(operation)
    for field in ("user", "password", "data"):
        if field not in params:
            raise Fault(f"ibexa {system}: {name}: the parameter {field!r} is missing")
    timeout = params.get("erp_parameters")
    timeout = next((c.text for c in timeout if local(c) == "timeout"), None) if timeout is not None else None
    data = params["data"]
    element = next((child for child in data if isinstance(child.tag, str)), None)
    if element is None:
        element = parse_xml((data.text or "").strip(), f"ibexa {system}: {name}: the parameter 'data'")
    try:
        timeout_ms = int(timeout) if timeout and timeout.strip() else None
    except ValueError:
        raise Fault(f"ibexa {system}: {name}: erp_parameters.timeout {timeout!r} is not a number of ms") from None
    return Call(name, params["user"].text or "", params["password"].text or "", timeout_ms, element)


def check_credentials(system: str, call: Call, user: str, password: str) -> None:
    """Both compared in constant time; a wrong pair is a fault that says which system refused it."""
    ok_user = hmac.compare_digest(call.user.encode(), user.encode())
    ok_password = hmac.compare_digest(call.password.encode(), password.encode())
    if not (ok_user and ok_password):
        raise Fault(f"ibexa {system}: {call.operation}: the user or password is wrong", http_status=401)


def _envelope() -> tuple[etree._Element, etree._Element]:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, "wc": NS})
    return envelope, etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")


def answer(operation: str, data: etree._Element, status: Status, erp_status: str = "") -> bytes:
    """The operation's response: ``data`` serialised into the ``data`` string, and the status."""
    envelope, body = _envelope()
    response = etree.SubElement(body, f"{{{NS}}}{operation}Response")
    etree.SubElement(response, "data").text = etree.tostring(data, encoding="unicode")
    status_element = etree.SubElement(response, "status")
    etree.SubElement(status_element, "code").text = str(int(status))
    etree.SubElement(status_element, "erp_status").text = erp_status or status.name
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def fault(fault: Fault) -> bytes:
    envelope, body = _envelope()
    element = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(element, "faultcode").text = f"soap:{fault.code}"
    etree.SubElement(element, "faultstring").text = str(fault)
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


@cache
def _wsdl() -> bytes:
    return files(__package__).joinpath("webconnector.wsdl").read_bytes()


def wsdl(location: str) -> bytes:
    """The project's WSDL with its ``soap:address`` set to where this system is served."""
    tree = etree.fromstring(_wsdl(), _PARSER)
    for address in tree.iter(f"{{{WSDL_SOAP_NS}}}address"):
        address.set("location", location)
    return etree.tostring(tree, xml_declaration=True, encoding="utf-8")


def wsdl_operations() -> list[str]:
    """The operations the WSDL declares (a test holds them equal to the handlers)."""
    tree = etree.fromstring(_wsdl(), _PARSER)
    return [op.get("name") for op in tree.iter(f"{{{WSDL_NS}}}operation") if local(op.getparent()) == "portType"]
