"""Fixtures shared by the whole suite.

`db_url` / `engine` run a test once on SQLite and once on PostgreSQL (the conformance rule of
DESIGN.md: one suite, both stores). PostgreSQL is the server named by
``ERPBRIDGE_TEST_POSTGRES_URL``; each test gets a schema of its own, dropped afterwards. In CI
(``CI=true``) a missing or unreachable PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

from erpbridge.store import make_engine, upgrade

PG_URL = os.environ.get("ERPBRIDGE_TEST_POSTGRES_URL")


def _with_search_path(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail("ERPBRIDGE_TEST_POSTGRES_URL is not set: CI must run the PostgreSQL tests")
        pytest.skip("set ERPBRIDGE_TEST_POSTGRES_URL to run the PostgreSQL variant")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _with_search_path(PG_URL, schema)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()
