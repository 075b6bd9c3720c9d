"""GraphQL: billing decisions and member claims (billers): preview, per session, per member, corrections."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.billing import corrections
from backend.billing.claim_builder import claimable
from backend.billing.decisions import NOTE_CODES, Decision
from backend.billing.engine import POLL_CLEARINGHOUSE, SESSION_CLOSED, SUBMIT_CLAIMS
from backend.billing.models import BillingDecision, Claim, ClaimPayment, ClaimStatus
from backend.billing.secondary_claims import PendingSecondary, bill_secondary_of, pending_secondaries
from backend.billing.session_facts import load
from backend.documentation.models import SessionRecord
from backend.documentation.signoff import RecordStatus
from backend.errors import FieldProblem, InputRejected
from backend.graphql.access import allow
from backend.graphql.clients_types import CLIENT_FIELD, ClientNode, client_of
from backend.graphql.context import Context
from backend.graphql.errors import BadRequest, FieldError, InvalidInput, NotFound
from backend.graphql.relay import MAX_PAGE, parse_id
from backend.graphql.transactions import Atomic, or_not_found
from backend.workers.outbox import add_message

ClaimStatusEnum = strawberry.enum(ClaimStatus, name="ClaimStatus")


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


@strawberry.type
class DecisionReason:
    code: str
    message: str
    blocking: bool = strawberry.field(
        description="True: why the member is not billed; false: a note on the decision (e.g. telehealth)"
    )


@strawberry.type(name="BillingDecision")
class BillingDecisionType:
    """For one roster member: billed (code, modifiers, POS, units, charge) or not billed and why."""

    client_id: strawberry.ID
    billed: bool
    reasons: list[DecisionReason]
    code: str | None
    modifiers: list[str]
    place_of_service: str | None
    units: int | None
    charge: str | None = strawberry.field(description='Decimal amount as a string, e.g. "45.00"')

    @strawberry.field(description=CLIENT_FIELD)
    async def client(self, info: strawberry.Info[Context, Any]) -> ClientNode | None:
        return await client_of(info, self.client_id)

    @classmethod
    def of_decision(cls, d: Decision) -> BillingDecisionType:
        return cls(
            client_id=strawberry.ID(d.client_key),
            billed=d.billed,
            reasons=[DecisionReason(code=r.code, message=r.message, blocking=r.blocking) for r in d.reasons],
            code=d.code,
            modifiers=list(d.modifiers),
            place_of_service=d.place_of_service,
            units=d.units,
            charge=_money(d.charge),
        )

    @classmethod
    def of_row(cls, d: BillingDecision) -> BillingDecisionType:
        return cls(
            client_id=strawberry.ID(str(d.client_id)),
            billed=d.billed,
            reasons=[
                DecisionReason(
                    code=r["code"],
                    message=r["message"],
                    blocking=bool(r.get("blocking", r["code"] not in NOTE_CODES)),
                )
                for r in d.reasons
            ],
            code=d.code,
            modifiers=list(d.modifiers),
            place_of_service=d.place_of_service,
            units=d.units,
            charge=_money(d.charge),
        )


@strawberry.type
class ClaimAdjustment:
    group: str
    reason: str
    amount: str

    @classmethod
    def of(cls, stored: dict[str, Any]) -> ClaimAdjustment:
        return cls(group=stored["group"], reason=stored["reason"], amount=stored["amount"])


@strawberry.type
class ClaimPaymentLine:
    """One service line as the payer answered it: an IOP/PHP week's days paid or denied one by one."""

    service_date: date | None
    procedure: str = strawberry.field(description="CPT/HCPCS, or the revenue code when only that came back")
    modifiers: list[str]
    revenue_code: str | None
    units: str | None
    charge: str
    paid: str
    adjustments: list[ClaimAdjustment]
    remarks: list[str] = strawberry.field(description="RARC codes (LQ*HE)")

    @classmethod
    def of(cls, line: dict[str, Any]) -> ClaimPaymentLine:
        return cls(
            service_date=date.fromisoformat(line["service_date"]) if line["service_date"] else None,
            procedure=line["procedure"],
            modifiers=list(line["modifiers"]),
            revenue_code=line["revenue_code"],
            units=line["units"],
            charge=line["charge"],
            paid=line["paid"],
            adjustments=[ClaimAdjustment.of(a) for a in line["adjustments"]],
            remarks=list(line["remarks"]),
        )


