"""The operator's main journeys in a real browser: headless Chromium (Debian's package, at
ERPBRIDGE_TEST_CHROMIUM, set by .ci/setup.d/50-chromium.sh) driven by Playwright through
executable_path (never a browser download): sign in, find a failed order in the exchange log by
its number, see the error, retry its message after the preview, enable a new product, acknowledge
an alert. Each page's screenshot is taken; with ERPBRIDGE_TEST_SCREENSHOTS=docs they replace the
README's (otherwise they go to the test's temporary folder, and the checkout stays clean)."""

from __future__ import annotations

import datetime as dt
import math
import os
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from control_hub import PASSWORD
from erpbridge.control.tables import control_alerts, control_kpi_samples
from erpbridge.exchange import ExchangeLog
from erpbridge.outbox.tables import outbox_messages
from erpbridge.records import Product, ProductGroup
from erpbridge.store.records import RecordStore
from erpbridge.store.tables import products

CHROMIUM = os.environ.get("ERPBRIDGE_TEST_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"no Chromium at {CHROMIUM}: .ci/setup.d/50-chromium.sh installs it")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        running = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield running
        running.close()


@pytest.fixture
def shots(tmp_path, module_db_url) -> Path:
    """Where the screenshots go: the docs' folder for the SQLite run when asked, else a temporary one."""
    wanted = os.environ.get("ERPBRIDGE_TEST_SCREENSHOTS")
    return ROOT / wanted if wanted and module_db_url.startswith("sqlite") else tmp_path


def _shot(page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"control-{name}.png"), full_page=True)


def test_an_operator_finds_a_failed_order_retries_it_enables_a_product_and_acknowledges_an_alert(
        hub, browser, shots):
    (message_id,) = hub.messages(1, prefix="SO-BRW")  # a dead send_order of order SO-BRW-0
    ExchangeLog(hub.engine).record("erp", "orders", "files.order", outcome="message_error", duration_ms=42,
                                   error="ERP refused: customer C9 unknown", request={"number": "SO-BRW-0"})
    RecordStore(hub.engine).put([ProductGroup(code="brw-tools", name="Tools"),
                                 Product(sku="BRW-DRILL-1", name="Cordless drill", group="brw-tools")])
    now = dt.datetime.now(dt.timezone.utc)
    with hub.engine.begin() as conn:
        # a day of KPI samples as the alert checks would have kept them, for the overview's charts
        conn.execute(insert(control_kpi_samples), [
            {"at": now - dt.timedelta(minutes=5 * step), "kpi": kpi, "value": value(step)}
            for step in range(1, 288) for kpi, value in (
                ("order_export_p95", lambda n: 45 + 30 * math.sin(n / 20) + (260 if 100 < n < 110 else 0)),
                ("inventory_sync_p95", lambda n: 120 + 40 * math.cos(n / 30)),
                ("errors_per_1000", lambda n: 2 + (n % 37) / 10), ("oversell", lambda n: 0),
                ("backlog", lambda n: 20 + (n * 7) % 40))])
        alert_id = conn.execute(insert(control_alerts).values(
            rule="dead_messages", subject="erp", open_key="dead_messages|erp-browser",
            detail="erp: 1 dead message(s)", opened_at=now)).inserted_primary_key[0]

    page = browser.new_page(base_url=hub.url, viewport={"width": 1280, "height": 900})
    page.goto("/control/")  # not signed in: the sign-in page
    assert "/control/login" in page.url
    _shot(page, shots, "login")
    page.fill("input[name=name]", "operator")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url("**/control/")
    assert page.locator("h1").inner_text() == "Overview"
    assert page.locator("#charts svg polyline").count() == 5  # the day of samples, drawn
    _shot(page, shots, "overview")

    # the exchange log, by the order's number: the failed exchange and its error
    page.click("header >> text=Exchange log")
    page.fill("input[name=key]", "SO-BRW-0")
    page.keyboard.press("Enter")
    row = page.locator("tbody tr", has_text="message_error").first
    row.wait_for()
    assert "ERP refused: customer C9 unknown" in row.inner_text()
    _shot(page, shots, "exchange-log")
    row.locator("a").first.click()
    assert "ERP refused: customer C9 unknown" in page.content() and "SO-BRW-0" in page.content()
    _shot(page, shots, "exchange")

    # its message: preview the retry, then retry exactly that one
    page.goto("/control/messages?key=SO-BRW-0")
    assert "ERP refused: customer C9 unknown" in page.locator("tbody").inner_text()
    _shot(page, shots, "messages")
    page.check(f"input[type=checkbox][value='{message_id}']")
    page.click("button:has-text('Preview retry of the ticked')")
    assert page.locator("#n").inner_text() == "1" and page.locator("#ids").inner_text() == str(message_id)
    _shot(page, shots, "preview")
    page.fill("input[name=reason]", "customer C9 created in the ERP")
    page.click("button:has-text('Retry these 1 message(s)')")
    assert str(message_id) in page.locator("#applied").inner_text()
    with hub.engine.connect() as conn:
        assert conn.execute(select(outbox_messages.c.state).where(outbox_messages.c.id == message_id)).scalar_one() \
            == "pending"

    # a new product: tick it, preview, enable
    page.click("header >> text=Products")
    page.check("input[type=checkbox][value='BRW-DRILL-1']")
    _shot(page, shots, "products")
    page.click("button:has-text('Preview enabling the ticked')")
    assert page.locator("#skus").inner_text() == "BRW-DRILL-1"
    page.click("button:has-text('Enable these 1 product(s)')")
    assert "BRW-DRILL-1" in page.locator("#applied").inner_text()
    with hub.engine.connect() as conn:
        assert conn.execute(select(products.c.enabled).where(products.c.key == "BRW-DRILL-1")).scalar_one() is True

    # the alert, acknowledged from the overview
    page.click("header >> text=Overview")
    form = page.locator(f"form[action='/control/alerts/{alert_id}/acknowledge']")
    form.locator("button").click()
    page.wait_for_url("**/control/")
    assert page.locator(f"form[action='/control/alerts/{alert_id}/acknowledge']").count() == 0
    with hub.engine.connect() as conn:
        assert conn.execute(select(control_alerts.c.acknowledged_by)
                            .where(control_alerts.c.id == alert_id)).scalar_one() == "operator"
    page.click("header >> text=Reconciliation")
    _shot(page, shots, "reconciliation")
    page.click("header >> text=Alerts")
    _shot(page, shots, "alerts")
    page.close()
