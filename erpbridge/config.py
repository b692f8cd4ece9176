"""The one YAML file that says which systems exist, which flows run when, and how to map them.

Loading validates everything up front: a wrong key, type or value stops start-up with a
message naming the file, the key path and what was expected. Secrets never have to be written
in the file: any string may be ``${VAR}`` (an environment variable, ``${VAR:-default}`` with a
default) or ``${file:/run/secrets/erp-password}`` (a file's content, trailing newline dropped).
A value that came from ``${...}``, or that stands under a secret's key (``password``, ``secret``,
any key the exchange log hides), is never echoed in an error; a password in a URL is shown as
``***``. A secret (:class:`~erpbridge.config_values.Secret`) whose reference cannot be read stops
only what uses it, when it uses it (see :mod:`erpbridge.config_values`).

The file is found from ``--config``, else ``$ERPBRIDGE_CONFIG``, else ``./erpbridge.yaml`` if it
exists; with none of them, the built-in default applies: an SQLite store in ``./erpbridge.db``
and the file-exchange ERP with ``./erp/inbox`` and ``./erp/outbox``.
"""

from __future__ import annotations

import os
import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from croniter import croniter
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from erpbridge.api.config import ApiConfig
from erpbridge.control.config import ControlConfig
from erpbridge.config_values import ConfigError, Secret, Unresolved
from erpbridge.connectors import registry
from erpbridge.exchange.config import ExchangeLogConfig
from erpbridge.exchange.redact import hide_url_passwords, is_secret_key
from erpbridge.mapping.spec import MappingSpec
from erpbridge.outbox.config import OutboxConfig
from erpbridge.records import IMPORT_KINDS, RECORD_KINDS
from erpbridge.systems import Role, Section, Selection, SystemBase

DEFAULT_FILE = "erpbridge.yaml"
__all__ = ["Config", "ConfigError", "Secret", "load_config", "require_secrets"]


class StoreConfig(Section):
    url: str = Field(default="sqlite:///erpbridge.db", description="sqlite:///path or postgresql+psycopg://...",
                     repr=False)  # it may hold the database password

    @field_validator("url")
    @classmethod
    def _supported(cls, url: str) -> str:
        if not (url.startswith("sqlite:///") or url.startswith("postgresql+psycopg://")):
            raise ValueError("expected a sqlite:///path or postgresql+psycopg://user@host/db URL")
        return url


SystemConfig = registry.system_config()


class WarehouseConfig(Section):
    code: str = Field(min_length=1)
    name: str | None = None


class CatalogConfig(Section):
    new_products_enabled: bool = Field(default=False, description="seed 001: new ERP products arrive disabled")
    default_currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    warehouses: list[WarehouseConfig] = Field(
        default_factory=list, description="known warehouses; stock for any other is rejected (empty: any)"
    )


class OrdersConfig(Section):
    send_order_to_erp: bool = True
    wait_for_payment: list[str] = Field(
        default_factory=list, description="payment methods whose orders go to the ERP only once payment is acknowledged"
    )


class OrderHistoryConfig(Section):
    use_local_documents: bool = False
    documents_folder: Path | None = Field(
        default=None, description="where local copies of documents are kept (default: erpbridge-documents beside "
                                  "the config file); created 0700")


class FlowConfig(Section):
    schedule: str | None = Field(default=None, description="cron expression, e.g. '*/5 * * * *'")
    mode: Literal["full", "delta"] = "delta"
    enabled: bool = True
    kinds: list[Literal[registry.FETCH_KINDS + registry.INTAKE_KINDS]] | None = Field(  # type: ignore[valid-type]
        default=None, description="what a pull flow fetches (default: by its name, see erpbridge.flows.runners)")
    system: str | None = Field(default=None, description="the system it runs for (default: the one system whose "
                                                         "connector offers it)")
    on_change: bool = Field(default=False, description="a push flow also runs as soon as the store holds a change "
                                                       "it would send (looked for every second), not only on schedule")

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and not croniter.is_valid(value):
            raise ValueError("expected a cron expression like '*/5 * * * *'")
        return value


class Mappings(Section):
    """One optional mapping per kind of ERP export, for every files system (a system's own
    ``mappings:`` win; see :mod:`erpbridge.mapping.spec`)."""

    product_groups: MappingSpec | None = None
    products: MappingSpec | None = None
    prices: MappingSpec | None = None
    stock: MappingSpec | None = None
    customers: MappingSpec | None = None


assert set(Mappings.model_fields) == set(IMPORT_KINDS)

#: Without a ``systems:`` section: the file-exchange ERP in ./erp/.
DEFAULT_SYSTEMS = {"erp": {"connector": "files"}}


