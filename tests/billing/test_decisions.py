"""The per-member billing decision for one group session: billed how, or not billed why."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from backend.billing.authorizations import Authorization, AuthorizedService
from backend.billing.decisions import (
    Coverage,
    Decision,
    Eligibility,
    MemberFacts,
    ProgramKind,
    SessionFacts,
    decide_session,
)
from backend.billing.payer_rules import (
    MEDICARE_IOP_CODE,
    LevelOfCare,
    PayerRules,
    RuleVersion,
    TelehealthPos,
    rules_in_force,
)
from backend.enrollment.rules import Attendance, EnrollmentStatus

DAY = date(2024, 3, 12)

# Payer A: a Medicaid-like plan (HQ group modifier, credential modifiers, one group visit a day).
PAYER_A = PayerRules(
    group_size_cap=12,
    min_minutes_attended=45,
    min_session_minutes=60,
    group_modifier="HQ",
    credential_modifiers={"PSYD": "AH", "LCSW": "AJ", "LPC": "HO", "BA": "HN"},
    telehealth_pos=TelehealthPos.BY_LOCATION,
    telehealth_modifier="95",
    one_group_visit_per_day=True,
    fee_schedule={"90853": Decimal("45.00"), "90849": Decimal("55.00")},
)
# Payer B: a commercial plan (no HQ, no credential modifiers, 59 on a second group visit that day).
PAYER_B = PayerRules(
    group_size_cap=10,
    telehealth_pos=TelehealthPos.NOT_AT_HOME,
    telehealth_modifier="GT",
    one_group_visit_per_day=False,
    distinct_service_modifier="59",
    fee_schedule={"90853": Decimal("60"), "90849": Decimal("70.00")},
)
PAYERS = {"A": PAYER_A, "B": PAYER_B}


def rules_of(payers: Mapping[str, PayerRules]) -> Callable[[str], PayerRules | None]:
    return payers.get


def session(**changes: object) -> SessionFacts:
    base = SessionFacts(session_id="s1", service_date=DAY, minutes=90, rendering_credentials=("LCSW",))
    return replace(base, **changes)  # type: ignore[arg-type]


def member(key: str, payer: str = "A", **changes: object) -> MemberFacts:
    base = MemberFacts(
        client_key=key,
        attendance=Attendance.PRESENT,
        minutes_attended=90,
        enrollment_status=EnrollmentStatus.ACTIVE,
        diagnoses=("F33.1",),
        coverage=Coverage(payer, f"MBR-{key}"),
        eligibility=Eligibility.ACTIVE,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def roster(count: int, payer: str = "A") -> list[MemberFacts]:
    return [member(f"m{i}", payer) for i in range(1, count + 1)]


def by_key(decisions: list[Decision]) -> dict[str, Decision]:
    return {d.client_key: d for d in decisions}


def test_eight_member_session_with_one_no_show_bills_exactly_seven() -> None:
    """Eight on the roster, one no-show, two payers: seven billed with each payer's own modifiers."""
    members = [
        member("m1", "A"),
        member("m2", "A"),
        member("m3", "B"),
        member("m4", "B"),
        member("m5", "A", attendance=Attendance.LATE, minutes_attended=75),
        member("m6", "B", attendance=Attendance.LEFT_EARLY, minutes_attended=60),
        member("m7", "A"),
        member("m8", "B", attendance=Attendance.NO_SHOW, minutes_attended=0),
    ]
    # The billing facilitator is an LCSW; a co-facilitator (PsyD) does not change the claim.
    facts = session(rendering_credentials=("LCSW",), group_visits_same_day={"m4": 1})

    decisions = decide_session(facts, members, rules_of(PAYERS))

    assert [d.client_key for d in decisions] == [f"m{i}" for i in range(1, 9)]
    billed = [d for d in decisions if d.billed]
    assert len(billed) == 7
    d = by_key(decisions)
    assert d["m8"].billed is False and d["m8"].reason_codes == ("absent",)
    for key in ("m1", "m2", "m5", "m7"):
        assert (d[key].payer_id, d[key].code, d[key].modifiers) == ("A", "90853", ("HQ", "AJ"))
        assert (d[key].place_of_service, d[key].units, d[key].charge) == ("11", 1, Decimal("45.00"))
    assert (d["m3"].payer_id, d["m3"].modifiers, d["m3"].charge) == ("B", (), Decimal("60.00"))
    assert d["m4"].modifiers == ("59",)  # a second group visit that day: distinct service
    assert d["m6"].place_of_service == "11"


