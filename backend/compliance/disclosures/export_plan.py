"""What of a member's record goes to a recipient, and what is withheld and why (42 CFR Part 2).

Pure: the member's record as the exporting user may read it, the member's consents, the recipient
and the purpose go in; the export plan comes out (disclosures.fhir_export writes it as FHIR).

Part 2 content is the sessions of Part 2 programs (their attendance and notes) and the SUD
diagnoses of a member a Part 2 program treats. It is released only under an active consent covering
the recipient, the purpose and the category (42 CFR 2.31/2.33), one category at a time; each consent
that released something becomes one disclosure record. Unsigned notes are never sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from backend.compliance.disclosures.rules import Refusal, consent_for
from backend.compliance.part2.consents import Category, ConsentTerms, Purpose, Recipient
from backend.compliance.part2.segmentation import is_part2_diagnosis


class WithheldReason(StrEnum):
    NO_CONSENT = "no_consent"  # no consent names this recipient, purpose and category
    CONSENT_REVOKED = "consent_revoked"  # one did, but the member revoked it
    CONSENT_EXPIRED = "consent_expired"  # one did, but it ended (date or end event)
    NOT_PERMITTED = "not_permitted"  # the exporting user may not read it
    NOT_FINAL = "not_final"  # the session record is not signed yet


@dataclass(frozen=True)
class ExportPatient:
    client_id: uuid.UUID
    first_name: str
    last_name: str
    birth_date: date
    sex: str | None


@dataclass(frozen=True)
class ExportDiagnosis:
    code: str
    is_primary: bool
    noted_on: date


@dataclass(frozen=True)
class ExportSession:
    """One session the member attended, with what the exporting user may read of its record."""

    session_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    program_name: str | None
    part2: bool
    minutes_attended: int | None
    final: bool
    group_note: Mapping[str, object] | None
    section: Mapping[str, object] | None
    #: Some of the note (group note, section or addenda) is not readable by the exporting user.
    note_withheld: bool
    addenda: tuple[tuple[datetime, str], ...] = ()
    #: The exporting user may see that the member attended (Part 2 attendance needs a relation).
    attendance_readable: bool = True


@dataclass(frozen=True)
class MemberRecord:
    patient: ExportPatient
    diagnoses: tuple[ExportDiagnosis, ...]
    diagnoses_readable: bool
    sessions: tuple[ExportSession, ...]
    #: A Part 2 program treats the member, so their SUD diagnoses are Part 2 records (42 CFR 2.11).
    sud_part2: bool = False
    #: The exporting user may read the member's Part 2 SUD diagnoses.
    sud_readable: bool = True


@dataclass(frozen=True)
class Withheld:
    category: Category
    part2: bool
    count: int
    reason: WithheldReason
    consent_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Part2Release:
    """Part 2 content released under one consent: what goes into that consent's disclosure record."""

    consent: ConsentTerms
    categories: frozenset[Category]
    diagnoses: int = 0
    attendances: int = 0
    notes: int = 0


@dataclass(frozen=True)
class ExportPlan:
    diagnoses: tuple[ExportDiagnosis, ...]
    encounters: tuple[ExportSession, ...]
    notes: tuple[ExportSession, ...]
    withheld: tuple[Withheld, ...]
    part2: tuple[Part2Release, ...] = field(default=())

    @property
    def includes_part2(self) -> bool:
        return bool(self.part2)


