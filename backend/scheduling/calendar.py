"""A staff member's (or a room's) sessions as an iCalendar feed (`/calendar/{clinic_slug}/{token}.ics`).

Calendar apps cannot sign in, so the URL carries a secret; only its SHA-256 is stored. The feed
names programs, times and rooms, never members: individual appointments read "Individual session".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from backend.scheduling.models import SessionKind, SessionStatus
from backend.scheduling.schedule import ScheduleEntry, entries, room_sessions, staff_sessions
from backend.staff.store import room_by_feed_token, staff_by_feed_token
from backend.tenants.models import Tenant, TenantStatus
from backend.tenants.routing import tenant_async_session

PAST = timedelta(days=30)
AHEAD = timedelta(days=400)


def render(entries_: list[ScheduleEntry], clinic_slug: str) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Ensemble//Schedule//EN")
    calendar.add("version", "2.0")
    for entry in entries_:
        s = entry.session
        event = Event()
        event.add("uid", f"{s.id}@{clinic_slug}.ensemble")
        title = (
            entry.program_name if s.kind is SessionKind.GROUP and entry.program_name else "Individual session"
        )
        event.add("summary", title)
        event.add("dtstart", s.starts_at)
        event.add("dtend", s.ends_at)
        event.add("dtstamp", datetime.now(UTC))
        event.add("location", "Telehealth" if s.telehealth else (entry.room_name or ""))
        event.add("status", "CANCELLED" if s.status is SessionStatus.CANCELLED else "CONFIRMED")
        calendar.add_component(event)
    return bytes(calendar.to_ical())


async def feed(engine: AsyncEngine, clinic_slug: str, token: str) -> bytes | None:
    """The feed for a clinic slug and secret token, or None when either is unknown."""
    async with AsyncSession(engine) as shared:
        tenant = await shared.scalar(
            select(Tenant).where(Tenant.slug == clinic_slug, Tenant.status == TenantStatus.ACTIVE)
        )
    if tenant is None:
        return None
    async with tenant_async_session(engine, tenant.schema_name) as session:
        now = datetime.now(UTC)
        staff = await staff_by_feed_token(session, token)
        if staff is not None and staff.active:
            found = await staff_sessions(session, staff.id, now - PAST, now + AHEAD)
            return render(await entries(session, found), clinic_slug)
        room = await room_by_feed_token(session, token)
        if room is None:
            return None
        found = await room_sessions(session, room.id, now - PAST, now + AHEAD)
        return render(await entries(session, found), clinic_slug)


async def calendar_route(request: Request) -> Response:
    engine: AsyncEngine = request.app.state.db.async_engine
    slug = str(request.path_params["clinic_slug"])
    name = str(request.path_params["token"])
    if not name.endswith(".ics") or len(name) > 100 or len(slug) > 63:
        return Response(status_code=404)
    try:
        body = await feed(engine, slug, name.removesuffix(".ics"))
    except ValueError:
        body = None
    if body is None:
        return Response(status_code=404)
    return Response(body, media_type="text/calendar", headers={"Cache-Control": "private, max-age=300"})
