"""Part 2 segmentation: the loaders' SQL and Casbin agree for every role, relationship and consent state.

One clinic with an SUD program (Part 2) and a DBT program. Member M attends a session of each; N
attends the SUD session only. F facilitates the SUD session; L leads the SUD program and treats M;
SI supervises F; T leads the DBT program, facilitates its session and treats M; S supervises T; U
facilitates nothing related; B is billing staff; M signs in as a client. Each consent or grant
state is tried with every role held by every one of them, on every part of both sessions, on the
shared (group note) object, and on the members' diagnoses.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from backend.authorization.roles import Role
from backend.clients.models import Client, ClientDiagnosis
from backend.compliance.part2.access import (
    CATEGORY,
    diagnosis_relations_to,
    part2_allowed,
    part2_relations_to,
    part2_scope,
)
from backend.compliance.part2.consents import Category, RecipientKind
from backend.compliance.part2.models import BreakGlassGrant, Consent, ConsentRecipient
from backend.database import Database
from backend.documentation.access import Part, Viewer, allowed, relations_to, visible
from backend.enrollment.models import SessionAttendee
from backend.enrollment.rules import Attendance
from backend.programs.models import Program
from backend.scheduling.models import GroupSession
from backend.staff.models import StaffMember
from backend.tenants.models import Tenant
from backend.tenants.provisioning import provision_tenant
from backend.tenants.routing import tenant_session
from backend.treatment.models import CareTeamMember
from tests.documentation.test_privacy_matrix import add_client, add_record, add_session, add_staff, run
from tests.waitlist.factories import make_program

IDENTITIES = ("F", "L", "SI", "T", "S", "U", "B", "self")
STATES = (
    "none",
    "dbt_notes",
    "tpo_all",
    "person_t_diagnoses",
    "revoked",
    "expired",
    "end_event_recorded",
    "biller_payment",
    "glass",
    "glass_expired",
)


@dataclass
class Scene:
    clinic: Tenant
    sud_program: uuid.UUID
    dbt_program: uuid.UUID
    sud: uuid.UUID
    dbt: uuid.UUID
    m: uuid.UUID
    n: uuid.UUID
    staff: dict[str, uuid.UUID] = field(default_factory=dict)


def build_scene(database: Database, clinic: Tenant) -> Scene:
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    with tenant_session(database.engine, clinic.schema_name) as session:
        staff = {k: add_staff(session, f"Staff {k}") for k in ("F", "L", "SI", "T", "S", "U", "B")}
        for supervisee, supervisor in (("F", "SI"), ("T", "S")):
            session.execute(
                update(StaffMember)
                .where(StaffMember.id == staff[supervisee])
                .values(supervisor_id=staff[supervisor])
            )
        sud = make_program(
            session, name="SUD intensive outpatient", part2=True, lead_facilitator_id=staff["L"]
        )
        dbt = make_program(session, name="DBT skills", lead_facilitator_id=staff["T"])
        m = add_client(session, "Marta", "Quill")
        n = add_client(session, "Nils", "Ostrow")
        for client_id, code in ((m, "F10.20"), (m, "F33.1"), (n, "F11.20")):
            session.add(ClientDiagnosis(client_id=client_id, code=code, noted_on=date(2026, 1, 5)))
        for member, clinician in ((m, "L"), (m, "T")):
            session.add(CareTeamMember(client_id=member, staff_id=staff[clinician], since=date(2026, 1, 5)))
        sud_session = add_session(
            session, sud.id, started, [staff["F"]], {m: Attendance.PRESENT, n: Attendance.PRESENT}
        )
        add_session(session, None, started, [staff["U"]], {})  # U facilitates, but nothing related
        dbt_session = add_session(
            session, dbt.id, started - timedelta(days=1), [staff["T"]], {m: Attendance.PRESENT}
        )
        add_record(session, sud_session, {"theme": "relapse prevention"}, {m: {"p": "M"}, n: {"p": "N"}})
        add_record(session, dbt_session, {"theme": "mindfulness"}, {m: {"p": "M at DBT"}})
    return Scene(clinic, sud.id, dbt.id, sud_session, dbt_session, m, n, staff)


def set_state(database: Database, scene: Scene, state: str, now: datetime) -> None:
    """Replace every consent and grant with the ones `state` names (all of them about M)."""
    with tenant_session(database.engine, scene.clinic.schema_name) as session:
        session.execute(delete(ConsentRecipient))
        session.execute(delete(Consent))
        session.execute(delete(BreakGlassGrant))
        consents = {
            "dbt_notes": ((RecipientKind.PROGRAM, scene.dbt_program), ["treatment"], ["notes"], {}),
            "tpo_all": ((RecipientKind.TPO, None), ["operations", "payment", "treatment"], ["all"], {}),
            "person_t_diagnoses": (
                (RecipientKind.PERSON, scene.staff["T"]),
                ["treatment"],
                ["diagnoses"],
                {},
            ),
            "revoked": (
                (RecipientKind.PROGRAM, scene.dbt_program),
                ["treatment"],
                ["all"],
                {"revoked_at": now},
            ),
            "expired": (
                (RecipientKind.PROGRAM, scene.dbt_program),
                ["treatment"],
                ["all"],
                {"ends_at": now - timedelta(minutes=1)},
            ),
            "end_event_recorded": (
                (RecipientKind.PROGRAM, scene.dbt_program),
                ["treatment"],
                ["all"],
                {"end_event_recorded_at": now - timedelta(minutes=1)},
            ),
            "biller_payment": ((RecipientKind.PERSON, scene.staff["B"]), ["payment"], ["attendance"], {}),
        }
        if state in consents:
            (kind, rid), purposes, categories, extra = consents[state]
            consent = Consent(
                id=uuid.uuid4(),
                client_id=scene.m,
                purposes=purposes,
                categories=categories,
                starts_at=now - timedelta(days=30),
                end_event="end of treatment",
                recorded_by=uuid.uuid4(),
                **extra,
            )
            session.add(consent)
            session.flush()
            session.add(ConsentRecipient(consent_id=consent.id, kind=kind, recipient_id=rid))
        if state in ("glass", "glass_expired"):
            granted = now - timedelta(hours=1 if state == "glass" else 5)
            _grant(session, scene, granted)


def _grant(session: Session, scene: Scene, granted: datetime) -> None:
    session.add(
        BreakGlassGrant(
            client_id=scene.m,
            user_id=uuid.uuid4(),
            staff_id=scene.staff["T"],
            reason="Overdose risk at intake",
            granted_at=granted,
            expires_at=granted + timedelta(hours=4),
        )
    )


def _viewer(scene: Scene, role: str, identity: str) -> Viewer:
    if identity == "self":
        return Viewer((role,), None, scene.m)
    return Viewer((role,), scene.staff[identity], None)


Answers = dict[tuple[str, ...], bool]


async def _state_matrix(
    session: AsyncSession, scene: Scene, state: str, now: datetime
) -> tuple[list[str], Answers]:
    """Casbin's answer (relations + p2 rules) and the SQL's, for every role, identity, part and object."""
    members = [(scene.sud, scene.m, "sud/M"), (scene.sud, scene.n, "sud/N"), (scene.dbt, scene.m, "dbt/M")]
    shared = [(scene.sud, "sud"), (scene.dbt, "dbt")]
    disagreements: list[str] = []
    answers: Answers = {}
    for identity in IDENTITIES:
        probe = _viewer(scene, Role.CLINICIAN.value, identity)
        objects: list[tuple[uuid.UUID, uuid.UUID | None]] = [(sid, cid) for sid, cid, _ in members]
        objects += [(sid, None) for sid, _ in shared]
        base = {obj: await relations_to(session, probe, obj[0], obj[1]) for obj in objects}
        p2 = {
            (obj, c): await part2_relations_to(session, probe, obj[0], obj[1], c, now)
            for obj in objects
            for c in (Category.NOTES, Category.ATTENDANCE)
        }
        diagnoses = {
            cid: await diagnosis_relations_to(session, probe, cid, now) for cid in (scene.m, scene.n)
        }
        for role in Role:
            viewer = _viewer(scene, role.value, identity)
            scope = await part2_scope(session, viewer, now)
            for part in Part:
                c = CATEGORY[part]
                sa = SessionAttendee
                found = await session.execute(
                    select(sa.session_id, sa.client_id).where(
                        visible(viewer, part, sa.session_id, sa.client_id),
                        scope.cleared(c, sa.session_id, sa.client_id),
                    )
                )
                rows = {(sid, cid) for sid, cid in found}
                sessions = set(
                    await session.scalars(
                        select(GroupSession.id).where(
                            visible(viewer, part, GroupSession.id, None),
                            scope.cleared(c, GroupSession.id, None),
                        )
                    )
                )
                checks: list[tuple[tuple[uuid.UUID, uuid.UUID | None], str, bool]]
                checks = [((sid, cid), label, (sid, cid) in rows) for sid, cid, label in members]
                checks += [((sid, None), label, sid in sessions) for sid, label in shared]
                for obj, label, sql in checks:
                    casbin = allowed(viewer, part, "read", base[obj]) and part2_allowed(viewer, p2[(obj, c)])
                    answers[(state, role.value, identity, part.value, label)] = casbin
                    if sql != casbin:
                        disagreements.append(
                            f"{state} {role.value}/{identity} {part.value} {label}: sql={sql}"
                        )
            cleared = set(await session.scalars(select(Client.id).where(scope.diagnoses_cleared(Client.id))))
            for cid, label in ((scene.m, "M"), (scene.n, "N")):
                casbin = part2_allowed(viewer, diagnoses[cid])
                answers[(state, role.value, identity, "diagnoses", label)] = casbin
                if (cid in cleared) != casbin:
                    disagreements.append(
                        f"{state} {role.value}/{identity} diagnoses {label}: sql={cid in cleared}"
                    )
    return disagreements, answers


@pytest.fixture(scope="module")
def matrix(database: Database) -> tuple[list[str], Answers, Scene]:
    """Every state's answers (built once: ten states x eight roles x eight identities)."""
    clinic = provision_tenant(database.engine, f"t-{uuid.uuid4().hex[:12]}", "Part 2 matrix")
    scene = build_scene(database, clinic)
    now = datetime.now(UTC)
    disagreements: list[str] = []
    answers: Answers = {}
    for state in STATES:
        set_state(database, scene, state, now)

        async def work(session: AsyncSession, state: str = state) -> tuple[list[str], Answers]:
            return await _state_matrix(session, scene, state, now)

        found, given = run(database, clinic.schema_name, work)
        disagreements += found
        answers.update(given)
    return disagreements, answers, scene


