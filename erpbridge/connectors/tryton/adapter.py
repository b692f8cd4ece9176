"""The adapter: Tryton's JSON-RPC over HTTP, on the adapter kit (:mod:`erpbridge.connectors.kit`).

Wire format (Tryton 8.2): ``POST <url>/<database>/rpc/`` with ``{"id", "method", "params"}``;
the last item of ``params`` is always the context. ``common.db.login`` answers a session key,
sent afterwards as ``Authorization: Session base64(user:uid:key)``. Decimal, date, datetime and
bytes travel as ``{"__class__": ...}`` objects (:func:`encode` / :func:`decode`).

The kit sends (one httpx pool, the timeouts), classifies what goes wrong on the way and records
the exchanges; what this adapter adds to a bare call is Tryton's own:

* **the context**: ``res.user.get_preferences`` once per session (it holds ``company``, which
  prices, price lists and sales depend on; the server does not add it by itself), merged with
  the call's own keys (``locations``, ``price_list``, ``active_ids``...);
* **re-login**: a session dies after Tryton's idle timeout, and ``account.invoice.post`` wants a
  fresh one; both answer HTTP 401, so the adapter logs in again and repeats the call once (a
  fresh session refused as well is a :class:`GeneralError`);
* **warnings**: a ``UserWarning`` is a question to a human ("pack without a carrier?"). A machine
  cannot answer it, but the integration has already decided, so the adapter records the warning
  as skipped with ``res.user.warning.skip`` and repeats the call (at most a few times);
* **errors as the outbox needs them**: connection refused, timeouts, HTTP 5xx, 429 (for as long
  as ``Retry-After`` says) and a refused login are :class:`GeneralError` (the system is
  unavailable: the semaphore goes offline), and so is any other HTTP error, since Tryton answers
  business errors inside a 200; a ``UserError`` (unknown product, missing address, domain
  validation...) is a :class:`TrytonUserError`, a :class:`MessageError` carrying Tryton's own
  message; every path out of a call ends in a result or a :class:`ConnectorError`;
* **the exchange log**: every call is one exchange with the measuring point
  ``tryton.<model>.<method>``, its params (without the context) and its result; a re-login
  and a skipped warning are part of the call's exchange, and the session key is never in it.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import threading
from decimal import Decimal
from typing import Any, Mapping

import httpx

from erpbridge.connectors.base import ConnectorError, GeneralError, MessageError
from erpbridge.connectors.kit import HttpAdapter

logger = logging.getLogger(__name__)

#: How often one call may be repeated after skipping a UserWarning.
MAX_WARNINGS = 5


class TrytonUserError(MessageError):
    """Tryton refused the request for a business reason; ``str()`` is Tryton's message."""

    def __init__(self, message: str, description: str = ""):
        super().__init__(f"{message} {description}".strip() if description and description not in message else message)
        self.message = message
        self.description = description


