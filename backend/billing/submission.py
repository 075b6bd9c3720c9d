"""Sending claims to the clearinghouse and reading what comes back (worker jobs, sync sessions).

`submit_ready_claims` writes one 837 batch per payer from the READY claims (each checked by the
writer and by pyx12 before it leaves: a batch that fails is not sent and its claims stay READY with
the problem logged by code); `process_responses` reads 999 / 277CA / 835 / 271 files from the
clearinghouse and updates batches, claims, payments and eligibility checks, each file once.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from backend.billing import claims as doc
from backend.billing.clearinghouse import (
    ClaimAckStatus,
    Clearinghouse,
    FileDropClearinghouse,
    Response,
    ResponseKind,
    parse_277ca,
    parse_999,
)
from backend.billing.corrections import follow_primary_answers, give_back_authorization
from backend.billing.decisions import NO_PART2_CONSENT
from backend.billing.documents import claim_from_document, institutional_from_document
from backend.billing.eligibility import eligibility_outcome, parse_271
from backend.billing.eligibility_checks import apply_result
from backend.billing.models import (
    SECONDARY,
    BillingDecision,
    BillingProvider,
    Claim,
    ClaimBatch,
    ClaimFormat,
    ClaimPayment,
    ClaimStatus,
    ControlNumber,
    EligibilityCheck,
    Payer,
    Remittance,
)
from backend.billing.part2_payment import part2_of, payment_consent
from backend.billing.remittance import LinePayment, Outcome, parse_835
from backend.billing.secondary_claims import after_remittance, held_for_primary
from backend.billing.setup_store import default_provider
from backend.billing.x12.checks import ClaimRejected
from backend.billing.x12.claim_837i import write_837i
from backend.billing.x12.claim_837p import write_837p
from backend.billing.x12.validation import pyx12_errors
from backend.compliance.disclosures.rules import Channel, DisclosedTo, NewDisclosure, Notice
from backend.compliance.disclosures.store import record_disclosures_sync
from backend.compliance.part2.consent_store import load_consents_sync
from backend.compliance.part2.consents import ConsentTerms, Purpose
from backend.database import utcnow
from backend.settings import get_settings

log = logging.getLogger(__name__)
RECEIVER_ID = "CLEARINGHOUSE"
#: Claims per 837 file: a backlog goes out in several files (the writer refuses more than 5,000, and a
#: smaller file keeps pyx12's check and the claims' row locks short).
CLAIMS_PER_FILE = 1000
OUTCOME_STATUS = {
    Outcome.PAID: ClaimStatus.PAID,
    Outcome.PARTIALLY_PAID: ClaimStatus.PARTIALLY_PAID,
    Outcome.DENIED: ClaimStatus.DENIED,
    Outcome.REVERSED: ClaimStatus.ACCEPTED,
}

ClearinghouseFactory = Callable[[str], Clearinghouse]


def file_drop(schema: str) -> Clearinghouse:
    """The default: a folder per clinic under the data directory (outbox, inbox, processed)."""
    return FileDropClearinghouse(Path(get_settings().data_dir) / "clearinghouse" / schema)


_factory: ClearinghouseFactory = file_drop


def use_clearinghouse(factory: ClearinghouseFactory) -> ClearinghouseFactory:
    """Swap the clearinghouse (tests point it at a simulated one); returns the previous factory."""
    global _factory
    previous, _factory = _factory, factory
    return previous


def clearinghouse_for(schema: str) -> Clearinghouse:
    return _factory(schema)


def next_control_number(session: Session) -> int:
    """ISA13/GS06: unique per clinic, taken under the counter row's lock."""
    stmt = (
        insert(ControlNumber)
        .values(name="interchange", next_value=2)
        .on_conflict_do_update(index_elements=["name"], set_={"next_value": ControlNumber.next_value + 1})
        .returning(ControlNumber.next_value)
    )
    return int(session.execute(stmt).scalar_one()) - 1


