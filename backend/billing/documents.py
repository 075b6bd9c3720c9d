"""A professional claim and its subscriber as stored JSON (pure): what the engine decided, re-rendered
into any later batch, replacement or void exactly as it was decided."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from backend.billing.claims import (
    Address,
    Adjustment,
    InstitutionalClaim,
    LineAdjudication,
    OtherPayer,
    Payer,
    ProfessionalClaim,
    RenderingProvider,
    ServiceLine,
    Subscriber,
)


def _address(a: Address) -> dict[str, Any]:
    return {"line1": a.line1, "line2": a.line2, "city": a.city, "state": a.state, "zip": a.zip}


def _subscriber(subscriber: Subscriber) -> dict[str, Any]:
    return {
        "member_id": subscriber.member_id,
        "last_name": subscriber.last_name,
        "first_name": subscriber.first_name,
        "birth_date": subscriber.birth_date.isoformat(),
        "sex": subscriber.sex,
        "address": _address(subscriber.address),
        "group_number": subscriber.group_number,
        "payer_responsibility": subscriber.payer_responsibility,
    }


def _lines(lines: tuple[ServiceLine, ...]) -> list[dict[str, Any]]:
    return [
        {
            "service_date": line.service_date.isoformat(),
            "procedure": line.procedure,
            "modifiers": list(line.modifiers),
            "charge": str(line.charge),
            "units": str(line.units),
            "diagnosis_pointers": list(line.diagnosis_pointers),
            "place_of_service": line.place_of_service,
            "revenue_code": line.revenue_code,
        }
        for line in lines
    ]


def _read_lines(lines: list[dict[str, Any]]) -> tuple[ServiceLine, ...]:
    return tuple(
        ServiceLine(
            service_date=date.fromisoformat(line["service_date"]),
            procedure=line["procedure"],
            modifiers=tuple(line["modifiers"]),
            charge=Decimal(line["charge"]),
            units=int(Decimal(line["units"])),
            diagnosis_pointers=tuple(line["diagnosis_pointers"]),
            place_of_service=line["place_of_service"],
            revenue_code=line.get("revenue_code"),
        )
        for line in lines
    )


def _read_subscriber(s: dict[str, Any]) -> Subscriber:
    return Subscriber(
        member_id=s["member_id"],
        last_name=s["last_name"],
        first_name=s["first_name"],
        birth_date=date.fromisoformat(s["birth_date"]),
        sex=s["sex"],
        address=Address(**s["address"]),
        group_number=s["group_number"],
        payer_responsibility=s["payer_responsibility"],
    )


def institutional_document(
    subscriber: Subscriber, claim: InstitutionalClaim, warnings: list[str]
) -> dict[str, Any]:
    """An 837I claim (an IOP/PHP week) with the weekly-hours warnings found when it was built."""
    return {
        "subscriber": _subscriber(subscriber),
        "warnings": warnings,
        "institutional": {
            "claim_id": claim.claim_id,
            "frequency": claim.frequency,
            "original_claim_ref": claim.original_claim_ref,
            "type_of_bill": claim.type_of_bill,
            "statement_from": claim.statement_from.isoformat(),
            "statement_to": claim.statement_to.isoformat(),
            "admission_date": claim.admission_date.isoformat() if claim.admission_date else None,
            "patient_status": claim.patient_status,
            "condition_codes": list(claim.condition_codes),
            "diagnoses": list(claim.diagnoses),
            "prior_auth": claim.prior_auth,
            "notice": claim.notice,
            "attending": {
                "last_name": claim.attending.last_name,
                "first_name": claim.attending.first_name,
                "npi": claim.attending.npi,
                "taxonomy": claim.attending.taxonomy,
            },
            "lines": _lines(claim.lines),
            "other_payer": _other_payer(claim.other_payer) if claim.other_payer else None,
        },
    }


def institutional_from_document(document: dict[str, Any]) -> tuple[Subscriber, InstitutionalClaim]:
    c = document["institutional"]
    return _read_subscriber(document["subscriber"]), InstitutionalClaim(
        claim_id=c["claim_id"],
        frequency=c["frequency"],
        original_claim_ref=c["original_claim_ref"],
        type_of_bill=c["type_of_bill"],
        statement_from=date.fromisoformat(c["statement_from"]),
        statement_to=date.fromisoformat(c["statement_to"]),
        admission_date=date.fromisoformat(c["admission_date"]) if c["admission_date"] else None,
        patient_status=c["patient_status"],
        condition_codes=tuple(c["condition_codes"]),
        diagnoses=tuple(c["diagnoses"]),
        prior_auth=c["prior_auth"],
        notice=c.get("notice"),
        attending=RenderingProvider(**c["attending"]),
        lines=_read_lines(c["lines"]),
        other_payer=_read_other_payer(c["other_payer"]) if c.get("other_payer") else None,
    )


def claim_document(subscriber: Subscriber, claim: ProfessionalClaim) -> dict[str, Any]:
    return {
        "subscriber": _subscriber(subscriber),
        "claim": {
            "claim_id": claim.claim_id,
            "frequency": claim.frequency,
            "original_claim_ref": claim.original_claim_ref,
            "place_of_service": claim.place_of_service,
            "diagnoses": list(claim.diagnoses),
            "prior_auth": claim.prior_auth,
            "notice": claim.notice,
            "rendering": {
                "last_name": claim.rendering.last_name,
                "first_name": claim.rendering.first_name,
                "npi": claim.rendering.npi,
                "taxonomy": claim.rendering.taxonomy,
            },
            "lines": _lines(claim.lines),
            "other_payer": _other_payer(claim.other_payer) if claim.other_payer else None,
        },
    }


def _other_payer(other: OtherPayer) -> dict[str, Any]:
    return {
        "payer": {
            "name": other.payer.name,
            "payer_id": other.payer.payer_id,
            "filing_indicator": other.payer.filing_indicator,
        },
        "member_id": other.member_id,
        "last_name": other.last_name,
        "first_name": other.first_name,
        "group_number": other.group_number,
        "responsibility": other.responsibility,
        "paid": str(other.paid),
        "adjudicated_on": other.adjudicated_on.isoformat(),
        "lines": [
            {
                "procedure": line.procedure,
                "modifiers": list(line.modifiers),
                "paid": str(line.paid),
                "adjustments": [
                    {"group": a.group, "reason": a.reason, "amount": str(a.amount)} for a in line.adjustments
                ],
            }
            for line in other.lines
        ],
        "claim_adjustments": [
            {"group": a.group, "reason": a.reason, "amount": str(a.amount)} for a in other.claim_adjustments
        ],
    }


def _read_other_payer(o: dict[str, Any]) -> OtherPayer:
    return OtherPayer(
        payer=Payer(**o["payer"]),
        member_id=o["member_id"],
        last_name=o["last_name"],
        first_name=o["first_name"],
        group_number=o["group_number"],
        responsibility=o["responsibility"],
        paid=Decimal(o["paid"]),
        adjudicated_on=date.fromisoformat(o["adjudicated_on"]),
        lines=tuple(
            LineAdjudication(
                procedure=line["procedure"],
                modifiers=tuple(line["modifiers"]),
                paid=Decimal(line["paid"]),
                adjustments=tuple(
                    Adjustment(a["group"], a["reason"], Decimal(a["amount"])) for a in line["adjustments"]
                ),
            )
            for line in o["lines"]
        ),
        claim_adjustments=tuple(
            Adjustment(a["group"], a["reason"], Decimal(a["amount"])) for a in o.get("claim_adjustments", [])
        ),
    )


def claim_from_document(document: dict[str, Any]) -> tuple[Subscriber, ProfessionalClaim]:
    c = document["claim"]
    return _read_subscriber(document["subscriber"]), ProfessionalClaim(
        claim_id=c["claim_id"],
        frequency=c["frequency"],
        original_claim_ref=c["original_claim_ref"],
        place_of_service=c["place_of_service"],
        diagnoses=tuple(c["diagnoses"]),
        prior_auth=c["prior_auth"],
        notice=c.get("notice"),
        rendering=RenderingProvider(**c["rendering"]),
        lines=_read_lines(c["lines"]),
        other_payer=_read_other_payer(c["other_payer"]) if c.get("other_payer") else None,
    )


def corrected(
    claim: ProfessionalClaim, claim_id: str, frequency: str, payer_claim_number: str
) -> ProfessionalClaim:
    """A replacement (7) or void (8) of a claim the payer knows as `payer_claim_number`."""
    return replace(claim, claim_id=claim_id, frequency=frequency, original_claim_ref=payer_claim_number)


def corrected_week(
    claim: InstitutionalClaim, claim_id: str, frequency: str, payer_claim_number: str
) -> InstitutionalClaim:
    """The same for an 837I, whose type of bill ends with the frequency too."""
    return replace(
        claim,
        claim_id=claim_id,
        frequency=frequency,
        original_claim_ref=payer_claim_number,
        type_of_bill=claim.type_of_bill[:-1] + frequency,
    )
