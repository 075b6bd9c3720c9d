"""Enrollment, rosters and attendance through GraphQL.

`enrollClient` answers `EnrollmentCreated` when the program has a place and `PlacedOnWaitlist`
when it is full (a result, not an error); closed admission, an open enrollment already there
and bad waitlist details are `InvalidInput` naming the field; unknown ids are `NotFound`.
"""

from __future__ import annotations

from typing import Any

import strawberry

from backend.documentation.presence import Mark
from backend.enrollment import attendance as roster
from backend.enrollment.models import Attendance, Enrollment, EnrollmentStatus
from backend.enrollment.rules import ContactKind, Enrolled
from backend.enrollment.store import (
    change_status,
    end_enrollment,
    enroll,
    enrollments_by_ids,
    program_census,
    roster_list,
)
from backend.graphql.access import allow
from backend.graphql.context import Context
from backend.graphql.enrollment_types import (
    AddDropInInput,
    AddDropInResult,
    AttendanceRecorded,
    Census,
    ChangeEnrollmentStatusInput,
    ClinicalContactRecorded,
    DropInAdded,
    EndEnrollmentInput,
    EnrollClientInput,
    EnrollClientResult,
    EnrollmentChanged,
    EnrollmentChangeResult,
    EnrollmentCreated,
    EnrollmentType,
    PlacedOnWaitlist,
    RecordAttendanceInput,
    RecordAttendanceResult,
    RecordClinicalContactInput,
    RecordClinicalContactResult,
    RosterEntry,
)
from backend.graphql.errors import NotFound
from backend.graphql.relay import Connection, Keyset, keyset_page, parse_id
from backend.graphql.transactions import Atomic, or_not_found
from backend.graphql.waitlist_types import WaitlistEntryNode
from backend.staff.store import staff_for_user
from backend.waitlist.models import WaitlistEntry

ROSTER_ORDER = Keyset((Enrollment.starts_on, Enrollment.id))


