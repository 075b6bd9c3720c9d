"""GraphQL types of the session record: members with attendance and sections, signers, results."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, cast

import strawberry
from strawberry.scalars import JSON

from backend.documentation.individuality import IndividualityReport
from backend.documentation.models import Addendum, MemberSection, Observation, SupervisionNote
from backend.documentation.names import NameMention
from backend.documentation.signoff import RecordStatus
from backend.documentation.templates import Scope
from backend.documentation.views import MemberView, RecordView, SignerView
from backend.enrollment.rules import Attendance
from backend.graphql.enrollment_types import AttendanceEnum
from backend.graphql.errors import InvalidInput, NotFound, UserError
from backend.graphql.note_templates import NoteScopeEnum, NoteTemplateType
from backend.graphql.scheduling_types import global_id
from backend.programs.models import Modality

RecordStatusEnum = strawberry.enum(RecordStatus, name="RecordStatus")
PART2_WITHHELD = (
    "True: 42 CFR Part 2 content (an SUD program's session) that no consent or break-the-glass grant of "
    "yours covers (reason no_consent)"
)


def _staff_id(value: uuid.UUID | None) -> strawberry.ID | None:
    return global_id("StaffMember", value)


@strawberry.type
class MemberSectionType:
    scope: NoteScopeEnum  # type: ignore[valid-type]
    content: JSON = strawberry.field(description="Field key -> value, as the record's template defines")
    updated_at: datetime
    updated_by: strawberry.ID | None

    @classmethod
    def of(cls, section: MemberSection) -> MemberSectionType:
        return cls(
            scope=Scope(section.scope),
            content=cast(JSON, dict(section.content)),
            updated_at=section.updated_at,
            updated_by=_staff_id(section.updated_by),
        )


@strawberry.type
class RecordMember:
    client_id: strawberry.ID
    first_name: str
    last_name: str
    drop_in: bool
    attendance: AttendanceEnum | None  # type: ignore[valid-type]
    arrived_at: datetime | None
    departed_at: datetime | None
    minutes_attended: int | None
    removed_at: datetime | None
    removal_reason: str | None
    section: MemberSectionType | None = strawberry.field(description="Null when none yet or withheld")
    section_withheld: bool = strawberry.field(
        description="True when a section may exist but your relationship to this member does not show it"
    )
    attendance_part2_withheld: bool = strawberry.field(
        description=PART2_WITHHELD + ": attendance, times, minutes and removal are null"
    )
    section_part2_withheld: bool = strawberry.field(description=PART2_WITHHELD + ": the section")

    @classmethod
    def of(cls, m: MemberView) -> RecordMember:
        return cls(
            client_id=strawberry.ID(str(m.client_id)),
            first_name=m.first_name,
            last_name=m.last_name,
            drop_in=m.drop_in,
            attendance=Attendance(m.attendance) if m.attendance else None,
            arrived_at=m.arrived_at,
            departed_at=m.departed_at,
            minutes_attended=m.minutes_attended,
            removed_at=m.removed_at,
            removal_reason=m.removal_reason,
            section=MemberSectionType.of(m.section) if m.section is not None else None,
            section_withheld=m.withheld,
            attendance_part2_withheld=m.attendance_part2_withheld,
            section_part2_withheld=m.section_part2_withheld,
        )


@strawberry.type
class RecordSigner:
    staff_id: strawberry.ID
    display_name: str
    role: str
    signed_at: datetime | None
    requires_cosign: bool
    cosigned_by: strawberry.ID | None
    cosigned_at: datetime | None

    @classmethod
    def of(cls, s: SignerView) -> RecordSigner:
        sig = s.signature
        return cls(
            staff_id=strawberry.ID(str(_staff_id(s.staff_id))),
            display_name=s.display_name,
            role=s.role,
            signed_at=sig.signed_at if sig else None,
            requires_cosign=bool(sig and sig.requires_cosign),
            cosigned_by=_staff_id(sig.cosigned_by) if sig else None,
            cosigned_at=sig.cosigned_at if sig else None,
        )


@strawberry.type
class ObservationType:
    id: strawberry.ID
    staff_id: strawberry.ID
    client_id: strawberry.ID | None
    text: str
    updated_at: datetime

    @classmethod
    def of(cls, o: Observation) -> ObservationType:
        return cls(
            id=strawberry.ID(str(o.id)),
            staff_id=strawberry.ID(str(_staff_id(o.staff_id))),
            client_id=strawberry.ID(str(o.client_id)) if o.client_id else None,
            text=o.text,
            updated_at=o.updated_at,
        )


@strawberry.type
class AddendumType:
    id: strawberry.ID
    author_id: strawberry.ID
    client_id: strawberry.ID | None
    text: str
    created_at: datetime

    @classmethod
    def of(cls, a: Addendum) -> AddendumType:
        return cls(
            id=strawberry.ID(str(a.id)),
            author_id=strawberry.ID(str(_staff_id(a.author_id))),
            client_id=strawberry.ID(str(a.client_id)) if a.client_id else None,
            text=a.text,
            created_at=a.created_at,
        )


@strawberry.type
class SupervisionNoteType:
    id: strawberry.ID
    author_id: strawberry.ID
    text: str
    created_at: datetime

    @classmethod
    def of(cls, n: SupervisionNote) -> SupervisionNoteType:
        return cls(
            id=strawberry.ID(str(n.id)),
            author_id=strawberry.ID(str(_staff_id(n.author_id))),
            text=n.text,
            created_at=n.created_at,
        )


@strawberry.type(name="SessionRecord")
class SessionRecordType:
    session_id: strawberry.ID
    kind: str
    program_id: strawberry.ID | None
    program_name: str | None
    scheduled_start: datetime
    scheduled_end: datetime
    started_at: datetime | None
    ended_at: datetime | None
    status: RecordStatusEnum  # type: ignore[valid-type]
    finalized_at: datetime | None
    template: NoteTemplateType
    group_note: JSON | None = strawberry.field(description="Null when withheld (see groupNoteWithheld)")
    group_note_withheld: bool
    group_note_part2_withheld: bool = strawberry.field(
        description=PART2_WITHHELD + ": the group note, its observations and supervision notes"
    )
    part2: bool = strawberry.field(
        description="The session belongs to a 42 CFR Part 2 program: its record is Part 2 content"
    )
    members: list[RecordMember]
    signers: list[RecordSigner]
    observations: list[ObservationType]
    addenda: list[AddendumType]
    supervision_notes: list[SupervisionNoteType]

    @classmethod
    def of(cls, view: RecordView) -> SessionRecordType:
        gs = view.group_session
        modality = view.program.modality if view.program else Modality.OTHER
        return cls(
            session_id=strawberry.ID(str(gs.id)),
            kind=gs.kind.value,
            program_id=global_id("Program", gs.program_id),
            program_name=view.program.name if view.program else None,
            scheduled_start=gs.starts_at,
            scheduled_end=gs.ends_at,
            started_at=view.started_at,
            ended_at=view.ended_at,
            status=view.status,
            finalized_at=view.finalized_at,
            template=NoteTemplateType.of(view.template, modality, is_default=False),
            group_note=cast(JSON, dict(view.group_note)) if view.group_note is not None else None,
            group_note_withheld=view.group_note_withheld,
            group_note_part2_withheld=view.group_note_part2_withheld,
            part2=bool(view.program and view.program.part2),
            members=[RecordMember.of(m) for m in view.members],
            signers=[RecordSigner.of(s) for s in view.signers],
            observations=[ObservationType.of(o) for o in view.observations],
            addenda=[AddendumType.of(a) for a in view.addenda],
            supervision_notes=[SupervisionNoteType.of(n) for n in view.supervision_notes],
        )


@strawberry.type
class SimilarityPair:
    """Two sections too alike: `second` is another member (kind session) or an earlier session (history)."""

    client_id: strawberry.ID
    compared_with: strawberry.ID
    kind: str
    score: float
    verdict: str
    shared: list[str] = strawberry.field(description="Passages both share (names masked)")


@strawberry.type
class IndividualityCheck:
    blocked: bool
    pairs: list[SimilarityPair]
    skipped_client_ids: list[strawberry.ID] = strawberry.field(description="Sections too short to compare")

    @classmethod
    def empty(cls) -> IndividualityCheck:
        return cls(blocked=False, pairs=[], skipped_client_ids=[])

    @classmethod
    def of(cls, report: IndividualityReport) -> IndividualityCheck:
        return cls(
            blocked=report.blocked,
            pairs=[
                SimilarityPair(
                    client_id=strawberry.ID(p.first),
                    compared_with=strawberry.ID(p.second),
                    kind=p.kind,
                    score=p.score,
                    verdict=p.verdict.value,
                    shared=list(p.shared),
                )
                for p in report.pairs
            ],
            skipped_client_ids=[strawberry.ID(k) for k in report.skipped],
        )


@strawberry.type
class NameMentionType:
    """Another member's name in a member's section: redact it before signing."""

    client_id: strawberry.ID = strawberry.field(description="Whose section")
    mentioned_client_id: strawberry.ID
    start: int
    end: int

    @classmethod
    def of(cls, m: NameMention) -> NameMentionType:
        return cls(
            client_id=strawberry.ID(m.section_key),
            mentioned_client_id=strawberry.ID(m.mentioned_key),
            start=m.start,
            end=m.end,
        )


@strawberry.type
class SigningBlocked(UserError):
    """Not signed: sections too alike (cloned notes) or naming another member; nothing was stored."""

    individuality: IndividualityCheck
    name_mentions: list[NameMentionType]


@strawberry.type
class RecordSaved:
    record: SessionRecordType


@strawberry.type
class RecordSigned:
    record: SessionRecordType
    warnings: IndividualityCheck = strawberry.field(description="Pairs at or above the warn threshold")


@strawberry.type
class ObservationSaved:
    observation: ObservationType


@strawberry.type
class AddendumAdded:
    addendum: AddendumType


@strawberry.type
class SupervisionNoteAdded:
    note: SupervisionNoteType


@strawberry.type
class RiskFlagResolved:
    flag_id: strawberry.ID
    resolved_at: datetime


ResolveRiskFlagResult = Annotated[
    RiskFlagResolved | InvalidInput | NotFound, strawberry.union("ResolveRiskFlagResult")
]
SaveRecordResult = Annotated[RecordSaved | InvalidInput | NotFound, strawberry.union("SaveRecordResult")]
SignRecordResult = Annotated[
    RecordSigned | SigningBlocked | InvalidInput | NotFound, strawberry.union("SignRecordResult")
]
SaveObservationResult = Annotated[
    ObservationSaved | InvalidInput | NotFound, strawberry.union("SaveObservationResult")
]
AddAddendumResult = Annotated[AddendumAdded | InvalidInput | NotFound, strawberry.union("AddAddendumResult")]
AddSupervisionNoteResult = Annotated[
    SupervisionNoteAdded | InvalidInput | NotFound, strawberry.union("AddSupervisionNoteResult")
]
