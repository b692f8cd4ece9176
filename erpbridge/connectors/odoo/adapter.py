"""The adapter: Odoo's two external APIs on the adapter kit (:mod:`erpbridge.connectors.kit`).

Both reach the same ORM methods, so the connector calls one :meth:`OdooAdapter.execute`
(``model``, ``method``, the record ``ids`` for a record method, named arguments) and the
config's ``api`` picks the wire (sources: ``odoo/documentation:content/developer/reference/
external_api.rst``, ``odoo/odoo:addons/web/controllers/json2.py``, ``odoo/odoo:odoo/http.py``):

* ``jsonrpc`` (Odoo 17 to 19; deprecated in 19): ``POST /jsonrpc`` with
  ``{"jsonrpc": "2.0", "method": "call", "params": {"service": "object", "method": "execute_kw",
  "args": [db, uid, password, model, method, args, kwargs]}}``; ``uid`` comes from
  ``common.login`` once, an API key may stand for the password. Every answer is an HTTP 200:
  a failure is its ``error`` member, ``{"code": 200, "message": "Odoo Server Error", "data":
  {"name": "odoo.exceptions.UserError", "message": ..., "arguments", "context", "debug"}}``.
* ``json2`` (Odoo 19): ``POST /json/2/<model>/<method>`` with ``Authorization: bearer <api key>``
  (and ``X-Odoo-Database``), the body the named arguments plus ``ids`` and ``context``. Failures
  are HTTP statuses with ``{"name", "message", ...}``: 401 a refused key, 404 an unknown model or
  method, 422 a ``UserError`` (its ``http_status``) or a wrong signature, 500 anything else.

What is which error (the outbox acts on it):

* ``UserError``, ``ValidationError``, ``MissingError``, ``AccessError`` and any other exception
  inside a method: :class:`OdooUserError`, a :class:`MessageError` in Odoo's words;
* a concurrency error that outlived Odoo's own five tries (``odoo/service/model.py``
  ``retrying()``: ``SerializationFailure``, ``LockNotAvailable``, ``DeadlockDetected``): each call
  is its own transaction and Odoo rolled it back, so the adapter sends it again, up to
  ``concurrency_retries`` times after a short pause, then a :class:`GeneralError` (Odoo is too
  busy now, the message waits without using up an attempt);
* refused credentials (``AccessDenied``, ``common.login`` answering ``false``, HTTP 401),
  connections refused, timeouts, HTTP 5xx: :class:`GeneralError`.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from typing import Any, Literal

import httpx

from erpbridge.connectors.base import ConnectorError, GeneralError, MessageError
from erpbridge.connectors.kit import BearerToken, HttpAdapter

Api = Literal["jsonrpc", "json2"]
#: Odoo's names of the PostgreSQL errors its ``retrying()`` reruns (and a client may rerun too).
CONCURRENCY_ERRORS = frozenset({
    "psycopg2.errors.SerializationFailure", "psycopg2.errors.LockNotAvailable", "psycopg2.errors.DeadlockDetected",
    "psycopg2.extensions.TransactionRollbackError", "psycopg2.errors.TransactionRollbackError",
})
#: The longest pause before a call is sent again after a concurrency error (seconds).
CONCURRENCY_PAUSE = 0.5


class OdooUserError(MessageError):
    """Odoo refused the call for a business reason; ``name`` is Odoo's exception class."""

    def __init__(self, text: str, name: str = ""):
        super().__init__(text)
        self.name = name


class _Concurrency(GeneralError):
    """A concurrency error: the transaction was rolled back, the call may be sent again."""


