"""What every page of the control center shares: templates, the signed-in user, roles, forms
with their CSRF check, and the security headers.

Handlers are plain functions (FastAPI runs them in its thread pool, since they read the store);
the form is read by an async dependency first, because the body can only be awaited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from erpbridge.control import sessions
from erpbridge.control.users import User, get_user

templates = Environment(loader=PackageLoader("erpbridge.control", "templates"),
                        autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)
templates.filters["when"] = lambda t: t.strftime("%Y-%m-%d %H:%M:%S") if t else ""

HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; "
                               "form-action 'self'",
    "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class SignInNeeded(Exception):
    """A page was asked for without a valid session: GETs go to the sign-in page, changes are refused."""


class Refused(Exception):
    """The signed-in user may not do this (403), or the form's CSRF token is wrong."""

    def __init__(self, why: str, status: int = 403):
        super().__init__(why)
        self.status = status


@dataclass
class Session:
    user: User
    nonce: str
    key: bytes

    @property
    def csrf(self) -> str:
        return sessions.csrf_token(self.key, self.nonce)


def base(request: Request) -> str:
    """The path the control center is mounted at (``/control``)."""
    return request.scope.get("root_path", "")


def session_of(request: Request) -> Session | None:
    hub = request.app.state.hub
    key = sessions.control_key(hub.engine)
    data = sessions.unseal(key, "session", request.cookies.get(sessions.SESSION_COOKIE), sessions.SESSION_SECONDS)
    if data is None:
        return None
    user = get_user(hub.engine, user_id=data.get("u"))
    if user is None or user.disabled_at is not None or user.stamp != data.get("s"):
        return None
    return Session(user, data["n"], key)


def signed_in(request: Request) -> Session:
    session = session_of(request)
    if session is None:
        raise SignInNeeded()
    return session


def role(needed: str):
    """A dependency: the session, if its user's role includes ``needed``."""

    def check(session: Session = Depends(signed_in)) -> Session:
        if not session.user.can(needed):
            raise Refused(f"{session.user.name} is a {session.user.role}: this needs the role {needed}")
        return session

    return check


async def form(request: Request) -> dict[str, Any]:
    """The posted form (application/x-www-form-urlencoded; repeated fields become lists), after
    its CSRF token was checked against the session's (or the pre-session's) nonce."""
    body = await request.body()
    fields: dict[str, Any] = {}
    for name, value in parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True):
        if name in fields:
            fields[name] = (fields[name] if isinstance(fields[name], list) else [fields[name]]) + [value]
        else:
            fields[name] = value
    key = sessions.control_key(request.app.state.hub.engine)
    nonce = None
    for cookie, purpose, age in ((sessions.SESSION_COOKIE, "session", sessions.SESSION_SECONDS),
                                 (sessions.PRE_COOKIE, "pre", sessions.PRE_SECONDS)):
        data = sessions.unseal(key, purpose, request.cookies.get(cookie), age)
        if data is not None and sessions.csrf_ok(key, data["n"], fields.get("csrf")):
            nonce = data["n"]
    if nonce is None:
        raise Refused("the form's CSRF token is missing or does not match this session: reload the page")
    return fields


def page(request: Request, template: str, session: Session | None, status: int = 200, **context) -> HTMLResponse:
    html = templates.get_template(template).render(
        base=base(request), user=session.user if session else None, csrf=session.csrf if session else "",
        path=request.url.path, query=request.query_params, **context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def redirect(request: Request, path: str, **params) -> RedirectResponse:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return RedirectResponse(base(request) + path + (f"?{query}" if query else ""), status_code=303, headers=HEADERS)


def one(fields: dict, name: str) -> str:
    """A form field that must be given once."""
    value = fields.get(name, "")
    return value[-1] if isinstance(value, list) else value


def many(fields: dict, name: str) -> list[str]:
    value = fields.get(name, [])
    return value if isinstance(value, list) else [value]
