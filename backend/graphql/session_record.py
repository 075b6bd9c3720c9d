"""GraphQL: the group session record — read it, draft it, sign it, co-sign it, amend it.

Root rules (Casbin p) say who may touch records at all; each operation then checks the caller's
relationship to the session or member (Casbin p2, backend.documentation.access), and reads are
filtered in SQL by the same rules (backend.documentation.views).
"""

from __future__ import annotations

import uuid
from typing import Any

import strawberry
from sqlalchemy import Uuid, literal, select
from strawberry.scalars import JSON

from backend.authorization.roles import Role
from backend.compliance.part2.consents import Category
from backend.compliance.part2.segmentation import PART2_CONTENT
from backend.documentation import signing, store
from backend.documentation.access import Part, Viewer, allowed, relations_to
from backend.documentation.models import RiskFlag
from backend.documentation.views import read_record
from backend.graphql.access import allow
from backend.graphql.context import Context
from backend.graphql.errors import BadRequest, Forbidden, NotFound
from backend.graphql.record_viewer import scope_of, viewer_of
from backend.graphql.relay import parse_id, parse_optional_id
from backend.graphql.session_record_types import (
    AddAddendumResult,
    AddendumAdded,
    AddendumType,
    AddSupervisionNoteResult,
    IndividualityCheck,
    NameMentionType,
    ObservationSaved,
    ObservationType,
    RecordSaved,
    RecordSigned,
    ResolveRiskFlagResult,
    RiskFlagResolved,
    SaveObservationResult,
    SaveRecordResult,
    SessionRecordType,
    SigningBlocked,
    SignRecordResult,
    SupervisionNoteAdded,
    SupervisionNoteType,
)
from backend.graphql.transactions import Atomic, or_not_found
from backend.scheduling.models import GroupSession


async def _require(
    context: Context,
    viewer: Viewer,
    session_id: uuid.UUID,
    client_id: uuid.UUID | None,
    part: Part,
    action: str,
) -> None:
    """The caller may do `action` on that part of the session: a relationship Casbin allows, and in a
    Part 2 program's record (about the member, or with `client_id` None the group) what reading it
    needs under Part 2, whatever the action (the program, a consent, a grant)."""
    relations = await relations_to(context.session, viewer, session_id, client_id)
    if not allowed(viewer, part, action, relations):
        raise Forbidden(part.value, action)
    scope = await scope_of(context)
    member = literal(client_id, Uuid()) if client_id is not None else None
    if not await context.session.scalar(
        select(scope.cleared(Category.NOTES, literal(session_id, Uuid()), member))
    ):
        raise Forbidden(PART2_CONTENT, "read")


async def _related(
    context: Context, session_id: uuid.UUID, client_id: uuid.UUID | None, part: Part, action: str
) -> Viewer | None:
    """The caller, allowed `action` on that part of the session (else Forbidden); None: no such session."""
    if await context.session.get(GroupSession, session_id) is None:
        return None
    viewer = await viewer_of(context)
    await _require(context, viewer, session_id, client_id, part, action)
    return viewer


async def _staff(context: Context, viewer: Viewer) -> uuid.UUID:
    if viewer.staff_id is None:
        raise Forbidden("session_record", "document (no staff record for this user)")
    return viewer.staff_id


async def _record(context: Context, viewer: Viewer, session_id: uuid.UUID) -> SessionRecordType:
    view = await read_record(context.session, viewer, session_id)
    assert view is not None  # the caller was just allowed to write it
    return SessionRecordType.of(view)


def _content(value: JSON) -> dict[str, object]:
    if not isinstance(value, dict):
        raise BadRequest("content", "must be an object of field key -> value")
    return value


@strawberry.input
class SaveGroupNoteInput:
    session_id: strawberry.ID
    content: JSON


@strawberry.input
class SaveMemberSectionInput:
    session_id: strawberry.ID
    client_id: strawberry.ID
    content: JSON = strawberry.field(
        description="The individual section, or the absence note of an absent member"
    )


