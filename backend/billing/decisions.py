"""Who is billed for one group session, and why or why not (pure).

Every member of the roster gets a `Decision`: billed with code, modifiers, place of service,
units and charge, or not billed with every reason that stops the claim (a biller fixes them all at
once, not one per re-run). Nobody is dropped silently and an absent member is never billed.

| Check (in order)          | Reason code               | Source                                   |
|---------------------------|---------------------------|------------------------------------------|
| attendance                | absent                    | no-show, late cancel, excused: only this |
| enrollment                | on_hold, not_enrolled     | holds keep the slot, not the billing     |
| psychotherapy delivered   | not_group_psychotherapy   | psychoeducation alone is not 90853 (*)   |
| patients present          | too_few_present           | < 2 (or the payer's minimum) (*)         |
| coverage, rules           | no_coverage,              | no coverage; one naming no configured    |
|                           | coverage_not_linked,      | payer; no rule version on the date       |
|                           | no_rules_in_force         |                                          |
| group size                | group_over_cap            | payer cap (multi-family has its own)     |
| session length            | session_too_short         | payer minimum session minutes            |
| member's minutes          | minutes_under_minimum     | payer minimum minutes attended           |
| same day                  | already_billed_today      | payer allows one group visit a day       |
| telehealth location       | patient_location_unknown  | POS 02 vs 10 needs it                    |
| rendering credential      | credential_not_billable   | payer lists credential modifiers, not it |
| diagnoses                 | no_diagnosis,             | the member's own ICD-10-CM codes         |
|                           | invalid_diagnosis         |                                          |
| eligibility               | eligibility_failed        | 271 said inactive (unknown: a note only) |
| authorization             | no_active_authorization,  | when the payer requires one, for this    |
|                           | authorization_expired,    | service on this date                     |
|                           | authorization_exhausted   |                                          |
| 42 CFR Part 2             | no_part2_consent          | SUD records go to a payer with consent   |
| pricing                   | no_fee, no_institutional_ | fee schedule / IOP-PHP code table        |
|                           | code                      |                                          |

(*) Group psychotherapy only: an IOP/PHP day is per diem, billed for the member's day whoever else came.

`rules_for(payer_id)` answers the payer's rules in force on the session's date (the caller binds
the date, e.g. with `payer_rules.rules_in_force`). Modifiers come in a stable order: telehealth,
group (HQ), credential, distinct service (59). Messages carry codes, counts and dates, never PHI.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import MappingProxyType

from backend.billing.authorizations import Authorization, AuthorizedService, check_authorization
from backend.billing.payer_rules import LevelOfCare, PayerRules, TelehealthPos
from backend.enrollment.rules import ATTENDED, HOLDS, Attendance, EnrollmentStatus

CENT = Decimal("0.01")
GROUP_FLOOR = 2  # fewer than 2 patients present is not a group, whatever a payer configures
# ICD-10-CM: a letter (not U), a digit, a digit or letter, then up to 4 more after an optional dot.
_ICD10 = re.compile(r"[A-TV-Z]\d[0-9A-Z](\.?[0-9A-Z]{1,4})?")


class ProgramKind(enum.StrEnum):
    GROUP = "group"  # 90853: patients only
    MULTI_FAMILY = "multi_family"  # 90849: patients with family members


class Eligibility(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    UNKNOWN = "unknown"  # not checked yet: billed, with a note


@dataclass(frozen=True)
class Coverage:
    payer_id: str
    member_id: str


@dataclass(frozen=True, kw_only=True)
class SessionFacts:
    """The session as billing sees it; `minutes` is the actual start-to-stop length."""

    session_id: str
    service_date: date
    minutes: int
    telehealth: bool = False
    patient_at_home: bool | None = None  # default for members who do not say
    program_kind: ProgramKind = ProgramKind.GROUP
    level_of_care: LevelOfCare = LevelOfCare.OUTPATIENT
    psychotherapy: bool = True  # False: psychoeducation only
    present_count: int | None = None  # patients in the room; None: counted from the members
    rendering_credentials: tuple[str, ...] = ()  # of the billing facilitator, upper-case
    place_of_service: str = "11"  # where an in-person group meets (11 office, 53 CMHC...)
    group_visits_same_day: Mapping[str, int] = field(default_factory=dict)  # client_key -> other billed

    def __post_init__(self) -> None:
        object.__setattr__(self, "group_visits_same_day", MappingProxyType(dict(self.group_visits_same_day)))


@dataclass(frozen=True, kw_only=True)
class MemberFacts:
    client_key: str
    attendance: Attendance
    minutes_attended: int
    enrollment_status: EnrollmentStatus | None  # None: a drop-in
    diagnoses: tuple[str, ...] = ()
    coverage: Coverage | None = None
    #: A primary coverage is on file but names no configured payer (so `coverage` is None).
    unlinked_coverage: bool = False
    authorization: Authorization | None = None
    authorization_required: bool = False
    eligibility: Eligibility = Eligibility.UNKNOWN
    part2_payment_consent: bool = True
    patient_at_home: bool | None = None  # telehealth: overrides the session's


@dataclass(frozen=True)
class Reason:
    code: str
    message: str
    blocking: bool = True  # False: a note on a billed decision ("telehealth: POS 10 modifier 95")


#: The codes of the notes (non-blocking reasons), for decisions stored before each said so itself.
NOTE_CODES = frozenset({"eligibility_unknown", "telehealth", "distinct_service", "institutional"})


@dataclass(frozen=True)
class Decision:
    """Billed: code, modifiers, POS, units and charge are set. Not billed: only reasons.

    Institutional (IOP/PHP) attendances are billed per service date on the weekly 837I
    (backend.billing.iop), so their decision carries the codes but no units or charge.
    """

    client_key: str
    billed: bool
    reasons: tuple[Reason, ...]
    payer_id: str | None = None
    code: str | None = None
    modifiers: tuple[str, ...] = ()
    place_of_service: str | None = None
    units: int | None = None
    charge: Decimal | None = None
    revenue_code: str | None = None
    condition_codes: tuple[str, ...] = ()

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)


def decide_session(
    session: SessionFacts,
    members: Sequence[MemberFacts],
    rules_for: Callable[[str], PayerRules | None],
) -> list[Decision]:
    """One decision per member, in roster order."""
    keys = [m.client_key for m in members]
    if len(set(keys)) != len(keys):
        raise ValueError("a member appears twice in the session's roster")
    present = session.present_count
    if present is None:
        present = sum(m.attendance in ATTENDED for m in members)
    return [_decide(session, m, present, rules_for) for m in members]


def _decide(
    session: SessionFacts, member: MemberFacts, present: int, rules_for: Callable[[str], PayerRules | None]
) -> Decision:
    if member.attendance not in ATTENDED:
        return Decision(member.client_key, False, (Reason("absent", f"attendance: {member.attendance}"),))
    reasons: list[Reason] = []
    status = member.enrollment_status
    if status in HOLDS:
        reasons.append(Reason("on_hold", f"enrollment is {status}: not billed while on hold"))
    elif status in (EnrollmentStatus.GRADUATED, EnrollmentStatus.DROPPED):
        reasons.append(Reason("not_enrolled", f"enrollment is {status}"))
    # An IOP/PHP day is per diem: billed for the member's day in the program (psychoeducation is one of
    # its services), not as group psychotherapy, so the group rules below do not apply to it.
    per_diem = session.level_of_care.institutional
    if not session.psychotherapy and not per_diem:
        reasons.append(
            Reason("not_group_psychotherapy", "psychoeducation without psychotherapy is not group therapy")
        )
    rules = None
    if member.coverage is None and member.unlinked_coverage:
        reasons.append(
            Reason("coverage_not_linked", "the coverage names no configured payer: link it to one (payerId)")
        )
    elif member.coverage is None:
        reasons.append(Reason("no_coverage", "no insurance coverage on file"))
    else:
        rules = rules_for(member.coverage.payer_id)
        if rules is None:
            reasons.append(
                Reason("no_rules_in_force", f"the payer has no rule set in force on {session.service_date}")
            )
    minimum_present = max(GROUP_FLOOR, rules.min_patients_present if rules else GROUP_FLOOR)
    if present < minimum_present and not per_diem:
        reasons.append(
            Reason(
                "too_few_present", f"{present} patient(s) present; a group needs at least {minimum_present}"
            )
        )
    if rules is not None:
        reasons += _payer_reasons(session, member, present, rules)
    reasons += _member_reasons(session, member)
    if any(r.blocking for r in reasons):
        return Decision(member.client_key, False, tuple(reasons))
    assert rules is not None and member.coverage is not None  # no_coverage/no_rules_in_force block
    return _billed(session, member, rules, member.coverage.payer_id, reasons)


def _payer_reasons(
    session: SessionFacts, member: MemberFacts, present: int, rules: PayerRules
) -> list[Reason]:
    reasons: list[Reason] = []
    multi = session.program_kind is ProgramKind.MULTI_FAMILY
    cap = rules.multi_family_size_cap if multi else rules.group_size_cap
    if cap is not None and present > cap:
        reasons.append(Reason("group_over_cap", f"{present} patients present; the payer's cap is {cap}"))
    if rules.min_session_minutes is not None and session.minutes < rules.min_session_minutes:
        reasons.append(
            Reason(
                "session_too_short",
                f"session lasted {session.minutes} min; the payer requires {rules.min_session_minutes}",
            )
        )
    if rules.min_minutes_attended is not None and member.minutes_attended < rules.min_minutes_attended:
        reasons.append(
            Reason(
                "minutes_under_minimum",
                f"attended {member.minutes_attended} min; the payer requires {rules.min_minutes_attended}",
            )
        )
    if session.group_visits_same_day.get(member.client_key, 0) > 0 and rules.one_group_visit_per_day:
        reasons.append(Reason("already_billed_today", "the payer pays one group visit a day"))
    if (
        session.telehealth
        and not session.level_of_care.institutional
        and _at_home(session, member) is None
        and rules.telehealth_pos is TelehealthPos.BY_LOCATION
    ):
        reasons.append(
            Reason(
                "patient_location_unknown",
                "telehealth place of service needs whether the patient was at home",
            )
        )
    if rules.credential_modifiers and _billable_credential(session, rules) is None:
        held = ", ".join(session.rendering_credentials) or "none"
        reasons.append(Reason("credential_not_billable", f"the payer has no modifier for credential {held}"))
    level = session.level_of_care
    if level.institutional:
        inst = rules.institutional_codes.get(level)
        if inst is None:
            reasons.append(Reason("no_institutional_code", f"the payer has no revenue code for {level}"))
        elif rules.per_diem and rules.per_diem_rate is None:
            reasons.append(Reason("no_fee", "the payer is per diem but has no per-diem rate"))
        elif not rules.per_diem and inst.hcpcs not in rules.fee_schedule:
            reasons.append(Reason("no_fee", f"no fee for {inst.hcpcs} in the payer's schedule"))
    else:
        code = rules.multi_family_code if multi else rules.group_code
        if code not in rules.fee_schedule:
            reasons.append(Reason("no_fee", f"no fee for {code} in the payer's schedule"))
    return reasons


def _billable_credential(session: SessionFacts, rules: PayerRules) -> str | None:
    """Of the facilitator's credentials, the one the payer has a modifier for (in the payer's order,
    so a program credential such as DBT beside a licence never decides the claim)."""
    return next((c for c in rules.credential_modifiers if c in session.rendering_credentials), None)


#: 42 CFR Part 2: SUD records reach a payer only with the patient's consent for payment.
NO_PART2_CONSENT = Reason("no_part2_consent", "no 42 CFR Part 2 consent to disclose for payment")


def _member_reasons(session: SessionFacts, member: MemberFacts) -> list[Reason]:
    reasons: list[Reason] = []
    if not member.diagnoses:
        reasons.append(Reason("no_diagnosis", "no ICD-10-CM diagnosis on file"))
    elif not all(_ICD10.fullmatch(d) for d in member.diagnoses):
        reasons.append(Reason("invalid_diagnosis", "a diagnosis is not an ICD-10-CM code"))
    if member.eligibility is Eligibility.INACTIVE:
        reasons.append(Reason("eligibility_failed", "the payer reports coverage inactive"))
    elif member.eligibility is Eligibility.UNKNOWN:
        reasons.append(Reason("eligibility_unknown", "eligibility not verified", blocking=False))
    if member.authorization_required:
        service = authorized_service(session.level_of_care, session.program_kind)
        problem = check_authorization(member.authorization, session.service_date, service)
        if problem is not None:
            reasons.append(Reason(problem.code, problem.message))
    if not member.part2_payment_consent:
        reasons.append(NO_PART2_CONSENT)
    return reasons


def line_coding(session: SessionFacts, member: MemberFacts, rules: PayerRules) -> tuple[str, tuple[str, ...]]:
    """The place of service and modifiers this payer's rules give the member's line: telehealth,
    group, the facilitator's credential, another group visit the same day (also how a secondary
    payer's claim codes the service the primary was billed for)."""
    modifiers: list[str] = []
    place = session.place_of_service
    if session.telehealth:
        place = _telehealth_pos(rules.telehealth_pos, _at_home(session, member))
        if rules.telehealth_modifier:
            modifiers.append(rules.telehealth_modifier)
    if rules.group_modifier:
        modifiers.append(rules.group_modifier)
    credential_modifier = rules.credential_modifiers.get(_billable_credential(session, rules) or "")
    if credential_modifier:
        modifiers.append(credential_modifier)
    if session.group_visits_same_day.get(member.client_key, 0) > 0 and rules.distinct_service_modifier:
        modifiers.append(rules.distinct_service_modifier)
    return place, tuple(dict.fromkeys(modifiers))  # a payer using HQ as telehealth too lists it once


