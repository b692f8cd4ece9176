"""Errors as ``application/problem+json`` (RFC 9457), with the field paths that failed.

Every error the API answers goes through here, so a client sees one shape::

    {"type": "about:blank", "title": "Unprocessable Content", "status": 422,
     "detail": "the request has 2 invalid fields",
     "errors": [{"in": "body", "path": "lines.0.total", "message": "..."}]}

Unexpected exceptions become a bare 500 problem: no stack trace, no exception text, nothing
from the store or the config ever reaches the client (the server log has the details).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

logger = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    """Raise to answer with a problem document."""

    def __init__(self, status: int, detail: str, *, errors: list[dict] | None = None,
                 headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = headers
        self.extra = extra


def problem_response(status: int, detail: str | None = None, *, errors: list[dict] | None = None,
                     headers: dict[str, str] | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status}
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    return Response(orjson.dumps(body, default=str), status_code=status, media_type=MEDIA_TYPE, headers=headers)


def field_errors(errors: list[dict], *, where: str | None = None) -> list[dict]:
    """pydantic's errors as ``{"in", "path", "message"}`` with dotted paths (``lines.0.sku``)."""
    out = []
    for error in errors:
        loc = list(error.get("loc", ()))
        place = where
        if place is None and loc and loc[0] in ("body", "query", "path", "header", "cookie"):
            place = loc.pop(0)
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        out.append({"in": place or "body", "path": ".".join(str(p) for p in loc), "message": message})
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_request: Request, exc: Problem) -> Response:
        return problem_response(exc.status, exc.detail, errors=exc.errors, headers=exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> Response:
        errors = field_errors(list(exc.errors()))
        return problem_response(422, f"the request has {len(errors)} invalid field(s)", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != HTTPStatus(exc.status_code).phrase else None
        return problem_response(exc.status_code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(500, "internal error; the server log has the details")
