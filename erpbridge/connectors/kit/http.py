"""The HTTP adapter base: one httpx client per adapter, failures classified, calls measured.

See :mod:`erpbridge.connectors.kit` for the manual; this module is the machinery.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Collection, Iterator, Mapping, TypedDict, Unpack

import httpx

from erpbridge.connectors.base import ConnectorError, GeneralError
from erpbridge.connectors.kit.errors import classify

if TYPE_CHECKING:
    from erpbridge.connectors.kit.auth import Auth
    from erpbridge.exchange.log import Exchange, ExchangeLog

#: Methods that may try to connect again by default: reads. Writes never do, not even the idempotent
#: PUT and DELETE: the outbox retries writes, durably and counted.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
#: Seconds a connect may take at most when ``timeout`` is a plain number: a system that does not
#: accept a connection in this time will not, and idempotent calls try to connect 1 + retries times.
CONNECT_TIMEOUT = 10.0
_IDEMPOTENT_KEY, _WHAT_KEY = "erpbridge.idempotent", "erpbridge.what"  # request extensions (httpcore ignores them)


class CallOptions(TypedDict, total=False):
    """What a call may carry besides method and path (httpx's meaning unless said)."""

    params: Any
    json: Any
    data: Any
    content: Any
    headers: Mapping[str, str] | None
    #: This call's own timeout (seconds or :class:`httpx.Timeout`); default the adapter's.
    timeout: float | httpx.Timeout
    #: May a failed connect be tried again? Default: by method (GET, HEAD, OPTIONS yes; writes no).
    #: Say True for a read sent by POST (JSON-RPC, GraphQL queries, a token request).
    idempotent: bool
    #: False: without the adapter's auth (a login, a token request).
    authenticate: bool
    #: The call's name in error texts; default ``METHOD /path`` (``model.sale.sale.create`` reads better).
    what: str


class HttpAdapter:
    """An HTTP client for one system; safe to share between threads (httpx's pool is).

    ``base_url`` is the system's root (paths of calls are relative to it, an absolute URL is
    taken as it is); ``system`` its configured name (in errors and the exchange log);
    ``connector`` the connector's name (the first part of measuring points, e.g. ``magento``);
    ``timeout`` seconds per read, write and pool wait (an :class:`httpx.Timeout` to set each);
    ``connect_retries`` how often an idempotent call tries to connect again (writes never do:
    the outbox retries those durably); ``auth`` how calls prove who they are
    (:mod:`~erpbridge.connectors.kit.auth`); ``headers`` sent with every call; ``verify`` as
    httpx's (False, a CA bundle's path, an :class:`ssl.SSLContext`).
    """

    def __init__(self, base_url: str, *, system: str, connector: str, timeout: float | httpx.Timeout = 30,
                 exchange_log: ExchangeLog | None = None, auth: Auth | None = None,
                 headers: Mapping[str, str] | None = None, connect_retries: int = 2, verify: Any = True):
        self.base_url = httpx.URL(base_url)
        self.system, self.connector = system, connector
        self.exchange_log = exchange_log
        self.auth = auth
        if not isinstance(timeout, httpx.Timeout):
            timeout = httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT))
        self.timeout = timeout
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout, headers=headers, follow_redirects=False,
                                 transport=_ConnectRetries(connect_retries, verify=verify))
        self._secret_params = frozenset(p.lower() for p in getattr(auth, "secret_params", ()))

    # -- calls --------------------------------------------------------------------------------

    def request(self, method: str, path: str | httpx.URL, *, flow: str, point: str, accept: Collection[int] = (),
                record_bodies: bool = True, **options: Unpack[CallOptions]) -> httpx.Response:
        """One call, recorded in the exchange log as one exchange (``point``: ``<connector>.<operation>``).
        Returns the answer; raises a :class:`GeneralError` or :class:`MessageError` unless its status
        is in ``accept`` (e.g. ``accept=(404,)`` for a look-up that may find nothing). ``options``
        are :class:`CallOptions`. ``record_bodies=False`` keeps both bodies out of the log (a call
        that carries or answers secrets: the status and URL are still recorded)."""
        request = self.build(method, path, **options)
        described = self.describe(request, options if record_bodies else {}) if self.exchange_log else None
        with self.measure(flow, point, request=described) as exchange:
            response = self.transmit(request, flow=flow, authenticate=options.get("authenticate", True))
            exchange.response = {"status": response.status_code, "body": _body(response) if record_bodies else None}
            if response.status_code not in accept:
                self.check(response)
        return response

    def send(self, method: str, path: str | httpx.URL, *, accept: Collection[int] = (), flow: str | None = None,
             **options: Unpack[CallOptions]) -> httpx.Response:
        """:meth:`request` without an exchange of its own, for a connector that records one
        exchange around several calls (Tryton: a re-login and a skipped warning are one call).
        ``flow`` is that of the exchanges the auth may make (token requests)."""
        request = self.build(method, path, **options)
        response = self.transmit(request, flow=flow, authenticate=options.get("authenticate", True))
        if response.status_code not in accept:
            self.check(response)
        return response

    def json(self, response: httpx.Response) -> Any:
        """The answer's JSON; a body that is not JSON (a proxy's error page) is a :class:`GeneralError`."""
        try:
            return response.json()
        except ValueError:
            raise GeneralError(f"{self.system} answered {_what(response.request)} with something that is not JSON: "
                               f"{' '.join(response.text.split())[:80]!r}") from None

    def close(self) -> None:
        self.http.close()

    # -- the steps, for connectors that compose their own calls ---------------------------------

    def build(self, method: str, path: str | httpx.URL, **options: Unpack[CallOptions]) -> httpx.Request:
        request = self.http.build_request(method, path, params=options.get("params"), json=options.get("json"),
                                          data=options.get("data"), content=options.get("content"),
                                          headers=options.get("headers"), timeout=options.get("timeout", self.timeout))
        idempotent = options.get("idempotent")
        request.extensions[_IDEMPOTENT_KEY] = method.upper() in IDEMPOTENT if idempotent is None else idempotent
        if options.get("what"):
            request.extensions[_WHAT_KEY] = options["what"]
        return request

    def transmit(self, request: httpx.Request, *, flow: str | None = None, authenticate: bool = True) -> httpx.Response:
        """Send with the adapter's auth, renewing it once when the system refuses it; failures to
        get an answer at all become :class:`GeneralError`. Any answer is returned, unclassified."""
        auth = self.auth if authenticate else None
        if auth is not None:
            auth.apply(request, self, flow)
        response = self._send(request)
        if auth is not None and auth.renew(response, self, flow):
            auth.apply(request, self, flow)
            response = self._send(request)
        return response

    def check(self, response: httpx.Response) -> None:
        """Raise the error the answer stands for, if any (see :meth:`classify`)."""
        error = self.classify(response, _what(response.request))
        if error is not None:
            raise error

    def classify(self, response: httpx.Response, what: str) -> ConnectorError | None:
        """The hook: which error an answer stands for (None: success). Override it to read a
        system's own signs (``super().classify(...)`` first for the HTTP status), e.g. a 200 whose
        body says "throttled"; :func:`~erpbridge.connectors.kit.errors.retry_after` and
        :func:`~erpbridge.connectors.kit.errors.system_words` help."""
        return classify(response, self.system, what)

    @contextlib.contextmanager
    def measure(self, flow: str, point: str, request: Any = None) -> Iterator[Exchange]:
        """One exchange in the log around the block (set ``exchange.response`` inside); without an
        exchange log, the block just runs."""
        if self.exchange_log is None:
            from erpbridge.exchange.log import Exchange

            yield Exchange(self.system, flow, point, request=request)
            return
        with self.exchange_log.measure(self.system, flow, point, request=request) as exchange:
            yield exchange

    def describe(self, request: httpx.Request, options: CallOptions) -> dict:
        """The request as the exchange log keeps it: method, URL without credentials or secret
        query parameters, and the body; never a header (``Authorization``, cookies and API keys
        live there)."""
        url = request.url.copy_with(username=None, password=None)
        secret = [key for key in url.params if self._is_secret_param(key)]
        for key in secret:
            url = url.copy_remove_param(key)
        body = options.get("json")
        if body is None:
            body = options.get("data")
        if body is None and options.get("content") is not None:
            body = _text(request.content, request.headers.get("Content-Type", ""))
        return {"method": request.method, "url": str(url), "body": body}

    def _is_secret_param(self, key: str) -> bool:
        if key.lower() in self._secret_params:
            return True
        return self.exchange_log is not None and self.exchange_log.redact.is_secret(key)

    def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            return self.http.send(request)
        except httpx.TimeoutException as exc:
            raise GeneralError(f"{self.system} at {_origin(request)} did not answer {_what(request)} in time "
                               f"({type(exc).__name__})") from None
        except httpx.ConnectError as exc:  # refused, DNS
            raise GeneralError(f"{self.system} at {_origin(request)} is unreachable: {_what(request)}: "
                               f"{exc or type(exc).__name__}") from None
        except httpx.TransportError as exc:  # reset, closed without an answer, broken protocol
            raise GeneralError(f"{self.system} at {_origin(request)} broke off {_what(request)}: "
                               f"{exc or type(exc).__name__}") from None


