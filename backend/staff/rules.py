"""Who may facilitate a session: credentials, load caps, co-facilitation (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from backend.errors import FieldProblem


def missing_credentials(required: Iterable[str], held: Mapping[str, date | None], through: date) -> list[str]:
    """Required credentials not held, or expiring before `through` (the last session assigned).

    Payers and state licensure rules bill group therapy only under a facilitator credentialed
    on the date of service, so a credential must stay valid through every session assigned.
    """
    missing = []
    for credential in required:
        key = credential.upper()
        if key not in held:
            missing.append(credential)
            continue
        expires = held[key]
        if expires is not None and expires < through:
            missing.append(credential)
    return missing


@dataclass(frozen=True)
class Caps:
    per_day: int
    per_week: int


def effective_caps(clinic_day: int, clinic_week: int, own_day: int | None, own_week: int | None) -> Caps:
    """A staff member's own override wins over the clinic default."""
    return Caps(
        own_day if own_day is not None else clinic_day, own_week if own_week is not None else clinic_week
    )


@dataclass(frozen=True)
class CapExceeded:
    period: str  # "day" or "week"
    on: date  # the day, or the Monday of the ISO week
    count: int
    cap: int


def cap_exceeded(days: Iterable[date], caps: Caps) -> CapExceeded | None:
    """The first day or ISO week where the sessions (local dates, existing + new) exceed the caps."""
    listed = list(days)
    per_day = Counter(listed)
    for day in sorted(per_day):
        if per_day[day] > caps.per_day:
            return CapExceeded("day", day, per_day[day], caps.per_day)
    per_week = Counter(d.isocalendar()[:2] for d in listed)
    for (year, week), count in sorted(per_week.items()):
        if count > caps.per_week:
            return CapExceeded("week", date.fromisocalendar(year, week, 1), count, caps.per_week)
    return None


def facilitator_problems(
    lead_id: object | None, co_id: object | None, requires_co: bool, lead_field: str, co_field: str
) -> list[FieldProblem]:
    """A group needs a lead; some programs (e.g. multi-family, PHP) also need a second facilitator."""
    problems = []
    if lead_id is None:
        problems.append(FieldProblem(lead_field, "required", "is required"))
    if requires_co and co_id is None:
        problems.append(FieldProblem(co_field, "cofacilitator_required", "is required by this program"))
    if lead_id is not None and co_id is not None and lead_id == co_id:
        problems.append(FieldProblem(co_field, "same_as_lead", "must differ from the lead facilitator"))
    return problems