class Config(Section):
    store: StoreConfig = StoreConfig()
    systems: dict[str, SystemConfig] = Field(default_factory=lambda: dict(DEFAULT_SYSTEMS))
    catalog: CatalogConfig = CatalogConfig()
    orders: OrdersConfig = OrdersConfig()
    order_history: OrderHistoryConfig = OrderHistoryConfig()
    flows: dict[str, FlowConfig] = Field(default_factory=dict)
    mappings: Mappings = Mappings()
    exchange_log: ExchangeLogConfig = ExchangeLogConfig()
    api: ApiConfig = ApiConfig()
    outbox: OutboxConfig = OutboxConfig()
    control: ControlConfig = ControlConfig()

    #: Where the file was read from (None for the built-in default); relative paths are resolved against its folder.
    source: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _default_systems(cls, data: Any) -> Any:
        if isinstance(data, dict) and "systems" not in data:
            data = {**data, "systems": dict(DEFAULT_SYSTEMS)}
        return data

    @model_validator(mode="after")
    def _systems_fit_together(self) -> "Config":
        """Each system's role is one its connector can play (its default when unset), its
        per-message settings are ones its connector honours, every shop's orders have an ERP
        to go to: all problems at once, each with its key path."""
        problems: list[str] = []
        for name, system in self.systems.items():
            spec = registry.installed()[system.connector]
            if system.role is None:
                self.systems[name] = system = system.model_copy(update={"role": spec.default_role})
            elif system.role not in spec.roles:
                problems.append(f"systems.{name}.role: the {spec.name} connector can be {' or '.join(spec.roles)}, "
                                f"not {system.role}")
            problems += _message_problems(name, system, spec)
            problems += [f"systems.{name}.mappings.{kind}: unknown record kind, expected one of: "
                         f"{', '.join(RECORD_KINDS)}" for kind in system.mappings if kind not in RECORD_KINDS]
            if system.role == "erp":
                problems += [f"systems.{name}.{key}: only a shop has {key}" for key, unset in (("erp", None),
                                                                                            ("receives", Selection()))
                             if getattr(system, key) != unset]
        erps = self.systems_with("erp")
        if not erps:
            problems.append("systems: no system has role erp; orders, customers and returns need one to go to")
        if self.orders.send_order_to_erp:
            # An ERP whose abilities follow from its config (webservice) must be configured for the orders
            # it receives; the other operations (customers, cancellations, returns) are refused by the API
            # when their ERP does not take them.
            chosen = [self.api.erp, *(s.erp for s in self.systems_with("shop").values())]
            receivers = {erp or next(iter(erps)) for erp in chosen if erp in erps or (erp is None and len(erps) == 1)}
            for receiver in sorted(receivers):
                system = self.systems[receiver]
                if "send_order" not in registry.installed()[system.connector].capabilities_of(system).operations:
                    problems.append(f"systems.{receiver}.messages.send_order: required: this ERP receives orders")
        for where, erp in [(f"systems.{n}.erp", s.erp) for n, s in self.systems_with("shop").items()] + \
                          [("api.erp", self.api.erp)]:
            if erp is not None and erp not in erps:
                problems.append(f"{where}: no ERP named {erp!r}; the ERPs are: {', '.join(erps) or 'none'}")
            elif erp is None and len(erps) > 1:
                problems.append(f"{where}: required with several ERPs ({', '.join(erps)}): name the one that "
                                f"receives the orders")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def systems_with(self, role: Role) -> dict[str, SystemBase]:
        """The systems of a role, in the order configured."""
        return {name: system for name, system in self.systems.items() if system.role == role}

    def erp_for(self, shop: str | None = None) -> str:
        """The ERP that receives the orders, customers, cancellations and returns of a shop
        system (``None``: of the shop that calls erpbridge's own API)."""
        chosen = self.systems[shop].erp if shop is not None else self.api.erp
        return chosen or next(iter(self.systems_with("erp")))

    def mapping(self, kind: str, system: str | None = None) -> MappingSpec:
        """How records of ``kind`` from ``system`` map: the system's own mapping, else (for file
        exports) the top-level ``mappings:``, else field names as they are."""
        own = self.systems[system].mappings.get(kind) if system is not None else None
        return own or getattr(self.mappings, kind, None) or MappingSpec()

    def resolve(self, path: Path) -> Path:
        base = self.source.parent if self.source else Path.cwd()
        return path if path.is_absolute() else base / path


