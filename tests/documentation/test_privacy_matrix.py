"""Who sees which part of a session record: the loaders' SQL and Casbin agree, role by relationship.

One clinic, one group session ("main") with facilitator F (clinician) and trainee co-facilitator R,
members M and N; T (clinician) treats M without facilitating; S (supervisor) supervises F; S2
(supervisor) and U (clinician, facilitating another session) have no relation to main; B (biller),
D (front desk) and the client M signed in on mobile. Every role is tried under every relationship,
for every part of the record and both actions, on every roster row and every session.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from backend.authorization.roles import Role
from backend.clients.models import Client
from backend.database import Database
from backend.documentation.access import Part, Relation, Viewer, allowed, relations_to, visible
from backend.documentation.default_templates import DEFAULT_TEMPLATES
from backend.documentation.models import MemberSection, SessionRecord
from backend.documentation.signoff import RecordStatus
from backend.documentation.templates import Scope, template_as_json
from backend.enrollment.models import SessionAttendee
from backend.enrollment.rules import Attendance
from backend.identity.models import Membership
from backend.scheduling.models import (
    FacilitatorRole,
    GroupSession,
    SessionFacilitator,
    SessionKind,
    SessionStatus,
)
from backend.settings import Settings
from backend.staff.models import BookableResource, StaffMember
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_async_session, tenant_session
from backend.treatment.models import CareTeamMember
from tests.support import Account, GraphQLClient, make_account
from tests.waitlist.factories import make_program

ACTIONS = ("read", "write")
RELATIONSHIPS = ("facilitator", "treating", "supervising", "self", "none")


def add_staff(session: Session, name: str, user_id: uuid.UUID | None = None) -> uuid.UUID:
    lane = BookableResource(kind="staff")
    session.add(lane)
    session.flush()
    staff = StaffMember(id=uuid.uuid4(), display_name=name, user_id=user_id, lane=lane.lane, active=True)
    session.add(staff)
    session.flush()
    return staff.id


def add_client(session: Session, first: str, last: str) -> uuid.UUID:
    client = Client(id=uuid.uuid4(), first_name=first, last_name=last, date_of_birth=date(1988, 3, 3))
    session.add(client)
    session.flush()
    return client.id


def add_session(
    session: Session,
    program_id: uuid.UUID | None,
    starts_at: datetime,
    facilitators: list[uuid.UUID],
    members: dict[uuid.UUID, Attendance | None],
    kind: SessionKind = SessionKind.GROUP,
    status: SessionStatus = SessionStatus.SCHEDULED,
) -> uuid.UUID:
    """A 90-minute session with its facilitators (first one leads) and marked roster."""
    group_session = GroupSession(
        id=uuid.uuid4(),
        program_id=program_id,
        kind=kind,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=90),
        status=status,
    )
    session.add(group_session)
    session.flush()
    for i, staff_id in enumerate(facilitators):
        role = FacilitatorRole.LEAD if i == 0 else FacilitatorRole.CO
        session.add(SessionFacilitator(session_id=group_session.id, staff_id=staff_id, role=role))
    for client_id, mark in members.items():
        present = mark is not None and mark != Attendance.NO_SHOW
        session.add(
            SessionAttendee(
                session_id=group_session.id,
                client_id=client_id,
                attendance=mark,
                minutes_attended=90 if present else (0 if mark else None),
            )
        )
    session.flush()
    return group_session.id


def add_record(
    session: Session,
    session_id: uuid.UUID,
    group_note: dict[str, object],
    sections: dict[uuid.UUID, dict[str, object]],
    status: RecordStatus = RecordStatus.DRAFT,
    finalized_at: datetime | None = None,
) -> None:
    session.add(
        SessionRecord(
            session_id=session_id,
            template=template_as_json(DEFAULT_TEMPLATES["dbt_skills"]),
            group_note=group_note,
            status=status,
            finalized_at=finalized_at,
        )
    )
    session.flush()
    for client_id, content in sections.items():
        session.add(
            MemberSection(session_id=session_id, client_id=client_id, scope=Scope.MEMBER, content=content)
        )
    session.flush()


def client_account(database: Database, settings: Settings, clinic: Tenant, client_id: uuid.UUID) -> Account:
    """A client-role user whose membership names the client record they are (Principal.client_id)."""
    account = make_account(database, settings, clinic, [Role.CLIENT.value])
    with Session(database.engine) as session, session.begin():
        session.execute(
            update(Membership)
            .where(Membership.user_id == account.user_id, Membership.tenant_id == clinic.id)
            .values(client_id=client_id)
        )
    return account


def run(database: Database, schema: str, work: Callable[[AsyncSession], Any]) -> Any:
    """Run `work` with an async session in the clinic's schema (what the resolvers use)."""

    async def main() -> Any:
        engine = create_async_engine(database.url, poolclass=NullPool)
        try:
            async with tenant_async_session(engine, schema) as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(main())


