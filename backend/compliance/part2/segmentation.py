"""What is 42 CFR Part 2 content, and which Part 2 relations a viewer holds to it (pure).

Labelling: every session record of a program flagged `part2` (a federally assisted SUD treatment
program, 42 CFR 2.11) is Part 2 content: the group note, the member sections, addenda and
observations, and the attendance that shows someone is a patient there (42 CFR 2.13). SUD
diagnoses are Part 2 content for a member treated by a Part 2 program.

Relations (the `rel` of the p2 rules on resource `part2_content`, backend/authorization/policy.csv):

| relation          | holds when                                                                      |
|-------------------|---------------------------------------------------------------------------------|
| part2_program     | the viewer works in the program that made the content (facilitates its sessions |
|                   | or is its lead, co- or substitute facilitator) or supervises someone who does   |
| consent_treatment | an active consent of the member names the viewer, one of the viewer's programs, |
|                   | or TPO, for treatment, covering the content's category                          |
| consent_payment   | the same, for payment (billing staff)                                           |
| break_glass       | the viewer holds an unexpired break-the-glass grant for the member              |
| self              | the viewer is the member (a client reading their own record)                    |

The facts behind the relations are loaded from the database once per request (or roster) by
backend.documentation.access, which also writes the same rules as SQL for the loaders.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from backend.compliance.part2.consents import (
    Category,
    ConsentTerms,
    Purpose,
    Recipient,
    RecipientKind,
    covering_consent,
)

#: The Casbin resource of Part 2 content (p2 rules with the relations below).
PART2_CONTENT = "part2_content"
#: Why Part 2 content is withheld from a viewer: no consent (or grant) covers them.
NO_CONSENT = "no_consent"

# ICD-10-CM categories of substance use disorders. 42 CFR 2.11 leaves tobacco and caffeine out of
# "substance use disorder", so F17 (nicotine dependence) is not Part 2. Caffeine has no category of
# its own (it is coded under F15 with the other stimulants), so F15 stays Part 2 as a whole.
SUD_CATEGORIES = frozenset({"F10", "F11", "F12", "F13", "F14", "F15", "F16", "F18", "F19"})


class Part2Relation(enum.StrEnum):
    PROGRAM = "part2_program"
    CONSENT_TREATMENT = "consent_treatment"
    CONSENT_PAYMENT = "consent_payment"
    BREAK_GLASS = "break_glass"
    SELF = "self"


#: The purpose each consent relation is for.
CONSENT_PURPOSES = {
    Part2Relation.CONSENT_TREATMENT: Purpose.TREATMENT,
    Part2Relation.CONSENT_PAYMENT: Purpose.PAYMENT,
}


def is_part2_diagnosis(code: str) -> bool:
    """An ICD-10-CM code of a substance use disorder as 42 CFR 2.11 defines it (not tobacco)."""
    return code.strip().upper()[:3] in SUD_CATEGORIES


@dataclass(frozen=True)
class Part2Facts:
    """What the database says about one viewer at one instant, for a set of members."""

    at: datetime
    staff_id: uuid.UUID | None = None
    #: The client the viewer is (signed in on mobile).
    client_id: uuid.UUID | None = None
    #: Programs the viewer works in, or in which someone they supervise works.
    programs: frozenset[uuid.UUID] = frozenset()
    #: Each member's consents (active or not).
    consents: Mapping[uuid.UUID, tuple[ConsentTerms, ...]] = field(default_factory=dict)
    #: Members for whom the viewer holds a break-the-glass grant unexpired at `at`.
    break_glass: frozenset[uuid.UUID] = frozenset()
    # Answers of `consented`, so a roster's checks ask each (member, purpose, category) once.
    _answers: dict[tuple[uuid.UUID, Purpose, Category], bool] = field(
        default_factory=dict, compare=False, repr=False
    )

    @cached_property
    def recipients(self) -> tuple[Recipient, ...]:
        """The viewer as a consent may name them: as a person, or through one of their programs."""
        if self.staff_id is None:
            return ()
        programs = (Recipient(RecipientKind.PROGRAM, p) for p in sorted(self.programs))
        return (Recipient(RecipientKind.PERSON, self.staff_id), *programs)

    def consented(self, member: uuid.UUID, purpose: Purpose, category: Category) -> bool:
        """Whether a consent of the member covers the viewer for `purpose` and `category` at `at`."""
        key = (member, purpose, category)
        if key not in self._answers:
            consents = self.consents.get(member, ())
            self._answers[key] = any(
                covering_consent(consents, r, purpose, category, self.at) for r in self.recipients
            )
        return self._answers[key]


def part2_relations(
    facts: Part2Facts, made_by: Iterable[uuid.UUID], members: Iterable[uuid.UUID], category: Category
) -> frozenset[Part2Relation]:
    """The viewer's relations to Part 2 content of `category` made by the programs `made_by` about
    any of `members` (one member for a section; every attendee for a group note)."""
    found: set[Part2Relation] = set()
    if facts.programs.intersection(made_by):
        found.add(Part2Relation.PROGRAM)
    for member in members:
        if facts.client_id == member:
            found.add(Part2Relation.SELF)
        if member in facts.break_glass:
            found.add(Part2Relation.BREAK_GLASS)
        for relation, purpose in CONSENT_PURPOSES.items():
            if relation not in found and facts.consented(member, purpose, category):
                found.add(relation)
    return frozenset(found)