def test_absent_members_are_never_billed_whatever_else_is_true() -> None:
    """No-show, late cancel and excused members get only the reason "absent"."""
    members = [
        *roster(3),
        member("nos", attendance=Attendance.NO_SHOW, minutes_attended=0),
        member("lc", attendance=Attendance.LATE_CANCEL, minutes_attended=0, diagnoses=()),
        member("exc", attendance=Attendance.EXCUSED, minutes_attended=0, coverage=None),
    ]
    d = by_key(decide_session(session(), members, rules_of(PAYERS)))
    for key in ("nos", "lc", "exc"):
        assert d[key].billed is False
        assert d[key].reason_codes == ("absent",)
        assert d[key].code is None and d[key].charge is None


def test_one_patient_present_bills_nobody_as_group() -> None:
    """A session where only one patient came is not group psychotherapy: too_few_present."""
    members = [member("m1"), member("m2", attendance=Attendance.NO_SHOW, minutes_attended=0)]
    d = by_key(decide_session(session(), members, rules_of(PAYERS)))
    assert d["m1"].billed is False
    assert "too_few_present" in d["m1"].reason_codes
    assert d["m2"].reason_codes == ("absent",)


def test_an_iop_day_is_billed_per_diem_with_one_member_present_or_psychoeducation_only() -> None:
    """IOP is per diem, not group psychotherapy: the only member present that day is billed (S9480),
    as is a psychoeducation-only day; the absent member is still not."""
    rules = replace(PAYER_A, fee_schedule={"S9480": Decimal("250.00")})
    members = [member("m1"), member("m2", attendance=Attendance.NO_SHOW, minutes_attended=0)]
    for psychotherapy in (True, False):
        day = session(level_of_care=LevelOfCare.IOP, psychotherapy=psychotherapy)
        d = by_key(decide_session(day, members, rules_of({"A": rules})))
        assert (d["m1"].billed, d["m1"].code) == (True, "S9480"), d["m1"].reason_codes
        assert d["m2"].reason_codes == ("absent",)


def test_a_payer_may_require_more_than_two_present() -> None:
    """A payer minimum of 3 present stops a 2-patient session for its members only."""
    strict = replace(PAYER_B, min_patients_present=3)
    members = [member("m1", "A"), member("m2", "B")]
    d = by_key(decide_session(session(), members, rules_of({"A": PAYER_A, "B": strict})))
    assert d["m1"].billed is True
    assert d["m2"].reason_codes == ("too_few_present",)


def test_a_group_over_the_payers_cap_is_not_billed_for_that_payer() -> None:
    """Thirteen present against a cap of 12: every present member of that payer gets group_over_cap."""
    decisions = decide_session(session(), roster(13), rules_of(PAYERS))
    assert len(decisions) == 13
    assert all(not d.billed and d.reason_codes == ("group_over_cap",) for d in decisions)


def test_a_group_exactly_at_the_cap_is_billed() -> None:
    """Twelve present against a cap of 12 is within the cap: all twelve billed."""
    decisions = decide_session(session(), roster(12), rules_of(PAYERS))
    assert sum(d.billed for d in decisions) == 12


def test_present_count_given_by_the_session_counts_patients_outside_the_billed_roster() -> None:
    """When the session says 11 patients were in the room, payer B's cap of 10 is exceeded."""
    d = by_key(
        decide_session(session(present_count=11), [member("m1", "B"), member("m2", "A")], rules_of(PAYERS))
    )
    assert d["m1"].reason_codes == ("group_over_cap",)
    assert d["m2"].billed is True


def test_multi_family_group_bills_90849_under_its_own_cap() -> None:
    """A multiple-family group of 14 bills 90849 (cap 24), though 14 exceeds the group cap of 12."""
    decisions = decide_session(session(program_kind=ProgramKind.MULTI_FAMILY), roster(14), rules_of(PAYERS))
    assert all(d.billed for d in decisions)
    assert {(d.code, d.charge) for d in decisions} == {("90849", Decimal("55.00"))}


