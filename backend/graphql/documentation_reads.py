"""GraphQL: the documentation read side — pre-session brief, member record, own attendance, queues.

Each field checks its root rule (Casbin p), the brief also the caller's relationship to the session
(Casbin p2); what each row shows is filtered in the read models' SQL by the same rules
(backend.documentation.access), and a withheld part says so (`withheld: true`), never looks empty.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import strawberry

from backend.authorization.roles import Role
from backend.clients.models import Client
from backend.database import utcnow
from backend.documentation.access import Part, Viewer, allowed, relations_to
from backend.documentation.brief import (
    read_brief,
)
from backend.documentation.member_record import (
    HistoryEntry,
    OwnAttendance,
    Position,
    member_history,
    own_attendance,
)
from backend.documentation.queues import cosign_queue, unsigned_sessions
from backend.graphql.access import allow
from backend.graphql.context import Context
from backend.graphql.documentation_reads_types import (
    AwaitingCosignatureType,
    MemberRecordEntry,
    PastAttendanceType,
    PreSessionBriefType,
    UnsignedSessionType,
)
from backend.graphql.errors import BadRequest
from backend.graphql.record_viewer import scope_of, viewer_of
from backend.graphql.relay import MAX_PAGE, Connection, Edge, PageInfo, decode_cursor, encode_cursor, parse_id

NodeT = TypeVar("NodeT")
RowT = TypeVar("RowT", HistoryEntry, OwnAttendance)


def _position(first: int, after: str | None) -> Position | None:
    if not 1 <= first <= MAX_PAGE:
        raise BadRequest("first", f"must be between 1 and {MAX_PAGE}")
    if after is None:
        return None
    starts_at, session_id = decode_cursor(after, 2)
    try:
        return datetime.fromisoformat(starts_at), uuid.UUID(session_id)
    except (TypeError, ValueError) as exc:
        raise BadRequest("after", "is not a cursor from this list") from exc


async def _page(
    first: int,
    after: str | None,
    fetch: Callable[[Position | None, int], Awaitable[list[RowT]]],
    to_node: Callable[[RowT], NodeT],
) -> tuple[list[RowT], Connection[NodeT]]:
    """A newest-first page keyed by (starts_at, session_id): one more row tells whether more follow."""
    rows = await fetch(_position(first, after), first + 1)
    page = rows[:first]
    edges = [Edge(cursor=encode_cursor([r.starts_at, r.session_id]), node=to_node(r)) for r in page]
    info = PageInfo(has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None)
    return page, Connection(edges=edges, page_info=info)


@strawberry.type
class DocumentationReadQueries:
    @strawberry.field(permission_classes=[allow("session_brief", "read")])
    async def pre_session_brief(
        self, info: strawberry.Info[Context, Any], session_id: strawberry.ID
    ) -> PreSessionBriefType | None:
        """Before the session: each member's recent attendance, last section, risk flags, authorization and
        visit cap, and the program's last group note. Null when the session does not exist or you have no
        relationship to it (facilitating, treating a member, supervising)."""
        context = info.context
        sid = parse_id(session_id, "sessionId", in_input=False)
        viewer = await viewer_of(context)
        relations = await relations_to(context.session, viewer, sid, None)
        if not allowed(viewer, Part.GROUP_NOTE, "read", relations):
            return None
        brief = await read_brief(context.session, viewer, sid, scope=await scope_of(context))
        if brief is None:
            return None
        context.audit("read", "session_brief", str(sid))
        for member in brief.members:
            context.audit("read", "session_brief", str(sid), member.client_id)
            earlier = member.last_section
            if earlier is not None and not earlier.withheld:
                context.audit("read", "member_section", str(earlier.session_id), member.client_id)
        return PreSessionBriefType.of(brief)

    @strawberry.field(permission_classes=[allow("member_record", "read")])
    async def member_record(
        self,
        info: strawberry.Info[Context, Any],
        client_id: strawberry.ID,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[MemberRecordEntry]:
        """The member's group and individual sessions, newest first, with only what you may see; sessions
        whose attendance you may not see are not listed."""
        context = info.context
        cid = parse_id(client_id, "clientId", in_input=False)
        if await context.session.get(Client, cid) is None:
            raise BadRequest("clientId", "does not name a client in this clinic")
        viewer = await viewer_of(context)
        now = utcnow()

        async def fetch(position: Position | None, limit: int) -> list[HistoryEntry]:
            return await member_history(context.session, viewer, cid, now, position, limit)

        page, connection = await _page(first, after, fetch, MemberRecordEntry.of)
        context.audit("read", "member_record", str(cid), cid)
        for entry in page:
            if entry.section is not None:
                context.audit("read", "member_section", str(entry.session_id), cid)
        return connection

    @strawberry.field(permission_classes=[allow("attendance", "read_own")])
    async def my_attendance(
        self, info: strawberry.Info[Context, Any], first: int = 20, after: str | None = None
    ) -> Connection[PastAttendanceType]:
        """Your own attendance (signed in as a client), newest first; never any note text."""
        context = info.context
        principal = context.require_principal()
        viewer = Viewer(principal.roles, None, principal.client_id)
        now = utcnow()

        async def fetch(position: Position | None, limit: int) -> list[OwnAttendance]:
            return await own_attendance(context.session, viewer, now, position, limit)

        _, connection = await _page(first, after, fetch, PastAttendanceType.of)
        context.audit("read", "attendance", None, principal.client_id)
        return connection

    @strawberry.field(permission_classes=[allow("documentation_queue", "read")])
    async def my_unsigned_sessions(self, info: strawberry.Info[Context, Any]) -> list[UnsignedSessionType]:
        """Sessions you facilitate that have started and still need your signature, oldest first."""
        context = info.context
        viewer = await viewer_of(context)
        if viewer.staff_id is None:
            return []
        rows = await unsigned_sessions(context.session, viewer.staff_id, utcnow())
        context.audit("read", "documentation_queue", "unsigned")
        return [UnsignedSessionType.of(r) for r in rows]

    @strawberry.field(permission_classes=[allow("documentation_queue", "read")])
    async def my_cosign_queue(self, info: strawberry.Info[Context, Any]) -> list[AwaitingCosignatureType]:
        """Trainee signatures awaiting your co-signature (as their supervisor, or as any supervisor when the
        trainee names none), oldest first."""
        context = info.context
        viewer = await viewer_of(context)
        if viewer.staff_id is None:
            return []
        rows = await cosign_queue(
            context.session, viewer.staff_id, any_trainee=Role.SUPERVISOR in viewer.roles
        )
        context.audit("read", "documentation_queue", "cosign")
        return [AwaitingCosignatureType.of(r) for r in rows]