def _message_problems(name: str, system: SystemBase, spec: registry.ConnectorSpec) -> list[str]:
    """``messages:`` must name what the connector does (operations it delivers, kinds it fetches,
    real-time lookups) and settings it honours."""
    problems = []
    capabilities = spec.capabilities
    operations = capabilities.operations | capabilities.fetch | capabilities.realtime
    for operation, settings in system.messages.items():
        where = f"systems.{name}.messages.{operation}"
        if operation not in operations:
            problems.append(f"{where}: the {spec.name} connector has no such message; its messages are: "
                            f"{', '.join(sorted(operations)) or 'none'}")
            continue
        for key in sorted(settings.model_fields_set - spec.message_settings):
            honoured = ", ".join(sorted(spec.message_settings)) or "none"
            problems.append(f"{where}.{key}: the {spec.name} connector has no per-message {key} "
                            f"(it honours: {honoured})")
    return problems


def find_config_file(explicit: str | os.PathLike | None) -> Path | None:
    if explicit:
        return Path(explicit)
    if os.environ.get("ERPBRIDGE_CONFIG"):
        return Path(os.environ["ERPBRIDGE_CONFIG"])
    default = Path(DEFAULT_FILE)
    return default if default.exists() else None


def load_config(explicit: str | os.PathLike | None = None) -> Config:
    path = find_config_file(explicit)
    if path is None:
        return Config()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level, got {type(raw).__name__}")
    origins: dict[tuple, list[str]] = {}
    raw = _interpolate(raw, (), path, origins)
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError("\n".join(f"{path}: {line}" for line in _describe(exc, origins))) from None
    # A field that takes anything (a mapping's defaults) accepted an unreadable reference: only a
    # secret may wait for its first use.
    stray = next(_instances(config, Unresolved), None)
    if stray is not None:
        raise stray.error()
    return config.model_copy(update={"source": path.resolve()})


def require_secrets(config: Config, systems: typing.Iterable[str] | None = None) -> None:
    """Raise the error of every secret of these systems (default: all) that cannot be read: what a
    command that will build their connectors (`erpbridge run`, `worker`, `serve`) checks at start-up."""
    names = config.systems if systems is None else systems
    missing = [secret.unresolved for name in names for secret in _instances(config.systems[name], Secret)
               if secret.unresolved is not None]
    if missing:
        raise ConfigError("\n".join(str(unresolved.error()) for unresolved in missing))


def _instances(value: Any, cls: type) -> typing.Iterator[Any]:
    """Every ``cls`` inside a validated config value (models, mappings and lists walked)."""
    if isinstance(value, cls):
        yield value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _instances(getattr(value, name), cls)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _instances(item, cls)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _instances(item, cls)


_REF = re.compile(r"\$\{([^}]*)\}")


class _Unreadable(Exception):
    """A reference that cannot be read (its reason)."""


def _interpolate(node: Any, where: tuple, path: Path, origins: dict[tuple, list[str]]) -> Any:
    """Replace ``${VAR}``, ``${VAR:-default}`` and ``${file:...}`` in every string; note in
    ``origins`` which references made the string at each key path (so errors never echo it). A
    string whose reference cannot be read becomes :class:`Unresolved`."""
    if isinstance(node, dict):
        return {k: _interpolate(v, where + (k,), path, origins) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, where + (i,), path, origins) for i, v in enumerate(node)]
    if not isinstance(node, str) or "${" not in node:
        return node
    refs = origins[where] = []

    def value_of(match: re.Match) -> str:
        ref = match.group(1)
        if ref.startswith("file:"):
            refs.append(ref)
            secret = Path(ref[5:])
            if not secret.is_absolute():
                secret = path.parent / secret
            try:
                return secret.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise _Unreadable(f"cannot read secret file {secret}: {exc.strerror}") from None
        name, _, default = ref.partition(":-")
        refs.append(name)
        if name in os.environ:
            return os.environ[name]
        if ":-" in ref:
            return default
        raise _Unreadable(f"environment variable {name} is not set")

    try:
        return _REF.sub(value_of, node)
    except _Unreadable as exc:
        return Unresolved(str(path), ".".join(map(str, where)), str(exc))


