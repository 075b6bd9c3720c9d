"""Who gets an open slot: an explainable score per waitlist candidate (pure).

Each candidate's score is the sum of six components, each with its points, its maximum and a
one-line reason, so staff can see (and defend to a referrer or a payer) why a client was offered
a place before another. Hard limits are not points: a candidate they block is listed as
ineligible with the reason, never dropped silently.

| Component     | Max | Points                                                                        |
|---------------|-----|-------------------------------------------------------------------------------|
| fit           |  30 | 30 when a diagnosis matches a program fit prefix (ICD-10-CM, e.g. "F33");     |
|               |     | 30 when the program lists none; 10 when no diagnosis is recorded; else 0.     |
| availability  |  25 | 25 x share of the program's weekly session times inside the client's windows; |
|               |     | 12 when either side is unknown (no windows recorded, no sessions scheduled).  |
| urgency       |  20 | urgent 20, soon 10, routine 0 (clinical urgency set at referral).             |
| waiting       |  15 | 15 x days waited / 180, capped: six months' wait earns the full weight.       |
| newcomers     |   5 | 5 x (1 - members already joining / max new members per session); 0 at the   |
|               |     | cap (a group absorbs a few newcomers at a time; the same for every candidate, |
|               |     | so it shows in the score whether this is a good moment to add anyone).       |
| acuity mix    |   5 | 5 for a client who is not high-acuity; for a high-acuity client             |
|               |     | 5 x (1 - high-acuity members / cap), so the group is not all high-acuity.    |

Fit weighs most because a group whose members share a presenting problem is the treatment;
availability next because a member who cannot attend the session time does not benefit and
blocks the slot; urgency outranks time waiting so a client stepping down from a higher level of
care is not stuck behind routine referrals; waiting breaks ties among similar clients (fairness).

Blocking (ineligible): a contraindication recorded by the program's screening (e.g. active
psychosis, acute suicidality in a process group); a do-not-group-together separation from a
current or incoming member; the program's cap on high-acuity members already reached.
Ties: higher score first, then longer wait (earlier added_on), then entry id.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from backend.waitlist.rules import AvailabilityWindow, Urgency

FIT_POINTS = 30
FIT_NO_DIAGNOSIS_POINTS = 10
AVAILABILITY_POINTS = 25
AVAILABILITY_UNKNOWN_POINTS = 12
URGENCY_POINTS = {Urgency.URGENT: 20, Urgency.SOON: 10, Urgency.ROUTINE: 0}
WAITING_POINTS = 15
WAITING_FULL_DAYS = 180
NEWCOMER_POINTS = 5
ACUITY_MIX_POINTS = 5
#: Used for the acuity mix when a program sets no `max_high_acuity` (not a cap then).
DEFAULT_HIGH_ACUITY_SHARE = 3
#: Used when a program sets no `max_new_members_per_session`.
DEFAULT_MAX_NEW_MEMBERS = 3


@dataclass(frozen=True)
class SessionSlot:
    """A weekly session time in the program's zone (Monday is 0)."""

    weekday: int
    start: time
    end: time


@dataclass(frozen=True)
class Candidate:
    entry_id: uuid.UUID
    client_id: uuid.UUID
    added_on: date
    urgency: Urgency = Urgency.ROUTINE
    diagnoses: tuple[str, ...] = ()
    availability: tuple[AvailabilityWindow, ...] = ()
    contraindications: tuple[str, ...] = ()
    high_acuity: bool = False


@dataclass(frozen=True)
class ProgramContext:
    """What the program looks like now: its session times, members and limits."""

    fit_prefixes: tuple[str, ...] = ()
    session_slots: tuple[SessionSlot, ...] = ()
    #: Current members and clients holding an outstanding offer.
    member_ids: frozenset[uuid.UUID] = frozenset()
    high_acuity_members: int = 0
    max_high_acuity: int | None = None
    #: Members who joined recently or hold an offer (see NEW_MEMBER_DAYS in the store).
    new_members: int = 0
    max_new_members_per_session: int | None = None
    #: Do-not-group-together pairs: client -> clients they must not share a group with.
    separations: Mapping[uuid.UUID, frozenset[uuid.UUID]] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoreComponent:
    name: str
    points: float
    max_points: float
    reason: str


@dataclass(frozen=True)
class RankedCandidate:
    candidate: Candidate
    score: float
    explanation: tuple[ScoreComponent, ...]
    #: 1 for the best eligible candidate; None when ineligible.
    rank: int | None
    blocked_by: tuple[str, ...] = ()

    @property
    def eligible(self) -> bool:
        return not self.blocked_by


def session_slots(spans: Iterable[tuple[datetime, datetime]], timezone: str) -> tuple[SessionSlot, ...]:
    """Distinct weekly times of sessions (aware datetimes), as wall time in the program's zone.

    Converting each session (not the rule) keeps an 18:00 group at 18:00 across a DST change.
    """
    zone = ZoneInfo(timezone)
    slots = set()
    for starts_at, ends_at in spans:
        local_start, local_end = starts_at.astimezone(zone), ends_at.astimezone(zone)
        end = local_end.time() if local_end.date() == local_start.date() else time.max
        slots.add(SessionSlot(local_start.weekday(), local_start.time(), end))
    return tuple(sorted(slots, key=lambda s: (s.weekday, s.start, s.end)))


