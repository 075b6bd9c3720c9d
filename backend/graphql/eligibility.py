"""GraphQL: eligibility checks (270/271) for group psychotherapy, per member.

The front desk and billing queue a check (`checkEligibility`: the worker sends the 270; the 271 arrives
later and may put the member on administrative hold, see backend.billing.eligibility_checks); they and
clinicians read the member's check history.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from sqlalchemy import select

from backend.billing.eligibility_checks import CheckReason, request_check
from backend.billing.models import EligibilityCheck
from backend.clients.models import Client, ClientCoverage, current_primary
from backend.errors import FieldProblem
from backend.graphql.access import allow
from backend.graphql.context import Context
from backend.graphql.errors import BadRequest, InvalidInput, NotFound
from backend.graphql.relay import parse_id
from backend.graphql.transactions import Atomic

MAX_CHECKS = 100


@strawberry.enum(name="EligibilityStatus")
class EligibilityStatus(enum.Enum):
    PENDING = "pending"  # the 270 is sent, no 271 yet
    ACTIVE = "active"
    INACTIVE = "inactive"  # coverage inactive, mental health not covered, or no visits left
    UNKNOWN = "unknown"  # the payer rejected the inquiry, or it could not be sent (see messages)


@strawberry.type(name="EligibilityCheck")
class EligibilityCheckType:
    """One 270 sent about the member's primary coverage and the 271's answer for group psychotherapy."""

    id: strawberry.ID
    client_id: strawberry.ID
    coverage_id: strawberry.ID
    payer_name: str
    status: EligibilityStatus
    copay: Decimal | None = strawberry.field(description="Copay per group psychotherapy visit")
    visit_limit: int | None = strawberry.field(description="Visits a benefit period; null: none stated")
    messages: list[str] = strawberry.field(description="Why this status, for a biller (no PHI)")
    requested_at: datetime
    responded_at: datetime | None

    @classmethod
    def of(cls, c: EligibilityCheck, payer_name: str) -> EligibilityCheckType:
        return cls(
            id=strawberry.ID(str(c.id)),
            client_id=strawberry.ID(str(c.client_id)),
            coverage_id=strawberry.ID(str(c.coverage_id)),
            payer_name=payer_name,
            status=EligibilityStatus(c.status),
            copay=c.copay,
            visit_limit=c.visit_limit,
            messages=list(c.messages),
            requested_at=c.requested_at,
            responded_at=c.responded_at,
        )


@strawberry.type
class EligibilityCheckQueued:
    """The check is queued: it appears in `eligibilityChecks` under `checkId` once the 270 is sent."""

    check_id: strawberry.ID
    client_id: strawberry.ID


CheckEligibilityResult = Annotated[
    EligibilityCheckQueued | InvalidInput | NotFound, strawberry.union("CheckEligibilityResult")
]


@strawberry.type
class EligibilityQueries:
    @strawberry.field(permission_classes=[allow("eligibility", "read")])
    async def eligibility_checks(
        self, info: strawberry.Info[Context, Any], client_id: strawberry.ID
    ) -> list[EligibilityCheckType]:
        """The member's eligibility checks, latest first (at most 100)."""
        context = info.context
        cid = parse_id(client_id, "clientId", in_input=False)
        if await context.session.get(Client, cid) is None:
            raise BadRequest("clientId", "does not name a client in this clinic")
        rows = await context.session.execute(
            select(EligibilityCheck, ClientCoverage.payer_name)
            .join(ClientCoverage, ClientCoverage.id == EligibilityCheck.coverage_id)
            .where(EligibilityCheck.client_id == cid)
            .order_by(EligibilityCheck.requested_at.desc(), EligibilityCheck.id)
            .limit(MAX_CHECKS)
        )
        context.audit("read", "eligibility_check", None, cid)
        return [EligibilityCheckType.of(check, payer) for check, payer in rows]


@strawberry.type
class EligibilityMutations:
    @strawberry.mutation(permission_classes=[allow("eligibility", "check")], extensions=[Atomic()])
    async def check_eligibility(
        self, info: strawberry.Info[Context, Any], client_id: strawberry.ID
    ) -> CheckEligibilityResult:
        """Queue a 270 about the member's primary coverage; the answer updates the check and may hold
        the member's enrollments (coverage inactive)."""
        context = info.context
        session = context.session
        cid = parse_id(client_id, "clientId")
        if await session.get(Client, cid) is None:
            return NotFound.of("clientId")
        coverage = await session.scalar(
            select(ClientCoverage).where(ClientCoverage.client_id == cid, current_primary())
        )
        if coverage is None:
            return InvalidInput.of(
                [FieldProblem("clientId", "no_coverage", "has no primary coverage to check")]
            )
        if coverage.payer_id is None:
            return InvalidInput.of(
                [FieldProblem("clientId", "no_payer", "has a primary coverage with no configured payer")]
            )
        check_id = request_check(session, cid, CheckReason.REQUESTED)
        context.audit("create", "eligibility_check", str(check_id), cid)
        return EligibilityCheckQueued(
            check_id=strawberry.ID(str(check_id)), client_id=strawberry.ID(str(cid))
        )
