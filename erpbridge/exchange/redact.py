"""Hiding secrets and personal data before a payload is written to the exchange log.

DESIGN.md: "logs redact PII". Support still needs to correlate entries ("was this the same
customer both times?"), so personal values are masked, not dropped: ``Jane Doe`` becomes
``j…#3f9a1c07`` (a first letter, then a keyed hash of the whole value), ``10115`` becomes
``…#8e21d4a0`` (no first character when it is not a letter: a postcode's first digit tells the
region). Secrets are replaced by ``***`` outright.

The hash is HMAC-SHA256 under the store's own random key (:mod:`.mask_key`), not a plain hash:
a postcode has 100,000 possible values and a plain hash of each is quickly tried, but without
the key (which lives in the store, never in the config or the log) a mask cannot be recomputed.
Every process of one store masks alike, so two entries of the same customer still match; the
same value in two stores masks differently. A :class:`Redactor` built without a key uses a
random one of its own: its masks match only each other.

A key is a secret when it *contains* a secret word (``access_token``, ``X-Api-Key``); it is
personal when it *is* a personal word (``email``, ``firstName``), so ``filename`` or
``product_name`` stay readable. Both ignore case, ``-`` and ``_``. Under a personal key every
value is masked, also inside lists and mappings (a whole ``address`` block). Strings that hold
JSON are parsed and redacted like any other structure. Other strings (under any other key, and
error messages) have ``key=value`` secrets (query strings, form bodies) and the passwords of URLs
replaced, and e-mail addresses, phone numbers, IBANs and card numbers masked wherever they appear
(:func:`_numbers_in`: a number counts as a phone number when it is written like one, with ``+``,
``00`` or a trunk ``0`` in front, or as ``(555) 123-4567``; IBANs and card numbers only when
their check digits hold, so order numbers, EANs and dates stay readable).
"""

from __future__ import annotations

import dataclasses
import hmac
import os
import re
from typing import Any, Callable, Iterable

import orjson

from erpbridge.exchange.config import SECRET_KEYS, ExchangeLogConfig

SECRET = "***"
#: E-mail addresses in free text (error messages, comments) are masked wherever they appear.
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
#: ``scheme://user:password@host``: the password is a secret wherever a URL is written.
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*):[^/\s@]*@")
#: Runs of digits that may be phone or card numbers (checked by :func:`_numbers_in`).
_NUMBER = re.compile(r"(?<![\w+])(?:\+|\()?\d[\d ()./-]{5,28}\d(?![\w])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_NANP = re.compile(r"\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}")
_DATE = re.compile(r"\d{4}[./-]\d{1,2}[./-]\d{1,2}|\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})")
_TRUNK = re.compile(r"\(?(?:0[1-9]|00[1-9])")


def _normal(key: str) -> str:
    return re.sub(r"[-_\s]", "", key.lower())


_SECRET_WORDS = tuple(_normal(k) for k in SECRET_KEYS)


def is_secret_key(key: str, words: tuple[str, ...] | None = None) -> bool:
    """Whether a key holds a secret: it contains one of ``words`` (normalised; default: the
    exchange log's defaults), in any case, ignoring ``-`` and ``_``."""
    normal = _normal(key)
    return any(word in normal for word in (_SECRET_WORDS if words is None else words))


def hide_url_passwords(text: str) -> str:
    """``postgresql://hub:pw@db/hub`` -> ``postgresql://hub:***@db/hub``, anywhere in ``text``."""
    return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}:{SECRET}@", text) if "://" in text else text


