"""The caller as the record's privacy rules see them, loaded once per request.

Sibling fields resolve concurrently (a screen asks for the session record, the brief and the
member's diagnoses at once): each of these is a task stored on the request's context, awaited by
every field that needs it, so the staff record and the Part 2 standing are read once.
"""

from __future__ import annotations

import asyncio

from backend.compliance.part2.access import Part2Scope, part2_scope
from backend.database import utcnow
from backend.documentation.access import Viewer
from backend.graphql.context import Context
from backend.staff.store import staff_for_user


async def viewer_of(context: Context) -> Viewer:
    """The caller's roles, their staff record (if any) and the client they are (mobile)."""
    principal = context.require_principal()

    async def find() -> Viewer:
        staff = await staff_for_user(context.session, principal.user_id)
        return Viewer(principal.roles, staff.id if staff else None, principal.client_id)

    found: asyncio.Task[Viewer] = context.loader("viewer", lambda _: asyncio.ensure_future(find()))
    return await found


async def scope_of(context: Context) -> Part2Scope:
    """The caller's Part 2 standing as of the request's first use of it."""

    async def load() -> Part2Scope:
        return await part2_scope(context.session, await viewer_of(context), utcnow())

    loaded: asyncio.Task[Part2Scope] = context.loader("part2_scope", lambda _: asyncio.ensure_future(load()))
    return await loaded
