"""Programs through GraphQL: create one with its first series (sessions materialized), list, fetch."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import strawberry
from strawberry import relay

from backend.errors import FieldProblem
from backend.graphql.access import allow, ensure_allowed
from backend.graphql.context import Context
from backend.graphql.errors import BadRequest, InvalidInput, NotFound
from backend.graphql.relay import Connection, Keyset, keyset_page, parse_id, parse_optional_id
from backend.graphql.scheduling_types import DoubleBooked, LoadCapExceeded, SessionType, global_id
from backend.graphql.transactions import Atomic
from backend.programs.models import LevelOfCare, Modality, Program, ProgramKind
from backend.programs.rules import ProgramDraft, Window, validate_program
from backend.programs.store import add_program, add_series, program_list, programs_by_ids, windows_by_program
from backend.scheduling.generate import generate
from backend.scheduling.schedule import entries, program_sessions
from backend.scheduling.store import DoubleBookedError, LoadCapError
from backend.staff.models import Room
from backend.staff.rules import facilitator_problems, missing_credentials
from backend.staff.store import clinic_caps, credentials_of, staff_by_ids

PROGRAM_ORDER = Keyset((Program.name, Program.id))
MAX_RANGE = timedelta(days=400)

ModalityEnum = strawberry.enum(Modality, name="Modality")
ProgramKindEnum = strawberry.enum(ProgramKind, name="ProgramKind")
LevelOfCareEnum = strawberry.enum(LevelOfCare, name="LevelOfCare")


@strawberry.type
class AdmissionWindowType:
    opens_on: date
    closes_on: date


@strawberry.type(name="Program")
class ProgramNode(relay.Node):
    id: relay.NodeID[str]
    name: str
    modality: ModalityEnum  # type: ignore[valid-type]
    kind: ProgramKindEnum  # type: ignore[valid-type]
    level_of_care: LevelOfCareEnum  # type: ignore[valid-type]
    capacity: int
    therapeutic_minimum: int
    default_cpt: str
    session_minutes: int
    room_id: strawberry.ID | None
    telehealth: bool
    part2: bool = strawberry.field(
        description="An SUD treatment program under 42 CFR Part 2: its session records are Part 2 content"
    )
    timezone: str
    required_credentials: list[str]
    requires_cofacilitator: bool
    lead_facilitator_id: strawberry.ID | None
    cofacilitator_id: strawberry.ID | None
    substitute_id: strawberry.ID | None
    starts_on: date
    ends_on: date | None

    @classmethod
    def of(cls, p: Program) -> ProgramNode:
        return cls(
            id=str(p.id),
            name=p.name,
            modality=p.modality,
            kind=p.kind,
            level_of_care=p.level_of_care,
            capacity=p.capacity,
            therapeutic_minimum=p.therapeutic_minimum,
            default_cpt=p.default_cpt,
            session_minutes=p.session_minutes,
            room_id=strawberry.ID(str(p.room_id)) if p.room_id else None,
            telehealth=p.telehealth,
            part2=p.part2,
            timezone=p.timezone,
            required_credentials=list(p.required_credentials),
            requires_cofacilitator=p.requires_cofacilitator,
            lead_facilitator_id=global_id("StaffMember", p.lead_facilitator_id),
            cofacilitator_id=global_id("StaffMember", p.cofacilitator_id),
            substitute_id=global_id("StaffMember", p.substitute_id),
            starts_on=p.starts_on,
            ends_on=p.ends_on,
        )

    @strawberry.field
    async def admission_windows(self, info: strawberry.Info[Context, Any]) -> list[AdmissionWindowType]:
        found = await windows_by_program(info.context.session, [uuid.UUID(self.id)])
        return [
            AdmissionWindowType(opens_on=w.opens_on, closes_on=w.closes_on) for w in found[uuid.UUID(self.id)]
        ]

    @strawberry.field
    async def sessions(
        self, info: strawberry.Info[Context, Any], from_date: date, to_date: date
    ) -> list[SessionType]:
        """Sessions whose time overlaps [fromDate, toDate] in the program's zone (at most 400 days)."""
        low, high = day_range(from_date, to_date, ZoneInfo(self.timezone))
        found = await program_sessions(info.context.session, uuid.UUID(self.id), low, high)
        return [SessionType.of(e) for e in await entries(info.context.session, found)]

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: strawberry.Info, node_ids: Iterable[str], required: bool = False
    ) -> list[ProgramNode | None]:
        ensure_allowed(info, "program", "read")
        ids: list[uuid.UUID | None] = []
        for i in node_ids:
            try:
                ids.append(uuid.UUID(i))
            except ValueError:
                ids.append(None)
        found = await programs_by_ids(info.context.session, [i for i in ids if i is not None])
        return [ProgramNode.of(found[i]) if i in found else None for i in ids]


