"""Recording and listing disclosures (the thin storage side of backend.compliance.disclosures.rules).

`record_disclosures_sync` is for the billing worker (sync sessions, claims sent to a payer);
`record_disclosure` for GraphQL exports. Both write in the caller's transaction, so a disclosure is
stored exactly when the release it describes is.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from backend.compliance.disclosures.models import DisclosureRow
from backend.compliance.disclosures.rules import (
    Channel,
    DisclosedTo,
    Disclosure,
    NewDisclosure,
    Notice,
    disclosure_problems,
)
from backend.compliance.part2.consents import Category, Purpose

__all__ = [
    "NewDisclosure",
    "disclosures_by_id",
    "list_disclosures",
    "record_disclosure",
    "record_disclosures_sync",
]


def _values(disclosure: NewDisclosure, at: datetime) -> dict[str, Any]:
    problems = disclosure_problems(disclosure)
    if problems:
        # A caller bug, not user input: the message names fields only (no PHI).
        raise ValueError("disclosure not recordable: " + ", ".join(f"{p.field} {p.code}" for p in problems))
    return {
        "id": uuid.uuid4(),
        "client_id": disclosure.client_id,
        "disclosed_at": at,
        "disclosed_by": disclosure.disclosed_by,
        "recipient_kind": DisclosedTo(str(disclosure.recipient_kind)).value,
        "recipient_id": disclosure.recipient_id,
        "recipient_name": disclosure.recipient_name.strip(),
        "purpose": Purpose(disclosure.purpose).value,
        "categories": sorted(Category(c).value for c in disclosure.categories),
        "description": disclosure.description.strip(),
        "consent_id": disclosure.consent_id,
        "consent_scope": disclosure.consent_scope,
        "channel": Channel(disclosure.channel),
        "notice": Notice(disclosure.notice),
    }


def record_disclosures_sync(session: Session, disclosures: Sequence[NewDisclosure], at: datetime) -> None:
    """Record disclosures made at `at` in the session's transaction (one statement)."""
    if not disclosures:
        return
    session.execute(insert(DisclosureRow), [_values(d, at) for d in disclosures])


async def record_disclosure(session: AsyncSession, disclosure: NewDisclosure, at: datetime) -> uuid.UUID:
    """Record one disclosure made at `at` in the session's transaction; its id."""
    values = _values(disclosure, at)
    await session.execute(insert(DisclosureRow), [values])
    return uuid.UUID(str(values["id"]))


async def list_disclosures(
    session: AsyncSession, client_id: uuid.UUID | None, start: datetime, end: datetime, limit: int | None
) -> list[Disclosure]:
    """Disclosures made in [start, end), newest first; of one member when `client_id` is given."""
    stmt = select(DisclosureRow).where(DisclosureRow.disclosed_at >= start, DisclosureRow.disclosed_at < end)
    if client_id is not None:
        stmt = stmt.where(DisclosureRow.client_id == client_id)
    stmt = stmt.order_by(DisclosureRow.disclosed_at.desc(), DisclosureRow.id)
    rows = await session.scalars(stmt if limit is None else stmt.limit(limit))
    return [_disclosure(row) for row in rows]


async def disclosures_by_id(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Disclosure]:
    if not ids:
        return []
    rows = await session.scalars(
        select(DisclosureRow).where(DisclosureRow.id.in_(ids)).order_by(DisclosureRow.id)
    )
    return [_disclosure(row) for row in rows]


def _disclosure(row: DisclosureRow) -> Disclosure:
    return Disclosure(
        id=row.id,
        client_id=row.client_id,
        disclosed_at=row.disclosed_at,
        disclosed_by=row.disclosed_by,
        recipient_kind=DisclosedTo(row.recipient_kind),
        recipient_id=row.recipient_id,
        recipient_name=row.recipient_name,
        purpose=Purpose(row.purpose),
        categories=frozenset(Category(c) for c in row.categories),
        description=row.description,
        consent_id=row.consent_id,
        consent_scope=row.consent_scope,
        channel=Channel(row.channel),
        notice=Notice(row.notice),
    )
