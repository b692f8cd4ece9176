"""The one YAML file that says which systems exist, which flows run when, and how to map them.

Loading validates everything up front: a wrong key, type or value stops start-up with a
message naming the file, the key path and what was expected. Secrets never have to be written
in the file: any string may be ``${VAR}`` (an environment variable, ``${VAR:-default}`` with a
default) or ``${file:/run/secrets/erp-password}`` (a file's content, trailing newline dropped).

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
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from erpbridge.api.config import ApiConfig
from erpbridge.connectors.webhooks import WebhooksSystem
from erpbridge.exchange.config import ExchangeLogConfig
from erpbridge.mapping.spec import MappingSpec
from erpbridge.outbox.config import OutboxConfig
from erpbridge.records import IMPORT_KINDS

DEFAULT_FILE = "erpbridge.yaml"


class ConfigError(Exception):
    """The config cannot be used; the message names the file, key path and expectation."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class StoreConfig(Section):
    url: str = Field(default="sqlite:///erpbridge.db", description="sqlite:///path or postgresql+psycopg://...")

    @field_validator("url")
    @classmethod
    def _supported(cls, url: str) -> str:
        if not (url.startswith("sqlite:///") or url.startswith("postgresql+psycopg://")):
            raise ValueError("expected a sqlite:///path or postgresql+psycopg://user@host/db URL")
        return url


class SemaphoreConfig(Section):
    """The per-system breaker (seed 000 ``siso_erp.erp_semaphore``)."""

    max_lock_time: float = Field(default=60, gt=0, description="seconds a system stays offline after a general error")


class MessageSettings(Section):
    """Per-message endpoint settings for systems with one service per operation (seed 000)."""

    endpoint: str | None = None
    operation: str | None = None
    timeout: float = Field(default=30, gt=0)


class SystemBase(Section):
    semaphore: SemaphoreConfig = SemaphoreConfig()
    messages: dict[str, MessageSettings] = Field(default_factory=dict)


class FilesSystem(SystemBase):
    """An ERP that exchanges files: it drops exports into ``inbox``, reads our files from ``outbox``."""

    connector: Literal["files"]
    inbox: Path = Path("erp/inbox")
    outbox: Path = Path("erp/outbox")
    format: Literal["json", "xml"] = "json"
    poll_interval: float = Field(default=2.0, gt=0, description="seconds between looks into the inbox")
    settle_time: float = Field(default=1.0, ge=0, description="a file must be unchanged this long before import")


class TrytonSystem(SystemBase):
    connector: Literal["tryton"]
    url: str = Field(pattern=r"^https?://")
    database: str
    user: str
    password: SecretStr
    timeout: float = Field(default=60, gt=0, description="seconds per JSON-RPC call (confirm and post take ~1 s)")
    language: str = "en"
    warehouse: str = Field(default="WH", description="code of the Tryton warehouse that ships shop orders")
    warehouses: dict[str, str] = Field(default_factory=dict, description="Tryton warehouse code -> store warehouse code")
    shipping_methods: dict[str, str] = Field(
        default_factory=dict, description="shop shipping method -> code of the Tryton service product that bills freight")
    payment_methods: dict[str, str] = Field(default_factory=dict, description="shop payment method -> Tryton payment term name")
    fee_products: list[str] = Field(default_factory=list, description="Tryton product codes billed as fees (invoice fee...)")
    price_list: str | None = Field(default=None, description="Tryton price list whose quantity tiers are the volume prices")


SystemConfig = Annotated[Union[FilesSystem, TrytonSystem, WebhooksSystem], Field(discriminator="connector")]


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
    kinds: list[Literal["product_groups", "products", "prices", "stock", "customers", "order_statuses", "shipments",
                        "invoices", "credit_memos"]] | None = Field(
        default=None, description="what a pull flow fetches (default: by its name, see erpbridge.flows.runners)")

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and not croniter.is_valid(value):
            raise ValueError("expected a cron expression like '*/5 * * * *'")
        return value


class Mappings(Section):
    """One optional mapping per kind of ERP export (see :mod:`erpbridge.mapping.spec`)."""

    product_groups: MappingSpec | None = None
    products: MappingSpec | None = None
    prices: MappingSpec | None = None
    stock: MappingSpec | None = None
    customers: MappingSpec | None = None


assert set(Mappings.model_fields) == set(IMPORT_KINDS)


