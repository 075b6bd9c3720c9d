"""Loader statements built once per viewer shape still read with each viewer's own scope."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Uuid, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.authorization.roles import Role
from backend.clients.models import Client
from backend.database import Database
from backend.documentation.access import Viewer, viewer_shape
from backend.documentation.brief import read_brief
from backend.documentation.shapes import ShapedStatements
from backend.documentation.views import read_record
from backend.settings import Settings
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from tests.documentation.test_privacy_matrix import add_session, build_scene, run


def test_a_shaped_statement_refuses_to_run_without_every_per_call_value() -> None:
    shaped = ShapedStatements(
        lambda: select(Client.id).where(Client.id == bindparam("v_client", type_=Uuid()))
    )
    _statement, params = shaped.bind((), {"v_client": uuid.UUID(int=1), "unused": 2})
    assert params == {"v_client": uuid.UUID(int=1)}
    with pytest.raises(ValueError, match="v_client"):
        shaped.bind((), {})


def test_clinicians_of_the_same_shape_read_the_same_session_each_with_their_own_relations(
    database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    clinic = make_clinic("Shaped")
    scene = build_scene(database, settings, clinic)
    clinician = (Role.CLINICIAN.value,)
    facilitator = Viewer(clinician, scene.staff["F"])  # facilitates the main session
    treating = Viewer(clinician, scene.staff["T"])  # treats M only
    unrelated = Viewer(clinician, scene.staff["U"])  # facilitates another session
    assert viewer_shape(facilitator) == viewer_shape(treating) == viewer_shape(unrelated)

    async def sections(session: AsyncSession, viewer: Viewer) -> dict[uuid.UUID, object] | None:
        record = await read_record(session, viewer, scene.main)
        if record is None:
            return None
        return {m.client_id: m.section.content if m.section else None for m in record.members}

    async def last_sections(session: AsyncSession, viewer: Viewer) -> dict[uuid.UUID, object]:
        brief = await read_brief(session, viewer, later)
        assert brief is not None
        return {m.client_id: m.last_section.content if m.last_section else None for m in brief.members}

    async def reads(session: AsyncSession) -> list[object]:
        # The facilitator reads first and last, so the cached statements serve the others in between.
        order = [facilitator, unrelated, treating, facilitator]
        return [await sections(session, v) for v in order]

    both = {
        scene.m: {"participation": "Marta practised paced breathing."},
        scene.n: {"participation": "Nils led the chain."},
    }
    first, unrelated_view, treating_view, again = run(database, clinic.schema_name, reads)
    assert first == again == both
    assert unrelated_view is None
    assert treating_view == {scene.m: both[scene.m]}  # N's row is not theirs to see at all

    # The brief of U's next session with M and N: the last sections are main's, which only F may read.
    with tenant_session(database.engine, clinic.schema_name) as session:
        starts = datetime.now(UTC) + timedelta(days=1)
        later = add_session(session, None, starts, [scene.staff["U"]], {scene.m: None, scene.n: None})

    async def briefs(session: AsyncSession) -> list[object]:
        return [await last_sections(session, v) for v in (facilitator, unrelated, facilitator)]

    seen_by_f, seen_by_u, seen_by_f_again = run(database, clinic.schema_name, briefs)
    assert seen_by_f == seen_by_f_again == both
    assert seen_by_u == {scene.m: None, scene.n: None}
