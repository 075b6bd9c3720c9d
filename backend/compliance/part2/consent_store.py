"""Storage of Part 2 consents: load a member's consents as `ConsentTerms`, record, revoke, end."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import BindParameter, Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from backend.compliance.part2.consents import (
    Category,
    ConsentDraft,
    ConsentTerms,
    Purpose,
    Recipient,
    RecipientKind,
)
from backend.compliance.part2.models import Consent, ConsentRecipient
from backend.database import utcnow

#: The columns of a consent `ConsentTerms` needs, one row per recipient (`terms_from_rows` groups them).
TERMS_COLUMNS = (
    Consent.id,
    Consent.client_id,
    Consent.purposes,
    Consent.categories,
    Consent.starts_at,
    Consent.ends_at,
    Consent.end_event,
    Consent.revoked_at,
    Consent.end_event_recorded_at,
    ConsentRecipient.kind,
    ConsentRecipient.recipient_id,
    ConsentRecipient.name.label("recipient_name"),
)


def consent_rows(client_ids: Sequence[uuid.UUID] | BindParameter[Any]) -> Select[*tuple[Any, ...]]:
    """One statement for the members' consents with their recipients (no ORM entities: this is read
    for every roster and every claim)."""
    # Newest first: `covering_consent` then names the most recent consent that covers a disclosure.
    return (
        select(*TERMS_COLUMNS)
        .join(ConsentRecipient, ConsentRecipient.consent_id == Consent.id)
        .where(Consent.client_id.in_(client_ids))
        .order_by(Consent.starts_at.desc(), Consent.id)
    )


@lru_cache(maxsize=64)
def _purposes(values: tuple[str, ...]) -> frozenset[Purpose]:
    return frozenset(Purpose(v) for v in values)


@lru_cache(maxsize=64)
def _categories(values: tuple[str, ...]) -> frozenset[Category]:
    return frozenset(Category(v) for v in values)


def terms_from_rows(rows: Iterable[Any]) -> list[ConsentTerms]:
    """`ConsentTerms` from rows with the columns of TERMS_COLUMNS (extra leading columns ignored), in
    row order; rows whose consent id is NULL (an outer join that found none) are skipped."""
    found: dict[uuid.UUID, tuple[Any, list[Recipient]]] = {}
    for row in rows:
        if row.id is None:
            continue
        entry = found.setdefault(row.id, (row, []))
        entry[1].append(Recipient(RecipientKind(row.kind), row.recipient_id, row.recipient_name))
    return [
        ConsentTerms(
            id=row.id,
            client_id=row.client_id,
            recipients=tuple(recipients),
            purposes=_purposes(tuple(row.purposes)),
            categories=_categories(tuple(row.categories)),
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            end_event=row.end_event,
            revoked_at=row.revoked_at,
            end_event_recorded_at=row.end_event_recorded_at,
        )
        for row, recipients in found.values()
    ]


def terms_of(consent: Consent, recipients: Iterable[Recipient]) -> ConsentTerms:
    return ConsentTerms(
        id=consent.id,
        client_id=consent.client_id,
        recipients=tuple(recipients),
        purposes=frozenset(Purpose(p) for p in consent.purposes),
        categories=frozenset(Category(c) for c in consent.categories),
        starts_at=consent.starts_at,
        ends_at=consent.ends_at,
        end_event=consent.end_event,
        revoked_at=consent.revoked_at,
        end_event_recorded_at=consent.end_event_recorded_at,
    )


async def load_consents(session: AsyncSession, client_ids: Sequence[uuid.UUID]) -> list[ConsentTerms]:
    """Every consent (active or not) of these members, newest first."""
    return terms_from_rows(await session.execute(consent_rows(client_ids)))


def load_consents_sync(session: Session, client_ids: Sequence[uuid.UUID]) -> list[ConsentTerms]:
    """Every consent (active or not) of these members, newest first."""
    return terms_from_rows(session.execute(consent_rows(client_ids)))


async def record_consent(session: AsyncSession, draft: ConsentDraft, recorded_by: uuid.UUID) -> ConsentTerms:
    """Store a validated draft (see `validate_consent`)."""
    consent = Consent(
        client_id=draft.client_id,
        purposes=sorted(p.value for p in draft.purposes),
        other_purpose=(draft.other_purpose or "").strip() or None,
        categories=sorted(c.value for c in draft.categories),
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
        end_event=(draft.end_event or "").strip() or None,
        recorded_by=recorded_by,
    )
    session.add(consent)
    await session.flush()
    unique = list(dict.fromkeys(draft.recipients))
    session.add_all(
        ConsentRecipient(
            consent_id=consent.id, kind=r.kind, recipient_id=r.id, name=r.name and r.name.strip()
        )
        for r in unique
    )
    await session.flush()
    return terms_of(consent, unique)


async def get_consent(session: AsyncSession, consent_id: uuid.UUID) -> tuple[Consent, ConsentTerms] | None:
    consent = await session.get(Consent, consent_id, with_for_update=True)
    if consent is None:
        return None
    recipients = await session.execute(
        select(ConsentRecipient.kind, ConsentRecipient.recipient_id, ConsentRecipient.name).where(
            ConsentRecipient.consent_id == consent.id
        )
    )
    return consent, terms_of(consent, [Recipient(RecipientKind(k), rid, name) for k, rid, name in recipients])


async def revoke_consent(
    session: AsyncSession,
    consent: Consent,
    revoked_by: uuid.UUID,
    reason: str | None,
    at: datetime | None = None,
) -> None:
    """Revoke once: a second revocation keeps the first one's time and author."""
    if consent.revoked_at is not None:
        return
    consent.revoked_at = at or utcnow()
    consent.revoked_by = revoked_by
    consent.revocation_reason = (reason or "").strip() or None
    await session.flush()


async def record_end_event(
    session: AsyncSession, consent: Consent, recorded_by: uuid.UUID, at: datetime | None = None
) -> None:
    """Staff record that the consent's end event happened: it ends then."""
    if consent.end_event_recorded_at is not None:
        return
    consent.end_event_recorded_at = at or utcnow()
    consent.end_event_recorded_by = recorded_by
    await session.flush()
