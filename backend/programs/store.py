"""Persistence of programs, their admission windows and session series."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.programs.models import AdmissionWindow, Program
from backend.programs.rules import Window
from backend.scheduling.models import ExceptionAction, SeriesException, SessionSeries
from backend.scheduling.recurrence import Action, Override


def add_program(session: AsyncSession, fields: dict[str, Any], windows: Sequence[Window]) -> Program:
    program = Program(id=uuid.uuid4(), **fields)
    session.add(program)
    for window in windows:
        session.add(
            AdmissionWindow(program_id=program.id, opens_on=window.opens_on, closes_on=window.closes_on)
        )
    return program


def add_series(
    session: AsyncSession, program_id: uuid.UUID, rule: str, first_start: datetime, minutes: int
) -> SessionSeries:
    series = SessionSeries(
        id=uuid.uuid4(),
        program_id=program_id,
        rrule=rule.strip().removeprefix("RRULE:"),
        first_start=first_start.replace(tzinfo=None),
        duration_minutes=minutes,
        effective_until=None,
    )
    session.add(series)
    return series


def program_list() -> Select[tuple[Program]]:
    return select(Program)


async def programs_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Program]:
    if not ids:
        return {}
    return {p.id: p for p in await session.scalars(select(Program).where(Program.id.in_(ids)))}


async def windows_by_program(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[AdmissionWindow]]:
    found: dict[uuid.UUID, list[AdmissionWindow]] = {i: [] for i in ids}
    if ids:
        stmt = (
            select(AdmissionWindow)
            .where(AdmissionWindow.program_id.in_(ids))
            .order_by(AdmissionWindow.opens_on)
        )
        for window in await session.scalars(stmt):
            found[window.program_id].append(window)
    return found


async def series_on(session: AsyncSession, program_id: uuid.UUID, on: date) -> SessionSeries | None:
    """The series in force on a date (the latest one started before it and not ended)."""
    stmt = (
        select(SessionSeries)
        .where(
            SessionSeries.program_id == program_id,
            or_(SessionSeries.effective_until.is_(None), SessionSeries.effective_until >= on),
        )
        .order_by(SessionSeries.created_at.desc())
    )
    for series in await session.scalars(stmt):
        if series.first_start.date() <= on:
            return series
    return None


async def overrides_of(session: AsyncSession, series_id: uuid.UUID) -> dict[date, Override]:
    rows = await session.scalars(select(SeriesException).where(SeriesException.series_id == series_id))
    return {
        row.occurrence_date: Override(row.occurrence_date, Action(row.action.value), row.moved_to, row.reason)
        for row in rows
    }


def add_override(session: AsyncSession, series_id: uuid.UUID, override: Override) -> SeriesException:
    row = SeriesException(
        series_id=series_id,
        occurrence_date=override.on,
        action=ExceptionAction(override.action.value),
        moved_to=override.moved_to,
        reason=override.reason,
    )
    session.add(row)
    return row