def test_sql_and_casbin_agree_on_part2_content_for_every_role_relationship_and_consent(
    matrix: tuple[list[str], Answers, Scene],
) -> None:
    """No Part 2 row leaves the database that Casbin would refuse, and none Casbin allows is missing."""
    disagreements, answers, _ = matrix
    assert disagreements == []
    assert len(answers) == len(STATES) * len(Role) * len(IDENTITIES) * (len(Part) * 5 + 2)


def test_staff_inside_the_part2_program_read_it_without_consent(
    matrix: tuple[list[str], Answers, Scene],
) -> None:
    """The SUD facilitator, the program's lead and the facilitator's supervisor read it unconditionally."""
    _, a, _ = matrix
    for state in STATES:
        assert a[(state, "clinician", "F", "member_section", "sud/N")], state
        assert a[(state, "clinician", "L", "member_section", "sud/M")], state
        assert a[(state, "supervisor", "SI", "group_note", "sud")], state
        assert a[(state, "clinician", "L", "diagnoses", "M")], state


def test_an_outside_clinician_needs_a_live_consent_covering_their_program_and_category(
    matrix: tuple[list[str], Answers, Scene],
) -> None:
    """The DBT clinician who treats M: nothing of the SUD session without consent; notes with a DBT notes
    consent (not attendance, not N); everything with TPO; nothing when revoked, expired or ended."""
    _, a, _ = matrix
    t = ("clinician", "T")
    assert not a[("none", *t, "member_section", "sud/M")]
    assert not a[("none", *t, "attendance", "sud/M")]
    assert not a[("none", *t, "group_note", "sud")]
    assert not a[("none", *t, "diagnoses", "M")]
    assert a[("none", *t, "member_section", "dbt/M")]  # the DBT group itself is not Part 2
    assert a[("dbt_notes", *t, "member_section", "sud/M")] and a[("dbt_notes", *t, "group_note", "sud")]
    assert (
        not a[("dbt_notes", *t, "attendance", "sud/M")]
        and not a[("dbt_notes", *t, "member_section", "sud/N")]
    )
    assert a[("tpo_all", *t, "attendance", "sud/M")] and a[("tpo_all", *t, "diagnoses", "M")]
    assert a[("person_t_diagnoses", *t, "diagnoses", "M")]
    assert not a[("person_t_diagnoses", *t, "member_section", "sud/M")]
    for state in ("revoked", "expired", "end_event_recorded", "glass_expired"):
        assert not a[(state, *t, "member_section", "sud/M")], state
        assert not a[(state, *t, "diagnoses", "M")], state
    assert a[("dbt_notes", "supervisor", "S", "member_section", "sud/M")]  # acting for T's program


