"""The ``outbox:`` section of the config: leases, retries and the limits of each channel.

Kept beside the code that uses it and added to :class:`erpbridge.config.Config` by one line.
A channel is named after the system it delivers to (``erp``, ``shop``...); a channel without
settings here has no capacity or rate limit and delivers one message per call.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ChannelConfig(BaseModel):
    """The target system's call limits (e.g. Business Central: 5 concurrent requests)."""

    model_config = ConfigDict(extra="forbid")

    capacity: int | None = Field(default=None, ge=1, description="messages in flight at once, across all workers (none: no limit)")
    rate_limit: float | None = Field(default=None, gt=0, description="messages per second, across all workers (none: no limit)")
    batch_size: int = Field(default=1, ge=1, le=5000,
                            description="messages claimed at once; sent in one call when the connector has deliver_batch")


class OutboxConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lease_seconds: float = Field(default=10, gt=0, description="a claimed message whose worker stops renewing it is "
                                                               "claimable again after this long")
    heartbeat_seconds: float = Field(default=2, gt=0, description="how often a worker renews the leases it holds")
    poll_interval: float = Field(default=0.5, gt=0, description="seconds between looks for due messages (PostgreSQL "
                                                                "also wakes workers at once by NOTIFY)")
    max_attempts: int = Field(default=8, ge=1, description="deliveries that end in a message error before it is dead")
    backoff_base: float = Field(default=2.0, gt=0, description="seconds before the first retry; doubled each attempt")
    backoff_max: float = Field(default=600.0, gt=0, description="longest wait between retries, in seconds")
    reconcile_after_minutes: float = Field(default=10, gt=0, description="an accepted order without an ERP id this "
                                                                         "old is re-queued by `erpbridge reconcile`")
    stock_in_flight_minutes: float = Field(default=15, ge=0, description="`erpbridge reconcile stock` leaves a stock "
                                                                         "value the store changed this recently alone "
                                                                         "(in flight, not a difference)")
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    worker_port: int | None = Field(default=None, gt=0, lt=65536,
                                    description="`erpbridge worker` serves /health and /metrics on this port "
                                                "(default: none; `erpbridge run` has the API's)")
    worker_host: str = Field(default="127.0.0.1", description="the address of the worker's /health and /metrics")

    @model_validator(mode="after")
    def _heartbeat_within_lease(self) -> "OutboxConfig":
        if self.heartbeat_seconds >= self.lease_seconds:
            raise ValueError(f"heartbeat_seconds ({self.heartbeat_seconds}) must be shorter than lease_seconds "
                             f"({self.lease_seconds}), or leases expire under a live worker")
        return self

    @property
    def probe_window(self) -> float:
        """Seconds a probe holds its system, renewed by each heartbeat: two beats, so one late beat
        does not let a second prober in, and a killed prober frees the system that soon."""
        return min(self.lease_seconds, 2 * self.heartbeat_seconds)

    def channel(self, name: str) -> ChannelConfig:
        return self.channels.get(name) or ChannelConfig()
