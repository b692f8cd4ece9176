"""What every canonical record shares.

A record is a pydantic model with a *key* (its identity in the store, built from one or more
fields) and a canonical JSON form. The JSON form is what the store keeps and hashes: two
records with the same JSON are the same content, so an import recognises unchanged data by
comparing one hash instead of every field.
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, WithJsonSchema


def _printable(value: str) -> str:
    """Identifiers end up in CLI tables, log lines, file names, the ERP's files, URLs and store keys
    (joined by U+001F, see :func:`key_of`): a control or invisible character (NUL, CR/LF, ESC, TAB,
    DEL, a zero-width space, a bidi override, a non-breaking space) breaks or disguises them. And
    ``.`` or ``..`` alone are dropped or climb a level in every HTTP client's URL: never addressable."""
    if not value.isprintable():
        at, char = next((i, c) for i, c in enumerate(value) if not c.isprintable())
        raise ValueError(f"must not contain control or invisible characters, found U+{ord(char):04X} "
                         f"at position {at + 1}")
    if value in (".", ".."):
        raise ValueError(f"cannot be {value!r}")
    return value


def _one_path_segment(value: str) -> str:
    """The API addresses orders, customers, cancellations and returns by their number in one URL
    path segment (``/api/v1/orders/{number}/payment``), where a ``/`` would split it. ERP document
    numbers such as ``INV/2026/0001`` and SKUs keep their ``/``: their routes take the rest of the path."""
    if "/" in value:
        raise ValueError("must not contain '/': it is addressed in a URL path")
    return value


#: What the OpenAPI document says of identifiers (the rule itself is :func:`_printable`).
_CODE_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[^\\x00-\\x1f\\x7f-\\x9f]+$",
                "not": {"enum": [".", ".."]}}

#: A non-empty identifier such as a SKU, customer number or warehouse code: whitespace around
#: it is dropped, because ERP exports pad fixed-width columns; control and invisible characters
#: are refused.
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128),
                 AfterValidator(_printable), WithJsonSchema(_CODE_SCHEMA)]
#: A :data:`Code` the shop's API addresses in a URL path: order numbers, cancellation and return
#: ids, customer numbers and references. Also no ``/``.
PathCode = Annotated[Code, AfterValidator(_one_path_segment),
                     WithJsonSchema({**_CODE_SCHEMA, "pattern": "^[^\\x00-\\x1f\\x7f-\\x9f/]+$"})]

#: What XML 1.0 cannot carry (the ERP's files may be XML): C0 controls but tab and line breaks,
#: lone surrogates, U+FFFE and U+FFFF.
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: str) -> str:
    found = _NOT_TEXT.search(value)
    if found:
        raise ValueError(f"must not contain control characters other than tab and line breaks, found "
                         f"U+{ord(found.group()):04X} at position {found.start() + 1}")
    return value


#: Free text (names, descriptions, addresses): tabs and line breaks are fine, other controls not.
Text = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_text)]


def canonical_decimal(value: Decimal) -> Decimal:
    """3.50, 3.5 and 3.500 are one amount: give them one form, so keys and hashes agree."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6), AfterValidator(canonical_decimal)]
Quantity = Annotated[Decimal, Field(max_digits=18, decimal_places=6), AfterValidator(canonical_decimal)]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Email = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
                  AfterValidator(_printable)]


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
    """Join key parts with a separator (U+001F) that cannot appear in a code."""
    if len(parts) == 1:
        return str(parts[0])
    return "\x1f".join("" if p is None else str(p) for p in parts)


def content_hash(canonical: bytes) -> str:
    return hashlib.blake2b(canonical, digest_size=16).hexdigest()