class OdooAdapter(HttpAdapter):
    """One Odoo database through ``jsonrpc`` or ``json2``; safe to share between threads."""

    def __init__(self, url: str, database: str, api_key: str, *, api: Api = "jsonrpc", login: str | None = None,
                 timeout: float = 60, system: str = "odoo", exchange_log=None, concurrency_retries: int = 3):
        auth = BearerToken(api_key, scheme="bearer") if api == "json2" else None
        super().__init__(url.rstrip("/"), system=system, connector="odoo", timeout=timeout, exchange_log=exchange_log,
                         auth=auth, headers={"X-Odoo-Database": database} if api == "json2" else None)
        if api == "jsonrpc" and not login:
            raise ValueError("the jsonrpc API needs the login of the Odoo user")
        self.api, self.database, self.login = api, database, login
        self.concurrency_retries = concurrency_retries
        self._password = api_key
        self._uid: int | None = None
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def execute(self, flow: str, model: str, method: str, ids: list[int] | None = None, *,
                context: dict | None = None, **named: Any) -> Any:
        """``model.method(**named)`` on the records ``ids`` (None: an ``@api.model`` method),
        recorded as one exchange ``odoo.<model>.<method>`` (its repeats after concurrency errors too)."""
        request = {"ids": ids, **named} if ids is not None else named
        with self.measure(flow, f"odoo.{model}.{method}", request=request) as exchange:
            for attempt in range(self.concurrency_retries + 1):
                try:
                    exchange.response = result = self._call(model, method, ids, named, context or {})
                    return result
                except _Concurrency as exc:
                    if attempt == self.concurrency_retries:
                        raise GeneralError(f"{exc} (still after {attempt + 1} tries)") from None
                    time.sleep(random.uniform(0, CONCURRENCY_PAUSE * 2 ** attempt))
        raise AssertionError("unreachable")

    # -- the wires ------------------------------------------------------------------------

    def _call(self, model: str, method: str, ids, named: dict, context: dict) -> Any:
        what = f"{model}.{method}"
        if self.api == "json2":
            body = {**named, "context": context, **({"ids": ids} if ids is not None else {})}
            response = self.send("POST", f"/json/2/{model}/{method}", json=body, what=what)
            return self.json(response)
        args = [ids] if ids is not None else []
        return self._rpc("object", "execute_kw",
                         [self.database, self._login(), self._password, model, method, args,
                          {**named, "context": context}],
                         what)

    def _login(self) -> int:
        with self._lock:
            if self._uid is None:
                uid = self._rpc("common", "login", [self.database, self.login, self._password], "common.login",
                                idempotent=True)
                if not uid:
                    raise GeneralError(f"{self.system}: Odoo refused the login of {self.login!r} to database "
                                       f"{self.database!r} (wrong login or API key)")
                self._uid = uid
            return self._uid

    def _rpc(self, service: str, method: str, args: list, what: str, idempotent: bool = False) -> Any:
        body = {"jsonrpc": "2.0", "method": "call", "params": {"service": service, "method": method, "args": args},
                "id": next(self._ids)}
        data = self.json(self.send("POST", "/jsonrpc", json=body, what=what, idempotent=idempotent))
        if not isinstance(data, dict):
            raise GeneralError(f"{self.system} answered {what} with JSON that is not a JSON-RPC answer")
        if "error" in data:
            raise self._error(what, data["error"])
        return data.get("result")

    def _error(self, what: str, error: Any) -> ConnectorError:
        """The exception a JSON-RPC ``error`` member stands for (``odoo/http.py`` ``serialize_exception``)."""
        error = error if isinstance(error, dict) else {"message": str(error)}
        data = error.get("data") if isinstance(error.get("data"), dict) else {}
        name, message = data.get("name") or "", data.get("message") or error.get("message") or "no message"
        said = f"{self.system} refused {what}: {message}"
        if name in CONCURRENCY_ERRORS:
            return _Concurrency(f"{self.system}: {what} met a concurrency error in Odoo ({name}: {message})")
        if name == "odoo.exceptions.AccessDenied" or error.get("code") == 100:  # 100: session expired
            self._uid = None
            return GeneralError(f"{self.system}: Odoo refused the credentials of {self.login!r} for {what}: {message}")
        if name.startswith("odoo.exceptions."):
            return OdooUserError(said, name)
        return OdooUserError(f"{self.system}: {what} failed inside Odoo: {name or 'error'}: {message}", name)

    def classify(self, response: httpx.Response, what: str) -> ConnectorError | None:
        """JSON-2 statuses as the kit reads them; a 422 (``UserError``) or 404 says Odoo's words."""
        error = super().classify(response, what)
        if isinstance(error, MessageError):
            return OdooUserError(str(error))
        return error