def test_break_the_glass_opens_one_member_until_it_expires(matrix: tuple[list[str], Answers, Scene]) -> None:
    """A live grant opens M's Part 2 content to T (not N's); an expired one opens nothing."""
    _, a, _ = matrix
    assert a[("glass", "clinician", "T", "member_section", "sud/M")]
    assert a[("glass", "clinician", "T", "diagnoses", "M")]
    assert not a[("glass", "clinician", "T", "member_section", "sud/N")]
    assert not a[("glass_expired", "clinician", "T", "attendance", "sud/M")]
    assert not a[("glass", "trainee", "T", "member_section", "sud/M")]  # no break_glass rule for trainees


def test_billing_staff_see_part2_attendance_only_under_a_payment_consent(
    matrix: tuple[list[str], Answers, Scene],
) -> None:
    """B sees SUD attendance with a payment consent naming B (or TPO), never the narrative."""
    _, a, _ = matrix
    assert not a[("none", "biller", "B", "attendance", "sud/M")]
    assert a[("none", "biller", "B", "attendance", "dbt/M")]
    assert a[("biller_payment", "biller", "B", "attendance", "sud/M")]
    assert a[("tpo_all", "biller", "B", "attendance", "sud/M")]
    assert not a[("biller_payment", "biller", "B", "attendance", "sud/N")]
    assert not any(v for k, v in a.items() if k[1] == "biller" and k[3] in ("member_section", "group_note"))


