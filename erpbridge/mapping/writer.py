"""The declarative mapping read the other way: a canonical record -> a system's own structure.

The field spec is the one the reading side uses (:class:`~erpbridge.mapping.spec.FieldMap`):
for each canonical field, ``from`` names where its value goes in the system's structure (a
dotted path builds nested objects), ``values`` (system code -> canonical value) is looked up
backwards, ``scale`` divides instead of multiplying, ``default`` is written when the record has
no value, and ``each`` with ``fields`` writes each item of a list of nested records. So a mapping
that reads a system's customers also writes a customer the way that system reads it::

    fields:
      number: CustNo
      status: {from: Blocked, values: {N: active, J: blocked}}     # active -> "N"
      invoice_address: {from: Address, fields: {postcode: Zip}}
      delivery_addresses: {each: ShipTo.Address, fields: {postcode: Zip}}

Fields the spec does not name are written under their own names (as reading takes them from a
field of the same name), or left out with ``same_names=False`` (a SOAP operation refuses
elements its schema does not have). Values stay Python values (Decimal, datetime): the format
that sends them (JSON, XML, SOAP) decides how they are written. Empty values are not written.

Besides the record's fields a writer may read ``context`` names (the ERP's id of the order,
the time of a delta, a page's offset): a spec names them like fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable

from pydantic import BaseModel

from erpbridge.mapping.mapper import MappingError, _is_list_field, _item_model
from erpbridge.mapping.spec import FieldMap, FieldSpec

_ABSENT = object()


class WriteError(ValueError):
    """A value the mapping cannot write (a code it has no system code for...), by field."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


@dataclass(slots=True)
class _Op:
    field: str
    source: tuple[str, ...]
    target: tuple[str, ...]
    codes: dict[Any, Any] | None
    scale: Decimal | None
    default: Any
    nested: "Writer | None"
    many: bool


class Writer:
    """Writes records of one model (or only context values: ``model=None``) as a spec says."""

    def __init__(self, model: type[BaseModel] | None, fields: dict[str, FieldSpec] | None = None, *,
                 same_names: bool = True, context: Iterable[str] = (), where: str = "fields."):
        fields = dict(fields or {})
        context = frozenset(context)
        known = set(model.model_fields) if model is not None else set()
        named_tops = {name.split(".")[0] for name in fields}
        if same_names and model is not None:
            for name in model.model_fields:
                if name not in named_tops:
                    fields[name] = name
        self.ops: list[_Op] = []
        for name, spec in fields.items():
            top = name.split(".")[0]
            if top not in known and top not in context:
                names = ", ".join(sorted(known | context)) or "none"
                raise MappingError(f"{where}{name}: no field or value {top!r} to write; there are: {names}")
            spec = spec if isinstance(spec, FieldMap) else (
                FieldMap.model_validate(spec) if isinstance(spec, dict) else FieldMap(source=spec))
            target = spec.each or spec.source or name
            nested, many = None, False
            if spec.fields is not None or spec.each is not None:
                annotation = model.model_fields[top].annotation if model is not None and top in known else None
                item = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else (
                    _item_model(annotation) if annotation is not None else None)
                if item is None and spec.fields:
                    raise MappingError(f"{where}{name}: `fields` needs a record or a list of records, such as "
                                       "billing_address or lines")
                if item is not None:
                    nested = Writer(item, spec.fields or {}, same_names=same_names, where=f"{where}{name}.")
                    many = _is_list_field(annotation)
            codes = None
            if spec.values is not None:
                codes = {}
                for code, value in spec.values.items():
                    codes.setdefault(_key(value), code)  # the first system code of a canonical value wins
            self.ops.append(_Op(name, tuple(name.split(".")), tuple(target.split(".")), codes, spec.scale,
                                spec.default, nested, many))

    def write(self, values: dict) -> dict:
        """The system's structure for ``values`` (a record as ``model_dump()`` gives it, and the
        context names); raises :class:`WriteError` for a value it cannot write."""
        out: dict = {}
        for op in self.ops:
            value = _get(values, op.source)
            if value is _ABSENT or value is None or value == "":
                if op.default is None:
                    continue
                value = op.default
            elif op.nested is not None and op.many:
                value = [op.nested.write(item) if isinstance(item, dict) else item for item in value]
            elif op.nested is not None and isinstance(value, dict):
                value = op.nested.write(value)
            else:
                value = self._converted(op, value)
            _put(out, op.target, value)
        return out

    @staticmethod
    def _converted(op: _Op, value: Any) -> Any:
        if op.codes is not None:
            code = op.codes.get(_key(value), _ABSENT)
            if code is _ABSENT:
                known = ", ".join(sorted(map(str, op.codes)))
                raise WriteError(op.field, f"{value!r} has no code in the mapping's values, expected one of: {known}")
            value = code
        if op.scale is not None:
            try:
                value = Decimal(str(value)) / op.scale
            except (InvalidOperation, ArithmeticError):
                raise WriteError(op.field, f"not a number: {value!r}") from None
            value = value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
        return value


def _key(value: Any) -> Any:
    """Codes compare as text, so ``values: {1: active}`` and the YAML ``"1"`` agree."""
    return str(value).strip() if not isinstance(value, (dict, list)) else repr(value)


def _get(values: dict, path: tuple[str, ...]) -> Any:
    node: Any = values
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def _put(out: dict, path: tuple[str, ...], value: Any) -> None:
    node = out
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
