"""The overview page: each system's state, each channel's backlog, each flow's last and next run.

"Probe now" ends a tripped system's lock time at once: the next worker pass (or real-time
request) sends one message as the probe, exactly as when the lock time runs out by itself (see
:mod:`erpbridge.outbox.semaphore`); it is audited like every operator action.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update

from erpbridge.control.messages import audit
from erpbridge.flows import flow_status
from erpbridge.outbox.tables import outbox_messages, semaphores
from erpbridge.store.db import as_utc, write_transaction

m = outbox_messages


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def systems(hub) -> list[dict]:
    now = _now()
    found = []
    for name, system in hub.config.systems.items():
        state = hub.semaphore(name).state()
        until = state["offline_until"]
        found.append({
            "name": name, "connector": system.connector,
            "state": "online" if until is None else "offline" if until > now else "probing",
            "offline_until": until, "reason": state["reason"], "tripped_at": state["tripped_at"],
        })
    return found


def channels(hub) -> list[dict]:
    """Per channel: pending, running and dead messages and the age of the oldest pending one."""
    now = _now()
    with hub.engine.connect() as conn:
        counts = conn.execute(select(m.c.channel, m.c.state, func.count())
                              .where(m.c.state.in_(("pending", "running", "dead")))
                              .group_by(m.c.channel, m.c.state)).all()
        oldest = dict(conn.execute(select(m.c.channel, func.min(m.c.created_at)).where(m.c.state == "pending")
                                   .group_by(m.c.channel)).all())
    names = sorted({c for c, _, _ in counts} | set(hub.config.systems))
    table = {name: {"channel": name, "pending": 0, "running": 0, "dead": 0, "oldest_pending_seconds": None}
             for name in names}
    for channel, state, n in counts:
        table[channel][state] = n
    for channel, created in oldest.items():
        table[channel]["oldest_pending_seconds"] = (now - as_utc(created)).total_seconds()
    return list(table.values())


def overview(hub) -> dict:
    return {"systems": systems(hub), "channels": channels(hub), "flows": flow_status(hub), "now": _now()}


def probe_now(hub, name: str, *, actor: str) -> bool:
    """Let the next delivery to the tripped system ``name`` probe it now; False if it was not tripped."""
    hub.system(name)  # an unknown name is a clear error
    s = semaphores
    with write_transaction(hub.engine) as conn:
        at = _now()
        changed = conn.execute(update(s).where(s.c.system == name, s.c.offline_until.is_not(None))
                               .values(offline_until=at)).rowcount
        audit(conn, actor, "probe", f"system {name}", ids=[name] if changed else [],
              reason="probe now" if changed else "probe now: the system was not offline", at=at)
    return bool(changed)
