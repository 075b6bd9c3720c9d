"""The weekly billing report as stored: one aggregate query per figure, whatever the span.

Every statement buckets rows by the local week of their session's start
(`date_trunc('week', starts_at AT TIME ZONE <program zone>)`, a Monday) and groups in SQL, so a
report costs the same fixed number of statements for 1 week or 26 and for 10 sessions or 10,000.
The derived figures (rates, utilization, revenue at risk, what counts as a denial) are
backend.billing.report_rules; this module only counts and sums.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, Numeric, Select, and_, cast, column, distinct, func, or_, select, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from backend.billing.authorizations import Authorization as AuthorizationFacts
from backend.billing.authorizations import AuthorizedService
from backend.billing.models import PRIMARY, BillingDecision, Claim, ClaimPayment
from backend.billing.report_rules import (
    NOT_REVENUE_STATUSES,
    VOID_FREQUENCY,
    ZERO,
    AdjustmentTally,
    EnrolledAuthorization,
    EnrollmentHistory,
    FacilitatorTally,
    ProgramReport,
    StatusChange,
    WaitlistDepth,
    WeekTallies,
    administrative_holds,
    authorization_risk,
    period_bounds,
    week_report,
    week_starts,
)
from backend.clients.models import Authorization, ClientCoverage
from backend.clinic.models import ClinicSettings
from backend.documentation.models import BillableEvent
from backend.enrollment.models import Enrollment, EnrollmentEvent, SessionAttendee
from backend.enrollment.rules import ATTENDED
from backend.programs.models import Program
from backend.scheduling.models import GroupSession, SessionFacilitator, SessionStatus
from backend.staff.models import StaffMember
from backend.waitlist.models import WaitlistEntry
from backend.waitlist.rules import WaitlistStatus

Tally = dict[date, dict[str, Any]]
KNOWN_SERVICES = frozenset(s.value for s in AuthorizedService)


def _local_week(tz: str, at: Any) -> ColumnElement[date]:
    """The Monday (program's zone) of the week `at` (timestamptz) falls in."""
    return cast(func.date_trunc("week", func.timezone(tz, at)), Date)


class _Period:
    """The program's sessions in the report's span, with their local week, as a subquery to join."""

    def __init__(self, program_id: uuid.UUID, tz: str, start: datetime, end: datetime) -> None:
        self.program_id, self.tz, self.start, self.end = program_id, tz, start, end
        self.sessions = (
            select(
                GroupSession.id.label("session_id"),
                GroupSession.status.label("status"),
                _local_week(tz, GroupSession.starts_at).label("week"),
            )
            .where(
                GroupSession.program_id == program_id,
                GroupSession.starts_at >= start,
                GroupSession.starts_at < end,
            )
            .subquery("period_sessions")
        )

    def in_span(self) -> ColumnElement[bool]:
        return and_(GroupSession.starts_at >= self.start, GroupSession.starts_at < self.end)


async def _by_week(session: AsyncSession, stmt: Select[Any], names: tuple[str, ...], into: Tally) -> None:
    for row in await session.execute(stmt):
        into[row[0]].update(dict(zip(names, row[1:], strict=True)))


async def _program(session: AsyncSession, program_id: uuid.UUID) -> tuple[str, int, int, int] | None:
    """The program's zone, the clinic's weekly cap and today's waitlist depth, in one statement."""

    def waitlist(status: WaitlistStatus) -> ColumnElement[int]:
        return (
            select(func.count())
            .where(WaitlistEntry.program_id == program_id, WaitlistEntry.status == status)
            .scalar_subquery()
        )

    cap = select(ClinicSettings.max_groups_per_week).where(ClinicSettings.id == 1).scalar_subquery()
    row = (
        await session.execute(
            select(
                Program.timezone, cap, waitlist(WaitlistStatus.WAITING), waitlist(WaitlistStatus.OFFERED)
            ).where(Program.id == program_id)
        )
    ).one_or_none()
    return None if row is None else (row[0], int(row[1]), int(row[2]), int(row[3]))


async def _sessions(session: AsyncSession, p: _Period, into: Tally) -> None:
    s = p.sessions
    stmt = select(
        s.c.week,
        func.count().filter(s.c.status == SessionStatus.COMPLETED),
        func.count().filter(s.c.status == SessionStatus.CANCELLED),
    ).group_by(s.c.week)
    await _by_week(session, stmt, ("sessions_held", "sessions_cancelled"), into)


async def _attendance(session: AsyncSession, p: _Period, into: Tally) -> None:
    s = p.sessions
    stmt = (
        select(
            s.c.week,
            func.count().filter(SessionAttendee.attendance.in_(ATTENDED)),
            func.count(SessionAttendee.attendance),
        )
        .join(SessionAttendee, SessionAttendee.session_id == s.c.session_id)
        .where(s.c.status != SessionStatus.CANCELLED, SessionAttendee.removed_at.is_(None))
        .group_by(s.c.week)
    )
    await _by_week(session, stmt, ("members_attended", "members_marked"), into)


async def _decisions(session: AsyncSession, p: _Period, into: Tally) -> None:
    s, d = p.sessions, BillingDecision
    stmt = (
        select(
            s.c.week,
            func.count().filter(d.billed),
            func.count().filter(~d.billed),
            func.coalesce(func.sum(d.charge).filter(d.billed), ZERO),
            func.count(d.charge).filter(d.billed),
        )
        .join(d, d.session_id == s.c.session_id)
        .group_by(s.c.week)
    )
    names = ("members_billed", "members_not_billed", "billed_charge_total", "billed_with_charge")
    await _by_week(session, stmt, names, into)


async def _not_billed_reasons(session: AsyncSession, p: _Period, into: Tally) -> None:
    s, d = p.sessions, BillingDecision
    reason = func.jsonb_array_elements(d.reasons).table_valued(column("value", JSONB)).lateral("reason")
    code = reason.c.value["code"].astext
    stmt = (
        select(s.c.week, code, func.count(distinct(d.id)))
        .join(d, d.session_id == s.c.session_id)
        .join(reason, true())
        .where(~d.billed)
        .group_by(s.c.week, code)
    )
    for week, reason_code, count in await session.execute(stmt):
        into[week].setdefault("not_billed_reasons", {})[reason_code] = int(count)


async def _revenue(session: AsyncSession, p: _Period, into: Tally) -> None:
    s = p.sessions
    billed = (
        select(s.c.week, func.sum(Claim.total_charge))
        .join(Claim, Claim.session_id == s.c.session_id)
        .where(
            Claim.frequency != VOID_FREQUENCY,
            Claim.status.not_in(NOT_REVENUE_STATUSES),
            Claim.responsibility == PRIMARY,  # a secondary claim bills the same service again
        )
        .group_by(s.c.week)
    )
    await _by_week(session, billed, ("revenue_billed",), into)
    # Payments on any claim of the week count, a replaced original's included: that money came in.
    collected = (
        select(s.c.week, func.sum(ClaimPayment.paid))
        .join(Claim, Claim.session_id == s.c.session_id)
        .join(ClaimPayment, ClaimPayment.claim_id == Claim.id)
        .group_by(s.c.week)
    )
    await _by_week(session, collected, ("revenue_collected",), into)


async def _adjustments(session: AsyncSession, p: _Period, into: Tally) -> None:
    s, cp = p.sessions, ClaimPayment
    adj = func.jsonb_array_elements(cp.adjustments).table_valued(column("value", JSONB)).lateral("adj")
    group, reason = adj.c.value["group"].astext, adj.c.value["reason"].astext
    stmt = (
        select(
            s.c.week,
            cp.outcome,
            group,
            reason,
            func.count(distinct(cp.claim_id)),
            func.sum(cast(adj.c.value["amount"].astext, Numeric(12, 2))),
        )
        .join(Claim, Claim.session_id == s.c.session_id)
        .join(cp, cp.claim_id == Claim.id)
        .join(adj, true())
        .group_by(s.c.week, cp.outcome, group, reason)
    )
    for week, outcome, g, r, claims, amount in await session.execute(stmt):
        tally = AdjustmentTally(outcome, g, r, int(claims), amount or ZERO)
        into[week].setdefault("adjustments", []).append(tally)


async def _attended_unbilled(session: AsyncSession, p: _Period, into: Tally) -> None:
    """Present members of closed sessions (billable events) with no billed decision (yet)."""
    s, e, d = p.sessions, BillableEvent, BillingDecision
    stmt = (
        select(s.c.week, func.count())
        .join(e, e.session_id == s.c.session_id)
        .outerjoin(d, and_(d.session_id == e.session_id, d.client_id == e.client_id))
        .where(or_(d.id.is_(None), ~d.billed))
        .group_by(s.c.week)
    )
    await _by_week(session, stmt, ("attended_unbilled",), into)


async def _facilitators(session: AsyncSession, p: _Period, into: Tally) -> None:
    """Everyone who facilitated this program that week, with their load across every program."""
    f, g = SessionFacilitator, GroupSession
    ours = (
        select(f.staff_id)
        .join(g, g.id == f.session_id)
        .where(g.program_id == p.program_id, p.in_span(), g.status != SessionStatus.CANCELLED)
    )
    load = (
        select(
            f.staff_id.label("staff_id"),
            (g.program_id == p.program_id).label("ours"),
            _local_week(p.tz, g.starts_at).label("week"),
        )
        .join(g, g.id == f.session_id)
        .where(f.staff_id.in_(ours), p.in_span(), g.status != SessionStatus.CANCELLED)
        .subquery("facilitator_load")
    )
    staff = StaffMember
    stmt = (
        select(
            load.c.week,
            staff.id,
            staff.display_name,
            staff.max_groups_per_week,
            func.count(),
            func.count().filter(load.c.ours),
        )
        .join(staff, staff.id == load.c.staff_id)
        .group_by(load.c.week, staff.id, staff.display_name, staff.max_groups_per_week)
        .having(func.count().filter(load.c.ours) > 0)
    )
    for week, staff_id, name, own_cap, groups, ours_count in await session.execute(stmt):
        tally = FacilitatorTally(staff_id, name, int(groups), int(ours_count), own_cap)
        into[week].setdefault("facilitators", []).append(tally)


async def _authorizations(
    session: AsyncSession, program_id: uuid.UUID, first: date, last: date
) -> list[EnrolledAuthorization]:
    """Authorizations of members enrolled at some point in the span (one row each, ids only)."""
    e, a = Enrollment, Authorization
    stmt = (
        select(
            e.starts_on,
            e.ends_on,
            a.id,
            a.client_id,
            a.service,
            a.sessions_authorized,
            a.sessions_used,
            a.starts_on,
            a.ends_on,
        )
        .join(a, a.client_id == e.client_id)
        # Under a current coverage: one replaced by another payer's keeps its authorizations as history.
        .join(ClientCoverage, and_(ClientCoverage.id == a.coverage_id, ClientCoverage.ended_at.is_(None)))
        .where(
            e.program_id == program_id,
            e.starts_on <= last,
            or_(e.ends_on.is_(None), e.ends_on >= first),
            a.starts_on <= last,
        )
    )
    candidates = []
    for (
        enrolled_from,
        enrolled_until,
        auth_id,
        client_id,
        service,
        authorized,
        used,
        starts,
        ends,
    ) in await session.execute(stmt):
        if service not in KNOWN_SERVICES:
            continue  # a service this version does not know is not group psychotherapy
        facts = AuthorizationFacts(
            sessions_authorized=authorized,
            sessions_used=used,
            starts_on=starts,
            ends_on=ends,
            service=AuthorizedService(service),
            key=str(auth_id),
            client_key=str(client_id),
        )
        candidates.append(EnrolledAuthorization(enrolled_from, enrolled_until, facts))
    return candidates


async def _enrollments(
    session: AsyncSession, program_id: uuid.UUID, first: date, last: date
) -> list[EnrollmentHistory]:
    """The program's enrollments open at some point in the span, each with its status history."""
    e, ev = Enrollment, EnrollmentEvent
    stmt = (
        select(e.id, e.starts_on, e.status, ev.effective_on, ev.occurred_at, ev.from_status, ev.to_status)
        .outerjoin(ev, ev.enrollment_id == e.id)
        .where(e.program_id == program_id, e.starts_on <= last, or_(e.ends_on.is_(None), e.ends_on >= first))
    )
    starts: dict[uuid.UUID, tuple[date, str]] = {}
    changes: dict[uuid.UUID, list[StatusChange]] = defaultdict(list)
    for (
        enrollment_id,
        starts_on,
        status,
        effective_on,
        occurred_at,
        from_status,
        to_status,
    ) in await session.execute(stmt):
        starts[enrollment_id] = (starts_on, str(status))
        if effective_on is not None:
            changes[enrollment_id].append(StatusChange(effective_on, occurred_at, from_status, to_status))
    return [EnrollmentHistory(s, status, tuple(changes[i])) for i, (s, status) in starts.items()]


WEEKLY: tuple[Callable[[AsyncSession, _Period, Tally], Any], ...] = (
    _sessions,
    _attendance,
    _decisions,
    _not_billed_reasons,
    _revenue,
    _adjustments,
    _attended_unbilled,
    _facilitators,
)


async def program_report(
    session: AsyncSession, program_id: uuid.UUID, from_week: date, weeks: int
) -> ProgramReport | None:
    """The program's weekly billing figures from `from_week` (a Monday); None for an unknown program."""
    found = await _program(session, program_id)
    if found is None:
        return None
    tz, clinic_cap, waiting, offered = found
    start, end = period_bounds(from_week, weeks, tz)
    period = _Period(program_id, tz, start, end)
    tallies: Tally = defaultdict(dict)
    for query in WEEKLY:
        await query(session, period, tallies)
    mondays = week_starts(from_week, weeks)
    last_day = mondays[-1] + timedelta(days=6)
    auths = await _authorizations(session, program_id, from_week, last_day)
    histories = await _enrollments(session, program_id, from_week, last_day)
    reports = []
    for monday in mondays:
        raw = tallies.get(monday, {})
        week = WeekTallies(
            **{k: v for k, v in raw.items() if k not in ("adjustments", "facilitators")},
            adjustments=tuple(raw.get("adjustments", ())),
            facilitators=tuple(raw.get("facilitators", ())),
        )
        reports.append(
            week_report(
                monday,
                week,
                authorizations=authorization_risk(auths, monday),
                holds=administrative_holds(histories, monday),
                clinic_cap=clinic_cap,
            )
        )
    return ProgramReport(program_id, tz, tuple(reports), WaitlistDepth(waiting, offered))
