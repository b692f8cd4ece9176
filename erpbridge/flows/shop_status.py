"""What each shop has pending, for ``erpbridge status``: an operator asks "is the shop behind?".

Per shop system (``role: shop``): its outbox messages by operation (``push_products``,
``send_shipments``...) counted by state, with the age of the oldest pending one (a shop outage
shows as a growing age, never as lost messages), and its push flows with each kind's cursor and
the flow's last run.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from erpbridge.flows.tables import flow_cursors
from erpbridge.outbox.tables import outbox_messages
from erpbridge.store.db import as_utc

#: The states an operator acts on; ``done`` and ``discarded`` are history.
OPEN_STATES = ("pending", "running", "dead")


def shop_status(app, flows: list[dict], now: dt.datetime | None = None) -> list[dict]:
    """Each shop with its open messages per operation and its push flows (``flows``: :func:`flow_status`)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    shops = [name for name, system in app.config.systems.items() if system.role == "shop"]
    m, c = outbox_messages, flow_cursors
    with app.engine.connect() as conn:
        counts = conn.execute(select(m.c.channel, m.c.operation, m.c.state, func.count(), func.min(m.c.created_at))
                              .where(m.c.channel.in_(shops), m.c.state.in_(OPEN_STATES))
                              .group_by(m.c.channel, m.c.operation, m.c.state)).all()
        cursors = conn.execute(select(c.c.system, c.c.kind, c.c.updated_at, c.c.key)
                               .where(c.c.system.in_(shops)).order_by(c.c.system, c.c.kind)).all()
    report = {shop: {"system": shop, "pending": 0, "oldest_pending_seconds": None, "operations": {},
                     "cursors": {}, "flows": []} for shop in shops}
    for channel, operation, state, count, oldest in counts:
        shop = report[channel]
        entry = shop["operations"].setdefault(operation, {**dict.fromkeys(OPEN_STATES, 0),
                                                          "oldest_pending_seconds": None})
        entry[state] = count
        if state == "pending":
            age = round((now - as_utc(oldest)).total_seconds(), 1)
            entry["oldest_pending_seconds"] = age
            shop["pending"] += count
            shop["oldest_pending_seconds"] = max(age, shop["oldest_pending_seconds"] or 0.0)
    for system, kind, updated_at, key in cursors:
        report[system]["cursors"][kind] = {"updated_at": as_utc(updated_at).isoformat(), "key": key}
    for flow in flows:
        if flow["system"] in report:
            last = flow["last_run"] or {}
            report[flow["system"]]["flows"].append({"flow": flow["flow"], "enabled": flow["enabled"],
                                                    "last_run": last.get("started_at"),
                                                    "outcome": last.get("outcome")})
    return list(report.values())