def test_a_late_member_under_the_minimum_minutes_is_not_billed() -> None:
    """Late with 30 of the payer's 45 minutes: minutes_under_minimum; exactly 45 and the others are billed."""
    members = [
        *roster(3),
        member("late", attendance=Attendance.LATE, minutes_attended=30),
        member("just", attendance=Attendance.LATE, minutes_attended=45),
    ]
    d = by_key(decide_session(session(), members, rules_of(PAYERS)))
    assert d["late"].billed is False
    assert d["late"].reason_codes == ("minutes_under_minimum",)
    assert "30" in d["late"].reasons[0].message and "45" in d["late"].reasons[0].message
    assert all(d[k].billed for k in ("m1", "m2", "m3", "just"))


def test_a_session_shorter_than_the_payers_minimum_is_not_billed() -> None:
    """A 50-minute session against payer A's 60-minute minimum: session_too_short for A only."""
    members = [member("a1", "A", minutes_attended=50), member("b1", "B", minutes_attended=50)]
    d = by_key(decide_session(session(minutes=50), members, rules_of(PAYERS)))
    assert d["a1"].reason_codes == ("session_too_short",)
    assert d["b1"].billed is True


def test_telehealth_at_home_is_pos_10_with_modifier_95() -> None:
    """A by-location payer bills a patient at home with POS 10 and 95 first among the modifiers."""
    facts = session(telehealth=True, patient_at_home=True)
    decisions = decide_session(facts, roster(3), rules_of(PAYERS))
    assert {(d.place_of_service, d.modifiers) for d in decisions} == {("10", ("95", "HQ", "AJ"))}
    assert decisions[0].reasons[-1].message == "telehealth: POS 10 modifier 95"
    assert decisions[0].reasons[-1].blocking is False


def test_telehealth_payer_with_fixed_pos_02_uses_gt() -> None:
    """Payer B always answers POS 02 with GT, wherever the patient is."""
    facts = session(telehealth=True, patient_at_home=True)
    decisions = decide_session(facts, roster(3, "B"), rules_of(PAYERS))
    assert {(d.place_of_service, d.modifiers) for d in decisions} == {("02", ("GT",))}


def test_telehealth_location_is_per_member_when_given() -> None:
    """A member at a clinic site while the others are at home gets POS 02 under a by-location payer."""
    members = [*roster(2), member("site", patient_at_home=False)]
    d = by_key(decide_session(session(telehealth=True, patient_at_home=True), members, rules_of(PAYERS)))
    assert d["m1"].place_of_service == "10"
    assert d["site"].place_of_service == "02"


def test_telehealth_without_a_known_location_is_held_for_a_by_location_payer() -> None:
    """POS 02 and 10 pay differently: an unknown location is a reason, not a guess."""
    decisions = decide_session(session(telehealth=True), roster(2), rules_of(PAYERS))
    assert all(d.reason_codes == ("patient_location_unknown",) for d in decisions)


def test_modifiers_come_in_a_stable_order() -> None:
    """Telehealth, group, credential, then distinct service: 95, HQ, AH, 59."""
    rules = replace(PAYER_A, one_group_visit_per_day=False)
    facts = session(
        telehealth=True,
        patient_at_home=False,
        rendering_credentials=("PSYD",),
        group_visits_same_day={"m1": 1},
    )
    d = by_key(decide_session(facts, roster(2), rules_of({"A": rules})))
    assert d["m1"].modifiers == ("95", "HQ", "AH", "59")
    assert d["m2"].modifiers == ("95", "HQ", "AH")
    assert d["m1"].place_of_service == "02"


def test_a_payer_paying_one_group_visit_a_day_refuses_the_second() -> None:
    """Payer A: a member already billed for a group today gets already_billed_today."""
    facts = session(group_visits_same_day={"m1": 1})
    d = by_key(decide_session(facts, roster(3), rules_of(PAYERS)))
    assert d["m1"].reason_codes == ("already_billed_today",)
    assert d["m2"].billed is True


def test_a_credential_the_payer_has_no_modifier_for_is_not_billed() -> None:
    """Payer A lists credential modifiers; an unlisted credential (a trainee) cannot be billed to it."""
    decisions = decide_session(session(rendering_credentials=("TRAINEE",)), roster(2), rules_of(PAYERS))
    assert all(d.reason_codes == ("credential_not_billable",) for d in decisions)


def test_the_credential_the_payer_pays_decides_whatever_else_the_facilitator_holds() -> None:
    """A licence beside a program credential (DBT) bills with the licence's modifier, in any order."""
    for held in (("DBT", "LCSW"), ("LCSW", "DBT")):
        decisions = decide_session(session(rendering_credentials=held), roster(2), rules_of(PAYERS))
        assert all(d.billed and "AJ" in d.modifiers for d in decisions), held