@strawberry.type
class ClaimPaymentType:
    outcome: str
    paid: str
    patient_responsibility: str
    adjustments: list[ClaimAdjustment]
    remarks: list[str]
    lines: list[ClaimPaymentLine]
    received_at: datetime

    @classmethod
    def of(cls, p: ClaimPayment) -> ClaimPaymentType:
        return cls(
            outcome=p.outcome,
            paid=f"{p.paid:.2f}",
            patient_responsibility=f"{p.patient_responsibility:.2f}",
            adjustments=[ClaimAdjustment.of(a) for a in p.adjustments],
            remarks=list(p.remarks),
            lines=[ClaimPaymentLine.of(line) for line in p.lines],
            received_at=p.created_at,
        )


@strawberry.type(name="Claim")
class ClaimType:
    id: strawberry.ID
    claim_number: str
    session_id: strawberry.ID
    client_id: strawberry.ID
    service_date: date
    frequency: str = strawberry.field(description="1 original, 7 replacement, 8 void")
    responsibility: str = strawberry.field(
        description="primary, or secondary: billed after the primary's 835, carrying what it paid"
    )
    primary_claim_id: strawberry.ID | None = strawberry.field(
        description="On a secondary claim: the primary payer's claim it follows"
    )
    status: ClaimStatusEnum  # type: ignore[valid-type]
    procedure: str
    modifiers: list[str]
    total_charge: str
    paid_amount: str | None
    patient_responsibility: str | None
    payer_claim_number: str | None
    replaces_claim_id: strawberry.ID | None
    payments: list[ClaimPaymentType]
    warnings: list[str] = strawberry.field(description="IOP/PHP: weekly hours under the payer's minimum")

    @strawberry.field(description=CLIENT_FIELD)
    async def client(self, info: strawberry.Info[Context, Any]) -> ClientNode | None:
        return await client_of(info, self.client_id)

    @classmethod
    def of(cls, c: Claim, payments: list[ClaimPayment]) -> ClaimType:
        body: Any = c.document.get("claim") or c.document["institutional"]
        line = body["lines"][0]
        return cls(
            id=strawberry.ID(str(c.id)),
            claim_number=c.claim_number,
            session_id=strawberry.ID(str(c.session_id)),
            client_id=strawberry.ID(str(c.client_id)),
            service_date=c.service_date,
            frequency=c.frequency,
            responsibility=c.responsibility,
            primary_claim_id=strawberry.ID(str(c.primary_claim_id)) if c.primary_claim_id else None,
            status=c.status,
            procedure=line["procedure"],
            modifiers=list(line["modifiers"]),
            total_charge=f"{c.total_charge:.2f}",
            paid_amount=_money(c.paid_amount),
            patient_responsibility=_money(c.patient_responsibility),
            payer_claim_number=c.payer_claim_number,
            replaces_claim_id=strawberry.ID(str(c.replaces_claim_id)) if c.replaces_claim_id else None,
            payments=[ClaimPaymentType.of(p) for p in payments],
            warnings=list(c.document.get("warnings") or []),  # type: ignore[call-overload]
        )


@strawberry.type
class SessionBilling:
    session_id: strawberry.ID
    decisions: list[BillingDecisionType]
    claims: list[ClaimType]


@strawberry.type
class ClaimResult:
    claim: ClaimType


@strawberry.type
class WorkQueued:
    kind: str


