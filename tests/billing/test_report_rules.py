"""The weekly billing report's derived figures, over plain values."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from backend.billing.authorizations import Authorization, AuthorizedService
from backend.billing.report_rules import (
    AdjustmentTally,
    AuthorizationRisk,
    Denial,
    EnrolledAuthorization,
    EnrollmentHistory,
    FacilitatorTally,
    StatusChange,
    WeekTallies,
    administrative_holds,
    attendance_rate,
    authorization_risk,
    denials_by_reason,
    facilitator_loads,
    is_denial,
    period_bounds,
    period_problems,
    status_on,
    usual_charge,
    week_report,
    week_starts,
)

MONDAY = date(2026, 3, 2)


def test_a_report_starts_on_a_monday_and_spans_one_to_twenty_six_weeks() -> None:
    """A Tuesday start and 27 weeks are both named; a Monday and 4 weeks pass."""
    assert period_problems(MONDAY, 4) == []
    problems = period_problems(date(2026, 3, 3), 27)
    assert [(p.field, p.code) for p in problems] == [("fromWeek", "not_monday"), ("weeks", "out_of_range")]
    assert [p.code for p in period_problems(MONDAY, 0)] == ["out_of_range"]
    assert week_starts(MONDAY, 3) == [date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16)]


def test_weeks_are_local_mondays_so_the_span_follows_daylight_saving_time() -> None:
    """New York springs forward on 8 March 2026: the span starts at 05:00 UTC and ends at 04:00 UTC."""
    start, end = period_bounds(MONDAY, 2, "America/New_York")
    assert start == datetime(2026, 3, 2, 5, tzinfo=UTC)
    assert end == datetime(2026, 3, 16, 4, tzinfo=UTC)


def test_attendance_rate_is_attended_over_marked_and_absent_when_nobody_was_marked() -> None:
    """4 attended of 6 marked is 0.6667; no marks gives no rate rather than 0."""
    assert attendance_rate(4, 6) == 0.6667
    assert attendance_rate(0, 3) == 0.0
    assert attendance_rate(0, 0) is None


def test_facilitator_utilization_uses_their_own_cap_else_the_clinics_and_can_exceed_one() -> None:
    """A cap-2 co-facilitator with 3 groups is at 1.5 and listed first; the lead at 2 of 12 is 0.1667."""
    lead, co = uuid.uuid4(), uuid.uuid4()
    loads = facilitator_loads(
        [FacilitatorTally(lead, "Lead", 2, 2, None), FacilitatorTally(co, "Co", 3, 1, 2)], clinic_cap=12
    )
    assert [(f.staff_id, f.cap_per_week, f.utilization) for f in loads] == [(co, 2, 1.5), (lead, 12, 0.1667)]


def test_the_usual_charge_is_the_weeks_average_billed_charge_or_zero() -> None:
    """45.00 and 60.00 billed average 52.50; a week with nothing billed prices at 0.00."""
    assert usual_charge(Decimal("105.00"), 2) == Decimal("52.50")
    assert usual_charge(Decimal("100.00"), 3) == Decimal("33.33")
    assert usual_charge(Decimal("0"), 0) == Decimal("0.00")


def test_attended_but_unbilled_members_are_priced_at_the_usual_charge() -> None:
    """Two unbilled attendances in a week billed at 45 and 60 put 105.00 at risk."""
    tallies = WeekTallies(
        members_billed=2,
        billed_charge_total=Decimal("105.00"),
        billed_with_charge=2,
        attended_unbilled=2,
        not_billed_reasons={"absent": 2, "no_active_authorization": 1, "eligibility_unknown": 1},
    )
    week = week_report(MONDAY, tallies, authorizations=AuthorizationRisk(3, 2), holds=1, clinic_cap=12)
    risk = week.revenue_at_risk
    assert (risk.usual_charge, risk.attended_unbilled_amount) == (Decimal("52.50"), Decimal("105.00"))
    assert (risk.authorizations_expiring, risk.members_with_expiring_authorizations) == (3, 2)
    assert risk.administrative_holds == 1
    assert [(r.code, r.members) for r in week.not_billed_by_reason] == [
        ("absent", 2),
        ("eligibility_unknown", 1),
        ("no_active_authorization", 1),
    ]


def test_a_denial_is_what_the_payer_refused_not_the_patients_share_or_the_contractual_reduction() -> None:
    """CO-50 on a denied claim is a denial; PR-2 never is; CO-45 only when the whole claim is denied."""
    assert is_denial("denied", "CO", "50")
    assert not is_denial("denied", "PR", "2")
    assert is_denial("partially_paid", "CO", "97")
    assert not is_denial("partially_paid", "CO", "45")
    assert not is_denial("paid", "CO", "45")
    assert not is_denial("paid", "CO", "50")
    assert not is_denial("reversed", "CO", "50")


def test_denials_are_grouped_by_reason_largest_amount_first() -> None:
    """Two outcomes citing CO-50 merge into one row; contractual and patient-share rows drop out."""
    tallies = [
        AdjustmentTally("denied", "CO", "50", 1, Decimal("60.00")),
        AdjustmentTally("partially_paid", "CO", "50", 2, Decimal("30.00")),
        AdjustmentTally("partially_paid", "CO", "97", 1, Decimal("20.00")),
        AdjustmentTally("partially_paid", "CO", "45", 3, Decimal("15.00")),
        AdjustmentTally("paid", "PR", "2", 4, Decimal("40.00")),
    ]
    assert denials_by_reason(tallies) == [
        Denial("CO-50", 3, Decimal("90.00")),
        Denial("CO-97", 1, Decimal("20.00")),
    ]


def _auth(
    client: str,
    starts: date,
    ends: date,
    authorized: int = 20,
    used: int = 0,
    *,
    service: AuthorizedService = AuthorizedService.GROUP_PSYCHOTHERAPY,
    enrolled_until: date | None = None,
) -> EnrolledAuthorization:
    auth = Authorization(
        sessions_authorized=authorized,
        sessions_used=used,
        starts_on=starts,
        ends_on=ends,
        key=f"{client}-{starts}-{service}",
        client_key=client,
        service=service,
    )
    return EnrolledAuthorization(date(2026, 1, 5), enrolled_until, auth)


def test_an_authorization_ending_within_14_days_of_the_week_end_is_at_risk_that_week_only() -> None:
    """Ending 25 March: 17 days after week 1 ends (safe), 10 days after week 2 ends (at risk)."""
    auths = [_auth("c", date(2026, 1, 1), date(2026, 3, 25))]
    assert authorization_risk(auths, date(2026, 3, 2)) == AuthorizationRisk(0, 0)
    assert authorization_risk(auths, date(2026, 3, 9)) == AuthorizationRisk(1, 1)


def test_two_sessions_left_is_at_risk_and_three_is_not() -> None:
    """Remaining sessions at the running-low threshold (2) raise the flag whatever the end date."""
    low = [_auth("b", date(2026, 1, 1), date(2026, 12, 31), authorized=10, used=8)]
    fine = [_auth("b", date(2026, 1, 1), date(2026, 12, 31), authorized=10, used=7)]
    assert authorization_risk(low, MONDAY) == AuthorizationRisk(1, 1)
    assert authorization_risk(fine, MONDAY) == AuthorizationRisk(0, 0)


def test_a_lapsed_authorization_is_at_risk_until_its_renewal_starts() -> None:
    """Ended 6 March: at risk in the week it lapsed; the renewal starting 9 March covers week 2."""
    auths = [
        _auth("d", date(2026, 1, 1), date(2026, 3, 6)),
        _auth("d", date(2026, 3, 9), date(2026, 9, 30)),
    ]
    assert authorization_risk(auths, date(2026, 3, 2)) == AuthorizationRisk(1, 1)
    assert authorization_risk(auths, date(2026, 3, 9)) == AuthorizationRisk(0, 0)


def test_one_member_can_hold_two_authorizations_at_risk_and_individual_therapy_is_ignored() -> None:
    """Group and IOP both expiring count twice for one member; an individual-therapy one not at all."""
    auths = [
        _auth("b", date(2026, 1, 1), date(2026, 3, 12)),
        _auth("b", date(2026, 1, 1), date(2026, 3, 12), service=AuthorizedService.INTENSIVE_OUTPATIENT),
        _auth("e", date(2026, 1, 1), date(2026, 3, 12), service=AuthorizedService.INDIVIDUAL_PSYCHOTHERAPY),
    ]
    assert authorization_risk(auths, MONDAY) == AuthorizationRisk(2, 1)


def test_a_member_who_left_the_program_before_the_week_is_not_at_risk_in_it() -> None:
    """Enrollment ended 1 March: the expiring authorization is no longer the program's concern."""
    auths = [_auth("x", date(2026, 1, 1), date(2026, 3, 10), enrolled_until=date(2026, 3, 1))]
    assert authorization_risk(auths, MONDAY) == AuthorizationRisk(0, 0)


