"""Eligibility for group psychotherapy: the 270 inquiry we send and the 271 answer, as pure values (X279A1).

The 270 asks about the mental-health service types (EQ*MH by default; X12 service types A6 psychotherapy,
A8 psychiatric outpatient, CF mental health provider outpatient on request) and, for payers that answer
per procedure, 90853 itself (`EQ**HC:90853`: the TR3 sends EQ01 or EQ02, so each is its own 2110C loop;
x12sdk 2.2 cannot read that conformant form: it turns the empty EQ01 into [""] and rejects it).

The 271 is read by a segment walk, not by x12sdk's 271 model: x12sdk 2.2 types EB09 (quantity qualifier)
as a decimal, so any 271 stating a visit limit (`EB*F*IND*MH***23***VS*20`) fails to parse as a whole,
and visit limits are one of the three things this module exists to read. x12sdk still checks every 270
we write (tests/billing/test_eligibility.py); pyx12 has no 5010 270/271 map.

Outcome (`eligibility_outcome`):

| outcome    | when                                                                                    |
|------------|-----------------------------------------------------------------------------------------|
| `unknown`  | the payer rejected the inquiry (AAA: member not found, invalid id...) or said nothing    |
| `inactive` | EB*6 (inactive), EB*I (mental health not covered), or no visits remaining               |
| `active`   | EB*1 for mental health, or for the plan (service type 30) with nothing above against it |
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from backend.billing.npi import is_valid_npi
from backend.billing.x12.envelope import clean_text, composite, d8, person, segment
from backend.errors import FieldProblem

IMPLEMENTATION = "005010X279A1"
PLAN_COVERAGE = "30"
# X12 service type codes that cover group psychotherapy: mental health, psychiatric, psychotherapy,
# psychiatric outpatient, mental health provider outpatient.
MENTAL_HEALTH = frozenset({"MH", "A4", "A6", "A8", "CF"})
GROUP_PROCEDURES = frozenset({"90853", "90849"})
# AAA03 reject reasons (X279A1) a biller can act on; the others are reported by code.
REJECT_REASONS = {
    "15": "required application data missing",
    "42": "payer unable to respond now",
    "43": "invalid or missing provider identification",
    "58": "invalid or missing date of birth",
    "71": "birth date does not match the payer's",
    "72": "invalid or missing member id",
    "73": "invalid or missing member name",
    "75": "member not found",
    "76": "duplicate member id",
    "79": "invalid participant identification",
}
_IDENTIFIER = re.compile(r"^[A-Za-z0-9-]{1,50}$")
_SERVICE_TYPE = re.compile(r"^[A-Z0-9]{1,2}$")


class EligibilityUnreadable(ValueError):
    """The text is not a 271 about anyone. Messages carry no PHI."""


class EligibilityRequestRejected(ValueError):
    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__(", ".join(f"{p.field}: {p.code}" for p in problems))
        self.problems = problems


class EligibilityOutcome(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Envelope:
    sender_id: str  # ISA06/GS02, ours with the clearinghouse
    receiver_id: str  # ISA08/GS03
    control_number: int  # ISA13 and GS06: unique per interchange we send
    created_at: datetime
    usage: str = "T"  # ISA15: T test, P production


@dataclass(frozen=True)
class EligibilityRequest:
    envelope: Envelope
    payer_name: str
    payer_id: str
    provider_name: str
    provider_npi: str
    member_id: str
    last_name: str
    first_name: str
    birth_date: date
    service_date: date
    trace_number: str  # TRN02: the payer echoes it (TRN*2), how a 271 finds its request
    originator_id: str  # TRN03: "1" + the provider's EIN, 10 characters
    service_types: tuple[str, ...] = ("MH",)
    procedure_code: str | None = None  # e.g. "90853", for payers answering per procedure


@dataclass(frozen=True)
class Benefit:
    """One EB segment with its MSG texts."""

    code: str  # EB01: 1 active, 6 inactive, A coinsurance, B copay, F limitation, I non-covered...
    service_types: tuple[str, ...]
    coverage_level: str | None = None
    plan: str | None = None
    time_period: str | None = None  # EB06: 23 calendar year, 27 visit, 29 remaining...
    amount: Decimal | None = None
    percent: Decimal | None = None
    quantity_qualifier: str | None = None  # EB09: VS visits, 99 quantity used
    quantity: Decimal | None = None
    in_network: str | None = None  # EB12: Y, N, W (not applicable), U (unknown)
    procedure: str | None = None  # EB13-2
    messages: tuple[str, ...] = ()


@dataclass(frozen=True)
class EligibilityResult:
    active: bool
    plan_name: str | None
    copay: Decimal | None
    coinsurance: Decimal | None  # a fraction: 0.2 is 20%
    visit_limit: int | None
    visits_used: int | None
    messages: tuple[str, ...]
    raw_service_types: tuple[str, ...]
    visits_remaining: int | None = None
    inactive: bool = False  # the payer said so (EB*6)
    not_covered: bool = False  # EB*I for a mental-health service type or 90853
    rejections: tuple[str, ...] = ()  # AAA03 reject reason codes
    trace_number: str | None = None
    member_id: str | None = None
    coverage_start: date | None = None
    coverage_end: date | None = None
    benefits: tuple[Benefit, ...] = ()


def request_problems(request: EligibilityRequest) -> list[FieldProblem]:
    """What would make the 270 wrong or unanswerable; empty when it can be sent."""
    problems = []
    if not is_valid_npi(request.provider_npi):
        problems.append(FieldProblem("providerNpi", "invalid_npi", "The NPI's check digit is wrong."))
    for name, value in (("memberId", request.member_id), ("payerId", request.payer_id)):
        if not _IDENTIFIER.match(value):
            problems.append(FieldProblem(name, "invalid_identifier", "Use 1-50 letters, digits or dashes."))
    if not _IDENTIFIER.match(request.trace_number):
        problems.append(FieldProblem("traceNumber", "invalid_identifier", "Use 1-50 letters or digits."))
    if not (len(request.originator_id) == 10 and request.originator_id.isdigit()):
        problems.append(FieldProblem("originatorId", "invalid_originator", "TRN03 is 10 digits."))
    if not request.service_types and not request.procedure_code:
        problems.append(FieldProblem("serviceTypes", "required", "Ask about a service type or a procedure."))
    if any(not _SERVICE_TYPE.match(code) for code in request.service_types):
        problems.append(FieldProblem("serviceTypes", "invalid_code", "Service types are X12 codes like MH."))
    if request.procedure_code is not None and not re.fullmatch(r"[A-Z0-9]{5}", request.procedure_code):
        problems.append(FieldProblem("procedureCode", "invalid_code", "A CPT/HCPCS code has 5 characters."))
    if request.birth_date > request.service_date:
        problems.append(
            FieldProblem("birthDate", "after_service_date", "Birth date follows the service date.")
        )
    if not (clean_text(request.last_name, 60) and clean_text(request.payer_name, 60)):
        problems.append(FieldProblem("lastName", "required", "A member and a payer name are required."))
    return problems


def write_270(request: EligibilityRequest) -> str:
    """The 270 interchange for one member; raises `EligibilityRequestRejected` listing every problem."""
    problems = request_problems(request)
    if problems:
        raise EligibilityRequestRejected(problems)
    env = request.envelope
    stamp_date, stamp_time = env.created_at.strftime("%Y%m%d"), env.created_at.strftime("%H%M")
    inquiries = [segment("EQ", code) for code in request.service_types]
    if request.procedure_code:
        inquiries.append(segment("EQ", "", composite("HC", request.procedure_code)))
    transaction = [
        segment("ST", "270", "0001", IMPLEMENTATION),
        # 0022 information source, receiver, subscriber; 13 request.
        segment("BHT", "0022", "13", request.trace_number, stamp_date, stamp_time),
        segment("HL", "1", "", "20", "1"),
        segment("NM1", "PR", "2", clean_text(request.payer_name, 60), "", "", "", "", "PI", request.payer_id),
        segment("HL", "2", "1", "21", "1"),
        segment(
            "NM1",
            "1P",
            "2",
            clean_text(request.provider_name, 60),
            "",
            "",
            "",
            "",
            "XX",
            request.provider_npi,
        ),
        segment("HL", "3", "2", "22", "0"),
        segment("TRN", "1", request.trace_number, request.originator_id),
        person("IL", request.last_name, request.first_name, "MI", request.member_id),
        segment("DMG", "D8", d8(request.birth_date)),
        segment("DTP", "291", "D8", d8(request.service_date)),
        *inquiries,
    ]
    transaction.append(segment("SE", str(len(transaction) + 1), "0001"))
    # ISA is fixed width: readers find the delimiters by position.
    isa = segment(
        "ISA", "00", " " * 10, "00", " " * 10, "ZZ", env.sender_id.ljust(15), "ZZ",
        env.receiver_id.ljust(15), env.created_at.strftime("%y%m%d"), stamp_time, "^", "00501",
        f"{env.control_number:09d}", "0", env.usage, ":",
    )  # fmt: skip
    gs = segment(
        "GS",
        "HS",
        env.sender_id,
        env.receiver_id,
        stamp_date,
        stamp_time,
        str(env.control_number),
        "X",
        IMPLEMENTATION,
    )
    trailer = [segment("GE", "1", str(env.control_number)), segment("IEA", "1", f"{env.control_number:09d}")]
    return "\n".join([isa, gs, *transaction, *trailer]) + "\n"


def parse_271(text: str) -> EligibilityResult:
    """The answer about the one member a 271 is about (our 270s ask about one member each)."""
    results = parse_271_members(text)
    if len(results) != 1:
        raise EligibilityUnreadable(f"expected a 271 about one member, found {len(results)}")
    return results[0]


def parse_271_members(text: str) -> tuple[EligibilityResult, ...]:
    """One result per subscriber or dependent (2000C/2000D), in file order."""
    members: list[_Member] = []
    upper: list[str] = []  # AAA on the payer or provider level rejects every member below it
    in_member = False
    for tag, s in _segments(text):
        if tag == "HL":
            level = _at(s, 3)
            in_member = level in ("22", "23")
            if in_member:
                members.append(_Member(rejections=list(upper)))
            elif level == "20":
                upper = []
        elif tag == "AAA" and not in_member:
            upper.append(_at(s, 3))
        elif in_member:
            members[-1].take(tag, s)
    if not members:
        raise EligibilityUnreadable("no 271 subscriber or dependent found")
    return tuple(m.value() for m in members)


def eligibility_outcome(result: EligibilityResult) -> tuple[EligibilityOutcome, tuple[str, ...]]:
    """Active, inactive or unknown for group psychotherapy, with reasons a biller can read (no PHI)."""
    if result.rejections:
        reasons = tuple(
            f"payer rejected the inquiry: {REJECT_REASONS.get(c, 'reason ' + c)}" for c in result.rejections
        )
        return EligibilityOutcome.UNKNOWN, reasons
    reasons_against = []
    if result.inactive:
        reasons_against.append("coverage inactive")
    if result.not_covered:
        reasons_against.append("mental health services not covered")
    if result.visits_remaining == 0:
        reasons_against.append("no visits remaining")
    if reasons_against:
        return EligibilityOutcome.INACTIVE, tuple(reasons_against)
    if not result.active:
        return EligibilityOutcome.UNKNOWN, ("no active coverage reported for mental health",)
    facts = ["coverage active"]
    if result.copay is not None:
        facts.append(f"copay {result.copay}")
    if result.coinsurance is not None:
        facts.append(f"coinsurance {(result.coinsurance * 100).normalize():f}%")
    if result.visit_limit is not None:
        facts.append(f"visit limit {result.visit_limit}")
    if result.visits_remaining is not None:
        facts.append(f"{result.visits_remaining} visits remaining")
    return EligibilityOutcome.ACTIVE, tuple(facts)


# --- reading the 271 ----------------------------------------------------------------------------


def _segments(text: str) -> Iterator[tuple[str, list[str]]]:
    text = text.lstrip()
    if not text.startswith("ISA") or len(text) < 106:
        raise EligibilityUnreadable("not an X12 interchange (no ISA)")
    element, repetition, component, terminator = text[3], text[82], text[104], text[105]
    inside = False
    for raw in text.split(terminator):
        fields = [f.replace(repetition, "^").replace(component, ":") for f in raw.strip().split(element)]
        tag = fields[0]
        if tag == "ST":
            inside = _at(fields, 1) == "271"
        elif inside:
            yield tag, fields
            inside = tag != "SE"


@dataclass
class _Member:
    rejections: list[str]
    benefits: list[Benefit] = field(default_factory=list)
    messages: list[list[str]] = field(default_factory=list)
    trace: str | None = None
    member_id: str | None = None
    dates: dict[str, str] = field(default_factory=dict)

    def take(self, tag: str, s: list[str]) -> None:
        in_benefits = bool(self.benefits)
        if tag == "TRN" and _at(s, 1) == "2" and not in_benefits:
            self.trace = _at(s, 2)
        elif tag == "NM1" and _at(s, 1) == "IL" and not in_benefits:
            self.member_id = _at(s, 9) or None
        elif tag == "AAA":
            self.rejections.append(_at(s, 3))
        elif tag == "DTP" and not in_benefits:
            self.dates[_at(s, 1)] = _at(s, 3)
        elif tag == "EB":
            self.benefits.append(_benefit(s))
            self.messages.append([])
        elif tag == "MSG" and in_benefits:
            self.messages[-1].append(_at(s, 1))

    def value(self) -> EligibilityResult:
        benefits = [
            b if not m else _with_messages(b, m) for b, m in zip(self.benefits, self.messages, strict=True)
        ]
        mh = [b for b in benefits if _about_mental_health(b)]
        plan = [b for b in benefits if PLAN_COVERAGE in b.service_types or not b.service_types]
        active = any(b.code == "1" for b in mh + plan)
        limits = [b for b in mh if b.code == "F" and b.quantity_qualifier == "VS" and b.time_period != "29"]
        remaining = [
            b for b in mh if b.code == "F" and b.quantity_qualifier == "VS" and b.time_period == "29"
        ]
        used = [b for b in mh if b.code == "F" and b.quantity_qualifier == "99"]
        limit = _int(_preferred(limits).quantity) if limits else None
        left = _int(_preferred(remaining).quantity) if remaining else None
        used_count = _int(_preferred(used).quantity) if used else None
        if used_count is None and limit is not None and left is not None:
            used_count = limit - left
        if left is None and limit is not None and used_count is not None:
            left = max(limit - used_count, 0)
        copays = [b for b in mh if b.code == "B" and b.amount is not None]
        coinsurance = [b for b in mh if b.code == "A" and (b.percent is not None or b.amount is not None)]
        start, end = _period(self.dates)
        return EligibilityResult(
            active=active and not any(b.code == "6" for b in mh + plan),
            plan_name=next((b.plan for b in plan + mh if b.code == "1" and b.plan), None),
            copay=_money(_preferred(copays).amount) if copays else None,
            coinsurance=_percent(_preferred(coinsurance)) if coinsurance else None,
            visit_limit=limit,
            visits_used=used_count,
            visits_remaining=left,
            messages=tuple(m for b in benefits for m in b.messages),
            raw_service_types=tuple(dict.fromkeys(c for b in benefits for c in b.service_types)),
            inactive=any(b.code == "6" for b in mh + plan),
            not_covered=any(b.code == "I" for b in mh),
            rejections=tuple(self.rejections),
            trace_number=self.trace,
            member_id=self.member_id,
            coverage_start=start,
            coverage_end=end,
            benefits=tuple(benefits),
        )


def _benefit(s: list[str]) -> Benefit:
    procedure = _at(s, 13).split(":")
    return Benefit(
        code=_at(s, 1),
        service_types=tuple(c for c in _at(s, 3).split("^") if c),
        coverage_level=_at(s, 2) or None,
        plan=_at(s, 5) or None,
        time_period=_at(s, 6) or None,
        amount=_decimal(_at(s, 7)),
        percent=_decimal(_at(s, 8)),
        quantity_qualifier=_at(s, 9) or None,
        quantity=_decimal(_at(s, 10)),
        in_network=_at(s, 12) or None,
        procedure=procedure[1] if len(procedure) > 1 else None,
    )


def _with_messages(benefit: Benefit, messages: list[str]) -> Benefit:
    return replace(benefit, messages=tuple(messages))


def _about_mental_health(benefit: Benefit) -> bool:
    return bool(MENTAL_HEALTH.intersection(benefit.service_types)) or benefit.procedure in GROUP_PROCEDURES


def _preferred(benefits: list[Benefit]) -> Benefit:
    """The group procedure's own figure first, then in-network, then whatever came first."""
    ranked = sorted(benefits, key=lambda b: (b.procedure not in GROUP_PROCEDURES, b.in_network == "N"))
    return ranked[0]


