"""Eligibility checks as worker jobs: a 270 per member through the clearinghouse, and what a 271 changes.

When: before a member joins a group (enrollment queues a check), on a schedule (`request_due_checks`,
every 30 days by default for each active member), and on request (GraphQL `checkEligibility`).

`request_check` only adds an outbox row (no I/O, so it works in the API's async session and a worker's
sync one); the check's id is chosen then, so the caller can answer with it. The handler records the
`EligibilityCheck` under that id and sends the 270 (service type MH and procedure 90853; its trace number
is a random id, no PHI). A check that cannot be sent is recorded as `unknown` with the reason (no payer
configured, no billing provider, a member id the 270 cannot carry), never lost. A member without any
primary coverage is self-pay: nothing to ask, nothing recorded.

The 271 (`submission.process_responses`) updates the check; `apply_result` then acts on it: coverage
inactive (EB*6, mental health not covered, no visits left) puts each ACTIVE enrollment of the member on
administrative hold, with an enrollment event, so the member stays on the roster but is not billed
until staff resolve it. A later answer saying "active" does not lift the hold: returning to active needs
the capacity check of the enrollment module, which is a person's decision.
"""

from __future__ import annotations

import enum
import logging
import secrets
import string
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from backend.billing.eligibility import (
    EligibilityOutcome,
    EligibilityRequest,
    Envelope,
    request_problems,
    write_270,
)
from backend.billing.models import EligibilityCheck, Payer
from backend.billing.setup_store import default_provider
from backend.clients.models import Client, ClientCoverage, current_primary
from backend.clinic.models import ClinicSettings
from backend.database import utcnow
from backend.enrollment.models import Enrollment, EnrollmentStatus
from backend.programs.models import Program
from backend.settings import get_settings
from backend.tenants.routing import session_schema
from backend.workers.outbox import OutboxMessage, Payload, PermanentFailure, add_message, handler

log = logging.getLogger(__name__)

CHECK_ELIGIBILITY = "billing.check_eligibility"
HOLD_REASON = "coverage inactive (eligibility check)"
SERVICE_TYPES = ("MH",)  # X12 service type: mental health
PROCEDURE = "90853"  # group psychotherapy, for payers answering per procedure
RECEIVER_ID = "CLEARINGHOUSE"  # as on our 837 batches (backend.billing.submission)
TRACE_ALPHABET = string.ascii_uppercase + string.digits
TRACE_LENGTH = 15


class CheckReason(enum.StrEnum):
    ENROLLMENT = "enrollment"  # before the member joins a group
    SCHEDULE = "schedule"  # the periodic re-check
    REQUESTED = "requested"  # staff asked (GraphQL checkEligibility)
    COVERAGE = "coverage"  # a primary coverage with another payer was entered (GraphQL setCoverage)


# Outbox payloads carry ids, integers and booleans only (no free text): the reason travels as a code.
REASON_CODES = {
    CheckReason.ENROLLMENT: 1,
    CheckReason.SCHEDULE: 2,
    CheckReason.REQUESTED: 3,
    CheckReason.COVERAGE: 4,
}
REASONS_BY_CODE = {code: reason for reason, code in REASON_CODES.items()}


class InvalidEligibilityPayload(PermanentFailure):
    """The outbox row does not name a check and a client."""


def request_check(session: Session | AsyncSession, client_id: uuid.UUID, reason: CheckReason) -> uuid.UUID:
    """Queue an eligibility check for the member in the caller's transaction; returns the check's id."""
    check_id = uuid.uuid4()
    add_message(
        session,
        CHECK_ELIGIBILITY,
        {"check_id": check_id, "client_id": client_id, "reason": REASON_CODES[reason]},
    )
    return check_id


def trace_number() -> str:
    """TRN02 of the 270, echoed in the 271: random letters and digits, nothing about the member."""
    return "".join(secrets.choice(TRACE_ALPHABET) for _ in range(TRACE_LENGTH))


def _payload_id(payload: Payload, key: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(payload[key]))
    except (KeyError, ValueError):
        raise InvalidEligibilityPayload(f"{key} missing or invalid") from None


@handler(CHECK_ELIGIBILITY)
def on_check_eligibility(session: Session, payload: Payload) -> None:
    """Record the check and send its 270; a check that cannot be sent is recorded `unknown` with why."""
    check_id = _payload_id(payload, "check_id")
    client_id = _payload_id(payload, "client_id")
    code = payload.get("reason")
    reason = REASONS_BY_CODE.get(code) if isinstance(code, int) else None
    if session.get(EligibilityCheck, check_id) is not None:
        return  # recorded by an earlier delivery
    client = session.get(Client, client_id)
    coverage = primary_coverage(session, client_id)
    if client is None or coverage is None:
        log.info("eligibility check %s: no member or no primary coverage, nothing to ask", check_id)
        return
    check = EligibilityCheck(
        id=check_id, client_id=client_id, coverage_id=coverage.id, status="pending", requested_at=utcnow()
    )
    session.add(check)
    payer = session.get(Payer, coverage.payer_id) if coverage.payer_id else None
    provider = default_provider(session)
    if payer is None:
        _not_sent(session, check, "no payer configured")
        return
    if provider is None:
        _not_sent(session, check, "no billing provider configured")
        return
    request = EligibilityRequest(
        envelope=Envelope(
            sender_id=provider.tax_id,
            receiver_id=RECEIVER_ID,
            control_number=0,  # taken below, only for a 270 that is sent
            created_at=check.requested_at,
            usage=get_settings().x12_usage,
        ),
        payer_name=payer.name,
        payer_id=payer.payer_code,
        provider_name=provider.name,
        provider_npi=provider.npi,
        member_id=coverage.member_id,
        last_name=client.last_name,
        first_name=client.first_name,
        birth_date=client.date_of_birth,
        service_date=_clinic_today(session),
        trace_number=trace_number(),
        originator_id="1" + provider.tax_id,  # TRN03: "1" and the provider's EIN
        service_types=SERVICE_TYPES,
        procedure_code=PROCEDURE,
    )
    problems = request_problems(request)
    if problems:
        # Field names and codes only: the values (member id, names) are PHI.
        _not_sent(session, check, *(f"270 not sent: {p.field} {p.code}" for p in problems))
        return
    # Imported here: backend.billing.submission applies 271s with `apply_result` (it imports this module).
    from backend.billing.submission import clearinghouse_for, next_control_number

    control = next_control_number(session)
    text = write_270(replace(request, envelope=replace(request.envelope, control_number=control)))
    check.submission_id = request.trace_number
    session.flush()  # a database failure stops the job before anything leaves
    clearinghouse_for(session_schema(session)).check_eligibility(text)
    log.info("eligibility check %s sent (%s)", check_id, reason.value if reason else "unknown reason")