def _change(on: date, before: str | None, after: str) -> StatusChange:
    return StatusChange(on, datetime(2026, 1, 1, tzinfo=UTC), before, after)


def test_an_administrative_hold_counts_from_the_week_it_takes_effect() -> None:
    """Put on hold 10 March: not held at the end of week 1, held at the end of week 2."""
    held = EnrollmentHistory(
        date(2026, 1, 5),
        "on_hold_administrative",
        (
            _change(date(2026, 1, 5), None, "active"),
            _change(date(2026, 3, 10), "active", "on_hold_administrative"),
        ),
    )
    assert status_on(held, date(2026, 3, 8)) == "active"
    assert status_on(held, date(2026, 1, 4)) is None
    assert administrative_holds([held], date(2026, 3, 2)) == 0
    assert administrative_holds([held], date(2026, 3, 9)) == 1


def test_an_enrollment_without_history_has_todays_status_and_a_later_change_tells_the_earlier_one() -> None:
    """No events: today's status; only a later change: the status it changed from."""
    legacy = EnrollmentHistory(date(2026, 2, 1), "on_hold_administrative")
    later = EnrollmentHistory(
        date(2026, 1, 5), "active", (_change(date(2026, 4, 1), "on_hold_administrative", "active"),)
    )
    assert administrative_holds([legacy, later], MONDAY) == 2
