"""What the config's sections share wherever they are defined (in :mod:`erpbridge.config` or beside
their connector): the error a config raises, and :class:`Secret`, the type of every password, key
and token in it. Imports nothing of erpbridge, so any module may import it.

A secret is resolved only when it is used. A ``${VAR}`` (or ``${file:...}``) that cannot be read
while the file loads does not stop loading when it stands in a secret field: the field keeps an
:class:`Unresolved` reference, and :meth:`Secret.get_secret_value` raises the error (file, key path,
variable) when the secret is first needed, typically when its connector is built. So
``erpbridge messages`` runs on a host without the ERP's password; ``erpbridge run`` still stops at
start-up, because it asks for every system's secrets first (:func:`erpbridge.config.require_secrets`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic_core import core_schema


class ConfigError(Exception):
    """The config cannot be used; the message names the file, key path and expectation."""


@dataclass(frozen=True)
class Unresolved:
    """A ``${...}`` reference that could not be read when the config was loaded. Only a
    :class:`Secret` field accepts it; anywhere else it is the load's error."""

    file: str
    at: str
    reason: str

    def error(self) -> ConfigError:
        return ConfigError(f"{self.file}: {self.at}: {self.reason}")


class Secret:
    """A secret value: never shown (``repr``, ``str`` and serialisation give ``**********``), read
    with :meth:`get_secret_value` where it is used, like pydantic's ``SecretStr``; or, when its
    reference could not be read, the :class:`Unresolved` reference, raised on first use."""

    __slots__ = ("_value", "_unresolved")

    def __init__(self, value: str | Unresolved):
        self._value, self._unresolved = (None, value) if isinstance(value, Unresolved) else (value, None)

    @property
    def unresolved(self) -> Unresolved | None:
        """Why the secret cannot be read (None: it can)."""
        return self._unresolved

    def get_secret_value(self) -> str:
        if self._unresolved is not None:
            raise self._unresolved.error()
        return self._value  # type: ignore[return-value]

    def __repr__(self) -> str:
        if self._unresolved is not None:
            return f"Secret(<unresolved: {self._unresolved.reason}>)"
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and (self._value, self._unresolved) == (other._value, other._unresolved)

    def __hash__(self) -> int:
        return hash((self._value, self._unresolved))

    @classmethod
    def __get_pydantic_core_schema__(cls, _source: Any, _handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls._validate, json_schema_input_schema=core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(str))

    @classmethod
    def __get_pydantic_json_schema__(cls, _schema: Any, _handler: Any) -> dict:
        return {"type": "string", "format": "password", "writeOnly": True}

    @classmethod
    def _validate(cls, value: Any) -> "Secret":
        if isinstance(value, Secret):
            return value
        if isinstance(value, (str, Unresolved)):
            return cls(value)
        raise ValueError("expected a string (give it as ${VAR} or ${file:...})")
