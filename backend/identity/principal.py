"""Who is calling, in which clinic: resolved from the access token and the user's membership."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

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


async def resolve_principal(session: AsyncSession, claims: AccessClaims) -> Principal | None:
    """The caller's membership in the token's clinic, or None when it no longer holds.

    The clinic comes from the membership row, so a token for a clinic the user has left, a
    suspended clinic, a disabled user or a token older than a revoke-all grants nothing.
    """
    row = (
        await session.execute(
            select(Membership.roles, Membership.client_id, Tenant.slug, Tenant.schema_name)
            .join(User, User.id == Membership.user_id)
            .join(Tenant, Tenant.id == Membership.tenant_id)
            .where(
                Membership.user_id == claims.user_id,
                Membership.tenant_id == claims.tenant_id,
                usable_membership(),
                User.disabled.is_(False),
                User.token_version == claims.token_version,
            )
        )
    ).first()
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