def _billed(
    session: SessionFacts, member: MemberFacts, rules: PayerRules, payer_id: str, notes: list[Reason]
) -> Decision:
    place, stable = line_coding(session, member, rules)
    if session.telehealth:
        pos = "" if session.level_of_care.institutional else f"POS {place} "  # an 837I has no POS
        notes.append(
            Reason("telehealth", f"telehealth: {pos}modifier {rules.telehealth_modifier or 'none'}", False)
        )
    if session.group_visits_same_day.get(member.client_key, 0) > 0 and rules.distinct_service_modifier:
        notes.append(
            Reason(
                "distinct_service",
                f"another group visit the same day: modifier {rules.distinct_service_modifier}",
                False,
            )
        )
    level = session.level_of_care
    if level.institutional:
        inst = rules.institutional_codes[level]
        notes.append(
            Reason("institutional", "units and charge are set per service date on the weekly 837I", False)
        )
        return Decision(
            member.client_key,
            True,
            tuple(notes),
            payer_id,
            inst.hcpcs,
            stable,
            None,
            None,
            None,
            inst.revenue_code,
            inst.condition_codes,
        )
    code = rules.multi_family_code if session.program_kind is ProgramKind.MULTI_FAMILY else rules.group_code
    charge = rules.fee_schedule[code].quantize(CENT)  # one unit per session (CPT 90853/90849)
    return Decision(member.client_key, True, tuple(notes), payer_id, code, stable, place, 1, charge)


def _at_home(session: SessionFacts, member: MemberFacts) -> bool | None:
    return member.patient_at_home if member.patient_at_home is not None else session.patient_at_home


def _telehealth_pos(setting: TelehealthPos, at_home: bool | None) -> str:
    if setting is TelehealthPos.BY_LOCATION:
        return TelehealthPos.AT_HOME.value if at_home else TelehealthPos.NOT_AT_HOME.value
    return setting.value


def authorized_service(level: LevelOfCare, kind: ProgramKind) -> AuthorizedService:
    """The service a session of this level of care and kind needs an authorization for."""
    if level.partial_hospitalization:
        return AuthorizedService.PARTIAL_HOSPITALIZATION
    if level.institutional:
        return AuthorizedService.INTENSIVE_OUTPATIENT
    if kind is ProgramKind.MULTI_FAMILY:
        return AuthorizedService.MULTI_FAMILY_GROUP
    return AuthorizedService.GROUP_PSYCHOTHERAPY
