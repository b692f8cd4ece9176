"""Alerts: rules over what the store records, each incident sent once when it opens and once
when it resolves (to ``control.alert_webhook`` as Slack-compatible JSON), and kept with its
history for the control center.

Rules (``control.alerts``, seed 004's defaults): a flow whose last finished run failed or died;
more than N general errors (5xx, timeouts, refused connections) with a system in M minutes; a
channel's backlog above K times its normal; dead messages in a channel; a system offline longer
than T minutes (since its last successful exchange, as its semaphore is re-tripped by each failed
probe); a KPI past its target.

Every API process checks every ``control.alert_interval`` seconds (:func:`watch`); the unique
``open_key`` lets exactly one of them open an incident, and the webhook notices are claimed
the same way (a compare-and-set on ``sent_*_at``), so each goes out once however many run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import httpx
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from erpbridge.control import kpis
from erpbridge.control.messages import audit
from erpbridge.control.tables import control_alerts
from erpbridge.exchange.tables import exchange_log
from erpbridge.flows.scheduler import flows_of
from erpbridge.flows.tables import flow_runs
from erpbridge.outbox.tables import outbox_messages, semaphores
from erpbridge.store.db import as_utc

logger = logging.getLogger(__name__)
a = control_alerts
PAGE = 50


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def firing(hub, now: dt.datetime | None = None) -> dict[tuple[str, str], str]:
    """What fires now: ``(rule, subject) -> detail``."""
    now = now or _now()
    rules = hub.config.control.alerts
    found: dict[tuple[str, str], str] = {}
    with hub.engine.connect() as conn:
        if rules.failed_runs:
            for flow in flows_of(hub):
                last = conn.execute(select(flow_runs.c.outcome, flow_runs.c.error, flow_runs.c.finished_at)
                                    .where(flow_runs.c.flow == flow, flow_runs.c.finished_at.is_not(None))
                                    .order_by(flow_runs.c.id.desc()).limit(1)).first()
                if last is not None and last.outcome in ("failed", "died"):
                    found[("failed_run", flow)] = f"flow {flow}: the run that ended {as_utc(last.finished_at):%H:%M} " \
                                                  f"UTC {last.outcome}" + (f": {last.error}" if last.error else "")
        since = now - dt.timedelta(minutes=rules.general_errors_minutes)
        for system, count in conn.execute(
                select(exchange_log.c.system, func.count()).where(exchange_log.c.outcome == "general_error",
                                                                  exchange_log.c.at >= since)
                .group_by(exchange_log.c.system)):
            if count > rules.general_errors:
                found[("general_errors", system)] = f"{system}: {count} general errors (5xx, timeouts) in the last " \
                                                    f"{rules.general_errors_minutes:g} minutes"
        m = outbox_messages
        dead = dict(conn.execute(select(m.c.channel, func.count()).where(m.c.state == "dead")
                                 .group_by(m.c.channel)).all())
        if rules.dead_messages:
            for channel, count in dead.items():
                found[("dead_messages", channel)] = f"{channel}: {count} dead message(s) wait for an operator"
        for channel in sorted(set(hub.config.systems) | set(dead)):
            pending, normal = kpis.backlog(conn, channel, now)
            if pending > rules.backlog_floor and pending > rules.backlog_factor * normal:
                found[("backlog", channel)] = f"{channel}: {pending} messages pending, normal is {normal:g} " \
                                              f"(alert above {rules.backlog_factor:g} times)"
        for system, tripped_at, reason in conn.execute(select(semaphores.c.system, semaphores.c.tripped_at,
                                                              semaphores.c.reason)
                                                       .where(semaphores.c.offline_until.is_not(None))):
            last_ok = conn.execute(select(func.max(exchange_log.c.at)).where(
                exchange_log.c.system == system, exchange_log.c.outcome == "ok")).scalar()
            since_ok = as_utc(last_ok) if last_ok is not None else as_utc(tripped_at)
            if since_ok is not None and now - since_ok > dt.timedelta(minutes=rules.offline_minutes):
                found[("offline", system)] = f"{system} offline since {since_ok:%Y-%m-%d %H:%M} UTC: {reason}"
    if rules.kpis:
        for name, detail in kpis.failing(kpis.compute(hub, now)).items():
            found[("kpi", name)] = detail
    return found


def check(hub, now: dt.datetime | None = None) -> dict[str, list[dict]]:
    """Open the incidents that fire and are not open, resolve the open ones that no longer fire,
    and send what is unsent; returns what was opened and resolved by this call."""
    now = now or _now()
    fires = firing(hub, now)
    opened, resolved = [], []
    with hub.engine.connect() as conn:
        open_rows = {(r.rule, r.subject): r.id for r in conn.execute(select(a.c.id, a.c.rule, a.c.subject)
                                                                     .where(a.c.open_key.is_not(None)))}
    for (rule, subject), detail in fires.items():
        if (rule, subject) in open_rows:
            continue
        try:
            with hub.engine.begin() as conn:
                conn.execute(insert(a).values(rule=rule, subject=subject[:128], open_key=f"{rule}|{subject}"[:200],
                                              detail=detail, opened_at=now))
            opened.append({"rule": rule, "subject": subject, "detail": detail})
        except IntegrityError:
            pass  # another process opened it first
    for (rule, subject), alert_id in open_rows.items():
        if (rule, subject) not in fires:
            with hub.engine.begin() as conn:
                if conn.execute(update(a).where(a.c.id == alert_id, a.c.open_key.is_not(None))
                                .values(open_key=None, resolved_at=now)).rowcount:
                    resolved.append({"rule": rule, "subject": subject})
    send_pending(hub)
    return {"opened": opened, "resolved": resolved}


def send_pending(hub) -> int:
    """Send the notices not sent yet (each claimed first, so one process sends it); returns how many."""
    url = hub.config.control.alert_webhook
    if not url:
        return 0
    sent = 0
    with hub.engine.connect() as conn:
        rows = conn.execute(select(a).where((a.c.sent_open_at.is_(None))
                                            | (a.c.resolved_at.is_not(None) & a.c.sent_resolved_at.is_(None)))
                            .order_by(a.c.id).limit(100)).all()
    for row in rows:
        column = a.c.sent_open_at if row.sent_open_at is None else a.c.sent_resolved_at
        text = (f":rotating_light: erpbridge alert {row.rule}: {row.detail}" if column is a.c.sent_open_at
                else f":white_check_mark: erpbridge alert {row.rule} resolved: {row.detail}")
        at = _now()
        with hub.engine.begin() as conn:
            if not conn.execute(update(a).where(a.c.id == row.id, column.is_(None)).values({column.key: at})).rowcount:
                continue  # another process claimed it
        try:
            httpx.post(url, json={"text": text, "rule": row.rule, "subject": row.subject,
                                  "state": "open" if column is a.c.sent_open_at else "resolved"},
                       timeout=5).raise_for_status()
            sent += 1
        except httpx.HTTPError as exc:
            logger.warning("alert webhook %s: %s; retried at the next check", url, exc)
            with hub.engine.begin() as conn:  # give the claim back
                conn.execute(update(a).where(a.c.id == row.id).values({column.key: None}))
    return sent


def history(engine, before_id: int | None = None, limit: int = PAGE) -> list[dict]:
    stmt = select(a).order_by(a.c.id.desc()).limit(limit)
    if before_id is not None:
        stmt = stmt.where(a.c.id < before_id)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def acknowledge(engine, alert_id: int, actor: str) -> bool:
    """Note that ``actor`` has seen the incident (audited); False if it was acknowledged before."""
    with engine.begin() as conn:
        done = conn.execute(update(a).where(a.c.id == alert_id, a.c.acknowledged_at.is_(None))
                            .values(acknowledged_by=actor, acknowledged_at=_now())).rowcount
        if done:
            audit(conn, actor, "acknowledge", f"alert {alert_id}", ids=[alert_id])
    return bool(done)


async def watch(hub) -> None:
    """Check the rules every ``control.alert_interval`` seconds while the API runs; a failed check
    is logged and tried again."""
    while True:
        await asyncio.sleep(hub.config.control.alert_interval)  # not at once: a starting server has enough to do
        try:
            await asyncio.to_thread(check, hub)
        except Exception:
            logger.exception("alert check failed; trying again in %s s", hub.config.control.alert_interval)
