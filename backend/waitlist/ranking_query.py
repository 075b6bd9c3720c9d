"""The waitlist's offer order computed by PostgreSQL, so only the top entries leave the database.

Ranking 5,000 entries in Python costs little; fetching and decoding 5,000 rows does not. This
module states `backend.waitlist.ranking`'s score in SQL, with the same integer cents and the same
ties, so `ORDER BY ... LIMIT n` returns exactly the first n entries `rank` would list. The Python
ranking then scores and explains just those (tests/waitlist/test_ranking_query.py holds the two
to the same order on random waitlists).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import JSONPATH

from backend.waitlist.models import WaitlistEntry
from backend.waitlist.ranking import (
    ACUITY_MIX_POINTS,
    AVAILABILITY_POINTS,
    AVAILABILITY_UNKNOWN_POINTS,
    FIT_NO_DIAGNOSIS_POINTS,
    FIT_POINTS,
    URGENCY_POINTS,
    WAITING_FULL_DAYS,
    WAITING_POINTS,
    ProgramContext,
    SessionSlot,
    acuity_cap_reached,
    acuity_cents,
    newcomer_cents,
    separated_clients,
)
from backend.waitlist.rules import WaitlistStatus

E = WaitlistEntry
#: What the ranking reads of an entry, in `backend.waitlist.snapshot.candidates_of`'s order.
CANDIDATE_COLUMNS = (
    E.id,
    E.client_id,
    E.added_on,
    E.urgency,
    E.diagnoses,
    E.availability,
    E.contraindications,
    E.high_acuity,
)


def top_entries(
    program_id: uuid.UUID,
    context: ProgramContext,
    today: date,
    limit: int,
    exclude: Collection[uuid.UUID] = (),
) -> Select[*tuple[Any, ...]]:
    """The first `limit` WAITING entries (but `exclude`) in offer order: `CANDIDATE_COLUMNS`."""
    score = (
        _fit_cents(context.fit_prefixes)
        + _availability_cents(context.session_slots)
        + case({u.value: p * 100 for u, p in URGENCY_POINTS.items()}, value=E.urgency)
        + _waiting_cents(today)
        + newcomer_cents(context)
        + case((E.high_acuity, acuity_cents(context)), else_=ACUITY_MIX_POINTS * 100)
    )
    blocked = _blocked(context)
    stmt = select(*CANDIDATE_COLUMNS).where(*waiting_entries(program_id, exclude))
    # No count(*) OVER () here: it would materialize all 5,000 wide rows (half the query's time).
    return stmt.order_by(blocked, score.desc(), E.added_on, E.id).limit(limit)


def waiting_entries(program_id: uuid.UUID, exclude: Collection[uuid.UUID] = ()) -> list[ColumnElement[bool]]:
    """The WAITING entries of a program but `exclude` (the ones a ranking considers)."""
    criteria = [E.program_id == program_id, E.status == WaitlistStatus.WAITING]
    if exclude:
        criteria.append(E.id.not_in(list(exclude)))
    return criteria


def _fit_cents(prefixes: tuple[str, ...]) -> ColumnElement[int]:
    if not prefixes:
        return literal(FIT_POINTS * 100)
    # " F33.1 F41.1" matches "( F33| F43\.1)": one regular expression per row, no subquery.
    codes = " " + func.array_to_string(E.diagnoses, " ")
    pattern = "(" + "|".join(" " + re.escape(p) for p in prefixes) + ")"
    return case(
        (func.coalesce(func.cardinality(E.diagnoses), 0) == 0, FIT_NO_DIAGNOSIS_POINTS * 100),
        (codes.regexp_match(pattern), FIT_POINTS * 100),
        else_=0,
    )


def _availability_cents(slots: tuple[SessionSlot, ...]) -> ColumnElement[int]:
    if not slots:
        return literal(AVAILABILITY_UNKNOWN_POINTS * 100)
    covered: ColumnElement[int] = literal(0)
    for slot in slots:
        covered = covered + cast(
            E.availability.op("@?")(cast(literal(_covering_window(slot)), JSONPATH)), Integer
        )
    # cents(): (2 * numerator + denominator) // (2 * denominator), integer division in PostgreSQL.
    return case(
        (func.coalesce(func.jsonb_array_length(E.availability), 0) == 0, AVAILABILITY_UNKNOWN_POINTS * 100),
        else_=(2 * AVAILABILITY_POINTS * 100 * covered + len(slots)) // (2 * len(slots)),
    )


def _covering_window(slot: SessionSlot) -> str:
    """A JSON path matching a stored window that holds the slot (AvailabilityWindow.covers).

    Windows are stored as "HH:MM" (minutes), so comparing strings is comparing times once the
    slot's start is floored and its end ceiled to the minute; "24:00" (a session past midnight)
    is after every window, as `time.max` is in Python.
    """
    start = slot.start.strftime("%H:%M")
    end_minutes = (
        slot.end.hour * 60 + slot.end.minute + (1 if (slot.end.second or slot.end.microsecond) else 0)
    )
    end = f"{end_minutes // 60:02d}:{end_minutes % 60:02d}"
    return f'$[*] ? (@.weekday == {slot.weekday} && @.start <= "{start}" && @.end >= "{end}")'


def _waiting_cents(today: date) -> ColumnElement[int]:
    days = func.least(func.greatest(literal(today) - E.added_on, 0), WAITING_FULL_DAYS)
    return (2 * WAITING_POINTS * 100 * days + WAITING_FULL_DAYS) // (2 * WAITING_FULL_DAYS)


def _blocked(context: ProgramContext) -> ColumnElement[bool]:
    separated = separated_clients(context)
    return or_(
        func.coalesce(func.cardinality(E.contraindications), 0) > 0,
        and_(E.high_acuity, literal(acuity_cap_reached(context))),
        E.client_id.in_(list(separated)) if separated else false(),
    )
