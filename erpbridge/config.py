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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from erpbridge.api.config import ApiConfig
from erpbridge.config_values import ConfigError, Secret, Unresolved
from erpbridge.connectors.webhooks import WebhooksSystem
from erpbridge.exchange.config import ExchangeLogConfig
from erpbridge.exchange.redact import hide_url_passwords, is_secret_key
from erpbridge.mapping.spec import MappingSpec
from erpbridge.outbox.config import OutboxConfig
from erpbridge.records import IMPORT_KINDS

DEFAULT_FILE = "erpbridge.yaml"
__all__ = ["Config", "ConfigError", "Secret", "load_config", "require_secrets"]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class StoreConfig(Section):
    url: str = Field(default="sqlite:///erpbridge.db", description="sqlite:///path or postgresql+psycopg://...",
                     repr=False)  # it may hold the database password

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
    file_mode: str = Field(default="0600", description="octal mode of the files written to the outbox; \"0640\" "
                                                       "lets the ERP's account read them through the group")

    @field_validator("file_mode", mode="before")
    @classmethod
    def _octal(cls, value: Any) -> Any:
        if not isinstance(value, str) or not re.fullmatch(r"0?[0-7]{3}", value):
            raise ValueError('expected an octal mode in quotes, like "0640" (YAML reads an unquoted 0640 as 416)')
        mode = int(value, 8)
        if mode & 0o600 != 0o600 or mode & 0o022:
            raise ValueError("expected a mode that lets erpbridge's own user read and write and nobody else write, "
                             'like "0600" or "0640"')
        return f"{mode:04o}"

    @property
    def mode(self) -> int:
        return int(self.file_mode, 8)


class TrytonSystem(SystemBase):
    connector: Literal["tryton"]
    url: str = Field(pattern=r"^https?://")
    database: str
    user: str
    password: Secret
    timeout: float = Field(default=60, gt=0, description="seconds per JSON-RPC call (confirm and post take ~1 s)")
    language: str = "en"
    warehouse: str = Field(default="WH", description="code of the Tryton warehouse that ships shop orders")
    warehouses: dict[str, str] = Field(default_factory=dict, description="Tryton warehouse code -> store warehouse code")
    shipping_methods: dict[str, str] = Field(
        default_factory=dict, description="shop shipping method -> code of the Tryton service product that bills freight")
    payment_methods: dict[str, str] = Field(default_factory=dict, description="shop payment method -> Tryton payment term name")
    fee_products: list[str] = Field(default_factory=list, description="Tryton product codes billed as fees (invoice fee...)")
    price_list: str | None = Field(default=None, description="Tryton price list whose quantity tiers are the volume prices")
    queue_worker: bool = Field(default=False, description="Tryton runs trytond-worker ([queue] worker = True), which "
                               "processes a confirmed sale a moment after confirm instead of within it")
    stuck_after_minutes: float = Field(default=10, gt=0, description="a sale still confirmed, never processed, this long "
                                       "after confirm is stuck: `erpbridge reconcile` reports it and queues its order again")


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


#: Names pydantic puts in an error location for the member of a union it tried: the plain-string
#: branch of ``str | FieldMap`` fields, and each system's connector tag.
_UNION_MEMBERS = {"str", "FieldMap", *(tag for member in typing.get_args(typing.get_args(SystemConfig)[0])
                                      for tag in typing.get_args(member.model_fields["connector"].annotation))}


def _describe(exc: ValidationError, origins: dict[tuple, list[str]]) -> list[str]:
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
        if isinstance(error["input"], Unresolved):  # a reference that cannot be read, in a field that is no secret
            line = f"{loc}: {error['input'].reason}"
            if line not in lines:  # one line for all members of a union
                lines.append(line)
        elif kind == "extra_forbidden":
            allowed = _allowed_keys(error["raw_loc"][:-1])
            hint = f", expected one of: {', '.join(allowed)}" if allowed else ""
            lines.append(f"{loc}: unknown key{hint}")
        elif kind == "missing":
            lines.append(f"{loc}: required key is missing")
        elif kind == "union_tag_invalid":
            lines.append(f"{loc}: {error['msg'].replace('Input tag', 'connector')}")
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