def test_an_expired_authorization_stops_the_claim() -> None:
    """Authorization required and ended the day before the session: authorization_expired."""
    expired = Authorization(
        sessions_authorized=10, sessions_used=4, starts_on=date(2024, 1, 1), ends_on=date(2024, 3, 11)
    )
    members = [*roster(2), member("x", authorization_required=True, authorization=expired)]
    d = by_key(decide_session(session(), members, rules_of(PAYERS)))
    assert d["x"].reason_codes == ("authorization_expired",)
    assert "2024-03-11" in d["x"].reasons[0].message


def test_authorization_checks_cover_missing_exhausted_and_wrong_service() -> None:
    """No authorization, all sessions used, or an individual-therapy authorization: not billed."""
    valid = Authorization(
        sessions_authorized=8, sessions_used=7, starts_on=date(2024, 1, 1), ends_on=date(2024, 6, 30)
    )
    used_up = replace(valid, sessions_used=8)
    individual = replace(valid, service=AuthorizedService.INDIVIDUAL_PSYCHOTHERAPY)
    members = [
        member("none", authorization_required=True),
        member("used", authorization_required=True, authorization=used_up),
        member("indiv", authorization_required=True, authorization=individual),
        member("ok", authorization_required=True, authorization=valid),
        member("free", authorization_required=False),
    ]
    d = by_key(decide_session(session(), members, rules_of(PAYERS)))
    assert d["none"].reason_codes == ("no_active_authorization",)
    assert d["used"].reason_codes == ("authorization_exhausted",)
    assert d["indiv"].reason_codes == ("no_active_authorization",)
    assert d["ok"].billed is True and d["free"].billed is True


def test_every_blocking_reason_is_listed_not_just_the_first() -> None:
    """A member on hold, without diagnosis and with inactive eligibility gets all three reasons."""
    m = member(
        "x",
        enrollment_status=EnrollmentStatus.ON_HOLD_CLINICAL,
        diagnoses=(),
        eligibility=Eligibility.INACTIVE,
    )
    d = by_key(decide_session(session(), [*roster(2), m], rules_of(PAYERS)))
    assert d["x"].reason_codes == ("on_hold", "no_diagnosis", "eligibility_failed")


def test_coverage_diagnosis_and_consent_problems_each_have_a_reason() -> None:
    """No coverage (or one linked to no payer), an invalid ICD-10-CM code, or no Part 2 consent for
    payment: not billed, said why."""
    members = [
        *roster(2),
        member("nocov", coverage=None),
        member("unlinked", coverage=None, unlinked_coverage=True),
        member("baddx", diagnoses=("depression",)),
        member("part2", part2_payment_consent=False),
        member("admin", enrollment_status=EnrollmentStatus.ON_HOLD_ADMINISTRATIVE),
    ]
    d = by_key(decide_session(session(), members, rules_of(PAYERS)))
    assert d["nocov"].reason_codes == ("no_coverage",)
    assert d["unlinked"].reason_codes == ("coverage_not_linked",), "on file, but to no configured payer"
    assert d["baddx"].reason_codes == ("invalid_diagnosis",)
    assert d["part2"].reason_codes == ("no_part2_consent",)
    assert d["admin"].reason_codes == ("on_hold",)


def test_a_drop_in_without_enrollment_is_billed() -> None:
    """A drop-in (no enrollment) who attended, with coverage and diagnosis, is billed."""
    d = by_key(
        decide_session(session(), [*roster(2), member("drop", enrollment_status=None)], rules_of(PAYERS))
    )
    assert d["drop"].billed is True


def test_unknown_eligibility_bills_with_a_note() -> None:
    """Eligibility not yet verified does not stop the claim but shows as a non-blocking note."""
    d = by_key(
        decide_session(
            session(), [*roster(2), member("u", eligibility=Eligibility.UNKNOWN)], rules_of(PAYERS)
        )
    )
    assert d["u"].billed is True
    assert [(r.code, r.blocking) for r in d["u"].reasons] == [("eligibility_unknown", False)]


def test_psychoeducation_without_psychotherapy_is_not_90853() -> None:
    """A psychoeducation-only session: not_group_psychotherapy for every present member."""
    decisions = decide_session(session(psychotherapy=False), roster(4), rules_of(PAYERS))
    assert all(d.reason_codes == ("not_group_psychotherapy",) for d in decisions)


