"""GraphQL types shared by programs and schedules: sessions and the typed scheduling errors."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from strawberry import relay

from backend.graphql.errors import UserError
from backend.scheduling.schedule import ScheduleEntry
from backend.scheduling.store import DoubleBookedError, LoadCapError


def global_id(type_name: str, value: uuid.UUID | None) -> strawberry.ID | None:
    """Relay global ids for node types (staff, programs), so clients can pass them back anywhere."""
    return strawberry.ID(relay.to_base64(type_name, str(value))) if value is not None else None


@strawberry.type
class Facilitator:
    staff_id: strawberry.ID
    display_name: str
    role: str
    covering_for: strawberry.ID | None


@strawberry.type(name="Session")
class SessionType:
    """A session on a calendar; attendee names are not part of it (see the roster for those)."""

    id: strawberry.ID
    kind: str
    program_id: strawberry.ID | None
    program_name: str | None
    starts_at: datetime
    ends_at: datetime
    room_name: str | None
    telehealth: bool
    status: str
    status_reason: str | None
    rescheduled_from: datetime | None
    facilitators: list[Facilitator]
    attendee_count: int

    @classmethod
    def of(cls, entry: ScheduleEntry) -> SessionType:
        s = entry.session
        return cls(
            id=strawberry.ID(str(s.id)),
            kind=s.kind.value,
            program_id=global_id("Program", s.program_id),
            program_name=entry.program_name,
            starts_at=s.starts_at,
            ends_at=s.ends_at,
            room_name=entry.room_name,
            telehealth=s.telehealth,
            status=s.status.value,
            status_reason=s.status_reason,
            rescheduled_from=s.rescheduled_from,
            facilitators=[
                Facilitator(
                    staff_id=global_id("StaffMember", f.staff_id),  # type: ignore[arg-type]
                    display_name=f.display_name,
                    role=f.role,
                    covering_for=global_id("StaffMember", f.covering_for),
                )
                for f in entry.facilitators
            ],
            attendee_count=entry.attendee_count,
        )


@strawberry.type
class DoubleBooked(UserError):
    """The facilitator or room is already booked for an overlapping time; nothing was stored."""

    resource_kind: str
    resource_id: strawberry.ID

    @classmethod
    def of(cls, error: DoubleBookedError) -> DoubleBooked:
        r = error.resource
        return cls(
            field=r.field,
            code="double_booked",
            message=f"{r.field}: this {r.kind} is already booked at an overlapping time",
            resource_kind=r.kind,
            resource_id=strawberry.ID(str(r.id)) if r.kind == "room" else global_id("StaffMember", r.id),  # type: ignore[arg-type]
        )


@strawberry.type
class LoadCapExceeded(UserError):
    """The facilitator would exceed the clinic's (or their own) groups-per-day or -per-week cap."""

    staff_id: strawberry.ID
    period: str
    starting: str
    cap: int

    @classmethod
    def of(cls, error: LoadCapError) -> LoadCapExceeded:
        return cls(
            field=error.field,
            code="load_cap_exceeded",
            message=f"{error.field}: more than {error.cap} groups per {error.period} (from {error.on})",
            staff_id=global_id("StaffMember", error.staff_id),  # type: ignore[arg-type]
            period=error.period,
            starting=error.on,
            cap=error.cap,
        )
