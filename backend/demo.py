"""The demo clinic for the two-command start: one user per role, created once."""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from backend.authorization.roles import Role
from backend.identity.accounts import create_user, grant_membership
from backend.identity.models import User
from backend.scheduling.demo import load_demo_schedule
from backend.tenants.models import Tenant
from backend.tenants.provisioning import provision_tenant

DEMO_SLUG = "demo"
DEMO_PASSWORD = "ensemble-demo-password"  # noqa: S105 - development only; `demo` refuses production


def load_demo(engine: Engine) -> tuple[str, list[str]]:
    """Provision the demo clinic and its users if missing; return its slug and the users' emails."""
    with Session(engine) as session:
        tenant = session.scalar(select(Tenant).where(Tenant.slug == DEMO_SLUG))
    if tenant is None:
        tenant = provision_tenant(engine, DEMO_SLUG, "Demo Group Practice")
    emails = []
    with Session(engine, expire_on_commit=False) as session, session.begin():
        for role in Role:
            email = f"{role.value.replace('_', '-')}@demo.ensemble.test"
            emails.append(email)
            if session.scalar(select(User).where(User.email == email)) is None:
                user = create_user(session, email, role.value.replace("_", " ").title(), DEMO_PASSWORD)
                grant_membership(session, user, tenant, [role.value])
        staff_users = {
            role: staff_user.id
            for role in ("clinician", "supervisor", "trainee")
            if (staff_user := session.scalar(select(User).where(User.email == f"{role}@demo.ensemble.test")))
        }
    # Staff records, a room and a weekly DBT group, so the quick start shows a schedule.
    load_demo_schedule(engine, tenant.schema_name, staff_users)
    return DEMO_SLUG, emails
