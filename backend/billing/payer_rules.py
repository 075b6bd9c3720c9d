"""A payer's billing rules as data, versioned by effective dates (pure).

Group billing varies by payer (../shared/guide/domain.md, Billing), so nothing here is hard-coded
in the claim engine: a tenant admin configures, per payer, the group-size cap (Medicare LCDs: 12;
some Medicaid plans: 12 for group, 24 for multiple-family), minimum minutes, telehealth place of
service and modifier, the HQ group modifier, credential modifiers, the same-day rule, the fee
schedule and the IOP/PHP revenue codes. Rules change, and a claim is priced by the version in
force on its date of service, so rules are stored as `RuleVersion`s with inclusive dates:

| version | effective_from | effective_to | prices sessions on     |
|---------|----------------|--------------|------------------------|
| v1      | 2024-01-01     | 2024-03-14   | 1 Jan .. 14 Mar        |
| v2      | 2024-03-15     | None         | 15 Mar onwards         |

A date no version covers has no rules in force: the member is not billed, with that reason.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import TypeVar

from backend.errors import FieldProblem

_E = TypeVar("_E", bound=enum.StrEnum)


class TelehealthPos(enum.StrEnum):
    """Place of service for telehealth (CMS: 02 = patient not at home, 10 = patient at home)."""

    NOT_AT_HOME = "02"
    AT_HOME = "10"
    BY_LOCATION = "by_location"  # 10 when the patient is at home, 02 otherwise


class ClaimFormat(enum.StrEnum):
    PROFESSIONAL = "837P"  # CMS-1500: outpatient groups
    INSTITUTIONAL = "837I"  # UB-04: IOP/PHP


class LevelOfCare(enum.StrEnum):
    OUTPATIENT = "outpatient"
    IOP = "iop"  # psychiatric intensive outpatient
    IOP_CHEMICAL_DEPENDENCY = "iop_chemical_dependency"
    PHP = "php"  # partial hospitalization, less intensive
    PHP_INTENSIVE = "php_intensive"

    @property
    def institutional(self) -> bool:
        return self is not LevelOfCare.OUTPATIENT

    @property
    def partial_hospitalization(self) -> bool:
        return self in (LevelOfCare.PHP, LevelOfCare.PHP_INTENSIVE)


@dataclass(frozen=True)
class InstitutionalCode:
    """What an IOP/PHP service date is billed as on an 837I line.

    `unit_minutes` None: one unit per service date (per-diem HCPCS such as S9480, H0015, S0201);
    a number: one unit per that many minutes attended that day (G0410 is a ~45-50 minute unit).
    """

    revenue_code: str
    hcpcs: str
    condition_codes: tuple[str, ...] = ()
    unit_minutes: int | None = None

    def units_for(self, minutes: int) -> int:
        if self.unit_minutes is None:
            return 1 if minutes > 0 else 0
        return minutes // self.unit_minutes


#: Revenue code + HCPCS pairs most commercial and Medicaid payers expect (NUBC revenue codes 090X/091X).
STANDARD_INSTITUTIONAL_CODES: Mapping[LevelOfCare, InstitutionalCode] = MappingProxyType(
    {
        LevelOfCare.IOP: InstitutionalCode("0905", "S9480"),
        LevelOfCare.IOP_CHEMICAL_DEPENDENCY: InstitutionalCode("0906", "H0015"),
        LevelOfCare.PHP: InstitutionalCode("0912", "H0035"),
        LevelOfCare.PHP_INTENSIVE: InstitutionalCode("0913", "S0201"),
    }
)
#: Medicare IOP: group psychotherapy on revenue code 0915 with G0410, condition code 92 on the claim.
MEDICARE_IOP_CODE = InstitutionalCode("0915", "G0410", condition_codes=("92",), unit_minutes=45)


@dataclass(frozen=True, kw_only=True)
class PayerRules:
    """One version of one payer's rules. Every limit is optional data, never a constant in code."""

    group_size_cap: int | None = 12
    multi_family_size_cap: int | None = 24
    min_minutes_attended: int | None = None
    min_session_minutes: int | None = None
    min_patients_present: int = 2  # fewer is not a group (bill individual therapy if appropriate)
    telehealth_pos: TelehealthPos = TelehealthPos.BY_LOCATION
    telehealth_modifier: str | None = "95"  # 95 real-time audio-video; GT some Medicaid, CAH Method II
    group_modifier: str | None = None  # HQ: group setting (some Medicaid)
    credential_modifiers: Mapping[str, str] = field(default_factory=dict)  # e.g. {"LCSW": "AJ"}
    # True: a member's second group visit of a day is refused. False: it is billed, with
    # `distinct_service_modifier` (59) when that is set.
    one_group_visit_per_day: bool = False
    distinct_service_modifier: str | None = "59"
    fee_schedule: Mapping[str, Decimal] = field(default_factory=dict)  # CPT/HCPCS -> charge
    group_code: str = "90853"
    multi_family_code: str = "90849"
    institutional_codes: Mapping[LevelOfCare, InstitutionalCode] = field(
        default_factory=lambda: dict(STANDARD_INSTITUTIONAL_CODES)
    )
    per_diem: bool = False
    per_diem_rate: Decimal | None = None
    # True: group psychotherapy needs a prior authorization with sessions left on the date of service.
    authorization_required: bool = False
    claim_format: ClaimFormat = ClaimFormat.PROFESSIONAL
    iop_min_weekly_hours: int = 9  # Medicare IOP: 9-19 hours a week
    php_min_weekly_hours: int = 20

    def __post_init__(self) -> None:
        # Read-only views: a shared rules object must not be edited in place by one claim run.
        for name in ("credential_modifiers", "fee_schedule", "institutional_codes"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    def weekly_minimum_hours(self, level: LevelOfCare) -> int | None:
        if not level.institutional:
            return None
        return self.php_min_weekly_hours if level.partial_hospitalization else self.iop_min_weekly_hours


@dataclass(frozen=True)
class RuleVersion:
    """Rules in force from `effective_from` through `effective_to` (inclusive; None: open-ended)."""

    effective_from: date
    effective_to: date | None
    rules: PayerRules

    def covers(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)


def rules_in_force(versions: Sequence[RuleVersion], service_date: date) -> PayerRules | None:
    """The rules pricing a service on `service_date`; None when no version covers it.

    Saved versions never overlap (`version_problems`); should they, the latest start wins, so the
    answer is still deterministic.
    """
    covering = [v for v in versions if v.covers(service_date)]
    if not covering:
        return None
    return max(covering, key=lambda v: v.effective_from).rules


# -- validation of what an admin saves ------------------------------------------------------------

_MODIFIER = re.compile(r"[A-Z0-9]{2}")
# CPT: 5 digits, or 4 digits + F/T (category II/III); HCPCS level II: a letter and 4 digits.
_PROCEDURE = re.compile(r"\d{5}|\d{4}[FT]|[A-V]\d{4}")
_REVENUE = re.compile(r"0\d{3}")
_CONDITION = re.compile(r"[A-Z0-9]{2}")
_POS = re.compile(r"\d{2}")
TELEHEALTH_MODIFIERS = frozenset({"95", "GT", "GQ", "FQ", "93"})


def version_problems(versions: Sequence[RuleVersion], prefix: str = "versions") -> list[FieldProblem]:
    """Problems with a payer's versions as an admin saved them; [] when they can price claims."""
    problems: list[FieldProblem] = []
    for i, v in enumerate(versions):
        if v.effective_to is not None and v.effective_to < v.effective_from:
            problems.append(
                FieldProblem(f"{prefix}[{i}].effectiveTo", "ends_before_start", "ends before it starts")
            )
        problems += rules_problems(v.rules, f"{prefix}[{i}].rules")
    ordered = sorted(range(len(versions)), key=lambda i: versions[i].effective_from)
    for n, later in enumerate(ordered):
        start = versions[later].effective_from
        for earlier in ordered[:n]:
            end = versions[earlier].effective_to
            if end is None or end >= start:
                problems.append(
                    FieldProblem(
                        f"{prefix}[{later}].effectiveFrom",
                        "overlaps",
                        f"starts while versions[{earlier}] is still in force",
                    )
                )
                break
    return problems


def rules_problems(rules: PayerRules, prefix: str = "rules") -> list[FieldProblem]:
    """Problems with one rule set: impossible limits and codes that are not codes."""
    problems: list[FieldProblem] = []

    def add(path: str, code: str, message: str) -> None:
        problems.append(FieldProblem(f"{prefix}.{path}", code, message))

    for name in ("group_size_cap", "multi_family_size_cap"):
        cap = getattr(rules, name)
        if cap is not None and cap < rules.min_patients_present:
            add(_camel(name), "below_minimum_present", "is below the minimum patients present")
    for name in ("min_minutes_attended", "min_session_minutes"):
        minutes = getattr(rules, name)
        if minutes is not None and not 0 < minutes <= 24 * 60:
            add(_camel(name), "out_of_range", "must be between 1 and 1440 minutes")
    if rules.min_patients_present < 2:
        add("minPatientsPresent", "below_two", "a group needs at least 2 patients present")
    if rules.telehealth_modifier is not None and rules.telehealth_modifier not in TELEHEALTH_MODIFIERS:
        add("telehealthModifier", "unknown_modifier", "is not a telehealth modifier (95, GT, GQ, FQ, 93)")
    for name in ("group_modifier", "distinct_service_modifier"):
        modifier = getattr(rules, name)
        if modifier is not None and not _MODIFIER.fullmatch(modifier):
            add(_camel(name), "unknown_modifier", "must be 2 letters or digits")
    for credential, modifier in rules.credential_modifiers.items():
        if not _MODIFIER.fullmatch(modifier):
            add(f"credentialModifiers[{credential}]", "unknown_modifier", "must be 2 letters or digits")
    for name in ("group_code", "multi_family_code"):
        if not _PROCEDURE.fullmatch(getattr(rules, name)):
            add(_camel(name), "unknown_code", "is not a CPT or HCPCS code")
    for code, fee in rules.fee_schedule.items():
        if not _PROCEDURE.fullmatch(code):
            add(f"feeSchedule[{code}]", "unknown_code", "is not a CPT or HCPCS code")
        elif not _is_money(fee):
            add(f"feeSchedule[{code}]", "not_money", "must be a non-negative amount with at most 2 decimals")
    for level, inst in rules.institutional_codes.items():
        where = f"institutionalCodes[{level}]"
        if not _REVENUE.fullmatch(inst.revenue_code):
            add(f"{where}.revenueCode", "unknown_code", "is not a 4-digit revenue code")
        if not _PROCEDURE.fullmatch(inst.hcpcs):
            add(f"{where}.hcpcs", "unknown_code", "is not a CPT or HCPCS code")
        if any(not _CONDITION.fullmatch(c) for c in inst.condition_codes):
            add(f"{where}.conditionCodes", "unknown_code", "condition codes are 2 letters or digits")
        if inst.unit_minutes is not None and inst.unit_minutes <= 0:
            add(f"{where}.unitMinutes", "out_of_range", "must be positive")
    if rules.per_diem and rules.per_diem_rate is None:
        add("perDiemRate", "required", "a per-diem payer needs a per-diem rate")
    if rules.per_diem_rate is not None and not _is_money(rules.per_diem_rate):
        add("perDiemRate", "not_money", "must be a non-negative amount with at most 2 decimals")
    for name in ("iop_min_weekly_hours", "php_min_weekly_hours"):
        if not 0 < getattr(rules, name) <= 7 * 24:
            add(_camel(name), "out_of_range", "must be between 1 and 168 hours")
    return problems


def _is_money(value: Decimal) -> bool:
    exponent = value.as_tuple().exponent
    return value.is_finite() and value >= 0 and isinstance(exponent, int) and exponent >= -2


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def is_place_of_service(value: str) -> bool:
    return bool(_POS.fullmatch(value))


# -- storage: JSON with Decimals as strings --------------------------------------------------------


def rules_as_json(rules: PayerRules) -> dict[str, object]:
    """A JSON-ready dict (money as strings, so no float ever touches a charge)."""
    return {
        "group_size_cap": rules.group_size_cap,
        "multi_family_size_cap": rules.multi_family_size_cap,
        "min_minutes_attended": rules.min_minutes_attended,
        "min_session_minutes": rules.min_session_minutes,
        "min_patients_present": rules.min_patients_present,
        "telehealth_pos": rules.telehealth_pos.value,
        "telehealth_modifier": rules.telehealth_modifier,
        "group_modifier": rules.group_modifier,
        "credential_modifiers": dict(rules.credential_modifiers),
        "one_group_visit_per_day": rules.one_group_visit_per_day,
        "distinct_service_modifier": rules.distinct_service_modifier,
        "fee_schedule": {code: str(fee) for code, fee in rules.fee_schedule.items()},
        "group_code": rules.group_code,
        "multi_family_code": rules.multi_family_code,
        "institutional_codes": {
            level.value: {
                "revenue_code": c.revenue_code,
                "hcpcs": c.hcpcs,
                "condition_codes": list(c.condition_codes),
                "unit_minutes": c.unit_minutes,
            }
            for level, c in rules.institutional_codes.items()
        },
        "per_diem": rules.per_diem,
        "per_diem_rate": None if rules.per_diem_rate is None else str(rules.per_diem_rate),
        "authorization_required": rules.authorization_required,
        "claim_format": rules.claim_format.value,
        "iop_min_weekly_hours": rules.iop_min_weekly_hours,
        "php_min_weekly_hours": rules.php_min_weekly_hours,
    }


_KEYS = frozenset(f.name for f in fields(PayerRules))


def rules_from_json(data: object) -> PayerRules:
    """Parse `rules_as_json` output. Missing keys take today's defaults (versions saved before a
    rule existed); unknown keys and wrong types raise ValueError naming the key, never a value."""
    if not isinstance(data, Mapping):
        raise ValueError("rules: must be an object")
    unknown = set(data) - _KEYS
    if unknown:
        raise ValueError(f"rules: unknown keys {', '.join(sorted(unknown))}")
    kwargs: dict[str, object] = {}
    for key, value in data.items():
        kwargs[key] = _parse(key, value)
    return PayerRules(**kwargs)  # type: ignore[arg-type]  # each value was checked by _parse


def _parse(key: str, value: object) -> object:
    where = f"rules.{key}"
    if key in ("group_size_cap", "multi_family_size_cap", "min_minutes_attended", "min_session_minutes"):
        return None if value is None else _int(value, where)
    if key in ("min_patients_present", "iop_min_weekly_hours", "php_min_weekly_hours"):
        return _int(value, where)
    if key in ("one_group_visit_per_day", "per_diem", "authorization_required"):
        if not isinstance(value, bool):
            raise ValueError(f"{where}: must be a boolean")
        return value
    if key in ("telehealth_modifier", "group_modifier", "distinct_service_modifier"):
        return None if value is None else _str(value, where)
    if key in ("group_code", "multi_family_code"):
        return _str(value, where)
    if key == "telehealth_pos":
        return _enum(TelehealthPos, value, where)
    if key == "claim_format":
        return _enum(ClaimFormat, value, where)
    if key == "credential_modifiers":
        return {_str(k, where): _str(v, f"{where}[{k}]") for k, v in _map(value, where).items()}
    if key == "fee_schedule":
        return {_str(k, where): _money(v, f"{where}[{k}]") for k, v in _map(value, where).items()}
    if key == "per_diem_rate":
        return None if value is None else _money(value, where)
    # institutional_codes
    codes = {}
    for level, raw in _map(value, where).items():
        at = f"{where}[{level}]"
        c = _map(raw, at)
        if set(c) - {"revenue_code", "hcpcs", "condition_codes", "unit_minutes"}:
            raise ValueError(f"{at}: has unknown keys")
        conditions = c.get("condition_codes", [])
        if not isinstance(conditions, list):
            raise ValueError(f"{at}.condition_codes: must be a list")
        unit_minutes = c.get("unit_minutes")
        codes[_enum(LevelOfCare, level, at)] = InstitutionalCode(
            _str(c.get("revenue_code"), f"{at}.revenue_code"),
            _str(c.get("hcpcs"), f"{at}.hcpcs"),
            tuple(_str(x, f"{at}.condition_codes") for x in conditions),
            None if unit_minutes is None else _int(unit_minutes, f"{at}.unit_minutes"),
        )
    return codes


def _map(value: object, where: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: must be an object")
    return value


def _int(value: object, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{where}: must be an integer")
    return value


def _str(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where}: must be a string")
    return value


def _money(value: object, where: str) -> Decimal:
    try:
        amount = Decimal(_str(value, where))
    except InvalidOperation:
        raise ValueError(f"{where}: must be a decimal amount") from None
    if not amount.is_finite():
        raise ValueError(f"{where}: must be a decimal amount")
    return amount


def _enum(cls: type[_E], value: object, where: str) -> _E:
    if value not in {m.value for m in cls}:
        raise ValueError(f"{where}: is not one of {', '.join(m.value for m in cls)}")
    return cls(_str(value, where))
