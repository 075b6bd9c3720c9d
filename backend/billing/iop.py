"""IOP/PHP weeks (pure): weekly service hours from attendance minutes, warnings, 837I lines.

Intensive outpatient and partial hospitalization are billed on institutional claims (UB-04 /
837I), and payers judge them by the week: Medicare IOP expects 9-19 service hours a week, PHP
generally 20 or more (domain guide, Billing). Hours come only from documented attendance minutes
of billable attendances (the caller passes the minutes of members the decisions billed), over a
Monday-Sunday week.

Lines: one per service date, the level's revenue code with its HCPCS (e.g. 0905 + S9480):

| Payer mode  | Units                                             | Charge                   |
|-------------|---------------------------------------------------|--------------------------|
| per diem    | 1                                                 | the payer's per-diem rate |
| per service | 1 a day (per-diem HCPCS), or the day's minutes    | fee schedule x units     |
|             | divided by the code's unit (G0410: 45 minutes)    |                          |

The claim builder (backend.billing.claims) maps these lines, the condition codes and the
statement period onto its institutional claim.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from backend.billing.payer_rules import InstitutionalCode, LevelOfCare, PayerRules

CENT = Decimal("0.01")


@dataclass(frozen=True)
class ServiceMinutes:
    """Minutes one member attended one billable session."""

    client_key: str
    service_date: date
    minutes_attended: int


@dataclass(frozen=True)
class MemberWeek:
    """A member's Monday-Sunday week: minutes per service date, in date order."""

    client_key: str
    week_of: date  # the Monday
    days: tuple[tuple[date, int], ...]

    @property
    def minutes(self) -> int:
        return sum(m for _, m in self.days)

    @property
    def hours(self) -> Decimal:
        return (Decimal(self.minutes) / 60).quantize(CENT)


def week_of(day: date) -> date:
    """The Monday of `day`'s week."""
    return day - timedelta(days=day.weekday())


def weekly_service_hours(
    services: Iterable[ServiceMinutes],
    *,
    members: Iterable[str] = (),
    weeks: Iterable[date] = (),
) -> list[MemberWeek]:
    """Each member's weeks, by member then week.

    `members` x `weeks` adds empty weeks, so a member on the roster who attended nothing that week
    is still listed (and warned about) rather than missing.
    """
    minutes: defaultdict[tuple[str, date], defaultdict[date, int]] = defaultdict(lambda: defaultdict(int))
    for s in services:
        minutes[(s.client_key, week_of(s.service_date))][s.service_date] += s.minutes_attended
    mondays = {week_of(w) for w in weeks}
    for client_key in members:
        for monday in mondays:
            minutes.setdefault((client_key, monday), defaultdict(int))
    return [
        MemberWeek(client_key, monday, tuple(sorted(days.items())))
        for (client_key, monday), days in sorted(minutes.items())
    ]


@dataclass(frozen=True)
class WeekWarning:
    client_key: str
    week_of: date
    code: str  # below_weekly_hours
    message: str  # hours only, no PHI


def iop_week_warnings(
    weeks: Sequence[MemberWeek], level: LevelOfCare, rules: PayerRules
) -> list[WeekWarning]:
    """A warning for each member week below the level's weekly minimum (IOP 9 h, PHP 20 h by default)."""
    minimum = rules.weekly_minimum_hours(level)
    if minimum is None:
        return []
    return [
        WeekWarning(
            w.client_key,
            w.week_of,
            "below_weekly_hours",
            f"week of {w.week_of.isoformat()}: {w.hours} service hours, under the {level} minimum {minimum}",
        )
        for w in weeks
        if w.minutes < minimum * 60  # compare minutes: no rounding at the threshold
    ]


@dataclass(frozen=True)
class InstitutionalLine:
    service_date: date
    revenue_code: str
    hcpcs: str
    units: int
    charge: Decimal


@dataclass(frozen=True)
class InstitutionalLines:
    """A member week's 837I lines, or the problems that stop them (then `lines` is empty)."""

    lines: tuple[InstitutionalLine, ...]
    condition_codes: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()  # codes: no_institutional_code, no_fee

    @property
    def total_charge(self) -> Decimal:
        return sum((line.charge for line in self.lines), Decimal("0.00"))

    @property
    def statement_period(self) -> tuple[date, date] | None:
        if not self.lines:
            return None
        return self.lines[0].service_date, self.lines[-1].service_date


def institutional_lines(week: MemberWeek, level: LevelOfCare, rules: PayerRules) -> InstitutionalLines:
    """The 837I lines for one member week under the payer's rules in force.

    A day whose minutes make no unit of a timed code (G0410 under 45 minutes) has no line: billing
    a unit not documented is the audit finding this avoids.
    """
    code = rules.institutional_codes.get(level)
    if code is None:
        return InstitutionalLines((), problems=("no_institutional_code",))
    price = _unit_price(code, rules)
    if price is None:
        return InstitutionalLines((), problems=("no_fee",))
    lines = []
    for day, minutes in week.days:
        units = 1 if rules.per_diem and minutes > 0 else code.units_for(minutes)
        if units > 0:
            charge = (price * units).quantize(CENT)
            lines.append(InstitutionalLine(day, code.revenue_code, code.hcpcs, units, charge))
    return InstitutionalLines(tuple(lines), code.condition_codes)


def _unit_price(code: InstitutionalCode, rules: PayerRules) -> Decimal | None:
    if rules.per_diem:
        return rules.per_diem_rate
    return rules.fee_schedule.get(code.hcpcs)
