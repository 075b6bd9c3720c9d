"""GraphQL: the compliance officer's access reports over the sealed audit log, their CSV export, and
verification of the chain.

Reports seal the clinic's pending events first, so an access made a moment ago is in them; each
report read is itself audited (resource type `audit_report`, with the member for a member's report).
The work (sealing, decryption) runs in a thread on the sync engine, off the event loop.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

import strawberry

from backend.compliance.audit.access_reports import (
    EXPORT_LIMIT,
    AccessEntry,
    ReportFilter,
    ReportKind,
    ReportProblem,
    read_report,
    report_csv,
    user_names,
)
from backend.compliance.audit.sealing import pending_count, verify_clinic
from backend.compliance.audit.verification import ProblemKind
from backend.compliance.encryption.keys import KeysDestroyed
from backend.graphql.access import allow
from backend.graphql.context import Context
from backend.graphql.errors import BadRequest
from backend.graphql.relay import MAX_PAGE, Connection, Edge, PageInfo, decode_cursor, encode_cursor, parse_id

AccessReportKind = strawberry.enum(ReportKind, name="AccessReportKind")
AuditProblemKind = strawberry.enum(ProblemKind, name="AuditProblemKind")


@strawberry.type
class AccessEvent:
    """One read or write of a member's information (or of the audit log), from the sealed log."""

    position: int = strawberry.field(description="Position in the clinic's sealed chain")
    occurred_at: datetime
    user_id: strawberry.ID | None
    user_display_name: str | None
    roles: list[str]
    action: str
    resource_type: str
    resource_id: str | None
    member_id: strawberry.ID | None
    client_address: str | None
    operation: str | None = strawberry.field(description="The GraphQL operation name the client sent")
    outside_care_relationship: bool = strawberry.field(
        description="A read of a member the user had no care relationship with when sealed"
    )
    readable: bool = strawberry.field(
        description="False when the entry does not open (tampered: run verifyAuditLog)"
    )

    @classmethod
    def of(cls, entry: AccessEntry, names: dict[uuid.UUID, str]) -> AccessEvent:
        return cls(
            position=entry.position,
            occurred_at=entry.occurred_at,
            user_id=strawberry.ID(str(entry.user_id)) if entry.user_id else None,
            user_display_name=names.get(entry.user_id) if entry.user_id else None,
            roles=list(entry.roles),
            action=entry.action,
            resource_type=entry.resource_type,
            resource_id=entry.resource_id,
            member_id=strawberry.ID(str(entry.member_id)) if entry.member_id else None,
            client_address=entry.client_address,
            operation=entry.operation,
            outside_care_relationship=entry.outside_care,
            readable=entry.readable,
        )


@strawberry.type
class AccessReportExport:
    filename: str
    content_type: str
    csv: str
    row_count: int
    truncated: bool = strawberry.field(
        description=f"More than {EXPORT_LIMIT} rows matched: narrow the time range (oldest rows left out)"
    )


@strawberry.type
class AuditProblem:
    position: int = strawberry.field(description="The first position in the chain that is wrong")
    kind: AuditProblemKind  # type: ignore[valid-type]
    detail: str


@strawberry.type
class AuditVerification:
    ok: bool
    entries_checked: int
    checkpoints_checked: int
    head_position: int = strawberry.field(description="The last position verified good")
    pending_events: int = strawberry.field(description="Events captured but not sealed yet (not verified)")
    problem: AuditProblem | None


def _filter(
    kind: ReportKind,
    member_id: strawberry.ID | None,
    user_id: strawberry.ID | None,
    since: datetime | None,
    until: datetime | None,
) -> ReportFilter:
    return ReportFilter(
        kind=kind,
        member_id=parse_id(member_id, "memberId", in_input=False) if member_id is not None else None,
        user_id=parse_id(user_id, "userId", in_input=False) if user_id is not None else None,
        since=since,
        until=until,
    )


async def _entries(
    context: Context, report: ReportFilter, limit: int, before: int | None
) -> tuple[list[AccessEntry], dict[uuid.UUID, str]]:
    principal = context.require_principal()
    engine = context.db.engine

    def work() -> tuple[list[AccessEntry], dict[uuid.UUID, str]]:
        entries = read_report(engine, principal.schema_name, principal.tenant_id, report, limit, before)
        return entries, user_names(engine, (e.user_id for e in entries if e.user_id is not None))

    try:
        return await asyncio.to_thread(work)
    except ReportProblem as problem:
        raise BadRequest(problem.field, problem.reason) from None


