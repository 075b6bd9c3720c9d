"""GraphQL: payers' prior authorizations per member, and coverages' yearly visit caps.

Authorizations are read by clinical, front-desk and billing roles (the brief flags expiry before the
session) and recorded by the front desk and billing; the visit cap is a field of the coverage, so it is
changed under the coverage rule. Rules for valid input: backend.clients.authorization_rules.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import strawberry
from sqlalchemy import select

from backend.billing.authorizations import AuthorizedService, forecast
from backend.clients.authorization_rules import (
    AuthorizationDraft,
    authorization_problems,
    expiring_soon,
    remaining,
    visit_cap_problems,
)
from backend.clients.models import Authorization, Client, ClientCoverage
from backend.clients.rules import COVERAGE_ENDED
from backend.clinic.store import clinic_settings, clinic_today
from backend.database import utcnow
from backend.documentation.brief import VisitCap, visit_caps
from backend.enrollment.models import SessionAttendee
from backend.graphql.access import allow
from backend.graphql.clients_types import CoveragePriorityEnum
from backend.graphql.context import Context
from backend.graphql.errors import BadRequest, InvalidInput, NotFound
from backend.graphql.relay import parse_id
from backend.graphql.transactions import Atomic
from backend.programs.models import Program
from backend.scheduling.models import GroupSession, SessionStatus

AuthorizedServiceEnum = strawberry.enum(AuthorizedService, name="AuthorizedService")


@strawberry.type
class AuthorizationForecast:
    lasts: bool
    shortfall_sessions: int = strawberry.field(description="Scheduled sessions it does not cover")
    runs_out_on: date | None = strawberry.field(description="The first scheduled session it does not cover")
    reason: str = strawberry.field(description="lasts | expires | exhausted | not_started")
    message: str


@strawberry.type(name="Authorization")
class AuthorizationType:
    """A payer's authorization of N sessions (IOP/PHP: days) of one service between two dates for one
    member."""

    id: strawberry.ID
    client_id: strawberry.ID
    coverage_id: strawberry.ID
    payer_name: str
    reference: str
    service: str = strawberry.field(description="The AuthorizedService value, lower case")
    sessions_authorized: int
    sessions_used: int
    remaining: int
    starts_on: date
    ends_on: date
    active: bool = strawberry.field(description="In force today (clinic time) under a current coverage")
    coverage_ended: bool = strawberry.field(
        description="Its coverage was replaced by another payer's: kept as history, never billed again"
    )
    expiring_soon: bool = strawberry.field(description="Active, and ends within 14 days or 2 or fewer left")
    created_at: datetime
    forecast: AuthorizationForecast = strawberry.field(
        description="Whether it lasts through the member's scheduled sessions until their series ends"
    )

    @classmethod
    def of(
        cls,
        a: Authorization,
        coverage: ClientCoverage,
        today: date,
        upcoming: list[date],
        series_end: date | None,
    ) -> AuthorizationType:
        left = remaining(a.sessions_authorized, a.sessions_used)
        ended = coverage.ended_at is not None
        active = not ended and a.starts_on <= today <= a.ends_on
        outlook = forecast(left, upcoming, a.ends_on, series_end, starts_on=a.starts_on)
        return cls(
            id=strawberry.ID(str(a.id)),
            client_id=strawberry.ID(str(a.client_id)),
            coverage_id=strawberry.ID(str(a.coverage_id)),
            payer_name=coverage.payer_name,
            reference=a.reference,
            service=a.service,
            sessions_authorized=a.sessions_authorized,
            sessions_used=a.sessions_used,
            remaining=left,
            starts_on=a.starts_on,
            ends_on=a.ends_on,
            active=active,
            coverage_ended=ended,
            expiring_soon=active and expiring_soon(left, a.ends_on, today),
            created_at=a.created_at,
            forecast=AuthorizationForecast(
                lasts=outlook.lasts,
                shortfall_sessions=outlook.shortfall_sessions,
                runs_out_on=outlook.runs_out_on,
                reason=outlook.reason,
                message=outlook.message,
            ),
        )


@strawberry.type(name="CoverageVisitCap")
class CoverageVisitCapType:
    coverage_id: strawberry.ID
    client_id: strawberry.ID
    priority: CoveragePriorityEnum  # type: ignore[valid-type]
    payer_name: str
    visit_cap: int | None = strawberry.field(description="Visits a calendar year the plan pays; null: no cap")
    visits_used_this_year: int

    @classmethod
    def of(cls, c: VisitCap) -> CoverageVisitCapType:
        return cls(
            coverage_id=strawberry.ID(str(c.coverage_id)),
            client_id=strawberry.ID(str(c.client_id)),
            priority=c.priority,
            payer_name=c.payer_name,
            visit_cap=c.visit_cap,
            visits_used_this_year=c.visits_used,
        )


@strawberry.input
class AddAuthorizationInput:
    client_id: strawberry.ID
    coverage_id: strawberry.ID
    reference: str = strawberry.field(description="The payer's authorization number")
    sessions_authorized: int = strawberry.field(
        description="Sessions authorized; for intensive outpatient and partial hospitalization, days"
    )
    starts_on: date
    ends_on: date
    service: AuthorizedServiceEnum = strawberry.field(  # type: ignore[valid-type]
        default=AuthorizedService.GROUP_PSYCHOTHERAPY,
        description="What the payer authorized: a session bills only under its own service's authorization",
    )


@strawberry.type
class AuthorizationAdded:
    authorization: AuthorizationType


@strawberry.type
class VisitCapSet:
    coverage: CoverageVisitCapType


AddAuthorizationResult = Annotated[
    AuthorizationAdded | InvalidInput | NotFound, strawberry.union("AddAuthorizationResult")
]
SetVisitCapResult = Annotated[VisitCapSet | InvalidInput | NotFound, strawberry.union("SetVisitCapResult")]


async def _require_client(context: Context, client_id: uuid.UUID) -> None:
    if await context.session.get(Client, client_id) is None:
        raise BadRequest("clientId", "does not name a client in this clinic")


async def _upcoming_sessions(context: Context, client_id: uuid.UUID) -> tuple[list[date], date | None]:
    """The member's scheduled sessions from now (dates) and the latest end of their programs' series."""
    rows = await context.session.execute(
        select(GroupSession.starts_at, Program.ends_on)
        .join(SessionAttendee, SessionAttendee.session_id == GroupSession.id)
        .outerjoin(Program, Program.id == GroupSession.program_id)
        .where(
            SessionAttendee.client_id == client_id,
            GroupSession.status == SessionStatus.SCHEDULED,
            GroupSession.starts_at >= utcnow(),
        )
    )
    found = list(rows)
    zone = ZoneInfo((await clinic_settings(context.session)).timezone)
    ends = [e for _, e in found if e is not None]
    # An open-ended program (no end) means the series end is unknown: forecast over all scheduled sessions.
    series_end = max(ends) if ends and len(ends) == len(found) else None
    return [s.astimezone(zone).date() for s, _ in found], series_end


@strawberry.type
class AuthorizationQueries:
    @strawberry.field(permission_classes=[allow("authorization", "read")])
    async def authorizations(
        self, info: strawberry.Info[Context, Any], client_id: strawberry.ID
    ) -> list[AuthorizationType]:
        """The member's authorizations, latest ending first."""
        context = info.context
        cid = parse_id(client_id, "clientId", in_input=False)
        await _require_client(context, cid)
        rows = await context.session.execute(
            select(Authorization, ClientCoverage)
            .join(ClientCoverage, ClientCoverage.id == Authorization.coverage_id)
            .where(Authorization.client_id == cid)
            .order_by(Authorization.ends_on.desc(), Authorization.created_at.desc())
        )
        today = await clinic_today(context.session)
        upcoming, series_end = await _upcoming_sessions(context, cid)
        context.audit("read", "authorization", None, cid)
        return [AuthorizationType.of(a, coverage, today, upcoming, series_end) for a, coverage in rows]

    @strawberry.field(permission_classes=[allow("coverage", "read")])
    async def coverage_visit_caps(
        self, info: strawberry.Info[Context, Any], client_id: strawberry.ID
    ) -> list[CoverageVisitCapType]:
        """Each coverage of the member with its yearly visit cap and the visits billed this year."""
        context = info.context
        cid = parse_id(client_id, "clientId", in_input=False)
        await _require_client(context, cid)
        caps = await visit_caps(
            context.session, [cid], await clinic_today(context.session), primary_only=False
        )
        context.audit("read", "coverage", None, cid)
        return [CoverageVisitCapType.of(c) for c in caps]


