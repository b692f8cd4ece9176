"""The connector registry: every installed connector, found through entry points.

What it is. A connector is the code that talks to one kind of system. It makes itself known
with one :class:`ConnectorSpec` (its name, its config model, its factory, what it can do)
registered in the entry-point group ``erpbridge.connectors``; erpbridge's own connectors are
registered the same way in its ``pyproject.toml``. Nothing else in erpbridge names a connector:
the config's ``systems:`` accept exactly the installed connectors, and the hub wires for each
system only what its connector declares (:class:`Capabilities`).

How to add one (a package of its own, no line of erpbridge changed)::

    # erpbridge_acme/spec.py
    from typing import Literal
    from erpbridge.connectors.registry import Capabilities, ConnectorSpec
    from erpbridge.systems import SystemBase

    class AcmeSystem(SystemBase):
        connector: Literal["acme"]
        url: str

    SPEC = ConnectorSpec(
        name="acme", config=AcmeSystem, factory="erpbridge_acme.connector:create",
        capabilities=Capabilities(deliver=frozenset({"send_order"}), fetch=frozenset({"products"})),
        default_flows={"catalog": {"schedule": "0 2 * * *", "mode": "full"}})

    # pyproject.toml
    [project.entry-points."erpbridge.connectors"]
    acme = "erpbridge_acme.spec:SPEC"

``factory`` is ``"module:function"``, imported only when a system of that connector is first
used, so loading the config never imports a connector's HTTP client or SDK. The function is
called as ``create(app, name, cfg)`` (the hub, the system's name, its validated config) and
returns the connector object, which offers the methods its capabilities name:
``deliver(operation, payload, idempotency_key)``, ``deliver_batch(operation, items)``,
``fetch(kind, since)``, ``get_customer``/``get_price``/``get_document``, ``watch(stop)``,
``router()`` for an inbound endpoint, and optionally ``close()``.

Caveats: the registry reads the entry points once per process; a package installed while
erpbridge runs is seen at its next start. Two distributions registering the same name is an
error that names both.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import Annotated, Any, Callable, Mapping, Union

from pydantic import Field

from erpbridge.systems import ROLES, Role, SystemBase

GROUP = "erpbridge.connectors"

#: store -> shop: the operation that pushes a kind of master data, and the one that sends feedback.
#: ``orders`` (the orders the hub accepted, with the hub's state) go to event buses, not to shops.
PUSH_OPERATIONS: dict[str, str] = {
    "product_groups": "push_product_groups", "products": "push_products", "prices": "push_prices",
    "stock": "push_stock", "orders": "push_orders",
}
FEEDBACK_OPERATIONS: dict[str, str] = {
    "order_statuses": "send_order_status", "shipments": "send_shipment", "invoices": "send_invoice",
    "credit_memos": "send_credit_memo",
}
#: What an ERP can be asked for (master data and feedback), and what a shop sends in.
FETCH_KINDS = ("product_groups", "products", "prices", "stock", "customers",
               "order_statuses", "shipments", "invoices", "credit_memos")
INTAKE_KINDS = ("orders", "customers", "cancellations", "returns")
REALTIME = ("customer", "price", "document")


def _kinds(values, allowed: tuple[str, ...] | Mapping[str, str], what: str) -> frozenset[str]:
    values = frozenset(values)
    unknown = sorted(values - set(allowed))
    if unknown:
        raise ValueError(f"{what}: unknown {', '.join(unknown)}; expected some of {', '.join(allowed)}")
    return values


@dataclass(frozen=True)
class Capabilities:
    """What a connector can do; the hub wires exactly this for each of its systems.

    * ``deliver``: outbox operations it delivers (:data:`ERP_OPERATIONS` for an ERP, or its own);
      ``deliver_batch``: it takes several messages of one operation in one call.
    * ``fetch``: record kinds it can be asked for, all or changed since a time (pull flows).
    * ``realtime``: lookups it answers at once: ``customer`` (at login), ``price``, ``document``.
    * ``intake``: what a shop connector takes in (orders, customers, cancellations, returns),
      fetched by the shop's intake flows or received by its inbound endpoint.
    * ``push``: master data kinds it pushes to a shop platform (:data:`PUSH_OPERATIONS`);
      ``feedback``: feedback kinds it sends to a shop (:data:`FEEDBACK_OPERATIONS`).
    * ``inbound``: it serves an endpoint of its own (``router()``) under ``/connectors/<system>``.
    * ``watch``: it runs a loop of its own while erpbridge runs (``watch(stop)``: the files inbox).
    """

    deliver: frozenset[str] = frozenset()
    deliver_batch: bool = False
    fetch: frozenset[str] = frozenset()
    realtime: frozenset[str] = frozenset()
    intake: frozenset[str] = frozenset()
    push: frozenset[str] = frozenset()
    feedback: frozenset[str] = frozenset()
    inbound: bool = False
    watch: bool = False

    def __post_init__(self) -> None:
        for name, allowed in (("fetch", FETCH_KINDS), ("realtime", REALTIME), ("intake", INTAKE_KINDS),
                              ("push", PUSH_OPERATIONS), ("feedback", FEEDBACK_OPERATIONS)):
            object.__setattr__(self, name, _kinds(getattr(self, name), allowed, name))
        object.__setattr__(self, "deliver", frozenset(self.deliver))

    @property
    def operations(self) -> frozenset[str]:
        """Every outbox operation the connector delivers: its own, and those of what it pushes."""
        return (self.deliver | {PUSH_OPERATIONS[k] for k in self.push}
                | {FEEDBACK_OPERATIONS[k] for k in self.feedback})

    def as_dict(self) -> dict[str, Any]:
        return {"deliver": sorted(self.operations), "deliver_batch": self.deliver_batch, "fetch": sorted(self.fetch),
                "realtime": sorted(self.realtime), "intake": sorted(self.intake), "push": sorted(self.push),
                "feedback": sorted(self.feedback), "inbound": self.inbound, "watch": self.watch}


@dataclass(frozen=True)
class ConnectorSpec:
    """One connector, as its package registers it (see the module docstring)."""

    name: str
    config: type[SystemBase]
    factory: str
    capabilities: Capabilities = Capabilities()
    #: The roles its systems may have; the first is the default.
    roles: tuple[Role, ...] = ("erp",)
    #: Flows every system of this connector has unless the config names a flow of the same name:
    #: flow name -> the settings of a ``flows:`` entry (schedule, mode, kinds...).
    default_flows: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: The per-message settings it honours (of endpoint, operation, timeout, or its own); others are refused.
    message_settings: frozenset[str] = frozenset()
    #: For a connector whose abilities follow from each system's config (the webservice connector
    #: does what its ``messages:`` configure): ``configured(system_config) -> Capabilities``, a part
    #: of ``capabilities`` (the union, which the registry lists). The hub wires each system by it.
    configured: Callable[[SystemBase], Capabilities] | None = None
    description: str = ""
    #: Where it came from (the distribution), filled in by the registry.
    distribution: str = ""

    def __post_init__(self) -> None:
        if not self.roles or set(self.roles) - set(ROLES):
            raise ValueError(f"connector {self.name}: roles must be some of {', '.join(ROLES)}, got {self.roles}")
        if ":" not in self.factory:
            raise ValueError(f"connector {self.name}: factory must be 'module:function', got {self.factory!r}")

    @property
    def default_role(self) -> Role:
        return self.roles[0]

    def capabilities_of(self, system: SystemBase) -> Capabilities:
        """What a system of this connector can do, given its config (see ``configured``)."""
        if self.configured is None:
            return self.capabilities
        own = self.configured(system)
        union = self.capabilities
        beyond = [name for name in ("deliver", "fetch", "realtime", "intake", "push", "feedback")
                  if not getattr(own, name) <= getattr(union, name)]
        if beyond:
            raise RegistryError(f"connector {self.name}: a system's capabilities go beyond what the connector declares "
                                f"({', '.join(beyond)})")
        return own

    def factory_function(self) -> Callable[..., Any]:
        module, _, name = self.factory.partition(":")
        return getattr(importlib.import_module(module), name)

    def create(self, app, name: str, cfg: SystemBase) -> Any:
        """Build the connector of system ``name``."""
        return self.factory_function()(app, name, cfg)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "distribution": self.distribution,
                "roles": list(self.roles), "capabilities": self.capabilities.as_dict(),
                "default_flows": {k: dict(v) for k, v in self.default_flows.items()},
                "message_settings": sorted(self.message_settings)}


class RegistryError(Exception):
    """An installed connector cannot be loaded, or two claim one name."""


_lock = threading.Lock()


@cache
def _load() -> dict[str, ConnectorSpec]:
    specs: dict[str, ConnectorSpec] = {}
    for point in entry_points(group=GROUP):
        try:
            spec = point.load()
        except Exception as exc:
            raise RegistryError(f"connector {point.name!r} ({point.value}) cannot be loaded: "
                                f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(spec, ConnectorSpec) or spec.name != point.name:
            raise RegistryError(f"entry point {point.name!r} ({point.value}) is not the ConnectorSpec of a "
                                f"connector named {point.name!r}")
        distribution = point.dist.name if point.dist is not None else "?"
        if spec.name in specs and specs[spec.name].distribution != distribution:
            raise RegistryError(f"connector {spec.name!r} is registered twice: by {specs[spec.name].distribution} "
                                f"and by {distribution}")
        specs[spec.name] = ConnectorSpec(**{**spec.__dict__, "distribution": distribution})
    if not specs:
        raise RegistryError(f"no connectors are registered in the entry-point group {GROUP!r}: is erpbridge "
                            "installed (pip install -e .)?")
    return dict(sorted(specs.items()))


def installed() -> dict[str, ConnectorSpec]:
    """Every installed connector by name."""
    with _lock:
        return _load()


def spec(name: str) -> ConnectorSpec:
    specs = installed()
    if name not in specs:
        raise RegistryError(f"no connector {name!r} is installed; installed: {', '.join(specs)}")
    return specs[name]


def system_config() -> Any:
    """The type of one ``systems:`` entry: the installed connectors' config models, told apart by
    their ``connector`` key."""
    models = tuple(s.config for s in installed().values())
    if len(models) == 1:
        return models[0]
    return Annotated[Union[models], Field(discriminator="connector")]  # type: ignore[valid-type]
