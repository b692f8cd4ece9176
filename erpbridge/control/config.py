"""The ``control:`` section of the config: the KPI targets (seed 004's by default), the alert
rules and where alerts are sent. Kept beside the control center and added to
:class:`erpbridge.config.Config` by one line; it imports nothing from the config module."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from erpbridge.config_values import Secret


class KpiTargets(BaseModel):
    """Seed 004: "order export latency p95 < 5 min, inventory sync latency p95 < 10 min, error rate
    < 1% per 1,000 records, oversell incidents = 0"."""

    model_config = ConfigDict(extra="forbid")

    order_export_p95_seconds: float = Field(default=300, gt=0, description="accepted order to its ERP id, p95")
    inventory_sync_p95_seconds: float = Field(default=600, gt=0, description="stock change queued to delivered, p95")
    errors_per_1000: float = Field(default=10, ge=0, description="failed exchanges per 1,000, per flow")
    oversell_incidents: int = Field(default=0, ge=0, description="ERP refusals for stock, and order lines over the "
                                                             "ERP's stock found by stock reconciliation")
    window_hours: float = Field(default=24, gt=0, description="the KPIs look at this many hours back")


class AlertRules(BaseModel):
    """Seed 004: alert on failed runs, on more than three 5xx errors in 10 minutes and on a queue
    backlog above twice its normal; and on dead messages, a long outage and a KPI past its target."""

    model_config = ConfigDict(extra="forbid")

    failed_runs: bool = Field(default=True, description="a flow's last run failed or died")
    general_errors: int = Field(default=3, ge=0, description="more general errors (5xx, timeouts) than this ...")
    general_errors_minutes: float = Field(default=10, gt=0, description="... within this many minutes, per system")
    backlog_factor: float = Field(default=2, gt=1, description="pending messages above this times their normal "
                                                               "(the median at the same time of day, 7 days back)")
    backlog_floor: int = Field(default=10, ge=0, description="a backlog of at most this many never alerts")
    dead_messages: bool = Field(default=True, description="a channel has dead messages")
    offline_minutes: float = Field(default=15, gt=0, description="a system offline longer than this")
    kpis: bool = Field(default=True, description="a KPI past its target")


class AlertEmail(BaseModel):
    """Alerts by e-mail over SMTP: one mail when an incident opens and one when it resolves."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    host: str = Field(description="the SMTP server")
    port: int = Field(default=25, gt=0, lt=65536, description="25, or 587 with starttls")
    starttls: bool = Field(default=False, description="upgrade the connection with STARTTLS before signing in")
    ca_file: str | None = Field(default=None, description="verify the server's certificate against this CA file "
                                                          "(PEM; default: the system's CAs)")
    username: str | None = Field(default=None, description="sign in as this user (with password)")
    password: Secret | None = Field(default=None, description="its password (${SMTP_PASSWORD} or ${file:...})")
    sender: str = Field(alias="from", description="the From address")
    to: list[str] = Field(min_length=1, description="the operators' addresses")
    timeout: float = Field(default=10, gt=0, description="seconds for connecting and each SMTP command")


class ControlConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kpis: KpiTargets = KpiTargets()
    alerts: AlertRules = AlertRules()
    alert_webhook: str | None = Field(default=None, description="URL that gets each alert as Slack-compatible JSON "
                                                                "({\"text\": ...}) when it opens and when it resolves")
    alert_email: AlertEmail | None = Field(default=None, description="also send each alert by e-mail (SMTP)")
    alert_interval: float = Field(default=60, gt=0, description="seconds between two checks of the alert rules "
                                                                "(by each API process)")