def draft_required(credentials: list[str]) -> list[str]:
    return sorted({c.strip().upper() for c in credentials if c.strip()})


def day_range(from_date: date, to_date: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    if to_date < from_date:
        raise BadRequest("toDate", "must not be before fromDate")
    if to_date - from_date > MAX_RANGE:
        raise BadRequest("toDate", "at most 400 days after fromDate")
    low = datetime.combine(from_date, time.min, tz)
    high = datetime.combine(to_date + timedelta(days=1), time.min, tz)
    return low, high


@strawberry.input
class AdmissionWindowInput:
    opens_on: date
    closes_on: date


@strawberry.input
class CreateProgramInput:
    name: str
    modality: ModalityEnum  # type: ignore[valid-type]
    kind: ProgramKindEnum  # type: ignore[valid-type]
    level_of_care: LevelOfCareEnum  # type: ignore[valid-type]
    capacity: int
    therapeutic_minimum: int
    default_cpt: str
    session_minutes: int
    starts_on: date
    rrule: str
    first_start: datetime  # local wall-clock time of the first session (no offset)
    lead_facilitator_id: strawberry.ID
    ends_on: date | None = None
    timezone: str | None = None  # IANA zone; the clinic's when left out
    room_id: strawberry.ID | None = None
    telehealth: bool = False
    part2: bool = strawberry.field(default=False, description="An SUD treatment program (42 CFR Part 2)")
    required_credentials: list[str] = strawberry.field(default_factory=list)
    requires_cofacilitator: bool = False
    cofacilitator_id: strawberry.ID | None = None
    substitute_id: strawberry.ID | None = None
    admission_windows: list[AdmissionWindowInput] = strawberry.field(default_factory=list)


@strawberry.type
class CreateProgramSuccess:
    program: ProgramNode
    sessions_created: int


CreateProgramResult = Annotated[
    CreateProgramSuccess | InvalidInput | NotFound | DoubleBooked | LoadCapExceeded,
    strawberry.union("CreateProgramResult"),
]


@strawberry.type
class ProgramPart2Set:
    program: ProgramNode


SetProgramPart2Result = Annotated[ProgramPart2Set | NotFound, strawberry.union("SetProgramPart2Result")]


@strawberry.type
class ProgramQueries:
    @strawberry.field(permission_classes=[allow("program", "read")])
    async def programs(
        self, info: strawberry.Info[Context, Any], first: int = 20, after: str | None = None
    ) -> Connection[ProgramNode]:
        _, connection = await keyset_page(
            info.context.session, program_list(), PROGRAM_ORDER, first, after, ProgramNode.of
        )
        return connection


@strawberry.type
class ProgramMutations:
    @strawberry.mutation(permission_classes=[allow("program", "manage")], extensions=[Atomic()])
    async def create_program(
        self, info: strawberry.Info[Context, Any], input: CreateProgramInput
    ) -> CreateProgramResult:
        """Create the program, its windows, first series and sessions (52 weeks ahead if open-ended)."""
        session = info.context.session
        clinic_tz, _, _ = await clinic_caps(session)
        tz_name = input.timezone or clinic_tz
        first_start = input.first_start.replace(tzinfo=None)
        draft = ProgramDraft(
            input.name, ProgramKind(input.kind), input.capacity, input.therapeutic_minimum, input.default_cpt,
            input.session_minutes, tz_name, input.starts_on, input.ends_on, input.rrule, first_start,
            input.telehealth, input.room_id is not None,
            [Window(w.opens_on, w.closes_on) for w in input.admission_windows],
        )  # fmt: skip
        lead = parse_id(input.lead_facilitator_id, "leadFacilitatorId")
        co = parse_optional_id(input.cofacilitator_id, "cofacilitatorId")
        substitute = parse_optional_id(input.substitute_id, "substituteId")
        problems = validate_program(draft) + facilitator_problems(
            lead, co, input.requires_cofacilitator, "leadFacilitatorId", "cofacilitatorId"
        )
        if problems:
            return InvalidInput.of(problems)
        room_id = parse_optional_id(input.room_id, "roomId")
        if room_id is not None and await session.get(Room, room_id) is None:
            return NotFound.of("roomId")
        staff = await staff_by_ids(session, [i for i in (lead, co, substitute) if i is not None])
        for field, value in (
            ("leadFacilitatorId", lead),
            ("cofacilitatorId", co),
            ("substituteId", substitute),
        ):
            if value is not None and value not in staff:
                return NotFound.of(field)
        if substitute is not None:
            # Checked again (through the session date, with caps and bookings) when they cover.
            held = await credentials_of(session, [substitute])
            if missing_credentials(
                draft_required(input.required_credentials), held[substitute], input.starts_on
            ):
                return InvalidInput.of(
                    [FieldProblem("substituteId", "missing_credential", "lacks a required credential")]
                )
        program = add_program(
            session,
            {
                "name": input.name.strip(), "modality": Modality(input.modality), "kind": draft.kind,
                "level_of_care": LevelOfCare(input.level_of_care), "capacity": input.capacity,
                "therapeutic_minimum": input.therapeutic_minimum, "default_cpt": input.default_cpt,
                "session_minutes": input.session_minutes, "room_id": room_id, "telehealth": input.telehealth,
                "part2": input.part2, "timezone": tz_name,
                "required_credentials": draft_required(input.required_credentials),
                "requires_cofacilitator": input.requires_cofacilitator, "lead_facilitator_id": lead,
                "cofacilitator_id": co, "substitute_id": substitute, "starts_on": input.starts_on,
                "ends_on": input.ends_on, "fit_criteria": {},
            },
            draft.windows,
        )  # fmt: skip
        series = add_series(session, program.id, input.rrule, first_start, input.session_minutes)
        await session.flush()
        try:
            created = await generate(session, program, series, input.starts_on)
        except DoubleBookedError as exc:
            return DoubleBooked.of(exc)
        except LoadCapError as exc:
            return LoadCapExceeded.of(exc)
        return CreateProgramSuccess(program=ProgramNode.of(program), sessions_created=len(created))

    @strawberry.mutation(permission_classes=[allow("program", "manage")], extensions=[Atomic()])
    async def set_program_part2(
        self, info: strawberry.Info[Context, Any], program_id: strawberry.ID, part2: bool
    ) -> SetProgramPart2Result:
        """Flag (or unflag) the program as SUD treatment under 42 CFR Part 2: every record of its sessions,
        past and future, is then Part 2 content (withheld from staff outside it without consent)."""
        program = await info.context.session.get(
            Program, parse_id(program_id, "programId"), with_for_update=True
        )
        if program is None:
            return NotFound.of("programId")
        program.part2 = part2
        info.context.audit("update", "program_part2", str(program.id))
        return ProgramPart2Set(program=ProgramNode.of(program))