@strawberry.type
class SecondaryPending:
    """A primary claim answered with a balance whose member has a secondary coverage not billed yet."""

    claim: ClaimType
    owed: str = strawberry.field(description='What the primary payer left unpaid, e.g. "35.00"')
    blocked_by: FieldError | None = strawberry.field(
        description="Why billSecondary would refuse it now (no_rules_in_force, no_active_authorization, "
        "no_part2_consent...); null: ready, billSecondary bills it"
    )


ClaimChange = Annotated[ClaimResult | InvalidInput | NotFound, strawberry.union("ClaimChange")]
RebillResult = Annotated[WorkQueued | InvalidInput | NotFound, strawberry.union("RebillResult")]


async def _claims(context: Context, stmt: Any) -> list[ClaimType]:
    claims = list(await context.session.scalars(stmt.order_by(Claim.service_date, Claim.created_at)))
    return await _claim_types(context, claims)


async def _claim_types(context: Context, claims: list[Claim]) -> list[ClaimType]:
    """The claims with their payments (one query), each read audited."""
    payments: dict[uuid.UUID, list[ClaimPayment]] = {c.id: [] for c in claims}
    if claims:
        for p in await context.session.scalars(
            select(ClaimPayment)
            .where(ClaimPayment.claim_id.in_(list(payments)))
            .order_by(ClaimPayment.created_at)
        ):
            payments[p.claim_id].append(p)
    for c in claims:
        context.audit("read", "claim", str(c.id), c.client_id)
    return [ClaimType.of(c, payments[c.id]) for c in claims]


@strawberry.type
class BillingClaimQueries:
    @strawberry.field(permission_classes=[allow("claim", "read")])
    async def billing_preview(
        self, info: strawberry.Info[Context, Any], session_id: strawberry.ID
    ) -> list[BillingDecisionType]:
        """The decision for every roster member as if the session closed now (nothing is stored)."""
        sid = parse_id(session_id, "sessionId", in_input=False)

        def decide(sync: Session) -> list[Decision] | None:
            billing = load(sync, sid)
            return None if billing is None else [claimable(billing, d) for d in billing.decide()]

        decisions = await info.context.session.run_sync(decide)
        if decisions is None:
            raise BadRequest("sessionId", "does not name a session in this clinic")
        info.context.audit("read", "billing_preview", str(sid))
        return [BillingDecisionType.of_decision(d) for d in decisions]

    @strawberry.field(permission_classes=[allow("claim", "read")])
    async def session_billing(
        self, info: strawberry.Info[Context, Any], session_id: strawberry.ID
    ) -> SessionBilling:
        """The stored decisions (one per roster member) and the claims of a closed session."""
        sid = parse_id(session_id, "sessionId", in_input=False)
        decisions = await info.context.session.scalars(
            select(BillingDecision)
            .where(BillingDecision.session_id == sid)
            .order_by(BillingDecision.client_id)
        )
        claims = await _claims(info.context, select(Claim).where(Claim.session_id == sid))
        return SessionBilling(
            session_id=strawberry.ID(str(sid)),
            decisions=[BillingDecisionType.of_row(d) for d in decisions],
            claims=claims,
        )

    @strawberry.field(permission_classes=[allow("claim", "read")])
    async def member_claims(
        self, info: strawberry.Info[Context, Any], client_id: strawberry.ID
    ) -> list[ClaimType]:
        """Each of the member's claims with its status, payments (CARC/RARC) and patient responsibility."""
        cid = parse_id(client_id, "clientId", in_input=False)
        return await _claims(info.context, select(Claim).where(Claim.client_id == cid))

    @strawberry.field(permission_classes=[allow("claim", "read")])
    async def secondary_claims_pending(
        self, info: strawberry.Info[Context, Any], first: int = 50
    ) -> list[SecondaryPending]:
        """The oldest `first` services the primary payer answered with a balance, whose member has a
        secondary coverage, not yet billed to it: each with what holds it, or ready for billSecondary."""
        if not 1 <= first <= MAX_PAGE:
            raise BadRequest("first", f"must be between 1 and {MAX_PAGE}")
        pending: list[PendingSecondary] = await info.context.session.run_sync(
            lambda sync: pending_secondaries(sync, first)
        )
        claims = await _claim_types(info.context, [p.primary for p in pending])
        return [
            SecondaryPending(
                claim=claim,
                owed=f"{p.owed:.2f}",
                blocked_by=None if p.blocked_by is None else FieldError.of(p.blocked_by),
            )
            for p, claim in zip(pending, claims, strict=True)
        ]


