"""Signing a session record, co-signing a trainee, closing, and what may follow: addenda, removals.

Signing checks, in order: the signer may sign (sign-off rules); attendance is marked for the whole
roster; required template fields are filled (group note and every member section); goal progress
names the member's own active goals; no member section is a clone of another or of the member's
earlier ones (individuality check); no member section names another member. The first three are
field errors; the last two block the signature with an explanation. When the last required
signature lands, the record is final, and in the same transaction: open risk flags for moderate or
higher risk, one billable event per present member (the claim engine's input), session completed.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.corrections import MEMBER_REMOVED
from backend.billing.engine import SESSION_CLOSED
from backend.clients.models import Client
from backend.clients.store import give_back_uses
from backend.clinic.store import clinic_settings
from backend.database import utcnow
from backend.documentation.individuality import (
    IndividualityReport,
    SectionText,
    Thresholds,
    check_individuality,
    section_text,
)
from backend.documentation.models import (
    Addendum,
    BillableEvent,
    MemberSection,
    RecordSignature,
    RiskFlag,
    SupervisionNote,
)
from backend.documentation.names import MemberName, NameMention, find_member_names
from backend.documentation.note_content import goal_ids, missing_required, risk_level
from backend.documentation.presence import attended
from backend.documentation.signoff import (
    RecordStatus,
    addendum_problems,
    cosign_problems,
    record_status,
    removal_problems,
    return_problems,
    sign_problems,
    supervision_note_problems,
)
from backend.documentation.store import RecordState, load_state, section_scope
from backend.documentation.templates import RISK_ORDER, RiskLevel, Scope
from backend.errors import FieldProblem, InputRejected
from backend.programs.models import Program
from backend.scheduling.models import SessionStatus
from backend.staff.models import StaffMember
from backend.treatment.store import active_goal_ids
from backend.workers.outbox import add_message

#: Earlier sections of each member compared by the individuality check.
HISTORY_SECTIONS = 50
FLAGGED_RISK = RiskLevel.MODERATE


@dataclass
class SignOutcome:
    state: RecordState
    #: Similarities at or above the clinic's warn threshold (signing went ahead, or was blocked).
    report: IndividualityReport | None = None
    #: Other members' names typed into a member's section, to redact before signing.
    mentions: list[NameMention] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return bool(self.mentions) or (self.report is not None and self.report.blocked)


async def sign(
    session: AsyncSession, session_id: uuid.UUID, staff_id: uuid.UUID, *, trainee: bool
) -> SignOutcome:
    """Sign as `staff_id`; nothing is written when a check fails or the outcome is blocked."""
    state = await load_state(session, session_id, lock=True)
    problems = sign_problems(state.signers, state.signed, staff_id)
    if not problems:
        problems = await completeness_problems(session, state)
    if problems:
        raise InputRejected(problems)
    outcome = SignOutcome(state, await individuality(session, state), await name_mentions(session, state))
    if outcome.blocked:
        return outcome
    supervisor_id = await session.scalar(select(StaffMember.supervisor_id).where(StaffMember.id == staff_id))
    signature = RecordSignature(
        session_id=session_id,
        staff_id=staff_id,
        signed_at=utcnow(),
        requires_cosign=trainee,
        supervisor_id=supervisor_id if trainee else None,
    )
    session.add(signature)
    state.signatures.append(signature)
    await _settle(session, state)
    return outcome


async def cosign(
    session: AsyncSession,
    session_id: uuid.UUID,
    trainee_id: uuid.UUID,
    staff_id: uuid.UUID,
    *,
    can_cosign: bool,
) -> RecordState:
    """A supervisor co-signs a trainee's signature; the record is final once nothing else is owed."""
    state = await load_state(session, session_id, lock=True)
    problems = cosign_problems(state.signers, state.signed, trainee_id, staff_id, can_cosign)
    if problems:
        raise InputRejected(problems)
    signature = next(s for s in state.signatures if s.staff_id == trainee_id)
    signature.cosigned_by = staff_id
    signature.cosigned_at = utcnow()
    await _settle(session, state)
    return state


async def return_to_trainee(
    session: AsyncSession,
    session_id: uuid.UUID,
    trainee_id: uuid.UUID,
    staff_id: uuid.UUID,
    reason: str,
    *,
    can_cosign: bool,
) -> RecordState:
    """The supervisor sends a trainee's signed note back: the signature is withdrawn (the trainee edits
    and signs again) and the reason is kept as a supervision note."""
    state = await load_state(session, session_id, lock=True)
    problems = return_problems(state.signers, state.signed, trainee_id, staff_id, can_cosign)
    problems += supervision_note_problems(reason, is_supervisor=True, prefix="reason")
    if problems:
        raise InputRejected(problems)
    signature = next(s for s in state.signatures if s.staff_id == trainee_id)
    await session.delete(signature)
    state.signatures.remove(signature)
    session.add(SupervisionNote(id=uuid.uuid4(), session_id=session_id, author_id=staff_id, text=reason))
    await _settle(session, state)
    return state


