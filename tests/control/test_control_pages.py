"""The overview and the exchange log pages."""

from __future__ import annotations

import datetime as dt
import re

from erpbridge.exchange import ExchangeLog


def test_overview_counts_per_channel_with_the_oldest_pending_age(hub):
    hub.messages(2, channel="counted", prefix="C", state="pending", error=None)
    hub.messages(1, channel="counted", prefix="CD")
    page = hub.sign_in("viewer").get("/control/")
    row = re.search(r'messages\?channel=counted">counted</a></td>\s*<td>(\d+)</td><td>(\d+)</td>'
                    r'.*?state=dead">(\d+)</a></td>\s*<td>(\d+) s</td>', page.text, re.S)
    assert row and row.groups()[:3] == ("2", "0", "1") and int(row.group(4)) < 600
    assert 'id="flows"' in page.text and "prune" in page.text  # the built-in flows, with their next run


def test_exchange_log_by_date_point_system_direction_outcome_and_business_key(hub):
    log = ExchangeLog(hub.engine)
    yesterday = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    log.record("erp", "orders", "tryton.sale.create", duration_ms=12, outcome="message_error",
               error="party C9 unknown", request={"number": "SO-4711", "password": "hunter2hunter2",
                                                  "email": "erika@example.com"},
               response={"error": "party C9 unknown"})
    log.record("erp", "orders", "tryton.sale.create", request={"number": "SO-4712"}, response={"id": 9})
    log.record("erp", "catalog", "files.products", direction="in", request={"sku": "DRILL-1"}, at=yesterday)
    viewer = hub.sign_in("viewer")

    def found(**params) -> list[str]:
        page = viewer.get("/control/exchanges", params=params)
        assert page.status_code == 200, page.text
        return re.findall(r'/control/exchanges/(\d+)">', page.text)

    assert len(found(key="SO-4711")) == 1
    assert len(found(point="tryton.sale.create", outcome="message_error")) == 1
    assert len(found(direction="in", system="erp")) == 1
    today = dt.date.today().isoformat()
    assert len(found(since=today, key="SO-471")) == 2 and len(found(until=yesterday.date().isoformat(),
                                                                    point="files.products")) == 1
    assert viewer.get("/control/exchanges", params={"since": "yesterday"}).status_code == 400
    entry = viewer.get(f"/control/exchanges/{found(key='SO-4711')[0]}")
    assert "party C9 unknown" in entry.text and "SO-4711" in entry.text
    assert "hunter2" not in entry.text and "erika@example.com" not in entry.text and "***" in entry.text
