"""The roles a user can hold within one clinic."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    TENANT_ADMIN = "tenant_admin"
    CLINICIAN = "clinician"
    TRAINEE = "trainee"
    SUPERVISOR = "supervisor"
    BILLER = "biller"
    FRONT_DESK = "front_desk"
    COMPLIANCE_OFFICER = "compliance_officer"
    CLIENT = "client"


# Roles whose work shows protected health information; a clinic may require TOTP for them.
PHI_ROLES = frozenset(
    {
        Role.TENANT_ADMIN,
        Role.CLINICIAN,
        Role.TRAINEE,
        Role.SUPERVISOR,
        Role.BILLER,
        Role.FRONT_DESK,
        Role.COMPLIANCE_OFFICER,
    }
)


def parse_roles(values: list[str]) -> list[Role]:
    """Return the roles named, raising ValueError on an unknown one."""
    return [Role(v) for v in values]