@dataclass
class Scene:
    clinic: Tenant
    main: uuid.UUID
    other: uuid.UUID
    m: uuid.UUID
    n: uuid.UUID
    n2: uuid.UUID
    staff: dict[str, uuid.UUID] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)


STAFF_ROLES = {
    "F": Role.CLINICIAN,
    "R": Role.TRAINEE,
    "T": Role.CLINICIAN,
    "S": Role.SUPERVISOR,
    "S2": Role.SUPERVISOR,
    "U": Role.CLINICIAN,
    "B": Role.BILLER,
    "D": Role.FRONT_DESK,
}


def build_scene(database: Database, settings: Settings, clinic: Tenant) -> Scene:
    accounts = {k: make_account(database, settings, clinic, [r.value]) for k, r in STAFF_ROLES.items()}
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    with tenant_session(database.engine, clinic.schema_name) as session:
        staff = {k: add_staff(session, f"Staff {k}", a.user_id) for k, a in accounts.items()}
        session.flush()
        session.execute(
            update(StaffMember).where(StaffMember.id == staff["F"]).values(supervisor_id=staff["S"])
        )
        program = make_program(session, name="Evening DBT skills")
        m = add_client(session, "Marta", "Quill")
        n = add_client(session, "Nils", "Ostrow")
        n2 = add_client(session, "Petra", "Lind")
        session.add(CareTeamMember(client_id=m, staff_id=staff["T"], since=date(2026, 1, 5)))
        main = add_session(
            session,
            program.id,
            started,
            [staff["F"], staff["R"]],
            {m: Attendance.PRESENT, n: Attendance.PRESENT},
        )
        other = add_session(
            session, program.id, started - timedelta(days=1), [staff["U"]], {n2: Attendance.PRESENT}
        )
        add_record(
            session,
            main,
            {"theme": "distress_tolerance", "activities": "TIPP practice in pairs."},
            {
                m: {"participation": "Marta practised paced breathing."},
                n: {"participation": "Nils led the chain."},
            },
        )
        add_record(
            session, other, {"theme": "mindfulness"}, {n2: {"participation": "Petra described wise mind."}}
        )
    accounts["M"] = client_account(database, settings, clinic, m)
    return Scene(clinic, main, other, m, n, n2, staff, accounts)


def viewer_for(scene: Scene, role: Role, relationship: str) -> Viewer:
    """A viewer holding `role` whose identity stands in `relationship` to M in the main session."""
    person = {"facilitator": "F", "treating": "T", "supervising": "S", "none": "U"}
    if relationship == "self":
        return Viewer((role.value,), None, scene.m)
    return Viewer((role.value,), scene.staff[person[relationship]], None)


async def _sql_answers(
    session: AsyncSession, viewer: Viewer, part: Part, action: str
) -> tuple[set[tuple[uuid.UUID, uuid.UUID]], set[tuple[uuid.UUID, uuid.UUID]], set[uuid.UUID]]:
    """What the loaders' filter lets through: roster rows, section rows, and sessions (shared part)."""
    sa, ms = SessionAttendee, MemberSection
    roster = await session.execute(
        select(sa.session_id, sa.client_id).where(visible(viewer, part, sa.session_id, sa.client_id, action))
    )
    sections = await session.execute(
        select(ms.session_id, ms.client_id).where(visible(viewer, part, ms.session_id, ms.client_id, action))
    )
    sessions = await session.scalars(
        select(GroupSession.id).where(visible(viewer, part, GroupSession.id, None, action))
    )
    return {tuple(r) for r in roster}, {tuple(r) for r in sections}, set(sessions)  # type: ignore[misc]


