"""The demo clinic shows a schedule and can be loaded twice."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.demo import load_demo
from backend.scheduling.models import GroupSession
from backend.staff.models import StaffMember
from backend.tenants.routing import schema_for, tenant_session


def test_demo_has_staff_and_a_weekly_group_and_is_idempotent(database) -> None:
    """Loading the demo twice leaves three staff records and one program's 27 weekly sessions."""
    load_demo(database.engine)
    load_demo(database.engine)
    with tenant_session(database.engine, schema_for("demo")) as session:
        assert session.scalar(select(func.count()).select_from(StaffMember)) == 3
        assert session.scalar(select(func.count()).select_from(GroupSession)) == 27
