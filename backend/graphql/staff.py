"""Staff records, their credentials, rooms, and each staff member's calendar feed."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from typing import Annotated, Any

import strawberry
from sqlalchemy import select
from strawberry import relay

from backend.errors import FieldProblem
from backend.graphql.access import allow, ensure_allowed
from backend.graphql.context import Context
from backend.graphql.errors import InvalidInput, NotFound
from backend.graphql.relay import parse_id, parse_optional_id
from backend.graphql.transactions import Atomic
from backend.staff.models import Room, StaffMember
from backend.staff.store import (
    add_room,
    add_staff,
    credentials_of,
    new_feed_token,
    set_credential,
    staff_by_ids,
    staff_for_user,
)


@strawberry.type(name="StaffCredential")
class CredentialType:
    credential: str
    expires_on: date | None


@strawberry.type(name="StaffMember")
class StaffNode(relay.Node):
    id: relay.NodeID[str]
    display_name: str
    user_id: strawberry.ID | None
    active: bool
    max_groups_per_day: int | None
    max_groups_per_week: int | None
    credentials: list[CredentialType]

    @classmethod
    def of(cls, staff: StaffMember, held: dict[str, date | None] | None = None) -> StaffNode:
        return cls(
            id=str(staff.id),
            display_name=staff.display_name,
            user_id=strawberry.ID(str(staff.user_id)) if staff.user_id else None,
            active=staff.active,
            max_groups_per_day=staff.max_groups_per_day,
            max_groups_per_week=staff.max_groups_per_week,
            credentials=[CredentialType(credential=k, expires_on=v) for k, v in sorted((held or {}).items())],
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: strawberry.Info, node_ids: Iterable[str], required: bool = False
    ) -> list[StaffNode | None]:
        ensure_allowed(info, "staff", "read")
        ids: list[uuid.UUID | None] = []
        for value in node_ids:
            try:
                ids.append(uuid.UUID(value))
            except ValueError:
                ids.append(None)
        found = await staff_by_ids(info.context.session, [i for i in ids if i is not None])
        held = await credentials_of(info.context.session, list(found))
        return [StaffNode.of(found[i], held.get(i)) if i in found else None for i in ids]


@strawberry.type(name="Room")
class RoomType:
    id: strawberry.ID
    name: str
    capacity: int | None

    @classmethod
    def of(cls, room: Room) -> RoomType:
        return cls(id=strawberry.ID(str(room.id)), name=room.name, capacity=room.capacity)


@strawberry.input
class CreateStaffMemberInput:
    display_name: str
    user_id: strawberry.ID | None = None
    max_groups_per_day: int | None = None
    max_groups_per_week: int | None = None


@strawberry.input
class StaffCredentialInput:
    staff_id: strawberry.ID
    credential: str
    expires_on: date | None = None


@strawberry.input
class CreateRoomInput:
    name: str
    capacity: int | None = None


@strawberry.type
class CalendarFeed:
    """The feed URL is shown once: only its hash is stored. Issuing again revokes the old URL."""

    url: str


StaffResult = Annotated[StaffNode | InvalidInput | NotFound, strawberry.union("StaffMemberResult")]
RoomResult = Annotated[RoomType | InvalidInput, strawberry.union("RoomResult")]
FeedResult = Annotated[CalendarFeed | InvalidInput | NotFound, strawberry.union("CalendarFeedResult")]


def _cap_problems(day: int | None, week: int | None) -> list[FieldProblem]:
    return [
        FieldProblem(name, "too_small", "must be at least 1")
        for name, value in (("maxGroupsPerDay", day), ("maxGroupsPerWeek", week))
        if value is not None and value < 1
    ]


@strawberry.type
class StaffQueries:
    @strawberry.field(permission_classes=[allow("staff", "read")])
    async def staff_members(self, info: strawberry.Info[Context, Any]) -> list[StaffNode]:
        session = info.context.session
        staff = list(await session.scalars(select(StaffMember).order_by(StaffMember.display_name)))
        held = await credentials_of(session, [s.id for s in staff])
        return [StaffNode.of(s, held.get(s.id)) for s in staff]


@strawberry.type
class StaffMutations:
    @strawberry.mutation(permission_classes=[allow("staff", "manage")], extensions=[Atomic()])
    async def create_staff_member(
        self, info: strawberry.Info[Context, Any], input: CreateStaffMemberInput
    ) -> StaffResult:
        problems = _cap_problems(input.max_groups_per_day, input.max_groups_per_week)
        if not input.display_name.strip():
            problems.append(FieldProblem("displayName", "required", "is required"))
        if problems:
            return InvalidInput.of(problems)
        session = info.context.session
        user_id = parse_optional_id(input.user_id, "userId")
        if user_id is not None and await staff_for_user(session, user_id) is not None:
            return InvalidInput.of([FieldProblem("userId", "taken", "already has a staff record")])
        staff = await add_staff(
            session, input.display_name.strip(), user_id, input.max_groups_per_day, input.max_groups_per_week
        )
        return StaffNode.of(staff)

    @strawberry.mutation(permission_classes=[allow("staff", "manage")], extensions=[Atomic()])
    async def set_staff_credential(
        self, info: strawberry.Info[Context, Any], input: StaffCredentialInput
    ) -> StaffResult:
        """Add a credential (e.g. "DBT", "LCSW") or renew its expiry."""
        if not input.credential.strip() or len(input.credential.strip()) > 40:
            return InvalidInput.of([FieldProblem("credential", "invalid", "must be 1 to 40 characters")])
        session = info.context.session
        staff_id = parse_id(input.staff_id, "staffId")
        staff = (await staff_by_ids(session, [staff_id])).get(staff_id)
        if staff is None:
            return NotFound.of("staffId")
        await set_credential(session, staff.id, input.credential, input.expires_on)
        held = await credentials_of(session, [staff.id])
        return StaffNode.of(staff, held.get(staff.id))

    @strawberry.mutation(permission_classes=[allow("staff", "manage")], extensions=[Atomic()])
    async def create_room(self, info: strawberry.Info[Context, Any], input: CreateRoomInput) -> RoomResult:
        session = info.context.session
        name = input.name.strip()
        if not name:
            return InvalidInput.of([FieldProblem("name", "required", "is required")])
        if input.capacity is not None and input.capacity < 1:
            return InvalidInput.of([FieldProblem("capacity", "too_small", "must be at least 1")])
        if await session.scalar(select(Room.id).where(Room.name == name)) is not None:
            return InvalidInput.of([FieldProblem("name", "taken", "another room has this name")])
        return RoomType.of(await add_room(session, name, input.capacity))

    @strawberry.mutation(permission_classes=[allow("schedule", "read_own")], extensions=[Atomic()])
    async def issue_calendar_feed(self, info: strawberry.Info[Context, Any]) -> FeedResult:
        """A secret iCalendar URL for the caller's own sessions (clinic slug + token; no PHI in it)."""
        principal = info.context.require_principal()
        staff = await staff_for_user(info.context.session, principal.user_id)
        if staff is None:
            return NotFound.of("staff")
        token, digest = new_feed_token()
        staff.calendar_token_hash = digest
        await info.context.session.flush()
        return CalendarFeed(url=f"/calendar/{principal.tenant_slug}/{token}.ics")

    @strawberry.mutation(permission_classes=[allow("schedule", "read")], extensions=[Atomic()])
    async def issue_room_calendar_feed(
        self, info: strawberry.Info[Context, Any], room_id: strawberry.ID
    ) -> FeedResult:
        """A secret iCalendar URL for one room's sessions; issuing again revokes the old URL."""
        principal = info.context.require_principal()
        room = await info.context.session.get(Room, parse_id(room_id, "roomId"))
        if room is None:
            return NotFound.of("roomId")
        token, digest = new_feed_token()
        room.calendar_token_hash = digest
        await info.context.session.flush()
        return CalendarFeed(url=f"/calendar/{principal.tenant_slug}/{token}.ics")