def _matrix(database: Database, scene: Scene) -> tuple[list[str], dict[tuple[str, ...], bool]]:
    """Every (role, relationship, part, action, object): disagreements, and Casbin's answers."""
    objects = [(scene.main, scene.m), (scene.main, scene.n), (scene.other, scene.n2)]

    async def work(session: AsyncSession) -> tuple[list[str], dict[tuple[str, ...], bool]]:
        disagreements: list[str] = []
        answers: dict[tuple[str, ...], bool] = {}
        for role in Role:
            for relationship in RELATIONSHIPS:
                viewer = viewer_for(scene, role, relationship)
                relations = {
                    obj: await relations_to(session, viewer, obj[0], obj[1])
                    for obj in [*objects, (scene.main, None), (scene.other, None)]
                }
                for part in Part:
                    for action in ACTIONS:
                        roster, sections, sessions = await _sql_answers(session, viewer, part, action)
                        for sid, cid in objects:
                            casbin = allowed(viewer, part, action, relations[(sid, cid)])
                            who = "M" if cid == scene.m else "N" if cid == scene.n else "N2"
                            answers[(role.value, relationship, part.value, action, who)] = casbin
                            sql = (sid, cid) in roster
                            if sql != casbin:
                                disagreements.append(
                                    f"{role.value}/{relationship}/{part.value}/{action} on {who}: "
                                    f"sql={sql} casbin={casbin}"
                                )
                            if cid != scene.n2 and ((sid, cid) in sections) != casbin:
                                disagreements.append(f"section row {role.value}/{relationship}/{part}/{who}")
                        for sid, label in ((scene.main, "main"), (scene.other, "other")):
                            casbin = allowed(viewer, part, action, relations[(sid, None)])
                            answers[(role.value, relationship, part.value, action, label)] = casbin
                            if (sid in sessions) != casbin:
                                disagreements.append(
                                    f"{role.value}/{relationship}/{part.value}/{action} on session {label}: "
                                    f"sql={sid in sessions} casbin={casbin}"
                                )
        return disagreements, answers

    result: tuple[list[str], dict[tuple[str, ...], bool]] = run(database, scene.clinic.schema_name, work)
    return result


@pytest.fixture
def scene(database: Database, settings: Settings, make_clinic: Callable[..., Tenant]) -> Scene:
    return build_scene(database, settings, make_clinic())


def test_the_scene_gives_each_person_the_relationship_it_names(database: Database, scene: Scene) -> None:
    """The fixture is what the matrix assumes: F facilitates, T treats M only, S supervises, U, S2 nothing."""

    async def work(session: AsyncSession) -> dict[str, frozenset[Relation]]:
        found = {}
        for key in ("F", "R", "T", "S", "S2", "U"):
            viewer = Viewer((Role.CLINICIAN.value,), scene.staff[key], None)
            found[key] = await relations_to(session, viewer, scene.main, scene.m)
            found[key + "/N"] = await relations_to(session, viewer, scene.main, scene.n)
        found["self"] = await relations_to(session, Viewer(("client",), None, scene.m), scene.main, scene.m)
        return found

    found = run(database, scene.clinic.schema_name, work)
    assert found["F"] == {Relation.FACILITATOR} and found["R"] == {Relation.FACILITATOR}
    assert found["T"] == {Relation.TREATING} and found["T/N"] == frozenset()
    assert found["S"] == {Relation.SUPERVISING} and found["S/N"] == {Relation.SUPERVISING}
    assert found["S2"] == found["U"] == frozenset()
    assert found["self"] == {Relation.SELF}


def test_sql_filters_and_casbin_agree_for_every_role_relationship_and_part(
    database: Database, scene: Scene
) -> None:
    """No row leaves the database that Casbin would refuse, and none Casbin allows is missing."""
    disagreements, answers = _matrix(database, scene)
    member_level = [d for d in disagreements if " on session " not in d]
    assert member_level == []
    # The matrix is not vacuous: the business rules hold in Casbin's answers.
    read = "read"
    assert answers[("clinician", "facilitator", "member_section", read, "M")] is True
    assert answers[("clinician", "facilitator", "member_section", read, "N2")] is False
    assert answers[("clinician", "treating", "member_section", read, "M")] is True
    assert answers[("clinician", "treating", "member_section", read, "N")] is False
    assert answers[("clinician", "treating", "member_section", "write", "M")] is False
    assert answers[("supervisor", "supervising", "member_section", read, "N")] is True
    assert answers[("clinician", "supervising", "member_section", read, "N")] is False
    assert answers[("trainee", "facilitator", "member_section", read, "N")] is True
    assert answers[("clinician", "none", "member_section", read, "M")] is False
    assert answers[("biller", "none", "attendance", read, "N2")] is True
    assert answers[("biller", "facilitator", "member_section", read, "M")] is False
    assert answers[("biller", "none", "group_note", read, "main")] is False
    assert answers[("client", "self", "attendance", read, "M")] is True
    assert answers[("client", "self", "attendance", read, "N")] is False
    assert not any(
        v for k, v in answers.items() if k[0] == "client" and k[2] in ("member_section", "group_note")
    )
    assert not any(
        v for k, v in answers.items() if k[0] in ("front_desk", "tenant_admin", "compliance_officer")
    )