@strawberry.type
class AuthorizationMutations:
    @strawberry.mutation(permission_classes=[allow("authorization", "manage")], extensions=[Atomic()])
    async def add_authorization(
        self, info: strawberry.Info[Context, Any], input: AddAuthorizationInput
    ) -> AddAuthorizationResult:
        """Record a payer's authorization for the member, under one of the member's coverages."""
        context = info.context
        session = context.session
        client_id = parse_id(input.client_id, "clientId")
        if await session.get(Client, client_id) is None:
            return NotFound.of("clientId")
        coverage_id = parse_id(input.coverage_id, "coverageId")
        coverage = await session.get(ClientCoverage, coverage_id)
        draft = AuthorizationDraft(
            client_id=client_id,
            coverage_id=coverage_id,
            reference=input.reference,
            sessions_authorized=input.sessions_authorized,
            starts_on=input.starts_on,
            ends_on=input.ends_on,
        )
        problems = authorization_problems(
            draft,
            coverage.client_id if coverage else None,
            coverage is not None and coverage.ended_at is not None,
        )
        if problems:
            return InvalidInput.of(problems)
        assert coverage is not None
        row = Authorization(
            id=uuid.uuid4(),
            client_id=client_id,
            coverage_id=coverage_id,
            reference=draft.reference.strip(),
            sessions_authorized=draft.sessions_authorized,
            service=AuthorizedService(input.service).value,
            sessions_used=0,
            starts_on=draft.starts_on,
            ends_on=draft.ends_on,
        )
        session.add(row)
        await session.flush()
        context.audit("create", "authorization", str(row.id), client_id)
        today = await clinic_today(session)
        upcoming, series_end = await _upcoming_sessions(context, client_id)
        added = AuthorizationType.of(row, coverage, today, upcoming, series_end)
        return AuthorizationAdded(authorization=added)

    @strawberry.mutation(permission_classes=[allow("coverage", "manage")], extensions=[Atomic()])
    async def set_coverage_visit_cap(
        self, info: strawberry.Info[Context, Any], coverage_id: strawberry.ID, visit_cap: int | None = None
    ) -> SetVisitCapResult:
        """Set the coverage's yearly visit cap, or clear it with null (no cap)."""
        context = info.context
        session = context.session
        coverage = await session.get(ClientCoverage, parse_id(coverage_id, "coverageId"))
        if coverage is None:
            return NotFound.of("coverageId")
        problems = visit_cap_problems(visit_cap) + ([COVERAGE_ENDED] if coverage.ended_at else [])
        if problems:
            return InvalidInput.of(problems)
        coverage.visit_cap = visit_cap
        await session.flush()
        context.audit("update", "coverage", str(coverage.id), coverage.client_id)
        caps = await visit_caps(
            session, [coverage.client_id], await clinic_today(session), primary_only=False
        )
        return VisitCapSet(
            coverage=CoverageVisitCapType.of(next(c for c in caps if c.coverage_id == coverage.id))
        )
