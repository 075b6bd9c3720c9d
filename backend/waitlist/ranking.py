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

Points are kept in whole cents, each component rounded half up, so a score is an exact sum and
PostgreSQL can order 5,000 entries by the same numbers and return only the top ones
(backend.waitlist.ranking_query; a test holds the two to the same order).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import NamedTuple
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


class Candidate(NamedTuple):
    """One WAITING entry as the ranking sees it (a tuple: 5,000 are built per ranking)."""

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


class RankedCandidate:
    """A scored candidate; the explanation is built on first access from the same point functions."""

    __slots__ = ("_explanation", "_program", "_today", "blocked_by", "candidate", "rank", "score")

    def __init__(
        self,
        candidate: Candidate,
        score: float,
        rank: int | None,
        blocked_by: tuple[str, ...],
        program: ProgramContext,
        today: date,
    ) -> None:
        self.candidate = candidate
        self.score = score
        #: 1 for the best eligible candidate; None when ineligible.
        self.rank = rank
        self.blocked_by = blocked_by
        self._program = program
        self._today = today
        self._explanation: tuple[ScoreComponent, ...] | None = None

    @property
    def eligible(self) -> bool:
        return not self.blocked_by

    @property
    def explanation(self) -> tuple[ScoreComponent, ...]:
        if self._explanation is None:
            self._explanation = explain(self.candidate, self._program, self._today)
        return self._explanation


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
    """Every candidate scored: eligible ones ranked first, then the ineligible ones with the reason.

    A score is the sum of the components `explain` itemizes, each in whole cents of a point
    (rounded half up) so the sum is exact and PostgreSQL orders by the same numbers
    (backend.waitlist.ranking_query). The explanation is built only for the candidates someone looks at.
    """
    today_ordinal = today.toordinal()
    shared = newcomer_cents(program)
    acuity = {False: ACUITY_MIX_POINTS * 100, True: acuity_cents(program)}
    separated = separated_clients(program)
    cap_reached = acuity_cap_reached(program)
    prefixes = program.fit_prefixes
    slots = program.session_slots
    # Candidates share diagnoses, windows and dates: memoize each component's points by its input.
    fit: dict[tuple[str, ...], int] = {}
    available: dict[tuple[AvailabilityWindow, ...], int] = {}
    waited: dict[date, int] = {}
    scored = []
    for c in candidates:
        f = fit.get(c.diagnoses)
        if f is None:
            f = fit[c.diagnoses] = _fit_points(c.diagnoses, prefixes) * 100
        a = available.get(c.availability)
        if a is None:
            a = available[c.availability] = _availability_cents(c.availability, slots)[0]
        w = waited.get(c.added_on)
        if w is None:
            w = waited[c.added_on] = _waiting_cents(today_ordinal - c.added_on.toordinal())
        total = f + a + URGENCY_POINTS[c.urgency] * 100 + w + shared + acuity[c.high_acuity]
        blocked: tuple[str, ...] = ()
        if c.contraindications or (cap_reached and c.high_acuity) or (separated and c.client_id in separated):
            blocked = _blocked_by(c, program)
        scored.append((bool(blocked), -total, c.added_on, c.entry_id, c, total, blocked))
    scored.sort(key=lambda s: s[:4])
    ranked = []
    position = 0
    for is_blocked, _, _, _, c, total, blocked in scored:
        if not is_blocked:
            position += 1
        ranked.append(
            RankedCandidate(c, total / 100, None if is_blocked else position, blocked, program, today)
        )
    return ranked


def explain(candidate: Candidate, program: ProgramContext, today: date) -> tuple[ScoreComponent, ...]:
    """The candidate's score itemized: each component's points, maximum and reason."""
    return (
        _fit(candidate, program),
        _availability(candidate, program),
        _urgency(candidate),
        _waiting(candidate, today),
        _newcomers(program),
        _acuity_mix(candidate, program),
    )


# -- points (the scoring path) and components (the explanation) share these -------------------


def _fit_points(diagnoses: tuple[str, ...], prefixes: tuple[str, ...]) -> int:
    if not prefixes:
        return FIT_POINTS
    if not diagnoses:
        return FIT_NO_DIAGNOSIS_POINTS
    return FIT_POINTS if any(d.startswith(prefixes) for d in diagnoses) else 0


