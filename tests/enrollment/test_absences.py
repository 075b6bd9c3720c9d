"""The absence job through the outbox: flag, auto-drop when enabled, contact and excused rules.

Rule: a member's last N (clinic setting, default 3) counted marks in the program, excused
absences skipped, all no-show or late cancel, with no clinical contact since the first of them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from backend.clinic.models import ClinicSettings
from backend.database import Database
from backend.enrollment.absences import ATTENDANCE_RECORDED
from backend.enrollment.models import (
    Attendance,
    ClinicalContact,
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    SessionAttendee,
)
from backend.enrollment.roster import fill_roster_sync
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from backend.workers.outbox import OutboxMessage, add_message, process
from tests.enrollment.factories import ZONE, make_clients, make_program, make_sessions, weeks_ago

A = Attendance


class Group:
    """A program with four past and two future weekly sessions and one enrolled member."""

    def __init__(self, database: Database, clinic: Tenant) -> None:
        self.engine, self.schema = database.engine, clinic.schema_name
        self.program_id = make_program(self.engine, self.schema, starts_on=date.today() - timedelta(weeks=10))
        self.sessions = make_sessions(self.engine, self.schema, self.program_id, weeks_ago(4), 6)
        (self.client_id,) = make_clients(self.engine, self.schema, 1)
        self.enrollment_id = uuid.uuid4()
        with tenant_session(self.engine, self.schema) as session:
            session.add(
                Enrollment(
                    id=self.enrollment_id,
                    program_id=self.program_id,
                    client_id=self.client_id,
                    status=EnrollmentStatus.ACTIVE,
                    starts_on=date.today() - timedelta(weeks=6),
                )
            )
            session.flush()
            fill_roster_sync(session, self.program_id)

    def mark(self, index: int, attendance: Attendance) -> None:
        """Record one past session's attendance and run the job the recording triggers."""
        session_id = self.sessions[index]
        with tenant_session(self.engine, self.schema) as session:
            session.execute(
                update(SessionAttendee)
                .where(SessionAttendee.session_id == session_id, SessionAttendee.client_id == self.client_id)
                .values(attendance=attendance)
            )
            outbox_id = add_message(session, ATTENDANCE_RECORDED, {"session_id": session_id}).id
        self.run(outbox_id)

    def rerun(self, index: int) -> None:
        with tenant_session(self.engine, self.schema) as session:
            outbox_id = add_message(session, ATTENDANCE_RECORDED, {"session_id": self.sessions[index]}).id
        self.run(outbox_id)

    def run(self, outbox_id: uuid.UUID) -> None:
        with tenant_session(self.engine, self.schema) as session:
            assert process(session, outbox_id)

    def enrollment(self) -> Enrollment:
        with tenant_session(self.engine, self.schema) as session:
            return session.get_one(Enrollment, self.enrollment_id)

    def auto_drop(self, on: bool) -> None:
        with tenant_session(self.engine, self.schema) as session:
            session.execute(update(ClinicSettings).values(auto_drop_absent_members=on))


def test_three_absences_flag_the_member_but_do_not_drop_when_the_clinic_setting_is_off(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """Flagged, still active; running the job again changes nothing."""
    group = Group(database, make_clinic())
    group.mark(0, A.PRESENT)
    group.mark(1, A.NO_SHOW)
    group.mark(2, A.LATE_CANCEL)
    assert group.enrollment().absence_flagged_at is None
    group.mark(3, A.NO_SHOW)
    flagged = group.enrollment()
    assert flagged.absence_flagged_at is not None and flagged.status == EnrollmentStatus.ACTIVE
    group.rerun(3)
    again = group.enrollment()
    assert (again.absence_flagged_at, again.status) == (flagged.absence_flagged_at, EnrollmentStatus.ACTIVE)


def test_three_absences_drop_the_member_when_the_clinic_enables_it(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """Dropped by the system with the rule as reason; future sessions trimmed; the place announced."""
    clinic = make_clinic()
    group = Group(database, clinic)
    group.auto_drop(True)
    for i in range(3):
        group.mark(i, A.NO_SHOW)
    dropped = group.enrollment()
    last_absence = weeks_ago(2).astimezone(ZoneInfo(ZONE)).date()
    assert dropped.status == EnrollmentStatus.DROPPED and dropped.ends_on == last_absence
    with tenant_session(database.engine, clinic.schema_name) as session:
        event = session.scalars(select(EnrollmentEvent).where(EnrollmentEvent.to_status == "dropped")).one()
        roster = set(session.scalars(select(SessionAttendee.session_id)))
        kinds = [
            m.kind for m in session.scalars(select(OutboxMessage).where(OutboxMessage.processed_at.is_(None)))
        ]
    assert (event.reason, event.actor_user_id) == ("3 consecutive absences without clinical contact", None)
    assert roster == set(group.sessions[:3])
    assert kinds == ["waitlist.slot_opened"]
    group.rerun(2)
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert len(session.scalars(select(EnrollmentEvent)).all()) == 1


def test_a_clinical_contact_after_the_first_absence_prevents_flag_and_drop(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """A phone call between the absences keeps the member engaged."""
    clinic = make_clinic()
    group = Group(database, clinic)
    group.auto_drop(True)
    group.mark(0, A.NO_SHOW)
    with tenant_session(database.engine, clinic.schema_name) as session:
        session.add(
            ClinicalContact(
                client_id=group.client_id, occurred_at=weeks_ago(4) + timedelta(days=1), kind="phone_call"
            )
        )
    group.mark(1, A.NO_SHOW)
    group.mark(2, A.NO_SHOW)
    kept = group.enrollment()
    assert (kept.status, kept.absence_flagged_at) == (EnrollmentStatus.ACTIVE, None)


def test_excused_absences_do_not_count_toward_the_run(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """No-show, excused, no-show is two counted absences: no flag."""
    group = Group(database, make_clinic())
    group.mark(0, A.NO_SHOW)
    group.mark(1, A.EXCUSED)
    group.mark(2, A.NO_SHOW)
    assert group.enrollment().absence_flagged_at is None


def test_attending_again_clears_the_flag(database: Database, make_clinic: Callable[..., Tenant]) -> None:
    """A flagged member who comes back present is no longer flagged."""
    group = Group(database, make_clinic())
    for i in range(3):
        group.mark(i, A.NO_SHOW)
    assert group.enrollment().absence_flagged_at is not None
    group.mark(3, A.PRESENT)
    assert group.enrollment().absence_flagged_at is None
