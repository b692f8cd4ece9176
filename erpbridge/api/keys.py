"""API keys: created by `erpbridge keys create`, stored hashed, checked in constant time.

A token looks like ``ebk_<prefix>_<secret>``. The prefix is public (it finds the row and names
the key in `erpbridge keys list`); the token as a whole is stored only as its SHA-256. A plain
hash is enough because the secret is 256 random bits, not a password: there is nothing to
guess by brute force, so a slow KDF would only slow every request down.

Each key carries least-privilege scopes; ``admin`` implies all of them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update

from erpbridge.api.tables import api_keys

SCOPES = ("read:catalog", "read:customers", "write:orders", "write:catalog", "read:metrics", "admin")
TOKEN_PREFIX = "ebk_"


class ApiKeyError(ValueError):
    """A key operation was refused (unknown scope, unknown key)."""


@dataclass(frozen=True)
class ApiKey:
    id: int
    prefix: str
    name: str
    scopes: frozenset[str]
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    def as_dict(self) -> dict:
        return {"id": self.id, "prefix": self.prefix, "name": self.name, "scopes": sorted(self.scopes),
                "created_at": self.created_at, "revoked_at": self.revoked_at}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _row_to_key(row) -> ApiKey:
    return ApiKey(row.id, row.prefix, row.name, frozenset(row.scopes.split()), row.created_at, row.revoked_at)


def create_key(engine: Engine, scopes: list[str], name: str | None = None) -> tuple[str, ApiKey]:
    """Create a key; returns the token (shown once, never stored) and the key."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ApiKeyError(f"scopes: expected one or more of {', '.join(SCOPES)}, got {', '.join(unknown) or 'none'}")
    prefix = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    now = dt.datetime.now(dt.timezone.utc)
    with engine.begin() as conn:
        key_id = conn.execute(insert(api_keys).values(
            prefix=prefix, name=name or f"key-{prefix}", token_hash=_hash(token), scopes=" ".join(sorted(set(scopes))),
            created_at=now).returning(api_keys.c.id)).scalar_one()
        row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).one()
    return token, _row_to_key(row)


def list_keys(engine: Engine) -> list[ApiKey]:
    with engine.connect() as conn:
        return [_row_to_key(r) for r in conn.execute(select(api_keys).order_by(api_keys.c.id))]


def revoke_key(engine: Engine, prefix: str) -> ApiKey:
    """Revoke a key by its prefix (or its name)."""
    now = dt.datetime.now(dt.timezone.utc)
    with engine.begin() as conn:
        row = conn.execute(select(api_keys).where((api_keys.c.prefix == prefix) | (api_keys.c.name == prefix))).all()
        if len(row) != 1:
            raise ApiKeyError(f"no single key with prefix or name {prefix!r} ({len(row)} found)")
        conn.execute(update(api_keys).where(api_keys.c.id == row[0].id, api_keys.c.revoked_at.is_(None))
                     .values(revoked_at=now))
        return _row_to_key(conn.execute(select(api_keys).where(api_keys.c.id == row[0].id)).one())


class KeyRing:
    """Verifies tokens for the API. Rows are cached per prefix for ``cache_seconds`` so a request
    costs no query; a revocation therefore takes effect within that time. The hash comparison is
    constant-time whether the row came from the cache or not."""

    def __init__(self, engine: Engine, cache_seconds: float = 5):
        self.engine = engine
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, tuple[str, ApiKey] | None]] = {}
        self._lock = threading.Lock()

    def verify(self, token: str) -> ApiKey | None:
        """The key for a token, or None (unknown, malformed or revoked)."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        prefix, _, rest = token[len(TOKEN_PREFIX):].partition("_")
        if not prefix or not rest or len(token) > 200:
            return None
        entry = self._lookup(prefix)
        # Compare even when the prefix is unknown, so timing says nothing about which part was wrong.
        stored, key = entry if entry else ("0" * 64, None)
        if not hmac.compare_digest(stored, _hash(token)) or key is None or key.revoked_at is not None:
            return None
        return key

    def _lookup(self, prefix: str) -> tuple[str, ApiKey] | None:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(prefix)
        if cached and now - cached[0] < self.cache_seconds:
            return cached[1]
        with self.engine.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.prefix == prefix)).first()
        entry = (row.token_hash, _row_to_key(row)) if row else None
        with self._lock:
            if len(self._cache) > 10_000:  # guessed prefixes must not grow memory without bound
                self._cache.clear()
            self._cache[prefix] = (now, entry)
        return entry
