"""The Tryton adapter on the kit, against a JSON-RPC peer that scripts what the real Tryton does
rarely and at random: a session that expires right before a warning, or twice in a row. Every
path out of a call ends in its result or a connector error (review 2.8b: a warning after a
re-login escaped as a private exception and crashed the worker)."""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import select

from erpbridge.connectors.base import ConnectorError, GeneralError, MessageError
from erpbridge.connectors.tryton.adapter import MAX_WARNINGS, TrytonAdapter
from erpbridge.exchange.log import ExchangeLog
from erpbridge.exchange.tables import exchange_log

from .peer import Answer, Seen

EXPIRED, WARNING = "expired", "warning"


class ScriptedTryton:
    """``/shop/rpc/``: logs in (a new session key each time), answers preferences, records skipped
    warnings, and answers ``model.stock.move.do`` from ``script``: ``EXPIRED`` (HTTP 401, the
    session is gone), ``WARNING`` (a UserWarning), or a result."""

    def __init__(self, peer, script: list):
        self.script = list(script)
        self.calls: list[str] = []
        self.sessions = 0
        self.valid: str | None = None
        peer.on("/shop/rpc/", self.answer)

    def answer(self, seen: Seen) -> Answer:
        request = json.loads(seen.body)
        method = request["method"]
        self.calls.append(method)
        if method == "common.db.login":
            self.sessions += 1
            self.valid = f"key-{self.sessions}"
            return Answer(json={"id": 1, "result": [1, self.valid, None]})
        if self.valid is None or self.valid not in _session_of(seen):
            return Answer(401, body="Unauthorized")
        if method == "model.res.user.get_preferences":
            return Answer(json={"id": 1, "result": {"company": 1, "language": "en"}})
        if method == "model.res.user.warning.skip":
            return Answer(json={"id": 1, "result": None})
        step = self.script.pop(0)
        if step == EXPIRED:
            self.valid = None
            return Answer(401, body="Unauthorized")
        if step == WARNING:
            return Answer(json={"id": 1, "error": ["UserWarning", ["stock.move.do.7", "Pack without a carrier?", ""]]})
        return Answer(json={"id": 1, "result": step})


def _session_of(seen: Seen) -> str:
    header = seen.headers.get("authorization", "")
    return base64.b64decode(header.removeprefix("Session ")).decode() if header.startswith("Session ") else ""


@pytest.fixture
def tryton(peer):
    adapters = []

    def make(script, **options) -> tuple[TrytonAdapter, ScriptedTryton]:
        server = ScriptedTryton(peer, script)
        adapters.append(TrytonAdapter(peer.url, "shop", "admin", "admin-pw-3Xq", system="erp", timeout=5, **options))
        return adapters[-1], server

    yield make
    for adapter in adapters:
        adapter.close()


def move_do(adapter):
    return adapter.model("shipments", "stock.move", "do", [7])


def test_a_warning_right_after_a_re_login_is_skipped_like_any_other(tryton):
    adapter, server = tryton([EXPIRED, WARNING, True])
    assert move_do(adapter) is True
    assert server.calls == [
        "common.db.login", "model.res.user.get_preferences", "model.stock.move.do",   # 401: the session expired
        "common.db.login", "model.res.user.get_preferences", "model.stock.move.do",   # a UserWarning
        "model.res.user.warning.skip", "model.stock.move.do"]


def test_a_session_refused_again_after_a_re_login_is_a_general_error(tryton):
    adapter, server = tryton([EXPIRED, EXPIRED])
    with pytest.raises(GeneralError, match="refused a fresh session of 'admin' for model.stock.move.do"):
        move_do(adapter)
    assert server.sessions == 2  # one re-login, not a loop


def test_an_expiry_after_a_skipped_warning_logs_in_again(tryton):
    adapter, server = tryton([WARNING, EXPIRED, "done"])
    assert move_do(adapter) == "done"
    assert server.sessions == 2


def test_a_warning_that_keeps_coming_is_a_message_error(tryton):
    adapter, server = tryton([WARNING] * (MAX_WARNINGS + 1))
    with pytest.raises(MessageError, match="kept asking for confirmation.*Pack without a carrier"):
        move_do(adapter)
    assert server.calls.count("model.res.user.warning.skip") == MAX_WARNINGS


@pytest.mark.parametrize("script", [[EXPIRED, WARNING, True], [EXPIRED, EXPIRED], [WARNING] * (MAX_WARNINGS + 1)])
def test_every_path_ends_in_a_result_or_a_connector_error(tryton, script):
    adapter, _ = tryton(script)
    try:
        move_do(adapter)
    except Exception as exc:
        assert isinstance(exc, ConnectorError), type(exc)


@pytest.mark.parametrize("answer, kind", [
    (Answer(500, body="Internal Server Error"), GeneralError),
    (Answer(404, body="Not Found"), GeneralError),  # a wrong database name: no message can succeed
    (Answer(502, body="Bad Gateway"), GeneralError),
])
def test_http_errors_of_tryton_are_general_errors(peer, tryton, answer, kind):
    adapter, _ = tryton([])
    peer.on("/shop/rpc/", answer)
    with pytest.raises(kind, match=f"erp answered HTTP {answer.status} to common.db.login"):
        move_do(adapter)


def test_tryton_asking_to_wait_pauses_exactly_that_long(peer, tryton):
    adapter, _ = tryton([])
    peer.on("/shop/rpc/", Answer(429, body="Too Many Requests", headers={"Retry-After": "3"}))
    with pytest.raises(GeneralError) as caught:
        move_do(adapter)
    assert caught.value.retry_after == 3


def test_a_call_with_a_re_login_and_a_warning_is_one_exchange_without_the_session(engine, tryton):
    adapter, _ = tryton([EXPIRED, WARNING, True], exchange_log=ExchangeLog(engine))
    move_do(adapter)
    entry, = ExchangeLog(engine).query()
    assert (entry["system"], entry["flow"], entry["point"], entry["outcome"]) == (
        "erp", "shipments", "tryton.stock.move.do", "ok")
    assert entry["request"] == [[7]] and entry["response"] is True
    with engine.connect() as conn:
        row = " ".join(map(str, conn.execute(select(exchange_log)).one()))
    assert "key-" not in row and "admin-pw-3Xq" not in row


def test_a_messages_own_timeout_bounds_its_calls_only(tryton, peer):
    """``systems.<name>.messages.send_order.timeout``: that operation's calls give up sooner; the
    other flows keep the system's timeout."""
    import time

    adapter, server = tryton([], timeouts={"send_order": 0.3})
    answer = server.answer

    def slow(seen):
        if json.loads(seen.body)["method"] == "model.sale.sale.search":
            time.sleep(0.6)
            return Answer(json={"id": 1, "result": [3]})
        return answer(seen)

    peer.on("/shop/rpc/", slow)
    with pytest.raises(GeneralError, match="in time|timed out|Timeout"):
        adapter.model("send_order", "sale.sale", "search", [])
    assert adapter.model("order_statuses", "sale.sale", "search", []) == [3]