async def _settle(session: AsyncSession, state: RecordState) -> None:
    status = record_status(state.signers, state.signed)
    state.record.status = status
    state.record.updated_at = utcnow()
    if status == RecordStatus.FINAL:
        await _close(session, state)
    await session.flush()


async def completeness_problems(session: AsyncSession, state: RecordState) -> list[FieldProblem]:
    """Attendance for everyone, required fields filled, goals the member's own (field errors)."""
    template = state.template
    problems = missing_required(template, Scope.GROUP, state.record.group_note, "groupNote")
    members = [a for a in state.roster if a.removed_at is None]
    goals = await active_goal_ids(session, [a.client_id for a in members])
    for attendee in members:
        path = f"members[{attendee.client_id}]"
        if attendee.attendance is None:
            problems.append(FieldProblem(f"{path}.attendance", "required", "attendance is not recorded"))
            continue
        section = state.sections.get(attendee.client_id)
        content = section.content if section is not None else {}
        problems += missing_required(template, section_scope(attendee), content, f"{path}.section")
        foreign = goal_ids(content) - goals.get(attendee.client_id, set())
        if foreign:
            problems.append(
                FieldProblem(
                    f"{path}.section", "unknown_goal", "names a goal not on the member's active plan"
                )
            )
    return problems


async def individuality(session: AsyncSession, state: RecordState) -> IndividualityReport:
    """This session's member sections against each other and each member's earlier ones."""
    settings = await clinic_settings(session)
    thresholds = Thresholds(warn=settings.note_similarity_warn, block=settings.note_similarity_block)
    present = [
        a.client_id
        for a in state.roster
        if a.removed_at is None and section_scope(a) == Scope.MEMBER and a.client_id in state.sections
    ]
    names = await _names(session, present)
    current = [
        SectionText(str(c), section_text(state.sections[c].content), names.get(c, ())) for c in present
    ]
    previous: dict[str, list[SectionText]] = defaultdict(list)
    for client_id, earlier_session, content in await earlier_sections(
        session, present, state.record.session_id
    ):
        previous[str(client_id)].append(
            SectionText(str(earlier_session), section_text(content), names.get(client_id, ()))
        )
    return check_individuality(current, previous, thresholds)


async def earlier_sections(
    session: AsyncSession, client_ids: list[uuid.UUID], session_id: uuid.UUID
) -> list[tuple[uuid.UUID, uuid.UUID, dict[str, object]]]:
    """Each member's most recent HISTORY_SECTIONS individual sections from other sessions."""
    if not client_ids:
        return []
    recent = func.row_number().over(
        partition_by=MemberSection.client_id, order_by=MemberSection.updated_at.desc()
    )
    ranked = (
        select(MemberSection.client_id, MemberSection.session_id, MemberSection.content, recent.label("n"))
        .where(
            MemberSection.client_id.in_(client_ids),
            MemberSection.session_id != session_id,
            MemberSection.scope == Scope.MEMBER,
        )
        .subquery()
    )
    rows = await session.execute(
        select(ranked.c.client_id, ranked.c.session_id, ranked.c.content).where(
            ranked.c.n <= HISTORY_SECTIONS
        )
    )
    return [(r.client_id, r.session_id, r.content) for r in rows]


async def name_mentions(session: AsyncSession, state: RecordState) -> list[NameMention]:
    """Another roster member's name in a member's section (it would land on that member's record)."""
    roster = [a.client_id for a in state.roster]
    names = await _names(session, roster)
    members = [MemberName(str(c), *names[c][:2]) for c in roster if c in names]
    mentions: list[NameMention] = []
    for client_id, section in state.sections.items():
        mentions += find_member_names(str(client_id), section_text(section.content), members)
    return mentions


async def _names(session: AsyncSession, client_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, ...]]:
    rows = await session.execute(
        select(Client.id, Client.first_name, Client.last_name).where(Client.id.in_(client_ids))
    )
    return {r.id: (r.first_name, r.last_name) for r in rows}


