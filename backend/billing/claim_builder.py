"""A billed decision made into a professional claim (the subscriber and the claim document), or refused
with a reason when the claim could not carry it."""

from __future__ import annotations

import uuid
from decimal import Decimal

from backend.billing.claims import Address, ProfessionalClaim, RenderingProvider, ServiceLine, Subscriber
from backend.billing.decisions import Decision, Reason
from backend.billing.session_facts import SessionBilling
from backend.compliance.disclosures.rules import SHORT_NOTICE
from backend.staff.models import StaffMember


def claimable(billing: SessionBilling, decision: Decision) -> Decision:
    """A billed decision the claim cannot carry (no subscriber address, no rendering NPI) becomes not billed,
    with the reason, rather than a claim the clearinghouse would reject."""
    if not decision.billed:
        return decision
    client = billing.clients[uuid.UUID(decision.client_key)]
    reasons = []
    if not (client.address_line1 and client.city and client.state and client.postal_code):
        reasons.append(Reason("no_subscriber_address", "the member's address is incomplete"))
    if billing.rendering is None or not billing.rendering.npi:
        reasons.append(Reason("no_rendering_npi", "the facilitator has no NPI"))
    if not reasons:
        return decision
    return Decision(decision.client_key, False, tuple(reasons), payer_id=decision.payer_id)


def claim_number() -> str:
    """CLM01: 20 characters at most, unique, no PHI (a random base-32 id)."""
    return "E" + uuid.uuid4().hex[:19].upper()


def build_claim(
    billing: SessionBilling,
    decision: Decision,
    number: str,
    frequency: str = "1",
    original_ref: str | None = None,
) -> tuple[Subscriber, ProfessionalClaim]:
    """The member's claim for a billed, claimable decision (their own diagnoses, coverage, authorization)."""
    client_id = uuid.UUID(decision.client_key)
    auth = billing.authorizations.get(client_id)
    rendering = billing.rendering
    assert rendering is not None  # claimable() refused decisions without one
    subscriber = subscriber_of(billing, client_id)
    diagnoses = billing.diagnoses[client_id][:12]
    claim = ProfessionalClaim(
        claim_id=number,
        frequency=frequency,
        original_claim_ref=original_ref,
        place_of_service=decision.place_of_service or "11",
        diagnoses=diagnoses,
        prior_auth=auth.reference if auth else None,
        notice=SHORT_NOTICE if client_id in billing.part2 else None,  # 42 CFR 2.32
        rendering=provider_of(rendering),
        lines=(
            ServiceLine(
                service_date=billing.facts.service_date,
                procedure=decision.code or "",
                modifiers=decision.modifiers,
                charge=decision.charge or Decimal("0"),
                units=decision.units or 1,
                diagnosis_pointers=tuple(range(1, min(len(diagnoses), 4) + 1)),
                place_of_service=decision.place_of_service,
            ),
        ),
    )
    return subscriber, claim


def subscriber_of(billing: SessionBilling, client_id: uuid.UUID) -> Subscriber:
    """The member as the subscriber of their primary coverage (claims here: patient = subscriber)."""
    client = billing.clients[client_id]
    coverage = billing.coverages[client_id]
    return Subscriber(
        member_id=coverage.member_id,
        last_name=client.last_name,
        first_name=client.first_name,
        birth_date=client.date_of_birth,
        sex=client.sex or "U",
        address=Address(
            line1=client.address_line1 or "",
            city=client.city or "",
            state=client.state or "",
            zip=client.postal_code or "",
        ),
        group_number=coverage.group_number,
    )


def provider_of(staff: StaffMember) -> RenderingProvider:
    """A facilitator as the rendering (837P) or attending (837I) provider."""
    return RenderingProvider(
        last_name=staff.display_name.split()[-1],
        first_name=staff.display_name.split()[0],
        npi=staff.npi or "",
        taxonomy=staff.taxonomy,
    )
