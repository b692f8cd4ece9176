"""Alerts: rules over what the store records, each incident sent once when it opens and once
when it resolves (to ``control.alert_webhook`` as Slack-compatible JSON, and by e-mail over SMTP
to ``control.alert_email``), and kept with its history for the control center.

Rules (``control.alerts``, seed 004's defaults): a flow whose last finished run failed or died;
more than N general errors (5xx, timeouts, refused connections) with a system in M minutes; a
channel's backlog above K times its normal; dead messages in a channel; a system offline longer
than T minutes (since its last successful exchange, as its semaphore is re-tripped by each failed
probe); a KPI past its target.

Every API process checks every ``control.alert_interval`` seconds (:func:`watch`); the unique
``open_key`` lets exactly one of them open an incident, and the notices are claimed the same way
(a compare-and-set on ``sent_*_at`` for the webhook, ``mailed_*_at`` for e-mail), so each goes
out once per target however many run; a notice that could not be sent is tried at the next check.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import httpx
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from erpbridge.config_values import ConfigError
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


def firing(hub, now: dt.datetime | None = None, figures: dict | None = None) -> dict[tuple[str, str], str]:
    """What fires now: ``(rule, subject) -> detail`` (``figures``: the KPIs, if worked out already)."""
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
        for name, detail in kpis.failing(figures or kpis.compute(hub, now)).items():
            found[("kpi", name)] = detail
    return found


def check(hub, now: dt.datetime | None = None) -> dict[str, list[dict]]:
    """Open the incidents that fire and are not open, resolve the open ones that no longer fire,
    and send what is unsent; returns what was opened and resolved by this call. The KPIs worked
    out for it are kept as this step's sample for the overview's charts."""
    now = now or _now()
    figures = kpis.compute(hub, now)
    kpis.record_sample(hub, figures)
    fires = firing(hub, now, figures)
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


def _post(hub, row, state: str, text: str) -> None:
    """The webhook notice: Slack-compatible JSON (``text``) with the rule, subject and state."""
    httpx.post(hub.config.control.alert_webhook, json={"text": text, "rule": row.rule, "subject": row.subject,
                                                       "state": state}, timeout=5).raise_for_status()


def _mail(hub, row, state: str, text: str) -> None:
    """The e-mail notice, over SMTP (STARTTLS and signing in when configured)."""
    cfg = hub.config.control.alert_email
    message = EmailMessage()
    message["Subject"] = f"[erpbridge] {'RESOLVED' if state == 'resolved' else 'ALERT'} {row.rule}: {row.subject}"
    message["From"], message["To"] = cfg.sender, ", ".join(cfg.to)
    message["Date"], message["Message-ID"] = formatdate(usegmt=True), make_msgid("alert", "erpbridge")
    message.set_content(f"{text}\n\nopened {as_utc(row.opened_at):%Y-%m-%d %H:%M:%S} UTC"
                        + (f", resolved {as_utc(row.resolved_at):%Y-%m-%d %H:%M:%S} UTC" if row.resolved_at else "")
                        + "\n")
    with smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout) as smtp:
        if cfg.starttls:
            smtp.starttls(context=ssl.create_default_context(cafile=cfg.ca_file))  # verified, by name
        if cfg.username:
            smtp.login(cfg.username, cfg.password.get_secret_value() if cfg.password else "")
        smtp.send_message(message)


#: Where notices go: the configured target's name -> (its sender, the columns that say when the
#: opening and the resolving notice went out). Each target keeps its own, so a mail server that
#: is down delays only the mails, and each notice goes out once per target.
TARGETS = {"webhook": (_post, a.c.sent_open_at, a.c.sent_resolved_at),
           "e-mail": (_mail, a.c.mailed_open_at, a.c.mailed_resolved_at)}


def send_pending(hub) -> int:
    """Send the notices not sent yet to each configured target (each claimed first, so one
    process sends it); returns how many."""
    control = hub.config.control
    configured = {"webhook": control.alert_webhook, "e-mail": control.alert_email}
    sent = 0
    for target, (send, opened, resolved) in TARGETS.items():
        if configured[target]:
            sent += _send(hub, target, send, opened, resolved)
    return sent


def _send(hub, target: str, send, opened, resolved) -> int:
    sent = 0
    with hub.engine.connect() as conn:
        rows = conn.execute(select(a).where(opened.is_(None) | (a.c.resolved_at.is_not(None) & resolved.is_(None)))
                            .order_by(a.c.id).limit(100)).all()
    for row in rows:
        column = opened if getattr(row, opened.key) is None else resolved
        state = "open" if column is opened else "resolved"
        text = (f":rotating_light: erpbridge alert {row.rule}: {row.detail}" if state == "open"
                else f":white_check_mark: erpbridge alert {row.rule} resolved: {row.detail}")
        with hub.engine.begin() as conn:
            if not conn.execute(update(a).where(a.c.id == row.id, column.is_(None))
                                .values({column.key: _now()})).rowcount:
                continue  # another process claimed it
        try:
            send(hub, row, state, text)
            sent += 1
        # ConfigError: the mail password's ${...} cannot be read (yet): the notice waits like the others
        except (httpx.HTTPError, smtplib.SMTPException, OSError, ConfigError) as exc:
            logger.warning("alert %s %s (%s): %s; retried at the next check", row.id, target, state, exc)
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