@strawberry.input
class SaveObservationInput:
    session_id: strawberry.ID
    client_id: strawberry.ID | None = strawberry.field(default=None, description="Null: about the group")
    text: str


@strawberry.input
class AddAddendumInput:
    session_id: strawberry.ID
    client_id: strawberry.ID | None = strawberry.field(default=None, description="Null: about the group")
    text: str


@strawberry.input
class AddSupervisionNoteInput:
    session_id: strawberry.ID
    text: str


@strawberry.input
class RemoveMemberInput:
    session_id: strawberry.ID
    client_id: strawberry.ID
    reason: str = strawberry.field(default="", description="Required once the record is final")


@strawberry.type
class SessionRecordQueries:
    @strawberry.field(permission_classes=[allow("session_record", "read")])
    async def session_record(
        self, info: strawberry.Info[Context, Any], session_id: strawberry.ID
    ) -> SessionRecordType | None:
        """The session's record as you may see it: null when the session shows you nothing."""
        context = info.context
        sid = parse_id(session_id, "sessionId", in_input=False)
        viewer = await viewer_of(context)
        view = await read_record(context.session, viewer, sid, scope=await scope_of(context))
        if view is None:
            return None
        context.audit("read", "session_record", str(sid))
        for member in view.members:
            if member.section is not None:
                context.audit("read", "member_section", str(sid), member.client_id)
        return SessionRecordType.of(view)

    @strawberry.field(permission_classes=[allow("session_record", "document")])
    async def individuality_check(
        self, info: strawberry.Info[Context, Any], session_id: strawberry.ID
    ) -> IndividualityCheck:
        """Preview of the check run at signing: member sections against each other and their earlier ones."""
        context = info.context
        sid = parse_id(session_id, "sessionId", in_input=False)
        viewer = await viewer_of(context)
        if await context.session.get(GroupSession, sid) is None:
            raise BadRequest("sessionId", "does not name a session in this clinic")
        await _require(context, viewer, sid, None, Part.GROUP_NOTE, "write")
        state = await store.load_state(context.session, sid)
        context.audit("read", "member_section", str(sid))
        return IndividualityCheck.of(await signing.individuality(context.session, state))


