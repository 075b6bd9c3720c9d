"""The clinic's own settings, configured by its tenant admin."""

from __future__ import annotations

from typing import Any

import strawberry

from backend.graphql.access import allow
from backend.graphql.context import Context
from backend.graphql.transactions import Atomic
from backend.tenants.models import Tenant


@strawberry.type
class ClinicSettings:
    slug: str
    require_mfa: bool


@strawberry.input
class ClinicSettingsInput:
    """Fields left out keep their value."""

    require_mfa: bool | None = None


@strawberry.type
class ClinicMutations:
    @strawberry.mutation(permission_classes=[allow("clinic", "configure")], extensions=[Atomic()])
    async def update_clinic_settings(
        self, info: strawberry.Info[Context, Any], input: ClinicSettingsInput
    ) -> ClinicSettings:
        """Staff with PHI roles must use TOTP from their next sign-in or refresh when `requireMfa` is on."""
        principal = info.context.require_principal()
        tenant = await info.context.session.get_one(Tenant, principal.tenant_id)
        if input.require_mfa is not None:
            tenant.require_mfa = input.require_mfa
        await info.context.session.flush()
        return ClinicSettings(slug=tenant.slug, require_mfa=tenant.require_mfa)
