"""Who may call what: ``Authorization: Bearer <API key>`` and one scope per endpoint.

No key (or an unknown or revoked one) is 401; a valid key without the endpoint's scope is 403.
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from erpbridge.api.keys import ApiKey
from erpbridge.api.problems import Problem

_bearer = HTTPBearer(auto_error=False, description="An API key from `erpbridge keys create`")


def require(scope: str):
    """A dependency that admits keys holding ``scope`` (or ``admin``)."""

    async def check(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> ApiKey:
        if credentials is None:
            raise Problem(401, "an API key is required: send 'Authorization: Bearer <key>'",
                          headers={"WWW-Authenticate": "Bearer"})
        key = request.app.state.keys.verify(credentials.credentials)
        if key is None:
            raise Problem(401, "the API key is not valid (unknown or revoked)", headers={"WWW-Authenticate": "Bearer"})
        if not key.allows(scope):
            raise Problem(403, f"the API key lacks the scope {scope!r}", required_scope=scope)
        return key

    check.__name__ = f"require_{scope.replace(':', '_')}"
    return check
