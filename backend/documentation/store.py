"""Loading and drafting a session record: the group note, member sections, observations.

Every write locks the record row first (`FOR UPDATE`), so two facilitators saving at once, or a
save racing a signature, are serialized and the sign-off rules see the state they change.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.database import utcnow
from backend.documentation.models import MemberSection, Observation, RecordSignature, RiskFlag, SessionRecord
from backend.documentation.note_content import content_problems
from backend.documentation.presence import attended, session_span
from backend.documentation.signoff import RecordStatus, Signature, Signer, edit_problems
from backend.documentation.template_store import template_for
from backend.documentation.templates import NoteTemplate, Scope, template_as_json, template_from_json
from backend.enrollment.models import SessionAttendee
from backend.errors import FieldProblem, InputRejected
from backend.programs.models import Modality, Program
from backend.scheduling.models import GroupSession, SessionFacilitator, SessionStatus

MAX_OBSERVATION = 20_000


@dataclass
class RecordState:
    """A record with what the sign-off rules read: session, signers, signatures, roster, sections."""

    group_session: GroupSession
    record: SessionRecord
    facilitators: list[SessionFacilitator]
    signatures: list[RecordSignature]
    roster: list[SessionAttendee]
    sections: dict[uuid.UUID, MemberSection]

    @property
    def template(self) -> NoteTemplate:
        return template_from_json(self.record.template)

    @property
    def span(self) -> tuple[datetime, datetime]:
        gs = self.group_session
        return session_span(self.record.started_at, self.record.ended_at, gs.starts_at, gs.ends_at)

    @property
    def signers(self) -> list[Signer]:
        signed = {s.staff_id: s for s in self.signatures}
        return [
            Signer(
                f.staff_id,
                is_trainee=f.staff_id in signed and signed[f.staff_id].requires_cosign,
                supervisor_id=signed[f.staff_id].supervisor_id if f.staff_id in signed else None,
            )
            for f in self.facilitators
        ]

    @property
    def signed(self) -> list[Signature]:
        return [Signature(s.staff_id, s.signed_at, s.cosigned_by, s.cosigned_at) for s in self.signatures]

    def on_roster(self, client_id: uuid.UUID) -> SessionAttendee | None:
        return next((a for a in self.roster if a.client_id == client_id and a.removed_at is None), None)


def not_found(field: str = "sessionId") -> InputRejected:
    return InputRejected([FieldProblem(field, "not_found", "does not name a session in this clinic")])


async def load_state(session: AsyncSession, session_id: uuid.UUID, *, lock: bool = False) -> RecordState:
    """The session's record, opened from the program's template on first use (InputRejected if none)."""
    group_session = await session.get(GroupSession, session_id)
    if group_session is None:
        raise not_found()
    record = await _record(session, session_id, lock)
    if record is None:
        modality = Modality.OTHER.value
        if group_session.program_id is not None:
            program = await session.get_one(Program, group_session.program_id)
            modality = program.modality.value
        template = await template_for(session, modality)
        await session.execute(
            insert(SessionRecord)
            .values(
                session_id=session_id,
                template=template_as_json(template),
                group_note={},
                status=RecordStatus.DRAFT,
                created_at=utcnow(),
                updated_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["session_id"])
        )
        record = await _record(session, session_id, lock)
        assert record is not None
    facilitators = list(
        await session.scalars(
            select(SessionFacilitator)
            .where(SessionFacilitator.session_id == session_id)
            .order_by(SessionFacilitator.role, SessionFacilitator.staff_id)
        )
    )
    signatures = list(
        await session.scalars(
            select(RecordSignature)
            .where(RecordSignature.session_id == session_id)
            .execution_options(populate_existing=True)
        )
    )
    roster = list(
        await session.scalars(
            select(SessionAttendee)
            .where(SessionAttendee.session_id == session_id)
            .execution_options(populate_existing=True)
        )
    )
    sections = {
        s.client_id: s
        for s in await session.scalars(
            select(MemberSection)
            .where(MemberSection.session_id == session_id)
            .execution_options(populate_existing=True)
        )
    }
    return RecordState(group_session, record, facilitators, signatures, roster, sections)


async def _record(session: AsyncSession, session_id: uuid.UUID, lock: bool) -> SessionRecord | None:
    stmt = select(SessionRecord).where(SessionRecord.session_id == session_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt.execution_options(populate_existing=True))).one_or_none()


def _editable(state: RecordState, staff_id: uuid.UUID, *, shared: bool) -> None:
    if state.group_session.status == SessionStatus.CANCELLED:
        raise InputRejected([FieldProblem("sessionId", "session_cancelled", "the session was cancelled")])
    problems = edit_problems(state.record.status, state.signed, staff_id, shared=shared)
    if problems:
        raise InputRejected(problems)


async def save_group_note(
    session: AsyncSession, session_id: uuid.UUID, staff_id: uuid.UUID, content: dict[str, object]
) -> RecordState:
    """Replace the draft group note (types checked now; required fields at signing)."""
    state = await load_state(session, session_id, lock=True)
    _editable(state, staff_id, shared=True)
    problems = content_problems(state.template, Scope.GROUP, content, "content")
    if problems:
        raise InputRejected(problems)
    state.record.group_note = content
    state.record.updated_at = utcnow()
    await session.flush()
    return state


async def save_member_section(
    session: AsyncSession,
    session_id: uuid.UUID,
    client_id: uuid.UUID,
    staff_id: uuid.UUID,
    content: dict[str, object],
) -> MemberSection:
    """Replace a roster member's draft section (an absent member's is the absence note)."""
    state = await load_state(session, session_id, lock=True)
    _editable(state, staff_id, shared=True)
    attendee = state.on_roster(client_id)
    if attendee is None:
        raise InputRejected([FieldProblem("clientId", "not_on_roster", "is not on this session's roster")])
    scope = section_scope(attendee)
    problems = content_problems(state.template, scope, content, "content")
    if problems:
        raise InputRejected(problems)
    section = state.sections.get(client_id)
    if section is None:
        section = MemberSection(session_id=session_id, client_id=client_id)
        session.add(section)
    section.scope = scope
    section.content = content
    section.name_flags = []
    section.updated_by = staff_id
    section.updated_at = utcnow()
    state.record.updated_at = utcnow()
    await session.flush()
    return section


def section_scope(attendee: SessionAttendee) -> Scope:
    """An absent member's section is the brief absence note; a present or unmarked one's the full one."""
    if attendee.attendance is not None and not attended(attendee.attendance):
        return Scope.ABSENCE
    return Scope.MEMBER


async def save_observation(
    session: AsyncSession,
    session_id: uuid.UUID,
    staff_id: uuid.UUID,
    client_id: uuid.UUID | None,
    text: str,
) -> Observation:
    """A facilitator's own observations (about the group, or one member): theirs alone to edit."""
    state = await load_state(session, session_id, lock=True)
    _editable(state, staff_id, shared=False)
    problems: list[FieldProblem] = []
    if staff_id not in {f.staff_id for f in state.facilitators}:
        problems.append(FieldProblem("sessionId", "not_a_facilitator", "only facilitators add observations"))
    if client_id is not None and state.on_roster(client_id) is None:
        problems.append(FieldProblem("clientId", "not_on_roster", "is not on this session's roster"))
    if len(text) > MAX_OBSERVATION:
        problems.append(FieldProblem("text", "too_long", f"must be at most {MAX_OBSERVATION} characters"))
    if problems:
        raise InputRejected(problems)
    stmt = (
        insert(Observation)
        .values(
            id=uuid.uuid4(),
            session_id=session_id,
            staff_id=staff_id,
            client_id=client_id,
            text=text,
            updated_at=utcnow(),
        )
        .on_conflict_do_update(
            index_elements=["session_id", "staff_id", "client_id"],
            set_={"text": text, "updated_at": utcnow()},
        )
        .returning(Observation)
    )
    return (await session.scalars(stmt, execution_options={"populate_existing": True})).one()


async def resolve_risk_flag(session: AsyncSession, flag_id: uuid.UUID, staff_id: uuid.UUID) -> RiskFlag:
    """Close an open risk flag (the clinician has followed up); who and when are kept."""
    flag = await session.get(RiskFlag, flag_id, with_for_update=True)
    if flag is None:
        raise InputRejected([FieldProblem("flagId", "not_found", "does not name a risk flag in this clinic")])
    if flag.resolved_at is not None:
        raise InputRejected([FieldProblem("flagId", "already_resolved", "the flag is already resolved")])
    flag.resolved_at = utcnow()
    flag.resolved_by = staff_id
    await session.flush()
    return flag
