"""Hiding secrets and personal data before a payload is written to the exchange log.

DESIGN.md: "logs redact PII". Support still needs to correlate entries ("was this the same
customer both times?"), so personal values are masked, not dropped: ``Jane Doe`` becomes
``j…#3f9a1c`` (first character, then a short hash of the whole value). Secrets are replaced by
``***`` outright.

A key is a secret when it *contains* a secret word (``access_token``, ``X-Api-Key``); it is
personal when it *is* a personal word (``email``, ``firstName``), so ``filename`` or
``product_name`` stay readable. Both ignore case, ``-`` and ``_``. Under a personal key every
value is masked, also inside lists and mappings (a whole ``address`` block). Strings that hold
JSON are parsed and redacted like any other structure; other strings get ``key=value`` secrets
(query strings, form bodies) replaced and e-mail addresses masked.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import Any, Iterable

import orjson

from erpbridge.exchange.config import ExchangeLogConfig

SECRET = "***"
#: E-mail addresses in free text (error messages, comments) are masked wherever they appear.
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def _normal(key: str) -> str:
    return re.sub(r"[-_\s]", "", key.lower())


class Redactor:
    def __init__(self, secret_keys: Iterable[str] | None = None, personal_keys: Iterable[str] | None = None):
        defaults = ExchangeLogConfig()
        self._secret = tuple(_normal(k) for k in (defaults.redact_keys if secret_keys is None else secret_keys))
        self._personal = frozenset(_normal(k) for k in (defaults.personal_keys if personal_keys is None else personal_keys))
        words = "|".join(re.escape(k) for k in sorted(set(defaults.redact_keys if secret_keys is None else secret_keys)))
        # key=value and key: value pairs inside plain text (query strings, form bodies, headers).
        self._inline = re.compile(rf"(?i)([\w-]*(?:{words})[\w-]*\s*[=:]\s*)([^&\s,;]+)") if words else None
        self._kinds: dict[str, str | None] = {}  # key -> "secret", "personal" or None; keys repeat a lot

    @classmethod
    def from_config(cls, config: ExchangeLogConfig) -> "Redactor":
        return cls(config.redact_keys, config.personal_keys)

    def is_secret(self, key: str) -> bool:
        normal = _normal(key)
        return any(word in normal for word in self._secret)

    def is_personal(self, key: str) -> bool:
        return _normal(key) in self._personal

    def __call__(self, value: Any) -> Any:
        """A JSON-able copy of ``value`` with secrets replaced and personal data masked."""
        return self._walk(plain(value))

    def redact_plain(self, value: Any) -> Any:
        """:meth:`__call__` for a value that is plain JSON data already (skips :func:`plain`)."""
        return self._walk(value)

    def _kind(self, key: str) -> str | None:
        kind = self._kinds.get(key, "")
        if kind == "":
            kind = "secret" if self.is_secret(key) else "personal" if self.is_personal(key) else None
            if len(self._kinds) < 10_000:
                self._kinds[key] = kind
        return kind

    def _walk(self, value: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                key = str(key)
                kind = self._kind(key)
                if kind == "secret":
                    out[key] = SECRET if item not in (None, "") else item
                elif kind == "personal":
                    out[key] = mask(self._walk(item))
                else:
                    out[key] = self._walk(item)
            return out
        if isinstance(value, list):
            return [self._walk(item) for item in value]
        if isinstance(value, str):
            parsed = _json_in(value)
            if parsed is not None:
                return self._walk(parsed)
            if self._inline is not None and ("=" in value or ":" in value):
                value = self._inline.sub(lambda m: m.group(1) + SECRET, value)
            if "@" in value:
                value = _EMAIL.sub(lambda m: mask(m.group(0)), value)
        return value


def mask(value: Any) -> Any:
    """Personal data made unreadable but still comparable: first character and a short hash."""
    if isinstance(value, dict):
        return {key: mask(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask(item) for item in value]
    if value is None or isinstance(value, bool) or value == "":
        return value
    text = str(value).strip().lower()  # the same e-mail in other case is the same person
    digest = hashlib.sha256(text.encode()).hexdigest()[:6]
    return f"{text[:1]}…#{digest}"


def plain(value: Any) -> Any:
    """Turn records, dataclasses and other objects into plain JSON-able data."""
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value  # the common case first: a plain payload is mostly scalars
    if kind is dict:
        return {k if type(k) is str else str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return f"<{len(data)} bytes of binary data>"
    if hasattr(value, "model_dump"):
        return plain(value.model_dump(mode="json"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    return str(value)


def _json_in(text: str) -> Any:
    if not text or (text[0] not in "{[" and not text[0].isspace()):  # most strings: one look, done
        return None
    stripped = text.strip()
    if len(stripped) < 2 or stripped[0] + stripped[-1] not in ("{}", "[]"):
        return None
    try:
        return orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return None
