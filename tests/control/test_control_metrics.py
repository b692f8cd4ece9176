"""``/metrics``: the Prometheus text format (parsed by prometheus-client's own parser), the
figures of what is in the store, bounded labels, and a scope to read it."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from erpbridge.api.keys import create_key
from erpbridge.exchange import ExchangeLog


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_need_their_scope_and_show_the_store(hub):
    hub.messages(3, channel="metered", prefix="MET-ORDER")
    hub.messages(2, channel="metered", prefix="MET-WAIT", state="pending", error=None)
    ExchangeLog(hub.engine).record("metered", "orders", "files.order", duration_ms=40,
                                   request={"number": "MET-ORDER-0"})
    hub.sign_in("viewer").get("/control/messages")  # a request to time
    metrics_key, _ = create_key(hub.engine, ["read:metrics"], name="prometheus")
    shop_key, _ = create_key(hub.engine, ["read:catalog"], name="shop")
    assert httpx.get(f"{hub.url}/metrics").status_code == 401
    assert httpx.get(f"{hub.url}/metrics", headers={"Authorization": f"Bearer {shop_key}"}).status_code == 403
    answer = httpx.get(f"{hub.url}/metrics", headers={"Authorization": f"Bearer {metrics_key}"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    samples = _samples(answer.text)
    assert samples[("erpbridge_outbox_messages", (("channel", "metered"), ("state", "dead")))] == 3
    assert samples[("erpbridge_outbox_messages", (("channel", "metered"), ("state", "pending")))] == 2
    assert samples[("erpbridge_outbox_oldest_pending_age_seconds", (("channel", "metered"),))] >= 0
    assert samples[("erpbridge_exchange_duration_seconds_bucket", (("le", "0.05"), ("system", "metered")))] == 1
    assert samples[("erpbridge_exchange_duration_seconds_bucket", (("le", "0.025"), ("system", "metered")))] == 0
    assert samples[("erpbridge_system_offline", (("system", "erp"),))] == 0
    assert any(name == "erpbridge_build_info" for name, _ in samples)
    assert any(name == "erpbridge_api_request_duration_seconds_count" and ("route", "/control/messages") in labels
               for name, labels in samples)
    assert "MET-ORDER" not in answer.text and "MET-WAIT" not in answer.text  # labels never name a record
