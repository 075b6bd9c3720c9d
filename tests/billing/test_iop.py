"""IOP/PHP weeks: service hours from attendance minutes, under-hours warnings and 837I lines."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from backend.billing.iop import (
    InstitutionalLine,
    MemberWeek,
    ServiceMinutes,
    institutional_lines,
    iop_week_warnings,
    weekly_service_hours,
)
from backend.billing.payer_rules import MEDICARE_IOP_CODE, ClaimFormat, LevelOfCare, PayerRules

MONDAY = date(2024, 1, 8)
COMMERCIAL = PayerRules(
    claim_format=ClaimFormat.INSTITUTIONAL,
    fee_schedule={"S9480": Decimal("250.00"), "H0015": Decimal("180.00"), "S0201": Decimal("400.00")},
)
MEDICARE = PayerRules(
    institutional_codes={LevelOfCare.IOP: MEDICARE_IOP_CODE}, fee_schedule={"G0410": Decimal("90.00")}
)


def day(offset: int) -> date:
    return date.fromordinal(MONDAY.toordinal() + offset)


def services(client_key: str, *minutes_by_offset: tuple[int, int]) -> list[ServiceMinutes]:
    return [ServiceMinutes(client_key, day(offset), minutes) for offset, minutes in minutes_by_offset]


def test_weekly_hours_sum_attendance_minutes_monday_to_sunday() -> None:
    """Three 3-hour days make 9.00 hours; Sunday belongs to the week, the next Monday does not."""
    weeks = weekly_service_hours(services("c1", (0, 180), (2, 180), (6, 180), (7, 120)))
    assert [(w.client_key, w.week_of, w.hours) for w in weeks] == [
        ("c1", MONDAY, Decimal("9.00")),
        ("c1", day(7), Decimal("2.00")),
    ]


def test_two_sessions_on_one_day_add_up_on_that_day() -> None:
    """A morning and an afternoon group on Tuesday: one day of 170 minutes."""
    weeks = weekly_service_hours(services("c1", (1, 90), (1, 80)))
    assert weeks[0].days == ((day(1), 170),)


def test_a_week_below_nine_hours_of_iop_is_warned() -> None:
    """8.5 hours of IOP raises below_weekly_hours; exactly 9 hours does not."""
    weeks = weekly_service_hours(
        [*services("short", (0, 180), (2, 180), (4, 150)), *services("ok", (0, 540))]
    )
    warnings = iop_week_warnings(weeks, LevelOfCare.IOP, COMMERCIAL)
    assert [(w.client_key, w.week_of, w.code) for w in warnings] == [("short", MONDAY, "below_weekly_hours")]
    assert "8.50" in warnings[0].message and "9" in warnings[0].message


def test_php_weeks_are_held_to_twenty_hours() -> None:
    """Fifteen hours is enough for IOP but below the PHP minimum of 20."""
    weeks = weekly_service_hours(services("c1", *((d, 180) for d in range(5))))
    assert iop_week_warnings(weeks, LevelOfCare.IOP, COMMERCIAL) == []
    assert [w.client_key for w in iop_week_warnings(weeks, LevelOfCare.PHP, COMMERCIAL)] == ["c1"]


def test_a_rostered_member_with_no_attendance_is_warned_not_missing() -> None:
    """A member on the roster who attended nothing that week appears with 0 hours and a warning."""
    weeks = weekly_service_hours(services("c1", (0, 540)), members=["c1", "c2"], weeks=[day(3)])
    assert [(w.client_key, w.minutes) for w in weeks] == [("c1", 540), ("c2", 0)]
    assert [w.client_key for w in iop_week_warnings(weeks, LevelOfCare.IOP, COMMERCIAL)] == ["c2"]


def test_outpatient_groups_have_no_weekly_minimum() -> None:
    """Weekly hours are an IOP/PHP rule: an outpatient level raises no warning."""
    weeks = weekly_service_hours(services("c1", (0, 60)))
    assert iop_week_warnings(weeks, LevelOfCare.OUTPATIENT, COMMERCIAL) == []


def test_iop_week_has_one_line_per_service_date_with_revenue_code_and_hcpcs() -> None:
    """Three IOP days: three 0905/S9480 lines of one unit at 250.00, totalling 750.00."""
    (week,) = weekly_service_hours(services("c1", (0, 180), (2, 90), (2, 90), (4, 180)))
    result = institutional_lines(week, LevelOfCare.IOP, COMMERCIAL)
    assert result.lines == (
        InstitutionalLine(day(0), "0905", "S9480", 1, Decimal("250.00")),
        InstitutionalLine(day(2), "0905", "S9480", 1, Decimal("250.00")),
        InstitutionalLine(day(4), "0905", "S9480", 1, Decimal("250.00")),
    )
    assert result.total_charge == Decimal("750.00")
    assert result.statement_period == (day(0), day(4))
    assert (result.condition_codes, result.problems) == ((), ())


def test_chemical_dependency_and_intensive_php_use_their_own_codes() -> None:
    """IOP chemical dependency bills 0906/H0015; intensive PHP bills 0913/S0201."""
    (week,) = weekly_service_hours(services("c1", (0, 180)))
    cd = institutional_lines(week, LevelOfCare.IOP_CHEMICAL_DEPENDENCY, COMMERCIAL).lines[0]
    php = institutional_lines(week, LevelOfCare.PHP_INTENSIVE, COMMERCIAL).lines[0]
    assert (cd.revenue_code, cd.hcpcs, cd.charge) == ("0906", "H0015", Decimal("180.00"))
    assert (php.revenue_code, php.hcpcs, php.charge) == ("0913", "S0201", Decimal("400.00"))


def test_medicare_iop_counts_g0410_units_by_minutes_and_adds_condition_code_92() -> None:
    """180 minutes is 4 units of G0410 at 90.00; a 30-minute day makes no unit and no line."""
    (week,) = weekly_service_hours(services("c1", (0, 180), (1, 30), (2, 100)))
    result = institutional_lines(week, LevelOfCare.IOP, MEDICARE)
    assert [(ln.service_date, ln.revenue_code, ln.hcpcs, ln.units, ln.charge) for ln in result.lines] == [
        (day(0), "0915", "G0410", 4, Decimal("360.00")),
        (day(2), "0915", "G0410", 2, Decimal("180.00")),
    ]
    assert result.condition_codes == ("92",)


def test_a_per_diem_payer_gets_one_day_rate_line_per_service_date() -> None:
    """Per diem: each service date is one unit at the day rate, however long the day."""
    per_diem = PayerRules(per_diem=True, per_diem_rate=Decimal("310.50"))
    (week,) = weekly_service_hours(services("c1", (0, 240), (3, 60)))
    result = institutional_lines(week, LevelOfCare.IOP, per_diem)
    assert [(ln.units, ln.charge) for ln in result.lines] == [(1, Decimal("310.50")), (1, Decimal("310.50"))]
    assert result.total_charge == Decimal("621.00")


def test_a_week_that_cannot_be_priced_has_problems_and_no_lines() -> None:
    """No fee for the HCPCS, or no code for the level: no lines, the problem named."""
    week = MemberWeek("c1", MONDAY, ((MONDAY, 180),))
    no_fee = institutional_lines(week, LevelOfCare.IOP, PayerRules())
    no_code = institutional_lines(week, LevelOfCare.PHP, PayerRules(institutional_codes={}))
    assert (no_fee.lines, no_fee.problems, no_fee.statement_period) == ((), ("no_fee",), None)
    assert (no_code.lines, no_code.problems) == ((), ("no_institutional_code",))
