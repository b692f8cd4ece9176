"""The KPIs over time: each alert check keeps one sample per 5-minute step (once however many
processes check), and the overview draws them as small SVG charts with the target dashed."""

from __future__ import annotations

import datetime as dt
import re
import time

from sqlalchemy import func, select, update

from erpbridge.bootstrap import bootstrap
from erpbridge.config import Config
from erpbridge.control import kpis
from erpbridge.control.tables import control_kpi_samples
from erpbridge.outbox.tables import outbox_messages


def test_samples_are_kept_once_per_step_and_charted_on_the_overview(hub, module_db_url):
    app = bootstrap(Config.model_validate({"store": {"url": module_db_url}}))
    try:
        step = kpis.SAMPLE_STEP  # a few seconds into a step: a second later is the same step
        now = dt.datetime.fromtimestamp(time.time() // step * step + 5, dt.timezone.utc)
        orders = hub.messages(4, channel="charted", prefix="CH", state="done", error=None)
        for hours_ago, latency in ((3, 60), (2, 420), (1, 90)):  # the order export latency went over its target once
            at = now - dt.timedelta(hours=hours_ago)
            with hub.engine.begin() as conn:
                conn.execute(update(outbox_messages).where(outbox_messages.c.id.in_(orders)).values(
                    created_at=at - dt.timedelta(seconds=latency), done_at=at))
            figures = kpis.compute(app, at)
            assert kpis.record_sample(app, figures) is True
            assert kpis.record_sample(app, kpis.compute(app, at + dt.timedelta(seconds=1))) is False  # same step
        with hub.engine.connect() as conn:
            steps = conn.execute(select(func.count(control_kpi_samples.c.at.distinct()))).scalar_one()
        assert steps == 3
        history = kpis.history(app, 24, now)["order_export_p95"]
        assert [v for _, v in history][:1] == [60.0] and 420.0 in [v for _, v in history]
        page = hub.sign_in("viewer").get("/control/").text
        charts = re.findall(r'<svg class="chart".*?</svg>', page, re.S)
        assert len(charts) == len(kpis.CHARTED)
        order = next(c for c in charts if "<title>Order export latency p95" in c)
        assert "<polyline" in order and 'class="target"' in order and "target 300s" in order
        assert "<script" not in page.split("</header>")[1]  # no script in the page's body
    finally:
        app.close()