class _ConnectRetries(httpx.BaseTransport):
    """httpx's own connect retries (``HTTPTransport(retries=...)``: only when no connection could
    be made, so nothing was sent), for idempotent requests only: a write goes through a pool
    without them, so the adapter never sends it twice by itself."""

    def __init__(self, retries: int, *, verify: Any = True):
        verify = httpx.create_ssl_context(verify=verify)  # one for both (loading the CA bundle takes a while)
        self._retrying = httpx.HTTPTransport(retries=retries, verify=verify)
        self._once = httpx.HTTPTransport(verify=verify)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        transport = self._retrying if request.extensions.get(_IDEMPOTENT_KEY) else self._once
        return transport.handle_request(request)

    def close(self) -> None:
        self._retrying.close()
        self._once.close()


def _what(request: httpx.Request) -> str:
    """The call's name in error texts."""
    return request.extensions.get(_WHAT_KEY) or f"{request.method} {request.url.path}"


def _origin(request: httpx.Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc.decode('ascii')}"


def _body(response: httpx.Response) -> Any:
    return _text(response.content, response.headers.get("Content-Type", ""))


def _text(content: bytes, content_type: str) -> Any:
    """A body for the log: text as text (JSON text is parsed by the log's redaction), anything
    else by its size."""
    if not content:
        return None
    kind = content_type.split(";", 1)[0].strip().lower()
    if not kind or kind.startswith("text/") or kind.endswith(("json", "xml", "x-www-form-urlencoded")):
        try:
            return content.decode()
        except UnicodeDecodeError:
            pass
    return f"<{len(content)} bytes of {kind or 'data'}>"
