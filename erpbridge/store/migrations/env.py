"""Alembic environment: runs on the connection erpbridge hands over (see erpbridge.store.migrate).

Every part's tables are imported before anything runs: autogenerate compares the database with
this metadata, and a table missing from it would come out as a ``drop_table``.
"""

from alembic import context

import erpbridge.api.tables  # noqa: F401  (the api branch's tables)
import erpbridge.connectors.onec.tables  # noqa: F401  (migration 0007a)
import erpbridge.control.tables  # noqa: F401  (migration 0006c)
import erpbridge.exchange.tables  # noqa: F401  (the ops branch's tables)
import erpbridge.flows.tables  # noqa: F401
import erpbridge.outbox.tables  # noqa: F401  (the outbox branch's tables)
import erpbridge.services.tables  # noqa: F401
from erpbridge.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