def test_a_payer_without_a_fee_for_the_code_gives_no_fee() -> None:
    """A payer whose schedule lacks 90849 cannot price a multi-family session: no_fee."""
    no_family = replace(PAYER_B, fee_schedule={"90853": Decimal("60.00")})
    decisions = decide_session(
        session(program_kind=ProgramKind.MULTI_FAMILY), roster(3, "B"), rules_of({"B": no_family})
    )
    assert all(d.reason_codes == ("no_fee",) for d in decisions)


def test_a_payer_without_rules_in_force_gives_a_reason() -> None:
    """Rules that start after the session date leave no rule set in force: no_rules_in_force."""
    versions = {"A": [RuleVersion(date(2024, 4, 1), None, PAYER_A)]}
    decisions = decide_session(
        session(), roster(3), lambda payer: rules_in_force(versions.get(payer, []), DAY)
    )
    assert all(d.reason_codes == ("no_rules_in_force",) for d in decisions)
    assert "2024-03-12" in decisions[0].reasons[0].message


def test_a_mid_month_rule_change_prices_earlier_sessions_by_the_old_version() -> None:
    """Fee raised from 15 March: the 12 March session is priced 45.00, the 19 March one 50.00."""
    raised = replace(PAYER_A, fee_schedule={"90853": Decimal("50.00")})
    versions = [
        RuleVersion(date(2024, 1, 1), date(2024, 3, 14), PAYER_A),
        RuleVersion(date(2024, 3, 15), None, raised),
    ]

    def charges(day: date) -> set[Decimal | None]:
        decisions = decide_session(
            session(service_date=day), roster(3), lambda _payer: rules_in_force(versions, day)
        )
        return {d.charge for d in decisions}

    assert charges(date(2024, 3, 12)) == {Decimal("45.00")}
    assert charges(date(2024, 3, 19)) == {Decimal("50.00")}


def test_an_iop_attendance_carries_revenue_code_and_hcpcs_but_is_priced_per_day() -> None:
    """IOP: S9480 on revenue code 0905, no units or charge on the decision (the weekly 837I sets them)."""
    rules = PayerRules(fee_schedule={"S9480": Decimal("250.00")})
    decisions = decide_session(session(level_of_care=LevelOfCare.IOP), roster(3), rules_of({"A": rules}))
    assert {(d.billed, d.code, d.revenue_code, d.units, d.charge) for d in decisions} == {
        (True, "S9480", "0905", None, None)
    }


def test_medicare_iop_uses_g0410_and_condition_code_92() -> None:
    """A Medicare-style payer maps IOP to 0915/G0410 with condition code 92."""
    rules = PayerRules(
        institutional_codes={LevelOfCare.IOP: MEDICARE_IOP_CODE}, fee_schedule={"G0410": Decimal("90.00")}
    )
    decisions = decide_session(session(level_of_care=LevelOfCare.IOP), roster(2), rules_of({"A": rules}))
    assert {(d.code, d.revenue_code, d.condition_codes) for d in decisions} == {("G0410", "0915", ("92",))}


def test_an_iop_payer_without_a_code_for_the_level_is_not_billed() -> None:
    """A payer with no PHP revenue code cannot bill a PHP attendance: no_institutional_code."""
    rules = PayerRules(institutional_codes={}, fee_schedule={"S0201": Decimal("400.00")})
    decisions = decide_session(
        session(level_of_care=LevelOfCare.PHP_INTENSIVE), roster(2), rules_of({"A": rules})
    )
    assert all(d.reason_codes == ("no_institutional_code",) for d in decisions)


def test_messages_carry_no_member_identifiers_or_diagnoses() -> None:
    """Reasons name codes, counts and dates; never the member's key, member id or diagnoses."""
    m = member("Jane-Doe", diagnoses=("F33.1",), coverage=Coverage("A", "MBR-SECRET"), minutes_attended=10)
    decisions = decide_session(
        session(telehealth=True), [m, member("x", attendance=Attendance.NO_SHOW)], rules_of(PAYERS)
    )
    messages = " ".join(r.message for d in decisions for r in d.reasons)
    assert messages
    for secret in ("Jane", "MBR-SECRET", "F33"):
        assert secret not in messages


def test_a_member_listed_twice_is_a_bug_not_a_second_claim() -> None:
    """The same member twice in one roster raises instead of deciding (and billing) twice."""
    with pytest.raises(ValueError, match="twice"):
        decide_session(session(), [member("m1"), member("m1")], rules_of(PAYERS))
