"""JSON answers: fast serialisation (orjson), ETags for single resources, and cursors for lists."""

from __future__ import annotations

import base64
import binascii
import hashlib

import orjson
from fastapi import Request
from starlette.responses import Response

from erpbridge.api.problems import Problem


def dumps(value) -> bytes:
    return orjson.dumps(value, default=str)


def json_response(body: bytes | object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    content = body if isinstance(body, bytes) else dumps(body)
    return Response(content, status_code=status, media_type="application/json", headers=headers)


def etag_response(request: Request, body: bytes | object, headers: dict[str, str] | None = None) -> Response:
    """Answer a single resource with a strong ETag of its bytes; ``If-None-Match`` that matches
    gets 304 and no body, so a shop revalidating its cache moves no data."""
    content = body if isinstance(body, bytes) else dumps(body)
    tag = '"' + hashlib.blake2b(content, digest_size=12).hexdigest() + '"'
    all_headers = {"ETag": tag, "Cache-Control": "no-cache", **(headers or {})}
    match = request.headers.get("if-none-match")
    if match and (match.strip() == "*" or tag in [t.strip().removeprefix("W/") for t in match.split(",")]):
        return Response(status_code=304, headers=all_headers)
    return Response(content, media_type="application/json", headers=all_headers)


def store_response(request: Request, body: object, fallback: str | None) -> Response:
    """A read answered from the store: with an ETag, or, when the ERP was asked and could not
    answer (``fallback`` says why), without one and marked ``X-Erpbridge-Fallback``."""
    if not fallback:
        return etag_response(request, body, {"X-Erpbridge-Source": "store"})
    return json_response(body, headers={"X-Erpbridge-Source": "store", "X-Erpbridge-Fallback": fallback})


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    """The last key of the previous page; a cursor the API did not make is a 400."""
    if not cursor:
        return None
    try:
        return base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise Problem(400, "cursor is not one this API returned",
                      errors=[{"in": "query", "path": "cursor", "message": "malformed cursor"}]) from None
