"""The absence rule as an event-driven worker job.

After a session's attendance is recorded (outbox `roster.attendance_recorded`) each member on
that roster with an active enrollment is evaluated: when the member's last N counted marks in
the program (N = ClinicSettings.absence_threshold, default 3; excused absences skipped) are all
no-shows or late cancels and no clinical contact happened since the first of them, the
enrollment is flagged, and dropped when the clinic enables `auto_drop_absent_members`. Any
attendance, or a clinical contact (outbox `roster.clinical_contact_recorded`), clears the flag.
Re-running either handler changes nothing more (a flagged member stays flagged at the same
time; a dropped member is no longer active).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.clinic.models import ClinicSettings
from backend.database import utcnow
from backend.enrollment.models import ClinicalContact, Enrollment, EnrollmentStatus, SessionAttendee
from backend.enrollment.rules import AUTO_DROP_REASON, Attendance, Mark, should_flag
from backend.enrollment.store import change_status_sync
from backend.programs.models import Program
from backend.scheduling.models import GroupSession
from backend.workers.outbox import Payload, PermanentFailure, handler

ATTENDANCE_RECORDED = "roster.attendance_recorded"
CONTACT_RECORDED = "roster.clinical_contact_recorded"


class InvalidAbsencePayload(PermanentFailure):
    """The outbox row does not carry the id the handler needs."""


def _id(payload: Payload, key: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(payload[key]))
    except (KeyError, ValueError):
        raise InvalidAbsencePayload(f"{key} missing or invalid") from None


@handler(ATTENDANCE_RECORDED)
def on_attendance_recorded(session: Session, payload: Payload) -> None:
    session_id = _id(payload, "session_id")
    stmt = (
        select(Enrollment)
        .join(SessionAttendee, SessionAttendee.enrollment_id == Enrollment.id)
        .where(SessionAttendee.session_id == session_id, Enrollment.status == EnrollmentStatus.ACTIVE)
        .order_by(Enrollment.id)
    )
    evaluate_all(session, list(session.scalars(stmt)))


@handler(CONTACT_RECORDED)
def on_clinical_contact_recorded(session: Session, payload: Payload) -> None:
    client_id = _id(payload, "client_id")
    stmt = (
        select(Enrollment)
        .where(Enrollment.client_id == client_id, Enrollment.status == EnrollmentStatus.ACTIVE)
        .order_by(Enrollment.id)
    )
    evaluate_all(session, list(session.scalars(stmt)))


def evaluate_all(session: Session, enrollments: list[Enrollment]) -> None:
    settings = session.get_one(ClinicSettings, 1)
    for enrollment in enrollments:
        evaluate(session, enrollment, settings)


def marks_of(session: Session, enrollment: Enrollment, threshold: int) -> list[Mark]:
    """The enrollment's latest `threshold` counted marks (excused ones are not counted)."""
    stmt = (
        select(GroupSession.starts_at, SessionAttendee.attendance)
        .join(GroupSession, GroupSession.id == SessionAttendee.session_id)
        .where(
            SessionAttendee.enrollment_id == enrollment.id,
            SessionAttendee.attendance.is_not(None),
            SessionAttendee.attendance != Attendance.EXCUSED,
            GroupSession.starts_at <= utcnow(),
        )
        .order_by(GroupSession.starts_at.desc())
        .limit(threshold)
    )
    return [Mark(starts_at, Attendance(str(attendance))) for starts_at, attendance in session.execute(stmt)]


def contacts_since(session: Session, client_id: uuid.UUID, since: datetime) -> list[datetime]:
    stmt = select(ClinicalContact.occurred_at).where(
        ClinicalContact.client_id == client_id, ClinicalContact.occurred_at >= since
    )
    return list(session.scalars(stmt))


def evaluate(session: Session, enrollment: Enrollment, settings: ClinicSettings) -> None:
    """Flag (and, when the clinic enables it, drop) or clear one active enrollment."""
    threshold = settings.absence_threshold
    marks = marks_of(session, enrollment, threshold)
    first = min((m.session_starts_at for m in marks), default=None)
    contacts = contacts_since(session, enrollment.client_id, first) if first is not None else []
    if not should_flag(marks, threshold, contacts):
        if enrollment.absence_flagged_at is not None:
            enrollment.absence_flagged_at = None
            session.flush()
        return
    if enrollment.absence_flagged_at is None:
        enrollment.absence_flagged_at = utcnow()
        session.flush()
    if settings.auto_drop_absent_members:
        # The membership ends with the absence that completed the run: later sessions (tonight's
        # included) no longer expect the member.
        zone = ZoneInfo(session.get_one(Program, enrollment.program_id).timezone)
        last = max(m.session_starts_at for m in marks).astimezone(zone).date()
        change_status_sync(
            session,
            enrollment_id=enrollment.id,
            to=EnrollmentStatus.DROPPED,
            effective_on=max(last, enrollment.starts_on),
            reason=AUTO_DROP_REASON,
            actor_user_id=None,
        )
