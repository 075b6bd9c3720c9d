"""GraphQL types of the documentation read side: brief, member record, own attendance, queues."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from backend.documentation.brief import (
    AuthorizationLeft,
    BriefMember,
    EarlierNote,
    OpenRisk,
    PastAttendance,
    SessionBrief,
    VisitCap,
)
from backend.documentation.member_record import (
    HistoryEntry,
    OwnAttendance,
)
from backend.documentation.queues import AwaitingCosign, UnsignedSession
from backend.documentation.templates import RiskLevel, Scope
from backend.graphql.enrollment_types import AttendanceEnum
from backend.graphql.note_templates import NoteScopeEnum
from backend.graphql.scheduling_types import global_id
from backend.graphql.session_record_types import AddendumType, RecordStatusEnum
from backend.scheduling.models import SessionKind

SessionKindEnum = strawberry.enum(SessionKind, name="SessionKind")
PART2_WITHHELD = (
    "True: 42 CFR Part 2 content (from an SUD program) that no consent or break-the-glass grant of yours "
    "covers (reason no_consent); its fields are null"
)
RiskLevelEnum = strawberry.enum(RiskLevel, name="RiskLevel")


def _id(value: uuid.UUID) -> strawberry.ID:
    return strawberry.ID(str(value))


def _json(content: dict[str, object] | None) -> JSON | None:
    return cast(JSON, dict(content)) if content is not None else None


@strawberry.type(name="PastAttendance")
class PastAttendanceType:
    """One session a member was on: when, which program, and how they attended."""

    session_id: strawberry.ID
    kind: SessionKindEnum  # type: ignore[valid-type]
    starts_at: datetime
    program_name: str | None
    attendance: AttendanceEnum | None = strawberry.field(description="Null: not recorded")  # type: ignore[valid-type]
    minutes_attended: int | None
    part2_withheld: bool = strawberry.field(description=PART2_WITHHELD)

    @classmethod
    def of(cls, a: PastAttendance | OwnAttendance) -> PastAttendanceType:
        return cls(
            session_id=_id(a.session_id),
            kind=a.kind,
            starts_at=a.starts_at,
            program_name=a.program_name,
            attendance=a.attendance,
            minutes_attended=a.minutes_attended,
            part2_withheld=isinstance(a, PastAttendance) and a.part2_withheld,
        )


@strawberry.type(name="EarlierNote")
class EarlierNoteType:
    """A section or group note of an earlier session; `content` is null when `withheld`."""

    session_id: strawberry.ID
    starts_at: datetime
    program_name: str | None
    content: JSON | None
    withheld: bool = strawberry.field(description="True: your relationship to it does not show it")
    part2_withheld: bool = strawberry.field(description=PART2_WITHHELD)

    @classmethod
    def of(cls, n: EarlierNote) -> EarlierNoteType:
        return cls(
            session_id=_id(n.session_id),
            starts_at=n.starts_at,
            program_name=n.program_name,
            content=_json(n.content),
            withheld=n.withheld,
            part2_withheld=n.part2_withheld,
        )


@strawberry.type(name="OpenRiskFlag")
class OpenRiskFlagType:
    id: strawberry.ID
    session_id: strawberry.ID
    level: RiskLevelEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="Null when part2Withheld: raised in a Part 2 record you may not read"
    )
    raised_at: datetime
    part2_withheld: bool = strawberry.field(description=PART2_WITHHELD)

    @classmethod
    def of(cls, f: OpenRisk) -> OpenRiskFlagType:
        return cls(
            id=_id(f.id),
            session_id=_id(f.session_id),
            level=f.level,
            raised_at=f.raised_at,
            part2_withheld=f.part2_withheld,
        )


@strawberry.type(name="AuthorizationRemaining")
class AuthorizationRemainingType:
    """The member's authorization in force on the session date."""

    authorization_id: strawberry.ID
    reference: str
    sessions_authorized: int
    sessions_used: int
    remaining: int
    starts_on: date
    ends_on: date

    @classmethod
    def of(cls, a: AuthorizationLeft) -> AuthorizationRemainingType:
        return cls(
            authorization_id=_id(a.authorization_id),
            reference=a.reference,
            sessions_authorized=a.sessions_authorized,
            sessions_used=a.sessions_used,
            remaining=a.remaining,
            starts_on=a.starts_on,
            ends_on=a.ends_on,
        )


@strawberry.type(name="VisitCapStatus")
class VisitCapStatusType:
    """The primary coverage's yearly visit cap (null: none) and the member's billable visits this year."""

    coverage_id: strawberry.ID
    payer_name: str
    visit_cap: int | None
    visits_used_this_year: int

    @classmethod
    def of(cls, c: VisitCap) -> VisitCapStatusType:
        return cls(
            coverage_id=_id(c.coverage_id),
            payer_name=c.payer_name,
            visit_cap=c.visit_cap,
            visits_used_this_year=c.visits_used,
        )


