"""What every canonical record shares.

A record is a pydantic model with a *key* (its identity in the store, built from one or more
fields) and a canonical JSON form. The JSON form is what the store keeps and hashes: two
records with the same JSON are the same content, so an import recognises unchanged data by
comparing one hash instead of every field.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

#: A non-empty identifier such as a SKU, customer number or warehouse code: whitespace around
#: it is dropped, because ERP exports pad fixed-width columns.
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Text = Annotated[str, StringConstraints(strip_whitespace=True)]


def canonical_decimal(value: Decimal) -> Decimal:
    """3.50, 3.5 and 3.500 are one amount: give them one form, so keys and hashes agree."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6), AfterValidator(canonical_decimal)]
Quantity = Annotated[Decimal, Field(max_digits=18, decimal_places=6), AfterValidator(canonical_decimal)]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Email = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


#: ISO 3166-1 alpha-2; "de" is accepted as "DE".
CountryCode = Annotated[str, BeforeValidator(_upper), StringConstraints(pattern=r"^[A-Z]{2}$")]


class Record(BaseModel):
    """Base of the canonical records: strict about unknown fields, frozen once built."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    #: The record kind's name in the store, the CLI and the mapping config.
    kind: ClassVar[str]
    #: Fields whose values, joined, form the key.
    key_fields: ClassVar[tuple[str, ...]]

    @property
    def key(self) -> str:
        return key_of(tuple(getattr(self, f) for f in self.key_fields))

    def canonical_json(self) -> bytes:
        """The stored form; equal content gives equal bytes (fields in declaration order,
        ``None`` kept, decimals as normalised strings)."""
        return self.__pydantic_serializer__.to_json(self)


def key_of(parts: tuple[object, ...]) -> str:
    """Join key parts with a separator that cannot appear in a stripped code."""
    if len(parts) == 1:
        return str(parts[0])
    return "\x1f".join("" if p is None else str(p) for p in parts)


def content_hash(canonical: bytes) -> str:
    return hashlib.blake2b(canonical, digest_size=16).hexdigest()
