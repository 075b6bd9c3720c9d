"""Clinic-wide clinical and scheduling settings (one row per clinic schema)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import TenantBase

DEFAULT_TIMEZONE = "America/New_York"


class ClinicSettings(TenantBase):
    __tablename__ = "clinic_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("absence_threshold >= 2", name="absence_threshold"),
        CheckConstraint("max_groups_per_day > 0 AND max_groups_per_week > 0", name="load_caps"),
        CheckConstraint(
            "note_similarity_warn > 0 AND note_similarity_warn <= note_similarity_block "
            "AND note_similarity_block <= 1",
            name="note_similarity",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    timezone: Mapped[str] = mapped_column(String(64))
    # Consecutive unexcused absences (no clinical contact since) that flag a member...
    absence_threshold: Mapped[int]
    # ...and, when the clinic enables it, drop them automatically.
    auto_drop_absent_members: Mapped[bool]
    # Facilitator load caps (clinical directors commonly cap 4 groups a day, 12 a week).
    max_groups_per_day: Mapped[int]
    max_groups_per_week: Mapped[int]
    # Individuality check of member sections (backend.documentation.individuality): warn, block.
    note_similarity_warn: Mapped[float]
    note_similarity_block: Mapped[float]


def default_settings() -> dict[str, object]:
    """The settings every new clinic starts with (provisioning and the migration that added them)."""
    return {
        "id": 1,
        "timezone": DEFAULT_TIMEZONE,
        "absence_threshold": 3,
        "auto_drop_absent_members": False,
        "max_groups_per_day": 4,
        "max_groups_per_week": 12,
        "note_similarity_warn": 0.8,
        "note_similarity_block": 0.95,
    }
