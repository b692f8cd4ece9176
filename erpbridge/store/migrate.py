"""Schema migrations (Alembic), applied by `erpbridge run` and `erpbridge db upgrade`.

The scripts live inside the package (``erpbridge/store/migrations``), so an installed erpbridge
migrates its store without an ``alembic.ini`` or a source checkout.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def _alembic(connection) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as connection:
        command.upgrade(_alembic(connection), revision)


def revision_of(engine: Engine) -> str | None:
    """The revision the store is at (None: never migrated)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head() -> str:
    return ScriptDirectory.from_config(_alembic(None)).get_current_head()


def autogenerate(engine: Engine, message: str) -> None:
    """For developers: write a new migration script from the difference to ``tables.py``."""
    with engine.begin() as connection:
        command.revision(_alembic(connection), message=message, autogenerate=True)