class Config(Section):
    store: StoreConfig = StoreConfig()
    systems: dict[str, SystemConfig] = Field(default_factory=lambda: {"erp": FilesSystem(connector="files")})
    catalog: CatalogConfig = CatalogConfig()
    orders: OrdersConfig = OrdersConfig()
    order_history: OrderHistoryConfig = OrderHistoryConfig()
    flows: dict[str, FlowConfig] = Field(default_factory=dict)
    mappings: Mappings = Mappings()
    exchange_log: ExchangeLogConfig = ExchangeLogConfig()
    api: ApiConfig = ApiConfig()
    outbox: OutboxConfig = OutboxConfig()

    #: Where the file was read from (None for the built-in default); relative paths are resolved against its folder.
    source: Path | None = Field(default=None, exclude=True)

    @property
    def erp(self) -> tuple[str, SystemConfig]:
        """The ERP system (the first one configured)."""
        name = next(iter(self.systems))
        return name, self.systems[name]

    def mapping(self, kind: str) -> MappingSpec:
        return getattr(self.mappings, kind) or MappingSpec()

    def resolve(self, path: Path) -> Path:
        base = self.source.parent if self.source else Path.cwd()
        return path if path.is_absolute() else base / path


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
    raw = _interpolate(raw, (), path)
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError("\n".join(f"{path}: {line}" for line in _describe(exc))) from None
    return config.model_copy(update={"source": path.resolve()})


_REF = re.compile(r"\$\{([^}]*)\}")


def _interpolate(node: Any, where: tuple, path: Path) -> Any:
    """Replace ``${VAR}``, ``${VAR:-default}`` and ``${file:...}`` in every string."""
    if isinstance(node, dict):
        return {k: _interpolate(v, where + (k,), path) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, where + (i,), path) for i, v in enumerate(node)]
    if not isinstance(node, str) or "${" not in node:
        return node

    def value_of(match: re.Match) -> str:
        ref = match.group(1)
        at = ".".join(map(str, where))
        if ref.startswith("file:"):
            secret = Path(ref[5:])
            if not secret.is_absolute():
                secret = path.parent / secret
            try:
                return secret.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise ConfigError(f"{path}: {at}: cannot read secret file {secret}: {exc.strerror}") from None
        name, _, default = ref.partition(":-")
        if name in os.environ:
            return os.environ[name]
        if ":-" in ref:
            return default
        raise ConfigError(f"{path}: {at}: environment variable {name} is not set")

    return _REF.sub(value_of, node)


#: Names pydantic puts in an error location for the member of a union it tried.
_UNION_MEMBERS = {"str", "FieldMap", "files", "tryton"}


def _describe(exc: ValidationError) -> list[str]:
    errors = exc.errors(include_url=False)
    for error in errors:
        error["raw_loc"] = error["loc"]
        error["loc"] = tuple(p for p in error["loc"] if p not in _UNION_MEMBERS and not str(p).startswith("function-"))
    # For ``str | FieldMap`` fields, the error of the plain-string branch only repeats what the
    # other branch says when the user clearly meant a mapping.
    errors = [e for e in errors if not (e["type"] == "string_type" and isinstance(e["input"], dict)
                                        and any(o is not e and o["loc"][: len(e["loc"])] == e["loc"] for o in errors))]
    lines = []
    for error in errors:
        loc = _key_path(error["loc"])
        kind = error["type"]
        if kind == "extra_forbidden":
            allowed = _allowed_keys(error["raw_loc"][:-1])
            hint = f", expected one of: {', '.join(allowed)}" if allowed else ""
            lines.append(f"{loc}: unknown key{hint}")
        elif kind == "missing":
            lines.append(f"{loc}: required key is missing")
        elif kind == "union_tag_invalid":
            lines.append(f"{loc}: {error['msg'].replace('Input tag', 'connector')}")
        else:
            message = error["msg"].removeprefix("Value error, ")
            lines.append(f"{loc}: {message}, got {error['input']!r}")
    return lines


def _key_path(loc: tuple) -> str:
    return ".".join(map(str, loc)) or "(top level)"


def _allowed_keys(loc: tuple) -> list[str]:
    """The valid keys at a location, by walking the config model along it."""
    model: Any = Config
    for part in loc:
        model = _unwrap(model, part)
        if part in _UNION_MEMBERS:
            continue
        if isinstance(model, type) and issubclass(model, BaseModel):
            field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
            if field is None:
                return []
            model = field.annotation
        elif typing.get_origin(model) in (dict, list):
            model = typing.get_args(model)[-1]
        else:
            return []
    model = _unwrap(model)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or n for n, f in model.model_fields.items() if not f.exclude]
    return []


def _unwrap(model: Any, part: Any = None) -> Any:
    """Look through ``Annotated``, ``X | None`` and unions to the model the loc part belongs to."""
    while typing.get_origin(model) is Annotated:
        model = typing.get_args(model)[0]
    if typing.get_origin(model) in (Union, types.UnionType):
        models = [m for m in typing.get_args(model) if isinstance(m, type) and issubclass(m, BaseModel)]
        tagged = [m for m in models if part in (m.__name__, getattr(m.model_fields.get("connector"), "default", None),
                                                 *typing.get_args(getattr(m.model_fields.get("connector"), "annotation", None)))]
        if tagged:
            return tagged[0]
        if len(models) == 1:
            return models[0]
    return model
