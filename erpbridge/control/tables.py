"""The control center's tables (migration 0006c): the people who sign in, what they did, and the
key their session cookies are signed with.

Operators are people, not shops: they have no API key and an API key opens no page. Every change
an operator makes through the control center is a row of ``control_audit`` (who, when, what, on
which records, why); the messages touched keep their own history in ``outbox_actions`` too.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Float, Integer, LargeBinary, String, Table, Text

from erpbridge.store.tables import metadata

#: What each role may do; a role includes the ones before it.
ROLES = ("viewer", "operator", "admin")

control_users = Table(
    "control_users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    # scrypt$<n>$<r>$<p>$<salt hex>$<hash hex> (see erpbridge.control.users)
    Column("password_hash", String(256), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled_at", DateTime(timezone=True)),
)

control_audit = Table(
    "control_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("actor", String(128), nullable=False),
    Column("action", String(32), nullable=False),
    # what was acted on: "messages", "system erp", ...; the filter it was chosen by, as JSON
    Column("target", String(128), nullable=False),
    Column("selection", Text),
    Column("count", Integer, nullable=False),
    Column("ids", Text),
    Column("reason", Text),
)

#: One row: the HMAC key of session cookies and CSRF tokens, kept in the store so every API
#: process signs and checks alike.
control_keys = Table(
    "control_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("key", LargeBinary(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

#: Alert incidents: one row per rule and subject (a flow, a system, a channel, a KPI) from when
#: it fires until it resolves. ``open_key`` is ``<rule>|<subject>`` while open and NULL after:
#: being unique, it lets one process of many open an incident, so it is sent once.
control_alerts = Table(
    "control_alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule", String(32), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("open_key", String(200), unique=True),
    Column("detail", Text, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False, index=True),
    Column("resolved_at", DateTime(timezone=True)),
    Column("acknowledged_by", String(128)),
    Column("acknowledged_at", DateTime(timezone=True)),
    # the webhook: when each notice went out (NULL: not yet, or not configured)
    Column("sent_open_at", DateTime(timezone=True)),
    Column("sent_resolved_at", DateTime(timezone=True)),
    # the e-mail (migration 0006d): likewise
    Column("mailed_open_at", DateTime(timezone=True)),
    Column("mailed_resolved_at", DateTime(timezone=True)),
)

#: The KPIs over time, for the overview's charts: one row per KPI and step (``kpis.SAMPLE_STEP``,
#: 5 minutes), written by the first process whose alert check reaches that step (the primary key
#: makes the others' inserts fail), kept ``kpis.SAMPLE_DAYS`` days.
control_kpi_samples = Table(
    "control_kpi_samples",
    metadata,
    Column("at", DateTime(timezone=True), primary_key=True),
    Column("kpi", String(64), primary_key=True),
    Column("value", Float),
)
