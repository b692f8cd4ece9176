"""How a user describes their ERP's export format in the config, without writing code.

A mapping names, for each canonical field, where its value is in the ERP's record (a CSV
column, a JSON key, an XML element or ``@attribute``, dotted for nesting), and optionally how
to translate value codes (``values``) and units (``scale``). Canonical fields that are not
mentioned are taken from a source field of the same name, so a mapping lists only what differs.

Example (``erpbridge.yaml``)::

    mappings:
      products:
        csv: {delimiter: ";", encoding: cp1252}
        fields:
          sku: ARTNR
          name: BEZ1
          list_price: {from: VK_CENT, scale: 0.01}
          unit: {from: ME, values: {STK: piece, KG: kg}}
          attributes.color: FARBE
        defaults: {currency: EUR}
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

FileFormat = Literal["csv", "json", "jsonl", "xml"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FieldMap(_Spec):
    """One field's source with its translations."""

    source: str | None = Field(default=None, alias="from", description="where the value is in the ERP record")
    values: dict[str, Any] | None = Field(default=None, description="ERP value code -> canonical value")
    scale: Decimal | None = Field(default=None, description="multiply numbers by this (cents -> units: 0.01)")
    default: Any = Field(default=None, description="used when the source is empty or absent")
    each: str | None = Field(default=None, description="a list in the source; `fields` maps each of its items")
    fields: dict[str, "FieldSpec"] | None = None


FieldSpec = Union[str, FieldMap]
FieldMap.model_rebuild()


class CsvOptions(_Spec):
    delimiter: str | None = Field(default=None, min_length=1, max_length=1, description="sniffed from the header when unset")
    quotechar: str = Field(default='"', min_length=1, max_length=1)
    encoding: str = "utf-8"


class JsonOptions(_Spec):
    records: str | None = Field(default=None, description="dotted path to the array of records; the first array when unset")


class XmlOptions(_Spec):
    record: str | None = Field(default=None, description="tag of a record element; the root's children when unset")


class MappingSpec(_Spec):
    format: FileFormat | None = Field(default=None, description="taken from the file name's extension when unset")
    csv: CsvOptions = CsvOptions()
    json_: JsonOptions = Field(default=JsonOptions(), alias="json")
    xml: XmlOptions = XmlOptions()
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    defaults: dict[str, Any] = Field(default_factory=dict)
    decimal_separator: Literal[".", ","] = Field(
        default=".", description='"," reads 1.234,50 as 1234.50 in number fields (German, French... exports)'
    )
    patterns: list[str] | None = Field(default=None, description="inbox file name globs; `<kind>*` when unset")
    max_record_bytes: int = Field(
        default=1 << 20, ge=1024, description="the largest record read (a CSV or JSON Lines line, a JSON or XML "
                                              "record); a larger one is rejected by its location")
