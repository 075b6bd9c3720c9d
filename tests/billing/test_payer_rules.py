"""Payer rules as data: versions by effective date, validation of what an admin saves, JSON storage."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from backend.billing.payer_rules import (
    MEDICARE_IOP_CODE,
    ClaimFormat,
    InstitutionalCode,
    LevelOfCare,
    PayerRules,
    RuleVersion,
    TelehealthPos,
    rules_as_json,
    rules_from_json,
    rules_in_force,
    version_problems,
)
from backend.errors import FieldProblem

OLD = PayerRules(fee_schedule={"90853": Decimal("45.00")})
NEW = PayerRules(fee_schedule={"90853": Decimal("50.00")})
VERSIONS = [
    RuleVersion(date(2024, 1, 1), date(2024, 3, 14), OLD),
    RuleVersion(date(2024, 3, 15), None, NEW),
]
FULL = PayerRules(
    group_size_cap=12,
    multi_family_size_cap=24,
    min_minutes_attended=45,
    min_session_minutes=60,
    min_patients_present=3,
    telehealth_pos=TelehealthPos.AT_HOME,
    telehealth_modifier="GT",
    group_modifier="HQ",
    credential_modifiers={"PSYD": "AH", "LCSW": "AJ", "LPC": "HO", "BA": "HN"},
    one_group_visit_per_day=True,
    distinct_service_modifier="59",
    fee_schedule={"90853": Decimal("45.10"), "90849": Decimal("55"), "G0410": Decimal("90.00")},
    institutional_codes={LevelOfCare.IOP: MEDICARE_IOP_CODE},
    per_diem=True,
    per_diem_rate=Decimal("310.50"),
    claim_format=ClaimFormat.INSTITUTIONAL,
    iop_min_weekly_hours=10,
    php_min_weekly_hours=22,
)


def codes(problems: list[FieldProblem]) -> list[tuple[str, str]]:
    return [(p.field, p.code) for p in problems]


def test_a_mid_month_change_prices_earlier_dates_by_the_old_version() -> None:
    """14 March is the old version's last day; 15 March starts the new one."""
    assert rules_in_force(VERSIONS, date(2024, 3, 14)) is OLD
    assert rules_in_force(VERSIONS, date(2024, 3, 15)) is NEW
    assert rules_in_force(VERSIONS, date(2030, 1, 1)) is NEW


def test_no_version_in_force_answers_none() -> None:
    """Before the first version, or after a closed last one, there are no rules in force."""
    assert rules_in_force(VERSIONS, date(2023, 12, 31)) is None
    closed = [RuleVersion(date(2024, 1, 1), date(2024, 1, 31), OLD)]
    assert rules_in_force(closed, date(2024, 2, 1)) is None
    assert rules_in_force([], date(2024, 2, 1)) is None


def test_overlapping_versions_still_answer_the_latest_start() -> None:
    """Should an overlap slip in, the version that started last wins, deterministically."""
    overlapping = [RuleVersion(date(2024, 3, 1), None, NEW), RuleVersion(date(2024, 1, 1), None, OLD)]
    assert rules_in_force(overlapping, date(2024, 3, 2)) is NEW


def test_consecutive_versions_have_no_problems() -> None:
    """The two well-formed versions can price claims."""
    assert version_problems(VERSIONS) == []


def test_overlapping_periods_are_reported_on_the_later_version() -> None:
    """A version starting before the previous one ends is flagged at its effectiveFrom."""
    versions = [VERSIONS[1], RuleVersion(date(2024, 1, 1), date(2024, 3, 20), OLD)]
    assert codes(version_problems(versions)) == [("versions[0].effectiveFrom", "overlaps")]


def test_an_open_ended_version_overlaps_every_later_one() -> None:
    """An open-ended first version overlaps the third even when the second sits between them."""
    versions = [
        RuleVersion(date(2024, 1, 1), None, OLD),
        RuleVersion(date(2024, 2, 1), date(2024, 2, 28), OLD),
        RuleVersion(date(2024, 4, 1), None, NEW),
    ]
    assert codes(version_problems(versions)) == [
        ("versions[1].effectiveFrom", "overlaps"),
        ("versions[2].effectiveFrom", "overlaps"),
    ]


def test_a_version_ending_before_it_starts_is_reported() -> None:
    """effective_to before effective_from: ends_before_start on effectiveTo."""
    versions = [RuleVersion(date(2024, 3, 1), date(2024, 2, 1), OLD)]
    assert codes(version_problems(versions)) == [("versions[0].effectiveTo", "ends_before_start")]


