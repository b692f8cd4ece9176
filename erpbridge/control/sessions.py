"""Signed session cookies, CSRF tokens and the sign-in rate limit of the control center.

A session is a cookie ``<payload>.<signature>``: the payload names the user, the time of sign-in,
a random nonce and the user's password stamp; the signature is an HMAC-SHA256 under the store's
control key (``control_keys``, made on first use like the exchange log's mask key), so every
API process accepts the sessions of the others and nobody without the store can forge one. The
cookie is ``Secure; HttpOnly; SameSite=Strict`` (browsers treat http://127.0.0.1 as secure, so
it works on a loopback address too). Each request reads the user again: a disabled user or a
changed password ends a session at once.

CSRF: every form carries ``csrf = HMAC(key, "csrf|" + nonce)`` of the session's nonce (before
sign-in: of a short-lived pre-session cookie's), and every POST without a matching one is refused.
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import hashlib
import hmac
import os
import threading
import time

import orjson
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from erpbridge.control.tables import control_keys

SESSION_COOKIE = "erpbridge_control"
PRE_COOKIE = "erpbridge_control_pre"
#: A session lasts this long after sign-in; then the operator signs in again.
SESSION_SECONDS = 12 * 3600
PRE_SECONDS = 3600

_keys: dict[str, bytes] = {}
_lock = threading.Lock()


def control_key(engine: Engine) -> bytes:
    """The store's control key, read once per process (created on first use; concurrent first uses
    agree: one insert wins and the others read it)."""
    store = engine.url.render_as_string(hide_password=False)
    with _lock:
        if store in _keys:
            return _keys[store]
    key = _read(engine)
    if key is None:
        try:
            with engine.begin() as conn:
                conn.execute(insert(control_keys).values(id=1, key=os.urandom(32),
                                                         created_at=dt.datetime.now(dt.timezone.utc)))
        except IntegrityError:
            pass
        key = _read(engine)
    with _lock:
        _keys[store] = key
    return key


def _read(engine: Engine) -> bytes | None:
    with engine.connect() as conn:
        key = conn.execute(select(control_keys.c.key).where(control_keys.c.id == 1)).scalar()
    return bytes(key) if key is not None else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, purpose: str, payload: str) -> str:
    return _b64(hmac.new(key, f"{purpose}|{payload}".encode(), hashlib.sha256).digest())


def seal(key: bytes, purpose: str, data: dict) -> str:
    payload = _b64(orjson.dumps(data))
    return f"{payload}.{_sign(key, purpose, payload)}"


def unseal(key: bytes, purpose: str, value: str | None, max_age: float) -> dict | None:
    """The data of a cookie sealed for ``purpose``, or None (missing, forged, expired)."""
    if not value or len(value) > 1024 or value.count(".") != 1:
        return None
    payload, signature = value.split(".")
    if not hmac.compare_digest(signature, _sign(key, purpose, payload)):
        return None
    try:
        data = orjson.loads(_unb64(payload))
    except (ValueError, orjson.JSONDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("t"), (int, float)) or time.time() - data["t"] > max_age:
        return None
    return data


def new_session(key: bytes, user_id: int, stamp: str) -> str:
    return seal(key, "session", {"u": user_id, "s": stamp, "t": int(time.time()), "n": _b64(os.urandom(16))})


def new_pre_session(key: bytes) -> str:
    return seal(key, "pre", {"t": int(time.time()), "n": _b64(os.urandom(16))})


def csrf_token(key: bytes, nonce: str) -> str:
    return _sign(key, "csrf", nonce)


def csrf_ok(key: bytes, nonce: str | None, token: str | None) -> bool:
    return bool(nonce and token) and hmac.compare_digest(csrf_token(key, nonce), token)


class SignInLimiter:
    """At most ``attempts`` failed sign-ins per ``window`` seconds per user name and per client
    address; beyond, sign-in is refused (429) until the oldest failure leaves the window. Kept per
    process: with N API processes an attacker gets N times the attempts, still few against a
    memory-hard hash and a 12-character minimum."""

    def __init__(self, attempts: int = 5, window: float = 300):
        self.attempts = attempts
        self.window = window
        self._failures: dict[str, collections.deque] = {}
        self._lock = threading.Lock()

    def retry_after(self, *who: str) -> float:
        """Seconds until one of ``who`` may try again (0: now)."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for name in who:
                failures = self._prune(name, now)
                if failures is not None and len(failures) >= self.attempts:
                    wait = max(wait, failures[0] + self.window - now)
        return wait

    def failed(self, *who: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._failures) > 100_000:  # guessed names must not grow memory without bound
                self._failures.clear()
            for name in who:
                self._failures.setdefault(name, collections.deque(maxlen=self.attempts)).append(now)

    def _prune(self, name: str, now: float):
        failures = self._failures.get(name)
        while failures and failures[0] + self.window < now:
            failures.popleft()
        return failures
