"""Seed 004's KPIs and alerts: each rule fires once per incident in the served process, is sent
to a webhook receiver on loopback (Slack-compatible JSON) and by e-mail to a real SMTP server on
loopback (aiosmtpd, signing in with a password from the environment), shows in the control
center, and resolves (sent once more) when its cause is gone."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import re
import shutil
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import delete, func, insert, select, update

from control_hub import ControlHub, free_port
from erpbridge.control.tables import control_alerts
from erpbridge.exchange import ExchangeLog
from erpbridge.exchange.tables import exchange_log
from erpbridge.flows.tables import flow_runs
from erpbridge.outbox.semaphore import Semaphore
from erpbridge.outbox.tables import outbox_messages, semaphores

RULES = {"failed_run", "general_errors", "dead_messages", "backlog", "offline", "kpi"}


class Receiver:
    """A webhook receiver on a free loopback port that keeps what it was sent."""

    def __init__(self):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, state: str, rules: set[str], timeout: float = 60) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [r for r in self.received if r["state"] == state]
            if {r["rule"] for r in got} >= rules:
                return got
            time.sleep(0.1)
        raise AssertionError(f"{state} notices for {rules}: got {self.received}")


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.server.shutdown()


class Mailbox:
    """An SMTP server (aiosmtpd) on a free loopback port that accepts user ``alerts`` with the
    password ``SMTP_PASSWORD`` and keeps each mail it was given."""

    def __init__(self, password: str, port: int | None = None, tls: ssl.SSLContext | None = None):
        self.mails: list[email.message.EmailMessage] = []
        self.password = password
        mails = self.mails

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                mails.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
                return "250 OK"

        tls_options = {"tls_context": tls, "require_starttls": True} if tls else {"auth_require_tls": False}
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port or free_port(),
                                     authenticator=self._check, **tls_options)
        self.controller.start()
        self.port = self.controller.port

    def _check(self, server, session, envelope, mechanism, auth_data):
        return AuthResult(success=auth_data.login == b"alerts" and auth_data.password == self.password.encode())

    def notices(self) -> list[tuple[str, str]]:
        """(subject, first body line) of each mail."""
        return [(m["Subject"], m.get_content().splitlines()[0]) for m in self.mails]


@pytest.fixture
def mailbox():
    running = Mailbox("s3cret mail password")
    yield running
    running.controller.stop()


def test_each_rule_fires_once_and_resolves(tmp_path, db_url, receiver, mailbox, monkeypatch):
    monkeypatch.setenv("ERPBRIDGE_TEST_SMTP_PASSWORD", mailbox.password)  # inherited by the served process
    hub = ControlHub(tmp_path, db_url, control={
        "alert_webhook": receiver.url, "alert_interval": 0.3,
        "alert_email": {"host": "127.0.0.1", "port": mailbox.port, "username": "alerts",
                        "password": "${ERPBRIDGE_TEST_SMTP_PASSWORD}", "from": "erpbridge@shop.example",
                        "to": ["ops@shop.example", "oncall@shop.example"]}})
    try:
        now = dt.datetime.now(dt.timezone.utc)
        orders = hub.messages(3, prefix="SLOW", state="done", error=None)  # exported in 10 minutes: KPI missed
        with hub.engine.begin() as conn:
            conn.execute(update(outbox_messages).where(outbox_messages.c.id.in_(orders)).values(
                created_at=now - dt.timedelta(minutes=10), done_at=now))
            conn.execute(insert(flow_runs).values(flow="prune", trigger="manual", owner="test", started_at=now,
                                                  heartbeat_at=now, finished_at=now, outcome="failed",
                                                  error="disk full"))
        dead = hub.messages(1, prefix="DEAD")
        backlog = hub.messages(12, prefix="WAIT", state="pending", error=None)
        log = ExchangeLog(hub.engine)
        for _ in range(4):
            log.record("erp", "orders", "files.order", outcome="general_error", error="503 Service Unavailable")
        Semaphore(hub.engine, "erp", 3600).trip("503 Service Unavailable")
        with hub.engine.begin() as conn:
            conn.execute(update(semaphores).values(tripped_at=now - dt.timedelta(minutes=20)))

        opened = receiver.wait_for("open", RULES)
        assert {(r["rule"], r["subject"]) for r in opened} >= {
            ("failed_run", "prune"), ("general_errors", "erp"), ("dead_messages", "erp"), ("backlog", "erp"),
            ("offline", "erp"), ("kpi", "order_export_latency")}
        kpi = next(r for r in opened if r["rule"] == "kpi")
        assert "order export latency p95 600 s (target < 300 s)" in kpi["text"]
        page = hub.sign_in("operator").get("/control/alerts")
        with hub.engine.connect() as conn:
            incidents = conn.execute(select(func.count()).select_from(control_alerts)).scalar_one()
        assert "disk full" in page.text and page.text.count("Acknowledge</button>") == incidents >= len(opened)
        acknowledged = hub.sign_in("operator")
        acknowledged.get("/control/alerts")
        first = int(re.search(r'/control/alerts/(\d+)/acknowledge', page.text).group(1))
        assert acknowledged.post(f"/control/alerts/{first}/acknowledge", {}).status_code == 303
        assert "operator 20" in acknowledged.get("/control/alerts").text
        assert f"alert {first}" in acknowledged.get("/control/audit").text
        overview = hub.sign_in("viewer").get("/control/")
        assert "missed" in overview.text and "p95 600.0 s" in overview.text
        assert "disk full" in overview.text and "Acknowledge</button>" not in overview.text  # a viewer only sees
        on_overview = acknowledged.get("/control/").text  # the alert history, acknowledged from the overview too
        second = int(re.search(r'/control/alerts/(\d+)/acknowledge', on_overview).group(1))
        back = acknowledged.post(f"/control/alerts/{second}/acknowledge", {"back": "/"})
        assert back.status_code == 303 and back.headers["location"] == "/control/"
        assert f"/control/alerts/{second}/acknowledge" not in acknowledged.get("/control/").text
        assert f"alert {second}" in acknowledged.get("/control/audit").text

        with hub.engine.begin() as conn:  # every cause goes away
            conn.execute(update(outbox_messages).where(outbox_messages.c.id.in_(orders)).values(
                created_at=now - dt.timedelta(seconds=2)))
            conn.execute(insert(flow_runs).values(flow="prune", trigger="manual", owner="test", started_at=now,
                                                  heartbeat_at=now, finished_at=now, outcome="ok"))
            conn.execute(update(outbox_messages).where(outbox_messages.c.id.in_(dead + backlog)).values(
                state="done", done_at=now))
            conn.execute(delete(exchange_log))
            conn.execute(delete(semaphores))
        receiver.wait_for("resolved", RULES)
        time.sleep(1.5)  # several more checks: nothing is sent twice
        resolved = [r for r in receiver.received if r["state"] == "resolved"]  # all, not those in by the first
        notices = [(r["state"], r["rule"], r["subject"]) for r in receiver.received]
        assert len(notices) == len(set(notices))  # each incident sent once when it opened, once when it resolved
        assert {n[1:] for n in notices if n[0] == "open"} == {n[1:] for n in notices if n[0] == "resolved"}
        assert {(r["rule"], r["subject"]) for r in resolved} >= {(r["rule"], r["subject"]) for r in opened}
        # the same notices by e-mail: once each on opening and on resolving, to every operator
        deadline = time.monotonic() + 30
        while len(mailbox.mails) < len(notices) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)  # more checks: nothing mailed twice
        mailed = mailbox.notices()
        assert sorted(mailed) == sorted(set(mailed)) and len(mailed) == len(notices)
        assert {subject for subject, _ in mailed} == {
            f"[erpbridge] {'ALERT' if state == 'open' else 'RESOLVED'} {rule}: {subject}"
            for state, rule, subject in notices}
        kpi_mail = next(m for m in mailbox.mails if m["Subject"] == "[erpbridge] ALERT kpi: order_export_latency")
        assert "order export latency p95 600 s (target < 300 s)" in kpi_mail.get_content()
        assert (kpi_mail["From"], kpi_mail["To"]) == ("erpbridge@shop.example", "ops@shop.example, oncall@shop.example")
    finally:
        hub.stop()


def test_kpis_json(hub):
    found = json.loads(hub.cli("kpis", "--json", check=False).stdout)
    assert set(found) >= {"order_export_latency", "inventory_sync_latency", "error_rate", "oversell", "backlog"}
    assert found["order_export_latency"]["target_p95_seconds"] == 300
    assert found["inventory_sync_latency"]["target_p95_seconds"] == 600


def test_a_mail_server_that_is_down_delays_the_mail_and_loses_nothing(db_url):
    from erpbridge.bootstrap import bootstrap
    from erpbridge.config import Config
    from erpbridge.control.alerts import send_pending

    port = free_port()
    app = bootstrap(Config.model_validate({"store": {"url": db_url}, "control": {"alert_email": {
        "host": "127.0.0.1", "port": port, "username": "alerts", "password": "s3cret mail password",
        "from": "erpbridge@shop.example", "to": ["ops@shop.example"], "timeout": 10}}}))
    try:
        with app.engine.begin() as conn:
            conn.execute(insert(control_alerts).values(rule="dead_messages", subject="erp",
                                                       open_key="dead_messages|erp",
                                                       detail="erp: 1 dead message(s)",
                                                       opened_at=dt.datetime.now(dt.timezone.utc)))
        assert send_pending(app) == 0  # connection refused: the claim is given back
        with app.engine.connect() as conn:
            assert conn.execute(select(control_alerts.c.mailed_open_at)).scalar_one() is None
        mailbox = Mailbox("s3cret mail password", port)  # the mail server is back
        try:
            assert send_pending(app) == 1 and send_pending(app) == 0  # sent once
            assert mailbox.notices() == [("[erpbridge] ALERT dead_messages: erp",
                                          ":rotating_light: erpbridge alert dead_messages: erp: 1 dead message(s)")]
        finally:
            mailbox.controller.stop()
    finally:
        app.close()


def test_starttls_verifies_the_mail_servers_certificate(db_url, tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl makes the test server's certificate")
    from erpbridge.bootstrap import bootstrap
    from erpbridge.config import Config
    from erpbridge.control.alerts import send_pending

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert), "-days", "1"],
                   check=True, capture_output=True)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    mailbox = Mailbox("s3cret mail password", tls=server_tls)  # refuses anything before STARTTLS

    def app_with(**email):
        return bootstrap(Config.model_validate({"store": {"url": db_url}, "control": {"alert_email": {
            "host": "127.0.0.1", "port": mailbox.port, "starttls": True, "username": "alerts",
            "password": "s3cret mail password", "from": "erpbridge@shop.example", "to": ["ops@shop.example"],
            **email}}}))

    untrusted, trusted = app_with(), app_with(ca_file=str(cert))
    try:
        with trusted.engine.begin() as conn:
            conn.execute(insert(control_alerts).values(rule="offline", subject="erp", open_key="offline|erp",
                                                       detail="erp offline since 06:00 UTC: 503",
                                                       opened_at=dt.datetime.now(dt.timezone.utc)))
        assert send_pending(untrusted) == 0 and mailbox.mails == []  # a certificate the system does not trust
        assert send_pending(trusted) == 1
        assert mailbox.notices() == [("[erpbridge] ALERT offline: erp",
                                      ":rotating_light: erpbridge alert offline: erp offline since 06:00 UTC: 503")]
    finally:
        mailbox.controller.stop()
        untrusted.close()
        trusted.close()
