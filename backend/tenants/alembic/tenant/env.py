"""Alembic environment of the tenant tree (one clinic schema per run).

Programmatic only: the caller passes an open connection, in a transaction it owns, through
`config.attributes` (see `backend.tenants.migrations.autogenerate_revision`). Upgrades by
`backend.tenants.migrations` do not run this file: alembic's `context` and `op` proxies are
process globals, and clinics migrate in threads.
"""

from alembic import context
from alembic.operations import Operations

from backend.tenants.migrations import prepare_environment

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the tenant tree through backend.tenants.migrations, with a connection")
schema = config.attributes["schema"]
context.configure(connection=connection, **prepare_environment("tenant", connection, schema))
with context.begin_transaction():
    context.run_migrations(op=Operations(context.get_context()))
