"""Loading a program's waitlist as the ranking sees it: candidates, members, limits, history.

Sync on purpose: the offer worker runs it directly and GraphQL through `AsyncSession.run_sync`,
so both rank from one definition. A fixed number of statements whatever the waitlist's length;
columns, not ORM entities, for the 5,000-entry case (see tests/bench/bench_waitlist.py).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from backend.enrollment.models import Enrollment, EnrollmentStatus
from backend.programs.models import Program
from backend.scheduling.models import GroupSession, SessionStatus
from backend.waitlist.estimates import HISTORY_WEEKS, WaitEstimate, estimate_wait, placement_rate
from backend.waitlist.models import Separation, WaitlistEntry
from backend.waitlist.ranking import (
    Candidate,
    ProgramContext,
    RankedCandidate,
    SessionSlot,
    rank,
    session_slots,
)
from backend.waitlist.ranking_query import CANDIDATE_COLUMNS, top_entries, waiting_entries
from backend.waitlist.rules import AvailabilityWindow, Urgency, WaitlistStatus

#: Members whose enrollment started this recently (or starts later) are still "new" to the group.
NEW_MEMBER_DAYS = 14
#: Session times are read from the scheduled sessions of the next four weeks.
SESSION_LOOKAHEAD_DAYS = 28
OPEN_ENROLLMENT = (
    EnrollmentStatus.ACTIVE,
    EnrollmentStatus.ON_HOLD_CLINICAL,
    EnrollmentStatus.ON_HOLD_ADMINISTRATIVE,
)


@dataclass(frozen=True)
class Ranking:
    program_id: uuid.UUID
    today: date
    context: ProgramContext
    ranked: list[RankedCandidate]
    admissions_per_week: float
    #: Places neither held by an active member nor reserved by an unexpired offer.
    open_places: int
    #: WAITING entries in all (`ranked` holds only the first ones when a limit was asked).
    waiting: int

    def estimate(self, ranked: RankedCandidate) -> WaitEstimate:
        return estimate_wait(ranked.rank, self.admissions_per_week)


def program_fit_prefixes(fit_criteria: dict[str, object]) -> tuple[str, ...]:
    """`fit_criteria["diagnoses"]`: ICD-10-CM prefixes that fit the program (e.g. ["F33", "F43.1"])."""
    values = fit_criteria.get("diagnoses") or []
    if not isinstance(values, list):
        return ()
    return tuple(str(v).strip().upper() for v in values if str(v).strip())


def load_ranking(
    session: Session,
    program: Program,
    now: datetime,
    limit: int | None = None,
    exclude: Collection[uuid.UUID] = (),
) -> Ranking:
    """Rank the program's WAITING entries (but `exclude`) for its next open place.

    With a `limit`, PostgreSQL orders the entries and only the first `limit` are loaded and
    scored (backend.waitlist.ranking_query); without one, every entry is.
    """
    zone = ZoneInfo(program.timezone)
    today = now.astimezone(zone).date()
    members = session.execute(
        select(
            Enrollment.id, Enrollment.client_id, Enrollment.status, Enrollment.starts_on, Enrollment.ends_on
        ).where(Enrollment.program_id == program.id, Enrollment.status.in_(OPEN_ENROLLMENT))
    ).all()
    enrollment_ids = [m.id for m in members]
    high_acuity_enrollments = set(
        session.scalars(
            # Placed entries only (an accepted offer places the entry): the status index finds them.
            select(WaitlistEntry.enrollment_id).where(
                WaitlistEntry.program_id == program.id,
                WaitlistEntry.status == WaitlistStatus.PLACED,
                WaitlistEntry.enrollment_id.in_(enrollment_ids),
                WaitlistEntry.high_acuity.is_(True),
            )
        )
        if enrollment_ids
        else []
    )
    offers = session.execute(
        select(WaitlistEntry.client_id, WaitlistEntry.high_acuity).where(
            WaitlistEntry.program_id == program.id,
            WaitlistEntry.status == WaitlistStatus.OFFERED,
            WaitlistEntry.offer_expires_at > now,
        )
    ).all()
    member_ids = frozenset([m.client_id for m in members] + [o.client_id for o in offers])
    new_since = today - timedelta(days=NEW_MEMBER_DAYS)
    context = ProgramContext(
        fit_prefixes=program_fit_prefixes(program.fit_criteria or {}),
        session_slots=_session_slots(session, program, now),
        member_ids=member_ids,
        high_acuity_members=len(high_acuity_enrollments) + sum(1 for o in offers if o.high_acuity),
        max_high_acuity=program.max_high_acuity,
        new_members=sum(1 for m in members if m.starts_on > new_since) + len(offers),
        max_new_members_per_session=program.max_new_members_per_session,
        separations=_separations(session, member_ids),
    )
    if limit is None:
        candidates = load_candidates(session, program.id, exclude)
        waiting: int | None = len(candidates)
    else:
        rows = session.connection().execute(top_entries(program.id, context, today, limit, exclude)).all()
        candidates = candidates_of(rows)
        waiting = session.scalar(
            select(func.count()).select_from(WaitlistEntry).where(*waiting_entries(program.id, exclude))
        )
    admissions = session.scalars(
        select(Enrollment.starts_on).where(
            Enrollment.program_id == program.id,
            Enrollment.starts_on > today - timedelta(weeks=HISTORY_WEEKS),
            Enrollment.starts_on <= today,
        )
    ).all()
    # The same count the enrollment flow admits by: active members (not ended) and live offers.
    active = sum(
        1
        for m in members
        if m.status == EnrollmentStatus.ACTIVE and (m.ends_on is None or m.ends_on >= today)
    )
    return Ranking(
        program_id=program.id,
        today=today,
        context=context,
        ranked=rank(candidates, context, today),
        admissions_per_week=placement_rate(admissions, today),
        open_places=max(program.capacity - active - len(offers), 0),
        waiting=int(waiting or 0),
    )


def load_candidates(
    session: Session, program_id: uuid.UUID, exclude: Collection[uuid.UUID] = ()
) -> list[Candidate]:
    stmt = select(*CANDIDATE_COLUMNS).where(*waiting_entries(program_id, exclude))
    # Core, not ORM, execution: rows need no identity map (a third of the load time at 5,000).
    return candidates_of(session.connection().execute(stmt).all())


def candidates_of(rows: Sequence[Sequence[Any]]) -> list[Candidate]:
    """Candidates from rows of `CANDIDATE_COLUMNS`."""
    windows: dict[tuple[object, ...], AvailabilityWindow] = {}

    def parsed(stored: list[dict[str, object]] | None) -> tuple[AvailabilityWindow, ...]:
        # Availability patterns repeat across thousands of entries: parse each distinct window once.
        if not stored:
            return ()
        out = []
        for w in stored:
            key = (w["weekday"], w["start"], w["end"])
            window = windows.get(key)
            if window is None:
                window = windows[key] = AvailabilityWindow.from_json(w)
            out.append(window)
        return tuple(out)

    return [
        Candidate(
            row[0],
            row[1],
            row[2],
            Urgency(row[3]),
            tuple(row[4]) if row[4] else (),
            parsed(row[5]),
            tuple(row[6]) if row[6] else (),
            row[7],
        )
        for row in rows
    ]


def _session_slots(session: Session, program: Program, now: datetime) -> tuple[SessionSlot, ...]:
    spans = session.execute(
        select(GroupSession.starts_at, GroupSession.ends_at).where(
            GroupSession.program_id == program.id,
            GroupSession.status == SessionStatus.SCHEDULED,
            GroupSession.starts_at >= now,
            GroupSession.starts_at < now + timedelta(days=SESSION_LOOKAHEAD_DAYS),
        )
    ).all()
    return session_slots([(s.starts_at, s.ends_at) for s in spans], program.timezone)


def _separations(session: Session, member_ids: frozenset[uuid.UUID]) -> dict[uuid.UUID, frozenset[uuid.UUID]]:
    """Client -> the members (or offer holders) they must not be grouped with."""
    if not member_ids:
        return {}
    ids: Sequence[uuid.UUID] = list(member_ids)
    pairs = session.execute(
        select(Separation.client_a, Separation.client_b).where(
            or_(Separation.client_a.in_(ids), Separation.client_b.in_(ids))
        )
    ).all()
    separated: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for a, b in pairs:
        if b in member_ids:
            separated[a].add(b)
        if a in member_ids:
            separated[b].add(a)
    return {client: frozenset(others) for client, others in separated.items()}