@strawberry.type
class BillingClaimMutations:
    @strawberry.mutation(permission_classes=[allow("claim", "manage")], extensions=[Atomic()])
    async def replace_claim(
        self, info: strawberry.Info[Context, Any], claim_id: strawberry.ID
    ) -> ClaimChange:
        """A replacement claim (frequency 7) re-decided from the session as it stands now."""
        return await _correct(info.context, parse_id(claim_id, "claimId"), corrections.replace_claim)

    @strawberry.mutation(permission_classes=[allow("claim", "manage")], extensions=[Atomic()])
    async def void_claim(self, info: strawberry.Info[Context, Any], claim_id: strawberry.ID) -> ClaimChange:
        """A void (frequency 8) of a claim the payer has; the authorization use is given back."""
        return await _correct(info.context, parse_id(claim_id, "claimId"), corrections.void_claim)

    @strawberry.mutation(permission_classes=[allow("claim", "manage")], extensions=[Atomic()])
    async def bill_secondary(
        self, info: strawberry.Info[Context, Any], claim_id: strawberry.ID
    ) -> ClaimChange:
        """Bill the member's secondary payer for a primary claim its payer has answered (done by itself
        when the 835 is posted; use it when the secondary coverage or a Part 2 consent came later)."""
        return await _correct(info.context, parse_id(claim_id, "claimId"), bill_secondary_of)

    @strawberry.mutation(permission_classes=[allow("claim", "manage")], extensions=[Atomic()])
    async def submit_claims(self, info: strawberry.Info[Context, Any]) -> WorkQueued:
        """Send every READY claim now (one 837 batch per payer) instead of waiting for the next close."""
        add_message(info.context.session, SUBMIT_CLAIMS, {})
        return WorkQueued(kind=SUBMIT_CLAIMS)

    @strawberry.mutation(permission_classes=[allow("claim", "manage")], extensions=[Atomic()])
    async def rebill_session(
        self, info: strawberry.Info[Context, Any], session_id: strawberry.ID
    ) -> RebillResult:
        """Decide a final session's roster again and make the claims it now allows (a diagnosis, an
        authorization or a Part 2 consent recorded since); claims already made are left as they are."""
        sid = parse_id(session_id, "sessionId")
        record = await info.context.session.get(SessionRecord, sid)
        if record is None:
            return NotFound.of("sessionId")
        if record.status != RecordStatus.FINAL:
            raise InputRejected(
                [FieldProblem("sessionId", "not_final", "the session record is not final yet")]
            )
        add_message(info.context.session, SESSION_CLOSED, {"session_id": sid})
        info.context.audit("update", "session_billing", str(sid))
        return WorkQueued(kind=SESSION_CLOSED)

    @strawberry.mutation(permission_classes=[allow("claim", "manage")], extensions=[Atomic()])
    async def poll_clearinghouse(self, info: strawberry.Info[Context, Any]) -> WorkQueued:
        """Apply the clearinghouse's waiting 999, 277CA, 835 and 271 files (also run on a schedule)."""
        add_message(info.context.session, POLL_CLEARINGHOUSE, {})
        return WorkQueued(kind=POLL_CLEARINGHOUSE)


async def _correct(context: Context, claim_id: uuid.UUID, correct: Any) -> ClaimChange:
    claim = await or_not_found(context.session.run_sync(lambda sync: correct(sync, claim_id)))
    if isinstance(claim, NotFound):
        return claim
    context.audit("create", "claim", str(claim.id), claim.client_id)
    (made,) = await _claims(context, select(Claim).where(Claim.id == claim.id))
    return ClaimResult(claim=made)
