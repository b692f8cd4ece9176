"""Masks of personal data in the exchange log (issue 10, item 9): keyed by the store's own secret
key, so an export of the log does not give away a postcode or a phone number to whoever tries
every value; the same value masks alike in every process of the store, so entries still match;
and personal numbers are masked in free text too (error messages, strings under other keys)."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys

import pytest

from erpbridge.connectors.base import MessageError
from erpbridge.exchange import ExchangeLog, Redactor
from erpbridge.exchange.mask_key import mask_key

POSTCODE = "80331"


def unkeyed(text: str) -> str:
    """The mask as it was: the first character and an unkeyed SHA-256 prefix."""
    return f"{text[:1]}…#{hashlib.sha256(text.encode()).hexdigest()[:6]}"


def keyed(key: bytes, text: str) -> str:
    return f"…#{hmac.new(key, text.encode(), 'sha256').hexdigest()[:8]}"


def test_a_masked_postcode_cannot_be_found_by_trying_every_postcode(engine):
    log = ExchangeLog(engine)
    log.record("erp", "orders", "send_order", request={"billing_address": {"postcode": POSTCODE, "country": "DE"}})
    [entry] = log.query()
    masked = entry["request"]["billing_address"]["postcode"]
    assert POSTCODE not in json.dumps(entry, default=str)
    candidates = [f"{n:05d}" for n in range(100_000)]
    # Without the store's key, no way of masking finds it: neither the unkeyed hash nor a guessed key.
    for guess in (unkeyed, lambda text: keyed(b"", text), lambda text: keyed(b"\0" * 32, text)):
        assert POSTCODE not in [c for c in candidates if guess(c) == masked]
    # With it (it lives in the store, not in the log), the same search finds exactly the one.
    key = mask_key(engine)
    assert [c for c in candidates if keyed(key, c) == masked] == [POSTCODE]
    assert key.hex() not in json.dumps(entry, default=str)


LOG_IN_A_PROCESS = """
import json, sys
from erpbridge.exchange import ExchangeLog
from erpbridge.store import make_engine
engine = make_engine(sys.argv[1])
log = ExchangeLog(engine)
log.record("erp", "customers", "create_customer", request={"email": "Jane@Example.com", "postcode": "80331"},
           error="party +49 30 1234567 exists")
print(json.dumps(log.query(limit=1)[0], default=str))
"""


def test_two_processes_of_one_store_mask_alike(engine, db_url):
    # Both start at once on a store without a key yet: they must agree on the one that is made.
    processes = [subprocess.Popen([sys.executable, "-c", LOG_IN_A_PROCESS, db_url], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
    entries = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        entries.append(json.loads(out))
    first, second = entries
    assert first["request"] == second["request"] and first["error"] == second["error"]
    assert first["request"]["email"].startswith("j…#") and "80331" not in json.dumps(first)
    assert "1234567" not in first["error"] and first["error"].startswith("party …#")
    # And this process, reading the key the others made, masks alike too.
    assert Redactor(key=mask_key(engine))({"email": "jane@example.com"}) == {"email": first["request"]["email"]}


@pytest.mark.parametrize("text", [
    "call +49 30 1234567", "call +49 (0)30 123-4567", "call 030 1234567", "call 0049 30 1234567",
    "call (555) 123-4567", "call 555-123-4567", "IBAN DE89 3704 0044 0532 0130 00", "IBAN GB82WEST12345698765432",
    "card 4111 1111 1111 1111", "card 4111-1111-1111-1111", "card 378282246310005",
])
def test_phone_numbers_ibans_and_card_numbers_in_free_text_are_masked(text):
    redact = Redactor()
    label, number = text.split(" ", 1)
    out = redact({"comment": text, "phone": number})
    assert out["comment"] == f"{label} {out['phone']}"  # the same number masks alike wherever it stands


@pytest.mark.parametrize("text", [
    "order 100001234", "on 2026-11-23T10:00:00Z", "on 02.11.2026", "EAN 4006381333931", "total 1234567.50",
    "SKU A-1234567", "version 0.10.2", "tracking 00340434161094042557x", "IBAN DE00 3704 0044 0532 0130 00",
    "card 4111 1111 1111 1112",
])
def test_order_numbers_dates_and_product_codes_stay_readable(text):
    assert Redactor()({"comment": text}) == {"comment": text}


def test_error_messages_are_masked_in_the_log(engine):
    log = ExchangeLog(engine)
    with pytest.raises(MessageError):
        with log.measure("erp", "orders", "send_order"):
            raise MessageError("party Jane (+49 30 1234567, DE89 3704 0044 0532 0130 00) has no address")
    [entry] = log.query()
    assert "1234567" not in entry["error"] and "3704" not in entry["error"]
    assert entry["error"].startswith("MessageError: party Jane (…#")
