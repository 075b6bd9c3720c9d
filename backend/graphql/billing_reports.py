"""The weekly billing report through GraphQL: per program and week, counts and money only (no PHI).

Money is the `Decimal` scalar (a string on the wire, e.g. "45.00", never a float).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import strawberry

from backend.billing import report_rules as rules
from backend.billing.reports import program_report
from backend.errors import InputRejected
from backend.graphql.access import allow
from backend.graphql.context import Context
from backend.graphql.errors import InvalidInput, NotFound
from backend.graphql.relay import parse_id


@strawberry.type
class NotBilledReason:
    code: str
    members: int = strawberry.field(
        description="Not-billed decisions citing this reason (one may cite several)."
    )


@strawberry.type
class AuthorizationsExpiring:
    authorizations: int
    members: int


@strawberry.type(description="Money a week's work may not bring in, and the members at risk of it (counts).")
class RevenueAtRisk:
    attended_unbilled_members: int
    usual_charge: Decimal = strawberry.field(description="The week's average billed charge (0 if none).")
    attended_unbilled: Decimal = strawberry.field(description="Attended but unbilled, at the usual charge.")
    authorizations_expiring: AuthorizationsExpiring = strawberry.field(
        description="Current authorizations ended, ending within 14 days of the week's end, or <= 2 left."
    )
    administrative_holds: int = strawberry.field(
        description="Enrollments on administrative hold at week end."
    )


@strawberry.type
class DenialByReason:
    carc: str = strawberry.field(description='Group and claim adjustment reason code, as "CO-50".')
    count: int = strawberry.field(description="Claims denied with this reason.")
    amount: Decimal


@strawberry.type
class FacilitatorUtilization:
    staff_id: strawberry.ID
    display_name: str
    groups: int = strawberry.field(description="Groups that week across every program (what the cap limits).")
    program_groups: int
    cap_per_week: int
    utilization: float | None = strawberry.field(description="groups / capPerWeek; above 1 is over the cap.")


@strawberry.type
class BillingReportWeek:
    week_start: date = strawberry.field(description="The Monday, in the program's time zone.")
    sessions_held: int
    sessions_cancelled: int
    members_billed: int
    members_not_billed: int
    members_not_billed_by_reason: list[NotBilledReason]
    revenue_billed: Decimal = strawberry.field(
        description="Claim totals (replaced and voided claims left out)."
    )
    revenue_collected: Decimal = strawberry.field(description="Payments on the week's claims, whenever paid.")
    revenue_at_risk: RevenueAtRisk
    denials_by_reason: list[DenialByReason]
    members_attended: int
    members_marked: int
    attendance_rate: float | None = strawberry.field(description="membersAttended / membersMarked.")
    facilitator_utilization: list[FacilitatorUtilization]

    @classmethod
    def of(cls, w: rules.WeekReport) -> BillingReportWeek:
        risk = w.revenue_at_risk
        return cls(
            week_start=w.week_start,
            sessions_held=w.sessions_held,
            sessions_cancelled=w.sessions_cancelled,
            members_billed=w.members_billed,
            members_not_billed=w.members_not_billed,
            members_not_billed_by_reason=[
                NotBilledReason(code=r.code, members=r.members) for r in w.not_billed_by_reason
            ],
            revenue_billed=w.revenue_billed,
            revenue_collected=w.revenue_collected,
            revenue_at_risk=RevenueAtRisk(
                attended_unbilled_members=risk.attended_unbilled_members,
                usual_charge=risk.usual_charge,
                attended_unbilled=risk.attended_unbilled_amount,
                authorizations_expiring=AuthorizationsExpiring(
                    authorizations=risk.authorizations_expiring,
                    members=risk.members_with_expiring_authorizations,
                ),
                administrative_holds=risk.administrative_holds,
            ),
            denials_by_reason=[
                DenialByReason(carc=d.carc, count=d.claims, amount=d.amount) for d in w.denials
            ],
            members_attended=w.members_attended,
            members_marked=w.members_marked,
            attendance_rate=w.attendance_rate,
            facilitator_utilization=[
                FacilitatorUtilization(
                    staff_id=strawberry.ID(str(f.staff_id)),
                    display_name=f.display_name,
                    groups=f.groups,
                    program_groups=f.program_groups,
                    cap_per_week=f.cap_per_week,
                    utilization=f.utilization,
                )
                for f in w.facilitators
            ],
        )


@strawberry.type(description="Waiting plus offered entries now: one figure (the waitlist keeps no history).")
class WaitlistDepth:
    waiting: int
    offered: int
    total: int


@strawberry.type
class BillingReport:
    program_id: strawberry.ID
    timezone: str
    weeks: list[BillingReportWeek]
    waitlist_depth: WaitlistDepth


BillingReportResult = Annotated[
    BillingReport | InvalidInput | NotFound, strawberry.union("BillingReportResult")
]


@strawberry.type
class BillingReportQueries:
    @strawberry.field(permission_classes=[allow("billing_report", "read")])
    async def billing_report(
        self, info: strawberry.Info[Context, Any], program_id: strawberry.ID, from_week: date, weeks: int = 4
    ) -> BillingReportResult:
        """The program's billing per week (Monday-Sunday, program's zone) from `fromWeek`, a Monday."""
        problems = rules.period_problems(from_week, weeks)
        try:
            pid = parse_id(program_id, "programId")
        except InputRejected as rejected:
            return InvalidInput.of(rejected.problems + problems)
        if problems:
            return InvalidInput.of(problems)
        report = await program_report(info.context.session, pid, from_week, weeks)
        if report is None:
            return NotFound.of("programId")
        info.context.audit("read", "billing_report", str(pid))
        return BillingReport(
            program_id=strawberry.ID(str(report.program_id)),
            timezone=report.timezone,
            weeks=[BillingReportWeek.of(w) for w in report.weeks],
            waitlist_depth=WaitlistDepth(
                waiting=report.waitlist.waiting, offered=report.waitlist.offered, total=report.waitlist.total
            ),
        )
