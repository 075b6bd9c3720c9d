"""`me`: the signed-in user, the clinic they are acting in, and their roles there; `node` by global id."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy import select
from strawberry import relay

from backend.graphql.access import Authenticated
from backend.graphql.context import Context
from backend.identity.models import Membership, User, usable_membership
from backend.tenants.models import Tenant


@strawberry.type
class ClinicMembership:
    slug: str
    name: str
    roles: list[str]


@strawberry.type
class Viewer:
    user_id: strawberry.ID
    email: str
    display_name: str
    clinic: ClinicMembership
    # Every clinic this user belongs to (to offer switching); data is shown only for `clinic`.
    memberships: list[ClinicMembership]
    mfa_enabled: bool


@strawberry.type
class ViewerQueries:
    @strawberry.field(permission_classes=[Authenticated])
    async def me(self, info: strawberry.Info[Context, Any]) -> Viewer:
        principal = info.context.require_principal()
        session = info.context.session
        user = await session.get_one(User, principal.user_id)
        rows = (
            await session.execute(
                select(Tenant.id, Tenant.slug, Tenant.name, Membership.roles)
                .join(Membership, Membership.tenant_id == Tenant.id)
                .where(Membership.user_id == user.id, usable_membership())
                .order_by(Tenant.slug)
            )
        ).all()
        memberships = [ClinicMembership(slug=r.slug, name=r.name, roles=sorted(r.roles)) for r in rows]
        current = next(m for r, m in zip(rows, memberships, strict=True) if r.id == principal.tenant_id)
        return Viewer(
            user_id=strawberry.ID(str(user.id)),
            email=user.email,
            display_name=user.display_name,
            clinic=current,
            memberships=memberships,
            mfa_enabled=user.totp_enabled_at is not None,
        )

    @strawberry.field(permission_classes=[Authenticated])
    async def node(self, info: strawberry.Info[Context, Any], id: relay.GlobalID) -> relay.Node | None:
        """Any record by its global id, within the caller's clinic and subject to that type's rule."""
        return await id.resolve_node(info, required=False)