def test_sql_filters_and_casbin_agree_on_the_session_level_object(database: Database, scene: Scene) -> None:
    """The shared (session-level) object: a relation to any attendee counts in both paths."""
    disagreements, _ = _matrix(database, scene)
    assert [d for d in disagreements if " on session " in d] == []


RECORD = """query($id: ID!) { sessionRecord(sessionId: $id) {
  groupNote groupNoteWithheld
  members { clientId attendance minutesAttended section { content } sectionWithheld }
} }"""
MY_ATTENDANCE = (
    """query { myAttendance(first: 20) { nodes { sessionId programName attendance minutesAttended } } }"""
)


def _record(graphql: GraphQLClient, scene: Scene, who: str) -> Any:
    return graphql.execute(RECORD, {"id": str(scene.main)}, scene.accounts[who].token)


def _sections(record: dict[str, Any]) -> dict[str, Any]:
    return {m["clientId"]: m for m in record["members"]}


def test_facilitators_and_the_supervisor_of_one_read_every_section(
    graphql: GraphQLClient, scene: Scene
) -> None:
    """F, trainee co-facilitator R and F's supervisor S read both members' sections and the group note."""
    for who in ("F", "R", "S"):
        record = _record(graphql, scene, who)["data"]["sessionRecord"]
        members = _sections(record)
        assert record["groupNote"]["theme"] == "distress_tolerance", who
        assert members[str(scene.m)]["section"]["content"]["participation"].startswith("Marta"), who
        assert members[str(scene.n)]["section"]["content"]["participation"].startswith("Nils"), who
        assert not any(m["sectionWithheld"] for m in members.values()), who


def test_a_treating_clinician_reads_their_member_but_not_another(
    graphql: GraphQLClient, scene: Scene
) -> None:
    """T treats M: M's section and the group note are shown; N's section never leaves the database."""
    record = _record(graphql, scene, "T")["data"]["sessionRecord"]
    members = _sections(record)
    assert record["groupNote"]["theme"] == "distress_tolerance"
    assert members[str(scene.m)]["section"]["content"]["participation"].startswith("Marta")
    other = members.get(str(scene.n))
    assert other is None or (other["section"] is None and other["sectionWithheld"] is True)
    assert "Nils led" not in str(record)


def test_a_biller_sees_attendance_and_no_narrative(graphql: GraphQLClient, scene: Scene) -> None:
    """Billing staff see who attended and for how long; the group note and sections are marked withheld."""
    record = _record(graphql, scene, "B")["data"]["sessionRecord"]
    assert record["groupNote"] is None and record["groupNoteWithheld"] is True
    members = _sections(record)
    assert {m["attendance"] for m in members.values()} == {"PRESENT"}
    assert {m["minutesAttended"] for m in members.values()} == {90}
    assert all(m["section"] is None and m["sectionWithheld"] for m in members.values())
    assert len(members) == 2


def test_unrelated_staff_get_nothing(graphql: GraphQLClient, scene: Scene) -> None:
    """An unrelated clinician or supervisor gets null; roles without record access are refused outright."""
    for who in ("U", "S2"):
        assert _record(graphql, scene, who)["data"]["sessionRecord"] is None, who
    body = _record(graphql, scene, "D")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_a_client_sees_only_their_own_attendance_and_no_note_text(
    graphql: GraphQLClient, scene: Scene
) -> None:
    """M on mobile: no session record at all, and myAttendance lists M's own session only."""
    body = _record(graphql, scene, "M")
    assert body["data"] is None or body["data"]["sessionRecord"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    rows = graphql.data(MY_ATTENDANCE, token=scene.accounts["M"].token)["myAttendance"]["nodes"]
    assert rows == [
        {
            "sessionId": str(scene.main),
            "programName": "Evening DBT skills",
            "attendance": "PRESENT",
            "minutesAttended": 90,
        }
    ]