class Redactor:
    """Redacts payloads; ``key`` is the masking key, or a callable that returns it when it is
    first needed (the exchange log passes the store's, read once per process)."""

    def __init__(self, secret_keys: Iterable[str] | None = None, personal_keys: Iterable[str] | None = None, *,
                 key: bytes | Callable[[], bytes] | None = None):
        defaults = ExchangeLogConfig()
        self._secret = tuple(_normal(k) for k in (defaults.redact_keys if secret_keys is None else secret_keys))
        self._personal = frozenset(_normal(k) for k in (defaults.personal_keys if personal_keys is None else personal_keys))
        words = "|".join(re.escape(k) for k in sorted(set(defaults.redact_keys if secret_keys is None else secret_keys)))
        # key=value and key: value pairs inside plain text (query strings, form bodies, headers).
        # Each starts only where a key starts: tried inside every long word, it took minutes (quadratic).
        self._inline = re.compile(rf"(?i)(?<![\w-])([\w-]*(?:{words})[\w-]*\s*[=:]\s*)([^&\s,;]+)") if words else None
        self._kinds: dict[str, str | None] = {}  # key -> "secret", "personal" or None; keys repeat a lot
        self._key = os.urandom(32) if key is None else key

    @classmethod
    def from_config(cls, config: ExchangeLogConfig, *, key: bytes | Callable[[], bytes] | None = None) -> "Redactor":
        return cls(config.redact_keys, config.personal_keys, key=key)

    def is_secret(self, key: str) -> bool:
        return is_secret_key(key, self._secret)

    def is_personal(self, key: str) -> bool:
        return _normal(key) in self._personal

    def __call__(self, value: Any) -> Any:
        """A JSON-able copy of ``value`` with secrets replaced and personal data masked."""
        return self._walk(plain(value))

    def redact_plain(self, value: Any) -> Any:
        """:meth:`__call__` for a value that is plain JSON data already (skips :func:`plain`)."""
        return self._walk(value)

    def mask(self, value: Any) -> Any:
        """Personal data made unreadable but still comparable: each value (every leaf of a mapping
        or list, secrets still ``***``) becomes a first letter and a keyed hash."""
        if isinstance(value, dict):
            return {key: SECRET if self._kind(str(key)) == "secret" and item not in (None, "") else self.mask(item)
                    for key, item in value.items()}
        if isinstance(value, list):
            return [self.mask(item) for item in value]
        if value is None or isinstance(value, bool) or value == "":
            return value
        if isinstance(value, str) and (parsed := _json_in(value)) is not None:
            return self.mask(parsed)
        text = str(value).strip().lower()  # the same e-mail in other case is the same person
        if not isinstance(self._key, bytes):
            self._key = self._key()
        digest = hmac.digest(self._key, text.encode(), "sha256").hex()[:8]
        return f"{text[:1] if text[:1].isalpha() else ''}…#{digest}"

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
                    out[key] = self.mask(item)
                else:
                    out[key] = self._walk(item)
            return out
        if isinstance(value, list):
            return [self._walk(item) for item in value]
        if isinstance(value, str):
            parsed = _json_in(value)
            if parsed is not None:
                return self._walk(parsed)
            return self._free_text(value)
        return value

    def _free_text(self, value: str) -> str:
        if self._inline is not None and ("=" in value or ":" in value):
            value = self._inline.sub(lambda m: m.group(1) + SECRET, value)
        value = hide_url_passwords(value)
        if "@" in value:
            value = _EMAIL.sub(lambda m: self.mask(m.group(0)), value)
        if len(value) >= 7:
            value = _NUMBER.sub(lambda m: self.mask(m.group(0)) if _numbers_in(m.group(0)) else m.group(0), value)
            if len(value) >= 15:
                value = _IBAN.sub(lambda m: self.mask(m.group(0)) if _iban_checks(m.group(0)) else m.group(0), value)
        return value


def _numbers_in(candidate: str) -> bool:
    """Whether a run of digits and separators is a phone number or a card number."""
    digits = re.sub(r"\D", "", candidate)
    if 15 <= len(digits) <= 19 and re.fullmatch(r"\d(?:[ -]?\d)+", candidate) and _luhn_checks(digits):
        return True
    if not 7 <= len(digits) <= 15 or _DATE.fullmatch(candidate):
        return False
    return candidate.startswith("+") or bool(_TRUNK.match(candidate)) or bool(_NANP.fullmatch(candidate))


def _luhn_checks(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _iban_checks(candidate: str) -> bool:
    """ISO 13616: the country and check digits moved to the end, letters as 10-35, mod 97 is 1."""
    iban = candidate.replace(" ", "")
    return int("".join(str(int(c, 36)) for c in iban[4:] + iban[:4])) % 97 == 1


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