def _percent(benefit: Benefit) -> Decimal | None:
    if benefit.percent is not None:
        return benefit.percent
    # Some payers put the coinsurance fraction in EB07 (the amount) instead of EB08: accept it when it is
    # plainly a fraction.
    if benefit.amount is not None and benefit.amount <= 1:
        return benefit.amount
    return None


def _period(dates: dict[str, str]) -> tuple[date | None, date | None]:
    """Eligibility (356/357) or plan (346/347) begin and end; 291/307 may carry a D8 or an RD8 range."""
    start = _date(dates.get("356") or dates.get("346"))
    end = _date(dates.get("357") or dates.get("347"))
    for qualifier in ("307", "291"):
        if qualifier in dates and "-" in dates[qualifier]:
            first, last = dates[qualifier].split("-", 1)
            start, end = start or _date(first), end or _date(last)
    return start, end


def _at(s: list[str], index: int) -> str:
    return s[index].strip() if index < len(s) else ""


def _decimal(value: str) -> Decimal | None:
    try:
        return Decimal(value) if value else None
    except InvalidOperation:
        return None


def _money(value: Decimal | None) -> Decimal | None:
    return value.quantize(Decimal("0.01")) if value is not None else None


def _int(value: Decimal | None) -> int | None:
    return int(value) if value is not None else None


def _date(value: str | None) -> date | None:
    if not value or len(value) != 8 or not value.isdigit():
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None
