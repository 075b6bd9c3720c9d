"""Provisioning a clinic: a registry row and a schema at head, in one transaction and well under a second.

The schema is built by `create_all` and stamped at the tenant tree's head rather than migrated
revision by revision (django-tenants #617: ~30 s sign-ups); `tests/tenants/test_parity.py` proves
both routes build the same schema. The clinic's first data key (backend.compliance.encryption.keys) is made in
the same transaction, before any of its tables exist. Deleting a clinic crypto-shreds it.
"""

from __future__ import annotations

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateSchema, DropSchema

from backend.clinic.models import ClinicSettings, default_settings
from backend.compliance.encryption.keys import destroy_data_keys, ensure_data_key, forget_keyrings
from backend.tables import TenantBase
from backend.tenants.migrations import migrate_shared, script_directory, single_head, stamp_tenant_schema
from backend.tenants.models import Tenant, TenantStatus
from backend.tenants.routing import TEMPLATE_SCHEMA, schema_for


def create_shared_schema(engine: Engine) -> str:
    """Bring `public` to the shared tree's head and return it (idempotent, safe on every start)."""
    return migrate_shared(engine)


def provision_tenant(engine: Engine, slug: str, name: str) -> Tenant:
    """Create a clinic: registry row at the tenant head, schema with every table, its own version table."""
    schema = schema_for(slug)
    if schema == TEMPLATE_SCHEMA:
        raise ValueError("this clinic slug is reserved")
    script = script_directory("tenant")
    head = single_head(script)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        existing = session.scalar(select(Tenant.id).where(Tenant.slug == slug))
        if existing is not None:
            raise ValueError("a clinic with this slug exists")
        tenant = Tenant(
            slug=slug, name=name, schema_name=schema, status=TenantStatus.ACTIVE, migration_revision=head
        )
        session.add(tenant)
        session.flush()
        connection = session.connection()
        # The data key first: the clinic's encrypted columns are never written without it.
        ensure_data_key(connection, tenant.id)
        connection.execute(CreateSchema(schema))
        # The schema is new: skip create_all's per-table existence checks.
        translated = connection.execution_options(schema_translate_map={None: schema})
        TenantBase.metadata.create_all(translated, checkfirst=False)
        translated.execute(insert(ClinicSettings).values(**default_settings()))
        stamp_tenant_schema(connection, schema, script, head)
    return tenant


def delete_tenant(engine: Engine, slug: str) -> Tenant:
    """Delete a clinic by crypto-shredding: its data keys are destroyed first (and the clinic
    suspended) in one transaction, then its schema and registry row are dropped in another.

    Once the first transaction commits, whatever remains of the clinic's encrypted data (a failed
    drop, a backup, a replica) no longer decrypts; re-running finishes an interrupted deletion.
    Memberships and refresh tokens go with the registry row (ON DELETE CASCADE).
    """
    with Session(engine, expire_on_commit=False) as session, session.begin():
        tenant = session.scalar(select(Tenant).where(Tenant.slug == slug).with_for_update())
        if tenant is None:
            raise ValueError("no clinic with this slug")
        tenant.status = TenantStatus.SUSPENDED
        destroy_data_keys(session.connection(), tenant.id)
    with engine.begin() as connection:
        connection.execute(DropSchema(tenant.schema_name, cascade=True, if_exists=True))
        connection.execute(delete(Tenant).where(Tenant.id == tenant.id))
    forget_keyrings(tenant.id)
    return tenant
