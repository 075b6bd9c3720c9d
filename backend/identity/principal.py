"""Who is calling, in which clinic: resolved from the access token and the user's membership."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Executable, Integer, bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import Uuid

from backend.identity.models import Membership, User, usable_membership
from backend.identity.tokens import AccessClaims
from backend.tenants.models import Tenant


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_slug: str
    schema_name: str
    roles: tuple[str, ...]
    client_id: uuid.UUID | None


@lru_cache(maxsize=1)
def _membership_statement() -> Executable:
    """Built once and bound per request: the lookup runs on every signed-in request."""
    return (
        select(Membership.roles, Membership.client_id, Tenant.slug, Tenant.schema_name)
        .join(User, User.id == Membership.user_id)
        .join(Tenant, Tenant.id == Membership.tenant_id)
        .where(
            Membership.user_id == bindparam("user_id", type_=Uuid()),
            Membership.tenant_id == bindparam("tenant_id", type_=Uuid()),
            usable_membership(),
            User.disabled.is_(False),
            User.token_version == bindparam("token_version", type_=Integer()),
        )
    )


async def resolve_principal(engine: AsyncEngine, claims: AccessClaims) -> Principal | None:
    """The caller's membership in the token's clinic, or None when it no longer holds.

    The clinic comes from the membership row, so a token for a clinic the user has left, a
    suspended clinic, a disabled user or a token older than a revoke-all grants nothing.

    One statement in autocommit: no BEGIN/ROLLBACK round trips, and no rollback to discard the
    connection's prepared statements (psycopg deallocates them all on ROLLBACK).
    """
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        params = {
            "user_id": claims.user_id,
            "tenant_id": claims.tenant_id,
            "token_version": claims.token_version,
        }
        row = (await conn.execute(_membership_statement(), params)).first()
    if row is None:
        return None
    return Principal(
        user_id=claims.user_id,
        tenant_id=claims.tenant_id,
        tenant_slug=row.slug,
        schema_name=row.schema_name,
        roles=tuple(sorted(row.roles)),
        client_id=row.client_id,
    )