async def _page(
    info: strawberry.Info[Context, Any], report: ReportFilter, first: int, after: str | None
) -> Connection[AccessEvent]:
    if not 1 <= first <= MAX_PAGE:
        raise BadRequest("first", f"must be between 1 and {MAX_PAGE}")
    before = None
    if after is not None:
        (before,) = decode_cursor(after, 1)
        if not isinstance(before, int) or before < 1:
            raise BadRequest("after", "is not a cursor from this list")
    entries, names = await _entries(info.context, report, first + 1, before)
    page = entries[:first]
    edges = [Edge(cursor=encode_cursor([e.position]), node=AccessEvent.of(e, names)) for e in page]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(entries) > first, end_cursor=edges[-1].cursor if edges else None
        ),
    )


@strawberry.type
class ComplianceQueries:
    @strawberry.field(permission_classes=[allow("audit", "read")])
    async def member_access_report(
        self,
        info: strawberry.Info[Context, Any],
        member_id: strawberry.ID,
        since: datetime | None = None,
        until: datetime | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[AccessEvent]:
        """Who accessed this member's record, newest first (`since` inclusive, `until` exclusive)."""
        report = _filter(ReportKind.MEMBER_ACCESS, member_id, None, since, until)
        page = await _page(info, report, first, after)
        info.context.audit("read", "audit_report", ReportKind.MEMBER_ACCESS.value, report.member_id)
        return page

    @strawberry.field(permission_classes=[allow("audit", "read")])
    async def user_access_report(
        self,
        info: strawberry.Info[Context, Any],
        user_id: strawberry.ID,
        since: datetime | None = None,
        until: datetime | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[AccessEvent]:
        """What this user (a platform user id) accessed in the clinic, newest first."""
        report = _filter(ReportKind.USER_ACTIVITY, None, user_id, since, until)
        page = await _page(info, report, first, after)
        info.context.audit("read", "audit_report", f"{ReportKind.USER_ACTIVITY.value}:{report.user_id}")
        return page

    @strawberry.field(permission_classes=[allow("audit", "read")])
    async def outside_care_access_report(
        self,
        info: strawberry.Info[Context, Any],
        user_id: strawberry.ID | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[AccessEvent]:
        """Reads of a member's information by a user with no care relationship to that member
        (not facilitating their sessions, not on their care team, not supervising either), newest first."""
        report = _filter(ReportKind.OUTSIDE_CARE, None, user_id, since, until)
        page = await _page(info, report, first, after)
        label = ReportKind.OUTSIDE_CARE.value + (f":{report.user_id}" if report.user_id else "")
        info.context.audit("read", "audit_report", label)
        return page

    @strawberry.field(permission_classes=[allow("audit", "export")])
    async def access_report_csv(
        self,
        info: strawberry.Info[Context, Any],
        report: AccessReportKind,  # type: ignore[valid-type]
        member_id: strawberry.ID | None = None,
        user_id: strawberry.ID | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> AccessReportExport:
        """One of the three reports as CSV (newest first, at most 50,000 rows)."""
        wanted = _filter(ReportKind(report), member_id, user_id, since, until)
        entries, _ = await _entries(info.context, wanted, EXPORT_LIMIT + 1, None)
        rows = entries[:EXPORT_LIMIT]
        info.context.audit("export", "audit_report", wanted.kind.value, wanted.member_id)
        return AccessReportExport(
            filename=f"{wanted.kind.value.replace('_', '-')}-report.csv",
            content_type="text/csv",
            csv=report_csv(rows),
            row_count=len(rows),
            truncated=len(entries) > EXPORT_LIMIT,
        )

    @strawberry.field(permission_classes=[allow("audit", "verify")])
    async def verify_audit_log(self, info: strawberry.Info[Context, Any]) -> AuditVerification:
        """Decrypt and recompute the clinic's whole sealed chain and its signed checkpoints: OK, or the
        first position where an entry was edited, deleted, inserted or reordered."""
        principal = info.context.require_principal()
        engine = info.context.db.engine
        try:
            result = await asyncio.to_thread(
                verify_clinic, engine, principal.schema_name, principal.tenant_id
            )
        except KeysDestroyed:
            raise BadRequest("clinic", "its keys were destroyed; the log cannot be opened") from None
        pending = await asyncio.to_thread(pending_count, engine, principal.schema_name)
        info.context.audit("verify", "audit_log")
        problem = result.problem
        return AuditVerification(
            ok=problem is None,
            entries_checked=result.entries_checked,
            checkpoints_checked=result.checkpoints_checked,
            head_position=result.head_seq,
            pending_events=pending,
            problem=AuditProblem(position=problem.position, kind=problem.kind, detail=problem.detail)
            if problem
            else None,
        )


@strawberry.type
class ComplianceMutations:
    pass