def encode(value: Any) -> Any:
    """``json.dumps(default=...)`` for the types Tryton's JSON-RPC knows by ``__class__``."""
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, dt.datetime):
        return {"__class__": "datetime", "year": value.year, "month": value.month, "day": value.day,
                "hour": value.hour, "minute": value.minute, "second": value.second, "microsecond": value.microsecond}
    if isinstance(value, dt.date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    if isinstance(value, (bytes, bytearray)):
        return {"__class__": "bytes", "base64": base64.b64encode(value).decode()}
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot send a {type(value).__name__} to Tryton")


def decode(obj: dict) -> Any:
    """``json.loads(object_hook=...)``: the inverse of :func:`encode` (datetimes are naive UTC)."""
    cls = obj.get("__class__")
    if cls is None:
        return obj
    if cls == "Decimal":
        return Decimal(obj["decimal"])
    if cls == "date":
        return dt.date(obj["year"], obj["month"], obj["day"])
    if cls == "datetime":
        return dt.datetime(obj["year"], obj["month"], obj["day"], obj["hour"], obj["minute"], obj["second"],
                           obj.get("microsecond", 0))
    if cls == "time":
        return dt.time(obj["hour"], obj["minute"], obj["second"], obj.get("microsecond", 0))
    if cls == "timedelta":
        return dt.timedelta(seconds=obj["seconds"])
    if cls == "bytes":
        return base64.b64decode(obj["base64"])
    return obj


class TrytonAdapter(HttpAdapter):
    """A logged-in JSON-RPC client for one Tryton database; safe to share between threads."""

    def __init__(self, url: str, database: str, user: str, password: str, *, timeout: float = 60,
                 language: str = "en", system: str = "tryton", exchange_log=None,
                 timeouts: Mapping[str, float] | None = None):
        """``timeouts``: seconds per call of one flow (a message's operation), instead of ``timeout``."""
        super().__init__(url, system=system, connector="tryton", timeout=timeout, exchange_log=exchange_log,
                         headers={"Content-Type": "application/json"})
        self.url = url.rstrip("/")
        self.endpoint = f"{self.url}/{database}/rpc/"
        self.user, self._password, self.language = user, password, language
        self.timeouts = dict(timeouts or {})
        self._lock = threading.Lock()
        self._authorization: str | None = None
        self.context: dict = {}

    # -- public calls ---------------------------------------------------------------------

    def model(self, flow: str, model: str, method: str, *params, context: dict | None = None) -> Any:
        """``model.<model>.<method>(*params, context)``, e.g. ``model(flow, "sale.sale", "quote", [id])``."""
        return self.call(flow, f"model.{model}.{method}", *params, context=context)

    def call(self, flow: str, method: str, *params, context: dict | None = None) -> Any:
        """One JSON-RPC call with the session's context, logged as one exchange (its re-login and
        skipped warnings included)."""
        timeout = self.timeouts.get(flow)  # the message's own (``systems.<name>.messages.<operation>.timeout``)
        with self.measure(flow, "tryton." + method.removeprefix("model."), request=list(params)) as exchange:
            exchange.response = result = self._answer_warnings(method, params, context, timeout)
        return result

    # -- session --------------------------------------------------------------------------

    def _answer_warnings(self, method: str, params: tuple, context: dict | None, timeout: float | None) -> Any:
        """The call, repeated after skipping each UserWarning Tryton asks (at most MAX_WARNINGS)."""
        for _ in range(MAX_WARNINGS):
            try:
                return self._in_session(method, params, context, timeout)
            except _Warning as warning:
                logger.info("Tryton warning %s on %s skipped: %s", warning.name, method, warning)
                skip = (warning.name, False)
            self._in_session("model.res.user.warning.skip", skip, context, timeout)  # outside the except: see _Warning
        try:
            return self._in_session(method, params, context, timeout)
        except _Warning as warning:
            raise MessageError(f"{method}: Tryton kept asking for confirmation after {MAX_WARNINGS} skipped "
                               f"warnings, the last: {warning}") from None

    def _in_session(self, method: str, params: tuple, context: dict | None, timeout: float | None = None) -> Any:
        """One post with the session, logging in again once when Tryton says it expired (idle
        timeout, or a call that wants a fresh one); a refused fresh session is a GeneralError."""
        authorization = self._authorization or self._login(None)
        try:
            return self._post(method, [*params, {**self.context, **(context or {})}], authorization, timeout)
        except _SessionExpired:
            pass
        authorization = self._login(authorization)
        try:
            return self._post(method, [*params, {**self.context, **(context or {})}], authorization, timeout)
        except _SessionExpired:
            raise GeneralError(f"Tryton at {self.url} refused a fresh session of {self.user!r} for {method}") from None

    def _login(self, expired: str | None) -> str:
        """Log in unless another thread already replaced the expired session."""
        with self._lock:
            if self._authorization and self._authorization != expired:
                return self._authorization
            try:
                uid, key, *_ = self._post("common.db.login", [self.user, {"password": self._password}, self.language],
                                          None)
                authorization = "Session " + base64.b64encode(f"{self.user}:{uid}:{key}".encode()).decode()
                self.context = self._post("model.res.user.get_preferences", [True, {}], authorization)
            except (_SessionExpired, MessageError) as exc:
                raise GeneralError(f"Tryton at {self.url} refused the login of {self.user!r}: {exc}") from None
            self._authorization = authorization
            return authorization

    # -- the wire -------------------------------------------------------------------------

    def _post(self, method: str, params: list, authorization: str | None, timeout: float | None = None) -> Any:
        body = json.dumps({"id": 1, "method": method, "params": params}, default=encode)
        login = authorization is None
        options = {"timeout": timeout} if timeout is not None else {}
        response = self.send("POST", self.endpoint, content=body, what=method, accept=(401, 403) if login else (401,),
                             headers={"Authorization": authorization} if authorization else None,
                             idempotent=login, **options)  # a login may try to connect again; a call may not
        if response.status_code == 401:
            raise _SessionExpired(f"Tryton at {self.url} ended the session")
        if response.status_code == 403:
            raise MessageError("wrong user or password")
        try:
            data = json.loads(response.text, object_hook=decode)
        except ValueError:
            raise GeneralError(f"Tryton at {self.url} answered {method} with something that is not JSON") from None
        error = data.get("error")
        if error is None:
            return data.get("result")
        raise _error(method, error)

    def classify(self, response: httpx.Response, what: str) -> ConnectorError | None:
        """Tryton answers business errors inside a 200; any other 4xx (a wrong database name, a
        proxy in the way) is about the system, not this message."""
        error = super().classify(response, what)
        return GeneralError(str(error)) if isinstance(error, MessageError) else error


class _SessionExpired(GeneralError):
    """HTTP 401: log in again. A GeneralError so that, should it ever escape, it still counts as
    what it is (the system refused us) instead of crashing the worker."""


class _Warning(MessageError):
    """A UserWarning. Handled by skipping it; a MessageError should it ever escape (a question no
    one will answer fails this message). Calls that handle one run after their ``except``
    clause, so a new warning or a 401 they meet is handled like any other."""

    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name


def _error(method: str, error: Any) -> Exception:
    """Turn the ``error`` member of an answer into the exception it stands for."""
    kind, args = (error[0], error[1]) if isinstance(error, list) and len(error) == 2 else (None, error)
    if kind == "UserError":
        message, description, *_ = [*args, "", None]
        return TrytonUserError(message, description or "")
    if kind == "UserWarning":
        name, message, *_ = [*args, ""]
        return _Warning(name, message)
    if kind == "ConcurrencyException":
        return MessageError(f"{method}: the record was changed by someone else meanwhile: {args}")
    if kind == "LoginException":
        return GeneralError(f"{method}: Tryton asks for another login step: {args}")
    # Anything else is an exception inside Tryton: (str(exception), traceback).
    text = kind if isinstance(kind, str) else str(error)
    return MessageError(f"{method} failed inside Tryton: {text}")
