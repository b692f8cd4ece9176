"""Fixtures of the control center's tests.

``hub`` is `erpbridge serve` in its own process with a viewer, an operator and an admin, shared by
the tests of a module (starting a process costs seconds on a busy CI machine), on SQLite and on
PostgreSQL like the suite's `db_url`; tests that change users or trip the sign-in limit take a
``fresh_hub`` of their own.
"""

import os
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).parent))

from control_hub import ControlHub  # noqa: E402

PG_URL = os.environ.get("ERPBRIDGE_TEST_POSTGRES_URL")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def module_db_url(request, tmp_path_factory):
    """The root conftest's `db_url`, once per module: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('store') / 'store.db'}"
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
        yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module")
def hub(module_db_url, tmp_path_factory):
    running = ControlHub(tmp_path_factory.mktemp("hub"), module_db_url)
    yield running
    running.stop()


@pytest.fixture
def fresh_hub(tmp_path, db_url):
    running = ControlHub(tmp_path, db_url)
    yield running
    running.stop()
