"""The store's masking key: the HMAC key of the masks the exchange log puts on personal data.

32 random bytes, created by the first process that needs them (concurrent first uses agree: one
insert wins, the others read what it wrote) and kept in the ``mask_keys`` table, so every process
of a store masks alike and a mask can be matched across entries and processes. Each process reads
it once. It is never written to the config, the log or any output: someone who has an export of
the log but not the store cannot recompute a mask, not even by trying every postcode.
"""

from __future__ import annotations

import datetime as dt
import os
import threading

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from erpbridge.exchange.tables import mask_keys

_cache: dict[str, bytes] = {}
_lock = threading.Lock()


def mask_key(engine: Engine) -> bytes:
    """The store's key, read once per process (created on first use)."""
    store = engine.url.render_as_string(hide_password=False)
    with _lock:
        key = _cache.get(store)
        if key is None:
            key = _cache[store] = _read_or_create(engine)
        return key


def _read_or_create(engine: Engine) -> bytes:
    key = _read(engine)
    if key is None:
        try:
            with engine.begin() as conn:
                conn.execute(insert(mask_keys).values(id=1, key=os.urandom(32),
                                                      created_at=dt.datetime.now(dt.timezone.utc)))
        except IntegrityError:
            pass  # another process made it first: use theirs
        key = _read(engine)
    assert key is not None
    return key


def _read(engine: Engine) -> bytes | None:
    with engine.connect() as conn:
        key = conn.execute(select(mask_keys.c.key).where(mask_keys.c.id == 1)).scalar()
    return bytes(key) if key is not None else None
