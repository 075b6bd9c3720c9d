"""Sending a member's record to another provider: load what the exporting user may read, segment Part 2
by the member's consents (disclosures.fhir_export), record the disclosures, in one transaction.

The record is read through the documentation read model with the exporting user as viewer, so an
export never carries a note the user could not open in the app.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.authorization.enforcer import get_authorizer
from backend.billing.models import Payer
from backend.clients.models import Client
from backend.clients.store import current_diagnoses
from backend.compliance.disclosures.export_plan import (
    ExportDiagnosis,
    ExportPatient,
    ExportPlan,
    ExportSession,
    MemberRecord,
    plan_export,
    release_description,
)
from backend.compliance.disclosures.fhir_export import build_bundle
from backend.compliance.disclosures.rules import (
    Channel,
    DisclosedTo,
    NewDisclosure,
    Notice,
    consent_recipient,
    consent_scope,
)
from backend.compliance.disclosures.store import record_disclosure
from backend.compliance.part2.access import diagnosis_relations_to, part2_allowed
from backend.compliance.part2.consent_store import load_consents
from backend.compliance.part2.consents import Purpose
from backend.documentation.access import Viewer
from backend.documentation.member_record import HistoryEntry, Position, member_history
from backend.documentation.signoff import RecordStatus
from backend.enrollment.rules import Attendance
from backend.programs.models import Program
from backend.scheduling.models import GroupSession
from backend.staff.models import StaffMember

#: Attendance marks that make a session part of the member's record as an encounter.
ATTENDED = frozenset({Attendance.PRESENT, Attendance.LATE, Attendance.LEFT_EARLY})
_PAGE = 200


@dataclass(frozen=True)
class ExportRecipient:
    kind: DisclosedTo
    id: uuid.UUID | None
    name: str


@dataclass(frozen=True)
class ExportResult:
    bundle: str
    plan: ExportPlan
    disclosure_ids: tuple[uuid.UUID, ...]
    #: Sessions whose notes went out (for the audit trail of section reads).
    note_sessions: tuple[uuid.UUID, ...]


async def resolve_recipient(
    session: AsyncSession, kind: DisclosedTo, recipient_id: uuid.UUID | None, name: str | None
) -> ExportRecipient | None:
    """The recipient with its name as this clinic knows it; None when the id names nothing here."""
    if kind is DisclosedTo.PROVIDER:
        return ExportRecipient(kind, None, (name or "").strip())
    if recipient_id is None:
        return None
    label: str | None
    if kind is DisclosedTo.PERSON:
        label = await session.scalar(select(StaffMember.display_name).where(StaffMember.id == recipient_id))
    else:
        model = Program if kind is DisclosedTo.PROGRAM else Payer
        label = await session.scalar(select(model.name).where(model.id == recipient_id))
    if label is None:
        return None
    return ExportRecipient(kind, recipient_id, label)


async def export_member_record(
    session: AsyncSession,
    viewer: Viewer,
    user_id: uuid.UUID,
    client: Client,
    recipient: ExportRecipient,
    purpose: Purpose,
    clinic_name: str,
    at: datetime,
) -> ExportResult:
    """Build the Bundle and record one disclosure per consent that released Part 2 content."""
    record = await load_member_record(session, viewer, client, at)
    consents = await load_consents(session, [client.id])
    plan = plan_export(
        record, consents, consent_recipient(recipient.kind, recipient.id, recipient.name), purpose, at
    )
    bundle = build_bundle(record, plan, clinic_name, at)
    disclosure_ids = []
    for release in plan.part2:
        # 42 CFR 2.32: the full notice and the consent's scope went with the Bundle; the record says so.
        new = NewDisclosure(
            client_id=client.id,
            recipient_kind=recipient.kind,
            recipient_id=recipient.id,
            recipient_name=recipient.name,
            purpose=purpose,
            categories=release.categories,
            description=release_description(release),
            consent_id=release.consent.id,
            channel=Channel.FHIR_EXPORT,
            disclosed_by=user_id,
            notice=Notice.FULL,
            consent_scope=consent_scope(release.consent),
        )
        disclosure_ids.append(await record_disclosure(session, new, at))
    return ExportResult(bundle, plan, tuple(disclosure_ids), tuple(s.session_id for s in plan.notes))


async def load_member_record(
    session: AsyncSession, viewer: Viewer, client: Client, at: datetime
) -> MemberRecord:
    """The member's demographics, diagnoses and attended sessions, as `viewer` may read them: the read
    model applies the session record's rules and Part 2 (backend.compliance.part2.access) in its SQL."""
    readable = get_authorizer().allowed(viewer.roles, "diagnosis", "read")
    diagnoses = (await current_diagnoses(session, [client.id])).get(client.id, []) if readable else []
    sud = await diagnosis_relations_to(session, viewer, client.id, at)
    entries = await _history(session, viewer, client.id, at)
    part2 = await _part2_sessions(session, [e.session_id for e in entries])
    patient = ExportPatient(client.id, client.first_name, client.last_name, client.date_of_birth, client.sex)
    return MemberRecord(
        patient=patient,
        diagnoses=tuple(ExportDiagnosis(d.code, d.is_primary, d.noted_on) for d in diagnoses),
        diagnoses_readable=readable,
        sessions=tuple(_session(e, e.session_id in part2) for e in entries),
        sud_part2=sud is not None,
        sud_readable=part2_allowed(viewer, sud),
    )


async def _history(
    session: AsyncSession, viewer: Viewer, client_id: uuid.UUID, at: datetime
) -> list[HistoryEntry]:
    """Sessions the member attended, and Part 2 sessions whose attendance the viewer may not see (the
    export lists those as withheld rather than dropping them silently)."""
    entries: list[HistoryEntry] = []
    after: Position | None = None
    while True:
        page = await member_history(session, viewer, client_id, at, after, _PAGE)
        entries += [
            e for e in page if e.part2_withheld or (e.attendance in ATTENDED and e.removed_at is None)
        ]
        if len(page) < _PAGE:
            return entries
        after = (page[-1].starts_at, page[-1].session_id)


async def _part2_sessions(session: AsyncSession, session_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """The sessions run by a Part 2 (SUD) program."""
    if not session_ids:
        return set()
    rows = await session.scalars(
        select(GroupSession.id)
        .join(Program, Program.id == GroupSession.program_id)
        .where(GroupSession.id.in_(session_ids), Program.part2.is_(True))
    )
    return set(rows)


def _session(entry: HistoryEntry, part2: bool) -> ExportSession:
    has_record = entry.record_status is not None or entry.part2_withheld
    return ExportSession(
        session_id=entry.session_id,
        starts_at=entry.starts_at,
        ends_at=entry.ends_at,
        program_name=entry.program_name,
        part2=part2,
        minutes_attended=entry.minutes_attended,
        final=entry.record_status == RecordStatus.FINAL,
        group_note=entry.group_note or None,
        section=entry.section or None,
        note_withheld=has_record and (entry.group_note_withheld or entry.section_withheld),
        addenda=tuple((a.created_at, a.text) for a in entry.addenda),
        attendance_readable=not entry.part2_withheld,
    )
