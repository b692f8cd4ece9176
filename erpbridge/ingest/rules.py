"""The business rules every record meets on its way into the store, from whatever source:
prices without a currency are in the catalog's default currency; stock is only for the
warehouses the config lists. (New products arrive disabled: the store sets that itself, see
:mod:`erpbridge.store.records`.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from erpbridge.mapping.mapper import FieldError
from erpbridge.mapping.spec import MappingSpec
from erpbridge.records import Record

if TYPE_CHECKING:
    from erpbridge.config import Config


def with_config_defaults(config: "Config", kind: str, spec: MappingSpec) -> MappingSpec:
    """Prices without a currency are in the catalog's default currency."""
    if kind == "prices" and "currency" not in spec.defaults:
        return spec.model_copy(update={"defaults": {"currency": config.catalog.default_currency, **spec.defaults}})
    return spec


def check_for(config: "Config", kind: str, spec: MappingSpec) -> "KnownWarehouses | None":
    """Checks that need the config, not just the record: stock only for known warehouses.
    ``spec`` is the mapping the records come through (its source field names the error)."""
    if kind != "stock" or not config.catalog.warehouses:
        return None
    spec = spec.fields.get("warehouse")
    source = spec if isinstance(spec, str) else (spec.source if spec is not None else None)
    return KnownWarehouses(frozenset(w.code for w in config.catalog.warehouses), source)


@dataclass(frozen=True)
class KnownWarehouses:
    """Rejects stock for a warehouse the config does not list."""

    codes: frozenset[str]
    source: str | None

    def __call__(self, record: Record) -> FieldError | None:
        if record.warehouse not in self.codes:
            listed = ", ".join(sorted(self.codes))
            return FieldError("warehouse", self.source, f"unknown warehouse {record.warehouse!r}, expected one of: {listed}")
        return None
