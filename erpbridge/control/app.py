"""The control center: the operators' web pages, served by the API process under ``/control``.

Mounted by :func:`erpbridge.api.app.create_api`. Everything but the sign-in page and the
vendored script needs a session (an API key opens nothing here); every POST needs the form's
CSRF token; changes need the role ``operator``. Pages are rendered on the server (Jinja2), with
htmx (vendored, no CDN) only to swap a filtered table in place.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from erpbridge.control import alerts, charts, exchanges, kpis, overview, reconciliation, releases, sessions, web
from erpbridge.control import messages as msgs
from erpbridge.control.tables import ROLES
from erpbridge.control.users import authenticate, change_user, create_user, get_user, list_users
from erpbridge.control.web import Refused, Session, SignInNeeded, form, many, one, page, redirect, role, signed_in

STATIC = files("erpbridge.control") / "static"
#: The newest alerts the overview shows (the alerts page has them all).
OVERVIEW_ALERTS = 10


def control_app(hub) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.hub = hub
    app.state.limiter = sessions.SignInLimiter()

    @app.exception_handler(SignInNeeded)
    def _sign_in(request: Request, exc: SignInNeeded) -> Response:
        if request.method == "GET":
            return redirect(request, "/login", next=request.url.path)
        return JSONResponse({"detail": "sign in first"}, status_code=401, headers=web.HEADERS)

    @app.exception_handler(Refused)
    def _refused(request: Request, exc: Refused) -> Response:
        return page(request, "refused.html", web.session_of(request), status=exc.status, why=str(exc))

    @app.exception_handler(ValueError)
    def _bad_input(request: Request, exc: ValueError) -> Response:
        return page(request, "refused.html", web.session_of(request), status=400, why=str(exc))

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in ("htmx.min.js", "control.css"):
            return Response(status_code=404)
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        return Response((STATIC / name).read_bytes(), media_type=kind,
                        headers={"Cache-Control": "max-age=86400", "X-Content-Type-Options": "nosniff"})

    # -- signing in ---------------------------------------------------------------------------

    @app.get("/login")
    def login_form(request: Request) -> HTMLResponse:
        key = sessions.control_key(hub.engine)
        pre = sessions.new_pre_session(key)
        response = page(request, "login.html", None, csrf_pre=sessions.csrf_token(key, sessions.unseal(
            key, "pre", pre, sessions.PRE_SECONDS)["n"]), next=request.query_params.get("next", ""))
        _cookie(request, response, sessions.PRE_COOKIE, pre, sessions.PRE_SECONDS)
        return response

    @app.post("/login")
    def login(request: Request, fields: dict = Depends(form)) -> Response:
        name, password = one(fields, "name"), one(fields, "password")
        client = request.client.host if request.client else "?"
        limiter: sessions.SignInLimiter = app.state.limiter
        wait = limiter.retry_after(f"user:{name}", f"client:{client}")
        if wait > 0:
            return page(request, "refused.html", None, status=429,
                        why=f"too many failed sign-ins: try again in {int(wait) + 1} s")
        user = authenticate(hub.engine, name, password)
        if user is None:
            limiter.failed(f"user:{name}", f"client:{client}")
            return page(request, "refused.html", None, status=401, why="unknown user or wrong password")
        target = one(fields, "next")
        if not target.startswith(web.base(request) + "/") or "//" in target:  # only back into the control center
            target = web.base(request) + "/"
        response = RedirectResponse(target, status_code=303, headers=web.HEADERS)
        _cookie(request, response, sessions.SESSION_COOKIE,
                sessions.new_session(sessions.control_key(hub.engine), user.id, user.stamp), sessions.SESSION_SECONDS)
        response.delete_cookie(sessions.PRE_COOKIE, path=web.base(request) or "/")
        return response

    @app.post("/logout")
    def logout(request: Request, session: Session = Depends(signed_in), fields: dict = Depends(form)) -> Response:
        response = redirect(request, "/login")
        response.delete_cookie(sessions.SESSION_COOKIE, path=web.base(request) or "/")
        return response

    # -- overview -----------------------------------------------------------------------------

    @app.get("/")
    def overview_page(request: Request, session: Session = Depends(signed_in)) -> HTMLResponse:
        recent = alerts.history(hub.engine, limit=OVERVIEW_ALERTS)
        figures = kpis.cached(hub)
        hours = hub.config.control.kpis.window_hours
        return page(request, "overview.html", session, kpis=figures, alerts=recent,
                    charts=charts.kpi_charts(hub, figures, hours), sample_minutes=kpis.SAMPLE_STEP // 60,
                    alerts_more=len(recent) == OVERVIEW_ALERTS, **overview.overview(hub))

    @app.post("/systems/{name}/probe")
    def probe(request: Request, name: str, session: Session = Depends(role("operator")),
              fields: dict = Depends(form)) -> Response:
        overview.probe_now(hub, name, actor=session.user.name)
        return redirect(request, "/")

    # -- messages -----------------------------------------------------------------------------

    @app.get("/messages")
    def messages_page(request: Request, session: Session = Depends(signed_in)) -> HTMLResponse:
        flt = msgs.Filter.of(request.query_params)
        before = _int(request.query_params.get("before"))
        rows = msgs.page_of(hub.engine, flt, before)
        template = "messages_rows.html" if request.headers.get("HX-Request") else "messages.html"
        return page(request, template, session, filter=flt, rows=rows, choices=msgs.choices(hub.engine),
                    more=len(rows) == msgs.PAGE, actions=msgs.ACTIONS)

    @app.get("/messages/{message_id}")
    def message_page(request: Request, message_id: int, session: Session = Depends(signed_in)) -> HTMLResponse:
        found = msgs.message(hub.engine, message_id)
        if found is None:
            raise Refused(f"no message {message_id}", status=404)
        return page(request, "message.html", session, message=found, actions=msgs.ACTIONS)

    @app.post("/messages/preview")
    def messages_preview(request: Request, session: Session = Depends(role("operator")),
                         fields: dict = Depends(form)) -> HTMLResponse:
        flt = msgs.Filter.of(fields)
        chosen = [int(i) for i in many(fields, "id") if i.isdigit()] or None
        found = msgs.preview(hub.engine, one(fields, "action"), flt, chosen)
        return page(request, "preview.html", session, preview=found, reason=one(fields, "reason"),
                    scope="selected" if chosen else "filter", max_bulk=msgs.MAX_BULK)

    @app.post("/messages/apply")
    def messages_apply(request: Request, session: Session = Depends(role("operator")),
                       fields: dict = Depends(form)) -> HTMLResponse:
        ids = [int(i) for i in one(fields, "ids").split(",") if i.strip().isdigit()]
        flt = msgs.Filter.of(fields)
        done = msgs.apply(hub.engine, one(fields, "action"), ids, actor=session.user.name,
                          reason=one(fields, "reason"),
                          selection={"filter": flt.as_dict(), "scope": one(fields, "scope")})
        return page(request, "applied.html", session, applied=done, filter=flt)

    @app.get("/audit")
    def audit_page(request: Request, session: Session = Depends(signed_in)) -> HTMLResponse:
        rows = msgs.audit_page(hub.engine, _int(request.query_params.get("before")))
        return page(request, "audit.html", session, rows=rows, more=len(rows) == msgs.PAGE)

    # -- products awaiting release -----------------------------------------------------------

    @app.get("/products")
    def products_page(request: Request, session: Session = Depends(signed_in)) -> HTMLResponse:
        group = request.query_params.get("group", "").strip()
        rows = releases.page_of(hub, group)
        return page(request, "products.html", session, rows=rows, group=group, groups=releases.groups(hub),
                    more=len(rows) == releases.PAGE)

    @app.post("/products/preview")
    def products_preview(request: Request, session: Session = Depends(role("operator")),
                         fields: dict = Depends(form)) -> HTMLResponse:
        found = releases.preview(hub, skus=[s for s in many(fields, "sku") if s], group=one(fields, "group").strip())
        return page(request, "products_preview.html", session, preview=found, max_bulk=msgs.MAX_BULK)

    @app.post("/products/apply")
    def products_apply(request: Request, session: Session = Depends(role("operator")),
                       fields: dict = Depends(form)) -> HTMLResponse:
        skus = [s for s in one(fields, "skus").split("\n") if s.strip()]
        done = releases.apply(hub, skus, actor=session.user.name, reason=one(fields, "reason").strip(),
                              group=one(fields, "group"))
        return page(request, "products_applied.html", session, applied=done)

    # -- reconciliation -----------------------------------------------------------------------

    @app.get("/reconciliation")
    def reconciliation_page(request: Request, session: Session = Depends(signed_in)) -> HTMLResponse:
        return page(request, "reconciliation.html", session, runs=reconciliation.runs(hub),
                    stock_runs=reconciliation.stock_runs(hub), shown=reconciliation.SHOWN)

    # -- alerts -------------------------------------------------------------------------------

    @app.get("/alerts")
    def alerts_page(request: Request, session: Session = Depends(signed_in)) -> HTMLResponse:
        rows = alerts.history(hub.engine, _int(request.query_params.get("before")))
        return page(request, "alerts.html", session, rows=rows, more=len(rows) == alerts.PAGE)

    @app.post("/alerts/{alert_id}/acknowledge")
    def acknowledge(request: Request, alert_id: int, session: Session = Depends(role("operator")),
                    fields: dict = Depends(form)) -> Response:
        alerts.acknowledge(hub.engine, alert_id, session.user.name)
        return redirect(request, "/" if one(fields, "back") == "/" else "/alerts")

    # -- users --------------------------------------------------------------------------------

    @app.get("/users")
    def users_page(request: Request, session: Session = Depends(role("admin"))) -> HTMLResponse:
        return page(request, "users.html", session, users=list_users(hub.engine), roles=ROLES)

    @app.post("/users")
    def user_create(request: Request, session: Session = Depends(role("admin")),
                    fields: dict = Depends(form)) -> Response:
        user = create_user(hub.engine, one(fields, "name"), one(fields, "role"), one(fields, "password"))
        _audited(session, "create user", user)
        return redirect(request, "/users")

    @app.post("/users/{user_id}")
    def user_change(request: Request, user_id: int, session: Session = Depends(role("admin")),
                    fields: dict = Depends(form)) -> Response:
        user = get_user(hub.engine, user_id=user_id)
        if user is None:
            raise Refused(f"no user {user_id}", status=404)
        user = change_user(hub.engine, user.name, role=one(fields, "role") or None,
                           disabled={"active": False, "disabled": True}.get(one(fields, "state")))
        _audited(session, "change user", user)
        return redirect(request, "/users")

    def _audited(session: Session, action: str, user) -> None:
        with hub.engine.begin() as conn:
            msgs.audit(conn, session.user.name, action, f"user {user.name}", ids=[user.id],
                       reason=f"role {user.role}, {'disabled' if user.disabled_at else 'active'}")

    # -- exchange log -------------------------------------------------------------------------

    @app.get("/exchanges")
    def exchanges_page(request: Request, session: Session = Depends(signed_in)) -> HTMLResponse:
        search = exchanges.Search.of(request.query_params)
        rows = exchanges.page_of(hub, search, _int(request.query_params.get("before")))
        template = "exchanges_rows.html" if request.headers.get("HX-Request") else "exchanges.html"
        return page(request, template, session, search=search, rows=rows, more=len(rows) == exchanges.PAGE,
                    choices=exchanges.choices(hub))

    @app.get("/exchanges/{entry_id}")
    def exchange_page(request: Request, entry_id: int, session: Session = Depends(signed_in)) -> HTMLResponse:
        entry = exchanges.entry(hub, entry_id)
        if entry is None:
            raise Refused(f"no exchange log entry {entry_id}", status=404)
        return page(request, "exchange.html", session, entry=entry)

    return app


def _cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path=web.base(request) or "/", secure=True, httponly=True,
                        samesite="strict")


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None