def rank(candidates: Sequence[Candidate], program: ProgramContext, today: date) -> list[RankedCandidate]:
    """Every candidate scored and explained: eligible ones ranked first, then the ineligible ones."""
    scored = []
    for candidate in candidates:
        explanation = (
            _fit(candidate, program),
            _availability(candidate, program),
            _urgency(candidate),
            _waiting(candidate, today),
            _newcomers(program),
            _acuity_mix(candidate, program),
        )
        score = round(sum(c.points for c in explanation), 2)
        scored.append((candidate, score, explanation, _blocked_by(candidate, program)))
    scored.sort(key=lambda s: (bool(s[3]), -s[1], s[0].added_on, str(s[0].entry_id)))
    ranked = []
    position = 0
    for candidate, score, explanation, blocked in scored:
        if not blocked:
            position += 1
        ranked.append(RankedCandidate(candidate, score, explanation, None if blocked else position, blocked))
    return ranked


def _fit(candidate: Candidate, program: ProgramContext) -> ScoreComponent:
    if not program.fit_prefixes:
        return ScoreComponent("fit", FIT_POINTS, FIT_POINTS, "program lists no diagnosis criteria")
    if not candidate.diagnoses:
        return ScoreComponent("fit", FIT_NO_DIAGNOSIS_POINTS, FIT_POINTS, "no diagnosis recorded")
    matches = [d for d in candidate.diagnoses if any(d.startswith(p) for p in program.fit_prefixes)]
    if matches:
        return ScoreComponent("fit", FIT_POINTS, FIT_POINTS, f"diagnosis {matches[0]} fits the program")
    return ScoreComponent("fit", 0, FIT_POINTS, "no diagnosis fits the program's criteria")


def _availability(candidate: Candidate, program: ProgramContext) -> ScoreComponent:
    if not program.session_slots:
        return ScoreComponent(
            "availability", AVAILABILITY_UNKNOWN_POINTS, AVAILABILITY_POINTS, "no sessions scheduled yet"
        )
    if not candidate.availability:
        return ScoreComponent(
            "availability", AVAILABILITY_UNKNOWN_POINTS, AVAILABILITY_POINTS, "no availability recorded"
        )
    covered = sum(
        1
        for slot in program.session_slots
        if any(w.covers(slot.weekday, slot.start, slot.end) for w in candidate.availability)
    )
    total = len(program.session_slots)
    points = round(AVAILABILITY_POINTS * covered / total, 2)
    return ScoreComponent(
        "availability", points, AVAILABILITY_POINTS, f"available for {covered} of {total} session times"
    )


def _urgency(candidate: Candidate) -> ScoreComponent:
    points = URGENCY_POINTS[candidate.urgency]
    return ScoreComponent(
        "urgency", points, max(URGENCY_POINTS.values()), f"{candidate.urgency.value} referral"
    )


def _waiting(candidate: Candidate, today: date) -> ScoreComponent:
    days = max((today - candidate.added_on).days, 0)
    points = round(WAITING_POINTS * min(days, WAITING_FULL_DAYS) / WAITING_FULL_DAYS, 2)
    return ScoreComponent("waiting", points, WAITING_POINTS, f"waiting {days} days")


def _newcomers(program: ProgramContext) -> ScoreComponent:
    cap = program.max_new_members_per_session or DEFAULT_MAX_NEW_MEMBERS
    joining = program.new_members
    points = round(NEWCOMER_POINTS * max(1 - joining / cap, 0), 2)
    reason = f"{joining} new members already joining (at most {cap} at a time)"
    if joining >= cap:
        reason = f"{joining} new members already joining: newcomer cap {cap} reached"
    return ScoreComponent("newcomers", points, NEWCOMER_POINTS, reason)


def _acuity_mix(candidate: Candidate, program: ProgramContext) -> ScoreComponent:
    if not candidate.high_acuity:
        return ScoreComponent("acuity_mix", ACUITY_MIX_POINTS, ACUITY_MIX_POINTS, "not high-acuity")
    cap = program.max_high_acuity if program.max_high_acuity is not None else DEFAULT_HIGH_ACUITY_SHARE
    present = program.high_acuity_members
    points = round(ACUITY_MIX_POINTS * max(1 - present / cap, 0), 2) if cap else 0
    return ScoreComponent(
        "acuity_mix", points, ACUITY_MIX_POINTS, f"high-acuity; {present} high-acuity members (cap {cap})"
    )


def _blocked_by(candidate: Candidate, program: ProgramContext) -> tuple[str, ...]:
    reasons = []
    if candidate.contraindications:
        reasons.append("contraindication: " + ", ".join(candidate.contraindications))
    separated = program.separations.get(candidate.client_id, frozenset()) & program.member_ids
    if separated:
        reasons.append("separation from a current member")
    if (
        candidate.high_acuity
        and program.max_high_acuity is not None
        and program.high_acuity_members >= program.max_high_acuity
    ):
        reasons.append(
            f"high-acuity cap reached ({program.high_acuity_members} of {program.max_high_acuity})"
        )
    return tuple(reasons)