async def _close(session: AsyncSession, state: RecordState) -> None:
    """Final: lock, raise risk flags, write one billable event per present member, complete the session."""
    now = utcnow()
    gs = state.group_session
    state.record.finalized_at = now
    gs.status = SessionStatus.COMPLETED
    for client_id, section in state.sections.items():
        level = risk_level(section.content)
        if level is not None and RISK_ORDER.index(level) >= RISK_ORDER.index(FLAGGED_RISK):
            session.add(
                RiskFlag(id=uuid.uuid4(), client_id=client_id, session_id=gs.id, level=level, raised_at=now)
            )
    # The claim engine's work, in this transaction: no claim can be lost between documentation and billing.
    add_message(session, SESSION_CLOSED, {"session_id": gs.id})
    program = await session.get(Program, gs.program_id) if gs.program_id is not None else None
    settings = await clinic_settings(session)
    zone = ZoneInfo(program.timezone if program is not None else settings.timezone)
    starts_at, ends_at = state.span
    present = [a for a in state.roster if a.removed_at is None and a.attendance and attended(a.attendance)]
    if present:
        await session.execute(
            insert(BillableEvent)
            .values(
                [
                    {
                        "id": uuid.uuid4(),
                        "session_id": gs.id,
                        "client_id": a.client_id,
                        "enrollment_id": a.enrollment_id,
                        "program_id": gs.program_id,
                        "service_date": starts_at.astimezone(zone).date(),
                        "attendance": a.attendance,
                        "minutes_attended": a.minutes_attended or 0,
                        "session_minutes": int((ends_at - starts_at).total_seconds() // 60),
                        "present_count": len(present),
                        "telehealth": gs.telehealth,
                        "cpt": program.default_cpt if program is not None else None,
                        "created_at": now,
                    }
                    for a in present
                ]
            )
            .on_conflict_do_nothing(index_elements=["session_id", "client_id"])
        )


async def add_addendum(
    session: AsyncSession, session_id: uuid.UUID, author_id: uuid.UUID, client_id: uuid.UUID | None, text: str
) -> Addendum:
    state = await load_state(session, session_id, lock=True)
    problems = addendum_problems(state.record.status, text)
    if client_id is not None and client_id not in {a.client_id for a in state.roster}:
        problems.append(FieldProblem("clientId", "not_on_roster", "is not on this session's record"))
    if problems:
        raise InputRejected(problems)
    addendum = Addendum(
        id=uuid.uuid4(), session_id=session_id, client_id=client_id, author_id=author_id, text=text
    )
    session.add(addendum)
    await session.flush()
    return addendum


async def add_supervision_note(
    session: AsyncSession, session_id: uuid.UUID, author_id: uuid.UUID, text: str, *, is_supervisor: bool
) -> SupervisionNote:
    await load_state(session, session_id, lock=True)
    problems = supervision_note_problems(text, is_supervisor=is_supervisor)
    if problems:
        raise InputRejected(problems)
    note = SupervisionNote(id=uuid.uuid4(), session_id=session_id, author_id=author_id, text=text)
    session.add(note)
    await session.flush()
    return note


async def remove_member(
    session: AsyncSession,
    session_id: uuid.UUID,
    client_id: uuid.UUID,
    reason: str,
    now: datetime | None = None,
) -> RecordState:
    """Take a member off the record. Before it is final the roster row (and draft section) goes; on a final
    record it is an amendment to that member alone: marked removed with the reason, their unbilled event
    withdrawn, every other member's content untouched."""
    state = await load_state(session, session_id, lock=True)
    current = [str(a.client_id) for a in state.roster if a.removed_at is None]
    problems = removal_problems(current, str(client_id), state.record.status, reason)
    if problems:
        raise InputRejected(problems)
    attendee = state.on_roster(client_id)
    assert attendee is not None
    if state.record.status == RecordStatus.FINAL:
        attendee.removed_at = now or utcnow()
        attendee.removal_reason = reason
        # Billing withdraws the member's claim (deleted while unsent, voided once sent).
        add_message(session, MEMBER_REMOVED, {"session_id": session_id, "client_id": client_id})
        withdrawn = await session.scalars(
            delete(BillableEvent)
            .where(
                BillableEvent.session_id == session_id,
                BillableEvent.client_id == client_id,
                BillableEvent.consumed_at.is_(None),
            )
            .returning(BillableEvent.authorization_id)
        )
        # An IOP/PHP day not yet on its week's claim gives back the authorization day it used.
        for auth_id in [a for a in withdrawn if a is not None]:
            await session.execute(give_back_uses(auth_id))
    else:
        await session.delete(attendee)
        state.roster.remove(attendee)
        state.sections.pop(client_id, None)
    await session.flush()
    return state
