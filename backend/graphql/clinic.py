"""The clinic's own settings: read by its staff, changed by its tenant admin."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import strawberry

from backend.clinic.models import ClinicSettings
from backend.clinic.rules import SettingsChange, validate_settings_change
from backend.graphql.access import Authenticated, allow
from backend.graphql.context import Context
from backend.graphql.errors import InvalidInput
from backend.graphql.transactions import Atomic
from backend.tenants.models import Tenant


@strawberry.type(name="ClinicSettings")
class ClinicSettingsType:
    slug: str
    require_mfa: bool
    timezone: str
    absence_threshold: int
    auto_drop_absent_members: bool
    max_groups_per_day: int
    max_groups_per_week: int


@strawberry.input
class ClinicSettingsInput:
    """Fields left out keep their value."""

    require_mfa: bool | None = None
    timezone: str | None = None
    absence_threshold: int | None = None
    auto_drop_absent_members: bool | None = None
    max_groups_per_day: int | None = None
    max_groups_per_week: int | None = None


UpdateClinicSettingsResult = Annotated[
    ClinicSettingsType | InvalidInput, strawberry.union("UpdateClinicSettingsResult")
]


async def _load(context: Context) -> tuple[Tenant, ClinicSettings]:
    principal = context.require_principal()
    tenant = await context.session.get_one(Tenant, principal.tenant_id)
    return tenant, await context.session.get_one(ClinicSettings, 1)


def _as_type(tenant: Tenant, settings: ClinicSettings) -> ClinicSettingsType:
    return ClinicSettingsType(
        slug=tenant.slug,
        require_mfa=tenant.require_mfa,
        timezone=settings.timezone,
        absence_threshold=settings.absence_threshold,
        auto_drop_absent_members=settings.auto_drop_absent_members,
        max_groups_per_day=settings.max_groups_per_day,
        max_groups_per_week=settings.max_groups_per_week,
    )


@strawberry.type
class ClinicQueries:
    @strawberry.field(permission_classes=[Authenticated])
    async def clinic_settings(self, info: strawberry.Info[Context, Any]) -> ClinicSettingsType:
        return _as_type(*await _load(info.context))


@strawberry.type
class ClinicMutations:
    @strawberry.mutation(permission_classes=[allow("clinic", "configure")], extensions=[Atomic()])
    async def update_clinic_settings(
        self, info: strawberry.Info[Context, Any], input: ClinicSettingsInput
    ) -> UpdateClinicSettingsResult:
        """`requireMfa` applies at each PHI-role user's next sign-in or refresh."""
        change = SettingsChange(**{k: v for k, v in vars(input).items() if not k.startswith("_")})
        problems = validate_settings_change(change)
        if problems:
            return InvalidInput.of(problems)
        tenant, settings = await _load(info.context)
        for name, value in asdict(change).items():
            if value is not None:
                setattr(tenant if name == "require_mfa" else settings, name, value)
        await info.context.session.flush()
        return _as_type(tenant, settings)
