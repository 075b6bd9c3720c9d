"""Treatment plans (goals with measurable targets, the group modality named) and care teams."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import TenantBase, text_enum, utcnow, uuid_pk


class PlanStatus(enum.StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"


class GoalStatus(enum.StrEnum):
    ACTIVE = "active"
    MET = "met"
    DISCONTINUED = "discontinued"


class TreatmentPlan(TenantBase):
    __tablename__ = "treatment_plans"
    __table_args__ = (Index("ix_treatment_plans_client", "client_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    # The group modality the plan prescribes (backend.programs.models.Modality), and the program if named.
    modality: Mapped[str] = mapped_column(String(30))
    program_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("programs.id"))
    status: Mapped[PlanStatus] = mapped_column(text_enum(PlanStatus, "plan_status"))
    starts_on: Mapped[date]
    review_on: Mapped[date | None]
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TreatmentGoal(TenantBase):
    __tablename__ = "treatment_goals"

    id: Mapped[uuid.UUID] = uuid_pk()
    plan_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("treatment_plans.id", ondelete="CASCADE"), index=True
    )
    description: Mapped[str] = mapped_column(String(500))
    # Measurable: what is counted and the level that means the goal is met ("DBT diary: 0 self-harm urges
    # acted on for 4 consecutive weeks").
    target: Mapped[str] = mapped_column(String(300))
    target_date: Mapped[date | None]
    status: Mapped[GoalStatus] = mapped_column(text_enum(GoalStatus, "goal_status"))
    position: Mapped[int]


class CareTeamMember(TenantBase):
    """A clinician treating a client: they may read the client's member sections in every group."""

    __tablename__ = "care_team"
    __table_args__ = (Index("ix_care_team_staff", "staff_id"),)

    client_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True
    )
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)
    since: Mapped[date]