def test_unknown_codes_and_impossible_limits_are_reported_with_their_paths() -> None:
    """Bad CPT, modifiers, revenue code, money and limits each name their field."""
    bad = PayerRules(
        group_size_cap=1,
        min_patients_present=1,
        telehealth_modifier="XX",
        group_modifier="H",
        credential_modifiers={"LCSW": "A"},
        fee_schedule={"9085": Decimal("10.00"), "90853": Decimal("12.345"), "90849": Decimal("-1")},
        group_code="ABC",
        institutional_codes={LevelOfCare.IOP: InstitutionalCode("905", "S948", ("9",), 0)},
        per_diem=True,
    )
    found = codes(version_problems([RuleVersion(date(2024, 1, 1), None, bad)]))
    p = "versions[0].rules"
    assert found == [
        (f"{p}.minPatientsPresent", "below_two"),
        (f"{p}.telehealthModifier", "unknown_modifier"),
        (f"{p}.groupModifier", "unknown_modifier"),
        (f"{p}.credentialModifiers[LCSW]", "unknown_modifier"),
        (f"{p}.groupCode", "unknown_code"),
        (f"{p}.feeSchedule[9085]", "unknown_code"),
        (f"{p}.feeSchedule[90853]", "not_money"),
        (f"{p}.feeSchedule[90849]", "not_money"),
        (f"{p}.institutionalCodes[iop].revenueCode", "unknown_code"),
        (f"{p}.institutionalCodes[iop].hcpcs", "unknown_code"),
        (f"{p}.institutionalCodes[iop].conditionCodes", "unknown_code"),
        (f"{p}.institutionalCodes[iop].unitMinutes", "out_of_range"),
        (f"{p}.perDiemRate", "required"),
    ]


def test_a_cap_below_the_minimum_present_is_reported() -> None:
    """A group cap of 2 with 3 required present could never bill: below_minimum_present."""
    rules = PayerRules(group_size_cap=2, min_patients_present=3)
    assert codes(version_problems([RuleVersion(date(2024, 1, 1), None, rules)])) == [
        ("versions[0].rules.groupSizeCap", "below_minimum_present")
    ]


def test_rules_survive_a_json_round_trip_with_money_as_strings() -> None:
    """Every field comes back equal, and the stored JSON holds "45.10", never a float."""
    stored = json.dumps(rules_as_json(FULL))
    assert '"45.10"' in stored and '"310.50"' in stored
    back = rules_from_json(json.loads(stored))
    assert back == FULL
    assert back.fee_schedule["90853"] == Decimal("45.10")
    assert back.institutional_codes[LevelOfCare.IOP] == MEDICARE_IOP_CODE
    assert back.claim_format is ClaimFormat.INSTITUTIONAL


def test_a_version_saved_before_a_rule_existed_takes_its_default() -> None:
    """Missing keys fall back to today's defaults (e.g. 2 patients present, HQ off)."""
    rules = rules_from_json({"fee_schedule": {"90853": "45.00"}})
    assert rules == PayerRules(fee_schedule={"90853": Decimal("45.00")})
    assert rules.min_patients_present == 2


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"grup_size_cap": 12}, "unknown keys grup_size_cap"),
        ({"group_size_cap": "12"}, "rules.group_size_cap"),
        ({"per_diem": 1}, "rules.per_diem"),
        ({"fee_schedule": {"90853": 45.0}}, "rules.fee_schedule[90853]"),
        ({"fee_schedule": {"90853": "lots"}}, "rules.fee_schedule[90853]"),
        ({"telehealth_pos": "11"}, "rules.telehealth_pos"),
        ({"institutional_codes": {"iop": {"revenue_code": "0905"}}}, "rules.institutional_codes[iop].hcpcs"),
        ([], "rules: must be an object"),
    ],
)
def test_malformed_stored_rules_are_refused_naming_the_key(data: object, where: str) -> None:
    """A misspelt key, a float fee or a wrong type raises ValueError naming where, not a silent default."""
    with pytest.raises(ValueError, match=where.replace("[", r"\[").replace("]", r"\]")):
        rules_from_json(data)


def test_rules_cannot_be_changed_through_the_mapping_they_were_built_from() -> None:
    """Editing the dict passed in leaves the rules (possibly shared by a claim run) unchanged."""
    fees = {"90853": Decimal("45.00")}
    rules = PayerRules(fee_schedule=fees)
    fees["90853"] = Decimal("0.00")
    assert rules.fee_schedule["90853"] == Decimal("45.00")
    with pytest.raises(TypeError):
        rules.fee_schedule["90853"] = Decimal("1.00")  # type: ignore[index]


def test_weekly_minimum_hours_depend_on_the_level_of_care() -> None:
    """IOP levels use the IOP minimum, PHP levels the PHP one, outpatient has none."""
    rules = FULL
    assert rules.weekly_minimum_hours(LevelOfCare.IOP_CHEMICAL_DEPENDENCY) == 10
    assert rules.weekly_minimum_hours(LevelOfCare.PHP_INTENSIVE) == 22
    assert rules.weekly_minimum_hours(LevelOfCare.OUTPATIENT) is None
