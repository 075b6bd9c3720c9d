"""Reading and writing intake forms, responses and baseline-measure tasks."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.database import utcnow
from backend.errors import FieldProblem, InputRejected
from backend.intake.models import IntakeForm, IntakeResponse, IntakeTask
from backend.intake.rules import IntakeQuestion, TaskStatus, evaluate, validate_form
from backend.scheduling.models import GroupSession, SessionStatus
from backend.waitlist.models import WaitlistEntry
from backend.waitlist.rules import WaitlistStatus

NO_FORM = FieldProblem("programId", "no_intake_form", "has no intake form yet")


async def set_form(
    session: AsyncSession,
    program_id: uuid.UUID,
    questions: Sequence[IntakeQuestion],
    baseline_measures: Sequence[str],
) -> IntakeForm:
    """Replace the program's form (or raise InputRejected naming the field)."""
    measures = list(dict.fromkeys(code.strip().upper() for code in baseline_measures))
    problems = validate_form(questions, measures)
    if problems:
        raise InputRejected(problems)
    values = {
        "questions": [q.as_json() for q in questions],
        "baseline_measures": measures,
        "updated_at": utcnow(),
    }
    await session.execute(
        insert(IntakeForm)
        .values(program_id=program_id, **values)
        .on_conflict_do_update(index_elements=[IntakeForm.program_id], set_=values)
    )
    form = await session.get(IntakeForm, program_id, populate_existing=True)
    assert form is not None
    return form


async def form_for(session: AsyncSession, program_id: uuid.UUID) -> IntakeForm | None:
    return await session.get(IntakeForm, program_id)


async def submit_intake(
    session: AsyncSession,
    program_id: uuid.UUID,
    client_id: uuid.UUID,
    answers: Mapping[str, str],
    actor_user_id: uuid.UUID | None,
) -> tuple[IntakeResponse, list[IntakeTask]]:
    """Record the answers, copy the screening onto the client's open waitlist entry, create tasks.

    Raises InputRejected for a program without a form or answers that do not fit it; nothing
    is written then. Returns the response and the client's pending tasks for the program.
    """
    form = await form_for(session, program_id)
    if form is None:
        raise InputRejected([NO_FORM])
    questions = [IntakeQuestion.from_json(q) for q in form.questions]
    result, problems = evaluate(questions, answers)
    if problems:
        raise InputRejected(problems)
    response = IntakeResponse(
        id=uuid.uuid4(),
        program_id=program_id,
        client_id=client_id,
        answers=result.answers,
        contraindications=list(result.contraindications),
        submitted_by=actor_user_id,
        submitted_at=utcnow(),
    )
    session.add(response)
    entry = (
        await session.scalars(
            select(WaitlistEntry).where(
                WaitlistEntry.program_id == program_id,
                WaitlistEntry.client_id == client_id,
                WaitlistEntry.status.in_((WaitlistStatus.WAITING, WaitlistStatus.OFFERED)),
            )
        )
    ).one_or_none()
    if entry is not None:
        # The latest screening replaces the entry's: it is what placement is judged on.
        entry.screening = dict(result.answers)
        entry.contraindications = list(result.contraindications)
    await session.flush()
    due_before = await next_session_start(session, program_id, utcnow())
    if form.baseline_measures:
        await session.execute(
            insert(IntakeTask)
            .values(
                [
                    {
                        "id": uuid.uuid4(),
                        "client_id": client_id,
                        "program_id": program_id,
                        "intake_response_id": response.id,
                        "instrument_code": code,
                        "due_before": due_before,
                        "status": TaskStatus.PENDING,
                        "created_at": utcnow(),
                    }
                    for code in form.baseline_measures
                ]
            )
            .on_conflict_do_nothing(
                index_elements=[IntakeTask.client_id, IntakeTask.program_id, IntakeTask.instrument_code],
                index_where=IntakeTask.status == TaskStatus.PENDING,
            )
        )
    tasks = await tasks_for(session, client_id, program_id=program_id, status=TaskStatus.PENDING)
    return response, tasks


async def next_session_start(session: AsyncSession, program_id: uuid.UUID, now: datetime) -> datetime | None:
    """When the program next meets: baseline measures are due before then."""
    return await session.scalar(
        select(GroupSession.starts_at)
        .where(
            GroupSession.program_id == program_id,
            GroupSession.status == SessionStatus.SCHEDULED,
            GroupSession.starts_at > now,
        )
        .order_by(GroupSession.starts_at)
        .limit(1)
    )


async def responses_for(session: AsyncSession, client_id: uuid.UUID) -> list[IntakeResponse]:
    stmt = (
        select(IntakeResponse)
        .where(IntakeResponse.client_id == client_id)
        .order_by(IntakeResponse.submitted_at.desc(), IntakeResponse.id)
    )
    return list((await session.scalars(stmt)).all())


async def tasks_for(
    session: AsyncSession,
    client_id: uuid.UUID,
    *,
    program_id: uuid.UUID | None = None,
    status: TaskStatus | None = None,
) -> list[IntakeTask]:
    stmt = select(IntakeTask).where(IntakeTask.client_id == client_id)
    if program_id is not None:
        stmt = stmt.where(IntakeTask.program_id == program_id)
    if status is not None:
        stmt = stmt.where(IntakeTask.status == status)
    stmt = stmt.order_by(IntakeTask.due_before.asc().nulls_last(), IntakeTask.instrument_code, IntakeTask.id)
    return list((await session.scalars(stmt)).all())
