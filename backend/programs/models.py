"""A group program (a DBT skills group, an IOP track...) and its admission windows."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, false
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import TenantBase, text_enum, utcnow, uuid_pk


class Modality(enum.StrEnum):
    DBT_SKILLS = "dbt_skills"
    PROCESS = "process"
    CBT = "cbt"
    PSYCHOEDUCATION = "psychoeducation"
    MULTI_FAMILY = "multi_family"
    OTHER = "other"


class ProgramKind(enum.StrEnum):
    OPEN = "open"  # rolling admission
    CLOSED = "closed"  # a fixed cohort: admission only inside its windows (before the arc starts)
    SEMI_OPEN = "semi_open"  # admission inside its windows


class LevelOfCare(enum.StrEnum):
    OUTPATIENT = "outpatient"
    IOP = "iop"
    PHP = "php"


class Program(TenantBase):
    __tablename__ = "programs"
    __table_args__ = (
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("therapeutic_minimum >= 0 AND therapeutic_minimum <= capacity", name="minimum"),
        CheckConstraint("session_minutes > 0", name="session_minutes_positive"),
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="ends_after_start"),
        CheckConstraint("default_cpt IN ('90853', '90849')", name="default_cpt"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(200))
    modality: Mapped[Modality] = mapped_column(text_enum(Modality, "modality"))
    kind: Mapped[ProgramKind] = mapped_column(text_enum(ProgramKind, "program_kind"))
    level_of_care: Mapped[LevelOfCare] = mapped_column(text_enum(LevelOfCare, "level_of_care"))
    capacity: Mapped[int]
    therapeutic_minimum: Mapped[int]
    default_cpt: Mapped[str] = mapped_column(String(5))
    session_minutes: Mapped[int]
    room_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("rooms.id"))
    telehealth: Mapped[bool] = mapped_column(default=False)
    # A federally assisted SUD treatment program (42 CFR 2.11): its session records are Part 2.
    part2: Mapped[bool] = mapped_column(default=False, server_default=false())
    # IANA zone the recurrence is expressed in (a weekly 18:00 group stays at 18:00 across DST).
    timezone: Mapped[str] = mapped_column(String(64))
    required_credentials: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list)
    requires_cofacilitator: Mapped[bool] = mapped_column(default=False)
    lead_facilitator_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))
    cofacilitator_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))
    substitute_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))
    starts_on: Mapped[date]
    ends_on: Mapped[date | None]
    # Waitlist placement: diagnoses that fit (ICD-10-CM prefixes), contraindications that block,
    # and composition limits (see backend.waitlist).
    fit_criteria: Mapped[dict[str, object]] = mapped_column(JSONB, default=dict)
    max_high_acuity: Mapped[int | None]
    max_new_members_per_session: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AdmissionWindow(TenantBase):
    """Dates within which a closed or semi-open program admits new members (inclusive)."""

    __tablename__ = "admission_windows"
    __table_args__ = (CheckConstraint("closes_on >= opens_on", name="closes_after_opens"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"), index=True)
    opens_on: Mapped[date]
    closes_on: Mapped[date]