def _describe(exc: ValidationError, origins: dict[tuple, list[str]]) -> list[str]:
    errors = exc.errors(include_url=False)
    for error in errors:
        error["raw_loc"] = error["loc"]
        error["loc"] = _walk(error["loc"])[0]
    # For ``str | FieldMap`` fields, the error of the plain-string branch only repeats what the
    # other branch says when the user clearly meant a mapping.
    errors = [e for e in errors if not (e["type"] == "string_type" and isinstance(e["input"], dict)
                                        and any(o is not e and o["loc"][: len(e["loc"])] == e["loc"] for o in errors))]
    lines = []
    installed = ", ".join(registry.installed())
    for error in errors:
        loc = _key_path(error["loc"])
        kind = error["type"]
        if isinstance(error["input"], Unresolved):  # a reference that cannot be read, in a field that is no secret
            line = f"{loc}: {error['input'].reason}"
            if line not in lines:  # one line for all members of a union
                lines.append(line)
        elif kind == "extra_forbidden":
            allowed = _allowed_keys(_walk(error["raw_loc"][:-1])[1])
            hint = f", expected one of: {', '.join(allowed)}" if allowed else ""
            lines.append(f"{loc}: unknown key{hint}")
        elif kind == "missing":
            lines.append(f"{loc}: required key is missing")
        elif kind == "union_tag_invalid" and error["ctx"].get("discriminator") == "'connector'":
            lines.append(f"{loc}.connector: no connector {error['ctx']['tag']!r} is installed; installed: {installed}")
        elif kind == "union_tag_not_found" and error["ctx"].get("discriminator") == "'connector'":
            lines.append(f"{loc}.connector: required key is missing; installed connectors: {installed}")
        elif kind == "value_error" and not error["loc"]:
            lines += str(error["ctx"]["error"]).splitlines()  # the config's own cross-checks, each with its path
        else:
            message = error["msg"].removeprefix("Value error, ")
            lines.append(f"{loc}: {message}{_got(error['input'], error['loc'], origins)}")
    return lines


def _got(value: Any, loc: tuple, origins: dict[tuple, list[str]]) -> str:
    """``, got <value>`` for an error, unless the value came from ``${...}`` or is a secret."""
    refs = [ref for where, found in origins.items() if where[: len(loc)] == loc for ref in found]
    if refs:
        return f" (the value came from {', '.join('${' + ref + '}' for ref in dict.fromkeys(refs))} and is not shown)"
    if any(isinstance(part, str) and is_secret_key(part) for part in loc):
        return " (the value is a secret and is not shown)"
    if _holds_secret(value):  # a whole section with a secret in it: its error says enough
        return ""
    return f", got {hide_url_passwords(repr(value))}"


def _holds_secret(value: Any) -> bool:
    if isinstance(value, Secret):
        return True
    if isinstance(value, dict):
        return any(is_secret_key(str(k)) or _holds_secret(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_secret(v) for v in value)
    return False


def _key_path(loc: tuple) -> str:
    return ".".join(map(str, loc)) or "(top level)"


def _walk(loc: tuple) -> tuple[tuple, Any]:
    """Follow a pydantic error location through the config's models: the key path the user
    wrote (without the labels pydantic adds for the union member it tried, such as a
    system's connector or ``FieldMap``), and the type found at its end."""
    model: Any = Config
    shown = []
    for part in loc:
        if str(part).startswith("function-"):
            continue
        model = _unwrap(model)
        members = _members(model)
        if members:
            if part in members:
                model = members[part]
                continue
            model = next(iter(members.values())) if len(members) == 1 else None
        if isinstance(model, type) and issubclass(model, BaseModel):
            field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
            model = field.annotation if field is not None else None
        elif typing.get_origin(model) in (dict, list):
            model = typing.get_args(model)[-1]
        else:
            model = None
        shown.append(part)
    return tuple(shown), model


def _allowed_keys(model: Any) -> list[str]:
    """The valid keys of a model (after the member of a union it stands for)."""
    model = _unwrap(model)
    members = _members(model)
    if len(members) == 1:
        model = next(iter(members.values()))
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or n for n, f in model.model_fields.items() if not f.exclude]
    return []


def _unwrap(model: Any) -> Any:
    """Look through ``Annotated`` and ``X | None``."""
    while typing.get_origin(model) is Annotated:
        model = typing.get_args(model)[0]
    if typing.get_origin(model) in (Union, types.UnionType):
        args = [a for a in typing.get_args(model) if a is not type(None)]
        if len(args) == 1:
            return _unwrap(args[0])
    return model


def _members(model: Any) -> dict[str, Any]:
    """The members of a union by the label pydantic gives each in error locations: a tagged
    model's tag (a system's connector), else the type's name (``str``, ``FieldMap``)."""
    if typing.get_origin(model) not in (Union, types.UnionType):
        return {}
    members = {}
    for member in typing.get_args(model):
        tag = getattr(member, "model_fields", {}).get("connector")
        labels = typing.get_args(tag.annotation) if tag is not None else (getattr(member, "__name__", str(member)),)
        members.update((label, member) for label in labels)
    return members