@strawberry.type
class SessionRecordMutations:
    @strawberry.mutation(permission_classes=[allow("session_record", "document")], extensions=[Atomic()])
    async def save_group_note(
        self, info: strawberry.Info[Context, Any], input: SaveGroupNoteInput
    ) -> SaveRecordResult:
        """Replace the group note (drafting: types checked, required fields only at signing)."""
        context = info.context
        sid = parse_id(input.session_id, "sessionId")
        viewer = await _related(context, sid, None, Part.GROUP_NOTE, "write")
        if viewer is None:
            return NotFound.of("sessionId")
        await store.save_group_note(
            context.session, sid, await _staff(context, viewer), _content(input.content)
        )
        context.audit("update", "group_note", str(sid))
        return RecordSaved(record=await _record(context, viewer, sid))

    @strawberry.mutation(permission_classes=[allow("session_record", "document")], extensions=[Atomic()])
    async def save_member_section(
        self, info: strawberry.Info[Context, Any], input: SaveMemberSectionInput
    ) -> SaveRecordResult:
        """Replace one member's section (an absent member's is the brief absence note)."""
        context = info.context
        sid = parse_id(input.session_id, "sessionId")
        client_id = parse_id(input.client_id, "clientId")
        viewer = await _related(context, sid, client_id, Part.MEMBER_SECTION, "write")
        if viewer is None:
            return NotFound.of("sessionId")
        staff_id = await _staff(context, viewer)
        await store.save_member_section(context.session, sid, client_id, staff_id, _content(input.content))
        context.audit("update", "member_section", str(sid), client_id)
        return RecordSaved(record=await _record(context, viewer, sid))

    @strawberry.mutation(permission_classes=[allow("session_record", "document")], extensions=[Atomic()])
    async def save_observation(
        self, info: strawberry.Info[Context, Any], input: SaveObservationInput
    ) -> SaveObservationResult:
        """Your own observations in the shared record (one per facilitator, about the group or a member)."""
        context = info.context
        sid = parse_id(input.session_id, "sessionId")
        client_id = parse_optional_id(input.client_id, "clientId")
        part = Part.MEMBER_SECTION if client_id else Part.GROUP_NOTE
        viewer = await _related(context, sid, client_id, part, "write")
        if viewer is None:
            return NotFound.of("sessionId")
        staff_id = await _staff(context, viewer)
        observation = await store.save_observation(context.session, sid, staff_id, client_id, input.text)
        context.audit("update", "observation", str(sid), client_id)
        return ObservationSaved(observation=ObservationType.of(observation))

    @strawberry.mutation(permission_classes=[allow("session_record", "document")], extensions=[Atomic()])
    async def sign_session_record(
        self, info: strawberry.Info[Context, Any], session_id: strawberry.ID
    ) -> SignRecordResult:
        """Sign as a facilitator; the last required signature (and co-signature) makes the record final."""
        context = info.context
        sid = parse_id(session_id, "sessionId")
        viewer = await _related(context, sid, None, Part.GROUP_NOTE, "write")
        if viewer is None:
            return NotFound.of("sessionId")
        trainee = Role.TRAINEE in viewer.roles
        outcome = await signing.sign(context.session, sid, await _staff(context, viewer), trainee=trainee)
        check = IndividualityCheck.of(outcome.report) if outcome.report else IndividualityCheck.empty()
        if outcome.blocked:
            cloned = outcome.report is not None and outcome.report.blocked
            reason = "sections are too alike" if cloned else "a section names another member"
            return SigningBlocked(
                field="sessionId",
                code="not_individualized" if cloned else "names_other_member",
                message=f"not signed: {reason}",
                individuality=check,
                name_mentions=[NameMentionType.of(m) for m in outcome.mentions],
            )
        context.audit("sign", "session_record", str(sid))
        return RecordSigned(record=await _record(context, viewer, sid), warnings=check)

    @strawberry.mutation(permission_classes=[allow("session_record", "cosign")], extensions=[Atomic()])
    async def cosign_session_record(
        self, info: strawberry.Info[Context, Any], session_id: strawberry.ID, trainee_id: strawberry.ID
    ) -> SignRecordResult:
        """A supervisor co-signs a trainee's signature (the trainee's named supervisor, or any supervisor
        when the trainee names none)."""
        context = info.context
        sid = parse_id(session_id, "sessionId")
        trainee = parse_id(trainee_id, "traineeId")
        if await context.session.get(GroupSession, sid) is None:
            return NotFound.of("sessionId")
        viewer = await viewer_of(context)
        staff_id = await _staff(context, viewer)
        result = await or_not_found(
            signing.cosign(
                context.session, sid, trainee, staff_id, can_cosign=Role.SUPERVISOR in viewer.roles
            )
        )
        if isinstance(result, NotFound):
            return result
        context.audit("cosign", "session_record", str(sid))
        return RecordSigned(record=await _record(context, viewer, sid), warnings=IndividualityCheck.empty())

    @strawberry.mutation(permission_classes=[allow("session_record", "cosign")], extensions=[Atomic()])
    async def return_session_record(
        self,
        info: strawberry.Info[Context, Any],
        session_id: strawberry.ID,
        trainee_id: strawberry.ID,
        reason: str,
    ) -> SaveRecordResult:
        """Send a trainee's signed note back for correction instead of co-signing (the reason is kept)."""
        context = info.context
        sid = parse_id(session_id, "sessionId")
        trainee = parse_id(trainee_id, "traineeId")
        if await context.session.get(GroupSession, sid) is None:
            return NotFound.of("sessionId")
        viewer = await viewer_of(context)
        staff_id = await _staff(context, viewer)
        can_cosign = Role.SUPERVISOR in viewer.roles
        await signing.return_to_trainee(
            context.session, sid, trainee, staff_id, reason, can_cosign=can_cosign
        )
        context.audit("return", "session_record", str(sid))
        return RecordSaved(record=await _record(context, viewer, sid))

    @strawberry.mutation(permission_classes=[allow("session_record", "document")], extensions=[Atomic()])
    async def add_record_addendum(
        self, info: strawberry.Info[Context, Any], input: AddAddendumInput
    ) -> AddAddendumResult:
        """A dated change to a final record, by its author (about a member or the group)."""
        context = info.context
        sid = parse_id(input.session_id, "sessionId")
        client_id = parse_optional_id(input.client_id, "clientId")
        part = Part.MEMBER_SECTION if client_id else Part.GROUP_NOTE
        viewer = await _related(context, sid, client_id, part, "write")
        if viewer is None:
            return NotFound.of("sessionId")
        addendum = await signing.add_addendum(
            context.session, sid, await _staff(context, viewer), client_id, input.text
        )
        context.audit("create", "addendum", str(addendum.id), client_id)
        return AddendumAdded(addendum=AddendumType.of(addendum))

    @strawberry.mutation(permission_classes=[allow("session_record", "supervise")], extensions=[Atomic()])
    async def add_supervision_note(
        self, info: strawberry.Info[Context, Any], input: AddSupervisionNoteInput
    ) -> AddSupervisionNoteResult:
        """A supervisor's note on a session they supervise (any time, before or after it is final)."""
        context = info.context
        sid = parse_id(input.session_id, "sessionId")
        viewer = await _related(context, sid, None, Part.GROUP_NOTE, "read")
        if viewer is None:
            return NotFound.of("sessionId")
        note = await signing.add_supervision_note(
            context.session, sid, await _staff(context, viewer), input.text, is_supervisor=True
        )
        context.audit("create", "supervision_note", str(note.id))
        return SupervisionNoteAdded(note=SupervisionNoteType.of(note))

    @strawberry.mutation(permission_classes=[allow("session_record", "document")], extensions=[Atomic()])
    async def resolve_risk_flag(
        self, info: strawberry.Info[Context, Any], flag_id: strawberry.ID
    ) -> ResolveRiskFlagResult:
        """Close an open risk flag after follow-up (clinicians who may read the member's section)."""
        context = info.context
        fid = parse_id(flag_id, "flagId")
        flag = await context.session.get(RiskFlag, fid)
        if flag is None:
            return NotFound.of("flagId")
        viewer = await viewer_of(context)
        await _require(context, viewer, flag.session_id, flag.client_id, Part.MEMBER_SECTION, "read")
        resolved = await store.resolve_risk_flag(context.session, fid, await _staff(context, viewer))
        context.audit("update", "risk_flag", str(fid), resolved.client_id)
        return RiskFlagResolved(flag_id=strawberry.ID(str(fid)), resolved_at=resolved.resolved_at)  # type: ignore[arg-type]

    @strawberry.mutation(permission_classes=[allow("session_record", "document")], extensions=[Atomic()])
    async def remove_member_from_record(
        self, info: strawberry.Info[Context, Any], input: RemoveMemberInput
    ) -> SaveRecordResult:
        """Take a member off this session's record; on a final record an amendment to that member alone."""
        context = info.context
        sid = parse_id(input.session_id, "sessionId")
        client_id = parse_id(input.client_id, "clientId")
        viewer = await _related(context, sid, None, Part.GROUP_NOTE, "write")
        if viewer is None:
            return NotFound.of("sessionId")
        await signing.remove_member(context.session, sid, client_id, input.reason)
        context.audit("delete", "session_attendee", str(sid), client_id)
        return RecordSaved(record=await _record(context, viewer, sid))
