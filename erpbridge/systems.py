"""What every configured system has, whatever its connector.

A *system* is one entry under ``systems:`` in the config: a connector (files, tryton, a shop
platform...), the connector's own settings (its config model, which extends
:class:`SystemBase`), and these shared ones:

* ``role``: ``erp`` (the master of products, prices, stock and customers; it receives orders)
  or ``shop`` (it sells; it receives master data and feedback and sends orders). A connector
  says which roles it can play and which is its default, so ``role`` is only written where a
  connector could be either.
* ``semaphore``: the breaker that takes the system offline after a general error.
* ``messages``: per-message settings (an endpoint, an operation, a timeout) for systems with one
  service per message. A connector refuses the settings it cannot honour when the config loads.
* ``mappings``: declarative mappings (:mod:`erpbridge.mapping`) of the records this system
  sends, per record kind, so field names and value codes of an API answer are adapted in YAML.
* for shops, ``erp`` (which ERP its orders, customers, cancellations and returns go to;
  default: the only ERP) and ``receives`` (which master data it is sent: product groups, SKU
  patterns, one currency, some warehouses).

It imports nothing of erpbridge but the records and the mapping spec, so that a connector's
config model (and the registry that lists them) can be imported at no cost.
"""

from __future__ import annotations

import fnmatch
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from erpbridge.mapping.spec import MappingSpec
from erpbridge.records.base import CurrencyCode

Role = Literal["erp", "shop"]
ROLES: tuple[Role, ...] = ("erp", "shop")


class Section(BaseModel):
    """A part of the config: unknown keys are errors, aliases and names both accepted."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SemaphoreConfig(Section):
    """The per-system breaker (``siso_erp.erp_semaphore`` in Ibexa's Web.Connector)."""

    max_lock_time: float = Field(default=60, gt=0, description="seconds a system stays offline after a general error")


class MessageSettings(Section):
    """Settings of one message (operation) for systems with one service per message: where it goes,
    what the service calls it, and how long to wait for its answer."""

    endpoint: str | None = Field(default=None, description="the URL, path or folder this message goes to")
    operation: str | None = Field(default=None, description="the service's own name for it (a SOAP operation...)")
    timeout: float | None = Field(default=None, gt=0, description="seconds to wait for the answer to this message")


class Selection(Section):
    """What master data a shop receives; unset parts select everything."""

    groups: list[str] | None = Field(default=None, description="product groups, each with its subgroups")
    skus: list[str] | None = Field(default=None, description="SKU patterns (shell-style: 'A-*')")
    currency: CurrencyCode | None = Field(default=None, description="the one currency of prices sent to it")
    warehouses: list[str] | None = Field(default=None, description="the warehouses whose stock it is sent")
    orders: Literal["own", "all"] = Field(
        default="own", description="whose orders (and their feedback) it is sent: its own (a shop) or all (an event bus)")

    def takes_sku(self, sku: str) -> bool:
        return self.skus is None or any(fnmatch.fnmatchcase(sku, pattern) for pattern in self.skus)


class SystemBase(Section):
    """The settings every system has; a connector's config model extends it and sets
    ``connector`` to a ``Literal`` of its name."""

    connector: str
    role: Role | None = Field(default=None, description="erp or shop (default: the connector's)")
    semaphore: SemaphoreConfig = SemaphoreConfig()
    messages: dict[str, MessageSettings] = Field(default_factory=dict, description="per-message settings")
    mappings: dict[str, MappingSpec] = Field(default_factory=dict,
                                             description="record kind -> how this system's records map to it")
    erp: str | None = Field(default=None, description="a shop's ERP, which receives its orders (default: the only one)")
    receives: Selection = Field(default_factory=Selection, description="a shop's selection of master data")

