"""The exchange log: what support sees of every exchange with a system, with secrets and
personal data hidden, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
from sqlalchemy import update

from erpbridge.connectors.base import GeneralError, MessageError
from erpbridge.exchange import ExchangeLog, Redactor
from erpbridge.exchange.tables import exchange_log
from erpbridge.store import make_engine


def test_measure_records_an_ok_exchange_with_timing_size_and_redacted_payloads(engine):
    log = ExchangeLog(engine)
    request = {"method": "model.sale.sale.create",
               "params": [{"party": {"name": "Jane Doe", "email": "jane@example.com", "street": "1 Main St"},
                           "lines": [{"product": "SKU-1", "quantity": 2}]}, {"password": "hunter2"}]}
    with log.measure("erp", "orders", "tryton.sale.create", request=request) as exchange:
        exchange.response = {"result": [42], "session": "abc123"}

    [entry] = log.query()
    assert (entry["system"], entry["flow"], entry["point"], entry["direction"], entry["outcome"]) == \
        ("erp", "orders", "tryton.sale.create", "out", "ok")
    assert entry["error"] is None
    assert entry["duration_ms"] >= 0
    assert entry["size"] == len(json.dumps(request, separators=(",", ":"))) + len('{"result":[42],"session":"abc123"}')
    assert abs((dt.datetime.now(dt.timezone.utc) - entry["at"]).total_seconds()) < 60
    params = entry["request"]["params"]
    assert params[1]["password"] == "***"
    assert entry["response"] == {"result": [42], "session": "***"}
    party = params[0]["party"]
    assert party["name"].startswith("j") and "Jane" not in party["name"]
    assert "jane@" not in party["email"] and "Main" not in party["street"]
    assert params[0]["lines"] == [{"product": "SKU-1", "quantity": 2}]
    assert "hunter2" not in json.dumps(entry, default=str) and "Doe" not in json.dumps(entry, default=str)


@pytest.mark.parametrize("exc, outcome", [(GeneralError("connection refused"), "general_error"),
                                          (MessageError("unknown product SKU-9"), "message_error"),
                                          (KeyError("oops"), "error")])
def test_an_escaping_error_is_recorded_by_its_kind_and_raised_again(engine, exc, outcome):
    log = ExchangeLog(engine)
    with pytest.raises(type(exc)):
        with log.measure("erp", "orders", "send_order", request={"number": "1001"}):
            raise exc
    [entry] = log.query()
    assert entry["outcome"] == outcome
    assert str(exc) in entry["error"] and type(exc).__name__ in entry["error"]


def test_the_log_is_written_in_its_own_transaction_not_the_callers(engine):
    """An exchange stays visible even when the business transaction around it rolls back."""
    log = ExchangeLog(engine)
    with pytest.raises(RuntimeError):
        with engine.begin() as conn:
            conn.execute(update(exchange_log).values(flow="x"))  # the caller holds a write transaction
            if engine.dialect.name == "sqlite":
                conn.rollback()  # SQLite has one writer: the caller must not hold it while logging
            log.record("erp", "orders", "send_order", outcome="ok")
            raise RuntimeError("business failure")
    assert [e["point"] for e in log.query()] == ["send_order"]


def test_a_log_that_cannot_be_written_never_breaks_the_callers_work(tmp_path, caplog):
    broken = make_engine(f"sqlite:///{tmp_path / 'never-migrated.db'}")  # no exchange_log table
    log = ExchangeLog(broken)
    with caplog.at_level(logging.WARNING, logger="erpbridge.exchange.log"):
        with log.measure("erp", "stock", "tryton.stock.fetch") as exchange:
            exchange.response = {"result": []}
        log.record("erp", "stock", "x")
    assert "could not write the exchange log" in caplog.text


def test_query_filters_by_time_point_system_and_outcome_newest_first_with_paging(engine):
    log = ExchangeLog(engine)
    base = dt.datetime(2026, 11, 1, 12, tzinfo=dt.timezone.utc)
    for i in range(10):
        log.record("erp" if i % 2 else "shop", "orders", f"point-{i % 3}", at=base + dt.timedelta(hours=i),
                   outcome="ok" if i < 8 else "general_error")
    everything = log.query()
    assert [e["at"] for e in everything] == sorted((e["at"] for e in everything), reverse=True)
    window = log.query(since=base + dt.timedelta(hours=2), until=base + dt.timedelta(hours=5))
    assert [e["at"].hour for e in window] == [16, 15, 14]
    assert {e["point"] for e in log.query(point="point-1")} == {"point-1"}
    assert len(log.query(point="point-1")) == 3
    assert {e["system"] for e in log.query(system="erp")} == {"erp"}
    assert len(log.query(outcome="general_error")) == 2
    # naive datetimes are UTC
    assert len(log.query(since=dt.datetime(2026, 11, 1, 20))) == 2
    first = log.query(limit=4)
    second = log.query(limit=4, before_id=first[-1]["id"])
    assert len(first) == 4 and len(second) == 4 and first[-1]["id"] > second[0]["id"]


def test_prune_deletes_only_old_entries_in_chunks(engine, monkeypatch):
    monkeypatch.setattr("erpbridge.exchange.log.PRUNE_CHUNK", 7)
    log = ExchangeLog(engine)
    now = dt.datetime.now(dt.timezone.utc)
    for i in range(25):
        log.record("erp", "stock", "old", at=now - dt.timedelta(days=40, minutes=i))
    for i in range(5):
        log.record("erp", "stock", "new", at=now - dt.timedelta(days=2, minutes=i))
    assert log.prune(30) == 25
    assert {e["point"] for e in log.query()} == {"new"}
    assert log.prune(30) == 0


def test_overlong_names_are_cut_to_fit_rather_than_losing_the_entry(engine):
    log = ExchangeLog(engine)
    log.record("s" * 100, "f" * 100, "p" * 300)
    [entry] = log.query()
    assert (len(entry["system"]), len(entry["flow"]), len(entry["point"])) == (64, 64, 128)


def test_large_payloads_are_truncated_with_a_note(engine):
    log = ExchangeLog(engine, max_payload_bytes=1024)
    log.record("erp", "catalog", "fetch", response={"products": [{"sku": f"SKU-{i}"} for i in range(1000)]})
    [entry] = log.query()
    assert entry["response"]["truncated"]["kept"] == 1024
    assert entry["response"]["truncated"]["bytes"] > 10_000
    assert entry["size"] > 10_000


class TestRedactor:
    redact = Redactor()

    def test_secrets_at_any_depth_and_in_any_spelling(self):
        out = self.redact({"headers": {"Authorization": "Bearer xyz", "X-Api-Key": "k1", "Cookie": "sid=1"},
                           "auth": [{"PASSWORD": "p"}, {"client_secret": "s", "access_token": "t", "refresh-token": "r"}],
                           "sessionId": "abc", "filename": "a.csv"})
        assert json.dumps(out).count("***") == 8
        assert out["filename"] == "a.csv"

    def test_personal_data_is_masked_but_still_correlates(self):
        a = self.redact({"email": "jane@example.com", "firstName": "Jane", "phone": "+49 30 1234"})
        b = self.redact({"EMAIL": "Jane@Example.com"})
        assert a["email"] == b["EMAIL"]  # same person, same mask
        assert a["email"] != self.redact({"email": "john@example.com"})["email"]
        assert a["firstName"][0] == "j" and "ane" not in a["firstName"]
        assert "1234" not in a["phone"]

    def test_a_whole_address_block_under_a_personal_key_is_masked(self):
        out = self.redact({"address": {"street": "1 Main St", "lines": ["c/o Smith", "Floor 2"], "country": "DE"}})
        text = json.dumps(out)
        assert "Main" not in text and "Smith" not in text and "Floor" not in text and '"DE"' not in text

    def test_json_inside_strings_and_secrets_in_query_strings(self):
        out = self.redact({"body": '{"user": "u", "password": "pw", "email": "a@b.c"}',
                           "url": "https://erp/api?user=u&api_key=K123&page=2"})
        assert out["body"]["password"] == "***" and "a@b.c" not in json.dumps(out)
        assert out["url"] == "https://erp/api?user=u&api_key=***&page=2"

    def test_email_addresses_in_free_text_are_masked(self, engine):
        log = ExchangeLog(engine)
        with pytest.raises(MessageError):
            with log.measure("erp", "customers", "create_customer"):
                raise MessageError("party jane.doe@example.com already exists")
        [entry] = log.query()
        assert "jane.doe@example.com" not in entry["error"] and entry["error"].startswith("MessageError: party j…#")

    def test_configurable_keys(self):
        redact = Redactor(secret_keys=["pin"], personal_keys=["customer_number"])
        out = redact({"pin": "1234", "password": "kept", "customer_number": "C-77", "email": "kept@x"})
        assert out == {"pin": "***", "password": "kept", "customer_number": out["customer_number"], "email": "kept@x"}
        assert out["customer_number"] != "C-77"

    def test_records_and_bytes_become_plain_data(self):
        from erpbridge.records import Customer
        out = self.redact({"customer": Customer(number="C1", name="Jane Doe", email="jane@example.com"),
                           "file": b"\xff\xfe\x00binary"})
        assert out["customer"]["number"] == "C1" and "Doe" not in json.dumps(out)
        assert out["file"] == "<9 bytes of binary data>"


def test_a_buffered_log_writes_in_batches_and_keeps_entries_while_the_store_is_down(tmp_path, caplog):
    from erpbridge.store import upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'late.db'}")  # tables not there yet: the store "is down"
    log = ExchangeLog(engine, buffered=True, flush_interval=3600, max_buffer=10)
    for i in range(15):
        with log.measure("erp", "orders", f"send-{i}", request={"token": "t"}):
            pass
    with caplog.at_level(logging.WARNING, logger="erpbridge.exchange.log"):
        log.flush()
    assert "5 entries were dropped" in caplog.text and "could not write 10 exchange log entries" in caplog.text
    upgrade(engine)
    log.close()
    entries = log.query(limit=100)
    assert [e["point"] for e in entries] == [f"send-{i}" for i in reversed(range(10))]
    assert entries[0]["request"] == {"token": "***"}
    engine.dispose()


def test_a_buffered_log_flushes_by_itself(engine):
    import time

    log = ExchangeLog(engine, buffered=True, flush_interval=0.05)
    log.record("erp", "stock", "fetch")
    deadline = time.monotonic() + 5
    while not log.query() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [e["point"] for e in log.query()] == ["fetch"]
    log.close()