def submit_ready_claims(
    session: Session,
    clearinghouse: Clearinghouse,
    now: datetime | None = None,
    per_file: int = CLAIMS_PER_FILE,
) -> list[ClaimBatch]:
    """The READY claims in 837 files per payer and format (837P, or 837I for IOP/PHP weeks), at most
    `per_file` claims each."""
    now = now or utcnow()
    provider = default_provider(session)
    if provider is None:
        log.warning("claims ready but no billing provider configured: nothing sent")
        return []
    ready = list(
        session.scalars(
            select(Claim)
            .where(Claim.status == ClaimStatus.READY)
            .order_by(Claim.created_at)
            .with_for_update(skip_locked=True)
        )
    )
    held = held_for_primary(session, ready)
    ready, consent_of = _with_part2_consent(session, [c for c in ready if c.id not in held], now)
    by_payer: dict[tuple[uuid.UUID, ClaimFormat], list[Claim]] = defaultdict(list)
    for claim in ready:
        by_payer[(claim.payer_id, claim.claim_format)].append(claim)
    sent = []
    files = [
        (key, claims[i : i + per_file])
        for key, claims in by_payer.items()
        for i in range(0, len(claims), per_file)
    ]
    for (payer_id, claim_format), claims in files:
        institutional = claim_format == ClaimFormat.INSTITUTIONAL
        payer = session.get_one(Payer, payer_id)
        control = next_control_number(session)
        batch = doc.ClaimBatch(
            sender_id=provider.tax_id,
            receiver_id=RECEIVER_ID,
            submitter_name=provider.name,
            submitter_contact=doc.Contact(name=provider.name, phone=provider.contact_phone),
            receiver_name=RECEIVER_ID,
            billing_provider=_provider(provider),
            payer=doc.Payer(
                name=payer.name, payer_id=payer.payer_code, filing_indicator=payer.filing_indicator
            ),
            claims=[
                institutional_from_document(c.document) if institutional else claim_from_document(c.document)
                for c in claims
            ],
            interchange_control_number=control,
            group_control_number=control,
            created_at=now,
            usage=get_settings().x12_usage,
        )
        try:
            text = write_837i(batch) if institutional else write_837p(batch)
        except ClaimRejected as rejected:
            log.error("batch for payer %s not written: %s", payer_id, rejected)
            continue
        errors = pyx12_errors(text)
        if errors:
            log.error("batch for payer %s failed pyx12 (%d errors): not sent", payer_id, len(errors))
            continue
        file_name = f"{claim_format.value}-{control:09d}"
        row = ClaimBatch(
            id=uuid.uuid4(),
            payer_id=payer_id,
            claim_format=claim_format,
            interchange_control_number=control,
            file_name=file_name,
            claim_count=len(claims),
            submission_id=clearinghouse.submit(file_name, text),
        )
        session.add(row)
        session.flush()
        for claim in claims:
            claim.status = ClaimStatus.SUBMITTED
            claim.batch_id = row.id
            claim.updated_at = now
        record_disclosures_sync(session, _part2_disclosures(claims, payer, consent_of), now)
        sent.append(row)
    session.flush()
    return sent


