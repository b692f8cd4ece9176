"""Turns one raw source record (a CSV row, a JSON object, an XML element as a dict) into a
canonical record, or into errors that name the canonical field, the source field and why.

The spec is compiled once into a list of small operations, so mapping a million rows costs a
dictionary lookup or two per field; validation is then the record model's own (pydantic).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, get_args, get_origin

from pydantic import BaseModel, ValidationError

from erpbridge.mapping.spec import FieldMap, FieldSpec, MappingSpec
from erpbridge.records.base import Record

_ABSENT = object()


@dataclass(frozen=True, slots=True)
class FieldError:
    """Why one field of one source record was rejected."""

    field: str
    source: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.field} (from {self.source})" if self.source and self.source != self.field else self.field
        return f"{where}: {self.reason}"


class MappingError(Exception):
    """A mapping spec that cannot work with its record kind (found when it is compiled)."""


class RecordRejected(ValueError):
    """What :meth:`Mapper.build` raises for a source record the mapping rejects; ingest reports
    each of its ``errors`` (field, source field, reason) as the mapper named them."""

    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(map(str, errors)))
        self.errors = errors


def _getter(source: str) -> Callable[[dict], Any]:
    """Read ``source`` from a raw record: an exact key first (CSV columns may contain dots),
    then a dotted path through nested objects."""
    parts = source.split(".")
    if len(parts) == 1:
        return lambda raw: raw.get(source, _ABSENT)

    def get(raw: dict) -> Any:
        if source in raw:
            return raw[source]
        node: Any = raw
        for part in parts:
            if not isinstance(node, dict) or part not in node:
                return _ABSENT
            node = node[part]
        return node

    return get


def _as_list(value: Any) -> list:
    """XML has no arrays: ``<addresses><address/></addresses>`` arrives as a dict around one
    or several children. Unwrap it so a list field gets a list, whatever the format."""
    if isinstance(value, dict) and len(value) == 1:
        (inner,) = value.values()
        if isinstance(inner, (dict, list)):
            value = inner
    if isinstance(value, dict):
        return [value]
    return value if isinstance(value, list) else [value]


def _is_list_field(annotation: Any) -> bool:
    return get_origin(annotation) is list or any(get_origin(a) is list for a in get_args(annotation))


def _item_model(annotation: Any) -> type[BaseModel] | None:
    args = get_args(annotation)
    if args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return args[0]
    return None


@dataclass(slots=True)
class _Op:
    target: tuple[str, ...]
    source: str
    get: Callable[[dict], Any]
    convert: Callable[[Any], Any] | None
    default: Any
    nested: "_Plan | None" = None
    #: ``nested`` maps each item of a list (delivery_addresses), else one record (invoice_address).
    many: bool = False


class _Plan:
    """The compiled operations for one model (a record or a nested item such as an address)."""

    def __init__(self, model: type[BaseModel], fields: dict[str, FieldSpec], defaults: dict[str, Any], where: str,
                 decimal_comma: bool = False):
        self.decimal_comma = decimal_comma
        self.ops: list[_Op] = []
        self.sources: dict[str, str] = {}
        mapped_tops = {name.split(".")[0] for name in fields}
        for name, field in model.model_fields.items():
            if name not in mapped_tops:
                fields = {**fields, name: FieldMap(source=name, each=name) if _is_list_field(field.annotation) else name}
        for target, spec in fields.items():
            top = target.split(".")[0]
            if top not in model.model_fields:
                raise MappingError(f"{where}{target}: {model.__name__} has no field {top!r}")
            if isinstance(spec, str):
                spec = FieldMap(source=spec)
            self.ops.append(self._compile(model, target, spec, defaults.get(target), where))
            self.sources[target] = spec.each or spec.source or target
        # Most fields are a plain copy of one source key: those run in one tight loop, the rest
        # (translated, nested, dotted) through their operations. No field is in both, and the
        # plain ones cannot fail, so the errors come out as before.
        dotted_tops = {op.target[0] for op in self.ops if len(op.target) > 1}
        plain = [op for op in self.ops if len(op.target) == 1 and op.target[0] not in dotted_tops and op.convert is None
                 and op.nested is None and "." not in op.source]
        self._plain = tuple((op.target[0], op.source, op.default) for op in plain)
        self._other = [op for op in self.ops if all(op is not p for p in plain)]

    def _compile(self, model: type[BaseModel], target: str, spec: FieldMap, default: Any, where: str) -> _Op:
        source = spec.each or spec.source or target
        nested, many = None, False
        if spec.each is not None or spec.fields:
            annotation = model.model_fields[target.split(".")[0]].annotation
            item = _item_model(annotation)
            if item is not None:
                nested = _Plan(item, spec.fields or {}, {}, f"{where}{target}.", self.decimal_comma)
                many = _is_list_field(annotation)
            elif spec.fields:
                raise MappingError(f"{where}{target}: `fields` needs a record or a list of records, such as "
                                   "invoice_address or delivery_addresses")
        convert = None
        decimal_comma = self.decimal_comma and "." not in target and _is_decimal(model.model_fields[target].annotation)
        if spec.values is not None or spec.scale is not None or decimal_comma:
            convert = _converter(spec.values, spec.scale, decimal_comma)
        return _Op(tuple(target.split(".")), source, _getter(source), convert,
                   spec.default if spec.default is not None else default, nested, many)

    def build(self, raw: dict, errors: list[FieldError], prefix: str) -> dict:
        data: dict[str, Any] = {}
        get = raw.get
        for target, source, default in self._plain:
            value = get(source, _ABSENT)
            if value is _ABSENT or value is None or value == "":
                if default is None:
                    continue
                value = default
            data[target] = value
        for op in self._other:
            value = op.get(raw)
            if value is _ABSENT or value is None or value == "":
                if op.default is None:
                    continue
                value = op.default
            elif op.convert is not None:
                try:
                    value = op.convert(value)
                except ValueError as exc:
                    errors.append(FieldError(prefix + ".".join(op.target), op.source, str(exc)))
                    continue
            if op.nested is not None and not op.many:
                if isinstance(value, dict):
                    value = op.nested.build(value, errors, f"{prefix}{op.target[0]}.")
            elif op.nested is not None:
                value = [
                    op.nested.build(item, errors, f"{prefix}{op.target[0]}.{i}.") if isinstance(item, dict) else item
                    for i, item in enumerate(_as_list(value))
                ]
            if len(op.target) == 1:
                data[op.target[0]] = value
            else:
                node = data
                for part in op.target[:-1]:
                    node = node.setdefault(part, {})
                node[op.target[-1]] = value
        return data

    def source_of(self, loc: tuple) -> str | None:
        """The source field behind an error location such as ``('delivery_addresses', 1, 'city')``."""
        path = ".".join(str(p) for p in loc)
        best = None
        for target, source in self.sources.items():
            if path == target or path.startswith(target + "."):
                best = source
        for op in self.ops:
            if op.nested is None or loc[0] != op.target[0]:
                continue
            if op.many and len(loc) > 2:
                inner = op.nested.source_of(loc[2:])
                return f"{op.source}[{loc[1]}].{inner}" if inner else best
            if not op.many and len(loc) > 1:
                inner = op.nested.source_of(loc[1:])
                return f"{op.source}.{inner}" if inner else best
        return best


def _is_decimal(annotation: Any) -> bool:
    return annotation is Decimal or Decimal in get_args(annotation) or any(
        get_args(a) and get_args(a)[0] is Decimal for a in get_args(annotation))


def _converter(values: dict[str, Any] | None, scale: Decimal | None, decimal_comma: bool = False) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if decimal_comma and isinstance(value, str):
            value = value.strip().replace(".", "").replace(",", ".")
        if values is not None:
            code = str(value).strip()
            if code not in values:
                known = ", ".join(sorted(map(str, values)))
                raise ValueError(f"unknown code {code!r}, expected one of: {known}")
            value = values[code]
        if scale is not None:
            try:
                value = Decimal(str(value).strip()) * scale
            except InvalidOperation:
                raise ValueError(f"not a number: {value!r}") from None
        return value

    return convert


_REASONS = {
    "missing": "required, but missing or empty",
    "decimal_parsing": "not a number",
    "int_parsing": "not a whole number",
    "date_from_datetime_parsing": "not a date (expected YYYY-MM-DD)",
    "date_parsing": "not a date (expected YYYY-MM-DD)",
    "extra_forbidden": "not a field of this record",
}


def _reason(error: dict) -> str:
    reason = _REASONS.get(error["type"]) or error["msg"].removeprefix("Value error, ")
    reason = reason[0].lower() + reason[1:]
    if error["type"] != "missing" and not isinstance(error.get("input"), (dict, list)):
        reason += f", got {error['input']!r}"
    return reason


class Mapper:
    """Maps raw source records of one kind to canonical records, as a spec describes."""

    def __init__(self, record: type[Record], spec: MappingSpec | None = None):
        spec = spec or MappingSpec()
        self.record = record
        self._plan = _Plan(record, spec.fields, spec.defaults, f"mappings.{record.kind}.fields.",
                           spec.decimal_separator == ",")
        self._validate = record.model_validate

    def map(self, raw: dict) -> tuple[Record | None, list[FieldError]]:
        errors: list[FieldError] = []
        data = self._plan.build(raw, errors, "")
        if errors:
            return None, errors
        try:
            return self._validate(data), []
        except ValidationError as exc:
            return None, [self._field_error(e) for e in exc.errors(include_url=False)]

    def build(self, raw: dict) -> Record:
        """:meth:`map` for a caller that takes a record or an exception (a fetched ``Raw``'s
        ``build``): raises :class:`RecordRejected`."""
        if not isinstance(raw, dict):
            raise RecordRejected([FieldError("(record)", None, f"expected an object, got {type(raw).__name__}")])
        record, errors = self.map(raw)
        if errors:
            raise RecordRejected(errors)
        return record

    def _field_error(self, error: dict) -> FieldError:
        return field_error(error, self._plan.source_of)


def field_error(error: dict, source_of: Callable[[tuple], str | None] | None = None) -> FieldError:
    """One of pydantic's validation errors as a FieldError; ``source_of`` names the source
    field behind a location (a mapping's), when there is one."""
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    field = ".".join(str(p) for p in loc) or "(record)"
    return FieldError(field, source_of(loc) if loc and source_of else None, _reason(error))
