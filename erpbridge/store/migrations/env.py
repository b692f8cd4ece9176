"""Alembic environment: runs on the connection erpbridge hands over (see erpbridge.store.migrate)."""

from alembic import context

from erpbridge.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()

import erpbridge.exchange.tables, erpbridge.flows.tables  # noqa: E401,E402,F401  (the ops branch's tables)
import erpbridge.outbox.tables  # noqa: E402,F401  (the outbox branch's tables)
import erpbridge.api.tables  # noqa: E402,F401  (the api branch's tables)