@strawberry.type(name="BriefMember")
class BriefMemberType:
    client_id: strawberry.ID
    first_name: str
    last_name: str
    drop_in: bool
    recent_attendance: list[PastAttendanceType] = strawberry.field(
        description="The last 4 earlier sessions whose attendance you may see, newest first"
    )
    last_section: EarlierNoteType | None = strawberry.field(description="Null: no earlier section")
    risk_flags: list[OpenRiskFlagType]
    authorization: AuthorizationRemainingType | None = strawberry.field(
        description="Null: no authorization in force on the session date"
    )
    authorization_expiring_soon: bool = strawberry.field(
        description="Ends within 14 days of the session or 2 or fewer sessions left (false when none)"
    )
    visit_cap: VisitCapStatusType | None = strawberry.field(description="Null: no primary coverage")

    @classmethod
    def of(cls, m: BriefMember) -> BriefMemberType:
        auth = m.authorization
        return cls(
            client_id=_id(m.client_id),
            first_name=m.first_name,
            last_name=m.last_name,
            drop_in=m.drop_in,
            recent_attendance=[PastAttendanceType.of(a) for a in m.recent_attendance],
            last_section=EarlierNoteType.of(m.last_section) if m.last_section else None,
            risk_flags=[OpenRiskFlagType.of(f) for f in m.risk_flags],
            authorization=AuthorizationRemainingType.of(auth) if auth else None,
            authorization_expiring_soon=bool(auth and auth.expiring_soon),
            visit_cap=VisitCapStatusType.of(m.visit_cap) if m.visit_cap else None,
        )


@strawberry.type(name="PreSessionBrief")
class PreSessionBriefType:
    session_id: strawberry.ID
    kind: SessionKindEnum  # type: ignore[valid-type]
    program_id: strawberry.ID | None
    program_name: str | None
    starts_at: datetime
    ends_at: datetime
    session_date: date
    members: list[BriefMemberType]
    last_group_note: EarlierNoteType | None = strawberry.field(
        description="The program's previous final record's group note (null: none yet)"
    )

    @classmethod
    def of(cls, b: SessionBrief) -> PreSessionBriefType:
        gs = b.group_session
        return cls(
            session_id=_id(gs.id),
            kind=gs.kind,
            program_id=global_id("Program", gs.program_id),
            program_name=b.program.name if b.program else None,
            starts_at=gs.starts_at,
            ends_at=gs.ends_at,
            session_date=b.session_date,
            members=[BriefMemberType.of(m) for m in b.members],
            last_group_note=EarlierNoteType.of(b.last_group_note) if b.last_group_note else None,
        )


@strawberry.type
class NotePart:
    """A group note as you may see it: `content` null when withheld or when no record exists yet."""

    content: JSON | None
    withheld: bool
    part2_withheld: bool = strawberry.field(description=PART2_WITHHELD)


@strawberry.type
class MemberNotePart:
    """The member's own section (or absence note) as you may see it."""

    scope: NoteScopeEnum | None  # type: ignore[valid-type]
    content: JSON | None
    withheld: bool
    part2_withheld: bool = strawberry.field(description=PART2_WITHHELD)


@strawberry.type
class MemberRecordEntry:
    session_id: strawberry.ID
    kind: SessionKindEnum = strawberry.field(description="GROUP or INDIVIDUAL")  # type: ignore[valid-type]
    starts_at: datetime
    ends_at: datetime
    program_name: str | None
    attendance: AttendanceEnum | None  # type: ignore[valid-type]
    minutes_attended: int | None
    removed_at: datetime | None = strawberry.field(description="Set when removed from a final record")
    record_status: RecordStatusEnum | None = strawberry.field(description="Null: no record opened")  # type: ignore[valid-type]
    group_note: NotePart
    section: MemberNotePart
    addenda: list[AddendumType] = strawberry.field(description="Addenda about this member (section rule)")
    part2_withheld: bool = strawberry.field(
        description=PART2_WITHHELD.replace("its fields", "programName, attendance, minutes and status")
    )

    @classmethod
    def of(cls, e: HistoryEntry) -> MemberRecordEntry:
        return cls(
            session_id=_id(e.session_id),
            kind=e.kind,
            starts_at=e.starts_at,
            ends_at=e.ends_at,
            program_name=e.program_name,
            attendance=e.attendance,
            minutes_attended=e.minutes_attended,
            removed_at=e.removed_at,
            record_status=e.record_status,
            group_note=NotePart(
                content=_json(e.group_note),
                withheld=e.group_note_withheld,
                part2_withheld=e.group_note_part2_withheld,
            ),
            section=MemberNotePart(
                scope=Scope(e.section_scope) if e.section_scope and not e.section_part2_withheld else None,
                content=_json(e.section),
                withheld=e.section_withheld,
                part2_withheld=e.section_part2_withheld,
            ),
            addenda=[AddendumType.of(a) for a in e.addenda],
            part2_withheld=e.part2_withheld,
        )


@strawberry.type(name="UnsignedSession")
class UnsignedSessionType:
    session_id: strawberry.ID
    kind: SessionKindEnum  # type: ignore[valid-type]
    program_name: str | None
    starts_at: datetime
    roster_size: int
    status: RecordStatusEnum  # type: ignore[valid-type]

    @classmethod
    def of(cls, u: UnsignedSession) -> UnsignedSessionType:
        return cls(
            session_id=_id(u.session_id),
            kind=u.kind,
            program_name=u.program_name,
            starts_at=u.starts_at,
            roster_size=u.roster_size,
            status=u.status,
        )


@strawberry.type(name="AwaitingCosignature")
class AwaitingCosignatureType:
    session_id: strawberry.ID
    program_name: str | None
    starts_at: datetime
    trainee_id: strawberry.ID = strawberry.field(description="Pass to cosignSessionRecord(traineeId)")
    trainee_name: str
    signed_at: datetime
    status: RecordStatusEnum  # type: ignore[valid-type]

    @classmethod
    def of(cls, a: AwaitingCosign) -> AwaitingCosignatureType:
        return cls(
            session_id=_id(a.session_id),
            program_name=a.program_name,
            starts_at=a.starts_at,
            trainee_id=strawberry.ID(str(global_id("StaffMember", a.trainee_id))),
            trainee_name=a.trainee_name,
            signed_at=a.signed_at,
            status=a.status,
        )
