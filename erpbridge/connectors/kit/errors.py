"""How an HTTP answer becomes one of the connector errors (:mod:`erpbridge.connectors.base`).

The rule (the semaphore acts on it): when the *system* cannot serve anyone (HTTP 5xx, 408, 429,
401 after a renewed login) it is a :class:`GeneralError`, for exactly as long as the system said
when it sent ``Retry-After``; any other 4xx is about *this* request, a :class:`MessageError`
carrying the system's own words. :func:`classify` is the default an adapter starts from;
:func:`retry_after` and :func:`system_words` are there for connectors that refine it (Shopify's
throttled 200, Odoo's 200 with an ``error`` member).
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx

from erpbridge.connectors.base import ConnectorError, GeneralError, MessageError

#: The longest pause a ``Retry-After`` may impose: longer ones (a day of "maintenance") are cut to
#: this, and the semaphore asks again then.
MAX_RETRY_AFTER = 3600.0
#: Characters of a body quoted in an error when it holds no message the kit recognises.
SNIPPET = 200


def retry_after(response: httpx.Response) -> float | None:
    """The seconds ``Retry-After`` asks for (delay-seconds or an HTTP date), clamped to
    0..:data:`MAX_RETRY_AFTER`; None when absent or unreadable. A date is counted from the
    answer's own ``Date`` header when it has one, so a skewed clock on either side does not matter."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            until = email.utils.parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError, IndexError):
            return None
        try:
            now = email.utils.parsedate_to_datetime(response.headers["Date"]).timestamp()
        except (KeyError, TypeError, ValueError, IndexError):
            now = time.time()
        seconds = until - now
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def system_words(response: httpx.Response) -> str:
    """What the system said was wrong: the message of a JSON error body in the common shapes, else
    the start of the body as text, else the reason phrase."""
    words = None
    if response.content[:1] in (b"{", b"["):
        try:
            words = _message_in(response.json())
        except ValueError:
            pass
    if not words:
        words = " ".join(response.text.split())[:SNIPPET]
    return words or response.reason_phrase


def _message_in(data: Any) -> str | None:
    """``message`` (Magento's with its ``parameters`` substituted), ``error`` as text with its
    ``error_description`` (OAuth 2), ``error.message`` (Business Central, Odoo) or
    ``error.message.value`` (OData v2/SAP), ``errors`` (Shopify, GraphQL, JSON:API), ``detail``
    or ``title`` (problem+json)."""
    if isinstance(data, list):
        texts = [t for t in (_message_in(item) for item in data[:3]) if t]
        return "; ".join(texts) or None
    if not isinstance(data, dict):
        return data if isinstance(data, str) and data else None
    message = data.get("message")
    if isinstance(message, str) and message:
        return _substitute(message, data.get("parameters"))
    if isinstance(message, dict) and isinstance(message.get("value"), str):
        return message["value"]
    error = data.get("error")
    if isinstance(error, str) and error:
        description = data.get("error_description")
        return f"{error}: {description}" if isinstance(description, str) and description else error
    if isinstance(error, dict):
        text = _message_in(error)
        code = error.get("code")
        return f"{text} ({code})" if text and isinstance(code, str) and code and code not in text else text
    errors = data.get("errors")
    if isinstance(errors, dict):  # {"title": ["can't be blank"]}
        return "; ".join(f"{key} {' '.join(map(str, value)) if isinstance(value, list) else value}"
                         for key, value in list(errors.items())[:3]) or None
    if errors:
        return _message_in(errors)
    for key in ("detail", "title", "error_description"):
        if isinstance(data.get(key), str) and data[key]:
            return data[key]
    return None


def _substitute(message: str, parameters: Any) -> str:
    """Magento's placeholders: ``%1``, ``%2``... from a list, ``%name`` from a mapping."""
    if isinstance(parameters, list):
        for number in range(len(parameters), 0, -1):  # %10 before %1
            message = message.replace(f"%{number}", str(parameters[number - 1]))
    elif isinstance(parameters, dict):
        for name in sorted(parameters, key=len, reverse=True):
            message = message.replace(f"%{name}", str(parameters[name]))
    return message


def classify(response: httpx.Response, system: str, what: str) -> ConnectorError | None:
    """The default reading of an answer: None for success (< 400), else the error to raise.
    ``what`` names the call in the text (``POST /V1/orders`` or ``model.sale.sale.create``)."""
    status = response.status_code
    if status < 400:
        return None
    said = f"{system} answered HTTP {status} to {what}: {system_words(response)}"
    if status == 429 or (status == 503 and "Retry-After" in response.headers):
        seconds = retry_after(response)
        return GeneralError(said if seconds is None else f"{said} (retry after {seconds:g} s)", retry_after=seconds)
    if status >= 500 or status in (401, 408):
        # 401: the credentials were refused (after the auth renewed them once): every message would
        # fail alike, so the system is unusable until someone fixes them, and no attempts are used up.
        return GeneralError(said)
    return MessageError(said)