@strawberry.type
class EnrollmentQueries:
    @strawberry.field(permission_classes=[allow("enrollment", "read")])
    async def program_roster(
        self,
        info: strawberry.Info[Context, Any],
        program_id: strawberry.ID,
        include_ended: bool = False,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[EnrollmentType]:
        """The program's enrollments (open ones unless `includeEnded`), by start date."""
        stmt = roster_list(parse_id(program_id, "programId", in_input=False), include_ended)
        page, connection = await keyset_page(
            info.context.session, stmt, ROSTER_ORDER, first, after, EnrollmentType.of
        )
        for enrollment in page:
            info.context.audit("read", "enrollment", str(enrollment.id), enrollment.client_id)
        return connection

    @strawberry.field(permission_classes=[allow("enrollment", "read")])
    async def enrollment(
        self, info: strawberry.Info[Context, Any], enrollment_id: strawberry.ID
    ) -> EnrollmentType | None:
        (found,) = await enrollments_by_ids(
            info.context.session, [parse_id(enrollment_id, "enrollmentId", in_input=False)]
        )
        if found is None:
            return None
        info.context.audit("read", "enrollment", str(found.id), found.client_id)
        return EnrollmentType.of(found)

    @strawberry.field(permission_classes=[allow("enrollment", "read")])
    async def session_roster(
        self, info: strawberry.Info[Context, Any], session_id: strawberry.ID
    ) -> list[RosterEntry]:
        """Who is expected at (or attended) one session, by name."""
        rows = await roster.session_roster(
            info.context.session, parse_id(session_id, "sessionId", in_input=False)
        )
        for row in rows:
            info.context.audit("read", "session_attendee", str(row.session_id), row.client_id)
        return [RosterEntry.of(r) for r in rows]

    @strawberry.field(permission_classes=[allow("enrollment", "read")])
    async def program_census(self, info: strawberry.Info[Context, Any], program_id: strawberry.ID) -> Census:
        """Counts only (no member is named): enrolled = active + on hold; billable = active."""
        result = await program_census(info.context.session, parse_id(program_id, "programId", in_input=False))
        return Census(
            enrolled=result.enrolled,
            active=result.active,
            on_hold_clinical=result.on_hold_clinical,
            on_hold_administrative=result.on_hold_administrative,
            billable=result.billable,
        )


@strawberry.type
class EnrollmentMutations:
    @strawberry.mutation(permission_classes=[allow("enrollment", "manage")], extensions=[Atomic()])
    async def enroll_client(
        self, info: strawberry.Info[Context, Any], input: EnrollClientInput
    ) -> EnrollClientResult:
        principal = info.context.require_principal()
        session = info.context.session
        result = await or_not_found(
            enroll(
                session,
                program_id=parse_id(input.program_id, "programId"),
                client_id=parse_id(input.client_id, "clientId"),
                starts_on=input.starts_on,
                actor_user_id=principal.user_id,
                waitlist=input.waitlist.to_details() if input.waitlist is not None else None,
            )
        )
        if isinstance(result, NotFound):
            return result
        if isinstance(result, Enrolled):
            enrollment = await session.get_one(Enrollment, result.enrollment_id)
            info.context.audit("create", "enrollment", str(enrollment.id), enrollment.client_id)
            return EnrollmentCreated(enrollment=EnrollmentType.of(enrollment))
        entry = await session.get_one(WaitlistEntry, result.entry_id)
        info.context.audit("create", "waitlist_entry", str(entry.id), entry.client_id)
        return PlacedOnWaitlist(entry=WaitlistEntryNode.of(entry))

    @strawberry.mutation(permission_classes=[allow("enrollment", "manage")], extensions=[Atomic()])
    async def change_enrollment_status(
        self, info: strawberry.Info[Context, Any], input: ChangeEnrollmentStatusInput
    ) -> EnrollmentChangeResult:
        """Graduated and dropped are final and take the member off sessions after `effectiveOn`."""
        principal = info.context.require_principal()
        enrollment = await or_not_found(
            change_status(
                info.context.session,
                enrollment_id=parse_id(input.enrollment_id, "enrollmentId"),
                to=EnrollmentStatus(input.to),
                effective_on=input.effective_on,
                reason=input.reason,
                actor_user_id=principal.user_id,
            )
        )
        if isinstance(enrollment, NotFound):
            return enrollment
        info.context.audit("update", "enrollment", str(enrollment.id), enrollment.client_id)
        return EnrollmentChanged(enrollment=EnrollmentType.of(enrollment))

    @strawberry.mutation(permission_classes=[allow("enrollment", "manage")], extensions=[Atomic()])
    async def end_enrollment(
        self, info: strawberry.Info[Context, Any], input: EndEnrollmentInput
    ) -> EnrollmentChangeResult:
        """The member stays on sessions up to `endsOn` and leaves the later ones."""
        principal = info.context.require_principal()
        enrollment = await or_not_found(
            end_enrollment(
                info.context.session,
                enrollment_id=parse_id(input.enrollment_id, "enrollmentId"),
                ends_on=input.ends_on,
                actor_user_id=principal.user_id,
            )
        )
        if isinstance(enrollment, NotFound):
            return enrollment
        info.context.audit("update", "enrollment", str(enrollment.id), enrollment.client_id)
        return EnrollmentChanged(enrollment=EnrollmentType.of(enrollment))

    @strawberry.mutation(permission_classes=[allow("attendance", "record")], extensions=[Atomic()])
    async def record_attendance(
        self, info: strawberry.Info[Context, Any], input: RecordAttendanceInput
    ) -> RecordAttendanceResult:
        """Marks the whole roster of a started, not cancelled session; the absence rule runs after."""
        marks = [
            Mark(
                str(parse_id(e.client_id, f"entries[{i}].clientId")),
                Attendance(e.status),
                e.arrived_at,
                e.departed_at,
            )
            for i, e in enumerate(input.entries)
        ]
        session_id = parse_id(input.session_id, "sessionId")
        staff = await staff_for_user(info.context.session, info.context.require_principal().user_id)
        rows = await or_not_found(
            roster.record_attendance(
                info.context.session,
                session_id,
                marks,
                started_at=input.started_at,
                ended_at=input.ended_at,
                staff_id=staff.id if staff else None,
            )
        )
        if isinstance(rows, NotFound):
            return rows
        for row in rows:
            info.context.audit("update", "attendance", str(session_id), row.client_id)
        return AttendanceRecorded(
            session_id=strawberry.ID(str(session_id)), roster=[RosterEntry.of(r) for r in rows]
        )

    @strawberry.mutation(permission_classes=[allow("clinical_contact", "record")], extensions=[Atomic()])
    async def record_clinical_contact(
        self, info: strawberry.Info[Context, Any], input: RecordClinicalContactInput
    ) -> RecordClinicalContactResult:
        """A call, an individual session or outreach that reached the member (resets the absence rule)."""
        principal = info.context.require_principal()
        contact = await or_not_found(
            roster.record_clinical_contact(
                info.context.session,
                client_id=parse_id(input.client_id, "clientId"),
                occurred_at=input.occurred_at,
                kind=ContactKind(input.kind).value,
                user_id=principal.user_id,
            )
        )
        if isinstance(contact, NotFound):
            return contact
        info.context.audit("create", "clinical_contact", str(contact.id), contact.client_id)
        return ClinicalContactRecorded(
            id=strawberry.ID(str(contact.id)),
            client_id=strawberry.ID(str(contact.client_id)),
            occurred_at=contact.occurred_at,
            kind=ContactKind(contact.kind),
        )

    @strawberry.mutation(permission_classes=[allow("enrollment", "manage")], extensions=[Atomic()])
    async def add_drop_in(
        self, info: strawberry.Info[Context, Any], input: AddDropInInput
    ) -> AddDropInResult:
        """Adds a client to this one session only, without an enrollment."""
        row = await or_not_found(
            roster.add_drop_in(
                info.context.session,
                parse_id(input.session_id, "sessionId"),
                parse_id(input.client_id, "clientId"),
            )
        )
        if isinstance(row, NotFound):
            return row
        info.context.audit("create", "session_attendee", str(row.session_id), row.client_id)
        return DropInAdded(session_id=strawberry.ID(str(row.session_id)), entry=RosterEntry.of(row))
