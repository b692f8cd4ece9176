"""Who may call what: ``Authorization: Bearer <API key>`` and one scope per endpoint.

No key (or an unknown or revoked one) is 401; a valid key without the endpoint's scope is 403.
"""

from __future__ import annotations

from fastapi.security import HTTPBearer
from starlette.requests import HTTPConnection

from erpbridge.api.keys import ApiKey
from erpbridge.api.problems import Problem


class ScopedKey(HTTPBearer):
    """The bearer scheme of the OpenAPI document and the check itself, in one dependency: the
    price lookup is on the hot path, and every nested dependency costs FastAPI a resolution."""

    def __init__(self, scope: str):
        super().__init__(auto_error=False, scheme_name="HTTPBearer",
                         description="An API key from `erpbridge keys create`")
        self.scope = scope

    async def __call__(self, request: HTTPConnection) -> ApiKey:  # type: ignore[override]
        return check_key(request, self.scope)


def check_key(request: HTTPConnection, scope: str) -> ApiKey:
    """The request's key if it holds ``scope``; the 401/403 problem otherwise."""
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "an API key is required: send 'Authorization: Bearer <key>'",
                      headers={"WWW-Authenticate": "Bearer"})
    key = request.app.state.keys.verify(token.strip())
    if key is None:
        raise Problem(401, "the API key is not valid (unknown or revoked)", headers={"WWW-Authenticate": "Bearer"})
    if not key.allows(scope):
        raise Problem(403, f"the API key lacks the scope {scope!r}", required_scope=scope)
    return key


def require(scope: str) -> ScopedKey:
    """A dependency that admits keys holding ``scope`` (or ``admin``)."""
    return ScopedKey(scope)
