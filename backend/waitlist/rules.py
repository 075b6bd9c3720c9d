"""What a waitlist entry carries (pure): urgency, diagnoses, availability windows, referrer, screening.

`validate_details` returns field problems instead of raising, so the GraphQL layer and the
enrollment flow (which places a client on the waitlist when a program is full) report the same
errors. Field names are prefixed (`waitlist.availability`) because the details arrive nested in
another input.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from types import MappingProxyType

from backend.clients.rules import is_icd10cm_format
from backend.errors import FieldProblem


class WaitlistStatus(enum.StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    PLACED = "placed"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class Urgency(enum.StrEnum):
    ROUTINE = "routine"
    SOON = "soon"
    URGENT = "urgent"


MAX_DIAGNOSES = 12
MAX_WINDOWS = 21
MAX_CONTRAINDICATION_LENGTH = 40
MAX_REFERRER_NAME = 200
MAX_REFERRER_CONTACT = 320
EMPTY_SCREENING: Mapping[str, object] = MappingProxyType({})


@dataclass(frozen=True)
class AvailabilityWindow:
    """A weekly window the client can attend, in the program's time zone (Monday is 0)."""

    weekday: int
    start: time
    end: time

    def covers(self, weekday: int, start: time, end: time) -> bool:
        return self.weekday == weekday and self.start <= start and end <= self.end

    def as_json(self) -> dict[str, object]:
        return {
            "weekday": self.weekday,
            "start": self.start.strftime("%H:%M"),
            "end": self.end.strftime("%H:%M"),
        }

    @classmethod
    def from_json(cls, value: Mapping[str, object]) -> AvailabilityWindow:
        return cls(
            int(str(value["weekday"])),
            time.fromisoformat(str(value["start"])),
            time.fromisoformat(str(value["end"])),
        )


@dataclass(frozen=True)
class WaitlistDetails:
    """Intake details of a referral; all optional so a full program can waitlist with none."""

    urgency: Urgency = Urgency.ROUTINE
    diagnoses: tuple[str, ...] = ()
    availability: tuple[AvailabilityWindow, ...] = ()
    referrer_name: str | None = None
    referrer_contact: str | None = None
    screening: Mapping[str, object] = field(default_factory=lambda: EMPTY_SCREENING, hash=False)
    contraindications: tuple[str, ...] = ()
    high_acuity: bool = False


def validate_details(details: WaitlistDetails, prefix: str = "waitlist") -> list[FieldProblem]:
    """Every problem with `details`, each naming its field (`<prefix>.<field>`)."""

    def name(field_name: str) -> str:
        return f"{prefix}.{field_name}" if prefix else field_name

    problems: list[FieldProblem] = []
    if len(details.diagnoses) > MAX_DIAGNOSES:
        problems.append(
            FieldProblem(name("diagnoses"), "too_many", f"must list at most {MAX_DIAGNOSES} codes")
        )
    for code in details.diagnoses:
        # One definition of the code shape, shared with the client record's diagnoses.
        if not is_icd10cm_format(code):
            problems.append(
                FieldProblem(name("diagnoses"), "invalid_icd10cm", "must be ICD-10-CM codes such as F33.1")
            )
            break
    if len(details.availability) > MAX_WINDOWS:
        problems.append(
            FieldProblem(name("availability"), "too_many", f"must list at most {MAX_WINDOWS} windows")
        )
    for window in details.availability:
        if not 0 <= window.weekday <= 6:
            problems.append(
                FieldProblem(
                    name("availability"), "invalid_weekday", "weekday must be 0 (Monday) to 6 (Sunday)"
                )
            )
            break
        if window.end <= window.start:
            problems.append(
                FieldProblem(name("availability"), "end_before_start", "each window must end after it starts")
            )
            break
    for value, field_name, limit in (
        (details.referrer_name, "referrerName", MAX_REFERRER_NAME),
        (details.referrer_contact, "referrerContact", MAX_REFERRER_CONTACT),
    ):
        if value is not None and not value.strip():
            problems.append(FieldProblem(name(field_name), "required", "must not be blank when given"))
        elif value is not None and len(value) > limit:
            problems.append(FieldProblem(name(field_name), "too_long", f"must be at most {limit} characters"))
    for item in details.contraindications:
        if not item.strip() or len(item) > MAX_CONTRAINDICATION_LENGTH:
            problems.append(
                FieldProblem(
                    name("contraindications"),
                    "invalid",
                    f"each must be a code of 1 to {MAX_CONTRAINDICATION_LENGTH} characters",
                )
            )
            break
    return problems


def normalized(details: WaitlistDetails) -> WaitlistDetails:
    """Upper-cased, de-duplicated codes and trimmed referrer fields (call after validation)."""
    return WaitlistDetails(
        urgency=details.urgency,
        diagnoses=tuple(dict.fromkeys(code.strip().upper() for code in details.diagnoses)),
        availability=tuple(dict.fromkeys(details.availability)),
        referrer_name=details.referrer_name.strip() if details.referrer_name else None,
        referrer_contact=details.referrer_contact.strip() if details.referrer_contact else None,
        screening=details.screening,
        contraindications=tuple(dict.fromkeys(c.strip() for c in details.contraindications)),
        high_acuity=details.high_acuity,
    )
