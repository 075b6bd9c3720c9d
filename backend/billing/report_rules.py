"""The weekly billing report's derived figures (pure): rates, utilization, revenue at risk, denials.

The store (backend.billing.reports) counts and sums per week in SQL; this module turns those
tallies into the figures a program director reads, so every rule below is testable without a
database. Weeks run Monday to Sunday in the program's time zone.

| Figure                   | Rule                                                                          |
|--------------------------|-------------------------------------------------------------------------------|
| attendance rate          | attended (present, late, left early) / marked (any attendance recorded)       |
| utilization              | the facilitator's groups that week (every program) / their weekly cap         |
| usual charge             | average charge of the week's billed decisions; 0 when nothing was billed     |
| attended but unbilled    | present members without a billed decision, priced at the usual charge        |
| authorizations expiring  | a member's current authorization raising any alert at the week's end         |
|                          | (backend.billing.authorizations: ended, 14 days left, <= 2 sessions left)     |
| administrative holds     | enrollments whose status at the week's end is on_hold_administrative          |
| denial                   | an adjustment other than PR on a denied claim payment, or other than PR and   |
|                          | CO-45 (the contractual fee-schedule reduction) on a partially paid one        |

No figure names a member: counts and money only.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from backend.billing.authorizations import Authorization, AuthorizedService, authorization_alerts
from backend.billing.remittance import Outcome
from backend.enrollment.rules import EnrollmentStatus
from backend.errors import FieldProblem

MAX_WEEKS = 26
ZERO = Decimal("0.00")
CENT = Decimal("0.01")
# Claims that no longer stand for revenue: superseded by a replacement (frequency 7) or voided;
# a void (frequency 8) is itself not revenue.
NOT_REVENUE_STATUSES = frozenset({"replaced", "voided"})
VOID_FREQUENCY = "8"
# An individual-therapy authorization does not cover group sessions (domain guide, Billing).
GROUP_SERVICES = frozenset(AuthorizedService) - {AuthorizedService.INDIVIDUAL_PSYCHOTHERAPY}
PATIENT_RESPONSIBILITY = "PR"
CONTRACTUAL = ("CO", "45")


def period_problems(from_week: date, weeks: int) -> list[FieldProblem]:
    """A report starts on a Monday and covers 1 to MAX_WEEKS weeks."""
    problems = []
    if from_week.weekday() != 0:
        problems.append(FieldProblem("fromWeek", "not_monday", "must be a Monday (weeks run Monday-Sunday)"))
    if not 1 <= weeks <= MAX_WEEKS:
        problems.append(FieldProblem("weeks", "out_of_range", f"must be between 1 and {MAX_WEEKS}"))
    return problems


def week_starts(from_week: date, weeks: int) -> list[date]:
    return [from_week + timedelta(weeks=i) for i in range(weeks)]


def period_bounds(from_week: date, weeks: int, timezone: str) -> tuple[datetime, datetime]:
    """The report's span as UTC instants: local Monday 00:00 to the Monday after the last week."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(from_week, time(), zone)
    end = datetime.combine(from_week + timedelta(weeks=weeks), time(), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def attendance_rate(attended: int, marked: int) -> float | None:
    """Share of recorded marks that are attendances; None when nobody was marked."""
    return round(attended / marked, 4) if marked else None


def utilization(groups: int, cap_per_week: int) -> float | None:
    """Groups facilitated over the weekly cap (above 1.0 means over the cap); None without a cap."""
    return round(groups / cap_per_week, 4) if cap_per_week > 0 else None


def usual_charge(billed_total: Decimal, billed_with_charge: int) -> Decimal:
    """The week's average billed charge (what an unbilled attendance would have been worth)."""
    if billed_with_charge <= 0:
        return ZERO
    return (billed_total / billed_with_charge).quantize(CENT)


def is_denial(outcome: str, group: str, reason: str) -> bool:
    """Whether one CAS adjustment of a claim payment is a denial (see the module table)."""
    if group == PATIENT_RESPONSIBILITY:
        return False  # the patient's share (deductible, copay) is owed, not denied
    if outcome == Outcome.DENIED:
        return True
    return outcome == Outcome.PARTIALLY_PAID and (group, reason) != CONTRACTUAL


@dataclass(frozen=True)
class AdjustmentTally:
    """Adjustments of one group and reason on claim payments of one outcome, within a week."""

    outcome: str
    group: str
    reason: str
    claims: int
    amount: Decimal


@dataclass(frozen=True)
class Denial:
    carc: str  # group and CARC, as "CO-50"
    claims: int
    amount: Decimal


def denials_by_reason(tallies: Iterable[AdjustmentTally]) -> list[Denial]:
    """Denials per group and CARC, largest amount first."""
    claims: dict[str, int] = {}
    amounts: dict[str, Decimal] = {}
    for t in tallies:
        if not is_denial(t.outcome, t.group, t.reason):
            continue
        carc = f"{t.group}-{t.reason}"
        claims[carc] = claims.get(carc, 0) + t.claims
        amounts[carc] = amounts.get(carc, ZERO) + t.amount
    denials = [Denial(c, claims[c], amounts[c].quantize(CENT)) for c in claims]
    return sorted(denials, key=lambda d: (-d.amount, -d.claims, d.carc))


# -- authorizations at risk ---------------------------------------------------------------------


@dataclass(frozen=True)
class EnrolledAuthorization:
    """An authorization of a member enrolled in the program from `enrolled_from` (to `enrolled_until`)."""

    enrolled_from: date
    enrolled_until: date | None
    authorization: Authorization  # `key` and `client_key` set: the store's ids


@dataclass(frozen=True)
class AuthorizationRisk:
    authorizations: int
    members: int


def authorization_risk(candidates: Iterable[EnrolledAuthorization], week_start: date) -> AuthorizationRisk:
    """Members enrolled that week whose current authorization raises an alert at the week's end.

    A member's current authorization for a service is the one started by the week's end that ends
    last, so an expiring authorization already renewed is not at risk. Sessions used are today's
    count (the store keeps no history of it), so for past weeks "sessions left" is as of now.
    """
    week_end = week_start + timedelta(days=6)
    current: dict[tuple[str, str], Authorization] = {}
    for c in candidates:
        auth = c.authorization
        enrolled = c.enrolled_from <= week_end and (
            c.enrolled_until is None or c.enrolled_until >= week_start
        )
        if not enrolled or auth.starts_on > week_end or auth.service not in GROUP_SERVICES:
            continue
        key = (auth.client_key, auth.service)
        held = current.get(key)
        if held is None or (auth.ends_on, auth.starts_on, auth.key) > (
            held.ends_on,
            held.starts_on,
            held.key,
        ):
            current[key] = auth
    alerts = authorization_alerts(current.values(), week_end)
    return AuthorizationRisk(len({a.authorization_key for a in alerts}), len({a.client_key for a in alerts}))


# -- administrative holds -----------------------------------------------------------------------


@dataclass(frozen=True)
class StatusChange:
    effective_on: date
    occurred_at: datetime
    from_status: str | None
    to_status: str


@dataclass(frozen=True)
class EnrollmentHistory:
    starts_on: date
    status: str  # today's
    changes: tuple[StatusChange, ...] = ()


def status_on(history: EnrollmentHistory, day: date) -> str | None:
    """The enrollment's status on `day` from its history; None before it starts.

    The latest change effective by `day` decides; without one, the status the first later change
    left; an enrollment with no recorded history has today's status.
    """
    if history.starts_on > day:
        return None
    ordered = sorted(history.changes, key=lambda c: (c.effective_on, c.occurred_at))
    past = [c for c in ordered if c.effective_on <= day]
    if past:
        return past[-1].to_status
    if ordered:
        return ordered[0].from_status
    return history.status


def administrative_holds(histories: Iterable[EnrollmentHistory], week_start: date) -> int:
    week_end = week_start + timedelta(days=6)
    return sum(1 for h in histories if status_on(h, week_end) == EnrollmentStatus.ON_HOLD_ADMINISTRATIVE)


# -- the week -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FacilitatorTally:
    staff_id: uuid.UUID
    display_name: str
    groups: int  # every program's groups that week (the cap is about total load)
    program_groups: int
    own_cap: int | None  # the staff member's override of the clinic default


@dataclass(frozen=True)
class FacilitatorLoad:
    staff_id: uuid.UUID
    display_name: str
    groups: int
    program_groups: int
    cap_per_week: int
    utilization: float | None


def facilitator_loads(tallies: Iterable[FacilitatorTally], clinic_cap: int) -> list[FacilitatorLoad]:
    """Each facilitator's load against their cap (their own, else the clinic's), busiest first."""
    loads = []
    for t in tallies:
        cap = t.own_cap if t.own_cap is not None else clinic_cap
        loads.append(
            FacilitatorLoad(
                t.staff_id, t.display_name, t.groups, t.program_groups, cap, utilization(t.groups, cap)
            )
        )
    return sorted(loads, key=lambda f: (-(f.utilization or 0.0), f.display_name, str(f.staff_id)))


@dataclass(frozen=True)
class WeekTallies:
    """What the store counted and summed for one week (sessions by their local start)."""

    sessions_held: int = 0
    sessions_cancelled: int = 0
    members_attended: int = 0
    members_marked: int = 0
    members_billed: int = 0
    members_not_billed: int = 0
    not_billed_reasons: Mapping[str, int] | None = None  # reason code -> decisions citing it
    billed_charge_total: Decimal = ZERO
    billed_with_charge: int = 0
    revenue_billed: Decimal = ZERO
    revenue_collected: Decimal = ZERO
    attended_unbilled: int = 0
    adjustments: tuple[AdjustmentTally, ...] = ()
    facilitators: tuple[FacilitatorTally, ...] = ()


@dataclass(frozen=True)
class ReasonCount:
    code: str
    members: int


@dataclass(frozen=True)
class RevenueAtRisk:
    attended_unbilled_members: int
    usual_charge: Decimal
    attended_unbilled_amount: Decimal
    authorizations_expiring: int
    members_with_expiring_authorizations: int
    administrative_holds: int


@dataclass(frozen=True)
class WeekReport:
    week_start: date
    sessions_held: int
    sessions_cancelled: int
    members_billed: int
    members_not_billed: int
    not_billed_by_reason: tuple[ReasonCount, ...]
    revenue_billed: Decimal
    revenue_collected: Decimal
    revenue_at_risk: RevenueAtRisk
    denials: tuple[Denial, ...]
    members_attended: int
    members_marked: int
    attendance_rate: float | None
    facilitators: tuple[FacilitatorLoad, ...]


def week_report(
    week_start: date,
    tallies: WeekTallies,
    *,
    authorizations: AuthorizationRisk,
    holds: int,
    clinic_cap: int,
) -> WeekReport:
    """One week's figures from its tallies."""
    charge = usual_charge(tallies.billed_charge_total, tallies.billed_with_charge)
    reasons = sorted((tallies.not_billed_reasons or {}).items(), key=lambda kv: (-kv[1], kv[0]))
    return WeekReport(
        week_start=week_start,
        sessions_held=tallies.sessions_held,
        sessions_cancelled=tallies.sessions_cancelled,
        members_billed=tallies.members_billed,
        members_not_billed=tallies.members_not_billed,
        not_billed_by_reason=tuple(ReasonCount(code, n) for code, n in reasons),
        revenue_billed=tallies.revenue_billed.quantize(CENT),
        revenue_collected=tallies.revenue_collected.quantize(CENT),
        revenue_at_risk=RevenueAtRisk(
            attended_unbilled_members=tallies.attended_unbilled,
            usual_charge=charge,
            attended_unbilled_amount=(charge * tallies.attended_unbilled).quantize(CENT),
            authorizations_expiring=authorizations.authorizations,
            members_with_expiring_authorizations=authorizations.members,
            administrative_holds=holds,
        ),
        denials=tuple(denials_by_reason(tallies.adjustments)),
        members_attended=tallies.members_attended,
        members_marked=tallies.members_marked,
        attendance_rate=attendance_rate(tallies.members_attended, tallies.members_marked),
        facilitators=tuple(facilitator_loads(tallies.facilitators, clinic_cap)),
    )


@dataclass(frozen=True)
class WaitlistDepth:
    """Entries waiting or holding an offer now (the waitlist keeps no history to rebuild past weeks)."""

    waiting: int
    offered: int

    @property
    def total(self) -> int:
        return self.waiting + self.offered


@dataclass(frozen=True)
class ProgramReport:
    program_id: uuid.UUID
    timezone: str
    weeks: tuple[WeekReport, ...]
    waitlist: WaitlistDepth
