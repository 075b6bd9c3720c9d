"""Reading the clinic's settings row."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from backend.clinic.models import ClinicSettings


async def clinic_settings(session: AsyncSession) -> ClinicSettings:
    return await session.get_one(ClinicSettings, 1)


async def clinic_today(session: AsyncSession) -> date:
    """Today where the clinic is (a referral added this evening in California is added today)."""
    settings = await clinic_settings(session)
    return datetime.now(ZoneInfo(settings.timezone)).date()
