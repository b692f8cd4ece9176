"""The control center's users: created by `erpbridge users create`, each with one role.

Passwords are kept as scrypt hashes (memory-hard: each guess costs 32 MiB and tens of
milliseconds, so a stolen table is slow to attack on GPUs). scrypt is in Python's standard
library, so this needs no dependency. The parameters are kept with each hash, so raising them
later leaves old hashes verifiable.

Roles: ``viewer`` sees every page and changes nothing; ``operator`` also acts on messages and
systems (retry, discard, set done, probe now); ``admin`` also manages users.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import os
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from erpbridge.control.tables import ROLES, control_users

#: scrypt cost: n=2**15, r=8 -> 32 MiB of memory per hash (OWASP's recommended minimum is n=2**17
#: with r=8 at p=1 for new systems; 2**15 keeps a sign-in under 100 ms on a small server).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 15, 8, 1
MIN_PASSWORD = 12


class UserError(ValueError):
    """A user operation was refused (unknown role or user, a short password, a taken name)."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    created_at: dt.datetime
    disabled_at: dt.datetime | None
    #: A short digest of the password hash: a session signed for another one (the password was
    #: changed) is no longer valid.
    stamp: str

    def can(self, role: str) -> bool:
        """True when this user's role includes ``role``."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def as_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "role": self.role, "created_at": self.created_at,
                "disabled_at": self.disabled_at}


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        assert scheme == "scrypt"
        expected = bytes.fromhex(digest)
        actual = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p))
    except (ValueError, AssertionError):
        return False
    return hmac.compare_digest(actual, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user name is unknown, so timing does not tell which names exist."""
    return hash_password(os.urandom(16).hex())


def _check(name: str, role: str | None, password: str | None) -> None:
    if not name or len(name) > 128 or not name.isprintable() or name != name.strip():
        raise UserError(f"user name: expected 1 to 128 printable characters without surrounding spaces, got {name!r}")
    if role is not None and role not in ROLES:
        raise UserError(f"role: expected one of {', '.join(ROLES)}, got {role!r}")
    if password is not None and len(password) < MIN_PASSWORD:
        raise UserError(f"password: at least {MIN_PASSWORD} characters are required, got {len(password)}")


def _user(row) -> User:
    return User(row.id, row.name, row.role, row.created_at, row.disabled_at,
                hashlib.sha256(row.password_hash.encode()).hexdigest()[:16])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def create_user(engine: Engine, name: str, role: str, password: str) -> User:
    _check(name, role, password)
    try:
        with engine.begin() as conn:
            conn.execute(insert(control_users).values(name=name, role=role, password_hash=hash_password(password),
                                                      created_at=_now()))
    except IntegrityError:
        raise UserError(f"a user named {name!r} exists already") from None
    return get_user(engine, name=name)


def get_user(engine: Engine, *, name: str | None = None, user_id: int | None = None) -> User | None:
    u = control_users
    where = u.c.name == name if name is not None else u.c.id == user_id
    with engine.connect() as conn:
        row = conn.execute(select(u).where(where)).first()
    return _user(row) if row else None


def list_users(engine: Engine) -> list[User]:
    with engine.connect() as conn:
        return [_user(r) for r in conn.execute(select(control_users).order_by(control_users.c.name))]


def authenticate(engine: Engine, name: str, password: str) -> User | None:
    """The user if ``password`` is theirs and they are not disabled, else None."""
    u = control_users
    with engine.connect() as conn:
        row = conn.execute(select(u).where(u.c.name == name)).first()
    ok = verify_password(password, row.password_hash if row else _dummy_hash())
    return _user(row) if ok and row is not None and row.disabled_at is None else None


def change_user(engine: Engine, name: str, *, role: str | None = None, password: str | None = None,
                disabled: bool | None = None) -> User:
    """Set a user's role, password or disabled state (a new password or disabling ends their sessions)."""
    _check(name, role, password)
    values: dict = {}
    if role is not None:
        values["role"] = role
    if password is not None:
        values["password_hash"] = hash_password(password)
    if disabled is not None:
        values["disabled_at"] = _now() if disabled else None
    with engine.begin() as conn:
        if not conn.execute(update(control_users).where(control_users.c.name == name).values(values)).rowcount:
            raise UserError(f"no user named {name!r}")
    return get_user(engine, name=name)
