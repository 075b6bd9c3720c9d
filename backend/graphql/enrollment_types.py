"""GraphQL types of enrollment and rosters: enrollments with history, roster entries, census, results."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

import strawberry
from strawberry.dataloader import DataLoader

from backend.enrollment.models import (
    Attendance,
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    SessionAttendee,
)
from backend.enrollment.rules import ContactKind
from backend.enrollment.store import events_of
from backend.graphql.clients_types import ClientNode, load_clients
from backend.graphql.context import Context
from backend.graphql.errors import InvalidInput, NotFound
from backend.graphql.waitlist_types import WaitlistDetailsInput, WaitlistEntryNode

EnrollmentStatusEnum = strawberry.enum(EnrollmentStatus, name="EnrollmentStatus")
AttendanceEnum = strawberry.enum(Attendance, name="Attendance")
ContactKindEnum = strawberry.enum(ContactKind, name="ClinicalContactKind")


@strawberry.type(name="EnrollmentEvent")
class EnrollmentEventType:
    from_status: EnrollmentStatusEnum | None  # type: ignore[valid-type]
    to_status: EnrollmentStatusEnum  # type: ignore[valid-type]
    effective_on: date
    reason: str | None
    actor_user_id: strawberry.ID | None = strawberry.field(description="null when the system changed it")
    occurred_at: datetime

    @classmethod
    def of(cls, event: EnrollmentEvent) -> EnrollmentEventType:
        return cls(
            from_status=EnrollmentStatus(event.from_status) if event.from_status else None,
            to_status=EnrollmentStatus(event.to_status),
            effective_on=event.effective_on,
            reason=event.reason,
            actor_user_id=strawberry.ID(str(event.actor_user_id)) if event.actor_user_id else None,
            occurred_at=event.occurred_at,
        )


@strawberry.type(name="Enrollment")
class EnrollmentType:
    id: strawberry.ID
    program_id: strawberry.ID
    client_id: strawberry.ID
    status: EnrollmentStatusEnum  # type: ignore[valid-type]
    starts_on: date
    ends_on: date | None
    absence_flagged_at: datetime | None = strawberry.field(
        description="set while the member has the clinic's threshold of consecutive unexcused absences"
    )

    @classmethod
    def of(cls, enrollment: Enrollment) -> EnrollmentType:
        return cls(
            id=strawberry.ID(str(enrollment.id)),
            program_id=strawberry.ID(str(enrollment.program_id)),
            client_id=strawberry.ID(str(enrollment.client_id)),
            status=enrollment.status,
            starts_on=enrollment.starts_on,
            ends_on=enrollment.ends_on,
            absence_flagged_at=enrollment.absence_flagged_at,
        )

    @strawberry.field
    async def client(self, info: strawberry.Info[Context, Any]) -> ClientNode | None:
        (client,) = await load_clients(info, [uuid.UUID(self.client_id)])
        if client is None:
            return None
        info.context.audit("read", "client", str(client.id), client.id)
        return ClientNode.of(client)

    @strawberry.field(description="Status changes, oldest first")
    async def history(self, info: strawberry.Info[Context, Any]) -> list[EnrollmentEventType]:
        events = await info.context.loader("enrollment_events", _events_loader).load(uuid.UUID(self.id))
        return [EnrollmentEventType.of(e) for e in events]


def _events_loader(context: Context) -> DataLoader[uuid.UUID, list[EnrollmentEvent]]:
    async def load(ids: list[uuid.UUID]) -> list[list[EnrollmentEvent]]:
        found = await events_of(context.session, ids)
        return [found.get(i, []) for i in ids]

    return DataLoader(load_fn=load)


@strawberry.type
class Census:
    enrolled: int
    active: int
    on_hold_clinical: int
    on_hold_administrative: int
    billable: int


@strawberry.type
class RosterEntry:
    client_id: strawberry.ID
    enrollment_id: strawberry.ID | None = strawberry.field(description="null for a drop-in")
    attendance: AttendanceEnum | None  # type: ignore[valid-type]
    arrived_at: datetime | None = None
    departed_at: datetime | None = None
    minutes_attended: int | None = None

    @classmethod
    def of(cls, row: SessionAttendee) -> RosterEntry:
        return cls(
            client_id=strawberry.ID(str(row.client_id)),
            enrollment_id=strawberry.ID(str(row.enrollment_id)) if row.enrollment_id else None,
            attendance=row.attendance,
            arrived_at=row.arrived_at,
            departed_at=row.departed_at,
            minutes_attended=row.minutes_attended,
        )

    @strawberry.field
    async def client(self, info: strawberry.Info[Context, Any]) -> ClientNode | None:
        (client,) = await load_clients(info, [uuid.UUID(self.client_id)])
        if client is None:
            return None
        info.context.audit("read", "client", str(client.id), client.id)
        return ClientNode.of(client)


# -- inputs and results -------------------------------------------------------------------------


@strawberry.input
class EnrollClientInput:
    program_id: strawberry.ID
    client_id: strawberry.ID
    starts_on: date
    waitlist: WaitlistDetailsInput | None = strawberry.field(
        default=None, description="Used only when the program is full and the client is waitlisted"
    )


@strawberry.input
class ChangeEnrollmentStatusInput:
    enrollment_id: strawberry.ID
    to: EnrollmentStatusEnum  # type: ignore[valid-type]
    effective_on: date
    reason: str | None = None


@strawberry.input
class EndEnrollmentInput:
    enrollment_id: strawberry.ID
    ends_on: date


@strawberry.input
class AttendanceEntryInput:
    client_id: strawberry.ID
    status: AttendanceEnum  # type: ignore[valid-type]
    arrived_at: datetime | None = strawberry.field(default=None, description="LATE: when they arrived")
    departed_at: datetime | None = strawberry.field(default=None, description="LEFT_EARLY: when they left")


@strawberry.input
class RecordAttendanceInput:
    session_id: strawberry.ID
    entries: list[AttendanceEntryInput]
    started_at: datetime | None = strawberry.field(
        default=None, description="Actual start (default: scheduled)"
    )
    ended_at: datetime | None = strawberry.field(default=None, description="Actual stop (default: scheduled)")


@strawberry.input
class RecordClinicalContactInput:
    client_id: strawberry.ID
    occurred_at: datetime
    kind: ContactKindEnum  # type: ignore[valid-type]


@strawberry.input
class AddDropInInput:
    session_id: strawberry.ID
    client_id: strawberry.ID


@strawberry.type
class EnrollmentCreated:
    enrollment: EnrollmentType


@strawberry.type
class PlacedOnWaitlist:
    """The program was full: the client waits (active members and open offers fill the places)."""

    entry: WaitlistEntryNode


@strawberry.type
class EnrollmentChanged:
    enrollment: EnrollmentType


@strawberry.type
class AttendanceRecorded:
    session_id: strawberry.ID
    roster: list[RosterEntry]


@strawberry.type
class ClinicalContactRecorded:
    id: strawberry.ID
    client_id: strawberry.ID
    occurred_at: datetime
    kind: ContactKindEnum  # type: ignore[valid-type]


@strawberry.type
class DropInAdded:
    session_id: strawberry.ID
    entry: RosterEntry


EnrollClientResult = Annotated[
    EnrollmentCreated | PlacedOnWaitlist | InvalidInput | NotFound, strawberry.union("EnrollClientResult")
]
EnrollmentChangeResult = Annotated[
    EnrollmentChanged | InvalidInput | NotFound, strawberry.union("EnrollmentChangeResult")
]
RecordAttendanceResult = Annotated[
    AttendanceRecorded | InvalidInput | NotFound, strawberry.union("RecordAttendanceResult")
]
RecordClinicalContactResult = Annotated[
    ClinicalContactRecorded | InvalidInput | NotFound, strawberry.union("RecordClinicalContactResult")
]
AddDropInResult = Annotated[DropInAdded | InvalidInput | NotFound, strawberry.union("AddDropInResult")]
