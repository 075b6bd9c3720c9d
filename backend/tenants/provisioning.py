"""Provisioning a clinic: a registry row and a schema at head, in about a second."""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateSchema

from backend.tables import SharedBase, TenantBase
from backend.tenants.models import Tenant, TenantStatus
from backend.tenants.routing import schema_for


def create_shared_schema(engine: Engine) -> None:
    SharedBase.metadata.create_all(engine)


def provision_tenant(engine: Engine, slug: str, name: str) -> Tenant:
    schema = schema_for(slug)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        existing = session.scalar(select(Tenant).where(Tenant.slug == slug))
        if existing is not None:
            raise ValueError("a clinic with this slug exists")
        tenant = Tenant(slug=slug, name=name, schema_name=schema, status=TenantStatus.ACTIVE)
        session.add(tenant)
        session.flush()
        conn = session.connection()
        conn.execute(CreateSchema(schema))
        TenantBase.metadata.create_all(conn.execution_options(schema_translate_map={None: schema}))
    return tenant
