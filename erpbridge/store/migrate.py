"""Schema migrations (Alembic), applied by `erpbridge run` and `erpbridge db upgrade`.

The scripts live inside the package (``erpbridge/store/migrations``), so an installed erpbridge
migrates its store without an ``alembic.ini`` or a source checkout. Each part of erpbridge
(records, outbox, exchange log, API keys...) may keep its tables on its own branch from the
first revision, so "up to date" means: at every head.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def _alembic(connection, scripts: Path = MIGRATIONS) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(scripts))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "heads") -> None:
    with engine.begin() as connection:
        command.upgrade(_alembic(connection), revision)


def revision_of(engine: Engine) -> str | None:
    """The revision(s) the store is at, comma-separated (None: never migrated)."""
    with engine.connect() as connection:
        heads = MigrationContext.configure(connection).get_current_heads()
    return ",".join(sorted(heads)) or None


def head() -> str:
    """The newest revision(s) this erpbridge knows, comma-separated."""
    return ",".join(sorted(ScriptDirectory.from_config(_alembic(None)).get_heads()))


def autogenerate(engine: Engine, message: str, *, rev_id: str, head: str = "0001", branch: str | None = None,
                 scripts: Path = MIGRATIONS) -> Path:
    """For developers: write a new migration script (into ``scripts``, by default the package's
    own folder) from the difference between the store and the declared tables; returns its path."""
    with engine.begin() as connection:
        script = command.revision(_alembic(connection, scripts), message=message, autogenerate=True, rev_id=rev_id,
                                  head=head, branch_label=branch)
    return Path(script.path)