def _with_part2_consent(
    session: Session, claims: list[Claim], now: datetime
) -> tuple[list[Claim], dict[uuid.UUID, uuid.UUID]]:
    """The claims that may go now, and the consent each Part 2 claim goes under: a claim carrying
    Part 2 information goes only while a consent for payment by its payer is active (it may have been
    revoked since the claim was made). One that may not is withdrawn (deleted, never sent; its
    authorization use given back) and its decision says why."""
    marked = {c.id: p for c in claims if (p := part2_of(c.document)) is not None}
    consent_of: dict[uuid.UUID, uuid.UUID] = {}
    if not marked:
        return claims, consent_of
    consents: dict[uuid.UUID, list[ConsentTerms]] = defaultdict(list)
    for consent in load_consents_sync(session, sorted({c.client_id for c in claims if c.id in marked})):
        consents[consent.client_id].append(consent)
    allowed: list[Claim] = []
    for claim in claims:
        payment = marked.get(claim.id)
        if payment is None:
            allowed.append(claim)
        elif found := payment_consent(consents[claim.client_id], claim.payer_id, payment.categories, now):
            allowed.append(claim)
            consent_of[claim.id] = found.id
        elif claim.responsibility == SECONDARY:  # never sent; `billSecondary` again under a new consent
            session.delete(claim)
        else:  # never sent: withdrawn without a trace, so `rebillSession` can make it under a new consent
            give_back_authorization(session, claim)
            session.delete(claim)
            session.execute(
                update(BillingDecision)
                .where(BillingDecision.session_id == claim.session_id)
                .where(BillingDecision.client_id == claim.client_id)
                .values(
                    billed=False,
                    reasons=[{"code": NO_PART2_CONSENT.code, "message": NO_PART2_CONSENT.message}],
                )
            )
    return allowed, consent_of


def _part2_disclosures(
    claims: list[Claim], payer: Payer, consent_of: dict[uuid.UUID, uuid.UUID]
) -> list[NewDisclosure]:
    """42 CFR 2.24/2.25: each claim carrying Part 2 information is a disclosure to its payer."""
    return [
        NewDisclosure(
            client_id=claim.client_id,
            recipient_kind=DisclosedTo.PAYER,
            recipient_id=payer.id,
            recipient_name=payer.name,
            purpose=Purpose.PAYMENT,
            categories=payment.categories,
            description=f"{claim.claim_format.value} claim {claim.claim_number}",
            consent_id=consent_of[claim.id],
            channel=Channel.CLAIM,
            disclosed_by=None,
            notice=Notice.SHORT,
        )
        for claim in claims
        if (payment := part2_of(claim.document)) is not None
    ]


def _provider(p: BillingProvider) -> doc.BillingProvider:
    address = doc.Address(
        line1=p.address_line1, line2=p.address_line2, city=p.city, state=p.state, zip=p.postal_code
    )
    return doc.BillingProvider(name=p.name, npi=p.npi, tax_id=p.tax_id, taxonomy=p.taxonomy, address=address)


def process_responses(session: Session, clearinghouse: Clearinghouse) -> int:
    """Apply every response waiting in the clearinghouse; each file is acknowledged after its update."""
    handled = 0
    for response in clearinghouse.responses():
        apply_response(session, response)
        session.flush()
        clearinghouse.acknowledge(response)
        handled += 1
    return handled


def apply_response(session: Session, response: Response) -> None:
    if response.kind == ResponseKind.ACK_999:
        _apply_999(session, response.text)
    elif response.kind == ResponseKind.CLAIM_ACK_277CA:
        _apply_277ca(session, response.text)
    elif response.kind == ResponseKind.REMITTANCE_835:
        _apply_835(session, response)
    elif response.kind == ResponseKind.ELIGIBILITY_271:
        _apply_271(session, response.text)


def _claims_by_number(session: Session, numbers: list[str]) -> dict[str, Claim]:
    return {c.claim_number: c for c in session.scalars(select(Claim).where(Claim.claim_number.in_(numbers)))}


def _apply_999(session: Session, text: str) -> None:
    for group in parse_999(text):
        batch = session.scalar(
            select(ClaimBatch).where(ClaimBatch.interchange_control_number == int(group.group_control_number))
        )
        if batch is None:
            continue
        batch.status = group.status.value
        if batch.status == "rejected":
            for claim in session.scalars(select(Claim).where(Claim.batch_id == batch.id)):
                claim.status = ClaimStatus.REJECTED