def test_a_member_reads_their_own_part2_attendance(matrix: tuple[list[str], Answers, Scene]) -> None:
    """M on mobile sees their own SUD attendance in every state, and never N's."""
    _, a, _ = matrix
    for state in STATES:
        assert a[(state, "client", "self", "attendance", "sud/M")], state
        assert not a[(state, "client", "self", "attendance", "sud/N")], state


def test_sud_diagnoses_of_a_member_no_part2_program_treats_are_not_withheld(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """Without a Part 2 program the member's F10 code is an ordinary diagnosis for their clinician."""
    clinic = make_clinic()
    with tenant_session(database.engine, clinic.schema_name) as session:
        staff = add_staff(session, "Dr Ordinary")
        program = make_program(session, name="Process group", lead_facilitator_id=staff)
        member = add_client(session, "Ana", "Reyes")
        add_session(session, program.id, datetime.now(UTC) - timedelta(days=1), [staff], {member: None})
        session.execute(update(Program).where(Program.id == program.id).values(part2=False))
    viewer = Viewer((Role.CLINICIAN.value,), staff, None)

    async def work(session: AsyncSession) -> tuple[bool, bool]:
        now = datetime.now(UTC)
        relations = await diagnosis_relations_to(session, viewer, member, now)
        scope = await part2_scope(session, viewer, now)
        sql = await session.scalar(select(scope.diagnoses_cleared(Client.id)).where(Client.id == member))
        return part2_allowed(viewer, relations), bool(sql)

    assert run(database, clinic.schema_name, work) == (True, True)
