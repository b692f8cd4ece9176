"""Who gets into the control center: only signed-in users, by role; never a shop's API key;
never a form without its CSRF token; and not by guessing passwords."""

from __future__ import annotations

import json
import re

from control_hub import PASSWORD, token_in

PAGES = ("/control/", "/control/messages", "/control/exchanges", "/control/alerts", "/control/audit",
         "/control/users")


def test_no_page_without_signing_in_and_an_api_key_opens_none(hub):
    token = json.loads(hub.cli("keys", "create", "--scopes", "admin", "--json").stdout)["token"]
    for headers in ({}, {"Authorization": f"Bearer {token}"}):
        client = hub.anonymous(headers=headers)
        for path in PAGES:
            answer = client.get(path)
            assert answer.status_code == 303 and answer.headers["location"].startswith("/control/login"), path
        refused = client.post("/control/messages/apply", data={"action": "retry", "ids": "1", "reason": "x"})
        assert refused.status_code in (401, 403)
    assert hub.anonymous().get("/control/static/htmx.min.js").status_code == 200  # the script needs no session


def test_sign_in_sets_a_secure_session_and_every_page_answers(hub):
    viewer = hub.sign_in("viewer")
    for path in PAGES[:-1]:  # /control/users is the admins' (test_only_an_admin_manages_users...)
        answer = viewer.get(path)
        assert answer.status_code == 200, (path, answer.text)
        assert "viewer (viewer)" in answer.text
        assert "default-src 'self'" in answer.headers["content-security-policy"]
    client = hub.anonymous()
    form = client.get("/control/login")
    signed = client.post("/control/login", data={"name": "viewer", "password": PASSWORD, "csrf": token_in(form.text)},
                         headers={"Cookie": f"erpbridge_control_pre={form.cookies['erpbridge_control_pre']}"})
    cookie = signed.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie and "path=/control" in cookie


def test_a_forged_or_foreign_session_is_no_session(hub):
    operator = hub.sign_in("operator")
    cookie = operator.client.headers["Cookie"]
    payload, signature = cookie.split("=", 1)[1].split(".")
    forged = hub.anonymous(headers={"Cookie": f"erpbridge_control={payload}.{signature[:-2]}AA"})
    assert forged.get("/control/").status_code == 303


def test_every_post_needs_the_sessions_csrf_token(hub):
    ids = hub.messages(2, prefix="CSRF")
    operator = hub.sign_in("operator")
    data = {"action": "retry", "ids": ",".join(map(str, ids)), "reason": "ERP fixed"}
    assert operator.post("/control/messages/apply", data, csrf=False).status_code == 403
    other = hub.sign_in("admin")
    other.get("/control/")
    assert operator.client.post("/control/messages/apply", data={**data, "csrf": other.csrf}).status_code == 403
    assert hub.states(ids) == ["dead", "dead"]  # nothing was touched
    # the sign-in form too: without the pre-session's token it is refused before any password check
    client = hub.anonymous()
    assert client.post("/control/login", data={"name": "viewer", "password": PASSWORD}).status_code == 403


def test_a_viewer_changes_nothing(hub):
    ids = hub.messages(1, prefix="VIEW")
    viewer = hub.sign_in("viewer")
    page = viewer.get("/control/messages")
    assert "Preview" not in page.text
    for path, data in (("/control/messages/preview", {"action": "retry"}),
                       ("/control/messages/apply", {"action": "retry", "ids": str(ids[0]), "reason": "try"}),
                       ("/control/systems/erp/probe", {})):
        answer = viewer.post(path, data)
        assert answer.status_code == 403 and "needs the role operator" in answer.text, path
    assert hub.states(ids) == ["dead"]


def test_users_cli_roles_disable_and_short_passwords_then_the_sign_in_limit(fresh_hub):
    hub = fresh_hub
    short = hub.cli("users", "create", "shorty", "--role", "viewer", "--password-stdin", input="short\n", check=False)
    assert short.returncode == 2 and "at least 12 characters" in short.stderr
    listed = json.loads(hub.cli("users", "list", "--json").stdout)
    assert [(u["name"], u["role"]) for u in listed] == [("admin", "admin"), ("operator", "operator"),
                                                        ("viewer", "viewer")]
    viewer = hub.sign_in("viewer")
    hub.cli("users", "set", "viewer", "--disable")
    assert viewer.get("/control/").status_code == 303  # disabling ends the session at once
    operator = hub.sign_in("operator")
    hub.cli("users", "set", "operator", "--password-stdin", input="a brand new passphrase\n")
    assert operator.get("/control/").status_code == 303  # so does a new password
    assert hub.sign_in("operator", "a brand new passphrase").get("/control/").status_code == 200
    client = hub.anonymous()
    form = client.get("/control/login")
    headers = {"Cookie": f"erpbridge_control_pre={form.cookies['erpbridge_control_pre']}"}
    data = {"name": "admin", "csrf": token_in(form.text)}
    statuses = [client.post("/control/login", data={**data, "password": f"guess-{n}"}, headers=headers).status_code
                for n in range(6)]
    assert statuses == [401] * 5 + [429]
    # the right password does not get in while the limit holds
    assert client.post("/control/login", data={**data, "password": PASSWORD}, headers=headers).status_code == 429


def test_only_an_admin_manages_users_and_it_is_audited(hub):
    operator = hub.sign_in("operator")
    assert operator.get("/control/users").status_code == 403
    operator.get("/control/")
    refused = operator.post("/control/users", {"name": "mallory", "role": "admin", "password": PASSWORD})
    assert refused.status_code == 403 and "needs the role admin" in refused.text
    admin = hub.sign_in("admin")
    assert "Users</a>" in admin.get("/control/").text
    assert admin.post("/control/users", {"name": "carol", "role": "viewer", "password": PASSWORD}).status_code == 303
    carol = hub.sign_in("carol")
    assert carol.get("/control/users").status_code == 403
    page = admin.get("/control/users")
    carol_id = re.search(r'<td>carol</td>.*?/control/users/(\d+)"', page.text, re.S).group(1)
    assert admin.post(f"/control/users/{carol_id}", {"role": "operator", "state": "disabled"}).status_code == 303
    assert carol.get("/control/").status_code == 303  # disabled: the session ends
    audit = admin.get("/control/audit").text
    assert "create user" in audit and "change user" in audit and "role operator, disabled" in audit
    assert admin.post("/control/users", {"name": "dave", "role": "viewer", "password": "short"}).status_code == 400
