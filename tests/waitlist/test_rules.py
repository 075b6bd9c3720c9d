"""Validation of the details a waitlist entry carries."""

from __future__ import annotations

from datetime import time

from backend.waitlist.rules import AvailabilityWindow, Urgency, WaitlistDetails, normalized, validate_details


def test_well_formed_details_have_no_problems() -> None:
    """Valid ICD-10-CM codes, windows and referrer pass."""
    details = WaitlistDetails(
        urgency=Urgency.SOON,
        diagnoses=("F33.1", "f43.10", "S72.001A"),
        availability=(AvailabilityWindow(0, time(17), time(20)),),
        referrer_name="Dr. Lee",
        referrer_contact="lee@example.test",
    )
    assert validate_details(details) == []


def test_weekday_outside_zero_to_six_names_the_availability_field() -> None:
    """Weekday 7 is rejected as waitlist.availability / invalid_weekday."""
    details = WaitlistDetails(availability=(AvailabilityWindow(7, time(9), time(10)),))
    [problem] = validate_details(details)
    assert (problem.field, problem.code) == ("waitlist.availability", "invalid_weekday")


def test_window_ending_before_it_starts_is_rejected() -> None:
    """An end at or before the start is end_before_start."""
    for end in (time(8), time(9)):
        details = WaitlistDetails(availability=(AvailabilityWindow(2, time(9), end),))
        assert [p.code for p in validate_details(details)] == ["end_before_start"]


def test_malformed_diagnosis_code_names_the_diagnoses_field() -> None:
    """'depression' and 'F3' are not ICD-10-CM codes; the prefix follows the caller's input."""
    for code in ("depression", "F3", "F33.12345", "33.1"):
        [problem] = validate_details(WaitlistDetails(diagnoses=(code,)), prefix="details")
        assert (problem.field, problem.code) == ("details.diagnoses", "invalid_icd10cm")


def test_blank_referrer_and_overlong_contraindication_are_rejected() -> None:
    """Blank referrer name and a 41-character contraindication code are field errors."""
    details = WaitlistDetails(referrer_name="  ", contraindications=("x" * 41,))
    fields = {p.field for p in validate_details(details)}
    assert fields == {"waitlist.referrerName", "waitlist.contraindications"}


def test_normalized_upper_cases_and_deduplicates_codes() -> None:
    """Codes are stored upper-case once each; referrer text trimmed."""
    details = normalized(WaitlistDetails(diagnoses=("f33.1", "F33.1 "), referrer_name=" Dr. Lee "))
    assert details.diagnoses == ("F33.1",) and details.referrer_name == "Dr. Lee"


def test_windows_round_trip_through_json() -> None:
    """The stored {weekday, start, end} shape reads back as the same window."""
    window = AvailabilityWindow(4, time(18, 30), time(21))
    assert window.as_json() == {"weekday": 4, "start": "18:30", "end": "21:00"}
    assert AvailabilityWindow.from_json(window.as_json()) == window