def cents(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up: integer arithmetic, so SQL computes the same."""
    return (2 * numerator + denominator) // (2 * denominator)


def _availability_cents(
    windows: tuple[AvailabilityWindow, ...], slots: tuple[SessionSlot, ...]
) -> tuple[int, int]:
    """(points in cents, session times covered); a slot is covered when one window holds it."""
    if not slots or not windows:
        return AVAILABILITY_UNKNOWN_POINTS * 100, 0
    covered = sum(1 for slot in slots if any(w.covers(slot.weekday, slot.start, slot.end) for w in windows))
    return cents(AVAILABILITY_POINTS * 100 * covered, len(slots)), covered


def _waiting_cents(days: int) -> int:
    return cents(WAITING_POINTS * 100 * min(max(days, 0), WAITING_FULL_DAYS), WAITING_FULL_DAYS)


def newcomer_cents(program: ProgramContext) -> int:
    cap = program.max_new_members_per_session or DEFAULT_MAX_NEW_MEMBERS
    return cents(NEWCOMER_POINTS * 100 * max(cap - program.new_members, 0), cap)


def acuity_cents(program: ProgramContext) -> int:
    """Points of a high-acuity candidate (others get the full ACUITY_MIX_POINTS)."""
    cap = program.max_high_acuity if program.max_high_acuity is not None else DEFAULT_HIGH_ACUITY_SHARE
    return cents(ACUITY_MIX_POINTS * 100 * max(cap - program.high_acuity_members, 0), cap) if cap else 0


def separated_clients(program: ProgramContext) -> frozenset[uuid.UUID]:
    """Clients kept out because they must not share a group with a current member or offer holder."""
    return frozenset(client for client, others in program.separations.items() if others & program.member_ids)


def acuity_cap_reached(program: ProgramContext) -> bool:
    return program.max_high_acuity is not None and program.high_acuity_members >= program.max_high_acuity


def _fit(candidate: Candidate, program: ProgramContext) -> ScoreComponent:
    points = _fit_points(candidate.diagnoses, program.fit_prefixes)
    if not program.fit_prefixes:
        reason = "program lists no diagnosis criteria"
    elif not candidate.diagnoses:
        reason = "no diagnosis recorded"
    elif points:
        match = next(d for d in candidate.diagnoses if d.startswith(program.fit_prefixes))
        reason = f"diagnosis {match} fits the program"
    else:
        reason = "no diagnosis fits the program's criteria"
    return ScoreComponent("fit", points, FIT_POINTS, reason)


def _availability(candidate: Candidate, program: ProgramContext) -> ScoreComponent:
    points, covered = _availability_cents(candidate.availability, program.session_slots)
    if not program.session_slots:
        reason = "no sessions scheduled yet"
    elif not candidate.availability:
        reason = "no availability recorded"
    else:
        reason = f"available for {covered} of {len(program.session_slots)} session times"
    return ScoreComponent("availability", points / 100, AVAILABILITY_POINTS, reason)


def _urgency(candidate: Candidate) -> ScoreComponent:
    points = URGENCY_POINTS[candidate.urgency]
    return ScoreComponent(
        "urgency", points, max(URGENCY_POINTS.values()), f"{candidate.urgency.value} referral"
    )


def _waiting(candidate: Candidate, today: date) -> ScoreComponent:
    days = (today - candidate.added_on).days
    points = _waiting_cents(days) / 100
    return ScoreComponent("waiting", points, WAITING_POINTS, f"waiting {max(days, 0)} days")


def _newcomers(program: ProgramContext) -> ScoreComponent:
    cap = program.max_new_members_per_session or DEFAULT_MAX_NEW_MEMBERS
    joining = program.new_members
    reason = f"{joining} new members already joining (at most {cap} at a time)"
    if joining >= cap:
        reason = f"{joining} new members already joining: newcomer cap {cap} reached"
    return ScoreComponent("newcomers", newcomer_cents(program) / 100, NEWCOMER_POINTS, reason)


def _acuity_mix(candidate: Candidate, program: ProgramContext) -> ScoreComponent:
    if not candidate.high_acuity:
        return ScoreComponent("acuity_mix", ACUITY_MIX_POINTS, ACUITY_MIX_POINTS, "not high-acuity")
    cap = program.max_high_acuity if program.max_high_acuity is not None else DEFAULT_HIGH_ACUITY_SHARE
    reason = f"high-acuity; {program.high_acuity_members} high-acuity members (cap {cap})"
    return ScoreComponent("acuity_mix", acuity_cents(program) / 100, ACUITY_MIX_POINTS, reason)


def _blocked_by(candidate: Candidate, program: ProgramContext) -> tuple[str, ...]:
    reasons = []
    if candidate.contraindications:
        reasons.append("contraindication: " + ", ".join(candidate.contraindications))
    if program.separations.get(candidate.client_id, frozenset()) & program.member_ids:
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
