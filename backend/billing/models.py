"""Billing as stored: providers, payers and their versioned rules, decisions, claims, batches, remittances.

A closed session's `billable_events` (backend.documentation) are the claim engine's input; for every
roster member it records a `BillingDecision` (billed, or not and why), and for each billed member a
`Claim` whose X12 rendering is kept as the claim document (JSON) so a batch can be written, and a
correction replaced (frequency 7) or voided (8), from what was decided.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.billing.payer_rules import RuleVersion, rules_from_json
from backend.billing.providers import FacilityType
from backend.compliance.encryption.field_crypto import EncryptedJSON
from backend.database import TenantBase, text_enum, utcnow, uuid_pk

Money = Numeric(12, 2)


class ClaimFormat(enum.StrEnum):
    PROFESSIONAL = "837P"
    INSTITUTIONAL = "837I"


class ClaimStatus(enum.StrEnum):
    READY = "ready"  # decided and written, waiting for a batch
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"  # 277CA accepted by the payer
    REJECTED = "rejected"  # 999/277CA rejected: correct and resubmit
    PAID = "paid"
    PARTIALLY_PAID = "partially_paid"
    DENIED = "denied"
    REPLACED = "replaced"  # superseded by a frequency-7 claim
    VOIDED = "voided"


class BillingProvider(TenantBase):
    __tablename__ = "billing_providers"

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(120))
    npi: Mapped[str] = mapped_column(String(10))
    tax_id: Mapped[str] = mapped_column(String(9))
    taxonomy: Mapped[str] = mapped_column(String(10))
    address_line1: Mapped[str] = mapped_column(String(55))
    address_line2: Mapped[str | None] = mapped_column(String(55))
    city: Mapped[str] = mapped_column(String(30))
    state: Mapped[str] = mapped_column(String(2))
    postal_code: Mapped[str] = mapped_column(String(9))
    # The billing contact on every 837 (PER of the submitter).
    contact_phone: Mapped[str] = mapped_column(String(15))
    # The type of bill's facility on its IOP/PHP (837I) claims: hospital outpatient 013x or CMHC 076x.
    facility_type: Mapped[FacilityType] = mapped_column(
        text_enum(FacilityType, "billing_provider_facility_type"), default=FacilityType.HOSPITAL_OUTPATIENT
    )
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Payer(TenantBase):
    __tablename__ = "payers"

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(120))
    # The payer's X12 id (NM109 of 2010BB) as the clearinghouse lists it.
    payer_code: Mapped[str] = mapped_column(String(80), unique=True)
    claim_format: Mapped[ClaimFormat] = mapped_column(text_enum(ClaimFormat, "claim_format"))
    # SBR09 claim filing indicator: CI commercial, MC Medicaid, MB Medicare Part B, HM HMO...
    filing_indicator: Mapped[str] = mapped_column(String(2), default="CI")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PayerRuleVersion(TenantBase):
    """The payer's rules (backend.billing.payer_rules.PayerRules as JSON) in force over a period."""

    __tablename__ = "payer_rule_versions"
    __table_args__ = (
        CheckConstraint("effective_to IS NULL OR effective_to >= effective_from", name="period_order"),
        Index("ix_payer_rule_versions_payer", "payer_id", "effective_from"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    payer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payers.id", ondelete="CASCADE"))
    effective_from: Mapped[date]
    effective_to: Mapped[date | None]
    rules: Mapped[dict[str, object]] = mapped_column(JSONB)
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def version(self) -> RuleVersion:
        """The stored version as the rules read it."""
        return RuleVersion(self.effective_from, self.effective_to, rules_from_json(self.rules))


class BillingDecision(TenantBase):
    """For one roster member of one closed session: billed (how) or not (why). One per member and session."""

    __tablename__ = "billing_decisions"
    __table_args__ = (UniqueConstraint("session_id", "client_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    billed: Mapped[bool]
    # [{"code": "absent", "message": "..."}]: no PHI, codes a biller can filter by.
    reasons: Mapped[list[dict[str, str]]] = mapped_column(JSONB, default=list)
    code: Mapped[str | None] = mapped_column(String(5))
    modifiers: Mapped[list[str]] = mapped_column(JSONB, default=list)
    place_of_service: Mapped[str | None] = mapped_column(String(2))
    units: Mapped[int | None]
    charge: Mapped[Decimal | None] = mapped_column(Money)
    payer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payers.id"))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClaimBatch(TenantBase):
    """One X12 file sent to the clearinghouse for one payer."""

    __tablename__ = "claim_batches"

    id: Mapped[uuid.UUID] = uuid_pk()
    payer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payers.id"))
    claim_format: Mapped[ClaimFormat] = mapped_column(text_enum(ClaimFormat, "batch_claim_format"))
    interchange_control_number: Mapped[int] = mapped_column(unique=True)
    file_name: Mapped[str] = mapped_column(String(120))
    claim_count: Mapped[int]
    submission_id: Mapped[str | None] = mapped_column(String(120))
    # "submitted", "accepted", "rejected" (999).
    status: Mapped[str] = mapped_column(String(20), default="submitted")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


PRIMARY, SECONDARY = "primary", "secondary"


class Claim(TenantBase):
    __tablename__ = "claims"
    __table_args__ = (
        # Re-running the engine (or posting an 835 again) on the same event never makes a second
        # original claim to the primary payer, nor to the secondary.
        Index(
            "uq_claims_original_per_event",
            "billable_event_id",
            "responsibility",
            unique=True,
            postgresql_where="frequency = '1'",
        ),
        Index("ix_claims_client", "client_id"),
        Index("ix_claims_status", "status"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    billable_event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billable_events.id"))
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id"))
    payer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payers.id"))
    authorization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("authorizations.id"))
    # CLM01, the patient control number the payer echoes in 277CA and 835 (no PHI in it).
    claim_number: Mapped[str] = mapped_column(String(20), unique=True)
    claim_format: Mapped[ClaimFormat] = mapped_column(text_enum(ClaimFormat, "claim_claim_format"))
    frequency: Mapped[str] = mapped_column(String(1), default="1")
    #: "primary", or "secondary": billed after the primary's 835, carrying its adjudication.
    responsibility: Mapped[str] = mapped_column(String(9), default=PRIMARY)
    #: On a secondary claim: the primary payer's claim it follows.
    primary_claim_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("claims.id"))
    replaces_claim_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("claims.id"))
    status: Mapped[ClaimStatus] = mapped_column(text_enum(ClaimStatus, "claim_status"))
    service_date: Mapped[date]
    total_charge: Mapped[Decimal] = mapped_column(Money)
    # The claim as backend.billing.claims describes it (JSON), so batches and corrections re-render it.
    # It names the subscriber (member id, name, address): encrypted at rest, read only in Python.
    document: Mapped[dict[str, object]] = mapped_column(EncryptedJSON("claims.document"))
    batch_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("claim_batches.id"))
    payer_claim_number: Mapped[str | None] = mapped_column(String(50))
    paid_amount: Mapped[Decimal | None] = mapped_column(Money)
    patient_responsibility: Mapped[Decimal | None] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Remittance(TenantBase):
    """One 835 received (the payment or the explanation of non-payment)."""

    __tablename__ = "remittances"

    id: Mapped[uuid.UUID] = uuid_pk()
    file_name: Mapped[str] = mapped_column(String(120), unique=True)
    payer_name: Mapped[str] = mapped_column(String(120))
    check_number: Mapped[str] = mapped_column(String(50))
    payment_date: Mapped[date | None]
    total_paid: Mapped[Decimal] = mapped_column(Money)
    # Balancing problems found on receipt (BPR02 vs the claims, CLP not balancing); empty when none.
    problems: Mapped[list[str]] = mapped_column(JSONB, default=list)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClaimPayment(TenantBase):
    """One 835 claim payment (CLP) matched to our claim: paid, adjusted or denied with CARC/RARC."""

    __tablename__ = "claim_payments"
    # A remittance may reverse a claim's payment (CLP02 22) and pay it again in the same file.
    __table_args__ = (UniqueConstraint("remittance_id", "claim_id", "status_code"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    remittance_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("remittances.id", ondelete="CASCADE"))
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id"))
    status_code: Mapped[str] = mapped_column(String(2))
    outcome: Mapped[str] = mapped_column(String(20))
    charge: Mapped[Decimal] = mapped_column(Money)
    paid: Mapped[Decimal] = mapped_column(Money)
    patient_responsibility: Mapped[Decimal] = mapped_column(Money)
    # [{"group": "CO", "reason": "45", "amount": "20.00"}] and remark codes.
    adjustments: Mapped[list[dict[str, str]]] = mapped_column(JSONB, default=list)
    remarks: Mapped[list[str]] = mapped_column(JSONB, default=list)
    # Each service line as the payer answered it (SVC with its DTM, CAS and LQ): an IOP/PHP week's
    # days paid or denied one by one. [{"service_date": "2026-11-16", "procedure": "S9480",
    # "modifiers": [], "revenue_code": "0905", "units": "1", "charge": "250.00", "paid": "200.00",
    # "adjustments": [{"group": "PR", "reason": "2", "amount": "50.00"}], "remarks": []}]
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EligibilityCheck(TenantBase):
    """A 270 sent for a member's coverage and the 271's answer for group psychotherapy."""

    __tablename__ = "eligibility_checks"
    __table_args__ = (Index("ix_eligibility_checks_client", "client_id", "requested_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    coverage_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("client_coverages.id", ondelete="CASCADE"))
    # "pending", then "active", "inactive" or "unknown".
    status: Mapped[str] = mapped_column(String(20), default="pending")
    submission_id: Mapped[str | None] = mapped_column(String(120))
    copay: Mapped[Decimal | None] = mapped_column(Money)
    visit_limit: Mapped[int | None]
    messages: Mapped[list[str]] = mapped_column(JSONB, default=list)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    responded_at: Mapped[datetime | None]


class ControlNumber(TenantBase):
    """The clinic's next X12 interchange control number (ISA13), taken under a row lock."""

    __tablename__ = "x12_control_numbers"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    next_value: Mapped[int]
