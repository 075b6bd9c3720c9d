"""The compliance officer's access reports over the sealed audit log (HIPAA 164.308(a)(1)(ii)(D):
information system activity review).

Three questions, each with an optional time range, newest first, in keyset pages:

- who accessed a member's record: entries whose member blind index is the member's;
- what a user accessed: entries whose user blind index is the user's;
- access outside a care relationship: entries flagged when sealed (care_relationship.py), of one
  user or of everyone.

Blind indexes are computed under every key version of the clinic, so entries sealed before a key
rotation are found too. Matching entries are opened (decrypted and checked against their
cleartext columns) to show who, what and when; an entry that does not open is reported as such,
never silently dropped (verification says why).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, select, true

from backend.compliance.audit.chain import ChainKeys, EntryUnreadable, KeyLookup, open_entry
from backend.compliance.audit.sealed_models import SealedAuditEntry
from backend.compliance.audit.sealing import (
    chain_keys,
    clinic_keyring,
    entry_from_row,
    key_lookup,
    seal_clinic,
)
from backend.compliance.csv_report import csv_text
from backend.identity.models import User
from backend.tenants.routing import tenant_engine

#: Rows one CSV export holds at most (a longer range is exported in several parts).
EXPORT_LIMIT = 50_000


class ReportKind(enum.StrEnum):
    MEMBER_ACCESS = "member_access"
    USER_ACTIVITY = "user_activity"
    OUTSIDE_CARE = "outside_care"


@dataclass(frozen=True)
class ReportFilter:
    kind: ReportKind
    member_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


class ReportProblem(ValueError):
    """A filter that cannot be answered; names the argument (never a value)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field} {reason}")
        self.field = field
        self.reason = reason


def check_filter(report: ReportFilter) -> None:
    """Raise `ReportProblem` for a filter missing what its kind needs, or an empty time range."""
    if report.kind is ReportKind.MEMBER_ACCESS and report.member_id is None:
        raise ReportProblem("memberId", "is required for this report")
    if report.kind is ReportKind.USER_ACTIVITY and report.user_id is None:
        raise ReportProblem("userId", "is required for this report")
    if report.since is not None and report.until is not None and report.since >= report.until:
        raise ReportProblem("until", "must be after since")


@dataclass(frozen=True)
class AccessEntry:
    """One access, as the compliance officer sees it."""

    position: int
    occurred_at: datetime
    user_id: uuid.UUID | None
    roles: tuple[str, ...]
    action: str
    resource_type: str
    resource_id: str | None
    member_id: uuid.UUID | None
    client_address: str | None
    operation: str | None
    outside_care: bool
    # False when the entry did not open (tampered): the other fields are then its cleartext only.
    readable: bool = True


def _indexes(keys: Iterable[ChainKeys], kind: str, value: uuid.UUID) -> list[bytes]:
    return [k.blind_index(kind, value) for k in keys]


def report_condition(report: ReportFilter, keys: Sequence[ChainKeys]) -> ColumnElement[bool]:
    """SQL over `sealed_audit_entries` selecting the report's entries (before paging)."""
    entry = SealedAuditEntry
    clauses: list[ColumnElement[bool]] = []
    if report.kind is ReportKind.MEMBER_ACCESS:
        assert report.member_id is not None
        clauses.append(entry.member_index.in_(_indexes(keys, "member", report.member_id)))
    if report.kind is ReportKind.OUTSIDE_CARE:
        clauses.append(entry.outside_care.is_(True))
    if report.user_id is not None and report.kind is not ReportKind.MEMBER_ACCESS:
        clauses.append(entry.user_index.in_(_indexes(keys, "user", report.user_id)))
    if report.since is not None:
        clauses.append(entry.occurred_at >= report.since)
    if report.until is not None:
        clauses.append(entry.occurred_at < report.until)
    condition: ColumnElement[bool] = true()
    for clause in clauses:
        condition = condition & clause
    return condition


def report_query(
    report: ReportFilter, keys: Sequence[ChainKeys], limit: int, before_position: int | None = None
) -> Select[Any]:
    """Newest first; `before_position` continues after the last entry of the previous page."""
    stmt = select(SealedAuditEntry).where(report_condition(report, keys))
    if before_position is not None:
        stmt = stmt.where(SealedAuditEntry.seq < before_position)
    return stmt.order_by(SealedAuditEntry.seq.desc()).limit(limit)


def access_entry(row: Any, keys: KeyLookup) -> AccessEntry:
    """Open one sealed row for the report."""
    entry = entry_from_row(row)
    try:
        record = open_entry(entry, keys)
    except (EntryUnreadable, LookupError, ValueError):
        return AccessEntry(
            position=entry.seq,
            occurred_at=entry.occurred_at,
            user_id=None,
            roles=(),
            action=entry.action,
            resource_type=entry.resource_type,
            resource_id=None,
            member_id=None,
            client_address=None,
            operation=None,
            outside_care=entry.outside_care,
            readable=False,
        )
    return AccessEntry(
        position=entry.seq,
        occurred_at=record.occurred_at,
        user_id=record.user_id,
        roles=record.roles,
        action=record.action,
        resource_type=record.resource_type,
        resource_id=record.resource_id,
        member_id=record.member_id,
        client_address=record.client_address,
        operation=record.operation,
        outside_care=record.outside_care,
    )


CSV_COLUMNS = (
    "position",
    "occurred_at",
    "user_id",
    "roles",
    "action",
    "resource_type",
    "resource_id",
    "member_id",
    "client_address",
    "operation",
    "outside_care_relationship",
    "readable",
)


def csv_row(e: AccessEntry) -> tuple[object, ...]:
    """One entry as a row under CSV_COLUMNS."""
    return (
        e.position,
        e.occurred_at,
        e.user_id,
        " ".join(e.roles),
        e.action,
        e.resource_type,
        e.resource_id,
        e.member_id,
        e.client_address,
        e.operation,
        e.outside_care,
        e.readable,
    )


def report_csv(entries: Iterable[AccessEntry]) -> str:
    return csv_text(CSV_COLUMNS, (csv_row(e) for e in entries))


def read_report(
    engine: Engine,
    schema: str,
    tenant_id: uuid.UUID,
    report: ReportFilter,
    limit: int,
    before_position: int | None = None,
) -> list[AccessEntry]:
    """Seal the clinic's pending events (so an access just made shows up), then read one page.

    Sync, on its own connection: call it from a thread in async code.
    """
    check_filter(report)
    seal_clinic(engine, schema, tenant_id)
    with tenant_engine(engine, schema).begin() as connection:
        keyring = clinic_keyring(connection, tenant_id)
        every_version = [chain_keys(keyring, version) for version in keyring.versions]
        rows = connection.execute(report_query(report, every_version, limit, before_position)).all()
    lookup = key_lookup(keyring)
    return [access_entry(row, lookup) for row in rows]


def user_names(engine: Engine, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Display names of the platform users in a report (public.users)."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    with engine.connect() as connection:
        rows = connection.execute(select(User.id, User.display_name).where(User.id.in_(wanted))).all()
    return {row.id: row.display_name for row in rows}