def plan_export(
    record: MemberRecord,
    consents: Sequence[ConsentTerms],
    recipient: Recipient,
    purpose: Purpose,
    at: datetime,
) -> ExportPlan:
    """Decide what of the record goes to `recipient` for `purpose` at `at`, and what is withheld."""
    decide = _Decider(consents, recipient, purpose, at)
    diagnoses: list[ExportDiagnosis] = []
    if not record.diagnoses_readable:
        decide.withhold(Category.DIAGNOSES, False, WithheldReason.NOT_PERMITTED)
    for d in record.diagnoses if record.diagnoses_readable else ():
        if not (record.sud_part2 and is_part2_diagnosis(d.code)):
            diagnoses.append(d)
        elif not record.sud_readable:
            decide.withhold(Category.DIAGNOSES, True, WithheldReason.NOT_PERMITTED)
        elif decide.release(Category.DIAGNOSES, "diagnoses"):
            diagnoses.append(d)
    encounters: list[ExportSession] = []
    notes: list[ExportSession] = []
    for s in record.sessions:
        if not s.part2:
            encounters.append(s)
        elif not s.attendance_readable:
            decide.withhold(Category.ATTENDANCE, True, WithheldReason.NOT_PERMITTED)
        elif decide.release(Category.ATTENDANCE, "attendances"):
            encounters.append(s)
        if s.note_withheld:
            decide.withhold(Category.NOTES, s.part2, WithheldReason.NOT_PERMITTED)
        if s.group_note is None and s.section is None:
            continue
        if not s.final:
            decide.withhold(Category.NOTES, s.part2, WithheldReason.NOT_FINAL)
        elif not s.part2 or decide.release(Category.NOTES, "notes"):
            notes.append(s)
    return ExportPlan(tuple(diagnoses), tuple(encounters), tuple(notes), decide.withheld(), decide.releases())


class _Decider:
    """Asks the consents once per category and tallies what each consent released or what was withheld."""

    def __init__(
        self, consents: Sequence[ConsentTerms], recipient: Recipient, purpose: Purpose, at: datetime
    ):
        self._consents, self._recipient, self._purpose, self._at = consents, recipient, purpose, at
        self._answers: dict[Category, ConsentTerms | Refusal] = {}
        self._withheld: dict[tuple[Category, bool, WithheldReason, uuid.UUID | None], int] = {}
        self._released: dict[uuid.UUID, dict[str, int]] = {}
        self._released_categories: dict[uuid.UUID, set[Category]] = {}
        self._terms: dict[uuid.UUID, ConsentTerms] = {}

    def release(self, category: Category, counter: str) -> bool:
        if category not in self._answers:
            self._answers[category] = consent_for(
                self._consents, self._recipient, self._purpose, category, self._at
            )
        answer = self._answers[category]
        if isinstance(answer, Refusal):
            self.withhold(category, True, WithheldReason(answer.reason.value), answer.consent_id)
            return False
        self._terms[answer.id] = answer
        self._released_categories.setdefault(answer.id, set()).add(category)
        counts = self._released.setdefault(answer.id, {})
        counts[counter] = counts.get(counter, 0) + 1
        return True

    def withhold(
        self, category: Category, part2: bool, reason: WithheldReason, consent_id: uuid.UUID | None = None
    ) -> None:
        key = (category, part2, reason, consent_id)
        self._withheld[key] = self._withheld.get(key, 0) + 1

    def withheld(self) -> tuple[Withheld, ...]:
        return tuple(Withheld(c, p2, n, r, cid) for (c, p2, r, cid), n in self._withheld.items())

    def releases(self) -> tuple[Part2Release, ...]:
        return tuple(
            Part2Release(
                consent=self._terms[cid],
                categories=frozenset(self._released_categories[cid]),
                diagnoses=counts.get("diagnoses", 0),
                attendances=counts.get("attendances", 0),
                notes=counts.get("notes", 0),
            )
            for cid, counts in self._released.items()
        )


def release_description(release: Part2Release) -> str:
    """What one consent released, in words without PHI (for the disclosure record)."""
    parts = [
        (release.notes, "Part 2 session note", "Part 2 session notes"),
        (release.attendances, "Part 2 session attendance", "Part 2 session attendances"),
        (release.diagnoses, "SUD diagnosis", "SUD diagnoses"),
    ]
    return "member record export: " + ", ".join(
        f"{n} {one if n == 1 else many}" for n, one, many in parts if n
    )