def _apply_277ca(session: Session, text: str) -> None:
    acks = parse_277ca(text)
    claims = _claims_by_number(session, [a.claim_id for a in acks.claims if a.claim_id])
    for ack in acks.claims:
        claim = claims.get(ack.claim_id or "")
        if claim is None or claim.status not in (ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED):
            continue
        if ack.status == ClaimAckStatus.ACCEPTED:
            claim.status = ClaimStatus.ACCEPTED
        elif ack.status == ClaimAckStatus.REJECTED:
            claim.status = ClaimStatus.REJECTED
        claim.payer_claim_number = ack.payer_claim_number or claim.payer_claim_number
        claim.updated_at = utcnow()


def _apply_835(session: Session, response: Response) -> None:
    if session.scalar(select(Remittance.id).where(Remittance.file_name == response.name)):
        return  # this file was applied already
    remittance = parse_835(response.text)
    row = Remittance(
        id=uuid.uuid4(),
        file_name=response.name,
        payer_name=remittance.payer_name,
        check_number=remittance.check_number,
        payment_date=remittance.payment_date,
        total_paid=remittance.total_paid,
        problems=[f"{p.field}: {p.code}" for p in remittance.problems],
    )
    session.add(row)
    session.flush()
    claims = _claims_by_number(session, [c.claim_id for c in remittance.claims])
    posted: list[tuple[Claim, str]] = []
    for payment in remittance.claims:
        claim = claims.get(payment.claim_id)
        if claim is None:
            log.warning("835 %s pays a claim number we did not send", response.name)
            continue
        session.add(
            ClaimPayment(
                id=uuid.uuid4(),
                remittance_id=row.id,
                claim_id=claim.id,
                status_code=payment.status_code,
                outcome=payment.outcome.value,
                charge=payment.charge,
                paid=payment.paid,
                patient_responsibility=payment.patient_responsibility,
                adjustments=[_adjustment(a) for a in payment.adjustments]
                + [
                    {**_adjustment(a), "line": str(i + 1)}
                    for i, line in enumerate(payment.lines)
                    for a in line.adjustments
                ],
                remarks=list(payment.remarks) + [r for line in payment.lines for r in line.remarks],
                lines=[_line_answer(line) for line in payment.lines],
            )
        )
        claim.status = OUTCOME_STATUS[payment.outcome]
        claim.paid_amount = payment.paid
        claim.patient_responsibility = payment.patient_responsibility
        claim.payer_claim_number = payment.payer_claim_number or claim.payer_claim_number
        claim.updated_at = utcnow()
        posted.append((claim, payment.outcome))
    session.flush()  # the payments are on file for the secondary claims to quote
    follow_primary_answers(session, posted)
    after_remittance(session, posted)


def _adjustment(a: doc.Adjustment) -> dict[str, str]:
    return {"group": a.group, "reason": a.reason, "amount": str(a.amount)}


def _line_answer(line: LinePayment) -> dict[str, object]:
    """One 835 service line as stored on its claim payment (amounts as strings)."""
    return {
        "service_date": line.service_date.isoformat() if line.service_date else None,
        "procedure": line.procedure,
        "modifiers": list(line.modifiers),
        "revenue_code": line.revenue_code,
        "units": None if line.units is None else str(line.units),
        "charge": str(line.charge),
        "paid": str(line.paid),
        "adjustments": [_adjustment(a) for a in line.adjustments],
        "remarks": list(line.remarks),
    }


def _apply_271(session: Session, text: str) -> None:
    result = parse_271(text)
    status, reasons = eligibility_outcome(result)
    check = session.scalar(
        select(EligibilityCheck)
        .where(EligibilityCheck.status == "pending", EligibilityCheck.submission_id == result.trace_number)
        .with_for_update()
    )
    if check is None:
        return
    check.status = status.value
    check.copay = result.copay
    check.visit_limit = result.visit_limit
    check.messages = list(reasons)
    check.responded_at = utcnow()
    apply_result(session, check)
