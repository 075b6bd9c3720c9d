"""Program intake: the screening form a program asks, each client's answers, baseline-measure tasks."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import TenantBase, text_enum, utcnow, uuid_pk
from backend.intake.rules import TaskStatus


class IntakeForm(TenantBase):
    """One form per program (replaced as a whole when the tenant admin edits it)."""

    __tablename__ = "intake_forms"

    program_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("programs.id", ondelete="CASCADE"), primary_key=True
    )
    # [{"key", "prompt", "kind", "required", "choices", "contraindication_if"}] (backend.intake.rules).
    questions: Mapped[list[dict[str, object]]] = mapped_column(JSONB, default=list)
    # Instrument codes to collect before the first session ("PHQ-9", "GAD-7").
    baseline_measures: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class IntakeResponse(TenantBase):
    """A client's answers to a program's form, with the contraindications they showed."""

    __tablename__ = "intake_responses"
    __table_args__ = (Index("ix_intake_responses_client", "client_id", "submitted_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    answers: Mapped[dict[str, object]] = mapped_column(JSONB, default=dict)
    contraindications: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list)
    submitted_by: Mapped[uuid.UUID | None]
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)


class IntakeTask(TenantBase):
    """A baseline measure to collect before the client's first session (instruments come later)."""

    __tablename__ = "intake_tasks"
    __table_args__ = (
        # One pending task per instrument per client and program, however often intake is resubmitted.
        Index(
            "uq_intake_tasks_pending",
            "client_id",
            "program_id",
            "instrument_code",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    intake_response_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("intake_responses.id", ondelete="SET NULL")
    )
    instrument_code: Mapped[str] = mapped_column(String(40))
    # The start of the program's next scheduled session when the task was made (None: none scheduled).
    due_before: Mapped[datetime | None]
    status: Mapped[TaskStatus] = mapped_column(text_enum(TaskStatus, "intake_task_status"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