def _not_sent(session: Session, check: EligibilityCheck, *messages: str) -> None:
    check.status = EligibilityOutcome.UNKNOWN.value
    check.messages = list(messages)
    check.responded_at = utcnow()
    session.flush()
    log.warning("eligibility check %s not sent: %s", check.id, "; ".join(messages))


def primary_coverage(session: Session, client_id: uuid.UUID) -> ClientCoverage | None:
    return session.scalar(
        select(ClientCoverage).where(ClientCoverage.client_id == client_id, current_primary())
    )


def _clinic_today(session: Session) -> date:
    return datetime.now(ZoneInfo(session.get_one(ClinicSettings, 1).timezone)).date()


def apply_result(session: Session, check: EligibilityCheck) -> list[uuid.UUID]:
    """After a 271 updated `check`: coverage inactive puts the member's active enrollments on
    administrative hold (with an enrollment event each). Returns the enrollments held.

    An answer older than one already applied for the member changes nothing (271s can arrive out of
    order); applying the same answer twice holds nobody twice (only ACTIVE enrollments are changed).
    """
    if check.status != EligibilityOutcome.INACTIVE.value:
        return []
    coverage = session.get(ClientCoverage, check.coverage_id)
    if coverage is None or coverage.ended_at is not None:
        return []  # about a coverage since replaced by another payer's: says nothing of the current one
    newer = session.scalar(
        select(EligibilityCheck.id)
        .where(
            EligibilityCheck.client_id == check.client_id,
            EligibilityCheck.id != check.id,
            EligibilityCheck.status != "pending",
            EligibilityCheck.requested_at > check.requested_at,
        )
        .limit(1)
    )
    if newer is not None:
        return []
    # Imported here: backend.enrollment.store queues a check on enrolling (it imports this module).
    from backend.enrollment.store import change_status_sync

    held = []
    rows = session.execute(
        select(Enrollment.id, Enrollment.starts_on, Enrollment.ends_on, Program.timezone)
        .join(Program, Program.id == Enrollment.program_id)
        .where(Enrollment.client_id == check.client_id, Enrollment.status == EnrollmentStatus.ACTIVE)
        .order_by(Enrollment.starts_on, Enrollment.id)
    ).all()
    for enrollment_id, starts_on, ends_on, timezone in rows:
        # A member enrolled to start later is held from their first day.
        effective_on = max(datetime.now(ZoneInfo(timezone)).date(), starts_on)
        if ends_on is not None and ends_on < effective_on:
            continue  # the enrollment is over; nothing left to hold
        change_status_sync(
            session,
            enrollment_id=enrollment_id,
            to=EnrollmentStatus.ON_HOLD_ADMINISTRATIVE,
            effective_on=effective_on,
            reason=HOLD_REASON,
            actor_user_id=None,
        )
        held.append(enrollment_id)
    if held:
        log.info("eligibility check %s: %d enrollment(s) put on administrative hold", check.id, len(held))
    return held


def request_due_checks(session: Session, today: date, every_days: int = 30) -> list[uuid.UUID]:
    """Queue a check for each active member with a primary coverage whose last check (sent, answered or
    still queued) is more than `every_days` days old, or who was never checked. Returns the clients.

    A check requested at any time on the day `every_days` days ago is still recent; a check queued but not
    yet run counts as recent too, so running the schedule twice queues nothing twice.
    """
    cutoff = datetime.combine(today - timedelta(days=every_days), time.min, tzinfo=UTC)
    covered = exists().where(ClientCoverage.client_id == Enrollment.client_id, current_primary())
    # Recent for the current coverage: a payer change is checked at once, not after the old one's cutoff.
    recent = exists().where(
        EligibilityCheck.coverage_id == ClientCoverage.id,
        ClientCoverage.client_id == Enrollment.client_id,
        current_primary(),
        EligibilityCheck.requested_at >= cutoff,
    )
    queued = exists().where(
        OutboxMessage.kind == CHECK_ELIGIBILITY,
        OutboxMessage.processed_at.is_(None),
        OutboxMessage.failed_at.is_(None),
        OutboxMessage.payload["client_id"].astext == cast(Enrollment.client_id, String),
    )
    due = list(
        session.scalars(
            select(Enrollment.client_id)
            .where(
                Enrollment.status == EnrollmentStatus.ACTIVE,
                or_(Enrollment.ends_on.is_(None), Enrollment.ends_on >= today),
                covered,
                ~recent,
                ~queued,
            )
            .distinct()
            .order_by(Enrollment.client_id)
        )
    )
    for client_id in due:
        request_check(session, client_id, CheckReason.SCHEDULE)
    return due
